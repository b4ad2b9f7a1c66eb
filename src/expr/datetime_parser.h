// The public door to expr's Spark datetime patterns for code outside expr/ (the file
// readers' dateFormat / timestampFormat). The pattern engine itself stays internal
// (kernel_state.h, datetime_format.cc), shared with to_date / to_timestamp.
//
// Thread-safety: the returned parser is immutable and may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lakepipe::expr {

// Parses text to microseconds since the epoch (UTC); nullopt when the text does not match.
using DatetimeParser = std::function<std::optional<int64_t>(std::string_view)>;

// Compiles `pattern` (https://spark.apache.org/docs/latest/sql-ref-datetime-pattern.html,
// the letters to_timestamp accepts). InvalidArgument / NotSupported name the bad letter.
Result<DatetimeParser> CompileDatetimeParser(const std::string& pattern);

}  // namespace lakepipe::expr
