#include "sql/resolve.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/testing.h"

namespace lakepipe::sql {
namespace {

using ::testing::HasSubstr;

const char* kBronze =
    "CREATE STREAMING TABLE orders AS SELECT *, _metadata.file_path AS src FROM STREAM read_files('/in', "
    "format => 'csv', schema => 'id BIGINT, cust INT, amount DECIMAL(10,2), ts TIMESTAMP, note STRING');\n"
    "CREATE MATERIALIZED VIEW customers AS SELECT * FROM read_files('/c', format => 'parquet', "
    "schema => 'id INT, name STRING, country STRING');\n";

Result<ResolvedPipeline> Resolve(const std::string& sql) {
  Pipeline p;
  p.settings.name = "t";
  auto defs = ParseSqlFile(std::make_shared<SourceFile>("r.sql", std::string(kBronze) + sql), {});
  if (!defs.ok()) return defs.status();
  p.datasets = std::move(*defs);
  return ResolvePipeline(p);
}

std::string Names(const Schema& s) {
  std::string out;
  for (const auto& f : s.fields()) out += (out.empty() ? "" : ",") + f.name + ":" + f.type.ToString();
  return out;
}

TEST(ResolveTest, ReadFilesSchemaRescuedAndMetadata) {
  auto r = Resolve("");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Names(r->Find("orders")->schema),
            "id:bigint,cust:int,amount:decimal(10,2),ts:timestamp,note:string,_rescued_data:string,src:string");
  // parquet has no rescued data column
  EXPECT_EQ(Names(r->Find("customers")->schema), "id:int,name:string,country:string");
}

TEST(ResolveTest, JoinKeysAreSplitAndCastToACommonType) {
  auto r = Resolve(
      "CREATE MATERIALIZED VIEW j AS SELECT o.id, c.name, o.amount * 2 AS doubled FROM orders o "
      "LEFT JOIN customers c ON o.cust = c.id AND c.country <> 'XX' AND o.id = c.id;");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ResolvedDataset* j = r->Find("j");
  EXPECT_EQ(Names(j->schema).substr(0, 37), "id:bigint,name:string,doubled:decimal");
  EXPECT_EQ(j->schema.field(2).type.scale(), 2);  // the precision follows the binder's rules
  const PlanNode& join = *j->plan->inputs[0];
  ASSERT_EQ(join.kind, PlanKind::kJoin);
  ASSERT_EQ(join.left_keys.size(), 2u);
  EXPECT_EQ(join.left_keys[0]->ToString(), "o.cust");
  EXPECT_EQ(join.right_keys[0]->ToString(), "c.id");
  // bigint = int: the int side is cast
  EXPECT_EQ(join.left_keys[1]->ToString(), "o.id");
  EXPECT_EQ(join.right_keys[1]->ToString(), "CAST(c.id AS bigint)");
  ASSERT_TRUE(join.residual);
  EXPECT_EQ(join.residual->ToString(), "(c.country <> 'XX')");
  ASSERT_EQ(join.qualifiers.size(), 2u);
  EXPECT_EQ(join.qualifiers[1].qualifier, "c");
  EXPECT_EQ(join.qualifiers[1].begin, 7);
}

TEST(ResolveTest, StarExceptExpandsAndSkipsHiddenColumns) {
  auto r = Resolve("CREATE MATERIALIZED VIEW s AS SELECT * EXCEPT (note, `_rescued_data`) FROM orders;\n"
                   "CREATE STREAMING TABLE raw AS SELECT * FROM STREAM read_files('/in', format => 'json', "
                   "schema => 'a INT') WHERE _metadata.file_size > 0;");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Names(r->Find("s")->schema), "id:bigint,cust:int,amount:decimal(10,2),ts:timestamp,src:string");
  // _metadata.file_size is read but `*` does not include it.
  EXPECT_EQ(Names(r->Find("raw")->schema), "a:int,_rescued_data:string");
}

TEST(ResolveTest, AggregatesUnionSubqueriesSort) {
  auto r = Resolve(
      "CREATE MATERIALIZED VIEW g AS SELECT country, count(*) AS n, avg(amount) AS avg_amount FROM "
      "(SELECT c.country, o.amount FROM orders o JOIN customers c ON o.cust = c.id) x GROUP BY country ORDER BY n DESC;\n"
      "CREATE MATERIALIZED VIEW u AS SELECT id FROM orders UNION ALL SELECT id FROM customers;");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Names(r->Find("g")->schema), "country:string,n:bigint,avg_amount:decimal(14,6)");
  EXPECT_EQ(Names(r->Find("u")->schema), "id:bigint");
}

