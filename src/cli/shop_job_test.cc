// examples/shop/jobs.yaml, seed 002's job, on a real PostgreSQL: generator -> the shop
// pipeline over files -> the order lines into the PostgreSQL outbox -> the CDC pipeline
// (examples/shop-postgres) -> the Gold views published as files; then the nightly
// OPTIMIZE/VACUUM job. Both pipelines must give the same Bronze order lines and Gold, the
// exported files must hold the Gold rows, and the history must record every task.
#include <filesystem>
#include <fstream>

#include "cli/cli_test_util.h"
#include "cli/pg_cdc_test_util.h"

namespace lakepipe {
namespace {

using Json = nlohmann::json;

class ShopJobTest : public PgCdcTest {};

Json Query(const std::string& example, const std::string& storage, const std::string& sql) {
  std::string out = Lakepipe("query " + Quote(testing::SourceDir() + "/examples/" + example) + " --set storage=" +
                             Quote(storage) + " --format jsonl " + Quote(sql));
  auto rows = JsonLines(out);
  return rows.empty() ? Json() : Json(rows);
}

TEST_F(ShopJobTest, Seed002JobThenNightlyMaintenance) {
  std::string jobs = testing::SourceDir() + "/examples/shop/jobs.yaml";
  std::string lake = dir_.Join("lake"), cdc = dir_.Join("cdc"), exports = dir_.Join("exports");
  std::string common = " --storage " + Quote(dir_.Join("jobs"));
  std::string out = Lakepipe("job run " + Quote(jobs) + " seed002" + common + " --param landing=" +
                             Quote(dir_.Join("landing")) + " --param lake=" + Quote(lake) + " --param cdc_lake=" +
                             Quote(cdc) + " --param exports=" + Quote(exports) + " --param days=2" +
                             " --param postgres_dsn=" + Quote(uri_));
  EXPECT_NE(out.find("update_shop_cdc: succeeded"), std::string::npos) << out;

  // The same order lines and the same Gold, whether they came as files or through the outbox.
  const std::string lines = "SELECT count(*) AS n, sum(quantity) AS q FROM bronze_orders";
  Json files_lines = Query("shop", lake, lines), cdc_lines = Query("shop-postgres", cdc, lines);
  ASSERT_TRUE(files_lines.is_array()) << out;
  EXPECT_GT(files_lines[0]["n"].get<int64_t>(), 100);
  EXPECT_EQ(files_lines, cdc_lines);
  const std::string gold = "SELECT date, channel, revenue, orders FROM gold_sales_by_channel_day ORDER BY date, channel";
  Json files_gold = Query("shop", lake, gold);
  ASSERT_TRUE(files_gold.is_array());
  EXPECT_EQ(files_gold, Query("shop-postgres", cdc, gold));

  // publish_gold wrote one CSV per day holding the Gold rows.
  size_t exported = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(exports + "/sales_by_channel_day")) {
    if (e.path().extension() != ".csv") continue;
    std::ifstream in(e.path());
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) exported += !line.empty();
  }
  EXPECT_EQ(exported, files_gold.size());

  Json history = Json::parse(Lakepipe("job history " + Quote(jobs) + common + " --json"));
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0]["state"], "succeeded");
  std::vector<std::string> tasks;
  for (const auto& t : history[0]["tasks"]) {
    EXPECT_EQ(t["state"], "succeeded") << t.dump();
    tasks.push_back(t["task"]);
  }
  std::sort(tasks.begin(), tasks.end());
  EXPECT_EQ(tasks, (std::vector<std::string>{"generate_shop", "produce_orders", "publish_gold", "update_shop",
                                             "update_shop_cdc"}));

  std::string nightly = Lakepipe("job run " + Quote(jobs) + " nightly" + common + " --param lake=" + Quote(lake));
  EXPECT_NE(nightly.find("vacuum_events: succeeded"), std::string::npos) << nightly;
  EXPECT_EQ(Query("shop", lake, lines), files_lines);  // OPTIMIZE changed no row
}

}  // namespace
}  // namespace lakepipe
