#include "state/digest_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

namespace lakepipe::state {
namespace {

Digest128 Random(std::mt19937_64& rng) { return Digest128{{rng(), rng()}}; }

// A digest whose first 8 bytes, read big-endian (the table's hash), are `hash`.
Digest128 WithHash(uint64_t hash, uint64_t second) { return Digest128{{__builtin_bswap64(hash), second}}; }

struct Less {
  bool operator()(const Digest128& a, const Digest128& b) const { return DigestTable::KeyLess(a, b); }
};

TEST(DigestTableTest, GrowsAndFindsEveryDigest) {
  DigestTable table;
  std::mt19937_64 rng(1);
  std::vector<Digest128> in;
  for (int i = 0; i < 200000; ++i) in.push_back(Random(rng));
  size_t grown_from = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    size_t before = table.slot_count();
    bool added = false;
    size_t slot = table.FindOrInsert(in[i], &added);
    ASSERT_TRUE(added) << i;
    ASSERT_EQ(table.digest(slot), in[i]);
    table.flags(slot) |= 2;
    if (table.slot_count() != before && before != 0) grown_from = before;
    EXPECT_LE(table.size() * 4, table.slot_count() * 3);  // at most 3/4 full
  }
  EXPECT_GE(grown_from, 131072u);  // it grew several times and kept every entry
  EXPECT_EQ(table.size(), in.size());
  for (const auto& d : in) {
    size_t slot = table.Find(d);
    ASSERT_NE(slot, DigestTable::kNone);
    EXPECT_EQ(table.flags(slot), DigestTable::kUsed | 2);  // flags moved with the entry
    bool added = true;
    EXPECT_EQ(table.FindOrInsert(d, &added), slot);
    EXPECT_FALSE(added);
  }
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(table.Find(Random(rng)), DigestTable::kNone);
  EXPECT_EQ(table.MemoryBytes(), static_cast<int64_t>(table.slot_count() * 17));
}

// The hash is the first 8 bytes only: digests that share them share a probe sequence but
// are different keys.
TEST(DigestTableTest, DigestsWithTheSameHashAreDistinct) {
  DigestTable table;
  std::vector<Digest128> same;
  for (uint64_t i = 0; i < 3000; ++i) same.push_back(WithHash(0x1234567890abcdefULL, i * 0x9E3779B97F4A7C15ULL));
  for (const auto& d : same) {
    bool added;
    table.FindOrInsert(d, &added);
    ASSERT_TRUE(added);
  }
  EXPECT_EQ(table.size(), same.size());
  for (const auto& d : same) ASSERT_NE(table.Find(d), DigestTable::kNone);
  // Same second half, different first half: also distinct.
  EXPECT_EQ(table.Find(WithHash(0x1234567890abcdeeULL, same[5].part[1])), DigestTable::kNone);
  // Erasing some leaves the others findable.
  for (size_t i = 0; i < same.size(); i += 3) table.Erase(table.Find(same[i]));
  for (size_t i = 0; i < same.size(); ++i) {
    EXPECT_EQ(table.Find(same[i]) == DigestTable::kNone, i % 3 == 0) << i;
  }
}

// Random inserts and erases against std::set, with many digests whose home is the last
// slots (their runs wrap around to slot 0) and many sharing a home.
TEST(DigestTableTest, EraseKeepsEveryOtherEntryReachable) {
  DigestTable table;
  table.EnableTimes();
  std::map<Digest128, int64_t, Less> reference;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 60000; ++step) {
    Digest128 d;
    switch (rng() % 4) {
      case 0: d = WithHash(~0ULL - rng() % 64, rng() % 8); break;  // homes at the very end
      case 1: d = WithHash(rng() % 64, rng() % 8); break;          // homes at the very start
      default: d = WithHash(rng() % 5000 * 0x000d1b71758e2196ULL, rng() % 4); break;
    }
    if (rng() % 3 == 0) {
      size_t slot = table.Find(d);
      ASSERT_EQ(slot != DigestTable::kNone, reference.count(d) == 1) << step;
      if (slot != DigestTable::kNone) {
        EXPECT_EQ(table.time(slot), reference[d]);
        table.Erase(slot);
        reference.erase(d);
      }
    } else {
      bool added;
      size_t slot = table.FindOrInsert(d, &added);
      ASSERT_EQ(added, reference.count(d) == 0) << step;
      if (added) {
        table.time(slot) = step;
        table.stored_time(slot) = -step;
        reference[d] = step;
      }
    }
  }
  ASSERT_EQ(table.size(), reference.size());
  for (const auto& [d, t] : reference) {
    size_t slot = table.Find(d);
    ASSERT_NE(slot, DigestTable::kNone);
    EXPECT_EQ(table.time(slot), t);
    EXPECT_EQ(table.stored_time(slot), -t);  // both times moved with the entry
  }
  size_t used = 0;
  for (size_t s = 0; s < table.slot_count(); ++s) used += table.used(s);
  EXPECT_EQ(used, reference.size());
}

