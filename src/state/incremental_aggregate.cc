#include "state/incremental_aggregate.h"

#include <mutex>
#include <unordered_set>

#include "common/fs.h"
#include "common/kill_point.h"
#include "operators/deduplicate.h"
#include "operators/key_encoder.h"
#include "types/decimal.h"

namespace lakepipe::state {
namespace {

const char kPairsFolder[] = "distinct-pairs";

// The pair store behind a mutex: the partial aggregates of one batch (RowsFactory) may
// count on several threads at once. Each pair is inserted once whichever thread sees it
// first, so the partial counts add up to the exact count.
class LockedPairs : public operators::SeenKeySet {
 public:
  explicit LockedPairs(std::shared_ptr<SeenKeyStore> store) : store_(std::move(store)) {}
  Status InsertIfAbsent(const std::vector<std::string_view>& keys, std::vector<uint8_t>* inserted) override {
    // The digests (most of the work per key) outside the lock: the threads overlap there.
    thread_local std::vector<Digest128> digests;
    digests.resize(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) digests[i] = SeenKeyStore::DigestOf(keys[i]);
    std::lock_guard<std::mutex> lock(mu_);
    return store_->InsertDigestsIfAbsent(digests, inserted);
  }
  int64_t size() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return store_->size();
  }
  int64_t MemoryBytes() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return store_->MemoryBytes();
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<SeenKeyStore> store_;
};

// Takes every pair it is given out of the store (none counts): fed the retracted rows of
// recomputed groups, through the same accumulators that put the pairs in.
class RemovingPairs : public operators::SeenKeySet {
 public:
  explicit RemovingPairs(SeenKeyStore* store) : store_(store) {}
  Status InsertIfAbsent(const std::vector<std::string_view>& keys, std::vector<uint8_t>* inserted) override {
    inserted->assign(keys.size(), 0);
    return store_->Remove(keys);
  }
  int64_t size() const override { return store_->size(); }
  int64_t MemoryBytes() const override { return store_->MemoryBytes(); }

 private:
  SeenKeyStore* store_;
};

// `make`'s aggregates counting distinct values through `pairs` (null: in memory).
IncrementalAggregate::Factory Counting(IncrementalAggregate::Factory make,
                                       std::function<std::shared_ptr<operators::SeenKeySet>()> pairs) {
  return [make = std::move(make), pairs = std::move(pairs)]() -> Result<std::unique_ptr<operators::HashAggregate>> {
    LP_ASSIGN_OR_RETURN(auto agg, make());
    LP_RETURN_IF_ERROR(agg->CountDistinctThrough(pairs ? pairs() : nullptr).status());
    return agg;
  };
}

Status EmptyFolder(const std::string& dir) {
  FileSystem* fs = FileSystem::Default();
  LP_RETURN_IF_ERROR(fs->RemoveAll(dir));
  return fs->CreateDirs(dir);
}

}  // namespace

Result<std::unique_ptr<IncrementalAggregate>> IncrementalAggregate::Open(const std::string& dir, Factory make,
                                                                         AggregateStateStore::Options options,
                                                                         int64_t distinct_memory_bytes) {
  if (distinct_memory_bytes < 1) {
    return Status::InvalidArgument("state store " + dir + ": memory budget of " +
                                   std::to_string(distinct_memory_bytes) + " bytes; it must be at least 1");
  }
  return Open(dir, std::move(make), options, std::make_shared<MemoryBudget>(distinct_memory_bytes));
}

Result<std::unique_ptr<IncrementalAggregate>> IncrementalAggregate::Open(const std::string& dir, Factory make,
                                                                         AggregateStateStore::Options options,
                                                                         std::shared_ptr<MemoryBudget> distinct_budget) {
  std::unique_ptr<IncrementalAggregate> agg(new IncrementalAggregate());
  agg->dir_ = dir;
  agg->options_ = options;
  agg->distinct_budget_ = std::move(distinct_budget);
  agg->plain_ = make;
  LP_ASSIGN_OR_RETURN(auto probe, make());
  LP_ASSIGN_OR_RETURN(int distinct, probe->CountDistinctThrough(nullptr));
  agg->distinct_ = distinct > 0;
  if (distinct > 0) {
    agg->make_ = Counting(make, nullptr);
    IncrementalAggregate* self = agg.get();
    agg->make_rows_ = Counting(make, [self] { return self->locked_; });
  } else {
    agg->make_ = make;
    agg->make_rows_ = make;
  }
  LP_RETURN_IF_ERROR(agg->OpenStores(dir, options));
  LP_RETURN_IF_ERROR(agg->Reload());
  return agg;
}

