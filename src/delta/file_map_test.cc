// FileMap against std::map under random changes, and the sharing that makes a commit's
// state cost O(changes): a copy changed in one key keeps all other chunks shared.
#include "delta/file_map.h"

#include <gtest/gtest.h>

#include <random>

namespace lakepipe::delta {
namespace {

std::string Key(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "part-%07d.parquet", i);
  return buf;
}

void ExpectSame(const FileMap<int>& m, const std::map<std::string, int>& ref) {
  ASSERT_EQ(m.size(), ref.size());
  EXPECT_EQ(m.empty(), ref.empty());
  auto it = ref.begin();
  size_t n = 0;
  for (const auto& [k, v] : m) {
    ASSERT_NE(it, ref.end());
    EXPECT_EQ(k, it->first);
    EXPECT_EQ(v, it->second);
    ++it;
    ++n;
  }
  EXPECT_EQ(n, ref.size());
}

TEST(FileMap, MatchesStdMapUnderRandomChanges) {
  std::mt19937 rng(7);
  FileMap<int> m;
  std::map<std::string, int> ref;
  std::vector<FileMap<int>> versions;
  std::vector<std::map<std::string, int>> ref_versions;
  for (int round = 0; round < 300; ++round) {
    // A commit: a few sets and erases, some keys repeated (the last change wins).
    std::vector<FileMap<int>::Change> changes;
    int n = round % 50 == 0 ? 700 : static_cast<int>(rng() % 6) + 1;
    for (int c = 0; c < n; ++c) {
      std::string k = Key(static_cast<int>(rng() % 3000));
      if (rng() % 4 == 0) {
        changes.emplace_back(k, std::nullopt);
        ref.erase(k);
      } else {
        int v = static_cast<int>(rng());
        changes.emplace_back(k, v);
        ref[k] = v;
      }
    }
    m.Apply(std::move(changes));
    ASSERT_NO_FATAL_FAILURE(ExpectSame(m, ref));
    if (round % 37 == 0) {
      versions.push_back(m);
      ref_versions.push_back(ref);
    }
  }
  // Older copies did not change when later versions were built from them.
  for (size_t i = 0; i < versions.size(); ++i) ASSERT_NO_FATAL_FAILURE(ExpectSame(versions[i], ref_versions[i]));
  for (const auto& [k, v] : ref) {
    ASSERT_NE(m.Find(k), nullptr) << k;
    EXPECT_EQ(*m.Find(k), v);
  }
  EXPECT_EQ(m.Find("absent"), nullptr);
  EXPECT_EQ(m.Find(""), nullptr);
  EXPECT_EQ(m.count(Key(99999)), 0u);
}

TEST(FileMap, EraseEverythingAndStartAgain) {
  FileMap<int> m;
  for (int i = 0; i < 1000; ++i) m.Set(Key(i), i);
  std::vector<FileMap<int>::Change> all;
  for (int i = 0; i < 1000; ++i) all.emplace_back(Key(i), std::nullopt);
  m.Apply(std::move(all));
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.begin(), m.end());
  m.Set("b", 2);
  m.Set("a", 1);
  ASSERT_NO_FATAL_FAILURE(ExpectSame(m, {{"a", 1}, {"b", 2}}));
  m.Erase("zzz");  // absent: nothing happens
  EXPECT_EQ(m.size(), 2u);
}

TEST(FileMap, ACopyChangedInOneKeySharesTheOtherChunks) {
  std::vector<FileMap<int>::Change> bulk;
  for (int i = 0; i < 20000; ++i) bulk.emplace_back(Key(i * 2), i);
  FileMap<int> v1;
  v1.Apply(std::move(bulk));
  ASSERT_GT(v1.num_chunks(), 50u);
  FileMap<int> v2 = v1;
  v2.Set(Key(20001), -1);  // lands inside one chunk
  v2.Erase(Key(30000));
  EXPECT_EQ(v2.size(), v1.size());
  // At most the two touched chunks (and a split of one) are new.
  EXPECT_GE(v2.SharedChunks(v1) + 3, v2.num_chunks());
  EXPECT_EQ(v1.Find(Key(20001)), nullptr);
  ASSERT_NE(v1.Find(Key(30000)), nullptr);
  EXPECT_EQ(v2.Find(Key(30000)), nullptr);
}

}  // namespace
}  // namespace lakepipe::delta
