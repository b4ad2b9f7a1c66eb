#include "operators/window.h"

#include <algorithm>
#include <cmath>

#include "expr/eval.h"
#include "types/decimal.h"

namespace lakepipe::operators {

namespace {

using Kind = WindowFunctionKind;

bool NullAt(const Column& c, int64_t i) { return c.type().id() == TypeId::kNull || c.IsNull(i); }

// Partition keys compare with NULLs equal to each other (one partition).
int CompareNullsEqual(const Column& c, int64_t a, int64_t b) {
  bool an = NullAt(c, a), bn = NullAt(c, b);
  if (an || bn) return an == bn ? 0 : (an ? -1 : 1);
  return CompareNonNull(c, a, b);
}

int64_t IntAt(const Column& c, int64_t i) {
  switch (c.type().id()) {
    case TypeId::kBoolean: return c.data<uint8_t>()[i];
    case TypeId::kByte: return c.data<int8_t>()[i];
    case TypeId::kShort: return c.data<int16_t>()[i];
    case TypeId::kInt:
    case TypeId::kDate: return c.data<int32_t>()[i];
    default: return c.data<int64_t>()[i];
  }
}

double NumberAt(const Column& c, int64_t i) {
  switch (c.type().id()) {
    case TypeId::kFloat: return c.data<float>()[i];
    case TypeId::kDouble: return c.data<double>()[i];
    case TypeId::kDecimal: return static_cast<double>(c.data<int128_t>()[i]) / std::pow(10.0, c.type().scale());
    default: return static_cast<double>(IntAt(c, i));
  }
}

bool FitsPrecision(int128_t v, int precision) {
  int128_t limit = Pow10(precision);
  return v < limit && v > -limit;
}

Status OverflowError(const std::string& text, const std::string& type) {
  return Status::InvalidArgument("[ARITHMETIC_OVERFLOW] " + type + " overflow in `" + text +
                                 "`; use try_sum to get NULL instead");
}

// Bottom-up segment tree over [0, n): Query(l, r) combines leaves l..r-1 in order.
template <typename T, typename Combine>
class SegmentTree {
 public:
  SegmentTree(const std::vector<T>& leaves, T identity, Combine combine)
      : n_(leaves.size()), identity_(identity), combine_(combine), tree_(2 * leaves.size(), identity) {
    std::copy(leaves.begin(), leaves.end(), tree_.begin() + static_cast<std::ptrdiff_t>(n_));
    for (size_t i = n_; i-- > 1;) tree_[i] = combine_(tree_[2 * i], tree_[2 * i + 1]);
  }
  T Query(size_t l, size_t r) const {
    T left = identity_, right = identity_;
    for (l += n_, r += n_; l < r; l >>= 1, r >>= 1) {
      if (l & 1) left = combine_(left, tree_[l++]);
      if (r & 1) right = combine_(tree_[--r], right);
    }
    return combine_(left, right);
  }

 private:
  size_t n_;
  T identity_;
  Combine combine_;
  std::vector<T> tree_;
};

// One window function evaluated over the whole (concatenated) input.
class FunctionRun {
 public:
  FunctionRun(const WindowFunctionSpec& spec, const RecordBatch& all) : spec_(spec), all_(all), n_(all.num_rows()) {}

