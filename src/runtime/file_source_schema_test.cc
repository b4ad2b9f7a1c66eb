// read_files without a schema, end to end: the inferred schema is kept in the flow
// checkpoint (a restart reads with the same columns), `validate` plans the same columns
// as `run`, schemaHints override types, and schemaEvolutionMode addNewColumns stops the
// stream once when seed 003's events gain a field (lakepipe generate videos
// --new-field-day 4), and the runner restarts the flow by itself with the pipeline
// planned again (--once and continuous; bounded by pipelines.maxFlowRetryAttempts), the
// column in the schema and the table; a key new inside a struct is added to the struct.
// DuckDB's JSON functions over the same files are the reference.
#include "runtime/file_source_schema.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "delta/table.h"
#include "generator/videos.h"
#include "runtime/pipeline_runner.h"
#include "runtime/status_board.h"
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

  // `configuration`: more entries of pipeline.yaml's configuration, "k: v, ...".
  void WritePipeline(const std::string& sql, const std::string& configuration = "") {
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"), "name: t\nstorage: " + storage_ +
                                                                 "\nlibraries: [p.sql]\ncontinuous: false\n"
                                                                 "configuration: {landing: " + landing_ +
                                                                 (configuration.empty() ? "" : ", " + configuration) + "}\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"), sql).ok());
  }

  // One `run --once`; the tables' reports. `seen` (optional) gets every report the run
  // gave on_table, restarted attempts included; `board` (optional) the live status.
  std::vector<TableReport> RunOnce(std::vector<TableReport>* seen = nullptr, StatusBoard* board = nullptr) {
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    if (!runner.ok()) return {};
    RunOptions options;
    options.board = board;
    if (seen != nullptr) options.on_table = [seen](const TableReport& t) { seen->push_back(t); };
    auto report = (*runner)->RunOnce(options);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? report->tables : std::vector<TableReport>{};
  }

  // The first column of the first row of `sql` over the pipeline's tables (-1: none).
  int64_t Count(const std::string& sql) {
    auto runner = PipelineRunner::OpenForQuery(dir_.Join("p"), {});
    if (!runner.ok()) return -1;
    auto r = (*runner)->Query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    if (!r.ok() || r->batches.empty() || r->batches[0].num_rows() == 0) return -1;
    Value v = r->batches[0].column(0).GetValue(0);
    return v.ToString() == "NULL" ? -1 : std::stoll(v.ToString());
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
  // The flow stops once on the new field and the update restarts it, re-planned: Bronze
  // and Silver (SELECT *) then take the column in the same update.
  std::vector<TableReport> seen;
  StatusBoard board;
  auto resumed = RunOnce(&seen, &board);
  ASSERT_EQ(seen.size(), 3u);
  const TableReport& stopped = seen[0];
  EXPECT_EQ(stopped.table, "bronze");
  EXPECT_EQ(stopped.status, "restarted");
  EXPECT_NE(stopped.message.find("new field `device` ("), std::string::npos) << stopped.message;
  EXPECT_NE(stopped.message.find("videos_2026-01-04T08.json line "), std::string::npos) << stopped.message;
  EXPECT_NE(stopped.message.find("addNewColumns stops the stream once"), std::string::npos);
  EXPECT_NE(stopped.message.find("the flow restarts with the new schema (restart 1 of at most 2 in this update"),
            std::string::npos)
      << stopped.message;
  ASSERT_EQ(resumed.size(), 2u);
  for (const auto& t : resumed) EXPECT_EQ(t.status, "updated") << t.table << ": " << t.message;
  EXPECT_EQ(resumed[0].restarts, 1);
  EXPECT_EQ(resumed[1].restarts, 0);
  // The stop stays visible: on the board (the API and /metrics read it) and in the event log.
  PipelineStatus status = board.Snapshot();
  ASSERT_FALSE(status.tables.empty());
  EXPECT_EQ(status.tables[0].name, "bronze");
  EXPECT_EQ(status.tables[0].restarts, 1);
  EXPECT_EQ(status.tables[0].last_restart, stopped.message);
  EXPECT_EQ(Count("SELECT count(*) FROM _event_log WHERE event_type = 'flow_restart' AND level = 'WARN' AND "
                  "table_name = 'bronze' AND message LIKE '%new field `device`%'"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM _event_log WHERE event_type = 'error'"), 0);
  auto kept = ReadLatestKeptSchema(fs_, storage_ + "/_checkpoints/bronze/schemas/0");
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ((*kept)->version, 1);
  EXPECT_GE((*kept)->schema.FindField("device"), 0);
  // validate plans the column too, as the restarted flow did.
  EXPECT_NE(Validated("silver").find("device string"), std::string::npos) << Validated("silver");

  // Stops once: a further run has nothing new and does not stop.
  seen.clear();
  auto again = RunOnce(&seen);
  for (const auto& t : again) EXPECT_EQ(t.status, "up to date") << t.table << ": " << t.message;
  EXPECT_EQ(seen.size(), 2u);

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

// Each batch brings a field of its own (maxFilesPerTrigger 1): the update restarts the
// flow for each, at most pipelines.maxFlowRetryAttempts times (here 2), then fails naming
// the bound with the rows so far committed; the next update continues (the third
// field's schema version is already kept). 0 restarts nothing: the stop fails the update.
TEST_F(FileSourceSchemaTest, RestartsForNewFieldsAreBoundedPerUpdate) {
  const std::string sql =
      "CREATE OR REFRESH STREAMING TABLE bronze AS SELECT * FROM STREAM read_files('${landing}', format => 'json', "
      "maxFilesPerTrigger => 1);\n";
  WritePipeline(sql, "pipelines.maxFlowRetryAttempts: 2");
  Land("a.json", "{\"id\":\"1\"}\n");
  auto first = RunOnce();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].status, "updated") << first[0].message;
  // Distinct modification times: the stream reads b, c, d in that order.
  auto land_at = [&](const std::string& name, const std::string& text, int seconds_later) {
    std::string path = Land(name, text);
    auto when = std::filesystem::last_write_time(path) + std::chrono::seconds(seconds_later);
    std::filesystem::last_write_time(path, when);
  };
  land_at("b.json", "{\"id\":\"2\",\"f1\":\"x\"}\n", 1);
  land_at("c.json", "{\"id\":\"3\",\"f2\":\"y\"}\n", 2);
  land_at("d.json", "{\"id\":\"4\",\"f3\":\"z\"}\n", 3);
  std::vector<TableReport> seen;
  auto bounded = RunOnce(&seen);
  ASSERT_EQ(bounded.size(), 1u);
  EXPECT_EQ(bounded[0].status, "failed");
  EXPECT_EQ(bounded[0].restarts, 2);
  EXPECT_NE(bounded[0].message.find("new field `f3`"), std::string::npos) << bounded[0].message;
  EXPECT_NE(bounded[0].message.find("not restarted: the flow already restarted 2 time(s) for new fields in this "
                                    "update, the most pipelines.maxFlowRetryAttempts allows; run again to continue"),
            std::string::npos)
      << bounded[0].message;
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].status, "restarted");
  EXPECT_NE(seen[0].message.find("new field `f1`"), std::string::npos) << seen[0].message;
  EXPECT_NE(seen[0].message.find("(restart 1 of at most 2 in this update"), std::string::npos) << seen[0].message;
  EXPECT_EQ(seen[1].status, "restarted");
  EXPECT_NE(seen[1].message.find("new field `f2`"), std::string::npos) << seen[1].message;
  EXPECT_NE(seen[1].message.find("(restart 2 of at most 2 in this update"), std::string::npos) << seen[1].message;
  EXPECT_EQ(seen[2].status, "failed");
  // The batches before the bound are committed, each with its column.
  EXPECT_EQ(Count("SELECT count(*) FROM bronze"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM bronze WHERE f1 = 'x' AND id = '2'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM bronze WHERE f2 = 'y' AND id = '3'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM _event_log WHERE event_type = 'flow_restart'"), 2);

  // The next update reads d with the version its stop wrote: no restart.
  auto next = RunOnce();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].status, "updated") << next[0].message;
  EXPECT_EQ(next[0].restarts, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM bronze WHERE f3 = 'z' AND id = '4' AND f1 IS NULL"), 1);

  // Restarts off: the stop fails the update as it did before restarts existed.
  WritePipeline(sql, "pipelines.maxFlowRetryAttempts: 0");
  land_at("e.json", "{\"id\":\"5\",\"f4\":\"w\"}\n", 4);
  auto off = RunOnce();
  ASSERT_EQ(off.size(), 1u);
  EXPECT_EQ(off[0].status, "failed");
  EXPECT_NE(off[0].message.find("not restarted (pipelines.maxFlowRetryAttempts is 0): run again to continue"),
            std::string::npos)
      << off[0].message;
  // A bad value is refused when the pipeline is loaded, as `validate` loads it.
  WritePipeline(sql, "pipelines.maxFlowRetryAttempts: many");
  auto refused = PipelineRunner::Open(dir_.Join("p"), {});
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("pipelines.maxFlowRetryAttempts is 'many'"), std::string::npos)
      << refused.status().ToString();
}

