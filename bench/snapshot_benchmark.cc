// Per-batch cost against a table's history (issue 16, "runs for months"): what one
// streaming micro-batch costs in src/delta and src/runtime/checkpoint when the table is at
// version 100 and at version 3,000, and when the flow checkpoint holds 100 or 3,000
// batches. A batch's cost must not grow with the history: the ratio of the two arguments
// should stay near 1. Run by scripts/bench.sh (`make bench`); not a test.
//
//   BM_AppendBatch/V          one streaming batch on a table at version V: a kept writer
//                             handle appends 100 rows with txn (Latest() + Parquet file +
//                             commit, plus the Delta checkpoint every 10th commit), then a
//                             downstream handle reads that version's appends (ReadAppends:
//                             its own snapshot refresh). The table has one data file per
//                             version, as a continuous Bronze has.
//   BM_LatestUnchanged/V      Latest() on a handle when no commit arrived since the last call.
//   BM_TimeTravel/V           AtVersion(V - 5): replay from the newest checkpoint (bounded by
//                             the checkpoint interval, not by V).
//   BM_FlowCheckpointBatch/N  WritePlan + WriteCommit (+ the cleanup of old batch files) of
//                             one batch on a flow checkpoint holding N batches.
//   BM_FlowCheckpointOpen/N   a restart: Open + LatestPlanned/LatestCommitted + ReadPlanHistory.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "common/fs.h"
#include "common/uuid.h"
#include "delta/changes.h"
#include "delta/table.h"
#include "runtime/checkpoint.h"

