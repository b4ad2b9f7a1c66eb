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
  FullScanProvider provider(Scans(), exec);
  LP_ASSIGN_OR_RETURN(const int64_t part_rows, ViewPartRows(pipeline.settings));
  provider.ReadByParts(part_rows);
  provider.ShareScansAs(Lower(ds.name));
  LP_ASSIGN_OR_RETURN(exec.aggregate_threads, AggregateThreads(pipeline.settings));
  LP_ASSIGN_OR_RETURN(Batches rows, Execute(*ds.plan, provider, exec));
  report.rows_read = CountRows(rows);
  report.rows_rescued = provider.file_stats().rescued_rows;
  report.shared_read_views = provider.shared_read_views();
  NoteFileWarnings(provider.file_stats(), &report);
  LP_ASSIGN_OR_RETURN(DatasetExpectations checks, DatasetExpectations::Bind(ds, Definition(ds)));
  LP_ASSIGN_OR_RETURN(Batches quarantined, checks.Apply(&rows, &report));

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
  RecordArrivals(ds.name, commit.version, arrivals.NewFor(ds.name, provider.versions_read()), board);
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

// What one update of an incremental view reads of the table it aggregates: the whole
// table at a version (the first batch, or a start again from a snapshot), or the rows the
// versions start..end appended.
struct ViewInput {
  enum class Kind { kSnapshot, kAppends };
  Kind kind = Kind::kSnapshot;
  std::string table;          // the upstream's name as resolved
  int64_t version = -1;       // kSnapshot
  int64_t start_version = -1;  // kAppends
  int64_t end_version = -1;

  static ViewInput Snapshot(std::string table, int64_t version) {
    return {Kind::kSnapshot, std::move(table), version, -1, -1};
  }
  static ViewInput Appends(std::string table, int64_t start, int64_t end) {
    return {Kind::kAppends, std::move(table), -1, start, end};
  }
};

// Reads the planned input of an incremental view's batch (ViewInput).
class IncrementalViewScanProvider : public FullScanProvider {
 public:
  IncrementalViewScanProvider(ScanContext context, const ExecOptions& exec, const ViewInput& input)
      : FullScanProvider(std::move(context), exec), input_(input) {}

  Result<Batches> ReadTable(const sql::PlanNode& node) override {
    if (Lower(node.table) != Lower(input_.table)) return FullScanProvider::ReadTable(node);
    LP_ASSIGN_OR_RETURN(auto table, context_.open_table(node.table));
    if (input_.kind == ViewInput::Kind::kSnapshot) {
      LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, SnapshotAt(*table));
      return ReadSnapshot(snap, node.schema);
    }
    delta::ChangeReadOptions options;
    options.columns = node.schema.names();
    return delta::ReadAppends(*table, input_.start_version, input_.end_version, options);
  }

  Result<std::unique_ptr<BatchStream>> StreamTable(const sql::PlanNode& node, const std::vector<std::string>& columns,
                                                   const std::vector<parquet::ColumnPredicate>& predicates) override {
    if (Lower(node.table) != Lower(input_.table)) return FullScanProvider::StreamTable(node, columns, predicates);
    if (by_parts_ && input_.kind == ViewInput::Kind::kAppends) return SharedAppendsStream(node, columns);
    if (!by_parts_ || input_.kind != ViewInput::Kind::kSnapshot) return std::unique_ptr<BatchStream>();
    LP_ASSIGN_OR_RETURN(auto table, context_.open_table(node.table));
    LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, SnapshotAt(*table));
    return SnapshotStream(node.table, snap, node.schema, columns, predicates);
  }

 private:
  Result<delta::SnapshotPtr> SnapshotAt(delta::DeltaTable& table) {
    LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, table.Latest());
    if (snap->version() == input_.version) return snap;
    return table.AtVersion(input_.version);
  }

  // The rows of the planned versions, in the columns the query reads, one version after
  // the other through ScanContext::shared_appends (each version decoded once for every view
  // that follows the table); null when the latest schema is not that of every version in
  // the range (then the range is read whole, in the schema of its end).
  Result<std::unique_ptr<BatchStream>> SharedAppendsStream(const sql::PlanNode& node,
                                                           const std::vector<std::string>& columns) {
    const int64_t start = input_.start_version;
    const int64_t end = input_.end_version;
    LP_ASSIGN_OR_RETURN(std::shared_ptr<delta::DeltaTable> table, context_.open_table(node.table));
    LP_ASSIGN_OR_RETURN(delta::SnapshotPtr latest, table->Latest());
    if (latest->version() < end || !SharedAppends::UsableFor(*latest, start)) return std::unique_ptr<BatchStream>();
    std::vector<std::string> read;
    for (const auto& c : columns)
      if (latest->schema().FindField(c) >= 0) read.push_back(c);
    // A query that reads no column (count(*)) still needs the row counts.
    if (read.empty() && latest->schema().size() > 0) read.push_back(latest->schema().field(0).name);
    struct Cursor {
      int64_t next;
      std::unique_ptr<BatchStream> version;  // the one being read, piece by piece
    };
    auto cursor = std::make_shared<Cursor>(Cursor{start, nullptr});
    SharedAppends* shared = context_.shared_appends;
    std::unique_ptr<BatchStream> parts =
        FunctionStream([=](RecordBatch* out) -> Result<bool> {
          while (true) {
            if (cursor->version != nullptr) {
              LP_ASSIGN_OR_RETURN(bool more, cursor->version->Next(out));
              if (more) return true;
              cursor->version.reset();
            }
            if (cursor->next > end) return false;
            LP_ASSIGN_OR_RETURN(cursor->version, shared->Read(*table, latest, cursor->next++, read));
          }
        });
    if (cut_rows_ > 0) parts = SliceStream(std::move(parts), cut_rows_);
    std::shared_ptr<BatchStream> cut(std::move(parts));
    auto widened = WidenedStream([cut](RecordBatch* out) { return cut->Next(out); }, node.schema);
    return PrefetchStream(std::move(widened), 2);
  }

  const ViewInput& input_;
};

