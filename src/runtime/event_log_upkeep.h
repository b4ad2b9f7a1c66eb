// EventLogUpkeep: keeps the pipeline's event log (`<storage>/_event_log`, event_log.h)
// bounded, in a continuous run that lasts months (a flush a second: ~86,000 commits and
// data files a day) and in cron-style `run --once` jobs (a commit or two per run).
// docs/event-log.md, "Retention and compaction", is the user's view. Three parts, each
// reusing the code that does the same for pipeline tables:
//   - retention: events older than `lakepipe.eventLog.retentionDuration` (pipeline
//     configuration, sql/event_log_settings.h: 7 days by default, 'off' keeps them) are
//     deleted by one DELETE commit
//     (delta::DeleteRows): files holding only older events are removed, a file holding
//     both is rewritten with its newer events, files whose stats show no old event are
//     not read. Events are appended in time order, so that is a few files at a time;
//   - compaction: the small files, one per flush, are compacted by auto-compaction
//     (AutoCompactor::CompactIfDue; `lakepipe.eventLog.autoCompact.minNumFiles`, 50 by
//     default);
//   - history: the table carries `delta.logRetentionDuration` and
//     `delta.deletedFileRetentionDuration` of one hour, and
//     `delta.setTransactionRetentionDuration` of a day (the txns of past runs leave its
//     checkpoints, delta/txn_retention.h) (EventLogHistoryProperties, added
//     by one metadata commit to an event log created without them; a value already set is
//     kept): Delta log cleanup (delta/log_cleanup.h) then removes its expired commit files
//     after each checkpoint, and VACUUM (ScheduledVacuum::VacuumNow) the files that
//     compaction and retention removed. Nobody time travels an event log; its rows are
//     what the retention keeps.
//
// In continuous mode Notify (after each flush) queues a look on a background thread of its
// own: compaction when due, retention and VACUUM at most once per
// expire_every_micros / vacuum_every_micros. `run --once` calls RunNow at the end of its
// update. Failures are WARN events (`event_log_retention`, `auto_compaction`,
// `scheduled_vacuum` of table `_event_log`) and never stop the run.
//
// Thread-safety: Notify from any thread; RunNow and the background job are serialised.
// Call order: Start (for Notify), Notify any number of times, Stop (or the destructor),
// which waits for the work in progress.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/fs.h"
#include "common/status.h"
#include "runtime/auto_compaction.h"
#include "runtime/scheduled_vacuum.h"
#include "runtime/table_job_queue.h"
#include "sql/event_log_settings.h"

namespace lakepipe::runtime {

class EventLog;

inline constexpr int64_t kEventLogUpkeepEveryMicros = 3600LL * 1000000;

struct EventLogUpkeepOptions {
  int64_t retention_micros = sql::kDefaultEventRetentionMicros;  // 0: events are kept forever
  int min_num_files = 0;  // small files before a compaction; 0: AutoCompactOptions' default
  // Continuous mode: retention and VACUUM at most this often.
  int64_t expire_every_micros = kEventLogUpkeepEveryMicros;
  int64_t vacuum_every_micros = kEventLogUpkeepEveryMicros;

  // From the pipeline's checked settings (sql/event_log_settings.h).
  static EventLogUpkeepOptions Of(const sql::EventLogSettings& settings) {
    EventLogUpkeepOptions options;
    options.retention_micros = settings.retention_micros;
    options.min_num_files = settings.min_num_files;
    return options;
  }
};

// The Delta properties of the event log's own history (see above).
std::map<std::string, std::string> EventLogHistoryProperties();

struct EventLogUpkeepResult {
  int64_t events_deleted = 0;
  bool compacted = false;
  int64_t files_vacuumed = 0;
};

class EventLogUpkeep {
 public:
  // `log` (may be null, not owned) receives the events of the upkeep.
  EventLogUpkeep(FileSystem* fs, Clock* clock, EventLog* log, const std::string& storage,
                 EventLogUpkeepOptions options);
  ~EventLogUpkeep();
  EventLogUpkeep(const EventLogUpkeep&) = delete;
  EventLogUpkeep& operator=(const EventLogUpkeep&) = delete;

  // Gives an existing event log the history properties (one metadata commit when they are
  // missing). Call before the run writes to the log: a metadata commit makes a concurrent
  // append of the log retry. RunNow and the background job do it too when needed.
  Status Prepare();
  void Start();
  // Queues a look (cheap: no I/O on the caller's thread).
  void Notify();
  void Stop();
  // All of it now, on the caller's thread: the history properties, retention, compaction,
  // and VACUUM when `vacuum`. Errors are also reported as WARN events.
  Result<EventLogUpkeepResult> RunNow(bool vacuum);
  // Deletes the events older than the retention (0 when none, or retention is off).
  Result<int64_t> ExpireEvents();

 private:
  void RunDue();
  Status EnsureHistoryProperties();

  FileSystem* fs_;
  Clock* clock_;
  EventLog* log_;
  std::string path_;
  EventLogUpkeepOptions options_;
  AutoCompactor compactor_;  // used on the upkeep's threads only (CompactIfDue)
  ScheduledVacuum vacuum_;   // likewise (VacuumNow)
  std::mutex run_mu_;        // serialises RunNow and the background job; guards below
  bool properties_checked_ = false;
  int64_t next_expire_micros_ = 0;
  int64_t next_vacuum_micros_ = 0;
  TableJobQueue jobs_;  // last: stopped first
};

}  // namespace lakepipe::runtime
