// ScopedCheckpointDeferral: moves the Delta checkpoints that commits fall due for (every
// delta.checkpointInterval versions, docs/delta.md) off the committing thread.
//
// A checkpoint is written after its commit and is only a shortcut for readers (they fall
// back to an older one or to the JSON commits), so nothing waits for it but the commit's
// caller. In a continuous run that caller is a micro-batch whose readers wait for it: a
// checkpoint written in line adds its time to one batch in ten of every table. While a
// deferral lives on a thread, RunCommit (commit.cc) hands each checkpoint due after a
// commit made on that thread to the deferral's sink, as a task that writes it, and returns.
//
// Owns: nothing but the thread's current sink, restored when the scope ends (scopes nest).
// Thread-safety: a deferral affects only the thread that made it. The sink is called on
// that thread; the task it gets may run on any thread, once, and needs the FileSystem and
// Clock of the commit to outlive it. Tasks of one table must run one at a time and in
// the order given (a later checkpoint's _last_checkpoint must not be overwritten by an
// earlier one's).
// Call order: construct on the thread that commits, commit, destroy on that thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"

namespace lakepipe::delta {

// What a sink is given: the table, the version the checkpoint is of, and the task that
// writes it (the checkpoint file, _last_checkpoint, the expired log's cleanup).
using CheckpointSink =
    std::function<void(const std::string& table_path, int64_t version, std::function<Status()> write)>;

class ScopedCheckpointDeferral {
 public:
  explicit ScopedCheckpointDeferral(CheckpointSink sink);
  ~ScopedCheckpointDeferral();
  ScopedCheckpointDeferral(const ScopedCheckpointDeferral&) = delete;
  ScopedCheckpointDeferral& operator=(const ScopedCheckpointDeferral&) = delete;

  // The calling thread's sink, or null when checkpoints are written in line.
  static const CheckpointSink* Current();

 private:
  CheckpointSink sink_;
  const CheckpointSink* previous_;
};

}  // namespace lakepipe::delta
