// count, count(DISTINCT), count_if, sum, avg, min, max, collect_set.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "operators/aggregates_internal.h"
#include "operators/deduplicate.h"
#include "operators/key_encoder.h"
#include "operators/key_table.h"
#include "types/decimal.h"

namespace lakepipe::operators::internal {
namespace {

int128_t Pow10i(int n) { return Pow10(n); }

bool Fits(int128_t v, int precision) {
  int128_t limit = Pow10(precision);
  return v < limit && v > -limit;
}

Status OverflowError(const std::string& text, const std::string& type) {
  return Status::InvalidArgument("[ARITHMETIC_OVERFLOW] " + type + " overflow in `" + text +
                                 "`; use try_sum to get NULL instead");
}

// An int64 count per group: the state, result and merge of count(*), count(x), count_if
// and count(DISTINCT x) kept as counts; the subclasses say what a row adds.
class GroupCountsAccumulator : public Accumulator {
 public:
  void Resize(int32_t g) override { counts_.resize(static_cast<size_t>(g), 0); }
  Status Finish(int32_t g, Column* out) const override {
    out->ResizeFixed(g);
    std::copy(counts_.begin(), counts_.begin() + g, out->data<int64_t>());
    return Status::OK();
  }
  void Export(int32_t g, std::vector<Column>* out) const override {
    Column c(DataType::Long());
    c.ResizeFixed(g);
    std::copy(counts_.begin(), counts_.begin() + g, c.data<int64_t>());
    out->push_back(std::move(c));
  }
  Status Merge(const std::vector<const Column*>& s, const std::vector<int32_t>& groups, int64_t n) override {
    for (int64_t i = 0; i < n; ++i) {
      if (s[0]->IsValid(i)) counts_[static_cast<size_t>(groups[static_cast<size_t>(i)])] += s[0]->data<int64_t>()[i];
    }
    return Status::OK();
  }

 protected:
  std::vector<int64_t> counts_;
};

// count(*), count(x), and count_if(x) (counts the rows where x is true).
class CountAccumulator : public GroupCountsAccumulator {
 public:
  CountAccumulator(bool star, bool if_true) : star_(star), if_true_(if_true) {}
  Status Update(const std::vector<const Column*>& args, const std::vector<int32_t>& groups, int64_t n) override {
    const Column* arg = args.empty() ? nullptr : args[0];
    if (if_true_) {
      if (arg->type().id() == TypeId::kNull) return Status::OK();
      const uint8_t* v = arg->data<uint8_t>();
      for (int64_t i = 0; i < n; ++i) {
        counts_[static_cast<size_t>(groups[static_cast<size_t>(i)])] += (arg->IsValid(i) && v[i]) ? 1 : 0;
      }
      return Status::OK();
    }
    if (star_ || !arg->has_nulls()) {
      if (!star_ && arg->type().id() == TypeId::kNull) return Status::OK();
      for (int64_t i = 0; i < n; ++i) ++counts_[static_cast<size_t>(groups[static_cast<size_t>(i)])];
    } else {
      for (int64_t i = 0; i < n; ++i) counts_[static_cast<size_t>(groups[static_cast<size_t>(i)])] += arg->IsValid(i);
    }
    return Status::OK();
  }
  std::vector<Field> StateFields(const std::string& name) const override {
    return {Field{name + "$count", DataType::Long(), false}};
  }
  int64_t MemoryBytes() const override { return static_cast<int64_t>(counts_.size() * 8); }

