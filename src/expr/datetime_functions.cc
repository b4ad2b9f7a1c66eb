// Date and time kernels (UTC; dates are days, timestamps microseconds since the epoch).
#include <cctype>
#include <chrono>
#include <cmath>
#include <optional>

#include "expr/eval_internal.h"
#include "expr/function.h"
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

inline int64_t DaysOf(const std::vector<ColumnPtr>& args, size_t a, int64_t i) { return args[a]->data<int32_t>()[i]; }
inline int64_t MicrosOf(const std::vector<ColumnPtr>& args, size_t a, int64_t i) { return args[a]->data<int64_t>()[i]; }

enum class DatePart { kYear, kMonth, kDay, kQuarter, kDayOfWeek, kDayOfYear, kWeekOfYear };

template <DatePart part>
Result<ColumnPtr> DatePartKernel(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  return FixedResult<int32_t>(DataType::Int(), args, n, [&](int64_t i, int32_t* r) {
    int64_t d = DaysOf(args, 0, i);
    if constexpr (part == DatePart::kDayOfWeek) {
      *r = (Weekday(d) + 1) % 7 + 1;  // 1 = Sunday
    } else if constexpr (part == DatePart::kWeekOfYear) {
      *r = IsoWeek(d);
    } else {
      Civil c = ToCivil(d);
      if constexpr (part == DatePart::kYear) *r = static_cast<int32_t>(c.year);
      if constexpr (part == DatePart::kMonth) *r = static_cast<int32_t>(c.month);
      if constexpr (part == DatePart::kDay) *r = static_cast<int32_t>(c.day);
      if constexpr (part == DatePart::kQuarter) *r = static_cast<int32_t>((c.month - 1) / 3 + 1);
      if constexpr (part == DatePart::kDayOfYear) *r = static_cast<int32_t>(d - DaysFromCivil(c.year, 1, 1) + 1);
    }
    return true;
  });
}

// hour / minute / second of a timestamp: (micros / unit) mod modulo.
template <int64_t unit, int64_t modulo>
Result<ColumnPtr> TimePartKernel(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  return FixedResult<int32_t>(DataType::Int(), args, n, [&](int64_t i, int32_t* r) {
    *r = static_cast<int32_t>(FloorDiv(MicrosOf(args, 0, i), unit) % modulo);
    if (*r < 0) *r += static_cast<int32_t>(modulo);
    return true;
  });
}

Result<ColumnPtr> DateDiff(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  return FixedResult<int32_t>(DataType::Int(), args, n, [&](int64_t i, int32_t* r) {
    *r = static_cast<int32_t>(DaysOf(args, 0, i) - DaysOf(args, 1, i));
    return true;
  });
}

template <int sign>
Result<ColumnPtr> DateAdd(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  return FixedResult<int32_t>(DataType::Date(), args, n, [&](int64_t i, int32_t* r) {
    *r = static_cast<int32_t>(DaysOf(args, 0, i) + sign * static_cast<int64_t>(args[1]->data<int32_t>()[i]));
    return true;
  });
}

