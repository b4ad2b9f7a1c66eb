#include "state/rocks_util.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <cstdint>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "common/fs.h"
#include "state/memory_usage.h"
#include "state/rocks_crash_journal.h"

namespace lakepipe::state {

Status FromRocks(const rocksdb::Status& st, const std::string& what) {
  if (st.ok()) return Status::OK();
  if (st.IsNoSpace()) return Status::NoSpace(what + ": " + st.ToString());
  if (st.IsCorruption()) return Status::Corruption(what + ": " + st.ToString());
  return Status::IOError(what + ": " + st.ToString());
}

namespace {

// One budget for the whole process. A pipeline opens a state DB per stateful operator of
// every flow (a DISTINCT, each incremental view's aggregate, ...), and with RocksDB's
// defaults each keeps up to two 64 MiB memtables and its own 8 MiB block cache: memtables
// fill slowly at a continuous run's small batches and are flushed only when full, so a
// 12-minute soak's RSS grew by ~40 MB a minute for minutes on end (docs/BENCHMARKS.md,
// "Soak"), towards 5 x 136 MiB for the orders pipeline alone. Shared, the memtables of
// all state DBs together stay under kStateMemtableBudget (a DB is flushed when the sum
// passes it) and blocks share one cache.
//
// The cache holds everything else RocksDB keeps of the table files too: their index and
// Bloom filter blocks, which by default live outside any cache, one set per open file,
// and grow with the data (1.25 bytes a key for the filters: a DISTINCT of 14M keys kept
// ~17 MB of them, more every minute of a soak). Cut into partitions (4 KiB), they are
// cached and evicted like data blocks, at a higher priority; only the small top level of
// each file stays pinned. The memtables are charged to the same cache, so that
// kStateMemtableBudget + kStateBlockCacheBytes bounds all of RocksDB's state memory.
constexpr size_t kWriteBufferSize = 8 << 20;
const std::shared_ptr<rocksdb::Cache>& SharedBlockCache() {
  static const auto* cache = new std::shared_ptr<rocksdb::Cache>([] {
    rocksdb::LRUCacheOptions options;
    options.capacity = kStateMemtableBudget + kStateBlockCacheBytes;
    options.high_pri_pool_ratio = 0.5;  // index and filter blocks first
    return rocksdb::NewLRUCache(options);
  }());
  return *cache;
}
const std::shared_ptr<rocksdb::WriteBufferManager>& SharedWriteBuffers() {
  static const auto* manager = new std::shared_ptr<rocksdb::WriteBufferManager>(
      std::make_shared<rocksdb::WriteBufferManager>(kStateMemtableBudget, SharedBlockCache()));
  return *manager;
}

// RocksDB's info log (the LOG file of each DB) is not written. Its messages are
// diagnostics whose errors also reach lakepipe as the failed call's Status; and on a full
// disk it brought the process down: once a LOG write failed with ENOSPC, the next message
// (the one reporting the failed WAL write) hit an assertion of RocksDB 7.8's file writer
// (`sync_without_flush_called_`) and aborted (tests/crash/full_disk.mjs).
class DiscardingLogger : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char* /*format*/, va_list /*ap*/) override {}
};
const std::shared_ptr<rocksdb::Logger>& SharedInfoLog() {
  static const auto* logger = new std::shared_ptr<rocksdb::Logger>(std::make_shared<DiscardingLogger>());
  return *logger;
}

rocksdb::BlockBasedTableOptions SharedTableOptions() {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = SharedBlockCache();
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_top_level_index_and_filter = true;
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  // What RocksDB keeps per table file outside the blocks is charged to the same cache
  // (entries that make room by evicting blocks): an open file's reader (its properties and
  // pinned top-level index and filter, up to kStateMaxOpenFiles per DB) and every file's
  // metadata in the version set, which grows with the stored keys for as long as a
  // DISTINCT without a watermark runs. Uncharged, both sat outside the cache's bound.
  using Charge = rocksdb::CacheEntryRoleOptions;
  table.cache_usage_options.options_overrides[rocksdb::CacheEntryRole::kBlockBasedTableReader] = {
      Charge::Decision::kEnabled};
  table.cache_usage_options.options_overrides[rocksdb::CacheEntryRole::kFileMetadata] = {Charge::Decision::kEnabled};
  return table;
}

}  // namespace

size_t StateMemtableBytes() { return SharedWriteBuffers()->memory_usage(); }
size_t StateCacheBytes() { return SharedBlockCache()->GetUsage(); }

StateDbMemory ReadStateDbMemory() {
  return {static_cast<int64_t>(StateCacheBytes()), static_cast<int64_t>(StateMemtableBytes())};
}

rocksdb::Options StateDbOptions() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_open_files = kStateMaxOpenFiles;
  // One shard: RocksDB's table cache is an LRU cache of 2^6 shards by default, each of at
  // least one entry, which let a DB keep 64 table files open whatever max_open_files said.
  // A store is used by one flow at a time; a single lock costs nothing here.
  options.table_cache_numshardbits = 0;
  // Table handlers are loaded at open on this many threads (RocksDB's default starts 16,
  // each with its stack): a state store has a few files, and under an address-space limit
  // (BoundedMemory, `ulimit -v`) a thread that cannot start ends the process.
  options.max_file_opening_threads = 1;
  options.write_buffer_size = kWriteBufferSize;
  options.write_buffer_manager = SharedWriteBuffers();
  // RocksDB reserves each WAL's room ahead (write_buffer_size * 1.1, fallocate): with a
  // store per DISTINCT, aggregate and count(DISTINCT) pair set, a pipeline held tens of MB
  // of disk it never wrote, and a disk freed just enough for its data stayed "full".
  options.allow_fallocate = false;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(SharedTableOptions()));
  options.info_log = SharedInfoLog();
  // Crash tests' power-cut simulation (common/crash_journal.h); nullptr otherwise.
  if (rocksdb::Env* journaled = CrashJournalEnvOrNull()) options.env = journaled;
  return options;
}

