// Runs the built `lakepipe` binary on the orders example: validate, graph, run --once,
// query, and their error lines.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include "cli/cli_test_util.h"
#include "common/fs.h"
#include "testing/testing.h"

namespace lakepipe {
namespace {

class RunCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(FileSystem::Default()->CreateDirs(dir_.Join("landing")).ok());
    Lakepipe("generate orders --rows 3000 --seed 4 --out " + dir_.Join("landing/orders-1.csv"));
    sets_ = " --set landing=" + dir_.Join("landing") + " --set storage=" + dir_.Join("storage");
  }
  std::string Example() const { return testing::SourceDir() + "/examples/orders"; }

  testing::TempDir dir_;
  std::string sets_;
};

TEST_F(RunCommandTest, ValidateAndGraph) {
  std::string out = Lakepipe("validate " + Example() + sets_);
  EXPECT_NE(out.find("pipeline orders: 6 tables, OK"), std::string::npos) << out;
  // Its dashboard (examples/orders/dashboard.yaml) is planned too.
  EXPECT_NE(out.find("dashboard Orders: 8 charts\n"), std::string::npos) << out;
  out = Lakepipe("validate -v " + Example() + sets_);
  EXPECT_NE(out.find("chart revenue-by-country (bar) reads gold_revenue_by_country: Country string, total_revenue double"),
            std::string::npos) << out;
  out = Lakepipe("graph " + Example() + sets_);
  EXPECT_NE(out.find("silver_orders (streaming table) <- STREAM bronze_orders"), std::string::npos) << out;
  out = Lakepipe("graph " + Example() + " --format dot");
  EXPECT_EQ(out.rfind("digraph", 0), 0u) << out;
  EXPECT_NE(out.find("silver_orders"), std::string::npos);
  EXPECT_NE(out.find("->"), std::string::npos);
}

TEST_F(RunCommandTest, RunOnceThenQueryInEveryFormat) {
  std::string out = Lakepipe("run " + Example() + " --once" + sets_);
  EXPECT_NE(out.find("bronze_orders (streaming table): updated, 3,000 rows written"), std::string::npos) << out;
  EXPECT_NE(out.find("update completed"), std::string::npos) << out;
  out = Lakepipe("run " + Example() + " --once" + sets_);
  EXPECT_NE(out.find("bronze_orders (streaming table): up to date"), std::string::npos) << out;

  std::string q = Quote("SELECT count(*) AS n FROM bronze_orders");
  auto rows = JsonLines(Lakepipe("query " + Example() + sets_ + " --format jsonl " + q));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["n"], 3000);
  EXPECT_EQ(Lakepipe("query " + Example() + sets_ + " --format csv " + q), "n\n3000\n");
  out = Lakepipe("query " + Example() + sets_ + " " + Quote("SELECT Country FROM gold_revenue_by_country"));
  EXPECT_NE(out.find("| United Kingdom"), std::string::npos) << out;
  EXPECT_NE(out.find(" rows"), std::string::npos) << out;
}

