// Operator state as bytes: a RecordBatch of a known state schema serialized as an
// in-memory Parquet file (our writer/reader), for the values of the RocksDB state stores
// (aggregate_state_store.h, window_state_store.h). Columns are stored under positional
// names (state names such as "total$sum" need not be valid Parquet names) and mapped back
// by position. Pure functions; thread-safe.
#pragma once

#include <string>

#include "common/status.h"
#include "types/batch.h"
#include "types/schema.h"

namespace lakepipe::state {

// "" for a batch without rows.
Result<std::string> SerializeState(const RecordBatch& state, const Schema& schema, const std::string& created_by);
// Corruption (naming `what`) when the bytes do not hold `schema`'s columns.
Result<RecordBatch> DeserializeState(std::string data, const Schema& schema, const std::string& what);

}  // namespace lakepipe::state