namespace lakepipe {
namespace {

std::string Scratch(const std::string& name) {
  std::string dir = (std::filesystem::temp_directory_path() / ("lp_snapshot_bench_" + name)).string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

Schema BenchSchema() { return *Schema::ParseDDL("id BIGINT, name STRING"); }

RecordBatch Rows(int64_t from, int64_t n) {
  Schema schema = BenchSchema();
  Column id(schema.field(0).type), name(schema.field(1).type);
  for (int64_t i = from; i < from + n; ++i) {
    id.Append<int64_t>(i);
    name.AppendString("name-" + std::to_string(i));
  }
  std::vector<Column> cols;
  cols.push_back(std::move(id));
  cols.push_back(std::move(name));
  return RecordBatch::FromColumns(schema, std::move(cols));
}

void WriteText(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

// A table at version `versions - 1`: version 0 creates it, each later version appends
// one file (stats, a txn of "bench") as a streaming batch does, and the newest multiple
// of 10 has a checkpoint. The data files of the history are not written (nothing here
// reads them); the commit files are written directly, without fsync, to set up quickly.
std::string MakeHistory(const std::string& name, int64_t versions) {
  std::string dir = Scratch(name);
  delta::CreateOptions create;
  create.schema = BenchSchema();
  if (!delta::DeltaTable::Create(dir, create).ok()) std::abort();
  for (int64_t v = 1; v < versions; ++v) {
    delta::AddFile add;
    add.path = "part-00000-" + NewUuid() + ".c000.zstd.parquet";
    add.size = 1200;
    add.modification_time = 1764000000000 + v;
    add.stats = "{\"numRecords\":100,\"minValues\":{\"id\":" + std::to_string(v * 100) +
                ",\"name\":\"name-0\"},\"maxValues\":{\"id\":" + std::to_string(v * 100 + 99) +
                ",\"name\":\"name-9\"},\"nullCount\":{\"id\":0,\"name\":0}}";
    delta::CommitInfo ci;
    ci.json = "{\"timestamp\":" + std::to_string(1764000000000 + v) + ",\"operation\":\"STREAMING UPDATE\"}";
    std::vector<delta::Action> actions = {ci, delta::Txn{"bench", v, 1764000000000 + v}, add};
    WriteText(JoinPath(delta::LogDir(dir), delta::CommitFileName(v)), delta::SerializeActions(actions));
  }
  auto table = delta::DeltaTable::Open(dir);
  if (!table.ok()) std::abort();
  int64_t last = versions - 1;
  if (last >= 10 && !(*table)->Checkpoint(last - last % 10).ok()) std::abort();
  return dir;
}

void BM_AppendBatch(benchmark::State& state) {
  int64_t versions = state.range(0);
  std::string dir = MakeHistory("append_" + std::to_string(versions), versions);
  auto writer_table = delta::DeltaTable::Open(dir);
  auto reader_table = delta::DeltaTable::Open(dir);
  if (!writer_table.ok() || !reader_table.ok()) std::abort();
  // Warm both handles as a running pipeline's are.
  if (!(*writer_table)->Latest().ok() || !(*reader_table)->Latest().ok()) std::abort();
  int64_t batch = versions;
  int64_t rows_read = 0;
  for (auto _ : state) {
    delta::WriteOptions options;
    options.txn_app_id = "bench";
    options.txn_version = batch;
    options.operation = "STREAMING UPDATE";
    auto result = (*writer_table)->Write({Rows(batch * 100, 100)}, options);
    if (!result.ok()) {
      state.SkipWithError(result.status().ToString().c_str());
      break;
    }
    auto rows = delta::ReadAppends(**reader_table, result->version, result->version, {});
    if (!rows.ok()) {
      state.SkipWithError(rows.status().ToString().c_str());
      break;
    }
    for (const auto& b : *rows) rows_read += b.num_rows();
    ++batch;
  }
  state.counters["start_version"] = static_cast<double>(versions - 1);
  state.counters["end_version"] = static_cast<double>(batch - 1);
  state.counters["rows_read"] = static_cast<double>(rows_read);
  std::filesystem::remove_all(dir);
}

void BM_LatestUnchanged(benchmark::State& state) {
  int64_t versions = state.range(0);
  std::string dir = MakeHistory("latest_" + std::to_string(versions), versions);
  auto table = delta::DeltaTable::Open(dir);
  if (!table.ok() || !(*table)->Latest().ok()) std::abort();
  for (auto _ : state) {
    auto snap = (*table)->Latest();
    if (!snap.ok()) std::abort();
    benchmark::DoNotOptimize((*snap)->version());
  }
  std::filesystem::remove_all(dir);
}

void BM_TimeTravel(benchmark::State& state) {
  int64_t versions = state.range(0);
  std::string dir = MakeHistory("travel_" + std::to_string(versions), versions);
  auto table = delta::DeltaTable::Open(dir);
  if (!table.ok()) std::abort();
  for (auto _ : state) {
    auto snap = (*table)->AtVersion(versions - 6);
    if (!snap.ok()) std::abort();
    benchmark::DoNotOptimize((*snap)->files().size());
  }
  std::filesystem::remove_all(dir);
}

// A flow checkpoint folder after `batches` batches (the plan of a file source: one new
// file per batch), cleaned up as a running flow leaves it (FlowCheckpoint::Retain at the
// last multiple of the retention: a compact file and the newest batches).
std::string MakeFlowHistory(const std::string& name, int64_t batches) {
  std::string dir = Scratch(name);
  auto cp = runtime::FlowCheckpoint::Open(FileSystem::Default(), dir, name);
  if (!cp.ok()) std::abort();
  std::string compact_files;
  for (int64_t b = 0; b < batches; ++b) {
    WriteText(dir + "/offsets/" + std::to_string(b),
              "{\"batchId\":" + std::to_string(b) +
                  ",\"plannedAt\":1764000000000,\"sources\":[{\"kind\":\"files\",\"path\":\"/landing\","
                  "\"files\":[{\"path\":\"orders-" + std::to_string(b) + ".csv\",\"size\":81234,\"mtime\":1}]}]}\n");
    WriteText(dir + "/commits/" + std::to_string(b),
              "{\"batchId\":" + std::to_string(b) + ",\"tableVersion\":" + std::to_string(b + 1) +
                  ",\"committedAt\":1764000000000,\"stateStores\":[]}\n");
    int64_t last = batches - 1 - (batches - 1) % cp->min_batches_to_retain();
    if (b <= last) compact_files += std::string(b > 0 ? "," : "") + "{\"path\":\"orders-" + std::to_string(b) + ".csv\"}";
  }
  int64_t last = batches - 1 - (batches - 1) % cp->min_batches_to_retain();
  Status st = cp->Retain(last, [&] {
    return runtime::FlowCheckpoint::Compaction{
        "{\"batchId\":" + std::to_string(last) + ",\"compact\":true,\"sources\":[{\"kind\":\"files\","
        "\"path\":\"/landing\",\"files\":[" + compact_files + "]}]}",
        {}, nullptr};
  });
  if (!st.ok()) std::abort();
  return dir;
}

std::string PlanOf(int64_t b) {
  return "{\"batchId\":" + std::to_string(b) +
         ",\"plannedAt\":1764000000000,\"sources\":[{\"kind\":\"files\",\"path\":\"/landing\","
         "\"files\":[{\"path\":\"orders-" + std::to_string(b) + ".csv\",\"size\":81234,\"mtime\":1}]}]}";
}

void BM_FlowCheckpointBatch(benchmark::State& state) {
  int64_t batches = state.range(0);
  std::string dir = MakeFlowHistory("flow_batch_" + std::to_string(batches), batches);
  auto cp = runtime::FlowCheckpoint::Open(FileSystem::Default(), dir, "bench");
  if (!cp.ok()) std::abort();
  int64_t b = batches;
  for (auto _ : state) {
    auto planned = cp->LatestPlanned();
    auto committed = cp->LatestCommitted();
    if (!planned.ok() || !committed.ok()) std::abort();
    if (!cp->WritePlan(b, PlanOf(b)).ok()) std::abort();
    if (!cp->WriteCommit(b, b + 1).ok()) std::abort();
    if (!cp->Retain(b, [] { return runtime::FlowCheckpoint::Compaction{"{\"sources\":[]}", {}, nullptr}; }).ok())
      std::abort();
    ++b;
  }
  std::filesystem::remove_all(dir);
}

void BM_FlowCheckpointOpen(benchmark::State& state) {
  int64_t batches = state.range(0);
  std::string dir = MakeFlowHistory("flow_open_" + std::to_string(batches), batches);
  for (auto _ : state) {
    auto cp = runtime::FlowCheckpoint::Open(FileSystem::Default(), dir, "bench");
    if (!cp.ok()) std::abort();
    auto planned = cp->LatestPlanned();
    auto committed = cp->LatestCommitted();
    auto history = cp->ReadAllPlans();  // the compact file and the plans after it
    if (!planned.ok() || !committed.ok() || !history.ok()) std::abort();
    benchmark::DoNotOptimize(history->size());
  }
  std::filesystem::remove_all(dir);
}

BENCHMARK(BM_AppendBatch)->Arg(100)->Arg(3000)->Iterations(200)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LatestUnchanged)->Arg(100)->Arg(3000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TimeTravel)->Arg(100)->Arg(3000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FlowCheckpointBatch)->Arg(100)->Arg(3000)->Iterations(300)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FlowCheckpointOpen)->Arg(100)->Arg(3000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lakepipe

BENCHMARK_MAIN();
