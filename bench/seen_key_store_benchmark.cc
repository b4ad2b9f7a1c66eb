// The durable seen-key set of a streaming DISTINCT (src/state/seen_key_store.h, issue 15
// "Dedup state"): what inserting, committing, reopening and probing cost at millions of
// keys. Built by `make bench` (-DLAKEPIPE_BENCH=ON), which runs BM_CommitNew; the others
// by hand (figures in docs/BENCHMARKS.md, "Dedup state", "The seen-key commit per key");
// not a test.
//
//   BM_InsertCommit/B     LAKEPIPE_BENCH_KEYS (default 5,000,000) distinct keys inserted in
//                         micro-batches of B keys into a fresh store, each batch committed
//                         (Abandon, InsertIfAbsent, Commit: the runtime's calls). B = 65536
//                         is a continuous flow's batch; B = all keys is `run --once`.
//   BM_BacklogAfterWarmup/N  a store holding 10 keys (a continuous run's warm-up batch),
//                         then one micro-batch of N new keys inserted and committed: a
//                         backlog drained in continuous mode. Before session 11 the commit
//                         put the batch's keys into the store's in-memory copy in key order
//                         without room reserved, which crowded them into one probe run
//                         (seconds at 300,000 keys).
//   BM_Reopen/N           Open a store holding N keys and probe one key: a restart's cost.
//   BM_BatchesAfterReopen/N  a copy of a store of N keys opened, then 160 batches of 5,000
//                         new keys probed and committed: the slowest batch (the filter's
//                         scan, when it runs inside a batch) and the median.
//   BM_ProbeKnown/N       on a store of N keys, batches of 65536 keys, half already stored
//                         and half new, probed and abandoned (a replay; no commit).
//   BM_CommitNew/new:N/stored:M/times:T  the commit alone of one batch of N new keys
//                         (T = 1: each with an event time, as a deduplication with a
//                         watermark records them) into a store of M keys (a copy of a store
//                         built once); the keys are probed first, untimed. Reports ns per key
//                         (wall) and CPU ns per key (every thread of the process): what
//                         issue 15's "seen-key commit" costs Silver per new line.
//
// Keys are 48 bytes, about the KeyEncoder bytes of a row of the orders pipeline's Silver.
// The stores of BM_Reopen/BM_ProbeKnown are built once per key count under
// $TMPDIR/lp_seen_bench_<N> (not timed) and reused by later runs.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "state/seen_key_store.h"

namespace lakepipe {
namespace {

int64_t Keys() {
  const char* env = std::getenv("LAKEPIPE_BENCH_KEYS");
  return env != nullptr ? std::atoll(env) : 5000000;
}

constexpr size_t kKeyBytes = 48;

// Key i: its decimal number padded into 48 bytes of text, as row keys are.
void MakeKey(int64_t i, char* out) {
  std::memset(out, 'x', kKeyBytes);
  std::snprintf(out, kKeyBytes, "order-%012lld|product-%08lld|", static_cast<long long>(i),
                static_cast<long long>(i % 99991));
}

// The keys [from, from + n) in one arena with views into it.
struct KeyBatch {
  std::string arena;
  std::vector<std::string_view> views;
  // Keys id(0) .. id(n - 1).
  template <typename Id>
  void FillBy(int64_t n, Id id) {
    arena.resize(static_cast<size_t>(n) * kKeyBytes);
    views.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      char* p = arena.data() + static_cast<size_t>(i) * kKeyBytes;
      MakeKey(id(i), p);
      views[static_cast<size_t>(i)] = std::string_view(p, kKeyBytes);
    }
  }
  void Fill(int64_t from, int64_t n) {
    FillBy(n, [from](int64_t i) { return from + i; });
  }
};

std::string Scratch(const std::string& name) {
  std::string dir = (std::filesystem::temp_directory_path() / name).string();
  std::filesystem::remove_all(dir);
  return dir;
}

void Check(const Status& st) {
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    std::abort();
  }
}

std::shared_ptr<state::SeenKeyStore> OpenOrDie(const std::string& dir) {
  auto store = state::SeenKeyStore::Open(dir);
  Check(store.status());
  return *store;
}

// Inserts keys [0, n) in batches of `batch` and commits each; returns the next batch id.
int64_t Fill(state::SeenKeyStore& store, int64_t n, int64_t batch, int64_t first_batch_id) {
  KeyBatch keys;
  std::vector<uint8_t> inserted;
  int64_t id = first_batch_id;
  for (int64_t from = 0; from < n; from += batch, ++id) {
    keys.Fill(from, std::min(batch, n - from));
    store.Abandon();
    Check(store.InsertIfAbsent(keys.views, &inserted));
    Check(store.Commit(id));
  }
  return id;
}

