// Internals of PipelineRunner shared by its source files: pipeline_runner.cc (open,
// RunOnce, queries, writing tables), streaming_flow.cc (streaming tables as flows),
// materialized_view.cc (materialized views, full or incremental) and continuous.cc (the
// continuous scheduler). Not a public header.
//
// Thread-safety: the runner's work runs on one thread (the caller of RunOnce /
// RunContinuous); `stop_requested` and `watcher->Wake()` may be touched from any thread
// or a signal handler.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <optional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "delta/table.h"
#include "runtime/batch_plan.h"
#include "runtime/batch_stream.h"
#include "runtime/checkpoint.h"
#include "runtime/dataset_expectations.h"
#include "runtime/storage_lock.h"
#include "runtime/table_handles.h"
#include "runtime/executor.h"
#include "runtime/file_source.h"
#include "runtime/flow_states.h"
#include "runtime/pipeline_runner.h"
#include "runtime/scan_providers.h"
#include "runtime/shared_appends.h"
#include "runtime/shared_scan.h"
#include "runtime/shared_part_scan.h"
#include "runtime/source_cleaner.h"
#include "runtime/status_board.h"
#include "runtime/stream_source.h"
#include "runtime/taken_files.h"
#include "runtime/taken_segments.h"
#include "state/incremental_aggregate.h"
#include "state/scd_state_store.h"

