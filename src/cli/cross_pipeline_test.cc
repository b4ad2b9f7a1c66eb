// Cross-pipeline reads (docs/catalog.md), end to end with the built binary: pipeline
// `orders` ingests files into silver_orders; pipeline `reporting` reads it through a
// catalog as `orders.silver_orders`: STREAM() into a streaming table, and a GROUP BY view.
// `reporting` is SIGKILLed at kill points of its flows and views while `orders` keeps
// appending; every silver row must reach `reporting` exactly once, and its view must equal
// DuckDB's computation over the landed files.
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>

#include <gmock/gmock.h>
#include <httplib.h>

#include <set>

#include "cli/cli_test_util.h"

namespace lakepipe {
namespace {

using ::testing::HasSubstr;

class CrossPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FileSystem* fs = FileSystem::Default();
    ASSERT_TRUE(fs->CreateDirs(landing_).ok());
    Write("orders/pipeline.yaml", "name: orders\nstorage: " + dir_.Join("orders-lake") +
                                      "\ncontinuous: false\nconfiguration: {landing: " + landing_ + "}\n");
    Write("orders/orders.sql",
          "CREATE OR REFRESH STREAMING TABLE bronze_orders AS SELECT * FROM STREAM read_files('${landing}', "
          "format => 'csv', header => true, schema => 'id INT, country STRING, amount INT');\n"
          "CREATE OR REFRESH STREAMING TABLE silver_orders (\n"
          "  CONSTRAINT positive EXPECT (amount > 0) ON VIOLATION DROP ROW\n"
          ") AS SELECT id, country, amount FROM STREAM(bronze_orders);\n");
    Write("catalog.yaml", "pipelines:\n  orders:\n    folder: orders\n    tables: [silver_orders]\n");
    Write("reporting/pipeline.yaml", "name: reporting\nstorage: " + dir_.Join("reporting-lake") +
                                         "\ncatalog: ../catalog.yaml\n");
    Write("reporting/reporting.sql",
          "CREATE OR REFRESH STREAMING TABLE orders_copy AS\n"
          "SELECT id, country, amount FROM STREAM(orders.silver_orders);\n"
          "CREATE OR REFRESH MATERIALIZED VIEW revenue AS\n"
          "SELECT country, sum(amount) AS total, count(*) AS n FROM orders.silver_orders GROUP BY country;\n");
  }