TEST_F(RunCommandTest, ErrorsAreOneClearLine) {
  ExpectOneErrorLine(LakepipeFails("run " + dir_.Join("nowhere") + " --once"), "nowhere");
  ExpectOneErrorLine(LakepipeFails("run " + Example() + " --once --full-refresh nope" + sets_), "nope");
  ExpectOneErrorLine(LakepipeFails("query " + Example() + sets_ + " " + Quote("SELECT * FROM gold_kpis")),
                     "run the pipeline first");
  Lakepipe("run " + Example() + " --once" + sets_);
  ExpectOneErrorLine(LakepipeFails("query " + Example() + sets_ + " " + Quote("SELECT nope FROM bronze_orders")),
                     "<query>:1:8");
  ExpectOneErrorLine(LakepipeFails("run " + Example() + " --once --set oops" + sets_), "oops");
  // A configuration value `run` refuses, `validate` refuses too.
  for (const char* command : {"validate ", "run --once "}) {
    ExpectOneErrorLine(LakepipeFails(std::string(command) + Example() + sets_ + " --set pipelines.maxFlowRetryAttempts=x"),
                       "pipelines.maxFlowRetryAttempts is 'x'");
  }
  ExpectOneErrorLine(LakepipeFails("run --once " + Example() + sets_ + " --set lakepipe.shareViewScans=maybe"),
                     "lakepipe.shareViewScans is 'maybe'");
  // So are the runtime's own settings, each refused by validate as the run refuses it.
  for (const char* key : {"lakepipe.batchRows", "lakepipe.flowThreads", "lakepipe.aggregateThreads",
                          "lakepipe.shareViewScans", "lakepipe.seenKeysMemory",
                          "spark.sql.streaming.minBatchesToRetain"}) {
    ExpectOneErrorLine(LakepipeFails("validate " + Example() + sets_ + " --set " + key + "=x"), key);
  }
  // Options of a continuous run are refused with --once, not ignored.
  ExpectOneErrorLine(LakepipeFails("run " + Example() + " --once --port 0" + sets_), "--port applies to a continuous run");
  ExpectOneErrorLine(LakepipeFails("run " + Example() + " --once --summary" + sets_), "--summary applies to a continuous run");
  // A refresh selection names tables of the pipeline, and belongs to one triggered update.
  ExpectOneErrorLine(LakepipeFails("run " + Example() + " --once --refresh gold_kpis,nope" + sets_),
                     "--refresh names `nope`, which is not a table of pipeline");
  ExpectOneErrorLine(LakepipeFails("run " + Example() + " --refresh gold_kpis" + sets_), "add --once");
  ExpectOneErrorLine(LakepipeFails("run " + Example() + " --once --refresh gold_kpis --full-refresh-all" + sets_),
                     "give one");
  std::string out = Lakepipe("run " + Example() + " --once --refresh gold_kpis" + sets_);
  EXPECT_NE(out.find("gold_kpis"), std::string::npos) << out;
  EXPECT_EQ(out.find("bronze_orders"), std::string::npos) << out;  // not updated, not reported
  EXPECT_NE(out.find("update completed in"), std::string::npos) << out;
  EXPECT_NE(out.find("(1 of 6 tables, as selected by --refresh)"), std::string::npos) << out;
}

// A damaged state store (RocksDB's manifest overwritten with garbage) is a Corruption
// error that names the store and the innermost SQL location once, and says how to
// rebuild; the full refresh it names brings the tables back to the same contents.
TEST_F(RunCommandTest, DamagedStateNamesItsFolderAndTheFullRefreshThatRebuildsIt) {
  Lakepipe("run " + Example() + " --once" + sets_);
  std::string before = Lakepipe("query " + Example() + sets_ + " --format csv " +
                                Quote("SELECT count(*) AS n, sum(line_total) AS s FROM silver_orders"));
  std::string state = dir_.Join("storage/_checkpoints/silver_orders/state/distinct-0");
  auto files = FileSystem::Default()->ListDir(state);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  int damaged = 0;
  for (const auto& f : *files) {
    if (f.name.rfind("MANIFEST-", 0) != 0) continue;
    ASSERT_TRUE(FileSystem::Default()->WriteFile(JoinPath(state, f.name), std::string(4096, '\x5a')).ok());
    ++damaged;
  }
  ASSERT_EQ(damaged, 1) << "the seen-key store of silver_orders has no single RocksDB manifest in " << state;
  Lakepipe("generate orders --rows 100 --seed 5 --out " + dir_.Join("landing/orders-2.csv"));
  // The table lines are on stdout: inside the group it goes where stderr goes (the failure
  // message holds both).
  auto failed = testing::RunCommand("{ " + Binary() + " run " + Example() + " --once" + sets_ + " 1>&2; }");
  ASSERT_FALSE(failed.ok()) << "the run over damaged state succeeded";
  std::string out = failed.status().message();
  EXPECT_NE(out.find("silver_orders (streaming table): failed: "), std::string::npos) << out;
  EXPECT_NE(out.find(state), std::string::npos) << out;
  EXPECT_NE(out.find("--full-refresh silver_orders` rebuilds"), std::string::npos) << out;
  // One location (the SELECT DISTINCT's), not one per enclosing query.
  size_t first = out.find("silver.sql:");
  ASSERT_NE(first, std::string::npos) << out;
  EXPECT_EQ(out.find("silver.sql:", first + 1), std::string::npos) << out;

  Lakepipe("run " + Example() + " --once --full-refresh silver_orders" + sets_);
  std::string silver = Quote("SELECT count(*) AS n, sum(line_total) AS s FROM silver_orders");
  std::string after = Lakepipe("query " + Example() + sets_ + " --format csv " + silver);
  EXPECT_NE(after, before);  // the second file's lines are in
  // The same as a pipeline that never lost its state, over the same two files.
  std::string fresh = " --set landing=" + dir_.Join("landing") + " --set storage=" + dir_.Join("fresh");
  Lakepipe("run " + Example() + " --once" + fresh);
  EXPECT_EQ(after, Lakepipe("query " + Example() + fresh + " --format csv " + silver));
}

