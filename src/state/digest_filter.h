// DigestFilter: a blocked Bloom filter of 128-bit digests (internal to src/state), the
// in-memory filter of a spilled DigestRun and of a SeenKeyStore's stored keys.
//
// About 10 bits per digest sized for, 7 bits set per digest, all in one 64-byte block, so a
// lookup touches one cache line (~1% false positives when filled to what it was sized for,
// fewer below). The digests are uniformly distributed already: the block comes from the
// digest's second half and the bits from its first, with no further hashing. A filter
// answers "certainly absent" or "maybe present"; digests cannot be taken out (a removed
// digest only costs false positives), so its owner rebuilds it when too many were.
//
// Thread-safety: none; Add and MayContain from one thread (or MayContain from several
// once no Add runs). Call order: Reset (sizes and clears), then Add / MayContain.
#pragma once

#include <cstdint>
#include <vector>

#include "state/digest_table.h"

namespace lakepipe::state {

class DigestFilter {
 public:
  // Empties the filter and sizes it for `digests` digests (at least one block).
  void Reset(int64_t digests);
  // Frees the filter's memory (it then holds nothing: call Reset before using it again).
  void Clear();
  void Add(const Digest128& d) {
    uint64_t* block = &words_[Block(d) * kWordsPerBlock];
    uint64_t bits = d.part[0];
    for (int i = 0; i < kProbes; ++i, bits >>= 9) block[(bits & 511) >> 6] |= 1ULL << (bits & 63);
  }
  // False: `d` was never added. True: it may have been.
  bool MayContain(const Digest128& d) const {
    const uint64_t* block = &words_[Block(d) * kWordsPerBlock];
    uint64_t bits = d.part[0];
    for (int i = 0; i < kProbes; ++i, bits >>= 9) {
      if ((block[(bits & 511) >> 6] & (1ULL << (bits & 63))) == 0) return false;
    }
    return true;
  }
  // Asks the CPU to fetch the block of `d` (a hint, for probes a few keys ahead).
  void Prefetch(const Digest128& d) const { __builtin_prefetch(&words_[Block(d) * kWordsPerBlock]); }
  // The digests it was sized for (Reset).
  int64_t sized_for() const { return sized_for_; }
  int64_t MemoryBytes() const { return static_cast<int64_t>(words_.capacity() * sizeof(uint64_t)); }
  // The bytes Reset(digests) allocates.
  static int64_t BytesFor(int64_t digests);

 private:
  static constexpr int kProbes = 7;
  static constexpr uint64_t kBitsPerDigest = 10;
  static constexpr uint64_t kWordsPerBlock = 8;  // 512 bits
  static uint64_t BlocksFor(int64_t digests);
  uint64_t Block(const Digest128& d) const {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(d.part[1]) * blocks_) >> 64);
  }

  std::vector<uint64_t> words_;
  uint64_t blocks_ = 0;
  int64_t sized_for_ = 0;
};

// DigestFilters chained, for a set that keeps growing (a scalable Bloom filter): digests go
// to the newest filter, and once it has taken its intake Grow starts a new one whose
// intake is as many digests as the chain holds (the chain doubles), sized for twice that,
// so it is at most half full (~0.1% false positives). A lookup asks every filter; false
// positives add up, ~1% after ten doublings, and the memory stays about that of one filter
// sized for twice the digests held. Growing never reads the digests already in: the owner
// scans its store once for the first filter and only adds from then on (rebuilding it at
// each doubling was a full scan inside a batch: seconds at millions of keys, longer as the
// set grows).
//
// Thread-safety and call order as DigestFilter: Reset, then Grow before each group of Adds.
class GrowingDigestFilter {
 public:
  // Empties the chain: one filter that takes `intake` digests, sized for `sized_for`.
  void Reset(int64_t intake, int64_t sized_for);
  // Frees everything (empty() after).
  void Clear();
  bool empty() const { return links_.empty(); }
  // The bytes Grow(more, dense) would allocate (0: the newest filter has room for `more`).
  int64_t BytesToGrow(int64_t more, bool dense = false) const;
  // Makes room for `more` digests: a new filter when the newest has not enough left. A
  // dense one (for an owner short of memory) takes a quarter of what the chain holds (or
  // `more`) and is sized for just that: a fifth of the memory, ~1% false positives once full.
  void Grow(int64_t more, bool dense = false);
  // Adds to the newest filter (past its intake too: then only false positives climb).
  void Add(const Digest128& d) {
    links_.back().filter.Add(d);
    ++links_.back().added;
  }
  bool MayContain(const Digest128& d) const {
    for (const Link& l : links_)
      if (l.filter.MayContain(d)) return true;
    return false;
  }
  void Prefetch(const Digest128& d) const {
    for (const Link& l : links_) l.filter.Prefetch(d);
  }
  int64_t added() const;      // digests added, over every filter
  int64_t sized_for() const;  // what the filters were sized for, together
  size_t filters() const { return links_.size(); }
  int64_t MemoryBytes() const;

 private:
  struct Link {
    DigestFilter filter;
    int64_t intake = 0;
    int64_t added = 0;
  };
  // The intake of the filter Grow(more, dense) starts; it is sized for twice that, or
  // (dense) for just that.
  int64_t NextIntake(int64_t more, bool dense) const;
  std::vector<Link> links_;
};

}  // namespace lakepipe::state