Result<ColumnPtr> DateTrunc(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  Unit unit = args[0]->size() > 0 && args[0]->IsValid(0) ? ParseUnit(args[0]->GetString(0)) : kUnknown;
  return FixedResult<int64_t>(DataType::Timestamp(), {args[1]}, n, [&](int64_t i, int64_t* r) {
    int64_t t = MicrosOf(args, 1, i);
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

Result<ColumnPtr> Trunc(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  Unit unit = args[1]->size() > 0 && args[1]->IsValid(0) ? ParseUnit(args[1]->GetString(0)) : kUnknown;
  if (unit > kWeek) unit = kUnknown;  // trunc(date) only knows year/quarter/month/week
  return FixedResult<int32_t>(DataType::Date(), {args[0]}, n, [&](int64_t i, int32_t* r) {
    if (unit == kUnknown) return false;
    *r = static_cast<int32_t>(TruncDays(DaysOf(args, 0, i), unit));
    return true;
  });
}

Result<ColumnPtr> MonthsBetween(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  bool round_off = true;
  if (args.size() == 3 && args[2]->size() > 0 && args[2]->IsValid(0)) round_off = args[2]->data<uint8_t>()[0] != 0;
  return FixedResult<double>(DataType::Double(), {args[0], args[1]}, n, [&](int64_t i, double* r) {
    int64_t t1 = MicrosOf(args, 0, i), t2 = MicrosOf(args, 1, i);
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

// to_date / to_timestamp with a format (without one the binder makes them casts).
template <bool date, bool try_form>
Result<ColumnPtr> ParseDatetime(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
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
  // Neighbouring rows often carry the same text (the lines of one order, a day of
  // events): the previous row's parse is reused when the text is the same.
  bool have_previous = false;
  std::string_view previous_text;
  std::optional<int64_t> previous;
  auto parse = [&](std::string_view text) {
    if (!have_previous || text != previous_text) {
      previous = ParseWithFormat(*format, text);
      previous_text = text;
      have_previous = true;
    }
    return previous;
  };
  Result<ColumnPtr> r = Status::OK();
  if constexpr (date) {
    r = FixedResult<int32_t>(DataType::Date(), {args[0]}, n, [&](int64_t i, int32_t* out) {
      auto t = parse(args[0]->GetString(i));
      if (!t) return fail(i);
      *out = static_cast<int32_t>(FloorDiv(*t, kMicrosPerDay));
      return true;
    });
  } else {
    r = FixedResult<int64_t>(DataType::Timestamp(), {args[0]}, n, [&](int64_t i, int64_t* out) {
      auto t = parse(args[0]->GetString(i));
      if (!t) return fail(i);
      *out = *t;
      return true;
    });
  }
  if (!error.ok()) return error;
  return r;
}

Result<ColumnPtr> DateFormat(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  const auto* format = static_cast<const DatetimeFormat*>(e.state.get());
  if (!format) return MakeColumn(Column::Nulls(e.type, n));
  Column out(DataType::String());
  out.Reserve(n);
  std::string scratch;
  for (int64_t i = 0; i < n; ++i) {
    if (args[0]->type().id() == TypeId::kNull || args[0]->IsNull(i)) { out.AppendNull(); continue; }
    scratch.clear();
    FormatWithFormat(*format, MicrosOf(args, 0, i), &scratch);
    out.AppendString(scratch);
  }
  return MakeColumn(std::move(out));
}

// current_timestamp()/current_date() bind to literals; this kernel is never reached.
Result<ColumnPtr> NoKernel(const BoundExpr& e, const std::vector<ColumnPtr>&, int64_t) {
  return Status::Internal("`" + e.text + "` should have been bound to a constant");
}

// ---- binding -----------------------------------------------------------------------------

Status PrepareDatetimeFormat(CallBinder& c, size_t arg, bool parsing) {
  if (c.arg(arg).literal.is_null()) return Status::OK();
  auto state = CompileDatetimeFormat(c.arg(arg).literal.string_value(), parsing);
  if (!state.ok()) {
    std::string msg = state.status().message() + " in `" + c.expr().ToString() + "`";
    return state.status().code() == StatusCode::kNotSupported ? c.Unsupported(msg) : c.Error(msg);
  }
  c.bound().state = *state;
  return Status::OK();
}

Status BindDatePart(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::Date()));
  c.SetResult(DataType::Int());
  return Status::OK();
}

Status BindTimePart(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::Timestamp()));
  c.SetResult(DataType::Int());
  return Status::OK();
}

template <bool date, bool try_form>
Status BindParse(CallBinder& c) {
  DataType target = date ? DataType::Date() : DataType::Timestamp();
  if (c.num_args() == 1 || c.arg_type(0).id() != TypeId::kString) {
    // Without a format (or for a date/timestamp input) this is CAST(x AS DATE|TIMESTAMP).
    const DataType& from = c.arg_type(0);
    if (!(from.id() == TypeId::kString || from.id() == TypeId::kDate || from.is_timestamp() || from.id() == TypeId::kNull)) {
      return c.Error("`" + c.written_name() + "` needs a string, date or timestamp, got " + from.ToString() + " in `" +
                     c.expr().ToString() + "`");
    }
    c.BecomeCast(0, target, try_form);
    return Status::OK();
  }
  LP_RETURN_IF_ERROR(c.ExpectType(1, DataType::String()));
  LP_RETURN_IF_ERROR(c.ExpectLiteral(1));
  c.SetResult(target);
  c.bound().nullable = true;
  return PrepareDatetimeFormat(c, 1, /*parsing=*/true);
}

Status BindDateFormat(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::Timestamp()));
  LP_RETURN_IF_ERROR(c.ExpectType(1, DataType::String()));
  LP_RETURN_IF_ERROR(c.ExpectLiteral(1));
  c.SetResult(DataType::String());
  return PrepareDatetimeFormat(c, 1, /*parsing=*/false);
}

Status BindDateTrunc(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::String()));
  LP_RETURN_IF_ERROR(c.ExpectLiteral(0));
  LP_RETURN_IF_ERROR(c.ExpectType(1, DataType::Timestamp()));
  c.SetResult(DataType::Timestamp());
  return Status::OK();
}

Status BindTrunc(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::Date()));
  LP_RETURN_IF_ERROR(c.ExpectType(1, DataType::String()));
  LP_RETURN_IF_ERROR(c.ExpectLiteral(1));
  c.SetResult(DataType::Date());
  c.bound().nullable = true;
  return Status::OK();
}

