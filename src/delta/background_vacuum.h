// VacuumBesideWriters: the VACUUM that lakepipe's background upkeep runs on a table while
// other processes or threads may be writing to it (a continuous run's scheduled VACUUM,
// runtime/scheduled_vacuum.h; the job server's VACUUM of its audit table and run history,
// jobs/server_upkeep.h).
//
// It keeps the table's own `delta.deletedFileRetentionDuration`, never less than
// `min_retention_millis`, because the writers' data files exist before their commit names
// them. It lists what it would delete first (a dry run) and writes its VACUUM START / END
// commits only when there is something to delete. A folder without a table deletes nothing.
//
// A pure function of the table and the clock; safe from any thread (DeltaTable::Vacuum's
// own rules for concurrent writers apply).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/fs.h"
#include "common/status.h"

namespace lakepipe::delta {

struct BackgroundVacuumResult {
  int64_t files_deleted = 0;
  std::optional<int64_t> start_version;  // the VACUUM START commit, when files were deleted
  double retention_hours = 0;            // the retention kept
};

Result<BackgroundVacuumResult> VacuumBesideWriters(const std::string& path, FileSystem* fs, Clock* clock,
                                                   int64_t min_retention_millis);

}  // namespace lakepipe::delta
