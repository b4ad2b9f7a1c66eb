// read_files without a schema, end to end: the inferred schema is kept in the flow
// checkpoint (a restart reads with the same columns), `validate` plans the same columns
// as `run`, schemaHints override types, and schemaEvolutionMode addNewColumns stops the
// stream once when seed 003's events gain a field (lakepipe generate videos
// --new-field-day 4), then resumes with the column in the schema and the table. DuckDB's
// JSON functions over the same files are the reference.
#include "runtime/file_source_schema.h"

#include <gtest/gtest.h>

#include "delta/table.h"
#include "generator/videos.h"
#include "runtime/pipeline_runner.h"
#include "sql/pipeline.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

class FileSourceSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("p")).ok());
  }

  void WritePipeline(const std::string& sql) {
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"), "name: t\nstorage: " + storage_ +
                                                                 "\nlibraries: [p.sql]\ncontinuous: false\n"
                                                                 "configuration: {landing: " + landing_ + "}\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"), sql).ok());
  }

  // One `run --once`; the tables' reports.
  std::vector<TableReport> RunOnce() {
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    if (!runner.ok()) return {};
    auto report = (*runner)->RunOnce({});
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? report->tables : std::vector<TableReport>{};
  }

  // The resolved schema of `table` as `validate` plans it.
  std::string Validated(const std::string& table) {
    auto p = sql::LoadPipeline(dir_.Join("p"), {});
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (!p.ok()) return "";
    auto r = sql::ResolvePipeline(*p, ReadFilesSchemaLookupFor(fs_, p->settings.storage));
    if (!r.ok()) return "error: " + r.status().message();
    const sql::ResolvedDataset* d = r->Find(table);
    return d == nullptr ? "" : d->schema.ToDDL();
  }

  std::string Land(const std::string& name, const std::string& text) {
    std::string path = JoinPath(landing_, name);
    EXPECT_TRUE(fs_->WriteFile(path, text).ok());
    return path;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
  std::string storage_ = dir_.Join("storage");
};

TEST_F(FileSourceSchemaTest, InferredSchemaIsKeptAcrossRestartsAndMatchesValidate) {
  WritePipeline(
      "CREATE OR REFRESH STREAMING TABLE bronze AS SELECT * FROM STREAM read_files('${landing}', format => 'json', "
      "inferColumnTypes => true, schemaHints => 'post.views DOUBLE');\n");
  Land("a.json", "{\"id\":1,\"post\":{\"views\":5,\"tags\":[\"x\",\"y\"],\"inst\":{\"city\":{\"name\":\"Recife\"}}}}\n");
  const std::string want =
      "id bigint, post struct<views:double,tags:array<string>,inst:struct<city:struct<name:string>>>, "
      "_rescued_data string";
  EXPECT_EQ(Validated("bronze"), want);
  auto first = RunOnce();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].status, "updated") << first[0].message;
  // Version 0 of the kept schema, in the flow's checkpoint.
  auto kept = ReadLatestKeptSchema(fs_, storage_ + "/_checkpoints/bronze/schemas/0");
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  ASSERT_TRUE(kept->has_value());
  EXPECT_EQ((*kept)->version, 0);
  EXPECT_EQ((*kept)->schema.ToDDL(),
            "id bigint, post struct<views:double,tags:array<string>,inst:struct<city:struct<name:string>>>");

  // A later file whose id is text would infer id as STRING from scratch; the kept schema
  // keeps BIGINT, and the text is rescued, not lost. validate agrees with run.
  Land("b.json", "{\"id\":\"seven\",\"post\":{\"views\":7.5}}\n");
  EXPECT_EQ(Validated("bronze"), want);
  auto second = RunOnce();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].status, "updated") << second[0].message;
  EXPECT_EQ(second[0].rows_rescued, 1);
  auto rows = testing::DuckDBRows("SELECT id::INTEGER AS id, post.views AS v, _rescued_data AS r FROM read_parquet('" + storage_ +
                                  "/bronze/*.parquet') ORDER BY v");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["id"], 1);
  EXPECT_EQ(rows[1]["v"], 7.5);
  EXPECT_TRUE(rows[1]["id"].is_null());
  EXPECT_NE(rows[1]["r"].get<std::string>().find("\"id\":\"seven\""), std::string::npos);
}

TEST_F(FileSourceSchemaTest, NoFilesToInferFromIsAClearErrorAtValidate) {
  WritePipeline("CREATE OR REFRESH STREAMING TABLE bronze AS SELECT * FROM STREAM read_files('${landing}', format => 'json');\n");
  std::string v = Validated("bronze");
  EXPECT_NE(v.find("p.sql:1:"), std::string::npos) << v;
  EXPECT_NE(v.find("no file to infer the schema from"), std::string::npos) << v;
}

