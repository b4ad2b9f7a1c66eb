// Arithmetic operators (+ - * / % div, their try_ forms, unary minus, abs) with Spark's
// ANSI overflow and division-by-zero errors, and Spark's decimal result types.
#include <cmath>
#include <limits>

#include "expr/eval_internal.h"
#include "expr/function.h"
#include "types/decimal.h"

namespace lakepipe::expr {
namespace {

template <typename T, typename Op>
Result<ColumnPtr> BinaryNumeric(const BoundExpr& e, const Column& a, const Column& b, bool try_mode, Op op,
                                const char* what) {
  int64_t n = a.size();
  Column out(e.type);
  out.ResizeFixed(n);
  ValidityBuilder validity(n);
  validity.AndWith(a);
  validity.AndWith(b);
  const T* x = a.data<T>();
  const T* y = b.data<T>();
  using R = decltype(op(x[0], y[0], nullptr));
  static_assert(std::is_same_v<R, bool>);
  auto* r = out.data<typename std::remove_pointer_t<decltype(out.data<T>())>>();
  bool any_fail = false;
  for (int64_t i = 0; i < n; ++i) any_fail |= !op(x[i], y[i], &r[i]);
  if (any_fail) {
    for (int64_t i = 0; i < n; ++i) {
      T tmp;
      if (validity.IsValid(i) && !op(x[i], y[i], &tmp)) {
        if (!try_mode) {
          return EvalError(e, std::string(what) + " (" + ValueText(a, i) + ", " + ValueText(b, i) + ")");
        }
        validity.SetNull(i);
      }
    }
  }
  FinishFixed(&out, &validity);
  return MakeColumn(std::move(out));
}

const char* kOverflow = "[ARITHMETIC_OVERFLOW] overflow; use the try_ form of the operator to get NULL instead";
const char* kDivideByZero = "[DIVIDE_BY_ZERO] division by zero; use try_divide to get NULL instead";

template <typename T>
Result<ColumnPtr> IntegerArithmetic(const BoundExpr& e, char op, const Column& a, const Column& b, bool try_mode) {
  switch (op) {
    case '+': return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) { return !__builtin_add_overflow(x, y, r ? r : &x); }, kOverflow);
    case '-': return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) { return !__builtin_sub_overflow(x, y, r ? r : &x); }, kOverflow);
    case '*': return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) { return !__builtin_mul_overflow(x, y, r ? r : &x); }, kOverflow);
    case '%':
      return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) {
        if (y == 0) { if (r) *r = 0; return false; }
        T v = y == -1 ? 0 : static_cast<T>(x % y);
        if (r) *r = v;
        return true;
      }, kDivideByZero);
    case 'd':
      return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) {
        if (y == 0) { if (r) *r = 0; return false; }
        if (y == -1 && x == std::numeric_limits<T>::min()) { if (r) *r = 0; return false; }
        if (r) *r = static_cast<T>(x / y);
        return true;
      }, "[DIVIDE_BY_ZERO] division by zero or overflow in integral division");
  }
  return Status::Internal("bad integer operator");
}

template <typename T>
Result<ColumnPtr> FloatArithmetic(const BoundExpr& e, char op, const Column& a, const Column& b, bool try_mode) {
  switch (op) {
    case '+': return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) { if (r) *r = x + y; return true; }, kOverflow);
    case '-': return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) { if (r) *r = x - y; return true; }, kOverflow);
    case '*': return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) { if (r) *r = x * y; return true; }, kOverflow);
    case '/':
      return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) {
        if (y == 0) { if (r) *r = 0; return false; }
        if (r) *r = x / y;
        return true;
      }, kDivideByZero);
    case '%':
      return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) {
        if (y == 0) { if (r) *r = 0; return false; }
        if (r) *r = std::fmod(x, y);
        return true;
      }, kDivideByZero);
  }
  return Status::Internal("bad float operator");
}

