#include "expr/eval.h"

#include <gtest/gtest.h>

#include <random>

#include "expr/binder.h"
#include "expr/kernel_state.h"
#include "expr/test_util.h"
#include "types/datetime.h"

namespace lakepipe::expr {
namespace {

using test::Call;
using test::CastAs;
using test::Col;
using test::Dbl;
using test::Eval;
using test::Eval1;
using test::Int;
using test::Long;
using test::MakeBatch;
using test::Null;
using test::Str;

std::string Text(const Value& v) { return v.ToString(); }

std::string EvalText(const ExprPtr& e) {
  auto v = Eval1(e);
  if (!v.ok()) return "ERROR: " + v.status().message();
  return Text(*v);
}

TEST(Binder, ResolvesColumnsCaseInsensitivelyAndListsAlternatives) {
  Schema s = Schema::ParseDDL("Price DOUBLE, Quantity INT").value();
  auto b = Bind(*Col("price"), s);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->column_index, 0);
  EXPECT_EQ(b->type, DataType::Double());
  auto missing = Expr::Column("Prise", "", SourcePos{3, 14});
  auto err = Bind(*missing, s);
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.status().message(), "3:14: column `Prise` not found; available: Price, Quantity");
}

TEST(Binder, QualifiersSelectColumnRanges) {
  // Duplicate names are legal in a join's input (DDL refuses them, so build it directly).
  Schema s({Field{"id", DataType::Int()}, Field{"name", DataType::String()}, Field{"id", DataType::Int()},
            Field{"country", DataType::String()}});
  BindContext ctx;
  ctx.qualifiers = {{"o", 0, 2}, {"c", 2, 4}};
  auto b = Bind(*Col("id", "c"), s, ctx);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->column_index, 2);
  auto ambiguous = Bind(*Col("id"), s, ctx);
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_NE(ambiguous.status().message().find("ambiguous"), std::string::npos);
  auto unknown = Bind(*Col("id", "x"), s, ctx);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("available: o, c"), std::string::npos);
}

TEST(Binder, UnknownFunctionIsNotSupported) {
  auto b = Bind(*Expr::Call("foo", {Int(1)}, SourcePos{1, 8}), Schema());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(b.status().message().find("1:8: function `foo` is not supported"), std::string::npos);
}

TEST(Binder, CoercionAndResultTypes) {
  Schema s = Schema::ParseDDL("i INT, l BIGINT, d DOUBLE, m DECIMAL(10,2), s STRING, dt DATE").value();
  auto type_of = [&](const ExprPtr& e) {
    auto b = Bind(*e, s);
    return b.ok() ? b->type.ToString() : "ERROR " + b.status().message();
  };
  EXPECT_EQ(type_of(Call("+", {Col("i"), Col("l")})), "bigint");
  EXPECT_EQ(type_of(Call("/", {Col("i"), Col("i")})), "double");
  EXPECT_EQ(type_of(Call("*", {Col("m"), Col("m")})), "decimal(21,4)");
  EXPECT_EQ(type_of(Call("+", {Col("m"), Col("i")})), "decimal(13,2)");
  EXPECT_EQ(type_of(Call("/", {Col("m"), Col("m")})), "decimal(23,13)");
  EXPECT_EQ(type_of(Call("+", {Col("m"), Col("d")})), "double");
  EXPECT_EQ(type_of(Call("+", {Col("s"), Col("i")})), "double");
  EXPECT_EQ(type_of(Call("coalesce", {Col("i"), Col("l"), Null()})), "bigint");
  EXPECT_EQ(type_of(Call("case", {Call("=", {Col("i"), Int(1)}), Col("i"), Col("d")})), "double");
  EXPECT_EQ(type_of(Call("=", {Col("dt"), Str("2020-01-01")})), "boolean");
  EXPECT_EQ(type_of(Call("+", {Col("dt"), Int(1)})), "date");
  EXPECT_EQ(type_of(Call("round", {Col("m"), Int(1)})), "decimal(10,1)");
  EXPECT_NE(type_of(Call("+", {Col("dt"), Col("s")})).find("ERROR"), std::string::npos);
}

