// Scheduler: when each scheduled job of a JobsFile runs next, against a Clock (a
// ManualClock in tests). `lakepipe job serve` polls Due() and starts the runs. A run time
// that passes while the process is down, or while Due is not called, runs once when Due is
// next called (missed runs are not replayed one by one, as cron does not replay them).
//
// Thread-safety: all methods may be called from any thread (one mutex).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "jobs/job_spec.h"

namespace lakepipe::jobs {

class Scheduler {
 public:
  // Next run times are computed from the clock's now (the first is strictly after it).
  Scheduler(const JobsFile& file, Clock* clock);

  // The jobs whose run time has come, each once, in file order; their next run time is
  // computed from now.
  std::vector<std::string> Due();
  // The next run of `job` (seconds since the epoch, UTC), if it has a schedule.
  std::optional<int64_t> NextRun(const std::string& job) const;

 private:
  const JobsFile& file_;
  Clock* clock_;
  mutable std::mutex mu_;
  std::map<std::string, int64_t> next_;  // job -> next run (seconds)
};

}  // namespace lakepipe::jobs
