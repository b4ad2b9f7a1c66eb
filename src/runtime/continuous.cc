// The continuous scheduler (PipelineRunner::RunContinuous): runs each table as soon as it
// has new input and its trigger allows, upstream first, on a small pool of workers, and
// otherwise sleeps on inotify / a wake-up / the next timer. docs/continuous.md describes
// the rules.
#include <time.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>

#include "common/uuid.h"
#include "runtime/auto_compaction.h"
#include "runtime/scheduled_vacuum.h"
#include "runtime/event_log.h"
#include "runtime/file_watcher.h"
#include "runtime/pipeline_runner_internal.h"
#include "runtime/status_board.h"
#include "sql/table_properties.h"

namespace lakepipe::runtime {

namespace {

constexpr int64_t kMicrosPerMs = 1000;
// Every source folder is listed this often even without an inotify event (the backstop).
constexpr int64_t kBackstopMicros = 10 * 1000 * 1000;
// Events are appended to the event log at most this often in continuous mode.
constexpr int64_t kEventLogFlushMicros = 1000 * 1000;
// After a failed event-log write, the next try comes after this delay, doubling up to the
// maximum.
constexpr int64_t kEventLogRetryMaxMicros = 60 * 1000 * 1000;
// Tables that may run at the same time (their I/O waits overlap; see the loop).
constexpr size_t kMaxParallelTables = 4;
// A failed table is retried after this delay, doubling up to the maximum.
constexpr int64_t kRetryMinMicros = 1000 * 1000;
constexpr int64_t kRetryMaxMicros = 5 * 60 * 1000 * 1000LL;
// A scheduled VACUUM (lakepipe.vacuum.interval) first runs this long after the start, or
// one interval if that is shorter.
constexpr int64_t kFirstVacuumMaxDelayMicros = 60 * 1000 * 1000LL;

// The event log records the run; it is not the run's output. When it cannot be written
// (disk full, I/O error) the tables keep advancing, the events wait in the EventLog, and
// the write is retried with a doubling delay. The failure is reported once on stderr and
// on the status board (`event_log_error` of /api/pipeline) until a write succeeds; then
// an `event_log_recovered` WARN event records the outage in the log itself.
class EventLogFlusher {
 public:
  EventLogFlusher(EventLog* log, StatusBoard* board) : log_(log), board_(board) {}

  void FlushIfDue(int64_t now) {
    if (now >= next_) Flush(now);
  }

