// Differential tests: the same computations in lakepipe (Spark semantics) and in DuckDB
// (an independent engine), over generated data, compared row by row. Where Spark and
// DuckDB differ, the DuckDB SQL is translated to Spark's meaning; each translation is
// commented. Skipped when DuckDB (npm) is not installed.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <random>
#include <sstream>

#include "expr/test_util.h"
#include "operators/hash_aggregate.h"
#include "operators/hash_join.h"
#include "testing/testing.h"
#include "types/datetime.h"

namespace lakepipe::operators {
namespace {

using expr::BindContext;
using expr::BoundExpr;
using expr::Expr;
using expr::ExprPtr;
using expr::test::Call;
using expr::test::CastAs;
using expr::test::Col;
using expr::test::Dbl;
using expr::test::Int;
using expr::test::Str;

constexpr int kRows = 400;
const char* kDdl = "id INT, i INT, j INT, l BIGINT, d DOUBLE, m DECIMAL(10,2), s STRING, n STRING, dt DATE, ts TIMESTAMP, k INT, txt STRING";

// Generated rows, kept both as a batch and as SQL VALUES text for DuckDB.
struct Data {
  RecordBatch batch;
  std::string values_sql;  // "(…), (…)"
};

std::string SqlLiteral(const Value& v, TypeId type) {
  if (v.is_null()) return "NULL";
  switch (type) {
    case TypeId::kString: {
      std::string s = "'";
      for (char c : v.string_value()) s += c == '\'' ? std::string("''") : std::string(1, c);
      return s + "'::VARCHAR";
    }
    case TypeId::kDate: return "DATE '" + v.ToString() + "'";
    case TypeId::kTimestamp: return "TIMESTAMP '" + v.ToString() + "'";
    case TypeId::kDecimal: return v.ToString() + "::DECIMAL(10,2)";
    case TypeId::kDouble: {
      std::ostringstream o;
      o.precision(17);
      o << v.double_value();
      return o.str() + "::DOUBLE";
    }
    case TypeId::kLong: return v.ToString() + "::BIGINT";
    default: return v.ToString() + "::INTEGER";
  }
}

const Data& GetData() {
  static Data data = [] {
    std::mt19937_64 rng(20261123);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
    const char* words[] = {"apple", "Banana", " cherry ", "date", "elder berry", "fig", "grape", "héllo wörld", "", "kiwi  "};
    const char* numbers[] = {"12", " 7 ", "-3", "abc", "1e3", "4.5", "", "99999999999"};
    Schema schema = Schema::ParseDDL(kDdl).value();
    std::vector<std::vector<Value>> rows;
    std::string sql;
    for (int r = 0; r < kRows; ++r) {
      std::vector<Value> row;
      row.push_back(Value::Int(r, TypeId::kInt));
      row.push_back(pick(10) == 0 ? Value::Null() : Value::Int(pick(2001) - 1000, TypeId::kInt));
      row.push_back(pick(10) == 0 ? Value::Null() : Value::Int(pick(41) - 20, TypeId::kInt));
      row.push_back(Value::Int(static_cast<int64_t>(rng() % 2000000000000ULL) - 1000000000000LL, TypeId::kLong));
      row.push_back(pick(8) == 0 ? Value::Null() : Value::Double((static_cast<double>(pick(2000001)) - 1000000.0) / 1000.0 + 0.0001 * pick(7)));
      row.push_back(pick(8) == 0 ? Value::Null() : Value::Decimal(static_cast<int128_t>(pick(2000001) - 1000000), 10, 2));
      row.push_back(pick(8) == 0 ? Value::Null() : Value::String(words[pick(10)]));
      row.push_back(Value::String(numbers[pick(8)]));
      int32_t day = DaysFromCivil(2019, 1, 1) + pick(1500);
      row.push_back(pick(10) == 0 ? Value::Null() : Value::Date(day));
      row.push_back(Value::Timestamp(static_cast<int64_t>(day) * kMicrosPerDay + static_cast<int64_t>(pick(86400)) * kMicrosPerSecond));
      row.push_back(pick(7) == 0 ? Value::Null() : Value::Int(pick(6), TypeId::kInt));
      int64_t y, unused = 0;
      unsigned mo, dd;
      CivilFromDays(day, &y, &mo, &dd);
      (void)unused;
      row.push_back(Value::String(std::to_string(mo) + "/" + std::to_string(dd) + "/" + std::to_string(y) + " " +
                                  std::to_string(pick(24)) + ":" + std::to_string(10 + pick(50))));
      std::string tuple = "(";
      for (size_t c = 0; c < row.size(); ++c) tuple += (c ? ", " : "") + SqlLiteral(row[c], schema.field(c).type.id());
      sql += (r ? ", " : "") + tuple + ")";
      rows.push_back(std::move(row));
    }
    return Data{expr::test::MakeBatch(kDdl, rows), sql};
  }();
  return data;
}

std::string From() {
  return " FROM (VALUES " + GetData().values_sql + ") AS t(id, i, j, l, d, m, s, n, dt, ts, k, txt)";
}

// Compares one of our values with DuckDB's JSON rendering of the same value.
bool SameValue(const Value& ours, const nlohmann::json& theirs, std::string* why) {
  if (ours.is_null() || theirs.is_null()) {
    *why = "ours " + ours.ToString() + ", DuckDB " + theirs.dump();
    return ours.is_null() && theirs.is_null();
  }
  if (ours.id() == TypeId::kDouble || ours.id() == TypeId::kFloat || ours.id() == TypeId::kDecimal) {
    double a = ours.AsDouble();
    double b = theirs.is_string() ? std::stod(theirs.get<std::string>()) : theirs.get<double>();
    *why = "ours " + ours.ToString() + ", DuckDB " + theirs.dump();
    return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(a));
  }
  std::string b = theirs.is_string() ? theirs.get<std::string>() : theirs.dump();
  *why = "ours " + ours.ToString() + ", DuckDB " + b;
  return ours.ToString() == b;
}

// Evaluates each `ours` over the data and each DuckDB expression in one DuckDB query (one
// node start per test), then compares row by row (ordered by id).
class Differential {
 public:
  void Add(const ExprPtr& ours, const std::string& duckdb_sql) { cases_.push_back({ours, duckdb_sql}); }
  void Run() {
    const Data& data = GetData();
    std::string select;
    for (size_t c = 0; c < cases_.size(); ++c) select += (c ? ", " : "") + cases_[c].second + " AS v" + std::to_string(c);
    auto out = testing::RunDuckDB("SELECT " + select + From() + " ORDER BY id");
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    std::vector<nlohmann::json> rows;
    std::istringstream lines(*out);
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
    }
    ASSERT_EQ(rows.size(), static_cast<size_t>(data.batch.num_rows()));
    for (size_t c = 0; c < cases_.size(); ++c) {
      SCOPED_TRACE(cases_[c].first->ToString() + "  vs DuckDB  " + cases_[c].second);
      auto values = expr::test::Eval(cases_[c].first, data.batch);
      if (!values.ok()) {
        ADD_FAILURE() << values.status().ToString();
        continue;
      }
      int mismatches = 0;
      for (size_t r = 0; r < rows.size(); ++r) {
        std::string why;
        if (!SameValue((*values)[r], rows[r]["v" + std::to_string(c)], &why) && mismatches++ < 3) {
          ADD_FAILURE() << "row " << r << ": " << why;
        }
      }
    }
  }

