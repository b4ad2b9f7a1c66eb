// SeenKeyStore: the durable seen-key set of a streaming DISTINCT (and of a deduplication
// with a watermark), kept in RocksDB under the flow's checkpoint (`state/<name>/`; layout
// in docs/checkpoint.md, section "Operator state").
//
// Changes made during micro-batch N — keys found new, newer event times of known keys, and
// the expiry requested by ExpireBefore — are held in memory (pending) until Commit(N),
// which applies them together with the markers "batch N applied", the key count and the
// watermark in one atomic, synced RocksDB write (or one ingested table file for large
// batches). The runtime calls Commit only after batch N's Delta commit, so after a crash
// the state is never ahead of the table; Abandon() drops a failed batch's changes.
//
// With a watermark, each key also records its event time (the latest seen) in a second,
// time-ordered index, so that expiring the keys below a watermark is one range scan over
// old entries, applied in the same commit as the batch. The watermark is stored with the
// commit marker: after a restart committed_watermark() / RecordedWatermark() give it back
// (operators::Deduplicate::Make starts from RecordedWatermark()).
//
// Keys are stored as 128-bit digests (see seen_key_store.cc), 16 bytes per key. The pending
// changes live in a DigestTable (flat, no node per key); a large batch's changes are
// written as one sorted table file that RocksDB ingests, built straight from the table.
//
// Memory budget (docs/checkpoint.md, "Memory budget"): one MemoryBudget, which a pipeline's
// stores share (`lakepipe.seenKeysMemory`), bounds the pending tables of batches without
// event times (a DISTINCT without a watermark, the only kind that runs a large micro-batch
// by parts) and the in-memory copies of stored keys together, counting the copy a growth
// makes. A table grows only after reserving its growth from the budget. When it would grow past that, its keys are written in key order to a run file in
// the store's folder (`spill-<n>.run`, a DigestRun) and the table starts empty again; a
// probe looks in the table, then in the runs (a Bloom filter each, a block read when it
// says maybe), then in the store. Commit merges the table and the runs into the one
// ingested table file, so the commit protocol is unchanged; Abandon deletes the runs. The
// in-memory copy of the stored keys may take at most half the budget, and only what the
// other stores leave. Without it, a Bloom filter of the stored keys (GrowingDigestFilter,
// ~2.5 bytes a key, also within half the budget: built by one scan, then grown by a filter
// more per doubling, never scanned again) answers the probes of new keys, and only the
// keys it cannot rule out are read in RocksDB; without either, every probe reads RocksDB.
// A store of many keys (kBackgroundScanKeys) scans for its filter on a thread of its own,
// from a RocksDB snapshot, while batches go on probing RocksDB; the keys committed
// meanwhile are kept aside and added when the filter is taken into use (at the next probe
// or commit after the scan ends). Inside a batch, that scan paused the flow for seconds at
// millions of keys (3 s at 5M in BM_BatchesAfterReopen; most likely the 27 s Gold pause of
// a soak at 14M).
//
// Call order per batch: Abandon() (forget anything left from a failed attempt), then
// InsertIfAbsent[WithTime] / ExpireBefore (through Deduplicate::Push), then Commit(N) once
// the batch is in the table. Thread-safety: one flow thread; not synchronised (the filter
// scan's thread touches only its own filter and a snapshot; the destructor stops it).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/memory_budget.h"
#include "common/status.h"
#include "operators/deduplicate.h"
#include "state/digest_filter.h"
#include "state/digest_run.h"
#include "state/batch_state.h"
#include "state/digest_table.h"
#include "state/state_size.h"

namespace rocksdb {
class DB;
class Snapshot;
class SstFileWriter;
}

namespace lakepipe::state {

class SeenKeyStore : public operators::SeenKeySet, public BatchState {
 public:
  // Opens (creating if needed) the store in folder `dir`. Up to `max_keys_in_memory` stored
  // keys, the first batch that needs to probe stored keys loads them all into memory (one
  // scan) and later commits keep that copy current; a larger store is probed in RocksDB
  // (bloom filters, a read per key present). 0: always probe RocksDB;
  // kMaxKeysFromBudget: as many as a table within half the budget holds.
  // `memory_budget_bytes` (at least 1): a budget of this store's own; `budget`: one shared
  // with other stores (see above).
  static constexpr int64_t kMaxKeysFromBudget = -1;
  static constexpr int64_t kDefaultMaxKeysInMemory = kMaxKeysFromBudget;
  static constexpr int64_t kDefaultMemoryBudgetBytes = 64LL << 20;
  static Result<std::shared_ptr<SeenKeyStore>> Open(const std::string& dir,
                                                    int64_t max_keys_in_memory = kDefaultMaxKeysInMemory,
                                                    int64_t memory_budget_bytes = kDefaultMemoryBudgetBytes);
  static Result<std::shared_ptr<SeenKeyStore>> Open(const std::string& dir, int64_t max_keys_in_memory,
                                                    std::shared_ptr<MemoryBudget> budget);
  // The stored keys a DigestTable within `budget_bytes` holds (kMaxKeysFromBudget's value).
  static int64_t MaxKeysWithin(int64_t budget_bytes);
  ~SeenKeyStore() override;

