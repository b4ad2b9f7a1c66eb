#include "runtime/event_log_upkeep.h"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "common/kill_point.h"
#include "delta/row_changes.h"
#include "delta/table.h"
#include "runtime/event_log.h"
#include "types/value.h"

namespace lakepipe::runtime {

namespace {

constexpr const char* kRetentionKey = "lakepipe.eventLog.retentionDuration";
constexpr const char* kEventLogName = "_event_log";

// Test builds only (kill points compiled in, as LAKEPIPE_VACUUM_MIN_RETENTION_SECONDS):
// LAKEPIPE_EVENT_LOG_RETENTION_SECONDS=N makes every retention of the event log N seconds
// (its events, its log and removed files, its txns) and runs its retention and VACUUM every N/2
// seconds, so that `make soak` (bench/soak.mjs) outlasts them within its hour; the
// settings' floor of an hour would not. 0 when unset or not a whole number of seconds.
int64_t SoakRetentionSeconds() {
  static const int64_t seconds = [] {
    const char* env = std::getenv("LAKEPIPE_EVENT_LOG_RETENTION_SECONDS");
    if (!KillPointsCompiledIn() || env == nullptr || *env == '\0') return int64_t{0};
    char* end = nullptr;
    long long n = std::strtoll(env, &end, 10);
    if (end == env || *end != '\0' || n <= 0) return int64_t{0};
    return static_cast<int64_t>(n);
  }();
  return seconds;
}

EventLogUpkeepOptions WithSoakOverride(EventLogUpkeepOptions options) {
  if (const int64_t seconds = SoakRetentionSeconds(); seconds > 0) {
    options.retention_micros = seconds * 1000000;
    options.expire_every_micros = seconds * 1000000 / 2;
    options.vacuum_every_micros = seconds * 1000000 / 2;
  }
  return options;
}

}  // namespace

std::map<std::string, std::string> EventLogHistoryProperties() {
  std::string history = "interval 1 hour";
  // Each EventLog (each run) writes under an appId of its own and needs its txn only to
  // recognise its own retried flush, moments later (event_log.h); a day is ample, and the
  // appIds of past runs then leave the checkpoints instead of piling up in every one.
  std::string txns = "interval 1 day";
  if (const int64_t seconds = SoakRetentionSeconds(); seconds > 0) {
    history = txns = "interval " + std::to_string(seconds) + " seconds";
  }
  return {{"delta.logRetentionDuration", history},
          {"delta.deletedFileRetentionDuration", history},
          {"delta.setTransactionRetentionDuration", txns}};
}

EventLogUpkeep::EventLogUpkeep(FileSystem* fs, Clock* clock, EventLog* log, const std::string& storage,
                               EventLogUpkeepOptions options)
    : fs_(fs),
      clock_(clock),
      log_(log),
      path_(EventLog::TablePath(storage)),
      options_(WithSoakOverride(options)),
      compactor_(fs, clock, log),
      vacuum_(fs, clock, log),
      jobs_([this](const TableJobQueue::Job&) { RunDue(); }) {}

EventLogUpkeep::~EventLogUpkeep() { Stop(); }

Status EventLogUpkeep::Prepare() {
  std::lock_guard<std::mutex> lock(run_mu_);
  return EnsureHistoryProperties();
}

void EventLogUpkeep::Start() { jobs_.Start(); }

void EventLogUpkeep::Notify() { jobs_.Add({kEventLogName, path_, 0}); }

void EventLogUpkeep::Stop() { jobs_.Stop(); }

Status EventLogUpkeep::EnsureHistoryProperties() {
  if (properties_checked_) return Status::OK();
  delta::TableOptions table_options;
  table_options.clock = clock_;
  auto table = delta::DeltaTable::Open(path_, fs_, table_options);
  if (!table.ok()) return table.status().IsNotFound() ? Status::OK() : table.status();
  LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, (*table)->Latest());
  delta::Metadata metadata = snap->metadata();
  nlohmann::json added = nlohmann::json::object();
  for (const auto& [key, value] : EventLogHistoryProperties()) {
    if (metadata.configuration.count(key)) continue;  // set by someone: theirs
    metadata.configuration[key] = value;
    added[key] = value;
  }
  if (!added.empty()) {
    auto committed = (*table)->CommitActions({metadata}, snap->version(), "SET TBLPROPERTIES",
                                             {{"properties", added.dump()}});
    if (!committed.ok()) return committed.status().WithContext("event log: setting its history retention");
  }
  properties_checked_ = true;
  return Status::OK();
}

