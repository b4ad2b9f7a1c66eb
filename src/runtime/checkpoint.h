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
// Plans are JSON documents owned by the sources; this class stores them, it does not
// interpret them. Thread-safety: one flow, one thread (a single writer per folder, which
// is why the latest ids can be cached after the first listing); concurrent readers of
// the folder are safe because every file appears atomically.
#pragma once

#include <cstdint>
#include <optional>
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
  // Every stored plan, oldest first (for sources that need the history, such as the
  // set of files already ingested).
  Result<std::vector<std::pair<int64_t, std::string>>> ReadAllPlans() const;

  // Records that batch `batch_id` is committed as `table_version` of the flow's table.
  Status WriteCommit(int64_t batch_id, int64_t table_version);

  // Removes the folder (a full refresh starts the flow from nothing).
  static Status Reset(FileSystem* fs, const std::string& dir);

 private:
  FlowCheckpoint(FileSystem* fs, std::string dir, std::string flow_id)
      : fs_(fs), dir_(std::move(dir)), flow_id_(std::move(flow_id)) {}
  Result<std::optional<int64_t>> Latest(const std::string& sub) const;

  FileSystem* fs_;
  std::string dir_;
  std::string flow_id_;
  // The latest ids, listed once and then kept up to date by this (single) writer.
  mutable bool planned_known_ = false;
  mutable bool committed_known_ = false;
  mutable std::optional<int64_t> planned_;
  mutable std::optional<int64_t> committed_;
};

}  // namespace lakepipe::runtime
