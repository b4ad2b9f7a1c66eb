// JoinStateStore: the durable state of one stream-stream join (operators::StreamJoin) —
// both sides' buffered rows and their watermark bases — kept in RocksDB under the flow's
// checkpoint (`state/join-<i>/`; layout in docs/checkpoint.md, "Stream-stream joins").
//
// The whole state lives in memory (`state()`, bounded by the watermarks) and is loaded at
// Open. The join changes it during micro-batch N; Commit(N) then writes what changed —
// rows added, rows evicted, rows that found their first match, the watermark bases — with
// the marker "batch N applied" in one atomic, synced write. The runtime calls Commit only
// after batch N's Delta commit, so the state is never ahead of the table; Abandon() puts
// the committed state back after a failed batch.
//
// Call order per batch: Abandon(), StreamJoin::Push over state(), Commit(N) once the batch
// is in the table. Thread-safety: one flow thread; not synchronised.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "operators/stream_join.h"
#include "state/batch_state.h"
#include "state/state_size.h"

namespace rocksdb {
class DB;
}

namespace lakepipe::state {

class JoinStateStore : public BatchState {
 public:
  // Opens (creating if needed) the store in folder `dir` for a join of inputs `left` and
  // `right`; a store written for other input columns is refused (the query changed: full
  // refresh the table).
  static Result<std::unique_ptr<JoinStateStore>> Open(const std::string& dir, const Schema& left,
                                                      const Schema& right);
  ~JoinStateStore() override;

  operators::StreamJoinState* state() { return state_.get(); }
  // The last batch whose changes were committed; nullopt before the first.
  std::optional<int64_t> committed_batch() const override { return committed_batch_; }
  // Durably applies the state's changes and records batch `batch_id` as applied.
  // InvalidArgument when `batch_id` is not above committed_batch().
  Status Commit(int64_t batch_id) override;
  // Forgets uncommitted changes (reloads the committed state when there are any).
  Status Abandon() override;
  // Buffered rows of both sides, bytes on disk and in memory.
  StateSize Size() const override;

 private:
  JoinStateStore() = default;
  Status Load();

  std::unique_ptr<rocksdb::DB> db_;
  std::string dir_;
  Schema left_, right_;
  std::unique_ptr<operators::StreamJoinState> state_;
  std::optional<int64_t> committed_batch_;
};

}  // namespace lakepipe::state
