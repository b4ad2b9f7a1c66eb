// Internal to src/delta: helpers shared by log.cc, checkpoint.cc and table.cc.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "delta/log.h"
#include "types/batch.h"

namespace lakepipe::delta {

// Parses one action object ({"add": {...}}); `where` prefixes error messages.
Result<Action> ParseActionObject(const nlohmann::ordered_json& obj, const std::string& where);

// The schema of a classic checkpoint (txn, add, remove, metaData, protocol), as Spark
// writes it.
const Schema& CheckpointSchema();

// Writes `state` as the classic single-file checkpoint of its version and returns what
// `_last_checkpoint` should say. The file appears atomically (temp file + rename).
Result<LastCheckpoint> WriteCheckpointFile(FileSystem* fs, const std::string& table_path,
                                           const TableState& state);

}  // namespace lakepipe::delta
