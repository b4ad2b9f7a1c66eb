// What a streaming table may compute: the rules that keep its result the same however its
// input is split into micro-batches (docs/sql-reference.md "Streaming semantics").
//
// A streaming table appends what each micro-batch produces and never revises a row, so an
// operator whose output over the whole input is not the union of its outputs over the
// pieces cannot run in one unless it keeps state that makes it so (durable DISTINCT keys,
// windows closed by a watermark). Everything else is refused here, at planning time, with
// the reason and the alternative, so `validate` and `run` refuse the same pipelines.
//
// Temporary views are looked through: a view's plan counts as part of every query that
// reads it (the runtime runs it inside the reader's micro-batch).
//
// Pure functions over resolved plans; thread-safe.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "sql/plan.h"
#include "sql/statement.h"

namespace lakepipe::sql {

// The resolved plan of temporary view `name`, or null when `name` is not a view.
using ViewPlanLookup = std::function<const PlanNode*(const std::string& name)>;

// True when `plan` reads a stream (STREAM t, STREAM read_files, or a view that does).
bool ReadsStream(const PlanNode& plan, const ViewPlanLookup& views);

// The group key of `aggregate` that is a time window (window(...) / session_window(...)),
// or -1.
int WindowKeyIndex(const PlanNode& aggregate);

// The streaming scan whose WATERMARK a stateful node (DISTINCT, time-window aggregate)
// applies: the first scan with a watermark down the node's chain of single-input nodes
// (projections, filters), when it is read as a stream; else null.
const PlanNode* WatermarkScanBelow(const PlanNode& node);

// Keyed de-duplication of a stream, the one window function a streaming table runs:
//   QUALIFY row_number() OVER (PARTITION BY k1, ... ORDER BY ts) = 1
// over a source with `WATERMARK ts DELAY OF ...` — the first row per key within the
// watermark (docs/sql-reference.md, "Keyed de-duplication"). `window` is the kWindow node,
// `parent` the node reading it (the QUALIFY filter), `table` names the streaming table for
// messages. OK when the shape is that one; else NotSupported with the reason and the
// alternative. The runtime runs such a kWindow over a streaming scan as a Deduplicate.
Status CheckKeyedDedup(const std::string& table, const PlanNode& window, const PlanNode* parent);

// Whether kWindow node `window` is run as a keyed de-duplication (its watermarked scan is
// read as a stream); the shape was checked by CheckKeyedDedup when the pipeline resolved.
bool IsStreamingKeyedDedup(const PlanNode& window);

// Checks dataset `def` (its resolved plan `plan`) against the streaming rules: a streaming
// table must read a stream and may only use operators that are maintained incrementally
// with correct results; a materialized view reads its inputs in full; STREAM(view) needs a
// view that reads a stream. Errors name file:line:col, the reason and the alternative.
Status CheckStreamingRules(const DatasetDefinition& def, const PlanNode& plan, const ViewPlanLookup& views);

}  // namespace lakepipe::sql