namespace lakepipe::runtime {

class EventLog;
class FileWatcher;

using Json = nlohmann::json;

std::string Lower(std::string s);
int64_t ElapsedMs(int64_t start_nanos);

// The inputs of one plan: its read_files scans and the tables it reads (through views).
struct PlanSources {
  std::vector<const sql::PlanNode*> file_scans;
  std::vector<const sql::PlanNode*> streaming_tables;  // STREAM(t) of a stored table
  std::vector<const sql::PlanNode*> stream_scans;      // STREAM read_kafka(...), ... (message sources)
  std::set<std::string> tables_read;                   // every stored table read (lower case)
};

// A streaming table's flow, kept open across updates (continuous mode runs many): its
// checkpoint, what its plans consumed so far, and its open state stores.
struct Flow {
  // `table`: the streaming table the flow writes (named in errors about its state).
  Flow(FlowCheckpoint checkpoint, FileSystem* fs, const std::string& table)
      : cp(std::move(checkpoint)), states(fs, &cp, table) {}
  Flow(const Flow&) = delete;
  Flow& operator=(const Flow&) = delete;
  FlowCheckpoint cp;
  bool history_loaded = false;
  // What each read_files source (by path) remembers: the files taken within its maxFileAge
  // horizon, and the names in its folder known to be older (runtime/taken_files.h).
  struct FileSourceMemory {
    TakenFiles taken;
    OldFiles old;
    // Where `taken` is on disk: the segment files of the newest compact file (format 3).
    TakenSegments segments;
    // The source's maxFileAge, once a listing read its options (0: not yet, or no limit).
    int64_t max_age_micros = 0;
  };
  std::map<std::string, FileSourceMemory> file_sources;
  int64_t files_too_old = 0;  // listed files not taken for their age, since the process started
  // read_files sources that clean (cleanSource; runtime/source_cleaner.h), by path: set at
  // the flow's first update in this process, once their archive folders are checked and
  // what the newest committed batch took is cleaned (a crash may have stopped that).
  std::optional<std::map<std::string, CleanTarget>> clean_targets;
  std::map<std::string, int64_t> last_version;              // upstream (lower case) -> last endVersion
  // Message sources (runtime/stream_source.h), by StreamSourceKey: the open source (opened
  // on first use) and its range in the latest plan (where the next plan continues).
  StreamSources stream_sources;
  std::map<std::string, Json> stream_ranges;
  int64_t backlog_records = 0;  // message sources' backlog after the last plan
  // The durable state of each stateful operator of the flow's query (opened on first use).
  FlowStates states;
  // An AUTO CDC flow's per-key sequences and tombstones (in `states` as "scd" too): the
  // target's store, shared by every AUTO CDC flow into it (Impl::scd_stores), in which
  // this flow commits under its own marker (`scd_marker`: "" for the table's own flow).
  std::shared_ptr<state::ScdStateStore> scd_store;
  std::string scd_marker;
  // An incrementally maintained materialized view's aggregate state (opened on first use).
  std::unique_ptr<state::IncrementalAggregate> aggregate;
  // From the last listing: files waiting beyond the per-trigger limits or not yet stable,
  // and when the next unstable one becomes stable (0: none).
  int64_t backlog_files = 0;
  int64_t lag_bytes = -1;  // replication sources (the largest lag of them); -1: none
  double lag_seconds = -1;
  int64_t backlog_bytes = 0;
  int64_t next_stable_in_micros = 0;
  // Links the listings did not follow, each reported once per process (not per listing),
  // and the warnings waiting for the flow's next report (TableReport::warnings).
  std::set<std::string> links_reported;
  // Set by a full refresh: the flow's first batch reads each upstream table as its
  // current snapshot, not as its history from version 0 (which holds the upstream's own
  // rewrites, e.g. its full refresh, that a stream cannot follow).
  bool start_from_snapshot = false;
  std::vector<std::pair<std::string, std::string>> warnings;
};

// spark.sql.streaming.minBatchesToRetain from the pipeline's configuration (Spark's name
// for the setting; pipeline.yaml `configuration` or --set), else 100 as in Spark.
Result<int64_t> MinBatchesToRetain(const sql::PipelineSettings& settings);
// The rows per part of a table read by parts: the pipeline's configuration
// `lakepipe.batchRows` (docs/execution.md; tests set a tiny one), else the default.
Result<int64_t> BatchRows(const sql::PipelineSettings& settings);
// Threads a streaming table's micro-batch read by parts runs its steps on (query up to
// its DISTINCT, the rest with the expectations, the writers; docs/execution.md): the
// configuration `lakepipe.flowThreads` (1 to 3), else kDefaultFlowThreads.
inline constexpr int kDefaultFlowThreads = 3;
Result<int> FlowThreads(const sql::PipelineSettings& settings);
// Threads for the partial aggregates of a materialized view read by parts: the
// configuration `lakepipe.aggregateThreads` (1 to 16), else 1.
Result<int> AggregateThreads(const sql::PipelineSettings& settings);
// The rows a materialized view's part is cut to: 0 (whole row groups of the table it
// reads) unless the configuration sets `lakepipe.batchRows`.
Result<int64_t> ViewPartRows(const sql::PipelineSettings& settings);
// Whether the views of a `run --once` group share their reads by parts of a table they
// read at the same version: the configuration `lakepipe.shareViewScans` (true or false),
// else true.
Result<bool> ShareViewScans(const sql::PipelineSettings& settings);
// A table and the tables it writes beside itself: `<t>_quarantine` (rows that failed a
// QUARANTINE expectation) and `<t>_late` (rows behind a watermark). They are created with
// its table properties and grow a file per batch like it, so auto-compaction and scheduled
// VACUUM look after them too (a side table that does not exist is skipped).
std::vector<std::string> WithSideTables(const std::string& name);

// Adds a read's warnings (files changed after planning, links not followed in a batch
// read) to `report`.
void NoteFileWarnings(const FileReadStats& stats, TableReport* report);
// Adds a warning when the commit's Delta checkpoint could not be written (the commit
// stands; the next checkpoint interval tries again).
void NoteCheckpointFailure(const delta::CommitResult& commit, TableReport* report);

struct PipelineRunner::Impl {
  std::atomic<bool> stop_requested{false};
  std::atomic<FileWatcher*> watcher{nullptr};  // set while RunContinuous runs
  // Set while RunContinuous's scheduler runs (ContinuousScheduler::NoteCommitted), else
  // empty: called on the worker's thread as soon as a streaming table's micro-batch is in
  // its Delta table, before the flow's state and commit record, so that the tables reading
  // it start while this one finishes the batch.
  std::function<void(const std::string& table)> on_table_commit;
  FileSystem* fs = nullptr;
  Clock* clock = nullptr;
  sql::Pipeline pipeline;
  sql::ResolvedPipeline resolved;
  // What PipelineRunner::resolved() gives other threads (the server's): a copy of
  // `resolved` made at open and after each Replan that changed it, never changed in place
  // and kept while the runner lives, so a reader holding one while a flow is re-planned
  // reads a whole, older plan. Publish() makes the next copy.
  std::mutex published_mu;
  std::deque<sql::ResolvedPipeline> published_generations;
  std::atomic<const sql::ResolvedPipeline*> published{nullptr};
  void Publish();
  // Set by OpenForQuery when the pipeline does not resolve: `resolved` then names the
  // datasets without plans, and nothing may run.
  Status resolve_error = Status::OK();
  bool continuous = false;  // the current run is continuous (file stability rules differ)
  // Continuous mode runs different tables on different threads: the maps below are
  // guarded; a Flow itself is only used by the thread running its table.
  std::mutex flows_mu;
  std::map<std::string, std::unique_ptr<Flow>> flows;  // by lower-case table name
  // The AUTO CDC state of each target (lower-case table name), shared by its flows.
  std::map<std::string, std::shared_ptr<state::ScdStateStore>> scd_stores;
  // The open handles of the tables (Table), made at open once `fs` and `clock` are set.
  std::unique_ptr<TableHandleCache> table_handles;
  // When the lines in each table version arrived (latency bookkeeping).
  ArrivalLedger arrivals;
  // Snapshot reads shared by the views RunOnce runs together.
  mutable SharedScans shared_scans;
  // Snapshot reads by parts shared by the views RunOnce runs together (their part streams,
  // FullScanProvider::ShareScansAs).
  mutable SharedPartScans shared_part_scans;
  // The rows upstream versions appended, decoded once for the incremental views that
  // follow the table (UpdateIncrementalView).
  mutable SharedAppends shared_appends;
  std::once_flag followed_by_views;  // the incremental views registered with shared_appends

