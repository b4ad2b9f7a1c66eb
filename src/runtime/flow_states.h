// FlowStates: the durable state of the stateful operators in one streaming flow's query —
// DISTINCT and deduplication keys, stream-stream join buffers, open time windows, an AUTO
// CDC flow's per-key sequences — each opened on first use under the flow's checkpoint
// folder (`state/<name>/`), named in the deterministic order in which execution first asks
// for it: "distinct-<i>", "dedup-<i>", "join-<i>", "window-aggregate-<i>", "scd"
// (docs/checkpoint.md, "Operator state").
//
// Owns the stores. The flow drives them only as state::BatchState (state/batch_state.h):
// each store owns how its batch becomes durable, the flow only says when.
//
// Call order per batch: AbandonAll; Install (the callbacks through which the operators
// open their state while the batch executes); execution; the batch's Delta commit;
// CommitAll; the batch's commit record. Not synchronised: one flow's thread, and the
// callbacks are called by one execution thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "runtime/checkpoint.h"
#include "runtime/executor.h"
#include "runtime/pipeline_runner.h"
#include "sql/pipeline.h"
#include "sql/streaming_rules.h"
#include "state/batch_state.h"
#include "state/join_state_store.h"
#include "state/seen_key_store.h"
#include "state/window_state_store.h"

namespace lakepipe::runtime {

class FlowStates {
 public:
  // `checkpoint` (not owned) is the flow's and outlives this: stores live under its
  // folder and are checked against its commit log as they open. `table` names the flow's
  // table in errors.
  FlowStates(FileSystem* fs, const FlowCheckpoint* checkpoint, std::string table);
  FlowStates(const FlowStates&) = delete;
  FlowStates& operator=(const FlowStates&) = delete;

  // Forgets what every state staged (a failed batch, or a replay coming).
  Status AbandonAll();

  // Sets `exec`'s seen_keys, join_state and window_state for batch `batch_id`: they open
  // (or create) each operator's store, the seen-key stores within the budget of
  // `settings` (runtime/state_memory.h). A DISTINCT over tables read whole gets no durable
  // set (it sees all their rows in every batch). A join whose store already has this
  // batch (a replay after a crash between the state commit and the commit record) runs
  // over a scratch state: its output is not written (the table has the batch, by txn),
  // and the durable state must not see the rows twice. `views` finds the pipeline's
  // views; it and `settings` must outlive the batch's execution.
  void Install(ExecOptions* exec, int64_t batch_id, sql::ViewPlanLookup views, const sql::PipelineSettings* settings);

  // Adds a state once it is checked against the flow's commit log: a state behind it
  // (deleted, emptied, restored from an older copy) is Corruption naming the store, since
  // resuming on it would lose or double rows. Every store this class opens comes through
  // here; so does AUTO CDC's, opened elsewhere (shared by the flows into one target).
  Status Add(std::string name, std::shared_ptr<state::BatchState> state);

  // Once batch `batch_id` is in its table: commits each state that does not have it yet
  // (kill point flow.after_state_commit after each), then reports every state's size in
  // `report` (operators, state_keys, state_bytes).
  Status CommitAll(int64_t batch_id, TableReport* report);

 private:
  struct Named {
    std::string name;
    std::shared_ptr<state::BatchState> state;
  };
  // Creates `state/<name>/` and returns its path.
  Result<std::string> StoreDir(const std::string& name);
  Result<std::shared_ptr<operators::SeenKeySet>> SeenKeys(const sql::PlanNode& node, const sql::ViewPlanLookup& views,
                                                          const sql::PipelineSettings& settings);
  Result<operators::StreamJoinState*> JoinState(const sql::PlanNode& node, int64_t batch_id);
  Result<std::shared_ptr<operators::WindowState>> WindowState(const sql::PlanNode& node, const Schema& state_schema);

  FileSystem* fs_;
  const FlowCheckpoint* checkpoint_;
  std::string table_;
  std::vector<Named> states_;  // in the order they were opened
  std::map<const sql::PlanNode*, std::shared_ptr<state::SeenKeyStore>> seen_;
  std::map<const sql::PlanNode*, std::shared_ptr<state::JoinStateStore>> joins_;
  std::map<const sql::PlanNode*, std::shared_ptr<state::WindowStateStore>> windows_;
  // A replayed batch's joins whose durable state already has it (Install).
  std::map<const sql::PlanNode*, std::unique_ptr<operators::StreamJoinState>> replay_scratch_;
};

}  // namespace lakepipe::runtime
