// Time windows in GROUP BY (Spark's window functions for event time):
//   window(ts, '10 minutes')                       tumbling
//   window(ts, '10 minutes', '5 minutes')          sliding (every 5 minutes)
//   window(ts, '10 minutes', '5 minutes', '1 minute')  with a start offset
//   session_window(ts, '5 minutes')                sessions closed by a 5-minute gap
// A window groups its rows into a struct column named `window` (or `session_window`) with
// fields `start` and `end` (timestamps, end exclusive), read as `window.start`.
//
// Windows are [offset + k * slide, offset + k * slide + size) for every integer k; a row
// belongs to each window that contains its event time. Durations are Spark interval
// strings: one or more `<n> <unit>` pairs, unit in microsecond(s), millisecond(s),
// second(s), minute(s), hour(s), day(s), week(s) (also written `INTERVAL 10 MINUTES`
// inside the quotes).
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "expr/expr.h"
#include "types/schema.h"

namespace lakepipe::sql {

struct TimeWindow {
  bool session = false;
  int64_t size_micros = 0;   // window length; a session's gap
  int64_t slide_micros = 0;  // = size for a tumbling window
  int64_t offset_micros = 0;
};

// Whether `e` is a call of window(...) or session_window(...).
bool IsTimeWindowCall(const expr::Expr& e);

// The window of a window / session_window call; its arguments after the first must be
// string literals. Errors name the argument.
Result<TimeWindow> ParseTimeWindow(const expr::Expr& call);

// "10 minutes" -> 600,000,000. InvalidArgument naming the text when it is not a duration.
Result<int64_t> ParseDuration(std::string_view text);

// struct<start: timestamp, end: timestamp>
DataType TimeWindowType();

}  // namespace lakepipe::sql
