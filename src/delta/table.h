// DeltaTable: lakepipe's Delta Lake tables (create, read any version, append/overwrite
// with optimistic concurrency and exactly-once `txn`s, checkpoints, OPTIMIZE, VACUUM).
//
// Files on disk follow delta-io/delta PROTOCOL.md (see docs/delta.md for what is and is
// not implemented). A DeltaTable is a handle on a folder. Latest() and Write() always list
// the log; the handle keeps the last state it reconstructed (a version never changes),
// so reaching a newer version only replays the commits after it. Thread-safety: a DeltaTable may be
// used from several threads at once, and several processes may write one table; commits
// are serialised by put-if-absent on `_delta_log/%020d.json`, and a writer that loses a
// race checks Delta's conflict rules and retries at the next version.
// A Snapshot is immutable and thread-safe. A TableWriter is used by one thread: Write()
// batches, then Commit() once (or drop it: uncommitted data files are left for VACUUM).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/fs.h"
#include "common/status.h"
#include "delta/log.h"
#include "formats/parquet/parquet.h"
#include "types/batch.h"
#include "types/schema.h"
#include "types/value.h"

namespace lakepipe::delta {

// Engine name written into commitInfo.engineInfo.
inline constexpr const char* kEngineInfo = "lakepipe/0.1.0";

// Parsed `add.stats`: per column path ("a" or "s.x" for struct leaves).
struct FileStats {
  std::optional<int64_t> num_records;
  std::map<std::string, Value> min_values;
  std::map<std::string, Value> max_values;
  std::map<std::string, int64_t> null_count;
};

// One active data file of a snapshot.
struct DataFile {
  AddFile add;             // as in the log
  std::string full_path;   // decoded, resolved against the table folder
  // Partition values typed by the table schema (NULL for a null partition value).
  std::map<std::string, Value> partition_values;
};

// A table as of one version.
class Snapshot {
 public:
  int64_t version() const { return state_.version; }
  // Commit timestamp of this version, milliseconds since the epoch.
  int64_t timestamp_millis() const { return state_.commit_timestamp; }
  const std::string& table_path() const { return table_path_; }
  const Schema& schema() const { return schema_; }
  const std::vector<std::string>& partition_columns() const {
    return state_.metadata.partition_columns;
  }
  const StringMap& configuration() const { return state_.metadata.configuration; }
  const Protocol& protocol() const { return state_.protocol; }
  const Metadata& metadata() const { return state_.metadata; }
  const TableState& state() const { return state_; }

  // Active files, sorted by path. Built on first use, O(files); a commit's own work
  // never needs it (state().files is the keyed map, shared between versions).
  const std::vector<DataFile>& files() const;
  size_t num_files() const { return state_.files.size(); }
  int64_t num_records() const;  // sum of stats.numRecords (-1 if any file lacks it)
  int64_t size_bytes() const;
  // The latest `txn.version` of an application, or nullopt if it never committed or its
  // txn has expired (delta.setTransactionRetentionDuration, delta/txn_retention.h: judged
  // by the snapshot's clock at the time of the call).
  std::optional<int64_t> TxnVersion(const std::string& app_id) const;
  // Every txn as replayed, expired ones included (TxnVersion leaves those out).
  const std::map<std::string, Txn>& txns() const { return state_.txns; }

  // Parses a file's add.stats, typing min/max by the table schema. An absent stats
  // string gives empty FileStats; malformed stats are Corruption naming the file.
  Result<FileStats> Stats(const DataFile& file) const;

  // Builds a snapshot from a replayed state (Checks reader support: refuses reader
  // features lakepipe does not implement with NotSupported naming the feature). Checks
  // every file (partition values, no deletion vectors): O(files).
  // `clock` judges txn expiry (TxnVersion).
  static Result<std::shared_ptr<const Snapshot>> Make(std::string table_path, TableState state,
                                                      FileSystem* fs = FileSystem::Default(),
                                                      Clock* clock = Clock::System());
  // The snapshot of `state`, a later version of `base`'s table reached by applying the
  // commits after it, whose adds are `added_keys`: only those files are checked, and the
  // parsed schema is reused when the commits did not change the metadata. O(changes).
  static Result<std::shared_ptr<const Snapshot>> Advance(const Snapshot& base, TableState state,
                                                         const std::vector<std::string>& added_keys);
  FileSystem* fs() const { return fs_; }

 private:
  Snapshot() = default;
  // The DataFile of an active file: path decoded and resolved, partition values typed.
  Result<DataFile> MakeDataFile(const AddFile& add) const;
  Status CheckNoDeletionVectors() const;

