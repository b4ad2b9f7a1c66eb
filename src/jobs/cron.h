// CronSchedule: a 5-field cron expression (minute hour day-of-month month day-of-week)
// evaluated in a time zone, with the rules for clock changes of Debian's (Vixie) cron,
// written down in docs/jobs.md "Schedules":
//   * fields take `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n` `a-b/n` `a/n`, month
//     names JAN-DEC and weekday names SUN-SAT (0 and 7 are Sunday); @hourly, @daily
//     (@midnight), @weekly, @monthly, @yearly (@annually) stand for their expressions;
//   * when both day-of-month and day-of-week are restricted, a day matching either runs;
//   * a schedule whose minute or hour field starts with `*` runs by elapsed time: in a
//     repeated hour it runs in both passes, and minutes that the clocks skip do not exist;
//   * a schedule at fixed hours runs once per wall-clock time: in a repeated hour only in
//     the first pass; a time the clocks skip runs at the instant they jump (03:00 in Paris
//     on the last Sunday of March), once, however many skipped times matched.
//
// Immutable after Parse: thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "jobs/time_zone.h"

namespace lakepipe::jobs {

class CronSchedule {
 public:
  // InvalidArgument naming the field and the bad text.
  static Result<CronSchedule> Parse(const std::string& text);

  // The first run strictly after `after_utc` (seconds since the epoch), evaluated in `tz`.
  // NotFound when none falls in the next 8 years (e.g. "0 0 31 2 *").
  Result<int64_t> Next(int64_t after_utc, const TimeZone& tz) const;

  const std::string& text() const { return text_; }
  // The five fields as written, a macro expanded ("@daily": "0" "0" "*" "*" "*").
  const std::vector<std::string>& fields() const { return fields_; }
  // Bit w: weekday w runs (0 = Sunday; a 7 in the text is folded into 0).
  uint8_t weekdays() const { return weekdays_; }
  bool Matches(int64_t local) const;  // whether a local wall-clock minute matches

 private:
  bool DayMatches(int64_t days) const;

  std::string text_;
  std::vector<std::string> fields_;
  uint64_t minutes_ = 0;  // bit i: minute i
  uint32_t hours_ = 0;
  uint32_t days_ = 0;     // bit d: day d (1..31)
  uint16_t months_ = 0;   // bit m: month m (1..12)
  uint8_t weekdays_ = 0;  // bit w: weekday w (0 = Sunday)
  bool dom_star_ = true, dow_star_ = true;
  bool by_elapsed_time_ = true;  // the minute or hour field starts with `*`
};

}  // namespace lakepipe::jobs
