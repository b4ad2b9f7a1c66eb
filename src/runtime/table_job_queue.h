// TableJobQueue: one background thread that runs a job per queued table, each table (by
// path) queued at most once at a time: the upkeep that must never hold up ingestion
// (auto-compaction, scheduled VACUUM) shares it. The thread runs at a lower priority
// (runtime/background_priority.h).
//
// A table is taken off the queue before its job runs, so a table queued again during the
// job runs again after it (work that arrived meanwhile is looked at).
//
// Thread-safety: Add from any thread. Call order: Start, Add any number of times, Stop (or
// the destructor), which waits for the job in progress and drops what is still queued.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace lakepipe::runtime {

class TableJobQueue {
 public:
  struct Job {
    std::string name;  // the pipeline table
    std::string path;  // its Delta folder
    int setting = 0;   // a per-table setting the job needs (0: the default)
  };

  explicit TableJobQueue(std::function<void(const Job&)> run) : run_(std::move(run)) {}
  ~TableJobQueue() { Stop(); }
  TableJobQueue(const TableJobQueue&) = delete;
  TableJobQueue& operator=(const TableJobQueue&) = delete;

  void Start();
  // Ignored while the table is queued, and after Stop.
  void Add(Job job);
  void Stop();

 private:
  void Loop();

  std::function<void(const Job&)> run_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::set<std::string> queued_;  // paths in queue_
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace lakepipe::runtime
