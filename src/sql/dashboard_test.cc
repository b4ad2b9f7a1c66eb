// The `dashboard:` section: parsing (keys, values, key paths in messages) and planning
// against a real pipeline folder (tables, columns, types that fit the chart).
#include "sql/dashboard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sql/pipeline.h"
#include "sql/resolve.h"
#include "testing/testing.h"

namespace lakepipe::sql {
namespace {

using ::testing::HasSubstr;

constexpr const char* kSql =
    "CREATE OR REFRESH STREAMING TABLE bronze_sales AS SELECT * FROM STREAM read_files('/in', format => 'csv', "
    "schema => 'day DATE, country STRING, amount DOUBLE, qty INT');\n"
    "CREATE VIEW recent AS SELECT * FROM bronze_sales WHERE day >= DATE'2020-01-01';\n"
    "CREATE OR REFRESH MATERIALIZED VIEW gold_by_country COMMENT 'per country' AS\n"
    "  SELECT country, sum(amount) AS revenue, count(*) AS n FROM recent GROUP BY country;\n"
    "CREATE OR REFRESH MATERIALIZED VIEW gold_total AS SELECT sum(amount) AS revenue FROM bronze_sales;\n";

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = FileSystem::Default();
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p.sql"), kSql).ok());
  }
  // Loads and resolves the folder with `yaml` after the first line of its pipeline.yaml
  // (`name:`), so that line N of `yaml` is line N + 1 in messages.
  Result<ResolvedPipeline> Load(const std::string& yaml) {
    LP_RETURN_IF_ERROR(fs_->WriteFile(dir_.Join("pipeline.yaml"), "name: sales\n" + yaml));
    LP_ASSIGN_OR_RETURN(Pipeline p, LoadPipeline(dir_.path(), {}, fs_));
    return ResolvePipeline(p);
  }
  // `yaml` is refused with a message holding `position` and every one of `words`.
  void ExpectError(const std::string& yaml, const std::string& position, const std::vector<std::string>& words) {
    auto r = Load(yaml);
    ASSERT_FALSE(r.ok()) << yaml;
    EXPECT_THAT(r.status().message(), HasSubstr(position)) << r.status().ToString();
    for (const auto& w : words) EXPECT_THAT(r.status().message(), HasSubstr(w)) << r.status().ToString();
  }
  testing::TempDir dir_;
  FileSystem* fs_ = nullptr;
};

