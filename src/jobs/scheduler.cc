#include "jobs/scheduler.h"

namespace lakepipe::jobs {

Scheduler::Scheduler(const JobsFile& file, Clock* clock) : file_(file), clock_(clock) {
  int64_t now = clock_->NowMicros() / 1'000'000;
  for (const auto& job : file_.jobs) {
    if (!job.cron) continue;
    auto next = job.cron->Next(now, job.timezone);
    if (next.ok()) next_[job.name] = *next;
  }
}

std::vector<std::string> Scheduler::Due() {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = clock_->NowMicros() / 1'000'000;
  std::vector<std::string> due;
  for (const auto& job : file_.jobs) {
    auto it = next_.find(job.name);
    if (it == next_.end() || it->second > now) continue;
    due.push_back(job.name);
    auto next = job.cron->Next(now, job.timezone);
    if (next.ok()) {
      it->second = *next;
    } else {
      next_.erase(it);
    }
  }
  return due;
}

std::optional<int64_t> Scheduler::NextRun(const std::string& job) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = next_.find(job);
  if (it == next_.end()) return std::nullopt;
  return it->second;
}

}  // namespace lakepipe::jobs
