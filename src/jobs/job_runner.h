// JobRunner: runs one job of a JobsFile once (docs/jobs.md "Runs"): its task DAG with
// independent tasks in parallel up to the job's max_parallel, each task a child process
// (lakepipe actions run the lakepipe binary itself with the CLI command of the action, so
// a timeout can kill a task, a task that crashes cannot take the runner down, and every
// task's output goes to its own log file). A failed attempt is retried after a backoff
// that doubles; a task that still fails (or times out) stops its dependants
// (upstream_failed) and leaves the others running. Each attempt and the run's end are
// rows of the RunHistory. A job never overlaps itself: the run holds an exclusive lock
// `<storage>/_job_locks/<job>.lock` (flock, freed when the process dies); a second run is
// not started and is recorded as `skipped`.
//
// Resuming: a run that did not succeed (failed, cancelled, or killed with the process) is
// resumed by the next run of the job, unless it is asked for a new run: same run id and
// parameters, the tasks that succeeded are not run again.
//
// Thread-safety: Run may be called from several threads at once (for different jobs, or
// the same job, which the lock then refuses). The JobsFile must outlive the runner.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "jobs/job_spec.h"

namespace lakepipe::jobs {

struct RunOptions {
  std::string job;
  std::vector<std::string> only_tasks;           // --task: run these tasks only (no dependencies)
  std::map<std::string, std::string> params;     // --param k=v
  std::optional<std::string> resume_run_id;      // --resume RUN_ID
  bool new_run = false;                          // --new: never resume
  std::string trigger = "manual";                // manual, schedule, api
  std::string run_id;                            // a new run's id (empty: NewRunId); a
                                                 // server names the run it answers with
  std::string lakepipe_binary;                   // argv[0] of lakepipe actions
  Clock* clock = Clock::System();                // timestamps of the history
  std::function<void(const std::string&)> print; // progress lines (may be empty)
  const std::atomic<bool>* stop = nullptr;       // set: kill the tasks, end the run (cancelled)
  // A task killed at its timeout (or on stop) gets SIGTERM, then SIGKILL after this long.
  int64_t kill_grace_ms = 5000;
};

struct TaskOutcome {
  std::string state;   // succeeded, failed, timed_out, upstream_failed, cancelled, or
                       // "done earlier" (succeeded in the run being resumed)
  int attempts = 0;    // attempts made by this invocation
  std::string error;
};

struct RunResult {
  std::string run_id;
  std::string state;   // succeeded, failed, cancelled, skipped
  bool resumed = false;
  std::string error;
  std::map<std::string, TaskOutcome> tasks;
};

class JobRunner {
 public:
  explicit JobRunner(const JobsFile& file) : file_(file) {}

  // Runs the job once. The outcome of the tasks is in the result (a failed run is a
  // result, not an error); errors are for runs that cannot start (unknown job or task,
  // a parameter not declared, a --resume of an unknown or succeeded run, I/O).
  Result<RunResult> Run(const RunOptions& options) const;

 private:
  const JobsFile& file_;
};

// "20261205T161000Z-1a2b3c": sorts by start time.
std::string NewRunId(int64_t now_micros);

}  // namespace lakepipe::jobs
