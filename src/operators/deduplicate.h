// Deduplicate (and DISTINCT): passes on only the rows whose key — chosen columns, or all
// columns — has not been seen before, within a batch and across batches (first
// occurrence wins, in stream order).
//
// The seen-set is behind the SeenKeySet interface so the streaming runtime can back it
// with RocksDB (and expire old keys by watermark) later; InMemorySeenKeySet is the
// in-process one. Keys are KeyEncoder bytes (stable: safe to persist).
//
// With a watermark (an event-time column and a delay, as `WATERMARK col DELAY OF INTERVAL
// n MINUTES`), the watermark advances row by row in stream order (docs/sql-reference.md,
// "Streaming semantics"): before each row it is the largest event time of the rows before
// it (across batches) minus the delay. A row whose event time is below it is late (handed
// back, never deduplicated). A key is remembered with the event time of the row that was
// kept for it, and forgotten once the watermark passes that time: a later row of the key
// is then kept again (the first row per key *within the watermark*, Spark's
// dropDuplicatesWithinWatermark). Because the decision uses each row's own watermark, the
// result does not depend on how the stream is cut into batches.
//
// DISTINCT (all columns) with a watermark: a row with a NULL event time is never late and
// its key never expires. Keyed (chosen columns): a row with a NULL event time is late (its
// key could never expire), and so is a row arriving while its key is remembered with a
// *later* event time than its own: the query ranks rows by event time, so that row would
// have been the first, but the row kept for the key is already written.
//
// Call order: Make, then Push per batch in stream order. Not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "operators/key_table.h"
#include "operators/selection.h"
#include "types/batch.h"

namespace lakepipe::operators {

class SeenKeySet {
 public:
  virtual ~SeenKeySet() = default;
  // For each key: inserts it and sets (*inserted)[i] = 1 when it was absent, else 0. Keys
  // repeated inside `keys` count as seen after their first occurrence.
  virtual Status InsertIfAbsent(const std::vector<std::string_view>& keys, std::vector<uint8_t>* inserted) = 0;
  virtual int64_t size() const = 0;
  virtual int64_t MemoryBytes() const = 0;

  // Watermarked form: also records each key's event time (micros; the latest wins). The
  // default ignores the times.
  virtual Status InsertIfAbsentWithTime(const std::vector<std::string_view>& keys,
                                        const std::vector<int64_t>& event_times, std::vector<uint8_t>* inserted) {
    return InsertIfAbsent(keys, inserted);
  }
  // Watermarked dedup (row by row): for each key, when it is absent or its recorded event
  // time is below floors[i] (the row's watermark: the key expired), records it with
  // event_times[i] and sets (*inserted)[i] = 1; else sets 0 and (*recorded)[i] to the time
  // it is recorded with (not changed). Keys repeated inside `keys` see the earlier ones.
  virtual Status InsertIfAbsentOrExpired(const std::vector<std::string_view>& keys,
                                         const std::vector<int64_t>& event_times, const std::vector<int64_t>& floors,
                                         std::vector<uint8_t>* inserted, std::vector<int64_t>* recorded) {
    return Status::NotSupported("this seen-key store does not deduplicate by watermark");
  }
  // Forgets keys recorded with an event time below `watermark_micros`; returns how many.
  // The set remembers the largest watermark it was given (RecordedWatermark), so a
  // durable set can checkpoint it together with the keys.
  virtual Result<int64_t> ExpireBefore(int64_t watermark_micros) {
    return Status::NotSupported("this seen-key store does not expire keys by watermark");
  }
  // The largest watermark passed to ExpireBefore (for a durable set: as of its last
  // commit, plus the current batch's); nullopt before any. Deduplicate::Make starts from
  // it, so a Deduplicate built per micro-batch continues the watermark of the last one.
  virtual std::optional<int64_t> RecordedWatermark() const { return std::nullopt; }
};

class InMemorySeenKeySet : public SeenKeySet {
 public:
  Status InsertIfAbsent(const std::vector<std::string_view>& keys, std::vector<uint8_t>* inserted) override;
  Status InsertIfAbsentWithTime(const std::vector<std::string_view>& keys, const std::vector<int64_t>& event_times,
                                std::vector<uint8_t>* inserted) override;
  Status InsertIfAbsentOrExpired(const std::vector<std::string_view>& keys, const std::vector<int64_t>& event_times,
                                 const std::vector<int64_t>& floors, std::vector<uint8_t>* inserted,
                                 std::vector<int64_t>* recorded) override;
  Result<int64_t> ExpireBefore(int64_t watermark_micros) override;
  std::optional<int64_t> RecordedWatermark() const override { return watermark_; }
  int64_t size() const override { return table_.size(); }
  int64_t MemoryBytes() const override { return table_.MemoryBytes() + static_cast<int64_t>(times_.size() * 8); }

 private:
  KeyTable table_;
  std::vector<int64_t> times_;  // per key id, when recorded with times
  std::optional<int64_t> watermark_;
};

struct DeduplicateWatermark {
  int event_time_column = -1;  // a timestamp column of the input
  int64_t delay_micros = 0;
};

class Deduplicate {
 public:
  // `key_columns`: indexes into `input`; empty = all columns (DISTINCT). With a
  // watermark, the initial watermark is `seen`'s RecordedWatermark().
  static Result<std::unique_ptr<Deduplicate>> Make(const Schema& input, std::vector<int> key_columns,
                                                   std::shared_ptr<SeenKeySet> seen = nullptr,
                                                   std::optional<DeduplicateWatermark> watermark = std::nullopt);
  // The rows of `batch` whose key is new (shares the batch when all are new). With a
  // watermark, rows behind it are not deduplicated: `late`, when given, receives their
  // indexes into `batch` and the watermark each was behind (the caller routes them to the
  // late-rows table; they are never dropped in silence).
  struct LateRow {
    int32_t row;
    int64_t watermark_micros;
    std::string reason;  // empty: behind the watermark
  };
  Result<RecordBatch> Push(const RecordBatch& batch, std::vector<LateRow>* late = nullptr);
  // As Push, but the new rows are handed back as a selection of `batch` (no copy; with a
  // watermark and late rows, of a copy of the rows that were not late). The same rows,
  // the same seen-key effects.
  Result<SelectedBatch> PushSelect(const RecordBatch& batch, std::vector<LateRow>* late = nullptr);
  const SeenKeySet& seen() const { return *seen_; }
  // The current watermark (micros), when one is configured and any event time was seen.
  std::optional<int64_t> watermark() const { return watermark_; }
  // Restores the watermark after a restart (the runtime checkpoints watermark()).
  void set_watermark(std::optional<int64_t> w) { watermark_ = w; }

 private:
  Deduplicate() = default;
  std::vector<int> key_columns_;
  std::shared_ptr<SeenKeySet> seen_;
  std::string arena_;
  std::vector<std::string_view> keys_;
  std::vector<uint8_t> inserted_;
  std::optional<DeduplicateWatermark> watermark_spec_;
  std::optional<int64_t> watermark_;
  bool keyed_ = false;  // chosen key columns (not DISTINCT over all)
  std::vector<int64_t> times_, floors_, recorded_;  // scratch
};

}  // namespace lakepipe::operators
