// `validate` and `run` agree: every pipeline of the corpus that validation (LoadPipeline +
// ResolvePipeline, what `lakepipe validate` runs) accepts, the runner runs over real data
// in two micro-batches without a failed table; every one it refuses, the runner refuses
// at Open with the same message.
//
// The corpus: the SQL test pipeline (src/sql/testdata/orders) and the streaming queries
// below (the streaming tests' shapes, and what the streaming rules accept and refuse).
#include <gtest/gtest.h>

#include "runtime/pipeline_runner.h"
#include "sql/pipeline.h"
#include "sql/resolve.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

const char* kSources =
    "CREATE OR REFRESH STREAMING TABLE orders AS SELECT * FROM STREAM read_files('${landing}', format => 'csv', "
    "header => true, schema => 'id BIGINT, cust INT, amount DOUBLE, ts TIMESTAMP, country STRING');\n"
    "CREATE OR REFRESH MATERIALIZED VIEW customers AS SELECT * FROM read_files('${dims}', format => 'csv', "
    "header => true, schema => 'id INT, name STRING, country STRING');\n"
    "CREATE TEMPORARY VIEW streamed AS SELECT * FROM STREAM(orders);\n"
    "CREATE TEMPORARY VIEW whole AS SELECT * FROM orders;\n";

// One dataset (added to kSources) per entry.
const char* kQueries[] = {
    // Accepted.
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT id, amount * 2 AS a FROM STREAM(orders) WHERE amount > 0",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT DISTINCT country FROM STREAM(orders)",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT DISTINCT id, ts FROM STREAM(orders) "
    "WATERMARK ts DELAY OF INTERVAL 10 MINUTES",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT o.id, c.name FROM STREAM(orders) o LEFT JOIN customers c "
    "ON o.cust = c.id",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT o.id, c.name FROM customers c JOIN STREAM(orders) o "
    "ON o.cust = c.id",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT id FROM STREAM(orders) UNION ALL SELECT id FROM STREAM(orders)",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT o.id, n.n FROM STREAM(orders) o JOIN "
    "(SELECT country, count(*) AS n FROM customers GROUP BY country) n ON o.country = n.country",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT o.id FROM STREAM(orders) o JOIN "
    "(SELECT DISTINCT country FROM customers) c ON o.country = c.country",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT id FROM STREAM(streamed)",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT id FROM streamed",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT id FROM STREAM(orders) WITH (skipChangeCommits = true)",
    "CREATE OR REFRESH MATERIALIZED VIEW x AS SELECT country, count(*) AS n FROM whole GROUP BY country "
    "ORDER BY n LIMIT 3",
    // Time windows, sessions and keyed de-duplication.
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT window.start AS s, window.end AS e, country, sum(amount) AS t "
    "FROM STREAM(orders) WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY window(ts, '10 minutes'), country",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT window, count(*) AS n, percentile_approx(amount, 0.5) AS p "
    "FROM STREAM(orders) WATERMARK ts DELAY OF INTERVAL 5 MINUTES GROUP BY window(ts, '1 hour', '20 minutes')",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT session_window.start AS s, cust, count(*) AS n "
    "FROM STREAM(orders) WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY session_window(ts, '30 minutes'), cust",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT id, cust, ts FROM STREAM(orders) "
    "WATERMARK ts DELAY OF INTERVAL 10 MINUTES QUALIFY row_number() OVER (PARTITION BY cust ORDER BY ts) = 1",
    "CREATE OR REFRESH MATERIALIZED VIEW x AS SELECT session_window, first(id) AS f FROM whole "
    "GROUP BY session_window(ts, '5 minutes')",
    // Refused.
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT window.start AS s, count(*) AS n FROM STREAM(orders) "
    "GROUP BY window(ts, '10 minutes')",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT id, ts FROM STREAM(orders) "
    "QUALIFY row_number() OVER (PARTITION BY id ORDER BY ts DESC) = 1",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT session_window.start AS s, last(id) AS l FROM STREAM(orders) "
    "WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY session_window(ts, '5 minutes')",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT country, sum(amount) AS s FROM STREAM(orders) GROUP BY country",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT country, count(*) AS n FROM STREAM(orders) "
    "WATERMARK ts DELAY OF INTERVAL 10 MINUTES GROUP BY country",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT id FROM STREAM(orders) ORDER BY id",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT id FROM STREAM(orders) LIMIT 5",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT a.id FROM STREAM(orders) a JOIN STREAM(orders) b ON a.id = b.id",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT a.id, b.amount FROM STREAM(orders) WATERMARK ts DELAY OF INTERVAL "
    "10 MINUTES AS a JOIN STREAM(orders) WATERMARK ts DELAY OF INTERVAL 10 MINUTES AS b ON a.cust = b.cust AND "
    "b.ts BETWEEN a.ts AND a.ts + INTERVAL 1 HOUR",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT a.id FROM streamed a JOIN STREAM(orders) b ON a.id = b.id",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT c.name FROM customers c LEFT JOIN STREAM(orders) o "
    "ON c.id = o.cust",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT id FROM STREAM(orders) UNION ALL SELECT id FROM customers",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT id FROM STREAM(whole)",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT DISTINCT id FROM STREAM(orders) "
    "WATERMARK ts DELAY OF INTERVAL 10 MINUTES",
    "CREATE OR REFRESH STREAMING TABLE x AS SELECT o.id FROM STREAM(orders) o JOIN customers c ON o.cust > c.id",
    "CREATE OR REFRESH MATERIALIZED VIEW x AS SELECT id FROM streamed",
    // The expectations of an AUTO CDC target check the change events' target columns
    // (one rule for validate and run): accepted over target columns, refused over a
    // source column the flow does not write and over SCD type 2's __END_AT.
    "CREATE OR REFRESH STREAMING TABLE x (CONSTRAINT pos EXPECT (amount > 5) ON VIOLATION DROP ROW);\n"
    "CREATE FLOW xf AS AUTO CDC INTO x FROM STREAM(orders) KEYS (cust) SEQUENCE BY ts COLUMNS * EXCEPT (country) "
    "STORED AS SCD TYPE 2",
    "CREATE OR REFRESH STREAMING TABLE x (CONSTRAINT known EXPECT (country <> 'DE'));\n"
    "CREATE FLOW xf AS AUTO CDC INTO x FROM STREAM(orders) KEYS (cust) SEQUENCE BY ts COLUMNS * EXCEPT (country)",
    "CREATE OR REFRESH STREAMING TABLE x (CONSTRAINT cur EXPECT (__END_AT IS NULL));\n"
    "CREATE FLOW xf AS AUTO CDC INTO x FROM STREAM(orders) KEYS (cust) SEQUENCE BY ts STORED AS SCD TYPE 2",
};

