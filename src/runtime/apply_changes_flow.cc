// AUTO CDC flows: one micro-batch of change events applied to the target table as keyed
// row changes (delta/row_changes.h), decided against the flow's ScdStateStore
// (operators/scd.h), with the same txn discipline as every streaming flow: the Delta
// commit first, the state after it (streaming_flow.cc commits the state). A FROM SNAPSHOT
// flow first turns its snapshot rows into change events (operators/snapshot_cdc.h).
#include "delta/row_changes.h"
#include "operators/scd.h"
#include "operators/snapshot_cdc.h"
#include "runtime/pipeline_runner_internal.h"

namespace lakepipe::runtime {

namespace {

Result<operators::ScdSpec> SpecFor(const sql::ResolvedDataset& ds) {
  const sql::ResolvedApplyChanges& rc = *ds.apply_changes;
  const sql::ApplyChangesSpec& s = *rc.spec;
  operators::ScdSpec spec;
  spec.scd_type = s.scd_type;
  spec.tracked = rc.tracked;
  spec.sequence_type = rc.sequence_type;
  spec.table = ds.name;
  spec.keys = rc.keys;
  spec.sequence_sql = s.sequence_sql;
  for (const auto& p : rc.sequence_parts) {
    LP_ASSIGN_OR_RETURN(expr::BoundExpr b, expr::Bind(*p, rc.source_schema));
    spec.sequence_parts.push_back(std::move(b));
  }
  if (s.delete_when) {
    LP_ASSIGN_OR_RETURN(spec.delete_when, expr::Bind(*s.delete_when, rc.source_schema));
  }
  if (s.truncate_when) {
    LP_ASSIGN_OR_RETURN(spec.truncate_when, expr::Bind(*s.truncate_when, rc.source_schema));
  }
  spec.ignore_null_updates = s.ignore_null_updates;
  spec.source_schema = rc.source_schema;
  spec.columns = rc.columns;
  spec.target_schema = rc.target_schema;
  return spec;
}

// A snapshot flow's change events (SnapshotDiff::EventSchema) for ScdApply: sequenced by
// the snapshot's version, deleted when SnapshotDiff::kDeleteColumn is true.
Status SpecForSnapshotEvents(const sql::ResolvedDataset& ds, operators::ScdSpec* spec) {
  const sql::ResolvedApplyChanges& rc = *ds.apply_changes;
  Schema events = operators::SnapshotDiff::EventSchema(rc.source_schema);
  spec->sequence_parts.clear();
  for (const auto& p : rc.sequence_parts) {
    LP_ASSIGN_OR_RETURN(expr::BoundExpr b, expr::Bind(*p, events));
    spec->sequence_parts.push_back(std::move(b));
  }
  LP_ASSIGN_OR_RETURN(spec->delete_when, expr::Bind(*expr::Expr::Column(operators::SnapshotDiff::kDeleteColumn), events));
  spec->source_schema = events;
  return Status::OK();
}

bool SameTableColumns(const Schema& table, const Schema& wanted) {
  if (table.size() != wanted.size()) return false;
  for (size_t i = 0; i < table.size(); ++i) {
    if (table.field(i).name != wanted.field(i).name ||
        !SameTypeIgnoringNullability(table.field(i).type, wanted.field(i).type))
      return false;
  }
  return true;
}

}  // namespace

Status PipelineRunner::Impl::OpenScdState(const sql::ResolvedDataset& ds, Flow& flow, const std::string& marker) {
  if (flow.scd_store) return Status::OK();
  // The target's state, in its own flow's checkpoint, whichever of its flows opens it.
  std::shared_ptr<state::ScdStateStore> store;
  {
    std::lock_guard<std::mutex> lock(flows_mu);
    auto it = scd_stores.find(Lower(ds.name));
    if (it != scd_stores.end()) store = it->second;
  }
  if (!store) {
    std::string dir = JoinPath(CheckpointPath(ds.name), "state/scd");
    LP_RETURN_IF_ERROR(fs->CreateDirs(dir));
    LP_ASSIGN_OR_RETURN(std::unique_ptr<state::ScdStateStore> opened, state::ScdStateStore::Open(dir));
    store = std::move(opened);
    std::lock_guard<std::mutex> lock(flows_mu);
    scd_stores[Lower(ds.name)] = store;
  }
  // Checked (FlowStates::Add) before the flow holds it: a later update must not find it
  // open and unchecked.
  LP_RETURN_IF_ERROR(flow.states.Add("scd", std::make_shared<state::ScdFlowState>(store, marker)));
  flow.scd_store = store;
  flow.scd_marker = marker;
  return Status::OK();
}

Result<delta::CommitResult> PipelineRunner::Impl::ApplyChangesBatch(const sql::ResolvedDataset& ds, Flow& flow,
                                                                    const std::string& marker, const Batches& events,
                                                                    const delta::WriteOptions& options,
                                                                    bool replace_all, bool snapshot_end) {
  // The columns are checked before the state is read: its rows are encoded for the
  // table's columns, and a batch with other columns must stop with the way out.
  std::string path = TablePath(ds.name);
  auto table = Table(ds.name);
  if (!table.ok() && !table.status().IsNotFound()) return table.status();
  if (table.ok()) {
    LP_ASSIGN_OR_RETURN(auto snap, (*table)->Latest());
    if (!SameTableColumns(snap->schema(), ds.schema)) {
      if (!replace_all) {
        return Status::InvalidArgument("table `" + ds.name + "` has columns (" + snap->schema().ToDDL() +
                                       ") but AUTO CDC now writes (" + ds.schema.ToDDL() + "); run with --full-refresh " +
                                       ds.name + " to rebuild it");
      }
      ForgetTable(ds.name);
      LP_RETURN_IF_ERROR(fs->RemoveAll(path));
      table = Status::NotFound(path);
    }
  }
  LP_RETURN_IF_ERROR(OpenScdState(ds, flow, marker));
  flow.scd_store->Abandon();  // the shared store holds nothing of an earlier failed batch
  LP_ASSIGN_OR_RETURN(operators::ScdSpec spec, SpecFor(ds));
  // The state decides every event (the table is not read for that), so a replayed batch
  // whose Delta commit is already in place reaches the same decisions and state.
  Batches nonempty;
  for (const auto& b : events)
    if (b.num_rows() > 0) nonempty.push_back(b);
  std::optional<operators::SnapshotChanges> snapshot;
  if (ds.apply_changes->spec->from_snapshot) {
    const sql::ResolvedApplyChanges& rc = *ds.apply_changes;
    operators::SnapshotSpec ss;
    ss.table = ds.name;
    ss.keys = rc.keys;
    ss.columns = rc.columns;
    ss.version_parts = spec.sequence_parts;
    ss.version_sql = rc.spec->sequence_sql;
    ss.source_schema = rc.source_schema;
    operators::SnapshotDiff diff(std::move(ss));
    LP_ASSIGN_OR_RETURN(snapshot, diff.Plan(nonempty, snapshot_end, flow.scd_store.get()));
    LP_RETURN_IF_ERROR(SpecForSnapshotEvents(ds, &spec));
    nonempty = {snapshot->events};
  }
  if (nonempty.empty()) nonempty.push_back(RecordBatch::Empty(ds.apply_changes->source_schema));
  operators::ScdApply apply(std::move(spec));
  LP_ASSIGN_OR_RETURN(operators::ScdChanges changes, apply.Plan(nonempty, flow.scd_store.get()));
  if (replace_all) changes.truncate = true;  // a full refresh's first batch starts the table afresh

  if (!table.ok()) {
    // The first batch creates the table in the same commit as its rows and txn (a table
    // created on its own first would be a version without this flow's txn, which the
    // checkpoint check at restart rightly refuses).
    LP_ASSIGN_OR_RETURN(RecordBatch rows, changes.Replacement(RecordBatch::Empty(ds.schema), ds.apply_changes->keys));
    delta::WriteOptions first = options;
    first.mode = delta::WriteMode::kAppend;
    first.operation_parameters["flow"] = "\"" + ds.apply_changes->flow_name + "\"";
    return WriteTable(ds.name, ds.schema, ds, {rows}, first);
  }
  delta::KeyedReplace change;
  change.key_columns = ds.apply_changes->keys;
  change.keys = changes.keys;
  change.truncate = changes.truncate;
  delta::RowChangeOptions ro;
  ro.txn_app_id = options.txn_app_id;
  ro.txn_version = options.txn_version;
  ro.operation = options.operation;
  ro.operation_parameters = options.operation_parameters;
  ro.operation_parameters["flow"] = "\"" + ds.apply_changes->flow_name + "\"";
  ro.commit_empty = true;
  // What the batch decided, in the table history (DESCRIBE HISTORY / `table history`).
  ro.operation_metrics["numChangeEvents"] = std::to_string(changes.events);
  ro.operation_metrics["numUpsertedKeys"] = std::to_string(changes.upserted_keys);
  ro.operation_metrics["numDeletedKeys"] = std::to_string(changes.deleted_keys);
  ro.operation_metrics["numStaleEvents"] = std::to_string(changes.stale);
  ro.operation_metrics["numDuplicateEvents"] = std::to_string(changes.duplicates);
  if (changes.truncate) ro.operation_metrics["truncated"] = "true";
  if (ds.apply_changes->spec->scd_type == 2) {
    ro.operation_metrics["numLateEvents"] = std::to_string(changes.late);
    ro.operation_metrics["numVersionsWritten"] = std::to_string(changes.versions);
  }
  if (snapshot) {
    ro.operation_metrics["numSnapshots"] = std::to_string(snapshot->snapshots);
    ro.operation_metrics["numSnapshotInserts"] = std::to_string(snapshot->inserted);
    ro.operation_metrics["numSnapshotUpdates"] = std::to_string(snapshot->updated);
    ro.operation_metrics["numSnapshotDeletes"] = std::to_string(snapshot->deleted);
    ro.operation_metrics["numLateSnapshotRows"] = std::to_string(snapshot->late_rows);
    ro.operation_metrics["numHeldSnapshotRows"] = std::to_string(snapshot->held_rows);
    if (!snapshot->processed.empty()) ro.operation_metrics["snapshotVersions"] = snapshot->processed;
    if (!snapshot->held_version.empty()) ro.operation_metrics["heldSnapshotVersion"] = snapshot->held_version;
  }
  const std::vector<std::string>& keys = ds.apply_changes->keys;
  LP_ASSIGN_OR_RETURN(delta::RowChangeResult r,
                      delta::ReplaceKeyedRows(**table, change,
                                              [&changes, &keys](const RecordBatch& existing) {
                                                return changes.Replacement(existing, keys);
                                              },
                                              ro));
  if (snapshot && snapshot->late_rows > 0 && !r.already_committed) {
    flow.warnings.push_back({"snapshot_late_rows",
                             std::to_string(snapshot->late_rows) + " rows of `" + ds.name + "`'s snapshot source have a "
                             "version at or below the last processed one (" + snapshot->late_versions + "): ignored, "
                             "not applied to history already written (numLateSnapshotRows in the table history)"});
  }
  delta::CommitResult out;
  out.version = r.version;
  out.already_committed = r.already_committed;
  out.num_files = r.files_added;
  out.num_rows = r.rows_written;
  out.num_bytes = r.bytes_added;
  out.attempts = r.attempts;
  return out;
}

}  // namespace lakepipe::runtime
