// Internal to expr/: helpers shared by the kernel files (eval.cc, cast.cc,
// string_functions.cc, datetime_functions.cc, math_functions.cc). Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
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
// Each returns Status NotFound when `e.function` is not theirs.
Result<ColumnPtr> EvalStringFunction(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n);
Result<ColumnPtr> EvalDatetimeFunction(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n);
Result<ColumnPtr> EvalMathFunction(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n);

// Value text as Spark's CAST(x AS STRING) writes it (doubles as Java prints them).
void AppendDoubleText(double v, bool is_float, std::string* out);

// Rounds v to `digits` decimal places, HALF_UP (round) or HALF_EVEN (bround), on its
// shortest decimal text as Spark's BigDecimal does.
double RoundDouble(double v, int digits, bool half_even);
// Rescales an unscaled decimal from scale `from` to `to`, rounding HALF_UP (or HALF_EVEN).
int128_t RescaleDecimal(int128_t v, int from, int to, bool half_even = false);
bool FitsPrecision(int128_t v, int precision);

}  // namespace lakepipe::expr
