#include "delta/log_cleanup.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <vector>

#include "common/interval_text.h"
#include "delta/commit_file_time.h"

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

}  // namespace

int64_t LogRetentionMillis(const StringMap& configuration) {
  return IntervalProperty(configuration, "delta.logRetentionDuration", kDefaultLogRetentionMillis);
}

int64_t DeletedFileRetentionMillis(const StringMap& configuration) {
  return IntervalProperty(configuration, "delta.deletedFileRetentionDuration", kDefaultDeletedFileRetentionMillis);
}

int64_t DropExpiredTombstones(TableState* state, int64_t now_millis) {
  const int64_t cutoff = now_millis - DeletedFileRetentionMillis(state->metadata.configuration);
  std::vector<FileMap<Tombstone>::Change> expired;
  for (const auto& [key, t] : state->tombstones) {
    if (t.deletion_timestamp.value_or(0) < cutoff) expired.emplace_back(key, std::nullopt);
  }
  const auto n = static_cast<int64_t>(expired.size());
  state->tombstones.Apply(std::move(expired));
  return n;
}

Result<LogCleanupResult> CleanUpExpiredLog(FileSystem* fs, const std::string& table_path,
                                           const StringMap& configuration, int64_t now_millis) {
  LogCleanupResult out;
  auto enabled = configuration.find("delta.enableExpiredLogCleanup");
  if (enabled != configuration.end()) {
    std::string v = enabled->second;
    for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (v == "false") return out;
  }
  LP_ASSIGN_OR_RETURN(LogListing listing, ListLog(fs, table_path));
  int64_t cutoff_time = now_millis - LogRetentionMillis(configuration);
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
