#include "state/incremental_aggregate.h"

#include "types/decimal.h"

namespace lakepipe::state {

Result<std::unique_ptr<IncrementalAggregate>> IncrementalAggregate::Open(const std::string& dir, Factory make,
                                                                         AggregateStateStore::Options options) {
  std::unique_ptr<IncrementalAggregate> agg(new IncrementalAggregate());
  agg->make_ = std::move(make);
  LP_ASSIGN_OR_RETURN(auto probe, agg->make_());
  LP_ASSIGN_OR_RETURN(agg->store_, AggregateStateStore::Open(dir, probe->state_schema(), options));
  LP_RETURN_IF_ERROR(agg->Reload());
  return agg;
}

Status IncrementalAggregate::Reload() {
  pending_.reset();
  pending_batch_.reset();
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

Result<std::vector<RecordBatch>> IncrementalAggregate::Apply(int64_t batch_id, const std::vector<RecordBatch>& rows,
                                                             const std::vector<RecordBatch>& retracted,
                                                             size_t key_columns) {
  std::optional<int64_t> committed = store_->committed_batch();
  if (committed && batch_id <= *committed) return view_->CurrentResult();  // already in the state
  if (pending_batch_ && *pending_batch_ != batch_id) {
    return Status::Internal("incremental aggregate: batch " + std::to_string(batch_id) + " applied while batch " +
                            std::to_string(*pending_batch_) + " is neither committed nor abandoned");
  }
  if (!pending_) {
    LP_ASSIGN_OR_RETURN(pending_, make_());
    pending_batch_ = batch_id;
  }
  // These rows are aggregated alone; their state is merged both into the view and into
  // the batch's delta (pending_), which Commit persists.
  LP_ASSIGN_OR_RETURN(auto these, make_());
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
  LP_RETURN_IF_ERROR(store_->Commit(batch_id, delta, *view_, groups_dropped_));
  groups_dropped_ = false;
  pending_.reset();
  pending_batch_.reset();
  return Status::OK();
}

Status IncrementalAggregate::Abandon() {
  if (!pending_batch_) return Status::OK();
  return Reload();
}

}  // namespace lakepipe::state
