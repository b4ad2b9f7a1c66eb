#include "jobs/audit_upkeep.h"

#include "delta/background_vacuum.h"
#include "sql/table_properties.h"

namespace lakepipe::jobs {

namespace {
constexpr int64_t kMinRetentionMillis = 3600 * 1000;
}  // namespace

AuditUpkeep::AuditUpkeep(FileSystem* fs, Clock* clock, std::string audit_path)
    : fs_(fs), clock_(clock), path_(std::move(audit_path)), next_micros_(clock->NowMicros() + kFirstAuditVacuumAfterMicros) {}

Result<int64_t> AuditUpkeep::RunIfDue() {
  const int64_t now = clock_->NowMicros();
  if (now < next_micros_) return int64_t{0};
  next_micros_ = now + sql::kDefaultVacuumIntervalMicros;
  return VacuumNow(fs_, clock_, path_);
}

Result<int64_t> AuditUpkeep::VacuumNow(FileSystem* fs, Clock* clock, const std::string& path) {
  LP_ASSIGN_OR_RETURN(delta::BackgroundVacuumResult done, delta::VacuumBesideWriters(path, fs, clock, kMinRetentionMillis));
  return done.files_deleted;
}

}  // namespace lakepipe::jobs
