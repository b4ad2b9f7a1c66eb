// SharedAppends: the rows each version of an upstream table appended, decoded once for all
// the incremental materialized views that follow that table (issue 15, "shared scans", in
// continuous mode and in `run --once` after the first update). Without it, each view read
// its version range whole, in every column of the table, on its own: four Gold views over
// Silver decoded each Silver commit four times, in nine columns each.
//
// Owns: per (table path, version, schema version), the commit's appended files (parsed
// once) and its pieces: one per non-empty row group of each appended file, in ReadAppends'
// order, each with the columns decoded so far. A view reads a version as a stream of
// pieces in the columns its query reads: columns decoded before are reused, missing ones
// are decoded then and kept beside them. A piece is decoded when a reader reaches it, so a
// reader holds about one row group, not the version (a Silver commit of millions of rows
// made every view decode the whole of it at once). A piece is let go once every view that
// follows the table has taken it. Beyond the budget, the oldest versions go first, then the
// version's other pieces, never the one just read (the views reading in step take it
// next): a version being read holds at most one row group beyond the budget. An entry is
// dropped once every view has taken its version (Taken). Batches handed out keep their
// columns alive either way.
//
// Thread-safety: every method may be called from several threads at once, and each stream
// Read returns is used by one thread at a time (the SharedAppends must outlive it). A
// piece is decoded under its own lock (a second view asking for it waits and reuses it;
// one asking for another piece does not wait), never under the cache's.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "delta/table.h"
#include "runtime/batch_stream.h"
#include "types/batch.h"

namespace lakepipe::runtime {

class SharedAppends {
 public:
  // Bytes of decoded columns kept at most (beyond it the oldest versions go first).
  static constexpr int64_t kDefaultBudgetBytes = 64LL << 20;
  explicit SharedAppends(int64_t budget_bytes = kDefaultBudgetBytes) : budget_bytes_(budget_bytes) {}

  // Whether versions [start, end] of `table` only append rows (no commit deletes or
  // rewrites rows), read in the schema of `latest` (the table's latest snapshot, whose
  // metadata must be older than `start`: UsableFor). Parses each commit once for all
  // callers.
  Result<bool> OnlyAppends(const delta::DeltaTable& table, const delta::SnapshotPtr& latest, int64_t start,
                           int64_t end);

  // The rows version `version` of `table` appended, in `columns` (names of `latest`'s
  // schema, in this order): a stream of one batch per non-empty row group of each appended
  // file, each decoded (or reused) when the stream reaches it. NotSupported when the
  // version deletes or rewrites rows.
  Result<std::unique_ptr<BatchStream>> Read(const delta::DeltaTable& table, const delta::SnapshotPtr& latest,
                                            int64_t version, const std::vector<std::string>& columns);

  // Reader `reader` (a view) will read `table_path`: versions are kept for it until it
  // takes them (the process's incremental views register before the first reads, so that
  // the first view to finish does not let go of what the others have yet to read).
  void Follow(const std::string& table_path, const std::string& reader);
  // Reader `reader` has taken every version of `table_path` up to `version`; versions
  // every reader of the table has taken are dropped.
  void Taken(const std::string& table_path, const std::string& reader, int64_t version);

  // The schema of `latest` is that of every version from `start` on: the rows of those
  // versions read one version at a time equal ReadAppends(start, latest).
  static bool UsableFor(const delta::Snapshot& latest, int64_t start) {
    return latest.state().metadata_version < start;
  }

  // Counters since construction: columns of pieces decoded, columns of pieces answered
  // from what was kept, and the bytes kept now.
  int64_t columns_decoded() const;
  int64_t columns_reused() const;
  int64_t bytes_kept() const;

 private:
  struct Entry;
  struct PieceFile;
  class VersionStream;
  // Piece `p` of `entry` in `columns` (decoded where missing), or false past its last
  // piece. `file` is the caller's open file, reused while the pieces come from it.
  Result<bool> TakePiece(Entry& entry, size_t p, const std::vector<std::string>& columns,
                         std::unique_ptr<PieceFile>* file, RecordBatch* out);
  // The entry of (table, version) in `latest`'s schema, created (commit parsed) if new.
  Result<std::shared_ptr<Entry>> EntryOf(const delta::DeltaTable& table, const delta::SnapshotPtr& latest,
                                         int64_t version);

  const int64_t budget_bytes_;
  mutable std::mutex mu_;
  // table path -> (version -> entry); the schema version is checked in the entry.
  std::map<std::string, std::map<int64_t, std::shared_ptr<Entry>>> entries_;
  std::map<std::string, std::map<std::string, int64_t>> taken_;  // table path -> reader -> version
  int64_t bytes_ = 0;
  int64_t columns_decoded_ = 0;
  int64_t columns_reused_ = 0;
};

}  // namespace lakepipe::runtime
