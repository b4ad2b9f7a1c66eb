// CAST and try_cast between primitive types, with Spark's text forms and ANSI errors.
#include <charconv>
#include <cmath>
#include <cstring>

#include "common/utf8.h"
#include "expr/eval_internal.h"
#include "expr/kernel_state.h"
#include "fast_float/fast_float.h"
#include "types/datetime.h"
#include "types/decimal.h"
#include "types/interval.h"

namespace lakepipe::expr {

bool FitsPrecision(int128_t v, int precision) {
  int128_t limit = Pow10(precision);
  return v < limit && v > -limit;
}

int128_t RescaleDecimal(int128_t v, int from, int to, bool half_even) {
  if (to >= from) return v * Pow10(to - from);
  int128_t div = Pow10(from - to);
  int128_t q = v / div;
  int128_t rem = v % div;
  int128_t twice = (rem < 0 ? -rem : rem) * 2;
  bool up = twice > div || (twice == div && (!half_even || (q % 2 != 0)));
  if (up) q += v < 0 ? -1 : 1;
  return q;
}

void AppendDoubleText(double v, bool is_float, std::string* out) {
  if (std::isnan(v)) { out->append("NaN"); return; }
  if (std::isinf(v)) { out->append(v > 0 ? "Infinity" : "-Infinity"); return; }
  if (v == 0) { out->append(std::signbit(v) ? "-0.0" : "0.0"); return; }
  char buf[64];
  std::to_chars_result res = is_float ? std::to_chars(buf, buf + sizeof(buf), static_cast<float>(v), std::chars_format::scientific)
                                      : std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  // sci: [-]d[.ddd]e[+-]xx
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e = sci.find('e');
  int exponent = std::atoi(sci.c_str() + e + 1);
  std::string digits;
  for (size_t i = 0; i < e; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  if (negative) out->push_back('-');
  double magnitude = std::fabs(v);
  if (magnitude >= 1e-3 && magnitude < 1e7) {
    // Plain notation, at least one digit after the point (Java's Double.toString).
    int point = exponent + 1;  // digits before the point
    if (point <= 0) {
      out->append("0.");
      out->append(static_cast<size_t>(-point), '0');
      out->append(digits);
    } else if (static_cast<size_t>(point) >= digits.size()) {
      out->append(digits);
      out->append(static_cast<size_t>(point) - digits.size(), '0');
      out->append(".0");
    } else {
      out->append(digits, 0, static_cast<size_t>(point));
      out->push_back('.');
      out->append(digits, static_cast<size_t>(point), std::string::npos);
    }
  } else {
    out->push_back(digits[0]);
    out->push_back('.');
    out->append(digits.size() > 1 ? digits.substr(1) : "0");
    out->push_back('E');
    out->append(std::to_string(exponent));
  }
}

namespace {

std::string_view TrimSpaces(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && static_cast<unsigned char>(s[b]) <= ' ') ++b;
  while (e > b && static_cast<unsigned char>(s[e - 1]) <= ' ') --e;
  return s.substr(b, e - b);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// Spark's UTF8String.toLong: sign, digits, and an optional '.' followed by digits that are
// dropped (truncation).
bool ParseIntegerText(std::string_view text, int64_t* out) {
  std::string_view s = TrimSpaces(text);
  if (s.empty()) return false;
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    ++i;
  }
  if (i >= s.size()) return false;
  int128_t v = 0;
  size_t digits = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) {
    v = v * 10 + (s[i] - '0');
    if (v > (static_cast<int128_t>(1) << 64)) return false;
  }
  if (i < s.size()) {
    if (s[i] != '.') return false;
    ++i;
    for (; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
    }
  }
  if (digits == 0) return false;
  if (negative) v = -v;
  if (v > INT64_MAX || v < INT64_MIN) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

bool ParseDoubleText(std::string_view text, double* out) {
  std::string_view s = TrimSpaces(text);
  if (s.empty()) return false;
  std::string_view body = s;
  bool negative = false;
  if (body[0] == '-' || body[0] == '+') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (EqualsIgnoreCase(body, "inf") || EqualsIgnoreCase(body, "infinity")) {
    *out = negative ? -INFINITY : INFINITY;
    return true;
  }
  if (EqualsIgnoreCase(body, "nan")) {
    *out = NAN;
    return true;
  }
  if (!s.empty() && (s.back() == 'd' || s.back() == 'D' || s.back() == 'f' || s.back() == 'F')) s.remove_suffix(1);
  const char* first = s.data();
  if (*first == '+') ++first;
  auto r = fast_float::from_chars(first, s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool ParseBooleanText(std::string_view text, bool* out) {
  std::string_view s = TrimSpaces(text);
  for (const char* t : {"t", "true", "y", "yes", "1"}) {
    if (EqualsIgnoreCase(s, t)) { *out = true; return true; }
  }
  for (const char* f : {"f", "false", "n", "no", "0"}) {
    if (EqualsIgnoreCase(s, f)) { *out = false; return true; }
  }
  return false;
}

// A numeric input read as one of three representations.
struct NumberReader {
  const Column& c;
  TypeId id;
  int scale = 0;
  bool is_integer() const {
    return id == TypeId::kBoolean || id == TypeId::kByte || id == TypeId::kShort || id == TypeId::kInt || id == TypeId::kLong;
  }
  int64_t Int(int64_t i) const {
    switch (id) {
      case TypeId::kBoolean: return c.data<uint8_t>()[i];
      case TypeId::kByte: return c.data<int8_t>()[i];
      case TypeId::kShort: return c.data<int16_t>()[i];
      case TypeId::kInt: return c.data<int32_t>()[i];
      default: return c.data<int64_t>()[i];
    }
  }
  double Double(int64_t i) const {
    switch (id) {
      case TypeId::kFloat: return c.data<float>()[i];
      case TypeId::kDouble: return c.data<double>()[i];
      case TypeId::kDecimal: return static_cast<double>(static_cast<long double>(c.data<int128_t>()[i]) / static_cast<long double>(Pow10(scale)));
      case TypeId::kTimestamp:
      case TypeId::kTimestampNtz: return static_cast<double>(c.data<int64_t>()[i]) / 1e6;
      default: return static_cast<double>(Int(i));
    }
  }
};

class Caster {
 public:
  Caster(const BoundExpr& e, const Column& in, const DataType& to, bool try_cast)
      : e_(e), in_(in), to_(to), try_(try_cast), n_(in.size()), validity_(in.size()) {
    validity_.AndWith(in);
  }

  Result<ColumnPtr> Run() {
    TypeId from = in_.type().id();
    if (from == TypeId::kNull) return MakeColumn(Column::Nulls(to_, n_));
    if (in_.type() == to_) return MakeColumn(in_);
    if (to_.id() == TypeId::kString) return ToString();
    if (from == TypeId::kString) return FromString();
    return Fixed();
  }

 private:
  Status Fail(int64_t i, const char* kind) {
    if (try_) {
      validity_.SetNull(i);
      return Status::OK();
    }
    std::string v = in_.GetValue(i).ToString();
    if (in_.type().id() == TypeId::kString) v = "'" + v + "'";
    return EvalError(e_, std::string("[") + kind + "] the value " + v + " of type " + in_.type().ToString() +
                             " cannot be cast to " + to_.ToString() +
                             (std::strcmp(kind, "CAST_OVERFLOW") == 0 ? " due to an overflow" : " because it is malformed") +
                             "; use try_cast to get NULL instead");
  }

  Result<ColumnPtr> ToString() {
    Column out(DataType::String());
    out.Reserve(n_);
    std::string buf;
    TypeId from = in_.type().id();
    NumberReader num{in_, from, in_.type().scale()};
    for (int64_t i = 0; i < n_; ++i) {
      if (in_.IsNull(i)) { out.AppendNull(); continue; }
      buf.clear();
      switch (from) {
        case TypeId::kBoolean: buf = in_.data<uint8_t>()[i] ? "true" : "false"; break;
        case TypeId::kByte: case TypeId::kShort: case TypeId::kInt: case TypeId::kLong:
          buf = std::to_string(num.Int(i)); break;
        case TypeId::kFloat: AppendDoubleText(in_.data<float>()[i], true, &buf); break;
        case TypeId::kDouble: AppendDoubleText(in_.data<double>()[i], false, &buf); break;
        case TypeId::kDecimal: buf = FormatDecimal(in_.data<int128_t>()[i], in_.type().scale()); break;
        case TypeId::kDate: buf = FormatDate(in_.data<int32_t>()[i]); break;
        case TypeId::kTimestamp: case TypeId::kTimestampNtz: buf = FormatTimestamp(in_.data<int64_t>()[i]); break;
        // Kafka keys and values arrive as binary; their text must be valid UTF-8 to be a
        // STRING (Parquet, JSON, comparisons), so bad bytes become U+FFFD as Java's decoder does.
        case TypeId::kBinary: AppendRepairedUtf8(in_.GetString(i), &buf); break;
        default: buf = in_.GetValue(i).ToString(); break;
      }
      out.AppendString(buf);
    }
    return MakeColumn(std::move(out));
  }

  template <typename T, typename F>
  Result<ColumnPtr> Build(F produce) {
    Column out(to_);
    out.ResizeFixed(n_);
    T* r = out.data<T>();
    for (int64_t i = 0; i < n_; ++i) {
      if (!validity_.IsValid(i)) { r[i] = T{}; continue; }
      const char* kind = nullptr;
      if (!produce(i, &r[i], &kind)) {
        r[i] = T{};
        LP_RETURN_IF_ERROR(Fail(i, kind));
      }
    }
    FinishFixed(&out, &validity_);
    return MakeColumn(std::move(out));
  }

  Result<ColumnPtr> FromString() {
    const Column& c = in_;
    switch (to_.id()) {
      case TypeId::kBoolean:
        return Build<uint8_t>([&](int64_t i, uint8_t* r, const char** kind) {
          bool b;
          *kind = "CAST_INVALID_INPUT";
          if (!ParseBooleanText(c.GetString(i), &b)) return false;
          *r = b;
          return true;
        });
      case TypeId::kByte: return StringToInt<int8_t>();
      case TypeId::kShort: return StringToInt<int16_t>();
      case TypeId::kInt: return StringToInt<int32_t>();
      case TypeId::kLong: return StringToInt<int64_t>();
      case TypeId::kFloat:
        return Build<float>([&](int64_t i, float* r, const char** kind) {
          double d;
          *kind = "CAST_INVALID_INPUT";
          if (!ParseDoubleText(c.GetString(i), &d)) return false;
          *r = static_cast<float>(d);
          return true;
        });
      case TypeId::kDouble:
        return Build<double>([&](int64_t i, double* r, const char** kind) {
          *kind = "CAST_INVALID_INPUT";
          return ParseDoubleText(c.GetString(i), r);
        });
      case TypeId::kDecimal: {
        int p = to_.precision(), s = to_.scale();
        return Build<int128_t>([&](int64_t i, int128_t* r, const char** kind) {
          std::string_view text = TrimSpaces(c.GetString(i));
          auto v = ParseDecimal(text, p, s);
          if (!v.ok()) {
            // Distinguish "not a number" from "too many digits".
            double d;
            *kind = ParseDoubleText(text, &d) && std::isfinite(d) ? "CAST_OVERFLOW" : "CAST_INVALID_INPUT";
            return false;
          }
          *r = *v;
          return true;
        });
      }
      case TypeId::kDate:
        return Build<int32_t>([&](int64_t i, int32_t* r, const char** kind) {
          *kind = "CAST_INVALID_INPUT";
          auto d = CastStringToDate(c.GetString(i));
          if (!d) return false;
          *r = *d;
          return true;
        });
      case TypeId::kTimestamp:
      case TypeId::kTimestampNtz:
        return Build<int64_t>([&](int64_t i, int64_t* r, const char** kind) {
          *kind = "CAST_INVALID_INPUT";
          auto t = CastStringToTimestamp(c.GetString(i));
          if (!t) return false;
          *r = *t;
          return true;
        });
      case TypeId::kBinary: {
        Column out(DataType::Binary());
        out.Reserve(n_);
        for (int64_t i = 0; i < n_; ++i) {
          if (c.IsNull(i)) out.AppendNull(); else out.AppendString(c.GetString(i));
        }
        return MakeColumn(std::move(out));
      }
      case TypeId::kDayTimeInterval:
        return Build<int64_t>([&](int64_t i, int64_t* r, const char** kind) {
          *kind = "CAST_INVALID_INPUT";
          auto v = ParseIntervalText(c.GetString(i));
          if (!v.ok() || v->year_month) return false;
          *r = v->micros;
          return true;
        });
      case TypeId::kYearMonthInterval:
        return Build<int32_t>([&](int64_t i, int32_t* r, const char** kind) {
          *kind = "CAST_INVALID_INPUT";
          auto v = ParseIntervalText(c.GetString(i));
          if (!v.ok() || (!v->year_month && v->micros != 0)) return false;
          *r = static_cast<int32_t>(v->months);
          return true;
        });
      default: break;
    }
    return Status::NotSupported(PositionPrefix(e_.pos) + "cast from string to " + to_.ToString());
  }

  template <typename T>
  Result<ColumnPtr> StringToInt() {
    return Build<T>([&](int64_t i, T* r, const char** kind) {
      int64_t v;
      *kind = "CAST_INVALID_INPUT";
      if (!ParseIntegerText(in_.GetString(i), &v)) return false;
      if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
        *kind = "CAST_OVERFLOW";
        return false;
      }
      *r = static_cast<T>(v);
      return true;
    });
  }

  template <typename T>
  Result<ColumnPtr> NumberToInt(const NumberReader& num) {
    TypeId from = in_.type().id();
    return Build<T>([&](int64_t i, T* r, const char** kind) {
      *kind = "CAST_OVERFLOW";
      int64_t v;
      if (num.is_integer()) {
        v = num.Int(i);
      } else if (from == TypeId::kDecimal) {
        int128_t d = in_.data<int128_t>()[i] / Pow10(num.scale);
        if (d > INT64_MAX || d < INT64_MIN) return false;
        v = static_cast<int64_t>(d);
      } else if (from == TypeId::kTimestamp || from == TypeId::kTimestampNtz) {
        v = FloorDiv(in_.data<int64_t>()[i], kMicrosPerSecond);
      } else if (from == TypeId::kDate) {
        return false;
      } else {
        double d = num.Double(i);
        if (std::isnan(d) || d >= 9.2233720368547758e18 || d < -9.2233720368547758e18) return false;
        v = static_cast<int64_t>(std::trunc(d));
      }
      if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) return false;
      *r = static_cast<T>(v);
      return true;
    });
  }

  Result<ColumnPtr> Fixed() {
    TypeId from = in_.type().id();
    NumberReader num{in_, from, in_.type().scale()};
    switch (to_.id()) {
      case TypeId::kBoolean:
        return Build<uint8_t>([&](int64_t i, uint8_t* r, const char**) {
          if (num.is_integer()) *r = num.Int(i) != 0;
          else if (from == TypeId::kDecimal) *r = in_.data<int128_t>()[i] != 0;
          else *r = num.Double(i) != 0;
          return true;
        });
      case TypeId::kByte: return NumberToInt<int8_t>(num);
      case TypeId::kShort: return NumberToInt<int16_t>(num);
      case TypeId::kInt: return NumberToInt<int32_t>(num);
      case TypeId::kLong: return NumberToInt<int64_t>(num);
      case TypeId::kFloat:
        return Build<float>([&](int64_t i, float* r, const char**) {
          *r = static_cast<float>(num.is_integer() ? static_cast<double>(num.Int(i)) : num.Double(i));
          return true;
        });
      case TypeId::kDouble:
        if (num.is_integer()) {
          return Build<double>([&](int64_t i, double* r, const char**) { *r = static_cast<double>(num.Int(i)); return true; });
        }
        return Build<double>([&](int64_t i, double* r, const char**) { *r = num.Double(i); return true; });
      case TypeId::kDecimal: {
        int p = to_.precision(), s = to_.scale();
        return Build<int128_t>([&](int64_t i, int128_t* r, const char** kind) {
          *kind = "CAST_OVERFLOW";
          int128_t v;
          if (num.is_integer()) {
            if (__builtin_mul_overflow(static_cast<int128_t>(num.Int(i)), Pow10(s), &v)) return false;
          } else if (from == TypeId::kDecimal) {
            int fs = in_.type().scale();
            int128_t x = in_.data<int128_t>()[i];
            if (s >= fs) {
              if (__builtin_mul_overflow(x, Pow10(s - fs), &v)) return false;
            } else {
              v = RescaleDecimal(x, fs, s);
            }
          } else {
            double d = num.Double(i);
            if (!std::isfinite(d)) return false;
            std::string text;
            char buf[64];
            auto res = std::to_chars(buf, buf + sizeof(buf), d);
            text.assign(buf, res.ptr);
            auto parsed = ParseDecimal(text, p, s);
            if (!parsed.ok()) return false;
            v = *parsed;
          }
          if (!FitsPrecision(v, p)) return false;
          *r = v;
          return true;
        });
      }
      case TypeId::kDate:
        if (from == TypeId::kTimestamp || from == TypeId::kTimestampNtz) {
          return Build<int32_t>([&](int64_t i, int32_t* r, const char**) {
            *r = static_cast<int32_t>(FloorDiv(in_.data<int64_t>()[i], kMicrosPerDay));
            return true;
          });
        }
        break;
      case TypeId::kTimestamp:
      case TypeId::kTimestampNtz:
        if (from == TypeId::kDate) {
          return Build<int64_t>([&](int64_t i, int64_t* r, const char**) {
            *r = static_cast<int64_t>(in_.data<int32_t>()[i]) * kMicrosPerDay;
            return true;
          });
        }
        if (from == TypeId::kTimestamp || from == TypeId::kTimestampNtz) {
          return Build<int64_t>([&](int64_t i, int64_t* r, const char**) { *r = in_.data<int64_t>()[i]; return true; });
        }
        if (in_.type().is_numeric()) {
          return Build<int64_t>([&](int64_t i, int64_t* r, const char** kind) {
            *kind = "CAST_OVERFLOW";
            if (num.is_integer()) {
              return !__builtin_mul_overflow(num.Int(i), kMicrosPerSecond, r);
            }
            double d = num.Double(i) * 1e6;
            if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return false;
            *r = static_cast<int64_t>(d);
            return true;
          });
        }
        break;
      default: break;
    }
    return Status::NotSupported(PositionPrefix(e_.pos) + "cast from " + in_.type().ToString() + " to " + to_.ToString() +
                                " in `" + e_.text + "`");
  }

  const BoundExpr& e_;
  const Column& in_;
  const DataType& to_;
  bool try_;
  int64_t n_;
  ValidityBuilder validity_;
};

}  // namespace

Result<ColumnPtr> CastColumn(const BoundExpr& e, const Column& in, const DataType& to, bool try_cast) {
  Caster caster(e, in, to, try_cast);
  return caster.Run();
}

}  // namespace lakepipe::expr