TEST_F(DashboardTest, DeclaredChartsArePlannedWithTheirColumnsAndTables) {
  auto r = Load(
      "dashboard:\n"
      "  title: Sales\n"
      "  charts:\n"
      "    - {id: total, title: Total, type: kpi, sql: SELECT revenue FROM gold_total, format: money}\n"
      "    - id: by-country\n"
      "      title: By country\n"
      "      type: bar\n"
      "      sql: SELECT country, revenue, n FROM gold_by_country ORDER BY revenue DESC\n"
      "      x: country\n"
      "      y: [{column: revenue, title: Revenue, format: money}, n]\n"
      "      limit: 12\n"
      "      tooltip: n\n"
      "      refresh: 30s\n"
      "    - {id: daily, type: line, sql: 'SELECT day, sum(amount) AS amount FROM recent GROUP BY day',\n"
      "       moving_average: 7}\n"
      "    - {id: rows, type: table, sql: SELECT * FROM gold_by_country, columns: [n, country]}\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ResolvedDashboard& d = r->dashboard;
  EXPECT_TRUE(d.declared);
  EXPECT_EQ(d.title, "Sales");
  ASSERT_EQ(d.charts.size(), 4u);
  const ResolvedChart& total = d.charts[0];
  EXPECT_EQ(total.spec.type, ChartType::kKpi);
  EXPECT_EQ(total.spec.value, "revenue");  // the only column
  EXPECT_EQ(total.spec.format, "money");
  EXPECT_EQ(total.spec.limit, 1);
  EXPECT_EQ(total.tables, std::vector<std::string>{"gold_total"});

  const ResolvedChart& bar = *d.Find("by-country");
  EXPECT_EQ(bar.spec.title, "By country");
  EXPECT_EQ(bar.spec.x, "country");
  ASSERT_EQ(bar.spec.y.size(), 2u);
  EXPECT_EQ(bar.spec.y[0].title, "Revenue");
  EXPECT_EQ(bar.spec.y[1].column, "n");
  EXPECT_EQ(bar.spec.y[1].title, "n");
  EXPECT_EQ(bar.spec.y[1].format, "number");
  EXPECT_EQ(bar.spec.limit, 12);
  EXPECT_EQ(bar.spec.refresh_micros, 30000000);
  EXPECT_EQ(bar.spec.width, 6);
  EXPECT_EQ(bar.columns.names(), (std::vector<std::string>{"country", "revenue", "n"}));
  EXPECT_EQ(bar.columns.field(2).type.ToString(), "bigint");

  // Two columns: x and y by position. A view is followed to the stored table under it.
  const ResolvedChart& line = *d.Find("daily");
  EXPECT_EQ(line.spec.title, "daily");
  EXPECT_EQ(line.spec.x, "day");
  ASSERT_EQ(line.spec.y.size(), 1u);
  EXPECT_EQ(line.spec.y[0].column, "amount");
  EXPECT_EQ(line.spec.moving_average, 7);
  EXPECT_EQ(line.spec.moving_average_title, "7-point average");
  EXPECT_EQ(line.tables, std::vector<std::string>{"bronze_sales"});

  const ResolvedChart& table = *d.Find("rows");
  EXPECT_EQ(table.spec.columns, (std::vector<std::string>{"n", "country"}));
  EXPECT_EQ(table.spec.width, 12);
  EXPECT_EQ(table.spec.limit, 100);
  EXPECT_EQ(d.Find("nope"), nullptr);
}

TEST_F(DashboardTest, WithoutADashboardEachGoldTableIsATable) {
  auto r = Load("");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ResolvedDashboard& d = r->dashboard;
  EXPECT_FALSE(d.declared);
  EXPECT_EQ(d.title, "sales");
  ASSERT_EQ(d.charts.size(), 2u);
  std::vector<std::string> ids = {d.charts[0].spec.id, d.charts[1].spec.id};
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"gold_by_country", "gold_total"}));
  const ResolvedChart& c = *d.Find("gold_by_country");
  EXPECT_EQ(c.spec.type, ChartType::kTable);
  EXPECT_EQ(c.spec.subtitle, "per country");
  EXPECT_EQ(c.spec.columns, (std::vector<std::string>{"country", "revenue", "n"}));
  EXPECT_EQ(c.tables, std::vector<std::string>{"gold_by_country"});
  EXPECT_EQ(c.spec.sql, "SELECT * FROM gold_by_country");
}

