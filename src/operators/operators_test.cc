#include <gtest/gtest.h>

#include "expr/test_util.h"
#include "operators/deduplicate.h"
#include "operators/expectations.h"
#include "operators/filter.h"
#include "operators/hash_aggregate.h"
#include "operators/hash_join.h"
#include "operators/sort.h"
#include "operators/union_all.h"

namespace lakepipe::operators {
namespace {

using expr::BindContext;
using expr::BoundExpr;
using expr::Expr;
using expr::test::Call;
using expr::test::Col;
using expr::test::Int;
using expr::test::MakeBatch;
using expr::test::Str;

Value I(int64_t v) { return Value::Int(v, TypeId::kInt); }
Value S(const std::string& v) { return Value::String(v); }
Value D(double v) { return Value::Double(v); }
Value N() { return Value::Null(); }

BoundExpr B(const expr::ExprPtr& e, const Schema& s, bool aggregates = false) {
  BindContext ctx;
  ctx.allow_aggregates = aggregates;
  auto b = expr::Bind(*e, s, ctx);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return *b;
}

using expr::test::Rows;

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(Filter, KeepsTrueRowsOnly) {
  RecordBatch b = MakeBatch("a INT, s STRING", {{I(1), S("x")}, {N(), S("y")}, {I(5), S("z")}});
  auto out = Filter(b, B(Call(">", {Col("a"), Int(0)}), b.schema()));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(Rows(*out), (std::vector<std::string>{"1|x", "5|z"}));
}

TEST(Project, SharesColumnsAndComputes) {
  RecordBatch b = MakeBatch("a INT, s STRING", {{I(1), S("x")}, {I(2), S("y")}});
  std::vector<BoundExpr> exprs = {B(Col("s"), b.schema()), B(Call("*", {Col("a"), Int(10)}), b.schema())};
  Schema out_schema = ProjectionSchema(exprs, {"s", "a10"});
  auto out = Project(b, exprs, out_schema);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->column_ptr(0), b.column_ptr(1));  // no copy
  EXPECT_EQ(Rows(*out), (std::vector<std::string>{"x|10", "y|20"}));
  EXPECT_EQ(out->schema().field(1).name, "a10");
}

TEST(HashAggregate, GroupsWithNullKeyAndAllAggregates) {
  Schema s = Schema::ParseDDL("k STRING, v INT, d DOUBLE").value();
  std::vector<BoundExpr> aggs = {
      B(Call("count", {}), s, true), B(Call("count", {Col("v")}), s, true),
      B(Expr::Call("count", {Col("v")}, {}, true), s, true), B(Call("sum", {Col("v")}), s, true),
      B(Call("avg", {Col("d")}), s, true), B(Call("min", {Col("v")}), s, true), B(Call("max", {Col("k")}), s, true)};
  auto agg = HashAggregate::Make({B(Col("k"), s)}, {"k"}, aggs, {"n", "nv", "nd", "sv", "ad", "mn", "mx"});
  ASSERT_TRUE(agg.ok()) << agg.status().ToString();
  // Two batches: state carries across.
  ASSERT_TRUE((*agg)->Push(MakeBatch("k STRING, v INT, d DOUBLE", {{S("a"), I(1), D(1)}, {N(), I(2), D(2)}, {S("a"), I(1), D(3)}})).ok());
  ASSERT_TRUE((*agg)->Push(MakeBatch("k STRING, v INT, d DOUBLE", {{S("a"), N(), D(5)}, {N(), I(7), N()}, {S("b"), N(), N()}})).ok());
  auto out = (*agg)->Finish();
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Sorted(Rows((*out)[0])), Sorted({"a|3|2|1|2|3.0|1|a", "NULL|2|2|2|9|2.0|2|NULL", "b|1|0|0|NULL|NULL|NULL|b"}));
  EXPECT_EQ((*out)[0].schema().field(3).type, DataType::Long());
}

TEST(HashAggregate, GlobalAggregateOfNoRowsHasOneRow) {
  Schema s = Schema::ParseDDL("v INT").value();
  auto agg = HashAggregate::Make({}, {}, {B(Call("count", {}), s, true), B(Call("sum", {Col("v")}), s, true)}, {"n", "s"});
  ASSERT_TRUE(agg.ok());
  auto out = (*agg)->Finish();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(Rows((*out)[0]), (std::vector<std::string>{"0|NULL"}));
}

TEST(HashAggregate, SumOverflowIsAnError) {
  Schema s = Schema::ParseDDL("v BIGINT").value();
  auto agg = HashAggregate::Make({}, {}, {B(Call("sum", {Col("v")}), s, true)}, {"s"});
  ASSERT_TRUE(agg.ok());
  Status st = (*agg)->Push(MakeBatch("v BIGINT", {{Value::Int(INT64_MAX)}, {Value::Int(1)}}));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("ARITHMETIC_OVERFLOW"), std::string::npos);
}

