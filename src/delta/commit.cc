// The commit protocol (put-if-absent of `%020d.json`, Delta's conflict rules, retries,
// checkpoints) and DeltaTable's read-side entry points (open, versions, history).
#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/kill_point.h"
#include "common/uuid.h"
#include "delta/checkpoint_deferral.h"
#include "delta/commit_file_time.h"
#include "delta/log_cleanup.h"
#include "delta/log_internal.h"
#include "delta/table.h"
#include "delta/table_internal.h"
#include "delta/txn_retention.h"

namespace lakepipe::delta {

using json = nlohmann::ordered_json;

namespace {

std::string CommitPath(const std::string& table_path, int64_t version) {
  return JoinPath(LogDir(table_path), CommitFileName(version));
}

CommitInfo MakeCommitInfo(const CommitRequest& req, int64_t now_millis, int64_t read_version,
                          const std::string& txn_id) {
  json o = json::object();
  o["timestamp"] = now_millis;
  o["operation"] = req.operation;
  json params = json::object();
  for (const auto& [k, v] : req.operation_parameters) params[k] = v;
  o["operationParameters"] = std::move(params);
  if (read_version >= 0) o["readVersion"] = read_version;
  o["isolationLevel"] = "Serializable";
  o["isBlindAppend"] = req.blind_append;
  json metrics = json::object();
  for (const auto& [k, v] : req.operation_metrics) metrics[k] = v;
  o["operationMetrics"] = std::move(metrics);
  o["engineInfo"] = kEngineInfo;
  o["txnId"] = txn_id;
  CommitInfo ci;
  ci.json = o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  ci.timestamp = now_millis;
  ci.operation = req.operation;
  return ci;
}

enum class Verdict { kNoConflict, kConflict, kAlreadyCommitted };

// Checks the commit that won `version` against our transaction.
Result<Verdict> CheckWinner(FileSystem* fs, const std::string& table_path, int64_t version,
                            const CommitRequest& req, std::string* why) {
  std::string name = CommitFileName(version);
  LP_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(CommitPath(table_path, version)));
  LP_ASSIGN_OR_RETURN(std::vector<Action> actions, ParseActions(text, name));
  if (req.read_version < 0) {
    *why = "the table was created concurrently (version 0 exists)";
    return Verdict::kConflict;
  }
  for (const Action& a : actions) {
    if (std::holds_alternative<Metadata>(a)) {
      *why = "a concurrent transaction (version " + std::to_string(version) +
             ") changed the table metadata";
      return Verdict::kConflict;
    }
    if (std::holds_alternative<Protocol>(a)) {
      *why = "a concurrent transaction (version " + std::to_string(version) +
             ") changed the table protocol";
      return Verdict::kConflict;
    }
    if (const auto* t = std::get_if<Txn>(&a); t && req.txn_app_id && t->app_id == *req.txn_app_id) {
      if (t->version >= req.txn_version) return Verdict::kAlreadyCommitted;
      *why = "a concurrent transaction (version " + std::to_string(version) +
             ") committed txn for the same appId '" + t->app_id + "'";
      return Verdict::kConflict;
    }
    if (const auto* r = std::get_if<RemoveFile>(&a)) {
      LP_ASSIGN_OR_RETURN(std::string key, FileKey(r->path, r->deletion_vector));
      if (req.read_keys.count(key) || (req.reads_all_files && r->data_change)) {
        *why = "a concurrent transaction (version " + std::to_string(version) +
               ") removed file " + r->path + " that this transaction read";
        return Verdict::kConflict;
      }
    }
    if (const auto* ad = std::get_if<AddFile>(&a);
        ad && ad->data_change && req.add_conflicts && req.add_conflicts(*ad)) {
      *why = "a concurrent transaction (version " + std::to_string(version) +
             ") added rows of keys that this transaction changes (file " + ad->path + ")";
      return Verdict::kConflict;
    }
    if (const auto* ad = std::get_if<AddFile>(&a); ad && ad->data_change && req.reads_all_files) {
      *why = "a concurrent transaction (version " + std::to_string(version) +
             ") added data that this transaction should have read (file " + ad->path + ")";
      return Verdict::kConflict;
    }
  }
  return Verdict::kNoConflict;
}

}  // namespace

