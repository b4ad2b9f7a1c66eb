// PipelineRunner: runs the datasets of a pipeline folder — one triggered update
// (`lakepipe run DIR --once`) over every table in dependency order.
//
//   - a materialized view is recomputed from the current snapshots of what it reads and
//     replaces its table's contents (one overwrite commit);
//   - a streaming table is a flow (runtime/checkpoint.h): each update plans a micro-batch of
//     the input no earlier batch consumed (new files of read_files, new versions of an
//     upstream table), processes exactly that, and appends it with txn(flow id, batch id),
//     so re-running never duplicates and a crash replays the same batch;
//   - a view is not stored: its query runs inline wherever it is read;
//   - expectations are applied to each table's rows before writing (warn / drop / fail /
//     quarantine into `<table>_quarantine`), counted per constraint;
//   - every table's outcome goes to the event log (runtime/event_log.h).
// A table whose update fails is reported, and the tables downstream of it are skipped;
// independent tables still update.
//
// Thread-safety: one update at a time per runner (RunOnce is not reentrant).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/fs.h"
#include "common/status.h"
#include "sql/pipeline.h"
#include "sql/resolve.h"
#include "types/batch.h"

namespace lakepipe::runtime {

struct ExpectationReport {
  std::string name;
  std::string action;  // "warn", "drop", "fail", "quarantine"
  int64_t passed = 0;
  int64_t failed = 0;
};

struct TableReport {
  std::string table;
  std::string kind;            // "streaming table", "materialized view"
  // "updated", "up to date", "waiting", "skipped", "failed"; "restarted": the flow stopped
  // for new fields (schemaEvolutionMode addNewColumns) and runs again at once with the
  // pipeline re-planned (RunOptions::on_table sees this attempt; the update's report
  // holds the table's last attempt).
  std::string status;
  std::string message;         // the error for "failed" / "skipped" / "restarted", the reason for "waiting"
  int64_t restarts = 0;        // the table's restarts for new fields before this report (this update)
  int64_t rows_read = 0;
  int64_t rows_written = 0;
  int64_t rows_dropped = 0;
  int64_t rows_quarantined = 0;
  int64_t rows_late = 0;       // rows behind a watermark, moved to <table>_late
  int64_t rows_rescued = 0;    // source rows with _rescued_data
  // Replication sources (read_postgres_cdc) after the update: -1 when the table has none.
  int64_t replication_lag_bytes = -1;
  double replication_lag_seconds = -1;
  int64_t batches = 0;         // micro-batches committed (streaming tables)
  // Streaming tables: the parts their micro-batches were read in (docs/execution.md, "Two
  // ways to run a micro-batch"); 0 when every one was read whole.
  int64_t parts = 0;
  int64_t table_version = -1;  // the table's version after the update
  int64_t duration_ms = 0;
  std::string technique;       // materialized views: "incremental", "complete recompute", ...
  // Materialized views of `run --once`: how many views (this one included) shared one read
  // by parts of the table this view aggregates (docs/execution.md); 0 when it read alone.
  int64_t shared_read_views = 0;
  int64_t state_keys = 0;      // operator state after the update (dedup keys, groups), total
  int64_t state_bytes = 0;
  struct OperatorState {
    std::string name;          // its folder under the checkpoint's state/: "distinct-0", "aggregate-0"
    int64_t keys = 0;
    int64_t bytes = 0;         // on disk
  };
  std::vector<OperatorState> operators;
  std::vector<ExpectationReport> expectations;
  // What the update met and did not stop for, each logged as a WARN event of its type:
  // "file_changed" (a source file's size at reading is not its planned size),
  // "link_not_followed" (a folder link or cycle in a landing tree). (type, message).
  std::vector<std::pair<std::string, std::string>> warnings;
};

struct UpdateReport {
  std::string update_id;
  std::vector<TableReport> tables;
  int64_t duration_ms = 0;
  bool ok() const;
};

class StatusBoard;

struct RunOptions {
  std::set<std::string> full_refresh;  // tables to rebuild from their sources
  bool full_refresh_all = false;
  // RunOnce only (`lakepipe run --once --refresh`): when not empty, the update runs only
  // these tables and those in `full_refresh` (Databricks' refresh_selection); the others,
  // their upstream tables included, keep their versions. Names must be tables.
  std::set<std::string> refresh_selection;
  // Called when a table's update starts (index in the update, tables in it) and with each
  // table's report as soon as it is done (progress output).
  std::function<void(const std::string& table, int index, int total)> on_table_start;
  std::function<void(const TableReport&)> on_table;
  // Where live status goes (runtime/status_board.h); may be null. Not owned.
  StatusBoard* board = nullptr;
};

class PipelineRunner {
 public:
  static Result<std::unique_ptr<PipelineRunner>> Open(const std::string& folder,
                                                      const std::map<std::string, std::string>& overrides,
                                                      FileSystem* fs = FileSystem::Default(),
                                                      Clock* clock = Clock::System());
  // For Query only: as Open, but when the pipeline does not resolve (its sources are not
  // reachable: a stopped PostgreSQL or Kafka broker, or an error in its SQL), the stored
  // tables can still be read; its views cannot, and RunOnce/RunContinuous refuse.
  // `resolve_error` (optional) receives why it did not resolve, OK when it did.
  static Result<std::unique_ptr<PipelineRunner>> OpenForQuery(const std::string& folder,
                                                              const std::map<std::string, std::string>& overrides,
                                                              Status* resolve_error = nullptr,
                                                              FileSystem* fs = FileSystem::Default(),
                                                              Clock* clock = Clock::System());
  ~PipelineRunner();

  const sql::Pipeline& pipeline() const;
  const sql::ResolvedPipeline& resolved() const;
  // Where table `name` is stored: <storage>/<name>.
  std::string TablePath(const std::string& name) const;
  std::string CheckpointPath(const std::string& name) const;

  // One triggered update of every table. Returns the report even when tables failed
  // (report.ok() says whether all succeeded); a non-OK status only for failures outside
  // any one table (e.g. the event log cannot be written).
  Result<UpdateReport> RunOnce(const RunOptions& options);

  // Runs continuously until RequestStop(): each flow runs as soon as its input has new
  // data (inotify on landing folders, a periodic listing as a backstop), downstream tables
  // as soon as an upstream table commits, per-table triggers (interval / daily windows)
  // honoured. Returns after the batch in progress when stopped; an error only for
  // failures outside any one table.
  Status RunContinuous(const RunOptions& options);
  // Asks RunContinuous (or RunOnce, between tables) to stop after the current batch.
  // Thread-safe and async-signal-safe (a SIGINT/SIGTERM handler may call it).
  void RequestStop();

  // Runs a one-off SELECT over the pipeline's stored tables (and its views, the event log
  // `_event_log` and `<t>_quarantine` tables) on the same engine. Reads the latest
  // snapshots; writes nothing.
  struct QueryResult {
    Schema schema;
    std::vector<RecordBatch> batches;
  };
  Result<QueryResult> Query(const std::string& select_sql);

  struct Impl;

 private:
  explicit PipelineRunner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lakepipe::runtime
