// What RocksDB holds in memory for every state store of the process (the shared cache and
// memtables of state/rocks_util.h), for /metrics. Thread-safety: callable from any thread.
#pragma once

#include <cstdint>

namespace lakepipe::state {

struct StateDbMemory {
  int64_t cache_bytes = 0;     // the shared cache: data, index and filter blocks, memtables charged to it
  int64_t memtable_bytes = 0;  // the memtables of all state DBs (also counted in cache_bytes)
};
StateDbMemory ReadStateDbMemory();

}  // namespace lakepipe::state
