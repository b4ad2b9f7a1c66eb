// Column lineage of examples/orders against a map checked by hand from its SQL files.
#include "governance/lineage.h"

#include <gtest/gtest.h>

#include <map>

#include "testing/testing.h"

namespace lakepipe::governance {
namespace {

struct Loaded {
  std::vector<ColumnLineage> lineage;
  std::string landing;
};

Loaded LoadOrders() {
  Loaded out;
  out.landing = "/landing/orders";
  auto pipeline = sql::LoadPipeline(testing::SourceDir() + "/examples/orders", {{"landing", out.landing}});
  EXPECT_TRUE(pipeline.ok()) << pipeline.status().ToString();
  if (!pipeline.ok()) return out;
  auto resolved = sql::ResolvePipeline(*pipeline);
  EXPECT_TRUE(resolved.ok()) << resolved.status().ToString();
  if (!resolved.ok()) return out;
  out.lineage = PipelineColumnLineage(*resolved);
  return out;
}

std::map<std::string, std::set<std::string>> AsMap(const std::vector<ColumnLineage>& lineage, const std::string& prefix) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& c : lineage) {
    if (c.column.table.rfind(prefix, 0) != 0) continue;
    auto& s = out[c.column.ToString()];
    for (const auto& r : c.sources) s.insert(r.ToString());
  }
  return out;
}

TEST(ColumnLineage, OrdersGoldColumnsMatchTheHandCheckedMap) {
  Loaded orders = LoadOrders();
  ASSERT_FALSE(orders.lineage.empty());
  // From gold.sql: every Gold column and the Silver columns its value is computed from;
  // COUNT(*) depends on the rows of silver_orders (`silver_orders.*`).
  const std::map<std::string, std::set<std::string>> expected = {
      {"gold_revenue_by_country.Country", {"silver_orders.Country"}},
      {"gold_revenue_by_country.total_revenue", {"silver_orders.line_total"}},
      {"gold_revenue_by_country.order_lines", {"silver_orders.*"}},
      {"gold_revenue_by_country.orders", {"silver_orders.TransactionNo"}},
      {"gold_revenue_by_country.customers", {"silver_orders.CustomerNo"}},
      {"gold_top_products.ProductNo", {"silver_orders.ProductNo"}},
      {"gold_top_products.ProductName", {"silver_orders.ProductName"}},
      {"gold_top_products.units", {"silver_orders.Quantity"}},
      {"gold_top_products.revenue", {"silver_orders.line_total"}},
      {"gold_daily_revenue.OrderDate", {"silver_orders.OrderDate"}},
      {"gold_daily_revenue.revenue", {"silver_orders.line_total"}},
      {"gold_daily_revenue.orders", {"silver_orders.TransactionNo"}},
      {"gold_daily_revenue.order_lines", {"silver_orders.*"}},
      {"gold_kpis.total_revenue", {"silver_orders.line_total"}},
      {"gold_kpis.orders", {"silver_orders.TransactionNo"}},
      {"gold_kpis.customers", {"silver_orders.CustomerNo"}},
      {"gold_kpis.average_order_value", {"silver_orders.line_total", "silver_orders.TransactionNo"}},
  };
  EXPECT_EQ(AsMap(orders.lineage, "gold_"), expected);

  // Silver from Bronze (silver.sql): through the DISTINCT subquery, the filter on
  // CustomerNo is not a source of any column.
  auto silver = AsMap(orders.lineage, "silver_orders");
  EXPECT_EQ(silver["silver_orders.line_total"], (std::set<std::string>{"bronze_orders.Price", "bronze_orders.Quantity"}));
  EXPECT_EQ(silver["silver_orders.OrderDate"], (std::set<std::string>{"bronze_orders.Date"}));
  EXPECT_EQ(silver["silver_orders.CustomerNo"], (std::set<std::string>{"bronze_orders.CustomerNo"}));
  // Bronze from the landing files; ingestion_time (current_timestamp()) from nothing.
  auto bronze = AsMap(orders.lineage, "bronze_orders");
  std::string files = "files:" + orders.landing;
  EXPECT_EQ(bronze["bronze_orders.Price"], (std::set<std::string>{files + ".Price"}));
  EXPECT_TRUE(bronze["bronze_orders.ingestion_time"].empty());
}

TEST(ColumnLineage, AGoldColumnsPathLeadsToTheLandingFiles) {
  Loaded orders = LoadOrders();
  auto edges = UpstreamEdges(orders.lineage, {"gold_kpis", "average_order_value"});
  std::set<std::string> got;
  for (const auto& [from, to] : edges) got.insert(from.ToString() + " -> " + to.ToString());
  std::string files = "files:" + orders.landing;
  const std::set<std::string> expected = {
      "silver_orders.line_total -> gold_kpis.average_order_value",
      "silver_orders.TransactionNo -> gold_kpis.average_order_value",
      "bronze_orders.Price -> silver_orders.line_total",
      "bronze_orders.Quantity -> silver_orders.line_total",
      "bronze_orders.TransactionNo -> silver_orders.TransactionNo",
      files + ".Price -> bronze_orders.Price",
      files + ".Quantity -> bronze_orders.Quantity",
      files + ".TransactionNo -> bronze_orders.TransactionNo",
  };
  EXPECT_EQ(got, expected);
  EXPECT_TRUE(UpstreamEdges(orders.lineage, {"gold_kpis", "nope"}).empty());
  std::string dot = LineageToDot("orders", edges);
  EXPECT_EQ(dot.rfind("digraph", 0), 0u);
  EXPECT_NE(dot.find("\"bronze_orders.Price\" -> \"silver_orders.line_total\""), std::string::npos) << dot;
}

}  // namespace
}  // namespace lakepipe::governance
