#include "runtime/pipeline_runner.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <nlohmann/json.hpp>

#include "common/uuid.h"
#include "delta/changes.h"
#include "delta/table.h"
#include "expr/binder.h"
#include "operators/expectations.h"
#include "runtime/checkpoint.h"
#include "runtime/event_log.h"
#include "runtime/executor.h"
#include "runtime/file_source.h"
#include "state/seen_key_store.h"

namespace lakepipe::runtime {

using Json = nlohmann::json;
using Batches = std::vector<RecordBatch>;

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Whether a stored table's columns are the query's: Delta stores every column nullable,
// so nullability is not compared.
bool SameColumns(const Schema& table, const Schema& query) {
  if (table.size() != query.size()) return false;
  for (size_t i = 0; i < table.size(); ++i) {
    if (table.field(i).name != query.field(i).name ||
        !SameTypeIgnoringNullability(table.field(i).type, query.field(i).type))
      return false;
  }
  return true;
}

// Whether rows failing an expectation go to `<table>_quarantine`.
bool HasQuarantine(const sql::DatasetDefinition& def) {
  for (const auto& e : def.expectations)
    if (e.action == sql::ViolationAction::kQuarantine) return true;
  return false;
}

int64_t ElapsedMs(int64_t start_nanos) { return (MonotonicNanos() - start_nanos) / 1000000; }

// The inputs of one plan: its read_files scans and the tables it reads (through views).
struct PlanSources {
  std::vector<const sql::PlanNode*> file_scans;
  std::vector<const sql::PlanNode*> streaming_tables;  // STREAM(t) of a stored table
  std::set<std::string> tables_read;                   // every stored table read (lower case)
};

}  // namespace

bool UpdateReport::ok() const {
  for (const auto& t : tables)
    if (t.status == "failed") return false;
  return true;
}

struct PipelineRunner::Impl {
  std::atomic<bool> stop_requested{false};
  FileSystem* fs = nullptr;
  Clock* clock = nullptr;
  sql::Pipeline pipeline;
  sql::ResolvedPipeline resolved;

  const sql::ResolvedDataset* Find(const std::string& name) const { return resolved.Find(name); }
  const sql::DatasetDefinition& Definition(const sql::ResolvedDataset& ds) const {
    return pipeline.datasets[ds.dataset_index];
  }
  std::string TablePath(const std::string& name) const {
    return JoinPath(pipeline.settings.storage, name);
  }
  std::string CheckpointPath(const std::string& name) const {
    return JoinPath(JoinPath(pipeline.settings.storage, "_checkpoints"), name);
  }

  void CollectSources(const sql::PlanNode& node, PlanSources* out) const {
    if (node.kind == sql::PlanKind::kReadFiles) out->file_scans.push_back(&node);
    if (node.kind == sql::PlanKind::kTableScan) {
      const sql::ResolvedDataset* ds = Find(node.table);
      if (ds != nullptr && ds->kind == sql::DatasetKind::kView) {
        CollectSources(*ds->plan, out);
      } else {
        out->tables_read.insert(Lower(node.table));
        if (node.streaming) out->streaming_tables.push_back(&node);
      }
    }
    for (const auto& in : node.inputs) CollectSources(*in, out);
  }

  Result<TableReport> UpdateMaterializedView(const sql::ResolvedDataset& ds, bool full_refresh);
  // Whether a materialized view's last update read exactly the table versions that are
  // current now (recorded as operationParameters.inputs), so recomputing it would change
  // nothing. Views over read_files or current_timestamp() are always recomputed.
  Result<bool> MaterializedViewIsCurrent(const sql::ResolvedDataset& ds) const;
  Result<TableReport> UpdateStreamingTable(const sql::ResolvedDataset& ds, bool full_refresh);
  // Applies the dataset's expectations to `rows`; the kept rows replace `rows`.
  Result<Batches> ApplyExpectations(const sql::ResolvedDataset& ds, Batches* rows, TableReport* report);
  Result<delta::CreateOptions> CreateOptionsFor(const sql::ResolvedDataset& ds, const Schema& schema) const;
  // Writes `rows` to table `name` (creating it), in one commit.
  Result<delta::CommitResult> WriteTable(const std::string& name, const Schema& schema,
                                         const sql::ResolvedDataset& ds, const Batches& rows,
                                         delta::WriteOptions options);
};

