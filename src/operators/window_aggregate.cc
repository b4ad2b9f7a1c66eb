#include "operators/window_aggregate.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "expr/eval.h"
#include "operators/filter.h"
#include "operators/key_encoder.h"
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
                                                               Factory make, Schema output_schema,
                                                               std::vector<expr::BoundExpr> other_keys) {
  if (window.session) window.slide_micros = window.size_micros;
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
  w->other_keys_ = std::move(other_keys);
  w->make_ = std::move(make);
  if (window.session && (w->agg_->output_schema().size() != w->output_schema_.size() + 1 ||
                         !w->agg_->output_schema().field(w->output_schema_.size()).type.is_timestamp())) {
    return Status::Internal("a session window aggregate needs max(time) as its last aggregate");
  }
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
  if (window_.session) {
    for (int64_t i = 0; i < batch.num_rows(); ++i) {
      if (times->IsNull(i)) {
        if (delay_) {
          late->push_back({static_cast<int32_t>(i), time_name + " is NULL: the row belongs to no session"});
          continue;
        }
        rows.push_back(static_cast<int32_t>(i));  // batch: the NULL session
        continue;
      }
      int64_t ts = t[i];
      std::optional<int64_t> wm = watermark();
      // A row behind the watermark could join a session that was already written.
      if (wm && ts < *wm) {
        late->push_back({static_cast<int32_t>(i), time_name + " " + FormatTimestamp(ts) + " is behind the watermark " +
                                                      FormatTimestamp(*wm) + " (the latest " + time_name +
                                                      " before it minus the WATERMARK delay)"});
        continue;
      }
      rows.push_back(static_cast<int32_t>(i));
      if (delay_ && (!max_event_time_ || ts > *max_event_time_)) max_event_time_ = ts;
    }
    if (rows.empty()) return Status::OK();
    pending_.push_back(static_cast<int64_t>(rows.size()) == batch.num_rows() ? batch : TakeRows(batch, rows));
    return Status::OK();
  }
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
  const Column* last = window_.session ? &b.column(b.num_columns() - 1) : nullptr;  // max(time)
  Column window(output_schema_.field(static_cast<size_t>(window_key_)).type);
  for (int64_t i = 0; i < b.num_rows(); ++i) {
    if (start.IsNull(i)) {
      window.AppendNull();
      continue;
    }
    int64_t s = start.data<int64_t>()[i];
    int64_t end = last != nullptr ? last->data<int64_t>()[i] + window_.size_micros : s + window_.size_micros;
    window.child(0).Append<int64_t>(s);
    window.child(1).Append<int64_t>(end);
    window.CloseStructRow();
  }
  std::vector<ColumnPtr> cols = b.columns();
  if (last != nullptr) cols.pop_back();
  cols[static_cast<size_t>(window_key_)] = MakeColumn(std::move(window));
  return RecordBatch(output_schema_, std::move(cols), b.num_rows());
}

std::string WindowAggregate::SessionKey(const RecordBatch& batch, int64_t row) const {
  std::vector<const Column*> cols;
  for (size_t k = 0; k <= other_keys_.size(); ++k) {
    if (static_cast<int>(k) != window_key_) cols.push_back(&batch.column(k));
  }
  std::string out;
  KeyEncoder::Encode(cols, row, &out);
  return out;
}

namespace {

std::string WithStart(std::string key, int64_t start) {
  key.append(reinterpret_cast<const char*>(&start), sizeof(start));
  return key;
}

}  // namespace

