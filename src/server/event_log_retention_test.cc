// The readers of the event log after its retention deleted old events and compaction
// rewrote its files (issue 16): /api/events and the dashboard read Catalog::Events, which
// keeps the rows it has read and reads only new files while the log only grows; after a
// DELETE or a compaction it must read the log again and show only the events kept.
// `lakepipe query` reads the same table through PipelineRunner::Query. Each `run --once`
// also VACUUMs the log (its files removed over an hour ago go).
#include <gtest/gtest.h>

#include "runtime/pipeline_runner.h"
#include "server/catalog.h"
#include "testing/testing.h"

namespace lakepipe::server {
namespace {

constexpr int64_t kDayMicros = 86400LL * 1000000;

TEST(EventLogRetentionTest, ReadersSeeTheEventsWithinTheRetentionAfterDeletesAndCompactions) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  const std::string landing = dir.Join("landing");
  ASSERT_TRUE(fs->CreateDirs(landing).ok());
  ASSERT_TRUE(fs->CreateDirs(dir.Join("p")).ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/pipeline.yaml"),
                            "name: t\nstorage: " + dir.Join("storage") + "\nlibraries: [p.sql]\nconfiguration: {landing: " +
                                landing +
                                ", lakepipe.eventLog.retentionDuration: '3 days', "
                                "lakepipe.eventLog.autoCompact.minNumFiles: '3'}\n")
                  .ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/p.sql"),
                            "CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${landing}', "
                            "format => 'csv', header => true, schema => 'id INT');\n")
                  .ok());
  ManualClock clock(Clock::System()->NowMicros());
  auto runner = runtime::PipelineRunner::Open(dir.Join("p"), {}, fs, &clock);
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  Catalog catalog(runner->get());
  constexpr int kDays = 8;
  for (int day = 0; day < kDays; ++day) {
    if (day > 0) clock.Advance(kDayMicros);
    ASSERT_TRUE(fs->WriteFileAtomic(JoinPath(landing, "f" + std::to_string(day) + ".csv"),
                                    "id\n" + std::to_string(day) + "\n")
                    .ok());
    auto update = (*runner)->RunOnce({});
    ASSERT_TRUE(update.ok()) << update.status().ToString();
    ASSERT_TRUE(update->ok());
    // Read after every run, so the catalog holds rows of files that later go.
    auto events = catalog.Events();
    ASSERT_TRUE(events.ok()) << events.status().ToString();
    ASSERT_FALSE((*events)->empty());
  }
  const int64_t cutoff_ms = (clock.NowMicros() - 3 * kDayMicros) / 1000;
  auto events = catalog.Events();
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  int starts = 0, retention = 0, vacuums = 0;
  for (const auto& e : **events) {
    EXPECT_GE(e.timestamp_unix_ms, cutoff_ms) << e.event_type << ": " << e.message;
    if (e.event_type == "update_start") ++starts;
    if (e.event_type == "event_log_retention" && e.level == "INFO") ++retention;
    // Files that compaction and retention removed a day before are deleted.
    if (e.event_type == "scheduled_vacuum" && e.table == "_event_log" && e.level == "INFO") ++vacuums;
  }
  // The runs of days 4..7 (day 4 is exactly at the cut-off, not older than it).
  EXPECT_EQ(starts, 4);
  EXPECT_GT(retention, 0);
  EXPECT_GT(vacuums, 0);
  // `lakepipe query` agrees.
  auto counted = (*runner)->Query("SELECT count(*) FROM _event_log WHERE event_type = 'update_start'");
  ASSERT_TRUE(counted.ok()) << counted.status().ToString();
  ASSERT_FALSE(counted->batches.empty());
  EXPECT_EQ(counted->batches[0].column(0).GetValue(0).ToString(), "4");
  EXPECT_EQ(static_cast<int64_t>((*events)->size()),
            std::stoll((*runner)->Query("SELECT count(*) FROM _event_log")->batches[0].column(0).GetValue(0).ToString()));
}

}  // namespace
}  // namespace lakepipe::server
