// What a read_files source costs as the files it has taken pile up (issue 16, "runs for
// months"; docs/continuous.md "The file source"). Run by hand or by scripts/bench.sh
// (`make bench`); not a test.
//
//   BM_PollFolderSet/N       one listing (ListNewFiles) of a landing folder holding N files,
//                            every one of them already taken, known from a std::set<std::string>
//                            (the file source before maxFileAge): the cost every poll pays for a
//                            folder nobody empties.
//   BM_PollFolderTaken/N     the same, known from TakenFiles (runtime/taken_files.h).
//   BM_PollFolderForgotten/N the same, every file forgotten (past maxFileAge) and passed by
//                            from OldFiles without a stat.
//   BM_PollFolderStat/N      the same folder with nothing known: every file stat'ed (and
//                            found older than the horizon): what OldFiles saves each poll.
//   BM_RememberSet/N         remembering N taken files in a std::set<std::string>; reports the
//                            heap bytes per file (glibc's mallinfo2, in use after minus before)
//                            and the bytes per file of a compact file of format 1 (paths only).
//   BM_RememberTaken/N       the same with TakenFiles and a compact file of format 2 (each
//                            file's time too).
//
// The file names are those `lakepipe produce` writes ("orders-<UTC stamp>-<n>.csv").
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>
#include <string>

#include "common/fs.h"
#include "runtime/batch_plan.h"
#include "runtime/file_source.h"
#include "runtime/taken_files.h"

namespace lakepipe {
namespace {

// Heap bytes in use: glibc's small-block arena plus its mmapped large blocks (a big array
// is one of those, and uordblks alone does not count it).
size_t HeapInUse() {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

std::string Scratch(const std::string& name) {
  std::string dir = (std::filesystem::temp_directory_path() / ("lp_file_source_bench_" + name)).string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string FileName(int64_t i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "orders-20261206T%06lldZ-%06lld.csv", static_cast<long long>(i / 10 % 1000000),
                static_cast<long long>(i));
  return buf;
}

// A landing folder of `n` small files (created once per size, kept for the run).
std::string Landing(int64_t n) {
  std::string dir = (std::filesystem::temp_directory_path() / ("lp_file_source_bench_landing_" + std::to_string(n))).string();
  if (std::filesystem::exists(dir + "/.complete")) return dir;
  dir = Scratch("landing_" + std::to_string(n));
  for (int64_t i = 0; i < n; ++i) {
    std::FILE* f = std::fopen((dir + "/" + FileName(i)).c_str(), "wb");
    if (f == nullptr) std::abort();
    std::fputs("a,b\n1,2\n", f);
    std::fclose(f);
  }
  std::fclose(std::fopen((dir + "/.complete").c_str(), "wb"));
  return dir;
}

void Poll(benchmark::State& state, const runtime::KnownFile& known, const runtime::FileListOptions& options,
          size_t expect_too_old) {
  std::string dir = Landing(state.range(0));
  for (auto _ : state) {
    auto listing = runtime::ListNewFiles(FileSystem::Default(), dir, known, options);
    if (!listing.ok() || !listing->files.empty() || listing->too_old.size() != expect_too_old) std::abort();
  }
  state.counters["files"] = static_cast<double>(state.range(0));
}

void BM_PollFolderSet(benchmark::State& state) {
  std::set<std::string> seen;
  for (int64_t i = 0; i < state.range(0); ++i) seen.insert(FileName(i));
  Poll(state, [&seen](const std::string& p) { return seen.count(p) > 0; }, {}, 0);
}

void BM_PollFolderTaken(benchmark::State& state) {
  runtime::TakenFiles taken;
  for (int64_t i = 0; i < state.range(0); ++i) taken.Insert(FileName(i), i);
  Poll(state, [&taken](const std::string& p) { return taken.Contains(p); }, {}, 0);
}

void BM_PollFolderForgotten(benchmark::State& state) {
  runtime::OldFiles old;
  for (int64_t i = 0; i < state.range(0); ++i) old.Forgotten(FileName(i));
  runtime::KnownFile known = [&old](const std::string& p) { return old.Skip(p); };
  std::string dir = Landing(state.range(0));
  for (auto _ : state) {
    old.BeginListing();
    auto listing = runtime::ListNewFiles(FileSystem::Default(), dir, known, {});
    old.EndListing();
    if (!listing.ok() || !listing->files.empty() || old.size() != static_cast<size_t>(state.range(0))) std::abort();
  }
}

void BM_PollFolderStat(benchmark::State& state) {
  runtime::FileListOptions options;
  options.horizon_micros = std::numeric_limits<int64_t>::max();  // every file is too old
  Poll(state, [](const std::string&) { return false; }, options, static_cast<size_t>(state.range(0)));
}

runtime::BatchPlan Compact(runtime::PlannedSource s) {
  runtime::BatchPlan compact;
  compact.batch_id = 100;
  compact.compact = true;
  s.kind = runtime::PlannedSource::Kind::kFiles;
  s.path = "/data/landing/orders";
  compact.sources.push_back(std::move(s));
  return compact;
}

void BM_RememberSet(benchmark::State& state) {
  int64_t n = state.range(0);
  for (auto _ : state) {
    size_t before = HeapInUse();
    auto* seen = new std::set<std::string>();
    for (int64_t i = 0; i < n; ++i) seen->insert(FileName(i));
    size_t after = HeapInUse();
    state.counters["heap_bytes_per_file"] = static_cast<double>(after - before) / static_cast<double>(n);
    runtime::PlannedSource s;
    for (const auto& f : *seen) s.files.push_back({f, 0, 0});
    // Format 1 wrote paths only.
    std::string text = Compact(std::move(s)).Serialize();
    size_t bytes = text.size() + 1;
    for (size_t at = text.find("\"mtime\":0,"); at != std::string::npos; at = text.find("\"mtime\":0,", at)) {
      bytes -= 10;
      at += 10;
    }
    state.counters["compact_bytes_per_file"] = static_cast<double>(bytes) / static_cast<double>(n);
    delete seen;
  }
}

void BM_RememberTaken(benchmark::State& state) {
  int64_t n = state.range(0);
  const int64_t kMtime = 1765000000000000;  // a real time: 16 digits in the compact file
  for (auto _ : state) {
    size_t before = HeapInUse();
    auto* taken = new runtime::TakenFiles();
    for (int64_t i = 0; i < n; ++i) taken->Insert(FileName(i), kMtime + i * 100000);
    size_t after = HeapInUse();
    state.counters["heap_bytes_per_file"] = static_cast<double>(after - before) / static_cast<double>(n);
    runtime::PlannedSource s;
    taken->ForEach([&s](std::string_view p, int64_t t) { s.files.push_back({std::string(p), 0, t}); });
    s.newest_mtime_micros = taken->newest_micros();
    std::string text = Compact(std::move(s)).Serialize();
    state.counters["compact_bytes_per_file"] = static_cast<double>(text.size() + 1) / static_cast<double>(n);
    delete taken;
  }
}

BENCHMARK(BM_PollFolderSet)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PollFolderTaken)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PollFolderForgotten)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PollFolderStat)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RememberSet)->Arg(100000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RememberTaken)->Arg(100000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lakepipe

BENCHMARK_MAIN();
