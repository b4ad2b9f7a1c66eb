// Interval values and time arithmetic: timestamp/date +/- intervals, timestamp - timestamp,
// interval constructors (make_interval, make_dt_interval, make_ym_interval),
// timestampadd / timestampdiff / add_months, and sequence() (arrays of integers, dates or
// timestamps stepping from a start to a stop). Spark semantics in UTC: day-time intervals
// are exact microseconds (a day is 24 hours); year-month intervals add calendar months,
// keeping the day of month unless the target month is shorter (then its last day).
#include <limits>

#include "expr/eval_internal.h"
#include "expr/function.h"
#include "types/datetime.h"
#include "types/interval.h"

namespace lakepipe::expr {
namespace {

const char* kIntervalOverflow = "[DATETIME_OVERFLOW] datetime or interval arithmetic overflows";

// `days` moved by `months` calendar months, the day clamped to the target month's length.
bool AddMonthsToDays(int64_t days, int64_t months, int64_t* out) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  int64_t total;
  if (__builtin_add_overflow(y * 12 + (m - 1), months, &total)) return false;
  int64_t ny = FloorDiv(total, 12);
  unsigned nm = static_cast<unsigned>(total - ny * 12) + 1;
  if (ny < -290000 || ny > 290000) return false;
  unsigned nd = d;
  while (nd > 28 && !IsValidCivil(ny, nm, nd)) --nd;
  *out = DaysFromCivil(ny, nm, nd);
  return true;
}

bool AddMonthsToMicros(int64_t micros, int64_t months, int64_t* out) {
  int64_t days = FloorDiv(micros, kMicrosPerDay);
  int64_t time = micros - days * kMicrosPerDay;
  int64_t moved;
  if (!AddMonthsToDays(days, months, &moved)) return false;
  return !__builtin_mul_overflow(moved, kMicrosPerDay, out) && !__builtin_add_overflow(*out, time, out);
}

// Runs f(i, &out) over rows where every argument is valid; an f returning false is an
// overflow error naming the row's values.
template <typename T, typename F>
Result<ColumnPtr> Checked(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n, F f) {
  Status error;
  auto r = FixedResult<T>(e.type, args, n, [&](int64_t i, T* out) {
    if (f(i, out)) return true;
    if (error.ok()) {
      std::string values;
      for (const auto& a : args) values += (values.empty() ? "" : ", ") + ValueText(*a, i);
      error = EvalError(e, std::string(kIntervalOverflow) + " (" + values + ")");
    }
    return false;
  });
  if (!error.ok()) return error;
  return r;
}

template <typename T>
inline int64_t At(const std::vector<ColumnPtr>& args, size_t a, int64_t i) {
  return args[a]->data<T>()[i];
}

// ---- kernels -------------------------------------------------------------------------------

// timestamp +/- day-time interval, interval +/- interval, all int64 microseconds.
template <int sign>
Result<ColumnPtr> AddMicros(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  return Checked<int64_t>(e, args, n, [&](int64_t i, int64_t* r) {
    int64_t a = At<int64_t>(args, 0, i), b = At<int64_t>(args, 1, i);
    return sign > 0 ? !__builtin_add_overflow(a, b, r) : !__builtin_sub_overflow(a, b, r);
  });
}

// year-month interval +/- year-month interval (int32 months).
template <int sign>
Result<ColumnPtr> AddMonthIntervals(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  return Checked<int32_t>(e, args, n, [&](int64_t i, int32_t* r) {
    int32_t a = args[0]->data<int32_t>()[i], b = args[1]->data<int32_t>()[i];
    return sign > 0 ? !__builtin_add_overflow(a, b, r) : !__builtin_sub_overflow(a, b, r);
  });
}

// timestamp +/- year-month interval.
template <int sign>
Result<ColumnPtr> TimestampAddMonths(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  return Checked<int64_t>(e, args, n, [&](int64_t i, int64_t* r) {
    return AddMonthsToMicros(At<int64_t>(args, 0, i), sign * At<int32_t>(args, 1, i), r);
  });
}

// date +/- year-month interval, or add_months(date, n).
template <int sign>
Result<ColumnPtr> DateAddMonths(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  return Checked<int32_t>(e, args, n, [&](int64_t i, int32_t* r) {
    int64_t out;
    if (!AddMonthsToDays(At<int32_t>(args, 0, i), sign * At<int32_t>(args, 1, i), &out)) return false;
    *r = static_cast<int32_t>(out);
    return out >= std::numeric_limits<int32_t>::min() && out <= std::numeric_limits<int32_t>::max();
  });
}

// date +/- a whole-day interval: a date.
template <int sign>
Result<ColumnPtr> DateAddDays(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  return Checked<int32_t>(e, args, n, [&](int64_t i, int32_t* r) {
    int64_t out = At<int32_t>(args, 0, i) + sign * FloorDiv(At<int64_t>(args, 1, i), kMicrosPerDay);
    *r = static_cast<int32_t>(out);
    return out >= std::numeric_limits<int32_t>::min() && out <= std::numeric_limits<int32_t>::max();
  });
}

// date - date: a whole-day interval.
Result<ColumnPtr> DateMinusDate(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  return Checked<int64_t>(e, args, n, [&](int64_t i, int64_t* r) {
    *r = (At<int32_t>(args, 0, i) - At<int32_t>(args, 1, i)) * kMicrosPerDay;
    return true;
  });
}

Result<ColumnPtr> NegateInterval(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  if (e.type.id() == TypeId::kYearMonthInterval) {
    return Checked<int32_t>(e, args, n, [&](int64_t i, int32_t* r) {
      return !__builtin_sub_overflow(int32_t{0}, args[0]->data<int32_t>()[i], r);
    });
  }
  return Checked<int64_t>(e, args, n, [&](int64_t i, int64_t* r) {
    return !__builtin_sub_overflow(int64_t{0}, At<int64_t>(args, 0, i), r);
  });
}

// make_dt_interval(days, hours, mins, secs): secs is decimal(18,6), so exact microseconds.
Result<ColumnPtr> MakeDtInterval(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  return Checked<int64_t>(e, args, n, [&](int64_t i, int64_t* r) {
    int64_t total = 0, part;
    const int64_t per[] = {kMicrosPerDay, 3600 * kMicrosPerSecond, 60 * kMicrosPerSecond};
    for (size_t a = 0; a < args.size() && a < 3; ++a) {
      if (__builtin_mul_overflow(At<int32_t>(args, a, i), per[a], &part) || __builtin_add_overflow(total, part, &total)) return false;
    }
    if (args.size() == 4) {
      int128_t secs = args[3]->data<int128_t>()[i];  // scale 6: microseconds
      if (secs > std::numeric_limits<int64_t>::max() || secs < std::numeric_limits<int64_t>::min()) return false;
      if (__builtin_add_overflow(total, static_cast<int64_t>(secs), &total)) return false;
    }
    *r = total;
    return true;
  });
}

// make_ym_interval(years, months).
Result<ColumnPtr> MakeYmInterval(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  return Checked<int32_t>(e, args, n, [&](int64_t i, int32_t* r) {
    int32_t total = 0, part;
    if (!args.empty() && __builtin_mul_overflow(args[0]->data<int32_t>()[i], 12, &part)) return false;
    if (!args.empty()) total = part;
    if (args.size() > 1 && __builtin_add_overflow(total, args[1]->data<int32_t>()[i], &total)) return false;
    *r = total;
    return true;
  });
}

IntervalUnit UnitOf(const BoundExpr& e) {
  // The bind step checked that argument 1 is a constant naming a unit.
  return *ParseIntervalUnit(e.args[0].literal.string_value());
}

// timestampadd(unit, n, ts).
Result<ColumnPtr> TimestampAdd(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  IntervalUnit unit = UnitOf(e);
  std::vector<ColumnPtr> values = {args[1], args[2]};
  if (IsYearMonthUnit(unit)) {
    int64_t per = MonthsPerUnit(unit);
    return Checked<int64_t>(e, values, n, [&](int64_t i, int64_t* r) {
      int64_t months;
      if (__builtin_mul_overflow(At<int64_t>(values, 0, i), per, &months)) return false;
      return AddMonthsToMicros(At<int64_t>(values, 1, i), months, r);
    });
  }
  int64_t per = MicrosPerUnit(unit);
  return Checked<int64_t>(e, values, n, [&](int64_t i, int64_t* r) {
    int64_t delta;
    return !__builtin_mul_overflow(At<int64_t>(values, 0, i), per, &delta) &&
           !__builtin_add_overflow(At<int64_t>(values, 1, i), delta, r);
  });
}

// Whole months from a to b as java.time's LocalDateTime.until(b, MONTHS) counts them: the
// end's day is moved back one when its time of day is earlier, then whole months of
// (proleptic month * 32 + day), truncated toward zero.
int64_t WholeMonthsBetween(int64_t a, int64_t b) {
  int64_t da = FloorDiv(a, kMicrosPerDay), db = FloorDiv(b, kMicrosPerDay);
  int64_t ta = a - da * kMicrosPerDay, tb = b - db * kMicrosPerDay;
  if (db > da && tb < ta) --db;
  else if (db < da && tb > ta) ++db;
  auto packed = [](int64_t days) {
    int64_t y;
    unsigned m, d;
    CivilFromDays(days, &y, &m, &d);
    return (y * 12 + (m - 1)) * 32 + d;
  };
  return (packed(db) - packed(da)) / 32;
}

// timestampdiff(unit, start, end): whole units from start to end, truncated toward zero.
Result<ColumnPtr> TimestampDiff(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  IntervalUnit unit = UnitOf(e);
  std::vector<ColumnPtr> values = {args[1], args[2]};
  return Checked<int64_t>(e, values, n, [&](int64_t i, int64_t* r) {
    int64_t a = At<int64_t>(values, 0, i), b = At<int64_t>(values, 1, i);
    if (IsYearMonthUnit(unit)) {
      *r = WholeMonthsBetween(a, b) / MonthsPerUnit(unit);
      return true;
    }
    int64_t diff;
    if (__builtin_sub_overflow(b, a, &diff)) return false;
    *r = diff / MicrosPerUnit(unit);
    return true;
  });
}

// ---- binding -----------------------------------------------------------------------------

bool IsDayTime(const DataType& t) { return t.id() == TypeId::kDayTimeInterval; }
bool IsYearMonth(const DataType& t) { return t.id() == TypeId::kYearMonthInterval; }

// The result type was chosen by BindTemporalArithmetic before the rebind.
Status KeepType(CallBinder&) { return Status::OK(); }

Status BindNegateInterval(CallBinder& c) {
  c.SetResult(c.arg_type(0));
  return Status::OK();
}

// A constant unit name as argument 1 (timestampadd(MINUTE, ...): the front end passes the
// bare unit word as a string).
Status ExpectUnit(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::String()));
  LP_RETURN_IF_ERROR(c.ExpectLiteral(0));
  if (c.arg(0).literal.is_null()) return c.Error("the unit of `" + c.written_name() + "` must not be NULL");
  auto unit = ParseIntervalUnit(c.arg(0).literal.string_value());
  if (!unit.ok()) return c.Error(unit.status().message() + " in `" + c.expr().ToString() + "`");
  return Status::OK();
}

