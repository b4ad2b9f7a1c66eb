// Cron-style `run --once` jobs (issue 16): each run adds a file to the streaming table, to
// the tables it writes beside itself (`<t>_quarantine`) and to the event log. They are
// compacted at the end of each run as continuous mode compacts them, so over 30 runs the
// number of files each holds stays bounded while every row is kept.
#include <gtest/gtest.h>

#include <algorithm>

#include "delta/table.h"
#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

class RunOnceUpkeepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("p")).ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"),
                               "name: t\nstorage: " + storage_ + "\nlibraries: [p.sql]\nconfiguration: {landing: " +
                                   landing_ + ", lakepipe.eventLog.autoCompact.minNumFiles: '5'}\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"),
                               "CREATE OR REFRESH STREAMING TABLE clean (\n"
                               "  CONSTRAINT positive EXPECT (id > 0) ON VIOLATION QUARANTINE\n"
                               ") TBLPROPERTIES ('lakepipe.autoCompact.minNumFiles' = '5')\n"
                               "AS SELECT * FROM STREAM read_files('${landing}', format => 'csv', header => true, "
                               "schema => 'id INT, kind STRING');\n")
                    .ok());
  }

  size_t Files(const std::string& table) {
    auto opened = delta::DeltaTable::Open(JoinPath(storage_, table));
    EXPECT_TRUE(opened.ok()) << table << ": " << opened.status().ToString();
    if (!opened.ok()) return 0;
    auto snap = (*opened)->Latest();
    EXPECT_TRUE(snap.ok());
    return snap.ok() ? (*snap)->num_files() : 0;
  }

  std::string One(PipelineRunner& runner, const std::string& sql) {
    auto r = runner.Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r->batches.empty()) return "";
    return r->batches[0].column(0).GetValue(0).ToString();
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
  std::string storage_ = dir_.Join("storage");
};

TEST_F(RunOnceUpkeepTest, ThirtyRunsKeepTheQuarantineAndTheEventLogBounded) {
  constexpr int kRuns = 30;
  size_t most_quarantine = 0, most_events = 0, most_clean = 0;
  for (int run = 0; run < kRuns; ++run) {
    // One good row and one that the expectation quarantines, per run.
    char name[32];
    std::snprintf(name, sizeof name, "f%04d.csv", run);
    ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, name),
                                     "id,kind\n" + std::to_string(run + 1) + ",good\n-" + std::to_string(run + 1) +
                                         ",bad\n")
                    .ok());
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    ASSERT_TRUE(runner.ok()) << runner.status().ToString();
    auto update = (*runner)->RunOnce({});
    ASSERT_TRUE(update.ok()) << update.status().ToString();
    ASSERT_TRUE(update->ok()) << (update->tables.empty() ? "" : update->tables[0].message);
    most_clean = std::max(most_clean, Files("clean"));
    most_quarantine = std::max(most_quarantine, Files("clean_quarantine"));
    most_events = std::max(most_events, Files("_event_log"));
  }
  // Without compaction each would hold 30 files (the event log more). With a threshold
  // of 5, fewer than 5 files of each compaction level wait at any time: 4 new ones, 4 of
  // level 1 and the output of level 2 after 25 runs.
  EXPECT_LE(most_clean, 10u);
  EXPECT_LE(most_quarantine, 10u);
  EXPECT_LE(most_events, 10u);
  auto runner = PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_TRUE(runner.ok());
  // Every row kept, once.
  EXPECT_EQ(One(**runner, "SELECT count(*) FROM clean"), std::to_string(kRuns));
  EXPECT_EQ(One(**runner, "SELECT count(DISTINCT id) FROM clean"), std::to_string(kRuns));
  EXPECT_EQ(One(**runner, "SELECT count(*) FROM clean_quarantine"), std::to_string(kRuns));
  EXPECT_EQ(One(**runner, "SELECT count(*) FROM _event_log WHERE event_type = 'update_start'"), std::to_string(kRuns));
  // Compactions happened, and were recorded, for the side table and the event log.
  EXPECT_NE(One(**runner, "SELECT count(*) FROM _event_log WHERE event_type = 'auto_compaction' AND table_name = "
                          "'clean_quarantine'"),
            "0");
  EXPECT_NE(One(**runner, "SELECT count(*) FROM _event_log WHERE event_type = 'auto_compaction' AND table_name = "
                          "'_event_log'"),
            "0");
}

}  // namespace
}  // namespace lakepipe::runtime
