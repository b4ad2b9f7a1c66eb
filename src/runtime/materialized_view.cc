// Materialized views: recomputed from their inputs' current snapshots and written as one
// overwrite commit, or left alone when nothing they read changed.
#include "common/kill_point.h"
#include "delta/changes.h"
#include "expr/aggregate_functions.h"
#include "state/incremental_aggregate.h"
#include "operators/expectations.h"
#include "runtime/pipeline_runner_internal.h"
#include "sql/streaming_rules.h"
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

Result<TableReport> PipelineRunner::Impl::RecomputeMaterializedView(const sql::ResolvedDataset& ds,
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
  NoteFileWarnings(provider.file_stats(), &report);
  LP_ASSIGN_OR_RETURN(Batches quarantined, ApplyExpectations(ds, &rows, &report));

  delta::WriteOptions options;
  options.mode = delta::WriteMode::kOverwrite;
  options.operation = "CREATE OR REFRESH MATERIALIZED VIEW";
  Json inputs = Json::object();
  for (const auto& [t, v] : provider.versions_read()) inputs[t] = v;
  options.operation_parameters["inputs"] = inputs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  options.operation_parameters["technique"] = "complete recompute";
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
  report.technique = "complete recompute";
  // Latency: the lines of every upstream version this update read for the first time.
  RecordArrivals(ds.name, commit.version, NewArrivalsFor(ds.name, provider.versions_read()), board);
  if (board != nullptr) {
    report.duration_ms = ElapsedMs(start);
    board->RecordBatch(report, clock->NowMillis());
  }
  return report;
}


// ---- incremental maintenance ---------------------------------------------------------

namespace {

const sql::PlanNode* FindWindow(const sql::PlanNode& n) {
  if (n.kind == sql::PlanKind::kWindow) return &n;
  for (const auto& in : n.inputs) {
    if (const sql::PlanNode* w = FindWindow(*in)) return w;
  }
  return nullptr;
}

bool IsRowwise(sql::PlanKind k) {
  return k == sql::PlanKind::kFilter || k == sql::PlanKind::kProject || k == sql::PlanKind::kSubqueryAlias ||
         k == sql::PlanKind::kGenerate;
}

}  // namespace

std::string PipelineRunner::Impl::WhyNotIncremental(const sql::ResolvedDataset& ds,
                                                     IncrementalShape* shape) const {
  if (PlanUsesCurrentTime(*ds.plan)) return "it uses the current time";
  if (const sql::PlanNode* w = FindWindow(*ds.plan)) {
    return "it uses the window function `" + w->window_functions[0].text +
           "`, whose values change with every new row of a partition";
  }
  // Above the aggregate: row-wise steps, ORDER BY and LIMIT over its (whole) output.
  const sql::PlanNode* n = ds.plan.get();
  while (n->kind != sql::PlanKind::kAggregate) {
    if (!(IsRowwise(n->kind) || n->kind == sql::PlanKind::kSort || n->kind == sql::PlanKind::kLimit) ||
        n->inputs.size() != 1) {
      return std::string("its query has ") + sql::PlanKindName(n->kind) + " outside a single GROUP BY";
    }
    n = n->inputs[0].get();
  }
  // Below it: row-wise steps over one stored table, so that new rows of the table map to
  // new input rows of the aggregate.
  if (sql::WindowKeyIndex(*n) >= 0) return "it groups by a time window";  // recomputed whole
  shape->aggregate = n;
  for (const auto& a : n->aggregates) {
    const expr::AggregateSignature* sig = expr::FindAggregate(a.expr->function);
    if (sig != nullptr && sig->order_sensitive) {
      // The view's batches arrive in commit order, a recompute reads the table's files in
      // path order: the two orders differ, so only the recompute is well defined.
      return "its aggregate `" + a.expr->ToString() + "` depends on the order of the rows";
    }
  }
  const sql::PlanNode* below = n->inputs[0].get();
  while (IsRowwise(below->kind)) below = below->inputs[0].get();
  if (below->kind != sql::PlanKind::kTableScan) {
    return std::string("its aggregate reads ") + sql::PlanKindName(below->kind) + ", not one table";
  }
  if (below->read_change_feed) return "it reads the change data feed of `" + below->table + "` (table_changes)";
  const sql::ResolvedDataset* up = Find(below->table);
  if (up == nullptr || up->kind == sql::DatasetKind::kView) return "it reads `" + below->table + "`, which is not a stored table";
  shape->scan = below;
  return "";
}

namespace {

// Reads the planned input of an incremental view's batch: the whole table at a version
// (the first batch) or the rows appended by a version range.
class IncrementalViewScanProvider : public FullScanProvider {
 public:
  IncrementalViewScanProvider(const PipelineRunner::Impl& runner, const ExecOptions& exec, const Json& source)
      : FullScanProvider(runner, exec), source_(source) {}

