// Crash test of the checkpoint folder's cleanup (docs/checkpoint.md, "Retention"): the
// built binary is SIGKILLed at the kill points of FlowCheckpoint::Retain — after the
// segment files are written and before the compact file, after the compact file is
// written, and between the deletions of old batch and segment files — and at the end
// of a batch, then run again; every input row must be in both tables exactly once, and the
// folders must stay bounded.
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <map>

#include "cli/cli_test_util.h"

namespace lakepipe {
namespace {

class RetentionKillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FileSystem* fs = FileSystem::Default();
    ASSERT_TRUE(fs->CreateDirs(landing_).ok());
    ASSERT_TRUE(fs->CreateDirs(dir_.Join("p")).ok());
    ASSERT_TRUE(fs->WriteFile(dir_.Join("p/pipeline.yaml"),
                              "name: t\nstorage: " + storage_ + "\nlibraries: [p.sql]\nconfiguration: {landing: " +
                                  landing_ + ", spark.sql.streaming.minBatchesToRetain: '2'}\n")
                    .ok());
    ASSERT_TRUE(fs->WriteFile(dir_.Join("p/p.sql"),
                              "CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${landing}', "
                              "format => 'csv', header => true, schema => 'id INT, kind STRING', "
                              "maxFilesPerTrigger => 1);\n"
                              "CREATE OR REFRESH STREAMING TABLE copy AS SELECT id, kind FROM STREAM(raw);\n")
                    .ok());
  }

  void Drop(int from, int to) {
    for (int i = from; i < to; ++i) {
      ASSERT_TRUE(FileSystem::Default()
                      ->WriteFileAtomic(landing_ + "/f" + std::to_string(1000 + i) + ".csv",
                                        "id,kind\n" + std::to_string(i * 2) + ",a\n" + std::to_string(i * 2 + 1) + ",b\n")
                      .ok());
    }
  }

  // Runs one update killed at `point` (n-th hit); true when it died by SIGKILL.
  bool RunKilledAt(const std::string& point) { return RunOnceKilledAt(dir_.Join("p"), point); }

  std::string Count(const std::string& sql) { return QueryCsvRows(dir_.Join("p"), sql); }

  size_t Entries(const std::string& path) {
    auto e = FileSystem::Default()->ListDir(path);
    return e.ok() ? e->size() : 0;
  }

  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
  std::string storage_ = dir_.Join("storage");
};

TEST_F(RetentionKillTest, KilledDuringCleanupThenRestartedEveryRowOnce) {
  int files = 0;
  int killed = 0;
  std::map<std::string, int> killed_at;
  // after_segments: segment files written, the compact file listing them not yet;
  // during_segment_cleanup: the compact file durable, segments it no longer lists (merged,
  // or orphaned by the kill before) being deleted.
  for (const char* point : {"checkpoint.after_compact", "checkpoint.during_cleanup", "checkpoint.during_cleanup:3",
                            "checkpoint.after_compact:2", "flow.after_commit_log:2", "checkpoint.after_segments",
                            "checkpoint.during_segment_cleanup", "checkpoint.after_segments",
                            "checkpoint.during_segment_cleanup", "checkpoint.during_segment_cleanup:2"}) {
    Drop(files, files + 3);
    files += 3;
    if (RunKilledAt(point)) {
      ++killed;
      ++killed_at[std::string(point).substr(0, std::string(point).find(':'))];
    }
    Lakepipe("run " + Quote(dir_.Join("p")) + " --once --no-server");
    std::string rows = std::to_string(files * 2) + "\n";
    EXPECT_EQ(Count("SELECT count(*) AS n FROM raw"), rows) << "after a kill at " << point;
    EXPECT_EQ(Count("SELECT count(DISTINCT id) AS n FROM raw"), rows) << "after a kill at " << point;
    EXPECT_EQ(Count("SELECT count(*) AS n FROM copy"), rows) << "after a kill at " << point;
    EXPECT_EQ(Count("SELECT count(DISTINCT id) AS n FROM copy"), rows) << "after a kill at " << point;
    // Retaining 2 batches: at most 2 since the last compaction, 2 before it, 1 compact
    // (plus one compaction's deletions a kill may have left for the next one).
    EXPECT_LE(Entries(storage_ + "/_checkpoints/raw/offsets"), 2u + 2u + 1u + 2u + 1u) << point;
    // At most 3 segments a level (4 merge), plus what one compaction's deletions left.
    EXPECT_LE(Entries(storage_ + "/_checkpoints/raw/taken"), 3u * 3u + 4u) << point;
  }
  EXPECT_GE(killed, 7) << "the kill points of the cleanup are on the path of a run";
  EXPECT_EQ(killed_at["checkpoint.after_segments"], 2);
  EXPECT_GE(killed_at["checkpoint.during_segment_cleanup"], 1);
}

}  // namespace
}  // namespace lakepipe
