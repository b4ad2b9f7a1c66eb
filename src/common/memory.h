// Process memory for long runs: glibc malloc settings and giving freed memory back to the
// system. A continuous run allocates and frees batch buffers on many threads for months;
// with glibc's defaults its RSS kept what it had freed (docs/BENCHMARKS.md, "Soak": up to
// 16 arenas on 2 cores, each keeping its free chunks), so RSS grew long after the live
// heap had stopped growing.
//
// Thread-safety: TuneAllocatorForLongRun once, early (before the run's threads start);
// ReleaseFreeMemory from any thread; a MemoryReleaser is owned by one thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace lakepipe {

// One malloc arena (glibc's default is eight per core): threads share their free chunks
// instead of each keeping its own. Measured side by side at 5,000 lines/s
// (docs/BENCHMARKS.md, "Memory of a continuous run"): two arenas instead of the default,
// 371 -> 258 MB after six minutes, the same CPU. One instead of two (session 25, "The
// 1M-line drain"): a batch's buffers freed by one thread are reused by the next batch's
// threads instead of fresh pages: 5M lines 226-231 MB against 245-256 MB, the same time; the
// 1M-line drain 3% faster; p99 at 50,000 lines/s the same. (A fixed 1 MiB mmap threshold gave 133 MB but cost 32% more CPU: not taken.)
// And buffers stay in the process between batches: glibc's dynamic thresholds mapped and
// unmapped blocks and trimmed the heaps' tops after each batch, so the next batch's
// buffers were fresh pages again, each first touch a page fault (a third of a
// 300,000-line run --once's samples, with malloc on huge pages). Fixed thresholds (32 MiB
// mmap, 32 MiB top pad, 128 MiB trim): 0.65-0.81 s against 1.13-1.18 s for that run, peak
// RSS 157-162 MB against 147-148, 5M lines 268 MB and 20M 309 MB (1.15x; docs/BENCHMARKS.md,
// "Malloc on huge pages"). A no-op with another allocator.
void TuneAllocatorForLongRun();

// glibc's malloc can put its heaps on transparent huge pages (the tunable
// glibc.malloc.hugetlb=1: it madvises MADV_HUGEPAGE on what it maps), which the kernel's
// default "madvise" mode then backs with 2 MiB pages. A batch's column buffers are
// allocated, touched once and freed; on 4 KiB pages each first touch is a page fault, and
// on this VM a fault is dear: a 300,000-line `run --once` of the orders pipeline took 74,000
// faults and 0.6 s of system time, and 31,000 and 0.5 s with the tunable, 25% less wall
// (docs/BENCHMARKS.md, "Malloc on huge pages"). glibc reads tunables only from the
// environment at start, so main() calls this first (for the commands that move data,
// cli/data_commands.h: a second start costs ~40 ms here): when GLIBC_TUNABLES does not mention
// glibc.malloc.hugetlb (the user's own setting stands), the kernel offers transparent huge
// pages, the address space is not limited, and LAKEPIPE_MALLOC_HUGEPAGES is not 0, it adds
// the tunable and executes the program again (same pid, same arguments). Returns when it
// does not re-execute.
// Not under an address-space limit (`ulimit -v`, RLIMIT_AS): with the tunable, malloc
// aligns what it maps to 2 MiB and its heaps reserve more than they touch, and the limit
// counts reservations. A 1.5M-line run under 320 MiB then failed with bad_alloc in about
// half the runs, and never without the tunable (src/cli/bounded_memory_test.cc).
void ReexecWithMallocHugePages(char** argv);
// Whether the soft RLIMIT_AS of this process is finite.
bool AddressSpaceIsLimited();
// Whether the kernel backs madvised memory with transparent huge pages (its mode is not
// "never").
bool KernelOffersHugePages();
// GLIBC_TUNABLES with glibc.malloc.hugetlb=1 added to `current` (null: unset), or nullopt
// when `current` already sets glibc.malloc.hugetlb.
std::optional<std::string> TunablesWithMallocHugePages(const char* current);

// Returns the free memory of every arena to the system (glibc's malloc_trim): the pages of
// free chunks inside the heaps, not only the top. Costs a walk of the free lists.
void ReleaseFreeMemory();

// What the process holds, as the kernel and as malloc see it: RSS counts pages, which
// stay resident when malloc keeps freed chunks between live ones (fragmentation), so a
// growing RSS over a flat heap_in_use is the allocator, not the run. Heap figures are 0
// with another allocator.
struct ProcessMemory {
  int64_t rss_bytes = 0;         // resident pages (/proc/self/statm)
  int64_t heap_in_use_bytes = 0;  // allocated and not freed (mallinfo2: arenas and mmapped chunks)
  int64_t heap_free_bytes = 0;    // freed, kept by malloc in its arenas
};
ProcessMemory ReadProcessMemory();

// Calls ReleaseFreeMemory every `interval` on a thread of its own until destroyed.
class MemoryReleaser {
 public:
  explicit MemoryReleaser(std::chrono::milliseconds interval);
  ~MemoryReleaser();
  MemoryReleaser(const MemoryReleaser&) = delete;
  MemoryReleaser& operator=(const MemoryReleaser&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace lakepipe
