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

}  // namespace
}  // namespace lakepipe