TEST(Binder, AggregatesOnlyWhereAllowed) {
  Schema s = Schema::ParseDDL("i INT, m DECIMAL(10,2)").value();
  EXPECT_FALSE(Bind(*Call("sum", {Col("i")}), s).ok());
  BindContext ctx;
  ctx.allow_aggregates = true;
  EXPECT_EQ(Bind(*Call("sum", {Col("i")}), s, ctx)->type, DataType::Long());
  EXPECT_EQ(Bind(*Call("sum", {Col("m")}), s, ctx)->type, DataType::Decimal(20, 2));
  EXPECT_EQ(Bind(*Call("avg", {Col("m")}), s, ctx)->type, DataType::Decimal(14, 6));
  EXPECT_EQ(Bind(*Call("avg", {Col("i")}), s, ctx)->type, DataType::Double());
}

TEST(Eval, ArithmeticNullsAndOverflow) {
  RecordBatch b = MakeBatch("a INT, b INT", {{Value::Int(1, TypeId::kInt), Value::Int(2, TypeId::kInt)},
                                               {Value::Null(), Value::Int(2, TypeId::kInt)},
                                               {Value::Int(7, TypeId::kInt), Value::Int(0, TypeId::kInt)}});
  auto sum = Eval(Call("+", {Col("a"), Col("b")}), b);
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(Text((*sum)[0]), "3");
  EXPECT_TRUE((*sum)[1].is_null());
  auto div = Eval(Call("/", {Col("a"), Col("b")}), b);
  ASSERT_FALSE(div.ok());
  EXPECT_NE(div.status().message().find("DIVIDE_BY_ZERO"), std::string::npos);
  EXPECT_NE(div.status().message().find("(a / b)"), std::string::npos);
  auto try_div = Eval(Call("try_divide", {Col("a"), Col("b")}), b);
  ASSERT_TRUE(try_div.ok());
  EXPECT_EQ(Text((*try_div)[0]), "0.5");
  EXPECT_TRUE((*try_div)[2].is_null());
  EXPECT_NE(EvalText(Call("+", {Int(2147483647), Int(1)})).find("ARITHMETIC_OVERFLOW"), std::string::npos);
  EXPECT_EQ(EvalText(Call("try_add", {Int(2147483647), Int(1)})), "NULL");
  EXPECT_EQ(EvalText(Call("+", {Int(2147483647), Long(1)})), "2147483648");
  EXPECT_EQ(EvalText(Call("%", {Int(-7), Int(3)})), "-1");
  EXPECT_EQ(EvalText(Call("-", {Int(5), Null()})), "NULL");
}

TEST(Eval, CaseOnlyEvaluatesTakenBranches) {
  RecordBatch b = MakeBatch("a INT, b INT", {{Value::Int(6, TypeId::kInt), Value::Int(0, TypeId::kInt)},
                                               {Value::Int(6, TypeId::kInt), Value::Int(3, TypeId::kInt)}});
  auto r = Eval(Call("case", {Call("<>", {Col("b"), Int(0)}), Call("/", {Col("a"), Col("b")}), Dbl(-1)}), b);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Text((*r)[0]), "-1.0");
  EXPECT_EQ(Text((*r)[1]), "2.0");
  auto w = Eval(Call("and", {Call("<>", {Col("b"), Int(0)}), Call(">", {Call("/", {Col("a"), Col("b")}), Int(1)})}), b);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(Text((*w)[0]), "false");
  EXPECT_EQ(Text((*w)[1]), "true");
}

TEST(Eval, ThreeValuedLogicAndNullSafeEquality) {
  auto T = test::Bool(true);
  auto F = test::Bool(false);
  auto N = CastAs(Null(), "boolean");
  EXPECT_EQ(EvalText(Call("and", {N, F})), "false");
  EXPECT_EQ(EvalText(Call("and", {N, T})), "NULL");
  EXPECT_EQ(EvalText(Call("or", {N, T})), "true");
  EXPECT_EQ(EvalText(Call("or", {N, F})), "NULL");
  EXPECT_EQ(EvalText(Call("not", {N})), "NULL");
  EXPECT_EQ(EvalText(Call("=", {Int(1), Null()})), "NULL");
  EXPECT_EQ(EvalText(Call("<=>", {Null(), Null()})), "true");
  EXPECT_EQ(EvalText(Call("<=>", {Int(1), Null()})), "false");
  EXPECT_EQ(EvalText(Call("in", {Int(1), Int(2), Null()})), "NULL");
  EXPECT_EQ(EvalText(Call("in", {Int(2), Int(2), Null()})), "true");
  EXPECT_EQ(EvalText(Call("is_null", {Null()})), "true");
  EXPECT_EQ(EvalText(Call("coalesce", {Null(), Int(3), Int(4)})), "3");
  EXPECT_EQ(EvalText(Call("nullif", {Int(3), Int(3)})), "NULL");
  EXPECT_EQ(EvalText(Call("if", {Call("=", {Int(1), Null()}), Str("y"), Str("n")})), "n");
}

