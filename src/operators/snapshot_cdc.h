// SnapshotDiff: AUTO CDC FROM SNAPSHOT — turns the rows of full snapshots of a table (one
// snapshot per value of SEQUENCE BY, its version) into the change events that take the
// target from one snapshot to the next, which ScdApply (operators/scd.h) then applies as
// SCD type 1 or 2 with the version as their sequence.
//
// Rules (docs/sql-reference.md, "AUTO CDC FROM SNAPSHOT"):
//   - snapshots are processed one at a time, in version order, each compared with the keys
//     live after the previous one (the snapshot image, kept by SnapshotStates: per live key
//     the encoded values of its target columns): a key not live is inserted, a live key
//     whose values differ is updated, a live key missing from the snapshot is deleted. A
//     deleted key that comes back in a later snapshot is inserted again (SCD type 2: a new
//     version from that snapshot on; its closed versions stay);
//   - completeness: a version is processed once a row of a later version has been read,
//     or at the end of a triggered update's backlog (`end_of_backlog`); until then its rows
//     are held in the state (the newest version only);
//   - a row whose version is at or below the last processed one is late: ignored and
//     counted (`late_rows`), never applied to history already written;
//   - a NULL version, or one key twice in a snapshot with different values, is an error
//     naming the key (an identical repeat is ignored and counted).
//
// Thread-safety: one flow thread. Plan reads `states` and stages its new progress and
// image there (written by the store's Commit after the batch's Delta commit).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
#include "types/batch.h"

namespace lakepipe::operators {

// Where a snapshot flow stands.
struct SnapshotProgress {
  std::optional<std::string> last_version;  // the last processed version (EncodeSequence bytes)
  std::optional<std::string> held_version;  // the newest version read, not complete yet
  std::vector<RecordBatch> held_rows;       // its rows so far (the source's columns)
};

// The durable side (implemented by state::ScdStateStore, beside the per-key SCD state, so
// that both are written by one commit).
class SnapshotStates {
 public:
  virtual ~SnapshotStates() = default;
  // The committed progress; held rows are read back with `source`'s columns.
  virtual Result<SnapshotProgress> LoadSnapshotProgress(const Schema& source) = 0;
  // Calls `fn` for every key live after the last processed snapshot (KeyEncoder bytes of
  // the key columns) with the encoded values of its other target columns. Committed state.
  virtual Status ScanSnapshotKeys(const std::function<Status(std::string_view key, std::string_view values)>& fn) = 0;
  // Stages the new progress and the image's changes (key -> values, nullopt: no longer
  // live), written by the next Commit and dropped by Abandon.
  virtual Status StageSnapshot(const SnapshotProgress& progress, const Schema& source,
                               std::vector<std::pair<std::string, std::optional<std::string>>> image_changes) = 0;
};

struct SnapshotSpec {
  std::string table;                  // the target, for messages
  std::vector<std::string> keys;      // key columns
  std::vector<std::string> columns;   // target columns (keys included; the version's excluded)
  std::vector<expr::BoundExpr> version_parts;  // SEQUENCE BY, bound over the source
  std::string version_sql;
  Schema source_schema;
};

struct SnapshotChanges {
  RecordBatch events;       // EventSchema(source): upserts and deletes, one per changed key and version
  int64_t snapshots = 0;    // versions processed by this batch
  int64_t inserted = 0;     // keys new (or back) in a snapshot
  int64_t updated = 0;      // live keys whose values changed
  int64_t deleted = 0;      // live keys missing from a snapshot
  int64_t unchanged = 0;    // keys equal to their live values
  int64_t duplicates = 0;   // identical repeats of a key within a snapshot
  int64_t late_rows = 0;    // rows of a version at or below the last processed one
  std::string late_versions;    // the late versions, as text ("2026-01-03, 2026-01-04")
  int64_t held_rows = 0;        // rows of the version left incomplete
  std::string held_version;     // as text, "" when none
  std::string processed;        // the versions processed, as text
};

class SnapshotDiff {
 public:
  // The events' extra column: true for a delete (the key missing from the snapshot).
  static constexpr const char* kDeleteColumn = "__snapshot_delete";
  // The source's columns and kDeleteColumn (BOOLEAN).
  static Schema EventSchema(const Schema& source);

  explicit SnapshotDiff(SnapshotSpec spec) : spec_(std::move(spec)) {}
  // Decides one micro-batch of snapshot rows (`rows`: the source's columns).
  // `end_of_backlog`: the held version and the newest version of `rows` are complete.
  Result<SnapshotChanges> Plan(const std::vector<RecordBatch>& rows, bool end_of_backlog, SnapshotStates* states) const;

 private:
  SnapshotSpec spec_;
};

}  // namespace lakepipe::operators
