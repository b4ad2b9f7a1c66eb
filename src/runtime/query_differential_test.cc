// Differential test: a corpus of SELECT queries over generated order lines, run through
// lakepipe's whole query path (SQL front end, binder, vectorized operators, Delta scans)
// and through DuckDB over the same CSV; the rows must be equal. Values are compared in a
// canonical text form (numbers to 9 significant digits, so summation order does not
// matter), as sorted multisets (the corpus does not test ORDER BY ties).
#include <gtest/gtest.h>

#include "generator/domain.h"
#include "runtime/csv_table_query_test.h"
#include "testing/differential.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

using Case = testing::DifferentialCase;

class QueryDifferentialTest : public CsvTableQueryTest {
 protected:
  static void SetUpTestSuite() {
    Load(
        "orders",
        [](const std::string& path) -> Status {
          LP_ASSIGN_OR_RETURN(auto domain, generator::MakeDomain("orders"));
          return generator::GenerateToFile(FileSystem::Default(), *domain, 7, 8000, path);
        },
        kOrdersCsvSchema,
        // The same table in DuckDB: every field read as text, then cast as lakepipe's reader
        // does (a value that does not parse is NULL; a short line is padded with NULLs).
        [](const std::string& csv) {
          return "CREATE TEMP VIEW orders AS SELECT TransactionNo, Date, ProductNo, ProductName, "
                 "TRY_CAST(Price AS DOUBLE) AS Price, TRY_CAST(Quantity AS INTEGER) AS Quantity, "
                 "CustomerNo, Country FROM read_csv('" + csv +
                 "', header = true, all_varchar = true, null_padding = true); ";
        });
  }
};

TEST_F(QueryDifferentialTest, CorpusEqualsDuckDB) {
  ASSERT_NE(runner_, nullptr);
  const std::vector<Case> corpus = {
      {"group by with count and sum",
       "SELECT Country, count(*) AS n, sum(Quantity) AS q, count(Quantity) AS cq FROM orders GROUP BY Country", ""},
      {"filter, between, string functions",
       "SELECT upper(Country) AS u, length(ProductName) AS l, lower(ProductNo) AS p FROM orders "
       "WHERE Price BETWEEN 1 AND 2",
       ""},
      {"like and arithmetic",
       "SELECT TransactionNo, Price * Quantity AS total, Quantity - 1 AS q1 FROM orders WHERE TransactionNo LIKE 'C%'", ""},
      {"searched case in a subquery",
       "SELECT kind, count(*) AS n FROM (SELECT CASE WHEN Quantity > 10 THEN 'bulk' WHEN Quantity > 0 "
       "THEN 'retail' ELSE 'return' END AS kind FROM orders) AS k GROUP BY kind",
       ""},
      {"dates parsed with a Spark pattern",
       "SELECT year(to_date(Date, 'M/d/yyyy')) AS y, month(to_date(Date, 'M/d/yyyy')) AS m, "
       "count(DISTINCT CustomerNo) AS customers FROM orders GROUP BY year(to_date(Date, 'M/d/yyyy')), "
       "month(to_date(Date, 'M/d/yyyy'))",
       "SELECT year(strptime(Date, '%m/%d/%Y')) AS y, month(strptime(Date, '%m/%d/%Y')) AS m, "
       "count(DISTINCT CustomerNo) AS customers FROM orders GROUP BY 1, 2"},
      {"inner join on an aggregate",
       "SELECT o.TransactionNo, o.Country, c.n FROM orders o JOIN (SELECT Country, count(*) AS n FROM orders "
       "GROUP BY Country) c ON o.Country = c.Country WHERE o.Quantity > 40",
       ""},
      {"left join without matches",
       "SELECT o.Country, c.k FROM (SELECT DISTINCT Country FROM orders) o LEFT JOIN (SELECT Country, 1 AS k "
       "FROM orders WHERE Country = 'Germany' GROUP BY Country) c ON o.Country = c.Country",
       ""},
      {"coalesce and is null",
       "SELECT coalesce(CustomerNo, 'guest') AS customer, count(*) AS n FROM orders WHERE CustomerNo IS NULL "
       "OR Country = 'France' GROUP BY coalesce(CustomerNo, 'guest')",
       ""},
      {"union all", "SELECT Country FROM orders WHERE Quantity > 60 UNION ALL SELECT Country FROM orders WHERE Price > 60",
       ""},
      {"having", "SELECT ProductNo, sum(Quantity) AS units FROM orders GROUP BY ProductNo HAVING sum(Quantity) > 150", ""},
      {"in list and not in",
       "SELECT Country, count(*) AS n FROM orders WHERE Country IN ('France', 'Germany', 'EIRE') AND "
       "Quantity NOT IN (1, 2) GROUP BY Country",
       ""},
      {"avg, min, max, round",
       "SELECT Country, round(avg(Price), 2) AS avg_price, min(Price) AS lo, max(Price) AS hi FROM orders "
       "GROUP BY Country",
       ""},
      {"substring, trim, concat",
       "SELECT substring(ProductName, 1, 5) AS s, trim(concat(' ', Country, ' ')) AS c FROM orders "
       "WHERE Quantity > 45",
       "SELECT substring(ProductName, 1, 5) AS s, trim(concat(' ', Country, ' ')) AS c FROM orders "
       "WHERE Quantity > 45"},
      {"order by and limit",
       "SELECT ProductNo, sum(Price * Quantity) AS revenue FROM orders GROUP BY ProductNo ORDER BY revenue DESC LIMIT 10",
       ""},
      // With LIMIT, which rows come out depends on the order: rows tied on every key are
      // equal in the selected columns, so ties cannot make the two sides differ.
      {"order by columns that are not selected",
       "SELECT ProductName, Quantity FROM orders ORDER BY Price DESC, TransactionNo, ProductNo, Quantity LIMIT 20", ""},
      {"order by an expression over columns that are not selected",
       "SELECT TransactionNo FROM orders ORDER BY Price * Quantity DESC, TransactionNo LIMIT 15", ""},
      {"order by positions of a star",
       "SELECT * FROM orders ORDER BY 5 DESC, 1, 3, 6, 2, 7 LIMIT 20", ""},
      {"order by a position after union all",
       "SELECT Country, Quantity FROM orders WHERE Quantity > 70 UNION ALL SELECT Country, Quantity FROM orders "
       "WHERE Price > 70 ORDER BY 2 DESC, 1 LIMIT 10",
       ""},
      {"distinct", "SELECT DISTINCT Country, CustomerNo IS NULL AS guest FROM orders", ""},
      {"cast and try_cast",
       "SELECT CAST(Quantity AS DOUBLE) / 2 AS half, try_cast(ProductNo AS INT) AS pn FROM orders WHERE Quantity > 50",
       "SELECT CAST(Quantity AS DOUBLE) / 2 AS half, TRY_CAST(ProductNo AS INTEGER) AS pn FROM orders WHERE Quantity > 50"},
  };
  Differential().ExpectCorpusEqual(corpus);
}

}  // namespace
}  // namespace lakepipe::runtime
