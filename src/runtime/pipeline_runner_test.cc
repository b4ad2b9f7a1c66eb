// End to end: the orders example (examples/orders) over generated data, checked against
// an independent computation of the same rules in DuckDB, and run again to show that
// nothing is ingested twice.
#include "runtime/pipeline_runner.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "delta/table.h"
#include "generator/domain.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

using Json = nlohmann::json;

struct Fixture {
  testing::TempDir dir;
  std::string landing = dir.Join("landing");
  std::string storage = dir.Join("storage");

  Fixture() { EXPECT_TRUE(FileSystem::Default()->CreateDirs(landing).ok()); }

  void AddOrdersFile(const std::string& name, uint64_t seed, int64_t rows) {
    auto domain = generator::MakeDomain("orders");
    ASSERT_TRUE(domain.ok()) << domain.status().ToString();
    ASSERT_TRUE(generator::GenerateToFile(FileSystem::Default(), **domain, seed, rows,
                                          JoinPath(landing, name))
                    .ok());
  }

  std::unique_ptr<PipelineRunner> Open() {
    auto runner = PipelineRunner::Open(testing::SourceDir() + "/examples/orders",
                                       {{"landing", landing}, {"storage", storage}});
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    return runner.ok() ? std::move(runner).value() : nullptr;
  }
};

const TableReport* Find(const UpdateReport& r, const std::string& table) {
  for (const auto& t : r.tables)
    if (t.table == table) return &t;
  return nullptr;
}

