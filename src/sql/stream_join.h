// Stream-stream joins: what bounds their state. A join of two streams can only be kept
// incrementally, with results that do not depend on how the input is cut into
// micro-batches, when each side has a watermark and the ON condition bounds one side's
// event time by the other's from below and above (docs/sql-reference.md, "Streaming
// semantics"). This file finds those bounds in a resolved join, or says why there are
// none; both `validate` (through resolution) and the executor call it, so what one
// accepts the other runs.
//
// Pure functions over immutable plans; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "sql/plan.h"

namespace lakepipe::sql {

// One input of a stream-stream join: its watermarked event-time column.
struct StreamJoinSide {
  int time_column = -1;   // index in the join input's schema
  std::string time_name;  // its name there
  int64_t delay_micros = 0;
  std::string source;     // the scanned table or read_files path, for messages
};

struct StreamJoinBounds {
  StreamJoinSide left, right;
  // Every matching pair has right.time - left.time in [lower_micros, upper_micros]: a left
  // row can match no right row after the right watermark passes left.time + upper, a right
  // row no left row after the left watermark passes right.time - lower.
  int64_t lower_micros = 0;
  int64_t upper_micros = 0;
};

// True when both inputs of a kJoin read a stream (STREAM(t) or STREAM read_files).
bool IsStreamStreamJoin(const PlanNode& join);

// The bounds of a resolved stream-stream join; NotSupported, at the join's position, with
// the reason and what to write instead when the join cannot be kept with bounded state.
Result<StreamJoinBounds> AnalyzeStreamJoin(const PlanNode& join);

// AnalyzeStreamJoin for every stream-stream join in a resolved plan.
Status CheckStreamJoins(const PlanNode& plan);

}  // namespace lakepipe::sql
