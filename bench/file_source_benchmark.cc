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
//   BM_CompactWhole/N        one compaction of a source remembering N files, 100 new since
//                            the last (600 a minute, a compaction every 10 s), as compact
//                            format 2 wrote it: forget the old, the whole list as one JSON
//                            document, put-if-absent (synced) on disk. Reports the bytes
//                            written per compaction.
//   BM_CompactSegments/N     the same in compact format 3 (runtime/taken_segments.h): the
//                            segments written (the 100 new files, and the merges when they
//                            come) and the compact file listing the segments; the bytes
//                            written per compaction averaged over 1,024 compactions at 1M
//                            (so merges up to level 5 count; 64 at 6M) and the most one
//                            wrote. The forgetting step (in memory) is timed apart as
//                            forget_ms: BM_CompactWhole forgets at every compaction, as
//                            before; BM_CompactSegments as TakenSegments::Forget does.
//   BM_LoadWhole/N           a restart's reading of that format-2 compact file into TakenFiles.
//   BM_LoadSegments/N        the same from the format-3 compact file and its segments.
//
// The file names are those `lakepipe produce` writes ("orders-<UTC stamp>-<n>.csv").
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <string>

#include "common/fs.h"
#include "runtime/batch_plan.h"
#include "runtime/file_source.h"
#include "runtime/taken_files.h"
#include "runtime/taken_segments.h"

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
  compact.compact_format = 2;
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

constexpr int64_t kFirstMtime = 1765000000000000;  // a real time: 16 digits
constexpr int64_t kFileEvery = 100000;              // 600 files a minute
constexpr int64_t kPerCompaction = 100;             // 10 batches a second, 100 batches a compaction
const char* const kSourcePath = "/data/landing/orders";

// Files [from, to) taken, 600 a minute. The benchmarks below set maxFileAge to n of those
// intervals, so that a source remembers n files and forgets as many as it takes (at 6M,
// about the default 7 days).
void TakeFiles(runtime::TakenFiles& taken, int64_t from, int64_t to) {
  for (int64_t i = from; i < to; ++i) taken.Insert(FileName(i), kFirstMtime + i * kFileEvery);
}

int64_t Micros(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::microseconds>(b - a).count();
}

// Compact format 2: the whole list, as streaming_flow.cc wrote it before format 3.
std::string WholeCompact(const runtime::TakenFiles& taken) {
  runtime::PlannedSource s;
  s.files.reserve(taken.size());
  taken.ForEach([&s](std::string_view p, int64_t t) { s.files.push_back({std::string(p), 0, t}); });
  s.newest_mtime_micros = taken.newest_micros();
  s.forgotten_before_micros = taken.forgotten_before_micros();
  return Compact(std::move(s)).Serialize() + "\n";
}

void BM_CompactWhole(benchmark::State& state) {
  int64_t n = state.range(0);
  std::string dir = Scratch("compact_whole");
  runtime::TakenFiles taken;
  TakeFiles(taken, 0, n);
  int64_t next = n, batch = 0, bytes = 0, forget_us = 0;
  FileSystem* fs = FileSystem::Default();
  for (auto _ : state) {
    TakeFiles(taken, next, next + kPerCompaction);
    next += kPerCompaction;
    auto t0 = std::chrono::steady_clock::now();
    taken.ForgetOlderThan(taken.Horizon(n * kFileEvery));
    forget_us += Micros(t0, std::chrono::steady_clock::now());
    std::string text = WholeCompact(taken);
    std::string path = dir + "/" + std::to_string(++batch) + ".compact";
    if (!fs->PutIfAbsent(path, text).ok()) std::abort();
    bytes += static_cast<int64_t>(text.size());
    state.PauseTiming();
    std::filesystem::remove(path);
    state.ResumeTiming();
  }
  state.counters["bytes_per_compaction"] = static_cast<double>(bytes) / static_cast<double>(state.iterations());
  state.counters["forget_ms"] = static_cast<double>(forget_us) / 1000.0 / static_cast<double>(state.iterations());
  state.counters["files"] = static_cast<double>(taken.size());
  std::filesystem::remove_all(dir);
}

// A source with `n` files taken 100 per compaction and its segments as they then are
// (built in memory: the setup of BM_CompactSegments and BM_LoadSegments).
struct SegmentedSource {
  runtime::TakenFiles taken;
  runtime::TakenSegments segments;
  std::map<std::string, std::string> files;  // the segment files listed, by name
  int64_t next = 0;
  int64_t batch = 0;
};

void Build(SegmentedSource& src, int64_t n) {
  for (; src.next < n; src.next += kPerCompaction) {
    TakeFiles(src.taken, src.next, std::min(n, src.next + kPerCompaction));
    int sequence = 0;
    auto after = src.segments.Compact(src.taken, kSourcePath, ++src.batch, &sequence,
                                      [&src](const std::string& name, std::string_view text) {
                                        src.files[name] = std::string(text);
                                        return Status::OK();
                                      });
    if (!after.ok()) std::abort();
    src.segments = std::move(*after);
    std::map<std::string, std::string> kept;
    for (const auto& g : src.segments.segments()) kept[g.ref.name] = std::move(src.files[g.ref.name]);
    src.files = std::move(kept);
  }
}

