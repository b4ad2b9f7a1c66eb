// What a table's tombstones (the `remove`s a snapshot keeps until
// delta.deletedFileRetentionDuration has passed) cost, per tombstone (issue 16): a Gold
// materialized view that commits every second replaces its one result file at each
// version, and a Bronze table's auto-compaction removes the small files it packs. Run by
// hand or by scripts/bench.sh (`make bench`); not a test. docs/BENCHMARKS.md, "Tombstones".
//
//   BM_TombstoneState/N/K       the table state after N commits that each replace one file
//                               (remove + add + txn + commitInfo), applied one by one as a
//                               running pipeline's DeltaTable::Latest() rolls forward.
//                               K = 0: a Gold view's file (3 columns of stats), 1: a Bronze
//                               file of the orders pipeline (10 columns). Counters: heap
//                               bytes held by the state, per tombstone, tombstones kept.
//   BM_TombstoneCheckpoint/N/K  writing the classic checkpoint of that state (time, bytes).
//   BM_TombstoneStartup/N/K     a restart: ReplayLog from that checkpoint (time, heap bytes).
//
// The clock is the system's and the commits are "now", so every tombstone is within its
// retention: the figures are the cost of N live tombstones. A view at one version per
// second reaches N = 604,800 within Delta's default 7 days (extrapolate linearly), and
// N = 3,600 within the one hour pipeline materialized views keep by default.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/fs.h"
#include "common/uuid.h"
#include "delta/log.h"
#include "delta/log_internal.h"

