// The governance commands: `lakepipe lineage` (examples/orders' Gold column path in text
// and dot, errors naming the table's columns), `lakepipe token new/hash`, and `validate`
// checking governance: with file:line:col.
#include "cli/cli_test_util.h"
#include "common/fs.h"
#include "testing/example_copy.h"

namespace lakepipe {
namespace {

TEST(LineageCommandTest, PrintsAGoldColumnsPathAndEveryColumn) {
  testing::TempDir dir;
  std::string folder = Quote(testing::SourceDir() + "/examples/orders");
  std::string sets = " --set landing=/in --set storage=" + Quote(dir.Join("storage"));
  std::string path = Lakepipe("lineage " + folder + " gold_top_products.revenue" + sets);
  EXPECT_NE(path.find("silver_orders.line_total -> gold_top_products.revenue\n"), std::string::npos) << path;
  EXPECT_NE(path.find("bronze_orders.Quantity -> silver_orders.line_total\n"), std::string::npos) << path;
  EXPECT_NE(path.find("files:/in.Price -> bronze_orders.Price\n"), std::string::npos) << path;
  EXPECT_EQ(std::count(path.begin(), path.end(), '\n'), 5) << path;
  std::string dot = Lakepipe("lineage " + folder + " gold_top_products.revenue --format dot" + sets);
  EXPECT_EQ(dot.rfind("digraph", 0), 0u) << dot;
  EXPECT_NE(dot.find("\"silver_orders.line_total\" -> \"gold_top_products.revenue\""), std::string::npos) << dot;
  std::string all = Lakepipe("lineage " + folder + sets);
  EXPECT_NE(all.find("gold_kpis.average_order_value <- silver_orders.TransactionNo, silver_orders.line_total\n"),
            std::string::npos) << all;
  EXPECT_NE(all.find("bronze_orders.ingestion_time <- (none)\n"), std::string::npos) << all;
  ExpectOneErrorLine(LakepipeFails("lineage " + folder + " gold_kpis.revenue" + sets),
                     "`revenue` is not a column of gold_kpis; columns: total_revenue, orders");
}

TEST(GovernanceCommandTest, TokensHashesAndValidate) {
  std::string made = Lakepipe("token new");
  ASSERT_EQ(made.rfind("token:      lp_", 0), 0u) << made;
  std::string token = made.substr(12, made.find('\n') - 12);
  EXPECT_EQ(token.size(), 67u) << made;
  EXPECT_NE(made.find("token_hash: sha256:"), std::string::npos) << made;
  // A token from stdin; too short is refused.
  auto hashed = testing::RunCommand("printf '%s\\n' " + Quote(token) + " | " + Binary() + " token hash");
  ASSERT_TRUE(hashed.ok()) << hashed.status().message();
  EXPECT_EQ(hashed->rfind("sha256:", 0), 0u);
  EXPECT_EQ(hashed->find(token), std::string::npos);
  EXPECT_FALSE(testing::RunCommand("echo short | " + Binary() + " token hash").ok());

  // validate reads governance: and says what is wrong where.
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  std::string h = *hashed;
  while (!h.empty() && h.back() == '\n') h.pop_back();
  ASSERT_TRUE(testing::CopyOrdersExample(dir.path(), "governance:\n  principals:\n    - {name: alice, role: reader, token_hash: \"" +
                                                         h + "\"}\n  grants: grants.sql\n")
                  .ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("grants.sql"), "GRANT SELECT ON TABLE gold_kpis TO alice;\n").ok());
  std::string ok = Lakepipe("validate " + Quote(dir.path()) + " --set landing=/in");
  EXPECT_NE(ok.find("governance: 1 principals, 1 grants"), std::string::npos) << ok;
  ASSERT_TRUE(fs->WriteFile(dir.Join("grants.sql"), "\nGRANT SELECT ON TABLE gold_kpi TO alice;\n").ok());
  ExpectOneErrorLine(LakepipeFails("validate " + Quote(dir.path()) + " --set landing=/in"),
                     "grants.sql:2:17: `gold_kpi` is not a table of pipeline orders");
}

}  // namespace
}  // namespace lakepipe