// ---- scan providers ------------------------------------------------------------------

namespace {

// Reads everything: the current snapshot of each table, every file of each source.
class FullScanProvider : public ScanProvider {
 public:
  FullScanProvider(const PipelineRunner::Impl& runner, const ExecOptions& exec)
      : runner_(runner), exec_(exec) {}

  Result<Batches> ReadTable(const sql::PlanNode& node) override {
    const sql::ResolvedDataset* ds = runner_.Find(node.table);
    if (ds != nullptr && ds->kind == sql::DatasetKind::kView) {
      return Execute(*ds->plan, *this, exec_);
    }
    return ReadWholeTable(node);
  }

  Result<Batches> ReadFiles(const sql::PlanNode& node) override {
    LP_ASSIGN_OR_RETURN(auto files, ListNewFiles(runner_.fs, node.read_files.path, {}, {}));
    return ReadSourceFiles(runner_.fs, node.read_files, files, node.schema, &file_stats_);
  }

  const FileReadStats& file_stats() const { return file_stats_; }
  // name@version of every table read, for "nothing changed" checks.
  const std::map<std::string, int64_t>& versions_read() const { return versions_read_; }

 protected:
  Result<Batches> ReadWholeTable(const sql::PlanNode& node) {
    std::string path = runner_.TablePath(node.table);
    auto table = delta::DeltaTable::Open(path, runner_.fs);
    if (!table.ok()) {
      if (table.status().IsNotFound()) {
        return Status::NotFound("table `" + node.table + "` has no data yet (its update has not run or failed)");
      }
      return table.status();
    }
    LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, (*table)->Latest());
    versions_read_[Lower(node.table)] = snap->version();
    return ReadSnapshot(snap, node.schema);
  }

  static Result<Batches> ReadSnapshot(const delta::SnapshotPtr& snap, const Schema& want) {
    delta::ScanOptions options;
    options.columns = want.names();
    LP_ASSIGN_OR_RETURN(delta::Scan scan, delta::Scan::Plan(snap, options));
    Batches out;
    for (size_t i = 0; i < scan.files().size(); ++i) {
      LP_ASSIGN_OR_RETURN(RecordBatch b, scan.ReadFile(i));
      if (b.num_rows() > 0) out.push_back(std::move(b));
    }
    return out;
  }

  const PipelineRunner::Impl& runner_;
  const ExecOptions& exec_;
  FileReadStats file_stats_;
  std::map<std::string, int64_t> versions_read_;
};

// The input of one planned micro-batch: the planned files of each read_files source and the
// planned version range of each streaming table; other tables are read whole.
class BatchScanProvider : public FullScanProvider {
 public:
  BatchScanProvider(const PipelineRunner::Impl& runner, const ExecOptions& exec, const Json& plan)
      : FullScanProvider(runner, exec), plan_(plan) {}

  Result<Batches> ReadTable(const sql::PlanNode& node) override {
    const sql::ResolvedDataset* ds = runner_.Find(node.table);
    if (ds != nullptr && ds->kind == sql::DatasetKind::kView) return Execute(*ds->plan, *this, exec_);
    if (!node.streaming) return ReadWholeTable(node);
    for (const auto& s : plan_["sources"]) {
      if (s["kind"] == "delta" && Lower(s["table"].get<std::string>()) == Lower(node.table)) {
        int64_t start = s["startVersion"].get<int64_t>(), end = s["endVersion"].get<int64_t>();
        if (start > end) return Batches{};
        LP_ASSIGN_OR_RETURN(auto table, delta::DeltaTable::Open(runner_.TablePath(node.table), runner_.fs));
        delta::ChangeReadOptions options;
        options.columns = node.schema.names();
        return delta::ReadAppends(*table, start, end, options);
      }
    }
    return Status::Internal("micro-batch plan has no entry for streaming source " + node.table);
  }

