#include "sql/statement.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace lakepipe::sql {
namespace {

using ::testing::HasSubstr;

Result<std::vector<DatasetDefinition>> Parse(const std::string& sql,
                                             const std::map<std::string, std::string>& config = {}) {
  return ParseSqlFile(std::make_shared<SourceFile>("t.sql", sql), config);
}

TEST(StatementTest, StreamingTableWithEverything) {
  auto r = Parse(
      "-- leading comment\n"
      "CREATE OR REFRESH STREAMING TABLE silver (\n"
      "  id BIGINT NOT NULL COMMENT 'the id',\n"
      "  amount DECIMAL(10,2),\n"
      "  CONSTRAINT ok_id EXPECT (id > 0) ON VIOLATION DROP ROW,\n"
      "  CONSTRAINT ok_amount EXPECT (amount IS NOT NULL) ON VIOLATION FAIL UPDATE,\n"
      "  CONSTRAINT q EXPECT (amount < 1000) ON VIOLATION QUARANTINE,\n"
      "  CONSTRAINT warn_only EXPECT (id <> 7)\n"
      ")\n"
      "COMMENT 'clean rows' PARTITIONED BY (id) TBLPROPERTIES ('quality' = 'silver', delta.appendOnly = true)\n"
      "AS SELECT id, amount FROM STREAM(bronze);");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  const DatasetDefinition& d = (*r)[0];
  EXPECT_EQ(d.kind, DatasetKind::kStreamingTable);
  EXPECT_EQ(d.name, "silver");
  EXPECT_EQ(d.loc.ToString(), "t.sql:2:35");
  EXPECT_EQ(d.statement.ToString(), "t.sql:2:1");
  ASSERT_EQ(d.columns.size(), 2u);
  EXPECT_EQ(d.columns[0].field.type, DataType::Long());
  EXPECT_FALSE(d.columns[0].field.nullable);
  EXPECT_EQ(d.columns[0].field.comment, "the id");
  EXPECT_EQ(d.columns[1].field.type, DataType::Decimal(10, 2));
  ASSERT_EQ(d.expectations.size(), 4u);
  EXPECT_EQ(d.expectations[0].action, ViolationAction::kDropRow);
  EXPECT_EQ(d.expectations[1].action, ViolationAction::kFailUpdate);
  EXPECT_EQ(d.expectations[2].action, ViolationAction::kQuarantine);
  EXPECT_EQ(d.expectations[3].action, ViolationAction::kWarn);
  EXPECT_EQ(d.expectations[0].condition->ToString(), "(id > 0)");
  EXPECT_EQ(d.expectations[1].condition_sql, "amount IS NOT NULL");
  EXPECT_EQ(d.expectations[0].loc.ToString(), "t.sql:5:3");
  EXPECT_EQ(d.expectations[0].condition->args[0]->pos.line, 5);
  EXPECT_EQ(d.expectations[0].condition->args[0]->pos.column, 28);  // `id`
  EXPECT_EQ(d.expectations[0].condition->pos.column, 31);           // `>`
  EXPECT_EQ(d.comment, "clean rows");
  EXPECT_THAT(d.partition_columns, ::testing::ElementsAre("id"));
  ASSERT_EQ(d.table_properties.size(), 2u);
  EXPECT_EQ(d.table_properties[1].first, "delta.appendOnly");
  EXPECT_EQ(d.table_properties[1].second, "true");
  EXPECT_EQ(d.query_sql, "SELECT id, amount FROM STREAM(bronze)");
  ASSERT_TRUE(d.query);
  EXPECT_TRUE(d.query->inputs[0]->streaming);
}

TEST(StatementTest, SeveralStatementsAndSpellings) {
  auto r = Parse(
      "CREATE OR REFRESH MATERIALIZED VIEW a AS SELECT x FROM t;\n"
      "CREATE LIVE TABLE b AS SELECT x FROM t;   /* legacy */\n"
      "CREATE TEMPORARY VIEW c AS SELECT x FROM t;\n"
      "CREATE LIVE VIEW d AS SELECT x FROM t;\n"
      "CREATE VIEW e AS SELECT x FROM t;\n"
      "CREATE STREAMING LIVE TABLE f AS SELECT x FROM STREAM t;\n"
      "CREATE OR REFRESH STREAMING TABLE LIVE.g AS SELECT x FROM STREAM t;\n"
      ";;\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 7u);
  EXPECT_EQ((*r)[0].kind, DatasetKind::kMaterializedView);
  EXPECT_EQ((*r)[1].kind, DatasetKind::kMaterializedView);
  EXPECT_EQ((*r)[2].kind, DatasetKind::kView);
  EXPECT_TRUE((*r)[2].temporary);
  EXPECT_EQ((*r)[3].kind, DatasetKind::kView);
  EXPECT_EQ((*r)[4].kind, DatasetKind::kView);
  EXPECT_EQ((*r)[5].kind, DatasetKind::kStreamingTable);
  EXPECT_EQ((*r)[6].name, "g");
  EXPECT_EQ((*r)[3].statement.ToString(), "t.sql:4:1");
}

TEST(StatementTest, ConfigurationSubstitution) {
  auto r = Parse("CREATE MATERIALIZED VIEW a AS SELECT * FROM read_files('${root}/x', format => '${fmt}', "
                 "schema => 'a INT') WHERE a > ${min}",
                 {{"root", "/data"}, {"fmt", "json"}, {"min", "5"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const PlanNode& filter = *(*r)[0].query->inputs[0];
  EXPECT_EQ(filter.predicate->ToString(), "(a > 5)");
  EXPECT_EQ(filter.inputs[0]->read_files.path, "/data/x");
  EXPECT_EQ(filter.inputs[0]->read_files.format, "json");
  auto bad = Parse("CREATE MATERIALIZED VIEW a AS\nSELECT * FROM t WHERE a > ${missing}", {{"min", "5"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("t.sql:2:27"));
  EXPECT_THAT(bad.status().message(), HasSubstr("${missing}"));
  EXPECT_THAT(bad.status().message(), HasSubstr("min"));
  // A ${key} inside a comment is left alone.
  auto commented = Parse("-- uses ${nothing}\nCREATE MATERIALIZED VIEW a AS SELECT x FROM t");
  EXPECT_TRUE(commented.ok()) << commented.status().ToString();
}

TEST(StatementTest, PositionsAfterSubstitutionPointAtTheOriginal) {
  // The substituted value is longer than ${k}; an error after it still points at the
  // original column.
  auto r = Parse("CREATE MATERIALIZED VIEW a AS SELECT '${k}' AS v, sum(x) OVER (GROUPS 1 PRECEDING) FROM t",
                 {{"k", "a much longer value than the key"}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("t.sql:1:51"));
  EXPECT_THAT(r.status().message(), HasSubstr("GROUPS frames"));
}

struct BadCase {
  const char* sql;
  const char* position;
  const char* words;
  StatusCode code;
};

TEST(StatementTest, BadInputsNamePositions) {
  const StatusCode kInvalid = StatusCode::kInvalidArgument;
  const StatusCode kNotSupported = StatusCode::kNotSupported;
  const BadCase cases[] = {
      {"SET spark.x = 1", "t.sql:1:1", "SET statements", kNotSupported},
      {"CREATE FLOW f AS INSERT INTO t BY NAME SELECT * FROM s", "t.sql:1:30", "not defined", kInvalid},
      {"\nAPPLY CHANGES INTO t FROM s KEYS (id) SEQUENCE BY ts", "t.sql:2:20", "not defined", kInvalid},
      {"AUTO CDC INTO t FROM s KEYS (id)", "t.sql:1:33", "SEQUENCE BY", kInvalid},
      {"CREATE TABLE t AS SELECT 1", "t.sql:1:8", "CREATE TABLE", kNotSupported},
      {"CREATE OR REPLACE VIEW v AS SELECT a FROM t", "t.sql:1:11", "OR REFRESH", kInvalid},
      {"CREATE MATERIALIZED VIEW a", "t.sql:1:27", "expected AS", kInvalid},
      {"CREATE MATERIALIZED VIEW a AS", "t.sql:1:30", "query after AS", kInvalid},
      {"CREATE STREAMING TABLE s (\n  CONSTRAINT c EXPECT (a >) ON VIOLATION DROP ROW\n) AS SELECT a FROM STREAM t",
       "t.sql:2:", "syntax error", kInvalid},
      {"CREATE STREAMING TABLE s (CONSTRAINT c EXPECT (a > 0) ON VIOLATION EXPLODE) AS SELECT a FROM STREAM t",
       "t.sql:1:68", "DROP ROW, FAIL UPDATE or QUARANTINE", kInvalid},
      {"CREATE STREAMING TABLE s (CONSTRAINT c EXPECT (a > 0), CONSTRAINT c EXPECT (a < 9)) AS SELECT a FROM STREAM t",
       "t.sql:1:56", "defined twice", kInvalid},
      {"CREATE STREAMING TABLE s (a BOGUSTYPE) AS SELECT a FROM STREAM t", "t.sql:1:29", "column `a`", kInvalid},
      {"CREATE STREAMING TABLE s (CONSTRAINT pk PRIMARY KEY (a)) AS SELECT a FROM STREAM t", "t.sql:1:41",
       "PRIMARY", kNotSupported},
      {"CREATE MATERIALIZED VIEW a CLUSTER BY (x) AS SELECT x FROM t", "t.sql:1:28", "CLUSTER BY", kNotSupported},
      {"CREATE MATERIALIZED VIEW a COMMENT 'x' COMMENT 'y' AS SELECT x FROM t", "t.sql:1:40", "twice", kInvalid},
      {"CREATE MATERIALIZED VIEW a FROBNICATE AS SELECT x FROM t", "t.sql:1:28", "FROBNICATE", kInvalid},
      {"CREATE MATERIALIZED VIEW cat.sch.a AS SELECT x FROM t", "t.sql:1:26", "qualified", kNotSupported},
      {"CREATE VIEW v PARTITIONED BY (x) AS SELECT x FROM t", "t.sql:1:15", "view", kInvalid},
      {"CREATE TEMPORARY STREAMING TABLE s AS SELECT x FROM STREAM t", "t.sql:1:1", "TEMPORARY", kNotSupported},
      {"SELECT * FROM t", "t.sql:1:1", "SELECT statements", kNotSupported},
      {"DROP TABLE t", "t.sql:1:1", "DROP", kNotSupported},
      {"frobnicate", "t.sql:1:1", "expected CREATE", kInvalid},
      {"CREATE MATERIALIZED VIEW a AS SELECT x FROM t /* never closed", "t.sql:1:47", "unterminated", kInvalid},
      {"CREATE MATERIALIZED VIEW a COMMENT 'open AS SELECT x FROM t", "t.sql:1:36", "unterminated", kInvalid},
      {"CREATE MATERIALIZED VIEW a AS SELECT x FROM t;\nCREATE MATERIALIZED VIEW b AS\n  SELECT x FROM t\n"
       "  WHERE x IN (SELECT y FROM u)",
       "t.sql:4:11", "subqueries", kNotSupported},
      {"CREATE MATERIALIZED VIEW a AS SELECT x FROM t x1 FULL JOIN u ON x1.a = u.a", "t.sql:1:60", "FULL", kNotSupported},
  };
  for (const BadCase& c : cases) {
    auto r = Parse(c.sql);
    ASSERT_FALSE(r.ok()) << c.sql;
    EXPECT_THAT(r.status().message(), HasSubstr(c.position)) << c.sql << " -> " << r.status().ToString();
    EXPECT_THAT(r.status().message(), HasSubstr(c.words)) << c.sql << " -> " << r.status().ToString();
    EXPECT_EQ(r.status().code(), c.code) << c.sql << " -> " << r.status().ToString();
  }
}

}  // namespace
}  // namespace lakepipe::sql

namespace lakepipe::sql {
namespace {

// Every prefix of a realistic file, and the file with each byte replaced by a troublesome
// character, parses to a result or an error: never a crash or a hang.
TEST(StatementTest, TruncatedAndMangledInputsNeverCrash) {
  const std::string sql =
      "CREATE OR REFRESH STREAMING TABLE silver (\n"
      "  CONSTRAINT ok EXPECT (`Quantity` > 0) ON VIOLATION DROP ROW\n"
      ") COMMENT 'x' AS SELECT * EXCEPT (a), try_cast(b AS DECIMAL(10,2)) AS c, \"s\" AS d,\n"
      "  CASE WHEN x BETWEEN 1 AND 2 THEN 'y' END AS e, _metadata.file_path AS f\n"
      "FROM STREAM read_files('/x', format => 'csv', schema => 'a INT, b STRING') WATERMARK ts DELAY OF INTERVAL 1 "
      "MINUTE r JOIN STREAM(LIVE.t) u ON r.a = u.a WHERE a IN (1, 2) GROUP BY 1 ORDER BY 1 LIMIT 3; -- end\n";
  int ok = 0, failed = 0;
  for (size_t n = 0; n <= sql.size(); ++n) {
    auto r = ParseSqlFile(std::make_shared<SourceFile>("f.sql", sql.substr(0, n)), {});
    (r.ok() ? ok : failed)++;
  }
  const char kNasty[] = {'(', ')', '\'', '"', '`', ';', '*', '$', '\0', '\n'};
  for (size_t i = 0; i < sql.size(); i += 3) {
    for (char c : kNasty) {
      std::string mangled = sql;
      mangled[i] = c;
      auto r = ParseSqlFile(std::make_shared<SourceFile>("f.sql", mangled), {});
      (r.ok() ? ok : failed)++;
      if (!r.ok()) {
        EXPECT_FALSE(r.status().message().empty());
      }
    }
  }
  EXPECT_GT(failed, 0);
  EXPECT_GT(ok, 0);  // the empty prefix and a few harmless edits parse
}

}  // namespace
}  // namespace lakepipe::sql
