#include "sql/select.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sql/lexer.h"

namespace lakepipe::sql {
namespace {

using ::testing::HasSubstr;

MappedText Text(const std::string& sql, const std::string& file = "q.sql") {
  return MappedText::Of(std::make_shared<SourceFile>(file, sql));
}

PlanPtr Plan(const std::string& sql) {
  Result<PlanPtr> r = PlanQuery(Text(sql));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : nullptr;
}

Status PlanError(const std::string& sql) {
  Result<PlanPtr> r = PlanQuery(Text(sql));
  EXPECT_FALSE(r.ok()) << sql;
  return r.ok() ? Status::OK() : r.status();
}

TEST(SelectTest, ProjectionWithAliasesKeepsCase) {
  PlanPtr p = Plan("SELECT Price * Quantity AS LineTotal, Country FROM silver_orders");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->kind, PlanKind::kProject);
  ASSERT_EQ(p->items.size(), 2u);
  EXPECT_EQ(p->items[0].name, "LineTotal");
  EXPECT_EQ(p->items[0].expr->ToString(), "(Price * Quantity)");
  EXPECT_EQ(p->items[1].name, "Country");
  ASSERT_EQ(p->inputs[0]->kind, PlanKind::kTableScan);
  EXPECT_EQ(p->inputs[0]->table, "silver_orders");
  EXPECT_FALSE(p->inputs[0]->streaming);
}

TEST(SelectTest, StreamForms) {
  for (const char* sql : {"SELECT * FROM STREAM(bronze)", "SELECT * FROM STREAM bronze",
                          "SELECT * FROM stream(LIVE.bronze)", "SELECT * FROM STREAM LIVE.bronze"}) {
    PlanPtr p = Plan(sql);
    ASSERT_TRUE(p) << sql;
    const PlanNode& scan = *p->inputs[0];
    EXPECT_EQ(scan.kind, PlanKind::kTableScan) << sql;
    EXPECT_EQ(scan.table, "bronze") << sql;
    EXPECT_TRUE(scan.streaming) << sql;
  }
  PlanPtr p = Plan("SELECT * FROM LIVE.bronze b");
  EXPECT_FALSE(p->inputs[0]->streaming);
  EXPECT_EQ(p->inputs[0]->alias, "b");
}

TEST(SelectTest, StarExceptAndBackticks) {
  PlanPtr p = Plan("SELECT * EXCEPT (`Date`, Price), o.* EXCEPT (x) FROM t o");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->items.size(), 2u);
  EXPECT_TRUE(p->items[0].is_star);
  EXPECT_THAT(p->items[0].star_except, ::testing::ElementsAre("Date", "Price"));
  EXPECT_TRUE(p->items[1].is_star);
  EXPECT_EQ(p->items[1].star_qualifier, "o");
  EXPECT_THAT(p->items[1].star_except, ::testing::ElementsAre("x"));
  PlanPtr q = Plan("SELECT `weird name` AS `out col` FROM `my table`");
  EXPECT_EQ(q->items[0].expr->name, "weird name");
  EXPECT_EQ(q->items[0].name, "out col");
  EXPECT_EQ(q->inputs[0]->table, "my table");
}

TEST(SelectTest, DoubleQuotedStringsAreStrings) {
  PlanPtr p = Plan("SELECT * FROM t WHERE Country = \"United Kingdom\" AND x <> 'it''s' AND y = 'a\\'b'");
  ASSERT_TRUE(p);
  const PlanNode& f = *p->inputs[0];
  ASSERT_EQ(f.kind, PlanKind::kFilter);
  EXPECT_EQ(f.predicate->ToString(), "(((Country = 'United Kingdom') and (x <> 'it's')) and (y = 'a'b'))");
}

