// ServerUpkeep: what the job server does so that it can run for months (docs/jobs.md
// "Upkeep"), in `<jobs storage>`:
//   - VACUUM of the audit table `_audit` (governance/audit_log.h) and of the run history
//     `_job_runs` (jobs/run_history.h). Both compact their small files every 50 versions
//     (delta/append_log_compaction.h) and leave the replaced ones on disk. Each VACUUM
//     keeps the table's `delta.deletedFileRetentionDuration` (7 days by default), never
//     less than an hour: `job run` processes append beside the server, and their data
//     files exist before their commit names them. Rows are never deleted.
//   - Task logs: the folders `_job_logs/<job>/<run_id>/` in which nothing was written for
//     the jobs file's `log_retention` (30 days by default) are deleted. The run history
//     keeps the runs' rows, whose `log` then names a file that is gone.
//
// The schedule: the first upkeep a minute after the server starts, then one a day
// (sql::kDefaultVacuumIntervalMicros, the pipelines' default). A part that fails is
// reported and tried again at the next upkeep; the other parts still run.
//
// Thread-safety: RunIfDue from one thread at a time (the server's upkeep thread); the
// static functions are pure functions of the files and the clock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/fs.h"
#include "common/status.h"

namespace lakepipe::jobs {

inline constexpr int64_t kFirstUpkeepAfterMicros = 60LL * 1000000;

// What one upkeep did; `failures` names each part that failed and why.
struct UpkeepReport {
  bool ran = false;  // false: not due (nothing was looked at)
  int64_t audit_files_deleted = 0;
  int64_t run_history_files_deleted = 0;
  int64_t log_folders_deleted = 0;
  std::vector<std::string> failures;
};

class ServerUpkeep {
 public:
  // `storage`: the jobs storage folder; `clock` (not owned) decides when upkeep is due and
  // what is old enough; `log_retention_micros`: JobsFile::log_retention_micros.
  ServerUpkeep(FileSystem* fs, Clock* clock, std::string storage, int64_t log_retention_micros);

  // The upkeep when due, else a report with ran = false, without I/O.
  UpkeepReport RunIfDue();

  // VACUUMs the table at `path` now with its retention (at least an hour): the number of
  // files deleted; 0 when there is no table or nothing to delete.
  static Result<int64_t> VacuumNow(FileSystem* fs, Clock* clock, const std::string& path);
  // Deletes the run log folders under `<storage>/_job_logs` whose newest file is older
  // than `retention_micros`: how many. The jobs' own folders stay.
  static Result<int64_t> DeleteExpiredLogs(FileSystem* fs, Clock* clock, const std::string& storage,
                                           int64_t retention_micros);

  const std::string& storage() const { return storage_; }

 private:
  FileSystem* fs_;
  Clock* clock_;
  std::string storage_;
  int64_t log_retention_micros_;
  int64_t next_micros_;
};

}  // namespace lakepipe::jobs