  Flow* FindFlow(const std::string& lower_name) {
    std::lock_guard<std::mutex> lock(flows_mu);
    auto it = flows.find(lower_name);
    return it == flows.end() ? nullptr : it->second.get();
  }

  // The storage lock (runtime/storage_lock.h), held from the first update until the
  // runner goes away: two runs writing the same storage would race on its checkpoints.
  StorageLock storage_lock;
  std::vector<StorageLock> table_locks;  // shared locks of the tables at a LOCATION
  Status LockStorage();
  ~Impl();

  const sql::ResolvedDataset* Find(const std::string& name) const { return resolved.Find(name); }
  const sql::DatasetDefinition& Definition(const sql::ResolvedDataset& ds) const {
    return pipeline.datasets[ds.dataset_index];
  }
  // <storage>/<name>, or the table's LOCATION; for another pipeline's `pipeline.table`
  // (docs/catalog.md), its folder as the catalog gave it at resolution.
  std::string TablePath(const std::string& name) const {
    if (const sql::ExternalTable* external = resolved.FindExternal(name)) return external->path;
    for (const auto& d : pipeline.datasets)
      if (!d.location.empty() && Lower(d.name) == Lower(name)) return d.location;
    return JoinPath(pipeline.settings.storage, name);
  }
  std::string CheckpointPath(const std::string& name) const {
    return JoinPath(JoinPath(pipeline.settings.storage, "_checkpoints"), name);
  }
  void CollectSources(const sql::PlanNode& node, PlanSources* out) const;

