// Tests of flow statements: AUTO CDC / APPLY CHANGES INTO and append flows, their
// attachment to bare streaming table declarations, target schemas, and errors at
// file:line:col (including what is parsed but not built yet).
#include "sql/cdc.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sql/resolve.h"
#include "sql/statement.h"

namespace lakepipe::sql {
namespace {

using ::testing::HasSubstr;

const char* kSource =
    "CREATE OR REFRESH STREAMING TABLE changes AS SELECT * FROM STREAM read_files('/in', format => 'json', "
    "schema => 'id BIGINT, name STRING, city STRING, op STRING, seq BIGINT, ts TIMESTAMP');\n";

Result<ResolvedPipeline> Resolve(const std::string& sql) {
  Pipeline p;
  p.settings.name = "t";
  auto defs = ParseSqlFile(std::make_shared<SourceFile>("c.sql", std::string(kSource) + sql), {});
  if (!defs.ok()) return defs.status();
  p.datasets = std::move(*defs);
  return ResolvePipeline(p);
}

std::string Names(const Schema& s) {
  std::string out;
  for (const auto& f : s.fields()) out += (out.empty() ? "" : ",") + f.name + ":" + f.type.ToString();
  return out;
}

TEST(CdcStatementTest, AutoCdcWithEveryClause) {
  auto r = Resolve(
      "CREATE OR REFRESH STREAMING TABLE dim;\n"
      "CREATE FLOW dim_cdc AS AUTO CDC INTO dim\n"
      "FROM STREAM(changes)\n"
      "KEYS (id)\n"
      "IGNORE NULL UPDATES\n"
      "APPLY AS DELETE WHEN op = 'DELETE'\n"
      "APPLY AS TRUNCATE WHEN op = 'TRUNCATE'\n"
      "SEQUENCE BY seq\n"
      "COLUMNS * EXCEPT (op, seq)\n"
      "STORED AS SCD TYPE 1;");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ResolvedDataset* d = r->Find("dim");
  ASSERT_TRUE(d->apply_changes);
  EXPECT_EQ(Names(d->schema), "id:bigint,name:string,city:string,ts:timestamp,_rescued_data:string");
  EXPECT_EQ(Names(d->apply_changes->source_schema).substr(0, 30), "id:bigint,name:string,city:str");
  const ApplyChangesSpec& s = *d->apply_changes->spec;
  EXPECT_EQ(d->apply_changes->flow_name, "dim_cdc");
  EXPECT_TRUE(s.ignore_null_updates);
  EXPECT_EQ(s.delete_sql, "op = 'DELETE'");
  EXPECT_EQ(s.truncate_sql, "op = 'TRUNCATE'");
  EXPECT_EQ(s.sequence_sql, "seq");
  EXPECT_EQ(s.scd_type, 1);
  EXPECT_EQ(s.source_sql, "STREAM(changes)");
  EXPECT_EQ(d->apply_changes->sequence_type, DataType::Long());
  // The flow reads its source like any streaming table's query.
  EXPECT_EQ(r->graph.ToText().find("dim (streaming table) <- STREAM changes") != std::string::npos, true)
      << r->graph.ToText();
}

TEST(CdcStatementTest, ApplyChangesOlderFormAndScd2Columns) {
  const std::string sql =
      "CREATE OR REFRESH STREAMING TABLE hist;\n"
      "APPLY CHANGES INTO LIVE.hist FROM STREAM(LIVE.changes) KEYS (id, city)\n"
      "APPLY AS DELETE WHEN op = 'D' SEQUENCE BY struct(ts, seq) COLUMNS id, city, name\n"
      "STORED AS SCD TYPE 2 TRACK HISTORY ON * EXCEPT (name);";
  auto r = Resolve(sql);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_THAT(Names(r->Find("hist")->schema), HasSubstr("__START_AT:struct<"));
  auto parsed = ParseSqlStatements(std::make_shared<SourceFile>("c.sql", std::string(kSource) + sql), {});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->flows.size(), 1u);
  EXPECT_EQ(parsed->flows[0].name, "hist");
  auto source = Schema::ParseDDL("id BIGINT, name STRING, city STRING, op STRING, seq BIGINT, ts TIMESTAMP");
  auto rc = ResolveApplyChanges(parsed->flows[0].cdc, "hist", *source);
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ((*rc)->sequence_type.id(), TypeId::kStruct);
  EXPECT_THAT(Names((*rc)->target_schema), HasSubstr("id:bigint,city:string,name:string,__START_AT:struct<"));
  EXPECT_TRUE((*rc)->tracked.empty());  // name is the only non-key column, excluded
}

TEST(CdcStatementTest, AutoCdcFromSnapshot) {
  // A bare table name is read as STREAM(name); the version column is not a target column.
  auto r = Resolve(
      "CREATE OR REFRESH STREAMING TABLE dim;\n"
      "CREATE FLOW dim_snap AS AUTO CDC INTO dim\n"
      "FROM SNAPSHOT changes\n"
      "KEYS (id)\n"
      "SEQUENCE BY seq\n"
      "COLUMNS * EXCEPT (op, _rescued_data)\n"
      "STORED AS SCD TYPE 2 TRACK HISTORY ON * EXCEPT (ts);");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ResolvedDataset* d = r->Find("dim");
  ASSERT_TRUE(d->apply_changes);
  const ApplyChangesSpec& s = *d->apply_changes->spec;
  EXPECT_TRUE(s.from_snapshot);
  EXPECT_EQ(s.source_sql, "changes");
  EXPECT_EQ(Names(d->schema), "id:bigint,name:string,city:string,ts:timestamp,__START_AT:bigint,__END_AT:bigint");
  EXPECT_EQ(d->apply_changes->tracked, (std::vector<std::string>{"name", "city"}));
  EXPECT_NE(r->graph.ToText().find("dim (streaming table) <- STREAM changes"), std::string::npos) << r->graph.ToText();

  // STREAM written out, struct versions, SCD type 1: the same rules.
  auto r1 = Resolve(
      "CREATE OR REFRESH STREAMING TABLE cur;\n"
      "CREATE FLOW cur_snap AS AUTO CDC INTO cur FROM SNAPSHOT STREAM(changes) KEYS (id, city)\n"
      "SEQUENCE BY struct(ts, seq) STORED AS SCD TYPE 1;");
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_EQ(Names(r1->Find("cur")->schema), "id:bigint,name:string,city:string,op:string,_rescued_data:string");
  EXPECT_TRUE(r1->Find("cur")->apply_changes->spec->from_snapshot);

  // A table named snapshot is still a table when SNAPSHOT is followed by a clause.
  auto parsed = ParseSqlStatements(std::make_shared<SourceFile>(
                                       "c.sql", std::string(kSource) +
                                                    "CREATE OR REFRESH STREAMING TABLE d3;\n"
                                                    "APPLY CHANGES INTO d3 FROM snapshot KEYS (id) SEQUENCE BY seq;"),
                                   {});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->flows.size(), 1u);
  EXPECT_FALSE(parsed->flows[0].cdc->from_snapshot);
  EXPECT_EQ(parsed->flows[0].cdc->source_sql, "snapshot");
}

