// Benchmarks of the vectorized evaluator and the core operators over 5M generated rows,
// in 64K-row batches: filter, project (arithmetic + string), hash aggregate. Built by the
// bench build (LAKEPIPE_BENCH), never into the library.
#include <benchmark/benchmark.h>

#include <random>

#include "expr/binder.h"
#include "expr/eval.h"
#include "operators/filter.h"
#include "operators/hash_aggregate.h"

namespace lakepipe::operators {
namespace {

constexpr int64_t kRows = 5'000'000;
constexpr int64_t kBatch = 65'536;

// Order-line shaped data: Quantity int, Price double, Country string (38 values), Product
// bigint (3,700 values).
const std::vector<RecordBatch>& Batches() {
  static std::vector<RecordBatch> batches = [] {
    Schema schema = Schema::ParseDDL("Quantity INT, Price DOUBLE, Country STRING, ProductNo BIGINT").value();
    std::mt19937_64 rng(7);
    std::vector<std::string> countries;
    for (int i = 0; i < 38; ++i) countries.push_back("Country " + std::to_string(i));
    std::vector<RecordBatch> out;
    for (int64_t start = 0; start < kRows; start += kBatch) {
      int64_t n = std::min(kBatch, kRows - start);
      Column q(DataType::Int()), p(DataType::Double()), c(DataType::String()), pr(DataType::Long());
      for (int64_t i = 0; i < n; ++i) {
        q.Append<int32_t>(static_cast<int32_t>(rng() % 50) - 2);
        p.Append<double>(static_cast<double>(rng() % 10000) / 100.0);
        uint64_t r = rng() % 100;
        c.AppendString(countries[r < 80 ? 0 : r % 38]);
        pr.Append<int64_t>(static_cast<int64_t>(rng() % 3700));
      }
      out.push_back(RecordBatch::FromColumns(schema, {std::move(q), std::move(p), std::move(c), std::move(pr)}));
    }
    return out;
  }();
  return batches;
}

expr::BoundExpr Bind(const expr::ExprPtr& e, bool aggregates = false) {
  expr::BindContext ctx;
  ctx.allow_aggregates = aggregates;
  return expr::Bind(*e, Batches()[0].schema(), ctx).value();
}

using expr::Expr;
expr::ExprPtr Col(const char* n) { return Expr::Column(n); }
expr::ExprPtr Int(int v) { return Expr::Literal(Value::Int(v, TypeId::kInt), DataType::Int()); }

void BM_Filter(benchmark::State& state) {
  auto pred = Bind(Expr::Call("and", {Expr::Call(">", {Col("Quantity"), Int(0)}), Expr::Call(">", {Col("Price"), Int(1)})}));
  for (auto _ : state) {
    int64_t kept = 0;
    for (const auto& b : Batches()) kept += Filter(b, pred).value().num_rows();
    benchmark::DoNotOptimize(kept);
  }
  state.SetItemsProcessed(state.iterations() * kRows);
}
BENCHMARK(BM_Filter)->Unit(benchmark::kMillisecond);

void BM_ProjectArithmetic(benchmark::State& state) {
  std::vector<expr::BoundExpr> exprs = {Bind(Expr::Call("*", {Col("Price"), Col("Quantity")})),
                                        Bind(Expr::Call("+", {Col("ProductNo"), Col("Quantity")}))};
  Schema out = ProjectionSchema(exprs, {"line_total", "x"});
  for (auto _ : state) {
    for (const auto& b : Batches()) benchmark::DoNotOptimize(Project(b, exprs, out).value());
  }
  state.SetItemsProcessed(state.iterations() * kRows);
}
BENCHMARK(BM_ProjectArithmetic)->Unit(benchmark::kMillisecond);

void BM_ProjectString(benchmark::State& state) {
  std::vector<expr::BoundExpr> exprs = {Bind(Expr::Call("upper", {Expr::Call("trim", {Col("Country")})}))};
  Schema out = ProjectionSchema(exprs, {"c"});
  for (auto _ : state) {
    for (const auto& b : Batches()) benchmark::DoNotOptimize(Project(b, exprs, out).value());
  }
  state.SetItemsProcessed(state.iterations() * kRows);
}
BENCHMARK(BM_ProjectString)->Unit(benchmark::kMillisecond);

void BM_HashAggregate(benchmark::State& state) {
  // GROUP BY Country: sum(Price * Quantity), count(*), count(DISTINCT ProductNo), avg(Price).
  auto key = Bind(Col("Country"));
  std::vector<expr::BoundExpr> aggs = {
      Bind(Expr::Call("sum", {Expr::Call("*", {Col("Price"), Col("Quantity")})}), true),
      Bind(Expr::Call("count", {}), true), Bind(Expr::Call("count", {Col("ProductNo")}, {}, true), true),
      Bind(Expr::Call("avg", {Col("Price")}), true)};
  for (auto _ : state) {
    auto agg = HashAggregate::Make({key}, {"Country"}, aggs, {}).value();
    for (const auto& b : Batches()) {
      if (!agg->Push(b).ok()) state.SkipWithError("push failed");
    }
    benchmark::DoNotOptimize(agg->Finish().value());
  }
  state.SetItemsProcessed(state.iterations() * kRows);
}
BENCHMARK(BM_HashAggregate)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lakepipe::operators

BENCHMARK_MAIN();