TEST(Eval, Casts) {
  EXPECT_EQ(EvalText(CastAs(Str(" 42 "), "int")), "42");
  EXPECT_EQ(EvalText(CastAs(Str("1.9"), "int")), "1");
  EXPECT_NE(EvalText(CastAs(Str("abc"), "int")).find("CAST_INVALID_INPUT"), std::string::npos);
  EXPECT_EQ(EvalText(CastAs(Str("abc"), "int", true)), "NULL");
  EXPECT_NE(EvalText(CastAs(Str("300"), "tinyint")).find("CAST_OVERFLOW"), std::string::npos);
  EXPECT_EQ(EvalText(CastAs(Str("2019-12-9"), "date")), "2019-12-09");
  EXPECT_EQ(EvalText(CastAs(Str("2019-12-09 10:05:00"), "timestamp")), "2019-12-09 10:05:00");
  EXPECT_EQ(EvalText(CastAs(Str("12.345"), "decimal(5,2)")), "12.35");
  EXPECT_EQ(EvalText(CastAs(Dbl(1.0), "string")), "1.0");
  EXPECT_EQ(EvalText(CastAs(Dbl(1e7), "string")), "1.0E7");
  EXPECT_EQ(EvalText(CastAs(Dbl(0.0001), "string")), "1.0E-4");
  EXPECT_EQ(EvalText(CastAs(Dbl(123.456), "string")), "123.456");
  EXPECT_EQ(EvalText(CastAs(Str("yes"), "boolean")), "true");
  EXPECT_EQ(EvalText(CastAs(Dbl(3.99), "int")), "3");
  EXPECT_NE(EvalText(CastAs(Dbl(3e10), "int")).find("CAST_OVERFLOW"), std::string::npos);
}

TEST(Eval, StringFunctions) {
  EXPECT_EQ(EvalText(Call("upper", {Str("abc")})), "ABC");
  EXPECT_EQ(EvalText(Call("trim", {Str("  a b  ")})), "a b");
  EXPECT_EQ(EvalText(Call("concat", {Str("a"), Int(1)})), "a1");
  EXPECT_EQ(EvalText(Call("concat", {Str("a"), Null()})), "NULL");
  EXPECT_EQ(EvalText(Call("concat_ws", {Str("-"), Str("a"), Null(), Str("b")})), "a-b");
  EXPECT_EQ(EvalText(Call("substring", {Str("Spark SQL"), Int(5)})), "k SQL");
  EXPECT_EQ(EvalText(Call("substring", {Str("Spark SQL"), Int(-3)})), "SQL");
  EXPECT_EQ(EvalText(Call("substring", {Str("Spark SQL"), Int(5), Int(1)})), "k");
  EXPECT_EQ(EvalText(Call("substring", {Str("Spark SQL"), Int(0), Int(2)})), "Sp");
  EXPECT_EQ(EvalText(Call("length", {Str("héllo")})), "5");
  EXPECT_EQ(EvalText(Call("split_part", {Str("11.12.13"), Str("."), Int(3)})), "13");
  EXPECT_EQ(EvalText(Call("split_part", {Str("11.12.13"), Str("."), Int(-1)})), "13");
  EXPECT_EQ(EvalText(Call("split_part", {Str("11.12.13"), Str("."), Int(5)})), "");
  EXPECT_EQ(EvalText(Call("replace", {Str("ABCabc"), Str("abc"), Str("DEF")})), "ABCDEF");
  EXPECT_EQ(EvalText(Call("lpad", {Str("hi"), Int(5), Str("ab")})), "abahi");
  EXPECT_EQ(EvalText(Call("rpad", {Str("hi"), Int(1)})), "h");
  EXPECT_EQ(EvalText(Call("regexp_replace", {Str("100-200"), Str("(\\d+)"), Str("num")})), "num-num");
  EXPECT_EQ(EvalText(Call("like", {Str("Spark"), Str("_park")})), "true");
  EXPECT_EQ(EvalText(Call("like", {Str("a%b"), Str("a\\%b")})), "true");
  EXPECT_EQ(EvalText(Call("like", {Str("axb"), Str("a\\%b")})), "false");
  EXPECT_EQ(EvalText(Call("like", {Str("abcabd"), Str("%abd")})), "true");
  EXPECT_EQ(EvalText(Call("ilike", {Str("SPARK"), Str("sp%")})), "true");
  EXPECT_EQ(EvalText(Call("rlike", {Str("abc123"), Str("[0-9]+$")})), "true");
}

