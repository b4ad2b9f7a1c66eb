#include "state/aggregate_state_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

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

const char kDDL[] = "k STRING, v INT, d DOUBLE, m DECIMAL(12,2), s STRING";

BoundExpr Bound(const expr::ExprPtr& e, const Schema& s, bool aggregate) {
  BindContext ctx;
  ctx.allow_aggregates = aggregate;
  auto b = expr::Bind(*e, s, ctx);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return *b;
}

// The view's aggregate: grouped by k (or global), with every kind of aggregate state.
std::unique_ptr<HashAggregate> MakeAggregate(bool grouped = true) {
  Schema s = Schema::ParseDDL(kDDL).value();
  std::vector<BoundExpr> keys;
  if (grouped) keys.push_back(Bound(Col("k"), s, false));
  std::vector<BoundExpr> aggs = {
      Bound(Call("count", {}), s, true),       Bound(Expr::Call("count", {Col("s")}, {}, true), s, true),
      Bound(Expr::Call("count", {Col("m")}, {}, true), s, true),
      Bound(Call("sum", {Col("v")}), s, true), Bound(Call("sum", {Col("m")}), s, true),
      Bound(Call("avg", {Col("d")}), s, true), Bound(Call("avg", {Col("m")}), s, true),
      Bound(Call("min", {Col("s")}), s, true), Bound(Call("max", {Col("d")}), s, true),
  };
  auto agg = HashAggregate::Make(std::move(keys), grouped ? std::vector<std::string>{"k"} : std::vector<std::string>{},
                                 std::move(aggs), {"n", "nds", "ndm", "sv", "sm", "ad", "am", "mins", "maxd"});
  EXPECT_TRUE(agg.ok()) << agg.status().ToString();
  return std::move(*agg);
}

RecordBatch RandomBatch(std::mt19937_64& rng, int rows, int groups) {
  std::vector<std::vector<Value>> data;
  auto pick = [&](int n) { return static_cast<int64_t>(rng() % static_cast<uint64_t>(n)); };
  for (int i = 0; i < rows; ++i) {
    auto maybe_null = [&](Value v) { return pick(10) == 0 ? Value::Null() : v; };
    data.push_back({maybe_null(Value::String("g" + std::to_string(pick(groups)))),
                    maybe_null(Value::Int(pick(1000) - 500, TypeId::kInt)),
                    maybe_null(Value::Double(static_cast<double>(pick(400) - 200) / 4)),
                    maybe_null(Value::Decimal(pick(100000) - 50000, 12, 2)),
                    maybe_null(Value::String("s" + std::to_string(pick(50))))});
  }
  return expr::test::MakeBatch(kDDL, data);
}

using expr::test::SortedRows;

std::vector<std::string> ResultOf(const HashAggregate& agg) {
  auto r = agg.CurrentResult();
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? SortedRows(*r) : std::vector<std::string>{};
}

// What the store holds, as a fresh aggregate's result.
std::vector<std::string> Reloaded(const AggregateStateStore& store, bool grouped = true) {
  auto agg = MakeAggregate(grouped);
  Status st = store.LoadInto(agg.get());
  EXPECT_TRUE(st.ok()) << st.ToString();
  return ResultOf(*agg);
}

// One micro-batch as the runtime runs it: aggregate the batch alone, merge its state into
// the view, (publish), then commit the state.
void RunBatch(AggregateStateStore& store, HashAggregate& view, const RecordBatch& rows, int64_t batch_id,
              bool grouped = true) {
  auto batch_agg = MakeAggregate(grouped);
  ASSERT_TRUE(batch_agg->Push(rows).ok());
  auto delta = batch_agg->ExportState();
  ASSERT_TRUE(delta.ok());
  ASSERT_TRUE(view.MergeState(*delta).ok());
  Status st = store.Commit(batch_id, *delta, view);
  ASSERT_TRUE(st.ok()) << st.ToString();
}

