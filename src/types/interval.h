// Interval values: Spark's two ANSI interval types, which lakepipe has in expressions only
// (Delta cannot store them, so a table column of an interval type is refused at resolve).
//   interval day to second  : microseconds, int64   (TypeId::kDayTimeInterval)
//   interval year to month  : months, int32          (TypeId::kYearMonthInterval)
// This header owns their text forms: parsing the INTERVAL literal syntax and unit names
// the SQL front end and functions use, and printing values as Spark does.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lakepipe {

enum class IntervalUnit { kYear, kQuarter, kMonth, kWeek, kDay, kHour, kMinute, kSecond, kMillisecond, kMicrosecond };

// "year", "YEARS", "minute", "mins", "ms" ... (case-insensitive, singular or plural);
// InvalidArgument naming the accepted units otherwise.
Result<IntervalUnit> ParseIntervalUnit(std::string_view text);
inline bool IsYearMonthUnit(IntervalUnit u) {
  return u == IntervalUnit::kYear || u == IntervalUnit::kQuarter || u == IntervalUnit::kMonth;
}
// Microseconds in one unit of a day-time unit (a day is 24 hours, as in Spark).
int64_t MicrosPerUnit(IntervalUnit u);
// Months in one unit of a year-month unit.
int64_t MonthsPerUnit(IntervalUnit u);

struct IntervalValue {
  bool year_month = false;  // true: `months` holds it; false: `micros`
  int64_t months = 0;
  int64_t micros = 0;
};

// The value of an INTERVAL literal's text: "1 day 2 hours", "-90 seconds", "1.5 minutes"
// (fractions only for day-time units, exact to the microsecond), or a bare number with
// `unit` given separately (INTERVAL '2' HOUR). Mixing year-month and day-time units in
// one literal is refused (Spark would make a legacy calendar interval, which lakepipe
// does not have). Overflow is an error.
Result<IntervalValue> ParseIntervalText(std::string_view text, std::string_view unit = "");

// Spark's CAST(interval AS STRING): "INTERVAL '1 02:03:04.5' DAY TO SECOND",
// "INTERVAL '1-2' YEAR TO MONTH".
std::string FormatDayTimeInterval(int64_t micros);
std::string FormatYearMonthInterval(int64_t months);

}  // namespace lakepipe