// Rows of a query on our engine, as JSON objects keyed by column name.
std::vector<std::map<std::string, std::string>> OurRows(PipelineRunner& runner, const std::string& sql) {
  auto result = runner.Query(sql);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  std::vector<std::map<std::string, std::string>> rows;
  if (!result.ok()) return rows;
  for (const auto& b : result->batches) {
    for (int64_t r = 0; r < b.num_rows(); ++r) {
      std::map<std::string, std::string> row;
      for (size_t c = 0; c < b.num_columns(); ++c) row[b.schema().field(c).name] = b.column(c).GetValue(r).ToString();
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

std::vector<Json> DuckRows(const std::string& sql) { return testing::DuckDBRows(sql); }

double Num(const Json& v) { return v.is_string() ? std::stod(v.get<std::string>()) : v.get<double>(); }

// The orders rules restated in DuckDB over the raw landing files: every line read as text,
// exact re-deliveries (the same eight source values) dropped, lines with a non-positive or
// unreadable quantity or price left out, line_total = round(Price * Quantity, 2).
std::string DuckSilver(const std::string& landing) {
  return "WITH raw AS (SELECT * FROM read_csv('" + landing +
         "/*.csv', header = true, all_varchar = true, null_padding = true)), "
         "dedup AS (SELECT DISTINCT TransactionNo, Date, ProductNo, ProductName, Price, Quantity, "
         "CustomerNo, Country FROM raw), "
         "silver AS (SELECT TransactionNo, CustomerNo, Country, TRY_CAST(Price AS DOUBLE) AS Price, "
         "TRY_CAST(Quantity AS INTEGER) AS Quantity, "
         "round(TRY_CAST(Price AS DOUBLE) * TRY_CAST(Quantity AS INTEGER), 2) AS line_total FROM dedup "
         "WHERE TRY_CAST(Quantity AS INTEGER) > 0 AND TRY_CAST(Price AS DOUBLE) > 0) ";
}

void ExpectGoldMatchesDuckDB(PipelineRunner& runner, const std::string& landing) {
  // Revenue by country.
  auto ours = OurRows(runner, "SELECT * FROM gold_revenue_by_country");
  auto theirs = DuckRows(DuckSilver(landing) +
                         "SELECT Country, round(sum(line_total), 2) AS total_revenue, count(*) AS order_lines, "
                         "count(DISTINCT TransactionNo) AS orders, count(DISTINCT CustomerNo) AS customers "
                         "FROM silver GROUP BY Country");
  ASSERT_GT(theirs.size(), 20u);
  ASSERT_EQ(ours.size(), theirs.size());
  std::map<std::string, const std::map<std::string, std::string>*> by_country;
  for (const auto& r : ours) by_country[r.at("Country")] = &r;
  for (const auto& t : theirs) {
    std::string country = t["Country"].is_null() ? "NULL" : t["Country"].get<std::string>();
    ASSERT_TRUE(by_country.count(country)) << country;
    const auto& o = *by_country[country];
    EXPECT_NEAR(std::stod(o.at("total_revenue")), Num(t["total_revenue"]), 0.015) << country;
    EXPECT_EQ(std::stoll(o.at("order_lines")), static_cast<int64_t>(Num(t["order_lines"]))) << country;
    EXPECT_EQ(std::stoll(o.at("orders")), static_cast<int64_t>(Num(t["orders"]))) << country;
    EXPECT_EQ(std::stoll(o.at("customers")), static_cast<int64_t>(Num(t["customers"]))) << country;
  }
  // Headline numbers.
  auto kpis = OurRows(runner, "SELECT * FROM gold_kpis");
  auto duck_kpis = DuckRows(DuckSilver(landing) +
                            "SELECT round(sum(line_total), 2) AS total_revenue, count(DISTINCT TransactionNo) AS orders, "
                            "count(DISTINCT CustomerNo) AS customers FROM silver");
  ASSERT_EQ(kpis.size(), 1u);
  ASSERT_EQ(duck_kpis.size(), 1u);
  EXPECT_NEAR(std::stod(kpis[0].at("total_revenue")), Num(duck_kpis[0]["total_revenue"]), 0.05);
  EXPECT_EQ(std::stoll(kpis[0].at("orders")), static_cast<int64_t>(Num(duck_kpis[0]["orders"])));
  EXPECT_EQ(std::stoll(kpis[0].at("customers")), static_cast<int64_t>(Num(duck_kpis[0]["customers"])));
}

TEST(OrdersPipelineTest, GoldEqualsDuckDBAndRerunsIngestNothingTwice) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  Fixture f;
  f.AddOrdersFile("orders-1.csv", 11, 6000);
  f.AddOrdersFile("orders-2.csv", 12, 6000);
  auto runner = f.Open();
  ASSERT_NE(runner, nullptr);

  auto first = runner->RunOnce({});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  for (const auto& t : first->tables) EXPECT_EQ(t.status, "updated") << t.table << ": " << t.message;
  EXPECT_EQ(Find(*first, "bronze_orders")->rows_written, 12000);  // every line, as received
  const TableReport* silver = Find(*first, "silver_orders");
  EXPECT_GT(silver->rows_quarantined, 0);  // cancellations have negative quantities
  EXPECT_LT(silver->rows_written, 12000);  // duplicates and quarantined lines are not in Silver
  ExpectGoldMatchesDuckDB(*runner, f.landing);

  // Nothing new: the streaming tables have nothing to ingest, and Bronze is unchanged.
  auto second = runner->RunOnce({});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(Find(*second, "bronze_orders")->status, "up to date");
  EXPECT_EQ(Find(*second, "silver_orders")->status, "up to date");
  // ... and the Gold views, whose inputs did not change, are not recomputed.
  EXPECT_EQ(Find(*second, "gold_kpis")->status, "up to date");
  EXPECT_EQ(Find(*second, "gold_kpis")->table_version, Find(*first, "gold_kpis")->table_version);
  auto count = OurRows(*runner, "SELECT count(*) AS n FROM bronze_orders");
  ASSERT_EQ(count.size(), 1u);
  EXPECT_EQ(count[0].at("n"), "12000");

  // A new file is ingested once, and Gold follows it.
  f.AddOrdersFile("orders-3.csv", 13, 3000);
  auto third = runner->RunOnce({});
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(Find(*third, "bronze_orders")->rows_written, 3000);
  count = OurRows(*runner, "SELECT count(*) AS n, count(DISTINCT source_file) AS files FROM bronze_orders");
  EXPECT_EQ(count[0].at("n"), "15000");
  EXPECT_EQ(count[0].at("files"), "3");
  ExpectGoldMatchesDuckDB(*runner, f.landing);
  // Gold was updated from the new Silver rows alone, not recomputed from all of Silver.
  for (const char* gold : {"gold_revenue_by_country", "gold_top_products", "gold_daily_revenue", "gold_kpis"}) {
    EXPECT_EQ(Find(*first, gold)->technique, "incremental (initial)") << gold;
    EXPECT_EQ(Find(*third, gold)->technique, "incremental") << gold;
    EXPECT_GT(Find(*third, gold)->state_keys, 0) << gold;
  }
  EXPECT_EQ(Find(*third, "gold_kpis")->rows_read, Find(*third, "silver_orders")->rows_written);

  // Silver rebuilt from Bronze rewrites its table: Gold notices the rewrite and starts
  // again from a snapshot of Silver, and still equals the recomputation.
  RunOptions refresh;
  refresh.full_refresh = {"silver_orders"};
  auto fourth = runner->RunOnce(refresh);
  ASSERT_TRUE(fourth.ok());
  for (const auto& t : fourth->tables) EXPECT_NE(t.status, "failed") << t.table << ": " << t.message;
  EXPECT_EQ(Find(*fourth, "gold_kpis")->technique, "incremental (initial)");
  ExpectGoldMatchesDuckDB(*runner, f.landing);

  // The event log recorded every update, with per-expectation counts.
  auto events = OurRows(*runner,
                        "SELECT count(DISTINCT update_id) AS updates, count(*) AS n FROM _event_log "
                        "WHERE event_type = 'flow_progress'");
  EXPECT_EQ(events[0].at("updates"), "4");
  EXPECT_EQ(events[0].at("n"), "24");  // 6 tables x 4 updates
  auto kpi_events = OurRows(*runner,
                            "SELECT count(*) AS n FROM _event_log WHERE table_name = 'gold_kpis' "
                            "AND details LIKE '%\"status\":\"up to date\"%'");
  EXPECT_EQ(kpi_events[0].at("n"), "1");
}

TEST(OrdersPipelineTest, FullRefreshRebuildsFromTheSources) {
  Fixture f;
  f.AddOrdersFile("orders-1.csv", 21, 2000);
  auto runner = f.Open();
  ASSERT_NE(runner, nullptr);
  ASSERT_TRUE(runner->RunOnce({}).ok());
  RunOptions refresh;
  refresh.full_refresh = {"bronze_orders"};
  auto again = runner->RunOnce(refresh);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Find(*again, "bronze_orders")->status, "updated");
  EXPECT_EQ(Find(*again, "bronze_orders")->rows_written, 2000);
  // The table holds the rebuilt rows once, and its history is kept (an overwrite).
  auto count = OurRows(*runner, "SELECT count(*) AS n FROM bronze_orders");
  EXPECT_EQ(count[0].at("n"), "2000");
  EXPECT_EQ(Find(*again, "bronze_orders")->table_version, 1);

  RunOptions unknown;
  unknown.full_refresh = {"no_such_table"};
  auto bad = runner->RunOnce(unknown);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("no_such_table"), std::string::npos);
}

