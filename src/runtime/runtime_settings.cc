#include "runtime/runtime_settings.h"

#include "runtime/pipeline_runner_internal.h"
#include "runtime/state_memory.h"

namespace lakepipe::runtime {

Status CheckRuntimeSettings(const sql::PipelineSettings& settings) {
  LP_RETURN_IF_ERROR(BatchRows(settings).status());
  LP_RETURN_IF_ERROR(FlowThreads(settings).status());
  LP_RETURN_IF_ERROR(AggregateThreads(settings).status());
  LP_RETURN_IF_ERROR(ViewPartRows(settings).status());
  LP_RETURN_IF_ERROR(ShareViewScans(settings).status());
  LP_RETURN_IF_ERROR(SeenKeysMemoryBytes(settings).status());
  return MinBatchesToRetain(settings).status();
}

}  // namespace lakepipe::runtime