  Status InsertIfAbsent(const std::vector<std::string_view>& keys, std::vector<uint8_t>* inserted) override;
  // InsertIfAbsent of keys already digested (DigestOf): a caller that serialises several
  // threads' calls digests outside its lock.
  Status InsertDigestsIfAbsent(const std::vector<Digest128>& digests, std::vector<uint8_t>* inserted);
  Status InsertIfAbsentWithTime(const std::vector<std::string_view>& keys, const std::vector<int64_t>& event_times,
                                std::vector<uint8_t>* inserted) override;
  Status InsertIfAbsentOrExpired(const std::vector<std::string_view>& keys, const std::vector<int64_t>& event_times,
                                 const std::vector<int64_t>& floors, std::vector<uint8_t>* inserted,
                                 std::vector<int64_t>* recorded) override;
  // Forgets the keys whose event time is below `watermark_micros`: pending keys at once,
  // stored keys at the next Commit. Returns how many pending keys were forgotten now.
  Result<int64_t> ExpireBefore(int64_t watermark_micros) override;
  // Removes `keys` at the next Commit, whether stored, pending or absent; a key removed
  // and then inserted again in the same batch counts as absent at the insert (and stays).
  // Keys without event times only. A batch that removes keeps its pending keys in memory
  // (it does not spill: the removals live in the pending table), and a batch that spilled
  // cannot remove (NotSupported): removals are for small batches (an incremental view
  // that recomputes a few groups, docs/checkpoint.md "Distinct pairs").
  Status Remove(const std::vector<std::string_view>& keys);
  // The watermark of this batch (ExpireBefore) if any, else the committed one.
  std::optional<int64_t> RecordedWatermark() const override;

  // Committed keys plus keys new in the current batch (expiry is counted at Commit).
  int64_t size() const override;
  // Whether probes of stored keys go through the in-memory filter of the stored keys now
  // (tests).
  bool stored_filter_loaded() const { return stored_filter_loaded_; }
  // The filters in its chain, and how many times it was built by a scan of the stored keys.
  size_t stored_filters() const { return stored_filter_.filters(); }
  int64_t stored_filter_bytes() const { return stored_filter_held_; }
  int64_t stored_filter_scans() const { return stored_filter_scans_; }
  // Whether a scan for the filter runs on its own thread now (begun and not yet taken into use).
  bool stored_filter_building() const { return filter_build_ != nullptr; }
  // From this many stored keys the filter is scanned for on a thread of its own.
  static constexpr int64_t kBackgroundScanKeys = 1 << 18;
  // Tests: the threshold above for this store, and a hold on the thread's scan (it waits
  // before reading while held) to commit batches during it deterministically.
  void set_background_scan_keys(int64_t keys) { background_scan_keys_ = keys; }
  void HoldFilterScans(bool hold);
  // Tests: waits until the filter's scan thread (if any) has finished (it is taken into use
  // at the next probe or commit).
  void WaitForFilterScan();
  // Runs written by the current batch because its keys outgrew the memory budget.
  int64_t spilled_runs() const { return static_cast<int64_t>(runs_.size()); }
  // Pending changes (with the spilled runs' filters and indexes) plus RocksDB's write buffers.
  int64_t MemoryBytes() const override;
  // Bytes this store holds reserved in its budget now (its tables and their next growth).
  int64_t BudgetBytes() const { return pending_held_ + committed_held_ + stored_filter_held_; }
  // Keys, bytes on disk and in memory (lists the folder: call once per batch, not per row).
  StateSize Size() const override;

  // The last batch whose changes were committed; nullopt before the first.
  std::optional<int64_t> committed_batch() const override { return committed_batch_; }
  // The watermark as of the last commit; nullopt when no watermark was ever recorded.
  std::optional<int64_t> committed_watermark() const { return committed_watermark_; }
  // Durably applies the pending changes and records batch `batch_id` as applied.
  // InvalidArgument when `batch_id` is not above committed_batch() (a batch is applied once).
  Status Commit(int64_t batch_id) override;
  // Forgets the pending changes (the batch failed or is replayed). Never fails.
  Status Abandon() override;

  // 128-bit digest of a key; public for tests of collisions and layout only.
  using Digest = Digest128;
  // The digest stored for `key` (the same in every probe form and in every version).
  static Digest DigestOf(std::string_view key);