TEST(ResolveTest, OrderByColumnsOutsideTheSelectList) {
  // A key that is not selected is carried through the projection and dropped above the sort.
  auto r = Resolve("CREATE MATERIALIZED VIEW s AS SELECT note FROM orders ORDER BY amount DESC, 1;\n"
                   "CREATE MATERIALIZED VIEW p AS SELECT * FROM orders ORDER BY 3;");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Names(r->Find("s")->schema), "note:string");
  EXPECT_EQ(Names(r->Find("p")->schema).substr(0, 10), "id:bigint,");
  // After DISTINCT or GROUP BY the rows no longer have the column: refused, naming it.
  auto distinct = Resolve("CREATE MATERIALIZED VIEW d AS SELECT DISTINCT note FROM orders ORDER BY amount;");
  ASSERT_FALSE(distinct.ok());
  EXPECT_THAT(distinct.status().message(), HasSubstr("`amount` not found"));
  auto position = Resolve("CREATE MATERIALIZED VIEW d AS SELECT * FROM orders ORDER BY 40;");
  ASSERT_FALSE(position.ok());
  EXPECT_THAT(position.status().message(), HasSubstr("ORDER BY position 40 is not in the select list"));
}

TEST(ResolveTest, GroupBySelectAlias) {
  auto r = Resolve("CREATE MATERIALIZED VIEW d AS SELECT to_date(ts) AS day, sum(amount) AS total FROM orders "
                   "GROUP BY day ORDER BY day;");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Names(r->Find("d")->schema).substr(0, 9), "day:date,");
  auto clash = Resolve("CREATE MATERIALIZED VIEW d AS SELECT upper(note) AS note, count(*) AS n FROM orders GROUP BY note;");
  ASSERT_FALSE(clash.ok());
  EXPECT_THAT(clash.status().message(), HasSubstr("both an input column and a select-list alias"));
}

TEST(ResolveTest, DeclaredColumnsCastTheQuery) {
  auto r = Resolve("CREATE MATERIALIZED VIEW d (id STRING NOT NULL COMMENT 'as text', n BIGINT) AS "
                   "SELECT id, cust AS n FROM orders;");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ResolvedDataset* d = r->Find("d");
  EXPECT_EQ(Names(d->schema), "id:string,n:bigint");
  EXPECT_FALSE(d->schema.field(0).nullable);
  EXPECT_EQ(d->schema.field(0).comment, "as text");
  ASSERT_EQ(d->plan->kind, PlanKind::kProject);
  EXPECT_EQ(d->plan->items[0].expr->ToString(), "CAST(id AS string)");
}

struct BadCase {
  const char* sql;
  const char* position;
  const char* words;
};

TEST(ResolveTest, ErrorsNameColumnPositionAndAvailableColumns) {
  const BadCase cases[] = {
      {"CREATE MATERIALIZED VIEW x AS SELECT amout FROM orders", "r.sql:3:38", "`amout` not found; available: id, cust"},
      {"CREATE MATERIALIZED VIEW x AS SELECT o.id FROM orders\nWHERE o.nope > 1", "r.sql:4:7", "table or alias `o` not found"},
      {"CREATE MATERIALIZED VIEW x AS SELECT id FROM orders o JOIN customers c ON o.cust = c.id", "r.sql:3:38",
       "ambiguous"},
      {"CREATE MATERIALIZED VIEW x AS SELECT * EXCEPT (nope) FROM orders", "r.sql:3:38", "* EXCEPT: column `nope`"},
      {"CREATE MATERIALIZED VIEW x AS SELECT z.* FROM orders o", "r.sql:3:38", "no table or alias `z`"},
      {"CREATE MATERIALIZED VIEW x AS SELECT id, id FROM orders", "r.sql:3:26", "two columns named `id`"},
      {"CREATE MATERIALIZED VIEW x AS SELECT id FROM orders WHERE note", "r.sql:3:", "not boolean"},
      {"CREATE MATERIALIZED VIEW x AS SELECT id FROM orders UNION ALL SELECT id, name FROM customers", "r.sql:3:",
       "UNION ALL"},
      {"CREATE MATERIALIZED VIEW x (id INT, extra INT) AS SELECT id FROM orders", "r.sql:3:37",
       "`extra` is declared but the query does not produce it"},
      {"CREATE MATERIALIZED VIEW x (CONSTRAINT c EXPECT (nope > 0)) AS SELECT id FROM orders", "r.sql:3:50", "`nope`"},
      {"CREATE MATERIALIZED VIEW x (CONSTRAINT c EXPECT (id + 1)) AS SELECT id FROM orders", "r.sql:3:29",
       "not a boolean"},
      {"CREATE MATERIALIZED VIEW x PARTITIONED BY (nope) AS SELECT id FROM orders", "r.sql:3:26", "PARTITIONED BY"},
      {"CREATE STREAMING TABLE x AS SELECT id FROM orders", "r.sql:3:24", "reads no stream"},
      {"CREATE MATERIALIZED VIEW x AS SELECT id FROM STREAM orders", "r.sql:3:53", "remove STREAM"},
      {"CREATE MATERIALIZED VIEW x AS SELECT * FROM read_files('/z', format => 'csv')", "r.sql:3:45", "schema =>"},
      {"CREATE STREAMING TABLE x AS SELECT * FROM STREAM orders WATERMARK note DELAY OF INTERVAL 1 MINUTE",
       "r.sql:3:57", "not a timestamp"},
      {"CREATE MATERIALIZED VIEW x AS SELECT frobnicate(id) AS f FROM orders", "r.sql:3:38", "frobnicate"},
      {"CREATE MATERIALIZED VIEW x AS SELECT NULL AS n FROM orders", "r.sql:3:26", "untyped NULL"},
      {"CREATE MATERIALIZED VIEW x AS SELECT ts - ts AS h FROM orders", "r.sql:3:26",
       "column `h` of `x` is an interval day to second: Delta tables cannot store intervals"},
      {"CREATE MATERIALIZED VIEW x AS SELECT id, INTERVAL 1 MONTH AS m FROM orders", "r.sql:3:26",
       "column `m` of `x` is an interval year to month"},
  };
  for (const BadCase& c : cases) {
    auto r = Resolve(c.sql);
    ASSERT_FALSE(r.ok()) << c.sql;
    EXPECT_THAT(r.status().message(), HasSubstr(c.position)) << c.sql << " -> " << r.status().ToString();
    EXPECT_THAT(r.status().message(), HasSubstr(c.words)) << c.sql << " -> " << r.status().ToString();
  }
}

