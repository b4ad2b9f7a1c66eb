// Vectorized evaluation of bound expressions over a RecordBatch, a column at a time.
//
// Column references return the batch's shared column (no copy); literals broadcast to a
// column of num_rows values; every function is a kernel looping over contiguous buffers
// and validity bitmaps (no per-row virtual calls or heap allocations; string results are
// appended into one buffer). Semantics are Spark 4's defaults (ANSI mode): integer
// overflow, division by zero and invalid casts are errors (InvalidArgument) naming the
// expression and the offending value; try_* forms give NULL instead.
//
// Thread-safety: Evaluate is reentrant; one BoundExpr may be evaluated on many threads.
// Call order: Bind (expr/binder.h) once, then Evaluate for each batch whose schema is the
// one the expression was bound against.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
#include "types/batch.h"
#include "types/column.h"

namespace lakepipe::expr {

// The value of `expr` for every row of `batch`: a column of batch.num_rows() values of
// type expr.type. Aggregates are refused (the aggregate operators evaluate their args).
Result<ColumnPtr> Evaluate(const BoundExpr& expr, const RecordBatch& batch);

// For a boolean predicate: the indexes of the rows where it is TRUE (NULL and FALSE rows
// are left out), ascending. Used by Filter and expectations.
Result<std::vector<int32_t>> EvaluateSelection(const BoundExpr& predicate, const RecordBatch& batch);

// Evaluates a bound expression that reads no columns (a constant) to a Value.
Result<Value> EvaluateConstant(const BoundExpr& expr);

}  // namespace lakepipe::expr
