// TableHandleCache: a table's handle is opened once and shared, and sees the commits made
// through another handle; a folder without a commit is NotFound naming the table, and is
// not remembered (its first commit is found later); Forget drops a handle so that a
// replaced table is opened again; concurrent opens end with one handle.
#include "runtime/table_handles.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

RecordBatch Ids(int64_t from, int64_t to) {
  Schema schema = *Schema::ParseDDL("id BIGINT");
  std::vector<Column> cols;
  cols.emplace_back(schema.field(0).type);
  for (int64_t i = from; i < to; ++i) cols[0].Append<int64_t>(i);
  return RecordBatch::FromColumns(schema, std::move(cols));
}

class TableHandleCacheTest : public ::testing::Test {
 protected:
  void Commit(const std::string& path, int64_t from, int64_t to) {
    auto table = delta::DeltaTable::Open(path, fs_);
    if (!table.ok()) {
      delta::CreateOptions create;
      create.schema = *Schema::ParseDDL("id BIGINT");
      table = delta::DeltaTable::Create(path, create);
    }
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    ASSERT_TRUE((*table)->Write({Ids(from, to)}, {}).ok());
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  TableHandleCache cache_{FileSystem::Default(), Clock::System()};
};

TEST_F(TableHandleCacheTest, AHandleIsOpenedOnceAndSeesLaterCommits) {
  const std::string path = dir_.Join("t");
  Commit(path, 0, 10);
  auto first = cache_.Open("t", path);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Commit(path, 10, 15);  // through another handle
  auto again = cache_.Open("T", path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(first->get(), again->get());
  EXPECT_EQ(cache_.size(), 1u);
  auto latest = (*again)->Latest();
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ((*latest)->version(), 2);
}

TEST_F(TableHandleCacheTest, AFolderWithoutACommitIsNotFoundAndNotRemembered) {
  const std::string path = dir_.Join("later");
  auto none = cache_.Open("later", path);
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(none.status().IsNotFound());
  EXPECT_NE(none.status().message().find("`later` has no commit yet"), std::string::npos) << none.status().ToString();
  EXPECT_EQ(cache_.size(), 0u);
  Commit(path, 0, 3);
  auto found = cache_.Open("later", path);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(cache_.size(), 1u);
}

TEST_F(TableHandleCacheTest, ForgetDropsTheHandleSoThatAReplacedTableIsOpenedAgain) {
  const std::string path = dir_.Join("t");
  Commit(path, 0, 10);
  Commit(path, 10, 20);  // two files
  auto old = cache_.Open("t", path);
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE(fs_->RemoveAll(path).ok());
  Commit(path, 100, 101);  // a new table in the same folder: version 1 again
  cache_.Forget(path);
  EXPECT_EQ(cache_.size(), 0u);
  auto fresh = cache_.Open("t", path);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_NE(old->get(), fresh->get());
  auto snap = (*fresh)->Latest();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ((*snap)->num_files(), 1u);
}

TEST_F(TableHandleCacheTest, ConcurrentOpensShareOneHandle) {
  const std::string path = dir_.Join("t");
  Commit(path, 0, 10);
  std::vector<std::shared_ptr<delta::DeltaTable>> got(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&, i] {
      auto t = cache_.Open("t", path);
      if (t.ok()) got[i] = *t;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(cache_.size(), 1u);
  auto kept = cache_.Open("t", path);
  ASSERT_TRUE(kept.ok());
  for (const auto& g : got) EXPECT_EQ(g.get(), kept->get());
}

}  // namespace
}  // namespace lakepipe::runtime
