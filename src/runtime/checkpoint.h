// FlowCheckpoint: the checkpoint folder of one streaming flow (docs/checkpoint.md), the
// durable half of the exactly-once protocol of DESIGN §6:
//   1. WritePlan(N, plan) records batch N's input (files, versions) BEFORE any data is
//      read; a plan, once written, is never changed (put-if-absent);
//   2. the caller processes exactly that input and commits it to the Delta table with
//      txn(appId = flow id, version = N);
//   3. WriteCommit(N, ...) records that batch N is in the table.
// On restart, a batch that is planned but not committed is replayed with the same plan;
// the table's txn version tells whether its commit already happened.
//
// Retention: the folder keeps the plans and commit records of the newest
// min_batches_to_retain() batches only (Spark's minBatchesToRetain, 100 by default). What
// the older plans consumed (the files a source has taken, ...) is kept in a compact file
// the caller builds (Retain); ReadAllPlans returns it with the plans after it, so a restart
// never needs a deleted file. docs/checkpoint.md, "Retention".
//
// Plans are JSON documents owned by the sources; this class stores them, it does not
// interpret them. Thread-safety: one flow, one thread (a single writer per folder, which
// is why the latest ids can be cached after the first listing); concurrent readers of
// the folder are safe because every file appears atomically.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/status.h"

namespace lakepipe::runtime {

class FlowCheckpoint {
 public:
  // Opens (creating when absent) the checkpoint folder `dir` of flow `flow_name`. The flow
  // id (a UUID kept in `dir/metadata`) is the Delta txn appId of the flow.
  static Result<FlowCheckpoint> Open(FileSystem* fs, const std::string& dir,
                                     const std::string& flow_name);

  const std::string& dir() const { return dir_; }
  const std::string& flow_id() const { return flow_id_; }

  // Highest batch id with a plan / with a commit record; nullopt when none.
  Result<std::optional<int64_t>> LatestPlanned() const;
  Result<std::optional<int64_t>> LatestCommitted() const;

  // Stores batch `batch_id`'s plan. AlreadyExists if that batch was planned before
  // (callers replay the stored plan instead).
  Status WritePlan(int64_t batch_id, const std::string& plan_json);
  Result<std::string> ReadPlan(int64_t batch_id) const;
  // The history sources need (such as the set of files already ingested), oldest first:
  // the newest compact file `offsets/<C>.compact` (a plan-shaped JSON of what plans 0..C
  // consumed, see Retain) when there is one, then every plan after C.
  struct StoredPlan {
    int64_t batch_id = -1;  // C for the compact file
    std::string file;       // path of the file read, for messages
    std::string text;
  };
  Result<std::vector<StoredPlan>> ReadAllPlans() const;

  // Batches whose offsets/ and commits/ files are kept (at least 1).
  static constexpr int64_t kDefaultMinBatchesToRetain = 100;
  int64_t min_batches_to_retain() const { return retain_; }
  void set_min_batches_to_retain(int64_t n) { retain_ = n < 1 ? 1 : n; }
  // What a compaction writes (Retain): the compact file's text, the segment files it
  // lists (written by the builder with WriteSegment before it returns; every other file
  // of taken/ is deleted once the compact file is durable), and what to do then (the
  // caller's memory of its segments follows the files only once they are durable).
  struct Compaction {
    std::string text;
    std::vector<std::string> segments;
    std::function<void()> durable;
  };
  // Bounds the folder, once batch `batch_id` is recorded (after WriteCommit): when
  // batch_id is a multiple of min_batches_to_retain() and `offsets/<batch_id>.compact` is
  // not there yet, calls `build()` — what plans 0..batch_id consumed, as one plan-shaped
  // JSON that the caller builds from what it noted, with the segment files it needs
  // written — writes its text as that compact file durably, and only then calls
  // `durable`, deletes the plans and commit records of batches below
  // batch_id - min_batches_to_retain() + 1, the older compact files and the segment files
  // the new compact file does not list. A crash at any point leaves a folder ReadAllPlans
  // and the segments it lists read correctly (files are deleted only once the compact
  // that covers them is durable); deletions left undone are done at the next compaction.
  // (A compact file already there — a batch replayed after a machine crash lost its
  // commit record — is kept, as are the segments: the flow loaded them from it.)
  Status Retain(int64_t batch_id, const std::function<Result<Compaction>()>& build);

