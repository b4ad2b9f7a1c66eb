// Aggregates and grouping at the query level: each aggregate and grouping form of
// docs/functions.md run through the whole query path and through DuckDB over the same
// CSV (read in file order, one thread, so that first/last/collect_list have the same
// input order); approximate aggregates checked against their error bounds; and
// materialized views using them equal to their recomputation after several batches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "generator/domain.h"
#include "runtime/csv_table_query_test.h"
#include "testing/differential.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

class AggregateQueryTest : public CsvTableQueryTest {
 protected:
  static void SetUpTestSuite() {
    Load(
        "orders",
        [](const std::string& path) -> Status {
          LP_ASSIGN_OR_RETURN(auto domain, generator::MakeDomain("orders"));
          return generator::GenerateToFile(FileSystem::Default(), *domain, 17, 6000, path);
        },
        kOrdersCsvSchema,
        [](const std::string& csv) {
          return "SET threads = 1; CREATE TEMP VIEW orders AS SELECT row_number() OVER () AS rn, TransactionNo, "
                 "Date, ProductNo, ProductName, TRY_CAST(Price AS DOUBLE) AS Price, TRY_CAST(Quantity AS INTEGER) "
                 "AS Quantity, CustomerNo, Country FROM read_csv('" + csv +
                 "', header = true, all_varchar = true, null_padding = true); ";
        });
  }
};

using Case = testing::DifferentialCase;

TEST_F(AggregateQueryTest, EachAggregateEqualsDuckDB) {
  ASSERT_NE(runner_, nullptr);
  const std::vector<Case> corpus = {
      {"count_if", "SELECT Country, count_if(Quantity > 10) AS n FROM orders GROUP BY Country", ""},
      {"max_by and min_by",
       "SELECT Country, max_by(lower(ProductNo), ProductNo) AS hi, min_by(lower(ProductNo), ProductNo) AS lo FROM orders GROUP BY Country",
       ""},
      {"first and last, with and without ignoreNulls",
       "SELECT Country, first(Quantity) AS f, first(CustomerNo, true) AS fc, last(ProductNo) AS l, "
       "last(CustomerNo, true) AS lc, any_value(TransactionNo) AS a FROM orders GROUP BY Country",
       "SELECT Country, first(Quantity ORDER BY rn) AS f, first(CustomerNo ORDER BY rn) FILTER (WHERE CustomerNo IS NOT NULL) AS fc, "
       "last(ProductNo ORDER BY rn) AS l, last(CustomerNo ORDER BY rn) FILTER (WHERE CustomerNo IS NOT NULL) AS lc, "
       "first(TransactionNo ORDER BY rn) AS a FROM orders GROUP BY Country"},
      {"collect_list in input order",
       "SELECT CustomerNo, collect_list(Quantity) AS q FROM orders WHERE CustomerNo LIKE '1%' GROUP BY CustomerNo",
       "SELECT CustomerNo, coalesce(list(Quantity ORDER BY rn) FILTER (WHERE Quantity IS NOT NULL), []) AS q FROM orders "
       "WHERE CustomerNo LIKE '1%' GROUP BY CustomerNo"},
      {"collect_set, sorted",
       "SELECT Country, collect_set(Quantity % 5) AS s FROM orders GROUP BY Country",
       "SELECT Country, coalesce(list_sort(list(DISTINCT Quantity % 5) FILTER (WHERE Quantity IS NOT NULL)), []) AS s "
       "FROM orders GROUP BY Country"},
      {"stddev and variance",
       "SELECT Country, stddev(Price) AS a, stddev_samp(Quantity) AS b, stddev_pop(Price) AS c, variance(Quantity) AS d, "
       "var_samp(Price) AS e, var_pop(Quantity) AS f, std(Price) AS g FROM orders GROUP BY Country",
       "SELECT Country, stddev(Price) AS a, stddev_samp(Quantity) AS b, stddev_pop(Price) AS c, variance(Quantity) AS d, "
       "var_samp(Price) AS e, var_pop(Quantity) AS f, stddev_samp(Price) AS g FROM orders GROUP BY Country"},
      {"percentile",
       "SELECT Country, percentile(Price, 0.5) AS m, percentile(Quantity, 0.9) AS p FROM orders GROUP BY Country",
       "SELECT Country, quantile_cont(Price, 0.5) AS m, quantile_cont(Quantity, 0.9) AS p FROM orders GROUP BY Country"},
      {"FILTER (WHERE ...)",
       "SELECT Country, count(*) FILTER (WHERE Price > 2) AS n, sum(Quantity) FILTER (WHERE Price > 2) AS q, "
       "count(DISTINCT CustomerNo) FILTER (WHERE Quantity > 5) AS c FROM orders GROUP BY Country",
       ""},
      {"global aggregate with FILTER",
       "SELECT count_if(Price > 3) AS a, max(Quantity) FILTER (WHERE Country = 'France') AS b, stddev(Quantity) AS c FROM orders",
       ""},
      {"GROUP BY ALL",
       "SELECT Country, Quantity > 10 AS big, count(*) AS n, sum(Price) AS p FROM orders GROUP BY ALL",
       ""},
      {"ROLLUP with grouping()",
       "SELECT Country, Quantity > 10 AS big, grouping(Country) AS gc, count(*) AS n, sum(Quantity) AS q FROM orders "
       "GROUP BY ROLLUP(Country, Quantity > 10)",
       ""},
      {"CUBE with grouping_id()",
       "SELECT Country, CustomerNo IS NULL AS guest, grouping_id() AS g, grouping_id(Country) AS g1, count(*) AS n FROM orders "
       "GROUP BY CUBE(Country, CustomerNo IS NULL)",
       "SELECT Country, CustomerNo IS NULL AS guest, grouping_id(Country, CustomerNo IS NULL) AS g, grouping_id(Country) AS g1, "
       "count(*) AS n FROM orders GROUP BY CUBE(Country, CustomerNo IS NULL)"},
      {"GROUPING SETS with HAVING",
       "SELECT Country, ProductNo, count(*) AS n FROM orders GROUP BY GROUPING SETS ((Country), (ProductNo), ()) "
       "HAVING count(*) > 20",
       ""},
      {"a key and a ROLLUP",
       "SELECT Country, Quantity > 10 AS big, CustomerNo IS NULL AS guest, count(*) AS n FROM orders "
       "GROUP BY Country, ROLLUP(Quantity > 10, CustomerNo IS NULL)",
       ""},
  };
  Differential().ExpectCorpusEqual(corpus);
}

