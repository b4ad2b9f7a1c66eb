// Materialized views: recomputed from their inputs' current snapshots and written as one
// overwrite commit, or left alone when nothing they read changed.
#include <algorithm>
#include <functional>
#include <optional>

#include "common/kill_point.h"
#include "delta/change_feed.h"
#include "delta/changes.h"
#include "operators/key_encoder.h"
#include "expr/aggregate_functions.h"
#include "state/incremental_aggregate.h"
#include "operators/expectations.h"
#include "runtime/pipeline_runner_internal.h"
#include "sql/streaming_rules.h"
#include "runtime/state_memory.h"
#include "runtime/status_board.h"

namespace lakepipe::runtime {

namespace {
// The plan nodes that work row by row (the steps an aggregate read by parts runs).
bool IsRowwise(sql::PlanKind k) {
  return k == sql::PlanKind::kFilter || k == sql::PlanKind::kProject || k == sql::PlanKind::kSubqueryAlias ||
         k == sql::PlanKind::kGenerate;
}

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

// ---- reading by parts ----------------------------------------------------------------

Result<int> AggregateThreads(const sql::PipelineSettings& settings) {
  static const std::string kKey = "lakepipe.aggregateThreads";
  auto it = settings.configuration.find(kKey);
  if (it == settings.configuration.end()) return 1;
  const std::string& v = it->second;
  if (v.empty() || v.size() > 2 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(v) < 1 || std::stoi(v) > 16) {
    return Status::InvalidArgument(settings.settings_file + ": configuration " + kKey + " is '" + v +
                                   "'; it must be a whole number of threads from 1 to 16 (the default is 1)");
  }
  return std::stoi(v);
}

Result<bool> ShareViewScans(const sql::PipelineSettings& settings) {
  static const std::string kKey = "lakepipe.shareViewScans";
  auto it = settings.configuration.find(kKey);
  if (it == settings.configuration.end()) return true;
  const std::string v = Lower(it->second);
  if (v == "true") return true;
  if (v == "false") return false;
  return Status::InvalidArgument(settings.settings_file + ": configuration " + kKey + " is '" + it->second +
                                 "'; it must be true or false (the default is true)");
}

std::optional<std::string> PipelineRunner::Impl::PartScanTable(const sql::ResolvedDataset& ds) const {
  if (ds.kind != sql::DatasetKind::kMaterializedView || ds.plan == nullptr || !ds.more_flows.empty()) {
    return std::nullopt;
  }
  // The aggregates over row-wise steps over one stored table (Executor::RunAggregateByParts).
  std::vector<std::string> scans;
  std::function<void(const sql::PlanNode&)> visit = [&](const sql::PlanNode& n) {
    if (n.kind == sql::PlanKind::kAggregate && sql::WindowKeyIndex(n) < 0 && n.inputs.size() == 1) {
      const sql::PlanNode* below = n.inputs[0].get();
      while (IsRowwise(below->kind) && below->inputs.size() == 1) below = below->inputs[0].get();
      if (below->kind == sql::PlanKind::kTableScan && !below->read_change_feed) {
        const sql::ResolvedDataset* up = Find(below->table);
        if (up == nullptr || up->kind != sql::DatasetKind::kView) scans.push_back(Lower(below->table));
      }
    }
    for (const auto& in : n.inputs) visit(*in);
  };
  visit(*ds.plan);
  // One such read per view: a view that waited on two shared reads could wait on another
  // view waiting on them in the other order.
  if (scans.size() != 1) return std::nullopt;
  return scans[0];
}

Result<int64_t> ViewPartRows(const sql::PipelineSettings& settings) {
  // Whole row groups by default: a pipeline table's are 262,144 rows (at most 1,048,576
  // for any table lakepipe writes), and cutting them would copy every value once more.
  if (settings.configuration.count("lakepipe.batchRows") == 0) return 0;
  return BatchRows(settings);
}

Result<std::unique_ptr<BatchStream>> FullScanProvider::StreamTable(
    const sql::PlanNode& node, const std::vector<std::string>& columns,
    const std::vector<parquet::ColumnPredicate>& predicates) {
  if (!by_parts_ || node.read_change_feed) return std::unique_ptr<BatchStream>();
  const sql::ResolvedDataset* ds = runner_.Find(node.table);
  if (ds != nullptr && ds->kind == sql::DatasetKind::kView) return std::unique_ptr<BatchStream>();
  LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, LatestSnapshot(node));
  return SnapshotStream(node.table, snap, node.schema, columns, predicates);
}

Result<std::unique_ptr<BatchStream>> FullScanProvider::SnapshotStream(
    const std::string& table, const delta::SnapshotPtr& snap, const Schema& planned,
    const std::vector<std::string>& columns, const std::vector<parquet::ColumnPredicate>& predicates) {
  delta::ScanOptions options;
  // Columns (and predicates) the snapshot has: an older version may lack a column the
  // plan has (it reads as NULL, WidenToPlan).
  for (const auto& c : columns)
    if (snap->schema().FindField(c) >= 0) options.columns.push_back(c);
  if (options.columns.empty() && snap->schema().size() > 0) options.columns.push_back(snap->schema().field(0).name);
  for (const auto& p : predicates)
    if (snap->schema().FindField(p.column) >= 0) options.predicates.push_back(p);
  if (!share_as_.empty()) {
    // Read once for the views of this `run --once` group that read the same version.
    LP_ASSIGN_OR_RETURN(std::unique_ptr<BatchStream> shared,
                        runner_.shared_part_scans.Open(Lower(table), share_as_, snap, options.columns,
                                                       options.predicates, cut_rows_,
                                                       /*exact_parts=*/exec_.aggregate_threads > 1, &shared_read_views_));
    if (shared != nullptr) {
      std::shared_ptr<BatchStream> parts(std::move(shared));
      return WidenedStream([parts](RecordBatch* out) { return parts->Next(out); }, planned);
    }
  }
  LP_ASSIGN_OR_RETURN(std::shared_ptr<delta::SnapshotReader> reader, delta::SnapshotReader::Open(snap, options));
  // Cut first, then widen: the NULL columns of the columns not read are a part long.
  std::unique_ptr<BatchStream> parts = FunctionStream([reader](RecordBatch* out) { return reader->Next(out); });
  if (cut_rows_ > 0) parts = SliceStream(std::move(parts), cut_rows_);
  std::shared_ptr<BatchStream> cut(std::move(parts));
  auto widened = WidenedStream([cut](RecordBatch* out) { return cut->Next(out); }, planned);
  // Two parts ahead: the next is decoded while the aggregate takes this one.
  return PrefetchStream(std::move(widened), 2);
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
  LP_ASSIGN_OR_RETURN(const int64_t part_rows, ViewPartRows(pipeline.settings));
  provider.ReadByParts(part_rows);
  provider.ShareScansAs(Lower(ds.name));
  LP_ASSIGN_OR_RETURN(exec.aggregate_threads, AggregateThreads(pipeline.settings));
  LP_ASSIGN_OR_RETURN(Batches rows, Execute(*ds.plan, provider, exec));
  report.rows_read = CountRows(rows);
  report.rows_rescued = provider.file_stats().rescued_rows;
  report.shared_read_views = provider.shared_read_views();
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
  NoteCheckpointFailure(commit, &report);
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
  // Another pipeline's table (docs/catalog.md) is stored, read by version like ours.
  bool external = up == nullptr && resolved.FindExternal(below->table) != nullptr;
  if (!external && (up == nullptr || up->kind == sql::DatasetKind::kView)) {
    return "it reads `" + below->table + "`, which is not a stored table";
  }
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

  Result<std::unique_ptr<BatchStream>> StreamTable(const sql::PlanNode& node, const std::vector<std::string>& columns,
                                                   const std::vector<parquet::ColumnPredicate>& predicates) override {
    if (Lower(node.table) != Lower(source_["table"].get<std::string>()))
      return FullScanProvider::StreamTable(node, columns, predicates);
    if (by_parts_ && source_["kind"] == "delta") return SharedAppendsStream(node, columns);
    if (!by_parts_ || source_["kind"] != "snapshot") return std::unique_ptr<BatchStream>();
    LP_ASSIGN_OR_RETURN(auto table, runner_.Table(node.table));
    int64_t version = source_["version"].get<int64_t>();
    LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, table->Latest());
    if (snap->version() != version) {
      LP_ASSIGN_OR_RETURN(snap, table->AtVersion(version));
    }
    return SnapshotStream(node.table, snap, node.schema, columns, predicates);
  }

