#include "jobs/audit_upkeep.h"

#include <algorithm>

#include "delta/log_cleanup.h"
#include "delta/table.h"
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
  delta::TableOptions table_options;
  table_options.clock = clock;
  auto table = delta::DeltaTable::Open(path, fs, table_options);
  if (!table.ok()) return table.status().IsNotFound() ? Result<int64_t>(int64_t{0}) : table.status();
  LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, (*table)->Latest());
  delta::VacuumOptions options;
  const int64_t retention_ms =
      std::max<int64_t>(delta::DeletedFileRetentionMillis(snap->configuration()), kMinRetentionMillis);
  options.retention_hours = static_cast<double>(retention_ms) / 3600e3;
  options.dry_run = true;
  LP_ASSIGN_OR_RETURN(delta::VacuumResult planned, (*table)->Vacuum(options));
  if (planned.deleted.empty()) return int64_t{0};
  options.dry_run = false;
  LP_ASSIGN_OR_RETURN(delta::VacuumResult done, (*table)->Vacuum(options));
  return static_cast<int64_t>(done.deleted.size());
}

}  // namespace lakepipe::jobs
