// `lakepipe kafka serve`, `lakepipe produce --to kafka://` and `lakepipe demo --source kafka`,
// as a user runs them: the broker's first stdout line says where it listens, produced CSV
// lines arrive as JSON messages, a pipeline reads them exactly once, SIGTERM stops the
// broker, and the Kafka demo's Gold equals DuckDB's over the orders it produced.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "cli/cli_test_util.h"
#include "common/fs.h"
#include "testing/testing.h"

namespace lakepipe {
namespace {

TEST(KafkaCommandTest, ServeProduceAndReadExactlyOnce) {
  testing::TempDir dir;
  LakepipeProcess broker({"kafka", "serve", "--partitions", "3", "--topics", "orders"});
  std::string line = broker.ReadUntil("\n");
  ASSERT_EQ(line.rfind("bootstrap.servers=127.0.0.1:", 0), 0u) << line;
  std::string servers = line.substr(std::string("bootstrap.servers=").size());
  servers = servers.substr(0, servers.find_first_of("\r\n"));

  std::string csv = dir.Join("orders.csv");
  Lakepipe("generate orders --rows 2000 --seed 3 --out " + csv);
  Lakepipe("produce --from " + csv + " --to kafka://" + servers + "/orders --rate 100000 --lines-per-file 500 "
           "--key TransactionNo");

  FileSystem* fs = FileSystem::Default();
  ASSERT_TRUE(fs->CreateDirs(dir.Join("p")).ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/pipeline.yaml"),
                            "name: k\nstorage: " + dir.Join("lake") + "\nlibraries: [p.sql]\n" +
                                "configuration: {kafka: '" + servers + "'}\n")
                  .ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/p.sql"),
                            "CREATE OR REFRESH STREAMING TABLE raw AS SELECT CAST(value AS STRING) AS json, "
                            "CAST(key AS STRING) AS k, partition, offset FROM STREAM read_kafka("
                            "bootstrapServers => '${kafka}', subscribe => 'orders', startingOffsets => 'earliest');\n")
                  .ok());
  Lakepipe("validate " + dir.Join("p"));
  Lakepipe("run " + dir.Join("p") + " --once");
  Lakepipe("run " + dir.Join("p") + " --once");  // nothing new: nothing doubled
  auto rows = JsonLines(Lakepipe("query " + dir.Join("p") + " --format jsonl \"SELECT count(*) AS n, "
                                 "count(DISTINCT concat(partition, ':', offset)) AS coords, "
                                 "count(DISTINCT json) AS payloads, min(json) AS one, "
                                 "sum(CASE WHEN k IS NULL THEN 1 ELSE 0 END) AS no_key FROM raw\""));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["n"], 2000);
  EXPECT_EQ(rows[0]["coords"], 2000);
  EXPECT_EQ(rows[0]["no_key"], 0);
  // Each line became a JSON object named by the CSV header.
  std::string one = rows[0]["one"].get<std::string>();
  auto parsed = nlohmann::json::parse(one, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << one;
  EXPECT_TRUE(parsed.contains("TransactionNo")) << one;
  EXPECT_TRUE(parsed["Quantity"].is_number()) << one;

  EXPECT_EQ(broker.StopWith(SIGTERM), 0);
}

TEST(KafkaCommandTest, ProduceToKafkaErrorsAreOneLine) {
  testing::TempDir dir;
  std::string csv = dir.Join("o.csv");
  Lakepipe("generate orders --rows 10 --seed 3 --out " + csv);
  ExpectOneErrorLine(LakepipeFails("produce --from " + csv + " --to kafka://127.0.0.1:9 --rate 10"),
                     "kafka://HOST:PORT/TOPIC");
  ExpectOneErrorLine(LakepipeFails("produce --from " + csv + " --to kafka://127.0.0.1:9/t --rate 10 --key Nope"),
                     "--key Nope is not a column");
}

