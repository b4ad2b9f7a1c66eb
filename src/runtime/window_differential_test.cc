// Window functions and QUALIFY through lakepipe's whole query path, against DuckDB over the
// same CSV. The data is built for the hard cases: ties in ORDER BY keys, NULL order keys,
// NULL values, a NULL partition, a one-row partition and a partition whose values are all
// NULL (an "empty" partition for the aggregates). DuckDB runs with Spark's NULL order
// (NULLS FIRST for ASC, LAST for DESC). Functions whose result depends on the order of
// tied rows (row_number, lag, first_value, ROWS frames) are ordered by a unique key too.
// Values are compared in canonical text (numbers to 9 significant digits), as multisets.
#include <gtest/gtest.h>

#include <cstdio>

#include "runtime/csv_table_query_test.h"
#include "testing/differential.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

using Case = testing::DifferentialCase;

// Deterministic rows: id, g (partition), k (order key), v (int value), x (double value).
std::string MakeCsv() {
  uint64_t state = 12345;
  auto next = [&](int mod) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>((state >> 33) % static_cast<uint64_t>(mod));
  };
  std::string csv = "id,g,k,v,x\n";
  const char* groups[] = {"a", "b", "c", ""};
  for (int id = 1; id <= 400; ++id) {
    std::string g = groups[next(4)];
    std::string k = next(10) == 0 ? "" : std::to_string(next(8));
    std::string v = next(8) == 0 ? "" : std::to_string(next(101) - 50);
    char x[32];
    std::snprintf(x, sizeof x, "%d.%02d", next(200) - 100, next(100));
    csv += std::to_string(id) + "," + g + "," + k + "," + v + "," + x + "\n";
  }
  csv += "401,solo,3,7,1.50\n";   // a one-row partition
  csv += "402,empty,1,,2.00\n";   // a partition whose values are all NULL
  csv += "403,empty,1,,3.00\n";
  csv += "404,empty,,,4.00\n";
  return csv;
}

class WindowDifferentialTest : public CsvTableQueryTest {
 protected:
  static void SetUpTestSuite() {
    Load(
        "t", [](const std::string& path) { return FileSystem::Default()->WriteFile(path, MakeCsv()); },
        "id INT, g STRING, k INT, v INT, x DOUBLE",
        [](const std::string& csv) {
          return "SET default_null_order = 'nulls_first_on_asc_last_on_desc'; "
                 "CREATE TEMP VIEW t AS SELECT * FROM read_csv('" + csv +
                 "', header = true, columns = {'id': 'INTEGER', 'g': 'VARCHAR', 'k': 'INTEGER', "
                 "'v': 'INTEGER', 'x': 'DOUBLE'}); ";
        });
  }
};

