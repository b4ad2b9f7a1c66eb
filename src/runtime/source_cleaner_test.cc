// CleanFiles and the archive folder's checks (runtime/source_cleaner.h) on real files:
// what 'delete' removes and what it keeps, where 'archive' moves a file (Spark's rule:
// the archive folder, then the file's whole path), name clashes, files already gone, and
// failures that leave the file where it is.
#include "runtime/source_cleaner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/refusing_fs_test_util.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

class SourceCleanerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(fs_->CreateDirs(JoinPath(root_, "2026/01")).ok()); }

  // Writes `relative` under the root; returns its plan entry (size and time as listed).
  PlannedFile Land(const std::string& relative, const std::string& body) {
    std::string path = JoinPath(root_, relative);
    EXPECT_TRUE(fs_->WriteFileAtomic(path, body).ok());
    auto info = fs_->Stat(path);
    EXPECT_TRUE(info.ok());
    return PlannedFile{relative, static_cast<int64_t>(body.size()), info.ok() ? info->mtime_micros : 0, true};
  }

  CleanTarget Target(formats::CleanSourceMode mode) {
    return CleanTarget{root_, mode, mode == formats::CleanSourceMode::kArchive ? archive_ : ""};
  }

  testing::TempDir dir_;
  FileSystem* fs_ = FileSystem::Default();
  std::string root_ = dir_.Join("landing/orders");
  std::string archive_ = dir_.Join("archive");
};

TEST_F(SourceCleanerTest, DeleteRemovesTheBatchsFilesAndKeepsOneWrittenToSinceItWasTaken) {
  std::vector<PlannedFile> batch = {Land("a.csv", "id\n1\n"), Land("2026/01/b.csv", "id\n2\n"),
                                    Land("grown.csv", "id\n3\n")};
  batch.push_back(PlannedFile{"gone.csv", 5, 0, true});  // cleaned before a crash: not a failure
  Land("other.csv", "id\n4\n");                           // not in the batch
  ASSERT_TRUE(fs_->WriteFile(JoinPath(root_, "grown.csv"), "id\n3\n4\n").ok());  // appended after planning

  CleanResult r = CleanFiles(fs_, Target(formats::CleanSourceMode::kDelete), batch);
  EXPECT_EQ(r.cleaned, 2);
  EXPECT_FALSE(fs_->Exists(JoinPath(root_, "a.csv")));
  EXPECT_FALSE(fs_->Exists(JoinPath(root_, "2026/01/b.csv")));
  EXPECT_TRUE(fs_->Exists(JoinPath(root_, "other.csv")));
  EXPECT_TRUE(fs_->Exists(JoinPath(root_, "grown.csv")));
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].path, JoinPath(root_, "grown.csv"));
  EXPECT_NE(r.failures[0].error.find("changed since it was taken (5 bytes when read, 7 now"), std::string::npos)
      << r.failures[0].error;

  // Again (a restart cleaning the same batch): nothing to do, nothing failed but the kept one.
  r = CleanFiles(fs_, Target(formats::CleanSourceMode::kDelete), batch);
  EXPECT_EQ(r.cleaned, 0);
  EXPECT_EQ(r.failures.size(), 1u);
}

TEST_F(SourceCleanerTest, ArchiveMovesUnderTheArchiveWithTheWholePathAndNeverReplaces) {
  CleanTarget target = Target(formats::CleanSourceMode::kArchive);
  EXPECT_EQ(ArchivePathOf(target, "2026/01/b.csv"), archive_ + root_ + "/2026/01/b.csv");
  EXPECT_EQ(ArchivePathOf(CleanTarget{"/in/one.csv", formats::CleanSourceMode::kArchive, "/arch"}, ""),
            "/arch/in/one.csv");
  ASSERT_TRUE(PrepareArchiveDir(fs_, target).ok());
  EXPECT_TRUE(fs_->Exists(archive_));

  std::vector<PlannedFile> batch = {Land("a.csv", "id\n1\n"), Land("2026/01/b.csv", "id\n2\n"),
                                    Land("clash.csv", "id\n3\n")};
  // The archive already holds another clash.csv: neither is touched.
  ASSERT_TRUE(fs_->CreateDirs(DirName(ArchivePathOf(target, "clash.csv"))).ok());
  ASSERT_TRUE(fs_->WriteFileAtomic(ArchivePathOf(target, "clash.csv"), "older\n").ok());

  CleanResult r = CleanFiles(fs_, target, batch);
  EXPECT_EQ(r.cleaned, 2);
  EXPECT_FALSE(fs_->Exists(JoinPath(root_, "a.csv")));
  EXPECT_FALSE(fs_->Exists(JoinPath(root_, "2026/01/b.csv")));
  auto moved = fs_->ReadFile(ArchivePathOf(target, "2026/01/b.csv"));
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(*moved, "id\n2\n");
  EXPECT_TRUE(fs_->Exists(ArchivePathOf(target, "a.csv")));
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].path, JoinPath(root_, "clash.csv"));
  EXPECT_NE(r.failures[0].error.find("already holds a file " + ArchivePathOf(target, "clash.csv")), std::string::npos)
      << r.failures[0].error;
  EXPECT_TRUE(fs_->Exists(JoinPath(root_, "clash.csv")));
  EXPECT_EQ(*fs_->ReadFile(ArchivePathOf(target, "clash.csv")), "older\n");

  // A restart moving the same batch again: the moved files are gone from the source, not failures.
  r = CleanFiles(fs_, target, {batch[0], batch[1]});
  EXPECT_EQ(r.cleaned, 0);
  EXPECT_TRUE(r.failures.empty());
}