int64_t LatestVersion(const std::string& path) {
  auto table = delta::DeltaTable::Open(path);
  if (!table.ok()) return -100;
  auto v = (*table)->LatestVersion();
  return v.ok() ? *v : -100;
}

// A refresh selection (`lakepipe run --once --refresh`) updates the selected tables only:
// the others keep their versions and contents, upstream tables are not refreshed implicitly,
// and a later selection brings the rest up to date, equal to a recomputation.
TEST(OrdersPipelineTest, RefreshSelectionUpdatesOnlyTheSelectedTables) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  Fixture f;
  f.AddOrdersFile("orders-1.csv", 11, 6000);  // as above: with the second, > 20 countries
  auto runner = f.Open();
  ASSERT_NE(runner, nullptr);
  ASSERT_TRUE(runner->RunOnce({}).ok());
  const std::string kpis_path = runner->TablePath("gold_kpis");
  int64_t kpis_version = LatestVersion(kpis_path);
  ASSERT_GE(kpis_version, 0);
  auto kpis_before = OurRows(*runner, "SELECT * FROM gold_kpis");

  f.AddOrdersFile("orders-2.csv", 12, 6000);
  RunOptions select;
  select.refresh_selection = {"bronze_orders", "SILVER_ORDERS"};  // names match case-insensitively
  auto partial = runner->RunOnce(select);
  ASSERT_TRUE(partial.ok()) << partial.status().ToString();
  ASSERT_EQ(partial->tables.size(), 2u);  // in dependency order, nothing else ran
  EXPECT_EQ(partial->tables[0].table, "bronze_orders");
  EXPECT_EQ(partial->tables[1].table, "silver_orders");
  EXPECT_EQ(Find(*partial, "bronze_orders")->rows_written, 6000);
  EXPECT_EQ(Find(*partial, "silver_orders")->status, "updated");
  EXPECT_EQ(OurRows(*runner, "SELECT count(*) AS n FROM bronze_orders")[0].at("n"), "12000");
  // Gold was not updated: same version, same (now stale) numbers.
  EXPECT_EQ(LatestVersion(kpis_path), kpis_version);
  EXPECT_EQ(OurRows(*runner, "SELECT * FROM gold_kpis"), kpis_before);

  // Selecting Gold alone updates it from Silver as it is, without touching Bronze.
  f.AddOrdersFile("orders-3.csv", 43, 500);
  int64_t bronze_version = LatestVersion(runner->TablePath("bronze_orders"));
  RunOptions gold;
  gold.refresh_selection = {"gold_kpis", "gold_revenue_by_country"};
  auto gold_run = runner->RunOnce(gold);
  ASSERT_TRUE(gold_run.ok()) << gold_run.status().ToString();
  ASSERT_EQ(gold_run->tables.size(), 2u);
  EXPECT_EQ(Find(*gold_run, "gold_kpis")->status, "updated");
  EXPECT_GT(LatestVersion(kpis_path), kpis_version);
  EXPECT_EQ(LatestVersion(runner->TablePath("bronze_orders")), bronze_version);
  // Gold now equals DuckDB's computation over the first two files (the third is not in
  // Bronze yet): moving the third away shows DuckDB the same input as Silver saw.
  ASSERT_TRUE(FileSystem::Default()->Rename(JoinPath(f.landing, "orders-3.csv"), f.dir.Join("orders-3.csv")).ok());
  ExpectGoldMatchesDuckDB(*runner, f.landing);

  int64_t kpis_after = LatestVersion(kpis_path);
  RunOptions unknown;
  unknown.refresh_selection = {"gold_kpis", "no_such_table"};
  auto bad = runner->RunOnce(unknown);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("`no_such_table`"), std::string::npos) << bad.status().ToString();
  EXPECT_EQ(LatestVersion(kpis_path), kpis_after);  // refused before anything ran
}

