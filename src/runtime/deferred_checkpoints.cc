#include "runtime/deferred_checkpoints.h"

#include <utility>

#include "common/fs.h"
#include "runtime/background_priority.h"

namespace lakepipe::runtime {

void DeferredCheckpoints::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_) return;
  running_ = true;
  thread_ = std::thread([this] { Loop(); });
}

void DeferredCheckpoints::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Whatever the thread left (it stops when it sees the queue empty after Stop).
  while (true) {
    Task task;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    Run(task);
  }
}

delta::CheckpointSink DeferredCheckpoints::Sink() {
  return [this](const std::string& table_path, int64_t version, std::function<Status()> write) {
    Task task{table_path, version, std::move(write)};
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (running_) {
        // A later checkpoint of a table supersedes one still queued: it takes its place
        // (so the queue holds at most one state per table, however far the thread lags).
        for (auto& queued : queue_) {
          if (queued.table_path != task.table_path) continue;
          if (queued.version < task.version) queued = std::move(task);
          ++superseded_;
          return;
        }
        queue_.push_back(std::move(task));
        cv_.notify_one();
        return;
      }
    }
    Run(task);
  };
}

int64_t DeferredCheckpoints::written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

int64_t DeferredCheckpoints::superseded() const {
  std::lock_guard<std::mutex> lock(mu_);
  return superseded_;
}

void DeferredCheckpoints::Run(const Task& task) {
  Status st = task.write();
  if (st.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    ++written_;
    return;
  }
  if (log_ != nullptr) {
    log_->Add({0, BaseName(task.table_path), "checkpoint_failed", "WARN",
               "the Delta checkpoint after version " + std::to_string(task.version) + " was not written (" +
                   st.message() + "); readers use the JSON commits, and the next checkpoint interval tries again",
               "{}"});
  }
}

void DeferredCheckpoints::Loop() {
  LowerThisThreadsPriority();  // a checkpoint only shortens later reads: batches come first
  while (true) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return !running_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopped, nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    Run(task);
  }
}

}  // namespace lakepipe::runtime