 private:
  // The rows of the planned versions, in the columns the query reads, one version after
  // the other through runner_.shared_appends (each version decoded once for every view
  // that follows the table); null when the latest schema is not that of every version in
  // the range (then the range is read whole, in the schema of its end).
  Result<std::unique_ptr<BatchStream>> SharedAppendsStream(const sql::PlanNode& node,
                                                           const std::vector<std::string>& columns) {
    const int64_t start = source_["startVersion"].get<int64_t>();
    const int64_t end = source_["endVersion"].get<int64_t>();
    LP_ASSIGN_OR_RETURN(std::shared_ptr<delta::DeltaTable> table, runner_.Table(node.table));
    LP_ASSIGN_OR_RETURN(delta::SnapshotPtr latest, table->Latest());
    if (latest->version() < end || !SharedAppends::UsableFor(*latest, start)) return std::unique_ptr<BatchStream>();
    std::vector<std::string> read;
    for (const auto& c : columns)
      if (latest->schema().FindField(c) >= 0) read.push_back(c);
    // A query that reads no column (count(*)) still needs the row counts.
    if (read.empty() && latest->schema().size() > 0) read.push_back(latest->schema().field(0).name);
    struct Cursor {
      int64_t next;
      Batches pieces;
      size_t at = 0;
    };
    auto cursor = std::make_shared<Cursor>(Cursor{start, {}, 0});
    SharedAppends* shared = &runner_.shared_appends;
    std::unique_ptr<BatchStream> parts =
        FunctionStream([=](RecordBatch* out) -> Result<bool> {
          while (cursor->at >= cursor->pieces.size()) {
            if (cursor->next > end) return false;
            LP_ASSIGN_OR_RETURN(cursor->pieces, shared->Read(*table, latest, cursor->next++, read));
            cursor->at = 0;
          }
          *out = std::move(cursor->pieces[cursor->at++]);
          return true;
        });
    if (cut_rows_ > 0) parts = SliceStream(std::move(parts), cut_rows_);
    std::shared_ptr<BatchStream> cut(std::move(parts));
    auto widened = WidenedStream([cut](RecordBatch* out) { return cut->Next(out); }, node.schema);
    return PrefetchStream(std::move(widened), 2);
  }

  const Json& source_;
};

