// The aggregate registry and accumulators: every signature has an accumulator; each
// aggregate's values on hand-checked rows; merging exported states in order equals one
// pass over all rows (what incremental views rely on); grouping sets equal one plain
// aggregate per set; HyperLogLog++ within its error bound.
#include "operators/aggregate_functions.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "expr/aggregate_functions.h"
#include "expr/test_util.h"
#include "operators/deduplicate.h"
#include "operators/hash_aggregate.h"

namespace lakepipe::operators {
namespace {

using expr::BindContext;
using expr::BoundExpr;
using expr::Expr;
using expr::ExprPtr;
using expr::test::Bool;
using expr::test::Call;
using expr::test::Col;
using expr::test::Dbl;
using expr::test::SortedRows;

const char kDDL[] = "k STRING, v INT, d DOUBLE, b BOOLEAN, s STRING";

Result<BoundExpr> BindAgg(const ExprPtr& e, const Schema& s) {
  BindContext ctx;
  ctx.allow_aggregates = true;
  return expr::Bind(*e, s, ctx);
}

ExprPtr WithFilter(ExprPtr call, ExprPtr filter) {
  auto e = std::make_shared<Expr>(*call);
  e->filter = std::move(filter);
  return e;
}

std::unique_ptr<HashAggregate> Make(const std::vector<ExprPtr>& keys, const std::vector<ExprPtr>& aggs,
                                    std::vector<int64_t> grouping_ids = {}) {
  Schema s = Schema::ParseDDL(kDDL).value();
  std::vector<BoundExpr> bk, ba;
  std::vector<std::string> kn;
  for (const auto& k : keys) {
    auto b = expr::Bind(*k, s);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    bk.push_back(*b);
    kn.push_back(k->ToString());
  }
  for (const auto& a : aggs) {
    auto b = BindAgg(a, s);
    EXPECT_TRUE(b.ok()) << a->ToString() << ": " << b.status().ToString();
    ba.push_back(*b);
  }
  auto agg = HashAggregate::Make(bk, kn, ba, {}, std::move(grouping_ids));
  EXPECT_TRUE(agg.ok()) << agg.status().ToString();
  return agg.ok() ? std::move(*agg) : nullptr;
}

// One row per group: the values as text.
std::vector<std::string> RunAll(HashAggregate& agg, const std::vector<RecordBatch>& batches) {
  for (const auto& b : batches) EXPECT_TRUE(agg.Push(b).ok());
  auto out = agg.Finish();
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? SortedRows(*out) : std::vector<std::string>{};
}

TEST(AggregateRegistry, EverySignatureHasAnAccumulator) {
  auto names = expr::AggregateFunctionNames();
  ASSERT_GE(names.size(), 20u);
  for (const auto& name : names) {
    const expr::AggregateSignature* sig = expr::FindAggregate(name);
    ASSERT_NE(sig, nullptr) << name;
    EXPECT_TRUE(HasAccumulator(sig->name)) << name;
  }
  EXPECT_EQ(expr::FindAggregate("STD")->name, "stddev_samp");
  EXPECT_EQ(expr::FindAggregate("approx_percentile")->name, "percentile_approx");
  EXPECT_EQ(expr::FindAggregate("upper"), nullptr);
}

RecordBatch HandRows() {
  // Input order matters for first/last/collect_list: g1's rows in this order.
  return expr::test::MakeBatch(kDDL, {
      {Value::String("g1"), Value::Null(), Value::Double(1), Value::Bool(true), Value::String("x")},
      {Value::String("g1"), Value::Int(5, TypeId::kInt), Value::Double(2), Value::Bool(false), Value::String("y")},
      {Value::String("g1"), Value::Int(9, TypeId::kInt), Value::Double(4), Value::Bool(true), Value::String("x")},
      {Value::String("g1"), Value::Int(9, TypeId::kInt), Value::Double(7), Value::Null(), Value::String("z")},
      {Value::String("g1"), Value::Int(2, TypeId::kInt), Value::Null(), Value::Bool(true), Value::Null()},
      {Value::String("g2"), Value::Int(3, TypeId::kInt), Value::Double(10), Value::Bool(false), Value::String("w")},
  });
}

TEST(AggregateFunctions, HandCheckedValues) {
  struct Case {
    ExprPtr call;
    std::string g1, g2;
  };
  std::vector<Case> cases = {
      {Call("count_if", {Col("b")}), "3", "0"},
      {Call("first", {Col("v")}), "NULL", "3"},
      {Call("first", {Col("v"), Bool(true)}), "5", "3"},
      {Call("first_value", {Col("v"), Bool(true)}), "5", "3"},
      {Call("last", {Col("d")}), "NULL", "10.0"},
      {Call("last", {Col("d"), Bool(true)}), "7.0", "10.0"},
      {Call("any_value", {Col("s")}), "x", "w"},
      {Call("max_by", {Col("s"), Col("v")}), "x", "w"},  // 9 twice: the earlier row wins
      {Call("min_by", {Col("s"), Col("v")}), "NULL", "w"},
      {Call("min_by", {Col("d"), Col("v")}), "NULL", "10.0"},
      {Call("collect_list", {Col("v")}), "[5, 9, 9, 2]", "[3]"},
      {Call("collect_set", {Col("s")}), "[x, y, z]", "[w]"},
      {Call("var_pop", {Col("d")}), "5.25", "0.0"},
      {Call("var_samp", {Col("d")}), "7.0", "NULL"},
      {Call("stddev_samp", {Col("d")}), "2.64575", "NULL"},
      {Call("percentile", {Col("d"), Dbl(0.5)}), "3.0", "10.0"},
      {Call("percentile", {Col("d"), Dbl(0.25)}), "1.75", "10.0"},
      {Call("percentile_approx", {Col("v"), Dbl(0.5)}), "5", "3"},
      {Call("approx_percentile", {Col("v"), Dbl(1.0)}), "9", "3"},
      {Call("approx_count_distinct", {Col("s")}), "3", "1"},
      {WithFilter(Call("sum", {Col("v")}), Col("b")), "11", "NULL"},
      {WithFilter(Call("count", {}), Col("b")), "3", "0"},
      {WithFilter(Call("collect_list", {Col("s")}), Expr::Call(">", {Col("d"), Dbl(1.5)})), "[y, x, z]", "[w]"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.call->ToString());
    auto agg = Make({Col("k")}, {c.call});
    ASSERT_NE(agg, nullptr);
    auto rows = RunAll(*agg, {HandRows()});
    ASSERT_EQ(rows.size(), 2u);
    std::string g1 = rows[0].substr(3), g2 = rows[1].substr(3);
    // Numbers up to rounding (Spark's moment updates are not exact either).
    auto same = [](const std::string& got, const std::string& want) {
      char* end = nullptr;
      double w = std::strtod(want.c_str(), &end);
      if (want.empty() || *end != '\0' || want.find('.') == std::string::npos) return got == want;
      return std::abs(std::strtod(got.c_str(), nullptr) - w) < 1e-4;
    };
    EXPECT_TRUE(same(g1, c.g1)) << g1 << " vs " << c.g1;
    EXPECT_TRUE(same(g2, c.g2)) << g2 << " vs " << c.g2;
  }
}

TEST(AggregateFunctions, BindErrorsNameTheProblem) {
  Schema s = Schema::ParseDDL(kDDL).value();
  struct Case {
    ExprPtr call;
    std::string message;
  };
  std::vector<Case> cases = {
      {Call("percentile", {Col("d"), Dbl(1.5)}), "between 0.0 and 1.0"},
      {Call("percentile", {Col("d"), Col("d")}), "must be a non-NULL double constant"},
      {Call("approx_count_distinct", {Col("s"), Dbl(0.5)}), "at most 0.39"},
      {Call("count_if", {Col("v")}), "needs a boolean argument"},
      {Call("first", {Col("v"), Col("b")}), "ignoreNulls"},
      {Call("max_by", {Col("v")}), "takes 2 arguments"},
      {Call("stddev", {Col("b")}), "needs a numeric argument"},
      {Expr::Call("collect_list", {Col("v")}, {}, true), "DISTINCT"},
      {WithFilter(Call("sum", {Col("v")}), Col("v")), "not boolean"},
  };
  for (const auto& c : cases) {
    auto b = BindAgg(c.call, s);
    ASSERT_FALSE(b.ok()) << c.call->ToString();
    EXPECT_NE(b.status().message().find(c.message), std::string::npos) << b.status().ToString();
  }
}

std::vector<ExprPtr> AllAggregates() {
  return {Call("count_if", {Col("b")}),
          Call("first", {Col("v")}),
          Call("first", {Col("s"), Bool(true)}),
          Call("last", {Col("v")}),
          Call("last", {Col("s"), Bool(true)}),
          Call("any_value", {Col("d")}),
          Call("max_by", {Col("s"), Col("v")}),
          Call("min_by", {Col("v"), Col("d")}),
          Call("collect_list", {Col("v")}),
          Call("collect_set", {Col("s")}),
          Call("approx_count_distinct", {Col("s")}),
          Call("percentile", {Col("v"), Dbl(0.3)}),
          Call("percentile_approx", {Col("d"), Dbl(0.9)}),
          WithFilter(Call("count", {}), Col("b")),
          WithFilter(Call("max", {Col("s")}), Expr::Call("<", {Col("v"), expr::test::Int(0)})),
          Expr::Call("count", {Col("s")}, {}, true)};
}

RecordBatch RandomBatch(std::mt19937_64& rng, int rows) {
  std::vector<std::vector<Value>> data;
  for (int i = 0; i < rows; ++i) {
    auto pick = [&](int n) { return static_cast<int64_t>(rng() % static_cast<uint64_t>(n)); };
    auto maybe_null = [&](Value v) { return pick(6) == 0 ? Value::Null() : v; };
    data.push_back({maybe_null(Value::String("g" + std::to_string(pick(5)))),
                    maybe_null(Value::Int(pick(100) - 50, TypeId::kInt)),
                    maybe_null(Value::Double(static_cast<double>(pick(400) - 200) / 4)),
                    maybe_null(Value::Bool(pick(2) == 0)),
                    maybe_null(Value::String("s" + std::to_string(pick(40))))});
  }
  return expr::test::MakeBatch(kDDL, data);
}

// Each batch aggregated alone, its state exported and merged in batch order, must give
// exactly the rows of one pass — for order-sensitive aggregates too.
void CheckMergeEqualsOnePass(const std::vector<ExprPtr>& keys, const std::vector<int64_t>& grouping_ids) {
  std::mt19937_64 rng(42);
  std::vector<RecordBatch> batches;
  for (int i = 0; i < 9; ++i) batches.push_back(RandomBatch(rng, 1 + static_cast<int>(rng() % 150)));
  auto one_pass = Make(keys, AllAggregates(), grouping_ids);
  auto expected = RunAll(*one_pass, batches);
  ASSERT_GE(expected.size(), keys.empty() ? 1u : 4u);
  auto merged = Make(keys, AllAggregates(), grouping_ids);
  for (const auto& b : batches) {
    auto part = Make(keys, AllAggregates(), grouping_ids);
    ASSERT_TRUE(part->Push(b).ok());
    auto state = part->ExportState();
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    ASSERT_EQ(state->schema().size(), merged->state_schema().size());
    ASSERT_TRUE(merged->MergeState(*state).ok());
  }
  EXPECT_EQ(RunAll(*merged, {}), expected);
}

// count(DISTINCT) through a pair set (as incremental views count) skips a row whose
// (group, value) equals the row before it: runs of repeated pairs, NULLs inside runs,
// -0.0 beside 0.0, a run across a batch boundary and a value repeated in another group
// must count as the aggregate's own in-memory sets count them.
TEST(AggregateFunctions, DistinctCountsThroughAPairSetEqualTheirOwnSets) {
  std::mt19937_64 rng(7);
  std::vector<RecordBatch> batches;
  std::vector<Value> last = {Value::String("g0"), Value::Int(1, TypeId::kInt), Value::Double(0.0), Value::Bool(true),
                             Value::String("s0")};
  for (int b = 0; b < 6; ++b) {
    std::vector<std::vector<Value>> data;
    for (int i = 0; i < 200; ++i) {
      auto pick = [&](int n) { return static_cast<int64_t>(rng() % static_cast<uint64_t>(n)); };
      std::vector<Value> row = last;
      if (pick(4) == 0) row[0] = Value::String("g" + std::to_string(pick(3)));
      if (pick(3) == 0) row[1] = pick(5) == 0 ? Value::Null() : Value::Int(pick(20), TypeId::kInt);
      if (pick(3) == 0) row[2] = pick(5) == 0 ? Value::Null() : Value::Double(pick(2) ? -0.0 : static_cast<double>(pick(4)));
      if (pick(3) == 0) row[4] = pick(5) == 0 ? Value::Null() : Value::String("s" + std::to_string(pick(20)));
      data.push_back(row);
      last = row;
    }
    batches.push_back(expr::test::MakeBatch(kDDL, data));
  }
  auto aggs = [] {
    return std::vector<ExprPtr>{Expr::Call("count", {Col("v")}, {}, true), Expr::Call("count", {Col("d")}, {}, true),
                                Expr::Call("count", {Col("s")}, {}, true)};
  };
  for (const auto& keys : {std::vector<ExprPtr>{Col("k")}, std::vector<ExprPtr>{}}) {
    auto own = Make(keys, aggs());
    auto expected = RunAll(*own, batches);
    auto through = Make(keys, aggs());
    auto changed = through->CountDistinctThrough(std::make_shared<InMemorySeenKeySet>());
    ASSERT_TRUE(changed.ok()) << changed.status().ToString();
    EXPECT_EQ(*changed, 3);
    EXPECT_EQ(RunAll(*through, batches), expected);
    ASSERT_GE(expected.size(), keys.empty() ? 1u : 3u);
  }
}

TEST(AggregateFunctions, MergedStatesEqualOnePass) { CheckMergeEqualsOnePass({Col("k")}, {}); }
TEST(AggregateFunctions, MergedGlobalStatesEqualOnePass) { CheckMergeEqualsOnePass({}, {}); }
TEST(AggregateFunctions, MergedGroupingSetStatesEqualOnePass) { CheckMergeEqualsOnePass({Col("k"), Col("b")}, {0, 1, 3}); }

// Variance merges with Chan's formula: equal to one pass up to rounding.
TEST(AggregateFunctions, MergedMomentsMatchOnePass) {
  std::mt19937_64 rng(3);
  std::vector<RecordBatch> batches;
  for (int i = 0; i < 7; ++i) batches.push_back(RandomBatch(rng, 50 + static_cast<int>(rng() % 100)));
  std::vector<ExprPtr> aggs = {Call("stddev_samp", {Col("d")}), Call("stddev_pop", {Col("v")}),
                               Call("var_samp", {Col("v")}), Call("var_pop", {Col("d")})};
  auto one = Make({Col("k")}, aggs);
  for (const auto& b : batches) ASSERT_TRUE(one->Push(b).ok());
  auto merged = Make({Col("k")}, aggs);
  for (const auto& b : batches) {
    auto part = Make({Col("k")}, aggs);
    ASSERT_TRUE(part->Push(b).ok());
    ASSERT_TRUE(merged->MergeState(*part->ExportState()).ok());
  }
  auto a = one->Finish(), m = merged->Finish();
  ASSERT_TRUE(a.ok() && m.ok());
  ASSERT_EQ((*a)[0].num_rows(), (*m)[0].num_rows());
  for (int64_t r = 0; r < (*a)[0].num_rows(); ++r) {
    auto x = (*a)[0].Row(r), y = (*m)[0].Row(r);
    EXPECT_EQ(x[0].ToString(), y[0].ToString());
    for (size_t c = 1; c < x.size(); ++c) {
      ASSERT_FALSE(x[c].is_null());
      EXPECT_NEAR(x[c].double_value(), y[c].double_value(), 1e-9 * std::abs(x[c].double_value())) << c;
    }
  }
}

// ROLLUP(k, b) as grouping sets {k,b}, {k}, {} equals three plain aggregates.
TEST(AggregateFunctions, GroupingSetsEqualOnePlainAggregatePerSet) {
  std::mt19937_64 rng(9);
  std::vector<RecordBatch> batches = {RandomBatch(rng, 200), RandomBatch(rng, 100)};
  std::vector<ExprPtr> aggs = {Call("count", {}), Call("sum", {Col("v")}), Call("collect_set", {Col("s")})};
  auto rollup = Make({Col("k"), Col("b")}, aggs, {0, 1, 3});
  auto rows = RunAll(*rollup, batches);
  std::vector<std::string> expected;
  for (const auto& r : RunAll(*Make({Col("k"), Col("b")}, aggs), batches)) {
    size_t second = r.find('|', r.find('|') + 1);
    expected.push_back(r.substr(0, second) + "|0" + r.substr(second));
  }
  for (const auto& r : RunAll(*Make({Col("k")}, aggs), batches)) {
    size_t first = r.find('|');
    expected.push_back(r.substr(0, first) + "|NULL|1" + r.substr(first));
  }
  for (const auto& r : RunAll(*Make({}, aggs), batches)) expected.push_back("NULL|NULL|3|" + r);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(rows, expected);
  EXPECT_EQ(rollup->output_schema().field(2).name, "_grouping_id");
}

int64_t Estimate(int64_t distinct, double rsd, uint64_t seed) {
  Schema s = Schema::ParseDDL("x BIGINT").value();
  std::vector<ExprPtr> aggs = {rsd > 0 ? Call("approx_count_distinct", {Col("x"), Dbl(rsd)})
                                       : Call("approx_count_distinct", {Col("x")})};
  BindContext ctx;
  ctx.allow_aggregates = true;
  auto b = expr::Bind(*aggs[0], s, ctx);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  auto agg = HashAggregate::Make({}, {}, {*b}, {"n"}).value();
  Column c(DataType::Long());
  for (int64_t i = 0; i < distinct; ++i) {
    int64_t v = static_cast<int64_t>(seed * 1000003 + static_cast<uint64_t>(i) * 7919);
    c.Append<int64_t>(v);
    if (i % 3 == 0) c.Append<int64_t>(v);  // duplicates count once
  }
  int64_t n = c.size();
  RecordBatch batch(s, {MakeColumn(std::move(c))}, n);
  EXPECT_TRUE(agg->Push(batch).ok());
  return agg->Finish().value()[0].column(0).data<int64_t>()[0];
}

TEST(AggregateFunctions, ApproxCountDistinctIsWithinItsErrorBound) {
  EXPECT_EQ(Estimate(0, 0, 1), 0);
  EXPECT_EQ(Estimate(1, 0, 1), 1);
  EXPECT_NEAR(Estimate(10, 0, 1), 10, 1);
  for (uint64_t seed : {1, 2, 3}) {
    for (int64_t n : {1000, 50000}) {
      // Default relativeSD 0.05; the bound is three standard deviations.
      EXPECT_NEAR(static_cast<double>(Estimate(n, 0, seed)), static_cast<double>(n), 0.15 * static_cast<double>(n)) << n;
      EXPECT_NEAR(static_cast<double>(Estimate(n, 0.01, seed)), static_cast<double>(n), 0.03 * static_cast<double>(n)) << n;
    }
  }
  // Deterministic: the same input gives the same estimate.
  EXPECT_EQ(Estimate(20000, 0, 5), Estimate(20000, 0, 5));
}

}  // namespace
}  // namespace lakepipe::operators
