#include "operators/deduplicate.h"

#include <algorithm>

#include "operators/filter.h"
#include "operators/key_encoder.h"
#include "types/datetime.h"

namespace lakepipe::operators {

Status InMemorySeenKeySet::InsertIfAbsent(const std::vector<std::string_view>& keys, std::vector<uint8_t>* inserted) {
  inserted->resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    bool added;
    table_.FindOrInsert(keys[i], &added);
    (*inserted)[i] = added ? 1 : 0;
  }
  return Status::OK();
}

Status InMemorySeenKeySet::InsertIfAbsentWithTime(const std::vector<std::string_view>& keys,
                                                  const std::vector<int64_t>& event_times,
                                                  std::vector<uint8_t>* inserted) {
  inserted->resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    bool added;
    int32_t id = table_.FindOrInsert(keys[i], &added);
    if (added) times_.push_back(event_times[i]);
    else times_[static_cast<size_t>(id)] = std::max(times_[static_cast<size_t>(id)], event_times[i]);
    (*inserted)[i] = added ? 1 : 0;
  }
  return Status::OK();
}

Status InMemorySeenKeySet::InsertIfAbsentOrExpired(const std::vector<std::string_view>& keys,
                                                   const std::vector<int64_t>& event_times,
                                                   const std::vector<int64_t>& floors, std::vector<uint8_t>* inserted,
                                                   std::vector<int64_t>* recorded) {
  inserted->assign(keys.size(), 0);
  recorded->assign(keys.size(), 0);
  for (size_t i = 0; i < keys.size(); ++i) {
    bool added;
    int32_t id = table_.FindOrInsert(keys[i], &added);
    if (added) {
      times_.push_back(event_times[i]);
      (*inserted)[i] = 1;
    } else if (times_[static_cast<size_t>(id)] < floors[i]) {
      times_[static_cast<size_t>(id)] = event_times[i];
      (*inserted)[i] = 1;
    } else {
      (*recorded)[i] = times_[static_cast<size_t>(id)];
    }
  }
  return Status::OK();
}

Result<int64_t> InMemorySeenKeySet::ExpireBefore(int64_t watermark_micros) {
  if (!watermark_ || watermark_micros > *watermark_) watermark_ = watermark_micros;
  if (times_.size() != static_cast<size_t>(table_.size())) {
    return Status::Internal("seen-key set mixes keys with and without event times");
  }
  KeyTable kept;
  std::vector<int64_t> kept_times;
  int64_t expired = 0;
  for (int32_t id = 0; id < table_.size(); ++id) {
    if (times_[static_cast<size_t>(id)] < watermark_micros) {
      ++expired;
      continue;
    }
    bool added;
    kept.FindOrInsert(table_.key(id), &added);
    kept_times.push_back(times_[static_cast<size_t>(id)]);
  }
  if (expired > 0) {
    table_ = std::move(kept);
    times_ = std::move(kept_times);
  }
  return expired;
}

Result<std::unique_ptr<Deduplicate>> Deduplicate::Make(const Schema& input, std::vector<int> key_columns,
                                                       std::shared_ptr<SeenKeySet> seen,
                                                       std::optional<DeduplicateWatermark> watermark) {
  std::unique_ptr<Deduplicate> d(new Deduplicate());
  if (watermark) {
    int c = watermark->event_time_column;
    if (c < 0 || static_cast<size_t>(c) >= input.size() || !input.field(static_cast<size_t>(c)).type.is_timestamp()) {
      return Status::InvalidArgument("the watermark column of a deduplication must be a timestamp column of the input");
    }
    if (watermark->delay_micros < 0) return Status::InvalidArgument("a watermark delay must not be negative");
    d->watermark_spec_ = watermark;
  }
  d->keyed_ = !key_columns.empty();
  if (key_columns.empty()) {
    for (size_t i = 0; i < input.size(); ++i) key_columns.push_back(static_cast<int>(i));
  }
  for (int k : key_columns) {
    if (k < 0 || static_cast<size_t>(k) >= input.size()) {
      return Status::InvalidArgument("deduplication key column #" + std::to_string(k) + " is not in the input");
    }
    LP_RETURN_IF_ERROR(KeyEncoder::CheckKeyType(input.field(static_cast<size_t>(k)).type,
                                                "deduplication key `" + input.field(static_cast<size_t>(k)).name + "`"));
  }
  d->key_columns_ = std::move(key_columns);
  d->seen_ = seen ? std::move(seen) : std::make_shared<InMemorySeenKeySet>();
  if (d->watermark_spec_) d->watermark_ = d->seen_->RecordedWatermark();
  return d;
}

