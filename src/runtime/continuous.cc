// PipelineRunner::RunContinuous: a continuous run. It describes each table to the
// ContinuousScheduler (runtime/continuous_scheduler.h), which decides when each updates,
// and is the scheduler's host: an update is Impl::RunTable, and the upkeep between
// updates (the event log, auto-compaction, scheduled VACUUM) is here. docs/continuous.md
// describes the rules.
#include <time.h>

#include <algorithm>
#include <cstdio>

#include "common/uuid.h"
#include "runtime/auto_compaction.h"
#include "runtime/continuous_scheduler.h"
#include "runtime/deferred_checkpoints.h"
#include "runtime/scheduled_vacuum.h"
#include "runtime/event_log.h"
#include "runtime/event_log_upkeep.h"
#include "runtime/external_tables.h"
#include "runtime/file_watcher.h"
#include "runtime/pipeline_runner_internal.h"
#include "runtime/status_board.h"
#include "runtime/view_table_defaults.h"
#include "sql/table_properties.h"

namespace lakepipe::runtime {

namespace {

// Events are appended to the event log at most this often in continuous mode.
constexpr int64_t kEventLogFlushMicros = 1000 * 1000;
// After a failed event-log write, the next try comes after this delay, doubling up to the
// maximum.
constexpr int64_t kEventLogRetryMaxMicros = 60 * 1000 * 1000;
// Tables that may run at the same time (their I/O waits overlap: ContinuousScheduler).
constexpr size_t kMaxParallelTables = 4;
// A scheduled VACUUM (lakepipe.vacuum.interval) first runs this long after the start, or
// one interval if that is shorter.
constexpr int64_t kFirstVacuumMaxDelayMicros = 60 * 1000 * 1000LL;
// The audit log's folder in the storage (governance/audit_log.h, which runtime does not
// link: the name is all it needs).
constexpr const char* kAuditTable = "_audit";

// The event log records the run; it is not the run's output. When it cannot be written
// (disk full, I/O error) the tables keep advancing, the events wait in the EventLog, and
// the write is retried with a doubling delay. The failure is reported once on stderr and
// on the status board (`event_log_error` of /api/pipeline) until a write succeeds; then
// an `event_log_recovered` WARN event records the outage in the log itself.
class EventLogFlusher {
 public:
  // `upkeep` (may be null) is told after each write, to compact and expire the log.
  EventLogFlusher(EventLog* log, StatusBoard* board, EventLogUpkeep* upkeep)
      : log_(log), board_(board), upkeep_(upkeep) {}

  void FlushIfDue(int64_t now) {
    if (now >= next_) Flush(now);
  }

  void Flush(int64_t now) {
    const bool writes = log_->pending() > 0 || failures_ > 0;
    Status st = log_->Flush();
    if (st.ok()) {
      if (writes && upkeep_ != nullptr) upkeep_->Notify();
      if (failures_ > 0) {
        std::fprintf(stderr, "lakepipe: the event log is written again (after %lld failed attempts)\n",
                     static_cast<long long>(failures_));
        log_->Add({0, "", "event_log_recovered", "WARN",
                   "the event log could not be written for " + std::to_string((now - since_) / 1000000) + " s (" +
                       std::to_string(failures_) + " attempts): " + error_ + "; its events were kept and written since",
                   "{\"failed_attempts\":" + std::to_string(failures_) + "}"});
        if (board_ != nullptr) board_->SetEventLogError("");
      }
      failures_ = 0;
      error_.clear();
      delay_ = kEventLogFlushMicros;
      next_ = now + delay_;
      return;
    }
    if (failures_ == 0) {
      since_ = now;
      std::fprintf(stderr, "lakepipe: warning: cannot write the event log: %s; the pipeline keeps running and retries\n",
                   st.message().c_str());
      delay_ = kEventLogFlushMicros;
    } else {
      delay_ = std::min(delay_ * 2, kEventLogRetryMaxMicros);
    }
    ++failures_;
    error_ = st.message();
    next_ = now + delay_;
    if (board_ != nullptr) {
      board_->SetEventLogError(error_ + " (attempt " + std::to_string(failures_) + "; next in " +
                               std::to_string(delay_ / 1000000) + " s)");
    }
  }

