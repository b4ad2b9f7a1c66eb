#include "state/incremental_aggregate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <thread>

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

namespace lakepipe::state {
namespace {

// min/max/count(DISTINCT) per country (NULL a country too): aggregates that cannot take
// a value back, so the groups that lost rows are recomputed instead.
Result<std::unique_ptr<HashAggregate>> MakeExtremes() {
  Schema s = Schema::ParseDDL(kDDL).value();
  BindContext agg_ctx;
  agg_ctx.allow_aggregates = true;
  LP_ASSIGN_OR_RETURN(BoundExpr key, expr::Bind(*Col("country"), s));
  LP_ASSIGN_OR_RETURN(BoundExpr lo, expr::Bind(*Call("min", {Col("amount")}), s, agg_ctx));
  LP_ASSIGN_OR_RETURN(BoundExpr hi, expr::Bind(*Call("max", {Col("tx")}), s, agg_ctx));
  LP_ASSIGN_OR_RETURN(BoundExpr count, expr::Bind(*Call("count", {}), s, agg_ctx));
  LP_ASSIGN_OR_RETURN(BoundExpr distinct, expr::Bind(*Expr::Call("count", {Col("tx")}, {}, true), s, agg_ctx));
  return HashAggregate::Make({key}, {"country"}, {lo, hi, count, distinct}, {"lo", "hi", "n", "txs"});
}

// Random rows live in a "table": each round deletes a few (the groups they leave are
// recomputed from the remaining rows) and adds some; after every round, and after a
// reopen (the snapshot the replacement forced), the state's output equals a fresh
// aggregate over the table's rows.
TEST(IncrementalAggregateTest, RecomputedGroupsEqualAFreshAggregate) {
  testing::TempDir dir;
  const std::string path = dir.Join("aggregate-0");
  std::mt19937 rng(7);
  std::vector<std::vector<Value>> table;
  auto row = [&]() -> std::vector<Value> {
    int c = static_cast<int>(rng() % 9);
    return {c == 8 ? Value::Null() : Value::String("c" + std::to_string(c)), Value::String("t" + std::to_string(rng() % 13)),
            Value::Decimal(static_cast<int64_t>(rng() % 5000), 10, 2)};
  };
  auto batch = [&](const std::vector<std::vector<Value>>& rows) { return expr::test::MakeBatch(kDDL, rows); };
  auto fresh = [&]() {
    auto agg = MakeExtremes().value();
    EXPECT_TRUE(agg->Push(batch(table)).ok());
    return SortedRows(agg->Finish().value());
  };
  std::unique_ptr<IncrementalAggregate> view = IncrementalAggregate::Open(path, MakeExtremes).value();
  for (int i = 0; i < 60; ++i) table.push_back(row());
  ASSERT_EQ(SortedRows(view->Apply(0, {batch(table)}).value()), fresh());
  ASSERT_TRUE(view->Commit(0).ok());
  for (int64_t round = 1; round <= 12; ++round) {
    // Delete 1..4 rows (round 6: every row of one country, which leaves the view).
    std::vector<std::vector<Value>> gone;
    const size_t deletes = 1 + rng() % 4;
    for (size_t d = 0; d < deletes && !table.empty(); ++d) {
      size_t at = rng() % table.size();
      gone.push_back(table[at]);
      table.erase(table.begin() + static_cast<std::ptrdiff_t>(at));
    }
    if (round == 6) {
      for (size_t at = table.size(); at-- > 0;) {
        if (!table[at][0].is_null() && table[at][0].Compare(Value::String("c3")) == 0) {
          gone.push_back(table[at]);
          table.erase(table.begin() + static_cast<std::ptrdiff_t>(at));
        }
      }
    }
    std::vector<std::vector<Value>> added;
    for (int i = 0; i < 5; ++i) added.push_back(row());
    table.insert(table.end(), added.begin(), added.end());
    auto groups = view->GroupsOf({batch(gone)});
    ASSERT_TRUE(groups.ok()) << groups.status().ToString();
    EXPECT_GE(groups->num_rows(), 1);
    EXPECT_LE(groups->num_rows(), static_cast<int64_t>(gone.size()));
    // Given the whole table: only the rows of the groups count.
    auto out = view->ApplyRecomputingGroups(round, {batch(added)}, *groups, {batch(table)}, {batch(gone)});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(SortedRows(*out), fresh()) << "round " << round;
    ASSERT_TRUE(view->Commit(round).ok());
    if (round == 6) {
      for (const auto& line : SortedRows(*out)) EXPECT_EQ(line.find("c3"), std::string::npos) << line;
    }
    if (round % 4 == 0) {
      view.reset();
      view = IncrementalAggregate::Open(path, MakeExtremes).value();
      EXPECT_EQ(view->committed_batch(), round);
      EXPECT_EQ(SortedRows(view->aggregate().CurrentResult().value()), fresh()) << "reopened after round " << round;
    }
  }
  // RowsOfGroups splits rows by group, NULL keys included.
  auto null_group = view->GroupsOf({batch({{Value::Null(), Value::String("t"), Value::Decimal(1, 10, 2)}})}).value();
  auto in = view->RowsOfGroups({batch(table)}, null_group, true).value();
  auto out = view->RowsOfGroups({batch(table)}, null_group, false).value();
  int64_t nulls = 0;
  for (const auto& r : table) nulls += r[0].is_null() ? 1 : 0;
  int64_t in_rows = 0, out_rows = 0;
  for (const auto& b : in) {
    in_rows += b.num_rows();
    for (int64_t r = 0; r < b.num_rows(); ++r) EXPECT_TRUE(b.column(0).IsNull(r));
  }
  for (const auto& b : out) out_rows += b.num_rows();
  EXPECT_GT(nulls, 0);
  EXPECT_EQ(in_rows, nulls);
  EXPECT_EQ(in_rows + out_rows, static_cast<int64_t>(table.size()));
}

}  // namespace
}  // namespace lakepipe::state

