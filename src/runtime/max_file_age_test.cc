// read_files' maxFileAge in a running pipeline (docs/continuous.md, "The file source";
// docs/checkpoint.md, "Retention"): the flow's compact file keeps the files of one
// maxFileAge only, a file that arrives older than the horizon is reported and not taken,
// nothing is taken twice across restarts, and a checkpoint written before the files'
// times were kept (compact format 1) still loads.
#include <gtest/gtest.h>
#include <utime.h>

#include <algorithm>
#include <ctime>

#include "runtime/batch_plan.h"
#include "runtime/pipeline_runner.h"
#include "runtime/status_board.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

constexpr int64_t kDaySeconds = 86400;

class MaxFileAgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("p")).ok());
  }

  void Pipeline(const std::string& options, const std::string& retain) {
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"),
                               "name: t\nstorage: " + storage_ + "\nlibraries: [p.sql]\nconfiguration: {landing: " +
                                   landing_ + ", spark.sql.streaming.minBatchesToRetain: '" + retain + "'}\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"),
                               "CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${landing}', "
                               "format => 'csv', header => true, schema => 'id INT', maxFilesPerTrigger => 1" +
                                   options + ");\n")
                    .ok());
  }

  // Lands `name` holding the row `id`, last modified `days_ago` days ago.
  void Drop(const std::string& name, int id, double days_ago) {
    std::string path = JoinPath(landing_, name);
    ASSERT_TRUE(fs_->WriteFileAtomic(path, "id\n" + std::to_string(id) + "\n").ok());
    struct utimbuf t;
    t.actime = t.modtime = now_ - static_cast<time_t>(days_ago * kDaySeconds);
    ASSERT_EQ(utime(path.c_str(), &t), 0);
  }

  std::unique_ptr<PipelineRunner> Open() {
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    return runner.ok() ? std::move(runner).value() : nullptr;
  }

  // Runs one triggered update; returns raw's warnings of `type`.
  std::vector<std::string> Run(PipelineRunner& runner, const std::string& type, StatusBoard* board = nullptr) {
    RunOptions options;
    options.board = board;
    auto update = runner.RunOnce(options);
    EXPECT_TRUE(update.ok()) << update.status().ToString();
    std::vector<std::string> out;
    if (!update.ok()) return out;
    for (const auto& t : update->tables) {
      EXPECT_NE(t.status, "failed") << t.message;
      for (const auto& [kind, message] : t.warnings)
        if (kind == type) out.push_back(message);
    }
    return out;
  }

  std::string Ids(PipelineRunner& runner) {
    auto r = runner.Query("SELECT id FROM raw ORDER BY id");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "";
    std::string out;
    for (const auto& b : r->batches)
      for (int64_t i = 0; i < b.num_rows(); ++i) out += (out.empty() ? "" : ", ") + b.column(0).GetValue(i).ToString();
    return "[" + out + "]";
  }

  int64_t Count(PipelineRunner& runner) {
    auto r = runner.Query("SELECT count(*) FROM raw");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r->batches.empty()) return -1;
    return std::stoll(r->batches[0].column(0).GetValue(0).ToString());
  }

  int64_t CountDistinct(PipelineRunner& runner) {
    auto r = runner.Query("SELECT count(DISTINCT id) FROM raw");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r->batches.empty()) return -1;
    return std::stoll(r->batches[0].column(0).GetValue(0).ToString());
  }

  // The newest compact file of raw's checkpoint, parsed.
  BatchPlan NewestCompact() {
    std::string offsets = storage_ + "/_checkpoints/raw/offsets";
    auto entries = fs_->ListDir(offsets);
    EXPECT_TRUE(entries.ok());
    int64_t best = -1;
    for (const auto& e : entries.ok() ? *entries : std::vector<FileInfo>{}) {
      if (e.name.size() > 8 && e.name.substr(e.name.size() - 8) == ".compact")
        best = std::max<int64_t>(best, std::stoll(e.name.substr(0, e.name.size() - 8)));
    }
    EXPECT_GE(best, 0) << "no compact file";
    std::string path = offsets + "/" + std::to_string(best) + ".compact";
    auto text = fs_->ReadFile(path);
    EXPECT_TRUE(text.ok());
    auto plan = ParseBatchPlan(text.ok() ? *text : "", path);
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    return plan.ok() ? *plan : BatchPlan{};
  }

  static std::vector<std::string> CompactPaths(const BatchPlan& compact) {
    std::vector<std::string> out;
    for (const auto& s : compact.sources)
      for (const auto& f : s.files) out.push_back(f.path);
    std::sort(out.begin(), out.end());
    return out;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
  std::string storage_ = dir_.Join("storage");
  time_t now_ = time(nullptr);
};

