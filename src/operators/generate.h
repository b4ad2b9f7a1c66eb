// Generate: the stateless operator behind explode / posexplode / inline / json_tuple (and
// the _outer forms), in a select list or LATERAL VIEW. Each input row becomes as many
// output rows as its generator yields (its array's elements, its map's entries, one row for
// json_tuple), in input order then element order; the output is the input's columns for
// that row followed by the generated columns. A generator is a function of its row only,
// so the operator keeps no state and is streaming-safe.
//
// Pure function of one batch; safe to call from several threads with the same generator.
// Call order: expr::BindGenerator against the input schema, then Generate per batch.
#pragma once

#include "common/status.h"
#include "expr/generator.h"
#include "types/batch.h"

namespace lakepipe::operators {

// `output_schema`: the input's fields then generator.outputs (renamed as the plan says).
Result<RecordBatch> Generate(const RecordBatch& batch, const expr::BoundGenerator& generator,
                             const Schema& output_schema);

}  // namespace lakepipe::operators
