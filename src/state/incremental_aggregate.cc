#include "state/incremental_aggregate.h"

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
  return store_->LoadInto(view_.get());
}

Result<std::vector<RecordBatch>> IncrementalAggregate::Apply(int64_t batch_id, const std::vector<RecordBatch>& rows) {
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
  Status merged = pending_->MergeState(delta);
  if (merged.ok()) merged = view_->MergeState(delta);
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
  LP_RETURN_IF_ERROR(store_->Commit(batch_id, delta, *view_));
  pending_.reset();
  pending_batch_.reset();
  return Status::OK();
}

Status IncrementalAggregate::Abandon() {
  if (!pending_batch_) return Status::OK();
  return Reload();
}

}  // namespace lakepipe::state