// Seed 003's events gain a top-level `device` on day 4: the stream stops once naming the
// field and a file of day 4, then resumes with the column; days 1-3 read NULL there.
TEST_F(FileSourceSchemaTest, AddNewColumnsStopsOnceThenResumesWithTheColumn) {
  std::string staged = dir_.Join("staged");
  generator::VideoOptions o;
  o.days = 6;
  o.posts_per_day = 15;
  o.new_field_day = 4;
  ASSERT_TRUE(generator::GenerateVideos(fs_, o, staged).ok());
  auto files = fs_->ListDir(staged);
  ASSERT_TRUE(files.ok());
  auto land_days = [&](const std::string& from, const std::string& to) {
    for (const auto& f : *files) {
      std::string day = f.name.substr(7, 10);  // videos_<yyyy-mm-dd>T<hh>.json
      if (day < from || day > to) continue;
      auto text = fs_->ReadFile(JoinPath(staged, f.name));
      ASSERT_TRUE(text.ok());
      Land(f.name, *text);
    }
  };
  WritePipeline(
      "CREATE OR REFRESH STREAMING TABLE bronze AS SELECT *, _metadata.file_name AS file FROM STREAM "
      "read_files('${landing}', format => 'json');\n"
      "CREATE OR REFRESH STREAMING TABLE silver AS SELECT * FROM STREAM bronze WHERE event_id IS NOT NULL;\n");
  land_days("2026-01-01", "2026-01-03");
  auto before = RunOnce();
  ASSERT_EQ(before.size(), 2u);
  for (const auto& t : before) EXPECT_EQ(t.status, "updated") << t.table << ": " << t.message;
  EXPECT_EQ(Validated("bronze").find("device"), std::string::npos);

  land_days("2026-01-04", "2026-01-06");
  auto stopped = RunOnce();
  ASSERT_EQ(stopped.size(), 2u);
  EXPECT_EQ(stopped[0].status, "failed");
  EXPECT_NE(stopped[0].message.find("new field `device` ("), std::string::npos) << stopped[0].message;
  EXPECT_NE(stopped[0].message.find("videos_2026-01-04T08.json line "), std::string::npos) << stopped[0].message;
  EXPECT_NE(stopped[0].message.find("addNewColumns stops the stream once"), std::string::npos);
  auto kept = ReadLatestKeptSchema(fs_, storage_ + "/_checkpoints/bronze/schemas/0");
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ((*kept)->version, 1);
  EXPECT_GE((*kept)->schema.FindField("device"), 0);
  // validate now plans the column too, as the next run will.
  EXPECT_NE(Validated("silver").find("device string"), std::string::npos) << Validated("silver");

  auto resumed = RunOnce();
  ASSERT_EQ(resumed.size(), 2u);
  for (const auto& t : resumed) EXPECT_EQ(t.status, "updated") << t.table << ": " << t.message;
  // Stops once: a further run has nothing new and does not stop.
  auto again = RunOnce();
  for (const auto& t : again) EXPECT_NE(t.status, "failed") << t.table << ": " << t.message;

  // Our rows against DuckDB's reading of the same lines (valid JSON objects only; ours
  // keep the malformed ones as rescued rows with no event_id).
  std::string duck = "SELECT json_extract_string(line, '$.event_id') AS event_id, json_extract_string(line, '$.device') AS device, "
                     "substr(json_extract_string(line, '$.event_time'), 1, 10) AS day FROM read_csv('" + landing_ +
                     "/*.json', columns = {'line': 'VARCHAR'}, header = false, delim = chr(1), quote = '', escape = '', "
                     "auto_detect = false) WHERE json_valid(line) AND json_extract_string(line, '$.event_id') IS NOT NULL";
  std::string ours = "SELECT event_id, device, substr(event_time, 1, 10) AS day FROM read_parquet('" + storage_ +
                     "/silver/*.parquet', union_by_name = true)";
  auto diff = testing::DuckDBRows("WITH o AS (" + ours + "), t AS (" + duck +
                                  ") SELECT ((SELECT count(*) FROM (SELECT * FROM o EXCEPT ALL SELECT * FROM t)) + "
                                  "(SELECT count(*) FROM (SELECT * FROM t EXCEPT ALL SELECT * FROM o)))::INTEGER AS d, "
                                  "(SELECT count(*) FROM o)::INTEGER AS n, "
                                  "(SELECT count(*) FROM o WHERE day < '2026-01-04' AND device IS NOT NULL)::INTEGER AS early, "
                                  "(SELECT count(*) FROM o WHERE day >= '2026-01-04' AND device IS NULL)::INTEGER AS missing, "
                                  "(SELECT count(*) FROM o WHERE day >= '2026-01-04')::INTEGER AS late_days");
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_EQ(diff[0]["d"], 0);
  EXPECT_GT(diff[0]["n"].get<int64_t>(), 300);
  EXPECT_EQ(diff[0]["early"], 0) << "days 1-3 have no device";
  EXPECT_EQ(diff[0]["missing"], 0) << "every event from day 4 on has its device";
  EXPECT_GT(diff[0]["late_days"].get<int64_t>(), 100);
  // The Delta table gained the column (by name; files written before it lack it).
  auto bronze_device = testing::DuckDBRows("SELECT count(*)::INTEGER AS n FROM read_parquet('" + storage_ +
                                           "/bronze/*.parquet', union_by_name = true) WHERE device IS NOT NULL");
  ASSERT_EQ(bronze_device.size(), 1u);
  EXPECT_GT(bronze_device[0]["n"].get<int64_t>(), 100);
  for (const char* table : {"bronze", "silver"}) {
    auto t = delta::DeltaTable::Open(storage_ + "/" + table, fs_);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    auto snap = (*t)->Latest();
    ASSERT_TRUE(snap.ok());
    EXPECT_GE((*snap)->schema().FindField("device"), 0) << table << ": " << (*snap)->schema().ToDDL();
  }
}

