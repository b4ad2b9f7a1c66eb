// Binding of window function calls (plan.h WindowFunction) against a kWindow node's input:
// the one place that knows which functions exist, their arguments and result types, and
// what Spark refuses (ranking without ORDER BY, frames on ranking functions, RANGE offsets
// without one numeric ORDER BY key). Resolution uses it to type the node and report errors
// at validate; the executor uses it again to build the operator (operators/window.h).
//
// Supported: row_number, rank, dense_rank, percent_rank, ntile(n), lag/lead(x[, n[,
// default]]), first_value/last_value(x[, ignoreNulls]), nth_value(x, n), and the
// aggregates count, sum, avg, min, max (Spark's result types, from expr::Bind).
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
#include "sql/plan.h"

namespace lakepipe::sql {

struct BoundWindowFunction {
  std::string function;                // lower-case name, e.g. "row_number", "sum"
  std::vector<expr::BoundExpr> args;   // the value (none for count(*) and ranking), then
                                       // lag/lead's default cast to the value's type
  int64_t n = 1;                       // lag/lead offset, ntile buckets, nth_value position
  bool ignore_nulls = false;           // first_value / last_value(x, true)
  std::vector<expr::BoundExpr> partition_by;
  struct Key {
    expr::BoundExpr expr;
    bool ascending = true;
    bool nulls_first = true;
  };
  std::vector<Key> order_by;
  bool rows = false;  // ROWS frame; otherwise RANGE
  WindowFrameBound::Kind start = WindowFrameBound::kUnboundedPreceding;
  WindowFrameBound::Kind end = WindowFrameBound::kCurrentRow;
  double start_offset = 0, end_offset = 0;
  DataType type;
  bool nullable = true;
};

// `file` is put in front of "line:col" messages.
Result<BoundWindowFunction> BindWindowFunction(const WindowFunction& w, const Schema& input,
                                               const expr::BindContext& ctx, const std::string& file);

// True for the names BindWindowFunction accepts.
bool IsWindowFunctionName(const std::string& name);

}  // namespace lakepipe::sql