  Result<Batches> ReadFiles(const sql::PlanNode& node) override {
    for (const auto& s : plan_["sources"]) {
      if (s["kind"] == "files" && s["path"] == node.read_files.path) {
        std::vector<SourceFileEntry> files;
        for (const auto& f : s["files"]) {
          files.push_back({f["path"].get<std::string>(), f["size"].get<int64_t>(), f["mtime"].get<int64_t>()});
        }
        return ReadSourceFiles(runner_.fs, node.read_files, files, node.schema, &file_stats_);
      }
    }
    return Status::Internal("micro-batch plan has no entry for read_files " + node.read_files.path);
  }

 private:
  const Json& plan_;
};

}  // namespace

// ---- shared steps --------------------------------------------------------------------

Result<Batches> PipelineRunner::Impl::ApplyExpectations(const sql::ResolvedDataset& ds, Batches* rows,
                                                        TableReport* report) {
  const auto& def = Definition(ds);
  Batches quarantined;
  if (def.expectations.empty()) return quarantined;
  std::vector<operators::Expectation> expectations;
  for (const auto& e : def.expectations) {
    auto bound = expr::Bind(*e.condition, ds.schema);
    if (!bound.ok()) return bound.status().WithContext(e.loc.ToString() + ": expectation " + e.name);
    operators::Expectation x;
    x.name = e.name;
    x.predicate = std::move(bound).value();
    switch (e.action) {
      case sql::ViolationAction::kWarn: x.action = operators::ViolationAction::kWarn; break;
      case sql::ViolationAction::kDropRow: x.action = operators::ViolationAction::kDrop; break;
      case sql::ViolationAction::kFailUpdate: x.action = operators::ViolationAction::kFail; break;
      case sql::ViolationAction::kQuarantine: x.action = operators::ViolationAction::kQuarantine; break;
    }
    expectations.push_back(std::move(x));
    report->expectations.push_back({e.name, Lower(sql::ViolationActionName(e.action)), 0, 0});
  }
  Batches kept;
  for (const auto& b : *rows) {
    auto result = operators::ApplyExpectations(b, expectations);
    if (!result.ok()) return result.status();
    for (size_t i = 0; i < result->counts.size(); ++i) {
      report->expectations[i].passed += result->counts[i].passed;
      report->expectations[i].failed += result->counts[i].failed;
    }
    report->rows_dropped += b.num_rows() - result->kept.num_rows() - result->quarantined.num_rows();
    report->rows_quarantined += result->quarantined.num_rows();
    if (result->kept.num_rows() > 0) kept.push_back(std::move(result->kept));
    if (result->quarantined.num_rows() > 0) quarantined.push_back(std::move(result->quarantined));
  }
  *rows = std::move(kept);
  return quarantined;
}

Result<delta::CreateOptions> PipelineRunner::Impl::CreateOptionsFor(const sql::ResolvedDataset& ds,
                                                                    const Schema& schema) const {
  const auto& def = Definition(ds);
  delta::CreateOptions create;
  create.schema = schema;
  create.partition_columns = def.partition_columns;
  for (const auto& [k, v] : def.table_properties) create.configuration[k] = v;
  create.name = ds.name;
  if (!def.comment.empty()) create.description = def.comment;
  return create;
}

Result<delta::CommitResult> PipelineRunner::Impl::WriteTable(const std::string& name, const Schema& schema,
                                                             const sql::ResolvedDataset& ds,
                                                             const Batches& rows, delta::WriteOptions options) {
  std::string path = TablePath(name);
  // A table whose schema no longer matches the query (the SQL changed) is rebuilt: an
  // overwrite may replace the schema, an append may not.
  if (delta::DeltaTable::Exists(path, fs)) {
    LP_ASSIGN_OR_RETURN(auto table, delta::DeltaTable::Open(path, fs));
    LP_ASSIGN_OR_RETURN(auto snap, table->Latest());
    if (!SameColumns(snap->schema(), schema)) {
      if (options.mode != delta::WriteMode::kOverwrite) {
        return Status::InvalidArgument("table `" + name + "` has columns (" + snap->schema().ToDDL() +
                                       ") but its query now produces (" + schema.ToDDL() +
                                       "); run with --full-refresh " + name + " to rebuild it");
      }
      LP_RETURN_IF_ERROR(fs->RemoveAll(path));
    }
  }
  LP_ASSIGN_OR_RETURN(delta::CreateOptions create, CreateOptionsFor(ds, schema));
  if (name != ds.name) {
    create.partition_columns.clear();
    create.description = "rows of " + ds.name + " that failed a QUARANTINE expectation";
    create.name = name;
  }
  options.create_if_missing = create;
  delta::TableOptions table_options;
  table_options.clock = clock;
  LP_ASSIGN_OR_RETURN(auto writer, delta::DeltaTable::NewWriter(path, options, fs, table_options));
  for (const auto& b : rows) LP_RETURN_IF_ERROR(writer->Write(b));
  return writer->Commit();
}

