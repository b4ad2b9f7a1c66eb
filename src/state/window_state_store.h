// WindowStateStore: the durable state of a streaming time-window aggregate
// (operators::WindowAggregate), in RocksDB under the flow's checkpoint
// (`state/window-aggregate-<i>/`; layout in docs/checkpoint.md, "Time windows").
//
// It holds the windows still open — their partial aggregate state, bounded by the
// watermark since a window leaves the state when it is output — and the largest event
// time seen, from which the watermark continues row by row. Both are small, so each batch
// replaces them whole.
//
// Protocol (as SeenKeyStore): the window aggregate of batch N reads the committed state,
// Stage()s the state after N; the runtime commits the table (txn N), then Commit(N)
// writes the staged state with the marker "batch N applied" in one synced write, so the
// state is never ahead of the table. Abandon() forgets a staged state (a failed batch).
// A batch at or below committed_batch() is already applied: Commit of it is a no-op.
//
// Thread-safety: one flow thread; not synchronised.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "operators/window_aggregate.h"
#include "state/batch_state.h"
#include "state/state_size.h"
#include "types/batch.h"
#include "types/schema.h"

namespace rocksdb {
class DB;
}

namespace lakepipe::state {

class WindowStateStore : public operators::WindowState, public BatchState {
 public:
  // Opens (creating if needed) the store in `dir` for open-window states of `state_schema`
  // (the HashAggregate state schema). InvalidArgument when it was written for another
  // schema (the query changed: rebuild with a full refresh).
  static Result<std::unique_ptr<WindowStateStore>> Open(const std::string& dir, const Schema& state_schema);
  ~WindowStateStore() override;

  std::optional<int64_t> committed_batch() const override { return committed_batch_; }
  std::optional<int64_t> max_event_time() const override;
  Result<RecordBatch> OpenWindows() const override;
  void Stage(std::optional<int64_t> max_event_time, RecordBatch open_windows) override;

  Status Commit(int64_t batch_id) override;
  Status Abandon() override {
    staged_.reset();
    return Status::OK();
  }

  StateSize Size() const override;

 private:
  WindowStateStore() = default;
  struct Staged {
    std::optional<int64_t> max_event_time;
    RecordBatch open_windows;
  };
  std::unique_ptr<rocksdb::DB> db_;
  std::string dir_;
  Schema schema_;
  std::optional<int64_t> committed_batch_;
  std::optional<int64_t> committed_max_;
  RecordBatch committed_windows_;
  std::optional<Staged> staged_;
};

}  // namespace lakepipe::state