 private:
  bool star_;
  bool if_true_;
};

// count(DISTINCT x) and collect_set(x): a set of (group, value) pairs; the distinct values
// are kept (in `values_`, with their group, in first-seen order) so the state can be
// exported as an array per group, and collect_set returns that array.
class DistinctValuesAccumulator : public Accumulator {
 public:
  DistinctValuesAccumulator(DataType type, bool as_set) : type_(std::move(type)), as_set_(as_set), values_(type_) {}
  void Resize(int32_t g) override { counts_.resize(static_cast<size_t>(g), 0); }
  Status Update(const std::vector<const Column*>& args, const std::vector<int32_t>& groups, int64_t n) override {
    const Column* arg = args.empty() ? nullptr : args[0];
    if (arg->type().id() == TypeId::kNull) return Status::OK();
    for (int64_t i = 0; i < n; ++i) {
      if (arg->IsNull(i)) continue;
      Add(*arg, i, groups[static_cast<size_t>(i)]);
    }
    return Status::OK();
  }
  Status Finish(int32_t g, Column* out) const override {
    if (as_set_) {
      // Spark leaves the order of collect_set unspecified; ascending order makes the
      // result independent of the input order.
      std::vector<std::vector<int32_t>> rows(static_cast<size_t>(g));
      for (size_t i = 0; i < values_group_.size(); ++i) {
        if (values_group_[i] < g) rows[static_cast<size_t>(values_group_[i])].push_back(static_cast<int32_t>(i));
      }
      *out = Column(DataType::Array(type_, false));
      for (auto& r : rows) {
        std::sort(r.begin(), r.end(), [&](int32_t a, int32_t b) { return CompareRows(values_, a, values_, b) < 0; });
        if (!r.empty()) out->child(0).AppendTake(values_, r.data(), static_cast<int64_t>(r.size()));
        out->CloseListRow();
      }
      return Status::OK();
    }
    out->ResizeFixed(g);
    std::copy(counts_.begin(), counts_.begin() + g, out->data<int64_t>());
    return Status::OK();
  }
  std::vector<Field> StateFields(const std::string& name) const override {
    return {Field{name + (as_set_ ? "$set" : "$distinct"), DataType::Array(type_, false), false}};
  }
  void Export(int32_t g, std::vector<Column>* out) const override {
    // Order the kept values by group, then close one list row per group.
    std::vector<int32_t> order(values_group_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      return values_group_[static_cast<size_t>(a)] < values_group_[static_cast<size_t>(b)];
    });
    Column arr(DataType::Array(type_, false));
    size_t at = 0;
    for (int32_t grp = 0; grp < g; ++grp) {
      size_t begin = at;
      while (at < order.size() && values_group_[static_cast<size_t>(order[at])] == grp) ++at;
      if (at > begin) arr.child(0).AppendTake(values_, order.data() + begin, static_cast<int64_t>(at - begin));
      arr.CloseListRow();
    }
    out->push_back(std::move(arr));
  }
  Status Merge(const std::vector<const Column*>& s, const std::vector<int32_t>& groups, int64_t n) override {
    const Column& arr = *s[0];
    const Column& elems = arr.child(0);
    for (int64_t i = 0; i < n; ++i) {
      if (arr.IsNull(i)) continue;
      for (int64_t k = arr.offsets()[static_cast<size_t>(i)]; k < arr.offsets()[static_cast<size_t>(i) + 1]; ++k) {
        if (!elems.IsNull(k)) Add(elems, k, groups[static_cast<size_t>(i)]);
      }
    }
    return Status::OK();
  }
  int64_t MemoryBytes() const override { return seen_.MemoryBytes() + values_.MemoryBytes(); }