TEST(Eval, DateFunctions) {
  EXPECT_EQ(EvalText(Call("to_timestamp", {Str("12/9/2019 8:05"), Str("M/d/yyyy H:mm")})), "2019-12-09 08:05:00");
  EXPECT_EQ(EvalText(Call("to_date", {Str("09/12/2019"), Str("dd/MM/yyyy")})), "2019-12-09");
  EXPECT_NE(EvalText(Call("to_date", {Str("bad"), Str("dd/MM/yyyy")})).find("CANNOT_PARSE"), std::string::npos);
  EXPECT_EQ(EvalText(Call("try_to_timestamp", {Str("bad"), Str("dd/MM/yyyy")})), "NULL");
  EXPECT_EQ(EvalText(Call("to_date", {Str("2019-12-09 10:00:00")})), "2019-12-09");
  auto ts = CastAs(Str("2019-12-09 10:05:30"), "timestamp");
  EXPECT_EQ(EvalText(Call("date_format", {ts, Str("yyyy-MM-dd HH:mm:ss")})), "2019-12-09 10:05:30");
  EXPECT_EQ(EvalText(Call("date_format", {ts, Str("EEE, MMM d ''yy h a")})), "Mon, Dec 9 '19 10 AM");
  EXPECT_EQ(EvalText(Call("date_trunc", {Str("MONTH"), ts})), "2019-12-01 00:00:00");
  EXPECT_EQ(EvalText(Call("date_trunc", {Str("hour"), ts})), "2019-12-09 10:00:00");
  EXPECT_EQ(EvalText(Call("trunc", {Str("2019-12-09"), Str("YEAR")})), "2019-01-01");
  EXPECT_EQ(EvalText(Call("year", {ts})), "2019");
  EXPECT_EQ(EvalText(Call("dayofweek", {Str("2019-12-09")})), "2");  // a Monday; 1 = Sunday
  EXPECT_EQ(EvalText(Call("hour", {ts})), "10");
  EXPECT_EQ(EvalText(Call("quarter", {ts})), "4");
  EXPECT_EQ(EvalText(Call("weekofyear", {Str("2008-02-20")})), "8");
  EXPECT_EQ(EvalText(Call("datediff", {Str("2009-07-31"), Str("2009-07-30")})), "1");
  EXPECT_EQ(EvalText(Call("date_add", {Str("2016-07-30"), Int(1)})), "2016-07-31");
  EXPECT_EQ(EvalText(Call("months_between", {Str("1997-02-28 10:30:00"), Str("1996-10-30")})), "3.94959677");
}

TEST(Eval, MathFunctions) {
  EXPECT_EQ(EvalText(Call("round", {Dbl(2.5)})), "3.0");
  EXPECT_EQ(EvalText(Call("round", {Dbl(-2.5)})), "-3.0");
  EXPECT_EQ(EvalText(Call("bround", {Dbl(2.5)})), "2.0");
  EXPECT_EQ(EvalText(Call("round", {Dbl(1.005), Int(2)})), "1.01");
  EXPECT_EQ(EvalText(Call("round", {Int(125), Int(-1)})), "130");
  EXPECT_EQ(EvalText(Call("floor", {Dbl(-0.1)})), "-1");
  EXPECT_EQ(EvalText(Call("ceil", {Dbl(-0.1)})), "0");
  EXPECT_EQ(EvalText(Call("abs", {Int(-3)})), "3");
  EXPECT_EQ(EvalText(Call("sqrt", {Int(4)})), "2.0");
  EXPECT_EQ(EvalText(Call("power", {Int(2), Int(10)})), "1024.0");
  EXPECT_EQ(EvalText(Call("greatest", {Int(1), Null(), Int(3)})), "3");
  EXPECT_EQ(EvalText(Call("least", {Int(1), Null(), Int(3)})), "1");
}

TEST(Eval, EvaluateSelectionSkipsNullAndFalse) {
  RecordBatch b = MakeBatch("a INT", {{Value::Int(1, TypeId::kInt)}, {Value::Null()}, {Value::Int(5, TypeId::kInt)}});
  auto bound = Bind(*Call(">", {Col("a"), Int(2)}), b.schema());
  ASSERT_TRUE(bound.ok());
  auto rows = EvaluateSelection(*bound, b);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, std::vector<int32_t>({2}));
}

}  // namespace
}  // namespace lakepipe::expr

