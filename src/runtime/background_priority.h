// LowerThisThreadsPriority: marks the calling thread as upkeep that may wait (Linux nice
// +kBackgroundNice for that thread alone), so that on a busy machine the micro-batches'
// threads, whose time is the pipeline's latency, get the cores first. Best effort: where
// the system refuses, the thread keeps the process's priority and nothing else changes.
//
// Called at the start of the upkeep threads: TableJobQueue's (auto-compaction, scheduled
// VACUUM, the event log's retention) and DeferredCheckpoints'. Thread-safe.
#pragma once

namespace lakepipe::runtime {

inline constexpr int kBackgroundNice = 5;

void LowerThisThreadsPriority();

}  // namespace lakepipe::runtime