// The rows of one table scan of a view's query given in advance (the rows an update
// retracts, or adds); other tables are read whole.
class GivenRowsScanProvider : public FullScanProvider {
 public:
  GivenRowsScanProvider(const PipelineRunner::Impl& runner, const ExecOptions& exec, std::string table,
                        const Batches& rows)
      : FullScanProvider(runner, exec), table_(Lower(table)), rows_(rows) {}

  Result<Batches> ReadTable(const sql::PlanNode& node) override {
    if (Lower(node.table) != table_) return FullScanProvider::ReadTable(node);
    return rows_;
  }

 private:
  std::string table_;
  const Batches& rows_;
};

// The view's aggregate as its state keeps it: the query's aggregates plus hidden counts
// that retraction needs — count(*) (a group whose rows are all taken back leaves the view)
// and count(x) beside each sum(x) (a sum whose values are all taken back is NULL again).
struct CountedAggregate {
  sql::PlanNode node;       // the view's aggregate node with the hidden counts appended
  size_t visible = 0;       // output columns of the view's own aggregate
  size_t key_columns = 0;   // output (and state) columns before the aggregates
  size_t rows_column = 0;   // output column of count(*)
  std::vector<std::pair<size_t, size_t>> sum_counts;  // (sum's output column, its count(x) column)
  bool keyed = false;       // GROUP BY (an empty group leaves); else one row always
  // Why retracted rows cannot be taken out of the state, or empty when they can.
  std::string not_retractable;
};

// The state column of the hidden count(*): a group at 0 has no rows left and leaves the
// state (IncrementalAggregate::SetRowCountColumn).
constexpr const char* kRowCountState = "__lp_rows$count";

Result<CountedAggregate> CountAggregate(const sql::PlanNode& agg, const ExecOptions& exec) {
  CountedAggregate c;
  c.node = agg;
  c.visible = agg.schema.size();
  c.key_columns = agg.schema.size() - agg.aggregates.size();
  c.keyed = !agg.group_keys.empty() || !agg.grouping_ids.empty();
  LP_ASSIGN_OR_RETURN(std::vector<expr::BoundExpr> bound, BindAggregateCalls(agg, exec));
  c.node.aggregates.push_back({expr::Expr::Call("count", {}), "__lp_rows"});
  c.rows_column = c.visible;
  for (size_t i = 0; i < bound.size(); ++i) {
    const expr::BoundExpr& b = bound[i];
    const std::string text = "`" + agg.aggregates[i].expr->ToString() + "`";
    const bool exact = !b.args.empty() && (b.args[0].type.is_integer() || b.args[0].type.id() == TypeId::kDecimal);
    std::string why;
    if (b.distinct) {
      why = text + " cannot take a value back: whether another row of its group has the value too is not in its state";
    } else if (b.function == "min" || b.function == "max") {
      why = text + " cannot take a value back: the group's next " + (b.function == "min" ? "smallest" : "largest") +
            " value is not in its state";
    } else if (b.function == "sum" || b.function == "avg") {
      if (!exact) why = text + " adds floating-point numbers: taking values back would not give the recomputed "
                               "result bit for bit";
    } else if (b.function != "count" && b.function != "count_if") {
      why = text + " cannot take rows back (only count, count_if, and sum and avg of integers and decimals can)";
    }
    if (c.not_retractable.empty()) c.not_retractable = why;
    if (b.function == "sum") {
      // count(x) with the same argument and FILTER: the values the sum holds.
      auto count = std::make_shared<expr::Expr>(*agg.aggregates[i].expr);
      count->function = "count";
      count->distinct = false;
      c.node.aggregates.push_back({count, "__lp_count_" + std::to_string(i)});
      c.sum_counts.push_back({c.key_columns + i, c.visible + c.node.aggregates.size() - agg.aggregates.size() - 1});
    }
  }
  return c;
}

// The state's output without the hidden counts: groups left without rows dropped, sums
// left without values NULL.
Batches VisibleOutput(const CountedAggregate& c, const Batches& out) {
  Batches visible;
  for (const RecordBatch& b : out) {
    const int64_t n = b.num_rows();
    const int64_t* rows = b.column(c.rows_column).data<int64_t>();
    std::vector<int32_t> keep;
    for (int64_t r = 0; r < n; ++r)
      if (!c.keyed || rows[r] > 0) keep.push_back(static_cast<int32_t>(r));
    Schema schema;
    std::vector<ColumnPtr> cols;
    for (size_t i = 0; i < c.visible; ++i) {
      schema.AddField(b.schema().field(i));
      ColumnPtr col = b.column_ptr(i);
      for (const auto& [sum, count] : c.sum_counts) {
        if (sum != i) continue;
        const int64_t* values = b.column(count).data<int64_t>();
        std::optional<Column> fixed;
        for (int64_t r = 0; r < n; ++r) {
          if (values[r] != 0 || col->IsNull(r)) continue;
          if (!fixed) fixed = *col;
          fixed->SetNull(r);
        }
        if (fixed) col = MakeColumn(std::move(*fixed));
      }
      if (static_cast<int64_t>(keep.size()) != n) col = MakeColumn(col->Take(keep));
      cols.push_back(std::move(col));
    }
    visible.emplace_back(std::move(schema), std::move(cols), static_cast<int64_t>(keep.size()));
  }
  return visible;
}

// What versions start..end of a table did to its rows, netted: a row deleted and inserted
// again unchanged (a row a rewrite copied, an update that changed no read column) is in
// neither list.
struct NetChanges {
  Batches inserted;  // insert, update_postimage
  Batches deleted;   // delete, update_preimage
};