TEST(HashAggregate, MergedStateEqualsAggregatingTheUnion) {
  Schema s = Schema::ParseDDL("k INT, v DECIMAL(10,2), c STRING").value();
  auto make = [&] {
    return HashAggregate::Make({B(Col("k"), s)}, {"k"},
                               {B(Call("sum", {Col("v")}), s, true), B(Call("avg", {Col("v")}), s, true),
                                B(Expr::Call("count", {Col("c")}, {}, true), s, true), B(Call("max", {Col("c")}), s, true)},
                               {"sv", "av", "dc", "mc"})
        .value();
  };
  auto v = [](int64_t cents) { return Value::Decimal(cents, 10, 2); };
  RecordBatch b1 = MakeBatch("k INT, v DECIMAL(10,2), c STRING", {{I(1), v(150), S("x")}, {I(2), v(100), S("y")}, {I(1), v(25), S("x")}});
  RecordBatch b2 = MakeBatch("k INT, v DECIMAL(10,2), c STRING", {{I(1), v(10), S("z")}, {I(3), N(), S("y")}, {I(1), v(1), S("x")}});
  auto whole = make();
  ASSERT_TRUE(whole->Push(b1).ok());
  ASSERT_TRUE(whole->Push(b2).ok());
  auto expected = whole->Finish().value();

  auto part1 = make();
  ASSERT_TRUE(part1->Push(b1).ok());
  auto part2 = make();
  ASSERT_TRUE(part2->Push(b2).ok());
  auto merged = make();
  auto st1 = part1->ExportState();
  ASSERT_TRUE(st1.ok()) << st1.status().ToString();
  EXPECT_EQ(st1->schema().ToDDL(), merged->state_schema().ToDDL());
  ASSERT_TRUE(merged->MergeState(*st1).ok());
  auto st2 = part2->ExportState();
  ASSERT_TRUE(merged->MergeState(*st2).ok());
  auto got = merged->Finish().value();
  EXPECT_EQ(Sorted(Rows(got[0])), Sorted(Rows(expected[0])));
  EXPECT_EQ(Sorted(Rows(got[0])), Sorted({"1|1.86|0.465000|2|z", "2|1.00|1.000000|1|y", "3|NULL|NULL|1|y"}));
}

TEST(HashJoin, InnerAndLeftWithNullKeysAndResidual) {
  Schema l = Schema::ParseDDL("id INT, x STRING").value();
  Schema r = Schema::ParseDDL("rid BIGINT, y STRING").value();
  RecordBatch left = MakeBatch("id INT, x STRING", {{I(1), S("a")}, {I(2), S("b")}, {N(), S("c")}, {I(3), S("d")}});
  RecordBatch right = MakeBatch("rid BIGINT, y STRING", {{Value::Int(1), S("p")}, {Value::Int(1), S("q")}, {Value::Int(3), S("r")}, {N(), S("s")}});
  for (JoinType type : {JoinType::kInner, JoinType::kLeft}) {
    auto j = HashJoin::Make(type, l, r, {B(Col("id"), l)}, {B(Col("rid"), r)}, std::nullopt);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    ASSERT_TRUE((*j)->Build(right).ok());
    ASSERT_TRUE((*j)->FinishBuild().ok());
    auto out = (*j)->Probe(left);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    if (type == JoinType::kInner) {
      EXPECT_EQ(Rows(*out), (std::vector<std::string>{"1|a|1|p", "1|a|1|q", "3|d|3|r"}));
    } else {
      EXPECT_EQ(Rows(*out), (std::vector<std::string>{"1|a|1|p", "1|a|1|q", "2|b|NULL|NULL", "NULL|c|NULL|NULL", "3|d|3|r"}));
    }
  }
  // Residual y <> 'p': the left join keeps row 1 with q, and row 3.
  auto j = HashJoin::Make(JoinType::kLeft, l, r, {B(Col("id"), l)}, {B(Col("rid"), r)}, std::nullopt).value();
  Schema out_schema = j->output_schema();
  auto j2 = HashJoin::Make(JoinType::kLeft, l, r, {B(Col("id"), l)}, {B(Col("rid"), r)},
                           B(Call("<>", {Col("y"), Str("q")}), out_schema));
  ASSERT_TRUE(j2.ok());
  ASSERT_TRUE((*j2)->Build(right).ok());
  ASSERT_TRUE((*j2)->FinishBuild().ok());
  auto out = (*j2)->Probe(left);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(Rows(*out), (std::vector<std::string>{"1|a|1|p", "2|b|NULL|NULL", "NULL|c|NULL|NULL", "3|d|3|r"}));
}

