#include "common/fs.h"
#include "common/path_within.h"

#include <gtest/gtest.h>

#include "testing/testing.h"

namespace lakepipe {
namespace {

TEST(FileSystemTest, PutIfAbsentRefusesToOverwrite) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  std::string path = dir.Join("00000000000000000000.json");
  ASSERT_TRUE(fs->PutIfAbsent(path, "first").ok());
  Status again = fs->PutIfAbsent(path, "second");
  EXPECT_TRUE(again.IsAlreadyExists()) << again.ToString();
  EXPECT_EQ(*fs->ReadFile(path), "first");
  // No temporary files are left behind.
  EXPECT_EQ(fs->ListDir(dir.path())->size(), 1u);
}

TEST(FileSystemTest, WriteFileAtomicReplaces) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  std::string path = dir.Join("_last_checkpoint");
  ASSERT_TRUE(fs->WriteFileAtomic(path, "a").ok());
  ASSERT_TRUE(fs->WriteFileAtomic(path, "bb").ok());
  EXPECT_EQ(*fs->ReadFile(path), "bb");
  EXPECT_TRUE(fs->ReadFile(dir.Join("missing")).status().IsNotFound());
}

TEST(FileSystemTest, InjectedFaultsAtEveryStepLeaveNoTarget) {
  testing::TempDir dir;
  FaultInjectingFileSystem fs(FileSystem::Default());
  // Count the operations of one clean put, then fail each of them in turn.
  fs.Clear();
  ASSERT_TRUE(fs.PutIfAbsent(dir.Join("probe"), "x").ok());
  int64_t steps = fs.operations();
  ASSERT_GE(steps, 4);  // create, append, sync, link, syncdir
  for (auto fault : {FaultInjectingFileSystem::Fault::kNoSpace,
                     FaultInjectingFileSystem::Fault::kIOError,
                     FaultInjectingFileSystem::Fault::kShortWrite}) {
    for (int64_t n = 1; n <= steps; ++n) {
      std::string path = dir.Join("f" + std::to_string(n) + "_" + std::to_string(static_cast<int>(fault)));
      fs.FailAt(n, fault);
      Status st = fs.PutIfAbsent(path, "payload");
      ASSERT_TRUE(fs.fired());
      EXPECT_FALSE(st.ok()) << "step " << n;
      if (fault == FaultInjectingFileSystem::Fault::kNoSpace) {
        EXPECT_EQ(st.code(), StatusCode::kNoSpace) << st.ToString();
      }
      // Either nothing is visible, or (a failed directory fsync after the link) the
      // complete content is.
      auto content = fs.ReadFile(path);
      if (content.ok()) {
        EXPECT_EQ(*content, "payload");
      }
    }
  }
  fs.Clear();
  // No temporary file survives a failure.
  auto entries = fs.ListDir(dir.path());
  ASSERT_TRUE(entries.ok());
  for (const auto& e : *entries) EXPECT_EQ(e.name.find(".tmp"), std::string::npos) << e.name;
}

TEST(PathTest, Helpers) {
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "b"), "a/b");
  EXPECT_EQ(DirName("/x/y/z.json"), "/x/y");
  EXPECT_EQ(DirName("z.json"), ".");
  EXPECT_EQ(BaseName("/x/y/z.json"), "z.json");
}

TEST(PathTest, WithinComparesWholeComponents) {
  EXPECT_TRUE(PathIsWithin("/landing/orders", "/landing/orders"));
  EXPECT_TRUE(PathIsWithin("/landing/orders/", "/landing//orders"));
  EXPECT_TRUE(PathIsWithin("/landing/orders/archive", "/landing/orders"));
  EXPECT_TRUE(PathIsWithin("/landing/./orders/a/b", "/landing"));
  EXPECT_TRUE(PathIsWithin("/anything", "/"));
  EXPECT_FALSE(PathIsWithin("/landing/orders-archive", "/landing/orders"));
  EXPECT_FALSE(PathIsWithin("/landing", "/landing/orders"));
  EXPECT_FALSE(PathIsWithin("landing/orders", "/landing"));
  EXPECT_FALSE(PathIsWithin("", "/"));
}

}  // namespace
}  // namespace lakepipe
