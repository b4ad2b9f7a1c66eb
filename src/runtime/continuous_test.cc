// The continuous scheduler when the event log cannot be written: the tables keep
// advancing, the failure is reported on the status board, the write is retried, and once
// it succeeds every event is in the log exactly once, with a record of the outage.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "delta/table.h"
#include "runtime/pipeline_runner.h"
#include "runtime/status_board.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

// Fails every file creation under an `_event_log` folder with ENOSPC while `failing` is
// set, as a full disk would (the tables, elsewhere, are written normally).
class EventLogFaultFs : public FaultInjectingFileSystem {
 public:
  EventLogFaultFs() : FaultInjectingFileSystem(FileSystem::Default()) {}
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, CreateMode mode) override {
    if (failing.load() && path.find("/_event_log/") != std::string::npos) {
      ++refused;
      return Status::FromErrno(ENOSPC, "create " + path);
    }
    return FaultInjectingFileSystem::NewWritableFile(path, mode);
  }
  std::atomic<bool> failing{false};
  std::atomic<int> refused{0};
};

int64_t Count(PipelineRunner& runner, const std::string& sql) {
  auto r = runner.Query(sql);
  if (!r.ok() || r->batches.empty() || r->batches[0].num_rows() == 0) return -1;
  Value v = r->batches[0].column(0).GetValue(0);
  return v.ToString() == "NULL" ? -1 : std::stoll(v.ToString());
}

bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 400; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST(ContinuousTest, AnUnwritableEventLogIsRetriedWhileThePipelineRuns) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  std::string landing = dir.Join("landing");
  ASSERT_TRUE(fs->CreateDirs(landing).ok());
  ASSERT_TRUE(fs->CreateDirs(dir.Join("p")).ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/pipeline.yaml"), "name: t\nstorage: " + dir.Join("storage") +
                                                             "\nconfiguration: {landing: " + landing + "}\n")
                  .ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/p.sql"),
                            "CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${landing}', "
                            "format => 'csv', header => true, schema => 'id INT, kind STRING');\n")
                  .ok());
  EventLogFaultFs faulty;
  faulty.failing.store(true);  // from the very first event (update_start)
  auto opened = PipelineRunner::Open(dir.Join("p"), {}, &faulty);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<PipelineRunner> runner = std::move(opened).value();
  StatusBoard board;
  RunOptions options;
  options.board = &board;
  Status result;
  std::atomic<bool> returned{false};
  std::thread run([&] {
    result = runner->RunContinuous(options);
    returned.store(true);
  });

  ASSERT_TRUE(fs->WriteFileAtomic(JoinPath(landing, "a.csv"), "id,kind\n1,x\n").ok());
  EXPECT_TRUE(WaitFor([&] { return Count(*runner, "SELECT count(*) FROM raw") == 1; }));
  EXPECT_TRUE(WaitFor([&] { return !board.Snapshot().event_log_error.empty(); }));
  EXPECT_NE(board.Snapshot().event_log_error.find("No space left on device"), std::string::npos)
      << board.Snapshot().event_log_error;
  // Still failing: the pipeline goes on with the next file.
  ASSERT_TRUE(fs->WriteFileAtomic(JoinPath(landing, "b.csv"), "id,kind\n2,y\n3,z\n").ok());
  EXPECT_TRUE(WaitFor([&] { return Count(*runner, "SELECT count(*) FROM raw") == 3; }));
  EXPECT_TRUE(WaitFor([&] { return faulty.refused.load() >= 2; }));  // retried
  EXPECT_FALSE(returned.load()) << result.ToString();
  EXPECT_FALSE(fs->Exists(dir.Join("storage/_event_log/_delta_log")));

  // The disk has room again: the retry writes everything that waited.
  faulty.failing.store(false);
  EXPECT_TRUE(WaitFor([&] { return board.Snapshot().event_log_error.empty(); }));
  runner->RequestStop();
  run.join();
  EXPECT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM _event_log WHERE event_type = 'update_start'"), 1);
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM _event_log WHERE event_type = 'event_log_recovered' AND level = 'WARN'"), 1);
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM _event_log WHERE event_type = 'update_complete'"), 1);
  // Both batches of raw are recorded, once each.
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM _event_log WHERE event_type = 'flow_progress' AND table_name = 'raw' AND message LIKE 'updated:%'"),
            2);
}


