#include "delta/log_cleanup.h"

#include <strings.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cctype>
#include <map>
#include <optional>
#include <vector>

#include "common/interval_text.h"
#include "delta/commit_file_time.h"
#include "delta/mtime_kept.h"

namespace lakepipe::delta {

namespace {

int64_t IntervalProperty(const StringMap& configuration, const std::string& key, int64_t fallback) {
  auto it = configuration.find(key);
  if (it == configuration.end()) return fallback;
  auto micros = ParseIntervalMicros(it->second);
  return micros.ok() ? *micros / 1000 : fallback;
}

// The version a `_delta_log` entry belongs to (`%020d.json`, `%020d.checkpoint...`,
// `%020d.crc`), or -1 for other names (`_last_checkpoint`, temporary files, folders).
int64_t VersionOf(const std::string& name) {
  if (name.size() < 21 || name[20] != '.') return -1;
  for (int i = 0; i < 20; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return -1;
  }
  return std::stoll(name.substr(0, 20));
}

// Whether the boolean table property `key` is set to false (in any letter case).
bool TurnedOff(const StringMap& configuration, const char* key) {
  auto it = configuration.find(key);
  return it != configuration.end() && strcasecmp(it->second.c_str(), "false") == 0;
}

// The oldest commit still in the log at `dir`, whose commit `present` is there: the
// commits present are one range (cleanup deletes oldest first, so a crash half-way keeps
// it one), so bisecting on the presence of commit files finds its start in about
// log2(present) stats instead of a listing of the whole log.
int64_t OldestCommit(FileSystem* fs, const std::string& dir, int64_t present) {
  if (fs->Exists(JoinPath(dir, CommitFileName(0)))) return 0;
  int64_t absent = 0;
  while (present - absent > 1) {
    const int64_t mid = absent + (present - absent) / 2;
    (fs->Exists(JoinPath(dir, CommitFileName(mid))) ? present : absent) = mid;
  }
  return present;
}

// Cleanup without listing the log, for logs whose `_last_checkpoint` names a one-file
// checkpoint (every table lakepipe writes): a table at 10 commits a second keeps ~26
// million entries in its 30-day retention, and a listing after each checkpoint would cost
// seconds. Finds the oldest commit (OldestCommit), reads commit times from it up to the
// first one within the retention, looks for the newest checkpoint at or before the cut-off
// commit by name, and deletes the commit, checkpoint and checksum files of the versions
// before it, by name, oldest first. In steady state: ~30 stats and nothing to delete.
// nullopt when this does not apply (the caller lists).
std::optional<Result<LogCleanupResult>> CleanUpByName(FileSystem* fs, const std::string& table_path,
                                                      int64_t cutoff_time) {
  std::optional<LastCheckpoint> hint = ReadLastCheckpoint(fs, table_path);
  if (!hint || hint->version <= 0 || (hint->parts && *hint->parts > 1)) return std::nullopt;
  const std::string dir = LogDir(table_path);
  if (!fs->Exists(JoinPath(dir, CommitFileName(hint->version))) ||
      !fs->Exists(JoinPath(dir, CheckpointFileName(hint->version))))
    return std::nullopt;
  const int64_t oldest = OldestCommit(fs, dir, hint->version);
  // Times made monotonic as time travel does; the newest checkpoint is the latest cut-off
  // checkpoint there can be, so commits after it need not be read.
  int64_t cutoff_commit = -1;
  int64_t prev = INT64_MIN;
  for (int64_t v = oldest; v <= hint->version; ++v) {
    auto info = fs->Stat(JoinPath(dir, CommitFileName(v)));
    if (!info.ok()) return std::nullopt;  // the log changed under us: list
    int64_t t = info->mtime_micros / 1000;
    if (prev != INT64_MIN && t <= prev) t = prev + 1;
    prev = t;
    if (t > cutoff_time) break;
    cutoff_commit = v;
  }
  LogCleanupResult out;
  for (int64_t v = cutoff_commit; v > oldest; --v) {
    if (fs->Exists(JoinPath(dir, CheckpointFileName(v)))) {
      out.cutoff_checkpoint = v;
      break;
    }
  }
  if (out.cutoff_checkpoint <= 0) return Result<LogCleanupResult>(out);
  for (int64_t v = oldest; v < out.cutoff_checkpoint; ++v) {
    char crc[32];
    std::snprintf(crc, sizeof(crc), "%020" PRId64 ".crc", v);
    for (const std::string& name : {CommitFileName(v), CheckpointFileName(v), std::string(crc)}) {
      Status st = fs->RemoveFile(JoinPath(dir, name));
      if (st.ok()) {
        ++out.files_deleted;
      } else if (!st.IsNotFound()) {
        return Result<LogCleanupResult>(st.WithContext("Delta log cleanup of " + table_path));
      }
    }
  }
  return Result<LogCleanupResult>(out);
}

}  // namespace

int64_t LogRetentionMillis(const StringMap& configuration) {
  return IntervalProperty(configuration, "delta.logRetentionDuration", kDefaultLogRetentionMillis);
}

int64_t DeletedFileRetentionMillis(const StringMap& configuration) {
  return IntervalProperty(configuration, "delta.deletedFileRetentionDuration", kDefaultDeletedFileRetentionMillis);
}

int64_t DropExpiredTombstones(TableState* state, int64_t now_millis) {
  const int64_t retention = DeletedFileRetentionMillis(state->metadata.configuration);
  std::vector<FileMap<Tombstone>::Change> expired;
  for (const auto& [key, t] : state->tombstones) {
    if (t.deletion_timestamp.value_or(0) < now_millis - TombstoneRetentionMillis(t, retention)) {
      expired.emplace_back(key, std::nullopt);
    }
  }
  const auto n = static_cast<int64_t>(expired.size());
  state->tombstones.Apply(std::move(expired));
  return n;
}

Result<LogCleanupResult> CleanUpExpiredLog(FileSystem* fs, const std::string& table_path,
                                           const StringMap& configuration, int64_t now_millis) {
  LogCleanupResult out;
  if (TurnedOff(configuration, "delta.enableExpiredLogCleanup")) return out;
  int64_t cutoff_time = now_millis - LogRetentionMillis(configuration);
  if (auto by_name = CleanUpByName(fs, table_path, cutoff_time)) return std::move(*by_name);
  LP_ASSIGN_OR_RETURN(LogListing listing, ListLog(fs, table_path));
  // The cut-off commit: the newest whose time (file modification time, made monotonic as
  // time travel does) is not after the cut-off time.
  int64_t cutoff_commit = -1;
  int64_t prev = INT64_MIN;
  for (size_t i = 0; i < listing.versions.size(); ++i) {
    int64_t t = CommitFileMillis(fs, table_path, listing.commit_files[i]);
    if (prev != INT64_MIN && t <= prev) t = prev + 1;
    prev = t;
    // Times only grow (made monotonic): no later commit can be before the cut-off.
    if (t > cutoff_time) break;
    cutoff_commit = listing.versions[i];
  }
  if (cutoff_commit < 0) return out;
  for (const auto& c : listing.checkpoints) {
    if (c.version <= cutoff_commit) out.cutoff_checkpoint = std::max(out.cutoff_checkpoint, c.version);
  }
  if (out.cutoff_checkpoint <= 0) return out;
  // The checkpoint's own commit file must stay too (it holds the commitInfo and the time
  // of that version); without it the version's time could not be told: keep everything.
  if (!std::binary_search(listing.versions.begin(), listing.versions.end(), out.cutoff_checkpoint)) {
    out.cutoff_checkpoint = -1;
    return out;
  }
  std::string dir = LogDir(table_path);
  LP_ASSIGN_OR_RETURN(std::vector<FileInfo> entries, fs->ListDir(dir));
  std::vector<std::pair<int64_t, std::string>> expired;
  for (const FileInfo& f : entries) {
    if (f.is_dir) continue;
    int64_t v = VersionOf(f.name);
    if (v >= 0 && v < out.cutoff_checkpoint) expired.emplace_back(v, f.name);
  }
  // Oldest first: a crash half-way leaves the entries still there contiguous.
  std::sort(expired.begin(), expired.end());
  for (const auto& [v, name] : expired) {
    Status st = fs->RemoveFile(JoinPath(dir, name));
    if (!st.ok() && !st.IsNotFound()) return st.WithContext("Delta log cleanup of " + table_path);
    ++out.files_deleted;
  }
  return out;
}

Result<int64_t> ThinCheckpoints(FileSystem* fs, const std::string& table_path, const StringMap& configuration,
                                int64_t interval, int64_t newest, int64_t now_millis) {
  if (TurnedOff(configuration, "lakepipe.checkpointThinning")) return int64_t{0};
  if (interval <= 0 || newest < 2 * interval) return int64_t{0};
  const std::string dir = LogDir(table_path);
  // A version's time: its commit file's (log cleanup keeps the commit of every checkpoint
  // it keeps); nullopt once cleaned up.
  auto commit_millis = [&](int64_t version) -> std::optional<int64_t> {
    auto info = fs->Stat(JoinPath(dir, CommitFileName(version)));
    if (!info.ok()) return std::nullopt;
    return info->mtime_micros / 1000;
  };
  auto has_checkpoint = [&](int64_t version) { return fs->Exists(JoinPath(dir, CheckpointFileName(version))); };
  constexpr int64_t kHour = 3600LL * 1000;
  // The newest multiple of the interval that is an hour old.
  int64_t q = newest - newest % interval - interval;
  for (; q > 0; q -= interval) {
    std::optional<int64_t> t = commit_millis(q);
    if (!t) return int64_t{0};
    if (*t <= now_millis - kCheckpointThinningAgeMillis) break;
  }
  // From there down until a checkpoint is missing (thinned by an earlier call): each one
  // goes unless it is the first of its hour, i.e. the previous checkpoint there is (found
  // by name, skipping thinned ones) is of an earlier hour, or there is none (the log's
  // oldest). Deleting one never changes which checkpoint is first of its hour.
  int64_t deleted = 0;
  for (; q > 0 && has_checkpoint(q); q -= interval) {
    int64_t previous = q - interval;
    while (previous > 0 && !has_checkpoint(previous)) {
      // Below the log's start (cleaned up): q is the oldest checkpoint.
      previous = commit_millis(previous) ? previous - interval : 0;
    }
    if (previous <= 0) break;
    std::optional<int64_t> tq = commit_millis(q), tp = commit_millis(previous);
    if (!tq || !tp) break;
    if (*tq / kHour != *tp / kHour) continue;
    Status st = fs->RemoveFile(JoinPath(dir, CheckpointFileName(q)));
    if (st.ok()) {
      ++deleted;
    } else if (!st.IsNotFound()) {
      return st.WithContext("checkpoint thinning of " + table_path);
    }
  }
  return deleted;
}

Status CheckVersionRetained(FileSystem* fs, const std::string& table_path, int64_t version) {
  auto listing = ListLog(fs, table_path);
  if (!listing.ok() || listing->versions.empty()) return Status::OK();
  int64_t oldest_commit = listing->versions.front();
  if (oldest_commit == 0 || version >= oldest_commit) return Status::OK();
  // The oldest version that can be rebuilt: the oldest checkpoint with the commits after it.
  int64_t oldest_readable = -1;
  for (const auto& c : listing->checkpoints) {
    if (c.version >= oldest_commit - 1) {
      oldest_readable = c.version;
      break;
    }
  }
  std::string readable = oldest_readable >= 0 ? "the oldest version it can give is " + std::to_string(oldest_readable)
                                              : "it holds commits from version " + std::to_string(oldest_commit);
  return Status::NotFound("version " + std::to_string(version) + " of " + table_path +
                          " is no longer in its Delta log: log cleanup removed the commits before version " +
                          std::to_string(oldest_commit) +
                          ", older than the table's delta.logRetentionDuration (30 days unless the table sets it); " +
                          readable);
}

}  // namespace lakepipe::delta
