#include "operators/window_aggregate.h"

#include <algorithm>

#include "expr/eval.h"
#include "operators/filter.h"
#include "types/datetime.h"

namespace lakepipe::operators {

namespace {

int64_t FloorMod(int64_t a, int64_t b) {
  int64_t m = a % b;
  return m < 0 ? m + b : m;
}

}  // namespace

Result<std::unique_ptr<WindowAggregate>> WindowAggregate::Make(WindowSpec window, expr::BoundExpr time,
                                                               int window_key, std::optional<int64_t> delay_micros,
                                                               Factory make, Schema output_schema) {
  if (window.size_micros <= 0 || window.slide_micros <= 0 || window.slide_micros > window.size_micros) {
    return Status::InvalidArgument("a time window needs 0 < slide <= size");
  }
  if (!time.type.is_timestamp()) {
    return Status::InvalidArgument("the time of a window must be a timestamp, not " + time.type.ToString());
  }
  std::unique_ptr<WindowAggregate> w(new WindowAggregate());
  w->window_ = window;
  w->time_ = std::move(time);
  w->window_key_ = window_key;
  w->delay_ = delay_micros;
  LP_ASSIGN_OR_RETURN(w->agg_, make());
  if (window_key < 0 || static_cast<size_t>(window_key) >= w->agg_->output_schema().size() ||
      !w->agg_->output_schema().field(static_cast<size_t>(window_key)).type.is_timestamp()) {
    return Status::Internal("the window key of a window aggregate must group by the window start");
  }
  w->output_schema_ = std::move(output_schema);
  return w;
}

Status WindowAggregate::Restore(std::optional<int64_t> max_event_time, const RecordBatch& open_windows) {
  max_event_time_ = max_event_time;
  if (open_windows.num_rows() > 0) LP_RETURN_IF_ERROR(agg_->MergeState(open_windows));
  return Status::OK();
}

std::optional<int64_t> WindowAggregate::watermark() const {
  if (!delay_ || !max_event_time_) return std::nullopt;
  return *max_event_time_ - *delay_;
}

Status WindowAggregate::Push(const RecordBatch& batch, std::vector<LateRow>* late) {
  LP_ASSIGN_OR_RETURN(ColumnPtr times, expr::Evaluate(time_, batch));
  const int64_t* t = times->data<int64_t>();
  std::vector<int32_t> rows;
  Column starts(DataType::Timestamp());
  const std::string& time_name = time_.text;
  for (int64_t i = 0; i < batch.num_rows(); ++i) {
    if (times->IsNull(i)) {
      if (delay_) {
        // A streaming window needs an event time: the row could never be output.
        late->push_back({static_cast<int32_t>(i), time_name + " is NULL: the row belongs to no time window"});
        continue;
      }
      rows.push_back(static_cast<int32_t>(i));
      starts.AppendNull();
      continue;
    }
    int64_t ts = t[i];
    // Spark's rule for windows: a row still counts in each of its windows that the
    // watermark has not closed (end > watermark); it is late only when all are closed.
    std::optional<int64_t> wm = watermark();
    int64_t last = ts - FloorMod(ts - window_.offset_micros, window_.slide_micros);
    size_t before = rows.size();
    for (int64_t s = last; s > ts - window_.size_micros; s -= window_.slide_micros) {
      if (wm && s + window_.size_micros <= *wm) break;  // this one and all earlier are closed
      rows.push_back(static_cast<int32_t>(i));
      starts.Append<int64_t>(s);
    }
    if (rows.size() == before) {
      late->push_back({static_cast<int32_t>(i), time_name + " " + FormatTimestamp(ts) + " is behind the watermark " +
                                                    FormatTimestamp(*wm) + " (the latest " + time_name +
                                                    " before it minus the WATERMARK delay) in every window it "
                                                    "belongs to"});
      continue;
    }
    if (delay_ && (!max_event_time_ || ts > *max_event_time_)) max_event_time_ = ts;
  }
  if (rows.empty()) return Status::OK();
  RecordBatch expanded = TakeRows(batch, rows);
  Schema schema = batch.schema();
  schema.AddField(Field{"__window_start", DataType::Timestamp(), true});
  std::vector<ColumnPtr> cols = expanded.columns();
  cols.push_back(MakeColumn(std::move(starts)));
  return agg_->Push(RecordBatch(schema, std::move(cols), expanded.num_rows()));
}

std::vector<int32_t> WindowAggregate::Rows(const RecordBatch& batch, bool closed) const {
  std::optional<int64_t> wm = watermark();
  const Column& start = batch.column(static_cast<size_t>(window_key_));
  std::vector<int32_t> out;
  for (int64_t i = 0; i < batch.num_rows(); ++i) {
    bool is_closed = wm && !start.IsNull(i) && start.data<int64_t>()[i] + window_.size_micros <= *wm;
    if (is_closed == closed) out.push_back(static_cast<int32_t>(i));
  }
  return out;
}

Result<RecordBatch> WindowAggregate::ToOutput(const RecordBatch& b) const {
  const Column& start = b.column(static_cast<size_t>(window_key_));
  Column window(output_schema_.field(static_cast<size_t>(window_key_)).type);
  for (int64_t i = 0; i < b.num_rows(); ++i) {
    if (start.IsNull(i)) {
      window.AppendNull();
      continue;
    }
    int64_t s = start.data<int64_t>()[i];
    window.child(0).Append<int64_t>(s);
    window.child(1).Append<int64_t>(s + window_.size_micros);
    window.CloseStructRow();
  }
  std::vector<ColumnPtr> cols = b.columns();
  cols[static_cast<size_t>(window_key_)] = MakeColumn(std::move(window));
  return RecordBatch(output_schema_, std::move(cols), b.num_rows());
}

Result<std::vector<RecordBatch>> WindowAggregate::Finish() {
  LP_ASSIGN_OR_RETURN(auto batches, agg_->Finish());
  std::vector<RecordBatch> out;
  for (const auto& b : batches) {
    LP_ASSIGN_OR_RETURN(RecordBatch o, ToOutput(b));
    out.push_back(std::move(o));
  }
  return out;
}

Result<std::vector<RecordBatch>> WindowAggregate::TakeClosed() {
  LP_ASSIGN_OR_RETURN(auto batches, agg_->CurrentResult());
  std::vector<RecordBatch> out;
  for (const auto& b : batches) {
    std::vector<int32_t> rows = Rows(b, /*closed=*/true);
    if (rows.empty()) continue;
    LP_ASSIGN_OR_RETURN(RecordBatch o, ToOutput(TakeRows(b, rows)));
    out.push_back(std::move(o));
  }
  return out;
}

Result<RecordBatch> WindowAggregate::OpenState() const {
  LP_ASSIGN_OR_RETURN(RecordBatch state, agg_->ExportState());
  std::vector<int32_t> rows = Rows(state, /*closed=*/false);
  if (static_cast<int64_t>(rows.size()) == state.num_rows()) return state;
  return TakeRows(state, rows);
}

}  // namespace lakepipe::operators