Result<ColumnPtr> DecimalArithmetic(const BoundExpr& e, char op, const Column& a, const Column& b, bool try_mode) {
  int s1 = a.type().scale(), s2 = b.type().scale();
  int rs = e.type.scale(), rp = e.type.precision();
  switch (op) {
    case '+':
    case '-': {
      int s = std::max(s1, s2);
      int128_t fa = Pow10(s - s1), fb = Pow10(s - s2);
      bool sub = op == '-';
      return BinaryNumeric<int128_t>(e, a, b, try_mode, [=](int128_t x, int128_t y, int128_t* r) {
        int128_t xs, ys, v;
        if (__builtin_mul_overflow(x, fa, &xs) || __builtin_mul_overflow(y, fb, &ys)) return false;
        if (sub ? __builtin_sub_overflow(xs, ys, &v) : __builtin_add_overflow(xs, ys, &v)) return false;
        if (s != rs) v = RescaleDecimal(v, s, rs);
        if (r) *r = v;
        return FitsPrecision(v, rp);
      }, "[NUMERIC_VALUE_OUT_OF_RANGE] decimal overflow");
    }
    case '*': {
      int s = s1 + s2;
      return BinaryNumeric<int128_t>(e, a, b, try_mode, [=](int128_t x, int128_t y, int128_t* r) {
        int128_t v;
        if (__builtin_mul_overflow(x, y, &v)) return false;
        if (s != rs) v = RescaleDecimal(v, s, rs);
        if (r) *r = v;
        return FitsPrecision(v, rp);
      }, "[NUMERIC_VALUE_OUT_OF_RANGE] decimal overflow");
    }
    case '/': {
      // x/10^s1 / (y/10^s2) at scale rs: x * 10^(rs + s2 - s1 + 1) / y, then round the
      // extra digit half up.
      int shift = rs + s2 - s1 + 1;
      return BinaryNumeric<int128_t>(e, a, b, try_mode, [=](int128_t x, int128_t y, int128_t* r) {
        if (y == 0) { if (r) *r = 0; return false; }
        int128_t num;
        if (shift >= 0) {
          if (shift > 38 || __builtin_mul_overflow(x, Pow10(shift), &num)) return false;
        } else {
          num = x / Pow10(-shift);
        }
        int128_t q = num / y;
        int128_t v = q >= 0 ? (q + 5) / 10 : (q - 5) / 10;
        if (r) *r = v;
        return FitsPrecision(v, rp);
      }, "[DIVIDE_BY_ZERO] division by zero or decimal overflow");
    }
    case '%': {
      int s = std::max(s1, s2);
      int128_t fa = Pow10(s - s1), fb = Pow10(s - s2);
      return BinaryNumeric<int128_t>(e, a, b, try_mode, [=](int128_t x, int128_t y, int128_t* r) {
        if (y == 0) { if (r) *r = 0; return false; }
        int128_t v = (x * fa) % (y * fb);
        if (s != rs) v = RescaleDecimal(v, s, rs);
        if (r) *r = v;
        return true;
      }, kDivideByZero);
    }
  }
  return Status::Internal("bad decimal operator");
}

// op: + - * / % and 'd' (div); try_mode gives NULL instead of an ANSI error.
template <char op, bool try_mode>
Result<ColumnPtr> Arithmetic(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t) {
  const Column& a = *args[0];
  const Column& b = *args[1];
  switch (a.type().id()) {
    case TypeId::kByte: return IntegerArithmetic<int8_t>(e, op, a, b, try_mode);
    case TypeId::kShort: return IntegerArithmetic<int16_t>(e, op, a, b, try_mode);
    case TypeId::kInt: return IntegerArithmetic<int32_t>(e, op, a, b, try_mode);
    case TypeId::kLong: return IntegerArithmetic<int64_t>(e, op, a, b, try_mode);
    case TypeId::kFloat: return FloatArithmetic<float>(e, op, a, b, try_mode);
    case TypeId::kDouble: return FloatArithmetic<double>(e, op, a, b, try_mode);
    case TypeId::kDecimal: return DecimalArithmetic(e, op, a, b, try_mode);
    case TypeId::kNull: return MakeColumn(Column::Nulls(e.type, a.size()));
    default: return EvalError(e, "arithmetic on " + a.type().ToString());
  }
}

