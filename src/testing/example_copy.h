// Test helper: a copy of examples/orders (its SQL, dashboard and pipeline.yaml) in a
// folder of the test's, with text appended to pipeline.yaml (a governance:, publish: or
// other section the test needs). Owns nothing; call from tests only; thread-compatible.
#pragma once

#include <string>

#include "common/status.h"

namespace lakepipe::testing {

// Writes bronze.sql, silver.sql, gold.sql, dashboard.yaml and pipeline.yaml of
// examples/orders into `folder` (created if missing), pipeline.yaml followed by
// `pipeline_yaml_extra`.
Status CopyOrdersExample(const std::string& folder, const std::string& pipeline_yaml_extra = "");

}  // namespace lakepipe::testing