 private:
  // Flags of a pending entry (DigestTable::flags), besides DigestTable::kUsed.
  static constexpr uint8_t kNew = 2;            // absent (or expired) before this batch
  static constexpr uint8_t kHasTime = 4;        // recorded with an event time (DigestTable::time)
  static constexpr uint8_t kHasStoredTime = 8;  // stored with an event time (DigestTable::stored_time)
  static constexpr uint8_t kRemoved = 16;       // removed by this batch (Remove), not inserted again
  static constexpr uint8_t kWasStored = 32;     // with kRemoved or a re-insert: the key is in RocksDB

  SeenKeyStore() = default;
  Status Probe(const Digest& d, bool with_time, int64_t time, uint8_t* inserted);
  Status ProbeFirst(const Digest& d, int64_t time, int64_t floor, uint8_t* inserted, int64_t* recorded);
  // The stored entry of `d`: found, and its event time if it has one.
  Status Lookup(const Digest& d, bool* found, std::optional<int64_t>* time);
  // Calls `add(digest, time)` for every stored key (time: nullptr when stored without one):
  // one scan of the `k` entries, as of `snapshot` when given; Aborted once `stop` is set.
  template <typename Add>
  Status ScanStoredKeys(const Add& add, const rocksdb::Snapshot* snapshot = nullptr,
                        const std::atomic<bool>* stop = nullptr) const;
  // Calls `add(digest)` for every key the pending batch adds to the store (pending_'s new
  // keys, then the spilled runs'); a run's read error is returned.
  template <typename Add>
  Status ForEachNewKey(const Add& add) const;
  // Reads every stored key into committed_ (when within max_keys_in_memory_ and the budget
  // has room for it).
  Status LoadCommitted();
  // Builds stored_filter_ from the stored keys (when the budget has room for it): here, or
  // from kBackgroundScanKeys on a thread of its own (FilterBuild).
  Status LoadStoredFilter();
  // Resets `filter` sized for `keys` stored keys and reserves its bytes as
  // stored_filter_held_; false (and nothing changed) when the budget has no room for it.
  bool ReserveStoredFilter(int64_t keys, GrowingDigestFilter* filter);
  // Makes room in stored_filter_ for `more` keys within half the budget; false: no room.
  bool GrowStoredFilter(int64_t more);
  // The scan thread's filter, when it has finished: taken into use with the keys committed
  // since its snapshot (or its error returned).
  Status TakeBuiltFilter();
  // Stops and forgets a scan thread (its filter is not used).
  void CancelFilterBuild();
  // Joins the scan thread (done or told to stop) and gives back its snapshot and the room
  // of the keys kept aside; returns the build, filter_build_ empty.
  struct FilterBuild;
  std::unique_ptr<FilterBuild> EndFilterBuild();
  // committed_ goes (the keys outgrew memory): the stored filter that probes need from now
  // on is built from committed_'s keys first, without a scan of the store.
  void DropCommittedKeepingItsFilter();
  void DropStoredFilter();
  // After a successful write: adds the batch's new keys (pending_ and the runs) to
  // stored_filter_ (when loaded), or drops it when the store outgrew it or removed many.
  void ApplyToStoredFilter(int64_t removed);
  // Before probes of stored keys, `upcoming_reads` of which may read RocksDB: loads
  // stored_filter_ when it is not and the reads it would save are worth its scan.
  Status EnsureStoredFilter(int64_t upcoming_reads);
  // Reserves room in the budget for committed_ holding `keys` keys (with its growth).
  // Returns whether there was room (the caller drops the copy when not).
  bool ReserveCommitted(size_t keys);
  void DropCommitted();
  // After a successful write: applies the batch to committed_ (when loaded).
  void ApplyToCommitted(const std::vector<Digest>& expired);
  // Before a new key is added to pending_ (no event times): writes pending_ to a run when
  // growing it would pass the memory budget.
  Status SpillIfFull();
  // What the current batch's runs keep in memory (filters and sparse indexes).
  int64_t RunsMemoryBytes() const;
  // Whether `d` is in one of the current batch's runs.
  Status InSpilledRuns(const Digest& d, bool* found);
  // Drops the runs (and their files).
  void RemoveRuns();
  // Forgets the current batch's keys, runs, memo and watermark (Abandon, and after Commit).
  void ClearPending();
  // Commit of a batch with runs: the runs and pending_ merged into one ingested table file.
  Status WriteMerged(int64_t batch_id, int64_t count, std::optional<int64_t> watermark);
  Status MergeKeys(rocksdb::SstFileWriter* writer, const std::string& file, const std::vector<uint32_t>& slots,
                   size_t slot_from, size_t slot_to, const Digest* lo, const Digest* hi, int64_t* written) const;
  // From this many new keys (WriteMerged) or entries (WriteSorted), the commit writes two
  // table files at once.
  static constexpr size_t kSplitKeys = 400000;
  size_t AddPending(const Digest& d, uint8_t flags, int64_t time, std::optional<int64_t> stored_time);
  // The batch's writes, as one synced WriteBatch (small) or one or two sorted table files
  // ingested by one call.
  Status WriteSmall(int64_t batch_id, std::vector<Digest>* expired, const std::string* range_end, int64_t count,
                    std::optional<int64_t> watermark);
  Status WriteSorted(int64_t batch_id, std::vector<Digest>* expired, const std::string* range_end, int64_t count,
                     std::optional<int64_t> watermark);
  template <typename Put, typename Delete>
  Status EmitInKeyOrder(int64_t batch_id, std::vector<Digest>* expired, int64_t count,
                        std::optional<int64_t> watermark, const Put& put, const Delete& del) const;
  template <typename Put, typename Delete>
  Status EmitKeyEntries(const std::vector<uint32_t>& slots, size_t slot_from, size_t slot_to,
                        const std::vector<Digest>& expired, size_t expired_from, size_t expired_to, const Put& put,
                        const Delete& del) const;
  template <typename Put, typename Delete>
  Status EmitTimeEntriesAndMarkers(const std::vector<uint32_t>& slots, int64_t batch_id, int64_t count,
                                   std::optional<int64_t> watermark, const Put& put, const Delete& del) const;