TEST_F(AggregateQueryTest, ApproximateAggregatesAreWithinTheirBoundsAndDeterministic) {
  ASSERT_NE(runner_, nullptr);
  const std::string approx =
      "SELECT Country, approx_count_distinct(CustomerNo) AS c, approx_count_distinct(ProductNo, 0.01) AS p, "
      "percentile_approx(Price, 0.5, 100) AS m, approx_percentile(Quantity, 0.9) AS q FROM orders GROUP BY Country";
  auto first = Ours(approx);
  ASSERT_GT(first.size(), 10u);
  EXPECT_EQ(Ours(approx), first);  // the same answer every time
  auto result = runner_->Query(approx);
  ASSERT_TRUE(result.ok());
  auto exact = Duck("SELECT Country, count(DISTINCT CustomerNo) AS c, count(DISTINCT ProductNo) AS p, "
                    "count(Price) AS np, count(Quantity) AS nq FROM orders GROUP BY Country");
  std::map<std::string, std::vector<double>> truth;
  for (const auto& row : exact) {
    std::vector<std::string> f;
    std::stringstream ss(row);
    std::string x;
    while (std::getline(ss, x, '|')) f.push_back(x);
    truth[f[0]] = {std::stod(f[1]), std::stod(f[2]), std::stod(f[3]), std::stod(f[4])};
  }
  int checked = 0;
  for (const auto& b : result->batches) {
    for (int64_t r = 0; r < b.num_rows(); ++r) {
      std::string country = testing::CanonicalValue(b.column(0).GetValue(r));
      ASSERT_TRUE(truth.count(country)) << country;
      const auto& t = truth[country];
      double c = static_cast<double>(b.column(1).GetValue(r).int_value());
      double p = static_cast<double>(b.column(2).GetValue(r).int_value());
      EXPECT_NEAR(c, t[0], std::max(1.0, 0.15 * t[0])) << country;  // relativeSD 0.05: three deviations
      EXPECT_NEAR(p, t[1], std::max(1.0, 0.03 * t[1])) << country;
      // percentile_approx: the rank of the answer is within n / accuracy of p * n.
      Value m = b.column(3).GetValue(r);
      if (m.is_null() || checked >= 12) continue;  // one DuckDB run per country: a sample
      auto ranks = Duck("SELECT count(*) FILTER (WHERE Price < " + m.ToString() + ") AS lt, count(*) FILTER (WHERE Price <= " +
                        m.ToString() + ") AS le FROM orders WHERE Country IS NOT DISTINCT FROM " +
                        (country == "NULL" ? std::string("NULL") : "'" + country + "'"));
      ASSERT_EQ(ranks.size(), 1u);
      double lt = std::stod(ranks[0].substr(0, ranks[0].find('|')));
      double le = std::stod(ranks[0].substr(ranks[0].find('|') + 1));
      double target = 0.5 * t[2], slack = t[2] / 100 + 1;
      EXPECT_LE(lt, target + slack) << country;
      EXPECT_GE(le, target - slack) << country;
      ++checked;
    }
  }
  EXPECT_GT(checked, 10);
}