std::unique_ptr<AggregateStateStore> OpenStore(const std::string& dir, AggregateStateStore::Options options = {},
                                               bool grouped = true) {
  auto store = AggregateStateStore::Open(dir, MakeAggregate(grouped)->state_schema(), options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

TEST(AggregateStateStoreTest, RestartLoadsTheStateOfTheLastCommittedBatch) {
  testing::TempDir dir;
  std::mt19937_64 rng(1);
  AggregateStateStore::Options options;
  options.max_deltas = 4;  // snapshots every few batches
  auto store = OpenStore(dir.Join("agg"), options);
  EXPECT_FALSE(store->committed_batch().has_value());
  EXPECT_TRUE(Reloaded(*store) == ResultOf(*MakeAggregate()));  // nothing stored: empty
  auto view = MakeAggregate();
  std::vector<int64_t> snapshot_batches;
  for (int64_t b = 0; b < 30; ++b) {
    RunBatch(*store, *view, RandomBatch(rng, 50 + static_cast<int>(rng() % 300), 40), b);
    EXPECT_LE(store->deltas_since_snapshot(), options.max_deltas);
    if (store->snapshot_batch() && (snapshot_batches.empty() || snapshot_batches.back() != *store->snapshot_batch()))
      snapshot_batches.push_back(*store->snapshot_batch());
    if (b % 7 == 3) {  // restart: the reloaded state equals the live one
      store.reset();
      store = OpenStore(dir.Join("agg"), options);
      ASSERT_EQ(store->committed_batch(), b);
      ASSERT_EQ(Reloaded(*store), ResultOf(*view)) << "after batch " << b;
    }
  }
  EXPECT_GE(snapshot_batches.size(), 5u);  // snapshots replaced the deltas regularly
  ASSERT_EQ(Reloaded(*store), ResultOf(*view));
  StateSize size = store->Size();
  EXPECT_EQ(size.keys, view->num_groups());
  EXPECT_GT(size.disk_bytes, 0);
  EXPECT_GT(size.memory_bytes, 0);

  // A batch merged into the view but never committed (a crash before Commit) is not in
  // the state after a restart.
  std::vector<std::string> committed = ResultOf(*view);
  auto lost = MakeAggregate();
  ASSERT_TRUE(lost->Push(RandomBatch(rng, 100, 40)).ok());
  ASSERT_TRUE(view->MergeState(*lost->ExportState()).ok());
  ASSERT_NE(ResultOf(*view), committed);
  store.reset();
  store = OpenStore(dir.Join("agg"), options);
  EXPECT_EQ(store->committed_batch(), 29);
  EXPECT_EQ(Reloaded(*store), committed);
}

TEST(AggregateStateStoreTest, SnapshotsAreTakenWhenDeltasOutgrowThem) {
  testing::TempDir dir;
  std::mt19937_64 rng(2);
  AggregateStateStore::Options options;
  options.max_deltas = 1000;
  options.min_snapshot_bytes = 1;  // only the size rule applies
  auto store = OpenStore(dir.Join("agg"), options);
  auto view = MakeAggregate();
  RunBatch(*store, *view, RandomBatch(rng, 500, 20), 0);
  EXPECT_EQ(store->snapshot_batch(), 0);  // the first delta is larger than no snapshot
  int deltas_seen = 0;
  for (int64_t b = 1; b < 20; ++b) {
    RunBatch(*store, *view, RandomBatch(rng, 200, 20), b);
    deltas_seen = std::max(deltas_seen, store->deltas_since_snapshot());
  }
  EXPECT_GE(deltas_seen, 1);  // deltas were kept between snapshots...
  EXPECT_GT(*store->snapshot_batch(), 0);  // ...and a later snapshot replaced them
  EXPECT_EQ(Reloaded(*store), ResultOf(*view));
}

TEST(AggregateStateStoreTest, GlobalAggregateAndEmptyBatches) {
  testing::TempDir dir;
  std::mt19937_64 rng(3);
  auto store = OpenStore(dir.Join("agg"), {}, false);
  auto view = MakeAggregate(false);
  RunBatch(*store, *view, RandomBatch(rng, 0, 5), 0, false);
  RunBatch(*store, *view, RandomBatch(rng, 300, 5), 1, false);
  RunBatch(*store, *view, RandomBatch(rng, 0, 5), 2, false);
  store.reset();
  store = OpenStore(dir.Join("agg"), {}, false);
  EXPECT_EQ(store->committed_batch(), 2);
  auto reloaded = Reloaded(*store, false);
  ASSERT_EQ(reloaded.size(), 1u);
  EXPECT_EQ(reloaded, ResultOf(*view));

  // Grouped: a batch without rows has an empty delta; the marker still advances.
  auto grouped = OpenStore(dir.Join("grouped"));
  auto grouped_view = MakeAggregate();
  RunBatch(*grouped, *grouped_view, RandomBatch(rng, 0, 5), 0);
  RunBatch(*grouped, *grouped_view, RandomBatch(rng, 10, 5), 1);
  RunBatch(*grouped, *grouped_view, RandomBatch(rng, 0, 5), 2);
  EXPECT_EQ(grouped->committed_batch(), 2);
  EXPECT_EQ(Reloaded(*grouped), ResultOf(*grouped_view));
}

TEST(AggregateStateStoreTest, RefusesReappliedBatchesWrongDeltasAndAChangedQuery) {
  testing::TempDir dir;
  std::mt19937_64 rng(4);
  auto store = OpenStore(dir.Join("agg"));
  auto view = MakeAggregate();
  RunBatch(*store, *view, RandomBatch(rng, 20, 5), 7);
  auto delta = MakeAggregate()->ExportState();
  ASSERT_TRUE(delta.ok());
  Status again = store->Commit(7, *delta, *view);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("already has batch 7"), std::string::npos) << again.ToString();
  // A delta of another aggregate (global: no key column).
  auto other = MakeAggregate(false)->ExportState();
  ASSERT_TRUE(other.ok());
  Status wrong = store->Commit(8, *other, *view);
  EXPECT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->committed_batch(), 7);
  store.reset();
  // The query changed (its state schema differs): reopening says so.
  auto changed = AggregateStateStore::Open(dir.Join("agg"), MakeAggregate(false)->state_schema());
  ASSERT_FALSE(changed.ok());
  EXPECT_NE(changed.status().message().find("full refresh"), std::string::npos) << changed.status().ToString();
  // Loading into an aggregate of another shape is refused too.
  store = OpenStore(dir.Join("agg"));
  auto global = MakeAggregate(false);
  EXPECT_FALSE(store->LoadInto(global.get()).ok());
}

