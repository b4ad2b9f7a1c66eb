// read_files cleanSource against crashes, with the built binary (docs/continuous.md,
// "Cleaning the source"): SIGKILLed at the kill points between a batch's Delta commit and
// the cleaning of its files (and in the middle of that cleaning), then run again, every
// input row is in both tables exactly once and every file is cleaned in the end; a file is
// never gone before its batch is durably recorded, and a power cut does not bring cleaned
// files back. And `validate` refuses what cleaning cannot do safely, naming the option and
// the place.
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>

#include "cli/cli_test_util.h"

namespace lakepipe {
namespace {

class CleanSourceKillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FileSystem* fs = FileSystem::Default();
    ASSERT_TRUE(fs->CreateDirs(landing_).ok());
    ASSERT_TRUE(fs->CreateDirs(dir_.Join("p")).ok());
    ASSERT_TRUE(fs->WriteFile(dir_.Join("p/pipeline.yaml"), "name: t\nstorage: " + storage_ +
                                                                 "\nlibraries: [p.sql]\nconfiguration: {landing: " +
                                                                 landing_ + "}\n")
                    .ok());
  }

  void Sql(const std::string& text) { ASSERT_TRUE(FileSystem::Default()->WriteFile(dir_.Join("p/p.sql"), text).ok()); }

  // raw keeps state (a DISTINCT), so the state commit's kill point is on its path.
  void Pipeline(const std::string& clean) {
    Sql("CREATE OR REFRESH STREAMING TABLE raw AS SELECT DISTINCT * FROM STREAM read_files('${landing}', "
        "format => 'csv', header => true, schema => 'id INT, kind STRING', maxFilesPerTrigger => 1, " +
        clean +
        ");\n"
        "CREATE OR REFRESH STREAMING TABLE copy AS SELECT id, kind FROM STREAM(raw);\n");
  }

  // Lands files f<from>..f<to-1>, in a subfolder every other one, two rows each.
  void Drop(int from, int to) {
    for (int i = from; i < to; ++i) {
      std::string path = landing_ + (i % 2 ? "/sub/f" : "/f") + std::to_string(1000 + i) + ".csv";
      ASSERT_TRUE(FileSystem::Default()->CreateDirs(DirName(path)).ok());
      ASSERT_TRUE(FileSystem::Default()
                      ->WriteFileAtomic(path, "id,kind\n" + std::to_string(i * 2) + ",a\n" +
                                                  std::to_string(i * 2 + 1) + ",b\n")
                      .ok());
    }
  }

  // Runs one update killed at `point`; true when it died by SIGKILL.
  bool RunKilledAt(const std::string& point) { return RunOnceKilledAt(dir_.Join("p"), point); }

  std::string Count(const std::string& sql) { return QueryCsvRows(dir_.Join("p"), sql); }

  // Files (not folders) under `folder`, recursively.
  size_t Files(const std::string& folder) {
    auto entries = FileSystem::Default()->ListDir(folder);
    size_t n = 0;
    for (const auto& e : entries.ok() ? *entries : std::vector<FileInfo>{})
      n += e.is_dir ? Files(JoinPath(folder, e.name)) : 1;
    return n;
  }

  void KillAtEachPointThenRestart(const std::string& archive) {
    // Where each kill leaves the three files of its round: points before the first
    // batch's commit record keep all three; one inside the cleaning has removed one.
    const std::vector<std::pair<std::string, size_t>> points = {
        {"flow.after_table_commit", 3}, {"flow.after_state_commit", 3}, {"flow.after_commit_log", 3},
        {"clean_source.after_file", 2}, {"flow.after_commit_log:2", 2}, {"clean_source.after_file:3", 0}};
    int files = 0;
    int killed = 0;
    for (const auto& [point, left] : points) {
      Drop(files, files + 3);
      files += 3;
      if (RunKilledAt(point)) ++killed;
      EXPECT_EQ(Files(landing_), left) << "killed at " << point;
      Lakepipe("run " + Quote(dir_.Join("p")) + " --once --no-server");
      std::string rows = std::to_string(files * 2) + "\n";
      EXPECT_EQ(Count("SELECT count(*) AS n FROM raw"), rows) << "after a kill at " << point;
      EXPECT_EQ(Count("SELECT count(DISTINCT id) AS n FROM raw"), rows) << "after a kill at " << point;
      EXPECT_EQ(Count("SELECT count(*) AS n FROM copy"), rows) << "after a kill at " << point;
      // The restart cleaned what the killed run had committed but not cleaned.
      EXPECT_EQ(Files(landing_), 0u) << "after a kill at " << point;
      if (!archive.empty()) EXPECT_EQ(Files(archive), static_cast<size_t>(files)) << "after a kill at " << point;
    }
    EXPECT_EQ(killed, static_cast<int>(points.size())) << "every kill point is on the path of a run";
  }