int64_t CheckpointIntervalOf(const Metadata& m) {
  auto it = m.configuration.find("delta.checkpointInterval");
  if (it != m.configuration.end()) {
    try {
      int64_t v = std::stoll(it->second);
      if (v > 0) return v;
    } catch (...) {
    }
  }
  return 10;
}

namespace {
int64_t CheckpointInterval(const Metadata& m) { return CheckpointIntervalOf(m); }

}  // namespace

Status WriteCheckpoint(FileSystem* fs, const std::string& table_path, const TableOptions& options,
                       int64_t version) {
  ReplayOptions ro;
  ro.version = version;
  LP_ASSIGN_OR_RETURN(TableState state, ReplayLog(fs, table_path, ro));
  return WriteCheckpointOf(fs, table_path, options, std::move(state));
}

Status WriteCheckpointOf(FileSystem* fs, const std::string& table_path, const TableOptions& options,
                         TableState state) {
  int64_t version = state.version;
  // Expired tombstones are dropped from the checkpoint (PROTOCOL.md: tombstones are
  // kept for at least delta.deletedFileRetentionDuration).
  DropExpiredTombstones(&state, options.clock->NowMillis());
  // So are expired transaction identifiers (delta/txn_retention.h), when the table sets
  // delta.setTransactionRetentionDuration.
  const std::optional<int64_t> txn_cutoff = TxnExpiryCutoffMillis(state.metadata.configuration, options.clock->NowMillis());
  std::erase_if(state.txns, [&](const auto& entry) { return TxnExpired(entry.second, txn_cutoff); });
  LP_ASSIGN_OR_RETURN(LastCheckpoint lc, WriteCheckpointFile(fs, table_path, state));
  LP_KILL_POINT("delta.before_last_checkpoint");
  auto previous = ReadLastCheckpoint(fs, table_path);
  if (previous && previous->version > version) return Status::OK();
  LP_RETURN_IF_ERROR(fs->WriteFileAtomic(JoinPath(LogDir(table_path), "_last_checkpoint"),
                                         SerializeLastCheckpoint(lc)));
  // A new checkpoint may let expired log entries go (delta/log_cleanup.h).
  LP_KILL_POINT("delta.before_log_cleanup");
  LP_RETURN_IF_ERROR(CleanUpExpiredLog(fs, table_path, state.metadata.configuration, options.clock->NowMillis()).status());
  return ThinCheckpoints(fs, table_path, state.metadata.configuration, CheckpointIntervalOf(state.metadata), version,
                         options.clock->NowMillis())
      .status();
}