TEST_F(WindowDifferentialTest, CorpusEqualsDuckDB) {
  ASSERT_NE(runner_, nullptr);
  const std::vector<Case> corpus = {
      {"row_number with a unique tie-breaker",
       "SELECT id, row_number() OVER (PARTITION BY g ORDER BY k, id) AS rn FROM t", ""},
      {"rank, dense_rank, percent_rank over ties and NULL keys",
       "SELECT id, rank() OVER (PARTITION BY g ORDER BY k) AS r, dense_rank() OVER (PARTITION BY g ORDER BY k) AS d, "
       "percent_rank() OVER (PARTITION BY g ORDER BY k) AS p FROM t",
       ""},
      {"rank descending (NULLs last)",
       "SELECT id, rank() OVER (PARTITION BY g ORDER BY k DESC) AS r FROM t", ""},
      {"explicit NULLS LAST ascending",
       "SELECT id, rank() OVER (PARTITION BY g ORDER BY k ASC NULLS LAST) AS r FROM t", ""},
      {"ntile", "SELECT id, ntile(3) OVER (PARTITION BY g ORDER BY k, id) AS n3, ntile(7) OVER (ORDER BY id) AS n7 FROM t",
       ""},
      {"lag and lead with offsets and defaults",
       "SELECT id, lag(v) OVER (PARTITION BY g ORDER BY k, id) AS l1, lead(v, 2) OVER (PARTITION BY g ORDER BY k, id) AS l2, "
       "lag(v, 1, 0) OVER (PARTITION BY g ORDER BY k, id) AS l3, lead(g, 1, 'none') OVER (ORDER BY id) AS l4 FROM t",
       ""},
      {"first_value, last_value, nth_value over the default frame",
       "SELECT id, first_value(v) OVER (PARTITION BY g ORDER BY k, id) AS f, last_value(v) OVER (PARTITION BY g ORDER BY k, "
       "id) AS l, nth_value(v, 2) OVER (PARTITION BY g ORDER BY k, id) AS n FROM t",
       ""},
      {"first_value/last_value ignoring NULLs over a sliding frame",
       "SELECT id, first_value(v, true) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) AS f, "
       "last_value(v, true) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) AS l FROM t",
       "SELECT id, first_value(v IGNORE NULLS) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) "
       "AS f, last_value(v IGNORE NULLS) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) AS l "
       "FROM t"},
      {"aggregates over whole partitions (including an all-NULL one)",
       "SELECT id, sum(v) OVER (PARTITION BY g) AS s, count(v) OVER (PARTITION BY g) AS c, count(*) OVER (PARTITION BY g) "
       "AS n, avg(v) OVER (PARTITION BY g) AS a, min(v) OVER (PARTITION BY g) AS lo, max(x) OVER (PARTITION BY g) AS hi "
       "FROM t",
       ""},
      {"running sum: RANGE default frame over ties and NULL keys",
       "SELECT id, sum(v) OVER (PARTITION BY g ORDER BY k) AS s, count(*) OVER (PARTITION BY g ORDER BY k) AS c FROM t", ""},
      {"sliding ROWS frame aggregates",
       "SELECT id, sum(v) OVER w AS s, avg(x) OVER w AS a, min(v) OVER w AS lo, max(x) OVER w AS hi, count(v) OVER w AS c "
       "FROM t WINDOW w AS (PARTITION BY g ORDER BY k, id ROWS BETWEEN 3 PRECEDING AND 1 FOLLOWING)",
       ""},
      {"frames entirely before or after the row",
       "SELECT id, sum(v) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING) AS before3, "
       "max(v) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS after FROM t",
       ""},
      {"RANGE frame with offsets, NULL keys",
       "SELECT id, sum(v) OVER (PARTITION BY g ORDER BY k RANGE BETWEEN 2 PRECEDING AND 1 FOLLOWING) AS s, "
       "count(*) OVER (PARTITION BY g ORDER BY k RANGE BETWEEN CURRENT ROW AND 2 FOLLOWING) AS c FROM t",
       ""},
      {"RANGE frame with offsets, descending",
       "SELECT id, count(*) OVER (PARTITION BY g ORDER BY k DESC RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) AS c, "
       "sum(x) OVER (PARTITION BY g ORDER BY k DESC RANGE BETWEEN UNBOUNDED PRECEDING AND 1 FOLLOWING) AS s FROM t",
       ""},
      {"running double sum without partitions",
       "SELECT id, sum(x) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS s FROM t", ""},
      {"min/max of strings", "SELECT id, min(g) OVER (PARTITION BY k) AS lo, max(g) OVER (PARTITION BY k) AS hi FROM t", ""},
      {"named window shared and refined",
       "SELECT id, sum(v) OVER w AS s, rank() OVER w AS r, lag(v) OVER (p ORDER BY id) AS l FROM t "
       "WINDOW w AS (PARTITION BY g ORDER BY k), p AS (PARTITION BY g)",
       ""},
      {"QUALIFY on a select-list alias",
       "SELECT g, id, row_number() OVER (PARTITION BY g ORDER BY k, id) AS rn FROM t QUALIFY rn <= 2", ""},
      {"QUALIFY with its own window function",
       "SELECT g, id FROM t QUALIFY rank() OVER (PARTITION BY g ORDER BY v DESC) = 1", ""},
      {"QUALIFY together with WHERE and a named window",
       "SELECT id, v FROM t WHERE v > 0 WINDOW w AS (PARTITION BY g ORDER BY x) QUALIFY dense_rank() OVER w <= 3",
       ""},
      {"window over a GROUP BY",
       "SELECT g, sum(v) AS s, rank() OVER (ORDER BY sum(v) DESC) AS r, sum(sum(v)) OVER () AS total FROM t GROUP BY g", ""},
      {"window inside an expression",
       "SELECT id, v - lag(v) OVER (PARTITION BY g ORDER BY id) AS dv, "
       "CASE WHEN row_number() OVER (ORDER BY id) % 2 = 0 THEN 'even' ELSE 'odd' END AS parity FROM t",
       ""},
      {"ORDER BY and LIMIT over window results",
       "SELECT id, row_number() OVER (ORDER BY id DESC) AS rn FROM t ORDER BY rn LIMIT 5", ""},
      {"star with a window column",
       "SELECT *, dense_rank() OVER (PARTITION BY g ORDER BY k) AS dr FROM t WHERE id < 50", ""},
      {"decimals: exact sliding sum and average",
       "SELECT id, sum(CAST(x AS DECIMAL(10,2))) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) "
       "AS s, avg(CAST(x AS DECIMAL(10,2))) OVER (PARTITION BY g) AS a FROM t",
       // Spark's avg of decimal(10,2) is decimal(14,6), rounded HALF_UP; DuckDB's is a double.
       "SELECT id, sum(CAST(x AS DECIMAL(10,2))) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 "
       "FOLLOWING) AS s, CAST(avg(CAST(x AS DECIMAL(10,2))) OVER (PARTITION BY g) AS DECIMAL(14,6)) AS a FROM t"},
      {"window in a subquery, filtered outside",
       "SELECT g, id FROM (SELECT g, id, lead(id) OVER (PARTITION BY g ORDER BY id) AS nxt FROM t) s WHERE nxt IS NULL", ""},
  };
  Differential().ExpectCorpusEqual(corpus);
}

