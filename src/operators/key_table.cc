#include "operators/key_table.h"

#include <cstring>

#include "operators/key_encoder.h"

namespace lakepipe::operators {

KeyTable::KeyTable() : slots_(1024, -1), mask_(1023) {}

int32_t KeyTable::Find(std::string_view key) const {
  uint64_t h = HashKey(key);
  for (uint64_t pos = h & mask_;; pos = (pos + 1) & mask_) {
    int32_t id = slots_[pos];
    if (id < 0) return -1;
    if (hashes_[static_cast<size_t>(id)] == h && this->key(id) == key) return id;
  }
}

int32_t KeyTable::FindOrInsert(std::string_view key, bool* inserted) {
  uint64_t h = HashKey(key);
  uint64_t pos = h & mask_;
  for (;; pos = (pos + 1) & mask_) {
    int32_t id = slots_[pos];
    if (id < 0) break;
    if (hashes_[static_cast<size_t>(id)] == h && this->key(id) == key) {
      *inserted = false;
      return id;
    }
  }
  int32_t id = size();
  slots_[pos] = id;
  hashes_.push_back(h);
  offsets_.push_back(arena_.size());
  lengths_.push_back(static_cast<uint32_t>(key.size()));
  arena_.append(key);
  *inserted = true;
  if (static_cast<uint64_t>(size()) * 2 > slots_.size()) Grow();
  return id;
}

void KeyTable::Grow() {
  std::vector<int32_t> next(slots_.size() * 2, -1);
  uint64_t mask = next.size() - 1;
  for (int32_t id = 0; id < size(); ++id) {
    uint64_t pos = hashes_[static_cast<size_t>(id)] & mask;
    while (next[pos] >= 0) pos = (pos + 1) & mask;
    next[pos] = id;
  }
  slots_ = std::move(next);
  mask_ = mask;
}

int64_t KeyTable::MemoryBytes() const {
  return static_cast<int64_t>(slots_.size() * sizeof(int32_t) + hashes_.size() * 8 + offsets_.size() * 8 +
                              lengths_.size() * 4 + arena_.size());
}

}  // namespace lakepipe::operators
