#include "runtime/batch_plan.h"

#include <gtest/gtest.h>

namespace lakepipe::runtime {
namespace {

TEST(BatchPlanTest, EveryKindOfSourceSurvivesSerializeAndParse) {
  BatchPlan plan;
  plan.batch_id = 7;
  plan.planned_at_millis = 1700000000000;
  PlannedSource files;
  files.kind = PlannedSource::Kind::kFiles;
  files.path = "landing";
  files.files = {{"landing/a.csv", 10, 20}, {"landing/b.csv", 30, 40}};
  PlannedFile old_file;
  old_file.path = "landing/old.csv";
  old_file.mtime_micros = 50;
  files.skipped_existing = {old_file};
  PlannedSource delta;
  delta.kind = PlannedSource::Kind::kDelta;
  delta.table = "bronze";
  delta.start_version = 3;
  delta.end_version = 5;
  PlannedSource snapshot;
  snapshot.kind = PlannedSource::Kind::kSnapshot;
  snapshot.table = "silver";
  snapshot.version = 9;
  PlannedSource stream;
  stream.kind = PlannedSource::Kind::kStream;
  stream.key = "kafka:orders";
  stream.range = {{"0", {{"from", 1}, {"to", 4}}}};
  plan.sources = {files, delta, snapshot, stream};

  auto back = ParseBatchPlan(plan.Serialize(), "offsets/7");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->batch_id, 7);
  EXPECT_EQ(back->planned_at_millis, 1700000000000);
  ASSERT_EQ(back->sources.size(), 4u);
  EXPECT_EQ(back->sources[0].files[1].path, "landing/b.csv");
  EXPECT_EQ(back->sources[0].files[1].size, 30);
  EXPECT_EQ(back->sources[0].files[1].mtime_micros, 40);
  ASSERT_EQ(back->sources[0].skipped_existing.size(), 1u);
  EXPECT_EQ(back->sources[0].skipped_existing[0].path, "landing/old.csv");
  EXPECT_EQ(back->sources[0].skipped_existing[0].mtime_micros, 50);
  EXPECT_TRUE(back->sources[0].skipped_existing[0].mtime_known);
  EXPECT_EQ(back->sources[1].start_version, 3);
  EXPECT_EQ(back->sources[1].end_version, 5);
  EXPECT_EQ(back->sources[2].version, 9);
  EXPECT_EQ(back->sources[3].range, stream.range);
  EXPECT_EQ(back->Serialize(), plan.Serialize());
}

TEST(BatchPlanTest, ACompactFileKeepsPathsAndEndVersionsOnly) {
  BatchPlan plan;
  plan.batch_id = 100;
  plan.compact = true;
  PlannedSource files;
  files.kind = PlannedSource::Kind::kFiles;
  files.path = "landing";
  files.files = {{"landing/a.csv", 10, 20}};
  PlannedSource delta;
  delta.kind = PlannedSource::Kind::kDelta;
  delta.table = "bronze";
  delta.end_version = 5;
  plan.sources = {files, delta};
  std::string text = plan.Serialize();
  EXPECT_EQ(text.find("size"), std::string::npos) << text;
  EXPECT_EQ(text.find("startVersion"), std::string::npos) << text;
  auto back = ParseBatchPlan(text, "offsets/100.compact");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->compact);
  EXPECT_EQ(back->sources[1].end_version, 5);
}

// Format 2 (maxFileAge): each file with its time, and the source's newest time.
TEST(BatchPlanTest, ACompactFileKeepsEachFilesTimeAndTheNewest) {
  BatchPlan plan;
  plan.batch_id = 100;
  plan.compact = true;
  PlannedSource files;
  files.kind = PlannedSource::Kind::kFiles;
  files.path = "landing";
  files.files = {{"a.csv", 10, 20}, {"b.csv", 11, 30}};
  files.newest_mtime_micros = 45;
  files.forgotten_before_micros = 15;
  plan.sources = {files};
  plan.compact_format = 2;
  std::string text = plan.Serialize();
  EXPECT_NE(text.find("\"version\":2"), std::string::npos) << text;
  auto back = ParseBatchPlan(text, "offsets/100.compact");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->compact_format, 2);
  ASSERT_EQ(back->sources[0].files.size(), 2u);
  EXPECT_EQ(back->sources[0].files[1].path, "b.csv");
  EXPECT_EQ(back->sources[0].files[1].mtime_micros, 30);
  EXPECT_TRUE(back->sources[0].files[1].mtime_known);
  EXPECT_EQ(back->sources[0].newest_mtime_micros, 45);
  EXPECT_EQ(back->sources[0].forgotten_before_micros, 15);
}

// Format 3: a files source lists its segment files (runtime/taken_segments.h), not its files.
TEST(BatchPlanTest, AFormatThreeCompactFileListsSegments) {
  BatchPlan plan;
  plan.batch_id = 200;
  plan.compact = true;
  PlannedSource files;
  files.kind = PlannedSource::Kind::kFiles;
  files.path = "landing";
  files.segments = {{"100-0.json", 1, 400, 90}, {"200-0.json", 0, 7, 120}};
  files.newest_mtime_micros = 120;
  files.forgotten_before_micros = 15;
  plan.sources = {files};
  std::string text = plan.Serialize();
  EXPECT_NE(text.find("\"version\":3"), std::string::npos) << text;
  EXPECT_EQ(text.find("\"files\":["), std::string::npos) << "no inline list: " << text;
  auto back = ParseBatchPlan(text, "offsets/200.compact");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->compact_format, 3);
  ASSERT_EQ(back->sources[0].segments.size(), 2u);
  EXPECT_EQ(back->sources[0].segments[0].name, "100-0.json");
  EXPECT_EQ(back->sources[0].segments[0].level, 1);
  EXPECT_EQ(back->sources[0].segments[0].files, 400);
  EXPECT_EQ(back->sources[0].segments[1].newest_micros, 120);
  EXPECT_TRUE(back->sources[0].files.empty());
  EXPECT_EQ(back->sources[0].forgotten_before_micros, 15);
  EXPECT_EQ(back->Serialize(), text);
}

