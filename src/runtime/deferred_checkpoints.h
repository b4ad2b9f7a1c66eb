// DeferredCheckpoints: writes, on a thread of its own, the Delta checkpoints that the
// tables' commits in a continuous run fall due for (delta/checkpoint_deferral.h), so that
// a micro-batch's commit returns, and its readers start, without waiting for one.
//
// Owns: the thread (at a lower priority, runtime/background_priority.h) and the queue of
// checkpoint tasks, run one at a time in the order the commits made them (so one table's
// checkpoints are written in version order); a table's later checkpoint replaces one of
// it still queued (the older is not written: readers need only the newest). A task
// that fails is reported as a WARN event `checkpoint_failed` in the event log, as an in-line
// checkpoint's failure is in the table's update report; the commit stands either way.
// Not owned: the EventLog (may be null), which must outlive Stop.
// Thread-safety: Sink() may be called and its sink used from any thread; Start and Stop
// from the thread that owns the object.
// Call order: construct, Start, use Sink() (in a delta::ScopedCheckpointDeferral around
// the commits), Stop (writes what is queued, then joins), destroy.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "delta/checkpoint_deferral.h"
#include "runtime/event_log.h"

namespace lakepipe::runtime {

class DeferredCheckpoints {
 public:
  explicit DeferredCheckpoints(EventLog* log) : log_(log) {}
  ~DeferredCheckpoints() { Stop(); }
  DeferredCheckpoints(const DeferredCheckpoints&) = delete;
  DeferredCheckpoints& operator=(const DeferredCheckpoints&) = delete;

  void Start();
  // Writes the checkpoints still queued (a stopped run leaves the same checkpoints as one
  // that wrote them in line), then joins the thread. Tasks given after Stop run at once,
  // on the caller's thread.
  void Stop();
  // The sink to install with delta::ScopedCheckpointDeferral.
  delta::CheckpointSink Sink();
  // Checkpoints written so far, and those not written because the queue held the same
  // table's checkpoint at a later version (tests).
  int64_t written() const;
  int64_t superseded() const;

 private:
  struct Task {
    std::string table_path;
    int64_t version = 0;
    std::function<Status()> write;
  };
  void Run(const Task& task);
  void Loop();

  EventLog* log_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;  // guarded by mu_
  bool running_ = false;    // guarded by mu_: the thread takes tasks
  int64_t written_ = 0;     // guarded by mu_
  int64_t superseded_ = 0;  // guarded by mu_
  std::thread thread_;
};

}  // namespace lakepipe::runtime