// The rows of one table scan of a view's query given in advance (the rows an update
// retracts, or adds); other tables are read whole.
class GivenRowsScanProvider : public FullScanProvider {
 public:
  GivenRowsScanProvider(ScanContext context, const ExecOptions& exec, std::string table, const Batches& rows)
      : FullScanProvider(std::move(context), exec), table_(Lower(table)), rows_(rows) {}

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
  GroupFilesScanProvider(ScanContext context, const ExecOptions& exec, std::string table, int64_t version,
                         const KeyValues& keys)
      : FullScanProvider(std::move(context), exec), table_(Lower(table)), version_(version), keys_(keys) {}

  Result<Batches> ReadTable(const sql::PlanNode& node) override {
    if (Lower(node.table) != table_) return FullScanProvider::ReadTable(node);
    LP_ASSIGN_OR_RETURN(auto table, context_.open_table(node.table));
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

namespace {

// One update of an incrementally maintained materialized view (an aggregate over one stored
// table): its state opened and cross-checked with the view once per process; the upstream
// versions the state lacks read as appended rows, as net row changes, or as a snapshot;
// retracted rows taken back, or their groups recomputed; the new rows applied; the view
// written in one commit whose txn is the state's batch (the upstream version now covered),
// then the state committed (docs/execution.md; docs/checkpoint.md, "The protocol").
// Run() once; one thread.
class IncrementalViewUpdate {
 public:
  IncrementalViewUpdate(PipelineRunner::Impl& runner, const sql::ResolvedDataset& ds,
                        const PipelineRunner::Impl::IncrementalShape& shape, bool full_refresh, StatusBoard* board)
      : r_(runner), ds_(ds), shape_(shape), full_refresh_(full_refresh), board_(board), start_(MonotonicNanos()) {
    report_.table = ds.name;
    report_.kind = sql::DatasetKindName(ds.kind);
    // The upstream as declared, or another pipeline's `pipeline.table` (docs/catalog.md).
    const sql::ResolvedDataset* upstream_ds = r_.Find(shape.scan->table);
    upstream_ = upstream_ds != nullptr ? upstream_ds->name : Lower(shape.scan->table);
  }

  Result<TableReport> Run();

 private:
  // Where the rows the query's aggregate receives go (the query runs up to three times):
  //  - kRetracting: the retracted upstream rows through the row-wise steps, gathered in
  //    retracted_ (the query's output is unused);
  //  - kRecomputing: the rows of the groups that lost a value, read from the table's new
  //    snapshot, gathered in recomputed_ (output unused);
  //  - kApplying: the new rows, applied to the state, whose output is the view.
  enum class Pass { kRetracting, kRecomputing, kApplying };

  // Opens the view's state (once per process) and cross-checks it with the view.
  Status OpenState();
  // The state opened afresh in an empty folder.
  Status ResetState();
  Result<std::unique_ptr<state::IncrementalAggregate>> NewState() {
    return state::IncrementalAggregate::Open(dir_, make_, state::AggregateStateStore::Options(), distinct_memory_);
  }
  // What this update reads: false when the state covers the latest upstream version (the
  // report then says "up to date").
  Result<bool> PlanInput();
  // For a range of versions: whether it only appends rows, else its net row changes (or
  // why they cannot be read).
  Status ReadChanges();
  // The rows the range retracted: taken out of the state, or their groups recomputed, or
  // (when neither can be exact) the view starts again from a snapshot.
  Status TakeBackRetracted();
  void InstallAggregateCallbacks();
  // Runs the query over the planned input, writes the view, commits the state.
  Result<TableReport> ApplyAndCommit();

  PipelineRunner::Impl& r_;
  const sql::ResolvedDataset& ds_;
  const PipelineRunner::Impl::IncrementalShape& shape_;
  const bool full_refresh_;
  StatusBoard* board_;
  const int64_t start_;
  TableReport report_;
  std::string upstream_;

  // Set by OpenState.
  Flow* flow_ = nullptr;
  ExecOptions exec_;
  CountedAggregate counted_;
  AggregateFactory make_;
  std::string dir_;
  std::shared_ptr<MemoryBudget> distinct_memory_;

  // Set by PlanInput and ReadChanges.
  std::shared_ptr<delta::DeltaTable> table_;
  int64_t latest_ = -1;  // the upstream version the update brings the view to: its batch
  std::optional<int64_t> covered_;
  ViewInput input_;
  std::string technique_;
  std::string range_;  // "`t` versions a..b", for messages
  bool only_appends_ = false;
  std::optional<NetChanges> changes_;
  bool replaced_ = false;  // the range overwrote the table
  std::string why_;        // why the view starts again from a snapshot of an updated table

  // The passes (InstallAggregateCallbacks).
  Pass pass_ = Pass::kApplying;
  int64_t input_rows_ = 0;
  Batches retracted_;
  Batches lost_rows_;  // the retracted rows of recomputed groups (their distinct pairs leave)
  Batches recomputed_;
  std::optional<RecordBatch> groups_;  // the groups recomputed, when they are
};

Status IncrementalViewUpdate::ResetState() {
  flow_->aggregate.reset();
  LP_RETURN_IF_ERROR(r_.fs->RemoveAll(dir_));
  LP_RETURN_IF_ERROR(r_.fs->CreateDirs(dir_));
  LP_ASSIGN_OR_RETURN(flow_->aggregate, NewState());
  if (counted_.keyed) LP_RETURN_IF_ERROR(flow_->aggregate->SetRowCountColumn(kRowCountState));
  return Status::OK();
}

Status IncrementalViewUpdate::OpenState() {
  LP_ASSIGN_OR_RETURN(flow_, r_.OpenFlow(ds_, full_refresh_));
  exec_.current_timestamp_micros = r_.clock->NowMicros();
  LP_ASSIGN_OR_RETURN(counted_, CountAggregate(*shape_.aggregate, exec_));
  LP_ASSIGN_OR_RETURN(make_, AggregateFactoryFor(counted_.node, exec_));
  dir_ = JoinPath(flow_->cp.dir(), "state/aggregate-0");
  // count(DISTINCT)'s pending pairs share the pipeline's seen-key budget (docs/checkpoint.md,
  // "Distinct pairs").
  LP_ASSIGN_OR_RETURN(distinct_memory_, SeenKeysBudget(r_.pipeline.settings));
  if (flow_->aggregate != nullptr) return Status::OK();
  LP_RETURN_IF_ERROR(r_.fs->CreateDirs(dir_));
  LP_ASSIGN_OR_RETURN(flow_->aggregate, NewState());
  if (!flow_->aggregate->discarded_state().empty()) {
    report_.warnings.push_back({"state_rebuilt", "state of view `" + ds_.name + "` (" + dir_ + ") was set aside: " +
                                                     flow_->aggregate->discarded_state() +
                                                     "; recomputing it from a snapshot of `" + upstream_ + "`"});
  }
  if (counted_.keyed) LP_RETURN_IF_ERROR(flow_->aggregate->SetRowCountColumn(kRowCountState));
  // The state and the view are cross-checked once per process (issue 19). A state that
  // is gone is rebuilt from a snapshot (a complete recompute, so nothing is lost or
  // doubled); a view behind its state (its newest commits deleted, or the view gone) is
  // republished the same way, since the state alone would say "up to date".
  std::optional<int64_t> covered = flow_->aggregate->committed_batch();
  LP_ASSIGN_OR_RETURN(auto view, FlowCheckpoint::ReadTableProgress(r_.fs, r_.TablePath(ds_.name), flow_->cp.flow_id()));
  if (covered && (!view.flow_txn || *view.flow_txn < *covered)) {
    report_.warnings.push_back({"state_rebuilt", "view `" + ds_.name + "` is behind its state (" + dir_ +
                                                     " covers upstream version " + std::to_string(*covered) +
                                                     "): recomputing it from a snapshot of `" + upstream_ + "`"});
    return ResetState();
  }
  if (!covered && view.flow_txn && !full_refresh_ && flow_->aggregate->discarded_state().empty()) {
    report_.warnings.push_back({"state_rebuilt", "state of view `" + ds_.name + "` is missing (" + dir_ +
                                                     "): recomputing it from a snapshot of `" + upstream_ + "`"});
  }
  return Status::OK();
}

Result<bool> IncrementalViewUpdate::PlanInput() {
  // The state says which upstream version it covers (its batch id is that version), so
  // the next batch is the versions after it: no plan file is needed. A crash after the
  // view's commit but before the state's leaves the state behind the table; the next
  // batch then covers more versions and publishes the same aggregate again.
  LP_ASSIGN_OR_RETURN(table_, r_.Table(upstream_));
  LP_ASSIGN_OR_RETURN(latest_, table_->LatestVersion());
  covered_ = flow_->aggregate->committed_batch();
  if (covered_ && *covered_ >= latest_) {
    report_.status = "up to date";
    LP_ASSIGN_OR_RETURN(auto own, r_.Table(ds_.name));
    LP_ASSIGN_OR_RETURN(report_.table_version, own->LatestVersion());
    return false;
  }
  input_ = covered_ ? ViewInput::Appends(upstream_, *covered_ + 1, latest_) : ViewInput::Snapshot(upstream_, latest_);
  technique_ = covered_ ? "incremental" : "incremental (initial)";
  range_ = "`" + upstream_ + "` versions " + std::to_string(covered_ ? *covered_ + 1 : 0) + ".." +
           std::to_string(latest_);
  return true;
}

Status IncrementalViewUpdate::ReadChanges() {
  // A range that only appends rows (the usual case) is read by parts, in the columns the
  // query reads, through shared_appends: each version is decoded once for every view that
  // follows the table (IncrementalViewScanProvider::SharedAppendsStream).
  PipelineRunner::Impl& r = r_;
  std::call_once(r.followed_by_views, [&r] {
    for (const auto& other : r.resolved.datasets) {
      if (other.kind != sql::DatasetKind::kMaterializedView || other.plan == nullptr) continue;
      PipelineRunner::Impl::IncrementalShape other_shape;
      if (!r.WhyNotIncremental(other, &other_shape).empty()) continue;
      const sql::ResolvedDataset* up = r.Find(other_shape.scan->table);
      if (up != nullptr) r.shared_appends.Follow(r.TablePath(up->name), Lower(other.name));
    }
  });
  if (input_.kind != ViewInput::Kind::kAppends) return Status::OK();
  const int64_t first = input_.start_version;
  LP_ASSIGN_OR_RETURN(delta::SnapshotPtr now, table_->Latest());
  if (now->version() >= latest_ && SharedAppends::UsableFor(*now, first)) {
    LP_ASSIGN_OR_RETURN(only_appends_, r_.shared_appends.OnlyAppends(*table_, now, first, latest_));
  }
  if (only_appends_) return Status::OK();
  // Versions that delete or rewrite rows (an AUTO CDC target, `lakepipe table delete`):
  // their net row changes, from the change data feed or the rewritten files. Retracted
  // rows are taken out of the state when every aggregate can take them back exactly;
  // otherwise (or when the changes cannot be read) the view starts again from a snapshot.
  delta::ChangeReadOptions appends;
  appends.columns = shape_.scan->schema.names();
  auto appended = delta::ReadAppends(*table_, first, latest_, appends);
  if (appended.ok()) {
    changes_ = NetChanges{std::move(appended).value(), {}};
    return Status::OK();
  }
  if (appended.status().code() != StatusCode::kNotSupported ||
      appended.status().message().find("skipChangeCommits") == std::string::npos) {
    return appended.status();
  }
  LP_ASSIGN_OR_RETURN(replaced_, TableOverwritten(*table_, *covered_, latest_));
  if (replaced_) return Status::OK();
  auto read = ReadNetChanges(*table_, first, latest_, shape_.scan->schema);
  if (read.ok()) {
    changes_ = std::move(read).value();
  } else {
    why_ = "the row changes of " + range_ + " cannot be read (" + read.status().message() + ")";
  }
  return Status::OK();
}

void IncrementalViewUpdate::InstallAggregateCallbacks() {
  exec_.incremental_aggregate = [this](const sql::PlanNode&, const AggregateFactory&,
                                       const Batches& rows) -> Result<Batches> {
    switch (pass_) {
      case Pass::kRetracting:
        retracted_.insert(retracted_.end(), rows.begin(), rows.end());
        return Batches{};
      case Pass::kRecomputing: {
        // Only the groups' rows are kept (the files read hold others too).
        LP_ASSIGN_OR_RETURN(Batches kept, flow_->aggregate->RowsOfGroups(rows, *groups_, true));
        recomputed_.insert(recomputed_.end(), kept.begin(), kept.end());
        return Batches{};
      }
      case Pass::kApplying:
        break;
    }
    input_rows_ += CountRows(rows);
    if (groups_) {
      LP_ASSIGN_OR_RETURN(Batches out,
                          flow_->aggregate->ApplyRecomputingGroups(latest_, rows, *groups_, recomputed_, lost_rows_));
      return VisibleOutput(counted_, out);
    }
    LP_ASSIGN_OR_RETURN(Batches out, flow_->aggregate->Apply(latest_, rows, retracted_, counted_.key_columns));
    return VisibleOutput(counted_, out);
  };
  // The view's new rows read by parts (the snapshot of the first batch): Execute builds
  // their aggregate as they stream, and it is merged into the state whole.
  // Its rows count distinct values against the state's pair store (RowsFactory).
  exec_.incremental_aggregate_factory = [this]() { return flow_->aggregate->RowsFactory()(); };
  exec_.incremental_aggregate_merge = [this](const sql::PlanNode&, const AggregateFactory&,
                                             std::unique_ptr<operators::HashAggregate> these,
                                             int64_t rows) -> Result<Batches> {
    if (pass_ != Pass::kApplying || groups_ || !retracted_.empty()) {
      return Status::Internal("a view's rows read by parts outside the pass that applies them");
    }
    input_rows_ += rows;
    LP_ASSIGN_OR_RETURN(Batches out, flow_->aggregate->ApplyAggregated(latest_, std::move(these)));
    return VisibleOutput(counted_, out);
  };
}

Status IncrementalViewUpdate::TakeBackRetracted() {
  if (!changes_ || changes_->deleted.empty()) return Status::OK();
  pass_ = Pass::kRetracting;
  GivenRowsScanProvider gone(r_.Scans(), exec_, upstream_, changes_->deleted);
  LP_RETURN_IF_ERROR(Execute(*ds_.plan, gone, exec_).status());
  pass_ = Pass::kApplying;
  // Rows the query's WHERE never let in need no taking back.
  if (CountRows(retracted_) == 0) return Status::OK();
  if (counted_.not_retractable.empty()) {
    technique_ = "incremental (retracting)";
    input_rows_ += CountRows(retracted_);
    return Status::OK();
  }
  const std::string lost = counted_.not_retractable + "; " + range_ + " deleted or updated " +
                           std::to_string(CountRows(retracted_)) + " of its rows";
  // Recompute only the groups that lost a value, from the table's new snapshot — unless
  // that is the whole view anyway (see below).
  std::string whole;  // why the whole view is recomputed instead
  if (counted_.keyed && shape_.aggregate->grouping_ids.empty()) {
    LP_ASSIGN_OR_RETURN(RecordBatch lost_groups, flow_->aggregate->GroupsOf(retracted_));
    const int64_t n = lost_groups.num_rows();
    const int64_t total = flow_->aggregate->aggregate().num_groups();
    // The rule: more than half of the view's groups are recomputed whole. Recomputing
    // them reads (nearly) every file anyway, and replacing most of the state costs more
    // than rebuilding it.
    if (2 * n > total) {
      whole = std::to_string(n) + " of its " + std::to_string(total) +
              " groups lost a value (more than half: the whole view is recomputed)";
    } else {
      groups_ = std::move(lost_groups);
    }
  } else if (counted_.keyed) {
    whole = "with GROUPING SETS every row also counts in rolled-up groups";
  }
  if (!groups_) {
    why_ = lost + (whole.empty() ? "" : "; " + whole);
    changes_.reset();
    retracted_.clear();
    return Status::OK();
  }
  // The group key that is a table column, unchanged, lets statistics skip files.
  KeyValues keys;
  for (size_t k = 0; k < shape_.aggregate->group_keys.size() && keys.column.empty(); ++k) {
    keys.column = ScanColumnOfKey(*shape_.aggregate, k, *shape_.scan);
    if (keys.column.empty()) continue;
    for (int64_t row = 0; row < groups_->num_rows(); ++row) {
      if (groups_->column(k).IsNull(row)) keys.with_null = true;
      else keys.values.push_back(groups_->column(k).GetValue(row));
    }
    auto less = [](const Value& a, const Value& b) { return a.Compare(b) < 0; };
    auto equal = [](const Value& a, const Value& b) { return a.Compare(b) == 0; };
    std::sort(keys.values.begin(), keys.values.end(), less);
    keys.values.erase(std::unique(keys.values.begin(), keys.values.end(), equal), keys.values.end());
  }
  pass_ = Pass::kRecomputing;
  GroupFilesScanProvider group_files(r_.Scans(), exec_, upstream_, latest_, keys);
  LP_RETURN_IF_ERROR(Execute(*ds_.plan, group_files, exec_).status());
  pass_ = Pass::kApplying;
  const int64_t n = groups_->num_rows();
  technique_ = "incremental (" + std::to_string(n) + (n == 1 ? " group" : " groups") + " recomputed)";
  report_.message = "recomputed " + std::to_string(n) + " of " +
                    std::to_string(flow_->aggregate->aggregate().num_groups()) + " groups from `" + upstream_ +
                    "` version " + std::to_string(latest_) + " (" + std::to_string(group_files.files_read()) + " of " +
                    std::to_string(group_files.files_total()) + " files read): " + lost;
  input_rows_ += CountRows(recomputed_);
  lost_rows_ = std::move(retracted_);
  retracted_.clear();
  return Status::OK();
}

Result<TableReport> IncrementalViewUpdate::ApplyAndCommit() {
  state::IncrementalAggregate& aggregate = *flow_->aggregate;
  auto abandon = [&aggregate](Status st) {
    (void)aggregate.Abandon();
    return st;
  };
  IncrementalViewScanProvider snapshot_or_appends(r_.Scans(), exec_, input_);
  {
    auto part_rows = ViewPartRows(r_.pipeline.settings);
    if (!part_rows.ok()) return abandon(part_rows.status());
    snapshot_or_appends.ReadByParts(*part_rows);
    auto threads = AggregateThreads(r_.pipeline.settings);
    if (!threads.ok()) return abandon(threads.status());
    exec_.aggregate_threads = *threads;
  }
  const std::string view = Lower(ds_.name);
  snapshot_or_appends.ShareScansAs(view);
  // Only a snapshot is read by parts through a shared read: the other views of the group
  // need not wait for this one.
  if (changes_ || input_.kind != ViewInput::Kind::kSnapshot) r_.shared_part_scans.Withdraw(view);
  GivenRowsScanProvider given(r_.Scans(), exec_, upstream_, changes_ ? changes_->inserted : retracted_);
  FullScanProvider& provider = changes_ ? static_cast<FullScanProvider&>(given) : snapshot_or_appends;
  auto executed = Execute(*ds_.plan, provider, exec_);
  if (!executed.ok()) return abandon(executed.status());
  Batches rows = std::move(executed).value();
  report_.rows_read = input_rows_;
  report_.shared_read_views = snapshot_or_appends.shared_read_views();
  auto checks = DatasetExpectations::Bind(ds_, r_.Definition(ds_));
  if (!checks.ok()) return abandon(checks.status());
  auto quarantined = checks->Apply(&rows, &report_);
  if (!quarantined.ok()) return abandon(quarantined.status());
  LP_KILL_POINT("mv.after_process");

  delta::WriteOptions options;
  options.mode = delta::WriteMode::kOverwrite;
  options.operation = "CREATE OR REFRESH MATERIALIZED VIEW";
  options.operation_parameters["inputs"] =
      Json({{Lower(upstream_), latest_}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  options.operation_parameters["technique"] = technique_;
  if (full_refresh_) options.operation_parameters["fullRefresh"] = "true";
  options.txn_app_id = flow_->cp.flow_id();
  options.txn_version = latest_;
  if (HasQuarantine(r_.Definition(ds_))) {
    auto written =
        r_.WriteTable(ds_.name + "_quarantine", operators::QuarantineSchema(ds_.schema), ds_, *quarantined, options);
    if (!written.ok()) return abandon(written.status());
  }
  auto commit = r_.WriteTable(ds_.name, ds_.schema, ds_, rows, options);
  if (!commit.ok()) return abandon(commit.status());
  NoteCheckpointFailure(*commit, &report_);
  LP_KILL_POINT("mv.after_commit");
  LP_RETURN_IF_ERROR(aggregate.Commit(latest_));
  LP_KILL_POINT("mv.after_state_commit");
  r_.shared_appends.Taken(r_.TablePath(upstream_), view, latest_);
  state::StateSize size = aggregate.Size();

  report_.status = "updated";
  report_.rows_written = CountRows(rows);
  report_.table_version = commit->version;
  report_.batches = 1;
  report_.state_keys = size.keys;
  report_.state_bytes = size.disk_bytes;
  report_.operators = {{"aggregate-0", size.keys, size.disk_bytes}};
  report_.technique = technique_;
  r_.RecordArrivals(ds_.name, commit->version, r_.arrivals.NewFor(ds_.name, {{Lower(upstream_), latest_}}), board_);
  if (board_ != nullptr) {
    report_.duration_ms = ElapsedMs(start_);
    board_->RecordBatch(report_, r_.clock->NowMillis());
    board_->SetStateSize(ds_.name, report_.state_keys, report_.state_bytes);
  }
  return std::move(report_);
}

Result<TableReport> IncrementalViewUpdate::Run() {
  LP_RETURN_IF_ERROR(OpenState());
  LP_ASSIGN_OR_RETURN(bool behind, PlanInput());
  if (!behind) return std::move(report_);
  LP_RETURN_IF_ERROR(ReadChanges());
  InstallAggregateCallbacks();
  LP_RETURN_IF_ERROR(TakeBackRetracted());
  if (input_.kind == ViewInput::Kind::kAppends && !changes_ && !only_appends_) {
    // The range's changes cannot be applied exactly: start again from a snapshot.
    LP_RETURN_IF_ERROR(ResetState());
    input_ = ViewInput::Snapshot(upstream_, latest_);
    technique_ = replaced_ ? "incremental (initial)" : "complete recompute: " + why_;
  }
  return ApplyAndCommit();
}

}  // namespace

Result<TableReport> PipelineRunner::Impl::UpdateIncrementalView(const sql::ResolvedDataset& ds,
                                                                const IncrementalShape& shape, bool full_refresh,
                                                                StatusBoard* board) {
  return IncrementalViewUpdate(*this, ds, shape, full_refresh, board).Run();
}

}  // namespace lakepipe::runtime