 private:
  void Add(const Column& c, int64_t row, int32_t group) {
    key_.assign(reinterpret_cast<const char*>(&group), sizeof group);
    KeyEncoder::AppendOne(c, row, &key_);
    bool inserted;
    seen_.FindOrInsert(key_, &inserted);
    if (inserted) {
      ++counts_[static_cast<size_t>(group)];
      values_.AppendRange(c, row, 1);
      values_group_.push_back(group);
    }
  }
  DataType type_;
  bool as_set_;
  KeyTable seen_;
  Column values_;
  std::vector<int32_t> values_group_;
  std::vector<int64_t> counts_;
  std::string key_;
};

// count(DISTINCT x) kept as a count per group (MakeDistinctCounter): each non-null row's
// (group, value) pair is asked of the pair set, and a pair new to it adds one to its
// group. The set is `pairs_` (shared, possibly durable; keyed by the group's key bytes, so
// that aggregates with other group ids agree) or, without one, `own_` (keyed by group id).
class DistinctCountAccumulator : public GroupCountsAccumulator {
 public:
  DistinctCountAccumulator(uint32_t index, std::shared_ptr<SeenKeySet> pairs, const KeyTable* groups)
      : index_(index), pairs_(std::move(pairs)), groups_(groups) {}
  Status Update(const std::vector<const Column*>& args, const std::vector<int32_t>& groups, int64_t n) override {
    const Column* arg = args.empty() ? nullptr : args[0];
    if (arg->type().id() == TypeId::kNull) return Status::OK();
    if (pairs_ == nullptr) {
      for (int64_t i = 0; i < n; ++i) {
        if (arg->IsNull(i)) continue;
        const int32_t group = groups[static_cast<size_t>(i)];
        key_.assign(reinterpret_cast<const char*>(&group), sizeof group);
        KeyEncoder::AppendOne(*arg, i, &key_);
        bool inserted;
        own_.FindOrInsert(key_, &inserted);
        if (inserted) ++counts_[static_cast<size_t>(group)];
      }
      return Status::OK();
    }
    // The pair keys of the batch in one arena, then one call to the set. A pair equal to
    // the one just before it is left out, before its key is built: it was asked already
    // and cannot be new (the lines of one order come together, so most rows repeat their
    // predecessor's pair). Equal bytes are a sufficient test (values that only encode
    // alike, such as -0.0 and 0.0, are left to the set).
    arena_.clear();
    ends_.clear();
    rows_.clear();
    const bool strings = arg->type().id() == TypeId::kString || arg->type().id() == TypeId::kBinary;
    const int width = strings || arg->type().is_nested() ? 0 : arg->type().fixed_width();
    const uint8_t* fixed = width > 0 ? arg->raw_data().data() : nullptr;
    int64_t previous = -1;  // the last non-null row (its pair was asked, or equals one asked)
    for (int64_t i = 0; i < n; ++i) {
      if (arg->IsNull(i)) continue;
      const int32_t group = groups[static_cast<size_t>(i)];
      if (previous >= 0 && groups[static_cast<size_t>(previous)] == group &&
          ((fixed != nullptr && std::memcmp(fixed + i * width, fixed + previous * width, static_cast<size_t>(width)) == 0) ||
           (strings && arg->GetString(i) == arg->GetString(previous)))) {
        previous = i;
        continue;
      }
      previous = i;
      std::string_view group_key = groups_->key(group);
      const uint32_t length = static_cast<uint32_t>(group_key.size());
      arena_.append(reinterpret_cast<const char*>(&index_), sizeof index_);
      arena_.append(reinterpret_cast<const char*>(&length), sizeof length);
      arena_.append(group_key);
      KeyEncoder::AppendOne(*arg, i, &arena_);
      ends_.push_back(arena_.size());
      rows_.push_back(group);
    }
    if (rows_.empty()) return Status::OK();
    views_.clear();
    size_t begin = 0;
    for (size_t end : ends_) {
      views_.emplace_back(arena_.data() + begin, end - begin);
      begin = end;
    }
    LP_RETURN_IF_ERROR(pairs_->InsertIfAbsent(views_, &inserted_));
    for (size_t k = 0; k < rows_.size(); ++k) counts_[static_cast<size_t>(rows_[k])] += inserted_[k];
    return Status::OK();
  }
  std::vector<Field> StateFields(const std::string& name) const override {
    return {Field{name + "$distinct_count", DataType::Long(), false}};
  }
  int64_t MemoryBytes() const override {
    return static_cast<int64_t>(counts_.size() * 8 + arena_.capacity()) + own_.MemoryBytes();
  }

