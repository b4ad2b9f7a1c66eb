#include "runtime/continuous_scheduler.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include "runtime/file_watcher.h"

namespace lakepipe::runtime {

namespace {

constexpr int64_t kMicrosPerMs = 1000;

std::string LowerName(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool Timed(const sql::TriggerSpec& t) {
  return t.kind == sql::TriggerSpec::Kind::kInterval || t.kind == sql::TriggerSpec::Kind::kDaily;
}

}  // namespace

Result<UpdateOutcome> UpdateOutcomeOf(const std::string& status) {
  if (status == "updated") return UpdateOutcome::kUpdated;
  if (status == "up to date") return UpdateOutcome::kUpToDate;
  if (status == "waiting") return UpdateOutcome::kWaiting;
  if (status == "failed") return UpdateOutcome::kFailed;
  if (status == "skipped") return UpdateOutcome::kSkipped;
  if (status == "restarted") return UpdateOutcome::kRestarted;
  return Status::Internal("a table update ended with an unknown status '" + status + "'");
}

// What the loop learns of a table as the run goes.
struct ContinuousScheduler::State {
  std::string key;              // lower-case name
  bool dirty = true;            // may have new input
  bool full_refresh = false;    // pending --full-refresh (first run only)
  bool running_full_refresh = false;  // the update in progress is the full refresh
  // Restarts after a stop for new fields since the table last committed (bounded by
  // max_restarts, so a stop that makes no progress cannot loop).
  int64_t restarts_in_a_row = 0;
  bool ran_once = false;
  bool waiting = false;         // its last update waited for upstream data (no timer until then)
  bool busy = false;            // an update is running
  // The running update already woke the tables downstream (NoteCommitted).
  bool readers_woken = false;
  int64_t not_before = 0;       // wall micros: trigger time, commit-rate limit or retry backoff
  int64_t retry_delay = 0;      // current backoff after failures (0: none)
  int64_t next_vacuum = 0;      // wall micros of the next scheduled VACUUM
};

// The worker threads and what passes between them and the scheduler thread. A table's
// update is queued by the scheduler and run by the first free worker; its result waits in
// `finished` until the scheduler's next pass.
struct ContinuousScheduler::Workers {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> queue;                // guarded by mu
  std::vector<std::pair<size_t, FinishedUpdate>> finished;  // guarded by mu
  std::vector<std::string> committed;                      // guarded by mu: NoteCommitted's names
  bool shutting_down = false;                             // guarded by mu
  std::vector<std::thread> threads;

  void Start(size_t n, FileWatcher* watcher) {
    for (size_t w = 0; w < n; ++w) {
      threads.emplace_back([this, watcher] {
        while (true) {
          std::function<void()> job;
          {
            std::unique_lock<std::mutex> lock(mu);
            cv.wait(lock, [this] { return shutting_down || !queue.empty(); });
            if (queue.empty()) return;
            job = std::move(queue.front());
            queue.pop_front();
          }
          job();
          watcher->Wake();  // the scheduler handles the outcome at once
        }
      });
    }
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu);
      shutting_down = true;
    }
    cv.notify_all();
    for (auto& t : threads) t.join();
    threads.clear();
  }
};

ContinuousScheduler::ContinuousScheduler(std::vector<ScheduledTable> tables, Host* host, FileWatcher* watcher,
                                         Clock* clock, int64_t max_restarts, size_t max_parallel)
    : tables_(std::move(tables)),
      state_(tables_.size()),
      host_(host),
      watcher_(watcher),
      clock_(clock),
      max_restarts_(max_restarts),
      max_parallel_(std::min<size_t>(std::max<size_t>(1, max_parallel), std::max<size_t>(1, tables_.size()))),
      workers_(std::make_unique<Workers>()) {
  for (size_t i = 0; i < tables_.size(); ++i) {
    state_[i].key = LowerName(tables_[i].name);
    state_[i].full_refresh = tables_[i].full_refresh;
    state_[i].next_vacuum = tables_[i].first_vacuum_micros;
    // A daily table's first update is at its next time of day, not at the start.
    if (tables_[i].trigger.kind == sql::TriggerSpec::Kind::kDaily) {
      state_[i].not_before = sql::NextDailyMicros(tables_[i].trigger.daily_minutes, clock_->NowMicros());
    }
  }
}

ContinuousScheduler::~ContinuousScheduler() { workers_->Stop(); }

