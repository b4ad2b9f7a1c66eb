// IncrementalAggregate: one aggregate of a materialized view kept up to date batch by
// batch — an in-memory operators::HashAggregate holding the view's whole state, made
// durable by an AggregateStateStore (docs/checkpoint.md, "Operator state"). This is the
// object the runtime keeps per incrementally maintained aggregate; it wraps the store's
// protocol so that the runtime's calls mirror SeenKeyStore's:
//
//   Open(dir, make)     loads the state as of the last committed batch
//   Apply(N, rows)      adds batch N's new input rows; returns the whole current output
//   ... publish the output (the view's Delta commit with txn N) ...
//   Commit(N)           makes batch N durable (its delta or a snapshot, with the marker)
//   Abandon()           on failure before Commit: back to the committed state
//
// A batch at or below committed_batch() is already in the state (a replay after a crash
// between Commit and the checkpoint's commit record): Apply ignores its rows and returns
// the current output, and Commit of it is a no-op.
//
// count(DISTINCT x) (docs/checkpoint.md, "Distinct pairs"): the aggregates this object
// makes count distinct values instead of keeping them (HashAggregate::CountDistinctThrough),
// so the state holds one count per group and aggregate. The (group, value) pairs seen so
// far are 128-bit digests in a SeenKeyStore in the subfolder `distinct-pairs/`: an input
// row counts when its pair is in neither that store nor the pending batch. Pending pairs
// live in a table bounded by `distinct_memory_bytes` and spill to sorted runs beyond it.
// Commit writes the pairs first and then the aggregate's delta, each with the marker
// "batch N applied"; Open checks that both markers agree, and when they do not (a crash
// between the two writes) or the folder holds a state from before the pairs existed (the
// values inside the snapshot), it empties the folder: the view starts again from a
// snapshot of its input (discarded_state() says why). Recomputed groups take their old
// pairs back through the retracted rows (ApplyRecomputingGroups).
//
// Call order: Open, then per batch Apply (once or more with the same id), then Commit or
// Abandon. Thread-safety: one flow thread; not synchronised — except the aggregates of
// RowsFactory(), which may take rows on several threads at once (partial aggregates).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "operators/hash_aggregate.h"
#include "state/aggregate_state_store.h"
#include "state/seen_key_store.h"

namespace lakepipe::state {

class IncrementalAggregate {
 public:
  // Makes a fresh, empty aggregate of the view's query (same keys and aggregates each time).
  using Factory = std::function<Result<std::unique_ptr<operators::HashAggregate>>()>;

  // `distinct_memory_bytes`: the budget of the pending pairs' table (as a SeenKeyStore's);
  // `distinct_budget`: a budget shared with other stores (a pipeline's seen-key stores).
  static Result<std::unique_ptr<IncrementalAggregate>> Open(const std::string& dir, Factory make,
                                                            AggregateStateStore::Options options,
                                                            int64_t distinct_memory_bytes);
  static Result<std::unique_ptr<IncrementalAggregate>> Open(const std::string& dir, Factory make,
                                                            AggregateStateStore::Options options,
                                                            std::shared_ptr<MemoryBudget> distinct_budget);
  static Result<std::unique_ptr<IncrementalAggregate>> Open(const std::string& dir, Factory make,
                                                            AggregateStateStore::Options options) {
    return Open(dir, std::move(make), options, kDefaultDistinctMemoryBytes);
  }
  static Result<std::unique_ptr<IncrementalAggregate>> Open(const std::string& dir, Factory make) {
    return Open(dir, std::move(make), AggregateStateStore::Options());
  }
  static constexpr int64_t kDefaultDistinctMemoryBytes = 64LL << 20;

  // The factory of aggregates that take this view's new input rows (Push) — counting
  // distinct pairs against the store — whose state ApplyAggregated then takes. Valid while
  // this object lives; its aggregates may run on several threads at once.
  Factory RowsFactory() const;
  // Whether the aggregate counts distinct values through the pair store.
  bool keeps_distinct_pairs() const { return pairs_ != nullptr; }
  // Runs the pending pairs spilled to in the current batch (0 without count(DISTINCT)).
  int64_t distinct_pairs_spilled_runs() const { return pairs_ ? pairs_->spilled_runs() : 0; }
  // Non-empty when Open found a state it could not use and emptied the folder: why.
  const std::string& discarded_state() const { return discarded_; }