// Inference with multiLine JSON, and schemaHints typing string columns that dateFormat /
// timestampFormat then parse: validate accepts what run reads.
TEST_F(FileSourceSchemaTest, MultiLineHintsAndDatetimeFormats) {
  WritePipeline(
      "CREATE OR REFRESH STREAMING TABLE bronze AS SELECT * FROM STREAM read_files('${landing}', format => 'json', "
      "multiLine => true, schemaHints => 'd DATE, t TIMESTAMP, n INT', dateFormat => 'dd/MM/yyyy', "
      "timestampFormat => 'dd/MM/yyyy HH:mm');\n");
  Land("a.json", "[\n {\"n\": 1, \"d\": \"31/01/2025\",\n  \"t\": \"31/01/2025 10:30\"},\n {\"n\": 2, \"d\": \"2025-01-31\"}\n]\n");
  EXPECT_EQ(Validated("bronze"), "n int, d date, t timestamp, _rescued_data string");
  auto report = RunOnce();
  ASSERT_EQ(report.size(), 1u);
  EXPECT_EQ(report[0].status, "updated") << report[0].message;
  EXPECT_EQ(report[0].rows_rescued, 1) << "ISO text does not match the dateFormat: rescued";
  auto rows = testing::DuckDBRows("SELECT n, CAST(d AS VARCHAR) AS d, CAST(epoch(t) AS INTEGER) AS t FROM read_parquet('" +
                                  storage_ + "/bronze/*.parquet') ORDER BY n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["d"], "2025-01-31");
  EXPECT_EQ(rows[0]["t"], 1738319400);  // 2025-01-31 10:30 UTC
  EXPECT_TRUE(rows[1]["d"].is_null());
}

TEST_F(FileSourceSchemaTest, RescueNoneAndFailOnNewColumnsModes) {
  Land("a.json", "{\"id\":\"1\"}\n");
  auto run_with = [&](const std::string& mode) {
    EXPECT_TRUE(fs_->RemoveAll(storage_).ok());
    WritePipeline("CREATE OR REFRESH STREAMING TABLE bronze AS SELECT * FROM STREAM read_files('${landing}', "
                  "format => 'json', schemaEvolutionMode => '" + mode + "');\n");
    auto first = RunOnce();
    EXPECT_EQ(first.size(), 1u);
    Land("b.json", "{\"id\":\"2\",\"extra\":\"e\"}\n");
    auto second = RunOnce();
    EXPECT_TRUE(fs_->RemoveFile(JoinPath(landing_, "b.json")).ok());
    return second.empty() ? TableReport{} : second[0];
  };
  TableReport rescue = run_with("rescue");
  EXPECT_EQ(rescue.status, "updated") << rescue.message;
  EXPECT_EQ(rescue.rows_rescued, 1);
  auto rows = testing::DuckDBRows("SELECT _rescued_data AS r FROM read_parquet('" + storage_ + "/bronze/*.parquet') WHERE id = '2'");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0]["r"].get<std::string>().find("\"extra\":\"e\""), std::string::npos);

  TableReport none = run_with("none");
  EXPECT_EQ(none.status, "updated") << none.message;
  EXPECT_EQ(none.rows_rescued, 0) << "none ignores fields the schema lacks (Databricks' meaning)";

  TableReport fail = run_with("failOnNewColumns");
  EXPECT_EQ(fail.status, "failed");
  EXPECT_NE(fail.message.find("new field `extra`"), std::string::npos) << fail.message;
  EXPECT_NE(fail.message.find("failOnNewColumns"), std::string::npos) << fail.message;
}

}  // namespace
}  // namespace lakepipe::runtime