void ContinuousScheduler::NoteCommitted(const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(workers_->mu);
    workers_->committed.push_back(LowerName(name));
  }
  watcher_->Wake();
}

void ContinuousScheduler::WakeReaders(size_t index) {
  for (size_t d = 0; d < tables_.size(); ++d)
    if (tables_[d].wakes_on.count(state_[index].key)) state_[d].dirty = true;
}

void ContinuousScheduler::Handle(size_t i, FinishedUpdate done, int64_t now) {
  const ScheduledTable& t = tables_[i];
  State& s = state_[i];
  s.busy = false;
  --running_;
  Result<UpdateOutcome> parsed = UpdateOutcomeOf(done.report.status);
  if (!parsed.ok()) {
    // Not expected: treated as a failure (retried with backoff), and said.
    done.report.message = parsed.status().message();
    done.report.status = "failed";
  }
  const UpdateOutcome outcome = parsed.ok() ? *parsed : UpdateOutcome::kFailed;
  host_->Finished(i, done.report, outcome);
  using Kind = sql::TriggerSpec::Kind;
  switch (outcome) {
    case UpdateOutcome::kRestarted:
      // Not a failure: no backoff. The same full refresh, if it was one (its first batch
      // is planned again after the reset, now with the new columns).
      s.restarts_in_a_row += 1;
      s.full_refresh = s.running_full_refresh;
      s.dirty = true;
      replan_pending_ = true;
      return;
    case UpdateOutcome::kFailed:
    case UpdateOutcome::kSkipped:
      failed_.insert(s.key);
      s.retry_delay = std::clamp(s.retry_delay * 2, kRetryMinMicros, kRetryMaxMicros);
      s.not_before = now + s.retry_delay;
      s.dirty = true;
      return;
    default:
      break;
  }
  failed_.erase(s.key);
  s.retry_delay = 0;
  if (outcome == UpdateOutcome::kUpdated) s.restarts_in_a_row = 0;
  // A table waiting for its upstream's first data runs when that data is committed (it is
  // then marked dirty), not on its timer.
  s.waiting = outcome == UpdateOutcome::kWaiting;
  if (s.waiting) return;
  if (t.trigger.kind == Kind::kInterval) s.not_before = now + t.trigger.interval_micros;
  if (t.trigger.kind == Kind::kDaily) s.not_before = sql::NextDailyMicros(t.trigger.daily_minutes, now + 60 * 1000000);
  if (outcome == UpdateOutcome::kUpdated) {
    // Measured from the end of the update, so two commits are always at least the
    // interval apart (Spark measures from the batch's start).
    if (t.trigger.kind == Kind::kContinuous && t.min_interval_micros > 0) {
      s.not_before = std::max(s.not_before, now + t.min_interval_micros);
    }
    // Unless its commit already did (NoteCommitted): a second wake-up would run each reader
    // once more for nothing.
    if (!s.readers_woken) WakeReaders(i);
    // A streaming table takes one batch per update: look for the next one.
    if (t.streaming) s.dirty = true;
  }
  // Files that are not stable yet (fileStableMillis) need a look when they are; input
  // left over means files arrived while the table ran, or a per-trigger limit cut it.
  if (done.next_stable_in_micros > 0) {
    s.dirty = true;
    s.not_before = std::max(s.not_before, now + done.next_stable_in_micros);
  } else if (done.more_input) {
    s.dirty = true;
  }
}

void ContinuousScheduler::StartDue(int64_t now) {
  // Upstream tables first: they are given in dependency order.
  for (size_t i = 0; i < tables_.size() && running_ < max_parallel_ && !replan_pending_; ++i) {
    const ScheduledTable& t = tables_[i];
    State& s = state_[i];
    if (s.busy || (t.trigger.kind == sql::TriggerSpec::Kind::kOnce && s.ran_once)) continue;
    // A timed table runs at its time whether or not anything was noticed (its own listing
    // decides); others run when something may be new.
    if (now < s.not_before || !(s.dirty || (Timed(t.trigger) && !s.waiting))) continue;
    s.dirty = false;
    s.ran_once = true;
    s.busy = true;
    s.readers_woken = false;
    ++running_;
    const bool full = s.full_refresh;
    s.full_refresh = false;
    s.running_full_refresh = full;
    std::set<std::string> failed_now = failed_;
    const int64_t restarts = s.restarts_in_a_row;
    Workers* w = workers_.get();
    Host* host = host_;
    const int64_t max_restarts = max_restarts_;
    std::lock_guard<std::mutex> lock(w->mu);
    w->queue.push_back([w, host, i, full, failed_now = std::move(failed_now), restarts, max_restarts] {
      FinishedUpdate done = host->RunTable(i, full, failed_now, restarts, max_restarts);
      std::lock_guard<std::mutex> done_lock(w->mu);
      w->finished.emplace_back(i, std::move(done));
    });
    w->cv.notify_one();
  }
}