Result<int64_t> EventLogUpkeep::ExpireEvents() {
  if (options_.retention_micros <= 0) return int64_t{0};
  delta::TableOptions table_options;
  table_options.clock = clock_;
  auto table = delta::DeltaTable::Open(path_, fs_, table_options);
  if (!table.ok()) return table.status().IsNotFound() ? Result<int64_t>(int64_t{0}) : table.status();
  const int64_t cutoff = clock_->NowMicros() - options_.retention_micros;
  // Files whose stats show no event before the cut-off are not read.
  std::vector<parquet::ColumnPredicate> skip = {
      {"timestamp", parquet::ColumnPredicate::Op::kLt, Value::Timestamp(cutoff)}};
  auto select = [cutoff](const RecordBatch& rows) -> Result<std::vector<uint8_t>> {
    int idx = rows.schema().FindField("timestamp");
    if (idx < 0) return Status::Corruption("event log rows without a `timestamp` column");
    const Column& ts = rows.column(static_cast<size_t>(idx));
    std::vector<uint8_t> mask(static_cast<size_t>(rows.num_rows()));
    for (int64_t r = 0; r < rows.num_rows(); ++r) mask[r] = ts.IsValid(r) && ts.Get<int64_t>(r) < cutoff;
    return mask;
  };
  delta::RowChangeOptions options;
  options.operation_parameters["lakepipe.reason"] = nlohmann::json(std::string(kRetentionKey)).dump();
  std::string predicate = "timestamp < '" + Value::Timestamp(cutoff).ToString() + "'";
  LP_ASSIGN_OR_RETURN(delta::RowChangeResult r, delta::DeleteRows(**table, skip, select, predicate, options));
  if (!r.committed) return int64_t{0};
  if (log_ != nullptr) {
    log_->Add({0, kEventLogName, "event_log_retention", "INFO",
               "deleted " + std::to_string(r.rows_removed) + " events older than the retention (" + predicate + ")",
               nlohmann::json({{"events_deleted", r.rows_removed},
                               {"version", r.version},
                               {"retention_hours", static_cast<double>(options_.retention_micros) / 3600e6}})
                   .dump()});
  }
  return r.rows_removed;
}

Result<EventLogUpkeepResult> EventLogUpkeep::RunNow(bool vacuum) {
  std::lock_guard<std::mutex> lock(run_mu_);
  EventLogUpkeepResult out;
  auto warn = [&](const Status& st) {
    if (log_ != nullptr) log_->Add({0, kEventLogName, "event_log_retention", "WARN", st.message(), "{}"});
    return st;
  };
  Status props = EnsureHistoryProperties();
  if (!props.ok()) return warn(props);
  auto expired = ExpireEvents();
  if (!expired.ok()) return warn(expired.status().WithContext("event log retention"));
  out.events_deleted = *expired;
  // Compaction and VACUUM report their own failures.
  LP_ASSIGN_OR_RETURN(AutoCompactResult compacted, compactor_.CompactIfDue(kEventLogName, path_, options_.min_num_files));
  out.compacted = compacted.compacted;
  if (vacuum) {
    LP_ASSIGN_OR_RETURN(out.files_vacuumed, vacuum_.VacuumNow(kEventLogName, path_));
  }
  return out;
}

void EventLogUpkeep::RunDue() {
  std::lock_guard<std::mutex> lock(run_mu_);
  const int64_t now = clock_->NowMicros();
  Status props = EnsureHistoryProperties();
  if (!props.ok() && log_ != nullptr) log_->Add({0, kEventLogName, "event_log_retention", "WARN", props.message(), "{}"});
  if (now >= next_expire_micros_) {
    next_expire_micros_ = now + options_.expire_every_micros;
    auto expired = ExpireEvents();
    if (!expired.ok() && log_ != nullptr) {
      log_->Add({0, kEventLogName, "event_log_retention", "WARN", "event log retention: " + expired.status().message(),
                 "{}"});
    }
  }
  (void)compactor_.CompactIfDue(kEventLogName, path_, options_.min_num_files);  // reported in the event log
  if (now >= next_vacuum_micros_) {
    next_vacuum_micros_ = now + options_.vacuum_every_micros;
    (void)vacuum_.VacuumNow(kEventLogName, path_);  // reported in the event log
  }
}

}  // namespace lakepipe::runtime