namespace lakepipe::expr {
namespace {

using test::Call;
using test::CastAs;
using test::Col;
using test::Eval1;
using test::Int;
using test::Null;
using test::Str;

std::string Txt(const ExprPtr& e) {
  auto v = Eval1(e);
  return v.ok() ? v->ToString() : "ERROR: " + v.status().message();
}

TEST(EvalMore, DecimalArithmeticKeepsSparkScales) {
  auto m = [](const std::string& v) { return CastAs(Str(v), "decimal(10,2)"); };
  EXPECT_EQ(Txt(Call("+", {m("1.25"), m("2.50")})), "3.75");
  EXPECT_EQ(Txt(Call("*", {m("1.25"), m("2.50")})), "3.1250");
  EXPECT_EQ(Txt(Call("/", {m("1.00"), m("3.00")})), "0.3333333333333");
  EXPECT_EQ(Txt(Call("-", {m("1.25"), Int(2)})), "-0.75");
  EXPECT_NE(Txt(Call("/", {m("1.00"), m("0.00")})).find("DIVIDE_BY_ZERO"), std::string::npos);
  EXPECT_EQ(Txt(Call("try_divide", {m("1.00"), m("0.00")})), "NULL");
  EXPECT_EQ(Txt(Call("round", {m("2.45"), Int(1)})), "2.5");
  EXPECT_EQ(Txt(Call("bround", {m("2.45"), Int(1)})), "2.4");
  EXPECT_EQ(Txt(Call("floor", {m("-2.45")})), "-3");
}

TEST(EvalMore, ErrorsNameTheExpressionAndPosition) {
  auto e = Expr::Call("+", {Int(2147483647), Int(1)}, SourcePos{4, 12});
  std::string msg = Txt(e);
  EXPECT_NE(msg.find("4:12:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(2147483647 + 1)"), std::string::npos) << msg;
  EXPECT_NE(Txt(CastAs(Str("1e99"), "bigint")).find("CAST_INVALID_INPUT"), std::string::npos);
  EXPECT_NE(Txt(Call("split_part", {Str("a.b"), Str("."), Int(0)})).find("INVALID_INDEX_OF_ZERO"), std::string::npos);
  EXPECT_NE(Txt(Call("lpad", {Str("a"), Int(2000000000)})).find("too large"), std::string::npos);
  EXPECT_NE(Txt(Call("abs", {Int(-2147483647 - 1)})).find("ARITHMETIC_OVERFLOW"), std::string::npos);
}

TEST(EvalMore, BindErrorsForBadPatternsAndTypes) {
  Schema s = Schema::ParseDDL("d DATE, s STRING").value();
  auto like = Bind(*Call("like", {Col("s"), Str("a\\b")}), s);
  ASSERT_FALSE(like.ok());
  EXPECT_NE(like.status().message().find("escape"), std::string::npos);
  auto fmt = Bind(*Call("to_timestamp", {Col("s"), Str("yyyy-MM-dd HH:mm z")}), s);
  ASSERT_FALSE(fmt.ok());
  EXPECT_EQ(fmt.status().code(), StatusCode::kNotSupported);
  auto arity = Bind(*Call("upper", {Col("s"), Col("s")}), s);
  ASSERT_FALSE(arity.ok());
  EXPECT_NE(arity.status().message().find("takes 1 arguments, got 2"), std::string::npos);
  auto mismatch = Bind(*Call("case", {Call("is_null", {Col("s")}), Col("d"), test::Bool(true)}), s);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("incompatible types"), std::string::npos);
}

TEST(EvalMore, DatetimePatterns) {
  EXPECT_EQ(Txt(Call("to_timestamp", {Str("2019-12-09 10:05:07"), Str("yyyy-MM-dd HH:mm:ss")})), "2019-12-09 10:05:07");
  EXPECT_EQ(Txt(Call("to_timestamp", {Str("2019-12-09 10:05:07.25"), Str("yyyy-MM-dd HH:mm:ss.SS")})), "2019-12-09 10:05:07.25");
  EXPECT_EQ(Txt(Call("to_date", {Str("31/12/2019"), Str("dd/MM/yyyy")})), "2019-12-31");
  // 'dd' needs two digits; 'd' takes one or two.
  EXPECT_EQ(Txt(Call("try_to_timestamp", {Str("9/12/2019"), Str("dd/MM/yyyy")})), "NULL");
  EXPECT_EQ(Txt(Call("to_date", {Str("9/12/2019"), Str("d/MM/yyyy")})), "2019-12-09");
  // An impossible date is not parsed.
  EXPECT_EQ(Txt(Call("try_to_timestamp", {Str("2/30/2019 1:00"), Str("M/d/yyyy H:mm")})), "NULL");
  // Adjacent numeric fields (java.time's adjacent value parsing): the fields after the
  // first take exactly their width, the first what is left.
  EXPECT_EQ(Txt(Call("to_date", {Str("20191209"), Str("yyyyMMdd")})), "2019-12-09");
  EXPECT_EQ(Txt(Call("to_date", {Str("191209"), Str("yyMMdd")})), "2019-12-09");
  EXPECT_EQ(Txt(Call("to_timestamp", {Str("20191209100507"), Str("yyyyMMddHHmmss")})), "2019-12-09 10:05:07");
  EXPECT_EQ(Txt(Call("to_timestamp", {Str("2019-12-09T1005"), Str("yyyy-MM-dd'T'HHmm")})), "2019-12-09 10:05:00");
  EXPECT_EQ(Txt(Call("to_timestamp", {Str("20191209 10:05:07.250"), Str("yyyyMMdd HH:mm:ss.SSS")})), "2019-12-09 10:05:07.25");
  EXPECT_EQ(Txt(Call("try_to_date", {Str("2019129"), Str("yyyyMMdd")})), "NULL");
  EXPECT_EQ(Txt(Call("try_to_date", {Str("20191309"), Str("yyyyMMdd")})), "NULL");
  EXPECT_EQ(Txt(Call("try_to_date", {Str("2019120"), Str("yyyyMMdd")})), "NULL");
  EXPECT_EQ(Txt(Call("to_timestamp", {Str("Dec 9 2019 3:04 PM"), Str("MMM d yyyy h:mm a")})), "2019-12-09 15:04:00");
  auto ts = CastAs(Str("2019-03-04 05:06:07.089"), "timestamp");
  EXPECT_EQ(Txt(Call("date_format", {ts, Str("yyyy/M/d H:m:s.SSS EEEE MMMM D Q")})), "2019/3/4 5:6:7.089 Monday March 63 1");
  EXPECT_EQ(Txt(Call("date_format", {ts, Str("'week' yy")})), "week 19");
  EXPECT_EQ(Txt(CastAs(Str("2019-03"), "date")), "2019-03-01");
  EXPECT_EQ(Txt(CastAs(Str("2019-03-04T05:06:07Z"), "timestamp")), "2019-03-04 05:06:07");
  EXPECT_EQ(Txt(CastAs(Str("2019-13-01"), "date", true)), "NULL");
}

TEST(EvalMore, NullPropagationInFunctions) {
  EXPECT_EQ(Txt(Call("upper", {Null()})), "NULL");
  EXPECT_EQ(Txt(Call("substring", {Str("abc"), Null()})), "NULL");
  EXPECT_EQ(Txt(Call("year", {Null()})), "NULL");
  EXPECT_EQ(Txt(Call("round", {Null()})), "NULL");
  EXPECT_EQ(Txt(Call("like", {Null(), Str("a%")})), "NULL");
  EXPECT_EQ(Txt(Call("concat_ws", {Null(), Str("a")})), "NULL");
  EXPECT_EQ(Txt(Call("date_format", {Null(), Str("yyyy")})), "NULL");
  EXPECT_EQ(Txt(Call("to_date", {Null(), Str("yyyy")})), "NULL");
  EXPECT_EQ(Txt(Call("coalesce", {Null(), Null()})), "NULL");
  EXPECT_EQ(Txt(Call("greatest", {Null(), CastAs(Null(), "int")})), "NULL");
}

TEST(EvalMore, Digests) {
  // Known answers (RFC 1321, FIPS 180-2 examples).
  EXPECT_EQ(Txt(Call("md5", {Str("abc")})), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Txt(Call("sha1", {Str("abc")})), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Txt(Call("sha2", {Str("abc"), Int(256)})), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Txt(Call("sha2", {Str("abc"), Int(100)})), "NULL");
  EXPECT_EQ(Txt(Call("md5", {Null()})), "NULL");
}

TEST(EvalMore, NonConstantPatterns) {
  RecordBatch b = test::MakeBatch("s STRING, p STRING", {{Value::String("apple"), Value::String("a%")},
                                                          {Value::String("apple"), Value::String("b%")},
                                                          {Value::String("x1"), Value::String("[0-9]")}});
  auto like = test::Eval(Call("like", {Col("s"), Col("p")}), b);
  ASSERT_TRUE(like.ok());
  EXPECT_EQ((*like)[0].ToString(), "true");
  EXPECT_EQ((*like)[1].ToString(), "false");
  auto rlike = test::Eval(Call("rlike", {Col("s"), Col("p")}), b);
  ASSERT_TRUE(rlike.ok());
  EXPECT_EQ((*rlike)[2].ToString(), "true");
}

}  // namespace
}  // namespace lakepipe::expr

