#include "jobs/server_upkeep.h"

#include <algorithm>

#include "delta/background_vacuum.h"
#include "governance/audit_log.h"
#include "jobs/run_history.h"
#include "sql/table_properties.h"

namespace lakepipe::jobs {

namespace {
constexpr int64_t kMinRetentionMillis = 3600 * 1000;

// The newest modification time of a file under `dir` (the folder's own when it is empty).
Result<int64_t> NewestWrite(FileSystem* fs, const std::string& dir, int64_t folder_mtime) {
  int64_t newest = folder_mtime;
  LP_ASSIGN_OR_RETURN(auto entries, fs->ListDir(dir));
  for (const auto& e : entries) {
    if (e.is_dir) {
      LP_ASSIGN_OR_RETURN(int64_t inner, NewestWrite(fs, dir + "/" + e.name, e.mtime_micros));
      newest = std::max(newest, inner);
    } else {
      newest = std::max(newest, e.mtime_micros);
    }
  }
  return newest;
}
}  // namespace

ServerUpkeep::ServerUpkeep(FileSystem* fs, Clock* clock, std::string storage, int64_t log_retention_micros)
    : fs_(fs),
      clock_(clock),
      storage_(std::move(storage)),
      log_retention_micros_(log_retention_micros),
      next_micros_(clock->NowMicros() + kFirstUpkeepAfterMicros) {}

UpkeepReport ServerUpkeep::RunIfDue() {
  UpkeepReport report;
  const int64_t now = clock_->NowMicros();
  if (now < next_micros_) return report;
  next_micros_ = now + sql::kDefaultVacuumIntervalMicros;
  report.ran = true;
  auto fail = [&report](const std::string& what, const Status& st) { report.failures.push_back(what + ": " + st.message()); };
  const std::string audit = governance::AuditLog::TablePath(storage_);
  auto audit_done = VacuumNow(fs_, clock_, audit);
  if (audit_done.ok()) report.audit_files_deleted = *audit_done;
  else fail("VACUUM of " + audit, audit_done.status());
  const std::string runs = RunHistory(storage_).table_path();
  auto runs_done = VacuumNow(fs_, clock_, runs);
  if (runs_done.ok()) report.run_history_files_deleted = *runs_done;
  else fail("VACUUM of " + runs, runs_done.status());
  auto logs_done = DeleteExpiredLogs(fs_, clock_, storage_, log_retention_micros_);
  if (logs_done.ok()) report.log_folders_deleted = *logs_done;
  else fail("task logs under " + storage_ + "/_job_logs", logs_done.status());
  return report;
}

Result<int64_t> ServerUpkeep::VacuumNow(FileSystem* fs, Clock* clock, const std::string& path) {
  LP_ASSIGN_OR_RETURN(delta::BackgroundVacuumResult done, delta::VacuumBesideWriters(path, fs, clock, kMinRetentionMillis));
  return done.files_deleted;
}

Result<int64_t> ServerUpkeep::DeleteExpiredLogs(FileSystem* fs, Clock* clock, const std::string& storage,
                                                int64_t retention_micros) {
  const std::string root = storage + "/_job_logs";
  auto jobs = fs->ListDir(root);
  if (!jobs.ok()) return jobs.status().IsNotFound() ? Result<int64_t>(int64_t{0}) : jobs.status();
  const int64_t cutoff = clock->NowMicros() - retention_micros;
  int64_t deleted = 0;
  for (const auto& job : *jobs) {
    if (!job.is_dir) continue;
    const std::string job_dir = root + "/" + job.name;
    // The job's own folder stays (one per job): a run starting now creates its folder in it.
    LP_ASSIGN_OR_RETURN(auto runs, fs->ListDir(job_dir));
    for (const auto& run : runs) {
      if (!run.is_dir) continue;
      const std::string run_dir = job_dir + "/" + run.name;
      // A run still writing (or resumed) has a fresh file: only quiet folders go.
      LP_ASSIGN_OR_RETURN(int64_t newest, NewestWrite(fs, run_dir, run.mtime_micros));
      if (newest >= cutoff) continue;
      LP_RETURN_IF_ERROR(fs->RemoveAll(run_dir).WithContext("deleting the expired task logs " + run_dir));
      ++deleted;
    }
  }
  return deleted;
}

}  // namespace lakepipe::jobs
