// Reading a table's changes by version, as Spark's Delta streaming source does: the rows
// that data-changing commits start..end appended. A downstream streaming flow reads its
// upstream table this way, one planned version range per micro-batch.
//
// Commits that only rearrange data (OPTIMIZE: add/remove with dataChange = false)
// contribute nothing. A commit that deletes or rewrites rows (a remove with
// dataChange = true, e.g. an overwrite) cannot be expressed as appended rows: it is an
// error naming the version, unless skip_change_commits is set (then its adds are ignored
// too, as Spark's skipChangeCommits option does); the error points at the change data
// feed (change_feed.h), which follows such commits. Pure function of the log; thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "delta/table.h"
#include "types/batch.h"

namespace lakepipe::delta {

struct ChangeReadOptions {
  std::vector<std::string> columns;  // table columns to return; empty: all
  bool skip_change_commits = false;
  // AppendsReader: row groups cut into slices of at most this many rows (ScanOptions::slice_rows).
  int64_t slice_rows = 0;
};

// Rows appended by versions [start_version, end_version] of `table`, in commit order,
// in the table schema as of end_version.
Result<std::vector<RecordBatch>> ReadAppends(const DeltaTable& table, int64_t start_version,
                                             int64_t end_version, const ChangeReadOptions& options);

// The same rows, one row group at a time, so that a reader of a large range holds one
// row group (of one file of one commit) at a time: ReadAppends is this loop, collected.
// Errors (a missing commit, a commit that rewrites rows) come when the reader reaches
// that commit. One thread at a time; `table` must outlive the reader.
class AppendsReader {
 public:
  AppendsReader(const DeltaTable& table, int64_t start_version, int64_t end_version, ChangeReadOptions options);
  ~AppendsReader();
  // The next non-empty piece of rows; false once the range is read.
  Result<bool> Next(RecordBatch* out);

 private:
  // Moves to the next commit that appended files (scan_ set), or returns false.
  Result<bool> NextCommit();

  const DeltaTable& table_;
  int64_t next_version_;
  int64_t end_version_;
  ChangeReadOptions options_;
  SnapshotPtr end_;  // the table as of end_version (its schema reads every file)
  std::unique_ptr<Scan> scan_;  // the current commit's appended files
  size_t next_file_ = 0;
  std::unique_ptr<Scan::RowGroupReader> file_;
};

// The rows of a snapshot one row group at a time (as AppendsReader, for a flow's first
// batch that reads an upstream table as its current snapshot).
class SnapshotReader {
 public:
  static Result<std::unique_ptr<SnapshotReader>> Open(SnapshotPtr snapshot, const ScanOptions& options);
  Result<bool> Next(RecordBatch* out);

 private:
  std::unique_ptr<Scan> scan_;
  size_t next_file_ = 0;
  std::unique_ptr<Scan::RowGroupReader> file_;
};

}  // namespace lakepipe::delta
