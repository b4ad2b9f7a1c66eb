// The Delta Lake transaction log: actions, their JSON-lines form, checkpoints, and log
// replay (snapshot reconstruction), following delta-io/delta PROTOCOL.md.
//
// This header owns the on-disk vocabulary of a table's `_delta_log/` folder:
//   - Action structs (protocol, metaData, add, remove, txn, commitInfo; cdc,
//     domainMetadata, checkpointMetadata and sidecar are recognised and kept verbatim);
//   - ParseActions / SerializeAction: one JSON object per line, as in `%020d.json`;
//   - ListLog: the commit and checkpoint files of a log folder;
//   - ReplayLog: the table state at a version, starting from the newest usable checkpoint
//     (found through `_last_checkpoint`, or by listing when that file is missing or bad).
// Most callers want delta/table.h instead. Everything here is a pure function of the
// files it reads, safe to call from several threads at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "delta/file_map.h"

namespace lakepipe::delta {

// Partition column name -> serialised value (Delta's partition-value serialisation);
// nullopt is a null partition value.
using PartitionValues = std::map<std::string, std::optional<std::string>>;
using StringMap = std::map<std::string, std::string>;

struct Protocol {
  int32_t min_reader_version = 1;
  int32_t min_writer_version = 2;
  // Present only for reader version 3 / writer version 7 (table features).
  std::optional<std::vector<std::string>> reader_features;
  std::optional<std::vector<std::string>> writer_features;
};

struct Format {
  std::string provider = "parquet";
  StringMap options;
};

struct Metadata {
  std::string id;
  std::optional<std::string> name;
  std::optional<std::string> description;
  Format format;
  std::string schema_string;  // Spark JSON schema
  std::vector<std::string> partition_columns;
  StringMap configuration;
  std::optional<int64_t> created_time;  // milliseconds since the epoch
};

struct DeletionVector {
  std::string storage_type;  // "u", "i" or "p"
  std::string path_or_inline_dv;
  std::optional<int32_t> offset;
  int32_t size_in_bytes = 0;
  int64_t cardinality = 0;
  // The id that, with the path, keys a logical file during replay.
  std::string UniqueId() const;
};

struct AddFile {
  std::string path;  // as in the log: a URL-encoded relative URI or an absolute URI
  PartitionValues partition_values;
  int64_t size = 0;
  int64_t modification_time = 0;  // milliseconds since the epoch
  bool data_change = true;
  std::optional<std::string> stats;  // JSON text
  std::optional<StringMap> tags;
  std::optional<DeletionVector> deletion_vector;
  std::optional<int64_t> base_row_id;
  std::optional<int64_t> default_row_commit_version;
  std::optional<std::string> clustering_provider;
};

struct RemoveFile {
  std::string path;
  std::optional<int64_t> deletion_timestamp;  // milliseconds since the epoch
  bool data_change = true;
  std::optional<bool> extended_file_metadata;
  std::optional<PartitionValues> partition_values;
  std::optional<int64_t> size;
  std::optional<std::string> stats;
  std::optional<StringMap> tags;
  std::optional<DeletionVector> deletion_vector;
  std::optional<int64_t> base_row_id;
  std::optional<int64_t> default_row_commit_version;
};

// A removed file as a table state keeps it until its tombstone expires
// (delta.deletedFileRetentionDuration, or an hour for a remove lakepipe's OPTIMIZE tagged
// as kept by its file's modification time: delta/mtime_kept.h): only what VACUUM and a
// checkpoint's `remove` column need. Not its stats or other tags, which no checkpoint
// writes and no reader of a tombstone uses. Small on purpose (about 260 bytes of heap with its key, against 865
// for the whole RemoveFile of a Gold view's file and 1,390 for a Bronze file's;
// docs/BENCHMARKS.md, "Tombstones"): a view committing every second keeps one per version
// within the retention.
struct Tombstone {
  // Rarely present fields, shared and immutable (null for a lakepipe table without
  // partitions).
  struct Extras {
    std::optional<PartitionValues> partition_values;
    std::optional<DeletionVector> deletion_vector;
    std::optional<int64_t> base_row_id;
    std::optional<int64_t> default_row_commit_version;
  };
  // The path as in the log; empty when it equals the file's key (a path without escapes,
  // as lakepipe writes them), so the string is not kept twice. Use LogPath(key).
  std::string path;
  std::optional<int64_t> deletion_timestamp;
  std::optional<int64_t> size;
  bool data_change = true;
  std::optional<bool> extended_file_metadata;
  // The remove had the tag {"lakepipe.mtimeKept": "true"} (delta/mtime_kept.h): its file's
  // modification time keeps it from VACUUM, so the tombstone may go after an hour.
  bool mtime_kept = false;
  // The remove had `partitionValues` (an unpartitioned table's `{}` needs no Extras).
  bool has_partition_values = false;
  std::shared_ptr<const Extras> extras;

