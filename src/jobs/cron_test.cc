// Cron expressions and time zones: fields, names, the day-of-month/day-of-week rule, and
// runs across Europe/Paris's clock changes of 2026 in both directions (docs/jobs.md).
#include "jobs/cron.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "jobs/job_spec.h"
#include "jobs/scheduler.h"
#include "jobs/time_zone.h"
#include "types/datetime.h"

namespace lakepipe::jobs {
namespace {

int64_t Utc(const std::string& iso) {
  auto t = ParseTimestamp(iso);
  EXPECT_TRUE(t.ok()) << iso;
  return t.ok() ? *t / 1'000'000 : 0;
}
std::string Iso(int64_t seconds) { return FormatTimestampIso(seconds * 1'000'000).substr(0, 19); }

// The first `n` runs after `from` (UTC).
std::vector<std::string> Runs(const std::string& cron, const std::string& zone, const std::string& from, int n) {
  auto c = CronSchedule::Parse(cron);
  EXPECT_TRUE(c.ok()) << c.status().message();
  auto tz = TimeZone::Load(zone);
  EXPECT_TRUE(tz.ok()) << tz.status().message();
  std::vector<std::string> out;
  int64_t t = Utc(from);
  for (int i = 0; i < n && c.ok() && tz.ok(); ++i) {
    auto next = c->Next(t, *tz);
    EXPECT_TRUE(next.ok()) << next.status().message();
    if (!next.ok()) break;
    EXPECT_GT(*next, t);
    t = *next;
    out.push_back(Iso(t));
  }
  return out;
}

TEST(TimeZoneTest, ParisOffsetsAndClockChanges) {
  auto tz = TimeZone::Load("Europe/Paris");
  ASSERT_TRUE(tz.ok()) << tz.status().message();
  EXPECT_EQ(tz->OffsetAt(Utc("2026-01-15T12:00:00Z")), 3600);
  EXPECT_EQ(tz->OffsetAt(Utc("2026-07-15T12:00:00Z")), 7200);
  // 29 March 2026: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
  EXPECT_EQ(tz->OffsetAt(Utc("2026-03-29T00:59:59Z")), 3600);
  EXPECT_EQ(tz->OffsetAt(Utc("2026-03-29T01:00:00Z")), 7200);
  int64_t local_0230 = Utc("2026-03-29T02:30:00Z");  // wall clock 02:30 as if UTC
  EXPECT_TRUE(tz->ToUtc(local_0230).empty());
  EXPECT_EQ(Iso(tz->GapEnd(local_0230)), "2026-03-29T01:00:00");
  // 25 October 2026: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:30 happens twice.
  auto twice = tz->ToUtc(Utc("2026-10-25T02:30:00Z"));
  ASSERT_EQ(twice.size(), 2u);
  EXPECT_EQ(Iso(twice[0]), "2026-10-25T00:30:00");
  EXPECT_EQ(Iso(twice[1]), "2026-10-25T01:30:00");
}

TEST(TimeZoneTest, RuleBeyondTheTransitionsAndSouthernHemisphere) {
  // Past the file's transitions the footer's POSIX rule decides.
  auto ny = TimeZone::Load("America/New_York");
  ASSERT_TRUE(ny.ok()) << ny.status().message();
  EXPECT_EQ(ny->OffsetAt(Utc("2100-07-01T12:00:00Z")), -4 * 3600);
  EXPECT_EQ(ny->OffsetAt(Utc("2100-01-01T12:00:00Z")), -5 * 3600);
  // 2nd Sunday of March 2100 is the 14th: 02:00 EST -> 03:00 EDT at 07:00 UTC.
  EXPECT_EQ(ny->OffsetAt(Utc("2100-03-14T06:59:59Z")), -5 * 3600);
  EXPECT_EQ(ny->OffsetAt(Utc("2100-03-14T07:00:00Z")), -4 * 3600);
  auto sydney = TimeZone::Load("Australia/Sydney");
  ASSERT_TRUE(sydney.ok());
  EXPECT_EQ(sydney->OffsetAt(Utc("2090-01-15T00:00:00Z")), 11 * 3600);
  EXPECT_EQ(sydney->OffsetAt(Utc("2090-07-15T00:00:00Z")), 10 * 3600);
  EXPECT_EQ(TimeZone::Load("UTC")->OffsetAt(Utc("2026-07-01T00:00:00Z")), 0);
}

TEST(TimeZoneTest, BadNamesAreRefused) {
  auto missing = TimeZone::Load("Europe/Atlantis");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("unknown time zone 'Europe/Atlantis'"), std::string::npos);
  EXPECT_FALSE(TimeZone::Load("../../etc/passwd").ok());
  EXPECT_FALSE(TimeZone::Load("/etc/localtime").ok());
  EXPECT_FALSE(TimeZone::FromTzif("x", "TZif2 not really").ok());
}

TEST(CronTest, FieldsListsRangesStepsAndNames) {
  EXPECT_EQ(Runs("*/20 9-10 * * MON-FRI", "UTC", "2026-12-04T10:30:00Z", 4),
            (std::vector<std::string>{"2026-12-04T10:40:00", "2026-12-07T09:00:00", "2026-12-07T09:20:00",
                                      "2026-12-07T09:40:00"}));
  EXPECT_EQ(Runs("0 12 1 jan,jul *", "UTC", "2026-02-01T00:00:00Z", 2),
            (std::vector<std::string>{"2026-07-01T12:00:00", "2027-01-01T12:00:00"}));
  EXPECT_EQ(Runs("5/30 0 * * 7", "UTC", "2026-12-05T00:00:00Z", 3),  // 7 is Sunday; "5/30" is 5,35
            (std::vector<std::string>{"2026-12-06T00:05:00", "2026-12-06T00:35:00", "2026-12-13T00:05:00"}));
  // Both day fields restricted: the 13th or a Friday.
  EXPECT_EQ(Runs("0 0 13 * FRI", "UTC", "2026-11-09T00:00:00Z", 3),
            (std::vector<std::string>{"2026-11-13T00:00:00", "2026-11-20T00:00:00", "2026-11-27T00:00:00"}));
  EXPECT_EQ(Runs("@monthly", "UTC", "2026-12-05T00:00:00Z", 1), (std::vector<std::string>{"2027-01-01T00:00:00"}));
  auto never = CronSchedule::Parse("0 0 31 2 *");
  ASSERT_TRUE(never.ok());
  EXPECT_FALSE(never->Next(Utc("2026-01-01T00:00:00Z"), TimeZone()).ok());
}

TEST(CronTest, BadExpressionsNameTheField) {
  auto bad = [](const std::string& text, const std::string& needle) {
    auto c = CronSchedule::Parse(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.status().message().find(needle), std::string::npos) << c.status().message();
  };
  bad("61 * * * *", "minute field '61'");
  bad("* * *", "has 3 fields");
  bad("0 0 * * FUNDAY", "day-of-week");
  bad("0 5-2 * * *", "ends before it starts");
  bad("*/0 * * * *", "step '0'");
  bad("@reboot", "not a schedule");
}

// Fixed hours: once per wall-clock time; a skipped time runs when the clocks jump.
TEST(CronTest, FixedTimeAcrossParisClockChanges) {
  EXPECT_EQ(Runs("30 2 * * *", "Europe/Paris", "2026-03-27T12:00:00Z", 3),
            (std::vector<std::string>{"2026-03-28T01:30:00",    // 02:30 CET
                                      "2026-03-29T01:00:00",    // 02:30 does not exist: 03:00 CEST
                                      "2026-03-30T00:30:00"}));  // 02:30 CEST
  EXPECT_EQ(Runs("30 2 * * *", "Europe/Paris", "2026-10-24T12:00:00Z", 2),
            (std::vector<std::string>{"2026-10-25T00:30:00",     // 02:30 CEST, the first pass only
                                      "2026-10-26T01:30:00"}));  // 02:30 CET
  // Several skipped times run once, at the jump.
  EXPECT_EQ(Runs("0,15,45 2 * * *", "Europe/Paris", "2026-03-29T00:00:00Z", 2),
            (std::vector<std::string>{"2026-03-29T01:00:00", "2026-03-30T00:00:00"}));
}

// `*` in the hour: elapsed time; the repeated hour runs twice, skipped minutes never.
TEST(CronTest, HourlyAcrossParisClockChanges) {
  EXPECT_EQ(Runs("30 * * * *", "Europe/Paris", "2026-10-24T23:00:00Z", 4),
            (std::vector<std::string>{"2026-10-24T23:30:00",    // 01:30 CEST
                                      "2026-10-25T00:30:00",    // 02:30 CEST
                                      "2026-10-25T01:30:00",    // 02:30 CET
                                      "2026-10-25T02:30:00"}));  // 03:30 CET
  EXPECT_EQ(Runs("30 * * * *", "Europe/Paris", "2026-03-28T23:00:00Z", 3),
            (std::vector<std::string>{"2026-03-28T23:30:00",    // 00:30 CET
                                      "2026-03-29T00:30:00",    // 01:30 CET
                                      "2026-03-29T01:30:00"}));  // 03:30 CEST (02:30 skipped)
}

}  // namespace
}  // namespace lakepipe::jobs

