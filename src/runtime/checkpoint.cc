#include "runtime/checkpoint.h"

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/uuid.h"

namespace lakepipe::runtime {
namespace {

using Json = nlohmann::json;

// Batch files are named by their decimal batch id; anything else (temp files) is ignored.
std::optional<int64_t> BatchIdOf(const std::string& name) {
  if (name.empty() || name.size() > 18) return std::nullopt;
  for (char c : name)
    if (c < '0' || c > '9') return std::nullopt;
  return std::strtoll(name.c_str(), nullptr, 10);
}

}  // namespace

Result<FlowCheckpoint> FlowCheckpoint::Open(FileSystem* fs, const std::string& dir,
                                            const std::string& flow_name) {
  LP_RETURN_IF_ERROR(fs->CreateDirs(JoinPath(dir, "offsets")));
  LP_RETURN_IF_ERROR(fs->CreateDirs(JoinPath(dir, "commits")));
  std::string meta_path = JoinPath(dir, "metadata");
  auto existing = fs->ReadFile(meta_path);
  if (existing.ok()) {
    Json meta = Json::parse(*existing, nullptr, false);
    if (meta.is_discarded() || !meta.contains("id") || !meta["id"].is_string()) {
      return Status::Corruption(meta_path + ": not a lakepipe checkpoint metadata file");
    }
    return FlowCheckpoint(fs, dir, meta["id"].get<std::string>());
  }
  if (!existing.status().IsNotFound()) return existing.status();
  Json meta = {{"id", NewUuid()}, {"flow", flow_name}, {"createdAt", Clock::System()->NowMillis()},
               {"format", 1}};
  Status st = fs->PutIfAbsent(meta_path, meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  if (!st.ok() && !st.IsAlreadyExists()) return st;
  // Another process may have won the race: read what is there.
  LP_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(meta_path));
  Json stored = Json::parse(text, nullptr, false);
  if (stored.is_discarded() || !stored.contains("id")) {
    return Status::Corruption(meta_path + ": not a lakepipe checkpoint metadata file");
  }
  return FlowCheckpoint(fs, dir, stored["id"].get<std::string>());
}

Result<std::optional<int64_t>> FlowCheckpoint::Latest(const std::string& sub) const {
  LP_ASSIGN_OR_RETURN(auto entries, fs_->ListDir(JoinPath(dir_, sub)));
  std::optional<int64_t> latest;
  for (const auto& e : entries) {
    auto id = BatchIdOf(e.name);
    if (id && (!latest || *id > *latest)) latest = id;
  }
  return latest;
}

Result<std::optional<int64_t>> FlowCheckpoint::LatestPlanned() const {
  if (!planned_known_) {
    LP_ASSIGN_OR_RETURN(planned_, Latest("offsets"));
    planned_known_ = true;
  }
  return planned_;
}

Result<std::optional<int64_t>> FlowCheckpoint::LatestCommitted() const {
  if (!committed_known_) {
    LP_ASSIGN_OR_RETURN(committed_, Latest("commits"));
    committed_known_ = true;
  }
  return committed_;
}

Status FlowCheckpoint::WritePlan(int64_t batch_id, const std::string& plan_json) {
  LP_RETURN_IF_ERROR(fs_->PutIfAbsent(JoinPath(dir_, "offsets/" + std::to_string(batch_id)), plan_json + "\n"));
  if (planned_known_ && (!planned_ || *planned_ < batch_id)) planned_ = batch_id;
  return Status::OK();
}

Result<std::string> FlowCheckpoint::ReadPlan(int64_t batch_id) const {
  return fs_->ReadFile(JoinPath(dir_, "offsets/" + std::to_string(batch_id)));
}

Result<std::vector<std::pair<int64_t, std::string>>> FlowCheckpoint::ReadAllPlans() const {
  LP_ASSIGN_OR_RETURN(auto entries, fs_->ListDir(JoinPath(dir_, "offsets")));
  std::vector<std::pair<int64_t, std::string>> plans;
  for (const auto& e : entries) {
    auto id = BatchIdOf(e.name);
    if (!id) continue;
    LP_ASSIGN_OR_RETURN(std::string text, ReadPlan(*id));
    plans.emplace_back(*id, std::move(text));
  }
  std::sort(plans.begin(), plans.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return plans;
}

Status FlowCheckpoint::WriteCommit(int64_t batch_id, int64_t table_version) {
  Json commit = {{"batchId", batch_id}, {"tableVersion", table_version},
                 {"committedAt", Clock::System()->NowMillis()}};
  Status st = fs_->PutIfAbsent(JoinPath(dir_, "commits/" + std::to_string(batch_id)),
                               commit.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  // A replayed batch may find its commit record already written: that is the same fact.
  if (!st.ok() && !st.IsAlreadyExists()) return st;
  if (committed_known_ && (!committed_ || *committed_ < batch_id)) committed_ = batch_id;
  return Status::OK();
}

Status FlowCheckpoint::Reset(FileSystem* fs, const std::string& dir) { return fs->RemoveAll(dir); }

}  // namespace lakepipe::runtime