  static constexpr size_t kBulkKeys = 50000;     // from this many written entries, ingest a file
  static constexpr size_t kKeepSlots = 1 << 17;  // a pending table this small is reused by the next batch
  std::unique_ptr<rocksdb::DB> db_;
  std::string dir_;
  DigestTable pending_;  // the keys touched by the current batch
  int64_t pending_new_ = 0;
  int64_t pending_removals_ = 0;          // Remove calls' keys this batch (0: no kRemoved/kWasStored flags)
  int64_t pending_stored_removed_ = 0;    // stored keys flagged kRemoved now
  int64_t pending_stored_reinserted_ = 0;  // stored keys removed, then inserted again (kNew | kWasStored)
  int64_t pending_min_time_ = INT64_MAX;  // at most the smallest pending time (ExpireBefore skips above it)
  std::optional<int64_t> pending_watermark_;
  std::optional<int64_t> committed_batch_;
  std::optional<int64_t> committed_watermark_;
  int64_t stored_keys_ = 0;
  // The stored keys (flag kHasTime and time() when stored with one), once loaded; a copy
  // of RocksDB's `k` entries as of the last commit, so probes need no read.
  DigestTable committed_;
  bool committed_loaded_ = false;
  // A superset of the stored keys (a Bloom filter), when committed_ is not loaded: a key it
  // rules out is absent without a RocksDB read. Kept current by each commit after the write
  // succeeded (keys added; removed keys stay in it until it is rebuilt).
  GrowingDigestFilter stored_filter_;
  bool stored_filter_loaded_ = false;
  bool stored_filter_refused_ = false;  // no room in the budget: not asked again until the next commit
  int64_t stored_filter_removed_ = 0;   // keys removed from the store since the filter was built
  int64_t stored_filter_held_ = 0;      // reserved in budget_ for stored_filter_
  int64_t stored_filter_scans_ = 0;     // LoadStoredFilter's scans in this process
  // A scan for the filter on its own thread (seen_key_store.cc), while stored_filter_ is
  // not loaded; its reservation is stored_filter_held_.
  std::unique_ptr<FilterBuild> filter_build_;
  int64_t filter_build_keys_held_ = 0;  // reserved in budget_ for the keys committed during it
  int64_t background_scan_keys_ = kBackgroundScanKeys;
  std::atomic<bool> hold_filter_scans_{false};
  int64_t store_reads_ = 0;  // RocksDB reads of probes in this process (they decide when the filter pays)
  // Keys of the current batch found stored by a RocksDB read (probes without times only):
  // a value repeated in a batch, such as the (country, customer) pairs of a
  // count(DISTINCT), is read once, not once per row. Small and outside the budget: emptied
  // when it reaches kFoundStoredKeys, and at each commit or abandon (its arrays freed
  // unless small).
  DigestTable found_stored_;
  static constexpr size_t kFoundStoredKeys = 1 << 16;
  int64_t max_keys_in_memory_ = 0;
  std::shared_ptr<MemoryBudget> budget_;
  int64_t pending_held_ = 0;    // reserved in budget_ for pending_ (and its next growth)
  int64_t committed_held_ = 0;  // reserved in budget_ for committed_
  std::vector<std::unique_ptr<DigestRun>> runs_;  // the current batch's spilled keys
  int64_t next_run_ = 0;                          // numbers the run files of this process
  std::string value_;  // scratch
  std::vector<Digest> digests_;  // scratch: a probe's digests
};

}  // namespace lakepipe::state
