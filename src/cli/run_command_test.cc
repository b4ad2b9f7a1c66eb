// Runs the built `lakepipe` binary on the orders example: validate, graph, run --once,
// query, and their error lines.
#include <gtest/gtest.h>

#include <string>

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
  out = Lakepipe("graph " + Example() + sets_);
  EXPECT_NE(out.find("silver_orders (streaming table) <- STREAM bronze_orders"), std::string::npos) << out;
  out = Lakepipe("graph " + Example() + " --format dot");
  EXPECT_EQ(out.rfind("digraph", 0), 0u) << out;
  EXPECT_NE(out.find("silver_orders"), std::string::npos);
  EXPECT_NE(out.find("->"), std::string::npos);
}

TEST_F(RunCommandTest, RunOnceThenQueryInEveryFormat) {
  std::string out = Lakepipe("run " + Example() + " --once" + sets_);
  EXPECT_NE(out.find("bronze_orders (streaming table): updated, 3000 rows written"), std::string::npos) << out;
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
  ExpectOneErrorLine(LakepipeFails("run " + Example() + sets_), "continuous mode is not built yet");
  ExpectOneErrorLine(LakepipeFails("run " + dir_.Join("nowhere") + " --once"), "nowhere");
  ExpectOneErrorLine(LakepipeFails("run " + Example() + " --once --full-refresh nope" + sets_), "nope");
  ExpectOneErrorLine(LakepipeFails("query " + Example() + sets_ + " " + Quote("SELECT * FROM gold_kpis")),
                     "run the pipeline first");
  Lakepipe("run " + Example() + " --once" + sets_);
  ExpectOneErrorLine(LakepipeFails("query " + Example() + sets_ + " " + Quote("SELECT nope FROM bronze_orders")),
                     "<query>:1:8");
  ExpectOneErrorLine(LakepipeFails("run " + Example() + " --once --set oops" + sets_), "oops");
}

}  // namespace
}  // namespace lakepipe
