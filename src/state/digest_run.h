// DigestRun: a sorted run of 128-bit digests in a file of its own, the part of a
// SeenKeyStore batch's pending keys that did not fit its memory budget (internal to
// src/state; the layout is in docs/checkpoint.md, "Seen keys", "Memory budget").
//
// The file is the digests' 16 bytes each, in ascending key order (DigestTable::KeyLess),
// nothing else: it only lives until the batch commits or is abandoned, and a process that
// opens the store deletes any it finds. What stays in memory per run is small and fixed
// per key: a blocked Bloom filter (DigestFilter: about 10 bits per digest, one 64-byte
// block per lookup) and the first digest of every 4 KiB block of the file (a sparse index). A
// lookup that the filter cannot rule out reads one block.
//
// DigestRunReader streams a run's digests in order (for the k-way merge of the commit).
// Thread-safety: none (one flow thread). Call order: Write, then MayContain/Contains and
// readers any number of times, then Remove (or let the destructor leave the file for the
// owner to delete).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "state/digest_filter.h"
#include "state/digest_table.h"

namespace lakepipe::state {

class DigestRun {
 public:
  static constexpr size_t kDigestsPerBlock = 256;  // 4 KiB of file per sparse-index entry

  // Writes the occupied slots `sorted_slots` of `table` (in key order) to `path` and
  // returns the run.
  static Result<std::unique_ptr<DigestRun>> Write(const std::string& path, const DigestTable& table,
                                                  const std::vector<uint32_t>& sorted_slots);
  // Writes the union of `inputs` (disjoint runs) to `path`, merged in key order.
  static Result<std::unique_ptr<DigestRun>> Merge(const std::string& path, const std::vector<const DigestRun*>& inputs);
  ~DigestRun();

  // False: `d` is certainly not in the run. True: it may be (Contains says).
  bool MayContain(const Digest128& d) const { return filter_.MayContain(d); }
  // Asks the CPU to fetch the filter block of `d` (a hint; for probes a few keys ahead).
  void Prefetch(const Digest128& d) const { filter_.Prefetch(d); }
  // Whether `d` is in the run: one block read (callers check MayContain first).
  Result<bool> Contains(const Digest128& d) const;

  int64_t size() const { return count_; }
  // How many merges made this run (0: written from a table; a merge of runs of level L
  // is of level L + 1). SeenKeyStore merges runs of equal level.
  int level() const { return level_; }
  const std::string& path() const { return path_; }
  // The position (digest index) of the first digest of the block that holds the first
  // digest at or above `d`: a reader started there skips the blocks wholly below `d`.
  int64_t BlockStartFor(const Digest128& d) const;
  // Bytes of the filter and the sparse index.
  int64_t MemoryBytes() const;
  // Deletes the file.
  void Remove();

 private:
  friend class DigestRunReader;
  DigestRun() = default;
  // Creates the file, sizes the filter and index for `count` digests.
  static Result<std::unique_ptr<DigestRun>> Create(const std::string& path, int64_t count);
  // Appends digests in key order (buffered; Flush at the end).
  Status Append(const Digest128& d, std::vector<Digest128>* buffer);
  Status Flush(std::vector<Digest128>* buffer);

  std::string path_;
  int fd_ = -1;
  int64_t count_ = 0;
  int level_ = 0;
  DigestFilter filter_;
  std::vector<Digest128> fences_;  // the first digest of each block of the file
};

// Reads a run's digests in key order, a buffer at a time.
class DigestRunReader {
 public:
  explicit DigestRunReader(const DigestRun& run) : run_(run) {}
  // Starts at digest `first` (a position, e.g. BlockStartFor) instead of the first.
  DigestRunReader(const DigestRun& run, int64_t first) : run_(run), read_(first) {}
  // The next digest into *d; false at the end. Errors on a short or failed read.
  Result<bool> Next(Digest128* d);

 private:
  const DigestRun& run_;
  std::vector<Digest128> buffer_;
  size_t at_ = 0;
  int64_t read_ = 0;  // digests read from the file so far
};

}  // namespace lakepipe::state
