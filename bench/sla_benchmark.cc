// What watching a pipeline's freshness costs as its Bronze source's taken files pile up
// (issue 16, "runs for months"; server/sla.h). Run by hand; not a test.
//
//   BM_EvaluateFromScratch/N  one EvaluateFreshness of a pipeline whose streaming table took
//                             N files (kept in its compact file's segments): what `lakepipe
//                             status` pays, and what every evaluation of a server's
//                             SlaMonitor paid before it kept a FreshnessCache.
//   BM_EvaluateCached/N       the same with the cache of the previous evaluation and nothing
//                             new since: what the monitor pays now between two batches.
//                             cache_mb: the heap the cache holds (in use after its first
//                             evaluation minus before).
//   .../N/1                   the same once the landing folder is empty (cleanSource, or files
//                             moved away): no listing left, only the checkpoint's reading.
//   (.../N/0: the N files still in the landing folder, which every evaluation lists, as
//   every poll of the run does.)
//
// Setup per N (not timed): N one-line CSV files landed in one folder, taken by one
// `RunOnce` (batch 0), then one more file and a second batch so that the compact file
// (minBatchesToRetain 1) lists the N files as segments and the first plan is gone.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <stdlib.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "common/fs.h"
#include "runtime/pipeline_runner.h"
#include "server/sla.h"

namespace lakepipe {
namespace {

size_t HeapInUse() {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// A temporary folder, removed with what it holds.
struct TempFolder {
  std::string path;
  TempFolder() {
    char name[] = "/tmp/lp-sla-bench-XXXXXX";
    if (::mkdtemp(name) != nullptr) path = name;
  }
  ~TempFolder() {
    if (!path.empty()) (void)FileSystem::Default()->RemoveAll(path);
  }
  std::string Join(const std::string& name) const { return path + "/" + name; }
};

struct Pipeline {
  TempFolder dir;
  std::unique_ptr<runtime::PipelineRunner> runner;
  // Empties the landing folder (once the files are taken; for the .../1 variants).
  void CleanLanding() {
    FileSystem* fs = FileSystem::Default();
    (void)fs->RemoveAll(dir.Join("landing"));
    (void)fs->CreateDirs(dir.Join("landing"));
  }
};

// One pipeline per N, built at first use and kept for both benchmarks.
Pipeline* PipelineTaking(int64_t files) {
  static std::map<int64_t, std::unique_ptr<Pipeline>> built;
  auto& slot = built[files];
  if (slot) return slot.get();
  auto p = std::make_unique<Pipeline>();
  FileSystem* fs = FileSystem::Default();
  std::string landing = p->dir.Join("landing"), folder = p->dir.Join("pipeline");
  if (!fs->CreateDirs(landing).ok() || !fs->CreateDirs(folder).ok()) return nullptr;
  auto land = [&](int64_t i) {
    char name[64];
    std::snprintf(name, sizeof name, "/orders-20261207T000000Z-%08lld.csv", static_cast<long long>(i));
    return fs->WriteFile(landing + name, "id,amount\n1,10\n").ok();
  };
  for (int64_t i = 0; i < files; ++i)
    if (!land(i)) return nullptr;
  std::string yaml = "name: sla\nstorage: " + p->dir.Join("storage") + "\nconfiguration: {landing: " + landing +
                     ", spark.sql.streaming.minBatchesToRetain: '1'}\nsla:\n  bronze: {max_lag: 5m}\n";
  std::string sql =
      "CREATE OR REFRESH STREAMING TABLE bronze_events AS SELECT * FROM STREAM read_files('${landing}', "
      "format => 'csv', header => true, schema => 'id INT, amount DOUBLE');\n";
  if (!fs->WriteFile(folder + "/pipeline.yaml", yaml).ok() || !fs->WriteFile(folder + "/events.sql", sql).ok())
    return nullptr;
  auto runner = runtime::PipelineRunner::Open(folder, {});
  if (!runner.ok()) return nullptr;
  p->runner = std::move(*runner);
  for (int batch = 0; batch < 2; ++batch) {
    if (batch == 1 && !land(files)) return nullptr;
    auto update = p->runner->RunOnce(runtime::RunOptions{});
    if (!update.ok() || !update->ok()) return nullptr;
  }
  slot = std::move(p);
  return slot.get();
}

int64_t NowMillis() { return static_cast<int64_t>(::time(nullptr)) * 1000; }

void BM_EvaluateFromScratch(benchmark::State& state) {
  Pipeline* p = PipelineTaking(state.range(0));
  if (p == nullptr) return state.SkipWithError("setup failed");
  if (state.range(1) == 1) p->CleanLanding();
  for (auto _ : state) {
    auto report = server::EvaluateFreshness(*p->runner, FileSystem::Default(), NowMillis());
    if (!report.ok() || report->tables.empty() || report->tables[0].lag_seconds != 0)
      return state.SkipWithError("unexpected evaluation");
  }
}

void BM_EvaluateCached(benchmark::State& state) {
  Pipeline* p = PipelineTaking(state.range(0));
  if (p == nullptr) return state.SkipWithError("setup failed");
  if (state.range(1) == 1) p->CleanLanding();
  server::FreshnessCache cache;
  size_t before_fill = HeapInUse();
  if (!server::EvaluateFreshness(*p->runner, FileSystem::Default(), NowMillis(), &cache).ok())
    return state.SkipWithError("first evaluation failed");
  state.counters["cache_mb"] = static_cast<double>(HeapInUse() - before_fill) / 1e6;
  for (auto _ : state) {
    auto report = server::EvaluateFreshness(*p->runner, FileSystem::Default(), NowMillis(), &cache);
    if (!report.ok() || report->tables.empty() || report->tables[0].lag_seconds != 0)
      return state.SkipWithError("unexpected evaluation");
  }
}

// In this order: the landing folder is emptied by the first .../1 of each N.
BENCHMARK(BM_EvaluateFromScratch)->Args({10000, 0})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EvaluateCached)->Args({10000, 0})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EvaluateFromScratch)->Args({10000, 1})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EvaluateCached)->Args({10000, 1})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EvaluateFromScratch)->Args({100000, 0})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EvaluateCached)->Args({100000, 0})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EvaluateFromScratch)->Args({100000, 1})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EvaluateCached)->Args({100000, 1})->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lakepipe

BENCHMARK_MAIN();
