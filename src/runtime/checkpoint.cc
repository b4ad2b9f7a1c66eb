#include "runtime/checkpoint.h"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/kill_point.h"
#include "common/uuid.h"
#include "delta/table.h"

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

// "<id>.compact": a compact file of offsets/ (Retain).
std::optional<int64_t> CompactIdOf(const std::string& name) {
  static const std::string kSuffix = ".compact";
  if (name.size() <= kSuffix.size() || name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
    return std::nullopt;
  return BatchIdOf(name.substr(0, name.size() - kSuffix.size()));
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
    FlowCheckpoint cp(fs, dir, meta["id"].get<std::string>());
    LP_RETURN_IF_ERROR(cp.DropTornCommitRecords());
    return cp;
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

// Commit records are not synced (WriteCommit): after a machine crash the newest ones may
// be empty or cut short. Each repeats what its batch's Delta commit made durable, and its
// plan is still there, so a record that does not parse is removed and its batch is
// replayed as a batch whose commit may have happened (the table's txn decides): the same
// recovery as a crash between the Delta commit and the record. Only the newest records
// can be torn; the first that parses ends the scan. A record without its plan is left for
// the checks at start to report.
Status FlowCheckpoint::DropTornCommitRecords() {
  LP_ASSIGN_OR_RETURN(auto entries, fs_->ListDir(JoinPath(dir_, "commits")));
  std::vector<int64_t> ids;
  for (const auto& e : entries)
    if (auto id = BatchIdOf(e.name)) ids.push_back(*id);
  std::sort(ids.rbegin(), ids.rend());
  for (int64_t id : ids) {
    auto record = ReadCommit(id);
    if (record.ok() || record.status().code() != StatusCode::kCorruption) break;
    if (!fs_->Exists(JoinPath(dir_, "offsets/" + std::to_string(id)))) break;
    LP_RETURN_IF_ERROR(fs_->RemoveFile(JoinPath(dir_, "commits/" + std::to_string(id))));
  }
  return Status::OK();
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

Result<std::vector<FlowCheckpoint::StoredPlan>> FlowCheckpoint::ReadAllPlans() const {
  std::string dir = JoinPath(dir_, "offsets");
  LP_ASSIGN_OR_RETURN(auto entries, fs_->ListDir(dir));
  std::optional<int64_t> compact;
  for (const auto& e : entries) {
    auto id = CompactIdOf(e.name);
    if (id && (!compact || *id > *compact)) compact = id;
  }
  std::vector<StoredPlan> plans;
  for (const auto& e : entries) {
    auto id = BatchIdOf(e.name);
    if (!id || (compact && *id <= *compact)) continue;
    StoredPlan p;
    p.batch_id = *id;
    p.file = JoinPath(dir, e.name);
    LP_ASSIGN_OR_RETURN(p.text, fs_->ReadFile(p.file));
    plans.push_back(std::move(p));
  }
  std::sort(plans.begin(), plans.end(), [](const auto& a, const auto& b) { return a.batch_id < b.batch_id; });
  if (compact) {
    StoredPlan p;
    p.batch_id = *compact;
    p.file = JoinPath(dir, std::to_string(*compact) + ".compact");
    LP_ASSIGN_OR_RETURN(p.text, fs_->ReadFile(p.file));
    plans.insert(plans.begin(), std::move(p));
  }
  return plans;
}

Status FlowCheckpoint::Retain(int64_t batch_id, const std::function<Result<Compaction>()>& build) {
  if (batch_id <= 0 || batch_id % retain_ != 0) return Status::OK();
  std::string offsets = JoinPath(dir_, "offsets");
  std::string compact_path = JoinPath(offsets, std::to_string(batch_id) + ".compact");
  std::optional<Compaction> written;
  if (!fs_->Exists(compact_path)) {
    LP_ASSIGN_OR_RETURN(Compaction compaction, build());
    LP_KILL_POINT("checkpoint.after_segments");
    Status st = fs_->PutIfAbsent(compact_path, compaction.text + "\n");
    if (st.ok()) written = std::move(compaction);
    else if (!st.IsAlreadyExists()) return st;
  }
  LP_KILL_POINT("checkpoint.after_compact");
  if (written && written->durable) written->durable();
  int64_t keep_from = batch_id - retain_ + 1;
  for (const char* sub : {"commits", "offsets"}) {
    std::string dir = JoinPath(dir_, sub);
    LP_ASSIGN_OR_RETURN(auto entries, fs_->ListDir(dir));
    for (const auto& e : entries) {
      auto id = BatchIdOf(e.name);
      auto compact = CompactIdOf(e.name);
      if ((id && *id < keep_from) || (compact && *compact < batch_id)) {
        LP_RETURN_IF_ERROR(fs_->RemoveFile(JoinPath(dir, e.name)));
        LP_KILL_POINT("checkpoint.during_cleanup");
      }
    }
  }
  // Segment files no compact file lists any more (dropped, merged, or left by a crash
  // before their compact file was written).
  if (written) {
    std::string taken = taken_dir();
    auto entries = fs_->ListNames(taken);
    if (!entries.ok() && !entries.status().IsNotFound()) return entries.status();
    std::vector<std::string> listed = written->segments;
    std::sort(listed.begin(), listed.end());
    for (const auto& e : entries.ok() ? *entries : std::vector<FileInfo>{}) {
      if (e.is_dir || std::binary_search(listed.begin(), listed.end(), e.name)) continue;
      LP_RETURN_IF_ERROR(fs_->RemoveFile(JoinPath(taken, e.name)));
      LP_KILL_POINT("checkpoint.during_segment_cleanup");
    }
  }
  return Status::OK();
}

std::string FlowCheckpoint::TakenDirOf(const std::string& dir) { return JoinPath(dir, "taken"); }

Status FlowCheckpoint::WriteSegment(const std::string& name, std::string_view text) {
  std::string dir = taken_dir();
  if (!fs_->Exists(dir)) {
    LP_RETURN_IF_ERROR(fs_->CreateDirs(dir));
    // The folder's own name must survive a power cut before the compact file that needs it.
    LP_RETURN_IF_ERROR(fs_->SyncDir(dir_));
  }
  std::string path = JoinPath(dir, name);
  Status st = fs_->PutIfAbsent(path, text);
  if (st.IsAlreadyExists()) {
    LP_RETURN_IF_ERROR(fs_->RemoveFile(path));
    st = fs_->PutIfAbsent(path, text);
  }
  return st;
}

namespace {

// FileSystem::PutIfAbsent without its two syncs (the file's and the folder's): whole or
// not at all, but not durable. For the commit record only: it repeats what the batch's
// Delta commit (synced, with the flow's txn) already made durable, so a machine crash that
// loses it leaves plan N without commits/N, and the restart finds txn N in the table and
// records it again (docs/checkpoint.md, "The protocol"). Two fewer syncs per batch.
Status PutIfAbsentUnsynced(FileSystem* fs, const std::string& path, std::string_view data) {
  std::string tmp = JoinPath(DirName(path), "." + BaseName(path) + "." + NewUuid() + ".tmp");
  auto file = fs->NewWritableFile(tmp, CreateMode::kExclusive);
  if (!file.ok()) return file.status();
  Status st = (*file)->Append(data);
  Status closed = (*file)->Close();
  if (st.ok()) st = closed;
  if (st.ok()) st = fs->Link(tmp, path);
  (void)fs->RemoveFile(tmp);
  return st;
}

}  // namespace

Status FlowCheckpoint::WriteCommit(int64_t batch_id, int64_t table_version, bool durable) {
  Json commit = {{"batchId", batch_id}, {"tableVersion", table_version},
                 {"committedAt", Clock::System()->NowMillis()}};
  // The state folders that exist now hold state up to this batch: a later start checks
  // they are still there (whichever operator owns them).
  Json stores = Json::array();
  auto state = fs_->ListDir(JoinPath(dir_, "state"));
  if (state.ok()) {
    for (const auto& e : *state)
      if (e.is_dir && !e.name.empty() && e.name[0] != '.') stores.push_back(e.name);
  } else if (!state.status().IsNotFound()) {
    return state.status();
  }
  commit["stateStores"] = std::move(stores);
  std::string path = JoinPath(dir_, "commits/" + std::to_string(batch_id));
  std::string text = commit.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  Status st = durable ? fs_->PutIfAbsent(path, text) : PutIfAbsentUnsynced(fs_, path, text);
  // A replayed batch may find its commit record already written: that is the same fact
  // (written unsynced, maybe: made durable when asked).
  if (st.IsAlreadyExists() && durable) st = SyncCommit(batch_id);
  if (!st.ok() && !st.IsAlreadyExists()) return st;
  if (committed_known_ && (!committed_ || *committed_ < batch_id)) committed_ = batch_id;
  return Status::OK();
}

Status FlowCheckpoint::SyncCommit(int64_t batch_id) {
  std::string path = JoinPath(dir_, "commits/" + std::to_string(batch_id));
  LP_ASSIGN_OR_RETURN(std::string text, fs_->ReadFile(path));
  return fs_->WriteFileAtomic(path, text);
}

Result<FlowCheckpoint::CommitRecord> FlowCheckpoint::ReadCommit(int64_t batch_id) const {
  std::string path = JoinPath(dir_, "commits/" + std::to_string(batch_id));
  LP_ASSIGN_OR_RETURN(std::string text, fs_->ReadFile(path));
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("tableVersion") || !j["tableVersion"].is_number_integer()) {
    return Status::Corruption(path + ": not a commit record (JSON with an integer \"tableVersion\")");
  }
  CommitRecord record;
  record.table_version = j["tableVersion"].get<int64_t>();
  if (j.contains("stateStores") && j["stateStores"].is_array()) {
    record.state_stores.emplace();
    for (const auto& n : j["stateStores"])
      if (n.is_string()) record.state_stores->push_back(n.get<std::string>());
  }
  return record;
}

namespace {

std::string FullRefreshHint(const std::string& table) {
  return "; resuming would lose or double rows. Rebuild it with `lakepipe run --full-refresh " + table +
         "` (it reads its sources again from the start)";
}

std::string Batches(int64_t from, int64_t to) {
  return from == to ? "batch " + std::to_string(from) : "batches " + std::to_string(from) + ".." + std::to_string(to);
}

}  // namespace

Status FlowCheckpoint::CheckAgainstTable(const std::string& table, const TableProgress& t, bool shared_table) const {
  LP_ASSIGN_OR_RETURN(auto planned, LatestPlanned());
  LP_ASSIGN_OR_RETURN(auto committed, LatestCommitted());
  if (committed) {
    LP_ASSIGN_OR_RETURN(CommitRecord record, ReadCommit(*committed));
    if (!t.exists || record.table_version > t.version) {
      return Status::Corruption(
          "checkpoint " + dir_ + " is ahead of table `" + table + "`: its commit log records " +
          Batches(*committed, *committed) + " as table version " + std::to_string(record.table_version) + ", but " +
          (t.exists ? "the table's latest version is " + std::to_string(t.version) +
                          " (its newest commit files were deleted)"
                    : std::string("the table does not exist (it was deleted)")) +
          FullRefreshHint(table));
    }
    if (!t.flow_txn || *t.flow_txn < *committed) {
      return Status::Corruption(
          "checkpoint " + dir_ + " is ahead of table `" + table + "`: its commit log records " +
          Batches(0, *committed) + ", but the table's txn for this flow (appId " + flow_id_ + ") is " +
          (t.flow_txn ? std::to_string(*t.flow_txn) : std::string("absent")) +
          " (commits of the table were lost)" + FullRefreshHint(table));
    }
    if (record.state_stores) {
      for (const auto& name : *record.state_stores) {
        std::string dir = JoinPath(dir_, "state/" + name);
        auto entries = fs_->ListDir(dir);
        if (!entries.ok() && !entries.status().IsNotFound()) return entries.status();
        if (!entries.ok() || entries->empty()) {
          return Status::Corruption("state missing for " + Batches(0, *committed) + " of `" + table + "`: " +
                                            dir + " is " + (entries.ok() ? "empty" : "gone") +
                                            " but the commit log records it" + FullRefreshHint(table));
        }
      }
    }
  }
  if (t.flow_txn && (!planned || *t.flow_txn > *planned)) {
    return Status::Corruption(
        "checkpoint " + dir_ + " is behind table `" + table + "`: the table holds batch " +
        std::to_string(*t.flow_txn) + " of this flow (appId " + flow_id_ + "), but the checkpoint " +
        (planned ? "has plans only up to batch " + std::to_string(*planned) : std::string("has no plans")) +
        " (its offsets and commits were deleted): resuming would ingest its input again or never" +
        FullRefreshHint(table));
  }
  if (!committed && !t.flow_txn && t.exists && !shared_table) {
    return Status::Corruption(
        "checkpoint " + dir_ + " is behind table `" + table + "`: the table has data (version " +
        std::to_string(t.version) + ") but no batch of this flow (appId " + flow_id_ +
        "): the checkpoint was deleted or replaced, or a full refresh did not finish" + FullRefreshHint(table));
  }
  return Status::OK();
}

Result<FlowCheckpoint::TableProgress> FlowCheckpoint::ReadTableProgress(FileSystem* fs, const std::string& table_path,
                                                                        const std::string& flow_id) {
  TableProgress progress;
  auto table = delta::DeltaTable::Open(table_path, fs);
  if (!table.ok()) {
    if (table.status().IsNotFound() && !delta::DeltaTable::Exists(table_path, fs)) return progress;
    return table.status();
  }
  LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, (*table)->Latest());
  progress.exists = true;
  progress.version = snap->version();
  progress.flow_txn = snap->TxnVersion(flow_id);
  return progress;
}

Status FlowCheckpoint::CheckState(const std::string& table, const std::string& store_name,
                                  std::optional<int64_t> store_batch) const {
  LP_ASSIGN_OR_RETURN(auto committed, LatestCommitted());
  if (!committed || (store_batch && *store_batch >= *committed)) return Status::OK();
  int64_t from = store_batch ? *store_batch + 1 : 0;
  return Status::Corruption("state missing for " + Batches(from, *committed) + " of `" + table + "`: " +
                                    JoinPath(dir_, "state/" + store_name) +
                                    (store_batch ? " was applied only up to batch " + std::to_string(*store_batch)
                                                 : std::string(" is empty")) +
                                    " but the commit log records them" + FullRefreshHint(table));
}

Status FlowCheckpoint::Reset(FileSystem* fs, const std::string& dir) { return fs->RemoveAll(dir); }

}  // namespace lakepipe::runtime