  Result<Column> Run() {
    for (const auto& k : spec_.partition_by) {
      LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(k, all_));
      part_cols_.push_back(std::move(c));
    }
    for (const auto& k : spec_.order_by) {
      LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(k.expr, all_));
      order_cols_.push_back(std::move(c));
    }
    for (const auto& a : spec_.args) {
      LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(a, all_));
      arg_cols_.push_back(std::move(c));
    }
    SortRows();
    PrepareOutput();
    if (NeedsRangeKeys()) LP_RETURN_IF_ERROR(PrepareRangeKeys());
    int64_t p = 0;
    while (p < n_) {
      int64_t q = p + 1;
      while (q < n_ && SamePartition(order_[static_cast<size_t>(p)], order_[static_cast<size_t>(q)])) ++q;
      LP_RETURN_IF_ERROR(RunPartition(p, q));
      p = q;
    }
    return BuildOutput();
  }

 private:
  // ---- ordering ---------------------------------------------------------------------

  void SortRows() {
    order_.resize(static_cast<size_t>(n_));
    for (int64_t i = 0; i < n_; ++i) order_[static_cast<size_t>(i)] = static_cast<int32_t>(i);
    std::stable_sort(order_.begin(), order_.end(), [&](int32_t a, int32_t b) {
      for (const auto& c : part_cols_) {
        int r = CompareNullsEqual(*c, a, b);
        if (r != 0) return r < 0;
      }
      return CompareOrder(a, b) < 0;
    });
  }

  // Order of two rows by the ORDER BY keys (direction and NULL placement applied).
  int CompareOrder(int64_t a, int64_t b) const {
    for (size_t k = 0; k < order_cols_.size(); ++k) {
      const Column& c = *order_cols_[k];
      bool asc = spec_.order_by[k].ascending;
      bool nulls_first = spec_.order_by[k].nulls_first.value_or(asc);
      bool an = NullAt(c, a), bn = NullAt(c, b);
      if (an || bn) {
        if (an && bn) continue;
        return (an == nulls_first) ? -1 : 1;
      }
      int r = CompareNonNull(c, a, b);
      if (r != 0) return asc ? r : -r;
    }
    return 0;
  }

  bool SamePartition(int64_t a, int64_t b) const {
    for (const auto& c : part_cols_) {
      if (CompareNullsEqual(*c, a, b) != 0) return false;
    }
    return true;
  }

  bool NeedsRangeKeys() const {
    const WindowFrame& f = spec_.frame;
    auto offset = [](const FrameBound& b) { return b.kind == FrameBound::kPreceding || b.kind == FrameBound::kFollowing; };
    return UsesFrame() && f.unit == FrameUnit::kRange && (offset(f.start) || offset(f.end));
  }

  // RANGE offsets: the single ORDER BY key as a number, negated for DESC so that it grows
  // along the sorted order.
  Status PrepareRangeKeys() {
    if (order_cols_.size() != 1 || !order_cols_[0]->type().is_numeric()) {
      return Status::NotSupported("a RANGE frame with an offset needs exactly one numeric ORDER BY key in `" +
                                  spec_.text + "` (use ROWS, or order by a number)");
    }
    const Column& c = *order_cols_[0];
    double sign = spec_.order_by[0].ascending ? 1.0 : -1.0;
    range_key_.resize(static_cast<size_t>(n_));
    for (int64_t p = 0; p < n_; ++p) {
      int32_t row = order_[static_cast<size_t>(p)];
      range_key_[static_cast<size_t>(p)] = NullAt(c, row) ? 0.0 : sign * NumberAt(c, row);
    }
    return Status::OK();
  }

  bool UsesFrame() const {
    switch (spec_.kind) {
      case Kind::kFirstValue:
      case Kind::kLastValue:
      case Kind::kNthValue:
      case Kind::kCount:
      case Kind::kSum:
      case Kind::kAvg:
      case Kind::kMin:
      case Kind::kMax: return true;
      default: return false;
    }
  }

  // ---- output -----------------------------------------------------------------------

  bool GathersValues() const {
    switch (spec_.kind) {
      case Kind::kLag:
      case Kind::kLead:
      case Kind::kFirstValue:
      case Kind::kLastValue:
      case Kind::kNthValue:
      case Kind::kMin:
      case Kind::kMax: return true;
      default: return false;
    }
  }

  void PrepareOutput() {
    size_t n = static_cast<size_t>(n_);
    valid_.assign(n, 1);
    if (GathersValues()) {
      take_.assign(n, -1);
      return;
    }
    switch (spec_.output.type.id()) {
      case TypeId::kInt: ints_.assign(n, 0); break;
      case TypeId::kLong: longs_.assign(n, 0); break;
      case TypeId::kDecimal: decimals_.assign(n, 0); break;
      default: doubles_.assign(n, 0); break;
    }
  }

  Result<Column> BuildOutput() {
    const DataType& type = spec_.output.type;
    Column out(type);
    if (GathersValues()) {
      // The source of every gathered value: the argument's rows, then lag/lead's default
      // per row, then one NULL (index -1 maps there).
      const Column& arg = *arg_cols_[0];
      if (type.id() == TypeId::kNull) return Column::Nulls(type, n_);
      Column source(type);
      source.AppendRange(arg, 0, n_);
      if (arg_cols_.size() > 1 && (spec_.kind == Kind::kLag || spec_.kind == Kind::kLead)) {
        const Column& def = *arg_cols_[1];
        if (def.type() == type) {
          source.AppendRange(def, 0, n_);
        } else {
          source.AppendNulls(n_);  // a NULL default (void type)
        }
      } else {
        source.AppendNulls(n_);
      }
      int32_t null_index = static_cast<int32_t>(source.size());
      source.AppendNull();
      for (auto& t : take_) {
        if (t < 0) t = null_index;
      }
      out.AppendTake(source, take_.data(), n_);
      return out;
    }
    out.Reserve(n_);
    for (int64_t r = 0; r < n_; ++r) {
      size_t i = static_cast<size_t>(r);
      if (!valid_[i]) {
        out.AppendNull();
        continue;
      }
      switch (type.id()) {
        case TypeId::kInt: out.Append<int32_t>(ints_[i]); break;
        case TypeId::kLong: out.Append<int64_t>(longs_[i]); break;
        case TypeId::kDecimal: out.Append<int128_t>(decimals_[i]); break;
        default: out.Append<double>(doubles_[i]); break;
      }
    }
    return out;
  }

  void SetNumber(int32_t row, double v) {
    size_t i = static_cast<size_t>(row);
    switch (spec_.output.type.id()) {
      case TypeId::kInt: ints_[i] = static_cast<int32_t>(v); break;
      case TypeId::kLong: longs_[i] = static_cast<int64_t>(v); break;
      default: doubles_[i] = v; break;
    }
  }
  void SetNull(int32_t row) { valid_[static_cast<size_t>(row)] = 0; }

  // ---- one partition: positions [ps, pe) of order_ ------------------------------------

  Status RunPartition(int64_t ps, int64_t pe) {
    int64_t cnt = pe - ps;
    // Peer groups (equal ORDER BY keys).
    peer_start_.assign(static_cast<size_t>(cnt), 0);
    peer_end_.assign(static_cast<size_t>(cnt), 0);
    for (int64_t p = ps; p < pe;) {
      int64_t q = p + 1;
      while (q < pe && CompareOrder(Row(p), Row(q)) == 0) ++q;
      for (int64_t k = p; k < q; ++k) {
        peer_start_[static_cast<size_t>(k - ps)] = p;
        peer_end_[static_cast<size_t>(k - ps)] = q;
      }
      p = q;
    }
    switch (spec_.kind) {
      case Kind::kRowNumber:
        for (int64_t p = ps; p < pe; ++p) SetNumber(Row(p), static_cast<double>(p - ps + 1));
        return Status::OK();
      case Kind::kRank:
        for (int64_t p = ps; p < pe; ++p) SetNumber(Row(p), static_cast<double>(PeerStart(p, ps) - ps + 1));
        return Status::OK();
      case Kind::kDenseRank: {
        int64_t dense = 0;
        for (int64_t p = ps; p < pe; ++p) {
          if (PeerStart(p, ps) == p) ++dense;
          SetNumber(Row(p), static_cast<double>(dense));
        }
        return Status::OK();
      }
      case Kind::kPercentRank:
        for (int64_t p = ps; p < pe; ++p) {
          double rank = static_cast<double>(PeerStart(p, ps) - ps);
          doubles_[static_cast<size_t>(Row(p))] = cnt > 1 ? rank / static_cast<double>(cnt - 1) : 0.0;
        }
        return Status::OK();
      case Kind::kNtile: {
        int64_t buckets = spec_.n;
        int64_t size = cnt / buckets, rem = cnt % buckets;
        for (int64_t p = ps; p < pe; ++p) {
          int64_t j = p - ps;
          int64_t bucket = j < rem * (size + 1) ? j / (size + 1) + 1 : rem + (j - rem * (size + 1)) / size + 1;
          SetNumber(Row(p), static_cast<double>(bucket));
        }
        return Status::OK();
      }
      case Kind::kLag:
      case Kind::kLead: {
        int64_t shift = spec_.kind == Kind::kLag ? -spec_.n : spec_.n;
        bool has_default = arg_cols_.size() > 1;
        for (int64_t p = ps; p < pe; ++p) {
          int64_t target = p + shift;
          int32_t row = Row(p);
          if (target >= ps && target < pe) {
            take_[static_cast<size_t>(row)] = Row(target);
          } else if (has_default) {
            take_[static_cast<size_t>(row)] = static_cast<int32_t>(n_ + row);
          }
        }
        return Status::OK();
      }
      default: return RunFramed(ps, pe);
    }
  }

  int32_t Row(int64_t p) const { return order_[static_cast<size_t>(p)]; }
  int64_t PeerStart(int64_t p, int64_t ps) const { return peer_start_[static_cast<size_t>(p - ps)]; }
  int64_t PeerEnd(int64_t p, int64_t ps) const { return peer_end_[static_cast<size_t>(p - ps)]; }

  // The frame [fs, fe) of every position of the partition.
  void ComputeFrames(int64_t ps, int64_t pe, std::vector<int64_t>* fs, std::vector<int64_t>* fe) {
    const WindowFrame& f = spec_.frame;
    int64_t cnt = pe - ps;
    fs->resize(static_cast<size_t>(cnt));
    fe->resize(static_cast<size_t>(cnt));
    // RANGE offsets: the positions whose key is not NULL (NULLs are contiguous).
    int64_t nn_s = ps, nn_e = pe;
    if (NeedsRangeKeys()) {
      const Column& c = *order_cols_[0];
      while (nn_s < pe && NullAt(c, Row(nn_s))) ++nn_s;
      if (nn_s == pe) {
        nn_e = pe;
      } else {
        nn_e = nn_s;
        while (nn_e < pe && !NullAt(c, Row(nn_e))) ++nn_e;
      }
    }
    auto bound = [&](const FrameBound& b, bool is_start, int64_t p) -> int64_t {
      switch (b.kind) {
        case FrameBound::kUnboundedPreceding: return ps;
        case FrameBound::kUnboundedFollowing: return pe;
        default: break;
      }
      if (f.unit == FrameUnit::kRows) {
        int64_t k = static_cast<int64_t>(b.offset);
        int64_t at = b.kind == FrameBound::kPreceding ? p - k : b.kind == FrameBound::kFollowing ? p + k : p;
        return is_start ? at : at + 1;
      }
      if (b.kind == FrameBound::kCurrentRow) return is_start ? PeerStart(p, ps) : PeerEnd(p, ps);
      const Column& c = *order_cols_[0];
      if (NullAt(c, Row(p))) return is_start ? PeerStart(p, ps) : PeerEnd(p, ps);
      double key = range_key_[static_cast<size_t>(p)];
      double target = b.kind == FrameBound::kPreceding ? key - b.offset : key + b.offset;
      auto first = range_key_.begin() + nn_s, last = range_key_.begin() + nn_e;
      auto it = is_start ? std::lower_bound(first, last, target) : std::upper_bound(first, last, target);
      return it - range_key_.begin();
    };
    for (int64_t p = ps; p < pe; ++p) {
      int64_t s = std::clamp(bound(f.start, true, p), ps, pe);
      int64_t e = std::clamp(bound(f.end, false, p), ps, pe);
      if (e < s) e = s;
      (*fs)[static_cast<size_t>(p - ps)] = s;
      (*fe)[static_cast<size_t>(p - ps)] = e;
    }
  }

  Status RunFramed(int64_t ps, int64_t pe) {
    std::vector<int64_t> fs, fe;
    ComputeFrames(ps, pe, &fs, &fe);
    int64_t cnt = pe - ps;
    const Column* arg = arg_cols_.empty() ? nullptr : arg_cols_[0].get();
    auto valid_at = [&](int64_t p) { return arg != nullptr && !NullAt(*arg, Row(p)); };
    // Non-NULL values before each position of the partition (count, avg, ignore nulls).
    std::vector<int64_t> valid_before(static_cast<size_t>(cnt) + 1, 0);
    for (int64_t p = ps; p < pe; ++p) {
      valid_before[static_cast<size_t>(p - ps + 1)] = valid_before[static_cast<size_t>(p - ps)] + (valid_at(p) ? 1 : 0);
    }
    auto nonnull = [&](int64_t s, int64_t e) {
      return valid_before[static_cast<size_t>(e - ps)] - valid_before[static_cast<size_t>(s - ps)];
    };
    switch (spec_.kind) {
      case Kind::kFirstValue:
      case Kind::kLastValue:
      case Kind::kNthValue: {
        std::vector<int64_t> next_valid, prev_valid;
        if (spec_.ignore_nulls) {
          next_valid.assign(static_cast<size_t>(cnt) + 1, pe);
          prev_valid.assign(static_cast<size_t>(cnt) + 1, ps - 1);
          for (int64_t p = pe - 1; p >= ps; --p) {
            next_valid[static_cast<size_t>(p - ps)] = valid_at(p) ? p : next_valid[static_cast<size_t>(p - ps + 1)];
          }
          for (int64_t p = ps; p < pe; ++p) {
            int64_t before = p > ps ? prev_valid[static_cast<size_t>(p - ps)] : ps - 1;
            prev_valid[static_cast<size_t>(p - ps + 1)] = valid_at(p) ? p : before;
          }
        }
        for (int64_t p = ps; p < pe; ++p) {
          int64_t s = fs[static_cast<size_t>(p - ps)], e = fe[static_cast<size_t>(p - ps)];
          int64_t pick = -1;
          if (spec_.kind == Kind::kFirstValue) {
            if (s < e) pick = spec_.ignore_nulls ? next_valid[static_cast<size_t>(s - ps)] : s;
            if (pick >= e) pick = -1;
          } else if (spec_.kind == Kind::kLastValue) {
            if (s < e) pick = spec_.ignore_nulls ? prev_valid[static_cast<size_t>(e - ps)] : e - 1;
            if (pick < s) pick = -1;
          } else if (s + spec_.n - 1 < e) {
            pick = s + spec_.n - 1;
          }
          take_[static_cast<size_t>(Row(p))] = pick < 0 ? -1 : Row(pick);
        }
        return Status::OK();
      }
      case Kind::kCount:
        for (int64_t p = ps; p < pe; ++p) {
          int64_t s = fs[static_cast<size_t>(p - ps)], e = fe[static_cast<size_t>(p - ps)];
          longs_[static_cast<size_t>(Row(p))] = arg == nullptr ? e - s : nonnull(s, e);
        }
        return Status::OK();
      case Kind::kMin:
      case Kind::kMax: {
        bool is_min = spec_.kind == Kind::kMin;
        std::vector<int32_t> leaves(static_cast<size_t>(cnt));
        for (int64_t p = ps; p < pe; ++p) leaves[static_cast<size_t>(p - ps)] = valid_at(p) ? Row(p) : -1;
        auto better = [arg, is_min](int32_t a, int32_t b) {
          if (a < 0) return b;
          if (b < 0) return a;
          int r = CompareNonNull(*arg, a, b);
          return (is_min ? r <= 0 : r >= 0) ? a : b;
        };
        SegmentTree<int32_t, decltype(better)> tree(leaves, -1, better);
        for (int64_t p = ps; p < pe; ++p) {
          int64_t s = fs[static_cast<size_t>(p - ps)], e = fe[static_cast<size_t>(p - ps)];
          take_[static_cast<size_t>(Row(p))] =
              s < e ? tree.Query(static_cast<size_t>(s - ps), static_cast<size_t>(e - ps)) : -1;
        }
        return Status::OK();
      }
      case Kind::kSum:
      case Kind::kAvg: return RunSum(ps, pe, fs, fe, nonnull);
      default: break;
    }
    return Status::Internal("unknown window function kind");
  }

  template <typename NonNull>
  Status RunSum(int64_t ps, int64_t pe, const std::vector<int64_t>& fs, const std::vector<int64_t>& fe,
                const NonNull& nonnull) {
    const Column& arg = *arg_cols_[0];
    const DataType& out = spec_.output.type;
    int64_t cnt = pe - ps;
    bool avg = spec_.kind == Kind::kAvg;
    auto valid_at = [&](int64_t p) { return !NullAt(arg, Row(p)); };
    if (arg.type().id() == TypeId::kDecimal || (arg.type().is_integer() && !avg)) {
      // Exact: prefix sums in 128 bits, checked against the result type.
      std::vector<int128_t> before(static_cast<size_t>(cnt) + 1, 0);
      bool decimal = arg.type().id() == TypeId::kDecimal;
      for (int64_t p = ps; p < pe; ++p) {
        int128_t v = 0;
        if (valid_at(p)) v = decimal ? arg.data<int128_t>()[Row(p)] : static_cast<int128_t>(IntAt(arg, Row(p)));
        before[static_cast<size_t>(p - ps + 1)] = before[static_cast<size_t>(p - ps)] + v;
      }
      int sum_precision = decimal ? std::min(38, arg.type().precision() + 10) : 0;
      for (int64_t p = ps; p < pe; ++p) {
        int64_t s = fs[static_cast<size_t>(p - ps)], e = fe[static_cast<size_t>(p - ps)];
        int32_t row = Row(p);
        int64_t c = nonnull(s, e);
        if (c == 0) {
          SetNull(row);
          continue;
        }
        int128_t sum = before[static_cast<size_t>(e - ps)] - before[static_cast<size_t>(s - ps)];
        if (!decimal) {
          if (sum > INT64_MAX || sum < INT64_MIN) return OverflowError(spec_.text, "bigint");
          longs_[static_cast<size_t>(row)] = static_cast<int64_t>(sum);
          continue;
        }
        if (!FitsPrecision(sum, sum_precision)) return OverflowError(spec_.text, out.ToString());
        if (!avg) {
          decimals_[static_cast<size_t>(row)] = sum;
          continue;
        }
        // sum (scale s) / count at the result scale, HALF_UP (as HashAggregate).
        int shift = out.scale() - arg.type().scale() + 1;
        int128_t q = sum * Pow10(shift) / c;
        decimals_[static_cast<size_t>(row)] = q >= 0 ? (q + 5) / 10 : (q - 5) / 10;
      }
      return Status::OK();
    }
    // Doubles (and avg over integers): left to right from the partition start when the
    // frame starts there; otherwise a segment tree, never subtraction (rounding).
    std::vector<double> values(static_cast<size_t>(cnt), 0.0);
    for (int64_t p = ps; p < pe; ++p) {
      if (valid_at(p)) values[static_cast<size_t>(p - ps)] = NumberAt(arg, Row(p));
    }
    bool running = spec_.frame.start.kind == FrameBound::kUnboundedPreceding;
    std::vector<double> before;
    std::unique_ptr<SegmentTree<double, std::plus<double>>> tree;
    if (running) {
      before.assign(static_cast<size_t>(cnt) + 1, 0.0);
      for (int64_t k = 0; k < cnt; ++k) before[static_cast<size_t>(k + 1)] = before[static_cast<size_t>(k)] + values[static_cast<size_t>(k)];
    } else {
      tree = std::make_unique<SegmentTree<double, std::plus<double>>>(values, 0.0, std::plus<double>());
    }
    for (int64_t p = ps; p < pe; ++p) {
      int64_t s = fs[static_cast<size_t>(p - ps)], e = fe[static_cast<size_t>(p - ps)];
      int32_t row = Row(p);
      int64_t c = nonnull(s, e);
      if (c == 0) {
        SetNull(row);
        continue;
      }
      double sum = running ? before[static_cast<size_t>(e - ps)]
                           : tree->Query(static_cast<size_t>(s - ps), static_cast<size_t>(e - ps));
      doubles_[static_cast<size_t>(row)] = avg ? sum / static_cast<double>(c) : sum;
    }
    return Status::OK();
  }

  const WindowFunctionSpec& spec_;
  const RecordBatch& all_;
  int64_t n_;
  std::vector<ColumnPtr> part_cols_, order_cols_, arg_cols_;
  std::vector<int32_t> order_;  // sorted position -> input row
  std::vector<double> range_key_;
  std::vector<int64_t> peer_start_, peer_end_;  // per position of the current partition
  // The result per input row: validity, and the value or (gathering kinds) a source index.
  std::vector<uint8_t> valid_;
  std::vector<int32_t> take_;
  std::vector<int32_t> ints_;
  std::vector<int64_t> longs_;
  std::vector<int128_t> decimals_;
  std::vector<double> doubles_;
};

}  // namespace