TEST(Sort, SparkNullOrderingAndStableTies) {
  Schema s = Schema::ParseDDL("a INT, b STRING").value();
  RecordBatch b = MakeBatch("a INT, b STRING", {{I(2), S("x")}, {N(), S("y")}, {I(1), S("z")}, {I(2), S("w")}});
  auto asc = Sort::Make(s, {SortKey{B(Col("a"), s), true, std::nullopt}});
  ASSERT_TRUE((*asc)->Push(b).ok());
  EXPECT_EQ(Rows((*asc)->Finish().value()[0]), (std::vector<std::string>{"NULL|y", "1|z", "2|x", "2|w"}));
  auto desc = Sort::Make(s, {SortKey{B(Col("a"), s), false, std::nullopt}, SortKey{B(Col("b"), s), true, std::nullopt}});
  ASSERT_TRUE((*desc)->Push(b).ok());
  EXPECT_EQ(Rows((*desc)->Finish().value()[0]), (std::vector<std::string>{"2|w", "2|x", "1|z", "NULL|y"}));
  auto top = Sort::Make(s, {SortKey{B(Col("a"), s), true, false}}, 2);
  ASSERT_TRUE((*top)->Push(b).ok());
  EXPECT_EQ(Rows((*top)->Finish().value()[0]), (std::vector<std::string>{"1|z", "2|x"}));
}

TEST(Limit, OffsetAndLimitAcrossBatches) {
  RecordBatch b = MakeBatch("a INT", {{I(1)}, {I(2)}, {I(3)}});
  Limit limit(3, 2);
  EXPECT_EQ(Rows(limit.Apply(b)), (std::vector<std::string>{"3"}));
  EXPECT_FALSE(limit.done());
  EXPECT_EQ(Rows(limit.Apply(b)), (std::vector<std::string>{"1", "2"}));
  EXPECT_TRUE(limit.done());
  EXPECT_EQ(limit.Apply(b).num_rows(), 0);
}

TEST(UnionAll, WidensTypes) {
  Schema a = Schema::ParseDDL("x INT, y STRING").value();
  Schema b = Schema::ParseDDL("x BIGINT, y STRING").value();
  auto u = UnionSchema({a, b});
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->field(0).type, DataType::Long());
  auto adapted = AdaptToUnion(MakeBatch("x INT, y STRING", {{I(1), S("a")}}), *u);
  ASSERT_TRUE(adapted.ok());
  EXPECT_EQ(adapted->column(0).type(), DataType::Long());
  EXPECT_EQ(Rows(*adapted), (std::vector<std::string>{"1|a"}));
  EXPECT_FALSE(UnionSchema({a, Schema::ParseDDL("x INT").value()}).ok());
}

TEST(Deduplicate, WithinAndAcrossBatches) {
  Schema s = Schema::ParseDDL("k INT, v STRING").value();
  auto all = Deduplicate::Make(s, {});
  ASSERT_TRUE(all.ok());
  auto out1 = (*all)->Push(MakeBatch("k INT, v STRING", {{I(1), S("a")}, {I(1), S("a")}, {I(1), S("b")}, {N(), S("a")}, {N(), S("a")}}));
  ASSERT_TRUE(out1.ok());
  EXPECT_EQ(Rows(*out1), (std::vector<std::string>{"1|a", "1|b", "NULL|a"}));
  auto out2 = (*all)->Push(MakeBatch("k INT, v STRING", {{I(1), S("b")}, {I(2), S("a")}}));
  EXPECT_EQ(Rows(*out2), (std::vector<std::string>{"2|a"}));
  auto by_key = Deduplicate::Make(s, {0});
  auto out3 = (*by_key)->Push(MakeBatch("k INT, v STRING", {{I(1), S("a")}, {I(1), S("b")}, {I(2), S("c")}}));
  EXPECT_EQ(Rows(*out3), (std::vector<std::string>{"1|a", "2|c"}));
}

