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
//
//   BM_BronzeStream/M/H/R       a Bronze-like streaming table over H simulated hours: R
//                               micro-batch files a second (500-line files at 5,000
//                               lines/s: R = 10), auto-compaction of every 50 small files
//                               of a level into one of the next (level-1 files of 50
//                               batches, level-2 of 2,500; a level-2 file is no longer
//                               small). M = 0: as shipped before (untagged removes, Delta's
//                               7-day tombstones, a checkpoint every 10 commits); M = 1:
//                               now (removes tagged lakepipe.mtimeKept: tombstones kept an
//                               hour; a checkpoint every 100 commits). The appends between
//                               actions of each simulated hour are applied at once (the
//                               same state; versions are counted as separate commits),
//                               then expired tombstones are dropped (a running handle does
//                               it once per checkpoint interval: drop_scan_ms is one such
//                               scan of the final state; commit_apply_ms one more
//                               compaction commit rolled onto it, as Latest() does at each
//                               commit). Counters at the end of the H hours: tombstones
//                               held, heap of the state, the checkpoint (bytes, thread CPU
//                               seconds to write, and that times the checkpoints a second
//                               at R files a second: checkpoint_cpu_share, in cores), a
//                               restart (ReplayLog from the checkpoint: thread CPU seconds,
//                               heap).
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
#include "delta/log_cleanup.h"
#include "delta/log_internal.h"
#include "delta/mtime_kept.h"

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

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A file a compaction of level `level` - 1 files writes (level >= 1).
delta::AddFile CompactedFileOf(int level, int64_t v, int64_t now) {
  delta::AddFile add = FileOf(1, v, now);
  add.size = level == 1 ? 50LL * 61000 : 2500LL * 61000;
  add.data_change = false;
  add.tags = delta::StringMap{{"lakepipe.compacted", std::to_string(level)}};
  return add;
}

delta::RemoveFile CompactedAway(const delta::AddFile& add, int64_t now, bool tagged) {
  delta::RemoveFile r;
  r.path = add.path;
  r.deletion_timestamp = now;
  r.data_change = false;
  r.extended_file_metadata = true;
  r.partition_values = add.partition_values;
  r.size = add.size;
  r.stats = add.stats;  // as RemoveOf copies them from the add
  r.tags = add.tags;
  if (tagged) {
    if (!r.tags) r.tags.emplace();
    (*r.tags)[delta::kMtimeKeptTag] = "true";
  }
  return r;
}

