// Helpers shared by the RocksDB-backed state stores (internal to src/state): status
// conversion, the common DB options, commit markers, and StateWrite — one atomic, durable
// write of a batch's changes, as a synced WriteBatch or, when large, one ingested table file.
//
// Thread-safety: StateWrite is a plain builder for one thread.
#pragma once

#include <rocksdb/options.h>
#include <rocksdb/status.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace rocksdb {
class DB;
}

namespace lakepipe::state {

Status FromRocks(const rocksdb::Status& st, const std::string& what);

// Options of every state DB: created on first open, few open files, no info log, and the
// process-wide memory budget: one cache of kStateMemtableBudget + kStateBlockCacheBytes
// holds the table files' data, index and filter blocks of all state DBs and is charged
// with their memtables, which are flushed when together they pass kStateMemtableBudget,
// and with the table readers and per-file metadata RocksDB keeps.
rocksdb::Options StateDbOptions();
inline constexpr size_t kStateMemtableBudget = 64 << 20;
inline constexpr size_t kStateBlockCacheBytes = 32 << 20;
// Files a state DB keeps open (RocksDB's max_open_files): its LOCK, MANIFEST, WAL and
// folders plus at most kStateMaxOpenFiles - 10 table files (RocksDB keeps the other ten
// for the former), closed least recently used first. A store's table files grow with its
// keys (a DISTINCT without a watermark: for ever); its descriptors stop at this bound.
inline constexpr int kStateMaxOpenFiles = 64;
inline constexpr int kStateMaxOpenTableFiles = kStateMaxOpenFiles - 10;
// Bytes held now by the memtables of every state DB of the process (under the budget,
// give or take the memtable being filled when a flush is triggered).
size_t StateMemtableBytes();
// Bytes held now by the shared cache: blocks of every state DB plus the memtables charged
// to it (about kStateMemtableBudget + kStateBlockCacheBytes at most).
size_t StateCacheBytes();

// An integer marker stored as decimal text; nullopt when absent. Corruption when the value
// is not a decimal integer.
Result<std::optional<int64_t>> ReadMarker(rocksdb::DB* db, const std::string& key, const std::string& dir);

// Removes `dir/ingest-*.sst` files a crash left between writing and ingesting them.
Status RemoveStaleIngestFiles(const std::string& dir);

// Opens (creating if missing) the state DB in `dir` with StateDbOptions(), then removes
// stale ingest files. `point_lookups`: the store mostly asks for keys that are absent, so
// table files get a bloom filter that answers those without a read. `compress`: false for
// stores of random bytes (digests), where compression costs CPU and saves nothing.
Result<std::unique_ptr<rocksdb::DB>> OpenStateDb(const std::string& dir, bool point_lookups, bool compress = true);

class StateWrite {
 public:
  void Put(std::string key, std::string value) { ops_.push_back({std::move(key), std::move(value), false}); }
  void Delete(std::string key) { ops_.push_back({std::move(key), std::string(), true}); }
  // At most one range deletion [begin, end); it must not cover a key Put in this write.
  void DeleteRange(std::string begin, std::string end) { range_ = {{std::move(begin), std::move(end)}}; }
  size_t size() const { return ops_.size(); }

  // Applies everything atomically and durably (all or nothing, synced): a WriteBatch, or
  // from `bulk_entries` entries on a sorted table file (`dir/ingest-<tag>.sst`) that
  // RocksDB links in whole — far cheaper than millions of memtable inserts. Keys must be
  // distinct.
  Status Apply(rocksdb::DB* db, const std::string& dir, int64_t tag, size_t bulk_entries);

 private:
  struct Op {
    std::string key;
    std::string value;
    bool is_delete;
  };
  Status Ingest(rocksdb::DB* db, const std::string& dir, int64_t tag);
  std::vector<Op> ops_;
  std::optional<std::pair<std::string, std::string>> range_;
};

}  // namespace lakepipe::state