  void Write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(FileSystem::Default()->CreateDirs(DirName(dir_.Join(name))).ok());
    ASSERT_TRUE(FileSystem::Default()->WriteFile(dir_.Join(name), text).ok());
  }

  // Lands `n` more files of 20 rows each (some with amount <= 0, which Silver drops).
  void Land(int n) {
    static const char* kCountries[] = {"DE", "FR", "NL"};
    for (int f = 0; f < n; ++f, ++files_) {
      std::string csv = "id,country,amount\n";
      for (int i = 0; i < 20; ++i) {
        int id = files_ * 20 + i;
        csv += std::to_string(id) + "," + kCountries[id % 3] + "," + std::to_string(id % 7 - 1) + "\n";
      }
      ASSERT_TRUE(FileSystem::Default()
                      ->WriteFileAtomic(landing_ + "/f" + std::to_string(1000 + files_) + ".csv", csv)
                      .ok());
    }
  }

  std::string Run(const std::string& pipeline, const std::string& extra = "") {
    return Lakepipe("run " + Quote(dir_.Join(pipeline)) + " --once --no-server" + extra);
  }

  // One update of `reporting` killed at `point`; true when it died by SIGKILL.
  bool RunReportingKilledAt(const std::string& point) { return RunOnceKilledAt(dir_.Join("reporting"), point); }

  std::string Query(const std::string& pipeline, const std::string& sql) {
    return Lakepipe("query " + Quote(dir_.Join(pipeline)) + " --format csv " + Quote(sql));
  }

  // DuckDB over the landed files: what Silver keeps, per country.
  std::string DuckRevenue() {
    auto rows = testing::DuckDBRows("SELECT country, CAST(sum(amount) AS INT) AS total, count(*)::INT AS n FROM "
                                    "read_csv('" + landing_ + "/*.csv', header = true, columns = {'id': 'INTEGER', "
                                    "'country': 'VARCHAR', 'amount': 'INTEGER'}) WHERE amount > 0 GROUP BY country "
                                    "ORDER BY country");
    std::string out = "country,total,n\n";
    for (const auto& r : rows) {
      out += r["country"].get<std::string>() + "," + std::to_string(r["total"].get<int64_t>()) + "," +
             std::to_string(r["n"].get<int64_t>()) + "\n";
    }
    return out;
  }
  std::string DuckCopyTotals() {
    auto rows = testing::DuckDBRows("SELECT count(*)::INT AS n, count(DISTINCT id)::INT AS d, "
                                    "CAST(sum(id) AS INT) AS s FROM read_csv('" + landing_ + "/*.csv', header = "
                                    "true, columns = {'id': 'INTEGER', 'country': 'VARCHAR', 'amount': 'INTEGER'}) "
                                    "WHERE amount > 0");
    if (rows.empty()) return "";
    return "n,d,s\n" + std::to_string(rows[0]["n"].get<int64_t>()) + "," + std::to_string(rows[0]["d"].get<int64_t>()) +
           "," + std::to_string(rows[0]["s"].get<int64_t>()) + "\n";
  }

  // reporting's tables hold each silver row once and equal DuckDB's computation.
  void ExpectReportingExact(const std::string& when) {
    EXPECT_EQ(Query("reporting", "SELECT count(*) AS n, count(DISTINCT id) AS d, sum(id) AS s FROM orders_copy"),
              DuckCopyTotals())
        << when;
    EXPECT_EQ(Query("reporting", "SELECT country, total, n FROM revenue ORDER BY country"), DuckRevenue()) << when;
    // And the same as orders' own silver table, read by orders.
    EXPECT_EQ(Query("reporting", "SELECT count(*) AS n, count(DISTINCT id) AS d, sum(id) AS s FROM orders_copy"),
              Query("orders", "SELECT count(*) AS n, count(DISTINCT id) AS d, sum(id) AS s FROM silver_orders"))
        << when;
  }

  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
  int files_ = 0;
};

