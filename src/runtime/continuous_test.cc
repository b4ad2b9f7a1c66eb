// The continuous scheduler when the event log cannot be written: the tables keep
// advancing, the failure is reported on the status board, the write is retried, and once
// it succeeds every event is in the log exactly once, with a record of the outage.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

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

}  // namespace
}  // namespace lakepipe::runtime