Result<RecordBatch> Deduplicate::Push(const RecordBatch& batch, std::vector<LateRow>* late) {
  LP_ASSIGN_OR_RETURN(SelectedBatch fresh, PushSelect(batch, late));
  return fresh.Materialize();
}

Result<SelectedBatch> Deduplicate::PushSelect(const RecordBatch& batch, std::vector<LateRow>* late) {
  int64_t n = batch.num_rows();
  std::vector<const Column*> cols;
  for (int k : key_columns_) cols.push_back(&batch.column(static_cast<size_t>(k)));
  if (!watermark_spec_) {
    // A slice of rows at a time: the slice's keys (about 100 bytes each for a DISTINCT of
    // an order line) stay in the cache from their encoding to their digest, where a whole
    // 64k-row part's keys (megabytes) went out to memory and were read back. The seen set
    // gets the same keys in the same order, so it decides the same.
    constexpr int64_t kSliceRows = 2048;
    std::vector<int32_t> rows;
    rows.reserve(static_cast<size_t>(n));
    for (int64_t from = 0; from < n; from += kSliceRows) {
      const int64_t count = std::min(kSliceRows, n - from);
      KeyEncoder::EncodeRows(cols, from, count, &arena_, &keys_);
      LP_RETURN_IF_ERROR(seen_->InsertIfAbsent(keys_, &inserted_));
      for (size_t i = 0; i < inserted_.size(); ++i) {
        if (inserted_[i]) rows.push_back(static_cast<int32_t>(from + static_cast<int64_t>(i)));
      }
    }
    return SelectedBatch(batch, std::move(rows));
  }
  // Watermarked, row by row: each row's watermark is the largest event time before it
  // minus the delay (late rows are below it and never raise the largest).
  const Column& time_col = batch.column(static_cast<size_t>(watermark_spec_->event_time_column));
  const int64_t delay = watermark_spec_->delay_micros;
  std::optional<int64_t> max_time;
  if (watermark_) max_time = *watermark_ + delay;
  std::vector<int32_t> candidates;
  times_.clear();
  floors_.clear();
  for (int64_t i = 0; i < n; ++i) {
    std::optional<int64_t> wm;
    if (max_time) wm = *max_time - delay;
    if (time_col.IsNull(i)) {
      if (keyed_) {
        if (late != nullptr) {
          late->push_back({static_cast<int32_t>(i), wm.value_or(0),
                           "the event time is NULL: the row's key could never be forgotten"});
        }
        continue;
      }
      candidates.push_back(static_cast<int32_t>(i));
      times_.push_back(INT64_MAX);  // never expires
      floors_.push_back(INT64_MIN);
      continue;
    }
    int64_t t = time_col.data<int64_t>()[i];
    if (wm && t < *wm) {
      if (late != nullptr) late->push_back({static_cast<int32_t>(i), *wm, ""});
      continue;
    }
    candidates.push_back(static_cast<int32_t>(i));
    times_.push_back(t);
    floors_.push_back(wm ? *wm : INT64_MIN);
    if (!max_time || t > *max_time) max_time = t;
  }
  RecordBatch candidate_batch = static_cast<int64_t>(candidates.size()) == n ? batch : TakeRows(batch, candidates);
  cols.clear();
  for (int k : key_columns_) cols.push_back(&candidate_batch.column(static_cast<size_t>(k)));
  KeyEncoder::EncodeAll(cols, candidate_batch.num_rows(), &arena_, &keys_);
  LP_RETURN_IF_ERROR(seen_->InsertIfAbsentOrExpired(keys_, times_, floors_, &inserted_, &recorded_));
  std::vector<int32_t> rows;
  for (size_t i = 0; i < inserted_.size(); ++i) {
    if (inserted_[i]) {
      rows.push_back(static_cast<int32_t>(i));
    } else if (keyed_ && times_[i] < recorded_[i] && late != nullptr) {
      late->push_back({candidates[i], floors_[i],
                       "a row of its key with a later event time (" + FormatTimestamp(recorded_[i]) +
                           ") arrived first and was kept; the first row by event time cannot replace it"});
    }
  }
  if (late != nullptr) {
    std::sort(late->begin(), late->end(), [](const LateRow& a, const LateRow& b) { return a.row < b.row; });
  }
  SelectedBatch out(std::move(candidate_batch), std::move(rows));
  if (max_time) {
    int64_t w = *max_time - delay;
    if (!watermark_ || w > *watermark_) watermark_ = w;
    LP_ASSIGN_OR_RETURN(int64_t expired, seen_->ExpireBefore(*watermark_));
    (void)expired;
  }
  return out;
}

}  // namespace lakepipe::operators
