#include "runtime/flow_states.h"

#include "common/kill_point.h"
#include "runtime/state_memory.h"

namespace lakepipe::runtime {

FlowStates::FlowStates(FileSystem* fs, const FlowCheckpoint* checkpoint, std::string table)
    : fs_(fs), checkpoint_(checkpoint), table_(std::move(table)) {}

Status FlowStates::AbandonAll() {
  replay_scratch_.clear();
  for (auto& s : states_) LP_RETURN_IF_ERROR(s.state->Abandon());
  return Status::OK();
}

Status FlowStates::Add(std::string name, std::shared_ptr<state::BatchState> state) {
  LP_RETURN_IF_ERROR(checkpoint_->CheckState(table_, name, state->committed_batch()));
  states_.push_back({std::move(name), std::move(state)});
  return Status::OK();
}

void FlowStates::Install(ExecOptions* exec, int64_t batch_id, sql::ViewPlanLookup views,
                         const sql::PipelineSettings* settings) {
  exec->seen_keys = [this, views = std::move(views), settings](const sql::PlanNode& node) {
    return SeenKeys(node, views, *settings);
  };
  exec->join_state = [this, batch_id](const sql::PlanNode& node) { return JoinState(node, batch_id); };
  exec->window_state = [this](const sql::PlanNode& node, const Schema& state_schema) {
    return WindowState(node, state_schema);
  };
}

Result<std::string> FlowStates::StoreDir(const std::string& name) {
  std::string dir = JoinPath(checkpoint_->dir(), "state/" + name);
  LP_RETURN_IF_ERROR(fs_->CreateDirs(dir));
  return dir;
}

Result<std::shared_ptr<operators::SeenKeySet>> FlowStates::SeenKeys(const sql::PlanNode& node,
                                                                     const sql::ViewPlanLookup& views,
                                                                     const sql::PipelineSettings& settings) {
  // A durable set would drop all of a whole table's rows from the second batch on.
  if (!sql::ReadsStream(*node.inputs[0], views)) return std::shared_ptr<operators::SeenKeySet>();
  auto it = seen_.find(&node);
  if (it == seen_.end()) {
    std::string name = (node.kind == sql::PlanKind::kWindow ? "dedup-" : "distinct-") + std::to_string(seen_.size());
    LP_ASSIGN_OR_RETURN(std::string dir, StoreDir(name));
    LP_ASSIGN_OR_RETURN(auto budget, SeenKeysBudget(settings));
    LP_ASSIGN_OR_RETURN(auto store, state::SeenKeyStore::Open(dir, state::SeenKeyStore::kMaxKeysFromBudget, budget));
    LP_RETURN_IF_ERROR(Add(name, store));
    it = seen_.emplace(&node, std::move(store)).first;
  }
  return std::shared_ptr<operators::SeenKeySet>(it->second);
}

Result<operators::StreamJoinState*> FlowStates::JoinState(const sql::PlanNode& node, int64_t batch_id) {
  auto it = joins_.find(&node);
  if (it == joins_.end()) {
    std::string name = "join-" + std::to_string(joins_.size());
    LP_ASSIGN_OR_RETURN(std::string dir, StoreDir(name));
    LP_ASSIGN_OR_RETURN(std::shared_ptr<state::JoinStateStore> store,
                        state::JoinStateStore::Open(dir, node.inputs[0]->schema, node.inputs[1]->schema));
    LP_RETURN_IF_ERROR(Add(name, store));
    it = joins_.emplace(&node, std::move(store)).first;
  }
  auto committed = it->second->committed_batch();
  if (committed && *committed >= batch_id) {
    auto& scratch = replay_scratch_[&node];
    scratch = std::make_unique<operators::StreamJoinState>(node.inputs[0]->schema, node.inputs[1]->schema);
    return scratch.get();
  }
  return it->second->state();
}

Result<std::shared_ptr<operators::WindowState>> FlowStates::WindowState(const sql::PlanNode& node,
                                                                        const Schema& state_schema) {
  auto it = windows_.find(&node);
  if (it == windows_.end()) {
    std::string name = "window-aggregate-" + std::to_string(windows_.size());
    LP_ASSIGN_OR_RETURN(std::string dir, StoreDir(name));
    LP_ASSIGN_OR_RETURN(std::shared_ptr<state::WindowStateStore> store, state::WindowStateStore::Open(dir, state_schema));
    LP_RETURN_IF_ERROR(Add(name, store));
    it = windows_.emplace(&node, std::move(store)).first;
  }
  return std::shared_ptr<operators::WindowState>(it->second);
}

Status FlowStates::CommitAll(int64_t batch_id, TableReport* report) {
  report->operators.clear();
  report->state_keys = 0;
  report->state_bytes = 0;
  for (auto& s : states_) {
    std::optional<int64_t> committed = s.state->committed_batch();
    if (!committed || *committed < batch_id) {
      LP_RETURN_IF_ERROR(s.state->Commit(batch_id));
      LP_KILL_POINT("flow.after_state_commit");
    }
    state::StateSize size = s.state->Size();
    report->state_keys += size.keys;
    report->state_bytes += size.disk_bytes;
    report->operators.push_back({s.name, size.keys, size.disk_bytes});
  }
  return Status::OK();
}

}  // namespace lakepipe::runtime