Status BindTimestampAdd(CallBinder& c) {
  LP_RETURN_IF_ERROR(ExpectUnit(c));
  if (!(c.arg_type(1).is_integer() || c.arg_type(1).id() == TypeId::kNull || c.arg_type(1).id() == TypeId::kString)) {
    return c.Error("argument 2 of `" + c.written_name() + "` must be an integer, got " + c.arg_type(1).ToString() +
                   " in `" + c.expr().ToString() + "`");
  }
  c.arg(1) = CastTo(std::move(c.arg(1)), DataType::Long());
  LP_RETURN_IF_ERROR(c.ExpectType(2, DataType::Timestamp()));
  c.SetResult(DataType::Timestamp());
  return Status::OK();
}

Status BindTimestampDiff(CallBinder& c) {
  LP_RETURN_IF_ERROR(ExpectUnit(c));
  LP_RETURN_IF_ERROR(c.ExpectType(1, DataType::Timestamp()));
  LP_RETURN_IF_ERROR(c.ExpectType(2, DataType::Timestamp()));
  c.SetResult(DataType::Long());
  return Status::OK();
}

Status BindMakeDtInterval(CallBinder& c) {
  for (size_t i = 0; i < c.num_args() && i < 3; ++i) LP_RETURN_IF_ERROR(c.ExpectType(i, DataType::Int()));
  if (c.num_args() == 4) {
    if (c.arg_type(3).is_floating()) {
      return c.Error("the seconds of `" + c.written_name() + "` must be a decimal, got " + c.arg_type(3).ToString() +
                     " (write 1.5, not 1.5D)");
    }
    LP_RETURN_IF_ERROR(c.ExpectType(3, DataType::Decimal(18, 6)));
  }
  c.SetResult(DataType::DayTimeInterval());
  return Status::OK();
}