 private:
  uint32_t index_;
  std::shared_ptr<SeenKeySet> pairs_;
  const KeyTable* groups_;
  KeyTable own_;
  std::string key_;
  std::string arena_;
  std::vector<size_t> ends_;
  std::vector<int32_t> rows_;
  std::vector<std::string_view> views_;
  std::vector<uint8_t> inserted_;
};

// sum / avg over integers (sum: bigint with overflow check; avg: double), doubles and
// decimals. `avg` divides by the non-null count at Finish.
class SumAccumulator : public Accumulator {
 public:
  SumAccumulator(DataType arg, DataType result, bool avg) : arg_(std::move(arg)), result_(std::move(result)), avg_(avg) {
    // State sum type: avg keeps Spark's sum type (double, or decimal(p+10,s)).
    if (arg_.id() == TypeId::kDecimal) {
      sum_type_ = DataType::Decimal(std::min(38, arg_.precision() + 10), arg_.scale());
    } else if (arg_.is_integer() && !avg_) {
      sum_type_ = DataType::Long();
    } else {
      sum_type_ = DataType::Double();
    }
  }
  void Resize(int32_t g) override {
    size_t n = static_cast<size_t>(g);
    counts_.resize(n, 0);
    if (sum_type_.id() == TypeId::kLong) isum_.resize(n, 0);
    else if (sum_type_.id() == TypeId::kDecimal) dsum_.resize(n, 0);
    else fsum_.resize(n, 0);
  }
  Status Update(const std::vector<const Column*>& args, const std::vector<int32_t>& groups, int64_t n) override {
    const Column* arg = args.empty() ? nullptr : args[0];
    if (arg->type().id() == TypeId::kNull) return Status::OK();
    const int32_t* g = groups.data();
    bool nulls = arg->has_nulls();
    switch (sum_type_.id()) {
      case TypeId::kLong:
        for (int64_t i = 0; i < n; ++i) {
          if (nulls && arg->IsNull(i)) continue;
          if (__builtin_add_overflow(isum_[static_cast<size_t>(g[i])], IntAt(*arg, i), &isum_[static_cast<size_t>(g[i])])) {
            return OverflowError(text, "bigint");
          }
          ++counts_[static_cast<size_t>(g[i])];
        }
        break;
      case TypeId::kDecimal: {
        const int128_t* v = arg->data<int128_t>();
        for (int64_t i = 0; i < n; ++i) {
          if (nulls && arg->IsNull(i)) continue;
          dsum_[static_cast<size_t>(g[i])] += v[i];
          ++counts_[static_cast<size_t>(g[i])];
        }
        break;
      }
      default:
        if (arg->type().id() == TypeId::kDouble) {
          const double* v = arg->data<double>();
          for (int64_t i = 0; i < n; ++i) {
            if (nulls && arg->IsNull(i)) continue;
            fsum_[static_cast<size_t>(g[i])] += v[i];
            ++counts_[static_cast<size_t>(g[i])];
          }
        } else if (arg->type().id() == TypeId::kFloat) {
          const float* v = arg->data<float>();
          for (int64_t i = 0; i < n; ++i) {
            if (nulls && arg->IsNull(i)) continue;
            fsum_[static_cast<size_t>(g[i])] += v[i];
            ++counts_[static_cast<size_t>(g[i])];
          }
        } else {
          for (int64_t i = 0; i < n; ++i) {
            if (nulls && arg->IsNull(i)) continue;
            fsum_[static_cast<size_t>(g[i])] += static_cast<double>(IntAt(*arg, i));
            ++counts_[static_cast<size_t>(g[i])];
          }
        }
    }
    return Status::OK();
  }
  Status Finish(int32_t groups, Column* out) const override {
    for (int32_t grp = 0; grp < groups; ++grp) {
      size_t k = static_cast<size_t>(grp);
      if (counts_[k] == 0) {
        out->AppendNull();
        continue;
      }
      if (!avg_) {
        if (sum_type_.id() == TypeId::kLong) out->Append<int64_t>(isum_[k]);
        else if (sum_type_.id() == TypeId::kDecimal) {
          if (!Fits(dsum_[k], sum_type_.precision())) return OverflowError(text, sum_type_.ToString());
          out->Append<int128_t>(dsum_[k]);
        } else out->Append<double>(fsum_[k]);
        continue;
      }
      if (sum_type_.id() == TypeId::kDecimal) {
        if (!Fits(dsum_[k], sum_type_.precision())) return OverflowError(text, sum_type_.ToString());
        // sum (scale s) / count at the result scale, HALF_UP.
        int shift = result_.scale() - sum_type_.scale() + 1;
        int128_t num = dsum_[k] * Pow10i(shift);
        int128_t q = num / counts_[k];
        int128_t v = q >= 0 ? (q + 5) / 10 : (q - 5) / 10;
        out->Append<int128_t>(v);
      } else {
        out->Append<double>(fsum_[k] / static_cast<double>(counts_[k]));
      }
    }
    return Status::OK();
  }
  std::vector<Field> StateFields(const std::string& name) const override {
    std::vector<Field> f = {Field{name + "$sum", sum_type_, true}};
    if (avg_) f.push_back(Field{name + "$count", DataType::Long(), false});
    return f;
  }
  void Export(int32_t groups, std::vector<Column>* out) const override {
    Column sum(sum_type_), count(DataType::Long());
    for (int32_t grp = 0; grp < groups; ++grp) {
      size_t k = static_cast<size_t>(grp);
      // avg's count can net to 0 with a sum left (a state that retracts some rows and
      // adds others, merged negated by an incremental view): that sum must be exported.
      if (counts_[k] == 0 && IsZero(k)) sum.AppendNull();
      else if (sum_type_.id() == TypeId::kLong) sum.Append<int64_t>(isum_[k]);
      else if (sum_type_.id() == TypeId::kDecimal) sum.Append<int128_t>(dsum_[k]);
      else sum.Append<double>(fsum_[k]);
      count.Append<int64_t>(counts_[k]);
    }
    out->push_back(std::move(sum));
    if (avg_) out->push_back(std::move(count));
  }
  Status Merge(const std::vector<const Column*>& s, const std::vector<int32_t>& groups, int64_t n) override {
    const Column& sum = *s[0];
    for (int64_t i = 0; i < n; ++i) {
      if (sum.IsNull(i)) continue;
      size_t k = static_cast<size_t>(groups[static_cast<size_t>(i)]);
      int64_t c = avg_ ? s[1]->data<int64_t>()[i] : 1;
      counts_[k] += c;
      if (sum_type_.id() == TypeId::kLong) {
        if (__builtin_add_overflow(isum_[k], sum.data<int64_t>()[i], &isum_[k])) return OverflowError(text, "bigint");
      } else if (sum_type_.id() == TypeId::kDecimal) {
        dsum_[k] += sum.data<int128_t>()[i];
      } else {
        fsum_[k] += sum.data<double>()[i];
      }
    }
    return Status::OK();
  }
  int64_t MemoryBytes() const override {
    return static_cast<int64_t>(counts_.size() * 8 + isum_.size() * 8 + dsum_.size() * 16 + fsum_.size() * 8);
  }

