// StateSize: how big a durable operator state is, for the event log and /metrics. Filled
// by the state stores (SeenKeyStore, AggregateStateStore); a plain value, thread-safe to
// copy.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace lakepipe::state {

struct StateSize {
  int64_t keys = 0;          // entries: seen keys of a DISTINCT, groups of an aggregate
  int64_t disk_bytes = 0;    // every file under the store's folder (tables, log, manifest)
  int64_t memory_bytes = 0;  // RocksDB write buffers plus the store's pending in-memory data
};

// Total size of the regular files directly under `dir` (a RocksDB folder is flat).
Result<int64_t> FolderBytes(const std::string& dir);

}  // namespace lakepipe::state
