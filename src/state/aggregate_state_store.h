// AggregateStateStore: the durable state of an incrementally maintained aggregate (a
// materialized view updated from its input's new rows), in RocksDB under a given folder
// (the flow's `state/aggregate-<i>/`; layout in docs/checkpoint.md, "Operator state").
//
// The shape is Spark's HDFS state store, kept in one RocksDB: per micro-batch the batch's
// *delta* — operators::HashAggregate::ExportState() of an aggregate over that batch's rows
// only — is one value `delta/<batch id>`; now and then a full *snapshot* (ExportState of
// the whole aggregate) replaces the snapshot and every delta, in the same atomic write.
// Loading returns the snapshot and the deltas after it, in batch order, to be folded into
// a fresh aggregate with MergeState (merging partial states equals aggregating the union of
// their inputs). States are serialized as in-memory Parquet files (our writer/reader).
//
// Protocol (as SeenKeyStore): the runtime aggregates batch N's rows into a batch-only
// aggregate, merges its state into the view's aggregate, publishes the view (its Delta
// commit carrying txn N), then calls Commit(N, delta, view aggregate). Commit writes the
// delta or a snapshot together with the marker "batch N applied" in one synced write, so
// the state is never ahead of the table. After a restart, Load() gives the state as of
// committed_batch(); a batch at or below it is already in the state and must not be
// merged again. The store keeps nothing pending: a failed batch leaves it unchanged (the
// runtime rebuilds its in-memory aggregate with LoadInto).
//
// Thread-safety: one flow thread; not synchronised.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "operators/hash_aggregate.h"
#include "state/state_size.h"
#include "types/batch.h"
#include "types/schema.h"

namespace rocksdb {
class DB;
}

namespace lakepipe::state {

class AggregateStateStore {
 public:
  struct Options {
    // A snapshot replaces the deltas once this many deltas would be kept...
    int max_deltas = 16;
    // ...or once the deltas together would be larger than the last snapshot and than this.
    int64_t min_snapshot_bytes = 4 << 20;
  };

  // Opens (creating if needed) the store in folder `dir` for states of `state_schema`
  // (HashAggregate::state_schema()). InvalidArgument when the stored state was written for
  // another schema (the query changed: its state must be rebuilt by a full refresh).
  static Result<std::unique_ptr<AggregateStateStore>> Open(const std::string& dir, const Schema& state_schema,
                                                           Options options);
  static Result<std::unique_ptr<AggregateStateStore>> Open(const std::string& dir, const Schema& state_schema) {
    return Open(dir, state_schema, Options());
  }
  ~AggregateStateStore();

  // The last committed batch; nullopt before the first.
  std::optional<int64_t> committed_batch() const { return committed_batch_; }

  // The committed state: the snapshot, if any, then each later batch's delta in batch
  // order (batches without rows are left out). Each batch has the state schema.
  Result<std::vector<RecordBatch>> Load() const;
  // Load() merged into `agg`, a fresh aggregate of the same query.
  Status LoadInto(operators::HashAggregate* agg) const;

  // Durably records batch `batch_id`: `delta` is the state of the batch's rows alone,
  // `full` the whole aggregate with the delta already merged (written as the snapshot when
  // one is due). InvalidArgument when `batch_id` is not above committed_batch() or the
  // delta does not have the state schema.
  // `force_snapshot`: write the snapshot now whatever the policy says — the aggregate lost
  // groups (emptied by retractions), which merging deltas cannot express.
  Status Commit(int64_t batch_id, const RecordBatch& delta, const operators::HashAggregate& full,
                bool force_snapshot = false);

  // Groups of the last committed state, bytes on disk, and in memory: RocksDB's write
  // buffers plus the aggregate's own memory as of the last Commit.
  StateSize Size() const;
  // Deltas kept after the snapshot (for tests of the snapshot policy).
  int deltas_since_snapshot() const { return static_cast<int>(delta_bytes_.size()); }
  std::optional<int64_t> snapshot_batch() const { return snapshot_batch_; }

 private:
  AggregateStateStore() = default;
  Result<std::string> Serialize(const RecordBatch& state) const;
  Result<RecordBatch> Deserialize(std::string data, const std::string& what) const;

  std::unique_ptr<rocksdb::DB> db_;
  std::string dir_;
  Schema schema_;
  Options options_;
  std::optional<int64_t> committed_batch_;
  std::optional<int64_t> snapshot_batch_;  // the batch the snapshot is as of
  int64_t snapshot_bytes_ = 0;
  std::vector<int64_t> delta_bytes_;  // sizes of the deltas after the snapshot
  int64_t groups_ = 0;
  int64_t aggregate_memory_bytes_ = 0;
};

}  // namespace lakepipe::state
