#include "runtime/taken_files.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <set>
#include <string>
#include <vector>

namespace lakepipe::runtime {
namespace {

// Heap bytes in use: glibc's small-block arena plus its mmapped large blocks (a big array
// is one of those, and uordblks alone does not count it).
size_t HeapInUse() {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

constexpr int64_t kDay = 86'400'000'000LL;

std::string Name(int i) { return "orders-20261206T" + std::to_string(100000 + i) + "Z-" + std::to_string(i) + ".csv"; }

TEST(TakenFilesTest, RemembersEachPathOnceWithItsTime) {
  TakenFiles taken;
  EXPECT_FALSE(taken.Contains("a.csv"));
  EXPECT_EQ(taken.newest_micros(), TakenFiles::kNoHorizon);
  EXPECT_EQ(taken.Horizon(kDay), TakenFiles::kNoHorizon);  // nothing taken: no horizon
  for (int i = 0; i < 5000; ++i) EXPECT_TRUE(taken.Insert(Name(i), 1000 + i));
  EXPECT_FALSE(taken.Insert(Name(7), 999999));  // already there: not added again
  EXPECT_EQ(taken.size(), 5000u);
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(taken.Contains(Name(i))) << i;
  EXPECT_FALSE(taken.Contains(Name(5000)));
  EXPECT_FALSE(taken.Contains(""));
  EXPECT_FALSE(taken.Contains("orders"));  // a prefix of a path is another path
  EXPECT_EQ(taken.newest_micros(), 1000 + 4999);
  EXPECT_EQ(taken.Horizon(100), 1000 + 4999 - 100);
  EXPECT_EQ(taken.Horizon(0), TakenFiles::kNoHorizon);  // no limit
  std::vector<std::pair<std::string, int64_t>> all;
  taken.ForEach([&](std::string_view p, int64_t t) { all.emplace_back(std::string(p), t); });
  ASSERT_EQ(all.size(), 5000u);
  EXPECT_EQ(all[7], std::make_pair(Name(7), int64_t{1007}));  // the first time stays
}

TEST(TakenFilesTest, ForgetsWhatIsOlderThanTheHorizonOnly) {
  TakenFiles taken;
  taken.Insert("d1.csv", 1 * kDay);
  taken.Insert("d2.csv", 2 * kDay);
  taken.Insert("d9.csv", 9 * kDay);
  taken.Insert("d10.csv", 10 * kDay);
  // maxFileAge 8 days: the horizon is day 2; day 2 itself is kept (not older).
  int64_t horizon = taken.Horizon(8 * kDay);
  EXPECT_EQ(horizon, 2 * kDay);
  std::vector<std::string> forgotten;
  EXPECT_EQ(taken.ForgetOlderThan(horizon, [&](std::string_view p) { forgotten.emplace_back(p); }), 1u);
  EXPECT_EQ(forgotten, std::vector<std::string>{"d1.csv"});
  EXPECT_FALSE(taken.Contains("d1.csv"));
  EXPECT_TRUE(taken.Contains("d2.csv"));
  EXPECT_TRUE(taken.Contains("d9.csv"));
  EXPECT_TRUE(taken.Contains("d10.csv"));
  EXPECT_EQ(taken.size(), 3u);
  EXPECT_EQ(taken.newest_micros(), 10 * kDay);
  // The horizon never moves back past where files were forgotten, even for a larger
  // maxFileAge: d1.csv would be taken a second time.
  EXPECT_EQ(taken.forgotten_before_micros(), 2 * kDay);
  EXPECT_EQ(taken.Horizon(100 * kDay), 2 * kDay);
  EXPECT_EQ(taken.Horizon(1 * kDay), 9 * kDay);
  // Entries taken after a forget are found as before.
  EXPECT_TRUE(taken.Insert("d11.csv", 11 * kDay));
  EXPECT_TRUE(taken.Contains("d11.csv"));
  EXPECT_EQ(taken.ForgetOlderThan(TakenFiles::kNoHorizon), 0u);
  EXPECT_EQ(taken.size(), 4u);
}

TEST(TakenFilesTest, AFileWithoutItsTimeDoesNotMoveTheHorizon) {
  TakenFiles taken;
  taken.Insert("a.csv", 5 * kDay);
  taken.InsertWithoutTime("legacy.csv", 100 * kDay);  // kept as of "now" (day 100)
  EXPECT_EQ(taken.newest_micros(), 5 * kDay);
  taken.NoteNewest(3 * kDay);  // lower: no change
  EXPECT_EQ(taken.newest_micros(), 5 * kDay);
  taken.NoteNewest(120 * kDay);
  // Horizon day 113: a.csv goes; legacy.csv (kept as of day 100) too, once the horizon passes it.
  EXPECT_EQ(taken.ForgetOlderThan(taken.Horizon(7 * kDay)), 2u);
  EXPECT_EQ(taken.size(), 0u);
}

// Far below a std::set<std::string>'s ~128 bytes a file (bench/file_source_benchmark.cc).
TEST(TakenFilesTest, HoldsAFileInLittleMoreThanItsName) {
  constexpr int kFiles = 100000;
  size_t name_bytes = 0;
  size_t before = HeapInUse();
  auto* taken = new TakenFiles();
  for (int i = 0; i < kFiles; ++i) {
    taken->Insert(Name(i), i);
    name_bytes += Name(i).size();
  }
  size_t after = HeapInUse();
  double per_file = static_cast<double>(after - before) / kFiles;
  double name = static_cast<double>(name_bytes) / kFiles;
  EXPECT_LT(per_file, name + 48) << "bytes per file " << per_file << ", names " << name;
  EXPECT_LE(static_cast<double>(taken->MemoryBytes()), static_cast<double>(after - before) + 64);
  delete taken;
}

// A loader that reserves room first gets the same set, and the index is built once: its
// memory does not move while the reserved entries come in.
TEST(TakenFilesTest, ReservedRoomHoldsWhatComesWithoutRebuildingTheIndex) {
  constexpr int kFiles = 5000;
  TakenFiles taken;
  taken.Insert(Name(kFiles), 1);  // an entry before the reservation is kept
  taken.Reserve(kFiles + 1);
  int64_t reserved = taken.MemoryBytes();
  for (int i = 0; i < kFiles; ++i) EXPECT_TRUE(taken.Insert(Name(i), i));
  EXPECT_EQ(taken.size(), static_cast<size_t>(kFiles + 1));
  for (int i = 0; i <= kFiles; ++i) EXPECT_TRUE(taken.Contains(Name(i))) << i;
  EXPECT_FALSE(taken.Insert(Name(7), 7));
  EXPECT_FALSE(taken.Contains(Name(kFiles + 1)));
  // Only the names' arena grew; the entries and the index were there already.
  EXPECT_LE(taken.MemoryBytes() - reserved, static_cast<int64_t>(2 * kFiles * Name(kFiles).size() + 64));
  int64_t grown = taken.MemoryBytes();
  taken.Insert(Name(kFiles + 1), 1);  // past the reservation it grows again
  EXPECT_GT(taken.MemoryBytes(), grown);
}

TEST(OldFilesTest, SkipsKnownOldNamesWhileTheyArePresentOnly) {
  OldFiles old;
  old.BeginListing();
  EXPECT_FALSE(old.Skip("x.csv"));
  old.Add("x.csv");
  old.Add("y.csv");
  old.EndListing();
  EXPECT_EQ(old.size(), 2u);
  // Next listing: x is still there (skipped without a stat), y is gone.
  old.BeginListing();
  EXPECT_TRUE(old.Skip("x.csv"));
  EXPECT_FALSE(old.Skip("z.csv"));
  old.EndListing();
  EXPECT_EQ(old.size(), 1u);
  old.BeginListing();
  EXPECT_FALSE(old.Skip("y.csv"));  // y came back: it is looked at again
  EXPECT_TRUE(old.Skip("x.csv"));
  old.EndListing();
  // A name forgotten by TakenFiles is passed by silently from the next listing on.
  old.Forgotten("f.csv");
  old.BeginListing();
  EXPECT_TRUE(old.Skip("f.csv"));
  EXPECT_TRUE(old.Skip("x.csv"));
  old.EndListing();
  EXPECT_EQ(old.size(), 2u);
}

TEST(OldFilesTest, DigestsOfDistinctPathsDiffer) {
  std::set<std::pair<uint64_t, uint64_t>> seen;
  for (int i = 0; i < 200000; ++i) {
    PathDigest d = DigestPath(Name(i));
    EXPECT_TRUE(seen.insert({d.a, d.b}).second) << Name(i);
  }
  EXPECT_EQ(DigestPath("a/b.csv"), DigestPath(std::string("a/b.csv")));
  EXPECT_FALSE(DigestPath("a/b.csv") == DigestPath("a/b.csv "));
  EXPECT_FALSE(DigestPath("") == DigestPath(std::string(1, '\0')));
}

}  // namespace
}  // namespace lakepipe::runtime
