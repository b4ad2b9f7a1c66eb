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
#include "runtime/taken_segments.h"
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

  std::unique_ptr<PipelineRunner> Open(FileSystem* fs = FileSystem::Default()) {
    auto runner = PipelineRunner::Open(dir_.Join("p"), {}, fs);
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

  // The files a compact file remembers (path, mtime), sorted: listed inline (formats 1
  // and 2) or in its segment files (format 3), as a restart loads them.
  std::vector<std::pair<std::string, int64_t>> CompactFiles(const BatchPlan& compact) {
    std::vector<std::pair<std::string, int64_t>> out;
    for (const auto& s : compact.sources) {
      for (const auto& f : s.files) out.emplace_back(f.path, f.mtime_micros);
      TakenFiles taken;
      TakenSegments segments;
      Status st = segments.Load(fs_, storage_ + "/_checkpoints/raw/taken", s, &taken);
      EXPECT_TRUE(st.ok()) << st.ToString();
      taken.ForEach([&out](std::string_view path, int64_t mtime) { out.emplace_back(std::string(path), mtime); });
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::vector<std::string> CompactPaths(const BatchPlan& compact) {
    std::vector<std::string> out;
    for (const auto& [path, mtime] : CompactFiles(compact)) out.push_back(path);
    return out;
  }
  std::vector<std::string> SegmentFiles() {
    std::vector<std::string> out;
    auto entries = fs_->ListDir(storage_ + "/_checkpoints/raw/taken");
    for (const auto& e : entries.ok() ? *entries : std::vector<FileInfo>{}) out.push_back(e.name);
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
  EXPECT_EQ(compact.compact_format, 3);
  EXPECT_EQ(CompactPaths(compact), std::vector<std::string>{"c.csv"});
  ASSERT_EQ(compact.sources.size(), 1u);
  EXPECT_EQ(compact.sources[0].newest_mtime_micros, static_cast<int64_t>(now_) * 1000000);
  ASSERT_EQ(CompactFiles(compact).size(), 1u);
  EXPECT_EQ(CompactFiles(compact)[0].second, static_cast<int64_t>(now_) * 1000000);

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

// A file whose name is not valid UTF-8 is reported and not taken, in every run: the
// checkpoint could not record its name, so a restart would read it again.
TEST_F(MaxFileAgeTest, AFileNamedInInvalidUtf8IsReportedAndNeverTaken) {
  Pipeline("", "1");
  Drop("a.csv", 1, 0);
  Drop("caf\xe9.csv", 2, 0);
  for (int restart = 0; restart < 2; ++restart) {
    auto runner = Open();
    ASSERT_NE(runner, nullptr);
    auto warnings = Run(*runner, "file_name_not_utf8");
    ASSERT_EQ(warnings.size(), 1u) << restart;
    EXPECT_NE(warnings[0].find("1 file not taken: the name is not valid UTF-8 (caf\xef\xbf\xbd.csv)"), std::string::npos)
        << warnings[0];
    EXPECT_EQ(Run(*runner, "file_name_not_utf8").size(), 0u);  // said once per run
    EXPECT_EQ(Ids(*runner), "[1]");
  }
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
// compact file is format 3.
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
  EXPECT_EQ(compact.compact_format, 3);
  EXPECT_EQ(CompactPaths(compact), (std::vector<std::string>{"x1.csv", "x2.csv", "x3.csv", "x4.csv", "x5.csv"}));
}

// A file system that "crashes" (fails, as the process would stop) at one step of a
// compaction: writing the compact file, or deleting a segment file after it.
class CrashFs : public FaultInjectingFileSystem {
 public:
  CrashFs() : FaultInjectingFileSystem(FileSystem::Default()) {}
  bool crash_at_compact = false;
  bool crash_at_segment_delete = false;
  bool crashed = false;
  Status Link(const std::string& from, const std::string& to) override {
    if (crash_at_compact && to.size() > 8 && to.substr(to.size() - 8) == ".compact") return Crash(to);
    return FaultInjectingFileSystem::Link(from, to);
  }
  Status RemoveFile(const std::string& path) override {
    if (crash_at_segment_delete && path.find("/taken/") != std::string::npos) return Crash(path);
    return FaultInjectingFileSystem::RemoveFile(path);
  }

 private:
  Status Crash(const std::string& path) {
    crashed = true;
    return Status::IOError("crash before " + path);
  }
};

// The failure message of raw in one update that must fail.
std::string RunFailing(PipelineRunner& runner) {
  auto update = runner.RunOnce(RunOptions{});
  if (!update.ok()) return update.status().ToString();
  for (const auto& t : update->tables)
    if (t.status == "failed") return t.message;
  return "";
}

// Compact format 3: files forgotten past the horizon leave with their segment file.
TEST_F(MaxFileAgeTest, ASegmentWhoseFilesAreAllForgottenIsDeleted) {
  Pipeline(", maxFileAge => '1 day'", "1");
  Drop("a.csv", 1, 3);
  Drop("b.csv", 2, 2.5);
  {
    auto runner = Open();
    ASSERT_NE(runner, nullptr);
    Run(*runner, "file_too_old");
  }
  // Batches 0 and 1; the compact file of batch 1 lists one segment with both.
  BatchPlan first = NewestCompact();
  ASSERT_EQ(first.sources.size(), 1u);
  ASSERT_EQ(first.sources[0].segments.size(), 1u);
  std::string old_segment = first.sources[0].segments[0].name;
  EXPECT_EQ(first.sources[0].segments[0].files, 2);
  EXPECT_EQ(SegmentFiles(), std::vector<std::string>{old_segment});
  Drop("c.csv", 3, 0);
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  Run(*runner, "file_too_old");
  EXPECT_EQ(Ids(*runner), "[1, 2, 3]");
  // c.csv moved the horizon to a day ago: a and b are forgotten, their segment dropped.
  BatchPlan compact = NewestCompact();
  EXPECT_EQ(CompactPaths(compact), std::vector<std::string>{"c.csv"});
  ASSERT_EQ(compact.sources[0].segments.size(), 1u);
  EXPECT_NE(compact.sources[0].segments[0].name, old_segment);
  EXPECT_EQ(SegmentFiles(), std::vector<std::string>{compact.sources[0].segments[0].name});
}

// Each compaction writes what was taken since the last one; every kFanIn small segments
// are merged into one, and the ones merged are deleted.
TEST_F(MaxFileAgeTest, CompactionsWriteIncrementsAndMergeSmallSegments) {
  Pipeline("", "1");
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  Drop("f0.csv", 0, 1);
  Run(*runner, "file_too_old");  // batch 0: no compaction
  for (int i = 1; i <= 2 * TakenSegments::kFanIn; ++i) {
    Drop("f" + std::to_string(i) + ".csv", i, 1);
    Run(*runner, "file_too_old");
    BatchPlan compact = NewestCompact();
    ASSERT_EQ(compact.batch_id, i);
    ASSERT_EQ(compact.sources.size(), 1u);
    // The newest segment holds only the file of the newest batch (batch 0's joins batch
    // 1's), or is a merge (at every kFanIn-th compaction).
    const PlannedSegment& newest = compact.sources[0].segments.back();
    if (i % TakenSegments::kFanIn == 0) {
      EXPECT_EQ(newest.level, 1) << "batch " << i;
    } else {
      EXPECT_EQ(newest.level, 0) << "batch " << i;
      EXPECT_EQ(newest.files, i == 1 ? 2 : 1) << "batch " << i;
    }
    EXPECT_EQ(CompactPaths(compact).size(), static_cast<size_t>(i + 1));
    EXPECT_LE(compact.sources[0].segments.size(), static_cast<size_t>(2 * (TakenSegments::kFanIn - 1)))
        << "batch " << i;
    std::vector<std::string> listed;
    for (const auto& g : compact.sources[0].segments) listed.push_back(g.name);
    std::sort(listed.begin(), listed.end());
    EXPECT_EQ(SegmentFiles(), listed) << "only the listed segment files remain, batch " << i;
  }
  EXPECT_EQ(Count(*runner), 2 * TakenSegments::kFanIn + 1);
  EXPECT_EQ(NewestCompact().sources[0].segments.size(), 2u);  // two merges of level 1
}

// A crash after the segment files are written and before the compact file that lists
// them: the restart loads the previous compact file and the plans after it, finds every
// file, takes none twice, and the next compaction deletes the orphaned segment files.
TEST_F(MaxFileAgeTest, ACrashBetweenSegmentsAndCompactFileLosesNothing) {
  Pipeline("", "1");
  for (int i = 1; i <= 3; ++i) Drop("f" + std::to_string(i) + ".csv", i, 1);
  {
    auto runner = Open();
    ASSERT_NE(runner, nullptr);
    Run(*runner, "file_too_old");
  }
  BatchPlan before = NewestCompact();
  Drop("f4.csv", 4, 0.5);
  CrashFs crash;
  crash.crash_at_compact = true;
  {
    auto runner = Open(&crash);
    ASSERT_NE(runner, nullptr);
    std::string message = RunFailing(*runner);
    EXPECT_NE(message.find("crash before"), std::string::npos) << message;
  }
  ASSERT_TRUE(crash.crashed);
  EXPECT_EQ(NewestCompact().batch_id, before.batch_id);  // the new one was not written
  EXPECT_GT(SegmentFiles().size(), before.sources[0].segments.size()) << "segments written for it";
  Drop("f5.csv", 5, 0);
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  Run(*runner, "file_too_old");
  EXPECT_EQ(Ids(*runner), "[1, 2, 3, 4, 5]");
  BatchPlan after = NewestCompact();
  EXPECT_EQ(CompactPaths(after), (std::vector<std::string>{"f1.csv", "f2.csv", "f3.csv", "f4.csv", "f5.csv"}));
  std::vector<std::string> listed;
  for (const auto& g : after.sources[0].segments) listed.push_back(g.name);
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(SegmentFiles(), listed) << "the orphans are gone";
}

// A crash after the compact file is durable and before the segment files it no longer
// lists are deleted: the restart loads the new compact file; the leftovers go next time.
TEST_F(MaxFileAgeTest, ACrashBeforeOldSegmentsAreDeletedLosesNothing) {
  Pipeline("", "1");
  CrashFs crash;
  crash.crash_at_segment_delete = true;
  // kFanIn batches: the kFanIn-th compaction merges the small segments and deletes them.
  for (int i = 1; i <= TakenSegments::kFanIn + 1; ++i) Drop("f" + std::to_string(i) + ".csv", i, 1);
  {
    auto runner = Open(&crash);
    ASSERT_NE(runner, nullptr);
    std::string message = RunFailing(*runner);
    EXPECT_NE(message.find("crash before"), std::string::npos) << message;
  }
  ASSERT_TRUE(crash.crashed);
  BatchPlan merged = NewestCompact();
  ASSERT_EQ(merged.sources.size(), 1u);
  EXPECT_GT(SegmentFiles().size(), merged.sources[0].segments.size()) << "the merged ones are still there";
  Drop("f9.csv", 9, 0);
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  Run(*runner, "file_too_old");
  EXPECT_EQ(Ids(*runner), "[1, 2, 3, 4, 5, 9]");
  EXPECT_EQ(Count(*runner), CountDistinct(*runner));
  BatchPlan after = NewestCompact();
  EXPECT_EQ(CompactPaths(after).size(), 6u);
  std::vector<std::string> listed;
  for (const auto& g : after.sources[0].segments) listed.push_back(g.name);
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(SegmentFiles(), listed);
}

// A segment file that is missing or damaged fails the flow with Corruption naming it,
// rather than taking its files again.
TEST_F(MaxFileAgeTest, AMissingOrDamagedSegmentIsCorruptionNamingTheFile) {
  Pipeline("", "1");
  Drop("a.csv", 1, 1);
  Drop("b.csv", 2, 0);
  {
    auto runner = Open();
    ASSERT_NE(runner, nullptr);
    Run(*runner, "file_too_old");
  }
  BatchPlan compact = NewestCompact();
  ASSERT_EQ(compact.sources[0].segments.size(), 1u);
  std::string segment = storage_ + "/_checkpoints/raw/taken/" + compact.sources[0].segments[0].name;
  auto text = fs_->ReadFile(segment);
  ASSERT_TRUE(text.ok());
  for (const std::string& damage : {std::string("{\"segment\":1,\"source\":"), std::string("")}) {
    ASSERT_TRUE(fs_->RemoveFile(segment).ok());
    if (!damage.empty()) {
      ASSERT_TRUE(fs_->WriteFile(segment, damage).ok());
    }
    auto runner = Open();
    ASSERT_NE(runner, nullptr);
    std::string message = RunFailing(*runner);
    EXPECT_NE(message.find(segment), std::string::npos) << message;
    EXPECT_NE(message.find(damage.empty() ? "missing" : "not JSON"), std::string::npos) << message;
  }
  ASSERT_TRUE(fs_->WriteFile(segment, *text).ok());
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  Run(*runner, "file_too_old");
  EXPECT_EQ(Ids(*runner), "[1, 2]");
}

// A compact file of format 2 (each file inline with its time) loads; the next one is
// format 3, its segments list the same files with their times.
TEST_F(MaxFileAgeTest, AFormatTwoCompactFileIsUpgraded) {
  Pipeline("", "2");
  Drop("x1.csv", 1, 2);
  Drop("x2.csv", 2, 1);
  Drop("x3.csv", 3, 0);
  {
    auto runner = Open();
    ASSERT_NE(runner, nullptr);
    Run(*runner, "file_too_old");
  }
  BatchPlan compact = NewestCompact();
  ASSERT_EQ(compact.batch_id, 2);
  std::vector<std::pair<std::string, int64_t>> files = CompactFiles(compact);
  ASSERT_EQ(files.size(), 3u);
  // Rewrite it as the previous lakepipe wrote it.
  compact.compact_format = 2;
  compact.sources[0].segments.clear();
  for (const auto& [path, mtime] : files) compact.sources[0].files.push_back({path, 0, mtime});
  std::string path = storage_ + "/_checkpoints/raw/offsets/2.compact";
  ASSERT_TRUE(fs_->RemoveFile(path).ok());
  ASSERT_TRUE(fs_->WriteFile(path, compact.Serialize() + "\n").ok());
  ASSERT_TRUE(fs_->RemoveAll(storage_ + "/_checkpoints/raw/taken").ok());
  Drop("x4.csv", 4, 0);
  Drop("x5.csv", 5, 0);
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  Run(*runner, "file_too_old");
  EXPECT_EQ(Ids(*runner), "[1, 2, 3, 4, 5]");
  BatchPlan upgraded = NewestCompact();
  EXPECT_EQ(upgraded.batch_id, 4);
  EXPECT_EQ(upgraded.compact_format, 3);
  std::vector<std::pair<std::string, int64_t>> now_files = CompactFiles(upgraded);
  ASSERT_EQ(now_files.size(), 5u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(now_files[i], files[i]) << "the times are kept";
}

}  // namespace
}  // namespace lakepipe::runtime