Result<CommitOutcome> RunCommit(FileSystem* fs, const std::string& table_path,
                                const TableOptions& options, CommitRequest req) {
  LP_RETURN_IF_ERROR(fs->CreateDirs(LogDir(table_path)));
  std::string txn_id = NewUuid();
  int64_t read_version = req.read_version;
  int64_t version = req.read_version + 1;
  CommitOutcome out;
  std::vector<Action> actions;  // as committed (commitInfo first)
  for (int attempt = 1; attempt <= std::max(1, options.max_commit_attempts); ++attempt) {
    out.attempts = attempt;
    actions.clear();
    actions.reserve(req.actions.size() + 1);
    actions.push_back(MakeCommitInfo(req, options.clock->NowMillis(), read_version, txn_id));
    for (const auto& a : req.actions) actions.push_back(a);
    std::string body = SerializeActions(actions);
    std::string path = CommitPath(table_path, version);
    LP_KILL_POINT("delta.before_commit_file");
    Status st = fs->PutIfAbsent(path, body);
    if (st.ok()) {
      LP_KILL_POINT("delta.after_commit_file");
      out.version = version;
      break;
    }
    if (!st.IsAlreadyExists()) {
      // The commit file may have become visible before the failing step (e.g. the
      // directory fsync): then it is ours, and it is the one true outcome.
      auto existing = fs->ReadFile(path);
      if (existing.ok() && *existing == body) {
        return Status::IOError("commit of version " + std::to_string(version) + " of " +
                               table_path + " is visible but may not be durable: " +
                               st.ToString());
      }
      return st.WithContext("commit of version " + std::to_string(version) + " of " + table_path);
    }
    // Check the winner and every commit already there after it: while none conflicts,
    // our actions stay valid on top of them.
    std::string why;
    do {
      auto verdict = CheckWinner(fs, table_path, version, req, &why);
      if (!verdict.ok()) return verdict.status();
      if (*verdict == Verdict::kAlreadyCommitted) {
        out.already_committed = true;
        out.version = version;
        return out;
      }
      if (*verdict == Verdict::kConflict) {
        return Status::Conflict("commit to " + table_path + " failed: " + why);
      }
      ++version;
    } while (fs->Exists(CommitPath(table_path, version)));
    read_version = version - 1;
  }
  if (out.version < 0) {
    return Status::Conflict("commit to " + table_path + " gave up after " +
                            std::to_string(out.attempts) + " attempts: other writers kept winning");
  }
  // Checkpoint every delta.checkpointInterval commits. A failed checkpoint does not fail
  // the commit: readers fall back to an older checkpoint or to the JSON commits.
  int64_t interval = req.checkpoint_interval;
  for (const auto& a : req.actions) {
    if (const auto* m = std::get_if<Metadata>(&a)) interval = CheckpointInterval(*m);
  }
  if (out.version > 0 && interval > 0 && out.version % interval == 0) {
    // Nobody committed in between: the new state is the snapshot read plus our commit,
    // which saves listing the log and reading the previous checkpoint back.
    std::shared_ptr<TableState> state;
    if (req.read_snapshot && req.read_snapshot->version() == out.version - 1) {
      state = std::make_shared<TableState>(req.read_snapshot->state());
      if (!ApplyCommit(state.get(), out.version, std::move(actions), options.clock->NowMillis()).ok()) state.reset();
    }
    const int64_t version = out.version;
    std::function<Status()> write = [fs, table_path, options, version, state]() -> Status {
      if (state) return WriteCheckpointOf(fs, table_path, options, std::move(*state));
      return WriteCheckpoint(fs, table_path, options, version);
    };
    if (const CheckpointSink* sink = ScopedCheckpointDeferral::Current()) {
      // Written later by the sink's task (delta/checkpoint_deferral.h); its failure is the
      // sink's to report, as checkpoint_error would have been.
      (*sink)(table_path, version, std::move(write));
      return out;
    }
    Status written = write();
    if (!written.ok()) out.checkpoint_error = written.message();
  }
  return out;
}

// ---- DeltaTable: opening and reading ------------------------------------------------

bool DeltaTable::Exists(const std::string& path, FileSystem* fs) {
  // Asked per micro-batch (side tables): a stat or two answer without listing a log of
  // millions of commits.
  return LogHasEntries(fs, path);
}

Result<std::unique_ptr<DeltaTable>> DeltaTable::Open(const std::string& path, FileSystem* fs,
                                                     TableOptions options) {
  // Version 0 or `_last_checkpoint` show a table without listing its log (LogHasEntries);
  // when it finds none, the listing words the error.
  if (!LogHasEntries(fs, path)) {
    LP_RETURN_IF_ERROR(ListLog(fs, path).status());
    return Status::NotFound("no Delta table at " + path + " (_delta_log has no commits)");
  }
  return std::unique_ptr<DeltaTable>(new DeltaTable(path, fs, options));
}

