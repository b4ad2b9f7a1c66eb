// Interval strings as Spark and Delta write them in table properties: "1 second",
// "5 minutes", "interval 30 days", "interval 1 day 12 hours". Owns only the parsing, so the
// SQL front end (which checks TBLPROPERTIES at `validate`) and the Delta layer (which reads
// the properties of any table, also tables other engines wrote) accept the same texts.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace lakepipe {

// Microseconds in `text`: an optional leading "interval", then one or more "<number>
// <unit>" pairs (case-insensitive; units microsecond, millisecond, second, minute, hour,
// day, week, singular or plural). Zero is allowed; negative amounts and anything else are
// InvalidArgument quoting the text.
Result<int64_t> ParseIntervalMicros(std::string_view text);

}  // namespace lakepipe
