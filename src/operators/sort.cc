#include "operators/sort.h"

#include <algorithm>
#include <cmath>

#include "expr/eval.h"
#include "operators/filter.h"

namespace lakepipe::operators {

int CompareNonNull(const Column& c, int64_t a, int64_t b) {
  auto cmp = [](auto x, auto y) { return (x > y) - (x < y); };
  switch (c.type().id()) {
    case TypeId::kBoolean: return cmp(c.data<uint8_t>()[a], c.data<uint8_t>()[b]);
    case TypeId::kByte: return cmp(c.data<int8_t>()[a], c.data<int8_t>()[b]);
    case TypeId::kShort: return cmp(c.data<int16_t>()[a], c.data<int16_t>()[b]);
    case TypeId::kInt:
    case TypeId::kDate: return cmp(c.data<int32_t>()[a], c.data<int32_t>()[b]);
    case TypeId::kLong:
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz: return cmp(c.data<int64_t>()[a], c.data<int64_t>()[b]);
    case TypeId::kDecimal: return cmp(c.data<int128_t>()[a], c.data<int128_t>()[b]);
    case TypeId::kFloat:
    case TypeId::kDouble: {
      double x = c.type().id() == TypeId::kFloat ? c.data<float>()[a] : c.data<double>()[a];
      double y = c.type().id() == TypeId::kFloat ? c.data<float>()[b] : c.data<double>()[b];
      bool xn = std::isnan(x), yn = std::isnan(y);
      if (xn || yn) return xn == yn ? 0 : (xn ? 1 : -1);
      return cmp(x, y);
    }
    case TypeId::kString:
    case TypeId::kBinary: {
      int r = c.GetString(a).compare(c.GetString(b));
      return (r > 0) - (r < 0);
    }
    default: return c.GetValue(a).Compare(c.GetValue(b));
  }
}

Result<std::unique_ptr<Sort>> Sort::Make(const Schema& input, std::vector<SortKey> keys, std::optional<int64_t> limit) {
  std::unique_ptr<Sort> s(new Sort());
  for (const auto& k : keys) {
    if (k.expr.type.is_nested()) return Status::NotSupported("ORDER BY a " + k.expr.type.ToString() + " value (`" + k.expr.text + "`)");
  }
  s->schema_ = input;
  s->keys_ = std::move(keys);
  s->limit_ = limit;
  return s;
}

Status Sort::Push(const RecordBatch& batch) {
  if (batch.num_rows() > 0) batches_.push_back(batch);
  return Status::OK();
}

Result<std::vector<RecordBatch>> Sort::Finish() {
  RecordBatch all = RecordBatch::Concat(schema_, batches_);
  batches_.clear();
  int64_t n = all.num_rows();
  std::vector<ColumnPtr> key_cols;
  for (const auto& k : keys_) {
    LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(k.expr, all));
    key_cols.push_back(std::move(c));
  }
  std::vector<int32_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  auto less = [&](int32_t a, int32_t b) {
    for (size_t k = 0; k < keys_.size(); ++k) {
      const Column& c = *key_cols[k];
      bool asc = keys_[k].ascending;
      bool nulls_first = keys_[k].nulls_first.value_or(asc);
      bool an = c.type().id() == TypeId::kNull || c.IsNull(a);
      bool bn = c.type().id() == TypeId::kNull || c.IsNull(b);
      if (an || bn) {
        if (an && bn) continue;
        return an ? nulls_first : !nulls_first;
      }
      int r = CompareNonNull(c, a, b);
      if (r != 0) return asc ? r < 0 : r > 0;
    }
    return false;
  };
  if (limit_ && *limit_ < n) {
    auto mid = order.begin() + *limit_;
    std::partial_sort(order.begin(), mid, order.end(), [&](int32_t a, int32_t b) {
      // Tie-break by row index keeps the stable order under partial_sort.
      if (less(a, b)) return true;
      if (less(b, a)) return false;
      return a < b;
    });
    order.resize(static_cast<size_t>(*limit_));
  } else {
    std::stable_sort(order.begin(), order.end(), less);
  }
  std::vector<RecordBatch> out;
  out.push_back(TakeRows(all, order));
  return out;
}

RecordBatch Limit::Apply(const RecordBatch& batch) {
  int64_t n = batch.num_rows();
  int64_t start = 0;
  if (skipped_ < offset_) {
    int64_t skip = std::min(offset_ - skipped_, n);
    skipped_ += skip;
    start = skip;
  }
  int64_t take = std::max<int64_t>(0, std::min(n - start, limit_ - emitted_));
  emitted_ += take;
  if (start == 0 && take == n) return batch;
  return batch.Slice(start, take);
}

}  // namespace lakepipe::operators