  void Flush(int64_t now) {
    Status st = log_->Flush();
    if (st.ok()) {
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
  int64_t next_ = 0;
  int64_t delay_ = kEventLogFlushMicros;
  int64_t failures_ = 0;
  int64_t since_ = 0;
  std::string error_;
};

// A table and the tables it writes beside itself: `<t>_quarantine` (rows that failed a
// QUARANTINE expectation) and `<t>_late` (rows behind a watermark). They are created with
// its table properties and grow a file per batch like it, so auto-compaction and scheduled
// VACUUM look after them too (a side table that does not exist is skipped).
std::vector<std::string> WithSideTables(const std::string& name) {
  return {name, name + "_quarantine", name + "_late"};
}

struct TableSchedule {
  const sql::ResolvedDataset* ds = nullptr;
  sql::TriggerSpec trigger;
  bool dirty = true;            // may have new input
  bool full_refresh = false;    // pending --full-refresh (first run only)
  bool running_full_refresh = false;  // the run in progress is the full refresh
  // Restarts after a stop for new fields since the table last committed (bounded by
  // pipelines.maxFlowRetryAttempts, so a stop that makes no progress cannot loop).
  int64_t restarts_in_a_row = 0;
  bool ran_once = false;
  bool waiting = false;         // its last run waited for upstream data (no timer until then)
  int64_t not_before = 0;       // wall micros: trigger time or retry backoff
  int64_t retry_delay = 0;      // current backoff after failures (0: none)
  // A continuous table's commit rate: after an update that committed, the next one starts
  // no sooner than this (pipelines.trigger.interval; 1 s for materialized views). Input
  // arriving meanwhile is taken by that next update, so a view that reads a busy table
  // writes one version per interval instead of one per upstream commit.
  int64_t min_interval_micros = 0;
  bool auto_compact = false;    // a streaming table with delta.autoOptimize.autoCompact on
  int auto_compact_min_files = 0;  // lakepipe.autoCompact.minNumFiles (0: the default)
  int64_t vacuum_interval_micros = 0;  // lakepipe.vacuum.interval (0: never)
  int64_t next_vacuum = 0;             // wall micros of the next scheduled VACUUM
  std::set<std::string> roots;  // read_files folders it watches
  std::set<std::string> wakes_on;  // upstream tables (lower case) whose commits wake it
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
  EventLogFlusher flusher(&log, options.board);
  flusher.Flush(r.clock->NowMicros());

  std::vector<TableSchedule> tables;
  int64_t now = r.clock->NowMicros();
  for (const auto& ds : r.resolved.datasets) {
    if (ds.kind == sql::DatasetKind::kView) continue;
    TableSchedule t;
    t.ds = &ds;
    auto trig = r.pipeline.settings.triggers.find(ds.name);
    if (trig != r.pipeline.settings.triggers.end()) t.trigger = trig->second;
    t.full_refresh = refresh.count(Lower(ds.name)) > 0;
    if (t.trigger.kind == sql::TriggerSpec::Kind::kDaily) t.not_before = sql::NextDailyMicros(t.trigger.daily_minutes, now);
    sql::TableProperties props = sql::TablePropertiesOf(r.Definition(ds).table_properties);
    if (props.trigger_interval_micros) {
      t.min_interval_micros = *props.trigger_interval_micros;
    } else if (ds.kind == sql::DatasetKind::kMaterializedView) {
      t.min_interval_micros = sql::kDefaultViewTriggerIntervalMicros;
    }
    // A materialized view rewrites itself whole at each update: it has no small files to
    // compact.
    t.auto_compact = ds.kind == sql::DatasetKind::kStreamingTable && props.auto_compact;
    t.auto_compact_min_files = props.auto_compact_min_files.value_or(0);
    if (props.vacuum_interval_micros) {
      // The first one soon after the start (a run restarted more often than the interval
      // still vacuums), then one per interval.
      t.vacuum_interval_micros = *props.vacuum_interval_micros;
      t.next_vacuum = now + std::min(t.vacuum_interval_micros, kFirstVacuumMaxDelayMicros);
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
    }
    // A streaming table wakes on its STREAM() inputs; a materialized view on everything
    // it reads. (A stream-static join's static side does not start a batch, as in Spark.)
    if (ds.kind == sql::DatasetKind::kStreamingTable) {
      for (const auto* scan : sources.streaming_tables) t.wakes_on.insert(Lower(scan->table));
    } else {
      t.wakes_on = sources.tables_read;
    }
    tables.push_back(std::move(t));
  }

  // Tables run on a small pool of workers, so that one table's fsyncs overlap another's
  // work: Bronze ingests the next files while Silver processes the last ones, and the Gold
  // views update side by side. A table never runs twice at once; the scheduler (this
  // thread) alone decides what runs and handles the outcomes.
  std::mutex mu;
  std::vector<std::pair<size_t, TableReport>> finished;  // guarded by mu
  std::vector<std::thread> workers;
  std::set<std::string> failed;
  size_t running = 0;
  const size_t max_parallel = std::min<size_t>(kMaxParallelTables, std::max<size_t>(1, tables.size()));
  std::vector<bool> busy(tables.size(), false);
  std::vector<std::function<void()>> queue;  // guarded by mu
  std::condition_variable queue_cv;
  bool shutting_down = false;
  for (size_t w = 0; w < max_parallel; ++w) {
    workers.emplace_back([&] {
      while (true) {
        std::function<void()> job;
        {
          std::unique_lock<std::mutex> lock(mu);
          queue_cv.wait(lock, [&] { return shutting_down || !queue.empty(); });
          if (queue.empty()) return;
          job = std::move(queue.front());
          queue.erase(queue.begin());
        }
        job();
        watcher.Wake();
      }
    });
  }
  auto stop_workers = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      shutting_down = true;
    }
    queue_cv.notify_all();
    for (auto& w : workers) w.join();
    workers.clear();
  };

