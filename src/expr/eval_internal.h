// Internal to expr/: helpers shared by the kernel files (eval.cc, cast.cc,
// string_functions.cc, datetime_functions.cc, math_functions.cc). Pure functions.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
#include "types/batch.h"
#include "types/column.h"

namespace lakepipe::expr {

// "line:col: " or "".
std::string PositionPrefix(const SourcePos& pos);
// An ANSI run-time error naming the expression: "1:8: [DIVIDE_BY_ZERO] ... in `(a / b)`".
Status EvalError(const BoundExpr& e, const std::string& message);

// A validity bitmap under construction: starts all valid, lazily materialized.
class ValidityBuilder {
 public:
  explicit ValidityBuilder(int64_t n) : n_(n) {}
  // Starts from the AND of the columns' validity.
  void AndWith(const Column& c);
  // Valid only where every argument is: the NULL-in, NULL-out rule of most functions
  // (a void argument makes every row NULL).
  void AndWithAll(const std::vector<ColumnPtr>& args) {
    for (const auto& a : args) {
      if (a->type().id() == TypeId::kNull) {
        for (int64_t i = 0; i < n_; ++i) SetNull(i);
      } else {
        AndWith(*a);
      }
    }
  }
  void SetNull(int64_t i) {
    Materialize();
    bits_[static_cast<size_t>(i >> 3)] &= static_cast<uint8_t>(~(1u << (i & 7)));
  }
  bool IsValid(int64_t i) const {
    return bits_.empty() || ((bits_[static_cast<size_t>(i >> 3)] >> (i & 7)) & 1);
  }
  bool all_valid() const { return bits_.empty(); }
  std::vector<uint8_t> Take() { return std::move(bits_); }

 private:
  void Materialize() {
    if (bits_.empty()) bits_.assign(static_cast<size_t>((n_ + 7) / 8), 0xFF);
  }
  int64_t n_;
  std::vector<uint8_t> bits_;
};

// Zeroes the fixed-width slots under nulls, then installs the bitmap (Column's layout rule).
void FinishFixed(Column* out, ValidityBuilder* validity);

// A fixed-width result of type T over `n` rows, NULL where any argument is NULL;
// `f(i, &out)` computes row i and returns false to make it NULL.
template <typename T, typename F>
Result<ColumnPtr> FixedResult(const DataType& type, const std::vector<ColumnPtr>& args, int64_t n, F f) {
  Column out(type);
  out.ResizeFixed(n);
  T* r = out.data<T>();
  ValidityBuilder validity(n);
  validity.AndWithAll(args);
  for (int64_t i = 0; i < n; ++i) {
    if (!validity.IsValid(i)) { r[i] = T{}; continue; }
    if (!f(i, &r[i])) { r[i] = T{}; validity.SetNull(i); }
  }
  FinishFixed(&out, &validity);
  return MakeColumn(std::move(out));
}

Result<ColumnPtr> CastColumn(const BoundExpr& e, const Column& in, const DataType& to, bool try_cast);

// True when evaluating `e` may raise an ANSI error, so it must only see the rows a
// conditional (CASE/IF/COALESCE/AND/OR) actually sends to it.
bool CanFail(const BoundExpr& e);
// `e` evaluated on the rows `rows` of `batch` only (a column of rows.size() values).
Result<ColumnPtr> EvaluateOnRows(const BoundExpr& e, const RecordBatch& batch, const std::vector<int32_t>& rows);
// A column of n rows where row i is pieces[piece_of_row[i]] at index_in_piece[i], or
// NULL when piece_of_row[i] < 0 or that piece is null.
Result<ColumnPtr> Assemble(const DataType& type, int64_t n, const std::vector<ColumnPtr>& pieces,
                           const std::vector<int32_t>& piece_of_row, const std::vector<int32_t>& index_in_piece);
// 0, 1, ..., n-1.
std::vector<int32_t> AllRows(int64_t n);
enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe, kNullSafeEq };
// a op b per row (both of one type), NULL where either is NULL except for <=>.
Result<ColumnPtr> CompareColumns(CompareOp op, const Column& a, const Column& b);
// Three-valued AND / OR of two boolean columns.
Result<ColumnPtr> AndOr(bool is_and, const Column& a, const Column& b);
// Row i's value as text, for error messages.
std::string ValueText(const Column& c, int64_t i);

// Calls f with a value of the physical C++ type that holds `id` (string_view for
// string/binary).
template <typename F>
decltype(auto) DispatchPhysical(TypeId id, F&& f) {
  switch (id) {
    case TypeId::kBoolean: return f(uint8_t{});
    case TypeId::kByte: return f(int8_t{});
    case TypeId::kShort: return f(int16_t{});
    case TypeId::kInt:
    case TypeId::kDate:
    case TypeId::kYearMonthInterval: return f(int32_t{});
    case TypeId::kLong:
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz:
    case TypeId::kDayTimeInterval: return f(int64_t{});
    case TypeId::kFloat: return f(float{});
    case TypeId::kDouble: return f(double{});
    case TypeId::kDecimal: return f(int128_t{});
    default: return f(std::string_view{});
  }
}

template <typename T>
inline T Load(const Column& c, int64_t i) {
  if constexpr (std::is_same_v<T, std::string_view>) {
    return c.GetString(i);
  } else {
    return c.data<T>()[i];
  }
}

// Spark's ordering: NaN equals NaN and is greater than any other value.
template <typename T>
inline int Compare3(const T& a, const T& b) {
  if constexpr (std::is_floating_point_v<T>) {
    bool an = std::isnan(a), bn = std::isnan(b);
    if (an || bn) return an == bn ? 0 : (an ? 1 : -1);
    return (a > b) - (a < b);
  } else if constexpr (std::is_same_v<T, std::string_view>) {
    int c = a.compare(b);
    return (c > 0) - (c < 0);
  } else {
    return (a > b) - (a < b);
  }
}


// Value text as Spark's CAST(x AS STRING) writes it (doubles as Java prints them).
void AppendDoubleText(double v, bool is_float, std::string* out);

// Rounds v to `digits` decimal places, HALF_UP (round) or HALF_EVEN (bround), on its
// shortest decimal text as Spark's BigDecimal does.
double RoundDouble(double v, int digits, bool half_even);
// Rescales an unscaled decimal from scale `from` to `to`, rounding HALF_UP (or HALF_EVEN).
int128_t RescaleDecimal(int128_t v, int from, int to, bool half_even = false);
bool FitsPrecision(int128_t v, int precision);

}  // namespace lakepipe::expr