Status WindowAggregate::Flush() {
  if (!window_.session || pending_.empty()) return Status::OK();
  const int64_t gap = window_.size_micros;
  // Every interval per key: the open sessions so far (ref -1, their id in `old_ids`) and
  // the new rows (ref = row number over the pending batches).
  struct Interval {
    int64_t start, end;
    int64_t ref;
  };
  std::unordered_map<std::string, std::vector<Interval>> by_key;
  std::vector<std::string> old_ids;
  LP_ASSIGN_OR_RETURN(auto old, agg_->CurrentResult());
  for (const auto& b : old) {
    const Column& start = b.column(static_cast<size_t>(window_key_));
    const Column& last = b.column(b.num_columns() - 1);
    for (int64_t i = 0; i < b.num_rows(); ++i) {
      if (start.IsNull(i)) continue;
      std::string key = SessionKey(b, i);
      int64_t s = start.data<int64_t>()[i];
      old_ids.push_back(WithStart(key, s));
      by_key[key].push_back({s, last.data<int64_t>()[i] + gap, -static_cast<int64_t>(old_ids.size())});
    }
  }
  std::vector<std::optional<int64_t>> new_start;
  for (const auto& p : pending_) {
    LP_ASSIGN_OR_RETURN(ColumnPtr times, expr::Evaluate(time_, p));
    std::vector<ColumnPtr> key_cols;
    std::vector<const Column*> cols;
    for (const auto& k : other_keys_) {
      LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(k, p));
      key_cols.push_back(c);
      cols.push_back(c.get());
    }
    for (int64_t i = 0; i < p.num_rows(); ++i) {
      new_start.emplace_back();
      if (times->IsNull(i)) continue;
      std::string key;
      KeyEncoder::Encode(cols, i, &key);
      int64_t ts = times->data<int64_t>()[i];
      by_key[key].push_back({ts, ts + gap, static_cast<int64_t>(new_start.size() - 1)});
    }
  }
  // Merge overlapping intervals per key ([a, b) and [c, d) with c < b); each interval's
  // session is named by the merged start.
  std::unordered_map<std::string, int64_t> old_to_new;
  for (auto& [key, ivs] : by_key) {
    std::sort(ivs.begin(), ivs.end(), [](const Interval& a, const Interval& b) { return a.start < b.start; });
    size_t i = 0;
    while (i < ivs.size()) {
      int64_t start = ivs[i].start, end = ivs[i].end;
      size_t j = i + 1;
      while (j < ivs.size() && ivs[j].start < end) end = std::max(end, ivs[j++].end);
      for (size_t m = i; m < j; ++m) {
        if (ivs[m].ref >= 0) new_start[static_cast<size_t>(ivs[m].ref)] = start;
        else old_to_new[old_ids[static_cast<size_t>(-ivs[m].ref - 1)]] = start;
      }
      i = j;
    }
  }
  LP_ASSIGN_OR_RETURN(std::unique_ptr<HashAggregate> merged, make_());
  LP_ASSIGN_OR_RETURN(RecordBatch state, agg_->ExportState());
  if (state.num_rows() > 0) {
    const Column& start = state.column(static_cast<size_t>(window_key_));
    Column starts(DataType::Timestamp());
    for (int64_t i = 0; i < state.num_rows(); ++i) {
      if (start.IsNull(i)) {
        starts.AppendNull();
        continue;
      }
      auto it = old_to_new.find(WithStart(SessionKey(state, i), start.data<int64_t>()[i]));
      if (it == old_to_new.end()) return Status::Internal("a session's state has no session");
      starts.Append<int64_t>(it->second);
    }
    std::vector<ColumnPtr> cols = state.columns();
    cols[static_cast<size_t>(window_key_)] = MakeColumn(std::move(starts));
    LP_RETURN_IF_ERROR(merged->MergeState(RecordBatch(state.schema(), std::move(cols), state.num_rows())));
  }
  size_t next = 0;
  for (const auto& p : pending_) {
    Column starts(DataType::Timestamp());
    for (int64_t i = 0; i < p.num_rows(); ++i, ++next) {
      if (new_start[next]) starts.Append<int64_t>(*new_start[next]);
      else starts.AppendNull();
    }
    Schema schema = p.schema();
    schema.AddField(Field{"__session_start", DataType::Timestamp(), true});
    std::vector<ColumnPtr> cols = p.columns();
    cols.push_back(MakeColumn(std::move(starts)));
    LP_RETURN_IF_ERROR(merged->Push(RecordBatch(schema, std::move(cols), p.num_rows())));
  }
  agg_ = std::move(merged);
  pending_.clear();
  return Status::OK();
}

Result<std::vector<std::string>> WindowAggregate::ClosedSessions(std::vector<RecordBatch>* closed_rows) {
  std::optional<int64_t> wm = watermark();
  std::vector<std::string> ids;
  LP_ASSIGN_OR_RETURN(auto batches, agg_->CurrentResult());
  for (const auto& b : batches) {
    const Column& start = b.column(static_cast<size_t>(window_key_));
    const Column& last = b.column(b.num_columns() - 1);
    std::vector<int32_t> rows;
    for (int64_t i = 0; i < b.num_rows(); ++i) {
      if (!wm || start.IsNull(i) || last.data<int64_t>()[i] + window_.size_micros > *wm) continue;
      rows.push_back(static_cast<int32_t>(i));
      ids.push_back(WithStart(SessionKey(b, i), start.data<int64_t>()[i]));
    }
    if (!rows.empty() && closed_rows != nullptr) closed_rows->push_back(TakeRows(b, rows));
  }
  return ids;
}

Result<std::vector<RecordBatch>> WindowAggregate::Finish() {
  LP_RETURN_IF_ERROR(Flush());
  LP_ASSIGN_OR_RETURN(auto batches, agg_->Finish());
  std::vector<RecordBatch> out;
  for (const auto& b : batches) {
    LP_ASSIGN_OR_RETURN(RecordBatch o, ToOutput(b));
    out.push_back(std::move(o));
  }
  return out;
}

Result<std::vector<RecordBatch>> WindowAggregate::TakeClosed() {
  LP_RETURN_IF_ERROR(Flush());
  if (window_.session) {
    std::vector<RecordBatch> closed, out;
    LP_RETURN_IF_ERROR(ClosedSessions(&closed).status());
    for (const auto& b : closed) {
      LP_ASSIGN_OR_RETURN(RecordBatch o, ToOutput(b));
      out.push_back(std::move(o));
    }
    return out;
  }
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

Result<RecordBatch> WindowAggregate::OpenState() {
  LP_RETURN_IF_ERROR(Flush());
  if (window_.session) {
    LP_ASSIGN_OR_RETURN(std::vector<std::string> closed, ClosedSessions(nullptr));
    std::unordered_set<std::string> gone(closed.begin(), closed.end());
    LP_ASSIGN_OR_RETURN(RecordBatch state, agg_->ExportState());
    const Column& start = state.column(static_cast<size_t>(window_key_));
    std::vector<int32_t> rows;
    for (int64_t i = 0; i < state.num_rows(); ++i) {
      if (start.IsNull(i) || !gone.count(WithStart(SessionKey(state, i), start.data<int64_t>()[i]))) {
        rows.push_back(static_cast<int32_t>(i));
      }
    }
    if (static_cast<int64_t>(rows.size()) == state.num_rows()) return state;
    return TakeRows(state, rows);
  }
  LP_ASSIGN_OR_RETURN(RecordBatch state, agg_->ExportState());
  std::vector<int32_t> rows = Rows(state, /*closed=*/false);
  if (static_cast<int64_t>(rows.size()) == state.num_rows()) return state;
  return TakeRows(state, rows);
}

}  // namespace lakepipe::operators