TEST(ResolveTest, IntervalsInExpressions) {
  auto r = Resolve(
      "CREATE MATERIALIZED VIEW x AS SELECT id, ts + INTERVAL 90 MINUTES AS later, "
      "timestampdiff(SECOND, ts, ts + INTERVAL '1 day 2 hours') AS secs, CAST(ts - ts AS STRING) AS txt "
      "FROM orders WHERE ts > ts - INTERVAL 1 DAY");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Names(r->Find("x")->schema), "id:bigint,later:timestamp,secs:bigint,txt:string");
}

TEST(ResolveTest, TriggersAndPublishMustNameTables) {
  Pipeline p;
  auto defs = ParseSqlFile(std::make_shared<SourceFile>("r.sql", kBronze), {});
  ASSERT_TRUE(defs.ok());
  p.datasets = *defs;
  TriggerSpec t;
  t.loc = SourceLocation{"pipeline.yaml", 7, 3};
  p.settings.triggers["nope"] = t;
  auto r = ResolvePipeline(p);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("pipeline.yaml:7:3: triggers: unknown table `nope`"));
  p.settings.triggers.clear();
  PostgresPublish pg;
  pg.tables.push_back(PublishTable{"customers", "customers", {"missing_key"}, SourceLocation{"pipeline.yaml", 9, 9}});
  p.settings.publish.postgres = pg;
  r = ResolvePipeline(p);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("pipeline.yaml:9:9"));
  EXPECT_THAT(r.status().message(), HasSubstr("missing_key"));
}

TEST(ResolveTest, TestPipelineFolderValidates) {
  std::string dir = testing::SourceDir() + "/src/sql/testdata/orders";
  auto p = LoadPipeline(dir);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->settings.name, "orders_test");
  auto r = ResolvePipeline(*p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->datasets.size(), 6u);
  EXPECT_EQ(r->datasets[0].name, "bronze_orders");
  EXPECT_EQ(Names(r->Find("gold_revenue_by_country")->schema),
            "Country:string,total_revenue:double,order_lines:bigint,orders:bigint,customers:bigint");
  EXPECT_EQ(r->Find("silver_orders")->schema.field(1).type, DataType::Date());
  const PlanNode* scan = r->Find("bronze_orders")->plan->inputs[0].get();
  EXPECT_EQ(scan->read_files.path, dir + "/landing/orders");
}

