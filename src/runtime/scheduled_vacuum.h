// ScheduledVacuum: VACUUM of pipeline tables on a schedule in continuous mode
// (`TBLPROPERTIES ('lakepipe.vacuum.interval' = '6 hours')`, daily by default, 'off' never;
// docs/continuous.md, "Scheduled VACUUM").
//
// Each VACUUM is `DeltaTable::Vacuum` (the code of `lakepipe table vacuum`) with the table's
// own retention, `delta.deletedFileRetentionDuration` (7 days by default; never under one
// hour here, as it runs beside the run's own writers): a
// file goes only once no version younger than the retention names it and it is older than
// the retention, so readers of any version within the retention (time travel, a lagging
// streaming read, a query in flight) keep their files, and files of a commit still being
// written are too young to go. It first lists what it would delete (a dry run) and writes
// its VACUUM START / END commits only when there is something to delete.
//
// Thread-safety: Queue from any thread; one background thread does the work. Call order:
// Start, Queue any number of times, Stop (or the destructor), which waits for the VACUUM
// in progress.
#pragma once

#include <string>

#include "common/clock.h"
#include "common/fs.h"
#include "common/status.h"
#include "runtime/table_job_queue.h"

namespace lakepipe::runtime {

class EventLog;

class ScheduledVacuum {
 public:
  // `log` (may be null, not owned) receives a `scheduled_vacuum` event per VACUUM that
  // deleted files, and a WARN per failure.
  ScheduledVacuum(FileSystem* fs, Clock* clock, EventLog* log);
  ~ScheduledVacuum();
  ScheduledVacuum(const ScheduledVacuum&) = delete;
  ScheduledVacuum& operator=(const ScheduledVacuum&) = delete;

  void Start();
  // Queues a VACUUM of table `name` at `path` (ignored while one of it is queued).
  void Queue(const std::string& name, const std::string& path);
  void Stop();
  // Runs one now, on the caller's thread: the number of files deleted.
  Result<int64_t> VacuumNow(const std::string& name, const std::string& path);

 private:
  FileSystem* fs_;
  Clock* clock_;
  EventLog* log_;
  TableJobQueue jobs_;  // last: stopped first
};

}  // namespace lakepipe::runtime