TEST_F(SourceCleanerTest, AFileThatCannotBeRemovedOrMovedIsAFailureNamingItAndStays) {
  RefusingFs fs;
  fs.refused = "b.csv";
  std::vector<PlannedFile> batch = {Land("a.csv", "id\n1\n"), Land("b.csv", "id\n2\n")};
  CleanResult r = CleanFiles(&fs, Target(formats::CleanSourceMode::kDelete), batch);
  EXPECT_EQ(r.cleaned, 1);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].path, JoinPath(root_, "b.csv"));
  EXPECT_NE(r.failures[0].error.find("Permission denied"), std::string::npos) << r.failures[0].error;
  EXPECT_TRUE(fs_->Exists(JoinPath(root_, "b.csv")));

  batch = {Land("c.csv", "id\n3\n"), batch[1]};
  r = CleanFiles(&fs, Target(formats::CleanSourceMode::kArchive), batch);
  EXPECT_EQ(r.cleaned, 1);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_NE(r.failures[0].error.find("rename " + JoinPath(root_, "b.csv")), std::string::npos) << r.failures[0].error;
  EXPECT_TRUE(fs_->Exists(JoinPath(root_, "b.csv")));
  EXPECT_FALSE(fs_->Exists(ArchivePathOf(Target(formats::CleanSourceMode::kArchive), "b.csv")));
}

TEST_F(SourceCleanerTest, AnArchiveFolderOnAnotherFileSystemOrReachedThroughALinkIsRefused) {
  RefusingFs fs;
  fs.other_device = archive_;
  Status st = PrepareArchiveDir(&fs, Target(formats::CleanSourceMode::kArchive));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("sourceArchiveDir " + archive_ + " is on another file system"), std::string::npos)
      << st.ToString();

  // A link outside the source that leads into it: the paths as written do not meet.
  std::string link = dir_.Join("into-source");
  ASSERT_EQ(::symlink(JoinPath(root_, "2026").c_str(), link.c_str()), 0);
  st = PrepareArchiveDir(fs_, CleanTarget{root_, formats::CleanSourceMode::kArchive, link});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("links resolved"), std::string::npos) << st.ToString();

  // A source folder not there yet: nothing to check, nothing created.
  st = PrepareArchiveDir(fs_, CleanTarget{dir_.Join("none"), formats::CleanSourceMode::kArchive, dir_.Join("arch2")});
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(fs_->Exists(dir_.Join("arch2")));
}

TEST_F(SourceCleanerTest, TargetsAreTheScansThatCleanAndAFileAsTheSourceIsRefused) {
  auto scan = [](const std::string& path, std::map<std::string, std::string> options) {
    sql::PlanNode n;
    n.kind = sql::PlanKind::kReadFiles;
    n.read_files.path = path;
    options["format"] = "csv";
    n.read_files.options = std::move(options);
    return n;
  };
  sql::PlanNode off = scan(dir_.Join("elsewhere"), {});
  sql::PlanNode del = scan(root_, {{"cleansource", "delete"}});
  sql::PlanNode again = scan(root_, {{"cleansource", "delete"}});
  auto targets = CleanTargetsOf(fs_, {&off, &del, &again});
  ASSERT_TRUE(targets.ok()) << targets.status().ToString();
  ASSERT_EQ(targets->size(), 1u);
  EXPECT_EQ(targets->at(root_).mode, formats::CleanSourceMode::kDelete);

  Land("one.csv", "id\n1\n");
  sql::PlanNode file = scan(JoinPath(root_, "one.csv"), {{"cleansource", "delete"}});
  targets = CleanTargetsOf(fs_, {&file});
  EXPECT_EQ(targets.status().code(), StatusCode::kInvalidArgument) << targets.status().ToString();
  EXPECT_NE(targets.status().message().find("cleanSource needs a folder, and this path is a file"), std::string::npos)
      << targets.status().ToString();
}

}  // namespace
}  // namespace lakepipe::runtime
