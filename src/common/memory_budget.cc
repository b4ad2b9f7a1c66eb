#include "common/memory_budget.h"

namespace lakepipe {

bool MemoryBudget::TryResize(int64_t* held, int64_t bytes) {
  if (bytes < 0) bytes = 0;
  const int64_t delta = bytes - *held;
  if (delta <= 0) {
    used_.fetch_add(delta, std::memory_order_relaxed);
    *held = bytes;
    return true;
  }
  int64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (used + delta > capacity_) return false;
  } while (!used_.compare_exchange_weak(used, used + delta, std::memory_order_relaxed));
  *held = bytes;
  return true;
}

}  // namespace lakepipe
