#include "common/crash_journal.h"

#include <gtest/gtest.h>

#include "testing/testing.h"

namespace lakepipe {
namespace {

// A journaled file system over a temporary folder; PowerCut() ends the "process" (drops
// the journaling file system) and rewinds the folder as a power cut would.
class PowerCut {
 public:
  PowerCut() : journal_(journal_dir_.Join("journal")) {
    fs_ = std::move(JournalingFileSystem::Open(FileSystem::Default(), journal_)).value();
  }
  FileSystem* fs() { return fs_.get(); }
  std::string Join(const std::string& name) { return dir_.Join(name); }
  const std::string& dir() { return dir_.path(); }
  Status Cut() {
    fs_.reset();
    return SimulatePowerLoss(journal_);
  }
  Result<std::string> Read(const std::string& name) { return FileSystem::Default()->ReadFile(Join(name)); }
  bool Exists(const std::string& name) { return FileSystem::Default()->Exists(Join(name)); }

 private:
  testing::TempDir dir_;
  testing::TempDir journal_dir_;
  std::string journal_;
  std::unique_ptr<JournalingFileSystem> fs_;
};

Status WriteParts(FileSystem* fs, const std::string& path, bool sync_first, bool sync_second) {
  LP_ASSIGN_OR_RETURN(auto file, fs->NewWritableFile(path, CreateMode::kExclusive));
  LP_RETURN_IF_ERROR(file->Append("abc"));
  if (sync_first) LP_RETURN_IF_ERROR(file->Sync());
  LP_RETURN_IF_ERROR(file->Append("def"));
  if (sync_second) LP_RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

TEST(CrashJournalTest, BytesAfterTheLastFsyncAreLost) {
  PowerCut cut;
  ASSERT_TRUE(WriteParts(cut.fs(), cut.Join("f"), true, false).ok());
  ASSERT_TRUE(cut.fs()->SyncDir(cut.dir()).ok());
  ASSERT_EQ(*cut.Read("f"), "abcdef");  // a SIGKILL would keep everything
  ASSERT_TRUE(cut.Cut().ok());
  EXPECT_EQ(*cut.Read("f"), "abc");
}

TEST(CrashJournalTest, AFileWhoseFolderWasNeverFsyncedIsLost) {
  PowerCut cut;
  ASSERT_TRUE(WriteParts(cut.fs(), cut.Join("f"), true, true).ok());
  ASSERT_TRUE(cut.Cut().ok());
  EXPECT_FALSE(cut.Exists("f"));
}

TEST(CrashJournalTest, AFullyDurableWriteSurvives) {
  PowerCut cut;
  ASSERT_TRUE(WriteParts(cut.fs(), cut.Join("f"), false, true).ok());
  ASSERT_TRUE(cut.fs()->SyncDir(cut.dir()).ok());
  ASSERT_TRUE(cut.fs()->PutIfAbsent(cut.Join("00.json"), "commit").ok());
  ASSERT_TRUE(cut.fs()->WriteFileAtomic(cut.Join("_last"), "v1").ok());
  ASSERT_TRUE(cut.Cut().ok());
  EXPECT_EQ(*cut.Read("f"), "abcdef");
  EXPECT_EQ(*cut.Read("00.json"), "commit");
  EXPECT_EQ(*cut.Read("_last"), "v1");
  // The temporary files of PutIfAbsent and WriteFileAtomic do not come back.
  EXPECT_EQ(FileSystem::Default()->ListDir(cut.dir())->size(), 3u);
}

TEST(CrashJournalTest, ARenameNotFollowedByAFolderFsyncIsUndone) {
  PowerCut cut;
  ASSERT_TRUE(FileSystem::Default()->WriteFile(cut.Join("target"), "old").ok());  // before the journal
  ASSERT_TRUE(FileSystem::Default()->SyncDir(cut.dir()).ok());
  // The new content is durable under the temporary name, but the rename is not.
  ASSERT_TRUE(cut.fs()->WriteFile(cut.Join("tmp"), "new").ok());
  ASSERT_TRUE(cut.fs()->SyncDir(cut.dir()).ok());
  ASSERT_TRUE(cut.fs()->Rename(cut.Join("tmp"), cut.Join("target")).ok());
  ASSERT_EQ(*cut.Read("target"), "new");
  ASSERT_TRUE(cut.Cut().ok());
  EXPECT_EQ(*cut.Read("target"), "old");
  EXPECT_EQ(*cut.Read("tmp"), "new");
}

TEST(CrashJournalTest, ARemovalNotFollowedByAFolderFsyncIsUndone) {
  PowerCut cut;
  ASSERT_TRUE(FileSystem::Default()->WriteFile(cut.Join("kept"), "k").ok());
  ASSERT_TRUE(FileSystem::Default()->WriteFile(cut.Join("gone"), "g").ok());
  ASSERT_TRUE(cut.fs()->RemoveFile(cut.Join("kept")).ok());
  ASSERT_TRUE(cut.fs()->RemoveFile(cut.Join("gone")).ok());
  ASSERT_TRUE(cut.fs()->SyncDir(cut.dir()).ok());
  ASSERT_TRUE(FileSystem::Default()->WriteFile(cut.Join("x"), "").ok());  // not journaled
  ASSERT_TRUE(cut.fs()->RemoveFile(cut.Join("x")).ok());
  ASSERT_TRUE(cut.Cut().ok());
  EXPECT_FALSE(cut.Exists("kept"));
  EXPECT_FALSE(cut.Exists("gone"));
  EXPECT_TRUE(cut.Exists("x"));  // its removal was never made durable
}

TEST(CrashJournalTest, ATruncatingRewriteNotMadeDurableKeepsTheOldContent) {
  PowerCut cut;
  ASSERT_TRUE(FileSystem::Default()->WriteFile(cut.Join("f"), "before").ok());
  ASSERT_TRUE(cut.fs()->WriteFile(cut.Join("f"), "after").ok());  // synced data, folder not
  ASSERT_TRUE(cut.Cut().ok());
  EXPECT_EQ(*cut.Read("f"), "before");
}

TEST(CrashJournalTest, AMalformedJournalIsCorruptionNamingTheLine) {
  testing::TempDir dir;
  std::string journal = dir.Join("journal");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(journal, "syncdir\t/tmp\nbogus record\n").ok());
  Status st = SimulatePowerLoss(journal);
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
  EXPECT_NE(st.ToString().find("journal:2"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace lakepipe
