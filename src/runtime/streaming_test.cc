// The streaming runtime on small pipelines written by the tests: the file source's
// options, the Delta source's change commits, stream-static joins, watermarked
// deduplication across batches, and continuous mode with its triggers.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "delta/table.h"
#include "runtime/pipeline_runner.h"
#include "runtime/status_board.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

// "HH:MM" local time `seconds` from now.
std::string LocalTimeOfDayIn(int seconds) {
  time_t at = time(nullptr) + seconds;
  struct tm local;
  localtime_r(&at, &local);
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d:%02d", local.tm_hour, local.tm_min);
  return buf;
}

class StreamingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
    ASSERT_TRUE(fs_->CreateDirs(dims_).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("p")).ok());
  }

  // Writes pipeline.yaml (with `extra_yaml` appended) and one SQL file.
  void Pipeline(const std::string& sql, const std::string& extra_yaml = "") {
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"),
                               "name: t\nstorage: " + dir_.Join("storage") + "\nlibraries: [p.sql]\n" +
                                   "configuration: {landing: " + landing_ + ", dims: " + dims_ + "}\n" + extra_yaml)
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"), sql).ok());
  }

  std::unique_ptr<PipelineRunner> Open() {
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    return runner.ok() ? std::move(runner).value() : nullptr;
  }

  // A CSV file with header id,kind,ts; written whole (as a producer that renames would).
  void Drop(const std::string& folder, const std::string& name, const std::string& rows) {
    ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(folder, name), "id,kind,ts\n" + rows).ok());
  }

  int64_t Count(PipelineRunner& runner, const std::string& sql) {
    auto r = runner.Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r->batches.empty()) return -1;
    return r->batches[0].column(0).GetValue(0).ToString() == "NULL" ? -1 : std::stoll(r->batches[0].column(0).GetValue(0).ToString());
  }

  static const TableReport* Find(const UpdateReport& r, const std::string& table) {
    for (const auto& t : r.tables)
      if (t.table == table) return &t;
    return nullptr;
  }

  static std::string RawTable(const std::string& options = "") {
    return "CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${landing}', format => 'csv', "
           "header => true, schema => 'id INT, kind STRING, ts TIMESTAMP'" + options + ");\n";
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
  std::string dims_ = dir_.Join("dims");
};

TEST_F(StreamingTest, MaxFilesPerTriggerSplitsTheInputIntoBatches) {
  Pipeline(RawTable(", maxFilesPerTrigger => 1"));
  Drop(landing_, "a.csv", "1,x,2026-01-01 00:00:00\n");
  Drop(landing_, "b.csv", "2,x,2026-01-01 00:00:00\n");
  Drop(landing_, "c.csv", "3,x,2026-01-01 00:00:00\n");
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  auto update = runner->RunOnce({});
  ASSERT_TRUE(update.ok()) << update.status().ToString();
  EXPECT_EQ(Find(*update, "raw")->batches, 3);  // one file each, all drained by --once
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM raw"), 3);
}

TEST_F(StreamingTest, IncludeExistingFilesFalseStartsFromWhatArrivesLater) {
  Pipeline(RawTable(", includeExistingFiles => false"));
  Drop(landing_, "old.csv", "1,x,2026-01-01 00:00:00\n2,x,2026-01-01 00:00:00\n");
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  ASSERT_TRUE(runner->RunOnce({}).ok());
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM raw"), 0);
  Drop(landing_, "new.csv", "3,x,2026-01-01 00:00:00\n");
  ASSERT_TRUE(runner->RunOnce({}).ok());
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM raw"), 1);
  EXPECT_EQ(Count(*runner, "SELECT max(id) FROM raw"), 3);
  // A new runner (a restart) keeps the record: the old file is still not read.
  runner.reset();
  auto restarted = Open();
  ASSERT_TRUE(restarted->RunOnce({}).ok());
  EXPECT_EQ(Count(*restarted, "SELECT count(*) FROM raw"), 1);
}

