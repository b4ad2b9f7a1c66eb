// Row-level changes to a Delta table: replacing the rows of some keys (upserts, deletes,
// SCD histories), truncating, and deleting the rows a predicate selects — each in ONE
// commit that rewrites only the data files holding affected rows (`remove` of the old
// file + `add` of its surviving rows, both dataChange = true), so every older version
// stays readable as it was (time travel). On a table with the change data feed on
// (delta.enableChangeDataFeed), the commit also holds the `_change_data/` files and `cdc`
// actions describing the row changes (change_feed.h).
//
// Files are skipped by add.stats: a file whose min/max of the first key column (or of a
// predicate column) excludes every affected value is neither read nor rewritten. A file
// that is read but holds no affected row is left as it is.
//
// Exactly once: with `txn_app_id`, nothing is committed when the table already has that
// txn version (`already_committed`). Concurrency follows Delta's conflict rules: the
// commit conflicts with a concurrent transaction that removed a file this one read, or
// added data that may hold an affected key (judged by the added file's stats), or changed
// the metadata; on a conflict the whole change is recomputed from a fresh snapshot
// (`compute` runs again), up to `max_attempts` times, then a Conflict error.
//
// Thread-safety: stateless functions; the table handle may be shared.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "delta/table.h"
#include "types/batch.h"

namespace lakepipe::delta {

struct RowChangeOptions {
  std::optional<std::string> txn_app_id;
  int64_t txn_version = 0;
  std::string operation = "MERGE";  // commitInfo.operation
  StringMap operation_parameters;   // JSON-encoded values, merged into commitInfo
  StringMap operation_metrics;      // merged into commitInfo.operationMetrics
  int64_t target_file_bytes = 128LL << 20;
  parquet::WriteOptions parquet;
  int max_attempts = 5;  // recomputations after a conflict with a concurrent writer
  // Commit (the txn and commitInfo) even when no row changes: a streaming flow records
  // every micro-batch in the table.
  bool commit_empty = false;
};

struct RowChangeResult {
  int64_t version = -1;            // the version committed (or the latest if nothing was)
  bool already_committed = false;  // the txn was already in the table: nothing written
  bool committed = false;          // a new version was written
  int attempts = 0;
  int64_t rows_removed = 0;        // existing rows replaced or deleted
  int64_t rows_written = 0;        // rows in the added files (new rows + copied survivors)
  int64_t rows_copied = 0;         // unaffected rows copied out of rewritten files
  int64_t files_removed = 0;
  int64_t files_added = 0;
  int64_t bytes_removed = 0;
  int64_t bytes_added = 0;         // "rewritten bytes"
};

// Given the current rows of the affected keys (in the table schema; empty after a
// truncate), returns the rows that replace them (columns by name, missing ones NULL).
using ComputeReplacement = std::function<Result<RecordBatch>(const RecordBatch& existing)>;

struct KeyedReplace {
  std::vector<std::string> key_columns;  // table columns (case-insensitive); not nested
  RecordBatch keys;                      // the affected keys (at least the key columns)
  // Every row of the table is affected: `compute` gets them all (keys then only tells
  // which files to read, i.e. none is skipped) and its rows are the whole new table.
  bool truncate = false;
};

// Replaces every existing row whose key is in `change.keys` (every row, with truncate) by
// what `compute` returns (0..n rows per key; rows of keys not in `keys` are refused,
// unless truncating).
// A commit happens only when something changes (rows removed or written).
Result<RowChangeResult> ReplaceKeyedRows(const DeltaTable& table, const KeyedReplace& change,
                                         const ComputeReplacement& compute,
                                         const RowChangeOptions& options);

// For DeleteRows: marks the rows of `rows` to delete (1) or keep (0).
using RowSelector = std::function<Result<std::vector<uint8_t>>(const RecordBatch& rows)>;

// Deletes the rows `select` marks, reading only the files `skip` (conjuncts on top-level
// columns, judged by partition values and stats) does not rule out. Operation "DELETE".
Result<RowChangeResult> DeleteRows(const DeltaTable& table,
                                   const std::vector<parquet::ColumnPredicate>& skip,
                                   const RowSelector& select, const std::string& predicate_text,
                                   const RowChangeOptions& options);

}  // namespace lakepipe::delta