TEST(SelectTest, ReadFilesWithOptionsAndMetadata) {
  PlanPtr p = Plan(
      "SELECT *, current_timestamp() AS ingestion_time, _metadata.file_path AS source_file\n"
      "FROM STREAM read_files('/landing/orders', format => 'csv', header => true,\n"
      "  schema => 'TransactionNo STRING, Price DOUBLE, Quantity INT')");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->items[1].expr->ToString(), "current_timestamp()");
  EXPECT_EQ(p->items[2].expr->name, "_metadata.file_path");
  const PlanNode& scan = *p->inputs[0];
  ASSERT_EQ(scan.kind, PlanKind::kReadFiles);
  EXPECT_TRUE(scan.streaming);
  EXPECT_EQ(scan.read_files.path, "/landing/orders");
  EXPECT_EQ(scan.read_files.format, "csv");
  EXPECT_EQ(scan.read_files.options.at("header"), "true");
  ASSERT_TRUE(scan.read_files.schema.has_value());
  EXPECT_EQ(scan.read_files.schema->size(), 3u);
  EXPECT_EQ(scan.read_files.schema->field(2).type, DataType::Int());
  EXPECT_EQ(scan.read_files.rescued_data_column, "_rescued_data");
  EXPECT_THAT(scan.read_files.metadata_columns, ::testing::ElementsAre("file_path"));
}

TEST(SelectTest, ReadFilesRelativePathUsesBaseDir) {
  PlanOptions opts;
  opts.base_dir = "/pipelines/orders";
  Result<PlanPtr> r = PlanQuery(Text("SELECT * FROM read_files('landing', format => 'json')"), opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->inputs[0]->read_files.path, "/pipelines/orders/landing");
}

TEST(SelectTest, CastsAndTryCast) {
  PlanPtr p = Plan(
      "SELECT CAST(a AS DECIMAL(10,2)) AS d, b::STRING AS s, try_cast(c AS BIGINT) AS t, "
      "CAST(x AS DOUBLE) AS dd, CAST(y AS TIMESTAMP) AS ts, CAST(z AS DATE) AS dt, CAST(w AS INT) AS i FROM t");
  ASSERT_TRUE(p);
  auto cast = [&](int i) { return p->items[i].expr; };
  EXPECT_EQ(cast(0)->kind, expr::ExprKind::kCast);
  EXPECT_EQ(cast(0)->cast_type, DataType::Decimal(10, 2));
  EXPECT_FALSE(cast(0)->try_cast);
  EXPECT_EQ(cast(1)->cast_type, DataType::String());
  EXPECT_EQ(cast(2)->cast_type, DataType::Long());
  EXPECT_TRUE(cast(2)->try_cast);
  EXPECT_EQ(cast(3)->cast_type, DataType::Double());
  EXPECT_EQ(cast(4)->cast_type, DataType::Timestamp());
  EXPECT_EQ(cast(5)->cast_type, DataType::Date());
  EXPECT_EQ(cast(6)->cast_type, DataType::Int());
}

TEST(SelectTest, ExpressionRewrites) {
  PlanPtr p = Plan(
      "SELECT x BETWEEN 1 AND 5 AS b, CASE k WHEN 1 THEN 'one' ELSE 'many' END AS c, "
      "y NOT IN (1, 2) AS n, z IS NULL AS zn, z IS NOT NULL AS znn, COALESCE(a, b, 0) AS co, "
      "NULLIF(a, 0) AS nu, upper(trim(s)) AS u, extract(year FROM d) AS yr, -3 AS neg, 0 AS zero, "
      "1.50 AS dec, s RLIKE '^a' AS r, s NOT LIKE 'x%' AS nl FROM t");
  ASSERT_TRUE(p);
  std::vector<std::string> got;
  for (const auto& item : p->items) got.push_back(item.expr->ToString());
  EXPECT_EQ(got[0], "((x >= 1) and (x <= 5))");
  EXPECT_EQ(got[1], "case((k = 1), 'one', 'many')");
  EXPECT_EQ(got[2], "not(in(y, 1, 2))");
  EXPECT_EQ(got[3], "is_null(z)");
  EXPECT_EQ(got[4], "is_not_null(z)");
  EXPECT_EQ(got[5], "coalesce(a, b, 0)");
  EXPECT_EQ(got[6], "nullif(a, 0)");
  EXPECT_EQ(got[7], "upper(trim(s))");
  EXPECT_EQ(got[8], "year(d)");
  EXPECT_EQ(got[9], "-3");
  EXPECT_EQ(got[10], "0");
  EXPECT_EQ(p->items[11].expr->literal_type, DataType::Decimal(3, 2));
  EXPECT_EQ(got[12], "rlike(s, '^a')");
  EXPECT_EQ(got[13], "not((s like 'x%'))");
}