TEST_F(StreamingTest, FileStableMillisWaitsForFilesToSettle) {
  Pipeline(RawTable(", fileStableMillis => 60000"));
  Drop(landing_, "settled.csv", "1,x,2026-01-01 00:00:00\n");
  Drop(landing_, "fresh.csv", "2,x,2026-01-01 00:00:00\n");
  // settled.csv was last written two minutes ago; fresh.csv just now.
  struct utimbuf old_times;
  old_times.actime = old_times.modtime = time(nullptr) - 120;
  ASSERT_EQ(utime(JoinPath(landing_, "settled.csv").c_str(), &old_times), 0);
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  StatusBoard board;
  RunOptions options;
  options.board = &board;
  ASSERT_TRUE(runner->RunOnce(options).ok());
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM raw"), 1);
  EXPECT_EQ(Count(*runner, "SELECT max(id) FROM raw"), 1);
  EXPECT_EQ(board.Snapshot().tables[0].backlog_files, 1);  // fresh.csv waits
}

TEST_F(StreamingTest, ChangeCommitsUpstreamFailTheStreamUnlessSkipped) {
  Pipeline(RawTable() +
           "CREATE OR REFRESH STREAMING TABLE strict AS SELECT id FROM STREAM(raw);\n"
           "CREATE OR REFRESH STREAMING TABLE lenient AS SELECT id FROM STREAM(raw) WITH (skipChangeCommits = true);\n");
  Drop(landing_, "a.csv", "1,x,2026-01-01 00:00:00\n2,x,2026-01-01 00:00:00\n");
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  ASSERT_TRUE(runner->RunOnce({}).ok());
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM lenient"), 2);
  // Rebuilding raw rewrites its rows (an overwrite commit): not an append.
  RunOptions refresh;
  refresh.full_refresh = {"raw"};
  auto update = runner->RunOnce(refresh);
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(Find(*update, "strict")->status, "failed");
  EXPECT_NE(Find(*update, "strict")->message.find("skipChangeCommits"), std::string::npos)
      << Find(*update, "strict")->message;
  EXPECT_EQ(Find(*update, "lenient")->rows_written, 0) << Find(*update, "lenient")->message;
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM lenient"), 2);  // the rewrite's rows are skipped
  // Later appends still flow to the lenient reader.
  Drop(landing_, "b.csv", "3,x,2026-01-01 00:00:00\n");
  ASSERT_TRUE(runner->RunOnce({}).ok());
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM lenient"), 3);
}

TEST_F(StreamingTest, OptimizeUpstreamAddsNothingDownstream) {
  Pipeline(RawTable(", maxFilesPerTrigger => 1") + "CREATE OR REFRESH STREAMING TABLE copy AS SELECT id FROM STREAM(raw);\n");
  Drop(landing_, "a.csv", "1,x,2026-01-01 00:00:00\n");
  Drop(landing_, "b.csv", "2,x,2026-01-01 00:00:00\n");
  Drop(landing_, "c.csv", "3,x,2026-01-01 00:00:00\n");
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  ASSERT_TRUE(runner->RunOnce({}).ok());
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM copy"), 3);
  // Compacting raw's three files rewrites them (remove + add with dataChange = false).
  auto raw = delta::DeltaTable::Open(runner->TablePath("raw"));
  ASSERT_TRUE(raw.ok());
  auto optimized = (*raw)->Optimize();
  ASSERT_TRUE(optimized.ok()) << optimized.status().ToString();
  ASSERT_TRUE(optimized->version.has_value());
  Drop(landing_, "d.csv", "4,x,2026-01-01 00:00:00\n");
  auto update = runner->RunOnce({});
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(Find(*update, "copy")->status, "updated") << Find(*update, "copy")->message;
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM copy"), 4);  // only d.csv's row was added
  EXPECT_EQ(Count(*runner, "SELECT count(DISTINCT id) FROM copy"), 4);
}

TEST_F(StreamingTest, UnknownReadOptionsAreErrorsAtTheirPlace) {
  Pipeline(RawTable() + "CREATE OR REFRESH STREAMING TABLE s AS SELECT id FROM STREAM(raw) WITH (fastMode = true);\n");
  auto runner = PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_FALSE(runner.ok());
  EXPECT_NE(runner.status().message().find("fastMode"), std::string::npos) << runner.status().ToString();
  EXPECT_NE(runner.status().message().find("p.sql:2:"), std::string::npos) << runner.status().ToString();
}