// A continuous run: the stop re-plans the pipeline and the flow resumes in the same
// process, Silver (SELECT * over Bronze) gaining the column too; no restart by hand.
TEST_F(FileSourceSchemaTest, AContinuousRunResumesByItselfAfterANewField) {
  WritePipeline(
      "CREATE OR REFRESH STREAMING TABLE bronze AS SELECT * FROM STREAM read_files('${landing}', format => 'json');\n"
      "CREATE OR REFRESH STREAMING TABLE silver AS SELECT * FROM STREAM bronze WHERE id IS NOT NULL;\n");
  Land("a.json", "{\"id\":\"1\"}\n");
  auto opened = PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<PipelineRunner> runner = std::move(opened).value();
  StatusBoard board;
  RunOptions options;
  options.board = &board;
  std::mutex mu;
  std::vector<TableReport> seen;
  options.on_table = [&](const TableReport& t) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(t);
  };
  Status result;
  std::thread run([&] { result = runner->RunContinuous(options); });
  auto rows = [&](const std::string& sql) {
    auto r = runner->Query(sql);
    if (!r.ok() || r->batches.empty() || r->batches[0].num_rows() == 0) return int64_t{-1};
    return static_cast<int64_t>(std::stoll(r->batches[0].column(0).GetValue(0).ToString()));
  };
  auto wait_for = [](const std::function<bool()>& done) {
    for (int i = 0; i < 600; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  EXPECT_TRUE(wait_for([&] { return rows("SELECT count(*) FROM silver") == 1; }));
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, "b.json"), "{\"id\":\"2\",\"device\":\"tv\"}\n").ok());
  EXPECT_TRUE(wait_for([&] { return rows("SELECT count(*) FROM silver WHERE device = 'tv'") == 1; }))
      << "the new column never reached silver";
  EXPECT_EQ(rows("SELECT count(*) FROM bronze WHERE device IS NULL AND id = '1'"), 1);
  runner->RequestStop();
  run.join();
  EXPECT_TRUE(result.ok()) << result.ToString();
  PipelineStatus status = board.Snapshot();
  ASSERT_EQ(status.tables.size(), 2u);
  EXPECT_EQ(status.tables[0].restarts, 1);
  EXPECT_NE(status.tables[0].last_restart.find("new field `device`"), std::string::npos) << status.tables[0].last_restart;
  EXPECT_NE(status.tables[0].last_restart.find("(restart 1 of at most 2 in a row"), std::string::npos)
      << status.tables[0].last_restart;
  EXPECT_EQ(status.tables[0].state, "stopped");
  {
    std::lock_guard<std::mutex> lock(mu);
    int restarted = 0;
    for (const auto& t : seen) {
      restarted += t.status == "restarted";
      EXPECT_NE(t.status, "failed") << t.table << ": " << t.message;
    }
    EXPECT_EQ(restarted, 1);
  }
  EXPECT_EQ(Count("SELECT count(*) FROM _event_log WHERE event_type = 'flow_restart' AND table_name = 'bronze'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM _event_log WHERE event_type = 'replanned' AND message LIKE '%bronze, silver%'"), 1);
  // The tables' schemas evolved (Delta mergeSchema), the old row NULL in the new column.
  for (const char* table : {"bronze", "silver"}) {
    auto t = delta::DeltaTable::Open(storage_ + "/" + table, fs_);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    auto snap = (*t)->Latest();
    ASSERT_TRUE(snap.ok());
    EXPECT_GE((*snap)->schema().FindField("device"), 0) << table << ": " << (*snap)->schema().ToDDL();
  }
}