  Result<Batches> ReadTable(const sql::PlanNode& node) override {
    if (Lower(node.table) != Lower(source_["table"].get<std::string>())) return FullScanProvider::ReadTable(node);
    LP_ASSIGN_OR_RETURN(auto table, runner_.Table(node.table));
    if (source_["kind"] == "snapshot") {
      int64_t version = source_["version"].get<int64_t>();
      LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, table->Latest());
      if (snap->version() != version) {
        LP_ASSIGN_OR_RETURN(snap, table->AtVersion(version));
      }
      return ReadSnapshot(snap, node.schema);
    }
    delta::ChangeReadOptions options;
    options.columns = node.schema.names();
    return delta::ReadAppends(*table, source_["startVersion"].get<int64_t>(), source_["endVersion"].get<int64_t>(),
                              options);
  }

 private:
  const Json& source_;
};

}  // namespace

Result<TableReport> PipelineRunner::Impl::UpdateMaterializedView(const sql::ResolvedDataset& ds, bool full_refresh,
                                                                 StatusBoard* board) {
  // A view over pipeline tables that have no data yet waits for them (no error: in
  // continuous mode their first commit wakes it).
  PlanSources sources;
  CollectSources(*ds.plan, &sources);
  for (const auto& t : sources.tables_read) {
    const sql::ResolvedDataset* up = Find(t);
    if (up != nullptr && !delta::DeltaTable::Exists(TablePath(up->name), fs)) {
      TableReport report;
      report.table = ds.name;
      report.kind = sql::DatasetKindName(ds.kind);
      report.status = "waiting";
      report.message = "waiting for `" + up->name + "` (no data yet)";
      return report;
    }
  }
  IncrementalShape shape;
  std::string why_not = WhyNotIncremental(ds, &shape);
  if (!why_not.empty()) {
    // Left over state of an earlier, incremental form of the query would be stale.
    if (fs->Exists(CheckpointPath(ds.name))) {
      {
        std::lock_guard<std::mutex> lock(flows_mu);
        flows.erase(Lower(ds.name));
      }
      LP_RETURN_IF_ERROR(FlowCheckpoint::Reset(fs, CheckpointPath(ds.name)));
    }
    LP_ASSIGN_OR_RETURN(TableReport report, RecomputeMaterializedView(ds, full_refresh, board));
    // Say why the view is not maintained incrementally.
    if (report.message.empty() && report.status == "updated") report.message = "recomputed: " + why_not;
    return report;
  }
  auto result = UpdateIncrementalView(ds, shape, full_refresh, board);
  if (!result.ok() && result.status().code() == StatusCode::kNotSupported &&
      result.status().message().find("skipChangeCommits") != std::string::npos) {
    // The table it reads was rewritten (a full refresh upstream): start again from a
    // snapshot of it.
    return UpdateIncrementalView(ds, shape, /*full_refresh=*/true, board);
  }
  return result;
}

