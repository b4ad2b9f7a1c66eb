// ScdStateStore: the durable state of an AUTO CDC flow (SCD type 1 and 2), in RocksDB under
// the flow's checkpoint (`state/scd/`; layout in docs/checkpoint.md, "Operator state").
//
// Per key: the sequence of the last change applied to it and whether that change was a
// delete (a tombstone), so that an event older than what was applied — an update that
// arrives after a later delete, say — is recognised as stale and never resurrects a row.
// Also the sequence of the last TRUNCATE: events at or before it are stale. Sequences are
// stored in an order-preserving byte encoding (operators/scd.h), compared with memcmp.
//
// Several AUTO CDC flows into one target share its store (the per-key state is the
// table's, so each flow's changes are decided against the key's whole history); each flow
// has its own marker, named by the flow ("" for the table's own flow).
//
// Changes of micro-batch N are pending until Commit(N, flow), which writes them with the
// marker "flow's batch N applied" in one synced RocksDB write. The runtime commits only after batch N's
// Delta commit (docs/checkpoint.md), so the state is never ahead of the table; Abandon()
// drops a failed batch's changes.
//
// AUTO CDC FROM SNAPSHOT keeps its progress and snapshot image here too
// (operators::SnapshotStates: the last processed version, the rows of the version held as
// incomplete, per live key its values), staged by operators::SnapshotDiff and written by
// the same Commit as the per-key SCD state, so the two never disagree after a crash.
//
// Call order per batch: Abandon(), [LoadSnapshotProgress/ScanSnapshotKeys/StageSnapshot
// (operators::SnapshotDiff),] Lookup/Put/Truncate (operators::ScdApply), then Commit(N).
// Thread-safety: one flow thread; not synchronised.

#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/status.h"
#include "operators/scd.h"
#include "operators/snapshot_cdc.h"
#include "state/batch_state.h"
#include "state/state_size.h"

namespace rocksdb {
class DB;
}

namespace lakepipe::state {

using operators::ScdKeyState;

class ScdStateStore : public operators::ScdKeyStates, public operators::SnapshotStates {
 public:
  static Result<std::unique_ptr<ScdStateStore>> Open(const std::string& dir);
  ~ScdStateStore();

  // The key's state as of the pending changes (a pending Truncate hides stored keys).
  Result<std::optional<ScdKeyState>> Lookup(std::string_view key) override;
  // Reads the stored entries of `keys` with one MultiGet; Lookup then answers from them.
  Status Prefetch(const std::vector<std::string_view>& keys) override;
  void Put(std::string_view key, ScdKeyState state) override;
  // Forgets every key and records `sequence` as the last truncate.
  void Truncate(std::string sequence) override;
  // The sequence of the last truncate (pending or committed), if any.
  Result<std::vector<std::pair<std::string, ScdKeyState>>> KeysAbove(const std::string& sequence) override;
  const std::optional<std::string>& truncate_sequence() const override {
    return pending_truncate_ ? pending_truncate_ : committed_truncate_;
  }

  // operators::SnapshotStates (layout in docs/checkpoint.md, "AUTO CDC state").
  Result<operators::SnapshotProgress> LoadSnapshotProgress(const Schema& source) override;
  Status ScanSnapshotKeys(const std::function<Status(std::string_view key, std::string_view values)>& fn) override;
  Status StageSnapshot(const operators::SnapshotProgress& progress, const Schema& source,
                       std::vector<std::pair<std::string, std::optional<std::string>>> image_changes) override;
  // Whether a snapshot version is held as incomplete (committed state).
  Result<bool> HoldsSnapshotVersion();

  // The last batch of flow `flow` applied ("": the table's own flow).
  std::optional<int64_t> committed_batch(const std::string& flow = "") const;
  // Durably applies the pending changes and records batch `batch_id` of `flow` as applied.
  Status Commit(int64_t batch_id, const std::string& flow = "");
  void Abandon();
  StateSize Size() const;

 private:
  ScdStateStore() = default;
  // From this many written entries a commit is one ingested table file instead of a
  // synced WriteBatch. Low, unlike the other stores: a batch's keys written through the
  // write-ahead log are inserted into the memtable, replayed from the log at the next
  // open (a run per micro-batch opens the store every batch) and flushed; an ingested
  // file is linked in once. Measured on a 10,000-event SCD type 2 batch over 1M keys
  // (docs/BENCHMARKS.md, "AUTO CDC"): ~0.55 s of CPU per batch instead of ~0.65 s.
  static constexpr size_t kBulkKeys = 1000;
  std::unique_ptr<rocksdb::DB> db_;
  std::string dir_;
  std::unordered_map<std::string, ScdKeyState> pending_;
  // Keys read from RocksDB this batch: whether each was stored (Commit counts new keys).
  std::unordered_map<std::string, bool> looked_up_;
  // Prefetch's reads this batch: the stored entry of each key, nullopt when absent.
  std::unordered_map<std::string, std::optional<std::string>> prefetched_;
  // The key state of a stored entry.
  Result<ScdKeyState> ParseEntry(std::string_view value) const;
  // A snapshot flow's staged writes: its progress entry, its held rows ("" for none) and
  // the image's changes.
  struct PendingSnapshot {
    std::string progress;
    std::string held;
    std::vector<std::pair<std::string, std::optional<std::string>>> image;
  };
  std::optional<PendingSnapshot> pending_snapshot_;
  std::optional<std::string> pending_truncate_;
  std::optional<std::string> committed_truncate_;
  std::map<std::string, int64_t> committed_batches_;  // by flow
  int64_t stored_keys_ = 0;
  int64_t pending_new_ = 0;
  std::string value_;
};

// One AUTO CDC flow's view of its target's shared store, as the flow's commit protocol
// sees it: commits and markers under the flow's name. Holds the store alive.
class ScdFlowState final : public BatchState {
 public:
  ScdFlowState(std::shared_ptr<ScdStateStore> store, std::string flow)
      : store_(std::move(store)), flow_(std::move(flow)) {}
  std::optional<int64_t> committed_batch() const override { return store_->committed_batch(flow_); }
  Status Commit(int64_t batch_id) override { return store_->Commit(batch_id, flow_); }
  Status Abandon() override {
    store_->Abandon();
    return Status::OK();
  }
  StateSize Size() const override { return store_->Size(); }

 private:
  std::shared_ptr<ScdStateStore> store_;
  std::string flow_;
};

}  // namespace lakepipe::state