 private:
  EventLog* log_;
  StatusBoard* board_;
  EventLogUpkeep* upkeep_;
  int64_t next_ = 0;
  int64_t delay_ = kEventLogFlushMicros;
  int64_t failures_ = 0;
  int64_t since_ = 0;
  std::string error_;
};

// The continuous run as the scheduler's host: what an update of a table does, and the
// upkeep between updates (the event log, auto-compaction, scheduled VACUUM).
class RunHost final : public ContinuousScheduler::Host {
 public:
  RunHost(PipelineRunner::Impl& r, const RunOptions& options, std::vector<const sql::ResolvedDataset*> datasets,
          EventLog& log, EventLogFlusher& flusher, AutoCompactor& compactor, ScheduledVacuum& vacuum,
          DeferredCheckpoints& checkpoints, std::vector<int> auto_compact_min_files,
          int64_t first_audit_vacuum_micros)
      : r_(r),
        options_(options),
        datasets_(std::move(datasets)),
        log_(log),
        flusher_(flusher),
        compactor_(compactor),
        vacuum_(vacuum),
        checkpoint_sink_(checkpoints.Sink()),
        auto_compact_min_files_(std::move(auto_compact_min_files)),
        next_audit_vacuum_(first_audit_vacuum_micros) {}

  FinishedUpdate RunTable(size_t index, bool full_refresh, const std::set<std::string>& failed, int64_t restarts,
                          int64_t max_restarts) override {
    const sql::ResolvedDataset& ds = *datasets_[index];
    PipelineRunner::Impl::RestartBudget budget{restarts, max_restarts};
    FinishedUpdate done;
    {
      // The Delta checkpoints this update's commits fall due for are written beside it.
      delta::ScopedCheckpointDeferral defer_checkpoints(checkpoint_sink_);
      done.report = r_.RunTable(ds, full_refresh, failed, log_, options_.board, &budget);
    }
    // Read here, on the thread that ran the table's flow (a Flow is only used by the
    // thread running its table).
    if (Flow* flow = r_.FindFlow(Lower(ds.name))) {
      done.next_stable_in_micros = flow->next_stable_in_micros;
      done.more_input = flow->backlog_files > 0 || flow->backlog_records > 0;
    }
    return done;
  }

  void Finished(size_t index, const TableReport& report, UpdateOutcome outcome) override {
    if (options_.on_table && outcome != UpdateOutcome::kUpToDate && outcome != UpdateOutcome::kWaiting) {
      options_.on_table(report);
    }
    // A committed streaming table may have small files to compact (a view has none:
    // auto_compact_min_files_ is -1 for tables that do not compact).
    if (outcome == UpdateOutcome::kUpdated && auto_compact_min_files_[index] >= 0) {
      for (const auto& name : WithSideTables(datasets_[index]->name))
        compactor_.Notify(name, r_.TablePath(name), auto_compact_min_files_[index]);
    }
  }

  void VacuumDue(size_t index) override {
    for (const auto& name : WithSideTables(datasets_[index]->name)) vacuum_.Queue(name, r_.TablePath(name));
  }