TEST_F(MaxFileAgeTest, OldEntriesLeaveTheCompactFileAndOldArrivalsAreReportedNotTaken) {
  Pipeline(", maxFileAge => '1 day'", "2");
  // The first batch takes any file, however old (Spark's rule); then each batch's horizon
  // is its newest file's time minus a day.
  Drop("a.csv", 1, 10);
  Drop("b.csv", 2, 9.5);
  Drop("c.csv", 3, 0);
  StatusBoard board;
  {
    auto runner = Open();
    ASSERT_NE(runner, nullptr);
    EXPECT_TRUE(Run(*runner, "file_too_old", &board).empty());
    EXPECT_EQ(Ids(*runner), "[1, 2, 3]");
  }
  // Batches 0..2; the compact file at batch 2 keeps c.csv only: a and b are more than a
  // day older than c, the newest file taken.
  BatchPlan compact = NewestCompact();
  EXPECT_EQ(compact.batch_id, 2);
  EXPECT_EQ(compact.compact_format, 2);
  EXPECT_EQ(CompactPaths(compact), std::vector<std::string>{"c.csv"});
  ASSERT_EQ(compact.sources.size(), 1u);
  EXPECT_EQ(compact.sources[0].newest_mtime_micros, static_cast<int64_t>(now_) * 1000000);
  EXPECT_EQ(compact.sources[0].files[0].mtime_micros, static_cast<int64_t>(now_) * 1000000);

  // A file arriving already 5 days old is reported and not taken; a new one is taken. The
  // forgotten a.csv and b.csv are still in the folder and are not taken again.
  Drop("late.csv", 4, 5);
  Drop("d.csv", 5, 0);
  {
    auto runner = Open();
    ASSERT_NE(runner, nullptr);
    std::vector<std::string> warnings = Run(*runner, "file_too_old", &board);
    EXPECT_EQ(Ids(*runner), "[1, 2, 3, 5]");
    // This run restarted the flow: the files forgotten before it look like late arrivals
    // too (the checkpoint no longer knows them); late.csv is among the three.
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("3 files older than maxFileAge allows, not taken"), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find("late.csv"), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find("maxFileAge 1 day"), std::string::npos) << warnings[0];
    EXPECT_EQ(board.Snapshot().tables[0].files_too_old, 3);
    // Within the process each is reported once: the next update lists them silently.
    Drop("later.csv", 6, 3);
    warnings = Run(*runner, "file_too_old", &board);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("1 file older than maxFileAge allows, not taken: later.csv"), std::string::npos)
        << warnings[0];
    EXPECT_EQ(board.Snapshot().tables[0].files_too_old, 4);
    EXPECT_TRUE(Run(*runner, "file_too_old", &board).empty());
    EXPECT_EQ(Ids(*runner), "[1, 2, 3, 5]");
  }
  // A restart takes nothing twice and nothing old; a new file is taken.
  Drop("e.csv", 7, 0);
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  Run(*runner, "file_too_old");
  EXPECT_EQ(Ids(*runner), "[1, 2, 3, 5, 7]");
  EXPECT_EQ(Count(*runner), CountDistinct(*runner));
}

// A file taken within the horizon is never taken again, however often the flow restarts
// and compacts; the compact file holds exactly the files of the horizon.
TEST_F(MaxFileAgeTest, ExactlyOnceAcrossRestartsWithinTheHorizon) {
  Pipeline("", "1");  // the default maxFileAge, 7 days; a compact file after every batch
  for (int round = 0; round < 4; ++round) {
    Drop("r" + std::to_string(round) + "a.csv", round * 10 + 1, 8 - round);
    Drop("r" + std::to_string(round) + "b.csv", round * 10 + 2, 6 - round);
    auto runner = Open();
    ASSERT_NE(runner, nullptr);
    Run(*runner, "file_too_old");
    EXPECT_EQ(Count(*runner), CountDistinct(*runner)) << "round " << round;
  }
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  // Every file was within 7 days of the newest taken at its listing (r0a.csv, 8 days old,
  // by the first batch, which takes any file).
  EXPECT_EQ(Ids(*runner), "[1, 2, 11, 12, 21, 22, 31, 32]");
  // The horizon (newest 3 days ago, minus 7 days) is 10 days ago: all eight are remembered.
  EXPECT_EQ(CompactPaths(NewestCompact()).size(), 8u);
  // A file 4 days newer moves the horizon past the 8-day-old one, which the next compact
  // file forgets; it is not taken again.
  Drop("fresh.csv", 99, 0);
  Run(*runner, "file_too_old");
  EXPECT_EQ(Ids(*runner), "[1, 2, 11, 12, 21, 22, 31, 32, 99]");
  std::vector<std::string> kept = CompactPaths(NewestCompact());
  EXPECT_EQ(std::count(kept.begin(), kept.end(), "r0a.csv"), 0);
  EXPECT_EQ(std::count(kept.begin(), kept.end(), "r0b.csv"), 1);  // 6 days old: within 7
  runner.reset();
  auto again = Open();
  ASSERT_NE(again, nullptr);
  std::vector<std::string> warnings = Run(*again, "file_too_old");
  ASSERT_EQ(warnings.size(), 1u);  // r0a.csv, forgotten: reported after the restart, not taken
  EXPECT_NE(warnings[0].find("1 file older than maxFileAge allows, not taken: r0a.csv"), std::string::npos)
      << warnings[0];
  EXPECT_EQ(Ids(*again), "[1, 2, 11, 12, 21, 22, 31, 32, 99]");
}

