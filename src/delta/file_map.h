// FileMap: the active files (and tombstones) of a table state, keyed by FileKey, in key
// order, as a copy-on-write structure so that the state of version v+1 shares almost all
// of its memory with the state of version v.
//
// Why: a continuous pipeline commits a version per micro-batch, and each commit needs the
// table state of the new version (DeltaTable::Latest). A std::map copied per version made
// every batch cost O(files in the table), so batches grew slower the longer a pipeline
// ran. Here entries are immutable and shared (shared_ptr), grouped into sorted chunks of
// at most kMaxChunk entries, themselves shared: copying a map copies one pointer per chunk,
// and applying a commit rebuilds only the chunks its keys fall into. The cost of a commit
// is O(changes * chunk size + files / chunk size), not O(files).
//
// Thread-safety: a FileMap is a value; distinct FileMap objects may be used from different
// threads even when they share chunks (shared chunks are never modified). One object is
// not safe to modify while another thread reads it, like any standard container.
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lakepipe::delta {

template <typename V>
class FileMap {
 public:
  using Entry = std::pair<const std::string, V>;
  // One change for Apply: the key's new value, or nullopt to erase it.
  using Change = std::pair<std::string, std::optional<V>>;

  FileMap() = default;
  // From an ordinary map (small states built by hand: a commit's own files).
  explicit FileMap(const std::map<std::string, V>& entries) {
    std::vector<Change> changes;
    changes.reserve(entries.size());
    for (const auto& [k, v] : entries) changes.emplace_back(k, v);
    Apply(std::move(changes));
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t count(std::string_view key) const { return Find(key) != nullptr ? 1 : 0; }
  void clear() {
    chunks_.clear();
    size_ = 0;
  }

  // The value of `key`, or nullptr.
  const V* Find(std::string_view key) const {
    if (chunks_.empty()) return nullptr;
    const Chunk& c = *chunks_[ChunkFor(key)];
    auto it = std::lower_bound(c.begin(), c.end(), key,
                               [](const EntryPtr& e, std::string_view k) { return e->first < k; });
    if (it == c.end() || (*it)->first != key) return nullptr;
    return &(*it)->second;
  }

  // Applies changes (in any order; for a key given twice the last one counts): sets each
  // key with a value, erases each key without one (a missing key is no error).
  void Apply(std::vector<Change> changes) {
    if (changes.empty()) return;
    std::stable_sort(changes.begin(), changes.end(),
                     [](const Change& a, const Change& b) { return a.first < b.first; });
    // Last change of each key wins.
    std::vector<Change> unique;
    unique.reserve(changes.size());
    for (auto& c : changes) {
      if (!unique.empty() && unique.back().first == c.first) unique.back() = std::move(c);
      else unique.push_back(std::move(c));
    }
    std::vector<ChunkPtr> out;
    out.reserve(chunks_.size() + 1);
    size_t next = 0;  // first change not yet applied
    size_t total = 0;
    if (chunks_.empty()) {
      Chunk merged;
      MergeInto(Chunk(), unique, 0, unique.size(), &merged);
      total += Emit(std::move(merged), &out);
    }
    for (size_t ci = 0; ci < chunks_.size(); ++ci) {
      // Chunk ci owns the keys below the next chunk's first key (the first chunk also
      // those below its own first key).
      size_t end = unique.size();
      if (ci + 1 < chunks_.size()) {
        const std::string& bound = chunks_[ci + 1]->front()->first;
        end = static_cast<size_t>(
            std::lower_bound(unique.begin() + static_cast<std::ptrdiff_t>(next), unique.end(), bound,
                             [](const Change& c, const std::string& b) { return c.first < b; }) -
            unique.begin());
      }
      if (end == next) {
        total += chunks_[ci]->size();
        out.push_back(chunks_[ci]);
        continue;
      }
      Chunk merged;
      MergeInto(*chunks_[ci], unique, next, end, &merged);
      next = end;
      total += Emit(std::move(merged), &out);
    }
    chunks_ = std::move(out);
    size_ = total;
  }
  void Set(std::string key, V value) {
    std::vector<Change> one;
    one.emplace_back(std::move(key), std::move(value));
    Apply(std::move(one));
  }
  void Erase(std::string key) {
    std::vector<Change> one;
    one.emplace_back(std::move(key), std::nullopt);
    Apply(std::move(one));
  }

  // Forward iteration in key order; dereferences to `const std::pair<const std::string, V>&`.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Entry;
    using difference_type = std::ptrdiff_t;
    using pointer = const Entry*;
    using reference = const Entry&;
    const Entry& operator*() const { return *(*map_->chunks_[chunk_])[pos_]; }
    const Entry* operator->() const { return &**this; }
    const_iterator& operator++() {
      if (++pos_ == map_->chunks_[chunk_]->size()) {
        ++chunk_;
        pos_ = 0;
      }
      return *this;
    }
    bool operator==(const const_iterator& o) const { return chunk_ == o.chunk_ && pos_ == o.pos_; }
    bool operator!=(const const_iterator& o) const { return !(*this == o); }

   private:
    friend class FileMap;
    const_iterator(const FileMap* map, size_t chunk, size_t pos) : map_(map), chunk_(chunk), pos_(pos) {}
    const FileMap* map_;
    size_t chunk_;
    size_t pos_;
  };
  const_iterator begin() const { return const_iterator(this, 0, 0); }
  const_iterator end() const { return const_iterator(this, chunks_.size(), 0); }

  // Chunks shared with `other` (tests: a new version must share what it did not change).
  size_t SharedChunks(const FileMap& other) const {
    size_t n = 0;
    for (const auto& c : chunks_)
      for (const auto& o : other.chunks_)
        if (c == o) ++n;
    return n;
  }
  size_t num_chunks() const { return chunks_.size(); }

 private:
  static constexpr size_t kTargetChunk = 128;
  static constexpr size_t kMaxChunk = 256;
  using EntryPtr = std::shared_ptr<const Entry>;
  using Chunk = std::vector<EntryPtr>;  // sorted by key, never empty once published
  using ChunkPtr = std::shared_ptr<const Chunk>;

  size_t ChunkFor(std::string_view key) const {
    // The last chunk whose first key is <= key (or the first chunk).
    auto it = std::upper_bound(chunks_.begin(), chunks_.end(), key,
                               [](std::string_view k, const ChunkPtr& c) { return k < c->front()->first; });
    return it == chunks_.begin() ? 0 : static_cast<size_t>(it - chunks_.begin()) - 1;
  }

  // Merges the sorted entries of `base` with changes [from, to) into `out`.
  static void MergeInto(const Chunk& base, std::vector<Change>& changes, size_t from, size_t to, Chunk* out) {
    out->reserve(base.size() + (to - from));
    size_t i = 0;
    size_t j = from;
    while (i < base.size() || j < to) {
      if (j == to || (i < base.size() && base[i]->first < changes[j].first)) {
        out->push_back(base[i++]);
        continue;
      }
      if (i < base.size() && base[i]->first == changes[j].first) ++i;  // replaced or erased
      Change& c = changes[j++];
      if (c.second) out->push_back(std::make_shared<const Entry>(std::move(c.first), std::move(*c.second)));
    }
  }

  // Appends `merged` to `out` as chunks of at most kMaxChunk entries (an empty one is
  // dropped). Returns the number of entries.
  static size_t Emit(Chunk merged, std::vector<ChunkPtr>* out) {
    size_t n = merged.size();
    if (n == 0) return 0;
    if (n <= kMaxChunk) {
      out->push_back(std::make_shared<const Chunk>(std::move(merged)));
      return n;
    }
    size_t pieces = (n + kTargetChunk - 1) / kTargetChunk;
    for (size_t p = 0; p < pieces; ++p) {
      size_t b = n * p / pieces, e = n * (p + 1) / pieces;
      out->push_back(std::make_shared<const Chunk>(merged.begin() + static_cast<std::ptrdiff_t>(b),
                                                   merged.begin() + static_cast<std::ptrdiff_t>(e)));
    }
    return n;
  }

  std::vector<ChunkPtr> chunks_;
  size_t size_ = 0;
};

}  // namespace lakepipe::delta
