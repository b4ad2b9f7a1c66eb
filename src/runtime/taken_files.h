// TakenFiles: what one read_files source remembers of the files it has taken (read, or
// skipped by includeExistingFiles => false), each with its modification time, so that a
// listing never takes a file twice. Entries older than the source's horizon — the newest
// taken file's time minus maxFileAge (docs/continuous.md, "The file source") — can be
// forgotten: a listed file older than the horizon is not taken anyway, so the memory and
// the flow's compact file (docs/checkpoint.md, "Retention") stay bounded by the files of
// one maxFileAge, not by the flow's age.
//
// Layout (why it is not a std::set<std::string>: ~128 bytes a file, bench/file_source_benchmark.cc):
// the paths are packed one after another in one arena, each entry is 16 bytes (its
// place in the arena and its time), and an open-addressing index of 4-byte entry numbers
// finds a path by its hash. Forgetting rebuilds the three arrays without the old entries
// (linear; the flow does it when it writes a compact file).
//
// Also OldFiles: digests of the names, present in the folder at the last listing, that
// are older than the horizon and not taken (forgotten ones, and ones reported as too old),
// so the next listing skips them without a stat and reports each only once.
//
// Plain values; not thread-safe (one flow thread).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace lakepipe::runtime {

class TakenFiles {
 public:
  static constexpr int64_t kNoHorizon = std::numeric_limits<int64_t>::min();

  // Adds `path`, taken with modification time `mtime_micros`; false (and nothing changes)
  // when it is already there.
  bool Insert(std::string_view path, int64_t mtime_micros);
  // The same for a file whose time was not recorded: it is kept as if modified at
  // `kept_as_of_micros`, which does not count as a taken file's time (newest_micros()).
  bool InsertWithoutTime(std::string_view path, int64_t kept_as_of_micros);
  bool Contains(std::string_view path) const;
  size_t size() const { return entries_.size(); }
  // Makes room for `entries` in all (a loader that knows how many are coming), so that
  // the index is not rebuilt at each doubling on the way.
  void Reserve(size_t entries);

  // The newest modification time of a file taken so far (also of forgotten ones, and as
  // noted by NoteNewest); kNoHorizon before the first.
  int64_t newest_micros() const { return newest_; }
  // Raises newest_micros() to `mtime_micros` (a compact file's `newest`).
  void NoteNewest(int64_t mtime_micros);
  // newest_micros() - max_age_micros, but never before forgotten_before_micros(): files
  // older than this are not taken. kNoHorizon when nothing was taken or forgotten yet (a
  // flow's first batch takes every file) and max_age <= 0 means no limit.
  int64_t Horizon(int64_t max_age_micros) const;

  // Forgets the entries older than `horizon`, calling `forgotten(path)` for each first,
  // and keeps `horizon` as forgotten_before_micros(). Returns how many were forgotten.
  // `positions` (ascending entry numbers, such as where each segment of the source's
  // compact file ends: runtime/taken_segments.h) become the numbers they have after.
  size_t ForgetOlderThan(int64_t horizon, const std::function<void(std::string_view)>& forgotten = nullptr,
                         std::vector<size_t>* positions = nullptr);
  // How many entries are older than `horizon` (a scan of 16 bytes an entry).
  size_t CountOlderThan(int64_t horizon) const;
  // The latest horizon anything was forgotten at (kNoHorizon: none). The horizon never
  // moves back past it, even when maxFileAge is raised later: a file forgotten there
  // would otherwise be taken a second time.
  int64_t forgotten_before_micros() const { return forgotten_before_; }
  void NoteForgottenBefore(int64_t horizon) { forgotten_before_ = std::max(forgotten_before_, horizon); }

  // Every entry, in the order taken (forgetting keeps the order).
  void ForEach(const std::function<void(std::string_view path, int64_t mtime_micros)>& visit) const;
  // Entry `i` (0 <= i < size()), in the order taken.
  std::string_view PathAt(size_t i) const { return PathOf(entries_[i]); }
  int64_t MtimeAt(size_t i) const { return entries_[i].mtime_micros; }

  // Bytes of memory held (the arrays' capacities).
  int64_t MemoryBytes() const;

 private:
  struct Entry {
    uint64_t place;  // offset in arena_ << 24 | length (paths up to 16 MiB)
    int64_t mtime_micros;
  };
  std::string_view PathOf(const Entry& e) const {
    return std::string_view(arena_).substr(e.place >> 24, e.place & 0xFFFFFF);
  }
  // The index slot of `path`: its entry's slot, or the empty slot where it would go.
  size_t SlotOf(std::string_view path, uint64_t hash) const;
  void Rehash(size_t slots);
  bool Add(std::string_view path, int64_t mtime_micros);

  std::string arena_;
  std::vector<Entry> entries_;
  std::vector<uint32_t> index_;  // entry number + 1; 0: empty
  int64_t newest_ = kNoHorizon;
  int64_t forgotten_before_ = kNoHorizon;
};

// 128-bit digest of a file's relative path (two independent 64-bit hashes).
struct PathDigest {
  uint64_t a = 0, b = 0;
  bool operator==(const PathDigest& o) const { return a == o.a && b == o.b; }
  bool operator<(const PathDigest& o) const { return a != o.a ? a < o.a : b < o.b; }
};
PathDigest DigestPath(std::string_view path);

// Names older than the horizon that a listing met and did not take, as digests. A listing
// runs BeginListing(); then Skip(path) for each name, before any stat: true when the name
// is known old (it is marked present, and the walk passes it by); Add(path) for each new
// name found older than the horizon; EndListing() keeps the names present. Forgotten(path)
// (between listings) notes a name TakenFiles just forgot, so the next listing passes it by
// silently. So what is kept is bounded by the folder's content, not by its history.
class OldFiles {
 public:
  void BeginListing();
  bool Skip(std::string_view path);
  void Add(std::string_view path);
  void EndListing();
  void Forgotten(std::string_view path);
  size_t size() const { return known_.size(); }
  int64_t MemoryBytes() const;

 private:
  std::vector<PathDigest> known_;  // sorted
  std::vector<bool> present_;      // parallel to known_: met by the current listing
  std::vector<PathDigest> added_;
  std::vector<PathDigest> forgotten_;
};

}  // namespace lakepipe::runtime
