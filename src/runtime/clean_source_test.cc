// read_files cleanSource in a running pipeline (docs/continuous.md, "Cleaning the
// source"): in triggered and continuous runs the files of each committed batch are
// deleted, or moved under sourceArchiveDir with their whole path, every row is in the
// tables exactly once, a file that cannot be cleaned is reported (warning, counter) and
// never read twice, and a bad file goes only once its rescued and quarantined rows are in.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>

#include "runtime/pipeline_runner.h"
#include "runtime/refusing_fs_test_util.h"
#include "runtime/source_cleaner.h"
#include "runtime/status_board.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 400; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class CleanSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("p")).ok());
  }

  // raw reads the landing folder with `options`; copy follows raw.
  void Pipeline(const std::string& options, const std::string& raw_constraints = "") {
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"), "name: t\nstorage: " + storage_ +
                                                                  "\nlibraries: [p.sql]\nconfiguration: {landing: " +
                                                                  landing_ + "}\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"),
                               "CREATE OR REFRESH STREAMING TABLE raw " + raw_constraints +
                                   " AS SELECT * FROM STREAM read_files('${landing}', format => 'csv', header => true, "
                                   "schema => 'id INT', maxFilesPerTrigger => 2" +
                                   options +
                                   ");\n"
                                   "CREATE OR REFRESH STREAMING TABLE copy AS SELECT id FROM STREAM(raw);\n")
                    .ok());
  }

  // Lands `relative` (under the landing folder) with the rows ids.
  void Drop(const std::string& relative, std::initializer_list<int> ids) {
    std::string body = "id\n";
    for (int id : ids) body += std::to_string(id) + "\n";
    std::string path = JoinPath(landing_, relative);
    ASSERT_TRUE(fs_->CreateDirs(DirName(path)).ok());
    ASSERT_TRUE(fs_->WriteFileAtomic(path, body).ok());
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
      EXPECT_NE(t.status, "failed") << t.table << ": " << t.message;
      for (const auto& [kind, message] : t.warnings)
        if (kind == type) out.push_back(message);
    }
    return out;
  }

  static int64_t Count(PipelineRunner& runner, const std::string& sql) {
    auto r = runner.Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r->batches.empty() || r->batches[0].num_rows() == 0) return -1;
    Value v = r->batches[0].column(0).GetValue(0);
    return v.ToString() == "NULL" ? 0 : std::stoll(v.ToString());
  }

  // Rows of raw and copy, and whether each id is there once.
  void ExpectRowsOnce(PipelineRunner& runner, int64_t rows) {
    EXPECT_EQ(Count(runner, "SELECT count(*) FROM raw"), rows);
    EXPECT_EQ(Count(runner, "SELECT count(DISTINCT id) FROM raw"), rows);
    EXPECT_EQ(Count(runner, "SELECT count(*) FROM copy"), rows);
  }

  // The files (relative paths) left under `folder`.
  std::vector<std::string> FilesUnder(const std::string& folder) {
    std::vector<std::string> out;
    auto entries = fs_->ListDir(folder);
    if (!entries.ok()) return out;
    for (const auto& e : *entries) {
      if (e.is_dir) {
        for (const auto& f : FilesUnder(JoinPath(folder, e.name))) out.push_back(e.name + "/" + f);
      } else {
        out.push_back(e.name);
      }
    }
    return out;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
  std::string storage_ = dir_.Join("storage");
  std::string archive_ = dir_.Join("archive");
};