// commitInfo.timestamp of every version of a table, oldest first.
std::vector<int64_t> CommitTimes(const std::string& table_path) {
  std::vector<int64_t> out;
  auto table = delta::DeltaTable::Open(table_path);
  if (!table.ok()) return out;
  auto history = (*table)->History();
  if (!history.ok()) return out;
  for (auto it = history->rbegin(); it != history->rend(); ++it) {
    out.push_back(nlohmann::json::parse(it->commit_info)["timestamp"].get<int64_t>());
  }
  return out;
}

// A materialized view over a busy table commits at most once per interval (1 s by default,
// pipelines.trigger.interval otherwise); the input of the upstream commits in between is
// coalesced into the next update, which records the upstream version it read.
TEST(ContinuousTest, MaterializedViewsCommitAtMostOncePerTriggerInterval) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  std::string landing = dir.Join("landing");
  ASSERT_TRUE(fs->CreateDirs(landing).ok());
  ASSERT_TRUE(fs->CreateDirs(dir.Join("p")).ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/pipeline.yaml"), "name: t\nstorage: " + dir.Join("storage") +
                                                             "\nconfiguration: {landing: " + landing + "}\n")
                  .ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/p.sql"),
                            "CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${landing}', "
                            "format => 'csv', header => true, schema => 'id INT, kind STRING');\n"
                            "CREATE OR REFRESH MATERIALIZED VIEW per_kind AS SELECT kind, count(*) AS n, sum(id) AS s "
                            "FROM raw GROUP BY kind;\n"
                            "CREATE OR REFRESH MATERIALIZED VIEW slow TBLPROPERTIES ('pipelines.trigger.interval' = "
                            "'2 seconds') AS SELECT count(*) AS n FROM raw;\n"
                            "CREATE OR REFRESH MATERIALIZED VIEW eager TBLPROPERTIES ('pipelines.trigger.interval' = "
                            "'0 seconds') AS SELECT count(*) AS n FROM raw;\n")
                  .ok());
  auto opened = PipelineRunner::Open(dir.Join("p"), {});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<PipelineRunner> runner = std::move(opened).value();
  Status result;
  std::thread run([&] { result = runner->RunContinuous({}); });

  // 24 files, one every 100 ms: Bronze commits many small batches.
  const int kFiles = 24;
  int64_t sum = 0;
  for (int f = 0; f < kFiles; ++f) {
    std::string body = "id,kind\n";
    for (int i = 0; i < 3; ++i) {
      int id = f * 3 + i;
      sum += id;
      body += std::to_string(id) + "," + (id % 2 ? "odd" : "even") + "\n";
    }
    ASSERT_TRUE(fs->WriteFileAtomic(JoinPath(landing, "f" + std::to_string(100 + f) + ".csv"), body).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(WaitFor([&] { return Count(*runner, "SELECT sum(n) FROM per_kind") == kFiles * 3; }));
  EXPECT_TRUE(WaitFor([&] { return Count(*runner, "SELECT n FROM slow") == kFiles * 3; }));
  EXPECT_TRUE(WaitFor([&] { return Count(*runner, "SELECT n FROM eager") == kFiles * 3; }));
  runner->RequestStop();
  run.join();
  EXPECT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(Count(*runner, "SELECT sum(s) FROM per_kind"), sum);

  auto raw_times = CommitTimes(runner->TablePath("raw"));
  for (const auto& [view, interval_ms] : {std::pair<std::string, int64_t>{"per_kind", 1000}, {"slow", 2000}}) {
    auto times = CommitTimes(runner->TablePath(view));
    ASSERT_GE(times.size(), 2u) << view;
    for (size_t v = 1; v < times.size(); ++v) {
      EXPECT_GE(times[v] - times[v - 1], interval_ms) << view << " versions " << v - 1 << " and " << v;
    }
    // Upstream commits were coalesced: fewer view versions than Bronze versions.
    EXPECT_LT(times.size(), raw_times.size()) << view;
    // Exactly once: the last version records the upstream version it covers.
    auto table = delta::DeltaTable::Open(runner->TablePath(view));
    ASSERT_TRUE(table.ok());
    auto snap = (*table)->Latest();
    ASSERT_TRUE(snap.ok());
    int64_t covered = -1;
    for (const auto& [app, txn] : (*snap)->txns()) covered = std::max(covered, txn.version);
    EXPECT_EQ(covered, static_cast<int64_t>(raw_times.size()) - 1) << view;
  }
  // With '0 seconds' the view follows every Bronze commit it sees: more versions than the
  // default view.
  EXPECT_GT(CommitTimes(runner->TablePath("eager")).size(), CommitTimes(runner->TablePath("per_kind")).size());
}

}  // namespace
}  // namespace lakepipe::runtime
