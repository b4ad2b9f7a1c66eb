#include "runtime/taken_files.h"

#include <algorithm>
#include <cstring>

#include "common/hash_mix.h"

namespace lakepipe::runtime {
namespace {

// A 64-bit hash of `data` from `seed`: 8 bytes at a time, each word mixed in.
uint64_t Hash64(std::string_view data, uint64_t seed) {
  uint64_t h = seed ^ (data.size() * 0x9E3779B97F4A7C15ULL);
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, data.data() + i, 8);
    h = Mix64(h ^ w) + 0x9E3779B97F4A7C15ULL;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, data.data() + i, data.size() - i);
  return Mix64(h ^ tail ^ (static_cast<uint64_t>(data.size() - i) << 56));
}

constexpr uint64_t kIndexSeed = 0x2545F4914F6CDD1DULL;

// The union of the sorted `known` and the digests `more` (any order), sorted, each once.
std::vector<PathDigest> MergeDigests(const std::vector<PathDigest>& known, std::vector<PathDigest> more) {
  std::sort(more.begin(), more.end());
  std::vector<PathDigest> merged;
  merged.reserve(known.size() + more.size());
  std::merge(known.begin(), known.end(), more.begin(), more.end(), std::back_inserter(merged));
  merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
  return merged;
}

}  // namespace

PathDigest DigestPath(std::string_view path) {
  return PathDigest{Hash64(path, 0x6A09E667F3BCC908ULL), Hash64(path, 0xBB67AE8584CAA73BULL)};
}

size_t TakenFiles::SlotOf(std::string_view path, uint64_t hash) const {
  size_t mask = index_.size() - 1;
  for (size_t slot = hash & mask;; slot = (slot + 1) & mask) {
    uint32_t n = index_[slot];
    if (n == 0 || PathOf(entries_[n - 1]) == path) return slot;
  }
}

void TakenFiles::Rehash(size_t slots) {
  index_.assign(slots, 0);
  size_t mask = slots - 1;
  for (size_t i = 0; i < entries_.size(); ++i) {
    size_t slot = Hash64(PathOf(entries_[i]), kIndexSeed) & mask;
    while (index_[slot] != 0) slot = (slot + 1) & mask;
    index_[slot] = static_cast<uint32_t>(i + 1);
  }
}

void TakenFiles::Reserve(size_t entries) {
  entries_.reserve(entries);
  size_t slots = std::max<size_t>(16, index_.size());
  while (slots < entries * 2) slots *= 2;
  if (slots > index_.size()) Rehash(slots);
}

bool TakenFiles::Insert(std::string_view path, int64_t mtime_micros) {
  if (!Add(path, mtime_micros)) return false;
  NoteNewest(mtime_micros);
  return true;
}

bool TakenFiles::InsertWithoutTime(std::string_view path, int64_t kept_as_of_micros) {
  return Add(path, kept_as_of_micros);
}

bool TakenFiles::Add(std::string_view path, int64_t mtime_micros) {
  // At most half the slots in use, so probes stay short.
  if ((entries_.size() + 1) * 2 > index_.size()) Rehash(std::max<size_t>(16, index_.size() * 2));
  uint64_t hash = Hash64(path, kIndexSeed);
  size_t slot = SlotOf(path, hash);
  if (index_[slot] != 0) return false;
  uint64_t offset = arena_.size();
  arena_.append(path);
  entries_.push_back({offset << 24 | static_cast<uint64_t>(path.size() & 0xFFFFFF), mtime_micros});
  index_[slot] = static_cast<uint32_t>(entries_.size());
  return true;
}

bool TakenFiles::Contains(std::string_view path) const {
  if (entries_.empty()) return false;
  return index_[SlotOf(path, Hash64(path, kIndexSeed))] != 0;
}

void TakenFiles::NoteNewest(int64_t mtime_micros) { newest_ = std::max(newest_, mtime_micros); }

int64_t TakenFiles::Horizon(int64_t max_age_micros) const {
  if (max_age_micros <= 0 || newest_ == kNoHorizon) return forgotten_before_;
  return std::max(newest_ - max_age_micros, forgotten_before_);
}

size_t TakenFiles::ForgetOlderThan(int64_t horizon, const std::function<void(std::string_view)>& forgotten,
                                   std::vector<size_t>* positions) {
  if (horizon == kNoHorizon) return 0;
  NoteForgottenBefore(horizon);
  size_t old = CountOlderThan(horizon);
  if (old == 0) return 0;
  std::string arena;
  arena.reserve(arena_.size());
  std::vector<Entry> entries;
  entries.reserve(entries_.size() - old);
  size_t next_position = 0;
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (positions != nullptr) {
      for (; next_position < positions->size() && (*positions)[next_position] <= i; ++next_position)
        (*positions)[next_position] = entries.size();
    }
    const Entry& e = entries_[i];
    std::string_view path = PathOf(e);
    if (e.mtime_micros < horizon) {
      if (forgotten) forgotten(path);
      continue;
    }
    uint64_t offset = arena.size();
    arena.append(path);
    entries.push_back({offset << 24 | (e.place & 0xFFFFFF), e.mtime_micros});
  }
  if (positions != nullptr) {
    for (; next_position < positions->size(); ++next_position) (*positions)[next_position] = entries.size();
  }
  arena.shrink_to_fit();
  arena_ = std::move(arena);
  entries_ = std::move(entries);
  size_t slots = 16;
  while (slots < entries_.size() * 2) slots *= 2;
  Rehash(slots);
  index_.shrink_to_fit();
  return old;
}

size_t TakenFiles::CountOlderThan(int64_t horizon) const {
  size_t old = 0;
  for (const Entry& e : entries_) old += e.mtime_micros < horizon;
  return old;
}

void TakenFiles::ForEach(const std::function<void(std::string_view, int64_t)>& visit) const {
  for (const Entry& e : entries_) visit(PathOf(e), e.mtime_micros);
}

int64_t TakenFiles::MemoryBytes() const {
  return static_cast<int64_t>(arena_.capacity() + entries_.capacity() * sizeof(Entry) +
                              index_.capacity() * sizeof(uint32_t));
}

void OldFiles::BeginListing() {
  if (!forgotten_.empty()) {
    known_ = MergeDigests(known_, std::move(forgotten_));
    forgotten_ = {};
  }
  present_.assign(known_.size(), false);
  added_.clear();
}

bool OldFiles::Skip(std::string_view path) {
  if (known_.empty()) return false;
  PathDigest d = DigestPath(path);
  auto it = std::lower_bound(known_.begin(), known_.end(), d);
  if (it == known_.end() || !(*it == d)) return false;
  present_[static_cast<size_t>(it - known_.begin())] = true;
  return true;
}

void OldFiles::Add(std::string_view path) { added_.push_back(DigestPath(path)); }

void OldFiles::Forgotten(std::string_view path) { forgotten_.push_back(DigestPath(path)); }

void OldFiles::EndListing() {
  bool all_present = std::find(present_.begin(), present_.end(), false) == present_.end();
  if (all_present && added_.empty()) return;
  std::vector<PathDigest> kept;
  kept.reserve(known_.size() + added_.size());
  for (size_t i = 0; i < known_.size(); ++i) {
    if (present_[i]) kept.push_back(known_[i]);
  }
  known_ = MergeDigests(kept, std::move(added_));
  present_.assign(known_.size(), true);
  added_.clear();
}

int64_t OldFiles::MemoryBytes() const {
  return static_cast<int64_t>((known_.capacity() + added_.capacity() + forgotten_.capacity()) * sizeof(PathDigest) +
                              present_.capacity() / 8);
}

}  // namespace lakepipe::runtime