TEST(SelectTest, AggregateWithHavingAndOrder) {
  PlanPtr p = Plan(
      "SELECT Country, SUM(line_total) AS total_revenue, COUNT(*) AS order_lines, "
      "COUNT(DISTINCT CustomerNo) AS customers FROM silver_orders GROUP BY Country "
      "HAVING SUM(line_total) > 100 ORDER BY total_revenue DESC LIMIT 10");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->kind, PlanKind::kLimit);
  EXPECT_EQ(p->limit, 10);
  const PlanNode& sort = *p->inputs[0];
  ASSERT_EQ(sort.kind, PlanKind::kSort);
  EXPECT_FALSE(sort.sort_keys[0].ascending);
  EXPECT_FALSE(sort.sort_keys[0].nulls_first);
  const PlanNode& proj = *sort.inputs[0];
  ASSERT_EQ(proj.kind, PlanKind::kProject);
  EXPECT_EQ(proj.items[1].expr->ToString(), "_agg0");
  EXPECT_EQ(proj.items[0].expr->ToString(), "Country");
  const PlanNode& having = *proj.inputs[0];
  ASSERT_EQ(having.kind, PlanKind::kFilter);
  EXPECT_EQ(having.predicate->ToString(), "(_agg0 > 100)");
  const PlanNode& agg = *having.inputs[0];
  ASSERT_EQ(agg.kind, PlanKind::kAggregate);
  ASSERT_EQ(agg.group_keys.size(), 1u);
  EXPECT_EQ(agg.group_keys[0].name, "Country");
  ASSERT_EQ(agg.aggregates.size(), 3u);
  EXPECT_EQ(agg.aggregates[0].expr->ToString(), "sum(line_total)");
  EXPECT_EQ(agg.aggregates[1].expr->ToString(), "count(*)");
  EXPECT_TRUE(agg.aggregates[2].expr->distinct);
}

TEST(SelectTest, GroupByOrdinalAndExpression) {
  PlanPtr p = Plan("SELECT date_trunc('MONTH', d) AS m, avg(x) FROM t GROUP BY 1");
  ASSERT_TRUE(p);
  const PlanNode& agg = *p->inputs[0];
  ASSERT_EQ(agg.kind, PlanKind::kAggregate);
  EXPECT_EQ(agg.group_keys[0].expr->ToString(), "date_trunc('MONTH', d)");
  EXPECT_EQ(p->items[0].expr->ToString(), agg.group_keys[0].name);
  EXPECT_EQ(p->items[1].name, "avg(x)");
}

TEST(SelectTest, UngroupedColumnIsAnError) {
  Status s = PlanError("SELECT Country, Price, sum(x) FROM t GROUP BY Country");
  EXPECT_THAT(s.message(), HasSubstr("q.sql:1:17"));
  EXPECT_THAT(s.message(), HasSubstr("Price"));
}

TEST(SelectTest, JoinsUnionSubqueryDistinct) {
  PlanPtr p = Plan(
      "SELECT DISTINCT o.id, c.name FROM orders o LEFT JOIN (SELECT id, name FROM customers) c "
      "ON o.cid = c.id AND c.active = true JOIN x ON x.k = o.k");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->kind, PlanKind::kDistinct);
  const PlanNode& join = *p->inputs[0]->inputs[0];
  ASSERT_EQ(join.kind, PlanKind::kJoin);
  EXPECT_EQ(join.join_type, JoinType::kInner);
  const PlanNode& left = *join.inputs[0];
  ASSERT_EQ(left.kind, PlanKind::kJoin);
  EXPECT_EQ(left.join_type, JoinType::kLeft);
  EXPECT_EQ(left.inputs[1]->kind, PlanKind::kSubqueryAlias);
  EXPECT_EQ(left.inputs[1]->alias, "c");
  PlanPtr u = Plan("SELECT a FROM t1 UNION ALL SELECT a FROM t2 UNION ALL SELECT a FROM t3");
  ASSERT_EQ(u->kind, PlanKind::kUnionAll);
  EXPECT_EQ(u->inputs.size(), 3u);
  PlanPtr w = Plan("WITH x AS (SELECT a FROM t1) SELECT a FROM x");
  EXPECT_EQ(w->inputs[0]->kind, PlanKind::kSubqueryAlias);
}