namespace lakepipe::expr {
namespace {

TEST(EvalMore, StructFieldsAndCurrentTimestamp) {
  Schema s = Schema::ParseDDL("id INT, _metadata STRUCT<file_path: STRING, file_size: BIGINT>").value();
  Column ids(DataType::Int());
  Column meta(s.field(1).type);
  for (int i = 0; i < 2; ++i) {
    ids.Append<int32_t>(i);
    meta.child(0).AppendString("/landing/f" + std::to_string(i) + ".csv");
    meta.child(1).Append<int64_t>(100 + i);
    meta.CloseStructRow();
  }
  RecordBatch b = RecordBatch::FromColumns(s, {std::move(ids), std::move(meta)});
  auto path = test::Eval(test::Col("file_path", "_metadata"), b);
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ((*path)[1].ToString(), "/landing/f1.csv");
  auto missing = Bind(*test::Col("nope", "_metadata"), s);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("available: file_path, file_size"), std::string::npos);

  BindContext ctx;
  ctx.current_timestamp_micros = 1575885900000000LL;  // 2019-12-09 10:05:00
  auto now = Bind(*test::Call("current_timestamp", {}), Schema(), ctx);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(EvaluateConstant(*now)->ToString(), "2019-12-09 10:05:00");
  auto today = Bind(*test::Call("current_date", {}), Schema(), ctx);
  EXPECT_EQ(EvaluateConstant(*today)->ToString(), "2019-12-09");
}

// A constant call is evaluated once and repeated: the same values as per row, inside a
// call that also reads a column, and an error of the constant only where there are rows.
TEST(Eval, ConstantCallsAreRepeatedWithTheSameValuesAndErrors) {
  RecordBatch b = MakeBatch("s STRING", {{Value::String("a")}, {Value::Null()}, {Value::String("c")}});
  auto folded = Eval(Call("concat", {Str(","), Str("x"), Str(",")}), b);
  ASSERT_TRUE(folded.ok()) << folded.status().ToString();
  ASSERT_EQ(folded->size(), 3u);
  for (const Value& v : *folded) EXPECT_EQ(v.ToString(), ",x,");
  auto mixed = Eval(Call("concat", {Call("concat", {Str("<"), CastAs(Int(7), "string")}), Col("s")}), b);
  ASSERT_TRUE(mixed.ok()) << mixed.status().ToString();
  EXPECT_EQ((*mixed)[0].ToString(), "<7a");
  EXPECT_TRUE((*mixed)[1].is_null());
  EXPECT_EQ((*mixed)[2].ToString(), "<7c");
  auto null_const = Eval(Call("concat", {Str("a"), Null()}), b);
  ASSERT_TRUE(null_const.ok());
  for (const Value& v : *null_const) EXPECT_TRUE(v.is_null());
  auto error = Eval(Call("concat", {Col("s"), CastAs(Call("/", {Int(1), Int(0)}), "string")}), b);
  ASSERT_FALSE(error.ok());
  EXPECT_NE(error.status().message().find("DIVIDE_BY_ZERO"), std::string::npos);
  RecordBatch empty = MakeBatch("s STRING", {});
  EXPECT_TRUE(Eval(Call("/", {Int(1), Int(0)}), empty).ok());
}

// A literal (and a folded constant) over a batch is built by whole blocks (strings) or
// doubling copies (fixed width): every row holds the value, for sizes below, at and
// across a block of 1,024 rows.
TEST(Eval, StringLiteralsBroadcastToEveryRow) {
  for (int64_t n : {int64_t{1}, int64_t{1023}, int64_t{1024}, int64_t{1025}, int64_t{5000}}) {
    Column ids(DataType::Int());
    for (int64_t i = 0; i < n; ++i) ids.Append<int32_t>(static_cast<int32_t>(i));
    RecordBatch b(Schema::ParseDDL("id INT").value(), {MakeColumn(std::move(ids))}, n);
    for (const ExprPtr& e : {Str("%,"), Call("concat", {Str(","), Str(""), Str(",")}), Str(""), Dbl(2.5), Long(-3)}) {
      auto bound = Bind(*e, b.schema());
      ASSERT_TRUE(bound.ok()) << bound.status().ToString();
      auto c = Evaluate(*bound, b);
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      ASSERT_EQ((*c)->size(), n);
      std::string want = EvaluateConstant(*bound)->ToString();
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ((*c)->GetValue(i).ToString(), want) << "row " << i << " of " << n;
      EXPECT_EQ((*c)->null_count(), 0);
    }
  }
}

// A per-row LIKE pattern is matched without compiling it: the same answers and errors as
// the compiled pattern, for random subjects and patterns over wildcards, escapes and a
// two-byte character, with the default escape and with '%' as the escape.
TEST(Eval, UncompiledLikeAgreesWithTheCompiledPattern) {
  std::mt19937 rng(17);
  const std::vector<std::string> pieces = {"a", "b", ",", "%", "_", "\\", "\xc3\xa9"};
  auto random_text = [&](int max_pieces) {
    std::string t;
    int k = static_cast<int>(rng() % static_cast<unsigned>(max_pieces + 1));
    for (int i = 0; i < k; ++i) t += pieces[rng() % pieces.size()];
    return t;
  };
  int errors = 0, matches = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string subject = random_text(6), pattern = random_text(5);
    for (char escape : {'\\', '%'}) {
      auto compiled = CompilePattern(PatternKind::kLike, pattern, escape);
      auto direct = LikeMatchesUncompiled(subject, pattern, escape);
      ASSERT_EQ(compiled.ok(), direct.ok()) << "'" << subject << "' LIKE '" << pattern << "' escape " << escape;
      if (!compiled.ok()) {
        EXPECT_EQ(compiled.status().message(), direct.status().message());
        ++errors;
        continue;
      }
      bool want = static_cast<const LikePattern*>(compiled->get())->Matches(subject);
      ASSERT_EQ(want, *direct) << "'" << subject << "' LIKE '" << pattern << "' escape " << escape;
      matches += want;
    }
  }
  EXPECT_GT(errors, 100);   // both kinds of case were drawn
  EXPECT_GT(matches, 1000);
  // Through the kernel: a pattern built per row.
  RecordBatch b = MakeBatch("s STRING, c STRING", {{Value::String(",x,y,"), Value::String("y")},
                                                  {Value::String(",x,y,"), Value::String("z")},
                                                  {Value::String(",x,y,"), Value::Null()}});
  auto like = Eval(Call("like", {Col("s"), Call("concat", {Str("%,"), Col("c"), Str(",%")})}), b);
  ASSERT_TRUE(like.ok()) << like.status().ToString();
  EXPECT_EQ((*like)[0].ToString(), "true");
  EXPECT_EQ((*like)[1].ToString(), "false");
  EXPECT_TRUE((*like)[2].is_null());
}

