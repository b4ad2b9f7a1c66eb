// AuditUpkeep: the job server's daily VACUUM of its own audit table
// (`<jobs storage>/_audit`, governance/audit_log.h), as a continuous pipeline run gives
// the pipeline's `_audit` (runtime/continuous.cc). The audit log compacts its small files
// every AuditLog::kCompactEvery versions, leaving the replaced files on disk; a server that
// runs for months would keep every one of them without this. docs/jobs.md, "Serving".
//
// The schedule: the first VACUUM a minute after the server starts, then one a day
// (sql::kDefaultVacuumIntervalMicros, the pipelines' default). Each keeps the table's
// `delta.deletedFileRetentionDuration` (7 days by default), never less than an hour: the
// server and command-line runs append to the table beside it, and their data files exist
// before their commit names them. It first lists what it would delete and commits nothing
// when that is empty.
//
// Thread-safety: RunIfDue from one thread at a time (the server's upkeep thread);
// VacuumNow is a pure function of the table and the clock.
#pragma once

#include <cstdint>
#include <string>

#include "common/clock.h"
#include "common/fs.h"
#include "common/status.h"

namespace lakepipe::jobs {

inline constexpr int64_t kFirstAuditVacuumAfterMicros = 60LL * 1000000;

class AuditUpkeep {
 public:
  // `audit_path`: the audit table's folder; `clock` (not owned) decides when VACUUM is due
  // and what is old enough.
  AuditUpkeep(FileSystem* fs, Clock* clock, std::string audit_path);

  // VACUUMs when due (the number of files deleted), else 0 without I/O. A failed VACUUM
  // is returned and retried at the next due time.
  Result<int64_t> RunIfDue();

  // VACUUMs `path` now with its retention (at least an hour): the number of files
  // deleted; 0 when there is no table or nothing to delete.
  static Result<int64_t> VacuumNow(FileSystem* fs, Clock* clock, const std::string& path);

  const std::string& path() const { return path_; }

 private:
  FileSystem* fs_;
  Clock* clock_;
  std::string path_;
  int64_t next_micros_;
};

}  // namespace lakepipe::jobs
