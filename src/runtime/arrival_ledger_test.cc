// ArrivalLedger: a version's arrivals come back merged by time; Between gives exactly the
// versions of its half-open range; a reader's first read of a table gives nothing and each
// later read gives the versions since its last; table names are compared in any case;
// only the newest kVersionsKept versions of a table are kept.
#include "runtime/arrival_ledger.h"

#include <gtest/gtest.h>

namespace lakepipe::runtime {
namespace {

int64_t Lines(const Arrivals& a) {
  int64_t n = 0;
  for (const auto& [t, lines] : a) n += lines;
  return n;
}

TEST(ArrivalLedgerTest, AVersionsArrivalsAreMergedByTime) {
  ArrivalLedger ledger;
  Arrivals merged = ledger.Record("Bronze", 1, {{30, 2}, {10, 1}, {30, 5}, {20, 4}, {10, 1}});
  EXPECT_EQ(merged, (Arrivals{{10, 2}, {20, 4}, {30, 7}}));
  EXPECT_EQ(ledger.Between("bronze", 0, 1), merged);
}

TEST(ArrivalLedgerTest, BetweenGivesTheVersionsAfterTheFirstUpToTheSecond) {
  ArrivalLedger ledger;
  for (int64_t v = 1; v <= 5; ++v) ledger.Record("t", v, {{v * 100, v}});
  EXPECT_EQ(ledger.Between("t", 1, 3), (Arrivals{{200, 2}, {300, 3}}));
  EXPECT_TRUE(ledger.Between("t", 3, 3).empty());
  EXPECT_EQ(Lines(ledger.Between("T", 0, 99)), 15);
  EXPECT_TRUE(ledger.Between("other", 0, 99).empty());
}

TEST(ArrivalLedgerTest, AReaderGetsOnlyTheVersionsSinceItsLastRead) {
  ArrivalLedger ledger;
  for (int64_t v = 1; v <= 4; ++v) {
    ledger.Record("silver", v, {{v, 10 * v}});
    ledger.Record("dim", v, {{v, 1}});
  }
  // Where the view started is unknown: its first read observes nothing.
  EXPECT_TRUE(ledger.NewFor("Gold", {{"silver", 2}, {"dim", 1}}).empty());
  // Then silver 3..4 and dim 2..3.
  Arrivals next = ledger.NewFor("gold", {{"silver", 4}, {"dim", 3}});
  EXPECT_EQ(Lines(next), 30 + 40 + 1 + 1);
  // Nothing new: nothing observed twice.
  EXPECT_TRUE(ledger.NewFor("gold", {{"silver", 4}, {"dim", 3}}).empty());
  // Another reader keeps its own place.
  EXPECT_TRUE(ledger.NewFor("other", {{"silver", 4}}).empty());
}

TEST(ArrivalLedgerTest, OnlyTheNewestVersionsAreKept) {
  ArrivalLedger ledger;
  const int64_t versions = static_cast<int64_t>(ArrivalLedger::kVersionsKept) + 10;
  for (int64_t v = 1; v <= versions; ++v) ledger.Record("t", v, {{v, 1}});
  EXPECT_EQ(Lines(ledger.Between("t", 0, versions)), static_cast<int64_t>(ArrivalLedger::kVersionsKept));
  EXPECT_TRUE(ledger.Between("t", 0, 10).empty());
  EXPECT_EQ(ledger.Between("t", 10, 11), (Arrivals{{11, 1}}));
}

}  // namespace
}  // namespace lakepipe::runtime
