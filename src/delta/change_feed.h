// The change data feed of a Delta table (delta-io/delta PROTOCOL.md, "Change Data Files",
// "Add CDC File"): the row-level changes between two versions, as Databricks'
// `table_changes` and the `readChangeFeed` option return them.
//
// Writing is done by the row-level commits of row_changes.h: on a table with
// `delta.enableChangeDataFeed = true` (created at writer version 4), each such commit also
// writes `_change_data/cdc-*.parquet` files (the table's columns plus `_change_type`) and
// records them as `cdc` actions. Plain appends and overwrites write none: a reader derives
// their changes from the commit's `add`s (inserts) and `remove`s (deletes), as the
// protocol says.
//
// Reading (ReadChanges) follows the protocol's reader rules: a version with `cdc` actions
// is read from those files only; a version without them yields the rows of its
// data-changing adds as `insert` and of its data-changing removes as `delete`. A version
// that removes rows without `cdc` actions on a table that did not record the change data
// feed then is refused (its removes would report rows copied into rewritten files as
// deleted and inserted again). `_commit_version` and `_commit_timestamp` are not stored;
// the reader adds them (the timestamp is the one time travel uses).
//
// Thread-safety: pure functions of the log and files; the table handle may be shared.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "delta/table.h"
#include "types/batch.h"
#include "types/schema.h"

namespace lakepipe::delta {

inline constexpr const char* kChangeTypeColumn = "_change_type";
inline constexpr const char* kCommitVersionColumn = "_commit_version";
inline constexpr const char* kCommitTimestampColumn = "_commit_timestamp";

// `_change_type` values.
inline constexpr const char* kChangeInsert = "insert";
inline constexpr const char* kChangeDelete = "delete";
inline constexpr const char* kChangeUpdatePreimage = "update_preimage";
inline constexpr const char* kChangeUpdatePostimage = "update_postimage";

// Whether writers record the change data feed for the table as of `snapshot`.
bool HasChangeDataFeed(const Snapshot& snapshot);

// The columns ReadChanges returns: `columns` then `_change_type STRING`,
// `_commit_version BIGINT`, `_commit_timestamp TIMESTAMP`.
Schema ChangeFeedSchema(const Schema& columns);

struct ChangeFeedOptions {
  // Table columns to return (case-insensitive), in this order; empty: all. The three
  // change feed columns may be listed too; they always come last.
  std::vector<std::string> columns;
  // A version that deletes or rewrites rows without `cdc` actions on a table that did not
  // record the feed then is refused, unless this is set: its removed files' rows are then
  // `delete`s and its added files' rows `insert`s, including the rows a rewrite copied
  // unchanged (they appear deleted and inserted again). For consumers that net the
  // changes out (an incremental aggregate retracting and adding rows), where that is exact.
  bool derive_from_files = false;
};

// The row changes made by versions [start_version, end_version] of `table`, in commit
// order, in ChangeFeedSchema(the table schema as of end_version, projected). Commits that
// change no data (OPTIMIZE, VACUUM, metadata) contribute nothing. NotFound names a
// version whose commit or change file is gone (log cleanup, VACUUM).
Result<std::vector<RecordBatch>> ReadChanges(const DeltaTable& table, int64_t start_version,
                                             int64_t end_version,
                                             const ChangeFeedOptions& options = {});

// What ReadChanges returns, read a row group at a time: memory bounded by a row group
// however large the versions are (a streaming table's version is as large as its
// micro-batch). Open reads and checks the log of the whole range, so every refusal of
// ReadChanges comes from Open, before any row; Next then decodes the data files in order.
// Thread-safety: one thread at a time; `table`'s file system must outlive the reader.
class ChangeReader {
 public:
  static Result<std::unique_ptr<ChangeReader>> Open(const DeltaTable& table, int64_t start_version,
                                                    int64_t end_version, const ChangeFeedOptions& options = {});
  // What SnapshotAsInserts returns, a row group at a time.
  static Result<std::unique_ptr<ChangeReader>> OpenSnapshot(const SnapshotPtr& snapshot,
                                                            const ChangeFeedOptions& options = {});
  ~ChangeReader();
  // The next piece (a row group's rows, in ChangeFeedSchema of the projection); false at the end.
  Result<bool> Next(RecordBatch* out);
  // False when every row is an `insert` (the range only adds files): known from the log.
  bool may_hold_non_inserts() const { return may_hold_non_inserts_; }

 private:
  struct Group;  // the files of one version read alike (change_feed.cc)
  ChangeReader() = default;
  // Reads files with the schema and settings of `end` (the range's last version), in the
  // options' columns.
  void ReadAs(const Snapshot& end, const ChangeFeedOptions& options);
  Status OpenGroup();
  // The next row group of groups_[group_]'s files; false once they are all read.
  Result<bool> NextInGroup(RecordBatch* rows);

  std::string path_;
  FileSystem* fs_ = nullptr;
  TableState base_;  // the end version's state without its files
  std::string cdc_schema_string_;  // its schema with `_change_type`, for change data files
  std::vector<std::string> columns_;  // table columns read
  bool keep_table_columns_ = true;
  bool may_hold_non_inserts_ = false;
  std::vector<Group> groups_;
  size_t group_ = 0;
  std::unique_ptr<Scan> scan_;  // groups_[group_]'s files
  size_t file_ = 0;
  std::unique_ptr<Scan::RowGroupReader> file_reader_;
};

// The rows of a snapshot as `insert` changes at its version (the first batch of a
// streaming change feed read, as Spark's readChangeFeed without startingVersion).
Result<std::vector<RecordBatch>> SnapshotAsInserts(const SnapshotPtr& snapshot,
                                                   const ChangeFeedOptions& options = {});

}  // namespace lakepipe::delta
