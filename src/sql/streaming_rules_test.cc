// The streaming rules: each refusal names its place, the reason and the alternative; what
// a streaming table can maintain incrementally is accepted.
#include "sql/streaming_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sql/resolve.h"

namespace lakepipe::sql {
namespace {

using ::testing::HasSubstr;

const char* kSources =
    "CREATE STREAMING TABLE orders AS SELECT * FROM STREAM read_files('/in', "
    "format => 'csv', schema => 'id BIGINT, cust INT, amount DOUBLE, ts TIMESTAMP, country STRING');\n"
    "CREATE MATERIALIZED VIEW customers AS SELECT * FROM read_files('/c', format => 'parquet', "
    "schema => 'id INT, name STRING, country STRING');\n"
    "CREATE TEMPORARY VIEW streamed AS SELECT * FROM STREAM(orders);\n"
    "CREATE TEMPORARY VIEW whole AS SELECT * FROM orders;\n";

Result<ResolvedPipeline> Resolve(const std::string& sql) {
  Pipeline p;
  p.settings.name = "t";
  auto defs = ParseSqlFile(std::make_shared<SourceFile>("r.sql", std::string(kSources) + sql), {});
  if (!defs.ok()) return defs.status();
  p.datasets = std::move(*defs);
  return ResolvePipeline(p);
}

struct Refusal {
  const char* sql;
  const char* position;
  std::vector<const char*> words;
};

TEST(StreamingRulesTest, RefusesWhatAStreamingTableCannotMaintain) {
  const char* no_window = "a streaming table cannot aggregate without a time window and a watermark; use a "
                          "materialized view";
  std::vector<Refusal> cases = {
      // The silent wrong answer of issue 9: one partial row per micro-batch.
      {"CREATE STREAMING TABLE x AS SELECT country, sum(amount) AS s FROM STREAM(orders) GROUP BY country",
       "r.sql:5:", {no_window}},
      {"CREATE STREAMING TABLE x AS SELECT country, count(*) AS n FROM STREAM(orders) "
       "WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY country",
       "r.sql:5:", {no_window}},
      {"CREATE STREAMING TABLE x AS SELECT count(*) AS n FROM STREAM(orders)", "r.sql:5:", {no_window}},
      // An aggregate inside a temporary view the streaming table reads.
      {"CREATE TEMPORARY VIEW agg AS SELECT country, count(*) AS n FROM STREAM(orders) GROUP BY country;\n"
       "CREATE STREAMING TABLE x AS SELECT * FROM agg",
       "r.sql:5:", {"streaming table `x`", no_window}},
      {"CREATE STREAMING TABLE x AS SELECT id FROM STREAM(orders) ORDER BY id", "r.sql:5:",
       {"ORDER BY over a stream", "materialized view"}},
      {"CREATE STREAMING TABLE x AS SELECT id FROM STREAM(orders) LIMIT 5", "r.sql:5:",
       {"LIMIT over a stream", "materialized view"}},
      {"CREATE STREAMING TABLE x AS SELECT a.id FROM streamed a JOIN STREAM(orders) b ON a.id = b.id",
       "r.sql:5:", {"a join of two streams read through temporary views is not built yet"}},
      {"CREATE STREAMING TABLE x AS SELECT c.name FROM customers c LEFT JOIN STREAM(orders) o ON c.id = o.cust",
       "r.sql:5:", {"LEFT JOIN with the stream on the right side", "put the stream on the left"}},
      {"CREATE STREAMING TABLE x AS SELECT id FROM STREAM(orders) UNION ALL SELECT id FROM customers", "r.sql:5:",
       {"UNION of a stream with a query that reads its tables in full"}},
      {"CREATE STREAMING TABLE x AS SELECT id FROM STREAM(orders) UNION SELECT id FROM customers", "r.sql:5:",
       {"UNION of a stream with a query that reads its tables in full"}},
      // STREAM over a view that reads no stream: refused at validate as at run.
      {"CREATE STREAMING TABLE x AS SELECT id FROM STREAM(whole)", "r.sql:5:51",
       {"temporary view `whole` reads no stream", "inside the view"}},
      {"CREATE MATERIALIZED VIEW x AS SELECT id FROM streamed", "r.sql:5:", {"view `streamed` reads a stream"}},
      {"CREATE STREAMING TABLE x AS SELECT id FROM whole", "r.sql:5:", {"reads no stream"}},
      // Time windows: the watermark closes them, so it must be on the window's own time.
      {"CREATE STREAMING TABLE x AS SELECT window.start AS s, count(*) AS n FROM STREAM(orders) "
       "GROUP BY window(ts, '10 minutes')",
       "r.sql:5:", {no_window}},
      {"CREATE STREAMING TABLE x AS SELECT window.start AS s, count(*) AS n FROM STREAM(orders) "
       "WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY window(CAST(ts AS TIMESTAMP), '10 minutes')",
       "r.sql:5:", {"the time window is over", "but the WATERMARK is on `ts`; window the watermark column"}},
      {"CREATE STREAMING TABLE x AS SELECT window.start AS s, count(*) AS n FROM STREAM(orders) "
       "WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY window(ts, '10 minutez')",
       "r.sql:5:", {"'10 minutez' is not a duration (unknown unit `minutez`)"}},
      {"CREATE STREAMING TABLE x AS SELECT window.start AS s, count(*) AS n FROM STREAM(orders) "
       "WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY window(ts, '5 minutes', '10 minutes')",
       "r.sql:5:", {"the slide must be positive and at most the window size"}},
      {"CREATE STREAMING TABLE x AS SELECT window.start AS s, count(*) AS n FROM STREAM(orders) "
       "WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY window(ts, '1 day', '1 second')",
       "r.sql:5:", {"a row would belong to 86400 windows", "at most 1000"}},
      {"CREATE STREAMING TABLE x AS SELECT window.start AS s, count(*) AS n FROM STREAM(orders) "
       "WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY window(ts, 10)",
       "r.sql:5:", {"write the duration as a string, e.g. '10 minutes'"}},
      {"CREATE MATERIALIZED VIEW x AS SELECT window.start AS s, count(*) AS n FROM whole "
       "GROUP BY window(country, '10 minutes')",
       "r.sql:5:", {"the time of window(...) is string, not a timestamp"}},
      {"CREATE MATERIALIZED VIEW x AS SELECT count(*) AS n FROM whole "
       "GROUP BY window(ts, '10 minutes'), window(ts, '5 minutes')",
       "r.sql:5:", {"GROUP BY has more than one time window"}},
      {"CREATE STREAMING TABLE x AS SELECT session_window.start AS s, first(id) AS f FROM STREAM(orders) "
       "WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY session_window(ts, '5 minutes')",
       "r.sql:5:", {"the aggregate `first(id)` depends on the order of the rows", "streaming session window"}},
      {"CREATE STREAMING TABLE x AS SELECT session_window.start AS s, count(*) AS n FROM STREAM(orders) "
       "WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY session_window(ts, '5 minutes', '1 minute')",
       "r.sql:5:", {"session_window(time, gap) takes 2 arguments"}},
      {"CREATE MATERIALIZED VIEW x AS SELECT country, count(*) AS n FROM whole "
       "GROUP BY ROLLUP(country), window(ts, '10 minutes')",
       "r.sql:5:", {"GROUPING SETS / ROLLUP / CUBE with a time window is not built yet"}},
      // Keyed de-duplication is the one window function form a streaming table runs.
      {"CREATE STREAMING TABLE x AS SELECT id, rank() OVER (PARTITION BY cust ORDER BY ts) AS r FROM STREAM(orders) "
       "WATERMARK ts DELAY OF INTERVAL 10 MINUTES",
       "r.sql:5:", {"a window function needs its whole partition", "MATERIALIZED VIEW",
                    "QUALIFY row_number() OVER (PARTITION BY key ORDER BY event_time) = 1"}},
      {"CREATE STREAMING TABLE x AS SELECT id, ts FROM STREAM(orders) "
       "QUALIFY row_number() OVER (PARTITION BY id ORDER BY ts) = 1",
       "r.sql:5:", {"keyed de-duplication of a stream needs `WATERMARK event_time DELAY OF INTERVAL ...`",
                    "SELECT DISTINCT keeps every key forever"}},
      {"CREATE STREAMING TABLE x AS SELECT id, ts FROM STREAM(orders) WATERMARK ts DELAY OF INTERVAL 10 MINUTES "
       "QUALIFY row_number() OVER (PARTITION BY id ORDER BY ts DESC) = 1",
       "r.sql:5:", {"ORDER BY the WATERMARK column `ts` ascending", "The latest row per key is not built"}},
      {"CREATE STREAMING TABLE x AS SELECT id, ts, amount FROM STREAM(orders) WATERMARK ts DELAY OF INTERVAL 10 "
       "MINUTES QUALIFY row_number() OVER (PARTITION BY id ORDER BY amount) = 1",
       "r.sql:5:", {"ORDER BY the WATERMARK column `ts` ascending"}},
      {"CREATE STREAMING TABLE x AS SELECT id, ts FROM STREAM(orders) WATERMARK ts DELAY OF INTERVAL 10 MINUTES "
       "QUALIFY row_number() OVER (PARTITION BY id ORDER BY ts) <= 2",
       "r.sql:5:", {"a window function needs its whole partition"}},
      {"CREATE STREAMING TABLE x AS SELECT id, ts FROM STREAM(orders) WATERMARK ts DELAY OF INTERVAL 10 MINUTES "
       "QUALIFY row_number() OVER (PARTITION BY id % 10 ORDER BY ts) = 1",
       "r.sql:5:", {"keyed de-duplication by an expression (`", "is not built yet"}},
      {"CREATE STREAMING TABLE x AS SELECT id, ts FROM STREAM(orders) WATERMARK ts DELAY OF INTERVAL 10 MINUTES "
       "QUALIFY row_number() OVER (ORDER BY ts) = 1",
       "r.sql:5:", {"keyed de-duplication needs PARTITION BY the key columns"}},
  };
  for (const Refusal& c : cases) {
    auto r = Resolve(c.sql);
    ASSERT_FALSE(r.ok()) << c.sql;
    EXPECT_THAT(r.status().message(), HasSubstr(c.position)) << c.sql << " -> " << r.status().ToString();
    for (const char* w : c.words) {
      EXPECT_THAT(r.status().message(), HasSubstr(w)) << c.sql << " -> " << r.status().ToString();
    }
  }
}

TEST(StreamingRulesTest, AcceptsWhatAStreamingTableMaintains) {
  const char* cases[] = {
      "CREATE STREAMING TABLE x AS SELECT id, amount * 2 AS a FROM STREAM(orders) WHERE amount > 0",
      "CREATE STREAMING TABLE x AS SELECT DISTINCT country FROM STREAM(orders)",
      "CREATE STREAMING TABLE x AS SELECT o.id, c.name FROM STREAM(orders) o LEFT JOIN customers c ON o.cust = c.id",
      "CREATE STREAMING TABLE x AS SELECT o.id, c.name FROM customers c JOIN STREAM(orders) o ON o.cust = c.id",
      "CREATE STREAMING TABLE x AS SELECT id FROM STREAM(orders) UNION ALL SELECT id FROM STREAM(orders)",
      // Aggregates over a table read in full are fine inside a streaming table.
      "CREATE STREAMING TABLE x AS SELECT o.id, n.n FROM STREAM(orders) o JOIN "
      "(SELECT country, count(*) AS n FROM customers GROUP BY country) n ON o.country = n.country",
      // STREAM over a view that reads a stream, and that view read without STREAM.
      "CREATE STREAMING TABLE x AS SELECT id FROM STREAM(streamed)",
      "CREATE STREAMING TABLE x AS SELECT id FROM streamed",
      // A materialized view may sort, limit and aggregate.
      "CREATE MATERIALIZED VIEW x AS SELECT country, count(*) AS n FROM whole GROUP BY country ORDER BY n LIMIT 3",
      // Time windows over the watermark column; in a materialized view without one.
      "CREATE STREAMING TABLE x AS SELECT window.start AS s, window.end AS e, country, sum(amount) AS total "
      "FROM STREAM(orders) WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY window(ts, '10 minutes'), country",
      "CREATE STREAMING TABLE x AS SELECT window, count(*) AS n FROM STREAM(orders) "
      "WATERMARK ts DELAY OF INTERVAL 1 MINUTE GROUP BY window(ts, '1 hour', '15 minutes', '5 minutes')",
      "CREATE MATERIALIZED VIEW x AS SELECT window.start, count(*) AS n FROM whole GROUP BY window(ts, '1 day')",
      "CREATE STREAMING TABLE x AS SELECT session_window.start AS s, session_window.end AS e, cust, "
      "sum(amount) AS total, collect_set(country) AS countries FROM STREAM(orders) "
      "WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY session_window(ts, '30 minutes'), cust",
      "CREATE MATERIALIZED VIEW x AS SELECT session_window, first(id) AS f FROM whole "
      "GROUP BY session_window(ts, '5 minutes')",
      // Keyed de-duplication of a stream, and the same query in a materialized view.
      "CREATE STREAMING TABLE x AS SELECT id, cust, ts, amount FROM STREAM(orders) "
      "WATERMARK ts DELAY OF INTERVAL 10 MINUTES QUALIFY row_number() OVER (PARTITION BY id ORDER BY ts) = 1",
      "CREATE STREAMING TABLE x AS SELECT * FROM STREAM(orders) WATERMARK ts DELAY OF INTERVAL 1 HOUR "
      "WHERE amount > 0 QUALIFY 1 = row_number() OVER (PARTITION BY cust, country ORDER BY ts ASC)",
      "CREATE MATERIALIZED VIEW x AS SELECT id, ts FROM whole QUALIFY row_number() OVER (PARTITION BY id ORDER BY ts) "
      "= 1",
  };
  for (const char* sql : cases) {
    auto r = Resolve(sql);
    EXPECT_TRUE(r.ok()) << sql << " -> " << r.status().ToString();
  }
}

}  // namespace
}  // namespace lakepipe::sql