 private:
  std::vector<std::pair<ExprPtr, std::string>> cases_;
};

bool DuckDBAvailable() {
  auto r = testing::RunDuckDB("SELECT 1 AS x");
  return r.ok();
}

#define REQUIRE_DUCKDB() \
  if (!DuckDBAvailable()) GTEST_SKIP() << "DuckDB (npm @duckdb/node-api) is not installed: run `npm ci`"

TEST(DuckDBDifferential, Arithmetic) {
  REQUIRE_DUCKDB();
  Differential diff;
  diff.Add(Call("+", {Col("i"), Col("j")}), "i + j");
  diff.Add(Call("-", {Col("i"), Col("j")}), "i - j");
  diff.Add(Call("*", {Col("i"), Col("j")}), "i * j");
  diff.Add(Call("+", {Col("l"), Col("i")}), "l + i");
  // Spark's `/` is always fractional (double for integers); DuckDB's `/` on integers too,
  // but we spell the double explicitly. Rows with j = 0 are excluded (Spark raises).
  diff.Add(Call("try_divide", {Col("i"), Col("j")}), "CASE WHEN j = 0 THEN NULL ELSE i::DOUBLE / j END");
  // Spark's % truncates toward zero like DuckDB's; try_mod gives NULL on a zero divisor.
  diff.Add(Call("try_mod", {Col("i"), Col("j")}), "CASE WHEN j = 0 THEN NULL ELSE i % j END");
  diff.Add(Call("+", {Call("*", {Col("d"), Dbl(2.5)}), Col("i")}), "d * 2.5 + i");
  diff.Add(Call("+", {Col("m"), Col("m")}), "m + m");
  diff.Add(Call("*", {Col("m"), Col("i")}), "m * i");
  diff.Add(Call("-", {Col("m"), Col("d")}), "m::DOUBLE - d");
  diff.Add(Call("negate", {Col("i")}), "-i");
  diff.Add(Call("abs", {Col("m")}), "abs(m)");
  diff.Run();
}