Result<std::unique_ptr<DeltaTable>> DeltaTable::Create(const std::string& path,
                                                       const CreateOptions& create,
                                                       FileSystem* fs, TableOptions options) {
  if (Exists(path, fs)) return Status::AlreadyExists("a Delta table already exists at " + path);
  if (create.schema.size() == 0) {
    return Status::InvalidArgument("cannot create Delta table " + path + " with no columns");
  }
  Schema schema = MakeNullable(create.schema);
  for (const auto& pc : create.partition_columns) {
    int idx = schema.FindField(pc);
    if (idx < 0) {
      return Status::InvalidArgument("partition column '" + pc + "' is not in the schema (" +
                                     schema.ToDDL() + ")");
    }
    if (schema.field(static_cast<size_t>(idx)).type.is_nested()) {
      return Status::InvalidArgument("partition column '" + pc + "' has nested type " +
                                     schema.field(static_cast<size_t>(idx)).type.ToString());
    }
  }
  CommitRequest req;
  Protocol protocol = InitialProtocol(create.configuration);
  Metadata meta;
  meta.id = NewUuid();
  meta.name = create.name;
  meta.description = create.description;
  meta.schema_string = schema.ToSparkJson();
  for (const auto& pc : create.partition_columns)
    meta.partition_columns.push_back(schema.field(static_cast<size_t>(schema.FindField(pc))).name);
  meta.configuration = create.configuration;
  meta.created_time = options.clock->NowMillis();
  req.actions.push_back(protocol);
  req.actions.push_back(meta);
  req.read_version = -1;
  req.operation = "CREATE TABLE";
  json pcs = meta.partition_columns;
  req.operation_parameters["partitionBy"] = pcs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  req.operation_parameters["isManaged"] = "false";
  req.operation_parameters["properties"] = json(meta.configuration).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  req.blind_append = true;
  auto outcome = RunCommit(fs, path, options, std::move(req));
  if (!outcome.ok()) {
    if (outcome.status().IsConflict()) {
      return Status::AlreadyExists("a Delta table was created concurrently at " + path);
    }
    return outcome.status();
  }
  return std::unique_ptr<DeltaTable>(new DeltaTable(path, fs, options));
}

Result<std::vector<FileInfo>> DeltaTable::CommitsAfterCached(int64_t version) const {
  // Versions are contiguous (put-if-absent), so the commits after `version` are found by
  // asking for each next file until one is missing: no listing of a log that may hold
  // thousands of commits. The cached version's own file must still be there (the table
  // was not removed and created again).
  std::vector<FileInfo> out;
  auto own = fs_->Stat(CommitPath(path_, version));
  if (!own.ok()) return own.status();
  for (int64_t v = version + 1;; ++v) {
    auto next = fs_->Stat(CommitPath(path_, v));
    if (!next.ok()) {
      if (next.status().IsNotFound()) break;
      return next.status();
    }
    next->name = CommitFileName(v);
    out.push_back(std::move(next).value());
  }
  return out;
}

Result<SnapshotPtr> DeltaTable::Latest() const {
  SnapshotPtr base;
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    base = cached_;
  }
  SnapshotPtr snap;
  if (base) {
    auto newer = CommitsAfterCached(base->version());
    if (newer.ok()) {
      if (newer->empty()) return base;
      // Roll forward: the new commits' actions on a copy of the state, which shares its
      // file maps with `base` (only the chunks the commits touch are rebuilt).
      TableState state = base->state();
      std::vector<std::string> added;
      for (const FileInfo& info : *newer) {
        LP_ASSIGN_OR_RETURN(std::string text, fs_->ReadFile(JoinPath(LogDir(path_), info.name)));
        auto parsed = ParseActions(text, info.name);
        if (!parsed.ok()) return parsed.status().WithContext("Delta log of " + path_);
        LP_RETURN_IF_ERROR(
            ApplyCommit(&state, state.version + 1, std::move(parsed).value(), CommitFileMillis(fs_, path_, info), &added));
      }
      // The cached state outlives any checkpoint, so it lets expired tombstones go as a
      // checkpoint does; otherwise a handle kept for months (a continuous run's) would hold
      // every file ever removed. Once per checkpoint interval: the scan is O(tombstones).
      const int64_t interval = CheckpointIntervalOf(state.metadata);
      if (state.version / interval != base->version() / interval) {
        DropExpiredTombstones(&state, options_.clock->NowMillis());
      }
      LP_ASSIGN_OR_RETURN(snap, Snapshot::Advance(*base, std::move(state), added));
    }
  }
  if (!snap) {
    // First use, or the cached version's commit is gone: replay from the newest checkpoint
    // (the JSON commits after it may hold tombstones that expired since).
    LP_ASSIGN_OR_RETURN(TableState state, ReplayLog(fs_, path_));
    DropExpiredTombstones(&state, options_.clock->NowMillis());
    LP_ASSIGN_OR_RETURN(snap, Snapshot::Make(path_, std::move(state), fs_, options_.clock));
  }
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (!cached_ || cached_->version() < snap->version()) cached_ = snap;
  return snap;
}