TEST_F(CleanSourceTest, DeleteRemovesEachCommittedBatchsFilesInTriggeredRuns) {
  Pipeline(", cleanSource => 'delete'");
  Drop("a.csv", {1, 2});
  Drop("b.csv", {3});
  Drop("2026/01/c.csv", {4, 5});
  StatusBoard board;
  {
    auto runner = Open();
    ASSERT_NE(runner, nullptr);
    EXPECT_TRUE(Run(*runner, "file_not_cleaned", &board).empty());
    ExpectRowsOnce(*runner, 5);
  }
  EXPECT_EQ(FilesUnder(landing_), std::vector<std::string>{});  // two batches, both cleaned
  EXPECT_EQ(board.Snapshot().tables[0].files_cleaned, 3);
  EXPECT_EQ(board.Snapshot().tables[0].files_not_cleaned, 0);

  Drop("d.csv", {6});
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  EXPECT_TRUE(Run(*runner, "file_not_cleaned").empty());
  ExpectRowsOnce(*runner, 6);
  EXPECT_EQ(FilesUnder(landing_), std::vector<std::string>{});
  // Nothing new: nothing read, nothing cleaned, no error.
  EXPECT_TRUE(Run(*runner, "file_not_cleaned").empty());
  ExpectRowsOnce(*runner, 6);
}

TEST_F(CleanSourceTest, ArchiveMovesFilesWithTheirWholePathAndLeavesAClashInPlace) {
  Pipeline(", cleanSource => 'archive', sourceArchiveDir => '" + archive_ + "'");
  Drop("a.csv", {1});
  Drop("2026/01/b.csv", {2, 3});
  Drop("2026/02/c.csv", {4});
  // The archive already holds a d.csv of its own (an earlier landing of that name).
  std::string clash = archive_ + landing_ + "/d.csv";
  ASSERT_TRUE(fs_->CreateDirs(DirName(clash)).ok());
  ASSERT_TRUE(fs_->WriteFileAtomic(clash, "id\n99\n").ok());
  Drop("d.csv", {5});
  StatusBoard board;
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  std::vector<std::string> warnings = Run(*runner, "file_not_cleaned", &board);
  ExpectRowsOnce(*runner, 5);
  EXPECT_EQ(FilesUnder(landing_), std::vector<std::string>{"d.csv"});
  EXPECT_EQ(FilesUnder(archive_ + landing_),
            (std::vector<std::string>{"2026/01/b.csv", "2026/02/c.csv", "a.csv", "d.csv"}));
  EXPECT_EQ(*fs_->ReadFile(archive_ + landing_ + "/2026/01/b.csv"), "id\n2\n3\n");
  EXPECT_EQ(*fs_->ReadFile(clash), "id\n99\n");  // never replaced
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("1 file of batch"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find(landing_ + "/d.csv: the archive already holds a file " + clash), std::string::npos)
      << warnings[0];
  EXPECT_EQ(board.Snapshot().tables[0].files_cleaned, 3);
  EXPECT_EQ(board.Snapshot().tables[0].files_not_cleaned, 1);
  // d.csv stays, remembered: the next runs do not read it again.
  Drop("e.csv", {6});
  Run(*runner, "file_not_cleaned");
  ExpectRowsOnce(*runner, 6);
  runner = Open();
  ASSERT_NE(runner, nullptr);
  Run(*runner, "file_not_cleaned");
  ExpectRowsOnce(*runner, 6);
  EXPECT_EQ(FilesUnder(landing_), std::vector<std::string>{"d.csv"});
}

TEST_F(CleanSourceTest, AFileThatCannotBeDeletedIsWarnedCountedAndNeverReadTwice) {
  Pipeline(", cleanSource => 'delete'");
  Drop("a.csv", {1});
  Drop("b.csv", {2});
  Drop("c.csv", {3});
  RefusingFs refusing;
  refusing.refused = "b.csv";
  StatusBoard board;
  auto runner = Open(&refusing);
  ASSERT_NE(runner, nullptr);
  std::vector<std::string> warnings = Run(*runner, "file_not_cleaned", &board);
  ExpectRowsOnce(*runner, 3);
  EXPECT_EQ(FilesUnder(landing_), std::vector<std::string>{"b.csv"});
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("cleanSource => 'delete': 1 file of batch 0 not deleted (" + landing_ +
                             "/b.csv: remove " + landing_ + "/b.csv: Permission denied)"),
            std::string::npos)
      << warnings[0];
  EXPECT_EQ(board.Snapshot().tables[0].files_cleaned, 2);
  EXPECT_EQ(board.Snapshot().tables[0].files_not_cleaned, 1);
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM _event_log WHERE event_type = 'file_not_cleaned' AND level = 'WARN' "
                           "AND message LIKE '%b.csv%Permission denied%'"),
            1);
  // The pipeline goes on: later files are read and cleaned, b.csv is not read again.
  Drop("d.csv", {4});
  EXPECT_TRUE(Run(*runner, "file_not_cleaned", &board).empty());
  ExpectRowsOnce(*runner, 4);
  EXPECT_EQ(FilesUnder(landing_), std::vector<std::string>{"b.csv"});
}