// `lakepipe run DIR` keeps running: a file renamed into the landing folder reaches Gold
// without another command, and SIGTERM stops it cleanly (exit 0, "stopped").
TEST_F(RunCommandTest, ContinuousRunPicksUpNewFilesAndStopsOnSigterm) {
  std::string log = dir_.Join("run.log");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string cmd = "exec " + Binary() + " run " + Example() + sets_ + " > " + log + " 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  auto count = [&](const std::string& sql) -> int64_t {
    auto r = testing::RunCommand(Binary() + " query " + Example() + sets_ + " --format csv " + Quote(sql) + " 2>/dev/null");
    if (!r.ok()) return -1;
    size_t nl = r->find('\n');
    return nl == std::string::npos ? -1 : std::atoll(r->c_str() + nl + 1);
  };
  auto wait_for = [&](const std::string& sql, int64_t want) {
    for (int i = 0; i < 300; ++i) {
      if (count(sql) == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  EXPECT_TRUE(wait_for("SELECT count(*) FROM bronze_orders", 3000));
  // A second file, written under a hidden name and renamed into place.
  Lakepipe("generate orders --rows 1000 --seed 9 --out " + dir_.Join("landing/.orders-2.tmp"));
  ASSERT_EQ(::rename(dir_.Join("landing/.orders-2.tmp").c_str(), dir_.Join("landing/orders-2.csv").c_str()), 0);
  EXPECT_TRUE(wait_for("SELECT count(*) FROM bronze_orders", 4000));
  // Gold follows Silver: its line count is Silver's row count once both settle.
  bool settled = false;
  for (int i = 0; i < 300 && !settled; ++i) {
    int64_t silver = count("SELECT count(*) FROM silver_orders");
    settled = silver > 0 && count("SELECT sum(order_lines) FROM gold_revenue_by_country") == silver;
    if (!settled) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(settled);
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  auto text = FileSystem::Default()->ReadFile(log);
  ASSERT_TRUE(text.ok());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << *text;
  EXPECT_NE(text->find("running continuously"), std::string::npos) << *text;
  EXPECT_NE(text->find("pipeline orders: stopped"), std::string::npos) << *text;
}

// `lakepipe demo` with a folder relative to where it is started: the producer's files reach
// the pipeline (which resolves paths against its own folder), the API is served, and
// SIGINT stops the demo and its producer cleanly.
TEST_F(RunCommandTest, DemoFeedsThePipelineAndStopsOnSigint) {
  std::string log = dir_.Join("demo.log");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (chdir(dir_.path().c_str()) != 0) _exit(126);
    std::string cmd = "exec " + Binary() + " demo --dir demo --example " + Example() +
                      " --port 0 --rows 3000 --rate 3000 --lines-per-file 100 > " + log + " 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string query = Binary() + " query " + Example() + " --set storage=" + dir_.Join("demo/storage") +
                      " --format csv " + Quote("SELECT count(*) FROM silver_orders") + " 2>/dev/null";
  int64_t silver = 0;
  for (int i = 0; i < 300 && silver < 1000; ++i) {
    auto r = testing::RunCommand(query);
    if (r.ok() && r->find('\n') != std::string::npos) silver = std::atoll(r->c_str() + r->find('\n') + 1);
    if (silver < 1000) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(silver, 1000);
  // The demo's PostgreSQL serves the Gold tables to the read-only role it prints.
  std::string published;
  std::string port = WaitForPublishedKpis(log, 30, &published);
  EXPECT_FALSE(port.empty()) << "the demo printed no PostgreSQL line";
  EXPECT_FALSE(published.empty()) << "gold.gold_kpis was not published";
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  auto text = FileSystem::Default()->ReadFile(log);
  ASSERT_TRUE(text.ok());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << *text;
  EXPECT_NE(text->find("dashboard and API at http://127.0.0.1:"), std::string::npos) << *text;
  EXPECT_NE(text->find("demo: stopped"), std::string::npos) << *text;
  EXPECT_NE(text->find("-U bi_reader shop -c 'SELECT country"), std::string::npos) << *text;
  // The PostgreSQL server stopped with the demo (its folder is in the log line).
  size_t data_at = text->find("(data in ");
  ASSERT_NE(data_at, std::string::npos) << *text;
  std::string pg_folder = text->substr(data_at + 9, text->find(')', data_at) - data_at - 9);
  auto servers = testing::RunCommand("pgrep -f '[p]ostgres -D " + pg_folder + "/data' || true");
  ASSERT_TRUE(servers.ok());
  EXPECT_EQ(*servers, "") << "the demo's PostgreSQL outlived it";
  // The producer stopped with the demo: no process is still writing its landing folder.
  auto producers = testing::RunCommand("pgrep -f '[p]roduce --from " + dir_.Join("demo") + "' || true");
  ASSERT_TRUE(producers.ok());
  EXPECT_EQ(*producers, "") << "a producer outlived the demo";
}

// A small pipeline of its own: one Bronze table over CSV files in `landing`.
void WritePipeline(const testing::TempDir& dir, const std::string& sql) {
  FileSystem* fs = FileSystem::Default();
  ASSERT_TRUE(fs->CreateDirs(dir.Join("p")).ok());
  ASSERT_TRUE(fs->CreateDirs(dir.Join("in")).ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/pipeline.yaml"),
                            "name: t\nstorage: " + dir.Join("st") + "\nlibraries: [p.sql]\n"
                            "configuration: {landing: " + dir.Join("in") + "}\n").ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/p.sql"), sql).ok());
}

// Issue 19 item 4: a non-UTF-8 byte in a value bound for _rescued_data aborted every run.
// Now the run succeeds, the value is rescued, and DuckDB reads Bronze.
TEST(PipelineBadInputTest, InvalidUtf8IsRescuedInARun) {
  testing::TempDir dir;
  WritePipeline(dir, "CREATE OR REFRESH STREAMING TABLE bronze AS SELECT * FROM STREAM "
                     "read_files('${landing}', format => 'csv', header => true, schema => 'a INT, b STRING');\n");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(dir.Join("in/x.csv"), "a,b\n1,caf\xe9\n2,ok\n").ok());
  std::string out = Lakepipe("run " + dir.Join("p") + " --once");
  EXPECT_NE(out.find("update completed"), std::string::npos) << out;
  out = Lakepipe("run " + dir.Join("p") + " --once");  // and again: no abort on rerun
  EXPECT_NE(out.find("up to date"), std::string::npos) << out;
  auto rows = JsonLines(Lakepipe("query " + dir.Join("p") + " --format jsonl " +
                                 Quote("SELECT a, b, _rescued_data AS r FROM bronze ORDER BY a")));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_FALSE(rows[0].contains("b") && !rows[0]["b"].is_null()) << rows[0];
  auto rescued = nlohmann::json::parse(rows[0]["r"].get<std::string>());
  EXPECT_EQ(rescued["_invalid_utf8"]["b"], "636166e9");
  EXPECT_EQ(rows[1]["b"], "ok");
  auto duck = testing::RunDuckDB("SELECT count(*)::INT AS n, count(b)::INT AS nb FROM read_parquet('" +
                                 dir.Join("st") + "/bronze/*.parquet')");
  if (!duck.ok() && duck.status().IsNotFound()) GTEST_SKIP() << duck.status().message();
  ASSERT_TRUE(duck.ok()) << duck.status().message();
  auto d = JsonLines(*duck);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0]["n"], 2);
  EXPECT_EQ(d[0]["nb"], 1);
}

// Issue 9 item 3: dateFormat (CSV) and multiLine (JSON) pass validate and run, with the
// values parsed as the options say; an unknown option fails validate at file:line:col.
TEST(PipelineBadInputTest, ReaderOptionsValidateAndRunAlike) {
  testing::TempDir dir;
  WritePipeline(dir,
      "CREATE OR REFRESH STREAMING TABLE c AS SELECT * FROM STREAM read_files('${landing}/c', format => 'csv', "
      "header => true, dateFormat => 'dd/MM/yyyy', timestampFormat => 'dd/MM/yyyy HH:mm', "
      "schema => 'id INT, d DATE, t TIMESTAMP');\n"
      "CREATE OR REFRESH STREAMING TABLE j AS SELECT * FROM STREAM read_files('${landing}/j', format => 'json', "
      "multiLine => true, schema => 'id INT, name STRING');\n");
  FileSystem* fs = FileSystem::Default();
  ASSERT_TRUE(fs->CreateDirs(dir.Join("in/c")).ok());
  ASSERT_TRUE(fs->CreateDirs(dir.Join("in/j")).ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("in/c/1.csv"), "id,d,t\n1,31/01/2025,31/01/2025 10:30\n").ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("in/j/1.json"),
                            "[\n  {\"id\": 1,\n   \"name\": \"a\"},\n  {\"id\": 2, \"name\":\n \"b\"}\n]\n").ok());
  std::string out = Lakepipe("validate " + dir.Join("p"));
  EXPECT_NE(out.find("OK"), std::string::npos) << out;
  out = Lakepipe("run " + dir.Join("p") + " --once");
  EXPECT_NE(out.find("update completed"), std::string::npos) << out;
  auto rows = JsonLines(Lakepipe("query " + dir.Join("p") + " --format jsonl " +
                                 Quote("SELECT CAST(d AS STRING) AS d, CAST(t AS STRING) AS t, _rescued_data AS r FROM c")));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["d"], "2025-01-31");
  EXPECT_EQ(rows[0]["t"], "2025-01-31 10:30:00");
  EXPECT_FALSE(rows[0].contains("r") && !rows[0]["r"].is_null()) << rows[0];
  rows = JsonLines(Lakepipe("query " + dir.Join("p") + " --format jsonl " +
                            Quote("SELECT id, name FROM j ORDER BY id")));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1]["name"], "b");

  WritePipeline(dir,
      "CREATE OR REFRESH STREAMING TABLE j AS SELECT * FROM STREAM read_files('${landing}/j', format => 'json',\n"
      "  multiLine => true, headr => true, schema => 'id INT, name STRING');\n");
  ExpectOneErrorLine(LakepipeFails("validate " + dir.Join("p")), "p.sql:1:");
  ExpectOneErrorLine(LakepipeFails("validate " + dir.Join("p")), "headr is not supported for format json");
}