Result<SnapshotPtr> DeltaTable::AtVersion(int64_t version) const {
  if (version < 0) return Status::InvalidArgument("version must be >= 0, got " + std::to_string(version));
  ReplayOptions ro;
  ro.version = version;
  auto state = ReplayLog(fs_, path_, ro);
  if (!state.ok()) {
    // A version older than the oldest log file (cleaned up) cannot be reconstructed.
    LP_RETURN_IF_ERROR(CheckVersionRetained(fs_, path_, version));
    return state.status();
  }
  return Snapshot::Make(path_, std::move(state).value(), fs_, options_.clock);
}

Result<int64_t> DeltaTable::LatestVersion() const {
  SnapshotPtr base;
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    base = cached_;
  }
  if (base) {
    auto newer = CommitsAfterCached(base->version());
    if (newer.ok()) return base->version() + static_cast<int64_t>(newer->size());
  }
  if (std::optional<LogListing> tail = ListLogFromHint(fs_, path_); tail && !tail->versions.empty())
    return std::max(tail->versions.back(), tail->checkpoints.front().version);
  LP_ASSIGN_OR_RETURN(LogListing listing, ListLog(fs_, path_));
  int64_t v = listing.versions.empty() ? -1 : listing.versions.back();
  for (const auto& c : listing.checkpoints) v = std::max(v, c.version);
  if (v < 0) return Status::NotFound("no Delta table at " + path_);
  return v;
}

namespace {

struct CommitTime {
  int64_t version;
  int64_t millis;
};

// Commit timestamps per PROTOCOL.md: inCommitTimestamp when the table enables it, else
// the commit file's modification time, made monotonic as Delta does (a commit never
// appears older than its predecessor).
Result<std::vector<CommitTime>> CommitTimes(FileSystem* fs, const std::string& path) {
  LP_ASSIGN_OR_RETURN(LogListing listing, ListLog(fs, path));
  std::vector<CommitTime> out;
  int64_t prev = INT64_MIN;
  for (size_t i = 0; i < listing.versions.size(); ++i) {
    int64_t t = CommitFileMillis(fs, path, listing.commit_files[i]);
    auto text = fs->ReadFile(JoinPath(LogDir(path), listing.commit_files[i].name));
    if (text.ok()) {
      // Only the first line is needed for commitInfo in commits we and Spark write;
      // scan all lines for inCommitTimestamp to be safe.
      auto actions = ParseActions(*text, listing.commit_files[i].name);
      if (actions.ok()) {
        for (const auto& a : *actions) {
          if (const auto* c = std::get_if<CommitInfo>(&a); c && c->in_commit_timestamp)
            t = *c->in_commit_timestamp;
        }
      }
    }
    if (prev != INT64_MIN && t <= prev) t = prev + 1;
    prev = t;
    out.push_back({listing.versions[i], t});
  }
  return out;
}

}  // namespace

Result<SnapshotPtr> DeltaTable::AtTimestamp(int64_t timestamp_millis) const {
  LP_ASSIGN_OR_RETURN(auto times, CommitTimes(fs_, path_));
  if (times.empty()) return Status::NotFound("no commits in " + path_);
  int64_t chosen = -1;
  for (const auto& t : times) {
    if (t.millis <= timestamp_millis) chosen = t.version;
  }
  if (chosen < 0) {
    return Status::NotFound("timestamp " + std::to_string(timestamp_millis) +
                            " is before the earliest available version (" +
                            std::to_string(times.front().version) + ", committed at " +
                            std::to_string(times.front().millis) + ") of " + path_ +
                            (times.front().version > 0 ? " (log cleanup removed the older commits, past the "
                                                         "table's delta.logRetentionDuration)"
                                                       : ""));
  }
  return AtVersion(chosen);
}

