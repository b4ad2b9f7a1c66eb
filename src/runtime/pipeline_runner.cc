#include "runtime/pipeline_runner.h"
#include "runtime/file_source_schema.h"
#include "runtime/external_tables.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <thread>
#include <cctype>
#include <nlohmann/json.hpp>

#include "common/uuid.h"
#include "delta/schema_merge.h"
#include "runtime/auto_compaction.h"
#include "runtime/event_log.h"
#include "runtime/event_log_upkeep.h"
#include "runtime/file_watcher.h"
#include "runtime/pipeline_runner_internal.h"
#include "sql/stream_source.h"
#include "sql/table_properties.h"
#include "runtime/status_board.h"
#include "runtime/view_table_defaults.h"

namespace lakepipe::runtime {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int64_t ElapsedMs(int64_t start_nanos) { return (MonotonicNanos() - start_nanos) / 1000000; }

namespace {

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

// Whether `query` has every column of `table` (same name and type, or a struct that
// gained fields) and possibly more.
bool GainsColumns(const Schema& table, const Schema& query) {
  for (const Field& f : table.fields()) {
    bool found = false;
    for (const Field& g : query.fields()) {
      if (g.name == f.name) {
        if (!SameTypeIgnoringNullability(f.type, g.type) && !delta::GainsStructFields(f.type, g.type)) return false;
        found = true;
      }
    }
    if (!found) return false;
  }
  return true;
}

}  // namespace

PipelineRunner::Impl::~Impl() = default;

Status PipelineRunner::Impl::LockStorage() {
  // Every run starts here: a runner opened for queries over an unresolved pipeline has no plans.
  if (!resolve_error.ok()) return resolve_error;
  if (storage_lock.held()) return Status::OK();
  LP_ASSIGN_OR_RETURN(storage_lock, StorageLock::Acquire(pipeline.settings.storage, "run"));
  // Tables at a LOCATION: shared with other runs that append (Delta's optimistic
  // concurrency orders the commits), exclusive of OPTIMIZE, VACUUM and DELETE.
  for (const auto& ds : pipeline.datasets) {
    if (ds.location.empty()) continue;
    auto lock = StorageLock::AcquireShared(ds.location, "run");
    if (!lock.ok()) {
      storage_lock.Release();
      table_locks.clear();
      return lock.status();
    }
    table_locks.push_back(std::move(*lock));
  }
  return Status::OK();
}

bool UpdateReport::ok() const {
  for (const auto& t : tables)
    if (t.status == "failed") return false;
  return true;
}

void PipelineRunner::Impl::CollectSources(const sql::PlanNode& node, PlanSources* out) const {
  if (node.kind == sql::PlanKind::kReadFiles) out->file_scans.push_back(&node);
  if (node.kind == sql::PlanKind::kReadStream) out->stream_scans.push_back(&node);
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

Result<TableReport> PipelineRunner::Impl::UpdateTable(const sql::ResolvedDataset& ds, bool full_refresh,
                                                      StatusBoard* board) {
  return ds.kind == sql::DatasetKind::kStreamingTable ? UpdateStreamingTable(ds, full_refresh, board)
                                                      : UpdateMaterializedView(ds, full_refresh, board);
}

void PipelineRunner::Impl::RecordArrivals(const std::string& table, int64_t version, Arrivals lines,
                                          StatusBoard* board) {
  Arrivals merged = arrivals.Record(table, version, std::move(lines));
  if (board == nullptr) return;
  int64_t now = clock->NowMicros();
  for (const auto& [t, n] : merged) {
    board->RecordLatency(table, static_cast<double>(std::max<int64_t>(0, now - t)) / 1e6, n);
  }
}

Result<std::shared_ptr<delta::DeltaTable>> PipelineRunner::Impl::Table(const std::string& name) const {
  return table_handles->Open(name, TablePath(name));
}

void PipelineRunner::Impl::ForgetTable(const std::string& name) const { table_handles->Forget(TablePath(name)); }

void NoteCheckpointFailure(const delta::CommitResult& commit, TableReport* report) {
  if (commit.checkpoint_error.empty()) return;
  report->warnings.push_back({"checkpoint_failed", "the Delta checkpoint after version " +
                                                      std::to_string(commit.version) + " was not written (" +
                                                      commit.checkpoint_error +
                                                      "); readers use the JSON commits, and the next checkpoint "
                                                      "interval tries again"});
}

void NoteFileWarnings(const FileReadStats& stats, TableReport* report) {
  for (const auto& f : stats.changed_files) {
    std::string what = f.size > f.planned_size
                           ? "grew to " + std::to_string(f.size) + " bytes after it was planned with " +
                                 std::to_string(f.planned_size) + ": only the planned bytes were read; the " +
                                 std::to_string(f.size - f.planned_size) +
                                 " bytes written since are not ingested (write files whole, then rename)"
                           : "shrank to " + std::to_string(f.size) + " bytes after it was planned with " +
                                 std::to_string(f.planned_size) + ": only " + std::to_string(f.size) +
                                 " bytes could be read";
    report->warnings.push_back({"file_changed", f.path + " " + what});
  }
  for (const auto& link : stats.not_followed) {
    report->warnings.push_back({"link_not_followed", "read_files " + link + ": not followed"});
  }
}

// ---- writing tables ------------------------------------------------------------------

Result<delta::CreateOptions> PipelineRunner::Impl::CreateOptionsFor(const sql::ResolvedDataset& ds,
                                                                    const Schema& schema) const {
  const auto& def = Definition(ds);
  delta::CreateOptions create;
  create.schema = schema;
  create.partition_columns = def.partition_columns;
  for (const auto& [k, v] : def.table_properties) create.configuration[k] = v;
  // A view's short history, a streaming table's sparser checkpoints, unless their
  // TBLPROPERTIES say otherwise (view_table_defaults.h).
  if (ds.kind == sql::DatasetKind::kMaterializedView) AddMaterializedViewTableDefaults(&create.configuration);
  if (ds.kind == sql::DatasetKind::kStreamingTable) AddStreamingTableDefaults(&create.configuration);
  create.name = ds.name;
  if (!def.comment.empty()) create.description = def.comment;
  return create;
}

Result<std::unique_ptr<delta::TableWriter>> PipelineRunner::Impl::OpenTableWriter(const std::string& name,
                                                                                const Schema& schema,
                                                                                const sql::ResolvedDataset& ds,
                                                                                delta::WriteOptions options) {
  std::string path = TablePath(name);
  // Pipeline tables are read downstream by streaming flows one row group at a time
  // (docs/execution.md): a row group of at most 262,144 rows (four parts of 64k) keeps
  // that read small whatever the dictionaries make of the 128 MB byte limit.
  constexpr int64_t kPipelineRowGroupRows = 1 << 18;
  options.parquet.row_group_rows = kPipelineRowGroupRows;
  // A table whose schema no longer matches the query (the SQL changed) is rebuilt: an
  // overwrite may replace the schema, an append may not.
  auto existing = Table(name);
  if (!existing.ok() && !existing.status().IsNotFound()) return existing.status();
  if (existing.ok()) {
    LP_ASSIGN_OR_RETURN(auto snap, (*existing)->Latest());
    if (SameColumns(snap->schema(), schema)) return (*existing)->NewWriter(std::move(options));
    if (options.mode != delta::WriteMode::kOverwrite && GainsColumns(snap->schema(), schema)) {
      // The query gained columns (a read_files schema that evolved, or new columns in the
      // SQL): they are added to the table in this commit, earlier rows NULL (Delta's
      // mergeSchema). Columns are written by name, so their order in the query is free.
      options.merge_schema = true;
      return (*existing)->NewWriter(std::move(options));
    }
    if (options.mode != delta::WriteMode::kOverwrite) {
      return Status::InvalidArgument("table `" + name + "` has columns (" + snap->schema().ToDDL() +
                                     ") but its query now produces (" + schema.ToDDL() +
                                     "); run with --full-refresh " + name + " to rebuild it");
    }
    ForgetTable(name);
    LP_RETURN_IF_ERROR(fs->RemoveAll(path));
  }
  LP_ASSIGN_OR_RETURN(delta::CreateOptions create, CreateOptionsFor(ds, schema));
  if (name != ds.name) {
    create.partition_columns.clear();
    create.description = name == ds.name + "_late" ? "rows of " + ds.name + " that arrived behind its watermark"
                                                    : "rows of " + ds.name + " that failed a QUARANTINE expectation";
    create.name = name;
  }
  options.create_if_missing = create;
  delta::TableOptions table_options;
  table_options.clock = clock;
  return delta::DeltaTable::NewWriter(path, options, fs, table_options);
}

Result<delta::CommitResult> PipelineRunner::Impl::WriteTable(const std::string& name, const Schema& schema,
                                                             const sql::ResolvedDataset& ds,
                                                             const Batches& rows, delta::WriteOptions options) {
  LP_ASSIGN_OR_RETURN(auto writer, OpenTableWriter(name, schema, ds, std::move(options)));
  for (const auto& b : rows) LP_RETURN_IF_ERROR(writer->Write(b));
  return writer->Commit();
}

// ---- the runner ----------------------------------------------------------------------

PipelineRunner::PipelineRunner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PipelineRunner::~PipelineRunner() = default;

Result<std::unique_ptr<PipelineRunner>> PipelineRunner::Open(
    const std::string& folder, const std::map<std::string, std::string>& overrides, FileSystem* fs,
    Clock* clock) {
  Status unresolved;
  LP_ASSIGN_OR_RETURN(auto runner, OpenForQuery(folder, overrides, &unresolved, fs, clock));
  if (!unresolved.ok()) return unresolved;
  return runner;
}

Result<std::unique_ptr<PipelineRunner>> PipelineRunner::OpenForQuery(
    const std::string& folder, const std::map<std::string, std::string>& overrides, Status* resolve_error,
    FileSystem* fs, Clock* clock) {
  auto impl = std::make_unique<Impl>();
  impl->fs = fs;
  impl->clock = clock;
  impl->table_handles = std::make_unique<TableHandleCache>(fs, clock);
  LP_ASSIGN_OR_RETURN(impl->pipeline, sql::LoadPipeline(folder, overrides, fs));
  // Read_files scans without a schema take their kept (or inferred) schema, exactly as
  // `validate` plans them.
  auto resolved = sql::ResolvePipeline(impl->pipeline, ReadFilesSchemaLookupFor(fs, impl->pipeline.settings.storage),
                                       ExternalTableLookupFor(fs, impl->pipeline));
  if (resolved.ok()) {
    impl->resolved = std::move(resolved).value();
  } else {
    impl->resolve_error = resolved.status();
    for (size_t i = 0; i < impl->pipeline.datasets.size(); ++i) {
      sql::ResolvedDataset ds;
      ds.name = impl->pipeline.datasets[i].name;
      ds.kind = impl->pipeline.datasets[i].kind;
      ds.dataset_index = i;
      impl->resolved.datasets.push_back(std::move(ds));
    }
  }
  if (resolve_error != nullptr) *resolve_error = impl->resolve_error;
  impl->Publish();
  return std::unique_ptr<PipelineRunner>(new PipelineRunner(std::move(impl)));
}

const sql::Pipeline& PipelineRunner::pipeline() const { return impl_->pipeline; }
const sql::ResolvedPipeline& PipelineRunner::resolved() const {
  return *impl_->published.load(std::memory_order_acquire);
}

void PipelineRunner::Impl::Publish() {
  std::lock_guard<std::mutex> lock(published_mu);
  published_generations.push_back(resolved);
  published.store(&published_generations.back(), std::memory_order_release);
}
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
    if (ds != nullptr && ds->kind == sql::DatasetKind::kView) {
      if (!r.resolve_error.ok()) {
        return sql::ErrorAt(loc, "view `" + table + "` cannot be read: the pipeline does not resolve (" +
                                     r.resolve_error.message() + ")");
      }
      return ds->schema;
    }
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
  // A read_files scan without a schema in an ad-hoc query infers it from its files now.
  LP_ASSIGN_OR_RETURN(sql::PlanPtr resolved,
                      sql::ResolvePlan(plan, lookup, ReadFilesSchemaLookupFor(r.fs, r.pipeline.settings.storage)));
  ExecOptions exec;
  exec.current_timestamp_micros = r.clock->NowMicros();
  FullScanProvider provider(r.Scans(), exec);
  LP_ASSIGN_OR_RETURN(Batches rows, Execute(*resolved, provider, exec));
  return QueryResult{resolved->schema, std::move(rows)};
}

void PipelineRunner::RequestStop() {
  impl_->stop_requested.store(true);
  if (FileWatcher* w = impl_->watcher.load()) w->Wake();
}

Result<std::set<std::string>> PipelineRunner::Impl::FullRefreshSet(const RunOptions& options) const {
  std::set<std::string> refresh;
  for (const auto& t : options.full_refresh) {
    const sql::ResolvedDataset* ds = Find(t);
    if (ds == nullptr || ds->kind == sql::DatasetKind::kView) {
      return Status::InvalidArgument("--full-refresh names `" + t + "`, which is not a table of pipeline " +
                                     pipeline.settings.name);
    }
    refresh.insert(Lower(t));
  }
  if (options.full_refresh_all) {
    for (const auto& ds : resolved.datasets)
      if (ds.kind != sql::DatasetKind::kView) refresh.insert(Lower(ds.name));
  }
  // A table at a LOCATION may hold other runs' rows (docs/scale-out.md): rewriting it
  // from this run's sources would delete theirs.
  for (const auto& ds : resolved.datasets) {
    if (ds.kind == sql::DatasetKind::kView || !refresh.count(Lower(ds.name)) || Definition(ds).location.empty()) continue;
    return Status::NotSupported("not built yet: a full refresh of `" + ds.name + "`, which has a LOCATION (" +
                                Definition(ds).location +
                                ") other runs may append to: it would delete their rows too. Stop every run writing "
                                "it, remove the folder and their checkpoints, and run them again (docs/scale-out.md)");
  }
  return refresh;
}

void PipelineRunner::Impl::LogUpdateStart(EventLog& log, const std::set<std::string>& refresh,
                                          const std::string& mode) const {
  Json details = {{"mode", mode}, {"full_refresh", Json::array()}, {"tables", Json::array()}};
  for (const auto& ds : resolved.datasets) {
    if (ds.kind == sql::DatasetKind::kView) continue;
    details["tables"].push_back(ds.name);
    if (refresh.count(Lower(ds.name))) details["full_refresh"].push_back(ds.name);
  }
  log.Add({0, "", "update_start", "INFO", "update started (" + mode + ")", details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
}

TableReport PipelineRunner::Impl::RunTable(const sql::ResolvedDataset& ds, bool full_refresh,
                                           const std::set<std::string>& failed, EventLog& log,
                                           StatusBoard* board, const RestartBudget* restart) {
  int64_t table_start = MonotonicNanos();
  PlanSources sources;
  CollectSources(*ds.plan, &sources);
  for (const auto& f : ds.more_flows) CollectSources(*f.plan, &sources);  // the table's other flows
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
    if (board != nullptr) board->SetState(ds.name, "running");
    result = UpdateTable(ds, full_refresh, board);
  }
  TableReport report;
  if (result.ok()) {
    report = std::move(result).value();
  } else {
    report.table = ds.name;
    report.kind = sql::DatasetKindName(ds.kind);
    report.status = "failed";
    report.message = result.status().message();
    // Damaged operator state cannot be repaired in place, but it can be rebuilt: say how.
    if (result.status().code() == StatusCode::kCorruption &&
        report.message.find("/_checkpoints/") != std::string::npos) {
      report.message += " (the table's checkpoint or state is damaged: `lakepipe run PIPELINE --full-refresh " +
                        ds.name + "` rebuilds the table and its state from its sources)";
    } else if (IsSchemaEvolutionStop(result.status())) {
      // Lakeflow restarts a flow stopped by addNewColumns by itself; so does lakepipe,
      // a bounded number of times (docs/sql-reference.md, "Schema inference and evolution").
      int64_t used = restart != nullptr ? restart->used : 0;
      int64_t max = restart != nullptr ? restart->max : 0;
      report.restarts = used;
      if (used < max) {
        report.status = "restarted";
        report.message += "; the flow restarts with the new schema (restart " + std::to_string(used + 1) + " of at most " +
                          std::to_string(max) + (continuous ? " in a row" : " in this update") +
                          ", pipelines.maxFlowRetryAttempts)";
      } else {
        report.message += max == 0 ? "; not restarted (pipelines.maxFlowRetryAttempts is 0): run again to continue"
                                   : "; not restarted: the flow already restarted " + std::to_string(used) +
                                         " time(s) for new fields" + (continuous ? " in a row without committing a batch" : " in this update") +
                                         ", the most pipelines.maxFlowRetryAttempts allows; run again to continue";
      }
    }
  }
  report.duration_ms = ElapsedMs(table_start);
  if (restart != nullptr) report.restarts = restart->used;
  if (report.status == "restarted") {
    // Visible as the stop it is: an event of its own (not an error: the update goes on),
    // the board's restart count and last restart, and /metrics' lakepipe_flow_restarts_total.
    if (board != nullptr) {
      board->RecordRestart(ds.name, report.message, clock->NowMillis());
      board->SetState(ds.name, "restarting");
    }
    log.Add({0, report.table, "flow_restart", "WARN", report.message,
             Json({{"status", report.status},
                   {"reason", "schema_evolution"},
                   {"restart", report.restarts + 1},
                   {"max_restarts", restart != nullptr ? restart->max : 0},
                   {"duration_ms", report.duration_ms}})
                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
    return report;
  }
  if (board != nullptr) {
    if (report.status == "failed" || report.status == "skipped") {
      board->RecordBatch(report, clock->NowMillis());
      board->SetState(ds.name, report.status == "failed" ? "failed" : "idle");
    } else {
      board->SetState(ds.name, "idle");
    }
  }
  for (const auto& [type, message] : report.warnings) {
    log.Add({0, report.table, type, "WARN", message, Json({{"status", report.status}}).dump()});
  }
  // Up-to-date tables are not logged in continuous mode (they would be every wake-up).
  if ((report.status == "up to date" || report.status == "waiting") && continuous) return report;

  Json details = {{"rows_read", report.rows_read},       {"rows_written", report.rows_written},
                  {"rows_dropped", report.rows_dropped}, {"rows_quarantined", report.rows_quarantined}, {"rows_late", report.rows_late},
                  {"rows_rescued", report.rows_rescued}, {"batches", report.batches},
                  {"duration_ms", report.duration_ms},   {"table_version", report.table_version},
                  {"status", report.status},             {"expectations", Json::array()},
                  {"state", {{"keys", report.state_keys}, {"bytes", report.state_bytes}}}};
  if (!report.technique.empty()) details["technique"] = report.technique;
  if (report.restarts > 0) details["restarts"] = report.restarts;
  if (report.parts > 0) details["parts"] = report.parts;
  if (report.replication_lag_bytes >= 0) {
    details["replication_lag"] = {{"bytes", report.replication_lag_bytes}, {"seconds", report.replication_lag_seconds}};
  }
  details["state"]["operators"] = Json::array();
  for (const auto& op : report.operators) {
    details["state"]["operators"].push_back({{"name", op.name}, {"keys", op.keys}, {"bytes", op.bytes}});
  }
  for (const auto& e : report.expectations) {
    details["expectations"].push_back({{"name", e.name}, {"action", e.action}, {"passed", e.passed}, {"failed", e.failed}});
  }
  if (report.status == "failed") {
    details["error"] = report.message;
    log.Add({0, report.table, "error", "ERROR", report.message, details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
  } else {
    std::string message = report.status == "skipped" || report.status == "waiting"
                              ? report.status + ": " + report.message
                              : report.status == "up to date"
                                    ? std::string("up to date")
                                    : report.status + ": " + std::to_string(report.rows_written) + " rows written";
    log.Add({0, report.table, "flow_progress", report.status == "skipped" ? "WARN" : "INFO", message, details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
  }
  return report;
}

size_t PipelineRunner::Impl::IndependentViews(const std::vector<const sql::ResolvedDataset*>& tables,
                                              size_t from) const {
  size_t end = from + 1;
  if (tables[from]->kind != sql::DatasetKind::kMaterializedView) return end;
  std::set<std::string> group = {Lower(tables[from]->name)};
  for (; end < tables.size() && tables[end]->kind == sql::DatasetKind::kMaterializedView; ++end) {
    PlanSources sources;
    CollectSources(*tables[end]->plan, &sources);
    for (const auto& f : tables[end]->more_flows) CollectSources(*f.plan, &sources);
    bool reads_group = false;
    for (const auto& t : sources.tables_read) reads_group |= group.count(t) > 0;
    if (reads_group) break;
    group.insert(Lower(tables[end]->name));
  }
  return end;
}

Result<UpdateReport> PipelineRunner::RunOnce(const RunOptions& options) {
  Impl& r = *impl_;
  LP_RETURN_IF_ERROR(r.LockStorage());
  r.continuous = false;
  int64_t start = MonotonicNanos();
  UpdateReport update;
  update.update_id = NewUuid();
  EventLog log(r.fs, r.pipeline.settings.storage, r.pipeline.settings.name, r.clock);
  log.set_update_id(update.update_id);
  LP_ASSIGN_OR_RETURN(std::set<std::string> refresh, r.FullRefreshSet(options));
  // A refresh selection runs the selected tables (and those fully refreshed) in dependency
  // order; a selected table reads its unselected inputs at their current versions.
  std::set<std::string> selected;
  for (const auto& t : options.refresh_selection) {
    const sql::ResolvedDataset* ds = r.Find(t);
    if (ds == nullptr || ds->kind == sql::DatasetKind::kView) {
      return Status::InvalidArgument("--refresh names `" + t + "`, which is not a table of pipeline " +
                                     r.pipeline.settings.name);
    }
    selected.insert(Lower(t));
  }
  if (!selected.empty()) selected.insert(refresh.begin(), refresh.end());
  r.LogUpdateStart(log, refresh, "triggered");
  if (options.board != nullptr) options.board->Init(r.InitialStatus("triggered"));

  std::vector<const sql::ResolvedDataset*> tables;
  for (const auto& ds : r.resolved.datasets)
    if (ds.kind != sql::DatasetKind::kView && (selected.empty() || selected.count(Lower(ds.name)))) tables.push_back(&ds);
  LP_ASSIGN_OR_RETURN(int64_t max_restarts, r.MaxSchemaRestarts());
  LP_ASSIGN_OR_RETURN(const bool share_view_scans, ShareViewScans(r.pipeline.settings));
  std::set<std::string> failed;  // lower-case names of tables that failed or were skipped
  std::mutex callbacks_mu;        // the caller's callbacks are called from one thread at a time
  for (size_t i = 0; i < tables.size() && !r.stop_requested.load();) {
    // Materialized views that follow each other in dependency order and read none of each
    // other run together on two threads, and a table they all read at one version is read
    // once for them (Impl::shared_scans). Reports keep the order of `tables`.
    size_t end = r.IndependentViews(tables, i);
    // Views of the group that read the same table by parts share that read
    // (Impl::shared_part_scans). Each waits for the others' columns before the first part
    // is decoded, so they all run at once, each on a thread of its own: they are the
    // first views the threads take.
    size_t threads = std::min<size_t>(end - i, 2);
    std::map<std::string, std::set<std::string>> part_scans;
    if (end - i > 1 && share_view_scans) {
      std::map<std::string, std::vector<size_t>> readers;  // table -> views of the group (offsets)
      for (size_t k = i; k < end && k - i < SharedPartScans::kMaxViews; ++k) {
        if (auto t = r.PartScanTable(*tables[k])) readers[*t].push_back(k - i);
      }
      for (const auto& [t, offsets] : readers) {
        if (offsets.size() < 2) continue;
        for (size_t o : offsets) part_scans[t].insert(Lower(tables[i + o]->name));
        threads = std::max(threads, offsets.back() + 1);
      }
    }
    std::vector<TableReport> reports(end - i);
    std::atomic<size_t> next{i};
    auto work = [&]() {
      for (size_t k = next++; k < end; k = next++) {
        const sql::ResolvedDataset& ds = *tables[k];
        if (r.stop_requested.load()) {
          r.shared_part_scans.Withdraw(Lower(ds.name));  // the views waiting for it go on
          break;
        }
        if (options.on_table_start) {
          std::lock_guard<std::mutex> lock(callbacks_mu);
          options.on_table_start(ds.name, static_cast<int>(k), static_cast<int>(tables.size()));
        }
        // A flow stopped for new fields runs again, re-planned, within the bound (Lakeflow
        // retries the update); the tables downstream have not run yet and take the new
        // plans. Only a table that runs alone (views of a group never stop so) re-plans:
        // no other table runs meanwhile.
        Impl::RestartBudget budget{0, max_restarts};
        TableReport report;
        while (true) {
          report = r.RunTable(ds, refresh.count(Lower(ds.name)) > 0, failed, log, options.board,
                              end - i == 1 ? &budget : nullptr);
          if (report.status != "restarted") break;
          if (options.on_table) {
            std::lock_guard<std::mutex> lock(callbacks_mu);
            options.on_table(report);
          }
          ++budget.used;
          Status replanned = r.Replan(nullptr);
          if (!replanned.ok()) {
            report.status = "failed";
            report.message = "the pipeline could not be planned again after the schema change: " + replanned.message();
            log.Add({0, report.table, "error", "ERROR", report.message,
                     Json({{"status", report.status}, {"error", report.message}})
                         .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
            break;
          }
        }
        r.shared_part_scans.Withdraw(Lower(ds.name));
        report.restarts = budget.used;
        reports[k - i] = std::move(report);
        if (options.on_table) {
          std::lock_guard<std::mutex> lock(callbacks_mu);
          options.on_table(reports[k - i]);
        }
      }
    };
    if (end - i > 1) {
      r.shared_scans.Begin();
      r.shared_part_scans.Begin(std::move(part_scans));
      std::vector<std::thread> helpers;
      for (size_t h = 1; h < threads; ++h) helpers.emplace_back(work);
      work();
      for (auto& h : helpers) h.join();
      r.shared_part_scans.End();
      r.shared_scans.End();
    } else {
      work();
    }
    for (size_t k = i; k < end; ++k) {
      if (reports[k - i].table.empty()) break;  // not run: a stop was requested
      if (reports[k - i].status == "failed" || reports[k - i].status == "skipped") failed.insert(Lower(tables[k]->name));
      update.tables.push_back(std::move(reports[k - i]));
    }
    i = end;
  }
  // The streaming tables that appended are compacted once their update is over (the
  // update's rows are all committed by then, so nothing waits for it), with the tables
  // they write beside themselves, as in continuous mode: repeated `run --once` jobs add a
  // file per run to each.
  AutoCompactor compactor(r.fs, r.clock, &log);
  compactor.LendTableHandles([&r](const std::string& name, const std::string&) { return r.Table(name); });
  for (size_t i = 0; i < update.tables.size() && !r.stop_requested.load(); ++i) {
    const sql::ResolvedDataset& ds = *tables[i];
    if (ds.kind != sql::DatasetKind::kStreamingTable || update.tables[i].status != "updated") continue;
    sql::TableProperties props = sql::TablePropertiesOf(r.Definition(ds).table_properties);
    if (!props.auto_compact) continue;
    for (const auto& name : WithSideTables(ds.name)) {
      // Reported in the event log.
      (void)compactor.CompactIfDue(name, r.TablePath(name), props.auto_compact_min_files.value_or(0));
    }
  }
  // The event log's retention, compaction and VACUUM (its files removed over an hour ago:
  // the table's own retention), so that cron-style jobs keep its folder bounded too. A
  // failure is a WARN event; the update stands.
  if (!r.stop_requested.load()) {
    LP_ASSIGN_OR_RETURN(sql::EventLogSettings event_log_settings,
                        sql::EventLogSettingsOf(r.pipeline.settings.configuration, r.pipeline.settings.settings_file));
    EventLogUpkeep upkeep(r.fs, r.clock, &log, r.pipeline.settings.storage,
                          EventLogUpkeepOptions::Of(event_log_settings));
    (void)upkeep.RunNow(/*vacuum=*/true);
  }
  update.duration_ms = ElapsedMs(start);
  bool stopped = r.stop_requested.load();
  log.Add({0, "", "update_complete", update.ok() ? "INFO" : "ERROR",
           stopped ? "update stopped" : update.ok() ? "update completed" : "update completed with failures",
           Json({{"duration_ms", update.duration_ms}, {"tables", update.tables.size()}, {"stopped", stopped}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
  LP_RETURN_IF_ERROR(log.Flush());
  return update;
}

namespace {

// The columns of every node of a dataset's plans: equal fingerprints, same plans but for
// the nodes' identities (a re-resolution of unchanged SQL over unchanged schemas).
void PlanFingerprint(const sql::PlanNode& node, std::string* out) {
  *out += std::to_string(static_cast<int>(node.kind)) + "(" + node.schema.ToDDL();
  if (node.kind == sql::PlanKind::kReadFiles) {
    *out += ";v" + std::to_string(node.read_files.schema_version);
    if (node.read_files.schema) *out += ";" + node.read_files.schema->ToDDL();
  }
  for (const auto& in : node.inputs)
    if (in) PlanFingerprint(*in, out);
  *out += ")";
}

std::string DatasetFingerprint(const sql::ResolvedDataset& ds) {
  std::string out = ds.schema.ToDDL() + "|";
  if (ds.plan) PlanFingerprint(*ds.plan, &out);
  if (ds.apply_changes) out += "|" + ds.apply_changes->source_schema.ToDDL();
  for (const auto& f : ds.more_flows) {
    out += "|" + f.name + ":";
    if (f.plan) PlanFingerprint(*f.plan, &out);
    if (f.apply_changes) out += "|" + f.apply_changes->source_schema.ToDDL();
  }
  return out;
}

}  // namespace

std::vector<std::string> WithSideTables(const std::string& name) {
  return {name, name + "_quarantine", name + "_late"};
}

Status PipelineRunner::Impl::Replan(std::vector<std::string>* changed) {
  LP_ASSIGN_OR_RETURN(sql::ResolvedPipeline fresh,
                      sql::ResolvePipeline(pipeline, ReadFilesSchemaLookupFor(fs, pipeline.settings.storage),
                                           ExternalTableLookupFor(fs, pipeline)));
  if (fresh.datasets.size() != resolved.datasets.size()) {
    return Status::Internal("the pipeline resolved to " + std::to_string(fresh.datasets.size()) +
                            " datasets after a schema change, " + std::to_string(resolved.datasets.size()) + " before");
  }
  for (size_t i = 0; i < fresh.datasets.size(); ++i) {
    if (Lower(fresh.datasets[i].name) != Lower(resolved.datasets[i].name)) {
      return Status::Internal("the pipeline's datasets changed order after a schema change (" + fresh.datasets[i].name +
                              " where " + resolved.datasets[i].name + " was)");
    }
  }
  bool replaced = false;
  for (size_t i = 0; i < fresh.datasets.size(); ++i) {
    sql::ResolvedDataset& now = resolved.datasets[i];
    if (DatasetFingerprint(fresh.datasets[i]) == DatasetFingerprint(now)) continue;
    std::string key = Lower(now.name);
    {
      std::lock_guard<std::mutex> lock(flows_mu);
      for (auto it = flows.begin(); it != flows.end();) {
        it = it->first == key || it->first.rfind(key + "/", 0) == 0 ? flows.erase(it) : std::next(it);
      }
    }
    retired.push_back(now);
    now = std::move(fresh.datasets[i]);
    if (changed != nullptr) changed->push_back(now.name);
    replaced = true;
  }
  if (replaced) Publish();
  return Status::OK();
}

Result<int64_t> PipelineRunner::Impl::MaxSchemaRestarts() const {
  // Lakeflow's name for how often a failed flow is retried within an update (default 2);
  // lakepipe retries only the addNewColumns stop. sql::LoadPipeline checked the value.
  auto it = pipeline.settings.configuration.find("pipelines.maxFlowRetryAttempts");
  if (it == pipeline.settings.configuration.end()) return int64_t{2};
  char* end = nullptr;
  long long n = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || n < 0) {
    return Status::InvalidArgument("configuration pipelines.maxFlowRetryAttempts is '" + it->second + "'");
  }
  return static_cast<int64_t>(n);
}

PipelineStatus PipelineRunner::Impl::InitialStatus(const std::string& mode) const {
  PipelineStatus status;
  status.pipeline = pipeline.settings.name;
  status.storage = pipeline.settings.storage;
  status.mode = mode;
  status.started_unix_ms = clock->NowMillis();
  for (const auto& ds : resolved.datasets) {
    if (ds.kind == sql::DatasetKind::kView) continue;
    TableStatus t;
    t.name = ds.name;
    t.kind = sql::DatasetKindName(ds.kind);
    auto trig = pipeline.settings.triggers.find(ds.name);
    t.trigger = trig != pipeline.settings.triggers.end() ? trig->second.ToString()
                                                         : (mode == "continuous" ? "continuous" : "triggered");
    PlanSources sources;
    CollectSources(*ds.plan, &sources);
    for (const auto& f : ds.more_flows) CollectSources(*f.plan, &sources);  // the table's other flows
    for (const auto& up : sources.tables_read) {
      const sql::ResolvedDataset* u = Find(up);
      t.upstream_tables.push_back(u != nullptr ? u->name : up);
    }
    for (const auto* scan : sources.file_scans) t.sources.push_back("files:" + scan->read_files.path);
    for (const auto* scan : sources.stream_scans)
      t.sources.push_back(sql::StreamSourceKind(scan->stream_source) + ":" + sql::StreamSourceLabel(scan->stream_source));
    if (delta::DeltaTable::Exists(TablePath(ds.name), fs)) {
      auto table = delta::DeltaTable::Open(TablePath(ds.name), fs);
      if (table.ok()) {
        auto v = (*table)->LatestVersion();
        if (v.ok()) t.table_version = *v;
      }
    }
    status.tables.push_back(std::move(t));
  }
  return status;
}

}  // namespace lakepipe::runtime
