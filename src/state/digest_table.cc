#include "state/digest_table.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace lakepipe::state {
namespace {

constexpr size_t kMinCapacity = 1024;

template <typename T>
T* Calloc(size_t n) {
  // calloc: large arrays come from fresh zeroed pages (no memset pass over them).
  void* p = std::calloc(n, sizeof(T));
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<T*>(p);
}

inline uint64_t BigEndian(uint64_t v) { return __builtin_bswap64(v); }

}  // namespace

DigestTable& DigestTable::operator=(DigestTable&& o) noexcept {
  digests_ = std::move(o.digests_);
  flags_ = std::move(o.flags_);
  times_ = std::move(o.times_);
  capacity_ = o.capacity_;
  shift_ = o.shift_;
  size_ = o.size_;
  want_times_ = o.want_times_;
  o.want_times_ = false;
  o.capacity_ = 0;
  o.shift_ = 64;
  o.size_ = 0;
  return *this;
}

bool DigestTable::KeyLess(const Digest128& a, const Digest128& b) {
  uint64_t a0 = BigEndian(a.part[0]), b0 = BigEndian(b.part[0]);
  if (a0 != b0) return a0 < b0;
  return BigEndian(a.part[1]) < BigEndian(b.part[1]);
}


size_t DigestTable::Find(const Digest128& d) const {
  if (capacity_ == 0) return kNone;
  const size_t mask = capacity_ - 1;
  for (size_t i = Home(d);; i = (i + 1) & mask) {
    if (flags_[i] == 0) return kNone;
    if (digests_[i] == d) return i;
  }
}

size_t DigestTable::FindOrInsert(const Digest128& d, bool* added) {
  // At most 3/4 full: linear probing stays short and there is always an empty slot.
  if ((size_ + 1) * 4 > capacity_ * 3) Grow();
  const size_t mask = capacity_ - 1;
  size_t i = Home(d);
  for (; flags_[i] != 0; i = (i + 1) & mask) {
    if (digests_[i] == d) {
      *added = false;
      return i;
    }
  }
  digests_[i] = d;
  flags_[i] = kUsed;
  if (times_) times_[2 * i] = times_[2 * i + 1] = 0;
  ++size_;
  *added = true;
  return i;
}

void DigestTable::Reserve(size_t n) {
  while (n * 4 > capacity_ * 3) Grow();
}

void DigestTable::Erase(size_t slot) {
  // Backward-shift deletion: no tombstones. Each later entry of the run moves into the
  // hole unless its home lies cyclically in (hole, j] (moving it would put it before its home).
  const size_t mask = capacity_ - 1;
  size_t hole = slot;
  for (size_t j = (slot + 1) & mask; flags_[j] != 0; j = (j + 1) & mask) {
    size_t h = Home(digests_[j]);
    bool stays = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
    if (stays) continue;
    digests_[hole] = digests_[j];
    flags_[hole] = flags_[j];
    if (times_) {
      times_[2 * hole] = times_[2 * j];
      times_[2 * hole + 1] = times_[2 * j + 1];
    }
    hole = j;
  }
  flags_[hole] = 0;
  --size_;
}

void DigestTable::Clear(size_t keep_slots) {
  want_times_ = false;
  if (capacity_ > 0 && capacity_ <= keep_slots) {
    std::memset(flags_.get(), 0, capacity_);
    times_.reset();
    size_ = 0;
    return;
  }
  digests_.reset();
  flags_.reset();
  times_.reset();
  capacity_ = 0;
  shift_ = 64;
  size_ = 0;
  want_times_ = false;
}

void DigestTable::EnableTimes() {
  want_times_ = true;
  if (!times_ && capacity_ > 0) times_.reset(Calloc<int64_t>(2 * capacity_));
}

void DigestTable::Grow() {
  size_t capacity = capacity_ == 0 ? kMinCapacity : capacity_ * 2;
  int shift = 64 - __builtin_ctzll(capacity);
  std::unique_ptr<Digest128[], Free> digests(Calloc<Digest128>(capacity));
  std::unique_ptr<uint8_t[], Free> flags(Calloc<uint8_t>(capacity));
  std::unique_ptr<int64_t[], Free> times;
  if (want_times_) times.reset(Calloc<int64_t>(2 * capacity));
  const size_t mask = capacity - 1;
  // Old slots are walked in (almost) key order, so the new homes come in ascending order:
  // the inserts sweep the new arrays instead of jumping around them.
  for (size_t s = 0; s < capacity_; ++s) {
    if (flags_[s] == 0) continue;
    const Digest128& d = digests_[s];
    size_t i = static_cast<size_t>(BigEndian(d.part[0]) >> shift);
    while (flags[i] != 0) i = (i + 1) & mask;
    digests[i] = d;
    flags[i] = flags_[s];
    if (times_) {
      times[2 * i] = times_[2 * s];
      times[2 * i + 1] = times_[2 * s + 1];
    }
  }
  digests_ = std::move(digests);
  flags_ = std::move(flags);
  times_ = std::move(times);
  capacity_ = capacity;
  shift_ = shift;
}

std::vector<uint32_t> DigestTable::SortedSlots() const {
  std::vector<uint32_t> out;
  out.reserve(size_);
  if (size_ == 0) return out;
  // Before the first empty slot, entries whose home is after their slot wrapped around
  // from the end of the table: they belong last.
  size_t first_empty = 0;
  while (flags_[first_empty] != 0) ++first_empty;
  std::vector<uint32_t> wrapped;
  for (size_t s = 0; s < first_empty; ++s) {
    if (Home(digests_[s]) > s) wrapped.push_back(static_cast<uint32_t>(s));
    else out.push_back(static_cast<uint32_t>(s));
  }
  for (size_t s = first_empty; s < capacity_; ++s) {
    if (flags_[s] != 0) out.push_back(static_cast<uint32_t>(s));
  }
  out.insert(out.end(), wrapped.begin(), wrapped.end());
  // Insertion sort: an entry is out of order only within its run of occupied slots, by
  // about its distance from home, so with uniform digests this is close to linear. Long
  // runs (digests crowded by design, not by hashing) fall back to a full sort.
  auto less = [this](uint32_t a, uint32_t b) { return KeyLess(digests_[a], digests_[b]); };
  size_t budget = 8 * out.size() + 1024;
  for (size_t i = 1; i < out.size(); ++i) {
    uint32_t v = out[i];
    size_t j = i;
    while (j > 0 && less(v, out[j - 1])) {
      out[j] = out[j - 1];
      --j;
    }
    out[j] = v;
    budget -= std::min(budget, i - j);
    if (budget == 0) {
      std::sort(out.begin(), out.end(), less);
      break;
    }
  }
  return out;
}

int64_t DigestTable::MemoryBytes() const {
  return static_cast<int64_t>(capacity_ * (sizeof(Digest128) + 1 + (times_ ? 2 * sizeof(int64_t) : 0)));
}

}  // namespace lakepipe::state