// Every column type a state can hold survives serialization exactly.
TEST(AggregateStateStoreTest, StatesOfEveryKeyTypeRoundTrip) {
  const char ddl[] =
      "b BOOLEAN, y TINYINT, h SMALLINT, i INT, l BIGINT, f FLOAT, d DOUBLE, m DECIMAL(38,6), s STRING, "
      "x BINARY, dt DATE, ts TIMESTAMP, tn TIMESTAMP_NTZ";
  Schema s = Schema::ParseDDL(ddl).value();
  std::vector<BoundExpr> keys;
  std::vector<std::string> names;
  for (const auto& f : s.fields()) {
    keys.push_back(Bound(Col(f.name), s, false));
    names.push_back(f.name);
  }
  auto make = [&] {
    std::vector<BoundExpr> aggs = {Bound(Expr::Call("count", {Col("m")}, {}, true), s, true),
                                   Bound(Expr::Call("count", {Col("x")}, {}, true), s, true),
                                   Bound(Expr::Call("count", {Col("tn")}, {}, true), s, true),
                                   Bound(Call("min", {Col("x")}), s, true), Bound(Call("max", {Col("y")}), s, true),
                                   Bound(Call("sum", {Col("f")}), s, true)};
    return HashAggregate::Make(keys, names, std::move(aggs), {"a", "b2", "c", "e", "g", "j"}).value();
  };
  std::vector<std::vector<Value>> rows;
  for (int i = 0; i < 40; ++i) {
    auto v = [&](Value x) { return i % 9 == 4 ? Value::Null() : x; };
    rows.push_back({v(Value::Bool(i % 2)), v(Value::Int(i % 5 - 2, TypeId::kByte)), v(Value::Int(i * 300, TypeId::kShort)),
                    v(Value::Int(i % 3, TypeId::kInt)), v(Value::Int(int64_t{1} << 40, TypeId::kLong)),
                    v(Value::Double(1.5, TypeId::kFloat)), v(Value::Double(-0.25)),
                    v(Value::Decimal(static_cast<int128_t>(i % 4) * 1000000000000000LL * 1000000LL + 7, 38, 6)),
                    v(Value::String(i % 2 ? "" : "é" + std::to_string(i % 4))),
                    v(Value::Binary(std::string("\0\x01", 2) + std::to_string(i % 3))), v(Value::Date(19000 + i % 2)),
                    v(Value::Timestamp(1700000000000000LL + i % 3)), v(Value::Timestamp(-5 + i % 2, true))});
  }
  RecordBatch input = expr::test::MakeBatch(ddl, rows);
  for (size_t c = 0; c < input.num_columns(); ++c) {  // every value was taken (not NULLed)
    int64_t nulls = 0;
    for (int64_t r = 0; r < input.num_rows(); ++r) nulls += input.column(c).IsNull(r);
    ASSERT_EQ(nulls, 4) << "column " << s.field(c).name;
  }
  auto view = make();
  ASSERT_TRUE(view->Push(input).ok());
  testing::TempDir dir;
  auto store = AggregateStateStore::Open(dir.Join("agg"), view->state_schema());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto delta = view->ExportState();
  ASSERT_TRUE(delta.ok());
  ASSERT_GT(delta->num_rows(), 10);
  ASSERT_TRUE((*store)->Commit(0, *delta, *view).ok());
  auto loaded = (*store)->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ(SortedRows(*loaded), SortedRows({*delta}));
  auto again = make();
  ASSERT_TRUE((*store)->LoadInto(again.get()).ok());
  EXPECT_EQ(ResultOf(*again), ResultOf(*view));
}

}  // namespace
}  // namespace lakepipe::state
