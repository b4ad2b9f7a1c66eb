#include "operators/key_table.h"

#include <cstring>

#include "operators/key_encoder.h"

namespace lakepipe::operators {

namespace {
inline uint64_t Tag(uint64_t hash) { return hash & 0xFFFFFFFF00000000ULL; }
}  // namespace

KeyTable::KeyTable() : slots_(1024, 0), mask_(1023) {}

int32_t KeyTable::Find(std::string_view key) const {
  uint64_t h = HashKey(key);
  for (uint64_t pos = h & mask_;; pos = (pos + 1) & mask_) {
    uint64_t slot = slots_[pos];
    if (slot == 0) return -1;
    if (Tag(slot) == Tag(h)) {
      int32_t id = static_cast<int32_t>(slot & 0xFFFFFFFFu) - 1;
      if (this->key(id) == key) return id;
    }
  }
}

int32_t KeyTable::FindOrInsert(std::string_view key, bool* inserted) {
  uint64_t h = HashKey(key);
  uint64_t pos = h & mask_;
  for (;; pos = (pos + 1) & mask_) {
    uint64_t slot = slots_[pos];
    if (slot == 0) break;
    if (Tag(slot) == Tag(h)) {
      int32_t id = static_cast<int32_t>(slot & 0xFFFFFFFFu) - 1;
      if (this->key(id) == key) {
        *inserted = false;
        return id;
      }
    }
  }
  int32_t id = size();
  slots_[pos] = Tag(h) | static_cast<uint64_t>(id + 1);
  hashes_.push_back(h);
  offsets_.push_back(arena_.size());
  lengths_.push_back(static_cast<uint32_t>(key.size()));
  arena_.append(key);
  *inserted = true;
  if (static_cast<uint64_t>(size()) * 2 > slots_.size()) Grow();
  return id;
}

void KeyTable::Grow() {
  std::vector<uint64_t> next(slots_.size() * 2, 0);
  uint64_t mask = next.size() - 1;
  for (int32_t id = 0; id < size(); ++id) {
    uint64_t h = hashes_[static_cast<size_t>(id)];
    uint64_t pos = h & mask;
    while (next[pos] != 0) pos = (pos + 1) & mask;
    next[pos] = Tag(h) | static_cast<uint64_t>(id + 1);
  }
  slots_ = std::move(next);
  mask_ = mask;
}

int64_t KeyTable::MemoryBytes() const {
  return static_cast<int64_t>(slots_.size() * sizeof(uint64_t) + hashes_.size() * 8 + offsets_.size() * 8 +
                              lengths_.size() * 4 + arena_.size());
}

}  // namespace lakepipe::operators
