#include "runtime/scheduled_vacuum.h"

#include <algorithm>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "common/kill_point.h"
#include "delta/log_cleanup.h"
#include "delta/table.h"
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
  int64_t retention_ms = std::max<int64_t>(delta::DeletedFileRetentionMillis((*snap)->configuration()), MinRetentionMillis());
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
