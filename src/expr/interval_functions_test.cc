// Intervals and time arithmetic, with Spark's results (Spark 4, UTC session time zone).
#include <gtest/gtest.h>

#include "expr/eval.h"
#include "expr/test_util.h"
#include "types/interval.h"

namespace lakepipe::expr {
namespace {

using test::Call;
using test::CastAs;
using test::Col;
using test::Int;
using test::MakeBatch;
using test::Null;
using test::Str;

std::string EvalText(const ExprPtr& e) {
  auto v = test::Eval1(e);
  if (!v.ok()) return "ERROR: " + v.status().message();
  return v->ToString();
}

ExprPtr Ts(const std::string& text) { return CastAs(Str(text), "timestamp"); }
ExprPtr Date(const std::string& text) { return CastAs(Str(text), "date"); }
// What the front end makes of INTERVAL '<text>': a cast folded at bind time.
ExprPtr Iv(const std::string& text, const std::string& type = "interval day to second") { return CastAs(Str(text), type); }
ExprPtr Unit(const std::string& u) { return Str(u); }

TEST(IntervalText, ParsesUnitsAndRefusesMixing) {
  auto v = ParseIntervalText("1 day 2 hours");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_FALSE(v->year_month);
  EXPECT_EQ(v->micros, (26LL * 3600) * 1000000);
  EXPECT_EQ(ParseIntervalText("90 SECONDS")->micros, 90LL * 1000000);
  EXPECT_EQ(ParseIntervalText("1.5 minutes")->micros, 90LL * 1000000);
  EXPECT_EQ(ParseIntervalText("-2", "HOUR")->micros, -7200LL * 1000000);
  EXPECT_EQ(ParseIntervalText("1 year 2 months")->months, 14);
  EXPECT_TRUE(ParseIntervalText("1 year 2 months")->year_month);
  EXPECT_EQ(ParseIntervalText("2 weeks")->micros, 14LL * 86400 * 1000000);
  auto mixed = ParseIntervalText("1 month 2 days");
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(mixed.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(mixed.status().message().find("not built yet"), std::string::npos);
  EXPECT_FALSE(ParseIntervalText("5 fortnights").ok());
  EXPECT_FALSE(ParseIntervalText("1.5 months").ok());
  EXPECT_FALSE(ParseIntervalText("day 1").ok());
  EXPECT_FALSE(ParseIntervalText("0.0000001 seconds").ok());
  EXPECT_FALSE(ParseIntervalText("9999999999999999 days").ok());
  EXPECT_EQ(FormatDayTimeInterval(93784500000LL), "INTERVAL '1 02:03:04.5' DAY TO SECOND");
  EXPECT_EQ(FormatDayTimeInterval(-90LL * 1000000), "INTERVAL '-0 00:01:30' DAY TO SECOND");
  EXPECT_EQ(FormatYearMonthInterval(14), "INTERVAL '1-2' YEAR TO MONTH");
  EXPECT_EQ(FormatYearMonthInterval(-3), "INTERVAL '-0-3' YEAR TO MONTH");
}

TEST(IntervalArithmetic, TimestampPlusMinusDayTime) {
  EXPECT_EQ(EvalText(Call("+", {Ts("2024-03-10 23:30:00"), Iv("1 hour")})), "2024-03-11 00:30:00");
  EXPECT_EQ(EvalText(Call("-", {Ts("2024-03-10 00:00:00"), Iv("90 seconds")})), "2024-03-09 23:58:30");
  EXPECT_EQ(EvalText(Call("+", {Iv("1 day 2 hours"), Ts("2024-01-01 00:00:00")})), "2024-01-02 02:00:00");
  EXPECT_EQ(EvalText(Call("+", {Ts("2024-01-01 00:00:00"), Iv("0.000001 seconds")})), "2024-01-01 00:00:00.000001");
  // A string meeting an interval is a timestamp.
  EXPECT_EQ(EvalText(Call("+", {Str("2024-01-01 10:00:00"), Iv("30 minutes")})), "2024-01-01 10:30:00");
  EXPECT_EQ(EvalText(Call("+", {Null(), Iv("1 hour")})), "NULL");
}

TEST(IntervalArithmetic, MonthsClampToTheEndOfTheMonth) {
  const std::string ym = "interval year to month";
  EXPECT_EQ(EvalText(Call("+", {Ts("2024-01-31 08:00:00"), Iv("1 month", ym)})), "2024-02-29 08:00:00");
  EXPECT_EQ(EvalText(Call("+", {Ts("2023-01-31 08:00:00"), Iv("1 month", ym)})), "2023-02-28 08:00:00");
  EXPECT_EQ(EvalText(Call("-", {Ts("2024-03-31 00:00:00"), Iv("1 year 1 month", ym)})), "2023-02-28 00:00:00");
  EXPECT_EQ(EvalText(Call("+", {Date("2024-02-29"), Iv("1 year", ym)})), "2025-02-28");
  EXPECT_EQ(EvalText(Call("add_months", {Date("2024-01-31"), Int(1)})), "2024-02-29");
  EXPECT_EQ(EvalText(Call("add_months", {Date("2024-03-31"), Int(-1)})), "2024-02-29");
}

TEST(IntervalArithmetic, DatePlusDaysStaysADateOtherwiseATimestamp) {
  // Spark: date + INTERVAL n DAY is a date; with a time part it is a timestamp.
  auto plus_days = Bind(*Call("+", {Date("2024-02-28"), Iv("2 days", "interval day")}), Schema());
  ASSERT_TRUE(plus_days.ok()) << plus_days.status().ToString();
  EXPECT_EQ(plus_days->type, DataType::Date());
  EXPECT_EQ(EvalText(Call("+", {Date("2024-02-28"), Iv("2 days", "interval day")})), "2024-03-01");
  EXPECT_EQ(EvalText(Call("-", {Date("2024-03-01"), Iv("1 day", "interval day")})), "2024-02-29");
  EXPECT_EQ(EvalText(Call("+", {Date("2024-02-28"), Iv("36 hours")})), "2024-02-29 12:00:00");
  // date - date is a day interval; timestamp - timestamp a day-time interval.
  EXPECT_EQ(EvalText(Call("-", {Date("2024-03-01"), Date("2024-02-01")})), "INTERVAL '29 00:00:00' DAY TO SECOND");
  EXPECT_EQ(EvalText(Call("-", {Ts("2024-01-02 01:30:00"), Ts("2024-01-01 00:00:00")})),
            "INTERVAL '1 01:30:00' DAY TO SECOND");
  EXPECT_EQ(EvalText(Call("-", {Ts("2024-01-01 00:00:00"), Ts("2024-01-01 00:00:01.5")})),
            "INTERVAL '-0 00:00:01.5' DAY TO SECOND");
}

TEST(IntervalArithmetic, IntervalsAddCompareAndNegate) {
  EXPECT_EQ(EvalText(Call("+", {Iv("1 hour"), Iv("30 minutes")})), "INTERVAL '0 01:30:00' DAY TO SECOND");
  EXPECT_EQ(EvalText(Call("-", {Iv("1 year", "interval year to month"), Iv("2 months", "interval year to month")})),
            "INTERVAL '0-10' YEAR TO MONTH");
  EXPECT_EQ(EvalText(Call("negate", {Iv("1 hour")})), "INTERVAL '-0 01:00:00' DAY TO SECOND");
  EXPECT_EQ(EvalText(Call(">", {Iv("90 minutes"), Iv("1 hour")})), "true");
  EXPECT_EQ(EvalText(Call("=", {Iv("60 minutes"), Iv("1 hour")})), "true");
  EXPECT_EQ(EvalText(Call("<", {Iv("2 days", "interval day"), Iv("47 hours")})), "false");
  // A year-month and a day-time interval do not mix (Spark refuses too).
  EXPECT_NE(EvalText(Call("+", {Iv("1 hour"), Iv("1 month", "interval year to month")})).find("ERROR"), std::string::npos);
  EXPECT_NE(EvalText(Call("<", {Iv("1 hour"), Int(3)})).find("ERROR"), std::string::npos);
}

TEST(IntervalArithmetic, OverflowIsAnErrorNamingTheValues) {
  std::string r = EvalText(Call("+", {Ts("9999-12-31 00:00:00"), Iv("106751990 days")}));
  EXPECT_NE(r.find("[DATETIME_OVERFLOW]"), std::string::npos) << r;
}

TEST(IntervalArithmetic, BadLiteralsFailAtBindTime) {
  auto b = Bind(*Iv("5 fortnights"), Schema());
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("CAST_INVALID_INPUT"), std::string::npos) << b.status().message();
  auto ym = Bind(*Iv("3 hours", "interval year to month"), Schema());
  EXPECT_FALSE(ym.ok());
}

TEST(IntervalFunctions, MakeIntervals) {
  EXPECT_EQ(EvalText(Call("make_dt_interval", {Int(1), Int(2), Int(3), CastAs(Str("4.5"), "decimal(18,6)")})),
            "INTERVAL '1 02:03:04.5' DAY TO SECOND");
  EXPECT_EQ(EvalText(Call("make_dt_interval", {Int(2)})), "INTERVAL '2 00:00:00' DAY TO SECOND");
  EXPECT_EQ(EvalText(Call("make_dt_interval", {})), "INTERVAL '0 00:00:00' DAY TO SECOND");
  EXPECT_EQ(EvalText(Call("make_ym_interval", {Int(1), Int(2)})), "INTERVAL '1-2' YEAR TO MONTH");
  EXPECT_EQ(EvalText(Call("make_ym_interval", {Int(-1)})), "INTERVAL '-1-0' YEAR TO MONTH");
  EXPECT_EQ(EvalText(Call("make_dt_interval", {Int(1), Null()})), "NULL");
  // make_interval(years, months, weeks, days, hours, mins, secs)
  EXPECT_EQ(EvalText(Call("make_interval", {Int(0), Int(0), Int(1), Int(2), Int(3), Int(4), Int(5)})),
            "INTERVAL '9 03:04:05' DAY TO SECOND");
  EXPECT_EQ(EvalText(Call("make_interval", {Int(1), Int(6)})), "INTERVAL '1-6' YEAR TO MONTH");
  std::string mixed = EvalText(Call("make_interval", {Int(1), Int(0), Int(0), Int(1)}));
  EXPECT_NE(mixed.find("not built yet"), std::string::npos) << mixed;
}

TEST(IntervalFunctions, TimestampAdd) {
  EXPECT_EQ(EvalText(Call("timestampadd", {Unit("MINUTE"), Int(90), Ts("2024-01-01 23:00:00")})), "2024-01-02 00:30:00");
  EXPECT_EQ(EvalText(Call("timestampadd", {Unit("month"), Int(1), Ts("2024-01-31 10:00:00")})), "2024-02-29 10:00:00");
  EXPECT_EQ(EvalText(Call("timestampadd", {Unit("QUARTER"), Int(-1), Ts("2024-05-31 00:00:00")})), "2024-02-29 00:00:00");
  EXPECT_EQ(EvalText(Call("timestampadd", {Unit("WEEK"), Int(1), Date("2024-01-01")})), "2024-01-08 00:00:00");
  EXPECT_EQ(EvalText(Call("timestampadd", {Unit("MICROSECOND"), Int(7), Ts("2024-01-01 00:00:00")})),
            "2024-01-01 00:00:00.000007");
  EXPECT_EQ(EvalText(Call("dateadd", {Unit("DAY"), Int(1), Ts("2024-02-28 00:00:00")})), "2024-02-29 00:00:00");
  EXPECT_EQ(EvalText(Call("date_add", {Unit("HOUR"), Int(25), Ts("2024-02-28 00:00:00")})), "2024-02-29 01:00:00");
  EXPECT_EQ(EvalText(Call("timestampadd", {Unit("DAY"), Null(), Ts("2024-01-01 00:00:00")})), "NULL");
  std::string bad = EvalText(Call("timestampadd", {Unit("FORTNIGHT"), Int(1), Ts("2024-01-01 00:00:00")}));
  EXPECT_NE(bad.find("unknown interval unit `FORTNIGHT`"), std::string::npos) << bad;
  std::string not_constant = EvalText(Call("timestampadd", {CastAs(Int(1), "string"), Int(1), Ts("2024-01-01 00:00:00")}));
  EXPECT_NE(not_constant.find("ERROR"), std::string::npos);
}

TEST(IntervalFunctions, TimestampDiffTruncatesTowardZero) {
  EXPECT_EQ(EvalText(Call("timestampdiff", {Unit("HOUR"), Ts("2024-01-01 00:00:00"), Ts("2024-01-01 05:59:59")})), "5");
  EXPECT_EQ(EvalText(Call("timestampdiff", {Unit("HOUR"), Ts("2024-01-01 05:59:59"), Ts("2024-01-01 00:00:00")})), "-5");
  EXPECT_EQ(EvalText(Call("timestampdiff", {Unit("SECOND"), Ts("2024-01-01 00:00:00"), Ts("2024-01-01 00:00:01.9")})), "1");
  // Months count whole months, the time of day included (java.time's ChronoUnit).
  EXPECT_EQ(EvalText(Call("timestampdiff", {Unit("MONTH"), Ts("2024-01-31 00:00:00"), Ts("2024-02-29 00:00:00")})), "0");
  EXPECT_EQ(EvalText(Call("timestampdiff", {Unit("MONTH"), Ts("2024-01-15 10:00:00"), Ts("2024-03-15 09:59:59")})), "1");
  EXPECT_EQ(EvalText(Call("timestampdiff", {Unit("MONTH"), Ts("2024-01-15 10:00:00"), Ts("2024-03-15 10:00:00")})), "2");
  EXPECT_EQ(EvalText(Call("timestampdiff", {Unit("MONTH"), Ts("2024-03-15 10:00:00"), Ts("2024-01-15 10:00:01")})), "-1");
  EXPECT_EQ(EvalText(Call("timestampdiff", {Unit("YEAR"), Date("2020-02-29"), Date("2024-02-28")})), "3");
  EXPECT_EQ(EvalText(Call("timestampdiff", {Unit("QUARTER"), Date("2024-01-01"), Date("2024-12-31")})), "3");
  EXPECT_EQ(EvalText(Call("timestampdiff", {Unit("WEEK"), Date("2024-01-01"), Date("2024-01-14")})), "1");
  EXPECT_EQ(EvalText(Call("datediff", {Unit("DAY"), Ts("2024-01-01 12:00:00"), Ts("2024-01-03 11:00:00")})), "1");
  // datediff with two arguments keeps its meaning: days end - start.
  EXPECT_EQ(EvalText(Call("datediff", {Date("2024-03-01"), Date("2024-02-01")})), "29");
}

TEST(IntervalFunctions, ColumnsOfMixedRows) {
  RecordBatch b = MakeBatch("ts TIMESTAMP, n INT", {{Value::Timestamp(0), Value::Int(1, TypeId::kInt)},
                                                    {Value::Null(), Value::Int(2, TypeId::kInt)},
                                                    {Value::Timestamp(-1), Value::Null()}});
  auto v = test::Eval(Call("timestampadd", {Unit("SECOND"), Col("n"), Col("ts")}), b);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ((*v)[0].ToString(), "1970-01-01 00:00:01");
  EXPECT_TRUE((*v)[1].is_null());
  EXPECT_TRUE((*v)[2].is_null());
  auto d = test::Eval(Call("-", {Col("ts"), Iv("1 microsecond")}), b);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ((*d)[2].ToString(), "1969-12-31 23:59:59.999998");
}

}  // namespace
}  // namespace lakepipe::expr

