// The files one commit of a table appended, as a snapshot of only those files: scanning it
// reads what that commit appended through the regular scan path (columns mapped by name,
// partition values filled). AppendsReader (changes.h) reads a version range with it, one
// commit after the other; the runtime's shared reads of appended rows
// (runtime/shared_appends.h) read one version once for every view that follows the table.
//
// Pure function of the log; thread-safe.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "delta/table.h"

namespace lakepipe::delta {

struct CommitAppends {
  // The commit deletes or rewrites rows (a remove with dataChange = true: an overwrite,
  // DELETE, MERGE, an AUTO CDC target): its rows cannot be followed as appends.
  bool rewrites_rows = false;
  // Its data-changing adds, with the protocol and metadata of `end` (the schema the rows
  // are read in); null when the commit appended no file (OPTIMIZE, a commit of only txn).
  SnapshotPtr added;
};

// Commit `version` of `table`, read in the schema of `end` (a snapshot at or after it).
// NotFound names the version, and says when log cleanup removed it.
Result<CommitAppends> ReadCommitAppends(const DeltaTable& table, const Snapshot& end, int64_t version);

}  // namespace lakepipe::delta
