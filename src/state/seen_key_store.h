// SeenKeyStore: the durable seen-key set of a streaming DISTINCT, kept in RocksDB under
// the flow's checkpoint (`state/<name>/`, docs/checkpoint.md).
//
// Keys found new during micro-batch N are held in memory (pending) until Commit(N),
// which writes them together with the marker "batch N applied" in one atomic, synced
// RocksDB write. The runtime calls Commit only after batch N's Delta commit, so after a
// crash the state is never ahead of the table: a replayed batch sees the state of the
// batch before it (or, if the state was already applied, its Delta commit is skipped by
// its txn anyway).
//
// Keys are stored as 128-bit digests (see seen_key_store.cc), 16 bytes per key.
//
// Thread-safety: one flow thread; not synchronised.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "operators/deduplicate.h"

namespace rocksdb {
class DB;
}

namespace lakepipe::state {

class SeenKeyStore : public operators::SeenKeySet {
 public:
  static Result<std::shared_ptr<SeenKeyStore>> Open(const std::string& dir);
  ~SeenKeyStore() override;

  Status InsertIfAbsent(const std::vector<std::string_view>& keys, std::vector<uint8_t>* inserted) override;
  // Keys stored (committed) plus keys pending.
  int64_t size() const override;
  int64_t MemoryBytes() const override;

  // The last batch whose keys were committed; nullopt before the first.
  std::optional<int64_t> committed_batch() const { return committed_batch_; }
  // Durably adds the pending keys and records batch `batch_id` as applied.
  Status Commit(int64_t batch_id);
  // Forgets the pending keys (the batch failed).
  void Abandon() { pending_.clear(); }

 private:
  SeenKeyStore() = default;
  Status CommitBulk(int64_t batch_id, int64_t count);
  static constexpr size_t kBulkKeys = 50000;  // from this many pending keys, ingest a file
  std::unique_ptr<rocksdb::DB> db_;
  std::string dir_;
  std::unordered_set<std::string> pending_;
  std::optional<int64_t> committed_batch_;
  int64_t stored_keys_ = 0;
};

}  // namespace lakepipe::state