Result<std::optional<int64_t>> ReadMarker(rocksdb::DB* db, const std::string& key, const std::string& dir) {
  std::string value;
  auto st = db->Get(rocksdb::ReadOptions(), key, &value);
  if (st.IsNotFound()) return std::optional<int64_t>();
  LP_RETURN_IF_ERROR(FromRocks(st, "read state store " + dir));
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || end != value.c_str() + value.size() || errno != 0) {
    std::string name = key.substr(key[0] == '\xff' ? 1 : 0);
    return Status::Corruption("state store " + dir + ": marker `" + name + "` is not an integer: '" + value + "'");
  }
  return std::optional<int64_t>(v);
}

Status RemoveStaleIngestFiles(const std::string& dir) {
  FileSystem* fs = FileSystem::Default();
  LP_ASSIGN_OR_RETURN(auto entries, fs->ListDir(dir));
  for (const auto& e : entries) {
    if (e.is_dir || e.name.rfind("ingest-", 0) != 0) continue;
    if (e.name.size() < 4 || e.name.compare(e.name.size() - 4, 4, ".sst") != 0) continue;
    LP_RETURN_IF_ERROR(fs->RemoveFile(dir + "/" + e.name));
  }
  return Status::OK();
}

Result<std::unique_ptr<rocksdb::DB>> OpenStateDb(const std::string& dir, bool point_lookups, bool compress) {
  rocksdb::Options options = StateDbOptions();
  // Per table file: files written before with compression stay readable.
  if (!compress) options.compression = rocksdb::kNoCompression;
  if (point_lookups) {
    rocksdb::BlockBasedTableOptions table = SharedTableOptions();
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.partition_filters = true;
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  }
  rocksdb::DB* raw = nullptr;
  LP_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(options, dir, &raw), "open state store " + dir));
  std::unique_ptr<rocksdb::DB> db(raw);
  // A crash between writing and ingesting a bulk file leaves it behind; it was never part
  // of the DB (ingestion is atomic), so it is garbage.
  LP_RETURN_IF_ERROR(RemoveStaleIngestFiles(dir));
  return db;
}

Status StateWrite::Apply(rocksdb::DB* db, const std::string& dir, int64_t tag, size_t bulk_entries) {
  if (ops_.size() >= bulk_entries) return Ingest(db, dir, tag);
  rocksdb::WriteBatch batch;
  if (range_) batch.DeleteRange(range_->first, range_->second);
  for (const auto& op : ops_) {
    if (op.is_delete) batch.Delete(op.key);
    else batch.Put(op.key, op.value);
  }
  rocksdb::WriteOptions options;
  options.sync = true;
  return FromRocks(db->Write(options, &batch), "write state store " + dir);
}

Status StateWrite::Ingest(rocksdb::DB* db, const std::string& dir, int64_t tag) {
  // Sort an index on each key's first 8 bytes (big-endian, so integer order is byte
  // order), comparing whole keys only on ties: millions of 16-byte digest keys sort
  // without a memcmp per comparison or moving the strings.
  std::vector<std::pair<uint64_t, uint32_t>> order(ops_.size());
  for (size_t i = 0; i < ops_.size(); ++i) {
    uint64_t prefix = 0;
    const std::string& k = ops_[i].key;
    for (size_t b = 0; b < 8; ++b) prefix = (prefix << 8) | (b < k.size() ? static_cast<unsigned char>(k[b]) : 0);
    order[i] = {prefix, static_cast<uint32_t>(i)};
  }
  std::sort(order.begin(), order.end(), [this](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return ops_[a.second].key < ops_[b.second].key;
  });
  std::vector<Op> sorted;
  sorted.reserve(ops_.size());
  for (const auto& [prefix, i] : order) sorted.push_back(std::move(ops_[i]));
  ops_ = std::move(sorted);
  for (size_t i = 1; i < ops_.size(); ++i) {
    if (ops_[i].key == ops_[i - 1].key) return Status::Internal("state write " + dir + " has a key twice");
  }
  std::string file = dir + "/ingest-" + std::to_string(tag) + ".sst";
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), db->GetOptions());
  LP_RETURN_IF_ERROR(FromRocks(writer.Open(file), "create " + file));
  for (const auto& op : ops_) {
    auto st = op.is_delete ? writer.Delete(op.key) : writer.Put(op.key, op.value);
    if (!st.ok()) return FromRocks(st, "write " + file);  // the message only on a failure
  }
  if (range_) LP_RETURN_IF_ERROR(FromRocks(writer.DeleteRange(range_->first, range_->second), "write " + file));
  LP_RETURN_IF_ERROR(FromRocks(writer.Finish(), "finish " + file));
  rocksdb::IngestExternalFileOptions options;
  options.move_files = true;
  Status st = FromRocks(db->IngestExternalFile({file}, options), "ingest " + file);
  std::remove(file.c_str());
  return st;
}

}  // namespace lakepipe::state
