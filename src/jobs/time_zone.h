// TimeZone: a named IANA time zone read from the system's TZif files (/usr/share/zoneinfo,
// Debian package tzdata; TZDIR overrides the folder), because GCC 12's libstdc++ has no
// std::chrono time zones. Owns the mapping between UTC instants and local wall-clock time:
// the transitions of the file (RFC 8536, version 2+ 64-bit data) and, past the last
// transition, the POSIX TZ rule in the file's footer (e.g. "CET-1CEST,M3.5.0,M10.5.0/3").
//
// Times are seconds since the Unix epoch; "local seconds" count the wall clock as if it
// were UTC (local = utc + offset). Immutable once loaded: thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace lakepipe::jobs {

class TimeZone {
 public:
  // UTC (offset 0, no transitions).
  TimeZone();
  // Loads `name` ("Europe/Paris", "UTC"). InvalidArgument for a name that is not a zone
  // name (absolute, "..") or not installed, naming the folder searched.
  static Result<TimeZone> Load(const std::string& name);
  // Parses TZif bytes (for tests and fuzzing); `name` is only for messages.
  static Result<TimeZone> FromTzif(const std::string& name, const std::string& bytes);

  const std::string& name() const { return name_; }
  // The UTC offset in seconds in effect at `utc` (east of Greenwich positive).
  int64_t OffsetAt(int64_t utc) const;
  int64_t ToLocal(int64_t utc) const { return utc + OffsetAt(utc); }
  // The instants whose wall clock reads `local`: one normally, two in a repeated hour
  // (ascending), none in a skipped one.
  std::vector<int64_t> ToUtc(int64_t local) const;
  // For a `local` time that does not exist (ToUtc is empty): the instant the clocks were
  // moved forward past it.
  int64_t GapEnd(int64_t local) const;

 private:
  int64_t RuleOffsetAt(int64_t utc) const;

  std::string name_ = "UTC";
  std::vector<int64_t> transitions_;  // ascending UTC instants
  std::vector<int32_t> offsets_;      // offset in effect from transitions_[i]
  int32_t initial_offset_ = 0;        // before the first transition
  bool has_rule_ = false;
  int32_t std_offset_ = 0, dst_offset_ = 0;
  bool rule_has_dst_ = false;
  // Rule dates: kind 'M' (month, week, weekday), 'J' (1..365, no Feb 29), 'N' (0..365).
  struct RuleDate {
    char kind = 'M';
    int a = 0, b = 0, c = 0;
    int64_t time = 7200;  // seconds after local midnight (may be negative or > 24 h)
  };
  RuleDate start_, end_;
};

// Civil calendar helpers (proleptic Gregorian), shared with the cron evaluator.
int64_t DaysFromCivil(int64_t y, int m, int d);
void CivilFromDays(int64_t days, int64_t* y, int* m, int* d);
// 0 = Sunday.
int WeekdayFromDays(int64_t days);
int DaysInMonth(int64_t y, int m);

}  // namespace lakepipe::jobs