// Issue 9 item 3: validate checks read_files options with the function run uses
// (formats/options): what validate accepts, run runs; the rest is refused at file:line:col.
TEST(ResolveTest, ReadFilesOptionsAreCheckedAsRunWillUseThem) {
  auto ok = Resolve(
      "CREATE STREAMING TABLE j AS SELECT * FROM STREAM read_files('/j', format => 'json', multiLine => true, "
      "dateFormat => 'dd.MM.yyyy', schema => 'd DATE');\n"
      "CREATE STREAMING TABLE c AS SELECT * FROM STREAM read_files('/c2', format => 'csv', header => true, "
      "timestampFormat => 'yyyy/MM/dd HH:mm:ss', schema => 't TIMESTAMP');\n");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();

  auto bad = Resolve(
      "CREATE STREAMING TABLE j AS SELECT * FROM STREAM read_files('/j', format => 'json', header => true, "
      "schema => 'd DATE');\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("r.sql:3:"));
  EXPECT_THAT(bad.status().message(), HasSubstr("header is not supported for format json"));
  EXPECT_THAT(bad.status().message(), HasSubstr("known options: format, schema"));

  bad = Resolve(
      "CREATE STREAMING TABLE c AS SELECT * FROM STREAM read_files('/c2', format => 'csv', dateFormat => 'yyyy-MM-dd VV', "
      "schema => 'd DATE');\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("r.sql:3:"));
  EXPECT_THAT(bad.status().message(), HasSubstr("dateFormat"));
}

TEST(ResolveTest, WindowFunctionsTypeTheirColumns) {
  auto r = Resolve(
      "CREATE MATERIALIZED VIEW w AS SELECT row_number() OVER (PARTITION BY cust ORDER BY ts) AS rn, "
      "percent_rank() OVER (ORDER BY amount) AS pr, sum(amount) OVER (PARTITION BY cust) AS s, "
      "count(*) OVER () AS n, lag(note, 1, 'none') OVER (ORDER BY id) AS prev, *, "
      "avg(cust) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS a FROM orders "
      "QUALIFY rn = 1;");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // `*` expands to the input columns only, not the window results.
  EXPECT_EQ(Names(r->Find("w")->schema),
            "rn:int,pr:double,s:decimal(20,2),n:bigint,prev:string,id:bigint,cust:int,amount:decimal(10,2),"
            "ts:timestamp,note:string,_rescued_data:string,src:string,a:double");
}

TEST(ResolveTest, StreamingTableWithAWindowFunctionIsRefused) {
  auto r = Resolve(
      "CREATE STREAMING TABLE x AS SELECT id, rank() OVER (PARTITION BY cust ORDER BY ts) AS r FROM STREAM orders;");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("r.sql:3:"));
  EXPECT_THAT(r.status().message(), HasSubstr("a window function needs its whole partition"));
  EXPECT_THAT(r.status().message(), HasSubstr("make it a MATERIALIZED VIEW"));
}

TEST(ResolveTest, WindowFunctionErrorsPointAtTheCall) {
  auto r = Resolve("CREATE MATERIALIZED VIEW x AS SELECT id,\n  lead(id) OVER (PARTITION BY cust) AS l FROM orders;");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("r.sql:4:3"));
  EXPECT_THAT(r.status().message(), HasSubstr("needs ORDER BY"));
}

// publish.kafka is checked at validate like publish.postgres: the table exists, is not a
// view, its key is a column; a materialized view (rewritten by each refresh) is refused
// with the alternatives.
TEST(ResolveTest, PublishKafkaTablesAreChecked) {
  auto resolve = [](KafkaPublishTable t) {
    Pipeline p;
    p.settings.name = "t";
    auto defs = ParseSqlFile(std::make_shared<SourceFile>("r.sql", std::string(kBronze) +
                                                                       "CREATE TEMPORARY VIEW v AS SELECT id FROM orders;\n"),
                             {});
    EXPECT_TRUE(defs.ok()) << defs.status().ToString();
    p.datasets = std::move(*defs);
    KafkaPublish k;
    k.bootstrap_servers = "127.0.0.1:9092";
    t.loc = SourceLocation{"pipeline.yaml", 5, 7};
    k.tables.push_back(t);
    p.settings.publish.kafka = k;
    return ResolvePipeline(p);
  };
  EXPECT_TRUE(resolve({"orders", "out", "id", {}}).ok());
  auto unknown = resolve({"nope", "out", "", {}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("pipeline.yaml:5:7"));
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown table `nope`"));
  auto key = resolve({"orders", "out", "missing", {}});
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(key.status().message(), HasSubstr("key column `missing`"));
  auto view = resolve({"v", "out", "", {}});
  ASSERT_FALSE(view.ok());
  EXPECT_THAT(view.status().message(), HasSubstr("is a view"));
  auto mv = resolve({"customers", "out", "", {}});
  ASSERT_FALSE(mv.ok());
  EXPECT_THAT(mv.status().message(), HasSubstr("materialized view"));
  EXPECT_THAT(mv.status().message(), HasSubstr("publish.postgres"));
}

}  // namespace
}  // namespace lakepipe::sql
