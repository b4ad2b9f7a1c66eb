// The job runner with `command` tasks (sh): a failing task with retries exhausted stops
// its dependants and not the others, and the next run resumes from it; a timeout kills
// the task's processes; a job does not overlap itself; every attempt is a history row.
#include "jobs/job_runner.h"

#include <signal.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "jobs/run_history.h"
#include "testing/testing.h"

namespace lakepipe::jobs {
namespace {

JobsFile Load(const testing::TempDir& dir, const std::string& yaml) {
  std::string path = dir.Join("jobs.yaml");
  std::ofstream(path) << yaml;
  auto f = JobsFile::Load(path);
  EXPECT_TRUE(f.ok()) << f.status().message();
  return f.ok() ? *f : JobsFile{};
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<RunRecord> Rows(const JobsFile& f, const std::string& task) {
  auto rows = RunHistory(f.StoragePath()).ReadAll();
  EXPECT_TRUE(rows.ok()) << rows.status().message();
  std::vector<RunRecord> out;
  for (const auto& r : *rows) {
    if (r.task == task) out.push_back(r);
  }
  return out;
}

TEST(JobRunnerTest, FailedTaskStopsDependantsThenRerunResumesFromIt) {
  testing::TempDir dir;
  JobsFile f = Load(dir, R"(
storage: state
jobs:
  daily:
    parameters: {greeting: hello}
    tasks:
      - {name: extract, kind: command, argv: [sh, -c, "echo {{greeting}} >> extract.out"]}
      - name: transform
        kind: command
        depends_on: [extract]
        argv: [sh, -c, "echo try >> transform.out; test -f fixed || { echo 'input not ready' >&2; exit 3; }"]
        retries: 2
        retry_backoff: 50ms
      - {name: load, kind: command, depends_on: [transform], argv: [sh, -c, "echo {{run_id}} > load.out"]}
      - {name: audit, kind: command, depends_on: [extract], argv: [sh, -c, "echo ok >> audit.out"]}
)");
  JobRunner runner(f);
  RunOptions o;
  o.job = "daily";
  auto first = runner.Run(o);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->state, kStateFailed);
  EXPECT_FALSE(first->resumed);
  EXPECT_EQ(first->tasks["extract"].state, kStateSucceeded);
  EXPECT_EQ(first->tasks["transform"].state, kStateFailed);
  EXPECT_EQ(first->tasks["transform"].attempts, 3);  // 1 + 2 retries
  EXPECT_NE(first->tasks["transform"].error.find("exit status 3: input not ready"), std::string::npos)
      << first->tasks["transform"].error;
  EXPECT_EQ(first->tasks["load"].state, kStateUpstreamFailed);
  EXPECT_EQ(first->tasks["audit"].state, kStateSucceeded);  // independent of the failure
  EXPECT_FALSE(Exists(dir.Join("load.out")));

  // History: three failed attempts numbered 1..3, load not run, the run failed.
  auto transform = Rows(f, "transform");
  ASSERT_EQ(transform.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(transform[i].attempt, i + 1);
    EXPECT_EQ(transform[i].state, kStateFailed);
    EXPECT_EQ(transform[i].run_id, first->run_id);
    EXPECT_EQ(transform[i].job, "daily");
    EXPECT_LE(transform[i].start_micros, transform[i].end_micros);
    EXPECT_NE(transform[i].parameters.find("\"greeting\":\"hello\""), std::string::npos) << transform[i].parameters;
    EXPECT_TRUE(Exists(transform[i].log)) << transform[i].log;
  }
  auto load = Rows(f, "load");
  ASSERT_EQ(load.size(), 1u);
  EXPECT_EQ(load[0].state, kStateUpstreamFailed);
  EXPECT_EQ(load[0].attempt, 0);
  auto runs = Rows(f, "");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].state, kStateFailed);
  EXPECT_NE(runs[0].error.find("task transform"), std::string::npos);

  // A different parameter does not silently resume with other values.
  RunOptions other = o;
  other.params["greeting"] = "bonjour";
  EXPECT_FALSE(runner.Run(other).ok());

