// Materialized views: recomputed from their inputs' current snapshots and written as one
// overwrite commit, or left alone when nothing they read changed.
#include "common/kill_point.h"
#include "operators/expectations.h"
#include "runtime/pipeline_runner_internal.h"
#include "runtime/status_board.h"

namespace lakepipe::runtime {

namespace {
// Whether rows failing an expectation go to `<table>_quarantine`.
bool HasQuarantine(const sql::DatasetDefinition& def) {
  for (const auto& e : def.expectations)
    if (e.action == sql::ViolationAction::kQuarantine) return true;
  return false;
}
}  // namespace


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
                                                                 bool full_refresh, StatusBoard* board) {
  int64_t start = MonotonicNanos();
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
  if (HasQuarantine(Definition(ds))) {
    LP_RETURN_IF_ERROR(WriteTable(ds.name + "_quarantine", operators::QuarantineSchema(ds.schema), ds,
                                  quarantined, options)
                           .status());
  }
  LP_KILL_POINT("mv.after_commit");
  report.status = "updated";
  // Latency: the lines of every upstream version this update read for the first time.
  Arrivals arrivals;
  auto& consumed = versions_consumed[Lower(ds.name)];
  for (const auto& [t, v] : provider.versions_read()) {
    auto it = consumed.find(t);
    if (it != consumed.end()) {
      Arrivals up = ArrivalsBetween(t, it->second, v);
      arrivals.insert(arrivals.end(), up.begin(), up.end());
    }
    consumed[t] = v;
  }
  RecordArrivals(ds.name, commit.version, std::move(arrivals), board);
  if (board != nullptr) {
    report.duration_ms = ElapsedMs(start);
    board->RecordBatch(report, clock->NowMillis());
  }
  return report;
}

}  // namespace lakepipe::runtime
