// Removed files kept by their modification time, so that their tombstones may leave the
// table state early (docs/delta.md, "Tombstones").
//
// Why: a tombstone only tells VACUUM not to delete a removed file before
// delta.deletedFileRetentionDuration (7 days by default) has passed since its removal.
// Every VACUUM that lists the table folder (lakepipe's, Spark's) also keeps any file
// whose modification time is within that retention. So when lakepipe's OPTIMIZE sets
// the modification time of each file it is about to remove to "now" (made durable before
// its commit), the file is kept for the full retention after its removal by that rule
// alone, and its tombstone is no longer needed for it. Such a remove carries the tag
// kMtimeKeptTag, and its tombstone leaves the snapshot and the checkpoints after
// kMtimeKeptTombstoneRetentionMillis (or the table's retention, if shorter): a streaming
// table that auto-compaction rewrites ~600 small files a minute then holds ~36,000
// tombstones instead of ~6 million. Removes without the tag (another engine's OPTIMIZE,
// an AUTO CDC rewrite, an overwrite) keep the table's retention.
//
// Pure functions and a file-time update; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "delta/log.h"

namespace lakepipe::delta {

// `remove.tags` key (value "true") of a remove whose file's modification time was set to
// at least its deletionTimestamp before the commit. Readers ignore tags they do not know.
inline constexpr const char* kMtimeKeptTag = "lakepipe.mtimeKept";

// How long the tombstone of such a remove stays in the snapshot and the checkpoints. An
// hour, not zero: a VACUUM working from a listing taken before the touch (an inventory a
// little stale, a listing in flight) still finds the tombstone.
inline constexpr int64_t kMtimeKeptTombstoneRetentionMillis = 3600LL * 1000;

// Sets the modification time of the local file `path` to `at_least_millis` unless it is
// already later (it never moves back), and fsyncs the file so that the new time survives
// a crash before the commit that removes it is made durable. NotFound when the file is
// missing. Works on the local path itself, not through a FileSystem: a modification time
// belongs to the file on disk that every Delta table of lakepipe lives on, and the caller
// falls back to a remove without the tag (the full retention) on any error.
Status KeepRemovedFileByTime(const std::string& path, int64_t at_least_millis);

// The retention of one tombstone in a table whose delta.deletedFileRetentionDuration is
// `table_retention_millis`: that, or for a tombstone of a tagged remove at most
// kMtimeKeptTombstoneRetentionMillis.
inline int64_t TombstoneRetentionMillis(const Tombstone& tombstone, int64_t table_retention_millis) {
  if (!tombstone.mtime_kept) return table_retention_millis;
  return table_retention_millis < kMtimeKeptTombstoneRetentionMillis ? table_retention_millis
                                                                     : kMtimeKeptTombstoneRetentionMillis;
}

// Whether `tags` (a remove's) mark it as kept by its file's modification time.
bool HasMtimeKeptTag(const std::optional<StringMap>& tags);

}  // namespace lakepipe::delta