Result<NetChanges> ReadNetChanges(const delta::DeltaTable& table, int64_t start, int64_t end, const Schema& columns) {
  delta::ChangeFeedOptions options;
  options.columns = columns.names();
  options.columns.push_back(delta::kChangeTypeColumn);
  // A table without the feed: its rewritten files' rows (netted below) are the changes.
  options.derive_from_files = true;
  LP_ASSIGN_OR_RETURN(Batches feed, delta::ReadChanges(table, start, end, options));
  // Each row's bytes, counted per side; equal rows on both sides cancel.
  std::vector<std::string> key;
  std::unordered_map<std::string, int64_t> deletes;
  std::vector<std::vector<uint8_t>> is_delete(feed.size());
  std::vector<std::vector<std::string>> keys(feed.size());
  for (size_t f = 0; f < feed.size(); ++f) {
    const RecordBatch& b = feed[f];
    const Column* type = b.ColumnByName(delta::kChangeTypeColumn);
    if (type == nullptr) return Status::Internal("change data feed without _change_type");
    std::vector<const Column*> cols;
    for (size_t c = 0; c < columns.size(); ++c) cols.push_back(&b.column(c));
    for (int64_t r = 0; r < b.num_rows(); ++r) {
      std::string_view t = type->GetString(r);
      bool del = t == delta::kChangeDelete || t == delta::kChangeUpdatePreimage;
      is_delete[f].push_back(del);
      std::string k;
      operators::KeyEncoder::Encode(cols, r, &k);
      if (del) ++deletes[k];
      keys[f].push_back(std::move(k));
    }
  }
  // Inserts that cancel a delete are dropped; so are the deletes they cancel.
  std::unordered_map<std::string, int64_t> cancelled;
  std::vector<std::vector<uint8_t>> keep(feed.size());
  for (size_t f = 0; f < feed.size(); ++f) {
    keep[f].assign(is_delete[f].size(), 1);
    for (size_t r = 0; r < is_delete[f].size(); ++r) {
      if (is_delete[f][r]) continue;
      auto it = deletes.find(keys[f][r]);
      if (it == deletes.end() || it->second == 0) continue;
      --it->second;
      ++cancelled[keys[f][r]];
      keep[f][r] = 0;
    }
  }
  for (size_t f = 0; f < feed.size(); ++f) {
    for (size_t r = 0; r < is_delete[f].size(); ++r) {
      if (!is_delete[f][r]) continue;
      auto it = cancelled.find(keys[f][r]);
      if (it == cancelled.end() || it->second == 0) continue;
      --it->second;
      keep[f][r] = 0;
    }
  }
  NetChanges out;
  for (size_t f = 0; f < feed.size(); ++f) {
    const RecordBatch& b = feed[f];
    for (bool del : {false, true}) {
      std::vector<int32_t> rows;
      for (size_t r = 0; r < keep[f].size(); ++r)
        if (keep[f][r] && (is_delete[f][r] != 0) == del) rows.push_back(static_cast<int32_t>(r));
      if (rows.empty()) continue;
      std::vector<ColumnPtr> cols;
      for (size_t c = 0; c < columns.size(); ++c) cols.push_back(MakeColumn(b.column(c).Take(rows)));
      Schema schema;
      for (size_t c = 0; c < columns.size(); ++c) schema.AddField(b.schema().field(c));
      (del ? out.deleted : out.inserted).emplace_back(std::move(schema), std::move(cols), static_cast<int64_t>(rows.size()));
    }
  }
  return out;
}

// Whether a commit of versions from+1..to overwrote `table` (a full refresh, an upstream
// materialized view): the view then starts again from a snapshot rather than taking every
// row back. Row-level commits (AUTO CDC, DELETE) rewrite files too, but keep their rows.
Result<bool> TableOverwritten(const delta::DeltaTable& table, int64_t from, int64_t to) {
  LP_ASSIGN_OR_RETURN(std::vector<delta::HistoryEntry> history, table.History(static_cast<int>(to - from)));
  for (const auto& h : history) {
    if (h.version <= from) continue;
    if (h.operation.rfind("CREATE OR REPLACE", 0) == 0 || h.operation.rfind("REPLACE TABLE", 0) == 0) return true;
    Json info = Json::parse(h.commit_info, nullptr, false);
    if (info.is_object() && info.contains("operationParameters") && info["operationParameters"].is_object() &&
        info["operationParameters"].value("mode", "") == "Overwrite")
      return true;
  }
  return false;
}

