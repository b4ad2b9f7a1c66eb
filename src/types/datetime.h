// Calendar arithmetic and the text forms of dates and timestamps (proleptic Gregorian,
// UTC), shared by the CSV/JSON readers, Delta stats and partition values, and SQL
// functions. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lakepipe {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400LL * kMicrosPerSecond;

// Days since 1970-01-01 of a civil date (month 1..12, day 1..31), and back.
int32_t DaysFromCivil(int64_t year, unsigned month, unsigned day);
void CivilFromDays(int64_t days, int64_t* year, unsigned* month, unsigned* day);
bool IsValidCivil(int64_t year, unsigned month, unsigned day);

// Floor division of microseconds into days (correct for times before 1970).
inline int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// "2019-12-09".
std::string FormatDate(int32_t days);
// "2019-12-09 10:05:00" or "2019-12-09 10:05:00.123" (fraction without trailing zeros),
// as Spark prints a timestamp.
std::string FormatTimestamp(int64_t micros);
// ISO 8601 with milliseconds and Z, as Delta writes timestamp stats: "2019-12-09T10:05:00.123Z".
std::string FormatTimestampIso(int64_t micros);

// "yyyy-[m]m-[d]d" (an optional time part is refused).
Result<int32_t> ParseDate(std::string_view text);
// "yyyy-mm-dd", "yyyy-mm-dd[T| ]hh:mm[:ss[.ffffff]][Z|+hh[:mm]|-hh[:mm]]"; without an
// offset the time is taken as UTC.
Result<int64_t> ParseTimestamp(std::string_view text);

}  // namespace lakepipe
