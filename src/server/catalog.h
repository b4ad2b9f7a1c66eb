// Catalog: which tables the HTTP API may read, and reading them safely while a pipeline
// writes them from another thread or process.
//
// A table name from a URL is accepted only if it names (case-insensitively) one of the
// pipeline's datasets, `<dataset>_quarantine` or `_event_log`; the storage path is then
// built from the pipeline's own spelling of the name, never from the request, so no
// request can reach a path outside the storage folder. Every request reads the latest Delta
// snapshot (immutable), so a concurrent commit is either fully visible or not at all; the
// table handles are kept, so that reaching a newer version replays only the new commits.
// Views (not stored) are computed with PipelineRunner::Query, serialised by a mutex here.
//
// The event log is read incrementally: the rows of the data files already read are kept,
// and only files added since are read (all again after an overwrite or compaction).
//
// Thread-safety: every method may be called from several threads at once. The runner must
// outlive the catalog.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "delta/table.h"
#include "runtime/pipeline_runner.h"
#include "types/batch.h"

namespace lakepipe::server {

struct TableEntry {
  std::string name;     // the pipeline's spelling
  std::string kind;     // "streaming table", "materialized view", "view", "quarantine", "event log"
  std::string comment;
  const sql::ResolvedDataset* dataset = nullptr;  // datasets only (for quarantine: its table)
  std::string path;     // the Delta table folder; empty for views
  bool stored() const { return !path.empty(); }
};

struct TableInfo {
  TableEntry entry;
  bool exists = false;
  int64_t version = -1;
  int64_t rows = -1;
  int64_t files = -1;
  int64_t size_bytes = -1;
  int64_t last_commit_unix_ms = -1;
  delta::SnapshotPtr snapshot;  // null unless exists
};

struct RowPage {
  Schema schema;
  int64_t version = -1;
  int64_t total_rows = -1;
  std::vector<RecordBatch> batches;  // at most `limit` rows in all
  std::vector<double> totals;        // QueryRows: the sums asked for, over every row
};

struct EventRow {
  int64_t timestamp_unix_ms = 0;
  std::string pipeline;
  std::string table;  // empty with table_is_null for pipeline-level events
  bool table_is_null = true;
  std::string update_id;
  std::string event_type;
  std::string level;
  std::string message;
  std::string details;
};
using EventRows = std::shared_ptr<const std::vector<EventRow>>;

class Catalog {
 public:
  explicit Catalog(runtime::PipelineRunner* runner);

  runtime::PipelineRunner* runner() const { return runner_; }
  // Datasets (dependency order), then `<t>_quarantine` of stored datasets, then `_event_log`.
  const std::vector<TableEntry>& entries() const { return entries_; }
  // NotFound naming the known tables when `name` is not one of entries().
  Result<TableEntry> Find(std::string_view name) const;

  // Latest snapshot facts (exists=false when the table has not been written yet).
  Result<TableInfo> Info(const TableEntry& entry) const;
  // Rows [offset, offset+limit) of the latest version (views computed on demand).
  // NotFound when a stored table does not exist yet.
  Result<RowPage> ReadRows(const TableEntry& entry, int64_t offset, int64_t limit) const;

  // Runs a dashboard chart's SELECT (sql/dashboard.h) on the pipeline's engine over the
  // latest versions and keeps its first `limit` rows; `total_rows` counts them all, and
  // `totals` holds the sum of each column of `sum_columns` (numbers; NULLs skipped) over
  // them all. `tables` are the stored tables it reads: each must exist (else NotFound
  // naming it) and hold only files inside its folder, as ReadRows checks.
  Result<RowPage> QueryRows(const std::string& sql, const std::vector<std::string>& tables, int64_t limit,
                            const std::vector<std::string>& sum_columns = {}) const;

  // The event log's latest version (-1 when it does not exist yet).
  Result<int64_t> EventLogVersion() const;
  // Every event, oldest first (empty when there is no event log yet).
  Result<EventRows> Events() const;

 private:
  // The table's handle, kept so that each Latest() replays only the commits since the last
  // request; nullptr when the table does not exist (yet).
  Result<std::shared_ptr<const delta::DeltaTable>> OpenTable(const std::string& path) const;
  // Latest snapshot, or nullptr when the table does not exist.
  Result<delta::SnapshotPtr> LatestSnapshot(const std::string& path) const;
  // Snapshot::num_records, cached per table version (it parses every file's stats).
  int64_t RowCount(const delta::Snapshot& snapshot) const;

  runtime::PipelineRunner* runner_;
  std::vector<TableEntry> entries_;
  mutable std::mutex query_mu_;  // PipelineRunner::Query is not declared thread-safe

  mutable std::mutex tables_mu_;
  mutable std::map<std::string, std::shared_ptr<const delta::DeltaTable>> tables_;
  mutable std::map<std::string, std::pair<int64_t, int64_t>> row_counts_;  // path -> (version, rows)

  mutable std::mutex events_mu_;
  mutable int64_t events_version_ = -2;
  mutable std::set<std::string> events_files_;
  mutable EventRows events_;
};

}  // namespace lakepipe::server
