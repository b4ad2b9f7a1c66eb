// Incremental use of HashAggregate: CurrentResult between Push / MergeState calls must
// always equal a from-scratch aggregate over every input so far.
#include "operators/hash_aggregate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "expr/test_util.h"

namespace lakepipe::operators {
namespace {

using expr::BindContext;
using expr::BoundExpr;
using expr::Expr;
using expr::test::Call;
using expr::test::Col;

const char kDDL[] = "k STRING, v INT, d DOUBLE, m DECIMAL(12,2), s STRING";

BoundExpr Bound(const expr::ExprPtr& e, const Schema& s, bool aggregate) {
  BindContext ctx;
  ctx.allow_aggregates = aggregate;
  auto b = expr::Bind(*e, s, ctx);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return *b;
}

std::unique_ptr<HashAggregate> MakeAggregate(bool grouped) {
  Schema s = Schema::ParseDDL(kDDL).value();
  std::vector<BoundExpr> keys;
  std::vector<std::string> key_names;
  if (grouped) {
    keys.push_back(Bound(Col("k"), s, false));
    key_names.push_back("k");
  }
  std::vector<BoundExpr> aggs = {
      Bound(Call("count", {}), s, true),
      Bound(Call("count", {Col("v")}), s, true),
      Bound(Expr::Call("count", {Col("s")}, {}, true), s, true),
      Bound(Expr::Call("count", {Col("m")}, {}, true), s, true),
      Bound(Call("sum", {Col("v")}), s, true),
      Bound(Call("sum", {Col("m")}), s, true),
      Bound(Call("avg", {Col("d")}), s, true),
      Bound(Call("avg", {Col("m")}), s, true),
      Bound(Call("min", {Col("s")}), s, true),
      Bound(Call("max", {Col("s")}), s, true),
      Bound(Call("min", {Col("d")}), s, true),
      Bound(Call("max", {Col("v")}), s, true),
  };
  std::vector<std::string> names = {"n", "nv", "nds", "ndm", "sv", "sm", "ad", "am", "mins", "maxs", "mind", "maxv"};
  auto agg = HashAggregate::Make(std::move(keys), std::move(key_names), std::move(aggs), std::move(names));
  EXPECT_TRUE(agg.ok()) << agg.status().ToString();
  return std::move(*agg);
}

// Random rows with NULLs everywhere; doubles are multiples of 1/4 so every sum is exact
// in any order (the comparison is textual).
RecordBatch RandomBatch(std::mt19937_64& rng, int rows) {
  std::vector<std::vector<Value>> data;
  for (int i = 0; i < rows; ++i) {
    auto pick = [&](int n) { return static_cast<int64_t>(rng() % static_cast<uint64_t>(n)); };
    auto maybe_null = [&](Value v) { return pick(8) == 0 ? Value::Null() : v; };
    data.push_back({maybe_null(Value::String("g" + std::to_string(pick(7)))),
                    maybe_null(Value::Int(pick(1000) - 500, TypeId::kInt)),
                    maybe_null(Value::Double(static_cast<double>(pick(400) - 200) / 4)),
                    maybe_null(Value::Decimal(pick(100000) - 50000, 12, 2)),
                    maybe_null(Value::String("s" + std::to_string(pick(30))))});
  }
  return expr::test::MakeBatch(kDDL, data);
}

using expr::test::SortedRows;

std::vector<std::string> FromScratch(bool grouped, const std::vector<RecordBatch>& inputs) {
  auto agg = MakeAggregate(grouped);
  for (const auto& b : inputs) EXPECT_TRUE(agg->Push(b).ok());
  auto out = agg->Finish();
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return SortedRows(*out);
}

void CheckIncremental(bool grouped) {
  std::mt19937_64 rng(grouped ? 7 : 8);
  auto view = MakeAggregate(grouped);
  std::vector<RecordBatch> seen;
  for (int step = 0; step < 12; ++step) {
    RecordBatch batch = RandomBatch(rng, 1 + static_cast<int>(rng() % 200));
    if (step % 3 == 1) {
      ASSERT_TRUE(view->Push(batch).ok());  // rows straight in
    } else {
      auto delta_agg = MakeAggregate(grouped);  // as a micro-batch: aggregate, then merge
      ASSERT_TRUE(delta_agg->Push(batch).ok());
      auto delta = delta_agg->ExportState();
      ASSERT_TRUE(delta.ok()) << delta.status().ToString();
      ASSERT_TRUE(view->MergeState(*delta).ok());
    }
    seen.push_back(batch);
    auto now = view->CurrentResult();
    ASSERT_TRUE(now.ok()) << now.status().ToString();
    ASSERT_EQ(SortedRows(*now), FromScratch(grouped, seen)) << "after step " << step;
    if (!grouped) { ASSERT_EQ((*now)[0].num_rows(), 1); }
  }
  // The data exercised every aggregate: no column of the answer is all NULL or zero.
  auto rows = FromScratch(grouped, seen);
  ASSERT_FALSE(rows.empty());
  for (const auto& r : rows) {
    if (r.rfind("NULL|", 0) == 0) continue;  // the NULL group may be small
    EXPECT_EQ(r.find("|NULL"), std::string::npos) << r;
    EXPECT_EQ(r.find("|0|"), std::string::npos) << r;
  }
  // Finish still ends the stream, with the same answer.
  auto final_rows = view->Finish();
  ASSERT_TRUE(final_rows.ok());
  EXPECT_EQ(SortedRows(*final_rows), FromScratch(grouped, seen));
  EXPECT_FALSE(view->Push(seen[0]).ok());
  EXPECT_FALSE(view->Finish().ok());
  auto after = view->CurrentResult();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(SortedRows(*after), FromScratch(grouped, seen));
}

TEST(HashAggregateIncremental, GroupedCurrentResultEqualsFromScratch) { CheckIncremental(true); }

TEST(HashAggregateIncremental, GlobalCurrentResultEqualsFromScratch) { CheckIncremental(false); }

TEST(HashAggregateIncremental, GlobalAggregateBeforeAnyRowHasOneRow) {
  auto agg = MakeAggregate(false);
  auto out = agg->CurrentResult();
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 1u);
  ASSERT_EQ((*out)[0].num_rows(), 1);
  EXPECT_EQ((*out)[0].Row(0)[0].ToString(), "0");
  EXPECT_TRUE((*out)[0].Row(0)[4].is_null());
}

}  // namespace
}  // namespace lakepipe::operators
