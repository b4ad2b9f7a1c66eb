#include "common/memory.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace lakepipe {
namespace {

// Resident set of this process in bytes (/proc/self/statm).
long long RssBytes() {
  std::ifstream statm("/proc/self/statm");
  long long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * 4096;
}

#if defined(__GLIBC__)
// What made a continuous run's RSS grow (docs/BENCHMARKS.md, "Soak"): memory freed in the
// middle of a heap stays resident until malloc_trim gives its pages back. Chunks of 64 KiB
// (below the mmap threshold, so they come from the heap) are touched, then all but every
// 16th are freed: the survivors pin the heap, so freeing alone cannot shrink it.
TEST(MemoryTest, ReleaseFreeMemoryGivesFreedHeapPagesBack) {
  constexpr size_t kChunk = 64 << 10;
  constexpr size_t kChunks = 3200;  // 200 MiB
  std::vector<std::unique_ptr<char[]>> chunks;
  chunks.reserve(kChunks);
  for (size_t i = 0; i < kChunks; ++i) {
    chunks.emplace_back(new char[kChunk]);
    std::memset(chunks.back().get(), static_cast<int>(i), kChunk);
  }
  for (size_t i = 0; i < kChunks; ++i)
    if (i % 16 != 0) chunks[i].reset();
  long long before = RssBytes();
  ReleaseFreeMemory();
  long long after = RssBytes();
  // 15/16 of 200 MiB were freed; at least 100 MiB must leave the resident set.
  EXPECT_GT(before - after, 100LL << 20) << "RSS " << before << " -> " << after;
}
#endif

TEST(MemoryTest, MemoryReleaserStopsPromptly) {
  auto start = std::chrono::steady_clock::now();
  { MemoryReleaser releaser(std::chrono::hours(1)); }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// The figures /metrics reports (lakepipe_memory_bytes): 64 MiB allocated and touched show
// in the heap in use and in RSS, and leave both when freed.
TEST(MemoryTest, ReadProcessMemorySeesAllocationsComeAndGo) {
  ProcessMemory before = ReadProcessMemory();
  EXPECT_GT(before.rss_bytes, 0);
  constexpr size_t kBytes = 64 << 20;
  std::unique_ptr<char[]> block(new char[kBytes]);
  std::memset(block.get(), 1, kBytes);
  ProcessMemory during = ReadProcessMemory();
  EXPECT_GE(during.rss_bytes - before.rss_bytes, static_cast<int64_t>(kBytes) * 9 / 10);
#if defined(__GLIBC__)
  EXPECT_GE(during.heap_in_use_bytes - before.heap_in_use_bytes, static_cast<int64_t>(kBytes));
#endif
  block.reset();
  ProcessMemory after = ReadProcessMemory();
  EXPECT_LT(after.rss_bytes, during.rss_bytes - static_cast<int64_t>(kBytes) / 2);
#if defined(__GLIBC__)
  EXPECT_LT(after.heap_in_use_bytes, during.heap_in_use_bytes - static_cast<int64_t>(kBytes) / 2);
#endif
}

// The tunable is added to what the user set, and never replaces their own choice.
TEST(MemoryTest, TunablesAskForMallocHugePagesUnlessTheyAlreadySayHow) {
  EXPECT_EQ(TunablesWithMallocHugePages(nullptr), "glibc.malloc.hugetlb=1");
  EXPECT_EQ(TunablesWithMallocHugePages(""), "glibc.malloc.hugetlb=1");
  EXPECT_EQ(TunablesWithMallocHugePages("glibc.malloc.arena_max=4"), "glibc.malloc.arena_max=4:glibc.malloc.hugetlb=1");
  EXPECT_EQ(TunablesWithMallocHugePages("glibc.malloc.hugetlb=0"), std::nullopt);
  EXPECT_EQ(TunablesWithMallocHugePages("glibc.malloc.tcache_count=0:glibc.malloc.hugetlb=2"), std::nullopt);
}

}  // namespace
}  // namespace lakepipe