TEST(DigestTableTest, SortedSlotsAreInKeyOrder) {
  for (int round = 0; round < 3; ++round) {
    DigestTable table;
    std::mt19937_64 rng(100 + round);
    std::set<Digest128, Less> reference;
    int n = round == 0 ? 700 : 150000;
    for (int i = 0; i < n; ++i) {
      // Round 2 crowds 1 in 50 digests into the last 1/1024 of the hash range: a long run
      // at the end of the table wraps around to its start (and is too long to sort by
      // insertion).
      Digest128 d = round == 2 && i % 50 == 0 ? WithHash(~0ULL - rng() % (1ULL << 54), rng()) : Random(rng);
      bool added;
      table.FindOrInsert(d, &added);
      reference.insert(d);
    }
    std::vector<uint32_t> slots = table.SortedSlots();
    ASSERT_EQ(slots.size(), reference.size());
    size_t i = 0;
    for (const auto& d : reference) {
      ASSERT_EQ(table.digest(slots[i]), d) << "round " << round << " position " << i;
      ++i;
    }
  }
  DigestTable empty;
  EXPECT_TRUE(empty.SortedSlots().empty());
}

TEST(DigestTableTest, TimesCanBeEnabledLateAndClearKeepsOrFrees) {
  DigestTable table;
  bool added;
  for (uint64_t i = 0; i < 5000; ++i) table.FindOrInsert(Digest128{{i * 0x9E3779B97F4A7C15ULL, i}}, &added);
  EXPECT_FALSE(table.has_times());
  table.EnableTimes();
  EXPECT_TRUE(table.has_times());
  size_t slot = table.Find(Digest128{{7 * 0x9E3779B97F4A7C15ULL, 7}});
  ASSERT_NE(slot, DigestTable::kNone);
  EXPECT_EQ(table.time(slot), 0);
  table.time(slot) = 42;
  size_t slots = table.slot_count();
  table.Clear(/*keep_slots=*/slots);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.slot_count(), slots);  // kept for the next batch
  EXPECT_FALSE(table.has_times());
  EXPECT_EQ(table.Find(Digest128{{7 * 0x9E3779B97F4A7C15ULL, 7}}), DigestTable::kNone);
  table.FindOrInsert(Digest128{{1, 1}}, &added);
  EXPECT_TRUE(added);
  table.Clear(/*keep_slots=*/slots - 1);
  EXPECT_EQ(table.slot_count(), 0u);  // freed
  EXPECT_EQ(table.MemoryBytes(), 0);
  // Enabled on an empty table: the first slots get times.
  table.EnableTimes();
  slot = table.FindOrInsert(Digest128{{1, 1}}, &added);
  table.time(slot) = 5;
  EXPECT_EQ(table.time(table.Find(Digest128{{1, 1}})), 5);
  DigestTable moved = std::move(table);
  EXPECT_EQ(moved.size(), 1u);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.Find(Digest128{{1, 1}}), DigestTable::kNone);
}

}  // namespace
}  // namespace lakepipe::state