TEST(OrdersPipelineTest, ReDeliveriesInALaterBatchAreDropped) {
  Fixture f;
  f.AddOrdersFile("orders-1.csv", 31, 3000);
  auto runner = f.Open();
  ASSERT_NE(runner, nullptr);
  auto first = runner->RunOnce({});
  ASSERT_TRUE(first.ok());
  int64_t silver_rows = Find(*first, "silver_orders")->rows_written;
  ASSERT_GT(silver_rows, 0);
  // The same file delivered again under another name: Bronze keeps every line as
  // received, Silver's DISTINCT (state kept across micro-batches) drops all of them.
  auto content = FileSystem::Default()->ReadFile(JoinPath(f.landing, "orders-1.csv"));
  ASSERT_TRUE(content.ok());
  ASSERT_TRUE(FileSystem::Default()->WriteFile(JoinPath(f.landing, "orders-1-again.csv"), *content).ok());
  // A reopened runner (a new process) must see the same state.
  runner = f.Open();
  auto second = runner->RunOnce({});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(Find(*second, "bronze_orders")->rows_written, 3000);
  EXPECT_EQ(Find(*second, "silver_orders")->status, "updated");
  EXPECT_EQ(Find(*second, "silver_orders")->rows_written, 0);
  auto count = OurRows(*runner, "SELECT count(*) AS n FROM silver_orders");
  EXPECT_EQ(count[0].at("n"), std::to_string(silver_rows));
}

TEST(OrdersPipelineTest, QueryErrorsNameTheProblem) {
  Fixture f;
  auto runner = f.Open();
  ASSERT_NE(runner, nullptr);
  auto missing = runner->Query("SELECT * FROM gold_kpis");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("run the pipeline first"), std::string::npos) << missing.status().ToString();
  auto unknown = runner->Query("SELECT * FROM nowhere");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("<query>:1:15"), std::string::npos) << unknown.status().ToString();
}

}  // namespace
}  // namespace lakepipe::runtime