  FileSystem* fs_ = nullptr;
  Clock* clock_ = Clock::System();
  std::string table_path_;
  TableState state_;
  Schema schema_;
  // files(), built once (under files_mu_) and then never changed.
  mutable std::mutex files_mu_;
  mutable bool files_built_ = false;
  mutable std::vector<DataFile> files_;
};
using SnapshotPtr = std::shared_ptr<const Snapshot>;

struct ScanOptions {
  // Table columns to return (case-insensitive), in this order; empty returns all.
  std::vector<std::string> columns;
  // Conjuncts on top-level columns. Files are skipped by partition values and by
  // add.stats; row groups by Parquet statistics. Rows are NOT filtered: a returned
  // batch may hold rows that fail the predicates (the caller filters).
  std::vector<parquet::ColumnPredicate> predicates;
  // RowGroupReader::Next: each row group in slices of at most this many rows, decoded as
  // the slice being read reaches its pages (parquet::FileReader::SliceRowGroup), so that a
  // reader holds a slice, not a row group. 0: whole row groups.
  int64_t slice_rows = 0;
};

// The files a scan will read, and a reader for each. Thread-safe: ReadFile may run from
// several threads at once.
class Scan {
 public:
  // Plans a scan of `snapshot`: keeps the files that may match the predicates.
  static Result<Scan> Plan(SnapshotPtr snapshot, ScanOptions options);
  const std::vector<DataFile>& files() const { return files_; }
  // The schema of returned batches (the projection of the table schema).
  const Schema& output_schema() const { return output_schema_; }
  // Reads file i of files(): columns mapped to the table schema by name (a column the
  // file lacks reads as NULL), partition columns filled from the partition values.
  Result<RecordBatch> ReadFile(size_t i) const;
  // The same rows, one batch per row group read (at least one batch), not concatenated.
  Result<std::vector<RecordBatch>> ReadFilePieces(size_t i) const;
  // Rows `rows` of file i (ascending, numbering every row of the file: predicates skip no
  // row group here), mapped as ReadFile maps them. Pages holding none of them are not
  // decompressed and only the selected values are kept (FileReader::ReadRowGroupRows).
  Result<RecordBatch> ReadFileRows(size_t i, const std::vector<int64_t>& rows) const;
  // Reads every file, concatenated.
  Result<RecordBatch> ReadAll() const;

  // File i of files() read one row group at a time (as ReadFilePieces, without holding
  // the whole file): for a caller that keeps memory bounded by the row group (a streaming
  // flow's bounded batches, docs/execution.md). One thread at a time per reader; the Scan
  // must outlive it.
  class RowGroupReader {
   public:
    // The next row group that may match the predicates (or its next slice, with
    // ScanOptions::slice_rows), mapped as ReadFile maps rows; false at the end of the
    // file. Row groups of no rows are skipped.
    Result<bool> Next(RecordBatch* out);
    // The file's row groups, for a caller that picks them itself (predicates aside).
    int num_row_groups() const;
    int64_t row_group_rows(int g) const;
    // Row group g (0 <= g < num_row_groups()), mapped as Next maps it.
    Result<RecordBatch> Read(int g);

   private:
    friend class Scan;
    const Scan* scan_ = nullptr;
    const DataFile* file_ = nullptr;
    std::unique_ptr<parquet::FileReader> reader_;
    std::vector<int> columns_;  // file column indices to read (empty: none, only the row count)
    std::vector<parquet::ColumnPredicate> predicates_;
    int next_ = 0;
    std::unique_ptr<parquet::FileReader::RowGroupSlices> slices_;  // of row group next_ - 1
    int64_t slice_group_rows_ = 0;
  };
  Result<std::unique_ptr<RowGroupReader>> OpenFile(size_t i) const;

 private:
  Result<std::vector<RecordBatch>> ReadPieces(size_t i, const std::vector<int64_t>* rows) const;
  // One piece of `file` (`num_rows` rows of `data`, the file's columns as read) in the
  // output schema: partition columns filled, missing columns NULL, types cast.
  Result<RecordBatch> MapPiece(const DataFile& file, const RecordBatch& data, int64_t num_rows) const;