std::string SegmentCompact(const SegmentedSource& src) {
  runtime::PlannedSource s;
  s.segments = src.segments.Refs();
  s.newest_mtime_micros = src.taken.newest_micros();
  s.forgotten_before_micros = src.taken.forgotten_before_micros();
  runtime::BatchPlan plan = Compact(std::move(s));
  plan.compact_format = 3;
  return plan.Serialize() + "\n";
}

void BM_CompactSegments(benchmark::State& state) {
  int64_t n = state.range(0);
  std::string dir = Scratch("compact_segments");
  SegmentedSource src;
  Build(src, n);
  FileSystem* fs = FileSystem::Default();
  for (const auto& [name, text] : src.files)
    if (!fs->PutIfAbsent(dir + "/" + name, text).ok()) std::abort();
  int64_t bytes = 0, most = 0, forget_us = 0;
  for (auto _ : state) {
    TakeFiles(src.taken, src.next, src.next + kPerCompaction);
    src.next += kPerCompaction;
    auto t0 = std::chrono::steady_clock::now();
    src.segments.Forget(&src.taken, src.taken.Horizon(n * kFileEvery), nullptr);
    forget_us += Micros(t0, std::chrono::steady_clock::now());
    int64_t written = 0;
    int sequence = 0;
    auto after = src.segments.Compact(src.taken, kSourcePath, ++src.batch, &sequence,
                                      [&](const std::string& name, std::string_view text) {
                                        written += static_cast<int64_t>(text.size());
                                        return fs->PutIfAbsent(dir + "/" + name, text);
                                      });
    if (!after.ok()) std::abort();
    std::vector<std::string> before;
    for (const auto& g : src.segments.segments()) before.push_back(g.ref.name);
    src.segments = std::move(*after);
    std::string text = SegmentCompact(src);
    std::string path = dir + "/" + std::to_string(src.batch) + ".compact";
    if (!fs->PutIfAbsent(path, text).ok()) std::abort();
    written += static_cast<int64_t>(text.size());
    // The segments no longer listed go, as Retain deletes them.
    std::set<std::string> listed;
    for (const auto& g : src.segments.segments()) listed.insert(g.ref.name);
    for (const auto& name : before)
      if (!listed.count(name) && !fs->RemoveFile(dir + "/" + name).ok()) std::abort();
    state.PauseTiming();
    std::filesystem::remove(path);
    state.ResumeTiming();
    bytes += written;
    most = std::max(most, written);
  }
  state.counters["bytes_per_compaction"] = static_cast<double>(bytes) / static_cast<double>(state.iterations());
  state.counters["most_bytes"] = static_cast<double>(most);
  state.counters["forget_ms"] = static_cast<double>(forget_us) / 1000.0 / static_cast<double>(state.iterations());
  state.counters["segments"] = static_cast<double>(src.segments.segments().size());
  state.counters["files"] = static_cast<double>(src.taken.size());
  std::filesystem::remove_all(dir);
}

void BM_LoadWhole(benchmark::State& state) {
  int64_t n = state.range(0);
  std::string dir = Scratch("load_whole");
  {
    runtime::TakenFiles taken;
    TakeFiles(taken, 0, n);
    if (!FileSystem::Default()->WriteFile(dir + "/1.compact", WholeCompact(taken)).ok()) std::abort();
  }
  for (auto _ : state) {
    auto text = FileSystem::Default()->ReadFile(dir + "/1.compact");
    if (!text.ok()) std::abort();
    auto plan = runtime::ParseBatchPlan(*text, dir + "/1.compact");
    if (!plan.ok()) std::abort();
    runtime::TakenFiles taken;
    for (const auto& f : plan->sources[0].files) taken.Insert(f.path, f.mtime_micros);
    if (static_cast<int64_t>(taken.size()) != n) std::abort();
  }
  std::filesystem::remove_all(dir);
}

void BM_LoadSegments(benchmark::State& state) {
  int64_t n = state.range(0);
  std::string dir = Scratch("load_segments");
  {
    SegmentedSource src;
    Build(src, n);
    for (const auto& [name, text] : src.files)
      if (!FileSystem::Default()->WriteFile(dir + "/" + name, text).ok()) std::abort();
    if (!FileSystem::Default()->WriteFile(dir + "/1.compact", SegmentCompact(src)).ok()) std::abort();
    state.counters["segments"] = static_cast<double>(src.segments.segments().size());
  }
  for (auto _ : state) {
    auto text = FileSystem::Default()->ReadFile(dir + "/1.compact");
    if (!text.ok()) std::abort();
    auto plan = runtime::ParseBatchPlan(*text, dir + "/1.compact");
    if (!plan.ok()) std::abort();
    runtime::TakenFiles taken;
    runtime::TakenSegments segments;
    if (!segments.Load(FileSystem::Default(), dir, plan->sources[0], &taken).ok()) std::abort();
    if (static_cast<int64_t>(taken.size()) != n) std::abort();
  }
  std::filesystem::remove_all(dir);
}

BENCHMARK(BM_PollFolderSet)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PollFolderTaken)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PollFolderForgotten)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PollFolderStat)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RememberSet)->Arg(100000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RememberTaken)->Arg(100000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CompactWhole)->Arg(1000000)->Arg(6000000)->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CompactSegments)->Arg(1000000)->Iterations(1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CompactSegments)->Arg(6000000)->Iterations(64)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LoadWhole)->Arg(1000000)->Arg(6000000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LoadSegments)->Arg(1000000)->Arg(6000000)->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lakepipe

BENCHMARK_MAIN();
