#include "runtime/scheduled_vacuum.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "delta/log_cleanup.h"
#include "delta/table.h"
#include "runtime/event_log.h"

namespace lakepipe::runtime {

namespace {
constexpr int64_t kMinRetentionMillis = 3600 * 1000;
}  // namespace

ScheduledVacuum::~ScheduledVacuum() { Stop(); }

void ScheduledVacuum::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void ScheduledVacuum::Queue(const std::string& name, const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || !queued_.insert(path).second) return;
    queue_.emplace_back(name, path);
  }
  cv_.notify_one();
}

void ScheduledVacuum::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    queue_.clear();
    queued_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ScheduledVacuum::Loop() {
  while (true) {
    std::pair<std::string, std::string> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      queued_.erase(job.second);
    }
    (void)VacuumNow(job.first, job.second);  // reported in the event log
  }
}

Result<int64_t> ScheduledVacuum::VacuumNow(const std::string& name, const std::string& path) {
  auto warn = [&](const Status& st) {
    if (log_ != nullptr) log_->Add({0, name, "scheduled_vacuum", "WARN", "scheduled VACUUM failed: " + st.message(), "{}"});
    return st;
  };
  delta::TableOptions table_options;
  table_options.clock = clock_;
  auto table = delta::DeltaTable::Open(path, fs_, table_options);
  if (!table.ok()) return table.status().IsNotFound() ? Result<int64_t>(int64_t{0}) : warn(table.status());
  auto snap = (*table)->Latest();
  if (!snap.ok()) return warn(snap.status());
  delta::VacuumOptions options;
  // Never under an hour, whatever the table says: this VACUUM runs beside the run's own
  // writers, whose data files exist before their commit names them.
  int64_t retention_ms = std::max<int64_t>(delta::DeletedFileRetentionMillis((*snap)->configuration()), kMinRetentionMillis);
  options.retention_hours = static_cast<double>(retention_ms) / 3600e3;
  options.dry_run = true;
  auto planned = (*table)->Vacuum(options);
  if (!planned.ok()) return warn(planned.status());
  if (planned->deleted.empty()) return int64_t{0};
  options.dry_run = false;
  auto done = (*table)->Vacuum(options);
  if (!done.ok()) return warn(done.status());
  int64_t n = static_cast<int64_t>(done->deleted.size());
  if (log_ != nullptr) {
    log_->Add({0, name, "scheduled_vacuum", "INFO",
               "VACUUM deleted " + std::to_string(n) + " files no version within the retention needs",
               nlohmann::json({{"files_deleted", n},
                               {"start_version", done->start_version.value_or(-1)},
                               {"retention_hours", options.retention_hours}})
                   .dump()});
  }
  return n;
}

}  // namespace lakepipe::runtime
