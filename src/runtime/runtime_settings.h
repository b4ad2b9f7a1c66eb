// CheckRuntimeSettings: the settings of a pipeline's `configuration` that the runtime reads
// when it runs (`lakepipe.batchRows`, `lakepipe.flowThreads`, `lakepipe.aggregateThreads`,
// `lakepipe.shareViewScans`, `lakepipe.seenKeysMemory`,
// `spark.sql.streaming.minBatchesToRetain`), each checked as `run` checks it. `validate`
// calls it so that it refuses what `run` would refuse, with the same message.
// Stateless; any thread.
#pragma once

#include "common/status.h"
#include "sql/pipeline.h"

namespace lakepipe::runtime {

Status CheckRuntimeSettings(const sql::PipelineSettings& settings);

}  // namespace lakepipe::runtime