// `lakepipe demo --source kafka`: one round of generated orders goes through the demo's
// in-process broker into examples/orders-kafka (Kafka Bronze, the files example's Silver and
// Gold), the dashboard and PostgreSQL publication run as in the files demo, and SIGINT
// stops everything. Then Gold is compared with DuckDB's own computation over the very
// lines that were produced (the generator is deterministic: the same seed gives the same
// CSV), and Bronze holds each message once, with its coordinates.
TEST(KafkaCommandTest, DemoFromKafkaGoldEqualsDuckDBOverTheProducedOrders) {
  testing::TempDir dir;
  std::string log = dir.Join("demo.log");
  const std::string example = testing::SourceDir() + "/examples/orders-kafka";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (chdir(dir.path().c_str()) != 0) _exit(126);
    std::string cmd = "exec " + Binary() + " demo --source kafka --dir demo --example " + example +
                      " --port 0 --rows 3000 --rounds 1 --rate 3000 --lines-per-file 100 --partitions 4 > " + log +
                      " 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const std::string sets = " --set storage=" + dir.Join("demo/storage-kafka");
  auto count = [&](const std::string& sql) -> int64_t {
    auto r = testing::RunCommand(Binary() + " query " + example + sets + " --format csv " + Quote(sql) + " 2>/dev/null");
    if (!r.ok() || r->find('\n') == std::string::npos) return -1;
    return std::atoll(r->c_str() + r->find('\n') + 1);
  };
  // Bronze gets all 3,000 messages; Gold settles on Silver's rows (each view commits at
  // most once a second, so they settle one after the other: gold_kpis is checked too).
  bool settled = false;
  for (int i = 0; i < 600 && !settled; ++i) {
    int64_t silver = count("SELECT count(*) FROM silver_orders");
    settled = count("SELECT count(*) FROM bronze_orders") == 3000 && silver > 0 &&
              count("SELECT sum(order_lines) FROM gold_revenue_by_country") == silver &&
              count("SELECT sum(order_lines) FROM gold_daily_revenue") == silver &&
              count("SELECT orders FROM gold_kpis") == count("SELECT count(DISTINCT TransactionNo) FROM silver_orders");
    if (!settled) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(settled) << "the produced orders did not settle in Gold";
  // Served as the files demo is: the dashboard page and the Gold tables in PostgreSQL.
  auto text = FileSystem::Default()->ReadFile(log);
  ASSERT_TRUE(text.ok());
  size_t url_at = text->find("dashboard and API at ");
  ASSERT_NE(url_at, std::string::npos) << *text;
  std::string url = text->substr(url_at + 21, text->find('\n', url_at) - url_at - 21);
  auto page = testing::RunCommand("curl -sf " + url);
  ASSERT_TRUE(page.ok()) << page.status().message();
  EXPECT_NE(page->find("<html"), std::string::npos);
  auto tables = testing::RunCommand("curl -sf " + url + "api/tables");
  ASSERT_TRUE(tables.ok()) << tables.status().message();
  EXPECT_NE(tables->find("bronze_orders"), std::string::npos) << *tables;
  size_t pg_at = text->find("PostgreSQL on 127.0.0.1:");
  ASSERT_NE(pg_at, std::string::npos) << *text;
  std::string port = text->substr(pg_at + 24, text->find(' ', pg_at + 24) - pg_at - 24);
  std::string published;
  int64_t gold_orders = count("SELECT orders FROM gold_kpis");
  for (int i = 0; i < 300 && published != std::to_string(gold_orders) + "\n"; ++i) {
    auto r = testing::RunCommand("psql -h 127.0.0.1 -p " + port +
                                 " -U bi_reader shop_kafka -Atc 'SELECT orders FROM gold.gold_kpis' 2>/dev/null");
    published = r.ok() ? *r : "";
    if (published != std::to_string(gold_orders) + "\n") std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(published, std::to_string(gold_orders) + "\n") << "gold.gold_kpis was not published";
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  text = FileSystem::Default()->ReadFile(log);
  ASSERT_TRUE(text.ok());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << *text;
  EXPECT_NE(text->find("development Kafka broker (in memory) at bootstrap.servers=127.0.0.1:"), std::string::npos)
      << *text;
  EXPECT_NE(text->find("demo: stopped"), std::string::npos) << *text;

  // Bronze: each message once, from all four partitions, with the payload that was sent.
  auto bronze = JsonLines(Lakepipe("query " + example + sets + " --format jsonl " +
                                   Quote("SELECT count(*) AS n, count(DISTINCT CAST(partition AS BIGINT) * 1000000000 + offset) AS coords, "
                                         "count(DISTINCT partition) AS parts, min(topic) AS lo, max(topic) AS hi, "
                                         "count(payload) AS payloads FROM bronze_orders")));
  ASSERT_EQ(bronze.size(), 1u);
  EXPECT_EQ(bronze[0]["n"], 3000);
  EXPECT_EQ(bronze[0]["coords"], 3000);
  EXPECT_EQ(bronze[0]["parts"], 4);
  EXPECT_EQ(bronze[0]["lo"], "orders");
  EXPECT_EQ(bronze[0]["hi"], "orders");
  EXPECT_EQ(bronze[0]["payloads"], 3000);

  // DuckDB over the produced lines: the same CSV (seed 1), Silver's rules (valid quantity
  // and price, exact duplicates once, dates M/d/yyyy) and Gold's aggregates.
  std::string csv = dir.Join("produced.csv");
  Lakepipe("generate orders --rows 3000 --seed 1 --out " + csv);
  const std::string silver =
      "WITH raw AS (SELECT * FROM read_csv('" + csv + "', header = true, all_varchar = true, quote = '\"')), "
      "typed AS (SELECT TransactionNo, Date, ProductNo, ProductName, TRY_CAST(Price AS DOUBLE) AS Price, "
      "TRY_CAST(Quantity AS INTEGER) AS Quantity, CustomerNo, Country FROM raw), "
      "s AS (SELECT DISTINCT *, round(Price * Quantity, 2) AS line_total, "
      "try_strptime(Date, '%m/%d/%Y')::DATE AS OrderDate FROM typed WHERE Quantity > 0 AND Price > 0) ";
  auto expected = testing::DuckDBRows(
      silver + "SELECT Country, round(sum(line_total), 2)::DOUBLE AS total_revenue, count(*)::INT AS order_lines, "
               "count(DISTINCT TransactionNo)::INT AS orders, count(DISTINCT CustomerNo)::INT AS customers "
               "FROM s GROUP BY Country ORDER BY Country");
  auto got = JsonLines(Lakepipe("query " + example + sets + " --format jsonl " +
                                Quote("SELECT Country, total_revenue, order_lines, orders, customers "
                                      "FROM gold_revenue_by_country ORDER BY Country")));
  ASSERT_FALSE(expected.empty());
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i]["Country"], expected[i]["Country"]) << i;
    EXPECT_NEAR(got[i]["total_revenue"].get<double>(), expected[i]["total_revenue"].get<double>(), 0.005)
        << got[i]["Country"];
    for (const char* c : {"order_lines", "orders", "customers"})
      EXPECT_EQ(got[i][c].get<int64_t>(), expected[i][c].get<int64_t>()) << got[i]["Country"] << " " << c;
  }
  expected = testing::DuckDBRows(silver + "SELECT CAST(OrderDate AS VARCHAR) AS d, count(*)::INT AS order_lines, "
                                          "round(sum(line_total), 2)::DOUBLE AS revenue FROM s WHERE OrderDate IS NOT NULL "
                                          "GROUP BY OrderDate ORDER BY OrderDate");
  got = JsonLines(Lakepipe("query " + example + sets + " --format jsonl " +
                           Quote("SELECT CAST(OrderDate AS STRING) AS d, order_lines, revenue "
                                 "FROM gold_daily_revenue ORDER BY d")));
  ASSERT_FALSE(expected.empty());
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i]["d"], expected[i]["d"]) << i;
    EXPECT_EQ(got[i]["order_lines"].get<int64_t>(), expected[i]["order_lines"].get<int64_t>()) << got[i]["d"];
    EXPECT_NEAR(got[i]["revenue"].get<double>(), expected[i]["revenue"].get<double>(), 0.005) << got[i]["d"];
  }
}

}  // namespace
}  // namespace lakepipe