namespace lakepipe {
namespace {

int64_t HeapInUse() { return static_cast<int64_t>(mallinfo2().uordblks); }

// add.stats as lakepipe writes them for a file of the gold view gold_revenue_by_country
// (Country STRING, total_revenue DOUBLE, order_lines BIGINT) or of bronze_orders.
std::string StatsOf(int kind, int64_t v) {
  if (kind == 0) {
    return "{\"numRecords\":38,\"minValues\":{\"Country\":\"Australia\",\"total_revenue\":" + std::to_string(1000 + v) +
           ".25,\"order_lines\":12},\"maxValues\":{\"Country\":\"USA\",\"total_revenue\":" + std::to_string(90000 + v) +
           ".5,\"order_lines\":" + std::to_string(5000 + v) +
           "},\"nullCount\":{\"Country\":0,\"total_revenue\":0,\"order_lines\":0}}";
  }
  return "{\"numRecords\":2500,\"minValues\":{\"TransactionNo\":\"536365\",\"Date\":\"1/12/2019\",\"ProductNo\":"
         "\"10002\",\"ProductName\":\"10 Colour Spaceboy Pen\",\"Price\":0.42,\"Quantity\":1,\"CustomerNo\":\"12004\","
         "\"Country\":\"Australia\",\"ingestion_time\":\"2026-12-06T09:00:00.000Z\",\"source_file\":"
         "\"/data/landing/orders/orders-00000001.csv\"},\"maxValues\":{\"TransactionNo\":\"581587\",\"Date\":"
         "\"9/9/2019\",\"ProductNo\":\"90214Z\",\"ProductName\":\"Zinc Wire Kitchen Organiser\",\"Price\":649.5,"
         "\"Quantity\":80995,\"CustomerNo\":\"18287\",\"Country\":\"USA\",\"ingestion_time\":"
         "\"2026-12-06T09:00:01.000Z\",\"source_file\":\"/data/landing/orders/orders-" +
         std::to_string(v) +
         ".csv\"},\"nullCount\":{\"TransactionNo\":0,\"Date\":0,\"ProductNo\":0,\"ProductName\":0,\"Price\":0,"
         "\"Quantity\":0,\"CustomerNo\":3,\"Country\":0,\"ingestion_time\":0,\"source_file\":0}}";
}

delta::AddFile FileOf(int kind, int64_t v, int64_t now) {
  delta::AddFile add;
  char name[96];
  std::snprintf(name, sizeof(name), "part-%020lld-00000-", static_cast<long long>(v));
  add.path = std::string(name) + NewUuid() + "-c000.zstd.parquet";
  add.size = kind == 0 ? 2100 : 61000;
  add.modification_time = now;
  add.stats = StatsOf(kind, v);
  return add;
}

delta::TableState InitialState(int kind, int64_t now) {
  delta::TableState state;
  state.has_protocol = state.has_metadata = true;
  state.metadata.id = NewUuid();
  state.metadata.schema_string = "{\"type\":\"struct\",\"fields\":[]}";
  std::vector<delta::Action> first = {FileOf(kind, 0, now)};
  if (!delta::ApplyCommit(&state, 0, std::move(first), now).ok()) std::abort();
  return state;
}

// Applies `n` replace-one-file commits to `state` (versions 1..n).
void ReplaceOneFile(delta::TableState* state, int kind, int64_t n, int64_t now) {
  for (int64_t v = 1; v <= n; ++v) {
    const delta::AddFile& old = state->files.begin()->second;
    delta::RemoveFile r;
    r.path = old.path;
    r.deletion_timestamp = now;
    r.data_change = true;
    r.extended_file_metadata = true;
    r.partition_values = old.partition_values;
    r.size = old.size;
    r.stats = old.stats;  // as RemoveOf copies them from the add
    delta::CommitInfo ci;
    ci.json = "{\"timestamp\":" + std::to_string(now) + ",\"operation\":\"WRITE\"}";
    ci.timestamp = now;
    std::vector<delta::Action> actions = {ci, delta::Txn{"view-flow", v, now}, std::move(r), FileOf(kind, v, now)};
    if (!delta::ApplyCommit(state, v, std::move(actions), now).ok()) std::abort();
  }
}

std::string Scratch(const std::string& name) {
  std::string dir = (std::filesystem::temp_directory_path() / ("lp_tombstone_bench_" + name)).string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/_delta_log");
  return dir;
}

void BM_TombstoneState(benchmark::State& st) {
  const int64_t n = st.range(0);
  const int kind = static_cast<int>(st.range(1));
  const int64_t now = Clock::System()->NowMillis();
  int64_t heap = 0;
  size_t kept = 0;
  for (auto _ : st) {
    const int64_t before = HeapInUse();
    auto state = std::make_unique<delta::TableState>(InitialState(kind, now));
    ReplaceOneFile(state.get(), kind, n, now);
    heap = HeapInUse() - before;
    kept = state->tombstones.size();
  }
  st.counters["tombstones"] = static_cast<double>(kept);
  st.counters["heap_bytes"] = static_cast<double>(heap);
  st.counters["heap_bytes_per_tombstone"] = static_cast<double>(heap) / static_cast<double>(std::max<int64_t>(n, 1));
}

void BM_TombstoneCheckpoint(benchmark::State& st) {
  const int64_t n = st.range(0);
  const int kind = static_cast<int>(st.range(1));
  const int64_t now = Clock::System()->NowMillis();
  delta::TableState state = InitialState(kind, now);
  ReplaceOneFile(&state, kind, n, now);
  std::string dir = Scratch("checkpoint");
  int64_t bytes = 0;
  for (auto _ : st) {
    auto lc = delta::WriteCheckpointFile(FileSystem::Default(), dir, state);
    if (!lc.ok()) {
      st.SkipWithError(lc.status().ToString().c_str());
      break;
    }
    bytes = lc->size_in_bytes.value_or(0);
  }
  st.counters["checkpoint_bytes"] = static_cast<double>(bytes);
  st.counters["checkpoint_bytes_per_tombstone"] = static_cast<double>(bytes) / static_cast<double>(std::max<int64_t>(n, 1));
  std::filesystem::remove_all(dir);
}

void BM_TombstoneStartup(benchmark::State& st) {
  const int64_t n = st.range(0);
  const int kind = static_cast<int>(st.range(1));
  const int64_t now = Clock::System()->NowMillis();
  std::string dir = Scratch("startup");
  {
    delta::TableState state = InitialState(kind, now);
    ReplaceOneFile(&state, kind, n, now);
    if (!delta::WriteCheckpointFile(FileSystem::Default(), dir, state).ok()) std::abort();
  }
  int64_t heap = 0;
  size_t kept = 0;
  for (auto _ : st) {
    const int64_t before = HeapInUse();
    auto state = delta::ReplayLog(FileSystem::Default(), dir);
    if (!state.ok()) {
      st.SkipWithError(state.status().ToString().c_str());
      break;
    }
    heap = HeapInUse() - before;
    kept = state->tombstones.size();
  }
  st.counters["tombstones"] = static_cast<double>(kept);
  st.counters["heap_bytes"] = static_cast<double>(heap);
  std::filesystem::remove_all(dir);
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int kind : {0, 1})
    for (int64_t n : {3600, 10000, 100000}) b->Args({n, kind});
  b->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_TombstoneState)->Apply(Sizes);
BENCHMARK(BM_TombstoneCheckpoint)->Apply(Sizes);
BENCHMARK(BM_TombstoneStartup)->Apply(Sizes);

}  // namespace
}  // namespace lakepipe

BENCHMARK_MAIN();
