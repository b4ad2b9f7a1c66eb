#include "state/seen_key_store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <cstdlib>

namespace lakepipe::state {
namespace {

// Metadata lives under a prefix no encoded key can start with (KeyEncoder keys begin
// with a tag byte below 0x10).
const char kBatchKey[] = "\xff" "batch";
const char kCountKey[] = "\xff" "count";
const std::string kKeyPrefix = "k";

Status FromRocks(const rocksdb::Status& st, const std::string& what) {
  if (st.ok()) return Status::OK();
  if (st.IsNoSpace()) return Status::NoSpace(what + ": " + st.ToString());
  if (st.IsCorruption()) return Status::Corruption(what + ": " + st.ToString());
  return Status::IOError(what + ": " + st.ToString());
}

}  // namespace

SeenKeyStore::~SeenKeyStore() = default;

Result<std::shared_ptr<SeenKeyStore>> SeenKeyStore::Open(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_open_files = 64;
  rocksdb::BlockBasedTableOptions table;
  // Most lookups are of keys never seen: a bloom filter answers those without a read.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  LP_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(options, dir, &raw), "open state store " + dir));
  std::shared_ptr<SeenKeyStore> store(new SeenKeyStore());
  store->db_.reset(raw);
  store->dir_ = dir;
  std::string value;
  auto st = raw->Get(rocksdb::ReadOptions(), kBatchKey, &value);
  if (st.ok()) {
    store->committed_batch_ = std::strtoll(value.c_str(), nullptr, 10);
  } else if (!st.IsNotFound()) {
    return FromRocks(st, "read state store " + dir);
  }
  st = raw->Get(rocksdb::ReadOptions(), kCountKey, &value);
  if (st.ok()) store->stored_keys_ = std::strtoll(value.c_str(), nullptr, 10);
  return store;
}

Status SeenKeyStore::InsertIfAbsent(const std::vector<std::string_view>& keys,
                                    std::vector<uint8_t>* inserted) {
  inserted->assign(keys.size(), 0);
  std::string lookup = kKeyPrefix;
  std::string value;
  for (size_t i = 0; i < keys.size(); ++i) {
    std::string key(keys[i]);
    if (pending_.count(key)) continue;
    lookup.resize(kKeyPrefix.size());
    lookup.append(keys[i]);
    auto st = db_->Get(rocksdb::ReadOptions(), lookup, &value);
    if (st.ok()) continue;
    if (!st.IsNotFound()) return FromRocks(st, "read state store " + dir_);
    pending_.insert(std::move(key));
    (*inserted)[i] = 1;
  }
  return Status::OK();
}

int64_t SeenKeyStore::size() const { return stored_keys_ + static_cast<int64_t>(pending_.size()); }

int64_t SeenKeyStore::MemoryBytes() const {
  int64_t bytes = 0;
  for (const auto& k : pending_) bytes += static_cast<int64_t>(k.size() + 32);
  return bytes;
}

Status SeenKeyStore::Commit(int64_t batch_id) {
  rocksdb::WriteBatch batch;
  for (const auto& k : pending_) batch.Put(kKeyPrefix + k, "");
  int64_t count = stored_keys_ + static_cast<int64_t>(pending_.size());
  batch.Put(kBatchKey, std::to_string(batch_id));
  batch.Put(kCountKey, std::to_string(count));
  rocksdb::WriteOptions options;
  options.sync = true;
  LP_RETURN_IF_ERROR(FromRocks(db_->Write(options, &batch), "write state store " + dir_));
  pending_.clear();
  stored_keys_ = count;
  committed_batch_ = batch_id;
  return Status::OK();
}

}  // namespace lakepipe::state