// ---- materialized views --------------------------------------------------------------

namespace {
bool UsesCurrentTime(const expr::Expr& e) {
  if (e.kind == expr::ExprKind::kCall &&
      (e.function == "current_timestamp" || e.function == "current_date" || e.function == "now"))
    return true;
  for (const auto& a : e.args)
    if (UsesCurrentTime(*a)) return true;
  return false;
}

bool PlanUsesCurrentTime(const sql::PlanNode& n) {
  auto uses = [](const expr::ExprPtr& e) { return e != nullptr && UsesCurrentTime(*e); };
  if (uses(n.predicate) || uses(n.residual)) return true;
  for (const auto& i : n.items) if (uses(i.expr)) return true;
  for (const auto& k : n.group_keys) if (uses(k.expr)) return true;
  for (const auto& a : n.aggregates) if (uses(a.expr)) return true;
  for (const auto& in : n.inputs) if (PlanUsesCurrentTime(*in)) return true;
  return false;
}
}  // namespace

Result<bool> PipelineRunner::Impl::MaterializedViewIsCurrent(const sql::ResolvedDataset& ds) const {
  PlanSources sources;
  CollectSources(*ds.plan, &sources);
  if (!sources.file_scans.empty() || PlanUsesCurrentTime(*ds.plan)) return false;
  std::string path = TablePath(ds.name);
  if (!delta::DeltaTable::Exists(path, fs)) return false;
  LP_ASSIGN_OR_RETURN(auto table, delta::DeltaTable::Open(path, fs));
  LP_ASSIGN_OR_RETURN(auto history, table->History(1));
  if (history.empty()) return false;
  Json info = Json::parse(history[0].commit_info, nullptr, false);
  if (info.is_discarded() || !info.contains("operationParameters")) return false;
  const Json& params = info["operationParameters"];
  if (!params.contains("inputs") || !params["inputs"].is_string()) return false;
  Json recorded = Json::parse(params["inputs"].get<std::string>(), nullptr, false);
  if (recorded.is_discarded() || !recorded.is_object()) return false;
  Json now = Json::object();
  for (const auto& t : sources.tables_read) {
    const sql::ResolvedDataset* upstream_ds = Find(t);
    auto upstream = delta::DeltaTable::Open(TablePath(upstream_ds ? upstream_ds->name : t), fs);
    if (!upstream.ok()) return false;
    LP_ASSIGN_OR_RETURN(int64_t v, (*upstream)->LatestVersion());
    now[t] = v;
  }
  return now == recorded;
}