int64_t Now(const CallBinder& c) {
  return c.context().current_timestamp_micros.value_or(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

Status BindCurrentTimestamp(CallBinder& c) {
  c.BecomeLiteral(Value::Timestamp(Now(c)), DataType::Timestamp());
  return Status::OK();
}

Status BindCurrentDate(CallBinder& c) {
  c.BecomeLiteral(Value::Date(static_cast<int32_t>(FloorDiv(Now(c), kMicrosPerDay))), DataType::Date());
  return Status::OK();
}

Status BindDateDiff(CallBinder& c) {
  if (c.num_args() == 3) return c.Rebind("timestampdiff");  // datediff(unit, start, end)
  LP_RETURN_IF_ERROR(c.ExpectAll(0, DataType::Date()));
  c.SetResult(DataType::Int());
  return Status::OK();
}

Status BindDateAdd(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::Date()));
  const DataType& t = c.arg_type(1);
  if (!(t.is_integer() || t.id() == TypeId::kNull || t.id() == TypeId::kString)) {
    return c.Error("argument 2 of `" + c.written_name() + "` must be an integer, got " + t.ToString() + " in `" +
                   c.expr().ToString() + "`");
  }
  c.arg(1) = CastTo(std::move(c.arg(1)), DataType::Int());
  c.SetResult(DataType::Date());
  return Status::OK();
}

// date_add(unit, n, ts) is timestampadd (Spark 3.3+).
Status BindDateAddOrTimestampAdd(CallBinder& c) {
  if (c.num_args() == 3) return c.Rebind("timestampadd");
  return BindDateAdd(c);
}

Status BindMonthsBetween(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::Timestamp()));
  LP_RETURN_IF_ERROR(c.ExpectType(1, DataType::Timestamp()));
  if (c.num_args() == 3) LP_RETURN_IF_ERROR(c.ExpectType(2, DataType::Boolean()));
  c.SetResult(DataType::Double());
  return Status::OK();
}

constexpr bool kSafe = false;  // may_error = false: the kernel never raises an ANSI error

}  // namespace

void RegisterDatetimeFunctions(FunctionRegistry* r) {
  r->Add({"year", 1, 1, BindDatePart, DatePartKernel<DatePart::kYear>, nullptr, kSafe});
  r->Add({"month", 1, 1, BindDatePart, DatePartKernel<DatePart::kMonth>, nullptr, kSafe});
  r->Add({"day", 1, 1, BindDatePart, DatePartKernel<DatePart::kDay>, nullptr, kSafe});
  r->AddAlias("dayofmonth", "day");
  r->Add({"quarter", 1, 1, BindDatePart, DatePartKernel<DatePart::kQuarter>, nullptr, kSafe});
  r->Add({"dayofweek", 1, 1, BindDatePart, DatePartKernel<DatePart::kDayOfWeek>, nullptr, kSafe});
  r->Add({"dayofyear", 1, 1, BindDatePart, DatePartKernel<DatePart::kDayOfYear>, nullptr, kSafe});
  r->Add({"weekofyear", 1, 1, BindDatePart, DatePartKernel<DatePart::kWeekOfYear>, nullptr, kSafe});
  r->AddAlias("week", "weekofyear");
  r->Add({"hour", 1, 1, BindTimePart, TimePartKernel<3600 * kMicrosPerSecond, 24>, nullptr, kSafe});
  r->Add({"minute", 1, 1, BindTimePart, TimePartKernel<60 * kMicrosPerSecond, 60>, nullptr, kSafe});
  r->Add({"second", 1, 1, BindTimePart, TimePartKernel<kMicrosPerSecond, 60>, nullptr, kSafe});
  r->Add({"datediff", 2, 3, BindDateDiff, DateDiff, nullptr, kSafe});
  r->AddAlias("date_diff", "datediff");
  r->Add({"date_add", 2, 3, BindDateAddOrTimestampAdd, DateAdd<1>});
  r->Add({"date_sub", 2, 2, BindDateAdd, DateAdd<-1>});
  r->Add({"date_trunc", 2, 2, BindDateTrunc, DateTrunc, nullptr, kSafe});
  r->Add({"trunc", 2, 2, BindTrunc, Trunc, nullptr, kSafe});
  r->Add({"months_between", 2, 3, BindMonthsBetween, MonthsBetween, nullptr, kSafe});
  r->Add({"to_date", 1, 2, BindParse<true, false>, ParseDatetime<true, false>});
  r->Add({"to_timestamp", 1, 2, BindParse<false, false>, ParseDatetime<false, false>});
  r->Add({"try_to_date", 1, 2, BindParse<true, true>, ParseDatetime<true, true>, nullptr, kSafe});
  r->Add({"try_to_timestamp", 1, 2, BindParse<false, true>, ParseDatetime<false, true>, nullptr, kSafe});
  r->Add({"date_format", 2, 2, BindDateFormat, DateFormat, nullptr, kSafe});
  r->Add({"current_timestamp", 0, 0, BindCurrentTimestamp, NoKernel});
  r->AddAlias("now", "current_timestamp");
  r->Add({"current_date", 0, 0, BindCurrentDate, NoKernel});
}

}  // namespace lakepipe::expr