TEST(Expectations, ActionsCountsAndQuarantine) {
  Schema s = Schema::ParseDDL("q INT, p DOUBLE").value();
  RecordBatch b = MakeBatch("q INT, p DOUBLE", {{I(1), D(2)}, {I(-1), D(2)}, {I(3), D(-1)}, {N(), D(1)}, {I(-2), D(-2)}});
  std::vector<Expectation> ex = {
      {"positive_quantity", B(Call(">", {Col("q"), Int(0)}), s), ViolationAction::kQuarantine},
      {"positive_price", B(Call(">", {Col("p"), Int(0)}), s), ViolationAction::kDrop},
      {"small", B(Call("<", {Col("q"), Int(2)}), s), ViolationAction::kWarn}};
  auto r = ApplyExpectations(b, ex);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Rows(r->kept), (std::vector<std::string>{"1|2.0", "NULL|1.0"}));  // NULL passes
  EXPECT_EQ(Rows(r->quarantined), (std::vector<std::string>{"-1|2.0|[positive_quantity]",
                                                            "-2|-2.0|[positive_quantity, positive_price]"}));
  ASSERT_EQ(r->counts.size(), 3u);
  EXPECT_EQ(r->counts[0].failed, 2);
  EXPECT_EQ(r->counts[0].passed, 3);
  EXPECT_EQ(r->counts[1].failed, 2);
  EXPECT_EQ(r->counts[2].failed, 1);
  ex.push_back({"no_negative_price", B(Call(">=", {Col("p"), Int(0)}), s), ViolationAction::kFail});
  auto fail = ApplyExpectations(b, ex);
  ASSERT_FALSE(fail.ok());
  EXPECT_EQ(fail.status().code(), StatusCode::kAborted);
  EXPECT_NE(fail.status().message().find("no_negative_price"), std::string::npos);
  EXPECT_NE(fail.status().message().find("{q: 3, p: -1.0}"), std::string::npos);
}

}  // namespace
}  // namespace lakepipe::operators

namespace lakepipe::operators {
namespace {

TEST(HashAggregate, LiteralAndExpressionKeys) {
  Schema s = Schema::ParseDDL("k STRING, v INT").value();
  expr::BindContext ctx;
  ctx.allow_aggregates = true;
  auto key_null = expr::Bind(*expr::test::Null(), s).value();
  auto key_upper = expr::Bind(*expr::test::Call("upper", {expr::test::Col("k")}), s).value();
  auto count = expr::Bind(*expr::test::Call("count", {}), s, ctx).value();
  auto agg = HashAggregate::Make({key_null, key_upper}, {"n", "u"}, {count}, {"c"});
  ASSERT_TRUE(agg.ok()) << agg.status().ToString();
  ASSERT_TRUE((*agg)->Push(expr::test::MakeBatch("k STRING, v INT", {{Value::String("a"), Value::Null()},
                                                                    {Value::String("A"), Value::Null()},
                                                                    {Value::Null(), Value::Null()}}))
                  .ok());
  auto out = (*agg)->Finish();
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  std::vector<std::string> rows;
  for (int64_t i = 0; i < (*out)[0].num_rows(); ++i) {
    auto r = (*out)[0].Row(i);
    rows.push_back(r[0].ToString() + "|" + r[1].ToString() + "|" + r[2].ToString());
  }
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(rows, (std::vector<std::string>{"NULL|A|2", "NULL|NULL|1"}));
}

}  // namespace
}  // namespace lakepipe::operators

namespace lakepipe::operators {
namespace {

TEST(Deduplicate, WatermarkDropsLateRowsAndExpiresKeys) {
  Schema s = Schema::ParseDDL("k INT, t TIMESTAMP").value();
  auto minutes = [](int64_t m) { return Value::Timestamp(m * 60 * 1000000LL); };
  auto d = Deduplicate::Make(s, {0}, nullptr, DeduplicateWatermark{1, 10 * 60 * 1000000LL});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  auto rows = [](const RecordBatch& b) {
    std::vector<std::string> out;
    for (int64_t i = 0; i < b.num_rows(); ++i) out.push_back(b.Row(i)[0].ToString());
    return out;
  };
  auto b1 = (*d)->Push(expr::test::MakeBatch("k INT, t TIMESTAMP", {{Value::Int(1, TypeId::kInt), minutes(0)},
                                                                    {Value::Int(2, TypeId::kInt), minutes(30)},
                                                                    {Value::Int(1, TypeId::kInt), minutes(1)}}));
  ASSERT_TRUE(b1.ok());
  EXPECT_EQ(rows(*b1), (std::vector<std::string>{"1", "2"}));
  ASSERT_TRUE((*d)->watermark().has_value());
  EXPECT_EQ(*(*d)->watermark(), 20 * 60 * 1000000LL);
  // Key 1 (event time 1 min) expired below the watermark (20 min); key 2 is kept.
  EXPECT_EQ((*d)->seen().size(), 1);
  auto b2 = (*d)->Push(expr::test::MakeBatch("k INT, t TIMESTAMP", {{Value::Int(1, TypeId::kInt), minutes(5)},    // late
                                                                    {Value::Int(1, TypeId::kInt), minutes(25)},   // new again
                                                                    {Value::Int(2, TypeId::kInt), minutes(26)}}));  // duplicate
  ASSERT_TRUE(b2.ok());
  EXPECT_EQ(rows(*b2), (std::vector<std::string>{"1"}));
  EXPECT_FALSE(Deduplicate::Make(s, {0}, nullptr, DeduplicateWatermark{0, 0}).ok());
}

}  // namespace
}  // namespace lakepipe::operators
