// RunHistory: the job run history, a Delta table `<jobs storage>/_job_runs` written with
// the project's Delta writer (docs/jobs.md "Run history"): one row per task attempt when it
// ends, and one row per run (task NULL) when the run ends or is skipped. Readable by any
// Delta reader and by `lakepipe job history`.
//
// Each Append is one Delta commit (appends from several processes retry at the next
// version). Thread-safe: a RunHistory may be used from several threads; Append calls are
// serialised by a mutex, ReadAllCached's cache by another.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace lakepipe::jobs {

// Task and run states as written in the `state` column.
inline constexpr const char* kStateSucceeded = "succeeded";
inline constexpr const char* kStateFailed = "failed";          // the attempt (or the run) failed
inline constexpr const char* kStateTimedOut = "timed_out";     // the attempt was killed at its timeout
inline constexpr const char* kStateUpstreamFailed = "upstream_failed";  // not run: a dependency failed
inline constexpr const char* kStateSkipped = "skipped";        // run not started: the job was running
inline constexpr const char* kStateCancelled = "cancelled";    // stopped by the user (Ctrl-C)

struct RunRecord {
  std::string job;
  std::string run_id;
  std::string task;           // empty: the run's own row
  int attempt = 0;            // 1, 2, ... (0 for run rows and tasks not run)
  std::string trigger;        // manual, schedule, resume
  std::string state;
  int64_t start_micros = 0;
  int64_t end_micros = 0;
  std::string error;          // empty when none
  std::string parameters;     // JSON object of the run's parameters
  std::string log;            // the attempt's output file (task rows)
};

class RunHistory {
 public:
  explicit RunHistory(std::string storage);
  // `<storage>/_job_runs`
  const std::string& table_path() const { return table_path_; }

  Status Append(const std::vector<RunRecord>& records);
  // Every row, in the order they ended (oldest first); empty when the table does not exist yet.
  Result<std::vector<RunRecord>> ReadAll() const;
  // The same rows, kept between calls and read again only when the table has a new
  // version (any process's Append): a server asked every few seconds lists the log folder
  // instead of reading every data file each time. The result is shared and immutable.
  Result<std::shared_ptr<const std::vector<RunRecord>>> ReadAllCached();
  // How many times ReadAllCached read the table (not served from the cache).
  int64_t cache_misses() const;

 private:
  std::string table_path_;
  std::mutex mu_;
  mutable std::mutex cache_mu_;
  int64_t cached_version_ = -1;                               // guarded by cache_mu_
  std::shared_ptr<const std::vector<RunRecord>> cached_;      // guarded by cache_mu_
  int64_t cache_misses_ = 0;                                  // guarded by cache_mu_
};

}  // namespace lakepipe::jobs
