// DigestTable: a flat open-addressing hash table of 128-bit key digests, the in-memory
// part of SeenKeyStore (internal to src/state). Per entry it holds a flags byte and, once
// EnableTimes() was called, two int64 values (an event time and a stored event time).
//
// No node per key: the digests, flags and times are parallel arrays (16 + 1 bytes per
// slot, + 16 with times), so growth is one pass and destruction is a few frees. Digests
// are already uniformly distributed, so their bits are the hash: the home slot is the top
// bits of the digest's first 8 bytes read big-endian — the digest's order as a RocksDB key
// (bytewise). With linear probing an entry sits at or shortly after its home, so walking
// the slots yields the entries almost in key order: SortedSlots() sorts them in about
// linear time, which is what writing them as one sorted table file needs. Two digests
// with the same first 8 bytes (the same probe sequence) are still distinct entries.
//
// Slots are indexes in [0, slot_count()); an occupied slot has non-zero flags (kUsed is
// always set). Insert and Erase may move entries: a slot index is valid until the next
// Insert or Erase. Thread-safety: none (one flow thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

namespace lakepipe::state {

struct Digest128 {
  uint64_t part[2];  // in memory order; stored as these 16 bytes
  bool operator==(const Digest128& o) const { return part[0] == o.part[0] && part[1] == o.part[1]; }
};

class DigestTable {
 public:
  static constexpr size_t kNone = SIZE_MAX;
  static constexpr uint8_t kUsed = 1;  // set in every occupied slot's flags

  DigestTable() = default;
  DigestTable(const DigestTable&) = delete;
  DigestTable& operator=(const DigestTable&) = delete;
  DigestTable(DigestTable&& o) noexcept { *this = std::move(o); }
  DigestTable& operator=(DigestTable&& o) noexcept;

  // The slot holding `d`, or kNone.
  size_t Find(const Digest128& d) const;
  // The slot holding `d`, inserting it (flags kUsed, times 0) when absent; `*added` says which.
  size_t FindOrInsert(const Digest128& d, bool* added);
  // Starts loading the memory of `d`'s home slot into the cache (a later Find or
  // FindOrInsert of `d` then rarely waits for it). No effect on the contents.
  void Prefetch(const Digest128& d) const {
    if (capacity_ == 0) return;
    size_t home = Home(d);
    __builtin_prefetch(&digests_[home]);
    __builtin_prefetch(&flags_[home]);
  }
  // Grows (if needed) so that `n` entries fit without growing again.
  void Reserve(size_t n);
  // Removes the entry in `slot` (occupied). Entries after it may move down, one of them
  // into `slot` itself: check `slot` again when erasing while walking the slots.
  void Erase(size_t slot);
  // Drops every entry (times are disabled again). The arrays are kept when they have at
  // most `keep_slots` slots (a flow's next batch reuses them), else freed.
  void Clear(size_t keep_slots = 0);
  // Gives every entry (present and future) the two time values (zero for existing ones).
  void EnableTimes();
  bool has_times() const { return want_times_; }

  size_t size() const { return size_; }
  size_t slot_count() const { return capacity_; }
  bool used(size_t slot) const { return flags_[slot] != 0; }
  const Digest128& digest(size_t slot) const { return digests_[slot]; }
  uint8_t& flags(size_t slot) { return flags_[slot]; }
  uint8_t flags(size_t slot) const { return flags_[slot]; }
  // The times of a slot (EnableTimes first).
  int64_t& time(size_t slot) { return times_[2 * slot]; }
  int64_t& stored_time(size_t slot) { return times_[2 * slot + 1]; }
  int64_t time(size_t slot) const { return times_[2 * slot]; }
  int64_t stored_time(size_t slot) const { return times_[2 * slot + 1]; }

  // The occupied slots in ascending key order (the digest's 16 bytes compared bytewise).
  std::vector<uint32_t> SortedSlots() const;
  // Bytes of the arrays.
  int64_t MemoryBytes() const;

  // The bytewise order of two digests (as their 16 stored bytes).
  static bool KeyLess(const Digest128& a, const Digest128& b);

 private:
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  size_t Home(const Digest128& d) const { return static_cast<size_t>(__builtin_bswap64(d.part[0]) >> shift_); }
  void Grow();

  std::unique_ptr<Digest128[], Free> digests_;
  std::unique_ptr<uint8_t[], Free> flags_;
  std::unique_ptr<int64_t[], Free> times_;  // 2 per slot, or null
  size_t capacity_ = 0;  // a power of two, or 0
  int shift_ = 64;       // 64 - log2(capacity_)
  size_t size_ = 0;
  bool want_times_ = false;  // EnableTimes() was called (times_ exists once there are slots)
};

}  // namespace lakepipe::state