// The table column that group key `key` of `agg` is, unchanged, through the row-wise
// steps between the aggregate and `scan` — or "" when it is computed (or renamed from a
// computed value, or comes out of a generator): its values are then not the column's, and
// the column's file statistics cannot say where a group's rows are.
std::string ScanColumnOfKey(const sql::PlanNode& agg, size_t key, const sql::PlanNode& scan) {
  const expr::Expr* e = agg.group_keys[key].expr.get();
  if (e == nullptr || e->kind != expr::ExprKind::kColumn) return "";
  std::string name = e->name;
  const sql::PlanNode* n = agg.inputs[0].get();
  while (n != &scan) {
    switch (n->kind) {
      case sql::PlanKind::kFilter:
      case sql::PlanKind::kSubqueryAlias:
        break;
      case sql::PlanKind::kProject: {
        // Exactly one item may produce the name: a column reference, or a star passing
        // the input column through.
        const expr::Expr* source = nullptr;
        int producers = 0;
        for (const auto& item : n->items) {
          if (item.is_star) {
            bool excepted = false;
            for (const auto& x : item.star_except) excepted = excepted || Lower(x) == Lower(name);
            if (!excepted && n->inputs[0]->schema.FindField(name) >= 0) ++producers;
          } else if (Lower(item.name) == Lower(name)) {
            ++producers;
            source = item.expr.get();
            if (source == nullptr || source->kind != expr::ExprKind::kColumn) return "";
          }
        }
        if (producers != 1) return "";
        if (source != nullptr) name = source->name;
        break;
      }
      default:
        return "";  // a generator (its columns are not the table's) or anything else
    }
    if (n->inputs.size() != 1) return "";
    n = n->inputs[0].get();
  }
  int i = scan.schema.FindField(name);
  if (i < 0) return "";
  // The key's values are the column's only when they are of its type.
  const Field& f = scan.schema.field(static_cast<size_t>(i));
  if (agg.schema.field(key).type != f.type) return "";
  switch (f.type.id()) {
    case TypeId::kByte: case TypeId::kShort: case TypeId::kInt: case TypeId::kLong:
    case TypeId::kString: case TypeId::kDate: case TypeId::kTimestamp: case TypeId::kTimestampNtz:
      return f.name;
    default:
      return "";  // floats (NaN, -0.0 grouping) and the rest: no skipping
  }
}

// The values of a group key column of the recomputed groups: sorted distinct non-NULL
// values, and whether NULL is one.
struct KeyValues {
  std::string column;  // the table column; "" when files cannot be skipped
  std::vector<Value> values;
  bool with_null = false;
};

// Whether `file` may hold a row whose column is one of `keys`, by its partition value or
// add.stats; true when they do not say.
bool FileMayHoldKeys(const delta::Snapshot& snap, const delta::DataFile& file, const KeyValues& keys) {
  const int idx = snap.schema().FindField(keys.column);
  if (idx < 0) return true;
  const std::string& name = snap.schema().field(static_cast<size_t>(idx)).name;
  auto in_values = [&](const Value& lo, const Value& hi) {
    auto it = std::lower_bound(keys.values.begin(), keys.values.end(), lo,
                               [](const Value& a, const Value& b) { return a.Compare(b) < 0; });
    return it != keys.values.end() && it->Compare(hi) <= 0;
  };
  auto part = file.partition_values.find(name);
  if (part != file.partition_values.end()) {
    if (part->second.is_null()) return keys.with_null;
    return in_values(part->second, part->second);
  }
  auto stats = snap.Stats(file);
  if (!stats.ok() || !stats->num_records) return true;
  const int64_t n = *stats->num_records;
  auto nc = stats->null_count.find(name);
  if (keys.with_null && (nc == stats->null_count.end() || nc->second > 0)) return true;
  if (nc != stats->null_count.end() && nc->second == n) return false;  // only NULLs, not wanted
  if (keys.values.empty()) return false;
  auto lo = stats->min_values.find(name);
  auto hi = stats->max_values.find(name);
  if (lo == stats->min_values.end() || hi == stats->max_values.end() || lo->second.is_null() || hi->second.is_null())
    return true;
  return in_values(lo->second, hi->second);
}

// The rows of the recomputed groups' files: table `table` as of `version`, without the
// files (and, by range, row groups) that statistics show hold none of the groups. Rows
// of other groups in the files read are still returned (the caller keeps the groups').
class GroupFilesScanProvider : public FullScanProvider {
 public:
  GroupFilesScanProvider(const PipelineRunner::Impl& runner, const ExecOptions& exec, std::string table,
                         int64_t version, const KeyValues& keys)
      : FullScanProvider(runner, exec), table_(Lower(table)), version_(version), keys_(keys) {}