// Issue 19 item 6: `SELECT 1+1+...` with 5,000 terms crashed validate, run and query; 10,000
// ORs took 80 s and crashed. Now: a clear error, and a correct answer for the ORs.
TEST(PipelineBadInputTest, DeepSqlIsAClearErrorOrAResult) {
  testing::TempDir dir;
  const std::string source = " FROM read_files('${landing}', format => 'csv', header => true, schema => 'x INT')";
  std::string ors = "x = 0";
  for (int i = 1; i < 10000; ++i) ors += " OR x = " + std::to_string(i * 2);
  WritePipeline(dir, "CREATE OR REFRESH MATERIALIZED VIEW v AS SELECT x" + source + " WHERE " + ors + ";\n");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(dir.Join("in/x.csv"), "x\n4\n5\n").ok());
  Lakepipe("validate " + dir.Join("p"));
  std::string out = Lakepipe("run " + dir.Join("p") + " --once");
  EXPECT_NE(out.find("update completed"), std::string::npos) << out;
  auto rows = JsonLines(Lakepipe("query " + dir.Join("p") + " --format jsonl " + Quote("SELECT x FROM v")));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["x"], 4);

  std::string sum = "1";
  for (int i = 1; i < 5000; ++i) sum += "+1";
  ExpectOneErrorLine(LakepipeFails("query " + dir.Join("p") + " " + Quote("SELECT " + sum + " AS s FROM v")),
                     "expression nested deeper than 500 levels");
  WritePipeline(dir, "CREATE OR REFRESH MATERIALIZED VIEW v AS SELECT " + sum + " AS s" + source + ";\n");
  ExpectOneErrorLine(LakepipeFails("validate " + dir.Join("p")), "p.sql:1:");
  ExpectOneErrorLine(LakepipeFails("validate " + dir.Join("p")), "expression nested deeper than 500 levels");
  ExpectOneErrorLine(LakepipeFails("run " + dir.Join("p") + " --once"), "expression nested deeper than 500 levels");
}

}  // namespace
}  // namespace lakepipe

