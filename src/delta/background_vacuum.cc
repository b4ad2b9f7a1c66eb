#include "delta/background_vacuum.h"

#include <algorithm>

#include "delta/log_cleanup.h"
#include "delta/table.h"

namespace lakepipe::delta {

Result<BackgroundVacuumResult> VacuumBesideWriters(const std::string& path, FileSystem* fs, Clock* clock,
                                                   int64_t min_retention_millis) {
  TableOptions table_options;
  table_options.clock = clock;
  auto table = DeltaTable::Open(path, fs, table_options);
  if (!table.ok()) {
    if (table.status().IsNotFound()) return BackgroundVacuumResult{};
    return table.status();
  }
  LP_ASSIGN_OR_RETURN(SnapshotPtr snap, (*table)->Latest());
  BackgroundVacuumResult result;
  const int64_t retention_ms = std::max<int64_t>(DeletedFileRetentionMillis(snap->configuration()), min_retention_millis);
  VacuumOptions options;
  options.retention_hours = static_cast<double>(retention_ms) / 3600e3;
  result.retention_hours = options.retention_hours;
  options.dry_run = true;
  LP_ASSIGN_OR_RETURN(VacuumResult planned, (*table)->Vacuum(options));
  if (planned.deleted.empty()) return result;
  options.dry_run = false;
  LP_ASSIGN_OR_RETURN(VacuumResult done, (*table)->Vacuum(options));
  result.files_deleted = static_cast<int64_t>(done.deleted.size());
  result.start_version = done.start_version;
  return result;
}

}  // namespace lakepipe::delta
