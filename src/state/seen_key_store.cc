#include "state/seen_key_store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/write_batch.h>

#include <algorithm>

#include <cstdio>
#include <cstdlib>
#include <cstring>

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

// A stable 128-bit digest of a key (two 64-bit hashes with different seeds). Stored
// instead of the key: 16 bytes per row however wide the row is; two distinct keys collide
// with probability about n^2 / 2^129 (1e-26 for five million keys).
uint64_t Hash64(std::string_view data, uint64_t seed) {
  const uint64_t kMul = 0x9E3779B97F4A7C15ULL;
  uint64_t h = seed ^ (data.size() * kMul);
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, data.data() + i, 8);
    w *= 0xBF58476D1CE4E5B9ULL;
    w ^= w >> 31;
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, data.data() + i, data.size() - i);
  h = (h ^ (tail * 0x94D049BB133111EBULL)) * kMul;
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ULL;
  h ^= h >> 32;
  return h;
}

std::string Digest(std::string_view key) {
  uint64_t parts[2] = {Hash64(key, 0x243F6A8885A308D3ULL), Hash64(key, 0x13198A2E03707344ULL)};
  return std::string(reinterpret_cast<const char*>(parts), sizeof parts);
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
    std::string key = Digest(keys[i]);
    if (pending_.count(key)) continue;
    if (stored_keys_ > 0) {  // an empty store (a flow's first batch) needs no lookups
      lookup.resize(kKeyPrefix.size());
      lookup.append(key);
      auto st = db_->Get(rocksdb::ReadOptions(), lookup, &value);
      if (st.ok()) continue;
      if (!st.IsNotFound()) return FromRocks(st, "read state store " + dir_);
    }
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
  int64_t count = stored_keys_ + static_cast<int64_t>(pending_.size());
  if (pending_.size() >= kBulkKeys) {
    LP_RETURN_IF_ERROR(CommitBulk(batch_id, count));
  } else {
    rocksdb::WriteBatch batch;
    for (const auto& k : pending_) batch.Put(kKeyPrefix + k, "");
    batch.Put(kBatchKey, std::to_string(batch_id));
    batch.Put(kCountKey, std::to_string(count));
    rocksdb::WriteOptions options;
    options.sync = true;
    LP_RETURN_IF_ERROR(FromRocks(db_->Write(options, &batch), "write state store " + dir_));
  }
  pending_.clear();
  stored_keys_ = count;
  committed_batch_ = batch_id;
  return Status::OK();
}

// Millions of keys inserted one by one into the memtable cost far more than sorting them
// and ingesting one table file: the keys and the batch marker go into an SST file that
// RocksDB links in atomically (all of it or none).
Status SeenKeyStore::CommitBulk(int64_t batch_id, int64_t count) {
  std::vector<std::string> sorted;
  sorted.reserve(pending_.size());
  for (const auto& k : pending_) sorted.push_back(kKeyPrefix + k);
  std::sort(sorted.begin(), sorted.end());
  std::string file = dir_ + "/ingest-" + std::to_string(batch_id) + ".sst";
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), db_->GetOptions());
  LP_RETURN_IF_ERROR(FromRocks(writer.Open(file), "create " + file));
  for (const auto& k : sorted) LP_RETURN_IF_ERROR(FromRocks(writer.Put(k, ""), "write " + file));
  // The marker keys sort after every data key ("\xff" > "k").
  LP_RETURN_IF_ERROR(FromRocks(writer.Put(kBatchKey, std::to_string(batch_id)), "write " + file));
  LP_RETURN_IF_ERROR(FromRocks(writer.Put(kCountKey, std::to_string(count)), "write " + file));
  LP_RETURN_IF_ERROR(FromRocks(writer.Finish(), "finish " + file));
  rocksdb::IngestExternalFileOptions options;
  options.move_files = true;
  Status st = FromRocks(db_->IngestExternalFile({file}, options), "ingest " + file);
  std::remove(file.c_str());
  return st;
}

}  // namespace lakepipe::state