TEST(CdcStatementTest, AppendFlowIntoADeclaredTableBecomesItsQuery) {
  auto r = Resolve(
      "CREATE OR REFRESH STREAMING TABLE copy (id BIGINT, name STRING);\n"
      "CREATE FLOW fill AS INSERT INTO copy BY NAME SELECT id, name FROM STREAM(changes);");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Names(r->Find("copy")->schema), "id:bigint,name:string");
  EXPECT_FALSE(r->Find("copy")->apply_changes);
}

struct BadFlow {
  const char* sql;
  const char* position;
  const char* words;
  StatusCode code;
};

TEST(CdcStatementTest, ErrorsNamePositions) {
  const StatusCode kInvalid = StatusCode::kInvalidArgument;
  const StatusCode kNotSupported = StatusCode::kNotSupported;
  const BadFlow cases[] = {
      {"CREATE STREAMING TABLE d;", "c.sql:2:24", "no query and no flow", kInvalid},
      {"CREATE STREAMING TABLE d;\nAPPLY CHANGES INTO d FROM STREAM(changes) KEYS (nope) SEQUENCE BY seq;",
       "c.sql:3:43", "`nope`", kInvalid},
      {"CREATE STREAMING TABLE d;\nAPPLY CHANGES INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY nope;",
       "c.sql:3:65", "SEQUENCE BY", kInvalid},
      {"CREATE STREAMING TABLE d;\nAPPLY CHANGES INTO d FROM STREAM(changes) KEYS (id) APPLY AS DELETE WHEN seq + 1 "
       "SEQUENCE BY seq;",
       "c.sql:3:74", "not a boolean", kInvalid},
      {"CREATE STREAMING TABLE d;\nAPPLY CHANGES INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY seq COLUMNS "
       "* EXCEPT (id);",
       "c.sql:3:69", "key column", kInvalid},
      {"CREATE STREAMING TABLE d;\nAPPLY CHANGES INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY seq KEYS (id);",
       "c.sql:3:69", "twice", kInvalid},
      {"CREATE STREAMING TABLE d;\nAPPLY CHANGES INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY seq "
       "STORED AS SCD TYPE 3;",
       "c.sql:3:88", "1 or 2", kInvalid},
      {"CREATE STREAMING TABLE d;\nAPPLY CHANGES INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY seq "
       "TRACK HISTORY ON name;",
       "c.sql:3:69", "SCD TYPE 2 only", kInvalid},
      {"CREATE STREAMING TABLE d;\nAPPLY CHANGES INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY seq FROB;",
       "c.sql:3:65", "alias", kInvalid},
      {"CREATE STREAMING TABLE d AS SELECT * FROM STREAM(changes);\n"
       "APPLY CHANGES INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY seq;",
       "c.sql:3:20", "own query", kInvalid},
      {"CREATE MATERIALIZED VIEW d AS SELECT id FROM changes;\nCREATE FLOW f AS INSERT INTO d BY NAME SELECT id FROM changes;",
       "c.sql:3:30", "materialized view", kInvalid},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS AUTO CDC INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY seq;\n"
       "CREATE FLOW b AS AUTO CDC INTO d FROM STREAM(changes) KEYS (id, name) SEQUENCE BY seq;",
       "c.sql:4:13", "must agree on KEYS", kInvalid},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS AUTO CDC INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY seq;\n"
       "CREATE FLOW b AS AUTO CDC INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY seq STORED AS SCD TYPE 2;",
       "c.sql:4:13", "must agree on the SCD type", kInvalid},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS AUTO CDC INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY seq;\n"
       "CREATE FLOW b AS AUTO CDC INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY struct(seq, id);",
       "c.sql:4:13", "must agree on SEQUENCE BY", kInvalid},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS AUTO CDC INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY seq;\n"
       "CREATE FLOW b AS AUTO CDC INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY seq COLUMNS * EXCEPT (op);",
       "c.sql:4:13", "must agree on the target's columns", kInvalid},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS AUTO CDC INTO d FROM STREAM(changes) KEYS (id) IGNORE NULL UPDATES "
       "SEQUENCE BY seq;\nCREATE FLOW b AS AUTO CDC INTO d FROM STREAM(changes) KEYS (id) IGNORE NULL UPDATES "
       "SEQUENCE BY seq;",
       "c.sql:4:13", "depend on how the flows' batches interleave", kNotSupported},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS AUTO CDC ONCE INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY seq;",
       "c.sql:3:13", "remove STREAM", kInvalid},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS AUTO CDC INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY seq;\n"
       "CREATE FLOW b AS INSERT INTO d BY NAME SELECT id FROM STREAM(changes);",
       "c.sql:4:13", "no key sequence", kNotSupported},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS INSERT INTO d BY NAME SELECT id FROM STREAM(changes);\n"
       "CREATE FLOW b AS INSERT INTO d BY NAME SELECT id, op AS nope FROM STREAM(changes);",
       "c.sql:4:13", "`nope`, which `d` does not have", kInvalid},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS INSERT INTO d BY NAME SELECT id FROM STREAM(changes);\n"
       "CREATE FLOW b AS INSERT INTO d BY NAME SELECT name AS id FROM STREAM(changes);",
       "c.sql:4:13", "CAST it", kInvalid},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS INSERT INTO d BY NAME SELECT id FROM STREAM(changes);\n"
       "CREATE FLOW b AS INSERT INTO ONCE d BY NAME SELECT id FROM STREAM(changes);",
       "c.sql:4:13", "remove STREAM", kInvalid},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS INSERT INTO d SELECT id FROM changes;", "c.sql:3:32", "BY NAME",
       kInvalid},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS MERGE INTO d;", "c.sql:3:18", "AUTO CDC", kInvalid},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS AUTO CDC INTO d FROM SNAPSHOT changes KEYS (id) "
       "STORED AS SCD TYPE 2;",
       "c.sql:3:39", "without SEQUENCE BY (periodic snapshots", kNotSupported},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS AUTO CDC INTO d FROM SNAPSHOT (SELECT * FROM changes) "
       "WITH VERSION (SELECT 1) KEYS (id);",
       "c.sql:3:39", "WITH VERSION (query) (Databricks' form", kNotSupported},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS AUTO CDC ONCE INTO d FROM SNAPSHOT changes KEYS (id) SEQUENCE BY seq;",
       "c.sql:3:44", "ONCE ... FROM SNAPSHOT", kNotSupported},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS AUTO CDC INTO d FROM SNAPSHOT changes KEYS (id) IGNORE NULL UPDATES "
       "SEQUENCE BY seq;",
       "c.sql:3:39", "IGNORE NULL UPDATES does not apply", kInvalid},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS AUTO CDC INTO d FROM SNAPSHOT changes KEYS (id) "
       "APPLY AS DELETE WHEN op = 'D' SEQUENCE BY seq;",
       "c.sql:3:87", "a key missing from a snapshot is deleted", kInvalid},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS AUTO CDC INTO d FROM SNAPSHOT changes KEYS (id) SEQUENCE BY seq "
       "COLUMNS id, name, seq;",
       "c.sql:3:82", "the snapshot's version", kInvalid},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS AUTO CDC INTO d FROM SNAPSHOT changes KEYS (id) SEQUENCE BY id;",
       "c.sql:3:78", "reads the key column", kInvalid},
      {"CREATE STREAMING TABLE d;\nCREATE FLOW a AS AUTO CDC INTO d FROM SNAPSHOT changes KEYS (id) SEQUENCE BY seq;\n"
       "CREATE FLOW b AS AUTO CDC INTO d FROM STREAM(changes) KEYS (id) SEQUENCE BY seq;",
       "c.sql:3:39", "several flows into a FROM SNAPSHOT target", kNotSupported},
      {"CREATE STREAMING TABLE d (CONSTRAINT named EXPECT (name IS NOT NULL) ON VIOLATION DROP ROW);\n"
       "CREATE FLOW a AS AUTO CDC INTO d FROM SNAPSHOT changes KEYS (id) SEQUENCE BY seq;",
       "c.sql:2:27", "which deletes it", kNotSupported},
      {"CREATE STREAMING TABLE s AS SELECT * FROM STREAM read_files('/n', format => 'json', "
       "schema => 'id BIGINT, seq BIGINT, v STRUCT<a: BIGINT, b: ARRAY<BIGINT>>');\n"
       "CREATE STREAMING TABLE d;\nAPPLY CHANGES INTO d FROM STREAM(s) KEYS (id) SEQUENCE BY v STORED AS SCD TYPE 2;",
       "c.sql:4:59", "not orderable", kInvalid},
  };
  for (const BadFlow& c : cases) {
    auto r = Resolve(c.sql);
    ASSERT_FALSE(r.ok()) << c.sql;
    EXPECT_THAT(r.status().message(), HasSubstr(c.position)) << c.sql << " -> " << r.status().ToString();
    EXPECT_THAT(r.status().message(), HasSubstr(c.words)) << c.sql << " -> " << r.status().ToString();
    EXPECT_EQ(r.status().code(), c.code) << c.sql << " -> " << r.status().ToString();
  }
}

}  // namespace
}  // namespace lakepipe::sql