TEST(DuckDBDifferential, ComparisonsAndLogic) {
  REQUIRE_DUCKDB();
  Differential diff;
  diff.Add(Call("<", {Col("i"), Col("j")}), "i < j");
  diff.Add(Call("=", {Col("k"), Col("j")}), "k = j");
  // Spark's <=> is SQL's IS NOT DISTINCT FROM.
  diff.Add(Call("<=>", {Col("k"), Col("j")}), "k IS NOT DISTINCT FROM j");
  diff.Add(Call(">=", {Col("d"), Col("m")}), "d >= m::DOUBLE");
  diff.Add(Call("=", {Col("s"), Str("fig")}), "s = 'fig'");
  diff.Add(Call("<", {Col("s"), Col("n")}), "s < n");
  // A date compared with a string literal: Spark casts the string to a date.
  diff.Add(Call(">", {Col("dt"), Str("2020-06-01")}), "dt > DATE '2020-06-01'");
  diff.Add(Call("and", {Call(">", {Col("i"), Int(0)}), Call(">", {Col("j"), Int(0)})}), "i > 0 AND j > 0");
  diff.Add(Call("or", {Call(">", {Col("i"), Int(0)}), Call(">", {Col("j"), Int(0)})}), "i > 0 OR j > 0");
  diff.Add(Call("not", {Call(">", {Col("i"), Col("j")})}), "NOT (i > j)");
  diff.Add(Call("in", {Col("k"), Int(1), Int(3), expr::test::Null()}), "k IN (1, 3, NULL)");
  diff.Add(Call("and", {Call(">=", {Col("i"), Int(-100)}), Call("<=", {Col("i"), Int(100)})}), "i BETWEEN -100 AND 100");
  diff.Add(Call("is_null", {Col("s")}), "s IS NULL");
  diff.Add(Call("coalesce", {Col("k"), Col("j"), Int(-1)}), "coalesce(k, j, -1)");
  diff.Add(Call("nullif", {Col("k"), Int(2)}), "nullif(k, 2)");
  diff.Add(Call("case", {Call(">", {Col("i"), Int(0)}), Str("pos"), Call("<", {Col("i"), Int(0)}), Str("neg")}),
                     "CASE WHEN i > 0 THEN 'pos' WHEN i < 0 THEN 'neg' END");
  diff.Add(Call("if", {Call(">", {Col("j"), Int(0)}), Col("i"), Col("l")}), "CASE WHEN j > 0 THEN i ELSE l END");
  diff.Run();
}

