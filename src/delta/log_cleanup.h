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
// at least that retention). A tombstone of a remove tagged as kept by its file's
// modification time goes after an hour instead (delta/mtime_kept.h: the file's time keeps
// it from VACUUM for the table's retention). Returns how many went. O(tombstones).
int64_t DropExpiredTombstones(TableState* state, int64_t now_millis);

struct LogCleanupResult {
  int64_t cutoff_checkpoint = -1;  // the checkpoint kept as the log's new start (-1: none)
  int64_t files_deleted = 0;
};

// Deletes the expired entries of the log of `table_path`, whose latest metadata holds
// `configuration`, as of `now_millis`.
Result<LogCleanupResult> CleanUpExpiredLog(FileSystem* fs, const std::string& table_path,
                                           const StringMap& configuration, int64_t now_millis);

// Checkpoint thinning (a lakepipe extension; docs/delta.md, "Checkpoint thinning"). A table
// committing 10 times a second with a checkpoint every 100 commits writes 8,640 checkpoints
// a day, each holding every live file and unexpired tombstone, and log cleanup keeps them
// all for delta.logRetentionDuration: hundreds of gigabytes of checkpoints over 30 days
// for one busy table. Reading the latest version needs only the newest checkpoint; an
// older version is read from the newest checkpoint at or before it plus the commits
// after. So, once a checkpoint is an hour old, only the first checkpoint of each clock
// hour (by its commit's time) is kept, and the oldest checkpoint of the log: every version
// still in the log stays readable, from at most an hour of commits. Call after writing
// checkpoint `newest` of a table checkpointed every `interval` versions: it looks at the
// checkpoints at multiples of `interval` that became an hour old since the previous call
// (a few stats in steady state) and deletes those that are not the first of their hour.
// `lakepipe.checkpointThinning = 'false'` turns it off. Returns how many it deleted.
inline constexpr int64_t kCheckpointThinningAgeMillis = 3600LL * 1000;
Result<int64_t> ThinCheckpoints(FileSystem* fs, const std::string& table_path, const StringMap& configuration,
                                int64_t interval, int64_t newest, int64_t now_millis);

// NotFound naming the version, the oldest version the log can still give and the
// property, when `version` is older than what log cleanup kept; OK otherwise (the caller
// then reports its own error).
Status CheckVersionRetained(FileSystem* fs, const std::string& table_path, int64_t version);

}  // namespace lakepipe::delta
