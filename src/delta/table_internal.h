// Internal to src/delta: partition values, add.stats and data skipping, shared by
// table.cc (reads and writes) and maintenance.cc (OPTIMIZE, VACUUM).
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "delta/table.h"

namespace lakepipe::delta {

// add.stats JSON for a written data file: numRecords, minValues, maxValues, nullCount
// for the first `num_indexed_cols` leaf columns of `data_schema` (struct leaves nested).
// Leaves named in `nan_columns` ("a" or "s.x") held a NaN: they get no min/max (a NaN
// orders above every number in Spark, so a max without it would not be a bound).
std::string BuildStatsJson(const parquet::WriteResult& written, const Schema& data_schema,
                           int num_indexed_cols, const std::set<std::string>& nan_columns = {});

// Parses add.stats typed by `schema`; `file` names the file in errors.
Result<FileStats> ParseStatsJson(std::string_view stats, const Schema& schema,
                                 const std::string& file);

// Whether the file may hold a row satisfying every predicate, judged by its partition
// values and stats (true when unsure).
bool FileMayMatch(const DataFile& file, const FileStats* stats, const Schema& schema,
                  const std::vector<std::string>& partition_columns,
                  const std::vector<parquet::ColumnPredicate>& predicates);

// The schema with every field (at every depth) nullable.
Schema MakeNullable(const Schema& schema);

// Checks the reader protocol: NotSupported naming the feature when lakepipe cannot read
// the table correctly.
Status CheckReadSupport(const Protocol& protocol, const Metadata& metadata,
                        const std::string& table_path);
// Checks the writer protocol likewise.
Status CheckWriteSupport(const Protocol& protocol, const Metadata& metadata,
                         const std::string& table_path);

// Lists every regular file under `dir`, as paths relative to `dir`, skipping
// `_delta_log` and hidden ('.' / '_' prefixed) names at the top level as Delta's
// VACUUM does (partition folders like "_2=x" are descended into).
Status ListDataFilesRecursive(FileSystem* fs, const std::string& root, const std::string& rel,
                              std::vector<FileInfo>* out);

}  // namespace lakepipe::delta