  // Adds batch `batch_id`'s rows (the aggregate's input rows, new in this batch) and
  // returns the aggregate's output over everything so far (HashAggregate::CurrentResult).
  Result<std::vector<RecordBatch>> Apply(int64_t batch_id, const std::vector<RecordBatch>& rows);
  // The same, and first takes `retracted` (input rows deleted or replaced upstream) back
  // out: their state, with its columns after the first `key_columns` negated, is merged
  // in. Exact only for aggregates whose state is counts and sums of exact numbers (count,
  // count_if, sum and avg of integers and decimals): the caller checks that.
  Result<std::vector<RecordBatch>> Apply(int64_t batch_id, const std::vector<RecordBatch>& rows,
                                         const std::vector<RecordBatch>& retracted, size_t key_columns);
  // The same as Apply(batch_id, rows) where `these` (made by the factory) is the
  // aggregate of those rows, built by the caller (e.g. as the rows streamed in by parts).
  // Into an empty state it is taken whole (no copy): the next Commit then writes it as a
  // snapshot.
  Result<std::vector<RecordBatch>> ApplyAggregated(int64_t batch_id, std::unique_ptr<operators::HashAggregate> these);
  // Recomputing groups, for aggregates that cannot take values back (min, max,
  // count(DISTINCT), floating-point sums): the groups of `rows` (input rows), one row
  // per group, in the state's key columns. Plain GROUP BY only (NotSupported with
  // grouping sets, where every row also reaches the rolled-up groups).
  Result<RecordBatch> GroupsOf(const std::vector<RecordBatch>& rows) const;
  // Those of `rows` (input rows) whose group is among `groups` (as GroupsOf returns
  // them), or with `in` false, those whose group is not.
  Result<std::vector<RecordBatch>> RowsOfGroups(const std::vector<RecordBatch>& rows, const RecordBatch& groups,
                                                bool in) const;
  // Like Apply, but first replaces the state of `groups` (as GroupsOf returns them) by
  // the aggregate of those of `recomputed`'s rows that belong to them — which must be
  // every current input row of those groups (read from the table's new snapshot) — and
  // then adds those of `rows` that belong to other groups (`rows` of the replaced groups
  // are in `recomputed` already). A group without recomputed rows leaves the state. The
  // next Commit writes a snapshot (a delta cannot say "replace").
  // `retracted`: the input rows taken out of those groups (those GroupsOf was given): their
  // distinct pairs leave the pair store (those still in `recomputed` come back). Required
  // when keeps_distinct_pairs() and `groups` is not empty.
  Result<std::vector<RecordBatch>> ApplyRecomputingGroups(int64_t batch_id, const std::vector<RecordBatch>& rows,
                                                          const RecordBatch& groups,
                                                          const std::vector<RecordBatch>& recomputed,
                                                          const std::vector<RecordBatch>& retracted = {});
  // Names the state column (a count(*) of the group's rows) whose 0 means that a group
  // has no rows left. Such groups are then removed — after loading, and after each Apply
  // that retracts rows — from the aggregate and, through a snapshot at the next Commit,
  // from the store, so that the state does not grow with churn. Without it (a global
  // aggregate keeps its one row) nothing is removed. Call right after Open.
  Status SetRowCountColumn(const std::string& state_column);
  // Durably records the applied batch. OK without effect for a batch already committed.
  Status Commit(int64_t batch_id);
  // Forgets the uncommitted batch: the aggregate is reloaded from the committed state.
  Status Abandon();

  std::optional<int64_t> committed_batch() const { return store_->committed_batch(); }
  // The aggregate store's size, with the pair store's bytes and memory (keys: groups).
  StateSize Size() const;
  const operators::HashAggregate& aggregate() const { return *view_; }

 private:
  // Starts (or continues) batch `batch_id`'s pending state; true when the batch is already
  // in the committed state (nothing to apply).
  Result<bool> BeginBatch(int64_t batch_id);
  IncrementalAggregate() = default;
  Status Reload();
  // Removes the groups whose row count is 0 from view_; whether any was removed.
  Result<bool> DropEmptyGroups();

  // Opens the pair store (when the aggregate has count(DISTINCT)) and the aggregate store,
  // emptying `dir` first when they cannot be used together (see above).
  Status OpenStores(const std::string& dir, AggregateStateStore::Options options);

  // After a failed write of the aggregate that followed the pairs' write: empties the
  // folder and reopens (the view then starts again from a snapshot of its input).
  Status DiscardState(std::string why);

  std::string dir_;
  AggregateStateStore::Options options_;
  std::shared_ptr<MemoryBudget> distinct_budget_;
  bool distinct_ = false;  // the aggregate has count(DISTINCT): pairs_ is used
  Factory plain_;      // the caller's factory, as given
  Factory make_;       // counting distinct values in memory (view_, pending_, recomputed groups)
  Factory make_rows_;  // counting them against pairs_ (new input rows)
  std::shared_ptr<SeenKeyStore> pairs_;            // null without count(DISTINCT)
  std::shared_ptr<operators::SeenKeySet> locked_;  // pairs_ behind a mutex, for make_rows_
  std::string discarded_;
  std::unique_ptr<AggregateStateStore> store_;
  std::unique_ptr<operators::HashAggregate> view_;     // the whole state, committed + pending
  std::unique_ptr<operators::HashAggregate> pending_;  // the pending batch's rows alone
  std::optional<int64_t> pending_batch_;
  std::optional<std::string> row_count_column_;
  // Groups were dropped or replaced since the last commit: the next one writes a snapshot.
  bool groups_dropped_ = false;
};

}  // namespace lakepipe::state