template <typename T>
Result<ColumnPtr> NegateOrAbs(const BoundExpr& e, const Column& a, bool abs) {
  int64_t n = a.size();
  Column out(e.type);
  out.ResizeFixed(n);
  ValidityBuilder validity(n);
  validity.AndWith(a);
  const T* x = a.data<T>();
  T* r = out.data<T>();
  for (int64_t i = 0; i < n; ++i) {
    T v = x[i];
    if constexpr (std::is_integral_v<T> || std::is_same_v<T, int128_t>) {
      if constexpr (!std::is_same_v<T, int128_t>) {
        if (v == std::numeric_limits<T>::min() && (!abs || v < 0)) {
          if (validity.IsValid(i)) return EvalError(e, std::string(kOverflow) + " (" + ValueText(a, i) + ")");
        }
      }
      r[i] = abs ? (v < 0 ? static_cast<T>(-v) : v) : static_cast<T>(-v);
    } else {
      r[i] = abs ? std::fabs(v) : -v;
    }
  }
  FinishFixed(&out, &validity);
  return MakeColumn(std::move(out));
}

template <bool abs>
Result<ColumnPtr> Unary(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t) {
  const Column& a = *args[0];
  switch (a.type().id()) {
    case TypeId::kByte: return NegateOrAbs<int8_t>(e, a, abs);
    case TypeId::kShort: return NegateOrAbs<int16_t>(e, a, abs);
    case TypeId::kInt: return NegateOrAbs<int32_t>(e, a, abs);
    case TypeId::kLong: return NegateOrAbs<int64_t>(e, a, abs);
    case TypeId::kFloat: return NegateOrAbs<float>(e, a, abs);
    case TypeId::kDouble: return NegateOrAbs<double>(e, a, abs);
    case TypeId::kDecimal: return NegateOrAbs<int128_t>(e, a, abs);
    default: return MakeColumn(Column::Nulls(e.type, a.size()));
  }
}


// ---- binding -----------------------------------------------------------------------------

// Casts string/NULL operands to a number (Spark: a string in arithmetic is a double) and
// refuses non-numbers.
Status NumericOperands(CallBinder& c) {
  for (size_t i = 0; i < 2; ++i) {
    DataType t = c.arg_type(i);
    if (t.id() == TypeId::kString || t.id() == TypeId::kNull) {
      DataType other = c.arg_type(1 - i);
      c.arg(i) = CastTo(std::move(c.arg(i)), other.is_numeric() && t.id() == TypeId::kNull ? other : DataType::Double());
    } else if (!t.is_numeric()) {
      return c.Error("`" + c.written_name() + "` needs numbers, got " + t.ToString() + " (" + c.arg(i).text + ") in `" +
                     c.expr().ToString() + "`");
    }
  }
  return Status::OK();
}

