// One memory budget shared by several seen-key stores (a pipeline's `lakepipe.seenKeysMemory`,
// docs/checkpoint.md "Memory budget"): what one store holds, the others cannot, so their
// tables together stay within it, and a store that finds no room spills (or probes
// RocksDB) with the same answers.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/memory_budget.h"
#include "state/seen_key_store.h"
#include "testing/testing.h"

namespace lakepipe::state {
namespace {

std::vector<std::string> Keys(const std::string& prefix, int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) keys.push_back(prefix + std::to_string(i));
  return keys;
}

// Inserts in parts of 10,000 keys (as a batch read by parts); counts the keys found new.
int64_t Insert(SeenKeyStore& store, const std::vector<std::string>& keys, const MemoryBudget& budget) {
  int64_t inserted_count = 0;
  for (size_t from = 0; from < keys.size(); from += 10000) {
    std::vector<std::string_view> part(keys.begin() + from, keys.begin() + std::min(keys.size(), from + 10000));
    std::vector<uint8_t> inserted;
    auto st = store.InsertIfAbsent(part, &inserted);
    EXPECT_TRUE(st.ok()) << st.ToString();
    for (uint8_t b : inserted) inserted_count += b;
    EXPECT_LE(budget.used(), budget.capacity());
  }
  return inserted_count;
}

// 8 MiB: a pending table may grow to 262,144 slots (its growth from 131,072 reserves
// 6.7 MB), so one store holds 150,000 keys without spilling, but two cannot both.
TEST(SeenKeyBudgetTest, StoresSharingABudgetStayWithinItTogether) {
  testing::TempDir dir;
  auto budget = std::make_shared<MemoryBudget>(8 << 20);
  auto a = SeenKeyStore::Open(dir.Join("a"), SeenKeyStore::kMaxKeysFromBudget, budget);
  auto b = SeenKeyStore::Open(dir.Join("b"), SeenKeyStore::kMaxKeysFromBudget, budget);
  ASSERT_TRUE(a.ok() && b.ok());
  const auto keys_a = Keys("a-", 150000), keys_b = Keys("b-", 150000);
  EXPECT_EQ(Insert(**a, keys_a, *budget), 150000);
  EXPECT_EQ((*a)->spilled_runs(), 0);
  EXPECT_GT((*a)->BudgetBytes(), 4 << 20);
  EXPECT_EQ(Insert(**b, keys_b, *budget), 150000);
  EXPECT_GT((*b)->spilled_runs(), 0) << "the second store found room that the first one holds";
  EXPECT_EQ((*a)->BudgetBytes() + (*b)->BudgetBytes(), budget->used());
  EXPECT_LE(budget->used(), budget->capacity());

  // A store alone with the same budget keeps its keys in memory: the spills came from sharing.
  auto alone = SeenKeyStore::Open(dir.Join("alone"), SeenKeyStore::kMaxKeysFromBudget, int64_t{8} << 20);
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ(Insert(**alone, keys_b, MemoryBudget(8 << 20)), 150000);
  EXPECT_EQ((*alone)->spilled_runs(), 0);

  ASSERT_TRUE((*a)->Commit(0).ok());
  ASSERT_TRUE((*b)->Commit(0).ok());
  // Committed, the pending tables give their growth back (what stays is the kept arrays).
  EXPECT_LT(budget->used(), 8 << 20);
  // Every key is known to its store, whether it was spilled or not.
  EXPECT_EQ(Insert(**a, keys_a, *budget), 0);
  EXPECT_EQ(Insert(**b, keys_b, *budget), 0);
  EXPECT_EQ(Insert(**b, keys_a, *budget), 150000);  // and only to its own store
  ASSERT_TRUE((*b)->Abandon().ok());
  a->reset();
  b->reset();
  EXPECT_EQ(budget->used(), 0) << "closed stores keep nothing reserved";
}

// A batch that spills keeps each run's filter and sparse index in memory (~1.3 bytes a
// key): they count against the budget, so the pending table makes room for them and the
// store's memory stays within the budget however many keys the batch has.
TEST(SeenKeyBudgetTest, SpilledRunsCountAgainstTheBudget) {
  testing::TempDir dir;
  auto budget = std::make_shared<MemoryBudget>(2 << 20);
  auto s = SeenKeyStore::Open(dir.Join("s"), SeenKeyStore::kMaxKeysFromBudget, budget);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Insert(**s, Keys("k-", 600000), *budget), 600000);
  EXPECT_GT((*s)->spilled_runs(), 0);
  // MemoryBytes: the pending table, the runs (~0.8 MB here) and RocksDB's memtable, which
  // is an empty arena (a few KiB) before the first commit.
  EXPECT_GE((*s)->BudgetBytes() + (64 << 10), (*s)->MemoryBytes());
  EXPECT_LE(budget->used(), budget->capacity());
  ASSERT_TRUE((*s)->Commit(0).ok());
  EXPECT_EQ(Insert(**s, Keys("k-", 600000), *budget), 0);
}

// The in-memory copy of a store's stored keys is a cache: it takes at most half the
// budget, and none when other stores hold the budget; probes then read RocksDB, with the
// same answers.
TEST(SeenKeyBudgetTest, CopyOfStoredKeysOnlyWhereTheBudgetHasRoom) {
  testing::TempDir dir;
  auto budget = std::make_shared<MemoryBudget>(8 << 20);
  const auto stored = Keys("s-", 50000);
  {
    auto s = SeenKeyStore::Open(dir.Join("s"), SeenKeyStore::kMaxKeysFromBudget, budget);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(Insert(**s, stored, *budget), 50000);
    ASSERT_TRUE((*s)->Commit(0).ok());
  }
  EXPECT_EQ(budget->used(), 0);
  // Room: the copy is loaded at the first probe and counted.
  {
    auto s = SeenKeyStore::Open(dir.Join("s"), SeenKeyStore::kMaxKeysFromBudget, budget);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(Insert(**s, Keys("s-", 10), *budget), 0);
    EXPECT_GT((*s)->BudgetBytes(), 50000 * 17);
    EXPECT_LE((*s)->BudgetBytes(), budget->capacity() / 2);
  }
  // No room: another holder has all but 1 MiB.
  int64_t other = 0;
  ASSERT_TRUE(budget->TryResize(&other, 7 << 20));
  {
    auto s = SeenKeyStore::Open(dir.Join("s"), SeenKeyStore::kMaxKeysFromBudget, budget);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(Insert(**s, stored, *budget), 0);
    EXPECT_EQ(Insert(**s, Keys("new-", 100), *budget), 100);
    EXPECT_LT((*s)->BudgetBytes(), 1 << 20);
    EXPECT_LE(budget->used(), budget->capacity());
  }
  budget->Release(&other);
  EXPECT_EQ(budget->used(), 0);
}

}  // namespace
}  // namespace lakepipe::state
