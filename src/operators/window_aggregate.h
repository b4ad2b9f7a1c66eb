// WindowAggregate: GROUP BY a time window — window(ts, size[, slide[, start]]) or
// session_window(ts, gap) — plus other keys, over HashAggregate (so every registered
// aggregate works, through its mergeable state).
//
// Fixed windows: each input row is assigned to every window containing its event time
// (one for a tumbling window, size/slide for a sliding one); the window's start is
// appended to the row as an extra last column, which the HashAggregate groups by in the
// window's key position. The output turns that start into the struct `window{start, end}`
// (end = start + size, exclusive).
//
// Sessions (Spark's session_window): each row opens [ts, ts + gap); rows of the same other
// keys whose intervals overlap form one session [first ts, last ts + gap). The HashAggregate
// groups by the session's start and carries one extra last aggregate, max(ts), from which
// the end follows. Rows are collected per batch and assigned to sessions when the batch is
// done (Flush): the open sessions of earlier batches and the new rows' intervals are merged
// per key, and the old sessions' states are merged under their new start. A row arriving
// between two sessions that bridges them merges them.
//
// Two modes:
// - batch (no watermark: materialized views, queries): every window, Finish() once.
// - streaming (a watermark delay): the watermark advances row by row in input order — it
//   is the largest event time of the rows before it (across batches: Restore gives the
//   stored one) minus the delay. Fixed windows: a row counts in each of its windows whose
//   end is after its watermark and is late only when there is none. Sessions: a row whose
//   time is below its watermark is late (it could touch a session already written). Late
//   rows and rows without an event time are handed back, not aggregated. After the batch,
//   TakeClosed() returns the windows (sessions) whose end is at or below the watermark
//   (each is output once, when the watermark passes its end) and OpenState() the partial
//   state of the others, to be stored (WindowState) and restored before the next batch.
//
// Call order: Make, [Restore], Push..., then Finish (batch) or TakeClosed + OpenState
// (streaming). Not thread-safe: one instance per Execute.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
#include "operators/hash_aggregate.h"
#include "types/batch.h"

namespace lakepipe::operators {

// The durable state of a streaming window aggregate across micro-batches (implemented by
// state::WindowStateStore): the open windows' partial aggregate state and the largest
// event time seen, as of the last committed batch, plus this batch's staged successor.
class WindowState {
 public:
  virtual ~WindowState() = default;
  // The state to continue from: this batch's staged state if any, else the committed one.
  virtual std::optional<int64_t> max_event_time() const = 0;
  virtual Result<RecordBatch> OpenWindows() const = 0;
  // Records the state after this batch (made durable by the owner after the table commit).
  virtual void Stage(std::optional<int64_t> max_event_time, RecordBatch open_windows) = 0;
};

struct WindowSpec {
  int64_t size_micros = 0;  // a session's gap
  int64_t slide_micros = 0;
  int64_t offset_micros = 0;
  bool session = false;
};

class WindowAggregate {
 public:
  // Makes an empty HashAggregate whose keys are bound over the input columns plus one
  // appended timestamp column (the window start), which key `window_key` must be.
  using Factory = std::function<Result<std::unique_ptr<HashAggregate>>()>;

  // `time`: the event time (a timestamp expression over the input). `delay_micros`: the
  // watermark delay for streaming; nullopt for batch. `output_schema`: the keys (the
  // window key as TimeWindow struct) then the aggregates.
  // Sessions: the HashAggregate has one more aggregate than `output_schema`, last:
  // max(time); `other_keys` are the group keys other than the window, bound over the input
  // (as in the factory), to find which rows may share a session.
  static Result<std::unique_ptr<WindowAggregate>> Make(WindowSpec window, expr::BoundExpr time, int window_key,
                                                       std::optional<int64_t> delay_micros, Factory make,
                                                       Schema output_schema,
                                                       std::vector<expr::BoundExpr> other_keys = {});

  // Streaming: continues from a stored state (max event time, open windows' state).
  Status Restore(std::optional<int64_t> max_event_time, const RecordBatch& open_windows);

  struct LateRow {
    int32_t row;               // index into the pushed batch
    std::string reason;        // for `_late_reason`
  };
  // Adds a batch. Streaming: late rows (and rows with a NULL event time) go to `late`.
  Status Push(const RecordBatch& batch, std::vector<LateRow>* late);

  // Batch mode: every window's row.
  Result<std::vector<RecordBatch>> Finish();
  // Streaming: the rows of the windows the watermark has passed, in output_schema.
  Result<std::vector<RecordBatch>> TakeClosed();
  // Streaming: the partial state of the windows still open (HashAggregate state schema).
  Result<RecordBatch> OpenState();
  std::optional<int64_t> max_event_time() const { return max_event_time_; }
  std::optional<int64_t> watermark() const;
  const Schema& state_schema() const { return agg_->state_schema(); }

 private:
  WindowAggregate() = default;
  // Rows of `batch` (state or output of agg_) whose window (start column) is closed.
  std::vector<int32_t> Rows(const RecordBatch& batch, bool closed) const;
  Result<RecordBatch> ToOutput(const RecordBatch& agg_output) const;
  // Sessions: the other keys of row `row` of agg_ output/state `batch`, encoded.
  std::string SessionKey(const RecordBatch& batch, int64_t row) const;
  // Sessions: assigns the pending rows to sessions and aggregates them (see the top).
  Status Flush();
  // Sessions: encoded (other keys, start) of the closed sessions in agg_.
  Result<std::vector<std::string>> ClosedSessions(std::vector<RecordBatch>* closed_rows);

  WindowSpec window_;
  expr::BoundExpr time_;
  int window_key_ = 0;
  std::optional<int64_t> delay_;
  std::unique_ptr<HashAggregate> agg_;
  Schema output_schema_;
  std::optional<int64_t> max_event_time_;
  std::vector<expr::BoundExpr> other_keys_;
  Factory make_;
  std::vector<RecordBatch> pending_;  // sessions: accepted rows not yet aggregated
};

}  // namespace lakepipe::operators