namespace lakepipe {
namespace {

// LOCATION (docs/scale-out.md): two pipelines with their own storage append to one
// streaming table in a shared folder, each exactly once; what cannot be shared is refused.
TEST(PipelineLocationTest, TwoStoragesAppendToOneTableAndRewritesAreRefused) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  for (const char* p : {"a", "b"}) {
    std::string in = dir.Join(std::string("in-") + p);
    ASSERT_TRUE(fs->CreateDirs(in).ok());
    ASSERT_TRUE(fs->CreateDirs(dir.Join(p)).ok());
    ASSERT_TRUE(fs->WriteFile(JoinPath(in, "x.csv"), std::string("id,src\n1,") + p + "\n2," + p + "\n3," + p + "\n").ok());
    ASSERT_TRUE(fs->WriteFile(dir.Join(std::string(p) + "/pipeline.yaml"),
                              std::string("name: ") + p + "\nstorage: " + dir.Join(std::string("st-") + p) +
                                  "\nlibraries: [p.sql]\nconfiguration: {landing: " + in + ", shared: " +
                                  dir.Join("shared") + "}\n")
                    .ok());
    ASSERT_TRUE(fs->WriteFile(dir.Join(std::string(p) + "/p.sql"),
                              "CREATE OR REFRESH STREAMING TABLE bronze\nLOCATION '${shared}/bronze'\n"
                              "AS SELECT * FROM STREAM read_files('${landing}', format => 'csv', header => true, "
                              "schema => 'id INT, src STRING');\n")
                    .ok());
  }
  Lakepipe("validate " + dir.Join("a"));
  Lakepipe("run " + dir.Join("a") + " --once");
  Lakepipe("run " + dir.Join("b") + " --once");
  Lakepipe("run " + dir.Join("a") + " --once");  // nothing new: nothing doubled
  EXPECT_FALSE(fs->Exists(dir.Join("st-a/bronze")));
  EXPECT_TRUE(fs->Exists(dir.Join("st-a/_checkpoints/bronze")));
  EXPECT_TRUE(fs->Exists(dir.Join("st-b/_checkpoints/bronze")));
  for (const char* p : {"a", "b"}) {
    auto rows = JsonLines(Lakepipe("query " + dir.Join(p) + " --format jsonl " +
                                   Quote("SELECT src, count(*) AS n FROM bronze GROUP BY src ORDER BY src")));
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0]["src"], "a");
    EXPECT_EQ(rows[0]["n"], 3);
    EXPECT_EQ(rows[1]["src"], "b");
    EXPECT_EQ(rows[1]["n"], 3);
  }
  // A full refresh would delete the other run's rows.
  ExpectOneErrorLine(LakepipeFails("run " + dir.Join("b") + " --once --full-refresh bronze"),
                     "not built yet: a full refresh of `bronze`, which has a LOCATION");
  // Materialized views are rewritten whole: no LOCATION.
  ASSERT_TRUE(fs->WriteFile(dir.Join("a/p.sql"), "CREATE OR REFRESH MATERIALIZED VIEW v\nLOCATION '/tmp/v'\n"
                                                 "AS SELECT 1 AS x;\n")
                  .ok());
  std::string err = LakepipeFails("validate " + dir.Join("a"));
  ExpectOneErrorLine(err, "p.sql:2:1");
  ExpectOneErrorLine(err, "LOCATION on a materialized view");
}

}  // namespace
}  // namespace lakepipe
