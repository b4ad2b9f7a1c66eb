// Prometheus text exposition format 0.0.4 for /metrics: the families listed in
// docs/http-api.md, rendered from a PipelineStatus. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "runtime/status_board.h"
#include "server/sla.h"

namespace lakepipe::server {

// A label value escaped as the format requires: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);

// The whole /metrics body. `running`: the pipeline runs in this process.
std::string RenderMetrics(const runtime::PipelineStatus& status, bool running);
// The freshness and SLA families (docs/sla.md), appended to RenderMetrics' text; when the
// evaluation failed, only lakepipe_sla_evaluation_failed 1.
std::string RenderSlaMetrics(const Result<FreshnessReport>& evaluated);

}  // namespace lakepipe::server
