// Compaction of lakepipe's own append-only record tables: the audit log
// (governance/audit_log.h) and the job run history (jobs/run_history.h). Each of their
// commits adds one small data file; without this a server that runs for months leaves one
// file per record for every scan and checkpoint to list.
//
// The rule: the commit of every kAppendLogCompactEvery-th version compacts the table
// (OPTIMIZE, dataChange=false: readers see the same rows), whichever process wrote the
// versions before, so cron-style commands that each append once compact as a long-running
// server does. The replaced files stay on disk until a VACUUM (the job server's upkeep,
// jobs/server_upkeep.h; a continuous run's own for its `_audit`).
//
// Thread-safety: as DeltaTable::Optimize (a compaction that loses a race with another
// writer's commit fails and is tried again kAppendLogCompactEvery versions later).
#pragma once

#include <cstdint>

#include "common/status.h"

namespace lakepipe::delta {

class DeltaTable;

inline constexpr int kAppendLogCompactEvery = 50;

inline bool AppendLogCompactionDue(int64_t committed_version) {
  return committed_version > 0 && committed_version % kAppendLogCompactEvery == 0;
}

// OPTIMIZEs `table`'s small files (at least two). Call when AppendLogCompactionDue of the
// version just committed; the record it follows is committed whatever this returns.
Status CompactAppendLog(const DeltaTable& table);

}  // namespace lakepipe::delta