Status BindMakeYmInterval(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectAll(0, DataType::Int()));
  c.SetResult(DataType::YearMonthInterval());
  return Status::OK();
}

bool IsZeroLiteral(const BoundExpr& b) {
  return b.kind == BoundKind::kLiteral && !b.literal.is_null() &&
         (b.literal.id() == TypeId::kDecimal ? b.literal.decimal_value() == 0 : b.literal.AsDouble() == 0);
}

// make_interval(years, months, weeks, days, hours, mins, secs). Spark returns a calendar
// interval; lakepipe has none, so it is a year-month interval when only years/months are
// given, a day-time interval when years and months are absent or constant 0, and refused
// when both parts are present.
Status BindMakeInterval(CallBinder& c) {
  size_t n = c.num_args();
  bool has_months = (n > 0 && !IsZeroLiteral(c.arg(0))) || (n > 1 && !IsZeroLiteral(c.arg(1)));
  bool has_time = false;
  for (size_t i = 2; i < n; ++i) has_time |= !IsZeroLiteral(c.arg(i));
  if (has_months && has_time) {
    return c.Unsupported("`" + c.expr().ToString() + "` mixes years/months with weeks/days/time (Spark makes a calendar "
                         "interval, which is not built yet); add two intervals: make_ym_interval(y, m) and "
                         "make_dt_interval(d, h, m, s)");
  }
  BoundExpr& b = c.bound();
  if (has_months || n <= 2) {
    b.args.resize(std::min<size_t>(n, 2));
    return c.Rebind("make_ym_interval");
  }
  // weeks, days -> days = weeks * 7 + days; hours, mins, secs as they are.
  std::vector<BoundExpr> args(b.args.begin() + 2, b.args.end());
  if (n >= 4) {
    // days + 7 * weeks as an int expression bound through the registry.
    BoundExpr seven;
    seven.kind = BoundKind::kLiteral;
    seven.type = DataType::Int();
    seven.literal = Value::Int(7, TypeId::kInt);
    seven.nullable = false;
    seven.text = "7";
    BoundExpr weeks = std::move(args[0]);
    BoundExpr days = std::move(args[1]);
    BoundExpr product;
    product.kind = BoundKind::kCall;
    product.args = {std::move(weeks), std::move(seven)};
    product.text = b.text;
    product.pos = b.pos;
    CallBinder times(c.expr(), product, c.context());
    LP_RETURN_IF_ERROR(times.Rebind("*"));
    BoundExpr sum;
    sum.kind = BoundKind::kCall;
    sum.args = {std::move(product), std::move(days)};
    sum.text = b.text;
    sum.pos = b.pos;
    CallBinder plus(c.expr(), sum, c.context());
    LP_RETURN_IF_ERROR(plus.Rebind("+"));
    args.erase(args.begin());
    args[0] = std::move(sum);
  } else {
    // Only weeks: days = weeks * 7.
    BoundExpr seven;
    seven.kind = BoundKind::kLiteral;
    seven.type = DataType::Int();
    seven.literal = Value::Int(7, TypeId::kInt);
    seven.nullable = false;
    seven.text = "7";
    BoundExpr product;
    product.kind = BoundKind::kCall;
    product.args = {std::move(args[0]), std::move(seven)};
    product.text = b.text;
    product.pos = b.pos;
    CallBinder times(c.expr(), product, c.context());
    LP_RETURN_IF_ERROR(times.Rebind("*"));
    args[0] = std::move(product);
  }
  b.args = std::move(args);
  return c.Rebind("make_dt_interval");
}

