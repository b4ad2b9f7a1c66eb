// KeyTable: an open-addressing hash table from encoded keys (KeyEncoder) to dense ids
// 0, 1, 2, ... in first-seen order; the keys' bytes live in one arena. The building block
// of hash aggregation (group ids), hash join (build keys) and in-memory deduplication.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lakepipe::operators {

class KeyTable {
 public:
  KeyTable();
  // The id of `key`, inserting it with the next id when absent; *inserted says which.
  int32_t FindOrInsert(std::string_view key, bool* inserted);
  // The id of `key`, or -1.
  int32_t Find(std::string_view key) const;
  int32_t size() const { return static_cast<int32_t>(offsets_.size()); }
  std::string_view key(int32_t id) const {
    return std::string_view(arena_.data() + offsets_[static_cast<size_t>(id)], lengths_[static_cast<size_t>(id)]);
  }
  int64_t MemoryBytes() const;

 private:
  void Grow();
  // Per slot: the key's hash in the high 32 bits and id + 1 in the low 32 (0 = empty), so
  // most probes touch only this array.
  std::vector<uint64_t> slots_;
  std::vector<uint64_t> hashes_;  // per id, for Grow
  std::vector<uint64_t> offsets_;
  std::vector<uint32_t> lengths_;
  std::string arena_;
  uint64_t mask_;
};

}  // namespace lakepipe::operators
