// Accumulators: the per-group state of each aggregate function, keyed by the canonical
// names of expr/aggregate_functions.h (which owns the signatures and result types).
//
// An accumulator holds one state per group id (0, 1, ... as HashAggregate assigns them)
// in columnar arrays. Update and Merge are called once per batch (virtual per batch, never
// per row). Every state is mergeable: Export writes each group's partial state as the
// columns StateFields names, and Merge folds such rows in, so that merging the states of
// two inputs equals aggregating the first input followed by the second. Order-sensitive
// aggregates (first, last, collect_list, max_by ties) rely on that order: Merge's rows come
// *after* everything already in the state, as the batches of an incremental view do.
//
// Thread-safety: none; one accumulator per HashAggregate. Call order: Resize before any
// Update/Merge touching a new group id; Finish/Export any time.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
#include "types/column.h"
#include "types/schema.h"

namespace lakepipe::operators {

class KeyTable;
class SeenKeySet;

class Accumulator {
 public:
  virtual ~Accumulator() = default;
  // Makes room for group ids [0, groups).
  virtual void Resize(int32_t groups) = 0;
  // Folds `n` input rows in: `args` are the call's evaluated arguments (none for
  // count(*)), row i belongs to group groups[i].
  virtual Status Update(const std::vector<const Column*>& args, const std::vector<int32_t>& groups, int64_t n) = 0;
  // Appends one result per group [0, groups) to `out` (of the call's result type).
  virtual Status Finish(int32_t groups, Column* out) const = 0;
  // The state columns of an aggregate named `name`: `<name>$<part>`.
  virtual std::vector<Field> StateFields(const std::string& name) const = 0;
  virtual void Export(int32_t groups, std::vector<Column>* out) const = 0;
  // Folds exported state rows in (`state`: StateFields' columns), row i into groups[i].
  virtual Status Merge(const std::vector<const Column*>& state, const std::vector<int32_t>& groups, int64_t n) = 0;
  virtual int64_t MemoryBytes() const = 0;
  std::string text;  // the call as SQL, for error messages
};

// The accumulator of a bound aggregate call (BoundKind::kAggregate, typed by
// expr::BindAggregateCall). NotSupported when its function has no accumulator.
Result<std::unique_ptr<Accumulator>> MakeAccumulator(const expr::BoundExpr& call);
// Whether `name` (canonical) has an accumulator.
bool HasAccumulator(std::string_view name);

// count(DISTINCT x) that keeps each group's count, not its values: its state is one bigint
// column `<name>$distinct_count`, which Merge adds up. A row's (group, value) pair counts
// when `pairs` says it is new (InsertIfAbsent of the pair key: `index`, the group's key
// bytes from `groups`, then the value's KeyEncoder bytes), so the set of pairs can live
// outside the aggregate (an incremental view's durable store, shared by partial
// aggregates, whose counts then add up exactly). `pairs` null: an in-memory set of this
// accumulator's own. `groups` is the owning HashAggregate's group table (outlives it).
Result<std::unique_ptr<Accumulator>> MakeDistinctCounter(const expr::BoundExpr& call, uint32_t index,
                                                         std::shared_ptr<SeenKeySet> pairs, const KeyTable* groups);
// Whether `call` is count(DISTINCT x), which MakeDistinctCounter can count.
bool IsCountDistinct(const expr::BoundExpr& call);

}  // namespace lakepipe::operators