namespace lakepipe::delta {

// One transaction's commit, as table.cc's commit loop runs it.
struct CommitRequest {
  std::vector<Action> actions;  // without commitInfo (added per attempt)
  int64_t read_version = -1;    // the snapshot the transaction read; -1 creates the table
  // Delta's conflict rules: a blind append (adds only, read nothing) never conflicts with
  // appends; a transaction that read every file (overwrite) conflicts with a concurrent
  // data-changing add; any transaction conflicts with a concurrent remove of a file it
  // read or removed (read_keys), a metadata/protocol change, or a txn of its app id.
  bool blind_append = false;
  bool reads_all_files = false;
  std::set<std::string> read_keys;  // FileKey()s
  // Row-level changes: a concurrent data-changing add for which this returns true holds
  // rows the transaction should have read (e.g. a key it rewrites): a conflict.
  std::function<bool(const AddFile&)> add_conflicts;
  std::optional<std::string> txn_app_id;
  int64_t txn_version = 0;
  std::string operation;
  StringMap operation_parameters;  // values are JSON-encoded strings, as Spark writes
  StringMap operation_metrics;
  int64_t checkpoint_interval = 10;  // delta.checkpointInterval of the table read
  // The snapshot at read_version, when the caller has it: a checkpoint due at the next
  // version is then written from it plus this commit, without replaying the log.
  SnapshotPtr read_snapshot;
};

// delta.checkpointInterval (default 10).
int64_t CheckpointIntervalOf(const Metadata& metadata);

struct CommitOutcome {
  int64_t version = -1;
  int attempts = 0;
  // The txn app id reached txn_version in a concurrent commit: nothing was committed.
  bool already_committed = false;
  std::string checkpoint_error;  // as CommitResult::checkpoint_error
};

// Data files written for a commit that is not a plain append/overwrite (row-level
// changes): the adds (dataChange = true) and what they hold. Not yet in the log.
struct StagedFiles {
  std::vector<AddFile> adds;
  std::vector<std::string> full_paths;
  int64_t rows = 0;
  int64_t bytes = 0;
  // Change data files (CDF) of the same commit: their `cdc` actions (paths also in
  // full_paths).
  std::vector<OtherAction> cdc;
  int64_t copied_bytes = 0;  // column-chunk bytes copied unchanged (WritePatchedFiles)
};

// A data file of the snapshot rewritten with some of its columns replaced: `columns` are
// top-level non-partition columns of the table holding the file's rows, in file order.
struct FilePatch {
  const DataFile* file = nullptr;
  RecordBatch columns;
};
// Writes the patches as new data files (parquet::FileWriter::AppendPatched: every other
// column chunk copied byte for byte; several patched files share an output file up to
// `target_file_bytes`, files of one partition only). A patch that cannot be copied that
// way (a file written with another Parquet schema, missing footer statistics, a nested
// float column) is left out and its index appended to `refused`: the caller rewrites
// that file's rows instead. On error nothing is left behind.
Result<StagedFiles> WritePatchedFiles(FileSystem* fs, const std::string& table_path, const TableOptions& options,
                                      const SnapshotPtr& snap, const std::vector<FilePatch>& patches,
                                      int64_t target_file_bytes, const parquet::WriteOptions& parquet,
                                      std::vector<size_t>* refused);
// Writes `batches` (columns matched to the table schema by name; missing ones NULL) as new
// data files of the table `snap` is a version of. On error nothing is left behind.
Result<StagedFiles> WriteDataFiles(FileSystem* fs, const std::string& table_path,
                                   const TableOptions& options, const SnapshotPtr& snap,
                                   const std::vector<RecordBatch>& batches,
                                   int64_t target_file_bytes, const parquet::WriteOptions& parquet);
// Writes the change rows of a row-level commit (the table's columns plus `_change_type`)
// as change data files under `_change_data/` (partition folders below it, partition
// columns not stored, as for data files), returned as `cdc` actions with dataChange false.
// On error nothing is left behind.
Result<StagedFiles> WriteChangeDataFiles(FileSystem* fs, const std::string& table_path,
                                         const TableOptions& options, const SnapshotPtr& snap,
                                         const RecordBatch& changes,
                                         const parquet::WriteOptions& parquet);

// Whether writers must produce change data files for the table (delta.enableChangeDataFeed
// = true; at writer version 7 only with the `changeDataFeed` writer feature).
bool ChangeDataFeedEnabled(const Protocol& protocol, const Metadata& metadata);
// The protocol a new table with `configuration` starts at: (1, 2), or (1, 4) when it
// enables the change data feed (writer version 4 is the first that knows it).
Protocol InitialProtocol(const StringMap& configuration);

// The `remove` action for an active file of a snapshot (extended file metadata: partition
// values, size, stats and tags copied from its `add`, but never the tag
// lakepipe.mtimeKept, which only OPTIMIZE sets after setting the file's time).
RemoveFile RemoveOf(const DataFile& file, int64_t deletion_timestamp, bool data_change);

// After a failed commit: removes staged files unless a commit after `read_version` names
// them (the commit became visible before its failing fsync).
void DiscardStagedFiles(FileSystem* fs, const std::string& table_path, const StagedFiles& staged,
                        int64_t read_version, bool commit_may_be_visible);

Result<CommitOutcome> RunCommit(FileSystem* fs, const std::string& table_path,
                                const TableOptions& options, CommitRequest request);

// Writes the checkpoint of `version` and `_last_checkpoint`, dropping expired tombstones.
Status WriteCheckpoint(FileSystem* fs, const std::string& table_path, const TableOptions& options,
                       int64_t version);
// The same from the table's state at that version (already reconstructed by the caller).
Status WriteCheckpointOf(FileSystem* fs, const std::string& table_path, const TableOptions& options,
                         TableState state);

}  // namespace lakepipe::delta