// + - * / % and their try_ forms: Spark's result types (decimal precision rules).
template <char op, bool try_mode>
Status BindArithmetic(CallBinder& c) {
  if constexpr (op == '+' || op == '-') {
    LP_ASSIGN_OR_RETURN(bool temporal, BindTemporalArithmetic(c, op == '-', try_mode));
    if (temporal) return Status::OK();
  }
  LP_RETURN_IF_ERROR(NumericOperands(c));
  BoundExpr& b = c.bound();
  const DataType a = c.arg_type(0);
  const DataType d = c.arg_type(1);
  bool decimal = (a.id() == TypeId::kDecimal || d.id() == TypeId::kDecimal) && !a.is_floating() && !d.is_floating();
  constexpr bool divide = op == '/';
  if (decimal) {
    DataType da = AsDecimal(a), dc = AsDecimal(d);
    int p1 = da.precision(), s1 = da.scale(), p2 = dc.precision(), s2 = dc.scale();
    if constexpr (op == '*') {
      b.type = AdjustedDecimal(p1 + p2 + 1, s1 + s2);
    } else if constexpr (divide) {
      int s = std::max(6, s1 + p2 + 1);
      b.type = AdjustedDecimal(p1 - s1 + s2 + s, s);
    } else if constexpr (op == '%') {
      int s = std::max(s1, s2);
      b.type = AdjustedDecimal(std::min(p1 - s1, p2 - s2) + s, s);
    } else {
      int s = std::max(s1, s2);
      b.type = AdjustedDecimal(std::max(p1 - s1, p2 - s2) + s + 1, s);
    }
    b.args[0] = CastTo(std::move(b.args[0]), da);
    b.args[1] = CastTo(std::move(b.args[1]), dc);
  } else if (divide) {
    b.args[0] = CastTo(std::move(b.args[0]), DataType::Double());
    b.args[1] = CastTo(std::move(b.args[1]), DataType::Double());
    b.type = DataType::Double();
  } else {
    DataType w = WiderNumeric(a, d);
    b.args[0] = CastTo(std::move(b.args[0]), w);
    b.args[1] = CastTo(std::move(b.args[1]), w);
    b.type = w;
  }
  if (divide || op == '%' || try_mode) b.nullable = true;
  return Status::OK();
}

// Integral division: bigint.
Status BindDiv(CallBinder& c) {
  LP_RETURN_IF_ERROR(NumericOperands(c));
  DataType w = WiderNumeric(c.arg_type(0), c.arg_type(1));
  if (!w.is_integer()) return c.Unsupported("`div` over " + w.ToString());
  c.arg(0) = CastTo(std::move(c.arg(0)), DataType::Long());
  c.arg(1) = CastTo(std::move(c.arg(1)), DataType::Long());
  c.SetResult(DataType::Long());
  c.bound().nullable = true;
  return Status::OK();
}

template <bool abs>
Status BindNegateOrAbs(CallBinder& c) {
  if (c.arg_type(0).id() == TypeId::kString || c.arg_type(0).id() == TypeId::kNull) {
    c.arg(0) = CastTo(std::move(c.arg(0)), DataType::Double());
  }
  if (!abs && c.arg_type(0).is_interval()) return c.Rebind("interval_negate");
  if (!c.arg_type(0).is_numeric()) {
    return c.Error("`" + c.written_name() + "` needs a number in `" + c.expr().ToString() + "`");
  }
  c.SetResult(c.arg_type(0));
  return Status::OK();
}

template <char op, bool try_mode>
ScalarFunction Op(const char* name) {
  return {name, 2, 2, BindArithmetic<op, try_mode>, Arithmetic<op, try_mode>};
}

}  // namespace

void RegisterArithmeticFunctions(FunctionRegistry* r) {
  r->Add(Op<'+', false>("+"));
  r->Add(Op<'-', false>("-"));
  r->Add(Op<'*', false>("*"));
  r->Add(Op<'/', false>("/"));
  r->Add(Op<'%', false>("%"));
  r->Add(Op<'+', true>("try_add"));
  r->Add(Op<'-', true>("try_subtract"));
  r->Add(Op<'*', true>("try_multiply"));
  r->Add(Op<'/', true>("try_divide"));
  r->Add(Op<'%', true>("try_mod"));
  r->Add({"div", 2, 2, BindDiv, Arithmetic<'d', false>});
  r->Add({"negate", 1, 1, BindNegateOrAbs<false>, Unary<false>});
  r->Add({"abs", 1, 1, BindNegateOrAbs<true>, Unary<true>});
  r->AddAlias("mod", "%");
}

}  // namespace lakepipe::expr
