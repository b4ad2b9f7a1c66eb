// Numeric kernels: round/bround (on the decimal text of doubles, as Spark's BigDecimal),
// floor, ceil, sqrt, power.
#include <charconv>
#include <cmath>

#include "expr/eval_internal.h"
#include "expr/function.h"
#include "types/decimal.h"

namespace lakepipe::expr {

// Rounds the shortest decimal text of v (what Spark's BigDecimal(double) holds) at `digits`
// places. The text is read in place (no strings), and the rounded decimal kept·10^-digits
// becomes a double by one exact division or product when kept < 2^53 and |digits| <= 22:
// both operands are then exact doubles, so the correctly rounded quotient is the double
// nearest the decimal, as parsing its text gives (the fallback, for longer values).
double RoundDouble(double v, int digits, bool half_even) {
  if (!std::isfinite(v)) return v;
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                      1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  // Without the text, when that cannot change the result: y = |v|·10^digits is within
  // |y|·2^-52 of the shortest text's decimal scaled alike (half an ulp of v, scaled, plus
  // the product's rounding). Rounding to an integer changes only at halves, so when y is
  // farther than that from one (2^-48 relative, to spare), both round to the same k, and
  // k / 10^digits is what the text path computes below (a value that already has at most
  // `digits` decimals gives k / 10^digits = v, the double nearest its text). Ties and
  // near-ties take the text path.
  if (digits >= 0 && digits <= 15) {
    const double y = std::fabs(v) * kPow10[digits];
    if (y < 0x1p40) {
      const double whole = std::floor(y);
      const double frac = y - whole;  // exact
      const double margin = y * 0x1p-48 + 0x1p-60;
      if (std::fabs(frac - 0.5) > margin) {
        const double out = (frac > 0.5 ? whole + 1 : whole) / kPow10[digits];
        return std::signbit(v) ? -out : out;
      }
    }
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  const char* p = buf;
  const char* end = res.ptr;
  const bool negative = *p == '-';
  if (negative) ++p;
  // The significant digits (at most 17 for the shortest text), then the exponent.
  char digits_text[32];
  int nd = 0;
  while (p < end && *p != 'e') {
    if (*p != '.' && nd < static_cast<int>(sizeof digits_text)) digits_text[nd++] = *p;
    ++p;
  }
  int exponent = 0;
  if (p < end) {
    ++p;  // 'e'
    bool exp_negative = false;
    if (p < end && (*p == '+' || *p == '-')) exp_negative = *p++ == '-';
    std::from_chars(p, end, exponent);
    if (exp_negative) exponent = -exponent;
  }
  // value = 0.d1d2d3... * 10^(exponent+1); keep (exponent + 1 + digits) leading digits.
  const int keep = exponent + 1 + digits;
  if (keep >= nd) return v;  // already exact at that scale
  if (keep < 0) return negative ? -0.0 : 0.0;
  // Round the kept prefix by the first dropped digit and the rest.
  int128_t kept = 0;
  for (int i = 0; i < keep; ++i) kept = kept * 10 + (digits_text[i] - '0');
  const int first_dropped = digits_text[keep] - '0';
  bool rest_nonzero = false;
  for (int i = keep + 1; i < nd; ++i) rest_nonzero |= digits_text[i] != '0';
  const bool up = first_dropped > 5 || (first_dropped == 5 && (rest_nonzero || !half_even || (kept % 2 == 1)));
  if (up) ++kept;
  double out = 0;
  if (kept < (static_cast<int128_t>(1) << 53) && digits >= -22 && digits <= 22) {
    const double k = static_cast<double>(static_cast<int64_t>(kept));
    out = digits >= 0 ? k / kPow10[digits] : k * kPow10[-digits];
  } else {
    // kept * 10^(exponent + 1 - keep) = kept * 10^(-digits)
    std::string text = Int128ToString(kept) + "e" + std::to_string(-digits);
    std::from_chars(text.data(), text.data() + text.size(), out);
  }
  return negative ? -out : out;
}

namespace {

template <typename T, typename F>
Result<ColumnPtr> Map(const DataType& type, const Column& in, F f) {
  int64_t n = in.size();
  Column out(type);
  out.ResizeFixed(n);
  T* r = out.data<T>();
  ValidityBuilder validity(n);
  validity.AndWith(in);
  for (int64_t i = 0; i < n; ++i) {
    bool ok = validity.IsValid(i) ? f(i, &r[i]) : (r[i] = T{}, true);
    if (!ok) validity.SetNull(i);
  }
  FinishFixed(&out, &validity);
  return MakeColumn(std::move(out));
}

template <typename T>
Result<ColumnPtr> RoundInteger(const BoundExpr& e, const Column& in, int digits, bool half_even) {
  if (digits >= 0) return MakeColumn(in);
  if (digits < -18) digits = -19;
  Status error;
  auto r = Map<T>(e.type, in, [&](int64_t i, T* out) {
    int128_t v = in.data<T>()[i];
    int128_t rounded = digits <= -19 ? 0 : RescaleDecimal(v, -digits, 0, half_even) * Pow10(-digits);
    if (rounded > std::numeric_limits<T>::max() || rounded < std::numeric_limits<T>::min()) {
      if (error.ok()) error = EvalError(e, "[ARITHMETIC_OVERFLOW] rounding " + Int128ToString(v) + " overflows " + e.type.ToString());
      *out = 0;
      return true;
    }
    *out = static_cast<T>(rounded);
    return true;
  });
  if (!error.ok()) return error;
  return r;
}

template <bool half_even>
Result<ColumnPtr> Round(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  int digits = e.args.size() > 1 ? static_cast<int>(e.args[1].literal.int_value()) : 0;
  const Column& in = *args[0];
  switch (in.type().id()) {
    case TypeId::kByte: return RoundInteger<int8_t>(e, in, digits, half_even);
    case TypeId::kShort: return RoundInteger<int16_t>(e, in, digits, half_even);
    case TypeId::kInt: return RoundInteger<int32_t>(e, in, digits, half_even);
    case TypeId::kLong: return RoundInteger<int64_t>(e, in, digits, half_even);
    case TypeId::kFloat:
      return Map<float>(e.type, in, [&](int64_t i, float* r) {
        *r = static_cast<float>(RoundDouble(in.data<float>()[i], digits, half_even));
        return true;
      });
    case TypeId::kDouble:
      return Map<double>(e.type, in, [&](int64_t i, double* r) {
        *r = RoundDouble(in.data<double>()[i], digits, half_even);
        return true;
      });
    case TypeId::kDecimal: {
      int from = in.type().scale(), to = e.type.scale();
      return Map<int128_t>(e.type, in, [&](int64_t i, int128_t* r) {
        int128_t v = in.data<int128_t>()[i];
        if (digits < 0) {
          int128_t whole = RescaleDecimal(v, from + (-digits), 0, half_even) * Pow10(-digits);
          *r = whole * Pow10(to);
        } else {
          *r = RescaleDecimal(v, from, to, half_even);
        }
        return true;
      });
    }
    default: return MakeColumn(Column::Nulls(e.type, n));
  }
}

template <bool floor>
Result<ColumnPtr> FloorCeil(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t) {
  const Column& in = *args[0];
  if (in.type().id() == TypeId::kLong) return MakeColumn(in);
  if (in.type().id() == TypeId::kDecimal) {
    int s = in.type().scale();
    return Map<int128_t>(e.type, in, [&](int64_t i, int128_t* r) {
      int128_t v = in.data<int128_t>()[i];
      int128_t d = Pow10(s);
      int128_t q = v / d;
      if (v % d != 0 && ((v < 0) == floor)) q += floor ? -1 : 1;
      *r = q;
      return true;
    });
  }
  return Map<int64_t>(e.type, in, [&](int64_t i, int64_t* out) {
    double v = floor ? std::floor(in.data<double>()[i]) : std::ceil(in.data<double>()[i]);
    if (std::isnan(v)) { *out = 0; return true; }
    if (v >= 9.2233720368547758e18) { *out = INT64_MAX; return true; }
    if (v < -9.2233720368547758e18) { *out = INT64_MIN; return true; }
    *out = static_cast<int64_t>(v);
    return true;
  });
}

Result<ColumnPtr> Sqrt(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t) {
  const Column& in = *args[0];
  return Map<double>(e.type, in, [&](int64_t i, double* r) { *r = std::sqrt(in.data<double>()[i]); return true; });
}

Result<ColumnPtr> Power(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t) {
  const Column& a = *args[0];
  const Column& b = *args[1];
  int64_t count = a.size();
  Column out(DataType::Double());
  out.ResizeFixed(count);
  ValidityBuilder validity(count);
  validity.AndWith(a);
  validity.AndWith(b);
  for (int64_t i = 0; i < count; ++i) out.data<double>()[i] = std::pow(a.data<double>()[i], b.data<double>()[i]);
  FinishFixed(&out, &validity);
  return MakeColumn(std::move(out));
}

// ---- binding -----------------------------------------------------------------------------

Status BindRound(CallBinder& c) {
  if (c.arg_type(0).id() == TypeId::kString || c.arg_type(0).id() == TypeId::kNull) {
    c.arg(0) = CastTo(std::move(c.arg(0)), DataType::Double());
  }
  if (!c.arg_type(0).is_numeric()) return c.Error("`" + c.written_name() + "` needs a number in `" + c.expr().ToString() + "`");
  int digits = 0;
  if (c.num_args() == 2) {
    LP_RETURN_IF_ERROR(c.ExpectType(1, DataType::Int()));
    LP_RETURN_IF_ERROR(c.ExpectLiteral(1));
    if (c.arg(1).literal.is_null()) return c.Error("the scale of `" + c.written_name() + "` must not be NULL");
    digits = static_cast<int>(c.arg(1).literal.int_value());
  }
  const DataType t = c.arg_type(0);
  if (t.id() == TypeId::kDecimal) {
    int new_scale = std::max(0, std::min(digits, t.scale()));
    int int_digits = t.precision() - t.scale();
    c.SetResult(DataType::Decimal(std::min(38, int_digits + new_scale + 1), new_scale));
  } else {
    c.SetResult(t);
  }
  return Status::OK();
}

Status BindFloorCeil(CallBinder& c) {
  if (c.arg_type(0).id() == TypeId::kString || c.arg_type(0).id() == TypeId::kNull) {
    c.arg(0) = CastTo(std::move(c.arg(0)), DataType::Double());
  }
  const DataType t = c.arg_type(0);
  if (!t.is_numeric()) return c.Error("`" + c.written_name() + "` needs a number in `" + c.expr().ToString() + "`");
  if (t.id() == TypeId::kDecimal) {
    c.SetResult(DataType::Decimal(std::min(38, t.precision() - t.scale() + 1), 0));
  } else {
    c.arg(0) = CastTo(std::move(c.arg(0)), t.is_integer() ? DataType::Long() : DataType::Double());
    c.SetResult(DataType::Long());
  }
  return Status::OK();
}

Status BindDoubles(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectAll(0, DataType::Double()));
  c.SetResult(DataType::Double());
  return Status::OK();
}

}  // namespace

void RegisterMathFunctions(FunctionRegistry* r) {
  r->Add({"round", 1, 2, BindRound, Round<false>});
  r->Add({"bround", 1, 2, BindRound, Round<true>});
  r->Add({"floor", 1, 1, BindFloorCeil, FloorCeil<true>});
  r->Add({"ceil", 1, 1, BindFloorCeil, FloorCeil<false>});
  r->AddAlias("ceiling", "ceil");
  r->Add({"sqrt", 1, 1, BindDoubles, Sqrt, nullptr, /*may_error=*/false});
  r->Add({"power", 2, 2, BindDoubles, Power, nullptr, /*may_error=*/false});
  r->AddAlias("pow", "power");
}

}  // namespace lakepipe::expr
