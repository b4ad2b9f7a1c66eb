// Benchmarks of lakepipe's Parquet writer and reader on the generated 5-million-line orders
// table, run by scripts/bench.sh (`make bench`) beside DuckDB doing the same work
// (bench/duckdb_bench.mjs). Inputs come from the environment:
//   LAKEPIPE_BENCH_CSV            the orders CSV (lakepipe generate orders --rows 5000000)
//   LAKEPIPE_BENCH_OUT            a scratch folder for the Parquet files written here
//   LAKEPIPE_BENCH_DUCKDB_PARQUET DuckDB's Parquet file of the same table (optional)
//   LAKEPIPE_BENCH_PARQUET        any Parquet file for BM_ParquetReadFile (optional), and
//   LAKEPIPE_BENCH_PARQUET_COLUMNS the columns it reads (comma-separated; default all)
// Each benchmark runs one iteration on the whole table (reads: three repetitions); the
// script takes the minimum. The process sets up malloc as `lakepipe run` does (huge pages,
// fixed thresholds: common/memory.h), so the reads measure the reader as the pipeline runs
// it; LAKEPIPE_MALLOC_HUGEPAGES=0 leaves glibc's defaults for the huge pages part. The writer and reader benchmarks exist only when those parts
// of src/formats/parquet are built (CMake defines LAKEPIPE_BENCH_HAVE_PARQUET_*).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/memory.h"
#include "generator/domain.h"
#include "orders_loader.h"

#ifdef LAKEPIPE_BENCH_HAVE_CSV
#include "formats/csv/csv_reader.h"
#endif

#if defined(LAKEPIPE_BENCH_HAVE_PARQUET_WRITER) || defined(LAKEPIPE_BENCH_HAVE_PARQUET_READER)
#include "formats/parquet/parquet.h"
#endif