Result<std::unique_ptr<Window>> Window::Make(const Schema& input, std::vector<WindowFunctionSpec> functions) {
  std::unique_ptr<Window> w(new Window());
  w->input_schema_ = input;
  w->output_schema_ = input;
  for (const auto& f : functions) {
    switch (f.kind) {
      case Kind::kNtile:
        if (f.n <= 0) return Status::InvalidArgument("ntile needs a positive number of buckets in `" + f.text + "`");
        break;
      case Kind::kNthValue:
        if (f.n <= 0) return Status::InvalidArgument("nth_value needs a positive position in `" + f.text + "`");
        if (f.ignore_nulls) return Status::NotSupported("nth_value ignoring NULLs (`" + f.text + "`)");
        break;
      default: break;
    }
    bool needs_arg = !(f.kind == Kind::kRowNumber || f.kind == Kind::kRank || f.kind == Kind::kDenseRank ||
                       f.kind == Kind::kPercentRank || f.kind == Kind::kNtile || f.kind == Kind::kCount);
    if (needs_arg && f.args.empty()) return Status::Internal("window function without its argument: " + f.text);
    for (const auto& k : f.order_by) {
      if (k.expr.type.is_nested()) return Status::NotSupported("ORDER BY a " + k.expr.type.ToString() + " value in `" + f.text + "`");
    }
    w->output_schema_.AddField(f.output);
  }
  w->functions_ = std::move(functions);
  return w;
}

Status Window::Push(const RecordBatch& batch) {
  if (batch.num_rows() > 0) batches_.push_back(batch);
  return Status::OK();
}

Result<std::vector<RecordBatch>> Window::Finish() {
  RecordBatch all = RecordBatch::Concat(input_schema_, batches_);
  batches_.clear();
  if (all.num_rows() == 0) return std::vector<RecordBatch>{};
  std::vector<ColumnPtr> cols = all.columns();
  for (const auto& f : functions_) {
    FunctionRun run(f, all);
    LP_ASSIGN_OR_RETURN(Column c, run.Run());
    cols.push_back(std::make_shared<Column>(std::move(c)));
  }
  std::vector<RecordBatch> out;
  out.emplace_back(output_schema_, std::move(cols), all.num_rows());
  return out;
}

}  // namespace lakepipe::operators
