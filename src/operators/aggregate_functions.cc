#include "operators/aggregate_functions.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "operators/aggregates_internal.h"
#include "types/decimal.h"

namespace lakepipe::operators {

namespace {

using Factory = Result<std::unique_ptr<Accumulator>> (*)(const expr::BoundExpr& call);

struct Entry {
  std::string_view name;
  Factory make;
};

// One line per aggregate of expr/aggregate_functions.h.
const Entry kEntries[] = {
    {"count", internal::MakeBasic},
    {"sum", internal::MakeBasic},
    {"avg", internal::MakeBasic},
    {"min", internal::MakeBasic},
    {"max", internal::MakeBasic},
    {"count_if", internal::MakeBasic},
    {"any_value", internal::MakePositional},
    {"first", internal::MakePositional},
    {"last", internal::MakePositional},
    {"max_by", internal::MakePositional},
    {"min_by", internal::MakePositional},
    {"collect_list", internal::MakePositional},
    {"collect_set", internal::MakeBasic},
    {"approx_count_distinct", internal::MakeStatistical},
    {"percentile", internal::MakeStatistical},
    {"percentile_approx", internal::MakeStatistical},
    {"stddev_samp", internal::MakeStatistical},
    {"stddev_pop", internal::MakeStatistical},
    {"var_samp", internal::MakeStatistical},
    {"var_pop", internal::MakeStatistical},
};

const Entry* Find(std::string_view name) {
  for (const auto& e : kEntries) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

}  // namespace

Result<std::unique_ptr<Accumulator>> MakeAccumulator(const expr::BoundExpr& call) {
  if (call.kind != expr::BoundKind::kAggregate) {
    return Status::InvalidArgument("`" + call.text + "` is not an aggregate call");
  }
  const Entry* e = Find(call.function);
  if (e == nullptr) return Status::NotSupported("aggregate function `" + call.function + "`");
  LP_ASSIGN_OR_RETURN(std::unique_ptr<Accumulator> acc, e->make(call));
  acc->text = call.text;
  return acc;
}

bool HasAccumulator(std::string_view name) { return Find(name) != nullptr; }

namespace internal {

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

namespace {

template <typename T>
int Cmp(const uint8_t* a, const uint8_t* b) {
  T x, y;
  std::memcpy(&x, a, sizeof(T));
  std::memcpy(&y, b, sizeof(T));
  if constexpr (std::is_floating_point_v<T>) {
    bool xn = std::isnan(x), yn = std::isnan(y);
    if (xn || yn) return xn == yn ? 0 : (xn ? 1 : -1);
  }
  return x < y ? -1 : (y < x ? 1 : 0);
}

// Fixed-width values of type `id` at a and b.
int CompareFixed(TypeId id, const uint8_t* a, const uint8_t* b) {
  switch (id) {
    case TypeId::kBoolean: return Cmp<uint8_t>(a, b);
    case TypeId::kByte: return Cmp<int8_t>(a, b);
    case TypeId::kShort: return Cmp<int16_t>(a, b);
    case TypeId::kInt:
    case TypeId::kDate: return Cmp<int32_t>(a, b);
    case TypeId::kFloat: return Cmp<float>(a, b);
    case TypeId::kDouble: return Cmp<double>(a, b);
    case TypeId::kDecimal: return Cmp<int128_t>(a, b);
    default: return Cmp<int64_t>(a, b);
  }
}

int CompareStrings(std::string_view x, std::string_view y) { return x < y ? -1 : (y < x ? 1 : 0); }

}  // namespace

int CompareRows(const Column& a, int64_t i, const Column& b, int64_t j) {
  int w = a.type().fixed_width();
  if (w == 0) return CompareStrings(a.GetString(i), b.GetString(j));
  return CompareFixed(a.type().id(), a.raw_data().data() + i * w, b.raw_data().data() + j * w);
}

GroupValues::GroupValues(DataType type) : type_(type), width_(type.fixed_width()) {}

void GroupValues::Resize(int32_t groups) {
  size_t n = static_cast<size_t>(groups);
  if (n <= state_.size()) return;
  state_.resize(n, 0);
  if (width_ > 0) fixed_.resize(n * static_cast<size_t>(width_), 0);
  else strings_.resize(n);
}

void GroupValues::Set(size_t k, const Column& c, int64_t row) {
  if (c.type().id() == TypeId::kNull || c.IsNull(row)) {
    state_[k] = 1;
    return;
  }
  state_[k] = 2;
  if (width_ > 0) {
    std::memcpy(fixed_.data() + k * static_cast<size_t>(width_), c.raw_data().data() + row * width_,
                static_cast<size_t>(width_));
  } else {
    strings_[k].assign(c.GetString(row));
  }
}

int GroupValues::Compare(size_t k, const Column& c, int64_t row) const {
  if (width_ == 0) return CompareStrings(strings_[k], c.GetString(row));
  return CompareFixed(type_.id(), fixed_.data() + k * static_cast<size_t>(width_), c.raw_data().data() + row * width_);
}

void GroupValues::AppendTo(size_t k, Column* out) const {
  if (state_[k] != 2) {
    out->AppendNull();
    return;
  }
  if (width_ > 0) {
    size_t at = out->raw_data().size();
    out->raw_data().resize(at + static_cast<size_t>(width_));
    std::memcpy(out->raw_data().data() + at, fixed_.data() + k * static_cast<size_t>(width_), static_cast<size_t>(width_));
    out->ResizeFixed(out->size() + 1);
  } else {
    out->AppendString(strings_[k]);
  }
}

int64_t GroupValues::MemoryBytes() const {
  int64_t b = static_cast<int64_t>(state_.size() + fixed_.size());
  for (const auto& s : strings_) b += static_cast<int64_t>(s.size() + 32);
  return b;
}

std::vector<std::vector<int32_t>> GroupLists::ByGroup(int32_t groups) const {
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(groups));
  for (size_t i = 0; i < groups_.size(); ++i) {
    if (groups_[i] < groups) out[static_cast<size_t>(groups_[i])].push_back(static_cast<int32_t>(i));
  }
  return out;
}

Column GroupLists::ToArrays(int32_t groups) const {
  Column arr(DataType::Array(type_, false));
  for (const auto& rows : ByGroup(groups)) {
    if (!rows.empty()) arr.child(0).AppendTake(values_, rows.data(), static_cast<int64_t>(rows.size()));
    arr.CloseListRow();
  }
  return arr;
}

void GroupLists::AddArrays(const Column& arrays, const std::vector<int32_t>& groups, int64_t n) {
  const Column& elems = arrays.child(0);
  for (int64_t i = 0; i < n; ++i) {
    if (arrays.IsNull(i)) continue;
    for (int64_t k = arrays.offsets()[static_cast<size_t>(i)]; k < arrays.offsets()[static_cast<size_t>(i) + 1]; ++k) {
      if (!elems.IsNull(k)) Add(elems, k, groups[static_cast<size_t>(i)]);
    }
  }
}

}  // namespace internal
}  // namespace lakepipe::operators