  // Fixed; the rerun resumes the same run from the failed task.
  std::ofstream(dir.Join("fixed")) << "";
  auto second = runner.Run(o);
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(second->state, kStateSucceeded) << second->error;
  EXPECT_TRUE(second->resumed);
  EXPECT_EQ(second->run_id, first->run_id);
  EXPECT_EQ(second->tasks["extract"].attempts, 0);  // done earlier, not run again
  EXPECT_EQ(second->tasks["audit"].attempts, 0);
  transform = Rows(f, "transform");
  ASSERT_EQ(transform.size(), 4u);
  EXPECT_EQ(transform[3].attempt, 4);
  EXPECT_EQ(transform[3].state, kStateSucceeded);
  EXPECT_EQ(transform[3].trigger, "resume");
  EXPECT_EQ(Rows(f, "extract").size(), 1u);
  std::ifstream extract(dir.Join("extract.out"));
  std::string line;
  int lines = 0;
  while (std::getline(extract, line)) ++lines;
  EXPECT_EQ(lines, 1);
  std::ifstream load_out(dir.Join("load.out"));
  std::getline(load_out, line);
  EXPECT_EQ(line, first->run_id);
  runs = Rows(f, "");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[1].state, kStateSucceeded);

  // Succeeded: the next run is a new one, and a --resume of the old one is refused.
  auto third = runner.Run(o);
  ASSERT_TRUE(third.ok());
  EXPECT_NE(third->run_id, first->run_id);
  EXPECT_FALSE(third->resumed);
  RunOptions resume = o;
  resume.resume_run_id = first->run_id;
  auto refused = runner.Run(resume);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("nothing to resume"), std::string::npos);
}

TEST(JobRunnerTest, TimeoutKillsTheCommandAndItsChildren) {
  testing::TempDir dir;
  JobsFile f = Load(dir, R"(
jobs:
  slow:
    tasks:
      - name: sleeper
        kind: command
        argv: [sh, -c, "sleep 30 & echo $! > child.pid; wait"]
        timeout: 300ms
)");
  JobRunner runner(f);
  RunOptions o;
  o.job = "slow";
  o.kill_grace_ms = 2000;
  auto start = std::chrono::steady_clock::now();
  auto r = runner.Run(o);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->state, kStateFailed);
  EXPECT_EQ(r->tasks["sleeper"].state, kStateTimedOut);
  EXPECT_NE(r->tasks["sleeper"].error.find("timed out after 0.3 s"), std::string::npos) << r->tasks["sleeper"].error;
  EXPECT_LT(took, std::chrono::seconds(10));
  // The grandchild (sleep 30) went with the task's process group.
  std::ifstream pid_file(dir.Join("child.pid"));
  pid_t child = 0;
  pid_file >> child;
  ASSERT_GT(child, 0);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ::kill(child, 0) != 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "pid " << child << " still alive";
  auto rows = Rows(f, "sleeper");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, kStateTimedOut);
}

TEST(JobRunnerTest, AJobDoesNotOverlapItself) {
  testing::TempDir dir;
  JobsFile f = Load(dir, R"(
jobs:
  long:
    tasks:
      - {name: hold, kind: command, argv: [sh, -c, "touch started; while [ ! -f release ]; do sleep 0.02; done"]}
  other:
    tasks:
      - {name: quick, kind: command, argv: ["true"]}
)");
  JobRunner runner(f);
  RunOptions o;
  o.job = "long";
  Result<RunResult> first = Status::Internal("not run");
  std::thread t([&] { first = runner.Run(o); });
  for (int i = 0; i < 500 && !Exists(dir.Join("started")); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(Exists(dir.Join("started")));
  auto second = runner.Run(o);
  // Another job runs meanwhile: the lock is per job.
  RunOptions other;
  other.job = "other";
  auto third = runner.Run(other);
  std::ofstream(dir.Join("release")) << "";
  t.join();
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(second->state, kStateSkipped);
  EXPECT_NE(second->error.find("already running"), std::string::npos) << second->error;
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->state, kStateSucceeded);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->state, kStateSucceeded);
  auto runs = Rows(f, "");
  int skipped = 0, succeeded = 0;
  for (const auto& r : runs) {
    if (r.job == "long" && r.state == kStateSkipped) ++skipped;
    if (r.job == "long" && r.state == kStateSucceeded) ++succeeded;
  }
  EXPECT_EQ(skipped, 1);
  EXPECT_EQ(succeeded, 1);
  EXPECT_EQ(Rows(f, "hold").size(), 1u);
}

TEST(JobRunnerTest, IndependentTasksRunInParallelUpToTheLimit) {
  testing::TempDir dir;
  // Each task waits until the other has started: only possible if both run at once.
  JobsFile f = Load(dir, R"(
jobs:
  fan:
    max_parallel: 2
    tasks:
      - {name: left, kind: command, timeout: 10s, argv: [sh, -c, "touch left; while [ ! -f right ]; do sleep 0.02; done"]}
      - {name: right, kind: command, timeout: 10s, argv: [sh, -c, "touch right; while [ ! -f left ]; do sleep 0.02; done"]}
      - {name: join, kind: command, depends_on: [left, right], argv: [sh, -c, "test -f left && test -f right"]}
)");
  RunOptions o;
  o.job = "fan";
  auto r = JobRunner(f).Run(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->state, kStateSucceeded) << r->error;
}

}  // namespace
}  // namespace lakepipe::jobs