TEST(DuckDBDifferential, Casts) {
  REQUIRE_DUCKDB();
  Differential diff;
  diff.Add(CastAs(Col("i"), "string"), "i::VARCHAR");
  // Spark truncates a double toward zero when casting to an integer; DuckDB rounds, so
  // the DuckDB side truncates first.
  diff.Add(CastAs(Col("d"), "int"), "trunc(d)::INTEGER");
  // Invalid numbers: try_cast gives NULL in both. Spark also accepts '4.5' (truncated) for
  // an integer cast where DuckDB refuses; and DuckDB accepts '1e3' — translate both.
  diff.Add(CastAs(Col("n"), "bigint", true),
                     "CASE WHEN trim(n) = '4.5' THEN 4 WHEN trim(n) = '1e3' THEN NULL ELSE TRY_CAST(trim(n) AS BIGINT) END");
  diff.Add(CastAs(Col("n"), "double", true), "TRY_CAST(trim(n) AS DOUBLE)");
  diff.Add(CastAs(Col("dt"), "timestamp"), "dt::TIMESTAMP");
  diff.Add(CastAs(Col("ts"), "date"), "ts::DATE");
  diff.Add(CastAs(Col("m"), "double"), "m::DOUBLE");
  diff.Add(CastAs(Col("i"), "decimal(12,2)"), "i::DECIMAL(12,2)");
  diff.Add(CastAs(Col("m"), "int"), "trunc(m)::INTEGER");
  diff.Add(CastAs(Col("dt"), "string"), "dt::VARCHAR");
  diff.Add(CastAs(Col("m"), "string"), "m::VARCHAR");
  diff.Run();
}

TEST(DuckDBDifferential, StringFunctions) {
  REQUIRE_DUCKDB();
  Differential diff;
  diff.Add(Call("upper", {Col("s")}), "upper(s)");
  diff.Add(Call("lower", {Col("s")}), "lower(s)");
  diff.Add(Call("trim", {Col("s")}), "trim(s)");
  diff.Add(Call("ltrim", {Col("s")}), "ltrim(s)");
  diff.Add(Call("length", {Col("s")}), "length(s)");
  diff.Add(Call("substring", {Col("s"), Int(2), Int(3)}), "substring(s, 2, 3)");
  diff.Add(Call("substring", {Col("s"), Int(-3)}), "CASE WHEN length(s) >= 3 THEN right(s, 3) ELSE s END");
  // Spark's concat is NULL when any argument is; DuckDB's concat skips NULLs but `||`
  // propagates them.
  diff.Add(Call("concat", {Col("s"), Str("-"), Col("i")}), "s || '-' || i::VARCHAR");
  diff.Add(Call("concat_ws", {Str(","), Col("s"), Col("n")}), "concat_ws(',', s, n)");
  diff.Add(Call("replace", {Col("s"), Str("a"), Str("xy")}), "replace(s, 'a', 'xy')");
  diff.Add(Call("lpad", {Col("s"), Int(8), Str("*")}), "lpad(s, 8, '*')");
  diff.Add(Call("rpad", {Col("s"), Int(4), Str("-=")}), "rpad(s, 4, '-=')");
  diff.Add(Call("split_part", {Col("s"), Str(" "), Int(2)}), "split_part(s, ' ', 2)");
  // Spark's regexp_replace replaces every match; DuckDB needs the 'g' flag.
  diff.Add(Call("regexp_replace", {Col("s"), Str("[aeiou]+"), Str("_")}), "regexp_replace(s, '[aeiou]+', '_', 'g')");
  diff.Add(Call("like", {Col("s"), Str("%an%")}), "s LIKE '%an%'");
  diff.Add(Call("like", {Col("s"), Str("_a%")}), "s LIKE '_a%'");
  diff.Add(Call("ilike", {Col("s"), Str("b%")}), "s ILIKE 'b%'");
  diff.Add(Call("rlike", {Col("s"), Str("e.r")}), "regexp_matches(s, 'e.r')");
  diff.Run();
}