namespace lakepipe::bench {
namespace {

constexpr int64_t kBatchRows = 65536;

std::string Env(const char* name, const char* fallback = "") {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string(fallback);
}

std::string CsvPath() { return Env("LAKEPIPE_BENCH_CSV"); }
std::string OutDir() { return Env("LAKEPIPE_BENCH_OUT", "/tmp"); }
std::string OwnParquetPath() { return OutDir() + "/lakepipe_orders.parquet"; }

// The table in memory, loaded once (not timed by the write benchmark).
const std::vector<RecordBatch>* Table(benchmark::State& state) {
  static std::vector<RecordBatch>* table = nullptr;
  if (table == nullptr) {
    auto loaded = LoadOrdersCsv(CsvPath(), kBatchRows);
    if (!loaded.ok()) {
      state.SkipWithError(("cannot load " + CsvPath() + ": " + loaded.status().message()).c_str());
      return nullptr;
    }
    table = new std::vector<RecordBatch>(std::move(*loaded));
  }
  return table;
}

int64_t TotalRows(const std::vector<RecordBatch>& batches) {
  int64_t n = 0;
  for (const auto& b : batches) n += b.num_rows();
  return n;
}

void BM_GenerateOrders(benchmark::State& state) {
  auto domain = generator::MakeDomain("orders");
  const int64_t rows = state.range(0);
  int64_t bytes = 0;
  for (auto _ : state) {
    std::string text = generator::GenerateToString(**domain, 1, rows);
    bytes = static_cast<int64_t>(text.size());
    benchmark::DoNotOptimize(text.data());
  }
  state.SetItemsProcessed(rows * state.iterations());
  state.SetBytesProcessed(bytes * state.iterations());
}
BENCHMARK(BM_GenerateOrders)->Arg(1000000)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// CSV -> batches in memory: the load step of the end-to-end job.
void BM_CsvLoad(benchmark::State& state) {
  int64_t rows = 0;
  for (auto _ : state) {
    auto loaded = LoadOrdersCsv(CsvPath(), kBatchRows);
    if (!loaded.ok()) {
      state.SkipWithError(loaded.status().message().c_str());
      return;
    }
    rows = TotalRows(*loaded);
  }
  state.SetItemsProcessed(rows * state.iterations());
  state.SetLabel(OrdersLoaderName());
}
BENCHMARK(BM_CsvLoad)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

#ifdef LAKEPIPE_BENCH_HAVE_PARQUET_WRITER

Status WriteParquet(const std::vector<RecordBatch>& batches, const std::string& path,
                    int64_t* file_bytes) {
  FileSystem* fs = FileSystem::Default();
  LP_RETURN_IF_ERROR(fs->RemoveAll(path));
  parquet::WriteOptions options;
  options.compression = parquet::Compression::kZstd;
  LP_ASSIGN_OR_RETURN(auto writer, parquet::FileWriter::Open(fs, path, OrdersSchema(), options));
  for (const auto& b : batches) LP_RETURN_IF_ERROR(writer->Write(b));
  LP_ASSIGN_OR_RETURN(auto result, writer->Close());
  *file_bytes = result.file_bytes;
  return Status::OK();
}

// In-memory batches -> Parquet (zstd): compare with DuckDB's COPY of an in-memory table.
void BM_ParquetWriteFromMemory(benchmark::State& state) {
  const auto* table = Table(state);
  if (table == nullptr) return;
  int64_t file_bytes = 0;
  for (auto _ : state) {
    Status s = WriteParquet(*table, OwnParquetPath(), &file_bytes);
    if (!s.ok()) {
      state.SkipWithError(s.message().c_str());
      return;
    }
  }
  state.SetItemsProcessed(TotalRows(*table) * state.iterations());
  state.counters["file_bytes"] = static_cast<double>(file_bytes);
}
BENCHMARK(BM_ParquetWriteFromMemory)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

#ifdef LAKEPIPE_BENCH_HAVE_CSV
// CSV -> Parquet, streaming batch by batch (the end-to-end job).
void BM_CsvToParquet(benchmark::State& state) {
  int64_t rows = 0;
  for (auto _ : state) {
    FileSystem* fs = FileSystem::Default();
    std::string path = OutDir() + "/lakepipe_orders_e2e.parquet";
    (void)fs->RemoveAll(path);
    csv::CsvOptions options;
    options.schema = OrdersSchema();
    options.rescued_data_column = "";
    options.batch_rows = kBatchRows;
    auto reader = csv::CsvReader::Open(fs, CsvPath(), options);
    auto writer = parquet::FileWriter::Open(fs, path, OrdersSchema());
    if (!reader.ok() || !writer.ok()) {
      state.SkipWithError("cannot open the CSV reader or the Parquet writer");
      return;
    }
    csv::CsvBatch batch;
    while (true) {
      auto more = (*reader)->Next(&batch);
      if (!more.ok()) {
        state.SkipWithError(more.status().message().c_str());
        return;
      }
      if (!*more) break;
      rows += batch.batch.num_rows();
      Status s = (*writer)->Write(batch.batch);
      if (!s.ok()) {
        state.SkipWithError(s.message().c_str());
        return;
      }
    }
    auto closed = (*writer)->Close();
    if (!closed.ok()) {
      state.SkipWithError(closed.status().message().c_str());
      return;
    }
  }
  state.SetItemsProcessed(rows);
}
BENCHMARK(BM_CsvToParquet)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
#else
// Without lakepipe's CSV reader: the bench loader, then the writer (not streamed).
void BM_CsvToParquet(benchmark::State& state) {
  int64_t rows = 0;
  for (auto _ : state) {
    auto loaded = LoadOrdersCsv(CsvPath(), kBatchRows);
    int64_t file_bytes = 0;
    Status s = loaded.ok() ? WriteParquet(*loaded, OutDir() + "/lakepipe_orders_e2e.parquet",
                                          &file_bytes)
                           : loaded.status();
    if (!s.ok()) {
      state.SkipWithError(s.message().c_str());
      return;
    }
    rows = TotalRows(*loaded);
  }
  state.SetItemsProcessed(rows);
  state.SetLabel(OrdersLoaderName());
}
BENCHMARK(BM_CsvToParquet)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
#endif  // LAKEPIPE_BENCH_HAVE_CSV

#endif  // LAKEPIPE_BENCH_HAVE_PARQUET_WRITER

#ifdef LAKEPIPE_BENCH_HAVE_PARQUET_READER

void ReadAllColumns(benchmark::State& state, const std::string& path) {
  if (path.empty() || !FileSystem::Default()->Exists(path)) {
    state.SkipWithError(("no Parquet file at '" + path + "'").c_str());
    return;
  }
  int64_t rows = 0;
  for (auto _ : state) {
    auto reader = parquet::FileReader::Open(FileSystem::Default(), path);
    if (!reader.ok()) {
      state.SkipWithError(reader.status().message().c_str());
      return;
    }
    auto batch = (*reader)->ReadAll();
    if (!batch.ok()) {
      state.SkipWithError(batch.status().message().c_str());
      return;
    }
    rows = batch->num_rows();
    benchmark::DoNotOptimize(batch->column(0).size());
  }
  state.SetItemsProcessed(rows * state.iterations());
  state.counters["rows"] = static_cast<double>(rows);
}

// FileReader::ReadAll of every column of lakepipe's own file.
void BM_ParquetReadOwnFile(benchmark::State& state) { ReadAllColumns(state, OwnParquetPath()); }
BENCHMARK(BM_ParquetReadOwnFile)->Iterations(1)->Repetitions(3)->Unit(benchmark::kMillisecond)->UseRealTime();

// FileReader::ReadAll of every column of DuckDB's file of the same table.
void BM_ParquetReadDuckDBFile(benchmark::State& state) {
  ReadAllColumns(state, Env("LAKEPIPE_BENCH_DUCKDB_PARQUET"));
}
BENCHMARK(BM_ParquetReadDuckDBFile)->Iterations(1)->Repetitions(3)->Unit(benchmark::kMillisecond)->UseRealTime();

// Any Parquet file (LAKEPIPE_BENCH_PARQUET), e.g. a table's data file, compared with
// `node bench/duckdb_bench.mjs read FILE` in the same sitting; LAKEPIPE_BENCH_PARQUET_COLUMNS
// (comma-separated) reads only those columns, as a view that uses a few of them would.
void BM_ParquetReadFile(benchmark::State& state) {
  const std::string path = Env("LAKEPIPE_BENCH_PARQUET");
  if (path.empty() || !FileSystem::Default()->Exists(path)) {
    state.SkipWithError("set LAKEPIPE_BENCH_PARQUET to a Parquet file");
    return;
  }
  parquet::ReadOptions options;
  std::string columns = Env("LAKEPIPE_BENCH_PARQUET_COLUMNS");
  for (size_t at = 0; !columns.empty() && at <= columns.size();) {
    size_t comma = columns.find(',', at);
    if (comma == std::string::npos) comma = columns.size();
    if (comma > at) options.columns.push_back(columns.substr(at, comma - at));
    at = comma + 1;
  }
  int64_t rows = 0;
  for (auto _ : state) {
    auto reader = parquet::FileReader::Open(FileSystem::Default(), path);
    if (!reader.ok()) {
      state.SkipWithError(reader.status().message().c_str());
      return;
    }
    auto batch = (*reader)->ReadAll(options);
    if (!batch.ok()) {
      state.SkipWithError(batch.status().message().c_str());
      return;
    }
    rows = batch->num_rows();
    benchmark::DoNotOptimize(batch->column(0).size());
  }
  state.SetItemsProcessed(rows * state.iterations());
  state.counters["rows"] = static_cast<double>(rows);
  state.SetLabel(options.columns.empty() ? "all columns" : columns);
}
BENCHMARK(BM_ParquetReadFile)->Iterations(1)->Repetitions(3)->Unit(benchmark::kMillisecond)->UseRealTime();

#endif  // LAKEPIPE_BENCH_HAVE_PARQUET_READER

}  // namespace
}  // namespace lakepipe::bench

int main(int argc, char** argv) {
  lakepipe::ReexecWithMallocHugePages(argv);
  lakepipe::TuneAllocatorForLongRun();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
