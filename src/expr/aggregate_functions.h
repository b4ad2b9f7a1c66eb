// The aggregate functions lakepipe runs: one AggregateSignature per aggregate (name,
// aliases, arity, DISTINCT, order sensitivity, result-type rule). The SQL front end asks it
// whether a call is an aggregate, the binder types aggregate calls through it, and
// operators/aggregate_functions.h keys each aggregate's accumulator (its per-group state,
// export and merge) by the same canonical name. The two halves are split because expr
// sits below operators in the module order (the binder cannot see accumulators);
// operators' aggregate_functions_test checks that every signature has an accumulator.
//
// Adding an aggregate: an entry in aggregate_functions.cc (signature and type rule), an
// accumulator in operators/aggregates_*.cc, a line in docs/functions.md.
//
// Thread-safety: the registry is immutable after static initialisation; all functions
// are pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lakepipe::expr {

struct BoundExpr;

struct AggregateSignature {
  std::string_view name;  // canonical, lower case
  int min_args = 1;
  int max_args = 1;
  bool allows_distinct = false;
  // The result depends on the order of the input rows (first, last, any_value,
  // collect_list, max_by/min_by ties): lakepipe feeds rows in input order
  // (docs/functions.md, "Aggregate functions"), and a materialized view using one is
  // recomputed rather than maintained incrementally.
  bool order_sensitive = false;
  // Checks and coerces `call->args` (already bound) and sets call->type and
  // call->nullable. Errors carry only the message; the binder adds the position.
  Status (*bind)(BoundExpr* call) = nullptr;
};

// The signature of aggregate `name` (any case, aliases such as `std`, `variance`,
// `approx_percentile` resolved), or nullptr when it is not an aggregate lakepipe runs.
const AggregateSignature* FindAggregate(std::string_view name);
bool IsAggregateFunction(std::string_view name);
// Every aggregate name and alias, sorted (for docs and SupportedFunctions).
std::vector<std::string> AggregateFunctionNames();

// Types a bound aggregate call: `call->function` is set to the canonical name, the
// arguments are checked and coerced, DISTINCT is refused where the aggregate has no
// DISTINCT form. `call` must have kind kAggregate and bound args.
Status BindAggregateCall(const AggregateSignature& signature, BoundExpr* call);

}  // namespace lakepipe::expr