Result<std::vector<HistoryEntry>> DeltaTable::History(int limit) const {
  // Timestamps are the ones time travel uses (inCommitTimestamp, else the commit file's
  // modification time made monotonic), so `AtTimestamp(entry.timestamp_millis)` returns
  // that entry's version, as Delta's DESCRIBE HISTORY does.
  // The newest `limit` entries (the SLA of `lakepipe status` and /api/sla asks for one or a
  // few per table) come from the log's tail after `_last_checkpoint` when it holds them,
  // not from reading every commit of a log of millions; their times are then made
  // monotonic from the checkpoint on, which differs from the whole log's only after a clock
  // was set back.
  std::optional<LogListing> tail = limit > 0 ? ListLogFromHint(fs_, path_) : std::nullopt;
  if (tail && static_cast<int64_t>(tail->versions.size()) < limit) tail.reset();
  LP_ASSIGN_OR_RETURN(LogListing listing, tail ? Result<LogListing>(std::move(*tail)) : ListLog(fs_, path_));
  std::vector<HistoryEntry> ascending;
  int64_t prev = INT64_MIN;
  for (size_t k = 0; k < listing.versions.size(); ++k) {
    HistoryEntry e;
    e.version = listing.versions[k];
    e.commit_info = "{}";
    int64_t t = CommitFileMillis(fs_, path_, listing.commit_files[k]);
    LP_ASSIGN_OR_RETURN(std::string text,
                        fs_->ReadFile(JoinPath(LogDir(path_), listing.commit_files[k].name)));
    LP_ASSIGN_OR_RETURN(auto actions, ParseActions(text, listing.commit_files[k].name));
    for (const auto& a : actions) {
      if (const auto* c = std::get_if<CommitInfo>(&a)) {
        e.commit_info = c->json;
        e.operation = c->operation;
        if (c->in_commit_timestamp) t = *c->in_commit_timestamp;
      }
    }
    if (prev != INT64_MIN && t <= prev) t = prev + 1;
    prev = t;
    e.timestamp_millis = t;
    ascending.push_back(std::move(e));
  }
  std::vector<HistoryEntry> out;
  for (size_t k = ascending.size(); k-- > 0;) {
    if (limit > 0 && static_cast<int>(out.size()) >= limit) break;
    out.push_back(std::move(ascending[k]));
  }
  return out;
}

Result<int64_t> DeltaTable::CommitActions(std::vector<Action> actions, int64_t read_version,
                                          const std::string& operation,
                                          const StringMap& operation_parameters) const {
  LP_ASSIGN_OR_RETURN(SnapshotPtr snap, AtVersion(read_version));
  LP_RETURN_IF_ERROR(CheckWriteSupport(snap->protocol(), snap->metadata(), path_));
  CommitRequest req;
  req.read_version = read_version;
  req.read_snapshot = snap;
  req.checkpoint_interval = CheckpointIntervalOf(snap->metadata());
  req.operation = operation;
  req.operation_parameters = operation_parameters;
  bool only_adds = true;
  for (const auto& a : actions) {
    if (const auto* r = std::get_if<RemoveFile>(&a)) {
      only_adds = false;
      LP_ASSIGN_OR_RETURN(std::string key, FileKey(r->path, r->deletion_vector));
      req.read_keys.insert(key);
    } else if (const auto* t = std::get_if<Txn>(&a)) {
      req.txn_app_id = t->app_id;
      req.txn_version = t->version;
    } else if (!std::holds_alternative<AddFile>(a)) {
      only_adds = false;
    }
  }
  req.blind_append = only_adds;
  req.actions = std::move(actions);
  LP_ASSIGN_OR_RETURN(CommitOutcome outcome, RunCommit(fs_, path_, options_, std::move(req)));
  if (outcome.already_committed) {
    return Status::AlreadyExists("txn already committed at version " + std::to_string(outcome.version));
  }
  return outcome.version;
}

Status DeltaTable::Checkpoint(int64_t version) const {
  return WriteCheckpoint(fs_, path_, options_, version);
}

}  // namespace lakepipe::delta