Status IncrementalAggregate::OpenStores(const std::string& dir, AggregateStateStore::Options options) {
  FileSystem* fs = FileSystem::Default();
  LP_ASSIGN_OR_RETURN(auto probe, make_());
  const bool with_pairs = distinct_;
  const std::string pairs_dir = dir + "/" + kPairsFolder;
  if (with_pairs && !fs->Exists(pairs_dir) && fs->Exists(dir + "/CURRENT")) {
    discarded_ = "it was written by an earlier version of lakepipe, which kept the count(DISTINCT) values in the "
                 "aggregate's snapshot";
    LP_RETURN_IF_ERROR(EmptyFolder(dir));
  }
  for (int attempt = 0;; ++attempt) {
    if (with_pairs) {
      LP_RETURN_IF_ERROR(fs->CreateDirs(pairs_dir));
      // Stored pairs are probed in RocksDB (its Bloom filters), never copied into memory:
      // a long-running view's memory is then the pending pairs alone, not a copy of every
      // pair seen that grows to the budget (most pairs a batch asks about are new, which
      // the filters answer without a read).
      LP_ASSIGN_OR_RETURN(pairs_, SeenKeyStore::Open(pairs_dir, /*max_keys_in_memory=*/0, distinct_budget_));
      locked_ = std::make_shared<LockedPairs>(pairs_);
    }
    LP_ASSIGN_OR_RETURN(store_, AggregateStateStore::Open(dir, probe->state_schema(), options));
    if (!pairs_ || pairs_->committed_batch() == store_->committed_batch() || attempt > 0) break;
    auto name = [](std::optional<int64_t> b) { return b ? "batch " + std::to_string(*b) : std::string("no batch"); };
    discarded_ = "its distinct pairs record " + name(pairs_->committed_batch()) + " and its aggregate " +
                 name(store_->committed_batch()) + " (a crash between their two writes)";
    store_.reset();
    locked_.reset();
    pairs_.reset();
    LP_RETURN_IF_ERROR(EmptyFolder(dir));
  }
  return Status::OK();
}

Status IncrementalAggregate::DiscardState(std::string why) {
  discarded_ = std::move(why);
  // The aggregates hold the pair store too (their accumulators count through it).
  view_.reset();
  pending_.reset();
  pending_batch_.reset();
  store_.reset();
  locked_.reset();
  pairs_.reset();
  LP_RETURN_IF_ERROR(EmptyFolder(dir_));
  LP_RETURN_IF_ERROR(OpenStores(dir_, options_));
  return Reload();
}

IncrementalAggregate::Factory IncrementalAggregate::RowsFactory() const { return make_rows_; }

StateSize IncrementalAggregate::Size() const {
  StateSize s = store_->Size();  // the folder's bytes include the pairs' subfolder
  if (pairs_) s.memory_bytes += pairs_->MemoryBytes();
  return s;
}

Status IncrementalAggregate::Reload() {
  pending_.reset();
  pending_batch_.reset();
  if (pairs_) LP_RETURN_IF_ERROR(pairs_->Abandon());
  LP_ASSIGN_OR_RETURN(view_, make_());
  LP_RETURN_IF_ERROR(store_->LoadInto(view_.get()));
  // Deltas written before a snapshot may bring emptied groups back with count 0.
  LP_ASSIGN_OR_RETURN(bool dropped, DropEmptyGroups());
  groups_dropped_ = dropped;
  return Status::OK();
}

