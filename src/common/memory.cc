#include "common/memory.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace lakepipe {

void TuneAllocatorForLongRun() {
#if defined(__GLIBC__)
  mallopt(M_ARENA_MAX, 1);
  // Fixed thresholds instead of glibc's dynamic ones (see memory.h): blocks below 32 MiB
  // (the most glibc allows) come from the heaps, which grow 32 MiB at a time and give
  // back their top only past 128 MiB free; ReleaseFreeMemory still returns what is free.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TOP_PAD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
#endif
}

std::optional<std::string> TunablesWithMallocHugePages(const char* current) {
  if (current == nullptr || *current == '\0') return std::string("glibc.malloc.hugetlb=1");
  if (std::strstr(current, "glibc.malloc.hugetlb") != nullptr) return std::nullopt;
  return std::string(current) + ":glibc.malloc.hugetlb=1";
}

bool KernelOffersHugePages() {
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  return std::getline(thp, modes) && modes.find("[never]") == std::string::npos;
}

bool AddressSpaceIsLimited() {
  struct rlimit limit;
  return ::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY;
}

void ReexecWithMallocHugePages(char** argv) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
  const char* choice = std::getenv("LAKEPIPE_MALLOC_HUGEPAGES");
  if (choice != nullptr && std::strcmp(choice, "0") == 0) return;
  // A second pass never executes again, whatever glibc made of the variable.
  if (std::getenv("LAKEPIPE_MALLOC_REEXEC") != nullptr) return;
  if (!KernelOffersHugePages() || AddressSpaceIsLimited()) return;
  std::optional<std::string> tunables = TunablesWithMallocHugePages(std::getenv("GLIBC_TUNABLES"));
  if (!tunables) return;
  if (::setenv("GLIBC_TUNABLES", tunables->c_str(), 1) != 0) return;
  ::setenv("LAKEPIPE_MALLOC_REEXEC", "1", 1);
  ::execv("/proc/self/exe", argv);
  // Not executed again (no /proc): run on as started. The variables stay for children.
#else
  (void)argv;
#endif
}

void ReleaseFreeMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

ProcessMemory ReadProcessMemory() {
  ProcessMemory m;
  if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
    long long pages = 0, resident = 0;
    if (std::fscanf(statm, "%lld %lld", &pages, &resident) == 2) {
      m.rss_bytes = static_cast<int64_t>(resident) * ::sysconf(_SC_PAGESIZE);
    }
    std::fclose(statm);
  }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 info = mallinfo2();
  m.heap_in_use_bytes = static_cast<int64_t>(info.uordblks + info.hblkhd);
  m.heap_free_bytes = static_cast<int64_t>(info.fordblks);
#endif
  return m;
}

MemoryReleaser::MemoryReleaser(std::chrono::milliseconds interval)
    : thread_([this, interval] {
        std::unique_lock<std::mutex> lock(mu_);
        while (!cv_.wait_for(lock, interval, [this] { return stop_; })) {
          lock.unlock();
          ReleaseFreeMemory();
          lock.lock();
        }
      }) {}

MemoryReleaser::~MemoryReleaser() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

}  // namespace lakepipe
