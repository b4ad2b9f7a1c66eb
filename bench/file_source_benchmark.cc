// What a read_files source costs as the files it has taken pile up (issue 16, "runs for
// months"; docs/continuous.md "The file source"). Run by hand or by scripts/bench.sh
// (`make bench`); not a test.
//
//   BM_PollFolder/N          one listing (ListNewFiles) of a landing folder holding N files,
//                            every one of them already taken: the cost every poll pays for a
//                            folder nobody empties.
//   BM_RememberFiles/N       remembering N taken files in memory; reports the heap bytes per
//                            file (glibc's mallinfo2, in use after minus before) and the bytes
//                            per file of the compact file that lists them.
//
// The file names are those `lakepipe produce` writes ("orders-<UTC stamp>-<n>.csv").
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <string>

#include "common/fs.h"
#include "runtime/batch_plan.h"
#include "runtime/file_source.h"

namespace lakepipe {
namespace {

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

void BM_PollFolder(benchmark::State& state) {
  int64_t n = state.range(0);
  std::string dir = Landing(n);
  std::set<std::string> seen;
  for (int64_t i = 0; i < n; ++i) seen.insert(FileName(i));
  runtime::FileListOptions options;
  for (auto _ : state) {
    auto listing = runtime::ListNewFiles(FileSystem::Default(), dir, seen, options);
    if (!listing.ok() || !listing->files.empty()) std::abort();
  }
  state.counters["files"] = static_cast<double>(n);
}

void BM_RememberFiles(benchmark::State& state) {
  int64_t n = state.range(0);
  for (auto _ : state) {
    size_t before = mallinfo2().uordblks;
    auto* seen = new std::set<std::string>();
    for (int64_t i = 0; i < n; ++i) seen->insert(FileName(i));
    size_t after = mallinfo2().uordblks;
    state.counters["heap_bytes_per_file"] = static_cast<double>(after - before) / static_cast<double>(n);
    runtime::BatchPlan compact;
    compact.batch_id = 100;
    compact.compact = true;
    runtime::PlannedSource s;
    s.kind = runtime::PlannedSource::Kind::kFiles;
    s.path = "/data/landing/orders";
    for (const auto& f : *seen) s.files.push_back({f, 0, 0});
    compact.sources.push_back(std::move(s));
    state.counters["compact_bytes_per_file"] =
        static_cast<double>(compact.Serialize().size() + 1) / static_cast<double>(n);
    delete seen;
  }
}

BENCHMARK(BM_PollFolder)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RememberFiles)->Arg(100000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lakepipe

BENCHMARK_MAIN();
