// StatusBoard: the live state of a running pipeline — per table: its state, totals, the
// last batch, rates, latency and batch-duration histograms, backlog and state size — for
// the HTTP API (/api/pipeline, /metrics, server-sent events) and the terminal progress.
//
// The runner (PipelineRunner, continuous or --once) writes to it after every batch; the
// server reads Snapshot() and waits for changes with WaitForChange. It holds no data of
// the tables themselves.
//
// Thread-safety: every method is thread-safe (one mutex; Snapshot copies).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/pipeline_runner.h"

namespace lakepipe::runtime {

// A cumulative histogram in Prometheus' shape: counts[i] observations <= bounds[i]; the
// last count is +Inf. Values in seconds.
struct Histogram {
  std::vector<double> bounds;
  std::vector<int64_t> counts;  // bounds.size() + 1, not cumulative
  double sum = 0;
  int64_t count = 0;
  static Histogram Seconds();   // 1 ms ... 60 s
  void Observe(double value, int64_t times = 1);
  // The value below which `q` (0..1) of the observations fall, interpolated inside the
  // bucket; 0 when empty.
  double Quantile(double q) const;
};

struct ExpectationTotals {
  std::string name;
  std::string action;
  int64_t passed = 0;
  int64_t failed = 0;
};

struct TableStatus {
  std::string name;
  std::string kind;                // "streaming table", "materialized view"
  // "idle", "running", "waiting for trigger", "failed", "stopped", "restarting" (stopped for
  // new fields; runs again once the pipeline is re-planned)
  std::string state = "idle";
  std::string trigger;             // TriggerSpec::ToString()
  std::vector<std::string> upstream_tables;  // tables it reads (the DAG's edges)
  std::vector<std::string> sources;          // external inputs, e.g. "files:/path/landing"
  int64_t table_version = -1;
  int64_t batches = 0;
  int64_t rows_in = 0;             // totals since the process started
  int64_t rows_out = 0;
  int64_t rows_dropped = 0;
  int64_t rows_quarantined = 0;
  int64_t rows_late = 0;  // rows behind a watermark (in <table>_late)
  int64_t rows_rescued = 0;
  double rows_out_per_second = 0;  // over the last minute
  int64_t backlog_files = 0;       // input found but not yet processed
  int64_t backlog_bytes = 0;
  // read_files: files listed and not taken for being older than maxFileAge allows, since
  // the process started (each counted at the listing that first met it).
  int64_t files_too_old = 0;
  // read_files cleanSource: files deleted or archived after their batch committed, and
  // files that could not be (each also a file_not_cleaned warning), since the process started.
  int64_t files_cleaned = 0;
  int64_t files_not_cleaned = 0;
  // Tables fed by database replication (read_postgres_cdc): bytes of the server's log and
  // seconds since the oldest commit not yet confirmed; -1 for other tables.
  int64_t replication_lag_bytes = -1;
  double replication_lag_seconds = -1;
  int64_t state_keys = 0;          // operator state (dedup keys, aggregate groups)
  int64_t state_bytes = 0;
  int64_t last_update_unix_ms = 0;
  std::string last_error;
  // Restarts of the table's flow after it stopped for new fields (schemaEvolutionMode
  // addNewColumns), since the process started; the last one's message and time.
  int64_t restarts = 0;
  std::string last_restart;
  int64_t last_restart_unix_ms = 0;
  TableReport last_batch;
  std::vector<ExpectationTotals> expectations;
  Histogram batch_duration_seconds = Histogram::Seconds();
  // From a source line's arrival (its landing file's modification time) to this table's
  // commit containing it, observed once per source line.
  Histogram end_to_end_latency_seconds = Histogram::Seconds();
};

// A table's publication to PostgreSQL (written by publish/publish_loop.h).
struct PublicationStatus {
  std::string table;               // the pipeline table
  std::string target;              // "schema.table" in PostgreSQL
  // "up to date", "behind", "retrying" (PostgreSQL unreachable or failing; backing off),
  // "stopped" (a change PostgreSQL cannot follow; see last_error), "waiting for table"
  std::string state;
  int64_t published_version = -1;  // the Delta version PostgreSQL holds (-1: none yet)
  int64_t latest_version = -1;
  int64_t lag_versions = 0;
  double lag_seconds = 0;          // since the oldest commit not yet published
  int64_t publications = 0;        // successful publications since the process started
  int64_t rows_upserted = 0;
  int64_t rows_deleted = 0;
  int64_t rows_loaded = 0;         // rows loaded by whole-table replaces
  int64_t failures = 0;
  int64_t last_publish_unix_ms = 0;
  std::string last_error;
  // From a Delta commit to the PostgreSQL commit that makes it visible.
  Histogram latency_seconds = Histogram::Seconds();
};

struct PipelineStatus {
  std::string pipeline;
  std::string storage;
  std::string mode;                // "continuous", "triggered", "not running"
  int64_t started_unix_ms = 0;
  int64_t generation = 0;          // increases with every change
  std::vector<TableStatus> tables; // in dependency order
  // Why the event log cannot be written now (empty: it can); the run goes on meanwhile.
  std::string event_log_error;
  std::vector<PublicationStatus> publications;  // publish.postgres tables, in pipeline.yaml order
};

class StatusBoard {
 public:
  StatusBoard() = default;
  // Declares the tables (in dependency order) and what they read.
  void Init(PipelineStatus initial);

  // Marks a table running / waiting / failed / stopped.
  void SetState(const std::string& table, const std::string& state);
  // Adds a finished batch (or update) of `report.table`: totals, histograms, last batch.
  void RecordBatch(const TableReport& report, int64_t now_unix_ms);
  // Observes per-line end-to-end latency: `lines` source lines arrived `seconds` ago.
  void RecordLatency(const std::string& table, double seconds, int64_t lines);
  // Counts a restart of the table's flow after a schema change (`message`: why).
  void RecordRestart(const std::string& table, const std::string& message, int64_t now_unix_ms);
  void SetBacklog(const std::string& table, int64_t files, int64_t bytes);
  void SetFilesTooOld(const std::string& table, int64_t files);
  void AddCleanedFiles(const std::string& table, int64_t cleaned, int64_t not_cleaned);
  void SetReplicationLag(const std::string& table, int64_t bytes, double seconds);
  void SetStateSize(const std::string& table, int64_t keys, int64_t bytes);
  void SetEventLogError(const std::string& error);  // empty: written again
  // Adds or replaces the publication status of `status.table`.
  void SetPublication(const PublicationStatus& status);

  PipelineStatus Snapshot() const;
  // Blocks until the generation passes `seen_generation` or `timeout_ms` elapses;
  // returns the current generation.
  int64_t WaitForChange(int64_t seen_generation, int64_t timeout_ms) const;

 private:
  TableStatus* Find(const std::string& table);  // requires mu_
  void Changed();                               // requires mu_

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  PipelineStatus status_;
  // Recent (unix ms, rows out) per table for rows_out_per_second.
  std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> recent_;
};

}  // namespace lakepipe::runtime
