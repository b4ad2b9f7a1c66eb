// StreamJoin: an inner or left outer equi-join of two streams whose buffered rows live
// across micro-batches, with results that do not depend on where the batches are cut
// (docs/sql-reference.md, "Streaming semantics"):
//
// - each side has its own watermark, advanced row by row in input order: a row is late
//   when its event time is below (the largest event time of the side's earlier rows) minus
//   the side's delay. Late rows are handed back, never joined and never dropped silently;
// - every on-time row is joined with every on-time row of the other side that arrived
//   earlier or in the same batch (a symmetric hash join), then buffered;
// - the ON condition bounds right.time - left.time to [lower, upper], so a left row is
//   dropped from the buffer once the right watermark passes left.time + upper (no future
//   on-time right row can match it), a right row once the left watermark passes
//   right.time - lower. For a LEFT join, a left row dropped without a match is emitted
//   then, with NULLs on the right: exactly once, and only when no match can come.
//
// StreamJoinState holds the buffers and watermark bases and logs what changed since its
// last commit; a state::JoinStateStore makes it durable, or a caller keeps one for a
// single run. Call order: Make, then Push once per micro-batch (with all of that batch's
// rows of both sides). Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
#include "operators/hash_join.h"
#include "types/batch.h"

namespace lakepipe::operators {

// The bounds that make a stream-stream join finite (found by sql::AnalyzeStreamJoin).
struct StreamJoinBounds {
  int left_time = -1;   // event-time column of the left input (timestamp)
  int right_time = -1;  // of the right input
  int64_t left_delay_micros = 0;
  int64_t right_delay_micros = 0;
  // right.time - left.time of every matching pair lies in [lower, upper].
  int64_t lower_micros = 0;
  int64_t upper_micros = 0;
};

// The state of one StreamJoin kept across micro-batches.
class StreamJoinState {
 public:
  struct Side {
    RecordBatch rows;                // buffered on-time rows, oldest first
    std::vector<int64_t> ids;        // per row: stable id (the durable store's key)
    std::vector<uint8_t> matched;    // per row: matched at least once (left rows of a LEFT join)
    std::optional<int64_t> max_time;  // largest event time of the side so far
  };
  StreamJoinState(const Schema& left, const Schema& right);

  Side left, right;
  int64_t next_id = 0;

  // Changes since the last MarkCommitted(), for a durable store: rows with an id at or
  // above first_uncommitted_id are new; `removed_ids` were committed and are evicted;
  // `rematched_ids` were committed unmatched and have matched since.
  int64_t first_uncommitted_id = 0;
  std::vector<int64_t> removed_ids;
  std::set<int64_t> rematched_ids;
  bool dirty = false;
  void MarkCommitted();

  int64_t rows() const { return left.rows.num_rows() + right.rows.num_rows(); }
  int64_t MemoryBytes() const;
};

struct StreamJoinOutput {
  std::vector<RecordBatch> rows;  // joined rows (and unmatched left rows of a LEFT join)
  RecordBatch late_left;          // left rows behind the left watermark
  RecordBatch late_right;         // right rows behind the right watermark
  // Per late row: the watermark it was behind (microseconds).
  std::vector<int64_t> late_left_watermarks, late_right_watermarks;
};

class StreamJoin {
 public:
  // left_keys are bound against `left`, right_keys against `right`; the residual (the
  // rest of the ON condition, time range included) against `output` (left columns then
  // right columns, the right ones nullable for a LEFT join). `state` must outlive the join.
  static Result<std::unique_ptr<StreamJoin>> Make(JoinType type, const Schema& left, const Schema& right,
                                                  const Schema& output, std::vector<expr::BoundExpr> left_keys,
                                                  std::vector<expr::BoundExpr> right_keys,
                                                  std::optional<expr::BoundExpr> residual,
                                                  const StreamJoinBounds& bounds, StreamJoinState* state);

  // One micro-batch: its new rows of each side, in input order.
  Result<StreamJoinOutput> Push(const std::vector<RecordBatch>& left, const std::vector<RecordBatch>& right);

 private:
  StreamJoin() = default;
  Status KeysOf(const RecordBatch& rows, const std::vector<expr::BoundExpr>& keys, std::string* arena,
                std::vector<std::string_view>* out, std::vector<uint8_t>* null_key);
  Result<RecordBatch> Pairs(const RecordBatch& l, const RecordBatch& r, const std::vector<int32_t>& li,
                            const std::vector<int32_t>& ri, std::vector<int32_t>* kept);

  JoinType type_ = JoinType::kInner;
  Schema left_schema_, right_schema_, output_schema_;
  std::vector<expr::BoundExpr> left_keys_, right_keys_;
  std::optional<expr::BoundExpr> residual_;
  StreamJoinBounds bounds_;
  StreamJoinState* state_ = nullptr;
};

}  // namespace lakepipe::operators