namespace lakepipe::state {
namespace {

// Rows of gold_revenue_by_country's shape with many distinct transactions: batch b's row i
// has country i % 5 (NULL for 4) and tx "t<n>" for n drawn from 0..25,000, so that later
// batches repeat many values of earlier ones.
RecordBatch ManyTransactions(int batch, int n) {
  std::mt19937 rng(static_cast<uint32_t>(100 + batch));
  std::vector<std::vector<Value>> rows;
  for (int i = 0; i < n; ++i) {
    int c = i % 5;
    rows.push_back({c == 4 ? Value::Null() : Value::String("c" + std::to_string(c)),
                    rng() % 50 == 0 ? Value::Null() : Value::String("t" + std::to_string(rng() % 25000)),
                    Value::Decimal(static_cast<int64_t>(rng() % 1000), 10, 2)});
  }
  return expr::test::MakeBatch(kDDL, rows);
}

// count(DISTINCT) kept as counts, its pairs in the store under a 1-byte budget (every
// growth of the pending table spills): batch by batch, the view equals an in-memory
// aggregate over all rows so far — with batches applied row-wise and as aggregates built
// by two threads at once (as Execute's partial aggregates), reopened between batches, and
// a committed batch replayed without counting twice. The state holds counts, not values.
TEST(IncrementalAggregateTest, DistinctPairsSpillUnderATinyBudgetAndEqualARecompute) {
  testing::TempDir dir;
  const std::string path = dir.Join("aggregate-0");
  auto open = [&]() {
    auto agg = IncrementalAggregate::Open(path, MakeView, AggregateStateStore::Options(), /*distinct_memory_bytes=*/1);
    EXPECT_TRUE(agg.ok()) << agg.status().ToString();
    return agg.ok() ? std::move(*agg) : nullptr;
  };
  auto view = open();
  ASSERT_NE(view, nullptr);
  EXPECT_TRUE(view->keeps_distinct_pairs());
  EXPECT_TRUE(view->discarded_state().empty());
  const Schema& state = view->aggregate().state_schema();
  EXPECT_GE(state.FindField("orders$distinct_count"), 0) << state.ToDDL();
  EXPECT_LT(state.FindField("orders$distinct"), 0) << state.ToDDL();
  auto all = MakeView().value();  // the reference: every row in memory
  for (int b = 0; b < 6; ++b) {
    RecordBatch rows = ManyTransactions(b, 12000);
    ASSERT_TRUE(all->Push(rows).ok());
    std::vector<std::string> out;
    if (b % 2 == 0) {
      out = Applied(*view, b, {rows.Slice(0, 6000), rows.Slice(6000, 6000)});
    } else {
      // Two aggregates of the view's rows factory take halves of the rows at once.
      IncrementalAggregate::Factory make = view->RowsFactory();
      auto left = make().value(), right = make().value();
      Status left_status, right_status;
      std::thread t([&] {
        for (int64_t at = 0; at < 12000 && left_status.ok(); at += 2000) left_status = left->Push(rows.Slice(at, 1000));
      });
      for (int64_t at = 1000; at < 12000 && right_status.ok(); at += 2000) right_status = right->Push(rows.Slice(at, 1000));
      t.join();
      ASSERT_TRUE(left_status.ok()) << left_status.ToString();
      ASSERT_TRUE(right_status.ok()) << right_status.ToString();
      ASSERT_TRUE(left->MergeState(right->ExportState().value()).ok());
      auto merged = view->ApplyAggregated(b, std::move(left));
      ASSERT_TRUE(merged.ok()) << merged.status().ToString();
      out = SortedRows(*merged);
    }
    EXPECT_GT(view->distinct_pairs_spilled_runs(), 0) << "batch " << b;
    EXPECT_EQ(out, SortedRows(all->CurrentResult().value())) << "batch " << b;
    ASSERT_TRUE(view->Commit(b).ok());
    EXPECT_EQ(view->distinct_pairs_spilled_runs(), 0);
    if (b % 2 == 1) {
      view.reset();  // one process holds the store at a time
      view = open();
      ASSERT_NE(view, nullptr);
      EXPECT_EQ(view->committed_batch(), b);
      EXPECT_EQ(SortedRows(view->aggregate().CurrentResult().value()), SortedRows(all->CurrentResult().value()));
    }
  }
  // A committed batch given again (a replay after a crash before the checkpoint's record)
  // changes nothing; a failed batch is abandoned with its pairs.
  EXPECT_EQ(Applied(*view, 5, {ManyTransactions(5, 12000)}), SortedRows(all->CurrentResult().value()));
  ASSERT_TRUE(view->Commit(5).ok());
  Applied(*view, 6, {ManyTransactions(6, 12000)});
  ASSERT_TRUE(view->Abandon().ok());
  EXPECT_EQ(SortedRows(view->aggregate().CurrentResult().value()), SortedRows(all->CurrentResult().value()));
  ASSERT_TRUE(all->Push(ManyTransactions(6, 12000)).ok());
  EXPECT_EQ(Applied(*view, 6, {ManyTransactions(6, 12000)}), SortedRows(all->CurrentResult().value()));
  ASSERT_TRUE(view->Commit(6).ok());
}

// The pairs are written before the aggregate: a crash between the two leaves the pairs a
// batch ahead. Open sees the markers disagree and sets the state aside (the view is then
// recomputed from its input), instead of counting with pairs the counts do not include.
// Simulated by putting back the aggregate's files as they were before the last batch.
TEST(IncrementalAggregateTest, AStateTornBetweenPairsAndAggregateIsSetAside) {
  namespace stdfs = std::filesystem;
  testing::TempDir dir;
  const std::string path = dir.Join("aggregate-0"), saved = dir.Join("saved");
  {
    auto view = OpenView(path);
    Applied(*view, 0, {Lines(0, 10)});
    ASSERT_TRUE(view->Commit(0).ok());
  }
  stdfs::copy(path, saved, stdfs::copy_options::recursive);
  {
    auto view = OpenView(path);
    EXPECT_EQ(Applied(*view, 1, {Lines(1, 11)}), Recomputed(1));
    ASSERT_TRUE(view->Commit(1).ok());
  }
  for (const auto& e : stdfs::directory_iterator(path)) {
    if (e.path().filename() != "distinct-pairs") stdfs::remove_all(e.path());
  }
  for (const auto& e : stdfs::directory_iterator(saved)) {
    if (e.path().filename() != "distinct-pairs") stdfs::copy(e.path(), stdfs::path(path) / e.path().filename());
  }
  auto view = OpenView(path);
  EXPECT_NE(view->discarded_state().find("distinct pairs record batch 1 and its aggregate batch 0"), std::string::npos)
      << view->discarded_state();
  EXPECT_FALSE(view->committed_batch().has_value());
  EXPECT_EQ(view->aggregate().num_groups(), 0);
  // Started again from the whole input, it is the recompute.
  EXPECT_EQ(Applied(*view, 1, {Lines(0, 10), Lines(1, 11)}), Recomputed(1));
  ASSERT_TRUE(view->Commit(1).ok());
  view.reset();
  view = OpenView(path);
  EXPECT_TRUE(view->discarded_state().empty());
  EXPECT_EQ(SortedRows(view->aggregate().CurrentResult().value()), Recomputed(1));
}

// A state written before the pairs existed (each group's values inside the snapshot, as
// `<name>$distinct` arrays) is set aside at Open with the reason; the view is recomputed.
TEST(IncrementalAggregateTest, AStateFromBeforeTheDistinctPairsIsSetAside) {
  testing::TempDir dir;
  const std::string path = dir.Join("aggregate-0");
  {
    auto old = MakeView().value();
    ASSERT_TRUE(old->Push(Lines(0, 10)).ok());
    auto store = AggregateStateStore::Open(path, old->state_schema());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->Commit(0, old->ExportState().value(), *old).ok());
  }
  auto view = OpenView(path);
  EXPECT_NE(view->discarded_state().find("earlier version of lakepipe"), std::string::npos) << view->discarded_state();
  EXPECT_FALSE(view->committed_batch().has_value());
  EXPECT_EQ(Applied(*view, 1, {Lines(0, 10), Lines(1, 11)}), Recomputed(1));
  ASSERT_TRUE(view->Commit(1).ok());
}

}  // namespace
}  // namespace lakepipe::state
