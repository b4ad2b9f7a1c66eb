// VACUUM: deletes data files no longer referenced by the table and older than the
// retention period, recording VACUUM START / VACUUM END commits as Delta does.
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "delta/log_cleanup.h"
#include "delta/table.h"
#include "delta/table_internal.h"

namespace lakepipe::delta {

namespace {

// The table's delta.deletedFileRetentionDuration in hours (default one week).
double TableRetentionHours(const StringMap& configuration) {
  return static_cast<double>(DeletedFileRetentionMillis(configuration)) / 3600e3;
}

// The path of a log entry relative to the table folder ("" if outside it).
Result<std::string> RelativeToTable(const std::string& table_path, const std::string& log_path) {
  LP_ASSIGN_OR_RETURN(std::string full, ResolveDataPath(table_path, log_path));
  std::string prefix = table_path;
  if (prefix.empty() || prefix.back() != '/') prefix += '/';
  if (full.rfind(prefix, 0) != 0) return std::string();
  return full.substr(prefix.size());
}

}  // namespace

Result<VacuumResult> DeltaTable::Vacuum(const VacuumOptions& options) const {
  LP_ASSIGN_OR_RETURN(SnapshotPtr snap, Latest());
  LP_RETURN_IF_ERROR(CheckWriteSupport(snap->protocol(), snap->metadata(), path_));
  double table_retention = TableRetentionHours(snap->configuration());
  if (options.retention_hours < 0) {
    return Status::InvalidArgument("VACUUM retention must not be negative");
  }
  if (options.retention_hours < table_retention && !options.disable_retention_check) {
    char buf[512];
    std::snprintf(buf, sizeof(buf),
                  "VACUUM of %s refused: a retention of %g hours is below the table's "
                  "retention of %g hours (delta.deletedFileRetentionDuration); files that "
                  "concurrent readers or time travel still need could be deleted. Pass "
                  "the retention-check override (Delta's "
                  "spark.databricks.delta.retentionDurationCheck.enabled = false) to do it anyway",
                  path_.c_str(), options.retention_hours, table_retention);
    return Status::InvalidArgument(buf);
  }
  int64_t now = options_.clock->NowMillis();
  int64_t cutoff_millis = now - static_cast<int64_t>(std::llround(options.retention_hours * 3600e3));

  // Files that must stay: every active file, and every removed file whose tombstone is
  // younger than the retention (time travel within the retention still reads them).
  std::set<std::string> keep;
  for (const DataFile& f : snap->files()) {
    LP_ASSIGN_OR_RETURN(std::string rel, RelativeToTable(path_, f.add.path));
    keep.insert(rel);
  }
  for (const auto& [key, r] : snap->state().tombstones) {
    if (r.deletion_timestamp.value_or(0) >= cutoff_millis) {
      LP_ASSIGN_OR_RETURN(std::string rel, RelativeToTable(path_, r.LogPath(key)));
      keep.insert(rel);
    }
  }
  std::vector<FileInfo> all;
  LP_RETURN_IF_ERROR(ListDataFilesRecursive(fs_, path_, "", &all));
  VacuumResult result;
  std::vector<std::string> to_delete;
  for (const FileInfo& f : all) {
    if (keep.count(f.name)) continue;
    // Files written for a commit still in flight are young: the age check protects them.
    if (f.mtime_micros / 1000 >= cutoff_millis) continue;
    to_delete.push_back(f.name);
  }
  if (options.dry_run) {
    result.deleted = std::move(to_delete);
    return result;
  }
  nlohmann::json retention_check = !options.disable_retention_check;
  CommitRequest start;
  start.read_version = snap->version();
  start.checkpoint_interval = CheckpointIntervalOf(snap->metadata());
  start.operation = "VACUUM START";
  start.operation_parameters["retentionCheckEnabled"] = retention_check.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  start.operation_parameters["specifiedRetentionMillis"] =
      std::to_string(std::llround(options.retention_hours * 3600e3));
  start.operation_parameters["defaultRetentionMillis"] =
      std::to_string(std::llround(table_retention * 3600e3));
  start.operation_metrics["numFilesToDelete"] = std::to_string(to_delete.size());
  LP_ASSIGN_OR_RETURN(CommitOutcome started, RunCommit(fs_, path_, options_, start));
  result.start_version = started.version;
  Status failure;
  for (const auto& rel : to_delete) {
    Status st = fs_->RemoveFile(JoinPath(path_, rel));
    if (st.ok() || st.IsNotFound()) {
      result.deleted.push_back(rel);
    } else if (failure.ok()) {
      failure = st;
    }
  }
  CommitRequest end;
  end.read_version = started.version;
  end.checkpoint_interval = start.checkpoint_interval;
  end.operation = "VACUUM END";
  end.operation_parameters["status"] = failure.ok() ? "\"COMPLETED\"" : "\"FAILED\"";
  end.operation_metrics["numDeletedFiles"] = std::to_string(result.deleted.size());
  LP_ASSIGN_OR_RETURN(CommitOutcome ended, RunCommit(fs_, path_, options_, end));
  (void)ended;
  if (!failure.ok()) return failure.WithContext("VACUUM of " + path_);
  return result;
}

}  // namespace lakepipe::delta
