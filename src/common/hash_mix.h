// Mix64: MurmurHash3's 64-bit finalizer (fmix64), which spreads every bit of its input over
// the whole word. The hash tables of several modules (the Parquet writer's dictionary, the
// operators' key tables, the file source's taken files) end their hashes with it. Header
// only; a pure function, safe from any thread.
#pragma once

#include <cstdint>

namespace lakepipe {

inline uint64_t Mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace lakepipe