// A bad file's rows are rescued or quarantined in its batch; the file goes only with the
// batch, once those rows are committed.
TEST_F(CleanSourceTest, ABadFileGoesOnlyOnceItsRescuedAndQuarantinedRowsAreIn) {
  Pipeline(", cleanSource => 'delete'", "(CONSTRAINT positive EXPECT (id > 0) ON VIOLATION QUARANTINE)");
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, "bad.csv"), "id\n1\nnot a number\n-5\n").ok());
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  EXPECT_TRUE(Run(*runner, "file_not_cleaned").empty());
  EXPECT_EQ(FilesUnder(landing_), std::vector<std::string>{});
  // Every line is in raw or its quarantine table, once: 1 kept, -5 quarantined, and the
  // unparsable line rescued (id NULL, its text in _rescued_data) in one or the other.
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM raw") + Count(*runner, "SELECT count(*) FROM raw_quarantine"), 3);
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM raw WHERE id = 1"), 1);
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM raw_quarantine WHERE id = -5"), 1);
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM raw WHERE _rescued_data IS NOT NULL") +
                Count(*runner, "SELECT count(*) FROM raw_quarantine WHERE _rescued_data IS NOT NULL"),
            1);
}

TEST_F(CleanSourceTest, ContinuousRunsCleanEachBatchAsItCommits) {
  for (const char* mode : {"delete", "archive"}) {
    SCOPED_TRACE(mode);
    ASSERT_TRUE(fs_->RemoveAll(storage_).ok());
    bool archive = std::string(mode) == "archive";
    Pipeline(", cleanSource => '" + std::string(mode) + "'" +
             (archive ? ", sourceArchiveDir => '" + archive_ + "'" : std::string()));
    auto runner = Open();
    ASSERT_NE(runner, nullptr);
    StatusBoard board;
    RunOptions options;
    options.board = &board;
    Status result;
    std::thread run([&] { result = runner->RunContinuous(options); });
    int rows = 0;
    for (int f = 0; f < 6; ++f) {
      Drop((f % 2 ? "sub/" : "") + std::string(mode) + std::to_string(f) + ".csv", {f * 2, f * 2 + 1});
      rows += 2;
      std::this_thread::sleep_for(std::chrono::milliseconds(f % 3 == 0 ? 0 : 150));
    }
    EXPECT_TRUE(WaitFor([&] { return Count(*runner, "SELECT count(*) FROM copy") == rows; }));
    EXPECT_TRUE(WaitFor([&] { return FilesUnder(landing_).empty(); })) << FilesUnder(landing_).size();
    EXPECT_TRUE(WaitFor([&] { return board.Snapshot().tables[0].files_cleaned == 6; }));
    runner->RequestStop();
    run.join();
    EXPECT_TRUE(result.ok()) << result.ToString();
    ExpectRowsOnce(*runner, rows);
    EXPECT_EQ(board.Snapshot().tables[0].files_not_cleaned, 0);
    if (archive) {
      EXPECT_EQ(FilesUnder(archive_ + landing_).size(), 6u);
      EXPECT_TRUE(fs_->Exists(archive_ + landing_ + "/sub/archive1.csv"));
    }
  }
}

}  // namespace
}  // namespace lakepipe::runtime