Status BindAddMonths(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::Date()));
  LP_RETURN_IF_ERROR(c.ExpectType(1, DataType::Int()));
  c.SetResult(DataType::Date());
  return Status::OK();
}

ScalarFunction Internal(const char* name, ScalarKernel kernel) {
  ScalarFunction f{name, 1, 2, KeepType, kernel};
  f.internal = true;
  return f;
}

}  // namespace

Result<bool> BindTemporalArithmetic(CallBinder& c, bool subtract, bool) {
  DataType a = c.arg_type(0);
  DataType b = c.arg_type(1);
  // date +/- integer days (Spark's DateAdd/DateSub).
  if (a.id() == TypeId::kDate && (b.is_integer() || b.id() == TypeId::kNull)) {
    LP_RETURN_IF_ERROR(c.Rebind(subtract ? "date_sub" : "date_add"));
    return true;
  }
  if (!subtract && b.id() == TypeId::kDate && a.is_integer()) {
    std::swap(c.arg(0), c.arg(1));
    LP_RETURN_IF_ERROR(c.Rebind("date_add"));
    return true;
  }
  if (!a.is_interval() && !b.is_interval() && !(subtract && (a.is_timestamp() || a.id() == TypeId::kDate) &&
                                                (b.is_timestamp() || b.id() == TypeId::kDate))) {
    return false;
  }
  // interval + datetime: the datetime goes first.
  if (!subtract && a.is_interval() &&
      (b.is_timestamp() || b.id() == TypeId::kDate || b.id() == TypeId::kString || b.id() == TypeId::kNull)) {
    std::swap(c.arg(0), c.arg(1));
    std::swap(a, b);
  }
  if ((a.id() == TypeId::kString || a.id() == TypeId::kNull) && b.is_interval()) {
    // A string (or an untyped NULL) meeting an interval is a timestamp (Spark's implicit cast).
    c.arg(0) = CastTo(std::move(c.arg(0)), DataType::Timestamp());
    a = DataType::Timestamp();
  }
  auto rebind = [&](const char* name, const DataType& result) -> Result<bool> {
    LP_RETURN_IF_ERROR(c.Rebind(name));
    c.SetResult(result);
    return true;
  };
  if (a.is_interval() && b.is_interval()) {
    if (IsDayTime(a) && IsDayTime(b)) {
      LP_ASSIGN_OR_RETURN(DataType t, CommonType(a, b));
      return rebind(subtract ? "day-time interval - day-time interval" : "day-time interval + day-time interval", t);
    }
    if (IsYearMonth(a) && IsYearMonth(b)) {
      return rebind(subtract ? "year-month interval - year-month interval" : "year-month interval + year-month interval",
                    DataType::YearMonthInterval());
    }
    return Status(c.Error("`" + c.expr().ToString() + "` combines a year-month and a day-time interval (" + a.ToString() +
                          ", " + b.ToString() + "); Spark refuses that too"));
  }
  if (a.id() == TypeId::kDate && IsYearMonth(b)) {
    return rebind(subtract ? "date - year-month interval" : "date + year-month interval", DataType::Date());
  }
  if (a.id() == TypeId::kDate && IsDayTime(b) && b.interval_days_only()) {
    return rebind(subtract ? "date - day interval" : "date + day interval", DataType::Date());
  }
  if (a.id() == TypeId::kDate && IsDayTime(b)) {
    // A date meeting an interval with a time part becomes a timestamp (midnight UTC).
    c.arg(0) = CastTo(std::move(c.arg(0)), DataType::Timestamp());
    a = DataType::Timestamp();
  }
  if (a.is_timestamp() && IsDayTime(b)) {
    return rebind(subtract ? "timestamp - day-time interval" : "timestamp + day-time interval", a);
  }
  if (a.is_timestamp() && IsYearMonth(b)) {
    return rebind(subtract ? "timestamp - year-month interval" : "timestamp + year-month interval", a);
  }
  if (subtract && a.id() == TypeId::kDate && b.id() == TypeId::kDate) {
    return rebind("date - date", DataType::DayTimeInterval(/*days_only=*/true));
  }
  if (subtract && (a.is_timestamp() || a.id() == TypeId::kDate) && (b.is_timestamp() || b.id() == TypeId::kDate)) {
    c.arg(0) = CastTo(std::move(c.arg(0)), DataType::Timestamp());
    c.arg(1) = CastTo(std::move(c.arg(1)), DataType::Timestamp());
    return rebind("timestamp - timestamp", DataType::DayTimeInterval());
  }
  return Status(c.Error("`" + c.written_name() + "` cannot combine " + a.ToString() + " and " + b.ToString() + " in `" +
                        c.expr().ToString() + "`"));
}