  // One `run --once` journaled for a simulated power cut (docs/crash-testing.md, "Power
  // loss"), killed at `point` unless it is empty; then the power is cut: what the run had
  // not synced is gone.
  void RunThenCutPower(const std::string& point) {
    std::string journal = dir_.Join("journal");
    std::string cmd = "LAKEPIPE_CRASH_JOURNAL=" + Quote(journal) +
                      (point.empty() ? "" : " LAKEPIPE_KILL_AT=" + point) + " " + Binary() + " run " +
                      Quote(dir_.Join("p")) + " --once --no-server >/dev/null 2>&1";
    int rc = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(rc)) << cmd;
    ASSERT_EQ(WEXITSTATUS(rc), point.empty() ? 0 : 128 + SIGKILL) << cmd;
    Lakepipe("crash power-loss " + Quote(journal));
    ASSERT_TRUE(FileSystem::Default()->RemoveFile(journal).ok());
  }

  // Cleaned files stay cleaned through a power cut: after a completed run, and after one
  // killed inside a batch's cleaning (the restart cleans what the cut brought back).
  void CutPowerAfterCleaning(const std::string& archive) {
    Drop(0, 4);
    RunThenCutPower("");
    EXPECT_EQ(Files(landing_), 0u) << "a power cut after the run brought cleaned files back";
    if (!archive.empty()) EXPECT_EQ(Files(archive), 4u) << "a power cut after the run lost archived files";
    Drop(4, 8);
    RunThenCutPower("clean_source.after_file:2");
    Lakepipe("run " + Quote(dir_.Join("p")) + " --once --no-server");
    EXPECT_EQ(Files(landing_), 0u);
    if (!archive.empty()) EXPECT_EQ(Files(archive), 8u);
    EXPECT_EQ(Count("SELECT count(*) AS n FROM raw"), "16\n");
    EXPECT_EQ(Count("SELECT count(DISTINCT id) AS n FROM raw"), "16\n");
    EXPECT_EQ(Count("SELECT count(*) AS n FROM copy"), "16\n");
  }

  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
  std::string storage_ = dir_.Join("storage");
};

TEST_F(CleanSourceKillTest, DeleteKilledBetweenCommitAndCleanupThenRestartedEveryRowOnce) {
  Pipeline("cleanSource => 'delete'");
  KillAtEachPointThenRestart("");
}

TEST_F(CleanSourceKillTest, ArchiveKilledBetweenCommitAndCleanupThenRestartedEveryRowOnce) {
  std::string archive = dir_.Join("archive");
  Pipeline("cleanSource => 'archive', sourceArchiveDir => '" + archive + "'");
  KillAtEachPointThenRestart(archive);
  EXPECT_TRUE(FileSystem::Default()->Exists(archive + landing_ + "/sub/f1001.csv"));
}

TEST_F(CleanSourceKillTest, DeletedFilesStayDeletedThroughAPowerCut) {
  Pipeline("cleanSource => 'delete'");
  CutPowerAfterCleaning("");
}

TEST_F(CleanSourceKillTest, ArchivedFilesStayArchivedThroughAPowerCut) {
  std::string archive = dir_.Join("archive");
  Pipeline("cleanSource => 'archive', sourceArchiveDir => '" + archive + "'");
  CutPowerAfterCleaning(archive);
}

TEST_F(CleanSourceKillTest, ValidateRefusesAnArchiveInsideTheSourceAndAFolderOthersRead) {
  const std::string head = "CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${landing}', "
                           "format => 'csv', header => true, schema => 'id INT', ";
  Sql(head + "cleanSource => 'archive', sourceArchiveDir => '${landing}/done');\n");
  std::string err = LakepipeFails("validate " + Quote(dir_.Join("p")));
  ExpectOneErrorLine(err, "p.sql:1:");
  EXPECT_NE(err.find("sourceArchiveDir '" + landing_ + "/done' is, or lies inside, the source folder " + landing_),
            std::string::npos)
      << err;
  // `run` plans the same way, and refuses before touching anything.
  err = LakepipeFails("run " + Quote(dir_.Join("p")) + " --once --no-server");
  EXPECT_NE(err.find("sourceArchiveDir"), std::string::npos) << err;
  EXPECT_FALSE(FileSystem::Default()->Exists(landing_ + "/done"));

  // A folder above the source is refused too (a file's whole path under it could lead back in).
  Sql(head + "cleanSource => 'archive', sourceArchiveDir => '" + dir_.path() + "');\n");
  err = LakepipeFails("validate " + Quote(dir_.Join("p")));
  EXPECT_NE(err.find("sourceArchiveDir '" + dir_.path() + "' holds the source folder"), std::string::npos) << err;

  Sql(head + "cleanSource => 'delete');\n"
             "CREATE OR REFRESH STREAMING TABLE other AS SELECT * FROM STREAM read_files('${landing}/sub', "
             "format => 'csv', header => true, schema => 'id INT');\n");
  err = LakepipeFails("validate " + Quote(dir_.Join("p")));
  ExpectOneErrorLine(err, "is also read by `other` (");
  EXPECT_NE(err.find("cleanSource"), std::string::npos) << err;

  Sql("CREATE OR REFRESH MATERIALIZED VIEW m AS SELECT count(*) AS n FROM read_files('${landing}', format => 'csv', "
      "header => true, schema => 'id INT', cleanSource => 'delete');\n");
  err = LakepipeFails("validate " + Quote(dir_.Join("p")));
  ExpectOneErrorLine(err, "this is a batch read");

  Sql(head + "cleanSource => 'move');\n");
  err = LakepipeFails("validate " + Quote(dir_.Join("p")));
  ExpectOneErrorLine(err, "cleanSource must be 'off', 'delete' or 'archive', got 'move'");

  // Accepted: an archive beside the source, relative to the pipeline folder as the source
  // path is, and a folder only one flow reads.
  Sql(head + "cleanSource => 'archive', sourceArchiveDir => 'archive');\n");
  Lakepipe("validate " + Quote(dir_.Join("p")));
  Drop(0, 1);
  Lakepipe("run " + Quote(dir_.Join("p")) + " --once --no-server");
  EXPECT_TRUE(FileSystem::Default()->Exists(dir_.Join("p/archive") + landing_ + "/f1000.csv"));
  EXPECT_EQ(Files(landing_), 0u);
}

}  // namespace
}  // namespace lakepipe
