// The memory budget of a pipeline's seen-key stores (SELECT DISTINCT and keyed
// de-duplication state) and incremental views' count(DISTINCT) pair stores: the pipeline
// configuration `lakepipe.seenKeysMemory`, one budget that all these stores of a pipeline
// share (docs/checkpoint.md, "Memory budget"; docs/execution.md, "Settings").
// Thread-safety: both functions may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>

#include "common/memory_budget.h"
#include "common/status.h"
#include "sql/pipeline.h"

namespace lakepipe::runtime {

// Bytes for the seen-key stores' in-memory tables, all of a pipeline's together: `lakepipe.seenKeysMemory` as a whole
// number of bytes, or with a suffix k, m or g (KiB, MiB, GiB), at least 1 byte; absent:
// state::SeenKeyStore::kDefaultMemoryBudgetBytes. Anything else is refused naming the key.
Result<int64_t> SeenKeysMemoryBytes(const sql::PipelineSettings& settings);

// The budget of SeenKeysMemoryBytes that every seen-key store of the pipeline of
// `settings` (its settings file) shares: the same object for every call while any store
// holds it, a new one once all are gone.
Result<std::shared_ptr<MemoryBudget>> SeenKeysBudget(const sql::PipelineSettings& settings);

}  // namespace lakepipe::runtime