Result<TableReport> PipelineRunner::Impl::UpdateMaterializedView(const sql::ResolvedDataset& ds,
                                                                 bool full_refresh) {
  TableReport report;
  report.table = ds.name;
  report.kind = sql::DatasetKindName(ds.kind);
  LP_ASSIGN_OR_RETURN(bool current, MaterializedViewIsCurrent(ds));
  if (current && !full_refresh) {
    report.status = "up to date";
    LP_ASSIGN_OR_RETURN(auto table, delta::DeltaTable::Open(TablePath(ds.name), fs));
    LP_ASSIGN_OR_RETURN(report.table_version, table->LatestVersion());
    return report;
  }
  ExecOptions exec;
  exec.current_timestamp_micros = clock->NowMicros();
  FullScanProvider provider(*this, exec);
  LP_ASSIGN_OR_RETURN(Batches rows, Execute(*ds.plan, provider, exec));
  report.rows_read = CountRows(rows);
  report.rows_rescued = provider.file_stats().rescued_rows;
  LP_ASSIGN_OR_RETURN(Batches quarantined, ApplyExpectations(ds, &rows, &report));

  delta::WriteOptions options;
  options.mode = delta::WriteMode::kOverwrite;
  options.operation = "CREATE OR REFRESH MATERIALIZED VIEW";
  Json inputs = Json::object();
  for (const auto& [t, v] : provider.versions_read()) inputs[t] = v;
  options.operation_parameters["inputs"] = inputs.dump();
  if (full_refresh) options.operation_parameters["fullRefresh"] = "true";
  LP_ASSIGN_OR_RETURN(delta::CommitResult commit, WriteTable(ds.name, ds.schema, ds, rows, options));
  report.rows_written = CountRows(rows);
  report.table_version = commit.version;
  report.batches = 1;
  bool quarantines = HasQuarantine(Definition(ds));
  if (quarantines) {
    LP_RETURN_IF_ERROR(WriteTable(ds.name + "_quarantine", operators::QuarantineSchema(ds.schema), ds,
                                  quarantined, options)
                           .status());
  }
  report.status = "updated";
  return report;
}

// ---- streaming tables ----------------------------------------------------------------