Status IncrementalAggregate::SetRowCountColumn(const std::string& state_column) {
  const Schema& schema = view_->state_schema();
  int i = schema.FindField(state_column);
  if (i < 0 || schema.field(static_cast<size_t>(i)).type.id() != TypeId::kLong) {
    return Status::Internal("aggregate state has no bigint column `" + state_column + "` (" + schema.ToDDL() + ")");
  }
  row_count_column_ = state_column;
  LP_ASSIGN_OR_RETURN(bool dropped, DropEmptyGroups());
  groups_dropped_ = groups_dropped_ || dropped;
  return Status::OK();
}

Result<bool> IncrementalAggregate::DropEmptyGroups() {
  if (!row_count_column_) return false;
  LP_ASSIGN_OR_RETURN(RecordBatch state, view_->ExportState());
  const Column* count = state.ColumnByName(*row_count_column_);
  if (count == nullptr) return Status::Internal("aggregate state lost column `" + *row_count_column_ + "`");
  std::vector<int32_t> keep;
  const int64_t* n = count->data<int64_t>();
  for (int64_t r = 0; r < state.num_rows(); ++r)
    if (count->IsNull(r) || n[r] != 0) keep.push_back(static_cast<int32_t>(r));
  if (static_cast<int64_t>(keep.size()) == state.num_rows()) return false;
  // HashAggregate has no removal: the kept groups' state goes into a fresh one.
  std::vector<ColumnPtr> cols;
  for (size_t c = 0; c < state.num_columns(); ++c) cols.push_back(MakeColumn(state.column(c).Take(keep)));
  LP_ASSIGN_OR_RETURN(auto fresh, make_());
  LP_RETURN_IF_ERROR(fresh->MergeState(RecordBatch(state.schema(), std::move(cols), static_cast<int64_t>(keep.size()))));
  view_ = std::move(fresh);
  return true;
}

Result<std::vector<RecordBatch>> IncrementalAggregate::Apply(int64_t batch_id, const std::vector<RecordBatch>& rows) {
  return Apply(batch_id, rows, {}, 0);
}

namespace {

// `state` with every column from `first` on negated (count and sum state columns: BIGINT,
// DECIMAL or DOUBLE), so that merging it subtracts what it holds.
Result<RecordBatch> Negated(const RecordBatch& state, size_t first) {
  std::vector<ColumnPtr> cols;
  for (size_t c = 0; c < state.num_columns(); ++c) {
    if (c < first) {
      cols.push_back(state.column_ptr(c));
      continue;
    }
    Column col = state.column(c);
    const int64_t n = col.size();
    switch (col.type().id()) {
      case TypeId::kLong:
        for (int64_t i = 0; i < n; ++i) col.data<int64_t>()[i] = -col.data<int64_t>()[i];
        break;
      case TypeId::kDecimal:
        for (int64_t i = 0; i < n; ++i) col.data<int128_t>()[i] = -col.data<int128_t>()[i];
        break;
      case TypeId::kDouble:
        for (int64_t i = 0; i < n; ++i) col.data<double>()[i] = -col.data<double>()[i];
        break;
      default:
        return Status::Internal("aggregate state column `" + state.schema().field(c).name + "` of type " +
                                col.type().ToString() + " cannot be retracted");
    }
    cols.push_back(MakeColumn(std::move(col)));
  }
  return RecordBatch(state.schema(), std::move(cols), state.num_rows());
}

}  // namespace

Result<bool> IncrementalAggregate::BeginBatch(int64_t batch_id) {
  std::optional<int64_t> committed = store_->committed_batch();
  if (committed && batch_id <= *committed) return true;
  if (pending_batch_ && *pending_batch_ != batch_id) {
    return Status::Internal("incremental aggregate: batch " + std::to_string(batch_id) + " applied while batch " +
                            std::to_string(*pending_batch_) + " is neither committed nor abandoned");
  }
  if (!pending_) {
    LP_ASSIGN_OR_RETURN(pending_, make_());
    pending_batch_ = batch_id;
  }
  return false;
}