TEST_F(CrossPipelineTest, ValidateAndGraphShowTheOtherPipelinesTable) {
  Land(2);
  // Before `orders` ran, its table does not exist: the error names the query and the entry.
  std::string err = LakepipeFails("validate " + Quote(dir_.Join("reporting")));
  EXPECT_THAT(err, HasSubstr("reporting.sql:2:"));
  EXPECT_THAT(err, HasSubstr("`silver_orders` of pipeline orders has no commit yet"));
  EXPECT_THAT(err, HasSubstr("catalog.yaml:2:3"));
  Run("orders");
  std::string out = Lakepipe("validate " + Quote(dir_.Join("reporting")));
  EXPECT_THAT(out, HasSubstr("reads orders.silver_orders: pipeline orders's table at " +
                             dir_.Join("orders-lake/silver_orders") + " (version"));
  EXPECT_THAT(out, HasSubstr("pipeline reporting: 2 tables, OK"));
  out = Lakepipe("graph " + Quote(dir_.Join("reporting")));
  EXPECT_THAT(out, HasSubstr("orders_copy (streaming table) <- STREAM orders.silver_orders"));
  EXPECT_THAT(out, HasSubstr("revenue (materialized view) <- orders.silver_orders"));

  // Column lineage names the other pipeline's columns as sources.
  out = Lakepipe("lineage " + Quote(dir_.Join("reporting")));
  EXPECT_THAT(out, HasSubstr("revenue.total <- orders.silver_orders.amount"));
  EXPECT_THAT(out, HasSubstr("orders_copy.id <- orders.silver_orders.id"));

  // The API's DAG: the other pipeline's table is a source node with an edge to each reader.
  Run("reporting");
  LakepipeProcess serve({"serve", dir_.Join("reporting"), "--port", "0"});
  std::string started = serve.ReadUntil("press Ctrl-C");
  size_t at = started.find("http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << started;
  httplib::Client client("127.0.0.1", std::atoi(started.c_str() + at + std::string("http://127.0.0.1:").size()));
  auto dag = client.Get("/api/pipeline");
  ASSERT_TRUE(dag);
  ASSERT_EQ(dag->status, 200) << dag->body;
  nlohmann::json j = nlohmann::json::parse(dag->body);
  int external = 0;
  for (const auto& src : j["sources"]) {
    if (src["id"] != "orders.silver_orders") continue;
    ++external;
    EXPECT_EQ(src["pipeline"], "orders");
    EXPECT_EQ(src["path"], dir_.Join("orders-lake/silver_orders"));
  }
  EXPECT_EQ(external, 1) << dag->body;
  std::set<std::string> readers;
  for (const auto& e : j["edges"])
    if (e["from"] == "orders.silver_orders") readers.insert(e["to"].get<std::string>() + (e["streaming"] ? "/s" : "/b"));
  EXPECT_EQ(readers, (std::set<std::string>{"orders_copy/s", "revenue/b"})) << dag->body;
  EXPECT_EQ(serve.StopWith(SIGTERM), 0);

  // A table the catalog does not publish, and an unknown pipeline.
  Write("reporting/extra.sql", "CREATE MATERIALIZED VIEW b AS\nSELECT * FROM orders.bronze_orders;\n");
  err = LakepipeFails("validate " + Quote(dir_.Join("reporting")));
  EXPECT_THAT(err, HasSubstr("extra.sql:2:15"));
  EXPECT_THAT(err, HasSubstr("does not publish `bronze_orders`"));
  Write("reporting/extra.sql", "CREATE MATERIALIZED VIEW b AS\nSELECT * FROM shop.sales;\n");
  err = LakepipeFails("validate " + Quote(dir_.Join("reporting")));
  EXPECT_THAT(err, HasSubstr("extra.sql:2:15"));
  EXPECT_THAT(err, HasSubstr("pipeline `shop` is not in the catalog"));
}

TEST_F(CrossPipelineTest, StreamsAcrossPipelinesExactlyOnceThroughKills) {
  Land(3);
  Run("orders");
  Run("reporting");
  ExpectReportingExact("first run");
  int killed = 0;
  // Killed after planning (the batch is replayed with the same plan), after the table's
  // commit (the committed batch is skipped on restart), and in the view's update.
  for (const char* point : {"flow.after_plan", "flow.after_table_commit", "flow.after_commit_log", "mv.after_commit",
                            "mv.after_process"}) {
    Land(2);
    Run("orders");
    if (RunReportingKilledAt(point)) ++killed;
    Run("reporting");
    ExpectReportingExact(std::string("after a kill at ") + point);
  }
  EXPECT_GE(killed, 4) << "the kill points are on the path of an update of reporting";
  // Nothing new in orders: reporting commits nothing.
  std::string before = Query("reporting", "SELECT count(*) AS n FROM orders_copy");
  std::string out = Run("reporting");
  EXPECT_EQ(Query("reporting", "SELECT count(*) AS n FROM orders_copy"), before);

  // The view records the version of orders.silver_orders it read (reproducible refresh).
  std::string history = Lakepipe("table history " + Quote(dir_.Join("reporting-lake/revenue")));
  EXPECT_THAT(history, HasSubstr("orders.silver_orders"));
}

TEST_F(CrossPipelineTest, ARewriteOfTheOtherTableStopsTheStreamWithTheReason) {
  Land(2);
  Run("orders");
  Run("reporting");
  Land(1);
  // A full refresh of orders' silver rewrites it: a stream of appends cannot follow that.
  Run("orders", " --full-refresh silver_orders");
  // The table's failure is on stdout, the summary on stderr: both, and the exit status.
  auto r = testing::RunCommand(Binary() + " run " + Quote(dir_.Join("reporting")) + " --once --no-server 2>&1; "
                               "echo exit=$?");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_THAT(*r, HasSubstr("exit=1"));
  EXPECT_THAT(*r, HasSubstr("orders_copy (streaming table): failed"));
  EXPECT_THAT(*r, HasSubstr("deletes or rewrites rows"));
  EXPECT_THAT(*r, HasSubstr("skipChangeCommits"));
}

TEST_F(CrossPipelineTest, ContinuousRunPicksUpTheOtherPipelinesCommits) {
  Land(2);
  Run("orders");
  LakepipeProcess reporting({"run", dir_.Join("reporting"), "--no-server"});
  // The first update reads what orders has; then orders commits more, once.
  auto wait_for = [&](const std::string& expected) {
    std::string got;
    for (int i = 0; i < 300 && got != expected; ++i) {
      auto r = testing::RunCommand(Binary() + " query " + Quote(dir_.Join("reporting")) + " --format csv " +
                                   Quote("SELECT count(*) AS n, count(DISTINCT id) AS d, sum(id) AS s FROM orders_copy") +
                                   " 2>/dev/null");
      got = r.ok() ? *r : "";
      if (got != expected) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return got;
  };
  EXPECT_EQ(wait_for(DuckCopyTotals()), DuckCopyTotals());
  Land(2);
  Run("orders");
  EXPECT_EQ(wait_for(DuckCopyTotals()), DuckCopyTotals()) << "the continuous run saw the new version of orders";
  EXPECT_NE(reporting.StopWith(SIGTERM), -1) << "the run stops when asked";
}

// The example pair: examples/orders, then examples/orders-reporting reading its Silver
// through examples/catalog.yaml.
TEST(CrossPipelineExampleTest, OrdersReportingReadsOrdersSilver) {
  testing::TempDir dir;
  const std::string examples = testing::SourceDir() + "/examples";
  const std::string landing = dir.Join("landing"), lake = dir.Join("lake"), reporting = dir.Join("reporting");
  ASSERT_TRUE(FileSystem::Default()->CreateDirs(landing).ok());
  const std::string orders_sets = " --set landing=" + Quote(landing) + " --set storage=" + Quote(lake);
  const std::string reporting_sets = " --set orders_storage=" + Quote(lake) + " --set storage=" + Quote(reporting);
  auto count = [&](const std::string& pipeline, const std::string& sets, const std::string& sql) {
    return Lakepipe("query " + Quote(examples + "/" + pipeline) + sets + " --format csv " + Quote(sql));
  };
  for (int round = 1; round <= 2; ++round) {
    Lakepipe("generate orders --rows 1500 --seed " + std::to_string(round) + " --out " +
             Quote(landing + "/orders-" + std::to_string(round) + ".csv"));
    Lakepipe("run " + Quote(examples + "/orders") + orders_sets + " --once --no-server");
    Lakepipe("run " + Quote(examples + "/orders-reporting") + reporting_sets + " --once --no-server");
    // The ledger holds each Silver line once.
    std::string silver = count("orders", orders_sets,
                               "SELECT count(*) AS n, round(sum(line_total), 2) AS t FROM silver_orders");
    EXPECT_EQ(count("orders-reporting", reporting_sets,
                    "SELECT count(*) AS n, round(sum(line_total), 2) AS t FROM orders_ledger"),
              silver)
        << "round " << round;
    // Per customer, against DuckDB reading Silver's Parquet files (appends only here, so
    // every file in the folder is live: the counts are compared first).
    auto duck = testing::DuckDBRows("SELECT count(*)::INT AS n FROM read_parquet('" + lake +
                                    "/silver_orders/*.parquet')");
    ASSERT_EQ(duck.size(), 1u);
    EXPECT_EQ("n,t\n" + std::to_string(duck[0]["n"].get<int64_t>()), silver.substr(0, silver.rfind(',')))
        << "DuckDB reads the same Silver";
    auto expected = testing::DuckDBRows(
        "SELECT CustomerNo, CAST(round(sum(line_total), 2) AS VARCHAR) AS revenue, "
        "count(DISTINCT TransactionNo)::INT AS orders FROM read_parquet('" + lake + "/silver_orders/*.parquet') "
        "WHERE CustomerNo IS NOT NULL GROUP BY CustomerNo ORDER BY CustomerNo");
    std::string want = "CustomerNo,orders\n";
    for (const auto& r : expected) {
      want += r["CustomerNo"].get<std::string>() + "," + std::to_string(r["orders"].get<int64_t>()) + "\n";
    }
    EXPECT_GT(expected.size(), 10u);
    EXPECT_EQ(count("orders-reporting", reporting_sets,
                    "SELECT CustomerNo, orders FROM gold_customer_value ORDER BY CustomerNo"),
              want)
        << "round " << round;
  }
}

}  // namespace
}  // namespace lakepipe