// sequence(start, stop[, step]): Spark's semantics. Integers step by an integer (default 1,
// or -1 when stop < start); dates and timestamps by an interval (default 1 day or -1 day),
// a date's day-time step in whole days. Both ends are included when the steps land on
// stop. Steps that never reach stop — a step against the direction, or 0 with start !=
// stop — are Spark's "Illegal sequence boundaries" error. Month steps are calendar months
// from start (start + i months, the day clamped to the month's length, as add_months), not
// accumulated. NULL in any argument gives NULL.
// **Deviation**: at most kMaxSequenceLength elements per row (Spark allows 2147483632):
// past it an error, not an out-of-memory process.
constexpr int64_t kMaxSequenceLength = 10'000'000;

int64_t IntegerAt(const Column& c, int64_t i) {
  switch (c.type().id()) {
    case TypeId::kByte: return c.data<int8_t>()[i];
    case TypeId::kShort: return c.data<int16_t>()[i];
    case TypeId::kInt:
    case TypeId::kDate: return c.data<int32_t>()[i];
    default: return c.data<int64_t>()[i];
  }
}

void AppendInteger(Column& to, TypeId id, int64_t v) {
  switch (id) {
    case TypeId::kByte: to.Append<int8_t>(static_cast<int8_t>(v)); break;
    case TypeId::kShort: to.Append<int16_t>(static_cast<int16_t>(v)); break;
    case TypeId::kInt:
    case TypeId::kDate: to.Append<int32_t>(static_cast<int32_t>(v)); break;
    default: to.Append<int64_t>(v); break;
  }
}

