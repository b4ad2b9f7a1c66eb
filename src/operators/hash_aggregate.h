// HashAggregate: GROUP BY (and GROUPING SETS / ROLLUP / CUBE) over a stream of batches,
// with the aggregates of expr/aggregate_functions.h (their accumulators:
// operators/aggregate_functions.h) — Spark's result types and ANSI overflow errors.
// `FILTER (WHERE ...)` on an aggregate feeds it only the rows where the filter is true.
// Rows reach the accumulators in push order, which makes first/last/collect_list
// deterministic for a deterministic input order.
//
// Grouping sets: each set is given as its Spark grouping id (bit k-1-i set when key i is
// *not* in the set). Every input row is aggregated once per set, with the keys outside the
// set NULL, and the grouping id is an extra key (output and state column `_grouping_id`
// after the keys), so rolled-up rows never merge with rows whose key is NULL.
//
// Groups live in an open-addressing hash table keyed by the group values encoded as bytes
// (KeyEncoder: NULL keys form one group, -0.0 = 0.0, NaNs group together). Per batch the
// keys are encoded, a group id is found per row, and each aggregate updates its state
// arrays in one columnar loop.
//
// Mergeable state: ExportState() writes each group's partial state (keys, then per
// aggregate its state columns, see state_schema()) and MergeState() folds such rows in, so
// a materialized view can keep the state and add only new rows' contributions later
// (incremental Gold). Merging two states equals aggregating the union of their inputs.
//
// Incremental use (a materialized view kept up to date): Push / MergeState the new rows'
// contributions, then CurrentResult() for the output so far, and keep going.
//
// Call order: Make, then Push / MergeState / CurrentResult / ExportState any number of
// times, then optionally Finish once (after which only ExportState / CurrentResult).
// Not thread-safe: one instance per stream.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
#include "operators/aggregate_functions.h"
#include "operators/key_table.h"
#include "types/batch.h"

namespace lakepipe::operators {

class HashAggregate {
 public:
  // `keys` are scalar expressions and `aggregates` kAggregate expressions, all bound against
  // the input schema (BindContext::allow_aggregates for the latter). With no keys this is a
  // global aggregate: exactly one output row, even for empty input. `grouping_ids`
  // non-empty: GROUPING SETS, one Spark grouping id per set (see above).
  static Result<std::unique_ptr<HashAggregate>> Make(std::vector<expr::BoundExpr> keys,
                                                     std::vector<std::string> key_names,
                                                     std::vector<expr::BoundExpr> aggregates,
                                                     std::vector<std::string> aggregate_names,
                                                     std::vector<int64_t> grouping_ids = {});
  ~HashAggregate();

  Status Push(const RecordBatch& batch);
  // The result: key columns then one column per aggregate (output_schema()). Errors when a
  // sum overflows its result type.
  Result<std::vector<RecordBatch>> Finish();
  // The same output as Finish, without ending the stream: Push and MergeState may follow.
  // (Not called Result(): a member of that name would hide lakepipe::Result<T> here.)
  Result<std::vector<RecordBatch>> CurrentResult() const;
  const Schema& output_schema() const { return output_schema_; }

  // Keys (and `_grouping_id`), then per aggregate its accumulator's StateFields
  // (docs/checkpoint.md, "Incremental aggregates", lists them).
  const Schema& state_schema() const { return state_schema_; }
  Result<RecordBatch> ExportState() const;
  Status MergeState(const RecordBatch& state);

  int64_t num_groups() const { return table_.size(); }
  int64_t MemoryBytes() const;
  // Key columns of the state (and output): the group keys, plus `_grouping_id` with
  // grouping sets.
  size_t num_key_columns() const { return group_keys_.size(); }
  bool has_grouping_sets() const { return !grouping_ids_.empty(); }
  // The group key values of `batch`'s rows (one column per key), as Push computes them;
  // KeyEncoder bytes of these equal those of the group's state key columns. Plain GROUP
  // BY only (with grouping sets a row belongs to several groups): NotSupported otherwise.
  Result<std::vector<ColumnPtr>> EvaluateKeys(const RecordBatch& batch) const;

  // Makes every count(DISTINCT x) of this aggregate keep counts instead of values
  // (MakeDistinctCounter): the pairs go to `pairs` (null: a set per accumulator, in
  // memory), and the state schema's `<name>$distinct` arrays become `<name>$distinct_count`
  // bigints. Returns how many aggregates changed. Call right after Make (InvalidArgument
  // once rows or states were taken in). Incremental views use it so that their state and
  // their in-batch sets do not hold the values (docs/checkpoint.md, "Distinct pairs").
  Result<int> CountDistinctThrough(std::shared_ptr<SeenKeySet> pairs);

 private:
  HashAggregate() = default;
  // Group ids of `n` rows whose key values are `key_cols`, adding new groups.
  void AssignGroups(const std::vector<const Column*>& key_cols, int64_t n, std::vector<int32_t>* groups);

  // Evaluates `aggregate`'s arguments over `batch` and feeds the rows of `groups` that
  // pass its FILTER (all rows without one) to accumulator `a`.
  Status UpdateOne(size_t a, const RecordBatch& batch, const std::vector<int32_t>& groups);

  std::vector<expr::BoundExpr> keys_;
  std::vector<int64_t> grouping_ids_;
  std::vector<expr::BoundExpr> aggregates_;
  std::vector<std::unique_ptr<Accumulator>> accumulators_;
  std::vector<std::string> aggregate_names_;  // the state column prefix of each aggregate
  Schema output_schema_;
  Schema state_schema_;
  KeyTable table_;
  std::vector<Column> group_keys_;  // one row per group
  std::string arena_;
  std::vector<std::string_view> encoded_;
  bool finished_ = false;
};

}  // namespace lakepipe::operators
