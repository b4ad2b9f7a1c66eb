// Freshness and SLAs (docs/sla.md): how far each stored table of a pipeline is behind its
// inputs, and whether that breaks the `sla:` of pipeline.yaml.
//
// A table's lag is the age of the oldest input that has arrived but is not yet in the
// table, following the chain back to the landed files: now − pending_since, where
// pending_since is the earliest of
//   - the modification time of each landed file its read_files sources have not planned,
//   - the commit time of the first data-carrying version of each table it reads that it
//     has not read yet,
//   - the pending_since of each table it reads (what is not yet in the table upstream is
//     not in this one either).
// A table with nothing pending has lag 0. Everything is read from the storage folder (the
// flows' checkpoints, the Delta logs) and the landing folders, so `lakepipe status`, the
// server of `lakepipe run` and `lakepipe serve` compute the same numbers whether or not the
// pipeline runs.
//
// SlaMonitor keeps the last evaluation (for /metrics and the API, at most one evaluation
// per interval however many requests come) and turns changes of breach state into
// `sla_breached` / `sla_recovered` events. An evaluation lists the landing folders and
// reads the flows' checkpoints. It keeps what it read of them (FreshnessCache): a plan or
// a segment file is never rewritten under one flow id, so the next evaluation reads only
// the ones written since, not the week of files a source remembers by default. Its
// interval still grows with its cost (kCostFactor times the last evaluation's time), so
// that watching SLAs takes at most about a tenth of a core.
//
// Thread-safety: EvaluateFreshness is a pure function of the files it reads (and of the
// cache it is given, which it updates: one evaluation at a time per cache). SlaMonitor's
// methods may be called from several threads; the runner must outlive it.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "runtime/event_log.h"
#include "runtime/pipeline_runner.h"
#include "runtime/taken_files.h"

namespace lakepipe::server {

struct TableFreshness {
  std::string table;
  std::string layer;            // bronze / silver / gold / "" (from the name's prefix)
  std::string kind;             // "streaming table", "materialized view"
  bool exists = false;          // the table has been written
  int64_t version = -1;
  int64_t last_commit_unix_ms = -1;
  // The arrival of the oldest input not yet in the table; -1: nothing pending.
  int64_t pending_since_unix_ms = -1;
  double lag_seconds = 0;       // now − pending_since (0 when nothing is pending)
  std::string pending_reason;   // what is pending, e.g. "3 files in /landing" (empty: none)
  // The SLA that applies (the table's own entry, else its layer's); has_sla false: none.
  bool has_sla = false;
  std::string sla_scope;        // the pipeline.yaml key it comes from
  double max_lag_seconds = 0;
  bool breached = false;        // has_sla && lag_seconds > max_lag_seconds
};

struct FreshnessReport {
  int64_t evaluated_unix_ms = 0;
  std::vector<TableFreshness> tables;  // stored datasets, in dependency order
  bool any_breached() const;
};

// The layer of a table from its name: "bronze_x" -> "bronze"; "" when none.
std::string LayerOf(const std::string& table);

// What one flow's committed plans, and the segment files its compact files list, say it
// consumed: the plans and segments read so far under the flow id `flow_id`.
struct FlowConsumed {
  std::string flow_id;                  // the checkpoint's metadata id ("": none, nothing kept)
  std::set<std::string> plans_read;     // offsets/ names noted (committed plans, compact files)
  std::set<std::string> segments_read;  // taken/ names noted
  // read_files path -> the files taken, with the horizon's times (newest, forgotten before).
  // Files older than the flow's forgotten-before leave it, as they leave the flow's memory.
  std::map<std::string, runtime::TakenFiles> files;
  std::map<std::string, int64_t> versions;  // upstream (lower case) -> last version read
};
// What evaluations keep between them: of the flows' checkpoints, by checkpoint folder (a
// flow whose metadata id changed, a full refresh, is read again whole), and of each
// streaming read_files scan's landing folder, the names found older than its horizon and
// not taken, passed by without a stat while they stay there (as the run's own listing
// does: runtime/taken_files.h, OldFiles).
struct FreshnessCache {
  std::map<std::string, FlowConsumed> flows;
  // "<table>\n<read_files path>\n<flow id>..." -> names
  std::map<std::string, runtime::OldFiles> old_files;
};

// Evaluates every stored dataset of the runner's pipeline at `now_unix_ms`. With a
// `cache`, reads only the checkpoint files not in it, and updates it.
Result<FreshnessReport> EvaluateFreshness(const runtime::PipelineRunner& runner, FileSystem* fs, int64_t now_unix_ms,
                                          FreshnessCache* cache = nullptr);

class SlaMonitor {
 public:
  static constexpr int64_t kCostFactor = 10;

  // `min_interval_ms`: Current() evaluates again only when the last evaluation is older
  // (and older than kCostFactor times its own duration).
  SlaMonitor(const runtime::PipelineRunner* runner, int64_t min_interval_ms = 1000);

  // The latest evaluation (evaluating when it is older than IntervalMs()).
  Result<FreshnessReport> Current();
  // Evaluates (unless the last evaluation is younger than kCostFactor times its duration:
  // then nothing changed) and returns the events for tables whose breach state changed
  // since the previous evaluation of Check (the first reports the tables already in breach).
  Result<std::vector<runtime::Event>> Check();

  // How long the last evaluation took, and the interval Current() keeps between two.
  int64_t last_evaluation_ms() const;
  int64_t IntervalMs() const;

 private:
  Status EvaluateLocked(int64_t now_ms);
  int64_t IntervalLocked() const;

  const runtime::PipelineRunner* runner_;
  int64_t min_interval_ms_;
  int64_t last_cost_ms_ = 0;
  mutable std::mutex mu_;
  bool have_ = false;
  FreshnessReport last_;
  std::map<std::string, bool> breached_;  // table -> in breach at the last Check
  FreshnessCache cache_;
};

}  // namespace lakepipe::server