  Result<Batches> ReadTable(const sql::PlanNode& node) override {
    if (Lower(node.table) != table_) return FullScanProvider::ReadTable(node);
    LP_ASSIGN_OR_RETURN(auto table, runner_.Table(node.table));
    LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, table->AtVersion(version_));
    delta::ScanOptions options;
    options.columns = node.schema.names();
    using Op = parquet::ColumnPredicate::Op;
    if (!keys_.column.empty() && !keys_.with_null && !keys_.values.empty()) {
      options.predicates.push_back({keys_.column, Op::kGe, keys_.values.front()});
      options.predicates.push_back({keys_.column, Op::kLe, keys_.values.back()});
    }
    LP_ASSIGN_OR_RETURN(delta::Scan scan, delta::Scan::Plan(snap, options));
    files_total_ += static_cast<int64_t>(snap->num_files());
    Batches out;
    for (size_t i = 0; i < scan.files().size(); ++i) {
      if (!keys_.column.empty() && !FileMayHoldKeys(*snap, scan.files()[i], keys_)) continue;
      ++files_read_;
      LP_ASSIGN_OR_RETURN(std::vector<RecordBatch> pieces, scan.ReadFilePieces(i));
      for (auto& b : pieces)
        if (b.num_rows() > 0) out.push_back(std::move(b));
    }
    return out;
  }

  int64_t files_read() const { return files_read_; }
  int64_t files_total() const { return files_total_; }

 private:
  std::string table_;
  int64_t version_;
  const KeyValues& keys_;
  int64_t files_read_ = 0;
  int64_t files_total_ = 0;
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
  // The upstream as declared, or another pipeline's `pipeline.table` (docs/catalog.md).
  const sql::ResolvedDataset* upstream_ds = Find(shape.scan->table);
  const std::string upstream = upstream_ds != nullptr ? upstream_ds->name : Lower(shape.scan->table);
  ExecOptions exec;
  exec.current_timestamp_micros = clock->NowMicros();
  LP_ASSIGN_OR_RETURN(CountedAggregate counted, CountAggregate(*shape.aggregate, exec));
  LP_ASSIGN_OR_RETURN(AggregateFactory make, AggregateFactoryFor(counted.node, exec));
  const std::string dir = JoinPath(flow->cp.dir(), "state/aggregate-0");
  // count(DISTINCT)'s pending pairs share the pipeline's seen-key budget (docs/checkpoint.md,
  // "Distinct pairs").
  LP_ASSIGN_OR_RETURN(auto distinct_memory, SeenKeysBudget(pipeline.settings));
  auto open_state = [&]() -> Result<std::unique_ptr<state::IncrementalAggregate>> {
    return state::IncrementalAggregate::Open(dir, make, state::AggregateStateStore::Options(), distinct_memory);
  };
  if (flow->aggregate == nullptr) {
    LP_RETURN_IF_ERROR(fs->CreateDirs(dir));
    LP_ASSIGN_OR_RETURN(flow->aggregate, open_state());
    if (!flow->aggregate->discarded_state().empty()) {
      report.warnings.push_back({"state_rebuilt", "state of view `" + ds.name + "` (" + dir + ") was set aside: " +
                                                      flow->aggregate->discarded_state() +
                                                      "; recomputing it from a snapshot of `" + upstream + "`"});
    }
    if (counted.keyed) LP_RETURN_IF_ERROR(flow->aggregate->SetRowCountColumn(kRowCountState));
    // The state and the view are cross-checked once per process (issue 19). A state that
    // is gone is rebuilt from a snapshot below (a complete recompute, so nothing is lost
    // or doubled); a view behind its state (its newest commits deleted, or the view
    // gone) is republished the same way, since the state alone would say "up to date".
    std::optional<int64_t> covered = flow->aggregate->committed_batch();
    LP_ASSIGN_OR_RETURN(auto view, FlowCheckpoint::ReadTableProgress(fs, TablePath(ds.name), flow->cp.flow_id()));
    if (covered && (!view.flow_txn || *view.flow_txn < *covered)) {
      report.warnings.push_back({"state_rebuilt", "view `" + ds.name + "` is behind its state (" + dir +
                                                      " covers upstream version " + std::to_string(*covered) +
                                                      "): recomputing it from a snapshot of `" + upstream + "`"});
      flow->aggregate.reset();
      LP_RETURN_IF_ERROR(fs->RemoveAll(dir));
      LP_RETURN_IF_ERROR(fs->CreateDirs(dir));
      LP_ASSIGN_OR_RETURN(flow->aggregate, open_state());
      if (counted.keyed) LP_RETURN_IF_ERROR(flow->aggregate->SetRowCountColumn(kRowCountState));
    } else if (!covered && view.flow_txn && !full_refresh && flow->aggregate->discarded_state().empty()) {
      report.warnings.push_back({"state_rebuilt", "state of view `" + ds.name + "` is missing (" + dir +
                                                      "): recomputing it from a snapshot of `" + upstream + "`"});
    }
  }

  // The state says which upstream version it covers (its batch id is that version), so
  // the next batch is the versions after it: no plan file is needed. A crash after the
  // view's commit but before the state's leaves the state behind the table; the next
  // batch then covers more versions and publishes the same aggregate again.
  LP_ASSIGN_OR_RETURN(auto table, Table(upstream));
  LP_ASSIGN_OR_RETURN(int64_t latest, table->LatestVersion());
  std::optional<int64_t> covered = flow->aggregate->committed_batch();
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
  std::string technique = source["kind"] == "snapshot" ? "incremental (initial)" : "incremental";

  // Versions that delete or rewrite rows (an AUTO CDC target, `lakepipe table delete`):
  // their net row changes, from the change data feed or the rewritten files. Retracted
  // rows are taken out of the state when every aggregate can take them back exactly;
  // otherwise (or when the changes cannot be read) the view starts again from a snapshot.
  std::optional<NetChanges> changes;
  std::string why;  // why the view starts again from a snapshot of an updated table
  bool replaced = false;
  const std::string range = "`" + upstream + "` versions " + std::to_string(covered ? *covered + 1 : 0) + ".." +
                            std::to_string(latest);
  // A range that only appends rows (the usual case) is read by parts, in the columns the
  // query reads, through shared_appends: each version is decoded once for every view that
  // follows the table (IncrementalViewScanProvider::SharedAppendsStream).
  bool only_appends = false;
  std::call_once(followed_by_views, [this] {
    for (const auto& other : resolved.datasets) {
      if (other.kind != sql::DatasetKind::kMaterializedView || other.plan == nullptr) continue;
      IncrementalShape other_shape;
      if (!WhyNotIncremental(other, &other_shape).empty()) continue;
      const sql::ResolvedDataset* up = Find(other_shape.scan->table);
      if (up != nullptr) shared_appends.Follow(TablePath(up->name), Lower(other.name));
    }
  });
  if (source["kind"] == "delta") {
    LP_ASSIGN_OR_RETURN(delta::SnapshotPtr now, table->Latest());
    if (now->version() >= latest && SharedAppends::UsableFor(*now, *covered + 1)) {
      LP_ASSIGN_OR_RETURN(only_appends, shared_appends.OnlyAppends(*table, now, *covered + 1, latest));
    }
  }
  if (source["kind"] == "delta" && !only_appends) {
    delta::ChangeReadOptions appends;
    appends.columns = shape.scan->schema.names();
    auto appended = delta::ReadAppends(*table, *covered + 1, latest, appends);
    if (appended.ok()) {
      changes = NetChanges{std::move(appended).value(), {}};
    } else if (appended.status().code() != StatusCode::kNotSupported ||
               appended.status().message().find("skipChangeCommits") == std::string::npos) {
      return appended.status();
    } else {
      LP_ASSIGN_OR_RETURN(replaced, TableOverwritten(*table, *covered, latest));
      if (!replaced) {
        auto read = ReadNetChanges(*table, *covered + 1, latest, shape.scan->schema);
        if (read.ok()) {
          changes = std::move(read).value();
        } else {
          why = "the row changes of " + range + " cannot be read (" + read.status().message() + ")";
        }
      }
    }
  }

  int64_t input_rows = 0;
  // The query runs up to three times; its aggregate's input rows go, by `pass`:
  //  - kRetracting: the retracted upstream rows through the row-wise steps, gathered in
  //    `retracted` (the query's output is unused);
  //  - kRecomputing: the rows of the groups that lost a value, read from the table's new
  //    snapshot, gathered in `recomputed` (output unused);
  //  - kApplying: the new rows, applied to the state, whose output is the view.
  enum class Pass { kRetracting, kRecomputing, kApplying };
  Pass pass = Pass::kApplying;
  Batches retracted;
  Batches lost_rows;  // the retracted rows of recomputed groups (their distinct pairs leave)
  Batches recomputed;
  std::optional<RecordBatch> groups;  // the groups recomputed, when they are
  exec.incremental_aggregate = [&](const sql::PlanNode&, const AggregateFactory&, const Batches& rows) -> Result<Batches> {
    switch (pass) {
      case Pass::kRetracting:
        retracted.insert(retracted.end(), rows.begin(), rows.end());
        return Batches{};
      case Pass::kRecomputing: {
        // Only the groups' rows are kept (the files read hold others too).
        LP_ASSIGN_OR_RETURN(Batches kept, flow->aggregate->RowsOfGroups(rows, *groups, true));
        recomputed.insert(recomputed.end(), kept.begin(), kept.end());
        return Batches{};
      }
      case Pass::kApplying:
        break;
    }
    input_rows += CountRows(rows);
    if (groups) {
      LP_ASSIGN_OR_RETURN(Batches out,
                          flow->aggregate->ApplyRecomputingGroups(batch_id, rows, *groups, recomputed, lost_rows));
      return VisibleOutput(counted, out);
    }
    LP_ASSIGN_OR_RETURN(Batches out, flow->aggregate->Apply(batch_id, rows, retracted, counted.key_columns));
    return VisibleOutput(counted, out);
  };
  // The view's new rows read by parts (the snapshot of the first batch): Execute builds
  // their aggregate as they stream, and it is merged into the state whole.
  // Its rows count distinct values against the state's pair store (RowsFactory).
  exec.incremental_aggregate_factory = [&]() { return flow->aggregate->RowsFactory()(); };
  exec.incremental_aggregate_merge = [&](const sql::PlanNode&, const AggregateFactory&,
                                         std::unique_ptr<operators::HashAggregate> these,
                                         int64_t rows) -> Result<Batches> {
    if (pass != Pass::kApplying || groups || !retracted.empty()) {
      return Status::Internal("a view's rows read by parts outside the pass that applies them");
    }
    input_rows += rows;
    LP_ASSIGN_OR_RETURN(Batches out, flow->aggregate->ApplyAggregated(batch_id, std::move(these)));
    return VisibleOutput(counted, out);
  };
  if (changes && !changes->deleted.empty()) {
    pass = Pass::kRetracting;
    GivenRowsScanProvider gone(*this, exec, upstream, changes->deleted);
    LP_RETURN_IF_ERROR(Execute(*ds.plan, gone, exec).status());
    pass = Pass::kApplying;
    // Rows the query's WHERE never let in need no taking back.
    if (CountRows(retracted) > 0 && !counted.not_retractable.empty()) {
      const std::string lost = counted.not_retractable + "; " + range + " deleted or updated " +
                               std::to_string(CountRows(retracted)) + " of its rows";
      // Recompute only the groups that lost a value, from the table's new snapshot —
      // unless that is the whole view anyway (see below).
      std::string whole;  // why the whole view is recomputed instead
      if (counted.keyed && shape.aggregate->grouping_ids.empty()) {
        LP_ASSIGN_OR_RETURN(RecordBatch lost_groups, flow->aggregate->GroupsOf(retracted));
        const int64_t n = lost_groups.num_rows();
        const int64_t total = flow->aggregate->aggregate().num_groups();
        // The rule: more than half of the view's groups are recomputed whole. Recomputing
        // them reads (nearly) every file anyway, and replacing most of the state costs
        // more than rebuilding it.
        if (2 * n > total) {
          whole = std::to_string(n) + " of its " + std::to_string(total) +
                  " groups lost a value (more than half: the whole view is recomputed)";
        } else {
          groups = std::move(lost_groups);
        }
      } else if (counted.keyed) {
        whole = "with GROUPING SETS every row also counts in rolled-up groups";
      }
      if (groups) {
        // The group key that is a table column, unchanged, lets statistics skip files.
        KeyValues keys;
        for (size_t k = 0; k < shape.aggregate->group_keys.size() && keys.column.empty(); ++k) {
          keys.column = ScanColumnOfKey(*shape.aggregate, k, *shape.scan);
          if (keys.column.empty()) continue;
          for (int64_t r = 0; r < groups->num_rows(); ++r) {
            if (groups->column(k).IsNull(r)) keys.with_null = true;
            else keys.values.push_back(groups->column(k).GetValue(r));
          }
          std::sort(keys.values.begin(), keys.values.end(), [](const Value& a, const Value& b) { return a.Compare(b) < 0; });
          keys.values.erase(std::unique(keys.values.begin(), keys.values.end(),
                                        [](const Value& a, const Value& b) { return a.Compare(b) == 0; }),
                            keys.values.end());
        }
        pass = Pass::kRecomputing;
        GroupFilesScanProvider group_files(*this, exec, upstream, latest, keys);
        LP_RETURN_IF_ERROR(Execute(*ds.plan, group_files, exec).status());
        pass = Pass::kApplying;
        const int64_t n = groups->num_rows();
        technique = "incremental (" + std::to_string(n) + (n == 1 ? " group" : " groups") + " recomputed)";
        report.message = "recomputed " + std::to_string(n) + " of " +
                         std::to_string(flow->aggregate->aggregate().num_groups()) + " groups from `" + upstream +
                         "` version " + std::to_string(latest) + " (" + std::to_string(group_files.files_read()) +
                         " of " + std::to_string(group_files.files_total()) + " files read): " + lost;
        input_rows += CountRows(recomputed);
        lost_rows = std::move(retracted);
        retracted.clear();
      } else {
        why = lost + (whole.empty() ? "" : "; " + whole);
        changes.reset();
        retracted.clear();
      }
    } else if (CountRows(retracted) > 0) {
      technique = "incremental (retracting)";
      input_rows += CountRows(retracted);
    }
  }
  if (source["kind"] == "delta" && !changes && !only_appends) {
    flow->aggregate.reset();
    LP_RETURN_IF_ERROR(fs->RemoveAll(dir));
    LP_RETURN_IF_ERROR(fs->CreateDirs(dir));
    LP_ASSIGN_OR_RETURN(flow->aggregate, open_state());
    if (counted.keyed) LP_RETURN_IF_ERROR(flow->aggregate->SetRowCountColumn(kRowCountState));
    source = {{"kind", "snapshot"}, {"table", upstream}, {"version", latest}};
    technique = replaced ? "incremental (initial)" : "complete recompute: " + why;
  }
  state::IncrementalAggregate& aggregate = *flow->aggregate;
  auto abandon = [&](Status st) {
    (void)aggregate.Abandon();
    return st;
  };
  IncrementalViewScanProvider snapshot_or_appends(*this, exec, source);
  {
    auto part_rows = ViewPartRows(pipeline.settings);
    if (!part_rows.ok()) return abandon(part_rows.status());
    snapshot_or_appends.ReadByParts(*part_rows);
    auto threads = AggregateThreads(pipeline.settings);
    if (!threads.ok()) return abandon(threads.status());
    exec.aggregate_threads = *threads;
  }
  snapshot_or_appends.ShareScansAs(Lower(ds.name));
  // Only a snapshot is read by parts through a shared read: the other views of the group
  // need not wait for this one.
  if (changes || source["kind"] != "snapshot") shared_part_scans.Withdraw(Lower(ds.name));
  GivenRowsScanProvider given(*this, exec, upstream, changes ? changes->inserted : retracted);
  FullScanProvider& provider = changes ? static_cast<FullScanProvider&>(given) : snapshot_or_appends;
  auto executed = Execute(*ds.plan, provider, exec);
  if (!executed.ok()) return abandon(executed.status());
  Batches rows = std::move(executed).value();
  report.rows_read = input_rows;
  report.shared_read_views = snapshot_or_appends.shared_read_views();
  auto quarantined = ApplyExpectations(ds, &rows, &report);
  if (!quarantined.ok()) return abandon(quarantined.status());
  LP_KILL_POINT("mv.after_process");

  delta::WriteOptions options;
  options.mode = delta::WriteMode::kOverwrite;
  options.operation = "CREATE OR REFRESH MATERIALIZED VIEW";
  options.operation_parameters["inputs"] = Json({{Lower(upstream), latest}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  options.operation_parameters["technique"] = technique;
  if (full_refresh) options.operation_parameters["fullRefresh"] = "true";
  options.txn_app_id = flow->cp.flow_id();
  options.txn_version = batch_id;
  if (HasQuarantine(Definition(ds))) {
    auto written = WriteTable(ds.name + "_quarantine", operators::QuarantineSchema(ds.schema), ds, *quarantined, options);
    if (!written.ok()) return abandon(written.status());
  }
  auto commit = WriteTable(ds.name, ds.schema, ds, rows, options);
  if (!commit.ok()) return abandon(commit.status());
  NoteCheckpointFailure(*commit, &report);
  LP_KILL_POINT("mv.after_commit");
  LP_RETURN_IF_ERROR(aggregate.Commit(batch_id));
  LP_KILL_POINT("mv.after_state_commit");
  shared_appends.Taken(TablePath(upstream), Lower(ds.name), latest);
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
