#include "operators/stream_join.h"

#include <algorithm>

#include "expr/eval.h"
#include "operators/key_encoder.h"
#include "operators/key_table.h"

namespace lakepipe::operators {
namespace {

// a + b, clamped to the int64 range (event times near the ends must not wrap around).
int64_t SatAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

RecordBatch TakeRows(const RecordBatch& b, const std::vector<int32_t>& rows) {
  std::vector<ColumnPtr> cols;
  for (size_t c = 0; c < b.num_columns(); ++c) cols.push_back(MakeColumn(b.column(c).Take(rows)));
  return RecordBatch(b.schema(), std::move(cols), static_cast<int64_t>(rows.size()));
}

RecordBatch ConcatAll(const Schema& schema, std::vector<RecordBatch> batches) {
  batches.erase(std::remove_if(batches.begin(), batches.end(), [](const RecordBatch& b) { return b.num_rows() == 0; }),
                batches.end());
  if (batches.empty()) return RecordBatch::Empty(schema);
  return RecordBatch::Concat(schema, batches);
}

// Splits one side's new rows into on-time and late rows, advancing its watermark base row
// by row (a row with a NULL event time is never late and moves nothing).
void SplitLate(const RecordBatch& rows, int time_col, int64_t delay, std::optional<int64_t>* max_time,
               RecordBatch* on_time, RecordBatch* late, std::vector<int64_t>* watermarks) {
  const Column& t = rows.column(static_cast<size_t>(time_col));
  std::vector<int32_t> keep, drop;
  for (int64_t i = 0; i < rows.num_rows(); ++i) {
    if (!t.IsNull(i)) {
      int64_t v = t.Get<int64_t>(i);
      if (*max_time && v < SatAdd(**max_time, -delay)) {
        drop.push_back(static_cast<int32_t>(i));
        watermarks->push_back(SatAdd(**max_time, -delay));
        continue;
      }
      if (!*max_time || v > **max_time) *max_time = v;
    }
    keep.push_back(static_cast<int32_t>(i));
  }
  *on_time = drop.empty() ? rows : TakeRows(rows, keep);
  *late = TakeRows(rows, drop);
}

constexpr size_t kPairChunk = 1 << 16;

}  // namespace

StreamJoinState::StreamJoinState(const Schema& l, const Schema& r) {
  left.rows = RecordBatch::Empty(l);
  right.rows = RecordBatch::Empty(r);
}

void StreamJoinState::MarkCommitted() {
  first_uncommitted_id = next_id;
  removed_ids.clear();
  rematched_ids.clear();
  dirty = false;
}

int64_t StreamJoinState::MemoryBytes() const {
  return left.rows.MemoryBytes() + right.rows.MemoryBytes() +
         static_cast<int64_t>((left.ids.size() + right.ids.size()) * 9 + removed_ids.size() * 8);
}

Result<std::unique_ptr<StreamJoin>> StreamJoin::Make(JoinType type, const Schema& left, const Schema& right,
                                                     const Schema& output, std::vector<expr::BoundExpr> left_keys,
                                                     std::vector<expr::BoundExpr> right_keys,
                                                     std::optional<expr::BoundExpr> residual,
                                                     const StreamJoinBounds& bounds, StreamJoinState* state) {
  if (left_keys.size() != right_keys.size() || left_keys.empty()) {
    return Status::InvalidArgument("a stream-stream join needs the same number (at least one) of left and right keys");
  }
  for (size_t i = 0; i < left_keys.size(); ++i) {
    if (left_keys[i].type != right_keys[i].type) {
      auto common = expr::CommonType(left_keys[i].type, right_keys[i].type);
      if (!common.ok()) return common.status();
      left_keys[i] = expr::CastTo(std::move(left_keys[i]), *common);
      right_keys[i] = expr::CastTo(std::move(right_keys[i]), *common);
    }
    LP_RETURN_IF_ERROR(KeyEncoder::CheckKeyType(left_keys[i].type, "join key `" + left_keys[i].text + "`"));
  }
  auto check_time = [](const Schema& s, int col, const char* which) -> Status {
    if (col < 0 || static_cast<size_t>(col) >= s.size() || !s.field(static_cast<size_t>(col)).type.is_timestamp()) {
      return Status::Internal(std::string("stream join: bad ") + which + " event-time column");
    }
    return Status::OK();
  };
  LP_RETURN_IF_ERROR(check_time(left, bounds.left_time, "left"));
  LP_RETURN_IF_ERROR(check_time(right, bounds.right_time, "right"));
  if (output.size() != left.size() + right.size()) return Status::Internal("stream join: output is not left + right");
  if (state == nullptr) return Status::Internal("stream join without state");
  std::unique_ptr<StreamJoin> j(new StreamJoin());
  j->type_ = type;
  j->left_schema_ = left;
  j->right_schema_ = right;
  j->output_schema_ = output;
  j->left_keys_ = std::move(left_keys);
  j->right_keys_ = std::move(right_keys);
  j->residual_ = std::move(residual);
  j->bounds_ = bounds;
  j->state_ = state;
  return j;
}

Status StreamJoin::KeysOf(const RecordBatch& rows, const std::vector<expr::BoundExpr>& keys, std::string* arena,
                          std::vector<std::string_view>* out, std::vector<uint8_t>* null_key) {
  std::vector<ColumnPtr> keep;
  std::vector<const Column*> cols;
  for (const auto& k : keys) {
    LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(k, rows));
    cols.push_back(c.get());
    keep.push_back(std::move(c));
  }
  KeyEncoder::EncodeAll(cols, rows.num_rows(), arena, out);
  null_key->assign(static_cast<size_t>(rows.num_rows()), 0);
  for (int64_t i = 0; i < rows.num_rows(); ++i) (*null_key)[static_cast<size_t>(i)] = KeyEncoder::AnyNull(cols, i);
  return Status::OK();
}