// A key a struct lacks, in a later file (inferColumnTypes: objects are structs): the flow
// stops once naming it, the kept schema's struct gains the field (after its own), the
// update restarts the flow, and Bronze and Silver (SELECT *) gain it in their Delta
// schemas; the earlier row reads NULL there. DuckDB reads the new struct field back.
TEST_F(FileSourceSchemaTest, ANewFieldInsideAStructIsAddedToTheStruct) {
  WritePipeline(
      "CREATE OR REFRESH STREAMING TABLE bronze AS SELECT * FROM STREAM read_files('${landing}', format => 'json', "
      "inferColumnTypes => true);\n"
      "CREATE OR REFRESH STREAMING TABLE silver AS SELECT * FROM STREAM bronze WHERE id IS NOT NULL;\n");
  Land("a.json", "{\"id\":\"1\",\"post\":{\"title\":\"a\",\"geo\":{\"city\":\"Lisbon\"}}}\n");
  auto first = RunOnce();
  ASSERT_EQ(first.size(), 2u);
  for (const auto& t : first) EXPECT_EQ(t.status, "updated") << t.table << ": " << t.message;
  EXPECT_EQ(Validated("silver"), "id string, post struct<title:string,geo:struct<city:string>>, _rescued_data string");

  std::string b = Land("b.json", "{\"id\":\"2\",\"post\":{\"title\":\"b\",\"geo\":{\"city\":\"Porto\",\"lat\":41.15},"
                                 "\"device\":\"tv\"}}\n");
  std::filesystem::last_write_time(b, std::filesystem::last_write_time(b) + std::chrono::seconds(1));
  std::vector<TableReport> seen;
  auto second = RunOnce(&seen);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].status, "restarted");
  EXPECT_NE(seen[0].message.find("new fields `post.geo.lat` (" + b + " line 1), `post.device` (" + b + " line 1)"),
            std::string::npos)
      << seen[0].message;
  ASSERT_EQ(second.size(), 2u);
  for (const auto& t : second) EXPECT_EQ(t.status, "updated") << t.table << ": " << t.message;
  EXPECT_EQ(second[0].rows_rescued, 0) << "the new fields are columns now, not rescued";
  const std::string post = "post struct<title:string,geo:struct<city:string,lat:double>,device:string>";
  auto kept = ReadLatestKeptSchema(fs_, storage_ + "/_checkpoints/bronze/schemas/0");
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ((*kept)->version, 1);
  EXPECT_EQ((*kept)->schema.ToDDL(), "id string, " + post);
  EXPECT_EQ(Validated("silver"), "id string, " + post + ", _rescued_data string");
  for (const char* table : {"bronze", "silver"}) {
    auto t = delta::DeltaTable::Open(storage_ + "/" + table, fs_);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    auto snap = (*t)->Latest();
    ASSERT_TRUE(snap.ok());
    EXPECT_EQ((*snap)->schema().ToDDL(), "id string, " + post + ", _rescued_data string") << table;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM silver WHERE post.device = 'tv' AND post.geo.lat > 41 AND id = '2'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM silver WHERE post.device IS NULL AND post.geo.lat IS NULL AND "
                  "post.geo.city = 'Lisbon' AND id = '1'"),
            1);
  auto rows = testing::DuckDBRows("SELECT id, post.device AS device, post.geo.lat AS lat, post.geo.city AS city, "
                                  "_rescued_data AS r FROM read_parquet('" +
                                  storage_ + "/silver/*.parquet', union_by_name = true) ORDER BY id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0]["device"].is_null());
  EXPECT_TRUE(rows[0]["lat"].is_null());
  EXPECT_EQ(rows[0]["city"], "Lisbon");
  EXPECT_EQ(rows[1]["device"], "tv");
  EXPECT_EQ(rows[1]["lat"], 41.15);
  EXPECT_EQ(rows[1]["city"], "Porto");
  EXPECT_TRUE(rows[1]["r"].is_null());
}

}  // namespace
}  // namespace lakepipe::runtime
