#include "state/scd_state_store.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "testing/testing.h"

namespace lakepipe::state {
namespace {

std::string Key(int i) { return "key" + std::to_string(i); }

// Lookups answered from Prefetch's MultiGet equal plain point reads, for stored, absent,
// pending and tombstoned keys; commits small (WriteBatch) and large (an ingested file)
// survive a reopen with the right key count, and a truncate hides the stored keys.
TEST(ScdStateStoreTest, PrefetchedLookupsEqualPointReadsAcrossCommitsAndReopens) {
  testing::TempDir dir;
  const std::string path = dir.Join("scd");
  std::map<std::string, ScdKeyState> model;  // what the store holds after each commit
  std::mt19937 rng(5);
  int64_t batch = 0;
  for (int round = 0; round < 6; ++round) {
    auto store = ScdStateStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ((*store)->Size().keys, static_cast<int64_t>(model.size()));
    // Small batches (WriteBatch) and, in rounds 2 and 4, one of 3,000 keys (ingested).
    const int n = round == 2 || round == 4 ? 3000 : 40;
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) keys.push_back(Key(static_cast<int>(rng() % 5000)));
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    std::vector<std::string_view> views(keys.begin(), keys.end());
    if (round % 2 == 1) { ASSERT_TRUE((*store)->Prefetch(views).ok()); }  // else: point reads
    for (const auto& k : keys) {
      auto got = (*store)->Lookup(k);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      auto want = model.find(k);
      ASSERT_EQ(got->has_value(), want != model.end()) << k << " round " << round;
      if (want != model.end()) {
        EXPECT_EQ((*got)->deleted, want->second.deleted) << k;
        EXPECT_EQ((*got)->sequence, want->second.sequence) << k;
        EXPECT_EQ((*got)->history, want->second.history) << k;
      }
      ScdKeyState next;
      if (rng() % 3 == 0) {
        next.history = "h" + std::to_string(round) + k;  // SCD type 2 entry
      } else {
        next.deleted = rng() % 4 == 0;
        next.sequence = "s" + std::to_string(round);
      }
      (*store)->Put(k, next);
      // A pending change is what the next Lookup sees, prefetched or not.
      auto pending = (*store)->Lookup(k);
      ASSERT_TRUE(pending.ok() && pending->has_value());
      EXPECT_EQ((*pending)->sequence, next.sequence);
      model[k] = next;
    }
    ASSERT_TRUE((*store)->Commit(++batch).ok());
    EXPECT_EQ((*store)->Size().keys, static_cast<int64_t>(model.size()));
  }
  // A truncate: stored keys are gone for lookups, prefetched or not, and after a reopen.
  {
    auto store = ScdStateStore::Open(path);
    ASSERT_TRUE(store.ok());
    const std::string some = model.begin()->first;
    std::vector<std::string_view> views = {some};
    (*store)->Truncate("t");
    ASSERT_TRUE((*store)->Prefetch(views).ok());
    auto got = (*store)->Lookup(some);
    ASSERT_TRUE(got.ok());
    EXPECT_FALSE(got->has_value());
    ASSERT_TRUE((*store)->Commit(++batch).ok());
  }
  auto store = ScdStateStore::Open(path);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->Size().keys, 0);
  EXPECT_EQ((*store)->committed_batch(), batch);
  std::vector<std::string_view> views = {model.begin()->first};
  ASSERT_TRUE((*store)->Prefetch(views).ok());
  EXPECT_FALSE((*store)->Lookup(model.begin()->first)->has_value());
}

}  // namespace
}  // namespace lakepipe::state