TEST_F(AggregateQueryTest, RefusalsNameTheReason) {
  ASSERT_NE(runner_, nullptr);
  struct Refusal {
    std::string sql, message;
  };
  std::vector<Refusal> refusals = {
      {"SELECT median(Price) FROM orders", "not built yet: aggregate function `median`"},
      {"SELECT percentile(Price, 2) FROM orders", "between 0.0 and 1.0"},
      {"SELECT Country, count(*) FROM orders GROUP BY GROUPING SETS ((Country), (Country))", "listed twice"},
      {"SELECT grouping(Price) FROM orders GROUP BY Country", "is not a GROUP BY expression"},
      {"SELECT Country FROM orders WHERE grouping(Country) = 0", "not allowed in WHERE"},
      {"SELECT upper(Country) FILTER (WHERE Price > 1) FROM orders", "only allowed on aggregate functions"},
  };
  for (const auto& r : refusals) {
    auto result = runner_->Query(r.sql);
    ASSERT_FALSE(result.ok()) << r.sql;
    EXPECT_NE(result.status().message().find(r.message), std::string::npos) << r.sql << "\n" << result.status().ToString();
  }
}

// A materialized view with the new aggregates and ROLLUP, maintained incrementally over
// several batches, equals the same query recomputed; a view with an order-sensitive
// aggregate is recomputed and says why.
TEST(AggregateViewTest, IncrementalViewEqualsRecompute) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  std::string landing = dir.Join("landing");
  ASSERT_TRUE(fs->CreateDirs(landing).ok());
  std::string folder = dir.Join("pipeline");
  ASSERT_TRUE(fs->CreateDirs(folder).ok());
  ASSERT_TRUE(fs->WriteFile(folder + "/pipeline.yaml",
                            "name: aggview\nstorage: " + dir.Join("storage") + "\nconfiguration:\n  landing: " + landing + "\n")
                  .ok());
  const std::string stats_query =
      "SELECT Country, Quantity > 10 AS big, count_if(Price > 2) AS pricey, stddev(Price) AS sd, var_pop(Quantity) AS vq, "
      "percentile(Price, 0.5) AS med, percentile_approx(Quantity, 0.9) AS p90, approx_count_distinct(CustomerNo) AS customers, "
      "collect_set(Quantity % 4) AS mods, sum(Quantity) FILTER (WHERE Price > 2) AS q, grouping_id() AS g "
      "FROM orders GROUP BY ROLLUP(Country, Quantity > 10)";
  const std::string ordered_query = "SELECT Country, first(ProductNo) AS f, collect_list(Quantity) AS l FROM orders GROUP BY Country";
  ASSERT_TRUE(fs->WriteFile(folder + "/p.sql",
                            "CREATE OR REFRESH STREAMING TABLE orders AS SELECT * EXCEPT (_rescued_data) "
                            "FROM STREAM read_files('${landing}', format => 'csv', header => true, schema => "
                            "'TransactionNo STRING, Date STRING, ProductNo STRING, ProductName STRING, "
                            "Price DOUBLE, Quantity INT, CustomerNo STRING, Country STRING');\n"
                            "CREATE OR REFRESH MATERIALIZED VIEW stats AS " + stats_query + ";\n"
                            "CREATE OR REFRESH MATERIALIZED VIEW ordered AS " + ordered_query + ";\n")
                  .ok());
  auto domain = generator::MakeDomain("orders");
  ASSERT_TRUE(domain.ok());
  auto runner = PipelineRunner::Open(folder, {});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  auto rows = [&](const std::string& sql) {
    auto r = (*runner)->Query(sql);
    EXPECT_TRUE(r.ok()) << sql << "\n" << r.status().ToString();
    return r.ok() ? testing::CanonicalRows(r->batches) : std::vector<std::string>{};
  };
  for (int batch = 0; batch < 4; ++batch) {
    ASSERT_TRUE(generator::GenerateToFile(fs, **domain, 100 + static_cast<uint64_t>(batch), 700 + 300 * batch,
                                          landing + "/orders-" + std::to_string(batch) + ".csv")
                    .ok());
    auto update = (*runner)->RunOnce({});
    ASSERT_TRUE(update.ok()) << update.status().ToString();
    for (const auto& t : update->tables) {
      ASSERT_NE(t.status, "failed") << t.table << ": " << t.message;
      if (t.table == "stats") {
        EXPECT_EQ(t.technique, batch == 0 ? "incremental (initial)" : "incremental");
      }
      if (t.table == "ordered") {
        EXPECT_EQ(t.technique, "complete recompute");
        EXPECT_NE(t.message.find("depends on the order of the rows"), std::string::npos) << t.message;
      }
    }
    SCOPED_TRACE("after batch " + std::to_string(batch));
    auto view = rows("SELECT * FROM stats");
    ASSERT_GT(view.size(), 20u);
    EXPECT_EQ(view, rows(stats_query));
    EXPECT_EQ(rows("SELECT * FROM ordered"), rows(ordered_query));
  }
}

}  // namespace
}  // namespace lakepipe::runtime
