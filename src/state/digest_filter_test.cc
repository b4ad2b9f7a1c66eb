#include "state/digest_filter.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace lakepipe::state {
namespace {

Digest128 Random(std::mt19937_64& rng) { return Digest128{{rng(), rng()}}; }

// Share of `probes` fresh digests the filter says it may contain.
double FalsePositives(const GrowingDigestFilter& f, std::mt19937_64& rng, int probes) {
  int maybe = 0;
  for (int i = 0; i < probes; ++i) maybe += f.MayContain(Random(rng));
  return static_cast<double>(maybe) / probes;
}

// A chain grows by doubling: every digest ever added is still "maybe present" in whichever
// filter took it, a new filter starts only when the newest has taken its intake, and the
// false positives stay low after several doublings.
TEST(GrowingDigestFilterTest, GrowsByDoublingWithoutLosingADigest) {
  std::mt19937_64 rng(7);
  GrowingDigestFilter f;
  f.Reset(100000, 100000);
  std::vector<Digest128> in;
  for (int batch = 0; batch < 16; ++batch) {
    constexpr int kBatch = 50000;
    f.Grow(kBatch);
    for (int i = 0; i < kBatch; ++i) {
      in.push_back(Random(rng));
      f.Add(in.back());
    }
  }
  EXPECT_EQ(f.added(), 800000);
  for (const auto& d : in) ASSERT_TRUE(f.MayContain(d));
  // 100k, then 100k more (sized 200k), 200k, 400k: four filters for 800k digests.
  EXPECT_EQ(f.filters(), 4u);
  EXPECT_EQ(f.sized_for(), 100000 + 200000 + 400000 + 800000);
  EXPECT_LT(FalsePositives(f, rng, 200000), 0.02);
  // Memory about that of one filter sized for twice the digests held.
  EXPECT_LE(f.MemoryBytes(), DigestFilter::BytesFor(2 * f.added()) * 6 / 5);
}

// Room left in the newest filter costs nothing; past it, a doubling or a dense filter (a
// quarter of the held digests, sized for just that) is what Grow will allocate.
TEST(GrowingDigestFilterTest, SaysWhatGrowingWouldTake) {
  std::mt19937_64 rng(3);
  GrowingDigestFilter f;
  f.Reset(200000, 400000);
  f.Grow(200000);
  for (int i = 0; i < 200000; ++i) f.Add(Random(rng));
  EXPECT_EQ(f.BytesToGrow(0), 0);
  EXPECT_EQ(f.BytesToGrow(1), DigestFilter::BytesFor(400000));
  EXPECT_EQ(f.BytesToGrow(1, /*dense=*/true), DigestFilter::BytesFor(65536));  // the least a filter takes
  EXPECT_EQ(f.BytesToGrow(300000), DigestFilter::BytesFor(600000));           // more than the chain holds
  f.Grow(1, /*dense=*/true);
  EXPECT_EQ(f.filters(), 2u);
  EXPECT_EQ(f.MemoryBytes(), DigestFilter::BytesFor(400000) + DigestFilter::BytesFor(65536));
  f.Clear();
  EXPECT_TRUE(f.empty());
  EXPECT_EQ(f.MemoryBytes(), 0);
}

}  // namespace
}  // namespace lakepipe::state
