// `lakepipe job`: the orders job of examples/orders/jobs.yaml end to end (generate ->
// pipeline update -> optimize -> vacuum, each task the lakepipe binary), its history as
// text, JSON and a Delta table; a failing job exits 1 and says how to resume; a bad jobs
// file is refused with its line.
#include <signal.h>

#include <algorithm>
#include <fstream>

#include "cli/cli_test_util.h"

namespace lakepipe {
namespace {

using Json = nlohmann::json;

TEST(JobCommandTest, OrdersJobRunsItsTasksAndRecordsThem) {
  testing::TempDir dir;
  std::string jobs = testing::SourceDir() + "/examples/orders/jobs.yaml";
  std::string lake = dir.Join("lake");
  std::string common = " --storage " + Quote(dir.Join("jobs"));
  std::string out = Lakepipe("job run " + Quote(jobs) + " daily" + common + " --param landing=" +
                             Quote(dir.Join("landing")) + " --param lake=" + Quote(lake) + " --param rows=3000");
  EXPECT_NE(out.find("update_pipeline: succeeded"), std::string::npos) << out;
  EXPECT_NE(out.find("succeeded\n"), std::string::npos) << out;

  // The pipeline update read what the generate task wrote.
  std::string count = Lakepipe("query " + Quote(testing::SourceDir() + "/examples/orders") + " --set storage=" +
                               Quote(lake) + " --format jsonl \"SELECT COUNT(*) AS n FROM bronze_orders\"");
  ASSERT_EQ(JsonLines(count).size(), 1u) << count;
  EXPECT_EQ(JsonLines(count)[0]["n"], 3000) << count;

  Json history = Json::parse(Lakepipe("job history " + Quote(jobs) + common + " --json"));
  ASSERT_EQ(history.size(), 1u) << history.dump();
  const Json& run = history[0];
  EXPECT_EQ(run["job"], "daily");
  EXPECT_EQ(run["state"], "succeeded");
  EXPECT_EQ(run["trigger"], "manual");
  EXPECT_EQ(run["parameters"]["rows"], "3000");
  std::vector<std::string> tasks;
  for (const auto& t : run["tasks"]) {
    EXPECT_EQ(t["state"], "succeeded") << t.dump();
    EXPECT_EQ(t["attempt"], 1);
    tasks.push_back(t["task"]);
  }
  EXPECT_EQ(tasks, (std::vector<std::string>{"generate_orders", "update_pipeline", "optimize_silver", "vacuum_bronze"}));
  // The history is a Delta table: 4 task rows and the run's row.
  std::string rows = Lakepipe("table show " + Quote(dir.Join("jobs/_job_runs")) + " --format jsonl");
  EXPECT_EQ(JsonLines(rows).size(), 5u) << rows;
  std::string text = Lakepipe("job history " + Quote(jobs) + common);
  EXPECT_NE(text.find("4 succeeded"), std::string::npos) << text;
  std::string audit = Lakepipe("table show " + Quote(dir.Join("jobs/_audit")) + " --format jsonl");
  size_t allowed = 0;
  for (const Json& rec : JsonLines(audit)) allowed += rec["action"] == "job_run" && rec["outcome"] == "allowed";
  EXPECT_EQ(allowed, 1u) << audit;
}

// A pipeline_update task with `tables:` (no full_refresh) updates only those tables
// (`run --once --refresh`): Bronze and Silver are written, Gold is not.
TEST(JobCommandTest, PipelineUpdateWithTablesUpdatesOnlyThem) {
  testing::TempDir dir;
  std::string jobs = dir.Join("jobs.yaml");
  std::ofstream(jobs) << "jobs:\n  j:\n    tasks:\n"
                         "      - {name: gen, kind: generate, dataset: orders, out: landing/o.csv, options: {rows: '2000'}}\n"
                         "      - name: silver\n        kind: pipeline_update\n        pipeline: " +
                             testing::SourceDir() + "/examples/orders\n        depends_on: [gen]\n"
                             "        tables: [bronze_orders, silver_orders]\n"
                             "        set: {landing: '{{jobs_dir}}/landing', storage: '{{jobs_dir}}/lake'}\n";
  std::string out = Lakepipe("job run " + Quote(jobs) + " j");
  EXPECT_NE(out.find("silver: succeeded"), std::string::npos) << out;
  std::string count = Lakepipe("query " + Quote(testing::SourceDir() + "/examples/orders") + " --set storage=" +
                               Quote(dir.Join("lake")) + " --format jsonl \"SELECT COUNT(*) AS n FROM bronze_orders\"");
  ASSERT_EQ(JsonLines(count).size(), 1u) << count;
  EXPECT_EQ(JsonLines(count)[0]["n"], 2000) << count;
  EXPECT_TRUE(FileSystem::Default()->Exists(dir.Join("lake/silver_orders/_delta_log")));
  EXPECT_FALSE(FileSystem::Default()->Exists(dir.Join("lake/gold_kpis")));  // not selected: not created
}

TEST(JobCommandTest, FailingJobExitsOneAndBadFilesNameTheLine) {
  testing::TempDir dir;
  std::string path = dir.Join("jobs.yaml");
  std::ofstream(path) << "jobs:\n  j:\n    tasks:\n      - {name: a, kind: command, argv: [sh, -c, \"echo broken >&2; exit 4\"]}\n";
  auto r = testing::RunCommand(Binary() + " job run " + Quote(path) + " j");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("failed: task a: exit status 4: broken"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("to resume it"), std::string::npos) << r.status().message();
  EXPECT_NE(Lakepipe("job history " + Quote(path)).find("failed"), std::string::npos);
  // The command line's runs are in the jobs storage's audit table, as the server's are:
  // the start, then the failure with the run's state and error, as the local user.
  std::string audit = Lakepipe("table show " + Quote(dir.Join(".lakepipe-jobs/_audit")) + " --format jsonl");
  std::vector<Json> records = JsonLines(audit);
  ASSERT_EQ(records.size(), 2u) << audit;
  std::sort(records.begin(), records.end(),
            [](const Json& x, const Json& y) { return x["timestamp"].get<std::string>() < y["timestamp"].get<std::string>(); });
  for (const Json& rec : records) {
    EXPECT_EQ(rec["action"], "job_run") << rec.dump();
    EXPECT_EQ(rec["target"], "j") << rec.dump();
    EXPECT_EQ(rec["role"], "os") << rec.dump();
    EXPECT_FALSE(rec.contains("pipeline")) << rec.dump();  // null: not a pipeline's action
  }
  EXPECT_EQ(records[0]["outcome"], "started");
  EXPECT_EQ(records[1]["outcome"], "failed");
  EXPECT_EQ(records[1]["status"], 1);
  EXPECT_NE(records[1]["detail"].get<std::string>().find("failed: task a: exit status 4"), std::string::npos)
      << records[1].dump();

  std::ofstream(path) << "jobs:\n  j:\n    tasks:\n      - {name: a, kind: command, argv: [x], depends_on: [b]}\n";
  std::string err = LakepipeFails("job check " + Quote(path));
  ExpectOneErrorLine(err, path + ":4:");
  EXPECT_NE(err.find("unknown task `b`"), std::string::npos) << err;
}

// Ctrl-C stops the run: the running task's processes are killed, the run is recorded
// `cancelled`, and the next `job run` resumes it without redoing what succeeded.
TEST(JobCommandTest, InterruptedRunIsCancelledThenResumed) {
  testing::TempDir dir;
  std::string path = dir.Join("jobs.yaml");
  std::ofstream(path) << "jobs:\n  j:\n    tasks:\n"
                         "      - {name: first, kind: command, argv: [sh, -c, \"echo x >> first.out\"]}\n"
                         "      - {name: slow, kind: command, depends_on: [first], argv: [sh, -c, "
                         "\"test -f go && exit 0; sleep 300 & echo $! > sleep.pid; wait\"]}\n";
  LakepipeProcess run({"job", "run", path, "j"});
  std::string out = run.ReadUntil("slow: started");
  ASSERT_NE(out.find("slow: started"), std::string::npos) << out;
  // The shell writes sleep.pid after the task started: wait for its content (generously:
  // under load a fork can take seconds), then cancel.
  pid_t sleeper = 0;
  for (int i = 0; i < 1000 && sleeper <= 0; ++i) {
    std::ifstream pid_file(dir.Join("sleep.pid"));
    if (!(pid_file >> sleeper)) sleeper = 0;
    if (sleeper <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(run.StopWith(SIGINT), 1);
  ASSERT_GT(sleeper, 0);
  bool gone = false;
  for (int i = 0; i < 1000 && !gone; ++i) {
    gone = ::kill(sleeper, 0) != 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "the task's child " << sleeper << " outlived the cancelled run";
  Json history = Json::parse(Lakepipe("job history " + Quote(path) + " --json"));
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0]["state"], "cancelled");
  ASSERT_EQ(history[0]["tasks"].size(), 2u);
  EXPECT_EQ(history[0]["tasks"][1]["state"], "cancelled");

  std::ofstream(dir.Join("go")) << "";
  std::string resumed = Lakepipe("job run " + Quote(path) + " j");
  EXPECT_NE(resumed.find("(resumed)"), std::string::npos) << resumed;
  EXPECT_NE(resumed.find("first: succeeded in an earlier attempt"), std::string::npos) << resumed;
  std::ifstream first(dir.Join("first.out"));
  std::string line;
  int lines = 0;
  while (std::getline(first, line)) ++lines;
  EXPECT_EQ(lines, 1);
  history = Json::parse(Lakepipe("job history " + Quote(path) + " --json"));
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0]["state"], "succeeded");
  EXPECT_EQ(history[0]["tasks"].back()["attempt"], 2);
}

}  // namespace
}  // namespace lakepipe
