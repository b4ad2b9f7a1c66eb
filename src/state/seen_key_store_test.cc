#include "state/seen_key_store.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "testing/testing.h"

namespace lakepipe::state {
namespace {

std::vector<uint8_t> Insert(SeenKeyStore& s, std::vector<std::string_view> keys) {
  std::vector<uint8_t> inserted;
  EXPECT_TRUE(s.InsertIfAbsent(keys, &inserted).ok());
  return inserted;
}

TEST(SeenKeyStoreTest, KeysSurviveReopenOnlyOnceCommitted) {
  testing::TempDir dir;
  {
    auto store = SeenKeyStore::Open(dir.Join("s"));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_FALSE((*store)->committed_batch().has_value());
    EXPECT_EQ(Insert(**store, {"a", "b", "a"}), (std::vector<uint8_t>{1, 1, 0}));
    ASSERT_TRUE((*store)->Commit(0).ok());
    EXPECT_EQ(Insert(**store, {"b", "c"}), (std::vector<uint8_t>{0, 1}));
    // Batch 1 is not committed: "c" must not survive a crash here.
  }
  auto store = SeenKeyStore::Open(dir.Join("s"));
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->committed_batch(), 0);
  EXPECT_EQ((*store)->size(), 2);
  EXPECT_EQ(Insert(**store, {"a", "c"}), (std::vector<uint8_t>{0, 1}));
  (*store)->Abandon();
  EXPECT_EQ(Insert(**store, {"c"}), (std::vector<uint8_t>{1}));
}

TEST(SeenKeyStoreTest, LargeBatchesAreIngestedWhole) {
  testing::TempDir dir;
  std::vector<std::string> keys;
  for (int i = 0; i < 120000; ++i) keys.push_back("key-" + std::to_string(i));
  std::vector<std::string_view> views(keys.begin(), keys.end());
  {
    auto store = SeenKeyStore::Open(dir.Join("s"));
    ASSERT_TRUE(store.ok());
    auto inserted = Insert(**store, views);
    EXPECT_EQ(std::count(inserted.begin(), inserted.end(), 1), 120000);
    ASSERT_TRUE((*store)->Commit(3).ok());
  }
  auto store = SeenKeyStore::Open(dir.Join("s"));
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->committed_batch(), 3);
  EXPECT_EQ((*store)->size(), 120000);
  EXPECT_EQ(Insert(**store, {"key-0", "key-119999", "key-120000"}), (std::vector<uint8_t>{0, 0, 1}));
}

}  // namespace
}  // namespace lakepipe::state