TEST(DuckDBDifferential, DateFunctions) {
  REQUIRE_DUCKDB();
  Differential diff;
  diff.Add(Call("year", {Col("dt")}), "year(dt)");
  diff.Add(Call("month", {Col("ts")}), "month(ts)");
  diff.Add(Call("day", {Col("dt")}), "day(dt)");
  // Spark's dayofweek is 1 = Sunday .. 7 = Saturday; DuckDB's is 0 = Sunday.
  diff.Add(Call("dayofweek", {Col("dt")}), "dayofweek(dt) + 1");
  diff.Add(Call("quarter", {Col("dt")}), "quarter(dt)");
  diff.Add(Call("weekofyear", {Col("dt")}), "weekofyear(dt)");
  diff.Add(Call("dayofyear", {Col("dt")}), "dayofyear(dt)");
  diff.Add(Call("hour", {Col("ts")}), "hour(ts)");
  diff.Add(Call("minute", {Col("ts")}), "minute(ts)");
  diff.Add(Call("second", {Col("ts")}), "second(ts)");
  // datediff(end, start) is DuckDB's date_diff('day', start, end).
  diff.Add(Call("datediff", {Col("dt"), Str("2020-01-01")}), "date_diff('day', DATE '2020-01-01', dt)");
  diff.Add(Call("date_add", {Col("dt"), Col("j")}), "dt + j");
  diff.Add(Call("date_sub", {Col("dt"), Int(40)}), "dt - 40");
  diff.Add(Call("date_trunc", {Str("MONTH"), Col("ts")}), "date_trunc('month', ts)");
  diff.Add(Call("date_trunc", {Str("hour"), Col("ts")}), "date_trunc('hour', ts)");
  diff.Add(Call("date_trunc", {Str("week"), Col("ts")}), "date_trunc('week', ts)");
  // DuckDB's date_trunc gives a timestamp; Spark's trunc a date.
  diff.Add(Call("trunc", {Col("dt"), Str("QUARTER")}), "date_trunc('quarter', dt)::DATE");
  // Spark pattern letters translated to strftime: yyyy=%Y MM=%m dd=%d HH=%H mm=%M ss=%S.
  diff.Add(Call("date_format", {Col("ts"), Str("yyyy-MM-dd HH:mm:ss")}), "strftime(ts, '%Y-%m-%d %H:%M:%S')");
  diff.Add(Call("date_format", {Col("dt"), Str("dd/MM/yy")}), "strftime(dt, '%d/%m/%y')");
  // 'M/d/yyyy H:mm' (non-padded fields) is strptime's %m/%d/%Y %H:%M, which accepts one digit.
  diff.Add(Call("to_timestamp", {Col("txt"), Str("M/d/yyyy H:mm")}), "strptime(txt, '%m/%d/%Y %H:%M')");
  diff.Add(Call("to_date", {Col("txt"), Str("M/d/yyyy H:mm")}), "strptime(txt, '%m/%d/%Y %H:%M')::DATE");
  diff.Run();
}

// Interval arithmetic (expr/interval_functions.cc). An INTERVAL literal reaches the binder
// as a cast of its text (the front end's rewrite), as here.
TEST(DuckDBDifferential, IntervalArithmetic) {
  REQUIRE_DUCKDB();
  Differential diff;
  auto iv = [](const char* text, const char* type) { return CastAs(Str(text), type); };
  const char* dt_type = "interval day to second";
  const char* ym_type = "interval year to month";
  diff.Add(Call("+", {Col("ts"), iv("90 minutes", dt_type)}), "ts + INTERVAL 90 MINUTE");
  diff.Add(Call("-", {Col("ts"), iv("1 day 2 hours", dt_type)}), "ts - INTERVAL '1 day 2 hours'");
  diff.Add(Call("+", {iv("0.25 seconds", dt_type), Col("ts")}), "ts + INTERVAL 250 MILLISECOND");
  // Both clamp the day to the target month's last day.
  diff.Add(Call("+", {Col("ts"), iv("1 month", ym_type)}), "ts + INTERVAL 1 MONTH");
  diff.Add(Call("-", {Col("ts"), iv("1 year 1 month", ym_type)}), "ts - INTERVAL 13 MONTH");
  // date + a whole-day interval is a date in Spark; DuckDB's date + integer days.
  diff.Add(Call("+", {Col("dt"), iv("3 days", "interval day")}), "dt + 3");
  diff.Add(Call("-", {Col("dt"), iv("2 weeks", "interval day")}), "dt - 14");
  // date +/- months is a date in Spark; DuckDB gives a timestamp.
  diff.Add(Call("+", {Col("dt"), iv("2 months", ym_type)}), "(dt + INTERVAL 2 MONTH)::DATE");
  diff.Add(Call("add_months", {Col("dt"), Col("j")}), "(dt + j * INTERVAL 1 MONTH)::DATE");
  // date + an interval with a time part is a timestamp in both.
  diff.Add(Call("+", {Col("dt"), iv("36 hours", dt_type)}), "dt + INTERVAL 36 HOUR");
  diff.Add(Call("timestampadd", {Str("HOUR"), Col("j"), Col("ts")}), "ts + j * INTERVAL 1 HOUR");
  diff.Add(Call("timestampadd", {Str("MONTH"), Col("j"), Col("ts")}), "ts + j * INTERVAL 1 MONTH");
  diff.Add(Call("timestampadd", {Str("DAY"), Col("i"), Col("dt")}), "dt::TIMESTAMP + i * INTERVAL 1 DAY");
  // timestampdiff truncates toward zero (DuckDB's date_diff counts boundaries instead, so
  // compare with the exact microsecond difference).
  diff.Add(Call("timestampdiff", {Str("MINUTE"), Col("ts"), CastAs(Str("2020-06-15 12:00:00"), "timestamp")}),
           "trunc((epoch_us(TIMESTAMP '2020-06-15 12:00:00') - epoch_us(ts)) / 60000000)::BIGINT");
  diff.Add(Call("timestampdiff", {Str("DAY"), CastAs(Str("2020-06-15 12:00:00"), "timestamp"), Col("ts")}),
           "trunc((epoch_us(ts) - epoch_us(TIMESTAMP '2020-06-15 12:00:00')) / 86400000000)::BIGINT");
  // Interval comparisons.
  diff.Add(Call(">", {Call("-", {Col("ts"), CastAs(Col("dt"), "timestamp")}), iv("12 hours", dt_type)}),
           "ts - dt::TIMESTAMP > INTERVAL 12 HOUR");
  diff.Add(Call("<=", {Call("-", {CastAs(Str("2020-06-15 12:00:00"), "timestamp"), Col("ts")}), iv("30 days", "interval day")}),
           "TIMESTAMP '2020-06-15 12:00:00' - ts <= INTERVAL 30 DAY");
  diff.Run();
}

