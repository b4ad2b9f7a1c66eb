// ContinuousScheduler: decides when each table of a continuous run updates, and starts
// those updates on a small pool of worker threads (docs/continuous.md states the rules:
// new input, upstream commits, triggers, the commit rate, retries with backoff, the
// backstop listing, re-planning after a schema change).
//
// It only schedules. What an update does (plan, read, process, commit a micro-batch or a
// materialized view; the event log; the status board) is the Host's: the scheduler calls
// Host::RunTable on a worker and reads back a typed Outcome. PipelineRunner::RunContinuous
// is the Host (runtime/continuous.cc).
//
// Owns: each table's schedule (ScheduledTable plus what the loop learns: whether it may
// have new input, when it may run next, its backoff, whether it is running) and the
// worker threads, which it joins before Run returns. Not owned: the Host, the FileWatcher
// and the Clock, which must outlive Run.
//
// Thread-safety: Run is called once, on one thread (the scheduler thread), which alone
// reads and changes the schedule. Host::RunTable runs on the workers, at most one call
// per table at a time, up to `max_parallel` at once; every other Host method is called on
// the scheduler thread. Wake-ups from other threads go through FileWatcher::Wake, and
// NoteCommitted may be called from any thread while Run runs.
//
// Call order: construct, Run (returns once Host::StopRequested() is true and the updates
// in progress have finished, or when waiting for file events fails), destroy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "runtime/pipeline_runner.h"
#include "sql/pipeline.h"

namespace lakepipe::runtime {

class FileWatcher;

// What the scheduler knows of one table, fixed for the run. Tables are given upstream
// first (the pipeline's dependency order): when several are due, upstream ones start first.
struct ScheduledTable {
  std::string name;                // as declared
  bool streaming = false;          // a streaming table (one micro-batch per update), else a materialized view
  sql::TriggerSpec trigger;        // pipeline.yaml `triggers:` (continuous by default)
  bool full_refresh = false;       // --full-refresh: its first update rebuilds it
  // pipelines.trigger.interval: after an update that committed, the next starts no sooner
  // than this (0: at once).
  int64_t min_interval_micros = 0;
  // lakepipe.vacuum.interval (0: never) and when the first scheduled VACUUM is due.
  int64_t vacuum_interval_micros = 0;
  int64_t first_vacuum_micros = 0;
  std::set<std::string> roots;     // read_files folders whose file events wake it
  std::set<std::string> wakes_on;  // tables (lower case) whose commits wake it
  bool message_source = false;     // reads Kafka / PostgreSQL CDC (Host::TakeMessageWake)
};

// How an update ended, parsed once from TableReport::status.
enum class UpdateOutcome {
  kUpdated,    // committed at least one version
  kUpToDate,   // nothing new
  kWaiting,    // an input table has no data yet: runs when that table commits
  kFailed,     // retried with backoff; tables downstream are skipped meanwhile
  kSkipped,    // an upstream table failed (treated as a failure)
  kRestarted,  // stopped for new columns: the pipeline is re-planned and it runs again at once
};
// The outcome a TableReport::status names; an unknown status is an Internal error.
Result<UpdateOutcome> UpdateOutcomeOf(const std::string& status);

// What a worker hands back after one update.
struct FinishedUpdate {
  TableReport report;
  // Input still waiting after the update (files beyond the per-trigger limits, a message
  // source's backlog): the table runs again at once.
  bool more_input = false;
  // Files not stable yet (fileStableMillis): look again after this long (0: none).
  int64_t next_stable_in_micros = 0;
};

class ContinuousScheduler {
 public:
  // Upkeep beyond 1 s between updates is the host's (event log flushing: Tick).
  class Host {
   public:
    virtual ~Host() = default;
    // Updates table `index` (full_refresh: rebuild it) unless a table in `failed` (lower
    // case) that it reads failed. `restarts` of `max_restarts` for new columns were used
    // in a row. On a worker thread; never fails (a failure is the report's status).
    virtual FinishedUpdate RunTable(size_t index, bool full_refresh, const std::set<std::string>& failed,
                                    int64_t restarts, int64_t max_restarts) = 0;
    // The update of table `index` finished (scheduler thread): reporting, and the upkeep
    // after a commit (auto-compaction) when `outcome` is kUpdated.
    virtual void Finished(size_t index, const TableReport& report, UpdateOutcome outcome) = 0;
    // A scheduled VACUUM of table `index` is due (queue it; it must not block).
    virtual void VacuumDue(size_t index) = 0;
    // Re-plans the pipeline after a restart for new columns; only called while no table
    // runs. `changed`: the tables whose plans changed (they look for input again).
    virtual void Replan(std::vector<std::string>* changed) = 0;
    // Whether table `index`'s message source saw new data since the last call (clears it).
    virtual bool TakeMessageWake(size_t index) = 0;
    virtual bool StopRequested() = 0;
    // Stops the run (waiting for file events failed): updates in progress end after
    // their current batch, as after RequestStop.
    virtual void RequestStop() = 0;
    // Called at least once a second and after each pass of the loop.
    virtual void Tick(int64_t now_micros) = 0;
  };

  // Every table's read_files folders are watched through `watcher` (already Watch()ed).
  ContinuousScheduler(std::vector<ScheduledTable> tables, Host* host, FileWatcher* watcher, Clock* clock,
                      int64_t max_restarts, size_t max_parallel);
  ~ContinuousScheduler();
  ContinuousScheduler(const ContinuousScheduler&) = delete;
  ContinuousScheduler& operator=(const ContinuousScheduler&) = delete;

  // Runs the loop until Host::StopRequested() and no update runs; an error only when
  // waiting for file events fails (the updates in progress are finished first).
  Status Run();

  // Table `name` (any case) committed a version that its readers can see, before its
  // update has ended (a streaming table's Delta commit, ahead of its state and commit
  // record): the tables that wake on it are marked at once, on the scheduler's next pass,
  // instead of when the update returns; that update's end then does not mark them again.
  // Thread-safe (a worker calls it from Host::RunTable); an unknown name is ignored.
  void NoteCommitted(const std::string& name);

  // Every read_files folder is listed this often even without an inotify event.
  static constexpr int64_t kBackstopMicros = 10 * 1000 * 1000;
  // A failed table is retried after this delay, doubling up to the maximum.
  static constexpr int64_t kRetryMinMicros = 1000 * 1000;
  static constexpr int64_t kRetryMaxMicros = 5 * 60 * 1000 * 1000LL;

 private:
  struct State;
  struct Workers;
  void Handle(size_t index, FinishedUpdate done, int64_t now);
  void WakeReaders(size_t index);
  void StartDue(int64_t now);
  int64_t WakeAt(int64_t now) const;

  std::vector<ScheduledTable> tables_;
  std::vector<State> state_;
  Host* host_;
  FileWatcher* watcher_;
  Clock* clock_;
  int64_t max_restarts_;
  size_t max_parallel_;
  std::set<std::string> failed_;  // lower-case names of the tables whose last update failed
  size_t running_ = 0;
  bool replan_pending_ = false;
  int64_t next_backstop_ = 0;
  std::unique_ptr<Workers> workers_;
};

}  // namespace lakepipe::runtime