  // The tables `--full-refresh` / `--full-refresh-all` name (lower case), checked.
  Result<std::set<std::string>> FullRefreshSet(const RunOptions& options) const;
  void LogUpdateStart(EventLog& log, const std::set<std::string>& refresh, const std::string& mode) const;
  // The board's starting point: every table, its trigger, what it reads.
  PipelineStatus InitialStatus(const std::string& mode) const;
  // The end of the group of materialized views starting at tables[from] that read none of
  // each other (RunOnce runs them together); from + 1 when tables[from] is not a view.
  size_t IndependentViews(const std::vector<const sql::ResolvedDataset*>& tables, size_t from) const;
  // The table (lower case) materialized view `ds` reads by parts, when its query has
  // exactly one aggregate over row-wise steps over a stored table; nullopt otherwise.
  // RunOnce lets the views of a group that read the same table share that read
  // (shared_part_scans).
  std::optional<std::string> PartScanTable(const sql::ResolvedDataset& ds) const;
  // How many times a flow stopped by schemaEvolutionMode addNewColumns may still be
  // restarted: `used` restarts so far (in this update; in a continuous run, in a row
  // without a committed batch) of at most `max` (pipelines.maxFlowRetryAttempts).
  struct RestartBudget {
    int64_t used = 0;
    int64_t max = 0;
  };
  // Updates one table unless an upstream table in `failed` failed, and logs the outcome
  // to the event log and the board. Never fails: a failure is the report's status. A
  // flow stopped for new fields is "restarted" while `restart` allows (the caller then
  // calls Replan and runs the table again), "failed" after (or without `restart`).
  TableReport RunTable(const sql::ResolvedDataset& ds, bool full_refresh, const std::set<std::string>& failed,
                       EventLog& log, StatusBoard* board, const RestartBudget* restart = nullptr);
  // After a flow stopped for new fields: resolves the pipeline again exactly as Open and
  // `validate` do (the kept schemas now hold the new columns). Each dataset whose plan
  // changed (its own columns, or those of any node of its plans) takes the new plan in
  // place, so pointers to `resolved.datasets` elements stay valid, and its open flows are
  // closed (a Flow keys its state stores by plan node) to reopen from their checkpoints,
  // as a restarted process would. The replaced plans are kept alive until the runner goes
  // (`retired`). Only while no table runs. `changed` (optional) gets the datasets' names.
  Status Replan(std::vector<std::string>* changed);
  std::vector<sql::ResolvedDataset> retired;
  // pipelines.maxFlowRetryAttempts of the pipeline's configuration (default 2).
  Result<int64_t> MaxSchemaRestarts() const;
  // Updates one table (a materialized view or every pending batch of a streaming table);
  // reports go to `board` when set.
  Result<TableReport> UpdateTable(const sql::ResolvedDataset& ds, bool full_refresh, StatusBoard* board);
  // A materialized view is maintained incrementally when its query is one GROUP BY over
  // row-wise steps over one stored table (docs/continuous.md): a flow of its own, reading
  // the table's new versions and merging them into the aggregate's state; otherwise it is
  // recomputed from its inputs' snapshots.
  Result<TableReport> UpdateMaterializedView(const sql::ResolvedDataset& ds, bool full_refresh,
                                             StatusBoard* board);
  Result<TableReport> RecomputeMaterializedView(const sql::ResolvedDataset& ds, bool full_refresh,
                                                StatusBoard* board);
  struct IncrementalShape {
    const sql::PlanNode* aggregate = nullptr;  // the view's GROUP BY
    const sql::PlanNode* scan = nullptr;       // the table scan under it
  };
  Result<TableReport> UpdateIncrementalView(const sql::ResolvedDataset& ds, const IncrementalShape& shape,
                                            bool full_refresh, StatusBoard* board);
  // Empty when the view can be maintained incrementally (then `shape` is filled);
  // otherwise why not, for the event log.
  std::string WhyNotIncremental(const sql::ResolvedDataset& ds, IncrementalShape* shape) const;
  // An open handle on stored table `name` (kept, so each use replays only the commits
  // since the last); NotFound when the table has no commit yet. Thread-safe.
  Result<std::shared_ptr<delta::DeltaTable>> Table(const std::string& name) const;
  // Forgets the handle (the table's folder was removed).
  void ForgetTable(const std::string& name) const;
  // What the scan providers read through: this runner's datasets, table handles and
  // shared reads.
  ScanContext Scans() const {
    return ScanContext{fs, &resolved, [this](const std::string& name) { return Table(name); }, &shared_scans,
                       &shared_part_scans, &shared_appends};
  }
  // Whether a materialized view's last update read exactly the table versions that are
  // current now (recorded as operationParameters.inputs), so recomputing it would change
  // nothing. Views over read_files or current_timestamp() are always recomputed.
  Result<bool> MaterializedViewIsCurrent(const sql::ResolvedDataset& ds) const;
  // Runs the table's own flow, then its other append flows (ds.more_flows), each from its
  // own checkpoint.
  Result<TableReport> UpdateStreamingTable(const sql::ResolvedDataset& ds, bool full_refresh,
                                           StatusBoard* board);
  // One flow into streaming table `ds`: its own query (`more` null; checkpoint
  // `_checkpoints/<table>/`), or another append flow (`_checkpoints/<table>/flows/<flow>/`,
  // its rows put in the table's columns by name).
  // `replay_only`: finish only a batch planned before a crash, if any (the AUTO CDC flows
  // of one target do this first, so that no flow decides changes against a shared state
  // that lacks another flow's batch already in the table).
  Result<TableReport> UpdateStreamingFlow(const sql::ResolvedDataset& ds, const sql::ResolvedDataset::MoreFlow* more,
                                          bool full_refresh, StatusBoard* board, bool replay_only = false);
  Result<Flow*> OpenFlow(const sql::ResolvedDataset& ds, bool full_refresh,
                         const sql::ResolvedDataset::MoreFlow* more = nullptr);
  // The flow's open message source for `scan` (opening it on first use; in continuous
  // runs its wake-up marks the table's flag in `stream_wakes` and wakes the scheduler).
  Result<StreamSource*> OpenStreamSourceOf(const sql::ResolvedDataset& ds, Flow& flow, const sql::PlanNode& scan);
  // Continuous runs: per table (lower case), set by a message source's wake-up from any
  // thread, read and cleared by the scheduler. Filled before the workers start.
  std::map<std::string, std::shared_ptr<std::atomic<bool>>> stream_wakes;
  // AUTO CDC (apply_changes_flow.cc): applies one batch of change events to the table in
  // one commit with the batch's txn; the caller commits flow.scd_store afterwards.
  // `replace_all`: the first batch of a full refresh (the table's old rows go).
  Status OpenScdState(const sql::ResolvedDataset& ds, Flow& flow, const std::string& marker);
  // `marker`: the flow's name for the shared state's commit marker ("" for the table's own flow).
  // AUTO CDC FROM SNAPSHOT: `events` are snapshot rows, turned into change events by
  // operators::SnapshotDiff; `snapshot_end` (BatchPlan::snapshot_end) completes the held version.
  Result<delta::CommitResult> ApplyChangesBatch(const sql::ResolvedDataset& ds, Flow& flow, const std::string& marker,
                                                const Batches& events, const delta::WriteOptions& options,
                                                bool replace_all, bool snapshot_end = false);
  // Plans the flow's next batch from its sources; nullopt when there is no new input.
  Result<std::optional<BatchPlan>> PlanNextBatch(const sql::ResolvedDataset& ds, Flow& flow, int64_t batch_id);
  Result<delta::CreateOptions> CreateOptionsFor(const sql::ResolvedDataset& ds, const Schema& schema) const;
  // Writes `rows` to table `name` (creating it), in one commit.
  // The writer WriteTable uses (the table created, or rebuilt for an overwrite whose
  // columns changed), for a caller that writes its rows in several steps.
  Result<std::unique_ptr<delta::TableWriter>> OpenTableWriter(const std::string& name, const Schema& schema,
                                                              const sql::ResolvedDataset& ds,
                                                              delta::WriteOptions options);
  Result<delta::CommitResult> WriteTable(const std::string& name, const Schema& schema,
                                         const sql::ResolvedDataset& ds, const Batches& rows,
                                         delta::WriteOptions options);
  // Latency bookkeeping: records what table `table` version `version` contains, and
  // observes on `board` how long its lines took to get there.
  void RecordArrivals(const std::string& table, int64_t version, Arrivals lines, StatusBoard* board);
};

}  // namespace lakepipe::runtime
