// Filter and Project: the stateless operators. Pure functions of one batch; safe to call
// from several threads with the same bound expressions.
//
// Call order: bind the predicate / projections against the input schema (expr/binder.h),
// then call Filter / Project once per batch of that schema.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
#include "operators/selection.h"
#include "types/batch.h"

namespace lakepipe::operators {

// The rows of `batch` at `rows` (ascending or not), one gather per column.
RecordBatch TakeRows(const RecordBatch& batch, const std::vector<int32_t>& rows);

// The rows where `predicate` is TRUE (NULL and FALSE rows are dropped): a selection vector,
// then one gather per column. Returns the input batch itself (shared columns) when every
// row passes.
Result<RecordBatch> Filter(const RecordBatch& batch, const expr::BoundExpr& predicate);

// Filter over a selection: the selected rows where `predicate` is TRUE, without copying
// the batch. The predicate is evaluated over the whole batch (EvaluateOverSelection).
Result<SelectedBatch> FilterSelected(SelectedBatch in, const expr::BoundExpr& predicate);

// The output schema of a projection: field i is names[i] with exprs[i]'s type/nullability.
Schema ProjectionSchema(const std::vector<expr::BoundExpr>& exprs, const std::vector<std::string>& names);

// Evaluates each expression over the batch (column references share the input column).
Result<RecordBatch> Project(const RecordBatch& batch, const std::vector<expr::BoundExpr>& exprs,
                            const Schema& output_schema);

// Project over a selection: the expressions are evaluated over the whole batch
// (EvaluateOverSelection) and the selection carries over to the projected batch.
Result<SelectedBatch> ProjectSelected(SelectedBatch in, const std::vector<expr::BoundExpr>& exprs,
                                      const Schema& output_schema);

}  // namespace lakepipe::operators