Result<std::vector<RecordBatch>> IncrementalAggregate::Apply(int64_t batch_id, const std::vector<RecordBatch>& rows,
                                                             const std::vector<RecordBatch>& retracted,
                                                             size_t key_columns) {
  LP_ASSIGN_OR_RETURN(bool applied, BeginBatch(batch_id));
  if (applied) return view_->CurrentResult();  // already in the state
  // These rows are aggregated alone; their state is merged both into the view and into
  // the batch's delta (pending_), which Commit persists.
  if (pairs_ && !retracted.empty()) {
    return Status::Internal("incremental aggregate: rows taken back from a count(DISTINCT), which cannot take "
                            "values back (its groups are recomputed instead)");
  }
  LP_ASSIGN_OR_RETURN(auto these, make_rows_());
  for (const auto& b : rows) LP_RETURN_IF_ERROR(these->Push(b));
  LP_ASSIGN_OR_RETURN(RecordBatch delta, these->ExportState());
  std::optional<RecordBatch> taken_back;
  if (!retracted.empty()) {
    LP_ASSIGN_OR_RETURN(auto gone, make_());
    for (const auto& b : retracted) LP_RETURN_IF_ERROR(gone->Push(b));
    LP_ASSIGN_OR_RETURN(RecordBatch state, gone->ExportState());
    LP_ASSIGN_OR_RETURN(taken_back, Negated(state, key_columns));
  }
  Status merged = taken_back ? pending_->MergeState(*taken_back) : Status::OK();
  if (merged.ok() && taken_back) merged = view_->MergeState(*taken_back);
  if (merged.ok()) merged = pending_->MergeState(delta);
  if (merged.ok()) merged = view_->MergeState(delta);
  if (merged.ok() && taken_back) {
    auto dropped = DropEmptyGroups();
    if (!dropped.ok()) merged = dropped.status();
    else if (*dropped) groups_dropped_ = true;
  }
  if (!merged.ok()) {
    // The view may hold part of the batch: go back to the committed state.
    Status reload = Reload();
    return reload.ok() ? merged : reload;
  }
  return view_->CurrentResult();
}

Result<std::vector<RecordBatch>> IncrementalAggregate::ApplyAggregated(int64_t batch_id,
                                                                       std::unique_ptr<operators::HashAggregate> these) {
  LP_ASSIGN_OR_RETURN(bool applied, BeginBatch(batch_id));
  if (applied) return view_->CurrentResult();  // already in the state
  if (view_->num_groups() == 0 && pending_->num_groups() == 0 && these->num_groups() > 0) {
    // The first batch into an empty state: the view is these rows' aggregate, and the
    // commit writes it as the snapshot (no delta copy of a state as large as the view).
    view_ = std::move(these);
    groups_dropped_ = true;
    return view_->CurrentResult();
  }
  LP_ASSIGN_OR_RETURN(RecordBatch delta, these->ExportState());
  these.reset();
  Status merged = pending_->MergeState(delta);
  if (merged.ok()) merged = view_->MergeState(delta);
  if (!merged.ok()) {
    Status reload = Reload();
    return reload.ok() ? merged : reload;
  }
  return view_->CurrentResult();
}

namespace {

using KeySet = std::unordered_set<std::string>;

// The KeyEncoder bytes of each row of `key_cols` (HashAggregate's grouping bytes).
std::vector<std::string> EncodeKeys(const std::vector<const Column*>& key_cols, int64_t n) {
  std::string arena;
  std::vector<std::string_view> views;
  operators::KeyEncoder::EncodeAll(key_cols, n, &arena, &views);
  return std::vector<std::string>(views.begin(), views.end());
}

// The rows of `b` where `keep` is set, or `b` itself when all are.
RecordBatch TakeRows(const RecordBatch& b, const std::vector<int32_t>& keep) {
  if (static_cast<int64_t>(keep.size()) == b.num_rows()) return b;
  std::vector<ColumnPtr> cols;
  for (size_t c = 0; c < b.num_columns(); ++c) cols.push_back(MakeColumn(b.column(c).Take(keep)));
  return RecordBatch(b.schema(), std::move(cols), static_cast<int64_t>(keep.size()));
}

Result<KeySet> GroupKeySet(const RecordBatch& groups, size_t key_columns) {
  if (groups.num_columns() < key_columns) {
    return Status::Internal("group rows have " + std::to_string(groups.num_columns()) + " columns, the state " +
                            std::to_string(key_columns) + " key columns");
  }
  std::vector<const Column*> cols;
  for (size_t k = 0; k < key_columns; ++k) cols.push_back(&groups.column(k));
  std::vector<std::string> keys = EncodeKeys(cols, groups.num_rows());
  return KeySet(std::make_move_iterator(keys.begin()), std::make_move_iterator(keys.end()));
}

// State rows (key columns first) whose group is not in `keys`.
RecordBatch StateWithout(const RecordBatch& state, size_t key_columns, const KeySet& keys) {
  std::vector<const Column*> cols;
  for (size_t k = 0; k < key_columns; ++k) cols.push_back(&state.column(k));
  std::vector<std::string> encoded = EncodeKeys(cols, state.num_rows());
  std::vector<int32_t> keep;
  for (size_t r = 0; r < encoded.size(); ++r)
    if (keys.count(encoded[r]) == 0) keep.push_back(static_cast<int32_t>(r));
  return TakeRows(state, keep);
}

}  // namespace

