// ScdApply: the AUTO CDC operator for SCD type 1 and 2 — turns one micro-batch of change events
// into keyed row changes for the target Delta table (delta/row_changes.h), deciding each
// event against the per-key state of what was applied before (ScdKeyStates, kept durably
// by state::ScdStateStore).
//
// Rules (docs/sql-reference.md, "AUTO CDC"):
//   - events are ordered by SEQUENCE BY (struct(a, b) by a then b), whatever order and
//     micro-batch they arrive in; a NULL sequence is an error naming the event's key;
//   - per key the event with the highest sequence wins; an event at or below the sequence
//     already applied to its key (including a delete's: the tombstone) is stale and
//     ignored, so a late update never resurrects a deleted row;
//   - two different events of one key with the same sequence in one micro-batch are an
//     error (an identical repeat is ignored); across micro-batches the later one is stale;
//   - IGNORE NULL UPDATES: a NULL in an update keeps the value the row had (from earlier
//     events of the batch, else from the table row); after a delete nothing is kept;
//   - TRUNCATE removes every row applied with a lower sequence (a late truncate keeps the
//     rows of later changes); events at or below its sequence are stale.
//
// Sequences are compared as order-preserving byte strings (EncodeSequence), which is also
// how the state stores them. Thread-safety: one flow thread; Plan mutates `states`'
// pending changes (committed by the caller after the Delta commit).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
#include "types/batch.h"

namespace lakepipe::operators {

struct ScdKeyState {
  bool deleted = false;  // the last applied change was a delete (a tombstone)
  std::string sequence;  // its encoded sequence
  // SCD type 2: every change applied to the key (EncodeHistory below), from which its
  // versions are recomputed when a change lands in the middle; `deleted` and `sequence`
  // are then unused.
  std::string history;
};

// Where ScdApply reads and records per-key state (implemented by state::ScdStateStore).
class ScdKeyStates {
 public:
  virtual ~ScdKeyStates() = default;
  virtual Result<std::optional<ScdKeyState>> Lookup(std::string_view key) = 0;
  // Says which keys the batch will Lookup (sorted by their bytes, distinct), so that a
  // store can read them in one go (RocksDB's MultiGet) rather than one point read each.
  // Only a hint: Lookup of any key works without it.
  virtual Status Prefetch(const std::vector<std::string_view>& keys) {
    (void)keys;
    return Status::OK();
  }
  virtual void Put(std::string_view key, ScdKeyState state) = 0;
  virtual void Truncate(std::string sequence) = 0;
  virtual const std::optional<std::string>& truncate_sequence() const = 0;
  // Every key (live or deleted) whose sequence is above `sequence`, as of the pending
  // changes: what survives a TRUNCATE that arrives after later changes.
  virtual Result<std::vector<std::pair<std::string, ScdKeyState>>> KeysAbove(const std::string& sequence) = 0;
};

// Appends the order-preserving encoding of row `row` of the sequence parts to `out`
// (byte order = SQL order of (part 1, part 2, ...)); InvalidArgument on a NULL or an
// unorderable type, naming `what`.
Status EncodeSequence(const std::vector<const Column*>& parts, int64_t row, const std::string& what,
                      std::string* out);

struct ScdSpec {
  std::string table;                 // for messages
  std::vector<std::string> keys;     // key columns (source = target names)
  std::vector<expr::BoundExpr> sequence_parts;
  std::string sequence_sql;
  std::optional<expr::BoundExpr> delete_when;
  std::optional<expr::BoundExpr> truncate_when;
  bool ignore_null_updates = false;
  Schema source_schema;
  std::vector<std::string> columns;  // target columns, all source columns
  Schema target_schema;              // columns (+ __START_AT, __END_AT with type 2)
  int scd_type = 1;
  std::vector<std::string> tracked;  // type 2: the columns whose change opens a version
  DataType sequence_type;            // type 2: of __START_AT / __END_AT
};

// One micro-batch's decisions.
struct ScdChanges {
  bool truncate = false;
  RecordBatch keys;     // the affected keys (key columns), one row per key
  RecordBatch upserts;  // the new rows (target schema), one per upserted key
  // Parallel to upserts: NULLs take the table row's values (IGNORE NULL UPDATES with no
  // delete or truncate of the key earlier in the batch).
  std::vector<uint8_t> fill_from_table;
  // With truncate: the keys (KeyEncoder bytes) whose table rows stay (changed after the
  // truncate's sequence, in an earlier batch, and not changed by this one).
  std::vector<std::string> survivors;
  int64_t events = 0;
  int64_t stale = 0;          // ignored: at or below the applied sequence (or a truncate)
  int64_t duplicates = 0;     // identical repeats ignored
  int64_t upserted_keys = 0;
  int64_t deleted_keys = 0;
  int64_t late = 0;      // type 2: changes older than the key's latest (versions re-split)
  int64_t versions = 0;  // type 2: rows written for the affected keys

  // The rows that replace the table's rows of `keys` (delta::ReplaceKeyedRows), given them.
  Result<RecordBatch> Replacement(const RecordBatch& existing, const std::vector<std::string>& key_columns) const;
};

class ScdApply {
 public:
  explicit ScdApply(ScdSpec spec) : spec_(std::move(spec)) {}
  const ScdSpec& spec() const { return spec_; }
  // Decides one micro-batch (type 1 or 2 as the spec says).
  //
  // SCD type 2: per affected key, the batch's changes are merged into the key's stored
  // history and all of the key's versions recomputed from it (`upserts` holds them; they
  // replace the key's rows). A version opens at an upsert whose tracked columns differ
  // from the open version's (or when none is open) and closes at the next such upsert or
  // at a delete; an upsert that changes only untracked columns updates the open version
  // in place. So the table depends only on the set of changes, not on their arrival
  // order or split into micro-batches: a late change lands in the middle of the history.
  Result<ScdChanges> Plan(const std::vector<RecordBatch>& events, ScdKeyStates* states) const;

 private:
  ScdSpec spec_;
};

}  // namespace lakepipe::operators