int64_t ContinuousScheduler::WakeAt(int64_t now) const {
  int64_t wake_at = next_backstop_;
  for (size_t i = 0; i < tables_.size(); ++i) {
    const ScheduledTable& t = tables_[i];
    const State& s = state_[i];
    if (t.vacuum_interval_micros > 0) wake_at = std::min(wake_at, s.next_vacuum);
    if (!s.busy && (s.dirty || (Timed(t.trigger) && !s.waiting)) && s.not_before > now)
      wake_at = std::min(wake_at, s.not_before);
  }
  return wake_at;
}

Status ContinuousScheduler::Run() {
  workers_->Start(max_parallel_, watcher_);
  int64_t now = clock_->NowMicros();
  next_backstop_ = now + kBackstopMicros;
  Status loop_status;
  while (true) {
    // Outcomes of the updates that finished.
    std::vector<std::pair<size_t, FinishedUpdate>> done;
    std::vector<std::string> committed;
    {
      std::lock_guard<std::mutex> lock(workers_->mu);
      done.swap(workers_->finished);
      committed.swap(workers_->committed);
    }
    now = clock_->NowMicros();
    // Commits noted during updates (taken with the outcomes, so before the end of the
    // update that made them): their readers may start while that update finishes.
    for (const auto& key : committed) {
      for (size_t i = 0; i < tables_.size(); ++i) {
        if (state_[i].key != key) continue;
        WakeReaders(i);
        if (state_[i].busy) state_[i].readers_woken = true;
      }
    }
    for (auto& [i, finished] : done) Handle(i, std::move(finished), now);
    if (host_->StopRequested()) {
      if (running_ == 0) break;
    } else {
      for (size_t i = 0; i < tables_.size(); ++i) {
        if (tables_[i].vacuum_interval_micros > 0 && now >= state_[i].next_vacuum) {
          host_->VacuumDue(i);
          state_[i].next_vacuum = now + tables_[i].vacuum_interval_micros;
        }
      }
      if (now >= next_backstop_) {
        for (size_t i = 0; i < tables_.size(); ++i)
          if (!tables_[i].roots.empty() || tables_[i].message_source) state_[i].dirty = true;
        next_backstop_ = now + kBackstopMicros;
      }
      // A flow stopped for new fields: nothing new starts until the tables running now are
      // done; then the pipeline is re-planned (which no running table may see) and the
      // flow runs again at once.
      if (replan_pending_ && running_ == 0) {
        replan_pending_ = false;
        std::vector<std::string> changed;
        host_->Replan(&changed);
        // A table whose plan changed looks for input again (downstream tables gain the
        // new columns from their next batch).
        for (const auto& n : changed)
          for (size_t i = 0; i < tables_.size(); ++i)
            if (LowerName(n) == state_[i].key) state_[i].dirty = true;
      }
      StartDue(now);
    }
    host_->Tick(now);
    // Sleep until something changes: a file, a finished update, a stop, or the next timer;
    // at least once a second (the host's Tick).
    int64_t timeout_ms = std::clamp<int64_t>((WakeAt(now) - now + kMicrosPerMs - 1) / kMicrosPerMs, 0, 1000);
    auto changed = watcher_->Wait(timeout_ms);
    if (!changed.ok()) {
      loop_status = changed.status();
      host_->RequestStop();
      continue;
    }
    for (const auto& root : *changed)
      for (size_t i = 0; i < tables_.size(); ++i)
        if (tables_[i].roots.count(root)) state_[i].dirty = true;
    for (size_t i = 0; i < tables_.size(); ++i)
      if (tables_[i].message_source && host_->TakeMessageWake(i)) state_[i].dirty = true;
  }
  workers_->Stop();
  return loop_status;
}

}  // namespace lakepipe::runtime