// Checkpoints written before maxFileAge: a compact file of paths only (no "version"), and
// a first plan whose skippedExisting lists names. Both still load, their files without times.
TEST(BatchPlanTest, FormatOneCheckpointsStillLoad) {
  auto compact = ParseBatchPlan(
      R"({"batchId":99,"compact":true,"sources":[{"kind":"files","path":"/l","files":[{"path":"a.csv"},{"path":"b.csv"}]}]})",
      "offsets/99.compact");
  ASSERT_TRUE(compact.ok()) << compact.status().ToString();
  EXPECT_EQ(compact->compact_format, 1);
  ASSERT_EQ(compact->sources[0].files.size(), 2u);
  EXPECT_FALSE(compact->sources[0].files[0].mtime_known);
  EXPECT_EQ(compact->sources[0].newest_mtime_micros, INT64_MIN);
  auto first = ParseBatchPlan(
      R"({"batchId":0,"sources":[{"kind":"files","path":"/l","files":[],"skippedExisting":["x.csv","y.csv"]}]})",
      "offsets/0");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->sources[0].skipped_existing.size(), 2u);
  EXPECT_EQ(first->sources[0].skipped_existing[1].path, "y.csv");
  EXPECT_FALSE(first->sources[0].skipped_existing[1].mtime_known);
}

// Each malformed plan is Corruption naming the file and the field, never an exception.
TEST(BatchPlanTest, MalformedPlansAreCorruptionNamingTheFileAndTheField) {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"", "not a batch plan (a JSON object)"},
      {"[1,2]", "not a batch plan (a JSON object)"},
      {"{\"batchId\": 1}", "sources: missing"},
      {"{\"sources\": {}}", "sources: not an array"},
      {"{\"sources\": [3]}", "sources[0]: not an object"},
      {"{\"sources\": [{\"kind\": 3}]}", "sources[0].kind: not a string"},
      {"{\"sources\": [{\"kind\": \"ftp\"}]}", "sources[0].kind: unknown source kind 'ftp'"},
      {"{\"sources\": [{\"kind\": \"files\", \"path\": \"l\", \"files\": [{\"path\": \"a\", \"size\": \"big\"}]}]}",
       "sources[0].files[0].size: not an integer"},
      {"{\"sources\": [{\"kind\": \"files\", \"path\": \"l\", \"files\": [], \"skippedExisting\": [1]}]}",
       "sources[0].skippedExisting[0]: not an object"},
      {"{\"sources\": [{\"kind\": \"files\", \"path\": \"l\", \"files\": [], \"skippedExisting\": [{\"path\": \"a\"}]}]}",
       "sources[0].skippedExisting[0].mtime: missing"},
      {"{\"compact\": true, \"version\": 4, \"sources\": []}", "compact file format 4 is not one this lakepipe reads"},
      {"{\"compact\": true, \"version\": 3, \"sources\": [{\"kind\": \"files\", \"path\": \"l\"}]}",
       "sources[0].segments: missing"},
      {"{\"compact\": true, \"version\": 3, \"sources\": [{\"kind\": \"files\", \"path\": \"l\", \"segments\": "
       "[{\"name\": \"../metadata\", \"level\": 0, \"files\": 1}]}]}",
       "sources[0].segments[0].name: not a file name: '../metadata'"},
      {"{\"compact\": true, \"version\": 3, \"sources\": [{\"kind\": \"files\", \"path\": \"l\", \"segments\": "
       "[{\"name\": \"1-0.json\", \"files\": 1}]}]}",
       "sources[0].segments[0].level: missing"},
      {"{\"compact\": true, \"version\": 3, \"sources\": [{\"kind\": \"files\", \"path\": \"l\", \"segments\": "
       "[{\"name\": \"1-0.json\", \"level\": 0, \"files\": -2}]}]}",
       "sources[0].segments[0].files: negative"},
      {"{\"sources\": [{\"kind\": \"delta\", \"table\": \"t\"}]}", "sources[0].endVersion: missing"},
      {"{\"sources\": [{\"kind\": \"snapshot\", \"table\": \"t\", \"version\": 1.5}]}",
       "sources[0].version: not an integer"},
      {"{\"sources\": [{\"kind\": \"stream\", \"key\": \"k\"}]}", "sources[0].range: missing"},
      {"{\"batchId\": \"x\", \"sources\": []}", "batchId: not an integer"},
  };
  for (const auto& c : cases) {
    auto plan = ParseBatchPlan(c.text, "/cp/offsets/4");
    ASSERT_FALSE(plan.ok()) << c.text;
    EXPECT_EQ(plan.status().code(), StatusCode::kCorruption) << plan.status().ToString();
    EXPECT_NE(plan.status().message().find("/cp/offsets/4"), std::string::npos) << plan.status().ToString();
    EXPECT_NE(plan.status().message().find(c.expect), std::string::npos)
        << c.text << " -> " << plan.status().ToString();
  }
}

}  // namespace
}  // namespace lakepipe::runtime