TEST(DuckDBDifferential, MathFunctions) {
  REQUIRE_DUCKDB();
  Differential diff;
  // Spark rounds a double HALF_UP on its shortest decimal text (BigDecimal(d)), so
  // round(-291.965, 2) is -291.97; DuckDB rounds the binary value. Round the text in DuckDB.
  diff.Add(Call("round", {Col("d"), Int(2)}), "round(d::VARCHAR::DECIMAL(38,10), 2)::DOUBLE");
  diff.Add(Call("round", {Col("m"), Int(1)}), "round(m, 1)");
  diff.Add(Call("floor", {Col("d")}), "floor(d)");
  diff.Add(Call("ceil", {Col("m")}), "ceil(m)");
  diff.Add(Call("sqrt", {Call("abs", {Col("d")})}), "sqrt(abs(d))");
  diff.Add(Call("power", {Col("j"), Int(3)}), "power(j, 3)");
  // greatest/least over non-null inputs only (NULL handling is documented separately).
  diff.Add(Call("greatest", {Col("l"), Col("id")}), "greatest(l, id)");
  diff.Run();
}

TEST(DuckDBDifferential, GroupByAggregates) {
  REQUIRE_DUCKDB();
  const Data& data = GetData();
  const Schema& s = data.batch.schema();
  BindContext ctx;
  ctx.allow_aggregates = true;
  auto bind = [&](const ExprPtr& e) { return expr::Bind(*e, s, ctx).value(); };
  std::vector<BoundExpr> aggs = {bind(Call("count", {})),
                                 bind(Call("count", {Col("i")})),
                                 bind(Expr::Call("count", {Col("j")}, {}, true)),
                                 bind(Call("sum", {Col("i")})),
                                 bind(Call("sum", {Col("m")})),
                                 bind(Call("avg", {Col("d")})),
                                 bind(Call("avg", {Col("m")})),
                                 bind(Call("min", {Col("s")})),
                                 bind(Call("max", {Col("dt")})),
                                 bind(Call("max", {Col("d")}))};
  auto agg = HashAggregate::Make({bind(Col("k"))}, {"k"}, aggs, {}).value();
  // Feed in several batches, as a stream would arrive.
  for (int64_t off = 0; off < data.batch.num_rows(); off += 97) {
    ASSERT_TRUE(agg->Push(data.batch.Slice(off, std::min<int64_t>(97, data.batch.num_rows() - off))).ok());
  }
  auto out = agg->Finish();
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const RecordBatch& result = (*out)[0];
  // Spark's avg(decimal(10,2)) is decimal(14,6), rounded HALF_UP; DuckDB's is a double, so
  // we compare numerically with a tolerance.
  auto duck = testing::RunDuckDB(
      "SELECT k, count(*) AS c0, count(i) AS c1, count(DISTINCT j) AS c2, sum(i) AS c3, sum(m) AS c4, avg(d) AS c5, "
      "avg(m) AS c6, min(s) AS c7, max(dt) AS c8, max(d) AS c9" + From() + " GROUP BY k ORDER BY k NULLS FIRST");
  ASSERT_TRUE(duck.ok()) << duck.status().ToString();
  // Our groups come in first-seen order: index them by key.
  std::map<std::string, int64_t> row_of_key;
  for (int64_t r = 0; r < result.num_rows(); ++r) row_of_key[result.column(0).GetValue(r).ToString()] = r;
  std::istringstream lines(*duck);
  std::string line;
  size_t groups = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    std::string key = j["k"].is_null() ? "NULL" : j["k"].dump();
    ASSERT_TRUE(row_of_key.count(key)) << "group " << key << " missing";
    int64_t r = row_of_key[key];
    for (size_t a = 0; a < aggs.size(); ++a) {
      std::string why;
      Value ours = result.column(a + 1).GetValue(r);
      // avg(decimal) has 6 decimals in Spark: compare within rounding.
      if (a == 6 && !ours.is_null()) {
        EXPECT_NEAR(ours.AsDouble(), j["c6"].get<double>(), 1e-6) << "group " << key;
        continue;
      }
      EXPECT_TRUE(SameValue(ours, j["c" + std::to_string(a)], &why)) << "group " << key << " aggregate " << a << ": " << why;
    }
    ++groups;
  }
  EXPECT_EQ(groups, static_cast<size_t>(result.num_rows()));
}