// Raising maxFileAge later does not bring a forgotten file back: the horizon never moves
// back past where files were forgotten (the compact file's forgottenBefore).
TEST_F(MaxFileAgeTest, RaisingMaxFileAgeTakesNoForgottenFileTwice) {
  Pipeline(", maxFileAge => '1 day'", "1");
  Drop("a.csv", 1, 3);
  Drop("c.csv", 3, 0);
  {
    auto runner = Open();
    ASSERT_NE(runner, nullptr);
    Run(*runner, "file_too_old");
    EXPECT_EQ(Ids(*runner), "[1, 3]");
  }
  BatchPlan compact = NewestCompact();
  EXPECT_EQ(CompactPaths(compact), std::vector<std::string>{"c.csv"});  // a.csv forgotten
  ASSERT_EQ(compact.sources.size(), 1u);
  EXPECT_EQ(compact.sources[0].forgotten_before_micros, (static_cast<int64_t>(now_) - kDaySeconds) * 1000000);
  Pipeline(", maxFileAge => '30 days'", "1");
  Drop("b.csv", 2, 2);  // within 30 days of c.csv, but behind where a.csv was forgotten
  Drop("d.csv", 4, 0);
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  std::vector<std::string> warnings = Run(*runner, "file_too_old");
  EXPECT_EQ(Ids(*runner), "[1, 3, 4]");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("2 files older than maxFileAge allows"), std::string::npos) << warnings[0];
}

// A checkpoint written before the files' times were kept: the compact file lists paths
// only and carries no "version". It loads, nothing in it is taken again, and the next
// compact file is format 2.
TEST_F(MaxFileAgeTest, AFormatOneCompactFileLoads) {
  Pipeline(", maxFileAge => '1 day'", "2");
  Drop("x1.csv", 1, 30);
  Drop("x2.csv", 2, 0.5);
  Drop("x3.csv", 3, 0);
  {
    auto runner = Open();
    ASSERT_NE(runner, nullptr);
    Run(*runner, "file_too_old");
    EXPECT_EQ(Ids(*runner), "[1, 2, 3]");
  }
  // Rewrite the newest compact file (batch 2) as an older lakepipe wrote it.
  std::string path = storage_ + "/_checkpoints/raw/offsets/2.compact";
  ASSERT_TRUE(fs_->Exists(path));
  ASSERT_TRUE(fs_->RemoveFile(path).ok());
  ASSERT_TRUE(fs_->WriteFile(path, "{\"batchId\":2,\"compact\":true,\"sources\":[{\"kind\":\"files\",\"path\":\"" +
                                       landing_ + "\",\"files\":[{\"path\":\"x1.csv\"},{\"path\":\"x2.csv\"},"
                                                  "{\"path\":\"x3.csv\"}]}]}\n")
                  .ok());
  Drop("x4.csv", 4, 0);
  Drop("x5.csv", 5, 0);
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  // x1.csv (30 days old) is remembered as of the upgrade, so it is neither taken again nor
  // reported; x2 and x3 neither.
  EXPECT_TRUE(Run(*runner, "file_too_old").empty());
  EXPECT_EQ(Ids(*runner), "[1, 2, 3, 4, 5]");
  BatchPlan compact = NewestCompact();
  EXPECT_EQ(compact.batch_id, 4);
  EXPECT_EQ(compact.compact_format, 2);
  EXPECT_EQ(CompactPaths(compact), (std::vector<std::string>{"x1.csv", "x2.csv", "x3.csv", "x4.csv", "x5.csv"}));
}

}  // namespace
}  // namespace lakepipe::runtime