// to_date / try_to_date reuse the previous row's parse when the text repeats: runs of the
// same date, a bad text repeated, NULLs between, and a change back, each as parsed alone.
TEST(Eval, ParsedDatesOfRepeatedTextsAreThoseOfEachText) {
  std::vector<std::string> texts = {"12/9/2019", "12/9/2019", "bad", "bad", "", "12/10/2019", "12/9/2019", "1/1/2020"};
  std::vector<std::vector<Value>> rows;
  for (const auto& t : texts) rows.push_back({t.empty() ? Value::Null() : Value::String(t)});
  RecordBatch b = MakeBatch("d STRING", rows);
  auto parsed = Eval(Call("try_to_date", {Col("d"), Str("M/d/yyyy")}), b);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  for (size_t i = 0; i < texts.size(); ++i) {
    std::string alone = texts[i].empty() ? "NULL" : EvalText(Call("try_to_date", {Str(texts[i]), Str("M/d/yyyy")}));
    EXPECT_EQ((*parsed)[i].ToString(), alone) << "row " << i << " '" << texts[i] << "'";
  }
  EXPECT_EQ((*parsed)[1].ToString(), "2019-12-09");
  EXPECT_TRUE((*parsed)[3].is_null());
  EXPECT_EQ((*parsed)[5].ToString(), "2019-12-10");
  auto strict = Eval(Call("to_date", {Col("d"), Str("M/d/yyyy")}), b);
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.status().message().find("'bad'"), std::string::npos) << strict.status().message();
}

}  // namespace
}  // namespace lakepipe::expr
