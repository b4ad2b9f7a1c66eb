// Date and time kernels (UTC; dates are days, timestamps microseconds since the epoch).
#include <cctype>
#include <cmath>

#include "expr/eval_internal.h"
#include "expr/kernel_state.h"
#include "types/datetime.h"

namespace lakepipe::expr {
namespace {

struct Civil {
  int64_t year;
  unsigned month, day;
};

inline Civil ToCivil(int64_t days) {
  Civil c;
  CivilFromDays(days, &c.year, &c.month, &c.day);
  return c;
}

// 0 = Monday ... 6 = Sunday.
inline int Weekday(int64_t days) { return static_cast<int>(((days % 7) + 7 + 3) % 7); }

int IsoWeek(int64_t days) {
  // The week containing the Thursday of this date's week decides the year.
  int64_t thursday = days - Weekday(days) + 3;
  Civil c = ToCivil(thursday);
  int64_t jan1 = DaysFromCivil(c.year, 1, 1);
  return static_cast<int>((thursday - jan1) / 7 + 1);
}

bool IsLastDayOfMonth(const Civil& c) {
  return !IsValidCivil(c.year, c.month, c.day + 1);
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Truncation units shared by date_trunc and trunc; -1 when unknown.
enum Unit { kYear, kQuarter, kMonth, kWeek, kDay, kHour, kMinute, kSecond, kMillisecond, kMicrosecond, kUnknown };

Unit ParseUnit(std::string_view text) {
  std::string u = Upper(text);
  if (u == "YEAR" || u == "YYYY" || u == "YY") return kYear;
  if (u == "QUARTER") return kQuarter;
  if (u == "MONTH" || u == "MM" || u == "MON") return kMonth;
  if (u == "WEEK") return kWeek;
  if (u == "DAY" || u == "DD") return kDay;
  if (u == "HOUR") return kHour;
  if (u == "MINUTE") return kMinute;
  if (u == "SECOND") return kSecond;
  if (u == "MILLISECOND") return kMillisecond;
  if (u == "MICROSECOND") return kMicrosecond;
  return kUnknown;
}

int64_t TruncDays(int64_t days, Unit unit) {
  Civil c = ToCivil(days);
  switch (unit) {
    case kYear: return DaysFromCivil(c.year, 1, 1);
    case kQuarter: return DaysFromCivil(c.year, (c.month - 1) / 3 * 3 + 1, 1);
    case kMonth: return DaysFromCivil(c.year, c.month, 1);
    case kWeek: return days - Weekday(days);
    default: return days;
  }
}

}  // namespace

Result<ColumnPtr> EvalDatetimeFunction(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  const std::string& fn = e.function;
  auto days_of = [&](size_t a, int64_t i) -> int64_t { return args[a]->data<int32_t>()[i]; };
  auto micros_of = [&](size_t a, int64_t i) -> int64_t { return args[a]->data<int64_t>()[i]; };
  if (fn == "year" || fn == "month" || fn == "day" || fn == "quarter" || fn == "dayofweek" || fn == "dayofyear" ||
      fn == "weekofyear") {
    return FixedResult<int32_t>(DataType::Int(), args, n, [&](int64_t i, int32_t* r) {
      int64_t d = days_of(0, i);
      if (fn == "dayofweek") { *r = (Weekday(d) + 1) % 7 + 1; return true; }  // 1 = Sunday
      if (fn == "weekofyear") { *r = IsoWeek(d); return true; }
      Civil c = ToCivil(d);
      if (fn == "year") *r = static_cast<int32_t>(c.year);
      else if (fn == "month") *r = static_cast<int32_t>(c.month);
      else if (fn == "day") *r = static_cast<int32_t>(c.day);
      else if (fn == "quarter") *r = static_cast<int32_t>((c.month - 1) / 3 + 1);
      else *r = static_cast<int32_t>(d - DaysFromCivil(c.year, 1, 1) + 1);
      return true;
    });
  }
  if (fn == "hour" || fn == "minute" || fn == "second") {
    int64_t unit = fn == "hour" ? 3600 * kMicrosPerSecond : (fn == "minute" ? 60 * kMicrosPerSecond : kMicrosPerSecond);
    int64_t modulo = fn == "hour" ? 24 : 60;
    return FixedResult<int32_t>(DataType::Int(), args, n, [&](int64_t i, int32_t* r) {
      *r = static_cast<int32_t>(FloorDiv(micros_of(0, i), unit) % modulo);
      if (*r < 0) *r += static_cast<int32_t>(modulo);
      return true;
    });
  }
  if (fn == "datediff") {
    return FixedResult<int32_t>(DataType::Int(), args, n, [&](int64_t i, int32_t* r) {
      *r = static_cast<int32_t>(days_of(0, i) - days_of(1, i));
      return true;
    });
  }
  if (fn == "date_add" || fn == "date_sub") {
    int sign = fn == "date_add" ? 1 : -1;
    return FixedResult<int32_t>(DataType::Date(), args, n, [&](int64_t i, int32_t* r) {
      *r = static_cast<int32_t>(days_of(0, i) + sign * static_cast<int64_t>(args[1]->data<int32_t>()[i]));
      return true;
    });
  }
  if (fn == "date_trunc") {
    Unit unit = args[0]->size() > 0 && args[0]->IsValid(0) ? ParseUnit(args[0]->GetString(0)) : kUnknown;
    return FixedResult<int64_t>(DataType::Timestamp(), {args[1]}, n, [&](int64_t i, int64_t* r) {
      int64_t t = micros_of(1, i);
      switch (unit) {
        case kYear: case kQuarter: case kMonth: case kWeek: case kDay:
          *r = TruncDays(FloorDiv(t, kMicrosPerDay), unit) * kMicrosPerDay;
          return true;
        case kHour: *r = FloorDiv(t, 3600 * kMicrosPerSecond) * 3600 * kMicrosPerSecond; return true;
        case kMinute: *r = FloorDiv(t, 60 * kMicrosPerSecond) * 60 * kMicrosPerSecond; return true;
        case kSecond: *r = FloorDiv(t, kMicrosPerSecond) * kMicrosPerSecond; return true;
        case kMillisecond: *r = FloorDiv(t, 1000) * 1000; return true;
        case kMicrosecond: *r = t; return true;
        default: return false;
      }
    });
  }
  if (fn == "trunc") {
    Unit unit = args[1]->size() > 0 && args[1]->IsValid(0) ? ParseUnit(args[1]->GetString(0)) : kUnknown;
    if (unit > kWeek) unit = kUnknown;  // trunc(date) only knows year/quarter/month/week
    return FixedResult<int32_t>(DataType::Date(), {args[0]}, n, [&](int64_t i, int32_t* r) {
      if (unit == kUnknown) return false;
      *r = static_cast<int32_t>(TruncDays(days_of(0, i), unit));
      return true;
    });
  }
  if (fn == "months_between") {
    bool round_off = true;
    if (args.size() == 3 && args[2]->size() > 0 && args[2]->IsValid(0)) round_off = args[2]->data<uint8_t>()[0] != 0;
    return FixedResult<double>(DataType::Double(), {args[0], args[1]}, n, [&](int64_t i, double* r) {
      int64_t t1 = micros_of(0, i), t2 = micros_of(1, i);
      int64_t d1 = FloorDiv(t1, kMicrosPerDay), d2 = FloorDiv(t2, kMicrosPerDay);
      Civil c1 = ToCivil(d1), c2 = ToCivil(d2);
      int64_t months = (c1.year * 12 + c1.month) - (c2.year * 12 + c2.month);
      if (c1.day == c2.day || (IsLastDayOfMonth(c1) && IsLastDayOfMonth(c2))) {
        *r = static_cast<double>(months);
        return true;
      }
      double seconds1 = static_cast<double>(t1 - d1 * kMicrosPerDay) / 1e6;
      double seconds2 = static_cast<double>(t2 - d2 * kMicrosPerDay) / 1e6;
      double diff = (static_cast<double>(static_cast<int64_t>(c1.day) - static_cast<int64_t>(c2.day)) * 86400.0 + seconds1 - seconds2) /
                    (31.0 * 86400.0);
      double v = static_cast<double>(months) + diff;
      *r = round_off ? RoundDouble(v, 8, false) : v;
      return true;
    });
  }
  if (fn == "to_date" || fn == "to_timestamp" || fn == "try_to_timestamp" || fn == "try_to_date") {
    bool date = fn == "to_date" || fn == "try_to_date";
    bool try_form = fn.rfind("try_", 0) == 0;
    const auto* format = static_cast<const DatetimeFormat*>(e.state.get());
    if (!format) return MakeColumn(Column::Nulls(e.type, n));
    Status error;
    auto fail = [&](int64_t i) {
      if (!try_form && error.ok()) {
        error = EvalError(e, "[CANNOT_PARSE_TIMESTAMP] text '" + std::string(args[0]->GetString(i)) +
                                 "' does not match the datetime pattern '" + format->source +
                                 "'; use try_to_timestamp (or try_cast) to get NULL instead");
      }
      return false;
    };
    Result<ColumnPtr> r = date ? FixedResult<int32_t>(DataType::Date(), {args[0]}, n, [&](int64_t i, int32_t* out) {
      auto t = ParseWithFormat(*format, args[0]->GetString(i));
      if (!t) return fail(i);
      *out = static_cast<int32_t>(FloorDiv(*t, kMicrosPerDay));
      return true;
    })
                               : FixedResult<int64_t>(DataType::Timestamp(), {args[0]}, n, [&](int64_t i, int64_t* out) {
      auto t = ParseWithFormat(*format, args[0]->GetString(i));
      if (!t) return fail(i);
      *out = *t;
      return true;
    });
    if (!error.ok()) return error;
    return r;
  }
  if (fn == "date_format") {
    const auto* format = static_cast<const DatetimeFormat*>(e.state.get());
    if (!format) return MakeColumn(Column::Nulls(e.type, n));
    Column out(DataType::String());
    out.Reserve(n);
    std::string scratch;
    for (int64_t i = 0; i < n; ++i) {
      if (args[0]->type().id() == TypeId::kNull || args[0]->IsNull(i)) { out.AppendNull(); continue; }
      scratch.clear();
      FormatWithFormat(*format, micros_of(0, i), &scratch);
      out.AppendString(scratch);
    }
    return MakeColumn(std::move(out));
  }
  return Status::NotFound(fn);
}

}  // namespace lakepipe::expr