Result<ColumnPtr> Sequence(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  const TypeId id = e.type.element().id();
  const bool is_date = id == TypeId::kDate;
  const bool temporal = is_date || id == TypeId::kTimestamp || id == TypeId::kTimestampNtz;
  const bool month_step = args.size() == 3 && args[2]->type().id() == TypeId::kYearMonthInterval;
  Column out(e.type);
  Column& el = out.child(0);
  for (int64_t i = 0; i < n; ++i) {
    bool null = false;
    for (const auto& a : args) null |= a->type().id() == TypeId::kNull || a->IsNull(i);
    if (null) {
      out.AppendNull();
      continue;
    }
    const int64_t start = IntegerAt(*args[0], i), stop = IntegerAt(*args[1], i);
    auto boundaries = [&]() {
      std::string step = args.size() == 3 ? ValueText(*args[2], i) : (stop >= start ? "1" : "-1");
      return EvalError(e, "Illegal sequence boundaries: " + ValueText(*args[0], i) + " to " + ValueText(*args[1], i) +
                              " by " + step);
    };
    auto too_long = [&](__int128 count) {
      return EvalError(e, "[COLLECTION_SIZE_LIMIT_EXCEEDED] sequence(" + ValueText(*args[0], i) + ", " +
                              ValueText(*args[1], i) + ") would have " + std::to_string(static_cast<long long>(count)) +
                              " elements; lakepipe builds at most " + std::to_string(kMaxSequenceLength) +
                              " per row (Spark's limit is 2147483632)");
    };
    if (month_step) {
      const int64_t months = args[2]->data<int32_t>()[i];
      if (!((months > 0 && start <= stop) || (months < 0 && start >= stop) || (months == 0 && start == stop))) {
        return boundaries();
      }
      for (int64_t k = 0;; ++k) {
        int64_t v;
        bool ok = is_date ? AddMonthsToDays(start, k * months, &v) : AddMonthsToMicros(start, k * months, &v);
        if (!ok) return EvalError(e, std::string(kIntervalOverflow) + " in sequence");
        if (k > 0 && (months == 0 || (months > 0 ? v > stop : v < stop))) break;
        if (k >= kMaxSequenceLength) return too_long(k + 1);
        AppendInteger(el, id, v);
        if (months == 0) break;
      }
      out.CloseListRow();
      continue;
    }
    int64_t step;
    if (args.size() == 3) {
      step = IntegerAt(*args[2], i);
      if (is_date) {
        if (step % kMicrosPerDay != 0) {
          return EvalError(e, "sequence step must be an interval of day granularity if start and end values are dates, "
                              "got " + ValueText(*args[2], i));
        }
        step /= kMicrosPerDay;
      }
    } else {
      step = (stop >= start ? 1 : -1) * (temporal && !is_date ? kMicrosPerDay : 1);
    }
    if (!((step > 0 && start <= stop) || (step < 0 && start >= stop) || (step == 0 && start == stop))) {
      return boundaries();
    }
    const __int128 count = step == 0 ? 1 : (static_cast<__int128>(stop) - start) / step + 1;
    if (count > kMaxSequenceLength) return too_long(count);
    for (int64_t k = 0; k < static_cast<int64_t>(count); ++k) AppendInteger(el, id, start + k * step);
    out.CloseListRow();
  }
  return MakeColumn(std::move(out));
}