 private:
  bool IsZero(size_t k) const {
    if (sum_type_.id() == TypeId::kLong) return isum_[k] == 0;
    if (sum_type_.id() == TypeId::kDecimal) return dsum_[k] == 0;
    return fsum_[k] == 0;
  }
  DataType arg_, result_, sum_type_;
  bool avg_;
  std::vector<int64_t> counts_;
  std::vector<int64_t> isum_;
  std::vector<int128_t> dsum_;
  std::vector<double> fsum_;
};

// min / max: the best value per group, held in a Column indexed by group (fixed width) or
// in strings (variable width). Doubles order NaN above everything, as Spark.
class MinMaxAccumulator : public Accumulator {
 public:
  MinMaxAccumulator(DataType type, bool is_max) : type_(std::move(type)), max_(is_max) {}
  void Resize(int32_t g) override {
    size_t n = static_cast<size_t>(g);
    has_.resize(n, 0);
    if (type_.is_binary_like()) strings_.resize(n);
    else fixed_.resize(n * static_cast<size_t>(type_.fixed_width()), 0);
  }
  Status Update(const std::vector<const Column*>& args, const std::vector<int32_t>& groups, int64_t n) override {
    const Column* arg = args.empty() ? nullptr : args[0];
    if (arg->type().id() == TypeId::kNull) return Status::OK();
    UpdateFrom(*arg, groups, n);
    return Status::OK();
  }
  Status Finish(int32_t groups, Column* out) const override {
    std::vector<Column> cols;
    Export(groups, &cols);
    *out = std::move(cols[0]);
    return Status::OK();
  }
  std::vector<Field> StateFields(const std::string& name) const override {
    return {Field{name + "$value", type_, true}};
  }
  void Export(int32_t groups, std::vector<Column>* out) const override {
    Column c(type_);
    int w = type_.fixed_width();
    for (int32_t grp = 0; grp < groups; ++grp) {
      size_t k = static_cast<size_t>(grp);
      if (!has_[k]) { c.AppendNull(); continue; }
      if (type_.is_binary_like()) {
        c.AppendString(strings_[k]);
      } else {
        size_t at = c.raw_data().size();
        c.raw_data().insert(c.raw_data().end(), fixed_.begin() + static_cast<long>(k * w), fixed_.begin() + static_cast<long>((k + 1) * w));
        (void)at;
        c.ResizeFixed(c.size() + 1);
      }
    }
    out->push_back(std::move(c));
  }
  Status Merge(const std::vector<const Column*>& s, const std::vector<int32_t>& groups, int64_t n) override {
    UpdateFrom(*s[0], groups, n);
    return Status::OK();
  }
  int64_t MemoryBytes() const override {
    int64_t b = static_cast<int64_t>(fixed_.size() + has_.size());
    for (const auto& s : strings_) b += static_cast<int64_t>(s.size() + 32);
    return b;
  }