TEST_F(StreamingTest, OneRunAtATimePerStorage) {
  Pipeline(RawTable());
  Drop(landing_, "a.csv", "1,x,2026-01-01 00:00:00\n");
  auto first = Open();
  auto second = Open();
  ASSERT_TRUE(first->RunOnce({}).ok());
  auto refused = second->RunOnce({});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("in use by another lakepipe run"), std::string::npos)
      << refused.status().ToString();
  first.reset();  // the lock goes with its runner
  EXPECT_TRUE(second->RunOnce({}).ok());
}

TEST_F(StreamingTest, StreamStaticJoinReadsTheCurrentDimensionForNewRowsOnly) {
  Pipeline("CREATE OR REFRESH MATERIALIZED VIEW kinds AS SELECT * FROM read_files('${dims}', format => 'csv', "
           "header => true, schema => 'id INT, kind STRING, ts TIMESTAMP');\n" +
           RawTable() +
           "CREATE OR REFRESH STREAMING TABLE enriched AS SELECT r.id, k.kind AS label FROM STREAM(raw) r "
           "JOIN kinds k ON r.kind = CAST(k.id AS STRING);\n");
  Drop(dims_, "kinds.csv", "1,one,2026-01-01 00:00:00\n");
  Drop(landing_, "a.csv", "10,1,2026-01-01 00:00:00\n");
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  auto first = runner->RunOnce({});
  ASSERT_TRUE(first.ok());
  for (const auto& t : first->tables) EXPECT_EQ(t.status, "updated") << t.table << ": " << t.message;
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM enriched WHERE label = 'one'"), 1);
  // The dimension changes: new stream rows see the new value; the old row is not redone.
  Drop(dims_, "kinds.csv", "1,uno,2026-01-01 00:00:00\n");
  Drop(landing_, "b.csv", "11,1,2026-01-01 00:00:00\n");
  ASSERT_TRUE(runner->RunOnce({}).ok());
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM enriched"), 2);
  EXPECT_EQ(Count(*runner, "SELECT id FROM enriched WHERE label = 'uno'"), 11);
  EXPECT_EQ(Count(*runner, "SELECT id FROM enriched WHERE label = 'one'"), 10);
}

TEST_F(StreamingTest, WatermarkedDistinctMovesLateRowsToTheLateTableAcrossBatchesAndRestarts) {
  Pipeline(RawTable() +
           "CREATE OR REFRESH STREAMING TABLE unique_events AS SELECT DISTINCT id, ts FROM STREAM(raw) "
           "WATERMARK ts DELAY OF INTERVAL 10 MINUTES;\n");
  Drop(landing_, "a.csv", "1,x,2026-01-01 12:00:00\n1,x,2026-01-01 12:00:00\n");
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  ASSERT_TRUE(runner->RunOnce({}).ok());
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM unique_events"), 1);
  // Event time moves to 13:00: the watermark becomes 12:50.
  Drop(landing_, "b.csv", "2,x,2026-01-01 13:00:00\n");
  ASSERT_TRUE(runner->RunOnce({}).ok());
  // The late-rows table exists from the first batch, empty.
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM unique_events_late"), 0);
  // In a new process: a row at 12:30 is late (moved to unique_events_late with its
  // reason), one at 12:55 is not; a repeat of 13:00 is a duplicate.
  runner.reset();
  auto restarted = Open();
  Drop(landing_, "c.csv", "3,x,2026-01-01 12:30:00\n4,x,2026-01-01 12:55:00\n2,x,2026-01-01 13:00:00\n");
  auto update = restarted->RunOnce({});
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(Count(*restarted, "SELECT count(*) FROM unique_events"), 3);
  EXPECT_EQ(Count(*restarted, "SELECT count(*) FROM unique_events WHERE id = 3"), 0);
  EXPECT_EQ(Count(*restarted, "SELECT count(*) FROM unique_events WHERE id = 4"), 1);
  EXPECT_EQ(Count(*restarted, "SELECT count(*) FROM unique_events_late"), 1);
  EXPECT_EQ(Count(*restarted, "SELECT count(*) FROM unique_events_late WHERE id = 3 AND ts = TIMESTAMP "
                              "'2026-01-01 12:30:00' AND _late_reason LIKE 'ts 2026-01-01 12:30:00 is behind the "
                              "watermark 2026-01-01 12:50:00%'"),
            1);
  EXPECT_EQ(Find(*update, "unique_events")->rows_late, 1);
  EXPECT_EQ(Count(*restarted, "SELECT count(*) FROM _event_log WHERE table_name = 'unique_events' AND "
                              "details LIKE '%\"rows_late\":1,%'"),
            1);
  EXPECT_GT(Find(*update, "unique_events")->state_keys, 0);
  // The state size per operator is in the event log.
  EXPECT_GT(Count(*restarted, "SELECT count(*) FROM _event_log WHERE table_name = 'unique_events' AND "
                              "details LIKE '%\"operators\":[{\"bytes\":%\"name\":\"distinct-0\"%'"),
            0);
}

