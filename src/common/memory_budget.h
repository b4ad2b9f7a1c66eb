// MemoryBudget: a number of bytes that several holders share, such as the seen-key stores
// of one pipeline (`lakepipe.seenKeysMemory`, docs/checkpoint.md "Memory budget"). A holder
// reserves before it allocates and gives back when it frees; the budget only counts, it
// allocates nothing. Reservations are whole numbers of bytes kept by the holder in an
// int64_t of its own (`held`), so that a holder can never give back more than it took.
//
// Thread-safety: every method may be called from any thread at any time (one atomic
// counter); a holder's `held` belongs to that holder's thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace lakepipe {

class MemoryBudget {
 public:
  explicit MemoryBudget(int64_t capacity_bytes) : capacity_(capacity_bytes) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  int64_t capacity() const { return capacity_; }
  // Bytes reserved now by all holders together (at most capacity()).
  int64_t used() const { return used_.load(std::memory_order_relaxed); }

  // Changes the holder's reservation from *held to `bytes`. Shrinking always succeeds;
  // growing succeeds only while every holder's reservations together stay within
  // capacity(). Returns whether *held is now `bytes` (unchanged when it is not).
  bool TryResize(int64_t* held, int64_t bytes);
  // Gives the holder's whole reservation back (*held becomes 0).
  void Release(int64_t* held) { TryResize(held, 0); }

 private:
  const int64_t capacity_;
  std::atomic<int64_t> used_{0};
};

}  // namespace lakepipe