 private:
  template <typename T>
  void UpdateTyped(const Column& arg, const std::vector<int32_t>& groups, int64_t n) {
    T* best = reinterpret_cast<T*>(fixed_.data());
    const T* v = arg.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      if (arg.IsNull(i)) continue;
      size_t k = static_cast<size_t>(groups[static_cast<size_t>(i)]);
      T x = v[i];
      if (!has_[k]) { best[k] = x; has_[k] = 1; continue; }
      bool better;
      if constexpr (std::is_floating_point_v<T>) {
        // NaN is the largest value.
        bool xn = std::isnan(x), bn = std::isnan(best[k]);
        if (max_) better = xn ? !bn : (!bn && x > best[k]);
        else better = bn ? !xn : (!xn && x < best[k]);
      } else {
        better = max_ ? x > best[k] : x < best[k];
      }
      if (better) best[k] = x;
    }
  }
  void UpdateFrom(const Column& arg, const std::vector<int32_t>& groups, int64_t n) {
    switch (type_.id()) {
      case TypeId::kBoolean: return UpdateTyped<uint8_t>(arg, groups, n);
      case TypeId::kByte: return UpdateTyped<int8_t>(arg, groups, n);
      case TypeId::kShort: return UpdateTyped<int16_t>(arg, groups, n);
      case TypeId::kInt:
      case TypeId::kDate: return UpdateTyped<int32_t>(arg, groups, n);
      case TypeId::kLong:
      case TypeId::kTimestamp:
      case TypeId::kTimestampNtz: return UpdateTyped<int64_t>(arg, groups, n);
      case TypeId::kFloat: return UpdateTyped<float>(arg, groups, n);
      case TypeId::kDouble: return UpdateTyped<double>(arg, groups, n);
      case TypeId::kDecimal: return UpdateTyped<int128_t>(arg, groups, n);
      default: break;
    }
    for (int64_t i = 0; i < n; ++i) {
      if (arg.IsNull(i)) continue;
      size_t k = static_cast<size_t>(groups[static_cast<size_t>(i)]);
      std::string_view x = arg.GetString(i);
      if (!has_[k] || (max_ ? x > strings_[k] : x < strings_[k])) {
        strings_[k].assign(x);
        has_[k] = 1;
      }
    }
  }
  DataType type_;
  bool max_;
  std::vector<uint8_t> has_;
  std::vector<uint8_t> fixed_;
  std::vector<std::string> strings_;
};

}  // namespace

Result<std::unique_ptr<Accumulator>> MakeBasic(const expr::BoundExpr& a) {
  const DataType arg_type = a.args.empty() ? DataType::Long() : a.args[0].type;
  const std::string& fn = a.function;
  if (fn == "count" && a.distinct) {
    LP_RETURN_IF_ERROR(KeyEncoder::CheckKeyType(arg_type, "count(DISTINCT) argument `" + a.args[0].text + "`"));
    return std::unique_ptr<Accumulator>(new DistinctValuesAccumulator(arg_type, false));
  }
  if (fn == "collect_set") {
    LP_RETURN_IF_ERROR(KeyEncoder::CheckKeyType(arg_type, "collect_set argument `" + a.args[0].text + "`"));
    return std::unique_ptr<Accumulator>(new DistinctValuesAccumulator(arg_type, true));
  }
  if (fn == "count") return std::unique_ptr<Accumulator>(new CountAccumulator(a.args.empty(), false));
  if (fn == "count_if") return std::unique_ptr<Accumulator>(new CountAccumulator(false, true));
  if (fn == "sum" || fn == "avg") return std::unique_ptr<Accumulator>(new SumAccumulator(arg_type, a.type, fn == "avg"));
  if (fn == "min" || fn == "max") {
    LP_RETURN_IF_ERROR(KeyEncoder::CheckKeyType(arg_type, fn + " argument `" + a.args[0].text + "`"));
    return std::unique_ptr<Accumulator>(new MinMaxAccumulator(arg_type, fn == "max"));
  }
  return Status::Internal("no basic accumulator for `" + fn + "`");
}

}  // namespace lakepipe::operators::internal

namespace lakepipe::operators {

bool IsCountDistinct(const expr::BoundExpr& call) {
  return call.kind == expr::BoundKind::kAggregate && call.function == "count" && call.distinct && call.args.size() == 1;
}

Result<std::unique_ptr<Accumulator>> MakeDistinctCounter(const expr::BoundExpr& call, uint32_t index,
                                                         std::shared_ptr<SeenKeySet> pairs, const KeyTable* groups) {
  if (!IsCountDistinct(call)) return Status::Internal("`" + call.text + "` is not count(DISTINCT x)");
  LP_RETURN_IF_ERROR(KeyEncoder::CheckKeyType(call.args[0].type, "count(DISTINCT) argument `" + call.args[0].text + "`"));
  std::unique_ptr<Accumulator> acc(new internal::DistinctCountAccumulator(index, std::move(pairs), groups));
  acc->text = call.text;
  return acc;
}

}  // namespace lakepipe::operators