// Continuous mode in-process: files are picked up without another call, downstream tables
// follow, a table with an interval trigger waits for its time, and RequestStop returns.
TEST_F(StreamingTest, ContinuousRunFollowsNewFilesAndHonoursIntervalTriggers) {
  Pipeline(RawTable() +
               "CREATE OR REFRESH MATERIALIZED VIEW per_kind AS SELECT kind, count(*) AS n FROM raw GROUP BY kind;\n"
               "CREATE OR REFRESH MATERIALIZED VIEW hourly AS SELECT count(*) AS n FROM raw;\n"
               "CREATE OR REFRESH MATERIALIZED VIEW nightly AS SELECT count(*) AS n FROM raw;\n",
           "triggers:\n  hourly: {interval: 1h}\n  nightly: {at: [\"" + LocalTimeOfDayIn(3 * 3600) + "\"]}\n");
  Drop(landing_, "a.csv", "1,x,2026-01-01 00:00:00\n");
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  StatusBoard board;
  RunOptions options;
  options.board = &board;
  Status result;
  std::thread run([&] { result = runner->RunContinuous(options); });
  auto wait_for = [&](const std::string& sql, int64_t want) {
    for (int i = 0; i < 200; ++i) {
      auto r = runner->Query(sql);
      if (r.ok() && !r->batches.empty() && r->batches[0].num_rows() > 0 &&
          r->batches[0].column(0).GetValue(0).ToString() == std::to_string(want))
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  EXPECT_TRUE(wait_for("SELECT n FROM hourly", 1));
  EXPECT_TRUE(wait_for("SELECT n FROM per_kind WHERE kind = 'x'", 1));
  Drop(landing_, "b.csv", "2,x,2026-01-01 00:00:00\n3,y,2026-01-01 00:00:00\n");
  EXPECT_TRUE(wait_for("SELECT n FROM per_kind WHERE kind = 'x'", 2));
  EXPECT_TRUE(wait_for("SELECT n FROM per_kind WHERE kind = 'y'", 1));
  // The interval table ran once at the start and waits for its hour.
  EXPECT_TRUE(wait_for("SELECT n FROM hourly", 1));
  // The daily table waits for its window, three hours from now.
  EXPECT_FALSE(runner->Query("SELECT n FROM nightly").ok());
  runner->RequestStop();
  run.join();
  EXPECT_TRUE(result.ok()) << result.ToString();
  PipelineStatus status = board.Snapshot();
  EXPECT_EQ(status.mode, "continuous");
  for (const auto& t : status.tables) {
    EXPECT_EQ(t.state, "stopped") << t.name;
    if (t.name == "hourly") {
      EXPECT_EQ(t.trigger, "every 1h");
    }
    if (t.name == "nightly") {
      EXPECT_EQ(t.table_version, -1);
    }
    if (t.name == "per_kind") {
      EXPECT_GT(t.end_to_end_latency_seconds.count, 0);
    }
  }
}

}  // namespace
}  // namespace lakepipe::runtime
