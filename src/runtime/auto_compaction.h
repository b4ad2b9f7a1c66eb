// AutoCompactor: compaction of the small files that a pipeline's streaming tables
// accumulate, one data file per micro-batch (`delta.autoOptimize.autoCompact`, on by
// default; docs/continuous.md, "Auto-compaction").
//
// A compaction is `DeltaTable::Optimize` (the code of `lakepipe table optimize`): one
// commit that removes the small files of a partition and adds their rows in bigger files,
// every action with dataChange = false, so readers by version (streaming reads, the change
// data feed, publication, the Kafka sink) skip it and never see those rows twice. It is
// due when some partition of the table has at least `min_num_files` files smaller than
// `min_file_bytes` that no compaction wrote (Databricks' autoCompact.minNumFiles, 50, and
// autoCompact.minFileSize, half of the 128 MiB target), or as many small files that
// earlier compactions wrote: its own outputs are not compacted again at every
// notification (delta::OptimizeOptions::separate_compacted).
//
// It never holds up ingestion: in continuous mode the scheduler calls Notify after a table
// committed, and one background thread does the work while the table keeps appending.
// Delta's conflict checks order the two commits: an append never conflicts with a
// compaction that removed other files; a compaction whose files a concurrent commit
// removed (an AUTO CDC rewrite, a full refresh) loses, deletes the files it wrote, and is
// tried again at the table's next notification. A crash before its commit leaves only
// files no version names (VACUUM removes them); after it, the compaction is done.
//
// A table's handle caches its latest snapshot (every active file and every tombstone
// within the retention), so a second handle on a table holds all of it a second time: a
// pipeline's compactor borrows the runner's handles (LendTableHandles) instead of keeping
// its own (the soak's heap profile: 34 MB of snapshots in the compactor's handles beside
// 27 MB in the runner's, docs/BENCHMARKS.md, "Heap profile of a continuous run").
//
// Thread-safety: Notify and CompactIfDue may be called from any thread. Call order:
// LendTableHandles (optional), Start (for Notify), Notify any number of times, Stop (or
// the destructor), which waits for the compaction in progress.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "runtime/table_handles.h"

#include "common/clock.h"
#include "common/fs.h"
#include "common/status.h"
#include "runtime/table_job_queue.h"

namespace lakepipe::delta {
class DeltaTable;
}

namespace lakepipe::runtime {

class EventLog;

struct AutoCompactOptions {
  // A partition is compacted when it has at least this many small files (new ones, or
  // small outputs of earlier compactions: each group counts on its own).
  int min_num_files = 50;
  // Compacted files are about this size.
  int64_t target_file_bytes = 128LL << 20;
  // Files below this size are small; 0 means half of target_file_bytes.
  int64_t min_file_bytes = 0;
};

struct AutoCompactResult {
  bool compacted = false;     // a compaction commit was written
  int64_t version = -1;       // its version
  int64_t files_removed = 0;
  int64_t files_added = 0;
  std::string skipped;        // why not, when a compaction was due but not committed
};

class AutoCompactor {
 public:
  // `log` (may be null, not owned) receives an `auto_compaction` event per compaction and
  // a WARN per failure.
  AutoCompactor(FileSystem* fs, Clock* clock, EventLog* log, AutoCompactOptions options = {});
  ~AutoCompactor();
  AutoCompactor(const AutoCompactor&) = delete;
  AutoCompactor& operator=(const AutoCompactor&) = delete;

  // Starts the background thread that serves Notify.
  void Start();
  // Queues a look at table `name` stored at `path` (cheap: no I/O on the caller's thread).
  // `min_num_files` > 0 replaces the options' threshold for this table
  // (lakepipe.autoCompact.minNumFiles).
  void Notify(const std::string& name, const std::string& path, int min_num_files = 0);
  // Waits for the compaction in progress, drops what is queued, stops the thread.
  void Stop();
  // Compacts now, on the caller's thread, if due (RunOnce, at the end of an update).
  Result<AutoCompactResult> CompactIfDue(const std::string& name, const std::string& path, int min_num_files = 0);

  // Compaction commits written so far (for tests and status).
  int64_t compactions() const;

  // Where CompactIfDue gets the handle of table `name` at `path` from: the caller's own
  // handles (shared, used from the compactor's thread too). NotFound: the table has no
  // commit yet (nothing to compact). Without it the compactor opens and keeps its own.
  using TableHandles =
      std::function<Result<std::shared_ptr<delta::DeltaTable>>(const std::string& name, const std::string& path)>;
  void LendTableHandles(TableHandles handles);
  // Handles the compactor opened and keeps itself (tests: none when lent).
  size_t own_handles() const;

 private:
  Result<std::shared_ptr<delta::DeltaTable>> Table(const std::string& name, const std::string& path);

  EventLog* log_;
  AutoCompactOptions options_;
  mutable std::mutex mu_;  // guards compactions_
  int64_t compactions_ = 0;
  TableHandleCache own_;  // its own handles, when none are lent
  TableHandles lent_;  // set before Start
  TableJobQueue jobs_;  // last: stopped first, before what its jobs use goes
};

}  // namespace lakepipe::runtime