void BM_InsertCommit(benchmark::State& state) {
  int64_t n = Keys();
  int64_t batch = state.range(0) == 0 ? n : state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    std::string dir = Scratch("lp_seen_bench_insert");
    state.ResumeTiming();
    {
      auto store = OpenOrDie(dir);
      Fill(*store, n, batch, 0);
      if (store->size() != n) std::abort();
    }  // the destructor is part of the cost
    state.PauseTiming();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.counters["keys"] = static_cast<double>(n);
  state.counters["keys_per_s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_InsertCommit)->Arg(65536)->Arg(0)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

void BM_BacklogAfterWarmup(benchmark::State& state) {
  int64_t n = state.range(0);
  KeyBatch warmup, backlog;
  warmup.Fill(n, 10);
  backlog.Fill(0, n);
  std::vector<uint8_t> inserted;
  for (auto _ : state) {
    state.PauseTiming();
    std::string dir = Scratch("lp_seen_bench_backlog");
    auto store = OpenOrDie(dir);
    store->Abandon();
    Check(store->InsertIfAbsent(warmup.views, &inserted));
    Check(store->Commit(0));
    state.ResumeTiming();
    store->Abandon();
    Check(store->InsertIfAbsent(backlog.views, &inserted));
    Check(store->Commit(1));
    state.PauseTiming();
    if (store->size() != n + 10) std::abort();
    store.reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.counters["keys_per_s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_BacklogAfterWarmup)->Arg(300000)->Arg(1000000)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

// A store of n keys under $TMPDIR, built once (batches of 1M keys).
std::string StoreOf(int64_t n) {
  std::string dir = (std::filesystem::temp_directory_path() / ("lp_seen_bench_" + std::to_string(n))).string();
  std::string done = dir + ".done";
  if (std::filesystem::exists(done)) return dir;
  std::filesystem::remove_all(dir);
  {
    auto store = OpenOrDie(dir);
    Fill(*store, n, 1000000, 0);
  }
  std::FILE* f = std::fopen(done.c_str(), "w");
  if (f != nullptr) std::fclose(f);
  return dir;
}

void BM_Reopen(benchmark::State& state) {
  int64_t n = state.range(0);
  std::string dir = StoreOf(n);
  KeyBatch one;
  one.Fill(n - 1, 1);
  std::vector<uint8_t> inserted;
  for (auto _ : state) {
    auto store = OpenOrDie(dir);
    Check(store->InsertIfAbsent(one.views, &inserted));
    if (store->size() != n || inserted[0] != 0) std::abort();
    store->Abandon();
  }
}
BENCHMARK(BM_Reopen)->Arg(5000000)->Arg(10000000)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

// A continuous DISTINCT after a restart: a copy of a store of N keys (more than fit in
// memory as a copy), then 160 micro-batches of 5,000 new keys (a second at 5,000 lines/s),
// each probed and committed. Its probes read RocksDB until they come to a sixteenth of the
// stored keys, which builds the filter of the stored keys by a scan of all of them (a
// batch's pause, inside the batch before session 23, on a thread of its own since).
// Reports the slowest batch, the median and the batch whose probes first used the filter.
void BM_BatchesAfterReopen(benchmark::State& state) {
  const int64_t n = state.range(0);
  constexpr int64_t kBatch = 5000;
  constexpr int kBatches = 160;
  const std::string source = StoreOf(n);
  std::vector<double> ms;
  int first_filtered = -1;
  for (auto _ : state) {
    state.PauseTiming();
    std::string dir = Scratch("lp_seen_bench_after_reopen");
    std::filesystem::copy(source, dir, std::filesystem::copy_options::recursive);
    state.ResumeTiming();
    auto store = OpenOrDie(dir);
    KeyBatch keys;
    std::vector<uint8_t> inserted;
    int64_t id = store->committed_batch().value_or(-1) + 1;
    for (int b = 0; b < kBatches; ++b) {
      keys.Fill(n + b * kBatch, kBatch);
      auto start = std::chrono::steady_clock::now();
      store->Abandon();
      Check(store->InsertIfAbsent(keys.views, &inserted));
      Check(store->Commit(id++));
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      if (first_filtered < 0 && store->stored_filter_loaded()) first_filtered = b;
    }
    if (store->size() != n + kBatches * kBatch) std::abort();
    state.PauseTiming();
    store.reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  state.counters["max_batch_ms"] = sorted.back();
  state.counters["p50_batch_ms"] = sorted[sorted.size() / 2];
  state.counters["filter_from_batch"] = first_filtered;
}
BENCHMARK(BM_BatchesAfterReopen)->Arg(5000000)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

void BM_ProbeKnown(benchmark::State& state) {
  int64_t n = state.range(0);
  std::string dir = StoreOf(n);
  auto store = OpenOrDie(dir);
  constexpr int64_t kBatch = 65536;
  constexpr int kBatches = 16;
  std::vector<KeyBatch> batches(kBatches);
  // Even positions: stored keys spread over the store; odd: keys never stored.
  for (int b = 0; b < kBatches; ++b) {
    batches[static_cast<size_t>(b)].FillBy(kBatch, [n, b](int64_t i) {
      return i % 2 == 0 ? (b * kBatch + i) * 2654435761LL % n : n + b * kBatch + i;
    });
  }
  std::vector<uint8_t> inserted;
  for (auto _ : state) {
    for (const auto& keys : batches) {
      store->Abandon();
      Check(store->InsertIfAbsent(keys.views, &inserted));
    }
    store->Abandon();
  }
  state.counters["probes_per_s"] =
      benchmark::Counter(static_cast<double>(kBatch * kBatches), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ProbeKnown)->Arg(5000000)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// A store of m keys, with or without event times, built once under $TMPDIR (keys
// [0, m), committed in batches of 1M).
std::string StoreOf(int64_t m, bool times) {
  if (!times) return StoreOf(m);
  std::string dir = (std::filesystem::temp_directory_path() / ("lp_seen_bench_t" + std::to_string(m))).string();
  std::string done = dir + ".done";
  if (std::filesystem::exists(done)) return dir;
  std::filesystem::remove_all(dir);
  {
    auto store = OpenOrDie(dir);
    KeyBatch keys;
    std::vector<int64_t> event_times;
    std::vector<uint8_t> inserted;
    constexpr int64_t kBatch = 1000000;
    int64_t id = 0;
    for (int64_t from = 0; from < m; from += kBatch, ++id) {
      int64_t n = std::min(kBatch, m - from);
      keys.Fill(from, n);
      event_times.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) event_times[static_cast<size_t>(i)] = (from + i) * 1000;
      store->Abandon();
      Check(store->InsertIfAbsentWithTime(keys.views, event_times, &inserted));
      Check(store->Commit(id));
    }
  }
  std::FILE* f = std::fopen(done.c_str(), "w");
  if (f != nullptr) std::fclose(f);
  return dir;
}

// User + system CPU of the whole process (every thread's: a commit may write on two, and
// RocksDB's background threads run beside it).
double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

void BM_CommitNew(benchmark::State& state) {
  const int64_t n = state.range(0), m = state.range(1);
  const bool times = state.range(2) != 0;
  const std::string base = m > 0 ? StoreOf(m, times) : std::string();
  KeyBatch keys;
  keys.Fill(m + 1000, n);  // none stored
  std::vector<int64_t> event_times(static_cast<size_t>(n));
  // Later than every stored time, so no stored key is re-timed.
  for (int64_t i = 0; i < n; ++i) event_times[static_cast<size_t>(i)] = (m + 1000 + i) * 1000;
  std::vector<uint8_t> inserted;
  double commit_seconds = 0, commit_cpu_seconds = 0;
  for (auto _ : state) {
    std::string dir = Scratch("lp_seen_bench_commit");
    if (m > 0) std::filesystem::copy(base, dir, std::filesystem::copy_options::recursive);
    auto store = OpenOrDie(dir);
    int64_t batch = store->committed_batch().value_or(-1) + 1;
    store->Abandon();
    if (times) Check(store->InsertIfAbsentWithTime(keys.views, event_times, &inserted));
    else Check(store->InsertIfAbsent(keys.views, &inserted));
    for (uint8_t b : inserted) {
      if (b != 1) std::abort();
    }
    const double cpu_start = ProcessCpuSeconds();
    auto start = std::chrono::steady_clock::now();
    Check(store->Commit(batch));
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    commit_cpu_seconds += ProcessCpuSeconds() - cpu_start;
    state.SetIterationTime(took.count());
    commit_seconds += took.count();
    if (store->size() != n + m) std::abort();
    store.reset();
    std::filesystem::remove_all(dir);
  }
  const double committed = static_cast<double>(n * state.iterations());
  state.counters["ns_per_key"] = commit_seconds * 1e9 / committed;
  state.counters["cpu_ns_per_key"] = commit_cpu_seconds * 1e9 / committed;
}
BENCHMARK(BM_CommitNew)
    ->ArgNames({"new", "stored", "times"})
    ->ArgsProduct({{10000, 100000, 1000000}, {0, 1000000}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3)
    ->UseManualTime();

}  // namespace
}  // namespace lakepipe

BENCHMARK_MAIN();