class ValidateRunTest : public ::testing::Test {
 protected:
  // Validates the pipeline in `folder` as `lakepipe validate` does, then requires the
  // runner to agree over two micro-batches (`feed(1)` and `feed(2)` drop their input).
  void Agree(const std::string& folder, const std::map<std::string, std::string>& overrides,
             const std::function<void(int)>& feed, const std::string& what, int* accepted) {
    SCOPED_TRACE(what);
    Status validated = [&]() -> Status {
      LP_ASSIGN_OR_RETURN(sql::Pipeline p, sql::LoadPipeline(folder, overrides));
      return sql::ResolvePipeline(p).status();
    }();
    auto runner = PipelineRunner::Open(folder, overrides);
    if (!validated.ok()) {
      ASSERT_FALSE(runner.ok()) << "validate refused (" << validated.ToString() << ") but run opened it";
      EXPECT_EQ(runner.status().message(), validated.message());
      return;
    }
    ASSERT_TRUE(runner.ok()) << "validate accepted, run refused: " << runner.status().ToString();
    ++*accepted;
    for (int round = 1; round <= 2; ++round) {
      feed(round);
      auto report = (*runner)->RunOnce({});
      ASSERT_TRUE(report.ok()) << report.status().ToString();
      for (const auto& t : report->tables) {
        EXPECT_NE(t.status, "failed") << "validate accepted, run failed on " << t.table << ": " << t.message;
      }
    }
  }

  FileSystem* fs_ = FileSystem::Default();
};

TEST_F(ValidateRunTest, StreamingCorpus) {
  int accepted = 0, index = 0;
  for (const char* query : kQueries) {
    testing::TempDir dir;
    std::string landing = dir.Join("landing"), dims = dir.Join("dims");
    ASSERT_TRUE(fs_->CreateDirs(landing).ok());
    ASSERT_TRUE(fs_->CreateDirs(dims).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir.Join("p")).ok());
    ASSERT_TRUE(fs_->WriteFile(dir.Join("p/pipeline.yaml"), "name: t\nstorage: " + dir.Join("storage") +
                                                                "\nlibraries: [p.sql]\nconfiguration: {landing: " +
                                                                landing + ", dims: " + dims + "}\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(dir.Join("p/p.sql"), std::string(kSources) + query + ";\n").ok());
    ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(dims, "c.csv"), "id,name,country\n1,ann,UK\n2,bob,FR\n").ok());
    auto feed = [&](int round) {
      std::string rows = round == 1 ? "1,1,10.5,2026-01-01 12:00:00,UK\n2,2,3.0,2026-01-01 12:01:00,FR\n"
                                    : "3,1,7.0,2026-01-01 12:30:00,UK\n4,3,1.0,2026-01-01 12:02:00,DE\n";
      ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing, "o" + std::to_string(round) + ".csv"),
                                       "id,cust,amount,ts,country\n" + rows)
                      .ok());
    };
    Agree(dir.Join("p"), {}, feed, "query " + std::to_string(index++) + ": " + query, &accepted);
  }
  EXPECT_GE(accepted, 10);  // the corpus keeps exercising the run side
}

TEST_F(ValidateRunTest, SqlTestPipeline) {
  testing::TempDir dir;
  std::string landing = dir.Join("landing");
  ASSERT_TRUE(fs_->CreateDirs(landing + "/orders").ok());
  auto feed = [&](int round) {
    std::string rows = round == 1 ? "536365,12/1/2010,85123A,Heart,2.55,6,17850,United Kingdom\n"
                                  : "C536379,12/1/2010,D,Discount,27.5,-1,14527,United Kingdom\n"
                                    "536366,12/2/2010,22633,Hand warmer,1.85,6,,France\n";
    ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing, "orders/o" + std::to_string(round) + ".csv"),
                                     "TransactionNo,Date,ProductNo,ProductName,Price,Quantity,CustomerNo,Country\n" +
                                         rows)
                    .ok());
  };
  int accepted = 0;
  Agree(testing::SourceDir() + "/src/sql/testdata/orders", {{"landing", landing}, {"storage", dir.Join("storage")}},
        feed, "src/sql/testdata/orders", &accepted);
  EXPECT_EQ(accepted, 1);
}

}  // namespace
}  // namespace lakepipe::runtime
