#include "runtime/table_job_queue.h"

#include "runtime/background_priority.h"

namespace lakepipe::runtime {

void TableJobQueue::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void TableJobQueue::Add(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || !queued_.insert(job.path).second) return;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void TableJobQueue::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    queue_.clear();
    queued_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TableJobQueue::Loop() {
  LowerThisThreadsPriority();  // upkeep: the micro-batches come first
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      queued_.erase(job.path);
    }
    run_(job);
  }
}

}  // namespace lakepipe::runtime