namespace lakepipe::expr {
namespace {

// sequence(): Spark 4's results (spark-sql, UTC).
TEST(Sequence, IntegersDatesAndTimestamps) {
  using test::Call;
  using test::Int;
  EXPECT_EQ(EvalText(Call("sequence", {Int(1), Int(5)})), "[1, 2, 3, 4, 5]");
  EXPECT_EQ(EvalText(Call("sequence", {Int(5), Int(1)})), "[5, 4, 3, 2, 1]");
  EXPECT_EQ(EvalText(Call("sequence", {Int(1), Int(9), Int(3)})), "[1, 4, 7]");
  EXPECT_EQ(EvalText(Call("sequence", {Int(1), Int(10), Int(3)})), "[1, 4, 7, 10]");
  EXPECT_EQ(EvalText(Call("sequence", {Int(9), Int(1), Int(-4)})), "[9, 5, 1]");
  EXPECT_EQ(EvalText(Call("sequence", {Int(3), Int(3), Int(0)})), "[3]");
  EXPECT_EQ(EvalText(Call("sequence", {Date("2026-02-26"), Date("2026-03-02")})),
            "[2026-02-26, 2026-02-27, 2026-02-28, 2026-03-01, 2026-03-02]");
  EXPECT_EQ(EvalText(Call("sequence", {Date("2026-03-02"), Date("2026-02-28")})), "[2026-03-02, 2026-03-01, 2026-02-28]");
  EXPECT_EQ(EvalText(Call("sequence", {Date("2026-01-01"), Date("2026-01-20"), Iv("1 week")})),
            "[2026-01-01, 2026-01-08, 2026-01-15]");
  // Months from the start, the day clamped (not accumulated: Mar 31, not Mar 28).
  EXPECT_EQ(EvalText(Call("sequence", {Date("2026-01-31"), Date("2026-04-30"), Iv("1 month", "interval year to month")})),
            "[2026-01-31, 2026-02-28, 2026-03-31, 2026-04-30]");
  EXPECT_EQ(EvalText(Call("sequence", {Ts("2026-01-01 22:00:00"), Ts("2026-01-02 01:30:00"), Iv("1 hour")})),
            "[2026-01-01 22:00:00, 2026-01-01 23:00:00, 2026-01-02 00:00:00, 2026-01-02 01:00:00]");
  EXPECT_EQ(EvalText(Call("sequence", {Ts("2026-01-01 12:00:00"), Ts("2026-01-03 00:00:00")})),
            "[2026-01-01 12:00:00, 2026-01-02 12:00:00]");
  // A date and a timestamp meet as timestamps.
  EXPECT_EQ(EvalText(Call("sequence", {Date("2026-01-01"), Ts("2026-01-01 02:00:00"), Iv("1 hour")})),
            "[2026-01-01 00:00:00, 2026-01-01 01:00:00, 2026-01-01 02:00:00]");
  EXPECT_EQ(EvalText(Call("sequence", {Null(), Int(3)})), "NULL");
  EXPECT_EQ(EvalText(Call("sequence", {Int(1), Int(3), CastAs(Null(), "int")})), "NULL");
}

TEST(Sequence, BadBoundariesStepsAndTypesAreErrors) {
  using test::Call;
  using test::Int;
  EXPECT_EQ(EvalText(Call("sequence", {Int(1), Int(3), Int(0)})),
            "ERROR: Illegal sequence boundaries: 1 to 3 by 0 in `sequence(1, 3, 0)`")
      << "a zero step that never reaches stop";
  EXPECT_NE(EvalText(Call("sequence", {Int(1), Int(3), Int(-1)})).find("Illegal sequence boundaries: 1 to 3 by -1"),
            std::string::npos);
  EXPECT_NE(EvalText(Call("sequence", {Date("2026-01-01"), Date("2026-01-03"), Iv("12 hours")}))
                .find("sequence step must be an interval of day granularity if start and end values are dates"),
            std::string::npos);
  EXPECT_NE(EvalText(Call("sequence", {Int(0), CastAs(Str("100000000"), "bigint")})).find("COLLECTION_SIZE_LIMIT_EXCEEDED"),
            std::string::npos);
  EXPECT_NE(EvalText(Call("sequence", {Str("a"), Str("b")})).find("`sequence` takes (integer, integer[, integer])"),
            std::string::npos);
  EXPECT_NE(EvalText(Call("sequence", {Date("2026-01-01"), Date("2026-01-03"), Int(1)})).find("`sequence` takes"),
            std::string::npos);
}

}  // namespace
}  // namespace lakepipe::expr