TEST(DuckDBDifferential, LeftJoin) {
  REQUIRE_DUCKDB();
  const Data& data = GetData();
  const Schema& s = data.batch.schema();
  // Self-join on k = j (both with NULLs) with a residual i < l.
  Schema right = s;
  auto join = HashJoin::Make(JoinType::kLeft, s, right, {expr::Bind(*Col("k"), s).value()},
                             {expr::Bind(*Col("j"), right).value()}, std::nullopt)
                  .value();
  Schema out_schema = join->output_schema();
  BindContext ctx;
  ctx.qualifiers = {{"a", 0, static_cast<int>(s.size())}, {"b", static_cast<int>(s.size()), static_cast<int>(2 * s.size())}};
  auto residual = expr::Bind(*Call("<", {Col("i", "a"), Col("i", "b")}), out_schema, ctx);
  ASSERT_TRUE(residual.ok()) << residual.status().ToString();
  join = HashJoin::Make(JoinType::kLeft, s, right, {expr::Bind(*Col("k"), s).value()},
                        {expr::Bind(*Col("j"), right).value()}, *residual)
             .value();
  ASSERT_TRUE(join->Build(data.batch).ok());
  ASSERT_TRUE(join->FinishBuild().ok());
  auto out = join->Probe(data.batch);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  std::multiset<std::string> ours;
  for (int64_t r = 0; r < out->num_rows(); ++r) {
    ours.insert(out->column(0).GetValue(r).ToString() + "|" + out->column(s.size()).GetValue(r).ToString());
  }
  std::string from = From();
  std::string sql = "WITH t AS (SELECT *" + from + ") SELECT a.id AS x, b.id AS y FROM t AS a LEFT JOIN t AS b ON a.k = b.j AND a.i < b.i";
  auto duck = testing::RunDuckDB(sql);
  ASSERT_TRUE(duck.ok()) << duck.status().ToString();
  std::multiset<std::string> theirs;
  std::istringstream lines(*duck);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    theirs.insert((j["x"].is_null() ? "NULL" : j["x"].dump()) + "|" + (j["y"].is_null() ? "NULL" : j["y"].dump()));
  }
  EXPECT_EQ(ours.size(), theirs.size());
  EXPECT_TRUE(ours == theirs);
}

}  // namespace
}  // namespace lakepipe::operators
