// UNION ALL: the output schema of several inputs (by position; names from the first,
// types the common type of each column, nullable when any input is) and the per-batch
// conversion of one input's batches to it. Pure functions; thread-safe.
// Call order: UnionSchema once, then Adapt for every batch of every input.
#pragma once

#include <vector>

#include "common/status.h"
#include "types/batch.h"

namespace lakepipe::operators {

// InvalidArgument when the inputs have different column counts or a column has no
// common type (naming the column and both types).
Result<Schema> UnionSchema(const std::vector<Schema>& inputs);

// `batch` with each column cast to `output`'s type (shared when already equal).
Result<RecordBatch> AdaptToUnion(const RecordBatch& batch, const Schema& output);

}  // namespace lakepipe::operators
