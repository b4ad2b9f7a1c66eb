// Retention of a flow's checkpoint folder (docs/checkpoint.md, "Retention"): with
// spark.sql.streaming.minBatchesToRetain = 3 the offsets/ and commits/ folders stay
// bounded however many batches run, and a restart after the old batch files are gone
// takes no file twice and skips no upstream version (the compact file carries the
// history).
#include <gtest/gtest.h>

#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("p")).ok());
  }

  void Pipeline(const std::string& retain) {
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"),
                               "name: t\nstorage: " + storage_ + "\nlibraries: [p.sql]\nconfiguration: {landing: " +
                                   landing_ + ", spark.sql.streaming.minBatchesToRetain: '" + retain + "'}\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"),
                               "CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${landing}', "
                               "format => 'csv', header => true, schema => 'id INT, kind STRING', "
                               "maxFilesPerTrigger => 1);\n"
                               "CREATE OR REFRESH STREAMING TABLE copy AS SELECT id, kind FROM STREAM(raw);\n")
                    .ok());
  }

  void Drop(int from, int to) {
    for (int i = from; i < to; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "f%04d.csv", i);
      ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, name),
                                       "id,kind\n" + std::to_string(i * 2) + ",a\n" + std::to_string(i * 2 + 1) + ",b\n")
                      .ok());
    }
  }

  std::unique_ptr<PipelineRunner> Open() {
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    return runner.ok() ? std::move(runner).value() : nullptr;
  }

  std::string One(PipelineRunner& runner, const std::string& sql) {
    auto r = runner.Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r->batches.empty()) return "";
    return r->batches[0].column(0).GetValue(0).ToString();
  }

  size_t Entries(const std::string& table, const std::string& sub) {
    auto e = fs_->ListDir(storage_ + "/_checkpoints/" + table + "/" + sub);
    return e.ok() ? e->size() : 0;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
  std::string storage_ = dir_.Join("storage");
};

TEST_F(RetentionTest, OldBatchFilesGoAndRestartsTakeNothingTwice) {
  Pipeline("3");
  Drop(0, 10);
  {
    auto runner = Open();
    ASSERT_NE(runner, nullptr);
    auto update = runner->RunOnce({});
    ASSERT_TRUE(update.ok()) << update.status().ToString();
    EXPECT_EQ(One(*runner, "SELECT count(*) FROM raw"), "20");
  }
  // 10 batches of raw (0..9): compacted at 3, 6 and 9; batches 7..9 and 9.compact remain.
  EXPECT_EQ(Entries("raw", "commits"), 3u);
  EXPECT_EQ(Entries("raw", "offsets"), 4u);
  EXPECT_TRUE(fs_->Exists(storage_ + "/_checkpoints/raw/offsets/9.compact"));
  EXPECT_FALSE(fs_->Exists(storage_ + "/_checkpoints/raw/offsets/0"));
  // Three restarts, each with two new files: only those are read, and `copy` (a stream of
  // raw's versions) follows without a gap or a repeat.
  for (int round = 0; round < 3; ++round) {
    Drop(10 + round * 2, 12 + round * 2);
    auto runner = Open();
    ASSERT_NE(runner, nullptr);
    auto update = runner->RunOnce({});
    ASSERT_TRUE(update.ok()) << update.status().ToString();
    std::string expected = std::to_string(24 + round * 4);
    EXPECT_EQ(One(*runner, "SELECT count(*) FROM raw"), expected) << "round " << round;
    EXPECT_EQ(One(*runner, "SELECT count(DISTINCT id) FROM raw"), expected);
    EXPECT_EQ(One(*runner, "SELECT count(*) FROM copy"), expected);
    EXPECT_EQ(One(*runner, "SELECT count(DISTINCT id) FROM copy"), expected);
    EXPECT_LE(Entries("raw", "offsets"), 3u + 3u + 1u);
    EXPECT_LE(Entries("copy", "offsets"), 3u + 3u + 1u);
  }
  // Nothing new: nothing is planned again after the last restart either.
  auto runner = Open();
  ASSERT_TRUE(runner->RunOnce({}).ok());
  EXPECT_EQ(One(*runner, "SELECT count(*) FROM copy"), "32");
}

TEST_F(RetentionTest, ABadSettingIsRefusedNamingIt) {
  Pipeline("0");
  Drop(0, 1);
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  auto update = runner->RunOnce({});
  std::string message = update.ok() ? "" : update.status().message();
  for (const auto& t : update.ok() ? update->tables : std::vector<TableReport>{}) message += t.message;
  EXPECT_NE(message.find("spark.sql.streaming.minBatchesToRetain"), std::string::npos) << message;
  EXPECT_NE(message.find("at least 1"), std::string::npos) << message;
}

}  // namespace
}  // namespace lakepipe::runtime