  SnapshotPtr snapshot_;
  ScanOptions options_;
  Schema output_schema_;
  std::vector<DataFile> files_;
};

struct CreateOptions {
  Schema schema;  // fields are made nullable (Delta writes all fields nullable)
  std::vector<std::string> partition_columns;
  StringMap configuration;  // e.g. delta.checkpointInterval, delta.appendOnly
  std::optional<std::string> name;
  std::optional<std::string> description;
};

enum class WriteMode { kAppend, kOverwrite };

struct WriteOptions {
  WriteMode mode = WriteMode::kAppend;
  // Add new nullable columns of the written batches to the table schema (in the same
  // commit). Without it a batch whose schema differs is refused, naming the column.
  bool merge_schema = false;
  // Exactly-once: commit only if the table's latest txn version for `txn_app_id` is
  // below `txn_version`, and record txn(app_id, version) in the same commit. If it is
  // not below, nothing is committed and CommitResult::already_committed is true.
  std::optional<std::string> txn_app_id;
  int64_t txn_version = 0;
  // Roll to a new data file past this many (estimated) bytes.
  int64_t target_file_bytes = 128LL << 20;
  parquet::WriteOptions parquet;
  // commitInfo.operation; empty: "WRITE" (or "CREATE TABLE" for a new table's first
  // commit without data). Streaming writers pass "STREAMING UPDATE".
  std::string operation;
  StringMap operation_parameters;  // merged into commitInfo.operationParameters
  // Creates the table (version 0 with protocol, metaData, the data and commitInfo) when
  // the folder has no `_delta_log`. Its schema defaults to the first batch's schema.
  std::optional<CreateOptions> create_if_missing;
};

struct CommitResult {
  int64_t version = -1;           // the version committed (or the current one if skipped)
  bool already_committed = false; // txn version already in the table: nothing written
  int64_t num_files = 0;
  int64_t num_rows = 0;
  int64_t num_bytes = 0;
  int attempts = 1;               // put-if-absent attempts (1 without contention)
  // A checkpoint due after this commit that could not be written (the commit stands:
  // readers use the JSON commits); empty when none was due or it was written.
  std::string checkpoint_error;
};

class DeltaTable;

// Writes data files for one commit. Use: Write() any number of batches, then Commit().
class TableWriter {
 public:
  ~TableWriter();
  // Appends rows (checked against the table schema, see WriteOptions::merge_schema).
  Status Write(const RecordBatch& batch);
  // Closes the data files and commits them (with removes, for an overwrite).
  Result<CommitResult> Commit();

 private:
  friend class DeltaTable;
  friend struct WriterAccess;  // row-level changes (row_changes.cc) stage files through Impl
  struct Impl;
  explicit TableWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct TableOptions {
  Clock* clock = Clock::System();
  // How many times a commit is retried at a later version after losing a race.
  int max_commit_attempts = 20;
};

struct HistoryEntry {
  int64_t version = 0;
  // The commit time time travel uses (inCommitTimestamp, else the commit file's
  // modification time, made monotonic); AtTimestamp(timestamp_millis) gives `version`.
  int64_t timestamp_millis = 0;
  std::string operation;     // "" if the commit has no commitInfo
  std::string commit_info;   // the commitInfo JSON object ("{}" if absent)
};

struct OptimizeOptions {
  // Small files are packed into files of about this size.
  int64_t target_file_bytes = 128LL << 20;
  // Files smaller than this are small (candidates); 0 means target_file_bytes (what
  // `lakepipe table optimize` does). Auto-compaction uses half the target, as Databricks'
  // autoCompact.minFileSize does, so that a packed bin is not small again.
  int64_t min_file_bytes = 0;
  // A partition is compacted only if it has at least this many small files.
  int min_files = 2;
  // Auto-compaction's rule against redoing its own work: small files are grouped by
  // level (0: written by a commit that was not OPTIMIZE; k: by an OPTIMIZE of files of
  // level k - 1 at most, tag kCompactedTag). A level is compacted when it alone holds
  // min_files small files, or when the level below is compacted and its output would
  // make min_files. So a row is rewritten about log_min_files(target / batch file size)
  // times, not at every compaction, and right after a compaction a second look with no
  // new small files finds nothing to do.
  bool separate_compacted = false;
};
// The `add.tags` key OPTIMIZE puts on the files it writes: its level ("1" for files
// compacted from files no OPTIMIZE wrote). Delta readers ignore tags they do not know; a
// file copied by a row-level change keeps it.
inline constexpr const char* kCompactedTag = "lakepipe.compacted";
// The level of a file (0 when it has no kCompactedTag).
int CompactionLevel(const AddFile& add);
// The bins OPTIMIZE would rewrite in `files` (each bin: at least two files of one
// partition, smallest first, about target_file_bytes together); empty when there is
// nothing to do. Pure: no I/O.
std::vector<std::vector<const DataFile*>> PlanOptimize(const std::vector<DataFile>& files,
                                                       const OptimizeOptions& options);
struct OptimizeResult {
  std::optional<int64_t> version;  // nullopt when there was nothing to compact
  int64_t files_removed = 0;
  int64_t files_added = 0;
  // Of files_removed, those whose modification time was set to the removal time and
  // whose remove is tagged so (delta/mtime_kept.h): their tombstones go after an hour.
  // The others (their time could not be set) keep the table's tombstone retention.
  int64_t files_kept_by_time = 0;
  std::string checkpoint_error;  // as CommitResult::checkpoint_error
};

struct VacuumOptions {
  double retention_hours = 168;  // Delta's default (delta.deletedFileRetentionDuration)
  // Delta refuses a retention below 168 hours unless this is set
  // (spark.databricks.delta.retentionDurationCheck.enabled = false).
  bool disable_retention_check = false;
  bool dry_run = false;
};
struct VacuumResult {
  std::vector<std::string> deleted;  // paths relative to the table folder
  std::optional<int64_t> start_version;  // the VACUUM START / END commits (not dry run)
};

class DeltaTable {
 public:
  // Opens an existing table. NotFound when `path` has no `_delta_log`.
  static Result<std::unique_ptr<DeltaTable>> Open(const std::string& path,
                                                  FileSystem* fs = FileSystem::Default(),
                                                  TableOptions options = {});
  // Creates a table: version 0 with protocol (1, 2), metaData and commitInfo
  // "CREATE TABLE". AlreadyExists if the folder already holds a table.
  static Result<std::unique_ptr<DeltaTable>> Create(const std::string& path,
                                                    const CreateOptions& create,
                                                    FileSystem* fs = FileSystem::Default(),
                                                    TableOptions options = {});
  // Whether `path` holds a Delta table (has a `_delta_log` with at least one commit).
  static bool Exists(const std::string& path, FileSystem* fs = FileSystem::Default());
  // A writer for a table that may not exist yet (WriteOptions::create_if_missing).
  static Result<std::unique_ptr<TableWriter>> NewWriter(const std::string& path,
                                                        WriteOptions options,
                                                        FileSystem* fs = FileSystem::Default(),
                                                        TableOptions table_options = {});