  void Replan(std::vector<std::string>* changed) override {
    Status replanned = r_.Replan(changed);
    if (!replanned.ok()) {
      // The stopped flow runs again with its old plan, stops again, and the restart bound
      // turns that into a failure with backoff: nothing loops fast.
      changed->clear();
      log_.Add({0, "", "error", "ERROR",
                "the pipeline could not be planned again after a schema change: " + replanned.message(), "{}"});
      return;
    }
    std::string names;
    for (const auto& n : *changed) names += (names.empty() ? "" : ", ") + n;
    log_.Add({0, "", "replanned", "INFO",
              "pipeline planned again after a schema change; new plans for: " + (names.empty() ? "none" : names),
              Json({{"tables", *changed}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
  }

  bool TakeMessageWake(size_t index) override {
    auto wake = r_.stream_wakes.find(Lower(datasets_[index]->name));
    return wake != r_.stream_wakes.end() && wake->second->exchange(false);
  }

  bool StopRequested() override { return r_.stop_requested.load(); }
  void RequestStop() override { r_.stop_requested.store(true); }
  void Tick(int64_t now_micros) override {
    flusher_.FlushIfDue(now_micros);
    // The audit log (<storage>/_audit, docs/governance.md) is no dataset of the pipeline,
    // but its compactions leave replaced files as the tables' do: it is vacuumed on the
    // same daily schedule, with its own delta.deletedFileRetentionDuration.
    if (now_micros >= next_audit_vacuum_) {
      vacuum_.Queue(kAuditTable, r_.TablePath(kAuditTable));
      next_audit_vacuum_ = now_micros + sql::kDefaultVacuumIntervalMicros;
    }
  }

 private:
  PipelineRunner::Impl& r_;
  const RunOptions& options_;
  std::vector<const sql::ResolvedDataset*> datasets_;
  EventLog& log_;
  EventLogFlusher& flusher_;
  AutoCompactor& compactor_;
  ScheduledVacuum& vacuum_;
  delta::CheckpointSink checkpoint_sink_;    // DeferredCheckpoints'
  std::vector<int> auto_compact_min_files_;  // per table; -1: no auto-compaction
  int64_t next_audit_vacuum_;                // wall micros of the next VACUUM of _audit
};

}  // namespace

Status PipelineRunner::RunContinuous(const RunOptions& options) {
  Impl& r = *impl_;
  LP_RETURN_IF_ERROR(r.LockStorage());
  r.continuous = true;
  FileWatcher watcher;
  r.watcher.store(&watcher);
  struct ClearWatcher {
    Impl& r;
    ~ClearWatcher() { r.watcher.store(nullptr); }
  } clear_watcher{r};
  if (r.stop_requested.load()) return Status::OK();

  EventLog log(r.fs, r.pipeline.settings.storage, r.pipeline.settings.name, r.clock);
  log.set_update_id(NewUuid());
  LP_ASSIGN_OR_RETURN(std::set<std::string> refresh, r.FullRefreshSet(options));
  r.LogUpdateStart(log, refresh, "continuous");
  if (options.board != nullptr) options.board->Init(r.InitialStatus("continuous"));
  // The event log's own retention and compaction (runtime/event_log_upkeep.h), on a
  // thread of its own, told by the flusher after each write.
  LP_ASSIGN_OR_RETURN(sql::EventLogSettings event_log_settings,
                      sql::EventLogSettingsOf(r.pipeline.settings.configuration, r.pipeline.settings.settings_file));
  EventLogUpkeep upkeep(r.fs, r.clock, &log, r.pipeline.settings.storage,
                        EventLogUpkeepOptions::Of(event_log_settings));
  if (Status prepared = upkeep.Prepare(); !prepared.ok()) {
    log.Add({0, "_event_log", "event_log_retention", "WARN", prepared.message(), "{}"});
  }
  upkeep.Start();
  EventLogFlusher flusher(&log, options.board, &upkeep);
  flusher.Flush(r.clock->NowMicros());

  // What the scheduler needs of each table, in the pipeline's dependency order.
  std::vector<ScheduledTable> tables;
  std::vector<const sql::ResolvedDataset*> datasets;
  std::vector<int> auto_compact_min_files;
  // Other pipelines' tables (lower case) -> the wake flags of the tables that read them.
  std::map<std::string, std::vector<std::shared_ptr<std::atomic<bool>>>> external_readers;
  const int64_t now = r.clock->NowMicros();
  for (const auto& ds : r.resolved.datasets) {
    if (ds.kind == sql::DatasetKind::kView) continue;
    ScheduledTable t;
    t.name = ds.name;
    t.streaming = ds.kind == sql::DatasetKind::kStreamingTable;
    auto trig = r.pipeline.settings.triggers.find(ds.name);
    if (trig != r.pipeline.settings.triggers.end()) t.trigger = trig->second;
    t.full_refresh = refresh.count(Lower(ds.name)) > 0;
    sql::TableProperties props = sql::TablePropertiesOf(r.Definition(ds).table_properties);
    if (props.trigger_interval_micros) {
      t.min_interval_micros = *props.trigger_interval_micros;
    } else if (ds.kind == sql::DatasetKind::kMaterializedView) {
      t.min_interval_micros = sql::kDefaultViewTriggerIntervalMicros;
    }
    // Scheduled VACUUM: daily for streaming tables, hourly for materialized views (their
    // one-hour history, view_table_defaults.h), unless the table says otherwise ('off' never).
    t.vacuum_interval_micros = props.vacuum_interval_micros.value_or(
        ds.kind == sql::DatasetKind::kMaterializedView ? kDefaultViewVacuumIntervalMicros
                                                       : sql::kDefaultVacuumIntervalMicros);
    if (t.vacuum_interval_micros > 0) {
      // The first one soon after the start (a run restarted more often than the interval
      // still vacuums), then one per interval.
      t.first_vacuum_micros = now + std::min(t.vacuum_interval_micros, kFirstVacuumMaxDelayMicros);
    }
    PlanSources sources;
    r.CollectSources(*ds.plan, &sources);
    for (const auto& f : ds.more_flows) r.CollectSources(*f.plan, &sources);  // the table's other flows
    for (const auto* scan : sources.file_scans) {
      t.roots.insert(scan->read_files.path);
      LP_RETURN_IF_ERROR(watcher.Watch(scan->read_files.path));
    }
    // A message source wakes its table when it sees new data (runtime/stream_source.h).
    if (!sources.stream_scans.empty()) {
      auto& flag = r.stream_wakes[Lower(ds.name)];
      if (!flag) flag = std::make_shared<std::atomic<bool>>(false);
      t.message_source = true;
    }
    // A streaming table wakes on its STREAM() inputs; a materialized view on everything
    // it reads. (A stream-static join's static side does not start a batch, as in Spark.)
    if (t.streaming) {
      for (const auto* scan : sources.streaming_tables) t.wakes_on.insert(Lower(scan->table));
    } else {
      t.wakes_on = sources.tables_read;
    }
    // Another pipeline's tables commit in another process: their watch (below) wakes the
    // table as a message source's wake-up does.
    for (const auto& name : t.wakes_on) {
      if (r.resolved.FindExternal(name) == nullptr) continue;
      auto& flag = r.stream_wakes[Lower(ds.name)];
      if (!flag) flag = std::make_shared<std::atomic<bool>>(false);
      t.message_source = true;
      external_readers[name].push_back(flag);
    }
    // A materialized view rewrites itself whole at each update: it has no small files to
    // compact.
    auto_compact_min_files.push_back(t.streaming && props.auto_compact ? props.auto_compact_min_files.value_or(0) : -1);
    tables.push_back(std::move(t));
    datasets.push_back(&ds);
  }
  LP_ASSIGN_OR_RETURN(const int64_t max_restarts, r.MaxSchemaRestarts());
  // The other pipelines' tables this run reads: polled for new commits (docs/catalog.md).
  std::vector<ExternalTableWatch::Watched> watched;
  for (const auto& [name, flags] : external_readers) {
    const sql::ExternalTable* t = r.resolved.FindExternal(name);
    ExternalTableWatch::Watched w;
    w.path = t->path;
    w.version = t->version;
    w.on_commit = [&r, flags = flags] {
      for (const auto& f : flags) f->store(true);
      if (FileWatcher* fw = r.watcher.load()) fw->Wake();
    };
    watched.push_back(std::move(w));
  }
  ExternalTableWatch external_watch(r.fs, std::move(watched));
  external_watch.Start();

  // Compaction and VACUUM run beside the tables, on threads of their own, so they never
  // delay an update.
  AutoCompactor compactor(r.fs, r.clock, &log);
  // The runner's table handles: a table's snapshot is cached once in the process.
  compactor.LendTableHandles([&r](const std::string& name, const std::string&) { return r.Table(name); });
  compactor.Start();
  ScheduledVacuum vacuum(r.fs, r.clock, &log);
  vacuum.Start();
  // The tables' Delta checkpoints too: a micro-batch's commit returns without writing one.
  DeferredCheckpoints checkpoints(&log);
  checkpoints.Start();
  Status loop_status;
  {
    RunHost host(r, options, datasets, log, flusher, compactor, vacuum, checkpoints, std::move(auto_compact_min_files),
                 now + std::min(sql::kDefaultVacuumIntervalMicros, kFirstVacuumMaxDelayMicros));
    // Tables run on a small pool of workers, so that one table's fsyncs overlap another's
    // work: Bronze ingests the next files while Silver processes the last ones, and the
    // Gold views update side by side.
    ContinuousScheduler scheduler(std::move(tables), &host, &watcher, r.clock, max_restarts, kMaxParallelTables);
    // A batch's readers start once it is committed, not after its state and commit record
    // (the seen-key store's commit alone is a third of Silver's batch at 50,000 lines/s).
    r.on_table_commit = [&scheduler](const std::string& table) { scheduler.NoteCommitted(table); };
    loop_status = scheduler.Run();
    r.on_table_commit = nullptr;  // the workers have stopped
  }
  external_watch.Stop();
  checkpoints.Stop();
  compactor.Stop();
  vacuum.Stop();
  upkeep.Stop();
  if (options.board != nullptr) {
    for (const auto* ds : datasets) options.board->SetState(ds->name, "stopped");
  }
  log.Add({0, "", "update_complete", loop_status.ok() ? "INFO" : "ERROR",
           loop_status.ok() ? "continuous run stopped" : "continuous run stopped: " + loop_status.message(), "{}"});
  Status flushed = log.Flush();
  if (!flushed.ok()) {
    flushed = flushed.WithContext("the run stopped, but its last events could not be written to the event log");
  }
  return loop_status.ok() ? flushed : loop_status;
}

}  // namespace lakepipe::runtime
