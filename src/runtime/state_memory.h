// The memory budget of a streaming flow's seen-key stores (SELECT DISTINCT and keyed
// de-duplication state) and of an incremental view's count(DISTINCT) pair store: the
// pipeline configuration `lakepipe.seenKeysMemory`
// (docs/checkpoint.md, "Memory budget"; docs/execution.md, "Settings"). Stateless.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "sql/pipeline.h"

namespace lakepipe::runtime {

// Bytes for each seen-key store's in-memory tables: `lakepipe.seenKeysMemory` as a whole
// number of bytes, or with a suffix k, m or g (KiB, MiB, GiB), at least 1 byte; absent:
// state::SeenKeyStore::kDefaultMemoryBudgetBytes. Anything else is refused naming the key.
Result<int64_t> SeenKeysMemoryBytes(const sql::PipelineSettings& settings);

}  // namespace lakepipe::runtime
