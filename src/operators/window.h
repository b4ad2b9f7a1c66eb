// Window: window functions (OVER (PARTITION BY ... ORDER BY ... frame)) over a whole input.
//
// A window function sees its whole partition, so Window buffers every pushed batch and
// computes in Finish. Per function: the rows are sorted by (partition keys ASC NULLS FIRST,
// then the ORDER BY keys as written; stable, so ties keep input order), partitions and
// peer groups (rows with equal ORDER BY keys) are found in one pass, and each row gets its
// value:
//   row_number, rank, dense_rank, percent_rank, ntile(n)   by position and peer group;
//   lag/lead(x, n, default)                                 the row n before/after in the
//                                                          partition (frames do not apply);
//   first_value, last_value, nth_value(x, n)                a row of the frame;
//   count, sum, avg, min, max                               over the frame.
// Frames are Spark's: ROWS or RANGE BETWEEN start AND end, with UNBOUNDED PRECEDING / n
// PRECEDING / CURRENT ROW / n FOLLOWING / UNBOUNDED FOLLOWING. RANGE offsets need one
// numeric ORDER BY key; rows whose key is NULL are one peer group and an offset bound of
// such a row stops at that group. The planner supplies the default frame (RANGE UNBOUNDED
// PRECEDING .. CURRENT ROW with ORDER BY, the whole partition without).
//
// Cost: O(n log n) per function — the sort, prefix sums for count/sum/avg over integers
// and decimals (exact), a running sum for doubles over frames that start at the partition
// start (Spark's left-to-right order), a segment tree for sliding double sums and for
// min/max; never O(n * frame).
//
// Output: the input rows in input order, then one column per function (output_schema()).
// sum over integers errors on bigint overflow, sum/avg over decimals when the result does
// not fit its precision, as HashAggregate.
//
// Call order: Make, Push*, Finish once. Not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
#include "operators/sort.h"
#include "types/batch.h"

namespace lakepipe::operators {

enum class WindowFunctionKind {
  kRowNumber,
  kRank,
  kDenseRank,
  kPercentRank,
  kNtile,
  kLag,
  kLead,
  kFirstValue,
  kLastValue,
  kNthValue,
  kCount,  // count(x); count(*) when args is empty
  kSum,
  kAvg,
  kMin,
  kMax,
};

enum class FrameUnit { kRows, kRange };

struct FrameBound {
  enum Kind { kUnboundedPreceding, kPreceding, kCurrentRow, kFollowing, kUnboundedFollowing };
  Kind kind = kCurrentRow;
  double offset = 0;  // kPreceding / kFollowing: rows (ROWS) or ORDER BY key units (RANGE)
};

struct WindowFrame {
  FrameUnit unit = FrameUnit::kRange;
  FrameBound start{FrameBound::kUnboundedPreceding, 0};
  FrameBound end{FrameBound::kCurrentRow, 0};
};

struct WindowFunctionSpec {
  WindowFunctionKind kind = WindowFunctionKind::kRowNumber;
  // Value functions and aggregates: args[0] is the value (none for count(*));
  // lag/lead: args[1], when present, is the default (of args[0]'s type).
  std::vector<expr::BoundExpr> args;
  int64_t n = 1;              // lag/lead offset, ntile buckets, nth_value position
  bool ignore_nulls = false;  // first_value / last_value(x, true)
  std::vector<expr::BoundExpr> partition_by;
  std::vector<SortKey> order_by;
  WindowFrame frame;
  Field output;      // the result column (name, type, nullability)
  std::string text;  // the call as written, for errors
};

class Window {
 public:
  static Result<std::unique_ptr<Window>> Make(const Schema& input, std::vector<WindowFunctionSpec> functions);
  Status Push(const RecordBatch& batch);
  Result<std::vector<RecordBatch>> Finish();
  const Schema& output_schema() const { return output_schema_; }

 private:
  Window() = default;
  Schema input_schema_;
  Schema output_schema_;
  std::vector<WindowFunctionSpec> functions_;
  std::vector<RecordBatch> batches_;
};

}  // namespace lakepipe::operators
