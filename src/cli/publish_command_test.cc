// Publication to a real PostgreSQL (issue 13), through the built binary: `run --once`,
// `lakepipe publish [--rebuild]`, and continuous runs SIGKILLed ten times while the
// server is stopped and started once. Every published table must equal the Delta table
// at its last version, row for row: PostgreSQL read with COPY ... TO STDOUT, the lake
// read independently by DuckDB (which replays the _delta_log itself).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_test_util.h"
#include "common/fs.h"
#include "testing/example_copy.h"
#include "delta/table.h"
#include "testing/pg_test_server.h"
#include "testing/testing.h"

namespace lakepipe {
namespace {

struct Published {
  std::string table;   // pipeline table
  std::string target;  // PostgreSQL table in schema gold
  std::string order;   // columns that order its rows
  std::vector<std::string> columns;
};

const std::vector<Published>& Tables() {
  static const std::vector<Published> tables = {
      {"gold_kpis", "gold_kpis", "total_revenue", {"total_revenue", "orders", "customers", "average_order_value"}},
      {"gold_revenue_by_country", "revenue", "country", {"country", "total_revenue", "order_lines", "orders", "customers"}},
      {"gold_daily_revenue", "gold_daily_revenue", "orderdate", {"orderdate", "revenue", "orders", "order_lines"}},
      {"gold_top_products", "gold_top_products", "productno", {"productno", "productname", "units", "revenue"}},
  };
  return tables;
}

// The same value whichever reader printed it: numbers compare as numbers.
bool SameField(const std::string& pg, const nlohmann::json& duck) {
  if (duck.is_null()) return pg == "\\N";
  std::string d = duck.is_string() ? duck.get<std::string>() : duck.dump();
  if (pg == d) return true;
  char* end1 = nullptr;
  char* end2 = nullptr;
  double a = std::strtod(pg.c_str(), &end1), b = std::strtod(d.c_str(), &end2);
  return *end1 == '\0' && *end2 == '\0' && !pg.empty() && !d.empty() && a == b;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t at = s.find(sep, start);
    if (at == std::string::npos) at = s.size();
    out.push_back(s.substr(start, at - start));
    start = at + 1;
  }
  return out;
}

class PublishCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = testing::PgTestServer::Start();
    ASSERT_TRUE(pg.ok()) << pg.status().ToString();
    pg_ = std::move(*pg);
    ASSERT_TRUE(pg_->CreateDatabase("shop").ok());
    if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
    // The orders example with a publish section.
    pipeline_ = dir_.Join("orders");
    FileSystem* fs = FileSystem::Default();
    ASSERT_TRUE(fs->CreateDirs(dir_.Join("landing")).ok());
    ASSERT_TRUE(testing::CopyOrdersExample(pipeline_,
                                           "publish:\n"
                                           "  postgres:\n"
                                           "    dsn: \"host=127.0.0.1 port=${pg_port} user=postgres dbname=shop\"\n"
                                           "    schema: gold\n"
                                           "    reader_role: bi_reader\n"
                                           "    tables:\n"
                                           "      - gold_kpis\n"
                                           "      - {table: gold_revenue_by_country, target: revenue, key: [Country]}\n"
                                           "      - {table: gold_daily_revenue, key: [OrderDate]}\n"
                                           "      - {table: gold_top_products, key: [ProductNo]}\n")
                    .ok());
    sets_ = " --set landing=" + dir_.Join("landing") + " --set storage=" + dir_.Join("storage") +
            " --set pg_port=" + std::to_string(pg_->port());
  }

  void AddOrders(int seed, int rows) {
    std::string tmp = dir_.Join("orders-" + std::to_string(seed) + ".tmp");
    Lakepipe("generate orders --rows " + std::to_string(rows) + " --seed " + std::to_string(seed) + " --out " + tmp);
    ASSERT_EQ(::rename(tmp.c_str(), dir_.Join("landing/orders-" + std::to_string(seed) + ".csv").c_str()), 0);
  }

  std::string Psql(const std::string& sql) {
    auto r = pg_->Psql(sql, "shop");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : "";
  }

  int64_t LatestVersion(const std::string& table) {
    auto t = delta::DeltaTable::Open(dir_.Join("storage/" + table));
    if (!t.ok()) return -1;
    auto v = (*t)->LatestVersion();
    return v.ok() ? *v : -1;
  }

  int64_t PublishedVersion(const std::string& target) {
    auto r = pg_->Psql("SELECT delta_version FROM gold.lakepipe_publish WHERE target_table = '" + target + "'", "shop");
    if (!r.ok() || r->empty()) return -2;
    return std::stoll(*r);
  }

  // Every published table equals its Delta table's last version, and lakepipe_publish
  // holds that version.
  void ExpectPostgresEqualsLake() {
    // DuckDB finds each table's live files itself from the log (added and never removed),
    // then reads them: two DuckDB runs for all tables.
    std::string files_sql;
    for (const auto& t : Tables()) {
      std::string path = dir_.Join("storage/" + t.table);
      std::string log = "read_ndjson_objects('" + path + "/_delta_log/*.json')";
      files_sql += std::string(files_sql.empty() ? "" : " UNION ALL ") + "SELECT '" + t.table +
                   "' AS tbl, string_agg('''" + path + "/' || p || '''', ',') AS files FROM (" +
                   "SELECT json_extract_string(json, '$.add.path') AS p FROM " + log + " WHERE p IS NOT NULL EXCEPT " +
                   "SELECT json_extract_string(json, '$.remove.path') AS p FROM " + log + " WHERE p IS NOT NULL)";
    }
    auto files = testing::DuckDBRows(files_sql);
    ASSERT_EQ(files.size(), Tables().size());
    std::map<std::string, std::string> live;
    for (const auto& f : files) {
      ASSERT_FALSE(f["files"].is_null()) << f.dump();
      live[f["tbl"].get<std::string>()] = f["files"].get<std::string>();
    }
    std::string rows_sql;
    for (const auto& t : Tables()) {
      std::string fields;
      for (const auto& c : t.columns) fields += (fields.empty() ? "" : ", ") + c + " := " + c;
      rows_sql += std::string(rows_sql.empty() ? "" : " UNION ALL ") + "SELECT '" + t.table +
                  "' AS tbl, row_number() OVER (ORDER BY " + t.order + " NULLS FIRST) AS i, CAST(to_json(struct_pack(" +
                  fields + ")) AS VARCHAR) AS r FROM read_parquet([" + live[t.table] + "])";
    }
    std::map<std::string, std::vector<nlohmann::json>> lake;
    auto rows = testing::DuckDBRows("SELECT tbl, r FROM (" + rows_sql + ") ORDER BY tbl, i");
    for (const auto& r : rows) lake[r["tbl"].get<std::string>()].push_back(nlohmann::json::parse(r["r"].get<std::string>()));

    for (const auto& t : Tables()) {
      SCOPED_TRACE(t.table);
      std::string select;
      for (const auto& c : t.columns) select += (select.empty() ? "" : ", ") + c;
      auto copy = pg_->Psql("COPY (SELECT " + select + " FROM gold." + t.target + " ORDER BY " + t.order +
                                " NULLS FIRST) TO STDOUT",
                            "shop");
      ASSERT_TRUE(copy.ok()) << copy.status().ToString();
      std::vector<std::string> lines = Split(*copy, '\n');
      if (!lines.empty() && lines.back().empty()) lines.pop_back();
      const auto& expected = lake[t.table];
      ASSERT_EQ(lines.size(), expected.size());
      ASSERT_GT(lines.size(), 0u);
      for (size_t i = 0; i < lines.size(); ++i) {
        std::vector<std::string> fields = Split(lines[i], '\t');
        ASSERT_EQ(fields.size(), t.columns.size()) << lines[i];
        for (size_t c = 0; c < t.columns.size(); ++c) {
          const nlohmann::json& value = expected[i][t.columns[c]];
          EXPECT_TRUE(SameField(fields[c], value)) << "row " << i << " column " << t.columns[c] << ": PostgreSQL "
                                                   << fields[c] << ", lake " << value.dump();
        }
      }
      EXPECT_EQ(PublishedVersion(t.target), LatestVersion(t.table));
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::PgTestServer> pg_;
  std::string pipeline_;
  std::string sets_;
};

TEST_F(PublishCommandTest, RunOncePublishesAndRebuildGivesTheSameRows) {
  AddOrders(1, 2000);
  std::string out = Lakepipe("run " + pipeline_ + " --once" + sets_);
  EXPECT_NE(out.find("publish gold_revenue_by_country -> gold.revenue: replaced (first publication)"),
            std::string::npos)
      << out;
  ExpectPostgresEqualsLake();
  AddOrders(2, 2000);
  out = Lakepipe("run " + pipeline_ + " --once" + sets_);
  EXPECT_NE(out.find("publish gold_revenue_by_country -> gold.revenue: "), std::string::npos) << out;
  EXPECT_NE(out.find(" upserted, "), std::string::npos) << out;
  ExpectPostgresEqualsLake();
  // Nothing new: nothing sent.
  out = Lakepipe("publish " + pipeline_ + sets_);
  EXPECT_NE(out.find("gold.revenue: up to date"), std::string::npos) << out;
  // The serving tables are recreated from the lake.
  Psql("DELETE FROM gold.revenue");
  out = Lakepipe("publish " + pipeline_ + " --rebuild" + sets_);
  EXPECT_NE(out.find("gold.revenue: replaced (rebuild)"), std::string::npos) << out;
  ExpectPostgresEqualsLake();
  out = Lakepipe("publish " + pipeline_ + " --rebuild --table gold_kpis" + sets_);
  EXPECT_NE(out.find("gold_kpis -> gold.gold_kpis: replaced (rebuild)"), std::string::npos) << out;
  EXPECT_EQ(out.find("gold.revenue"), std::string::npos) << out;
  ExpectOneErrorLine(LakepipeFails("publish " + pipeline_ + " --table silver_orders" + sets_),
                     "--table silver_orders is not published");
  // The events say what was published.
  out = Lakepipe("query " + pipeline_ + sets_ + " --format csv " +
                 "\"SELECT count(*) AS n FROM _event_log WHERE event_type = 'publish_progress'\"");
  EXPECT_NE(out, "n\n0\n") << out;
}

// PostgreSQL unreachable: the update still commits to the lake, the command says which
// tables were not published and exits non-zero; `lakepipe publish` catches up later.
TEST_F(PublishCommandTest, ServerDownDoesNotStopTheUpdate) {
  AddOrders(3, 1000);
  ASSERT_TRUE(pg_->Stop().ok());
  std::string err = LakepipeFails("run " + pipeline_ + " --once" + sets_);
  ExpectOneErrorLine(err, "not published (the lake is up to date");
  EXPECT_GE(LatestVersion("gold_kpis"), 0);
  ASSERT_TRUE(pg_->Restart().ok());
  Lakepipe("publish " + pipeline_ + sets_);
  ExpectPostgresEqualsLake();
}

// A crash just before the PostgreSQL COMMIT leaves the old version and its rows; a crash
// just after it leaves the new one: either way the next publication ends equal to the
// lake, and a version is never applied twice (the second case finds nothing to do).
TEST_F(PublishCommandTest, KilledAroundTheCommitPublishesEachVersionOnce) {
  AddOrders(5, 1000);
  Lakepipe("run " + pipeline_ + " --once" + sets_);
  ExpectPostgresEqualsLake();
  std::string before = Psql("SELECT * FROM gold.revenue ORDER BY country");
  int64_t published = PublishedVersion("revenue");
  AddOrders(6, 1000);
  // The lake moves on while PostgreSQL is unreachable (port 1).
  LakepipeFails("run " + pipeline_ + " --once" + sets_.substr(0, sets_.find(" --set pg_port")) + " --set pg_port=1");
  auto killed = testing::RunCommand("LAKEPIPE_KILL_AT=publish_before_commit:2 " + Binary() + " publish " + pipeline_ +
                                    sets_ + " >/dev/null 2>&1");
  EXPECT_FALSE(killed.ok()) << "the kill point was not reached";
  // The first table (gold_kpis) committed; the second (revenue) died before its COMMIT.
  EXPECT_EQ(PublishedVersion("gold_kpis"), LatestVersion("gold_kpis"));
  EXPECT_EQ(PublishedVersion("revenue"), published);
  EXPECT_EQ(Psql("SELECT * FROM gold.revenue ORDER BY country"), before);
  killed = testing::RunCommand("LAKEPIPE_KILL_AT=publish_after_commit:2 " + Binary() + " publish " + pipeline_ + sets_ +
                               " >/dev/null 2>&1");
  EXPECT_FALSE(killed.ok()) << "the kill point was not reached";
  EXPECT_EQ(PublishedVersion("revenue"), LatestVersion("gold_revenue_by_country"));
  std::string out = Lakepipe("publish " + pipeline_ + sets_);
  EXPECT_NE(out.find("gold.revenue: up to date"), std::string::npos) << out;
  ExpectPostgresEqualsLake();
}

pid_t Spawn(const std::string& args, const std::string& log) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string cmd = "exec " + Binary() + " " + args + " >>" + log + " 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// The continuous pipeline with publication is SIGKILLed 10 times while orders keep
// landing, and PostgreSQL is stopped for a while in the middle; once it runs undisturbed,
// publication catches up and PostgreSQL equals the lake.
TEST_F(PublishCommandTest, KilledTenTimesAndServerRestartedStillEqualsTheLake) {
  std::mt19937 rng(13);
  std::string log = dir_.Join("run.log");
  std::string run = "run " + pipeline_ + " --no-server" + sets_;
  for (int i = 0; i < 10; ++i) {
    AddOrders(100 + i, 400);
    if (i == 4) {
      ASSERT_TRUE(pg_->Stop().ok());
    }
    if (i == 7) {
      ASSERT_TRUE(pg_->Restart().ok());
    }
    pid_t pid = Spawn(run, log);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(300, 1500)(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "lakepipe exited by itself; see " << log;
  }
  // Undisturbed: wait until every table is published at its latest version.
  pid_t pid = Spawn(run, log);
  bool caught_up = false;
  std::string progress;
  // Generous: on a loaded 2-core machine the catch-up takes tens of seconds.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
  while (!caught_up && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    caught_up = true;
    progress.clear();
    for (const auto& t : Tables()) {
      int64_t latest = LatestVersion(t.table), published = PublishedVersion(t.target);
      progress += t.table + ": lake " + std::to_string(latest) + ", PostgreSQL " + std::to_string(published) + "\n";
      caught_up = caught_up && latest >= 0 && published == latest;
    }
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!caught_up) {
    auto text = FileSystem::Default()->ReadFile(log);
    std::string tail = text.ok() ? text->substr(text->size() > 4000 ? text->size() - 4000 : 0) : "";
    auto errors = testing::RunCommand(Binary() + " query " + pipeline_ + sets_ +
                                      " --format csv \"SELECT message FROM _event_log WHERE event_type = "
                                      "'publish_error' LIMIT 5\"");
    FAIL() << "publication did not catch up in 180 s:\n"
           << progress << "publish errors:\n"
           << (errors.ok() ? *errors : errors.status().ToString()) << "the runs' output ends with:\n"
           << tail;
  }
  ExpectPostgresEqualsLake();
  // Every landed line reached Bronze exactly once.
  std::string out = Lakepipe("query " + pipeline_ + sets_ + " --format csv " +
                             Quote("SELECT count(*) AS n FROM bronze_orders"));
  EXPECT_EQ(out, "n\n4000\n");
  // The outage shows in the event log, and so does the recovery.
  out = Lakepipe("query " + pipeline_ + sets_ + " --format csv " +
                 "\"SELECT count(*) > 0 AS seen FROM _event_log WHERE event_type = 'publish_error'\"");
  EXPECT_EQ(out, "seen\ntrue\n");
}

}  // namespace
}  // namespace lakepipe