TEST(SelectTest, Watermark) {
  PlanPtr p = Plan("SELECT * FROM STREAM events WATERMARK ts DELAY OF INTERVAL 10 MINUTES AS e");
  ASSERT_TRUE(p);
  const PlanNode& scan = *p->inputs[0];
  ASSERT_TRUE(scan.watermark.has_value());
  EXPECT_EQ(scan.watermark->column, "ts");
  EXPECT_EQ(scan.watermark->delay_micros, 10LL * 60 * 1000000);
  EXPECT_TRUE(scan.streaming);
  EXPECT_EQ(scan.alias, "e");
}

struct BadCase {
  const char* sql;
  const char* position;
  const char* words;
};

TEST(SelectTest, RefusedConstructsNamePosition) {
  const BadCase cases[] = {
      {"SELECT a,\n  sum(a) OVER (ORDER BY a GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t", "q.sql:2:3", "GROUPS"},
      {"SELECT a FROM t\nWHERE rank() OVER (ORDER BY a) = 1", "q.sql:2:7", "window function `rank` is not allowed here"},
      {"SELECT a FROM t QUALIFY a > 1 QUALIFY a > 2", "q.sql:1:31", "QUALIFY appears twice"},
      {"SELECT a FROM t\nRIGHT JOIN u ON t.a = u.a", "q.sql:2:12", "RIGHT JOIN"},
      {"SELECT a FROM t FULL JOIN u ON t.a = u.a", "q.sql:1:27", "FULL OUTER JOIN"},
      {"SELECT a FROM t WHERE a IN (SELECT b FROM u)", "q.sql:1:25", "subqueries"},
      {"SELECT a, count(*) FROM t GROUP BY GROUPING SETS ((a), (a))", "q.sql:1:36", "listed twice"},
      {"SELECT a FROM t LATERAL VIEW explode(b)", "q.sql:1:39", "LATERAL VIEW needs a table alias"},
      {"SELECT explode(b) + 1 FROM t", "q.sql:1:8", "a generator inside an expression"},
      {"SELECT explode(b), explode(c) FROM t", "q.sql:1:20", "two generators"},
      {"SELECT a, explode(b) FROM t GROUP BY a", "q.sql:1:11", "not built yet"},
      {"SELECT a FROM t LATERAL VIEW upper(b) x", "q.sql:1:30", "not a generator"},
      {"SELECT a FROM t INTERSECT SELECT a FROM u", "q.sql:1:8", "INTERSECT"},
      {"SELECT a FROM t\n  ORDER BY a LIMIT 5 OFFSET 2", "q.sql:2:29", "OFFSET"},
      {"SELECT median(a) FROM t", "q.sql:1:8", "not built yet: aggregate function `median`"},
      {"SELECT a FROM other_catalog.sch.t", "q.sql:1:15", "three-part name"},
      {"SELECT a FROM t WHERE d > now() - INTERVAL '1 02' DAY TO HOUR", "q.sql:1:51", "not built yet"},
      {"SELECT a FROM t WHERE d > now() - INTERVAL '1 month 2 days'", "q.sql:1:35", "not built yet"},
      {"SELECT a FROM t WHERE d > now() - INTERVAL 5 FORTNIGHTS", "q.sql:1:46", "unknown interval unit"},
      {"SELECT 1", "q.sql:1:8", "without FROM"},
      {"SELECT a FROM read_files('x')", "q.sql:1:15", "format"},
      {"SELECT a FROM read_files('x', format => 'avro')", "q.sql:1:15", "avro"},
      {"SELECT a FROM read_files('x', format => 'csv', schema => 'a BOGUS')", "q.sql:1:48", "schema"},
      {"SELECT a FROM t JOIN u USING (a)", "q.sql:1:22", "USING"},
      {"SELECT a FROM t WHERE sum(a) > 1", "q.sql:1:23", "not allowed in WHERE"},
      {"SELECT _metadata.file_path FROM t", "q.sql:1:8", "read_files"},
      {"SELECT a FROM\n t WHERE a = 'unterminated", "q.sql:2:14", "unterminated"},
      {"SELECT a FROM t WHERE", "q.sql:1:", "syntax error"},
      {"SELECT a FROM t WHERE a = `x", "q.sql:1:27", "unterminated"},
  };
  for (const BadCase& c : cases) {
    Status s = PlanError(c.sql);
    EXPECT_THAT(s.message(), HasSubstr(c.position)) << c.sql << " -> " << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr(c.words)) << c.sql << " -> " << s.ToString();
  }
}