TEST_F(WindowDifferentialTest, EmptyInputGivesNoRows) {
  ASSERT_NE(runner_, nullptr);
  EXPECT_TRUE(Ours("SELECT id, rank() OVER (PARTITION BY g ORDER BY k) AS r, sum(v) OVER () AS s FROM t WHERE id < 0")
                  .empty());
}

TEST_F(WindowDifferentialTest, RefusedWithTheReason) {
  ASSERT_NE(runner_, nullptr);
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"SELECT rank() OVER (PARTITION BY g) AS r FROM t", "needs ORDER BY"},
      {"SELECT id FROM t WHERE row_number() OVER (ORDER BY id) = 1", "not allowed here"},
      {"SELECT sum(rank() OVER (ORDER BY id)) AS s FROM t", "inside an aggregate"},
      {"SELECT sum(v) OVER (ORDER BY rank() OVER (ORDER BY id)) AS s FROM t", "not allowed here"},
      {"SELECT sum(v) OVER (ORDER BY g RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) AS s FROM t", "numeric ORDER BY"},
      {"SELECT sum(v) OVER (ORDER BY id GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s FROM t", "GROUPS"},
      {"SELECT row_number() OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS r FROM t", "does not take a frame"},
      {"SELECT id FROM t QUALIFY id > 3", "QUALIFY needs a window function"},
      {"SELECT sum(v) OVER w AS s FROM t", "window `w` is not defined"},
      {"SELECT ntile(0) OVER (ORDER BY id) AS n FROM t", "positive"},
      {"SELECT collect_list(v) OVER (ORDER BY id) AS n FROM t", "not supported"},
  };
  for (const auto& [sql, reason] : refused) {
    SCOPED_TRACE(sql);
    auto result = runner_->Query(sql);
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.status().message().find(reason), std::string::npos) << result.status().ToString();
  }
}

// A materialized view with a window function is recomputed on each update (a new row can
// change every rank of its partition): after a second file, it equals DuckDB over both.
TEST(WindowMaterializedViewTest, RecomputedWithNewRows) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  std::string landing = dir.Join("landing");
  ASSERT_TRUE(fs->CreateDirs(landing).ok());
  ASSERT_TRUE(fs->WriteFile(landing + "/1.csv", "id,g,v\n1,a,10\n2,a,30\n3,b,5\n").ok());
  std::string folder = dir.Join("pipeline");
  ASSERT_TRUE(fs->CreateDirs(folder).ok());
  ASSERT_TRUE(fs->WriteFile(folder + "/pipeline.yaml",
                            "name: mvwin\nstorage: ./storage\nconfiguration:\n  landing: " + landing + "\n")
                  .ok());
  ASSERT_TRUE(fs->WriteFile(folder + "/t.sql",
                            "CREATE OR REFRESH STREAMING TABLE t AS SELECT * EXCEPT (_rescued_data) FROM STREAM "
                            "read_files('${landing}', format => 'csv', header => true, schema => 'id INT, g STRING, v INT');\n"
                            "CREATE OR REFRESH MATERIALIZED VIEW ranked AS SELECT id, g, rank() OVER (PARTITION BY g "
                            "ORDER BY v DESC) AS r, sum(v) OVER (PARTITION BY g) AS total FROM t;\n")
                  .ok());
  auto runner = PipelineRunner::Open(folder, {});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  auto first = (*runner)->RunOnce({});
  ASSERT_TRUE(first.ok() && first->ok());
  ASSERT_TRUE(fs->WriteFile(landing + "/2.csv", "id,g,v\n4,a,20\n5,b,50\n").ok());
  auto second = (*runner)->RunOnce({});
  ASSERT_TRUE(second.ok() && second->ok());
  bool recomputed = false;
  for (const auto& t : second->tables) {
    if (t.table == "ranked") recomputed = t.technique == "complete recompute";
  }
  EXPECT_TRUE(recomputed);
  auto ours = (*runner)->Query("SELECT id, g, r, total FROM ranked");
  ASSERT_TRUE(ours.ok()) << ours.status().ToString();
  std::vector<std::string> got = testing::CanonicalRows(ours->batches);
  std::vector<std::string> want = testing::DuckDBDifferential(nullptr, "").Duck("SELECT id, g, rank() OVER (PARTITION BY g ORDER BY v DESC) AS r, sum(v) OVER "
                                 "(PARTITION BY g) AS total FROM read_csv('" + landing + "/*.csv', header = true)");
  ASSERT_EQ(want.size(), 5u);
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace lakepipe::runtime