Result<TableReport> PipelineRunner::Impl::UpdateStreamingTable(const sql::ResolvedDataset& ds,
                                                               bool full_refresh) {
  TableReport report;
  report.table = ds.name;
  report.kind = sql::DatasetKindName(ds.kind);
  std::string cp_dir = CheckpointPath(ds.name);
  if (full_refresh) LP_RETURN_IF_ERROR(FlowCheckpoint::Reset(fs, cp_dir));
  LP_ASSIGN_OR_RETURN(FlowCheckpoint cp, FlowCheckpoint::Open(fs, cp_dir, ds.name));
  PlanSources sources;
  CollectSources(*ds.plan, &sources);
  if (sources.file_scans.empty() && sources.streaming_tables.empty()) {
    return Status::InvalidArgument("streaming table `" + ds.name +
                                   "` reads no streaming source: use STREAM(table) or read_files(...)");
  }
  bool quarantines = HasQuarantine(Definition(ds));
  // The durable seen-key set of each DISTINCT in the plan, numbered in the (deterministic)
  // order execution first asks for them.
  std::map<const sql::PlanNode*, std::shared_ptr<state::SeenKeyStore>> seen_stores;
  auto seen_keys = [&](const sql::PlanNode& node) -> Result<std::shared_ptr<operators::SeenKeySet>> {
    auto it = seen_stores.find(&node);
    if (it == seen_stores.end()) {
      std::string dir = JoinPath(cp_dir, "state/distinct-" + std::to_string(seen_stores.size()));
      LP_RETURN_IF_ERROR(fs->CreateDirs(dir));
      LP_ASSIGN_OR_RETURN(auto store, state::SeenKeyStore::Open(dir));
      it = seen_stores.emplace(&node, std::move(store)).first;
    }
    return std::shared_ptr<operators::SeenKeySet>(it->second);
  };

  while (true) {
    LP_ASSIGN_OR_RETURN(auto planned, cp.LatestPlanned());
    LP_ASSIGN_OR_RETURN(auto committed, cp.LatestCommitted());
    int64_t batch_id;
    Json plan;
    if (planned && (!committed || *committed < *planned)) {
      // A batch planned before a crash: replay exactly that input.
      batch_id = *planned;
      LP_ASSIGN_OR_RETURN(std::string text, cp.ReadPlan(batch_id));
      plan = Json::parse(text, nullptr, false);
      if (plan.is_discarded()) return Status::Corruption(cp_dir + "/offsets/" + std::to_string(batch_id) + ": not JSON");
    } else {
      batch_id = planned ? *planned + 1 : 0;
      LP_ASSIGN_OR_RETURN(auto history, cp.ReadAllPlans());
      std::map<std::string, std::set<std::string>> seen_files;
      std::map<std::string, int64_t> last_version;
      for (const auto& [id, text] : history) {
        Json old = Json::parse(text, nullptr, false);
        if (old.is_discarded()) return Status::Corruption(cp_dir + "/offsets/" + std::to_string(id) + ": not JSON");
        for (const auto& s : old["sources"]) {
          if (s["kind"] == "files") {
            for (const auto& f : s["files"]) seen_files[s["path"]].insert(f["path"].get<std::string>());
          } else if (s["kind"] == "delta") {
            last_version[Lower(s["table"].get<std::string>())] = s["endVersion"].get<int64_t>();
          }
        }
      }
      bool any_new = false;
      plan = {{"batchId", batch_id}, {"plannedAt", clock->NowMillis()}, {"sources", Json::array()}};
      std::set<std::string> planned_paths;
      for (const sql::PlanNode* scan : sources.file_scans) {
        const auto& spec = scan->read_files;
        if (!planned_paths.insert(spec.path).second) continue;
        LP_ASSIGN_OR_RETURN(FileListOptions limits, FileListOptionsFrom(spec));
        LP_ASSIGN_OR_RETURN(auto files, ListNewFiles(fs, spec.path, seen_files[spec.path], limits));
        Json list = Json::array();
        for (const auto& f : files) list.push_back({{"path", f.path}, {"size", f.size}, {"mtime", f.mtime_micros}});
        any_new |= !files.empty();
        plan["sources"].push_back({{"kind", "files"}, {"path", spec.path}, {"files", list}});
      }
      std::set<std::string> planned_tables;
      for (const sql::PlanNode* scan : sources.streaming_tables) {
        std::string key = Lower(scan->table);
        if (!planned_tables.insert(key).second) continue;
        auto upstream = delta::DeltaTable::Open(TablePath(scan->table), fs);
        if (!upstream.ok()) {
          if (upstream.status().IsNotFound()) {
            return Status::NotFound("upstream table `" + scan->table + "` has no data yet");
          }
          return upstream.status();
        }
        LP_ASSIGN_OR_RETURN(int64_t latest, (*upstream)->LatestVersion());
        int64_t start = last_version.count(key) ? last_version[key] + 1 : 0;
        any_new |= start <= latest;
        plan["sources"].push_back({{"kind", "delta"}, {"table", scan->table}, {"startVersion", start},
                                   {"endVersion", std::max(latest, start - 1)}});
      }
      if (!any_new) break;
      LP_RETURN_IF_ERROR(cp.WritePlan(batch_id, plan.dump()));
    }

    // Process the batch.
    ExecOptions exec;
    exec.current_timestamp_micros = clock->NowMicros();
    exec.seen_keys = seen_keys;
    for (auto& [node, store] : seen_stores) store->Abandon();
    BatchScanProvider provider(*this, exec, plan);
    LP_ASSIGN_OR_RETURN(Batches rows, Execute(*ds.plan, provider, exec));
    report.rows_read += CountRows(rows);
    report.rows_rescued += provider.file_stats().rescued_rows;
    LP_ASSIGN_OR_RETURN(Batches quarantined, ApplyExpectations(ds, &rows, &report));

    delta::WriteOptions options;
    // The first batch after a full refresh replaces the old rows; the history stays.
    options.mode = (full_refresh && batch_id == 0) ? delta::WriteMode::kOverwrite : delta::WriteMode::kAppend;
    options.operation = "STREAMING UPDATE";
    options.operation_parameters["batchId"] = std::to_string(batch_id);
    options.txn_app_id = cp.flow_id();
    options.txn_version = batch_id;
    if (quarantines) {
      LP_RETURN_IF_ERROR(WriteTable(ds.name + "_quarantine", operators::QuarantineSchema(ds.schema), ds,
                                    quarantined, options)
                             .status());
    }
    LP_ASSIGN_OR_RETURN(delta::CommitResult commit, WriteTable(ds.name, ds.schema, ds, rows, options));
    // State follows the table: applied only once the batch is in the table, then the
    // batch is recorded as done (docs/checkpoint.md).
    for (auto& [node, store] : seen_stores) {
      if (!store->committed_batch() || *store->committed_batch() < batch_id) {
        LP_RETURN_IF_ERROR(store->Commit(batch_id));
      }
    }
    LP_RETURN_IF_ERROR(cp.WriteCommit(batch_id, commit.version));
    if (!commit.already_committed) report.rows_written += CountRows(rows);
    report.table_version = commit.version;
    report.batches += 1;
  }
  report.status = report.batches > 0 ? "updated" : "up to date";
  if (report.table_version < 0 && delta::DeltaTable::Exists(TablePath(ds.name), fs)) {
    LP_ASSIGN_OR_RETURN(auto table, delta::DeltaTable::Open(TablePath(ds.name), fs));
    LP_ASSIGN_OR_RETURN(report.table_version, table->LatestVersion());
  }
  return report;
}

