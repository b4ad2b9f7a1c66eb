// Delta log cleanup ("Metadata Cleanup" in PROTOCOL.md): removes the `_delta_log` entries
// that `delta.logRetentionDuration` (30 days by default) no longer asks to keep, so a table
// committed to every second for months keeps a bounded log. Also the retention properties
// as lakepipe reads them, and the error a reader gets for a version that was cleaned up.
//
// The rule (PROTOCOL.md): the newest commit not newer than now - retention is the cut-off
// commit; the newest complete checkpoint at or before it is the cut-off checkpoint; every
// commit file, checkpoint file and checksum file of a version before that checkpoint is
// deleted, oldest first. The checkpoint and its own commit file stay, and every commit
// after it, so every version from the checkpoint on can still be read and time travelled
// to. Without such a checkpoint nothing is deleted. `delta.enableExpiredLogCleanup =
// false` turns it off.
//
// Run after each checkpoint is written (commit.cc), as Delta does. Pure functions of the
// files they read and delete; safe from several threads; a crash half-way leaves a log
// whose remaining old entries are still contiguous up to the checkpoint.
#pragma once

#include <cstdint>
#include <string>

#include "common/fs.h"
#include "common/status.h"
#include "delta/log.h"

namespace lakepipe::delta {

inline constexpr int64_t kDefaultLogRetentionMillis = 30LL * 86400 * 1000;
inline constexpr int64_t kDefaultDeletedFileRetentionMillis = 7LL * 86400 * 1000;

// delta.logRetentionDuration in milliseconds (30 days when absent or unreadable).
int64_t LogRetentionMillis(const StringMap& configuration);
// delta.deletedFileRetentionDuration in milliseconds (7 days when absent or unreadable).
int64_t DeletedFileRetentionMillis(const StringMap& configuration);

// Drops from `state` the tombstones whose deletionTimestamp (absent: 0) is before
// now - delta.deletedFileRetentionDuration of its configuration: what a checkpoint leaves
// out (PROTOCOL.md keeps a tombstone at least that long, and only VACUUM reads them, with
// at least that retention). Returns how many went. O(tombstones).
int64_t DropExpiredTombstones(TableState* state, int64_t now_millis);

struct LogCleanupResult {
  int64_t cutoff_checkpoint = -1;  // the checkpoint kept as the log's new start (-1: none)
  int64_t files_deleted = 0;
};

// Deletes the expired entries of the log of `table_path`, whose latest metadata holds
// `configuration`, as of `now_millis`.
Result<LogCleanupResult> CleanUpExpiredLog(FileSystem* fs, const std::string& table_path,
                                           const StringMap& configuration, int64_t now_millis);

// NotFound naming the version, the oldest version the log can still give and the
// property, when `version` is older than what log cleanup kept; OK otherwise (the caller
// then reports its own error).
Status CheckVersionRetained(FileSystem* fs, const std::string& table_path, int64_t version);

}  // namespace lakepipe::delta