TEST(SelectTest, NulBytesAreRefusedNotTruncated) {
  Status s = PlanError(std::string("SELECT a FROM t\0 WHERE", 23));
  EXPECT_THAT(s.message(), HasSubstr("q.sql:1:16"));
  EXPECT_THAT(s.message(), HasSubstr("NUL"));
}

TEST(SelectTest, IntervalValuesAndUnitKeywords) {
  PlanPtr p = Plan(
      "SELECT ts + INTERVAL 90 SECONDS AS a, ts - INTERVAL '2' HOUR AS b, d + INTERVAL 3 DAYS AS c, "
      "ts + INTERVAL '1 day 2 hours' AS e, ts + INTERVAL 1 YEAR 2 MONTHS AS f, ts + INTERVAL -1.5 MINUTES AS g, "
      "timestampadd(MINUTE, 5, ts) AS h, timestampdiff(hour, ts, ts2) AS i, date_add(d, 1) AS j, "
      "datediff(DAY, ts, ts2) AS k FROM t");
  ASSERT_TRUE(p);
  std::vector<std::string> got;
  for (const auto& item : p->items) got.push_back(item.expr->ToString());
  EXPECT_EQ(got[0], "(ts + CAST('90 SECONDS' AS interval day to second))");
  EXPECT_EQ(got[1], "(ts - CAST('2 HOUR' AS interval day to second))");
  EXPECT_EQ(got[2], "(d + CAST('3 DAYS' AS interval day))");
  EXPECT_EQ(got[3], "(ts + CAST('1 day 2 hours' AS interval day to second))");
  EXPECT_EQ(got[4], "(ts + CAST('1 YEAR 2 MONTHS' AS interval year to month))");
  EXPECT_EQ(got[5], "(ts + CAST('-1.5 MINUTES' AS interval day to second))");
  EXPECT_EQ(got[6], "timestampadd('MINUTE', 5, ts)");
  EXPECT_EQ(got[7], "timestampdiff('HOUR', ts, ts2)");
  EXPECT_EQ(got[8], "date_add(d, 1)");
  EXPECT_EQ(got[9], "datediff('DAY', ts, ts2)");
  // The watermark clause keeps its own INTERVAL syntax.
  PlanPtr w = Plan("SELECT * FROM STREAM events WATERMARK ts DELAY OF INTERVAL 10 MINUTES AS e WHERE ts > ts - INTERVAL 1 HOUR");
  ASSERT_TRUE(w);
}

TEST(SelectTest, ParseExpressionPositions) {
  Result<expr::ExprPtr> e = ParseExpression(Text("Quantity > 0 AND `Price` > 0"));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ((*e)->ToString(), "((Quantity > 0) and (Price > 0))");
  EXPECT_EQ((*e)->args[1]->args[0]->pos.column, 18);
  Result<expr::ExprPtr> bad = ParseExpression(Text("Quantity >"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("q.sql:1:"));
}

}  // namespace
}  // namespace lakepipe::sql