Result<RecordBatch> IncrementalAggregate::GroupsOf(const std::vector<RecordBatch>& rows) const {
  LP_ASSIGN_OR_RETURN(auto these, make_());
  if (these->has_grouping_sets()) {
    return Status::NotSupported("groups of rows under GROUPING SETS (each row is in several groups)");
  }
  for (const auto& b : rows) LP_RETURN_IF_ERROR(these->Push(b));
  LP_ASSIGN_OR_RETURN(RecordBatch state, these->ExportState());
  Schema schema;
  std::vector<ColumnPtr> cols;
  for (size_t k = 0; k < these->num_key_columns(); ++k) {
    schema.AddField(state.schema().field(k));
    cols.push_back(state.column_ptr(k));
  }
  return RecordBatch(std::move(schema), std::move(cols), state.num_rows());
}

Result<std::vector<RecordBatch>> IncrementalAggregate::RowsOfGroups(const std::vector<RecordBatch>& rows,
                                                                    const RecordBatch& groups, bool in) const {
  LP_ASSIGN_OR_RETURN(KeySet keys, GroupKeySet(groups, view_->num_key_columns()));
  std::vector<RecordBatch> out;
  for (const auto& b : rows) {
    if (b.num_rows() == 0) continue;
    LP_ASSIGN_OR_RETURN(std::vector<ColumnPtr> key_values, view_->EvaluateKeys(b));
    std::vector<const Column*> cols;
    for (const auto& c : key_values) cols.push_back(c.get());
    std::vector<std::string> encoded = EncodeKeys(cols, b.num_rows());
    std::vector<int32_t> keep;
    for (size_t r = 0; r < encoded.size(); ++r)
      if ((keys.count(encoded[r]) != 0) == in) keep.push_back(static_cast<int32_t>(r));
    if (!keep.empty()) out.push_back(TakeRows(b, keep));
  }
  return out;
}