  // The folder of compact format 3's segment files (runtime/taken_segments.h), of this
  // checkpoint or of the checkpoint folder `dir` (for readers that do not open one).
  std::string taken_dir() const { return TakenDirOf(dir_); }
  static std::string TakenDirOf(const std::string& dir);
  // Writes segment file `name` into taken_dir() durably (file and folder synced), for a
  // compact file Retain is about to write. A file of that name can only be left by a
  // crash before that compact file was written (names carry the compaction's batch id),
  // so it is replaced.
  Status WriteSegment(const std::string& name, std::string_view text);

  // Records that batch `batch_id` is committed as `table_version` of the flow's table,
  // with the operator state folders present under `state/` at that point. The record is
  // not synced (the Delta commit's txn holds the same fact) unless `durable`: a flow that
  // cleans its source (read_files cleanSource) needs it durable before the batch's files
  // go, since a record lost to a power cut replays the batch, which reads them again.
  Status WriteCommit(int64_t batch_id, int64_t table_version, bool durable = false);
  // Makes the existing record commits/<batch_id> durable by writing it again whole (the
  // same bytes, through a synced temporary file and a rename): a record an earlier
  // process wrote unsynced, before that flow cleans what the batch took.
  Status SyncCommit(int64_t batch_id);

  // What the flow's table says about the flow, for CheckAgainstTable.
  struct TableProgress {
    bool exists = false;               // the table has a Delta log
    int64_t version = -1;              // its latest version
    std::optional<int64_t> flow_txn;   // txn version of appId = flow_id()
  };
  // Cross-checks this checkpoint with the table before a streaming flow resumes
  // (docs/checkpoint.md, "Checks at start"): a table behind the commit log (newest
  // commits deleted), a commit log behind the table (offsets/commits deleted, or a
  // checkpoint missing under a table that has data), and operator state folders recorded
  // in the last commit but now missing or empty. Each is Corruption naming what
  // is missing and the way out (`--full-refresh <table>`): resuming would lose or double
  // rows. `table` is the table's name, for the messages.
  // `shared_table`: the flow is one of several into the table, so a table with data but
  // no batch of this flow is a flow added later, not a lost checkpoint.
  Status CheckAgainstTable(const std::string& table, const TableProgress& progress, bool shared_table = false) const;
  // Reads TableProgress from the Delta table at `table_path` (as of its latest version)
  // for the app id `flow_id`. A damaged log is the log's own error (Corruption).
  static Result<TableProgress> ReadTableProgress(FileSystem* fs, const std::string& table_path,
                                                 const std::string& flow_id);
  // Checks one operator state store on opening: `store_batch` (the last batch it applied,
  // nullopt when it is empty) must not be behind the commit log.
  Status CheckState(const std::string& table, const std::string& store_name,
                    std::optional<int64_t> store_batch) const;

  // Removes the folder (a full refresh starts the flow from nothing).
  static Status Reset(FileSystem* fs, const std::string& dir);

 private:
  FlowCheckpoint(FileSystem* fs, std::string dir, std::string flow_id)
      : fs_(fs), dir_(std::move(dir)), flow_id_(std::move(flow_id)) {}
  Result<std::optional<int64_t>> Latest(const std::string& sub) const;
  // Batch `batch_id`'s commit record: (tableVersion, state folders recorded).
  struct CommitRecord {
    int64_t table_version = -1;
    std::optional<std::vector<std::string>> state_stores;  // absent in older records
  };
  Result<CommitRecord> ReadCommit(int64_t batch_id) const;
  // At Open: removes the newest commit records that a machine crash left torn.
  Status DropTornCommitRecords();

  FileSystem* fs_;
  std::string dir_;
  std::string flow_id_;
  // The latest ids, listed once and then kept up to date by this (single) writer.
  mutable bool planned_known_ = false;
  mutable bool committed_known_ = false;
  mutable std::optional<int64_t> planned_;
  mutable std::optional<int64_t> committed_;
  int64_t retain_ = kDefaultMinBatchesToRetain;
};

}  // namespace lakepipe::runtime