namespace lakepipe::sql {
namespace {

TEST(SelectTest, KeywordNamedColumnsAndSparkFunctions) {
  PlanPtr p = Plan(
      "SELECT Date, Year, Name, Value, if(a > 1, 'x', 'y') AS f, left(s, 2) AS l, "
      "date_format(ts, 'yyyy-MM') AS m, split_part(s, ',', 1) AS sp, regexp_replace(s, '\\\\d+', '#') AS r, "
      "concat(a, b) AS c, substring(s, 1, 3) AS sub, datediff(d1, d2) AS dd, a || b AS cc, "
      "a IS DISTINCT FROM b AS dist, a <=> b AS ns, a == b AS eq, a != b AS ne FROM t");
  ASSERT_TRUE(p);
  std::vector<std::string> got;
  for (const auto& item : p->items) got.push_back(item.expr->ToString());
  EXPECT_EQ(p->items[0].name, "Date");
  EXPECT_EQ(p->items[1].name, "Year");  // a PostgreSQL keyword keeps its case
  EXPECT_EQ(p->items[2].name, "Name");
  EXPECT_EQ(p->items[3].name, "Value");
  PlanPtr aliases = Plan("SELECT a AS Year, b AS Value FROM t AS Name");
  EXPECT_EQ(aliases->items[0].name, "Year");
  EXPECT_EQ(aliases->items[1].name, "Value");
  EXPECT_EQ(aliases->inputs[0]->alias, "Name");
  PlanPtr q = Plan("SELECT o.Year, t.* FROM t o");
  EXPECT_EQ(q->items[0].expr->ToString(), "o.Year");
  EXPECT_EQ(got[4], "if((a > 1), 'x', 'y')");
  EXPECT_EQ(got[5], "left(s, 2)");
  EXPECT_EQ(got[8], "regexp_replace(s, '\\d+', '#')");
  EXPECT_EQ(got[10], "substring(s, 1, 3)");
  EXPECT_EQ(got[12], "(a || b)");
  EXPECT_EQ(got[13], "not((a <=> b))");
  EXPECT_EQ(got[14], "(a <=> b)");
  EXPECT_EQ(got[15], "(a = b)");
  EXPECT_EQ(got[16], "(a <> b)");
}

// Issue 19 item 6: 5,000 nested terms used to overflow the stack (SIGSEGV). A left-deep
// chain deeper than the limit is a clear error at file:line:col; a long flat OR list (PostgreSQL
// flattens it) becomes a balanced tree and plans.
TEST(SelectTest, DeepExpressionsAreAnErrorNotACrash) {
  std::string sum = "SELECT 1";
  for (int i = 1; i < 5000; ++i) sum += "+1";
  Status st = PlanError(sum + " AS s FROM t");
  EXPECT_THAT(st.message(), HasSubstr("expression nested deeper than 500 levels"));
  EXPECT_THAT(st.message(), HasSubstr("q.sql:1:"));

  std::string ors = "SELECT * FROM t WHERE x = 0";
  for (int i = 1; i < 10000; ++i) ors += " OR x = " + std::to_string(i);
  PlanPtr p = Plan(ors);
  ASSERT_TRUE(p);
  // Find the filter and measure its depth: logarithmic, not 10,000.
  const PlanNode* n = p.get();
  while (n != nullptr && n->kind != PlanKind::kFilter) n = n->inputs.empty() ? nullptr : n->inputs[0].get();
  ASSERT_NE(n, nullptr);
  auto depth = [](auto& self, const expr::ExprPtr& e) -> int {
    int d = 0;
    for (const auto& a : e->args) d = std::max(d, self(self, a));
    return d + 1;
  };
  EXPECT_LE(depth(depth, n->predicate), 20);

  std::string nested = "SELECT ";
  for (int i = 0; i < 600; ++i) nested += "(";
  nested += "1";
  for (int i = 0; i < 600; ++i) nested += "+1)";
  st = PlanError(nested + " AS s FROM t");
  EXPECT_THAT(st.message(), HasSubstr("nested deeper than"));
}

}  // namespace
}  // namespace lakepipe::sql
