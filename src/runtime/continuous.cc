// The continuous scheduler (PipelineRunner::RunContinuous): one thread that runs each table
// as soon as it has new input and its trigger allows, in dependency order, and otherwise
// sleeps on inotify / a wake-up / the next timer. docs/triggers.md describes the rules.
#include <time.h>

#include <algorithm>

#include "common/uuid.h"
#include "runtime/event_log.h"
#include "runtime/file_watcher.h"
#include "runtime/pipeline_runner_internal.h"
#include "runtime/status_board.h"

namespace lakepipe::runtime {

namespace {

constexpr int64_t kMicrosPerMs = 1000;
// Every source folder is listed this often even without an inotify event (the backstop).
constexpr int64_t kBackstopMicros = 10 * 1000 * 1000;
// Events are appended to the event log at most this often in continuous mode.
constexpr int64_t kEventLogFlushMicros = 1000 * 1000;
// A failed table is retried after this delay, doubling up to the maximum.
constexpr int64_t kRetryMinMicros = 1000 * 1000;
constexpr int64_t kRetryMaxMicros = 5 * 60 * 1000 * 1000LL;

// The first daily window at or after `now` (local time), in microseconds since the epoch.
int64_t NextDailyMicros(const std::vector<int>& minutes, int64_t now_micros) {
  time_t now = static_cast<time_t>(now_micros / 1000000);
  for (int day = 0; day < 2; ++day) {
    for (int m : minutes) {
      struct tm local;
      localtime_r(&now, &local);
      local.tm_mday += day;
      local.tm_hour = m / 60;
      local.tm_min = m % 60;
      local.tm_sec = 0;
      local.tm_isdst = -1;
      int64_t at = static_cast<int64_t>(mktime(&local)) * 1000000;
      if (at >= now_micros) return at;
    }
  }
  return now_micros + 24LL * 3600 * 1000000;
}

struct TableSchedule {
  const sql::ResolvedDataset* ds = nullptr;
  sql::TriggerSpec trigger;
  bool dirty = true;            // may have new input
  bool full_refresh = false;    // pending --full-refresh (first run only)
  bool ran_once = false;
  int64_t not_before = 0;       // wall micros: trigger time or retry backoff
  int64_t retry_delay = 0;      // current backoff after failures (0: none)
  std::set<std::string> roots;  // read_files folders it watches
  std::set<std::string> wakes_on;  // upstream tables (lower case) whose commits wake it
};

}  // namespace

Status PipelineRunner::RunContinuous(const RunOptions& options) {
  Impl& r = *impl_;
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
  LP_RETURN_IF_ERROR(log.Flush());
  if (options.board != nullptr) options.board->Init(r.InitialStatus("continuous"));

  std::vector<TableSchedule> tables;
  int64_t now = r.clock->NowMicros();
  for (const auto& ds : r.resolved.datasets) {
    if (ds.kind == sql::DatasetKind::kView) continue;
    TableSchedule t;
    t.ds = &ds;
    auto trig = r.pipeline.settings.triggers.find(ds.name);
    if (trig != r.pipeline.settings.triggers.end()) t.trigger = trig->second;
    t.full_refresh = refresh.count(Lower(ds.name)) > 0;
    if (t.trigger.kind == sql::TriggerSpec::Kind::kDaily) t.not_before = NextDailyMicros(t.trigger.daily_minutes, now);
    PlanSources sources;
    r.CollectSources(*ds.plan, &sources);
    for (const auto* scan : sources.file_scans) {
      t.roots.insert(scan->read_files.path);
      LP_RETURN_IF_ERROR(watcher.Watch(scan->read_files.path));
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

  std::set<std::string> failed;
  int64_t next_backstop = now + kBackstopMicros;
  int64_t last_flush = now;
  while (!r.stop_requested.load()) {
    now = r.clock->NowMicros();
    if (now >= next_backstop) {
      for (auto& t : tables)
        if (!t.roots.empty()) t.dirty = true;
      next_backstop = now + kBackstopMicros;
    }
    int64_t wake_at = next_backstop;
    for (auto& t : tables) {
      if (r.stop_requested.load()) break;
      using Kind = sql::TriggerSpec::Kind;
      if (t.trigger.kind == Kind::kOnce && t.ran_once) continue;
      bool timed = t.trigger.kind == Kind::kInterval || t.trigger.kind == Kind::kDaily;
      // A timed table runs at its time whether or not anything was noticed (its own
      // listing decides); others run when something may be new.
      bool due = now >= t.not_before && (t.dirty || timed);
      if (!due) {
        if (t.not_before > now && (t.dirty || timed)) wake_at = std::min(wake_at, t.not_before);
        continue;
      }
      t.dirty = false;
      TableReport report = r.RunTable(*t.ds, t.full_refresh, failed, log, options.board);
      t.full_refresh = false;
      t.ran_once = true;
      now = r.clock->NowMicros();
      if (options.on_table && report.status != "up to date") options.on_table(report);
      std::string key = Lower(t.ds->name);
      if (report.status == "failed" || report.status == "skipped") {
        failed.insert(key);
        t.retry_delay = std::clamp(t.retry_delay * 2, kRetryMinMicros, kRetryMaxMicros);
        t.not_before = now + t.retry_delay;
        t.dirty = true;
        wake_at = std::min(wake_at, t.not_before);
        continue;
      }
      failed.erase(key);
      t.retry_delay = 0;
      if (t.trigger.kind == Kind::kInterval) t.not_before = now + t.trigger.interval_micros;
      if (t.trigger.kind == Kind::kDaily) t.not_before = NextDailyMicros(t.trigger.daily_minutes, now + 60 * 1000000);
      if (timed) wake_at = std::min(wake_at, t.not_before);
      if (report.status == "updated") {
        for (auto& down : tables)
          if (down.wakes_on.count(key)) down.dirty = true;
      }
      // Files that are not stable yet (fileStableMillis) need a look when they are.
      auto flow = r.flows.find(key);
      if (flow != r.flows.end() && flow->second->next_stable_in_micros > 0) {
        t.dirty = true;
        t.not_before = std::max(t.not_before, now + flow->second->next_stable_in_micros);
        wake_at = std::min(wake_at, t.not_before);
      }
      // More input than one trigger takes (maxFilesPerTrigger) was already handled by the
      // flow draining every batch; a backlog left means new files arrived meanwhile.
      if (flow != r.flows.end() && flow->second->backlog_files > 0 && flow->second->next_stable_in_micros == 0) {
        t.dirty = true;
      }
    }
    // An upstream commit may have marked an earlier-visited table dirty only if the graph
    // has a cycle (it does not); a table marked dirty by the loop above runs next round
    // without waiting.
    bool runnable = false;
    now = r.clock->NowMicros();
    for (const auto& t : tables) runnable |= t.dirty && t.not_before <= now && !(t.trigger.kind == sql::TriggerSpec::Kind::kOnce && t.ran_once) &&
                                             t.trigger.kind != sql::TriggerSpec::Kind::kInterval && t.trigger.kind != sql::TriggerSpec::Kind::kDaily;
    if (now - last_flush >= kEventLogFlushMicros) {
      LP_RETURN_IF_ERROR(log.Flush());
      last_flush = now;
    }
    if (r.stop_requested.load()) break;
    int64_t timeout_ms = runnable ? 0 : std::max<int64_t>(0, (wake_at - now + kMicrosPerMs - 1) / kMicrosPerMs);
    // Wake at least once a second to flush the event log while busy or idle.
    timeout_ms = std::min<int64_t>(timeout_ms, 1000);
    LP_ASSIGN_OR_RETURN(auto changed, watcher.Wait(timeout_ms));
    for (const auto& root : changed) {
      for (auto& t : tables)
        if (t.roots.count(root)) t.dirty = true;
    }
  }
  if (options.board != nullptr) {
    for (const auto& t : tables) options.board->SetState(t.ds->name, "stopped");
  }
  log.Add({0, "", "update_complete", "INFO", "continuous run stopped", "{}"});
  return log.Flush();
}

}  // namespace lakepipe::runtime