TEST_F(DashboardTest, ADashboardFileIsReadBesidePipelineYaml) {
  ASSERT_TRUE(fs_->WriteFile(dir_.Join("dash.yaml"),
                             "title: From a file\ncharts:\n  - {id: t, type: table, sql: SELECT * FROM gold_total}\n"
                             "  - {id: k, type: kpi, sql: SELECT revenue FROM gold_total, colour: red}\n").ok());
  ExpectError("dashboard: dash.yaml\n", "dash.yaml:4:", {"unknown key `colour` in dashboard.charts[1]", "known keys of a kpi chart"});
  ASSERT_TRUE(fs_->WriteFile(dir_.Join("dash.yaml"),
                             "title: From a file\ncharts:\n  - {id: t, type: table, sql: SELECT * FROM gold_total}\n").ok());
  auto r = Load("dashboard: dash.yaml\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->dashboard.title, "From a file");
  ExpectError("dashboard: missing.yaml\n", "pipeline.yaml:2:12", {"dashboard: cannot read `missing.yaml`"});
}

TEST_F(DashboardTest, BadDeclarationsNameTheirKeyPath) {
  // Keys and values.
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: pie, sql: SELECT 1}\n", "pipeline.yaml:4:",
              {"dashboard.charts[0].type: `pie` is not one of kpi, bar, line, table"});
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: table, sql: SELECT * FROM gold_total, x: country}\n",
              "pipeline.yaml:4:", {"unknown key `x` in dashboard.charts[0]", "known keys of a table chart"});
  ExpectError("dashboard:\n  title: x\n  colour: red\n  charts: []\n", "pipeline.yaml:4:3", {"unknown key `colour` in dashboard"});
  ExpectError("dashboard:\n  charts: []\n", "pipeline.yaml:3:", {"dashboard needs charts"});
  ExpectError("dashboard:\n  charts:\n    - {type: kpi, sql: SELECT 1}\n", "pipeline.yaml:4:", {"dashboard.charts[0] needs id:"});
  ExpectError("dashboard:\n  charts:\n    - {id: 'a b', type: kpi, sql: SELECT 1}\n", "pipeline.yaml:4:",
              {"dashboard.charts[0].id: `a b` must be"});
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: table, sql: SELECT * FROM gold_total}\n"
              "    - {id: a, type: table, sql: SELECT * FROM gold_total}\n",
              "pipeline.yaml:5:", {"dashboard.charts[1].id: `a` is used twice"});
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: table, sql: SELECT * FROM gold_total, limit: 0}\n",
              "pipeline.yaml:4:", {"dashboard.charts[0].limit must be a whole number from 1 to 10000"});
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: kpi, sql: SELECT revenue FROM gold_total, format: euro}\n",
              "pipeline.yaml:4:", {"dashboard.charts[0].format: `euro` is not one of number, integer, money"});
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: table, sql: SELECT * FROM gold_total, refresh: 10ms}\n",
              "pipeline.yaml:4:", {"dashboard.charts[0].refresh"});

  // Tables and columns, planned against the pipeline.
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: table, sql: SELECT * FROM gold_nope}\n", "pipeline.yaml:4:",
              {"dashboard.charts[0] (a).sql:", "unknown table `gold_nope`", "gold_by_country"});
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: table, sql: SELECT revenu FROM gold_total}\n", "pipeline.yaml:4:",
              {"dashboard.charts[0] (a).sql:", "revenu"});
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: bar, sql: 'SELECT country, revenue FROM gold_by_country', "
              "x: country, y: revenu}\n",
              "pipeline.yaml:4:", {"dashboard.charts[0] (a).y: `revenu` is not a column of the chart's query", "country, revenue"});
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: table, sql: SELECT * FROM gold_total, columns: [x]}\n",
              "pipeline.yaml:4:", {"dashboard.charts[0] (a).columns: `x` is not a column"});
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: kpi, sql: SELECT revenue FROM gold_total, note: '{nope|money}'}\n",
              "pipeline.yaml:4:", {"dashboard.charts[0] (a).note: `nope` is not a column"});

  // A type that does not fit the query's columns.
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: bar, sql: 'SELECT revenue, country FROM gold_by_country'}\n",
              "pipeline.yaml:4:", {"dashboard.charts[0] (a).y: column `country` is string", "draws numbers"});
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: kpi, sql: 'SELECT country, revenue FROM gold_by_country'}\n",
              "pipeline.yaml:4:", {"dashboard.charts[0] (a) needs value:", "2 columns: country, revenue"});
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: kpi, sql: SELECT country FROM gold_by_country, format: money}\n",
              "pipeline.yaml:4:", {"(a).value: column `country` is string"});
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: line, sql: 'SELECT country, revenue, n FROM gold_by_country'}\n",
              "pipeline.yaml:4:", {"dashboard.charts[0] (a) needs x:"});
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: table, sql: SELECT * FROM STREAM(bronze_sales)}\n",
              "pipeline.yaml:4:", {"dashboard.charts[0] (a).sql:", "drop STREAM"});
  ExpectError("dashboard:\n  charts:\n    - {id: a, type: table, sql: \"SELECT * FROM read_files('/x', format => 'csv', "
              "schema => 'a INT')\"}\n",
              "pipeline.yaml:4:", {"not read_files"});
}

}  // namespace
}  // namespace lakepipe::sql
