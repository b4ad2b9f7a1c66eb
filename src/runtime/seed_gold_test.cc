// Seed 000 as its document writes it (examples/seed000), all streaming: Silver keeps the
// first line per TransactionNo within a 10-minute watermark on ingestion_time, Gold is
// revenue by country per 10-minute window of ingestion_time with the same watermark. Run
// over generated order files dropped at known clock times (one a re-delivery of another),
// then both tables are recomputed by DuckDB from Bronze with the documented rules
// (docs/sql-reference.md, "Streaming semantics").
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "generator/domain.h"
#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

constexpr int64_t kMinute = 60LL * 1000000;
constexpr int64_t kNoon = 1767268800LL * 1000000;  // 2026-01-01 12:00:00 UTC

TEST(SeedGoldTest, StreamingSilverAndGoldEqualDuckDB) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  std::string landing = dir.Join("landing"), storage = dir.Join("storage");
  ASSERT_TRUE(fs->CreateDirs(landing).ok());
  ManualClock clock(kNoon);
  auto opened = PipelineRunner::Open(testing::SourceDir() + "/examples/seed000",
                                     {{"landing", landing}, {"storage", storage}}, fs, &clock);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& runner = **opened;
  auto domain = generator::MakeDomain("orders");
  ASSERT_TRUE(domain.ok());
  // (minute, seed): seed 0 is a re-delivery of the first file.
  std::vector<std::pair<int, uint64_t>> drops = {{0, 1}, {4, 0}, {12, 2}, {31, 3}, {50, 4}};
  for (size_t i = 0; i < drops.size(); ++i) {
    clock.Set(kNoon + drops[i].first * kMinute);
    std::string name = JoinPath(landing, "f" + std::to_string(i) + ".csv");
    if (drops[i].second == 0) {
      auto text = fs->ReadFile(JoinPath(landing, "f0.csv"));
      ASSERT_TRUE(text.ok());
      ASSERT_TRUE(fs->WriteFileAtomic(name, *text).ok());
    } else {
      ASSERT_TRUE(generator::GenerateToFile(fs, **domain, drops[i].second, 400, name).ok());
    }
    auto update = runner.RunOnce({});
    ASSERT_TRUE(update.ok()) << update.status().ToString();
    for (const auto& t : update->tables) ASSERT_NE(t.status, "failed") << t.table << ": " << t.message;
  }

  // Bronze in stream order (one file per batch, ingestion times increasing), then the
  // rules: filter; per TransactionNo the first row, a later one kept again once the
  // watermark (the latest earlier ingestion_time minus 10 minutes) passes the kept row's
  // time; Gold sums the kept rows per country and 10-minute window, for the windows the
  // final watermark has passed.
  const std::string bronze = "read_parquet('" + storage + "/bronze_orders/*.parquet', file_row_number = true)";
  const std::string ctes =
      "WITH RECURSIVE b AS (SELECT *, ingestion_time::TIMESTAMP AS it FROM " + bronze + "),\n"
      "s0 AS (SELECT *, row_number() OVER (ORDER BY it, file_row_number) AS seq FROM b "
      "WHERE Quantity > 0 AND Price > 0),\n"
      "r AS (SELECT *, max(it) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - "
      "INTERVAL 10 MINUTE AS wm FROM s0),\n"
      "em(k, seq, it) AS (SELECT TransactionNo, seq, it FROM r QUALIFY row_number() OVER "
      "(PARTITION BY TransactionNo ORDER BY seq) = 1 UNION ALL SELECT r.TransactionNo, r.seq, r.it FROM em JOIN r ON "
      "r.TransactionNo IS NOT DISTINCT FROM em.k AND r.seq > em.seq AND r.wm > em.it QUALIFY row_number() OVER "
      "(PARTITION BY r.TransactionNo ORDER BY r.seq) = 1),\n"
      "silver AS (SELECT r.* FROM r JOIN em USING (seq)),\n"
      "gold AS (SELECT time_bucket(INTERVAL 10 MINUTE, it) AS ws, Country, round(sum(Price * Quantity), 2) AS rev, "
      "count(*) AS n FROM silver GROUP BY ALL HAVING time_bucket(INTERVAL 10 MINUTE, it) + INTERVAL 10 MINUTE <= "
      "(SELECT max(it) - INTERVAL 10 MINUTE FROM silver)),\n"
      "got AS (SELECT window_start::TIMESTAMP AS ws, window_end::TIMESTAMP AS we, Country, total_revenue AS rev, "
      "order_lines AS n FROM read_parquet('" + storage + "/gold_revenue_by_country/*.parquet')),\n"
      "got_silver AS (SELECT TransactionNo, ProductNo, Quantity, ingestion_time::TIMESTAMP AS it FROM read_parquet('" +
      storage + "/silver_orders/*.parquet'))\n";
  auto rows = testing::DuckDBRows(
      "SET TimeZone = 'UTC';\n" + ctes +
      "SELECT (SELECT count(*) FROM silver)::INTEGER AS silver_rows, (SELECT count(*) FROM s0)::INTEGER AS filtered,\n"
      " (SELECT count(*) FROM (SELECT TransactionNo, ProductNo, Quantity, it FROM silver EXCEPT ALL "
      "SELECT * FROM got_silver))::INTEGER AS silver_missing,\n"
      " (SELECT count(*) FROM (SELECT * FROM got_silver EXCEPT ALL SELECT TransactionNo, ProductNo, Quantity, it "
      "FROM silver))::INTEGER AS silver_extra,\n"
      " (SELECT count(*) FROM gold)::INTEGER AS gold_rows, (SELECT count(*) FROM got)::INTEGER AS got_rows,\n"
      " (SELECT count(DISTINCT ws) FROM gold)::INTEGER AS windows,\n"
      " (SELECT count(*) FROM gold g FULL JOIN got o ON g.ws = o.ws AND g.Country IS NOT DISTINCT FROM o.Country "
      "WHERE g.ws IS NULL OR o.ws IS NULL OR g.n <> o.n OR abs(g.rev - o.rev) > 0.011 OR "
      "o.we <> o.ws + INTERVAL 10 MINUTE)::INTEGER AS gold_differences");
  ASSERT_EQ(rows.size(), 1u);
  const auto& r = rows[0];
  EXPECT_EQ(r["silver_missing"], 0) << r.dump();
  EXPECT_EQ(r["silver_extra"], 0) << r.dump();
  EXPECT_EQ(r["gold_differences"], 0) << r.dump();
  EXPECT_EQ(r["gold_rows"], r["got_rows"]) << r.dump();
  // The input must exercise the rules: duplicates dropped (the re-delivery, the lines of
  // one invoice), three closed windows (12:00, 12:10, 12:30), the 12:50 one still open.
  EXPECT_LT(r["silver_rows"].get<int64_t>(), r["filtered"].get<int64_t>()) << r.dump();
  EXPECT_EQ(r["windows"], 3) << r.dump();
  EXPECT_GT(r["gold_rows"].get<int64_t>(), 3) << r.dump();
}

}  // namespace
}  // namespace lakepipe::runtime
