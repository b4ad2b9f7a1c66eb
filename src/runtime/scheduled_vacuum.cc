#include "runtime/scheduled_vacuum.h"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "common/kill_point.h"
#include "delta/background_vacuum.h"
#include "runtime/event_log.h"

namespace lakepipe::runtime {

namespace {
constexpr int64_t kMinRetentionMillis = 3600 * 1000;

// The floor. Test builds only (kill points compiled in, as for LAKEPIPE_FAULT_AT):
// LAKEPIPE_VACUUM_MIN_RETENTION_SECONDS lowers it, so that `make soak` sees VACUUM level the
// file counts off within its hour (bench/soak.mjs); a run of its own, whose batches
// commit within seconds of writing their files.
int64_t MinRetentionMillis() {
  static const int64_t floor = [] {
    const char* env = std::getenv("LAKEPIPE_VACUUM_MIN_RETENTION_SECONDS");
    if (!KillPointsCompiledIn() || env == nullptr || *env == '\0') return kMinRetentionMillis;
    char* end = nullptr;
    long long seconds = std::strtoll(env, &end, 10);
    if (end == env || *end != '\0' || seconds < 0) return kMinRetentionMillis;
    return static_cast<int64_t>(seconds) * 1000;
  }();
  return floor;
}
}  // namespace

ScheduledVacuum::ScheduledVacuum(FileSystem* fs, Clock* clock, EventLog* log)
    : fs_(fs), clock_(clock), log_(log), jobs_([this](const TableJobQueue::Job& job) {
        (void)VacuumNow(job.name, job.path);  // reported in the event log
      }) {}

ScheduledVacuum::~ScheduledVacuum() { Stop(); }

void ScheduledVacuum::Start() { jobs_.Start(); }

void ScheduledVacuum::Queue(const std::string& name, const std::string& path) { jobs_.Add({name, path, 0}); }

void ScheduledVacuum::Stop() { jobs_.Stop(); }

Result<int64_t> ScheduledVacuum::VacuumNow(const std::string& name, const std::string& path) {
  auto done = delta::VacuumBesideWriters(path, fs_, clock_, MinRetentionMillis());
  if (!done.ok()) {
    if (log_ != nullptr) log_->Add({0, name, "scheduled_vacuum", "WARN", "scheduled VACUUM failed: " + done.status().message(), "{}"});
    return done.status();
  }
  const int64_t n = done->files_deleted;
  if (n > 0 && log_ != nullptr) {
    log_->Add({0, name, "scheduled_vacuum", "INFO",
               "VACUUM deleted " + std::to_string(n) + " files no version within the retention needs",
               nlohmann::json({{"files_deleted", n},
                               {"start_version", done->start_version.value_or(-1)},
                               {"retention_hours", done->retention_hours}})
                   .dump()});
  }
  return n;
}

}  // namespace lakepipe::runtime
