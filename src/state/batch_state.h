// BatchState: what a streaming flow's commit protocol asks of each stateful operator's
// durable state (docs/checkpoint.md, "The protocol"). The operator stages its changes while
// a micro-batch runs; once the batch's Delta commit is written the flow calls Commit(batch)
// on every state whose committed_batch() is below the batch (a restart may already have
// committed it), then writes the batch's commit record. Before each batch the flow calls
// Abandon on every state, so that nothing an earlier failed batch staged carries into the
// next batch or a replay.
//
// The flow knows its states only through this interface (runtime/flow_states.h); each
// store owns how its batch is made durable. Implemented by SeenKeyStore (DISTINCT and
// deduplication), JoinStateStore (stream-stream joins), WindowStateStore (time-window
// aggregates) and ScdFlowState (one AUTO CDC flow's view of its target's store).
//
// Not thread-safe: one flow calls these, between batches, never while the batch runs.
#pragma once

#include <cstdint>
#include <optional>

#include "common/status.h"
#include "state/state_size.h"

namespace lakepipe::state {

class BatchState {
 public:
  virtual ~BatchState() = default;
  // The last batch whose changes were committed; nullopt before the first.
  virtual std::optional<int64_t> committed_batch() const = 0;
  // Durably applies the staged changes and records batch `batch_id` as applied.
  // InvalidArgument when `batch_id` is not above committed_batch(): a batch is applied once.
  virtual Status Commit(int64_t batch_id) = 0;
  // Forgets the staged changes (the batch failed, or is about to be replayed).
  virtual Status Abandon() = 0;
  // Keys, bytes on disk and in memory (may list the store's folder: once per batch).
  virtual StateSize Size() const = 0;
};

}  // namespace lakepipe::state