void BM_BronzeStream(benchmark::State& st) {
  const bool now_shipped = st.range(0) == 1;
  const int64_t hours = st.range(1);
  const int64_t files_per_second = st.range(2);
  constexpr int kMinFiles = 50;  // auto-compaction's threshold
  const int64_t end = Clock::System()->NowMillis();
  const int64_t start = end - hours * 3600 * 1000;
  const int64_t interval = now_shipped ? 100 : 10;
  std::string dir = Scratch("bronze");
  double tombstones = 0, heap = 0, checkpoint_bytes = 0, checkpoint_seconds = 0, restart_seconds = 0,
         restart_heap = 0, restart_tombstones = 0, drop_scan_ms = 0, commit_apply_ms = 0, active = 0,
         versions = 0;
  for (auto _ : st) {
    const int64_t heap_before = HeapInUse();
    auto state = std::make_unique<delta::TableState>();
    state->has_protocol = state->has_metadata = true;
    state->metadata.id = NewUuid();
    state->metadata.schema_string = "{\"type\":\"struct\",\"fields\":[]}";
    if (now_shipped) state->metadata.configuration["delta.checkpointInterval"] = "100";
    std::vector<delta::AddFile> level1;  // live level-1 files, oldest first
    int64_t version = 0, file_no = 0;
    // One cycle: kMinFiles micro-batch files, then their compaction into a level-1 file,
    // and every kMinFiles level-1 files their compaction into a level-2 file. The actions
    // of a simulated hour are applied at once (the state after them is the same as after
    // applying them commit by commit; commit_apply_ms below is what one commit costs).
    const int64_t cycle_millis = kMinFiles * 1000 / files_per_second;
    std::vector<delta::Action> hour;
    int64_t hour_start = start;
    for (int64_t t = start + cycle_millis; t <= end; t += cycle_millis) {
      for (int i = 0; i < kMinFiles; ++i) hour.push_back(FileOf(1, file_no + 1 + i, t));
      std::vector<const delta::AddFile*> small;
      for (size_t i = hour.size() - kMinFiles; i < hour.size(); ++i) small.push_back(&std::get<delta::AddFile>(hour[i]));
      std::vector<delta::Action> compaction;
      for (const auto* f : small) compaction.push_back(CompactedAway(*f, t, now_shipped));
      file_no += kMinFiles;
      version += kMinFiles + 1;
      if (level1.size() + 1 == static_cast<size_t>(kMinFiles)) {
        // The level-1 output would be the 50th: the level-1 files join this compaction
        // (PlanOptimize's rule), into (about) one level-2 file.
        for (const auto& f : level1) compaction.push_back(CompactedAway(f, t, now_shipped));
        level1.clear();
        compaction.push_back(CompactedFileOf(2, ++file_no, t));
      } else {
        level1.push_back(CompactedFileOf(1, ++file_no, t));
        compaction.push_back(level1.back());
      }
      for (auto& a : compaction) hour.push_back(std::move(a));
      if (t - hour_start >= 3600 * 1000 || t + cycle_millis > end) {
        if (!delta::ApplyCommit(state.get(), version, std::move(hour), t).ok()) std::abort();
        hour.clear();
        hour_start = t;
        delta::DropExpiredTombstones(state.get(), t);
      }
    }
    delta::DropExpiredTombstones(state.get(), end);
    heap = static_cast<double>(HeapInUse() - heap_before);
    tombstones = static_cast<double>(state->tombstones.size());
    active = static_cast<double>(state->files.size());
    versions = static_cast<double>(version);
    {
      delta::TableState copy = *state;  // shares the maps' chunks; the scan is what counts
      const auto t0 = std::chrono::steady_clock::now();
      delta::DropExpiredTombstones(&copy, end);
      drop_scan_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      // One more compaction commit rolled onto the state, as a running handle's Latest()
      // does at each commit (the copy-on-write maps make it cost with their size).
      std::vector<delta::Action> next;
      for (int i = 0; i < kMinFiles; ++i) next.push_back(CompactedAway(FileOf(1, file_no + 1 + i, end), end, now_shipped));
      next.push_back(CompactedFileOf(1, file_no + kMinFiles + 1, end));
      const auto t1 = std::chrono::steady_clock::now();
      if (!delta::ApplyCommit(&copy, version + 1, std::move(next), end).ok()) std::abort();
      commit_apply_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
    }
    const double cpu0 = ThreadCpuSeconds();
    auto lc = delta::WriteCheckpointFile(FileSystem::Default(), dir, *state);
    checkpoint_seconds = ThreadCpuSeconds() - cpu0;
    if (!lc.ok()) {
      st.SkipWithError(lc.status().ToString().c_str());
      break;
    }
    checkpoint_bytes = static_cast<double>(lc->size_in_bytes.value_or(0));
    state.reset();
    const int64_t restart_before = HeapInUse();
    const double cpu1 = ThreadCpuSeconds();
    auto replayed = delta::ReplayLog(FileSystem::Default(), dir);
    restart_seconds = ThreadCpuSeconds() - cpu1;
    if (!replayed.ok()) {
      st.SkipWithError(replayed.status().ToString().c_str());
      break;
    }
    restart_heap = static_cast<double>(HeapInUse() - restart_before);
    restart_tombstones = static_cast<double>(replayed->tombstones.size());
  }
  // Commits a second: R appends, R / 50 level-1 compactions (and a few level-2 ones).
  const double commits_per_second = static_cast<double>(files_per_second) * (1.0 + 1.0 / kMinFiles);
  st.counters["tombstones"] = tombstones;
  st.counters["heap_MB"] = heap / 1e6;
  st.counters["active_files"] = active;
  st.counters["versions"] = versions;
  st.counters["drop_scan_ms"] = drop_scan_ms;
  st.counters["commit_apply_ms"] = commit_apply_ms;
  st.counters["checkpoint_MB"] = checkpoint_bytes / 1e6;
  st.counters["checkpoint_cpu_s"] = checkpoint_seconds;
  st.counters["checkpoint_cpu_share"] = checkpoint_seconds * commits_per_second / static_cast<double>(interval);
  st.counters["restart_cpu_s"] = restart_seconds;
  st.counters["restart_heap_MB"] = restart_heap / 1e6;
  st.counters["restart_tombstones"] = restart_tombstones;
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
// The soak's rate, now (M = 1) over a day and a week: flat. Before (M = 0) over a day and
// two: everything grows linearly with the tombstones (extrapolate x7 / x3.5 to a week; a
// simulated week of it needs ~12 GB of memory to write its checkpoint).
BENCHMARK(BM_BronzeStream)
    ->Args({0, 24, 10})
    ->Args({0, 48, 10})
    ->Args({1, 24, 10})
    ->Args({1, 168, 10})
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

}  // namespace
}  // namespace lakepipe

BENCHMARK_MAIN();