// ---- the runner ----------------------------------------------------------------------

PipelineRunner::PipelineRunner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PipelineRunner::~PipelineRunner() = default;

Result<std::unique_ptr<PipelineRunner>> PipelineRunner::Open(
    const std::string& folder, const std::map<std::string, std::string>& overrides, FileSystem* fs,
    Clock* clock) {
  auto impl = std::make_unique<Impl>();
  impl->fs = fs;
  impl->clock = clock;
  LP_ASSIGN_OR_RETURN(impl->pipeline, sql::LoadPipeline(folder, overrides, fs));
  LP_ASSIGN_OR_RETURN(impl->resolved, sql::ResolvePipeline(impl->pipeline));
  return std::unique_ptr<PipelineRunner>(new PipelineRunner(std::move(impl)));
}

const sql::Pipeline& PipelineRunner::pipeline() const { return impl_->pipeline; }
const sql::ResolvedPipeline& PipelineRunner::resolved() const { return impl_->resolved; }
std::string PipelineRunner::TablePath(const std::string& name) const { return impl_->TablePath(name); }
std::string PipelineRunner::CheckpointPath(const std::string& name) const {
  return impl_->CheckpointPath(name);
}

Result<PipelineRunner::QueryResult> PipelineRunner::Query(const std::string& select_sql) {
  Impl& r = *impl_;
  auto file = std::make_shared<sql::SourceFile>("<query>", select_sql);
  sql::PlanOptions plan_options;
  plan_options.base_dir = r.pipeline.settings.folder;
  LP_ASSIGN_OR_RETURN(sql::PlanPtr plan, sql::PlanQuery(sql::MappedText::Of(file), plan_options));
  auto lookup = [&r](const std::string& table, const sql::SourceLocation& loc) -> Result<Schema> {
    const sql::ResolvedDataset* ds = r.Find(table);
    if (ds != nullptr && ds->kind == sql::DatasetKind::kView) return ds->schema;
    auto opened = delta::DeltaTable::Open(r.TablePath(table), r.fs);
    if (!opened.ok()) {
      if (!opened.status().IsNotFound()) return opened.status();
      std::string known;
      for (const auto& d : r.resolved.datasets) known += (known.empty() ? "" : ", ") + d.name;
      return sql::ErrorAt(loc, "table `" + table + "` does not exist" +
                                   (ds != nullptr ? " yet (run the pipeline first)" : "") +
                                   "; pipeline tables: " + known + ", _event_log");
    }
    LP_ASSIGN_OR_RETURN(auto snap, (*opened)->Latest());
    return snap->schema();
  };
  LP_ASSIGN_OR_RETURN(sql::PlanPtr resolved, sql::ResolvePlan(plan, lookup));
  ExecOptions exec;
  exec.current_timestamp_micros = r.clock->NowMicros();
  FullScanProvider provider(r, exec);
  LP_ASSIGN_OR_RETURN(Batches rows, Execute(*resolved, provider, exec));
  return QueryResult{resolved->schema, std::move(rows)};
}

void PipelineRunner::RequestStop() { impl_->stop_requested.store(true); }

Status PipelineRunner::RunContinuous(const RunOptions& options) {
  return Status::NotSupported("continuous mode is not built yet; use `lakepipe run DIR --once`");
}

