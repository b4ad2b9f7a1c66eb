// Time-window aggregation in streaming tables: seed 000's Gold (revenue by country in
// 10-minute windows of ingestion time, with a 10-minute watermark) as a streaming table;
// a window's row is written once, when the watermark passes its end, across runs and
// restarts; late rows go to <table>_late. The same GROUP BY window(...) in a
// materialized view groups every row.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

constexpr int64_t kMinute = 60LL * 1000000;
// 2026-01-01 12:00:00 UTC
constexpr int64_t kNoon = 1767268800LL * 1000000;

class WindowStreamingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("p")).ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"), "name: t\nstorage: " + dir_.Join("storage") +
                                                                 "\nlibraries: [p.sql]\nconfiguration: {landing: " +
                                                                 landing_ + "}\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"), kSql).ok());
  }

  std::unique_ptr<PipelineRunner> Open() {
    auto r = PipelineRunner::Open(dir_.Join("p"), {}, fs_, &clock_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  // Drops a file of order lines at the clock's time and runs one update.
  void Run(PipelineRunner& runner, int64_t minute, const std::string& name, const std::string& lines) {
    clock_.Set(kNoon + minute * kMinute);
    ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, name), "Country,Price,Quantity\n" + lines).ok());
    auto update = runner.RunOnce({});
    ASSERT_TRUE(update.ok()) << update.status().ToString();
    for (const auto& t : update->tables) ASSERT_NE(t.status, "failed") << t.table << ": " << t.message;
  }

  std::vector<std::string> Rows(PipelineRunner& runner, const std::string& sql) {
    auto r = runner.Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> out;
    if (!r.ok()) return out;
    for (const auto& b : r->batches) {
      for (int64_t i = 0; i < b.num_rows(); ++i) {
        std::string line;
        for (size_t c = 0; c < b.num_columns(); ++c) line += (c ? "|" : "") + b.column(c).GetValue(i).ToString();
        out.push_back(line);
      }
    }
    return out;
  }

  static constexpr const char* kSql =
      "CREATE OR REFRESH STREAMING TABLE silver_orders AS SELECT Country, Price * Quantity AS line_total, "
      "current_timestamp() AS ingestion_time FROM STREAM read_files('${landing}', format => 'csv', header => true, "
      "schema => 'Country STRING, Price DOUBLE, Quantity INT');\n"
      "CREATE OR REFRESH STREAMING TABLE gold_revenue AS SELECT window.start AS window_start, window.end AS "
      "window_end, Country, sum(line_total) AS revenue, count(*) AS lines FROM STREAM(silver_orders) WATERMARK "
      "ingestion_time DELAY OF INTERVAL 10 MINUTES GROUP BY window(ingestion_time, '10 minutes'), Country;\n"
      "CREATE OR REFRESH MATERIALIZED VIEW all_windows AS SELECT window.start AS s, Country, sum(line_total) AS "
      "revenue FROM silver_orders GROUP BY window(ingestion_time, '10 minutes', '5 minutes'), Country;\n"
      "CREATE OR REFRESH MATERIALIZED VIEW sessions AS SELECT session_window.start AS s, session_window.end AS e, "
      "Country, count(*) AS lines FROM silver_orders GROUP BY session_window(ingestion_time, '10 minutes'), Country;\n";

  FileSystem* fs_ = FileSystem::Default();
  ManualClock clock_{kNoon};
  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
};

TEST_F(WindowStreamingTest, SeedGoldRevenueByCountryIsWrittenOnceWhenTheWatermarkPassesTheWindow) {
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  Run(*runner, 0, "a.csv", "UK,1,10\nFR,5,1\n");
  Run(*runner, 5, "b.csv", "UK,3,10\n");
  // Watermark 12:05 - nothing closed yet.
  EXPECT_TRUE(Rows(*runner, "SELECT * FROM gold_revenue").empty());
  runner.reset();
  // A restart keeps the open window; at 12:25 the watermark (12:15) passes 12:10.
  runner = Open();
  Run(*runner, 25, "c.csv", "UK,2,1\n");
  auto rows = Rows(*runner, "SELECT window_start, window_end, Country, revenue, lines FROM gold_revenue ORDER BY Country");
  EXPECT_EQ(rows, (std::vector<std::string>{"2026-01-01 12:00:00|2026-01-01 12:10:00|FR|5.0|1",
                                            "2026-01-01 12:00:00|2026-01-01 12:10:00|UK|40.0|2"}));
  // Written once: later batches do not write the window again.
  Run(*runner, 40, "d.csv", "DE,1,1\n");
  EXPECT_EQ(Rows(*runner, "SELECT count(*) FROM gold_revenue WHERE window_start = TIMESTAMP '2026-01-01 12:00:00'"),
            (std::vector<std::string>{"2"}));
  EXPECT_EQ(Rows(*runner, "SELECT Country, revenue FROM gold_revenue WHERE window_start = TIMESTAMP "
                          "'2026-01-01 12:20:00'"),
            (std::vector<std::string>{"UK|2.0"}));
  // The materialized view groups every row into its sliding windows.
  EXPECT_EQ(Rows(*runner, "SELECT s, revenue FROM all_windows WHERE Country = 'UK' ORDER BY s"),
            (std::vector<std::string>{"2026-01-01 11:55:00|10.0", "2026-01-01 12:00:00|40.0", "2026-01-01 12:05:00|30.0",
                                      "2026-01-01 12:20:00|2.0", "2026-01-01 12:25:00|2.0"}));
  EXPECT_EQ(Rows(*runner, "SELECT count(*) FROM gold_revenue_late"), (std::vector<std::string>{"0"}));
  // Sessions with a 10-minute gap: UK's 12:00, 12:00 and 12:05 rows form one session.
  EXPECT_EQ(Rows(*runner, "SELECT s, e, lines FROM sessions WHERE Country = 'UK' ORDER BY s"),
            (std::vector<std::string>{"2026-01-01 12:00:00|2026-01-01 12:15:00|2",
                                      "2026-01-01 12:25:00|2026-01-01 12:35:00|1"}));
}

}  // namespace
}  // namespace lakepipe::runtime