Result<TableReport> PipelineRunner::Impl::UpdateIncrementalView(const sql::ResolvedDataset& ds,
                                                                const IncrementalShape& shape, bool full_refresh,
                                                                StatusBoard* board) {
  int64_t start = MonotonicNanos();
  TableReport report;
  report.table = ds.name;
  report.kind = sql::DatasetKindName(ds.kind);
  LP_ASSIGN_OR_RETURN(Flow * flow, OpenFlow(ds, full_refresh));
  const std::string upstream = Find(shape.scan->table)->name;
  ExecOptions exec;
  exec.current_timestamp_micros = clock->NowMicros();
  if (flow->aggregate == nullptr) {
    LP_ASSIGN_OR_RETURN(AggregateFactory make, AggregateFactoryFor(*shape.aggregate, exec));
    std::string dir = JoinPath(flow->cp.dir(), "state/aggregate-0");
    LP_RETURN_IF_ERROR(fs->CreateDirs(dir));
    LP_ASSIGN_OR_RETURN(flow->aggregate, state::IncrementalAggregate::Open(dir, make));
    // The state and the view are cross-checked once per process (issue 19). A state that
    // is gone is rebuilt from a snapshot below (a complete recompute, so nothing is lost
    // or doubled); a view behind its state (its newest commits deleted, or the view
    // gone) is republished the same way, since the state alone would say "up to date".
    std::optional<int64_t> covered = flow->aggregate->committed_batch();
    LP_ASSIGN_OR_RETURN(auto view, FlowCheckpoint::ReadTableProgress(fs, TablePath(ds.name), flow->cp.flow_id()));
    if (covered && (!view.flow_txn || *view.flow_txn < *covered)) {
      report.warnings.push_back({"state_rebuilt", "view `" + ds.name + "` is behind its state (" + dir +
                                                      " covers upstream version " + std::to_string(*covered) +
                                                      "): recomputing it from a snapshot of `" + Find(shape.scan->table)->name + "`"});
      flow->aggregate.reset();
      LP_RETURN_IF_ERROR(fs->RemoveAll(dir));
      LP_RETURN_IF_ERROR(fs->CreateDirs(dir));
      LP_ASSIGN_OR_RETURN(flow->aggregate, state::IncrementalAggregate::Open(dir, make));
    } else if (!covered && view.flow_txn && !full_refresh) {
      report.warnings.push_back({"state_rebuilt", "state of view `" + ds.name + "` is missing (" + dir +
                                                      "): recomputing it from a snapshot of `" + Find(shape.scan->table)->name + "`"});
    }
  }
  state::IncrementalAggregate& aggregate = *flow->aggregate;

  // The state says which upstream version it covers (its batch id is that version), so
  // the next batch is the versions after it: no plan file is needed. A crash after the
  // view's commit but before the state's leaves the state behind the table; the next
  // batch then covers more versions and publishes the same aggregate again.
  LP_ASSIGN_OR_RETURN(auto table, Table(upstream));
  LP_ASSIGN_OR_RETURN(int64_t latest, table->LatestVersion());
  std::optional<int64_t> covered = aggregate.committed_batch();
  Json source;
  if (!covered) {
    source = {{"kind", "snapshot"}, {"table", upstream}, {"version", latest}};
  } else if (*covered < latest) {
    source = {{"kind", "delta"}, {"table", upstream}, {"startVersion", *covered + 1}, {"endVersion", latest}};
  } else {
    report.status = "up to date";
    LP_ASSIGN_OR_RETURN(auto own, Table(ds.name));
    LP_ASSIGN_OR_RETURN(report.table_version, own->LatestVersion());
    return report;
  }
  int64_t batch_id = latest;

  int64_t input_rows = 0;
  exec.incremental_aggregate = [&](const sql::PlanNode&, const AggregateFactory&, const Batches& rows) -> Result<Batches> {
    input_rows += CountRows(rows);
    return aggregate.Apply(batch_id, rows);
  };
  IncrementalViewScanProvider provider(*this, exec, source);
  auto abandon = [&](Status st) {
    (void)aggregate.Abandon();
    return st;
  };
  auto executed = Execute(*ds.plan, provider, exec);
  if (!executed.ok()) return abandon(executed.status());
  Batches rows = std::move(executed).value();
  report.rows_read = input_rows;
  auto quarantined = ApplyExpectations(ds, &rows, &report);
  if (!quarantined.ok()) return abandon(quarantined.status());
  LP_KILL_POINT("mv.after_process");

  delta::WriteOptions options;
  options.mode = delta::WriteMode::kOverwrite;
  options.operation = "CREATE OR REFRESH MATERIALIZED VIEW";
  options.operation_parameters["inputs"] = Json({{Lower(upstream), latest}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  options.operation_parameters["technique"] = source["kind"] == "snapshot" ? "incremental (initial)" : "incremental";
  if (full_refresh) options.operation_parameters["fullRefresh"] = "true";
  options.txn_app_id = flow->cp.flow_id();
  options.txn_version = batch_id;
  if (HasQuarantine(Definition(ds))) {
    auto written = WriteTable(ds.name + "_quarantine", operators::QuarantineSchema(ds.schema), ds, *quarantined, options);
    if (!written.ok()) return abandon(written.status());
  }
  auto commit = WriteTable(ds.name, ds.schema, ds, rows, options);
  if (!commit.ok()) return abandon(commit.status());
  LP_KILL_POINT("mv.after_commit");
  LP_RETURN_IF_ERROR(aggregate.Commit(batch_id));
  LP_KILL_POINT("mv.after_state_commit");
  state::StateSize size = aggregate.Size();

  report.status = "updated";
  report.rows_written = CountRows(rows);
  report.table_version = commit->version;
  report.batches = 1;
  report.state_keys = size.keys;
  report.state_bytes = size.disk_bytes;
  report.operators = {{"aggregate-0", size.keys, size.disk_bytes}};
  report.technique = options.operation_parameters["technique"];
  RecordArrivals(ds.name, commit->version, NewArrivalsFor(ds.name, {{Lower(upstream), latest}}), board);
  if (board != nullptr) {
    report.duration_ms = ElapsedMs(start);
    board->RecordBatch(report, clock->NowMillis());
    board->SetStateSize(ds.name, report.state_keys, report.state_bytes);
  }
  return report;
}

}  // namespace lakepipe::runtime