Result<RecordBatch> StreamJoin::Pairs(const RecordBatch& l, const RecordBatch& r, const std::vector<int32_t>& li,
                                      const std::vector<int32_t>& ri, std::vector<int32_t>* kept) {
  std::vector<ColumnPtr> cols;
  for (size_t c = 0; c < l.num_columns(); ++c) cols.push_back(MakeColumn(l.column(c).Take(li)));
  for (size_t c = 0; c < r.num_columns(); ++c) cols.push_back(MakeColumn(r.column(c).Take(ri)));
  RecordBatch joined(output_schema_, std::move(cols), static_cast<int64_t>(li.size()));
  if (!residual_) {
    kept->resize(li.size());
    for (size_t i = 0; i < li.size(); ++i) (*kept)[i] = static_cast<int32_t>(i);
    return joined;
  }
  LP_ASSIGN_OR_RETURN(*kept, expr::EvaluateSelection(*residual_, joined));
  if (kept->size() == li.size()) return joined;
  return TakeRows(joined, *kept);
}

Result<StreamJoinOutput> StreamJoin::Push(const std::vector<RecordBatch>& left_in,
                                          const std::vector<RecordBatch>& right_in) {
  StreamJoinState& st = *state_;
  StreamJoinOutput out;
  RecordBatch new_left, new_right;
  SplitLate(ConcatAll(left_schema_, left_in), bounds_.left_time, bounds_.left_delay_micros, &st.left.max_time,
            &new_left, &out.late_left, &out.late_left_watermarks);
  SplitLate(ConcatAll(right_schema_, right_in), bounds_.right_time, bounds_.right_delay_micros, &st.right.max_time,
            &new_right, &out.late_right, &out.late_right_watermarks);
  st.dirty = true;

  // Every buffered row and every new on-time row, old ones first.
  const int64_t old_left = st.left.rows.num_rows(), old_right = st.right.rows.num_rows();
  RecordBatch all_left = ConcatAll(left_schema_, {st.left.rows, new_left});
  RecordBatch all_right = ConcatAll(right_schema_, {st.right.rows, new_right});
  if (all_left.num_rows() > INT32_MAX || all_right.num_rows() > INT32_MAX) {
    return Status::NotSupported("a stream-stream join buffering more than 2^31 rows per side");
  }
  for (int64_t i = 0; i < new_left.num_rows(); ++i) {
    st.left.ids.push_back(st.next_id++);
    st.left.matched.push_back(0);
  }
  for (int64_t i = 0; i < new_right.num_rows(); ++i) {
    st.right.ids.push_back(st.next_id++);
    st.right.matched.push_back(0);
  }

  std::string left_arena, right_arena;
  std::vector<std::string_view> left_keys, right_keys;
  std::vector<uint8_t> left_null, right_null;
  LP_RETURN_IF_ERROR(KeysOf(all_left, left_keys_, &left_arena, &left_keys, &left_null));
  LP_RETURN_IF_ERROR(KeysOf(all_right, right_keys_, &right_arena, &right_keys, &right_null));

  // Right rows by key, each list ascending, so an old left row looks only at new right
  // rows (it met the old ones in earlier batches).
  KeyTable index;
  std::vector<std::vector<int32_t>> rows_of;
  for (int64_t j = 0; j < all_right.num_rows(); ++j) {
    if (right_null[static_cast<size_t>(j)]) continue;
    bool inserted;
    int32_t id = index.FindOrInsert(right_keys[static_cast<size_t>(j)], &inserted);
    if (inserted) rows_of.emplace_back();
    rows_of[static_cast<size_t>(id)].push_back(static_cast<int32_t>(j));
  }
  std::vector<int32_t> li, ri, kept;
  auto flush = [&]() -> Status {
    if (li.empty()) return Status::OK();
    LP_ASSIGN_OR_RETURN(RecordBatch joined, Pairs(all_left, all_right, li, ri, &kept));
    for (int32_t k : kept) {
      size_t l = static_cast<size_t>(li[static_cast<size_t>(k)]);
      if (!st.left.matched[l]) {
        st.left.matched[l] = 1;
        if (st.left.ids[l] < st.first_uncommitted_id) st.rematched_ids.insert(st.left.ids[l]);
      }
    }
    if (joined.num_rows() > 0) out.rows.push_back(std::move(joined));
    li.clear();
    ri.clear();
    return Status::OK();
  };
  for (int64_t i = 0; i < all_left.num_rows(); ++i) {
    if (left_null[static_cast<size_t>(i)]) continue;
    int32_t id = index.Find(left_keys[static_cast<size_t>(i)]);
    if (id < 0) continue;
    const auto& rows = rows_of[static_cast<size_t>(id)];
    auto from = i >= old_left ? rows.begin() : std::lower_bound(rows.begin(), rows.end(), static_cast<int32_t>(old_right));
    for (auto it = from; it != rows.end(); ++it) {
      li.push_back(static_cast<int32_t>(i));
      ri.push_back(*it);
      if (li.size() >= kPairChunk) LP_RETURN_IF_ERROR(flush());
    }
  }
  LP_RETURN_IF_ERROR(flush());

  // Eviction by the other side's watermark; a row that can never match (NULL key or
  // event time) goes at once.
  std::optional<int64_t> left_wm, right_wm;
  if (st.left.max_time) left_wm = SatAdd(*st.left.max_time, -bounds_.left_delay_micros);
  if (st.right.max_time) right_wm = SatAdd(*st.right.max_time, -bounds_.right_delay_micros);
  auto evict = [&](StreamJoinState::Side& side, const RecordBatch& all, const std::vector<uint8_t>& null_key,
                   int time_col, bool is_left, std::vector<int32_t>* unmatched) {
    const Column& t = all.column(static_cast<size_t>(time_col));
    std::vector<int32_t> keep;
    std::vector<int64_t> ids;
    std::vector<uint8_t> matched;
    for (int64_t i = 0; i < all.num_rows(); ++i) {
      size_t u = static_cast<size_t>(i);
      bool gone;
      if (null_key[u] || t.IsNull(i)) {
        gone = true;
      } else if (is_left) {
        gone = right_wm && SatAdd(t.Get<int64_t>(i), bounds_.upper_micros) < *right_wm;
      } else {
        gone = left_wm && SatAdd(t.Get<int64_t>(i), -bounds_.lower_micros) < *left_wm;
      }
      if (!gone) {
        keep.push_back(static_cast<int32_t>(i));
        ids.push_back(side.ids[u]);
        matched.push_back(side.matched[u]);
        continue;
      }
      if (is_left && !side.matched[u] && unmatched) unmatched->push_back(static_cast<int32_t>(i));
      if (side.ids[u] < st.first_uncommitted_id) {
        st.removed_ids.push_back(side.ids[u]);
        st.rematched_ids.erase(side.ids[u]);
      }
    }
    side.rows = static_cast<int64_t>(keep.size()) == all.num_rows() ? all : TakeRows(all, keep);
    side.ids = std::move(ids);
    side.matched = std::move(matched);
  };
  std::vector<int32_t> unmatched;
  evict(st.left, all_left, left_null, bounds_.left_time, true, type_ == JoinType::kLeft ? &unmatched : nullptr);
  evict(st.right, all_right, right_null, bounds_.right_time, false, nullptr);
  if (!unmatched.empty()) {
    std::vector<ColumnPtr> cols;
    for (size_t c = 0; c < all_left.num_columns(); ++c) cols.push_back(MakeColumn(all_left.column(c).Take(unmatched)));
    for (size_t c = 0; c < right_schema_.size(); ++c) {
      cols.push_back(MakeColumn(Column::Nulls(right_schema_.field(c).type, static_cast<int64_t>(unmatched.size()))));
    }
    out.rows.emplace_back(output_schema_, std::move(cols), static_cast<int64_t>(unmatched.size()));
  }
  return out;
}

}  // namespace lakepipe::operators
