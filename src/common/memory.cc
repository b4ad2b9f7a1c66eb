#include "common/memory.h"

#include <unistd.h>

#include <cstdio>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace lakepipe {

void TuneAllocatorForLongRun() {
#if defined(__GLIBC__)
  mallopt(M_ARENA_MAX, 2);
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