Status BindSequence(CallBinder& c) {
  auto rank = [](TypeId id) {
    switch (id) {
      case TypeId::kByte: return 1;
      case TypeId::kShort: return 2;
      case TypeId::kInt: return 3;
      case TypeId::kLong: return 4;
      default: return 0;
    }
  };
  auto usage = [&] {
    std::string types = c.arg_type(0).ToString() + ", " + c.arg_type(1).ToString();
    if (c.num_args() == 3) types += ", " + c.arg_type(2).ToString();
    return c.Error("`sequence` takes (integer, integer[, integer]), (date, date[, interval]) or (timestamp, "
                   "timestamp[, interval]); got (" + types + ") in `" + c.expr().ToString() + "`");
  };
  TypeId a = c.arg_type(0).id(), b = c.arg_type(1).id();
  if (a == TypeId::kNull) a = b;
  if (b == TypeId::kNull) b = a;
  DataType common;
  if (rank(a) > 0 && rank(b) > 0) {
    common = rank(a) >= rank(b) ? DataType(a) : DataType(b);
  } else if (a == TypeId::kDate && b == TypeId::kDate) {
    common = DataType::Date();
  } else if ((a == TypeId::kDate || a == TypeId::kTimestamp) && (b == TypeId::kDate || b == TypeId::kTimestamp)) {
    common = DataType::Timestamp();
  } else if (a == TypeId::kTimestampNtz && b == TypeId::kTimestampNtz) {
    common = DataType(TypeId::kTimestampNtz);
  } else if (a == TypeId::kNull) {
    common = DataType::Long();  // sequence(NULL, NULL): NULL of some array type
  } else {
    return usage();
  }
  LP_RETURN_IF_ERROR(c.ExpectType(0, common));
  LP_RETURN_IF_ERROR(c.ExpectType(1, common));
  if (c.num_args() == 3) {
    TypeId s = c.arg_type(2).id();
    if (rank(common.id()) > 0) {
      if (rank(s) == 0 && s != TypeId::kNull) return usage();
      LP_RETURN_IF_ERROR(c.ExpectType(2, common));
    } else if (s != TypeId::kDayTimeInterval && s != TypeId::kYearMonthInterval && s != TypeId::kNull) {
      return usage();
    }
  }
  c.SetResult(DataType::Array(common, /*contains_null=*/false));
  c.bound().nullable = true;
  return Status::OK();
}

void RegisterIntervalFunctions(FunctionRegistry* r) {
  r->Add(Internal("timestamp + day-time interval", AddMicros<1>));
  r->Add(Internal("timestamp - day-time interval", AddMicros<-1>));
  r->Add(Internal("day-time interval + day-time interval", AddMicros<1>));
  r->Add(Internal("day-time interval - day-time interval", AddMicros<-1>));
  r->Add(Internal("timestamp - timestamp", AddMicros<-1>));
  r->Add(Internal("year-month interval + year-month interval", AddMonthIntervals<1>));
  r->Add(Internal("year-month interval - year-month interval", AddMonthIntervals<-1>));
  r->Add(Internal("timestamp + year-month interval", TimestampAddMonths<1>));
  r->Add(Internal("timestamp - year-month interval", TimestampAddMonths<-1>));
  r->Add(Internal("date + year-month interval", DateAddMonths<1>));
  r->Add(Internal("date - year-month interval", DateAddMonths<-1>));
  r->Add(Internal("date + day interval", DateAddDays<1>));
  r->Add(Internal("date - day interval", DateAddDays<-1>));
  r->Add(Internal("date - date", DateMinusDate));
  ScalarFunction negate{"interval_negate", 1, 1, BindNegateInterval, NegateInterval};
  negate.internal = true;
  r->Add(negate);

  r->Add({"make_dt_interval", 0, 4, BindMakeDtInterval, MakeDtInterval});
  r->Add({"make_ym_interval", 0, 2, BindMakeYmInterval, MakeYmInterval});
  r->Add({"make_interval", 0, 7, BindMakeInterval, MakeDtInterval});
  r->Add({"timestampadd", 3, 3, BindTimestampAdd, TimestampAdd});
  r->AddAlias("dateadd", "timestampadd");
  r->Add({"timestampdiff", 3, 3, BindTimestampDiff, TimestampDiff});
  r->Add({"add_months", 2, 2, BindAddMonths, DateAddMonths<1>});
  r->Add({"sequence", 2, 3, BindSequence, Sequence});
}

}  // namespace lakepipe::expr