Result<UpdateReport> PipelineRunner::RunOnce(const RunOptions& options) {
  Impl& r = *impl_;
  int64_t start = MonotonicNanos();
  UpdateReport update;
  update.update_id = NewUuid();
  EventLog log(r.fs, r.pipeline.settings.storage, r.pipeline.settings.name, r.clock);
  log.set_update_id(update.update_id);

  std::set<std::string> refresh;
  for (const auto& t : options.full_refresh) {
    if (r.Find(t) == nullptr) {
      return Status::InvalidArgument("--full-refresh names `" + t + "`, which is not a table of pipeline " +
                                     r.pipeline.settings.name);
    }
    refresh.insert(Lower(t));
  }
  Json start_details = {{"full_refresh", Json::array()}, {"tables", Json::array()}};
  for (const auto& ds : r.resolved.datasets) {
    if (ds.kind == sql::DatasetKind::kView) continue;
    start_details["tables"].push_back(ds.name);
    if (options.full_refresh_all || refresh.count(Lower(ds.name))) start_details["full_refresh"].push_back(ds.name);
  }
  log.Add({0, "", "update_start", "INFO", "update started", start_details.dump()});

  std::set<std::string> failed;  // lower-case names of tables that failed or were skipped
  for (const auto& ds : r.resolved.datasets) {
    if (ds.kind == sql::DatasetKind::kView) continue;
    int64_t table_start = MonotonicNanos();
    PlanSources sources;
    r.CollectSources(*ds.plan, &sources);
    std::string blocked;
    for (const auto& t : sources.tables_read)
      if (failed.count(t)) blocked = t;
    Result<TableReport> result = TableReport{};
    if (!blocked.empty()) {
      TableReport skipped;
      skipped.table = ds.name;
      skipped.kind = sql::DatasetKindName(ds.kind);
      skipped.status = "skipped";
      skipped.message = "upstream table `" + blocked + "` failed";
      result = skipped;
    } else {
      bool full = options.full_refresh_all || refresh.count(Lower(ds.name));
      result = ds.kind == sql::DatasetKind::kStreamingTable ? r.UpdateStreamingTable(ds, full)
                                                            : r.UpdateMaterializedView(ds, full);
    }
    TableReport report;
    if (result.ok()) {
      report = std::move(result).value();
    } else {
      report.table = ds.name;
      report.kind = sql::DatasetKindName(ds.kind);
      report.status = "failed";
      report.message = result.status().message();
    }
    report.duration_ms = ElapsedMs(table_start);
    if (report.status == "failed" || report.status == "skipped") failed.insert(Lower(ds.name));

    Json details = {{"rows_read", report.rows_read},         {"rows_written", report.rows_written},
                    {"rows_dropped", report.rows_dropped},   {"rows_quarantined", report.rows_quarantined},
                    {"rows_rescued", report.rows_rescued},   {"batches", report.batches},
                    {"duration_ms", report.duration_ms},     {"table_version", report.table_version},
                    {"status", report.status},               {"expectations", Json::array()}};
    for (const auto& e : report.expectations) {
      details["expectations"].push_back({{"name", e.name}, {"action", e.action}, {"passed", e.passed}, {"failed", e.failed}});
    }
    if (report.status == "failed") {
      details["error"] = report.message;
      log.Add({0, report.table, "error", "ERROR", report.message, details.dump()});
    } else {
      std::string message = report.status == "skipped"
                                ? "skipped: " + report.message
                                : report.status == "up to date"
                                      ? std::string("up to date")
                                      : report.status + ": " + std::to_string(report.rows_written) + " rows written";
      log.Add({0, report.table, "flow_progress", report.status == "skipped" ? "WARN" : "INFO", message,
               details.dump()});
    }
    if (options.on_table) options.on_table(report);
    update.tables.push_back(std::move(report));
  }
  update.duration_ms = ElapsedMs(start);
  log.Add({0, "", "update_complete", update.ok() ? "INFO" : "ERROR",
           update.ok() ? "update completed" : "update completed with failures",
           Json({{"duration_ms", update.duration_ms}, {"tables", update.tables.size()}}).dump()});
  LP_RETURN_IF_ERROR(log.Flush());
  return update;
}

}  // namespace lakepipe::runtime
