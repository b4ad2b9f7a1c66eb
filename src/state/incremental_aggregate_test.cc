#include "state/incremental_aggregate.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "expr/test_util.h"
#include "testing/testing.h"

namespace lakepipe::state {
namespace {

using expr::BindContext;
using expr::BoundExpr;
using expr::Expr;
using expr::test::Call;
using expr::test::Col;
using operators::HashAggregate;

const char kDDL[] = "country STRING, tx STRING, amount DECIMAL(10,2)";

// gold_revenue_by_country's shape: sum, count(*), count(DISTINCT) per country.
Result<std::unique_ptr<HashAggregate>> MakeView() {
  Schema s = Schema::ParseDDL(kDDL).value();
  BindContext agg_ctx;
  agg_ctx.allow_aggregates = true;
  LP_ASSIGN_OR_RETURN(BoundExpr key, expr::Bind(*Col("country"), s));
  LP_ASSIGN_OR_RETURN(BoundExpr sum, expr::Bind(*Call("sum", {Col("amount")}), s, agg_ctx));
  LP_ASSIGN_OR_RETURN(BoundExpr count, expr::Bind(*Call("count", {}), s, agg_ctx));
  LP_ASSIGN_OR_RETURN(BoundExpr orders, expr::Bind(*Expr::Call("count", {Col("tx")}, {}, true), s, agg_ctx));
  return HashAggregate::Make({key}, {"country"}, {sum, count, orders}, {"revenue", "lines", "orders"});
}

RecordBatch Lines(int batch, int n) {
  std::vector<std::vector<Value>> rows;
  for (int i = 0; i < n; ++i) {
    rows.push_back({Value::String(i % 3 == 0 ? "DE" : (i % 3 == 1 ? "FR" : "UK")),
                    Value::String("t" + std::to_string((batch * 7 + i) % 11)),
                    Value::Decimal(100 * batch + i, 10, 2)});
  }
  return expr::test::MakeBatch(kDDL, rows);
}

using expr::test::SortedRows;

// The view recomputed from scratch over batches 0..last.
std::vector<std::string> Recomputed(int last) {
  auto agg = MakeView().value();
  for (int b = 0; b <= last; ++b) EXPECT_TRUE(agg->Push(Lines(b, 10 + b)).ok());
  return SortedRows(agg->Finish().value());
}

std::vector<std::string> Applied(IncrementalAggregate& agg, int64_t batch_id, std::vector<RecordBatch> rows) {
  auto out = agg.Apply(batch_id, rows);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? SortedRows(*out) : std::vector<std::string>{};
}

std::unique_ptr<IncrementalAggregate> OpenView(const std::string& dir) {
  auto agg = IncrementalAggregate::Open(dir, MakeView);
  EXPECT_TRUE(agg.ok()) << agg.status().ToString();
  return agg.ok() ? std::move(*agg) : nullptr;
}

TEST(IncrementalAggregateTest, CrashReplayAbandonAndRestartGiveTheRecomputedView) {
  testing::TempDir dir;
  std::string path = dir.Join("aggregate-0");
  {
    auto view = OpenView(path);
    EXPECT_EQ(Applied(*view, 0, {Lines(0, 10)}), Recomputed(0));
    ASSERT_TRUE(view->Commit(0).ok());
    EXPECT_EQ(Applied(*view, 1, {Lines(1, 11)}), Recomputed(1));
    ASSERT_TRUE(view->Commit(1).ok());
    EXPECT_EQ(Applied(*view, 2, {Lines(2, 12)}), Recomputed(2));
    // Crash: batch 2 was published perhaps, but its state was never committed.
  }
  {
    auto view = OpenView(path);
    EXPECT_EQ(view->committed_batch(), 1);
    EXPECT_EQ(SortedRows(view->aggregate().CurrentResult().value()), Recomputed(1));
    EXPECT_EQ(Applied(*view, 2, {Lines(2, 12)}), Recomputed(2));  // replayed from its plan
    ASSERT_TRUE(view->Commit(2).ok());
  }
  auto view = OpenView(path);
  // Crash after the state commit but before the checkpoint's commit record: batch 2 is
  // replayed again and must not count twice.
  EXPECT_EQ(Applied(*view, 2, {Lines(2, 12)}), Recomputed(2));
  ASSERT_TRUE(view->Commit(2).ok());
  EXPECT_EQ(view->committed_batch(), 2);
  // A failed batch is abandoned, then retried.
  EXPECT_EQ(Applied(*view, 3, {Lines(3, 13)}), Recomputed(3));
  ASSERT_TRUE(view->Abandon().ok());
  EXPECT_EQ(SortedRows(view->aggregate().CurrentResult().value()), Recomputed(2));
  // A batch's rows may come in several calls.
  RecordBatch b3 = Lines(3, 13);
  Applied(*view, 3, {b3.Slice(0, 5)});
  EXPECT_EQ(Applied(*view, 3, {b3.Slice(5, 8)}), Recomputed(3));
  auto wrong = view->Apply(4, {Lines(4, 14)});
  EXPECT_FALSE(wrong.ok());
  ASSERT_TRUE(view->Commit(3).ok());
  // A batch without rows for this aggregate still moves the marker.
  ASSERT_TRUE(view->Commit(4).ok());
  EXPECT_EQ(view->committed_batch(), 4);
  view.reset();
  view = OpenView(path);
  EXPECT_EQ(SortedRows(view->aggregate().CurrentResult().value()), Recomputed(3));
  EXPECT_EQ(view->Size().keys, 3);
}

}  // namespace
}  // namespace lakepipe::state