  const std::string& path() const { return path_; }
  FileSystem* fs() const { return fs_; }

  // The latest version, a given version (time travel), or the latest version committed
  // at or before `timestamp_millis` (NotFound if none is that old).
  Result<SnapshotPtr> Latest() const;
  Result<SnapshotPtr> AtVersion(int64_t version) const;
  Result<SnapshotPtr> AtTimestamp(int64_t timestamp_millis) const;
  // The latest version number, without replaying.
  Result<int64_t> LatestVersion() const;

  // Writing: a streaming writer, or all batches at once.
  Result<std::unique_ptr<TableWriter>> NewWriter(WriteOptions options) const;
  Result<CommitResult> Write(const std::vector<RecordBatch>& batches,
                             WriteOptions options) const;

  // Commits the given actions as the next version (commitInfo is added), with the
  // conflict checks of a transaction that read `read_version`. For tools and tests.
  Result<int64_t> CommitActions(std::vector<Action> actions, int64_t read_version,
                                const std::string& operation,
                                const StringMap& operation_parameters) const;

  // Commit history, newest first (limit <= 0: all versions still in the log).
  Result<std::vector<HistoryEntry>> History(int limit = 0) const;

  Result<OptimizeResult> Optimize(const OptimizeOptions& options = {}) const;
  Result<VacuumResult> Vacuum(const VacuumOptions& options = {}) const;

  // Writes the classic checkpoint for `version` and `_last_checkpoint`.
  Status Checkpoint(int64_t version) const;

 private:
  DeltaTable(std::string path, FileSystem* fs, TableOptions options)
      : path_(std::move(path)), fs_(fs), options_(options) {}
  friend class TableWriter;
  // The commit files after `version` (which this handle has cached), in order.
  Result<std::vector<FileInfo>> CommitsAfterCached(int64_t version) const;
  std::string path_;
  FileSystem* fs_;
  TableOptions options_;
  // The newest snapshot this handle has reconstructed (immutable): Latest() returns it
  // while no commit follows, and rolls it forward by the new commits otherwise.
  mutable std::mutex cache_mu_;
  mutable SnapshotPtr cached_;
};

// Partition values as Delta serialises them in partitionValues and folder names:
// dates "2024-01-31", timestamps "2024-01-31 10:00:00[.ffffff]", booleans, numbers,
// strings verbatim; nullopt for NULL.
std::optional<std::string> SerializePartitionValue(const Value& value);
// Parses a serialised partition value as `type` (nullopt or "" gives NULL).
Result<Value> ParsePartitionValue(const std::optional<std::string>& text, const DataType& type);
// Hive-style escaping of a partition folder name component ("a b:c" -> "a b%3Ac").
std::string EscapePartitionPathComponent(std::string_view value);

}  // namespace lakepipe::delta
