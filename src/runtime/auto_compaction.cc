#include "runtime/auto_compaction.h"

#include <nlohmann/json.hpp>

#include "common/kill_point.h"
#include "delta/table.h"
#include "runtime/event_log.h"

namespace lakepipe::runtime {

AutoCompactor::AutoCompactor(FileSystem* fs, Clock* clock, EventLog* log, AutoCompactOptions options)
    : log_(log), options_(options), own_(fs, clock), jobs_([this](const TableJobQueue::Job& job) {
        (void)CompactIfDue(job.name, job.path, job.setting);  // reported in the event log
      }) {}

AutoCompactor::~AutoCompactor() { Stop(); }

void AutoCompactor::Start() { jobs_.Start(); }

void AutoCompactor::Notify(const std::string& name, const std::string& path, int min_num_files) {
  jobs_.Add({name, path, min_num_files});
}

void AutoCompactor::Stop() { jobs_.Stop(); }

int64_t AutoCompactor::compactions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return compactions_;
}

void AutoCompactor::LendTableHandles(TableHandles handles) { lent_ = std::move(handles); }

size_t AutoCompactor::own_handles() const { return own_.size(); }

Result<std::shared_ptr<delta::DeltaTable>> AutoCompactor::Table(const std::string& name, const std::string& path) {
  if (lent_) return lent_(name, path);
  return own_.Open(name, path);
}

Result<AutoCompactResult> AutoCompactor::CompactIfDue(const std::string& name, const std::string& path,
                                                      int min_num_files) {
  AutoCompactResult out;
  int min_files = min_num_files > 0 ? min_num_files : options_.min_num_files;
  auto warn = [&](const Status& st) {
    if (log_ != nullptr) {
      log_->Add({0, name, "auto_compaction", "WARN", "auto-compaction failed: " + st.message(), "{}"});
    }
    return st;
  };
  auto table = Table(name, path);
  if (!table.ok()) return table.status().IsNotFound() ? Result<AutoCompactResult>(out) : warn(table.status());
  auto snap = (*table)->Latest();
  if (!snap.ok()) return warn(snap.status());
  delta::OptimizeOptions optimize;
  optimize.target_file_bytes = options_.target_file_bytes;
  optimize.min_file_bytes =
      options_.min_file_bytes > 0 ? options_.min_file_bytes : options_.target_file_bytes / 2;
  optimize.min_files = min_files;
  optimize.separate_compacted = true;
  // Cheap test first, on the snapshot at hand (Optimize re-reads the log and plans again).
  if (delta::PlanOptimize((*snap)->files(), optimize).empty()) return out;
  LP_KILL_POINT("compaction.before_optimize");
  auto done = (*table)->Optimize(optimize);
  if (!done.ok()) {
    if (!done.status().IsConflict()) return warn(done.status());
    // Lost a race with a commit that removed some of its files: nothing of it stays; the
    // table's next notification tries again on the new snapshot.
    out.skipped = done.status().message();
    if (log_ != nullptr) {
      log_->Add({0, name, "auto_compaction", "INFO", "auto-compaction gave way to a concurrent commit: " + out.skipped,
                 nlohmann::json({{"committed", false}}).dump()});
    }
    return out;
  }
  if (!done->version) return out;
  LP_KILL_POINT("compaction.after_commit");
  if (!done->checkpoint_error.empty() && log_ != nullptr) {
    log_->Add({0, name, "checkpoint_failed", "WARN",
               "the Delta checkpoint after version " + std::to_string(*done->version) + " (auto-compaction) was not " +
                   "written (" + done->checkpoint_error + "); readers use the JSON commits, and the next checkpoint " +
                   "interval tries again",
               "{}"});
  }
  out.compacted = true;
  out.version = *done->version;
  out.files_removed = done->files_removed;
  out.files_added = done->files_added;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++compactions_;
  }
  if (log_ != nullptr) {
    log_->Add({0, name, "auto_compaction", "INFO",
               "compacted " + std::to_string(out.files_removed) + " small files into " +
                   std::to_string(out.files_added) + " (version " + std::to_string(out.version) + ")",
               nlohmann::json({{"committed", true},
                               {"version", out.version},
                               {"files_removed", out.files_removed},
                               {"files_added", out.files_added},
                               {"files_kept_by_time", done->files_kept_by_time}})
                   .dump()});
  }
  return out;
}

}  // namespace lakepipe::runtime