namespace lakepipe::jobs {
namespace {

// The scheduler against a fake clock stepped a minute at a time across the night the
// clocks go back in Paris, then the night they go forward.
TEST(SchedulerTest, FakeClockAcrossBothParisClockChanges) {
  auto file = JobsFile::Parse("jobs.yaml", R"(
jobs:
  nightly:
    schedule: {cron: "30 2 * * *", timezone: Europe/Paris}
    tasks: [{name: a, kind: command, argv: ["true"]}]
  hourly:
    schedule: {cron: "30 * * * *", timezone: Europe/Paris}
    tasks: [{name: a, kind: command, argv: ["true"]}]
  manual:
    tasks: [{name: a, kind: command, argv: ["true"]}]
)");
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto walk = [&](const std::string& from, const std::string& to) {
    ManualClock clock(Utc(from) * 1'000'000);
    Scheduler s(*file, &clock);
    EXPECT_FALSE(s.NextRun("manual").has_value());
    std::vector<std::string> fired;
    while (clock.NowMicros() < Utc(to) * 1'000'000) {
      clock.Advance(60'000'000);
      for (const auto& job : s.Due()) fired.push_back(job + " " + Iso(clock.NowMicros() / 1'000'000));
    }
    return fired;
  };
  EXPECT_EQ(walk("2026-10-24T23:00:00Z", "2026-10-25T03:00:00Z"),
            (std::vector<std::string>{"hourly 2026-10-24T23:30:00", "nightly 2026-10-25T00:30:00",
                                      "hourly 2026-10-25T00:30:00", "hourly 2026-10-25T01:30:00",
                                      "hourly 2026-10-25T02:30:00"}));
  EXPECT_EQ(walk("2026-03-28T23:00:00Z", "2026-03-29T02:00:00Z"),
            (std::vector<std::string>{"hourly 2026-03-28T23:30:00", "hourly 2026-03-29T00:30:00",
                                      "nightly 2026-03-29T01:00:00", "hourly 2026-03-29T01:30:00"}));
}

}  // namespace
}  // namespace lakepipe::jobs