Result<std::vector<RecordBatch>> IncrementalAggregate::ApplyRecomputingGroups(int64_t batch_id,
                                                                              const std::vector<RecordBatch>& rows,
                                                                              const RecordBatch& groups,
                                                                              const std::vector<RecordBatch>& recomputed,
                                                                              const std::vector<RecordBatch>& retracted) {
  if (pairs_ && groups.num_rows() > 0 && retracted.empty()) {
    return Status::Internal("incremental aggregate: groups recomputed without the rows they lost (their "
                            "count(DISTINCT) pairs must leave the store)");
  }
  LP_ASSIGN_OR_RETURN(bool applied, BeginBatch(batch_id));
  if (applied) return view_->CurrentResult();  // already in the state
  const size_t key_columns = view_->num_key_columns();
  LP_ASSIGN_OR_RETURN(KeySet keys, GroupKeySet(groups, key_columns));
  LP_ASSIGN_OR_RETURN(std::vector<RecordBatch> in_groups, RowsOfGroups(recomputed, groups, true));
  LP_ASSIGN_OR_RETURN(std::vector<RecordBatch> other_groups, RowsOfGroups(rows, groups, false));
  // The new state is built aside and swapped in whole, so a failure leaves view_ as it was.
  // The replaced groups' distinct values are counted in memory (a few groups' rows).
  LP_ASSIGN_OR_RETURN(auto again, make_());
  for (const auto& b : in_groups) LP_RETURN_IF_ERROR(again->Push(b));
  LP_ASSIGN_OR_RETURN(RecordBatch replaced, again->ExportState());
  if (pairs_) {
    // The store's pairs of these groups become those of their current rows: the pairs of
    // the rows they lost leave it, then those of the rows they hold are put back (a value
    // both lost and still held stays). Every pair it had came from a row now either
    // retracted or still held, so nothing stale is left.
    LP_ASSIGN_OR_RETURN(std::vector<RecordBatch> lost, RowsOfGroups(retracted, groups, true));
    auto removing = std::make_shared<RemovingPairs>(pairs_.get());
    LP_ASSIGN_OR_RETURN(auto unmark, Counting(plain_, [removing] { return removing; })());
    for (const auto& b : lost) LP_RETURN_IF_ERROR(unmark->Push(b));
    LP_ASSIGN_OR_RETURN(auto mark, make_rows_());
    for (const auto& b : in_groups) LP_RETURN_IF_ERROR(mark->Push(b));
  }
  LP_ASSIGN_OR_RETURN(auto these, make_rows_());
  for (const auto& b : other_groups) LP_RETURN_IF_ERROR(these->Push(b));
  LP_ASSIGN_OR_RETURN(RecordBatch delta, these->ExportState());
  LP_ASSIGN_OR_RETURN(RecordBatch state, view_->ExportState());
  LP_ASSIGN_OR_RETURN(auto fresh, make_());
  LP_RETURN_IF_ERROR(fresh->MergeState(StateWithout(state, key_columns, keys)));
  LP_RETURN_IF_ERROR(fresh->MergeState(replaced));
  LP_RETURN_IF_ERROR(fresh->MergeState(delta));
  // pending_ is the batch's delta; it cannot express a replacement, so the commit writes
  // a snapshot (groups_dropped_), and pending_ only keeps the marker's batch.
  Status merged = pending_->MergeState(delta);
  if (!merged.ok()) {
    Status reload = Reload();
    return reload.ok() ? merged : reload;
  }
  view_ = std::move(fresh);
  groups_dropped_ = true;
  return view_->CurrentResult();
}

Status IncrementalAggregate::Commit(int64_t batch_id) {
  std::optional<int64_t> committed = store_->committed_batch();
  if (committed && batch_id <= *committed) return Status::OK();  // applied before a crash
  if (!pending_batch_) {
    // A batch without input for this aggregate still advances the marker.
    LP_ASSIGN_OR_RETURN(pending_, make_());
    pending_batch_ = batch_id;
  }
  if (*pending_batch_ != batch_id) {
    return Status::Internal("incremental aggregate: commit of batch " + std::to_string(batch_id) +
                            " but batch " + std::to_string(*pending_batch_) + " was applied");
  }
  LP_ASSIGN_OR_RETURN(RecordBatch delta, pending_->ExportState());
  if (pairs_) {
    // The pairs first: a crash before the aggregate's write leaves the markers apart,
    // which the next Open sees (and starts the view again), never pairs missing from a
    // count that includes them.
    LP_RETURN_IF_ERROR(pairs_->Commit(batch_id));
    LP_KILL_POINT("mv.after_distinct_pairs_commit");
    Status written = store_->Commit(batch_id, delta, *view_, groups_dropped_);
    if (!written.ok()) {
      Status discarded = DiscardState("the write of batch " + std::to_string(batch_id) + "'s aggregate failed after "
                                      "its distinct pairs' (" + written.message() + ")");
      return discarded.ok() ? written : discarded;
    }
  } else {
    LP_RETURN_IF_ERROR(store_->Commit(batch_id, delta, *view_, groups_dropped_));
  }
  groups_dropped_ = false;
  pending_.reset();
  pending_batch_.reset();
  return Status::OK();
}

Status IncrementalAggregate::Abandon() {
  // Pairs may be pending before any Apply: the rows of an input read by parts were
  // counted (RowsFactory) before the failure.
  if (pairs_) LP_RETURN_IF_ERROR(pairs_->Abandon());
  if (!pending_batch_) return Status::OK();
  return Reload();
}

}  // namespace lakepipe::state