  // The tombstone of `remove`, whose FileKey is `key`.
  static Tombstone Of(const std::string& key, RemoveFile remove);
  const std::string& LogPath(const std::string& key) const { return path.empty() ? key : path; }
  // The `remove` action again (without stats; tags only {"lakepipe.mtimeKept": "true"}
  // when mtime_kept).
  RemoveFile ToRemove(const std::string& key) const;
};

// Application transaction: the latest `version` an application (a streaming flow) has
// committed to this table. The basis of exactly-once writes.
struct Txn {
  std::string app_id;
  int64_t version = 0;
  std::optional<int64_t> last_updated;
};

// commitInfo is free-form in the protocol: kept as the JSON object's text, with the
// fields lakepipe reads parsed out.
struct CommitInfo {
  std::string json;  // the whole object, e.g. {"timestamp":...,"operation":"WRITE",...}
  std::optional<int64_t> timestamp;  // milliseconds since the epoch
  std::optional<int64_t> in_commit_timestamp;
  std::string operation;
};

// An action lakepipe recognises but does not interpret (cdc, domainMetadata,
// checkpointMetadata, sidecar, and unknown future actions): its key and JSON text.
struct OtherAction {
  std::string kind;
  std::string json;
};

using Action = std::variant<Protocol, Metadata, AddFile, RemoveFile, Txn, CommitInfo, OtherAction>;

// Parses a commit file's text: one action object per non-empty line. `name` (the file
// name) is used in error messages, with the line number. A text with no action at all
// is Corruption: a commit always holds one, so it is an emptied or truncated file.
Result<std::vector<Action>> ParseActions(std::string_view text, std::string_view name);
// One line of JSON (no trailing newline).
std::string SerializeAction(const Action& action);
// A whole commit file: each action's line followed by '\n'.
std::string SerializeActions(const std::vector<Action>& actions);

// Decodes a log path (percent-encoding, as a URI) and resolves it against the table
// root: relative paths are joined to `table_path`; `file:` URIs are turned into local
// paths. Other schemes are NotSupported.
Result<std::string> ResolveDataPath(const std::string& table_path, std::string_view log_path);
// Percent-encodes a relative path the way Spark writes add.path (RFC 2396 path escaping).
std::string EncodeLogPath(std::string_view relative_path);
// Decodes %XX escapes. Corruption on a malformed escape.
Result<std::string> PercentDecode(std::string_view text);

// ---- the log folder ----------------------------------------------------------------
std::string LogDir(const std::string& table_path);                 // <table>/_delta_log
std::string CommitFileName(int64_t version);                       // %020d.json
std::string CheckpointFileName(int64_t version);                   // %020d.checkpoint.parquet

struct CheckpointFiles {
  int64_t version = -1;
  std::vector<std::string> paths;  // 1 (single-file, v2), or the parts of a multi-part one
  bool v2 = false;                 // %020d.checkpoint.<uuid>.{json,parquet}
};

struct LogListing {
  // Commit versions present (ascending) and their file info (for modification times).
  std::vector<int64_t> versions;
  std::vector<FileInfo> commit_files;
  // Complete checkpoints, ascending by version (incomplete multi-part sets left out).
  std::vector<CheckpointFiles> checkpoints;
};

// Lists `<table>/_delta_log`. NotFound when the folder does not exist. Costs a system
// call per entry: a streaming table at 10 commits a second keeps millions of commits
// within its 30-day log retention, so paths taken per batch or per checkpoint use
// ListLogFromHint instead.
Result<LogListing> ListLog(FileSystem* fs, const std::string& table_path);

// The tail of the log found without listing the folder: the checkpoint `_last_checkpoint`
// names (when every file of it is there) and the commits from that version on, probed by
// name until the first that is missing. Costs a stat per commit after the checkpoint.
// nullopt when it cannot tell (no or unreadable `_last_checkpoint`, a v2 or missing
// checkpoint, a commit after the first gap): callers then list (ListLog), which also
// reports what is wrong. A newer checkpoint than the hint is not seen (a crash between
// writing it and the hint): replay then starts from the older one, as Delta allows.
std::optional<LogListing> ListLogFromHint(FileSystem* fs, const std::string& table_path);

// True when `<table>/_delta_log` holds a commit or a checkpoint, without listing it when
// version 0 or `_last_checkpoint` is there (the usual cases).
bool LogHasEntries(FileSystem* fs, const std::string& table_path);

// Contents of `_last_checkpoint`; nullopt when absent or unreadable (callers then list).
struct LastCheckpoint {
  int64_t version = -1;
  int64_t size = 0;
  std::optional<int32_t> parts;
  std::optional<int64_t> size_in_bytes;
  std::optional<int64_t> num_of_add_files;
};
std::optional<LastCheckpoint> ReadLastCheckpoint(FileSystem* fs, const std::string& table_path);
std::string SerializeLastCheckpoint(const LastCheckpoint& lc);

// Reads every action of a checkpoint (each part, sidecars of a v2 checkpoint).
Result<std::vector<Action>> ReadCheckpoint(FileSystem* fs, const std::string& table_path,
                                           const CheckpointFiles& checkpoint);

// ---- replay ------------------------------------------------------------------------
// The reconciled state of a table at one version.
struct TableState {
  int64_t version = -1;
  Protocol protocol;
  Metadata metadata;
  bool has_protocol = false;
  bool has_metadata = false;
  // Active files keyed by (path, deletion vector id), in key order. Copy-on-write: a
  // copy of the state shares them, and a commit rebuilds only what it touches.
  FileMap<AddFile> files;
  // Removed files still within their tombstone life, for VACUUM and checkpoints. The
  // latest snapshot of a DeltaTable handle drops expired ones as it rolls forward
  // (DropExpiredTombstones, delta/log_cleanup.h), as a checkpoint does.
  FileMap<Tombstone> tombstones;
  std::map<std::string, Txn> txns;  // app id -> latest
  // Timestamp of the commit at `version` (inCommitTimestamp, commitInfo.timestamp, or
  // the commit file's modification time, in that order of preference), milliseconds.
  int64_t commit_timestamp = 0;
  int64_t checkpoint_version = -1;  // the checkpoint replay started from, or -1
  // The version whose commit set the current protocol or metaData (the checkpoint's
  // version when they came from one): a reader of an older version >= this one may use
  // this state's schema without reconstructing that version.
  int64_t metadata_version = -1;
  // Active files with a deletion vector (lakepipe reads none: a snapshot refuses them).
  int64_t files_with_deletion_vectors = 0;
};

// The key replay reconciles add/remove by: the decoded path plus the DV id.
Result<std::string> FileKey(std::string_view path, const std::optional<DeletionVector>& dv);

// Applies actions (in order, as one commit or one checkpoint) to `state`. `added_keys`,
// when given, receives the keys of the files the actions added (possibly removed again).
Status ApplyActions(TableState* state, std::vector<Action> actions,
                    std::vector<std::string>* added_keys = nullptr);
// Applies commit `version` (the next one) to `state`: its actions, then version and
// commit_timestamp (inCommitTimestamp, else `file_mtime_millis`).
Status ApplyCommit(TableState* state, int64_t version, std::vector<Action> actions,
                   int64_t file_mtime_millis, std::vector<std::string>* added_keys = nullptr);

struct ReplayOptions {
  // The version to reconstruct; -1 for the latest.
  int64_t version = -1;
  // Ignore checkpoints and replay JSON commits from version 0 (for tests and repair).
  bool ignore_checkpoints = false;
};

// Reconstructs the table at `options.version`. NotFound for a missing log or version;
// Corruption for a non-contiguous log, or a state without protocol or metaData.
Result<TableState> ReplayLog(FileSystem* fs, const std::string& table_path,
                             const ReplayOptions& options = {});

}  // namespace lakepipe::delta
