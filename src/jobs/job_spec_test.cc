// jobs.yaml: what loads, and every refusal naming the file, line and what is wrong.
#include "jobs/job_spec.h"

#include <gtest/gtest.h>

namespace lakepipe::jobs {
namespace {

void ExpectError(const std::string& yaml, const std::string& needle) {
  auto f = JobsFile::Parse("jobs.yaml", yaml);
  ASSERT_FALSE(f.ok()) << yaml;
  EXPECT_NE(f.status().message().find(needle), std::string::npos) << f.status().message();
}

TEST(JobSpecTest, LoadsTasksInDependencyOrderWithTheirCommandLines) {
  auto f = JobsFile::Parse("dir/jobs.yaml", R"(
storage: ./state
jobs:
  nightly:
    schedule: {cron: "0 2 * * *", timezone: Europe/Paris}
    parameters: {rows: "100"}
    max_parallel: 3
    tasks:
      - name: update
        kind: pipeline_update
        pipeline: ../orders
        depends_on: [gen]
        full_refresh: true
        tables: [gold_kpis, silver_orders]
        set: {landing: "{{jobs_dir}}/landing"}
        retries: 2
        retry_backoff: 30s
        timeout: 1h
      - name: gen
        kind: generate
        dataset: orders
        out: "landing/orders-{{run_id}}.csv"
        options: {rows: "{{rows}}", seed: "7"}
      - {name: vacuum, kind: table_vacuum, table: storage/gold_kpis, retain_hours: 0, force: true, depends_on: update}
      - {name: script, kind: command, argv: [sh, -c, "echo {{date}}"], env: {A: "{{job}}"}}
)");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->folder, "dir");
  EXPECT_EQ(f->StoragePath(), "dir/./state");
  const JobSpec& job = f->jobs.at(0);
  EXPECT_EQ(job.max_parallel, 3);
  ASSERT_EQ(job.tasks.size(), 4u);
  EXPECT_EQ(job.tasks[0].name, "gen");  // before update, which depends on it
  EXPECT_EQ(job.tasks[1].name, "update");
  EXPECT_EQ(job.tasks[1].retries, 2);
  EXPECT_EQ(job.tasks[1].retry_backoff_ms, 30'000);
  EXPECT_EQ(job.tasks[1].timeout_ms, 3'600'000);
  std::map<std::string, std::string> p = {{"rows", "100"}, {"run_id", "R1"}, {"jobs_dir", "/j"}};
  auto gen = TaskArgv(job.tasks[0], "/bin/lakepipe", p);
  ASSERT_TRUE(gen.ok()) << gen.status().message();
  EXPECT_EQ(*gen, (std::vector<std::string>{"/bin/lakepipe", "generate", "orders", "--out", "landing/orders-R1.csv",
                                            "--rows", "100", "--seed", "7"}));
  auto update = TaskArgv(job.tasks[1], "/bin/lakepipe", p);
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(*update, (std::vector<std::string>{"/bin/lakepipe", "run", "../orders", "--once", "--no-server",
                                               "--full-refresh", "gold_kpis,silver_orders", "--set",
                                               "landing=/j/landing"}));
  auto vacuum = TaskArgv(job.tasks[2], "lp", p);
  ASSERT_TRUE(vacuum.ok());
  EXPECT_EQ(*vacuum, (std::vector<std::string>{"lp", "table", "vacuum", "storage/gold_kpis", "--retain", "0", "--force"}));
}

TEST(JobSpecTest, RefusesCyclesUnknownTasksAndKeysWithTheLine) {
  ExpectError(R"(
jobs:
  j:
    tasks:
      - {name: a, kind: command, argv: ["true"], depends_on: [c]}
      - {name: b, kind: command, argv: ["true"], depends_on: [a]}
      - {name: c, kind: command, argv: ["true"], depends_on: [b]}
)",
              "jobs.yaml:5:9: job j: the tasks' dependencies form a cycle: a -> c -> b -> a");
  ExpectError(R"(
jobs:
  j:
    tasks:
      - name: a
        kind: command
        argv: ["true"]
        depends_on: [a_typo]
)",
              "jobs.yaml:8:22: job j: task `a` depends on unknown task `a_typo` (tasks: a)");
  ExpectError("jobs:\n  j:\n    tasks:\n      - {name: a, kind: command, argv: [x], depends_on: a}\n",
              "depends on itself");
  ExpectError("jobs:\n  j:\n    tasks:\n      - {name: a, kind: command, argv: [x], retrys: 2}\n",
              "jobs.yaml:4:45: unknown key `retrys` in job j task a; known keys of a command task:");
  ExpectError("jobs:\n  j:\n    tasks:\n      - {name: a, kind: generate, dataset: orders, out: x, argv: [y]}\n",
              "unknown key `argv`");
  ExpectError("jobs:\n  j:\n    tasks:\n      - {name: a, kind: spark_submit}\n", "unknown kind `spark_submit`");
  ExpectError("jobs:\n  j:\n    tasks:\n      - {name: a, kind: command, argv: [x]}\n      - {name: a, kind: command, argv: [y]}\n",
              "task `a` is declared twice");
  ExpectError("jobs:\n  j:\n    schedule: {cron: \"0 25 * * *\"}\n    tasks: [{name: a, kind: command, argv: [x]}]\n",
              "jobs.yaml:3:22: cron '0 25 * * *': cron hour field");
  ExpectError("jobs:\n  j:\n    schedule: {cron: \"0 2 * * *\", timezone: Mars/Olympus}\n    tasks: [{name: a, kind: command, argv: [x]}]\n",
              "unknown time zone 'Mars/Olympus'");
  ExpectError("jobs:\n  j:\n    tasks: [{name: a, kind: command, argv: [\"{{nope}}\"]}]\n",
              "unknown parameter {{nope}}");
  ExpectError("jobs:\n  j:\n    tasks: [{name: a, kind: command, argv: sh -c true}]\n", "argv must be a list");
  ExpectError("jobs:\n  j:\n    parameters: {run_id: x}\n    tasks: [{name: a, kind: command, argv: [x]}]\n",
              "is built in");
}

TEST(JobSpecTest, TablesWithoutFullRefreshAreARefreshSelection) {
  auto f = JobsFile::Parse("jobs.yaml",
                           "jobs:\n  j:\n    tasks: [{name: u, kind: pipeline_update, pipeline: p, "
                           "tables: [silver_orders, gold_kpis]}]\n");
  ASSERT_TRUE(f.ok()) << f.status().message();
  auto argv = TaskArgv(f->jobs.at(0).tasks[0], "lp", {{"run_id", "R1"}});
  ASSERT_TRUE(argv.ok()) << argv.status().message();
  EXPECT_EQ(*argv, (std::vector<std::string>{"lp", "run", "p", "--once", "--no-server", "--refresh",
                                             "silver_orders,gold_kpis"}));
}

// Task logs are deleted by the job server this long after their run's last write.
TEST(JobSpecTest, LogRetentionIsADurationOfAtLeastAnHour) {
  const char* jobs = "jobs:\n  j:\n    tasks: [{name: a, kind: command, argv: [x]}]\n";
  auto defaulted = JobsFile::Parse("jobs.yaml", jobs);
  ASSERT_TRUE(defaulted.ok()) << defaulted.status().ToString();
  EXPECT_EQ(defaulted->log_retention_micros, 30LL * 86400 * 1000000);
  auto week = JobsFile::Parse("jobs.yaml", std::string("log_retention: 7d\n") + jobs);
  ASSERT_TRUE(week.ok()) << week.status().ToString();
  EXPECT_EQ(week->log_retention_micros, 7LL * 86400 * 1000000);
  auto spelled = JobsFile::Parse("jobs.yaml", std::string("log_retention: '2 hours'\n") + jobs);
  ASSERT_TRUE(spelled.ok()) << spelled.status().ToString();
  EXPECT_EQ(spelled->log_retention_micros, 2LL * 3600 * 1000000);
  ExpectError(std::string("log_retention: 10m\n") + jobs, "jobs.yaml:1:16: log_retention must be at least an hour");
  ExpectError(std::string("log_retention: soon\n") + jobs, "jobs.yaml:1:16: log_retention: 'soon' is not a duration");
}

TEST(JobSpecTest, OptionsNotBuiltSaySo) {
  ExpectError("jobs:\n  j:\n    tasks: [{name: u, kind: command, argv: [x], run_if: all_done}]\n",
              "run_if `all_done` is not built yet");
}

}  // namespace
}  // namespace lakepipe::jobs