  // Compaction runs beside the tables, on its own thread, so it never delays an update.
  AutoCompactor compactor(r.fs, r.clock, &log);
  compactor.Start();
  ScheduledVacuum vacuum(r.fs, r.clock, &log);
  vacuum.Start();

  int64_t next_backstop = now + kBackstopMicros;
  Status loop_status;
  LP_ASSIGN_OR_RETURN(const int64_t max_restarts, r.MaxSchemaRestarts());
  // A flow stopped for new fields: nothing new starts until the tables running now are
  // done; then the pipeline is re-planned (Impl::Replan, which no running table may see)
  // and the flow runs again at once.
  bool replan_pending = false;
  while (true) {
    // Outcomes of the tables that finished.
    std::vector<std::pair<size_t, TableReport>> done;
    {
      std::lock_guard<std::mutex> lock(mu);
      done.swap(finished);
    }
    now = r.clock->NowMicros();
    for (auto& [i, report] : done) {
      TableSchedule& t = tables[i];
      busy[i] = false;
      --running;
      if (options.on_table && report.status != "up to date" && report.status != "waiting") options.on_table(report);
      std::string key = Lower(t.ds->name);
      using Kind = sql::TriggerSpec::Kind;
      if (report.status == "restarted") {
        // Not a failure: no backoff. The same full refresh, if it was one (its first batch
        // is planned again after the reset, now with the new columns).
        t.restarts_in_a_row += 1;
        t.full_refresh = t.running_full_refresh;
        t.dirty = true;
        replan_pending = true;
        continue;
      }
      if (report.status == "failed" || report.status == "skipped") {
        failed.insert(key);
        t.retry_delay = std::clamp(t.retry_delay * 2, kRetryMinMicros, kRetryMaxMicros);
        t.not_before = now + t.retry_delay;
        t.dirty = true;
        continue;
      }
      failed.erase(key);
      t.retry_delay = 0;
      if (report.status == "updated") t.restarts_in_a_row = 0;
      // A table waiting for its upstream's first data runs when that data is committed
      // (it is then marked dirty), not on its timer.
      t.waiting = report.status == "waiting";
      if (t.waiting) continue;
      if (t.trigger.kind == Kind::kInterval) t.not_before = now + t.trigger.interval_micros;
      if (t.trigger.kind == Kind::kDaily) t.not_before = sql::NextDailyMicros(t.trigger.daily_minutes, now + 60 * 1000000);
      if (report.status == "updated") {
        // Measured from the end of the update, so two commits are always at least the
        // interval apart (Spark measures from the batch's start).
        if (t.trigger.kind == Kind::kContinuous && t.min_interval_micros > 0) {
          t.not_before = std::max(t.not_before, now + t.min_interval_micros);
        }
        if (t.auto_compact) {
          for (const auto& name : WithSideTables(t.ds->name)) compactor.Notify(name, r.TablePath(name), t.auto_compact_min_files);
        }
        for (auto& down : tables)
          if (down.wakes_on.count(key)) down.dirty = true;
        // A streaming table takes one batch per run: look for the next one.
        if (t.ds->kind == sql::DatasetKind::kStreamingTable) t.dirty = true;
      }
      Flow* flow = r.FindFlow(key);
      // Files that are not stable yet (fileStableMillis) need a look when they are; a
      // backlog left means files arrived while the table ran.
      if (flow != nullptr && flow->next_stable_in_micros > 0) {
        t.dirty = true;
        t.not_before = std::max(t.not_before, now + flow->next_stable_in_micros);
      } else if (flow != nullptr && (flow->backlog_files > 0 || flow->backlog_records > 0)) {
        t.dirty = true;
      }
    }
    if (r.stop_requested.load()) {
      if (running == 0) break;
    } else {
      for (auto& t : tables) {
        if (t.vacuum_interval_micros > 0 && now >= t.next_vacuum) {
          for (const auto& name : WithSideTables(t.ds->name)) vacuum.Queue(name, r.TablePath(name));
          t.next_vacuum = now + t.vacuum_interval_micros;
        }
      }
      if (now >= next_backstop) {
        for (auto& t : tables)
          if (!t.roots.empty() || r.stream_wakes.count(Lower(t.ds->name))) t.dirty = true;
        next_backstop = now + kBackstopMicros;
      }
      if (replan_pending && running == 0) {
        replan_pending = false;
        std::vector<std::string> changed;
        Status replanned = r.Replan(&changed);
        if (!replanned.ok()) {
          // The stopped flow runs again with its old plan, stops again, and the bound
          // turns that into a failure with backoff: nothing loops fast.
          log.Add({0, "", "error", "ERROR",
                   "the pipeline could not be planned again after a schema change: " + replanned.message(), "{}"});
        } else {
          std::string names;
          for (const auto& n : changed) names += (names.empty() ? "" : ", ") + n;
          log.Add({0, "", "replanned", "INFO",
                   "pipeline planned again after a schema change; new plans for: " + (names.empty() ? "none" : names),
                   Json({{"tables", changed}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
          // A table whose plan changed looks for input again (downstream tables gain the
          // new columns from their next batch).
          for (auto& t : tables)
            for (const auto& n : changed)
              if (Lower(n) == Lower(t.ds->name)) t.dirty = true;
        }
      }
      // Start what is due, upstream tables first.
      for (size_t i = 0; i < tables.size() && running < max_parallel && !replan_pending; ++i) {
        TableSchedule& t = tables[i];
        using Kind = sql::TriggerSpec::Kind;
        if (busy[i] || (t.trigger.kind == Kind::kOnce && t.ran_once)) continue;
        bool timed = t.trigger.kind == Kind::kInterval || t.trigger.kind == Kind::kDaily;
        // A timed table runs at its time whether or not anything was noticed (its own
        // listing decides); others run when something may be new.
        if (now < t.not_before || !(t.dirty || (timed && !t.waiting))) continue;
        t.dirty = false;
        t.ran_once = true;
        busy[i] = true;
        ++running;
        bool full = t.full_refresh;
        t.full_refresh = false;
        t.running_full_refresh = full;
        std::set<std::string> failed_now = failed;
        Impl::RestartBudget budget{t.restarts_in_a_row, max_restarts};
        std::lock_guard<std::mutex> lock(mu);
        queue.push_back([&, i, full, failed_now, budget] {
          TableReport report = r.RunTable(*tables[i].ds, full, failed_now, log, options.board, &budget);
          std::lock_guard<std::mutex> done_lock(mu);
          finished.emplace_back(i, std::move(report));
        });
        queue_cv.notify_one();
      }
    }
    flusher.FlushIfDue(now);
    // Sleep until something changes: a file, a finished table, a stop, or the next timer.
    int64_t wake_at = next_backstop;
    for (const auto& t : tables)
      if (t.vacuum_interval_micros > 0) wake_at = std::min(wake_at, t.next_vacuum);
    for (size_t i = 0; i < tables.size(); ++i) {
      const TableSchedule& t = tables[i];
      bool timed = t.trigger.kind == sql::TriggerSpec::Kind::kInterval || t.trigger.kind == sql::TriggerSpec::Kind::kDaily;
      if (!busy[i] && (t.dirty || (timed && !t.waiting)) && t.not_before > now) wake_at = std::min(wake_at, t.not_before);
    }
    // At least once a second, to flush the event log while busy or idle.
    int64_t timeout_ms = std::clamp<int64_t>((wake_at - now + kMicrosPerMs - 1) / kMicrosPerMs, 0, 1000);
    auto changed = watcher.Wait(timeout_ms);
    if (!changed.ok()) {
      loop_status = changed.status();
      r.stop_requested.store(true);
      continue;
    }
    for (const auto& root : *changed) {
      for (auto& t : tables)
        if (t.roots.count(root)) t.dirty = true;
    }
    for (auto& t : tables) {
      auto wake = r.stream_wakes.find(Lower(t.ds->name));
      if (wake != r.stream_wakes.end() && wake->second->exchange(false)) t.dirty = true;
    }
  }
  stop_workers();
  compactor.Stop();
  vacuum.Stop();
  if (options.board != nullptr) {
    for (const auto& t : tables) options.board->SetState(t.ds->name, "stopped");
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
