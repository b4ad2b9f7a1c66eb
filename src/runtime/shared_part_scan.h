// SharedPartScans: the materialized views that `run --once` runs together and that read
// the same table version by parts (docs/execution.md, "Materialized views by parts") share
// one read of it (issue 15, "shared scans"): each part is decoded once, in the union of the
// views' columns, and handed to every view in the order of the read.
//
// Owns: per table (key) of the current group, the views expected to read it by parts, the
// reads they asked for and, once every expected view has asked or withdrawn, the one
// shared read (a PartFanout: a decode thread and a window of at most kWindowParts parts
// that not every view has taken yet). The union of columns is only known once every view
// has asked, so a view's Open waits until then; a view that ends its update, or takes a
// path that reads no snapshot by parts, must Withdraw so that the others do not wait for
// it. Views that read another version (or cut their parts differently) than the most
// views read alone, as does a view alone on its version.
//
// Row groups are skipped only by the predicates every sharing view has (a view's own
// filter still runs on every part, so a row group it alone could skip gives it no row).
// A view that stops reading (its aggregate failed) lets go of its cursor: the decode
// thread no longer waits for it and the others go on. A failed read is returned to every
// view, after the parts read before it.
//
// Call order: Begin(expected) before the group's views start, each view's Open (at most
// one shared read per view: a second Open, or an Open of a view not expected, returns
// nullptr and the view reads alone), Withdraw(view) when its update is over, End() once
// every view of the group has returned. All views expected for a table must run at the
// same time (each on its own thread): an Open waits for the others.
//
// Thread-safety: every method may be called from several threads at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "delta/table.h"
#include "formats/parquet/parquet.h"
#include "runtime/batch_stream.h"

namespace lakepipe::runtime {

class PartFanout;

class SharedPartScans {
 public:
  // Parts decoded ahead of the slowest view at most.
  static constexpr size_t kWindowParts = 2;
  // Views of one group that share reads at most (RunOnce runs them all at once, each on a
  // thread of its own; the aggregates' states are held at the same time).
  static constexpr size_t kMaxViews = 8;

  SharedPartScans();

  // From now on, `expected` (table key -> the views that will read it by parts) share
  // their reads. Tables with fewer than two views are not shared.
  void Begin(std::map<std::string, std::set<std::string>> expected);
  // The group is over: nothing more is shared (reads in progress finish).
  void End();

  // `view` reads `key` (snapshot `snap`) by parts in `columns` (names of the snapshot's
  // schema), row groups skippable by `predicates`, parts cut to `cut_rows` rows when > 0.
  // Waits until every view expected for `key` has asked or withdrawn; returns the shared
  // read's parts (in the union of the sharing views' columns: the caller widens them to
  // its plan) or nullptr when `view` reads alone. `exact_parts`: the view needs exactly
  // the parts it reads alone (it numbers them: partial aggregates on several threads), so
  // it shares only a read that skips what its predicates skip. `sharing_views`, when
  // given, is set to the number of views the read serves.
  Result<std::unique_ptr<BatchStream>> Open(const std::string& key, const std::string& view,
                                            const delta::SnapshotPtr& snap, const std::vector<std::string>& columns,
                                            const std::vector<parquet::ColumnPredicate>& predicates,
                                            int64_t cut_rows, bool exact_parts = false,
                                            int64_t* sharing_views = nullptr);
  // `view` will ask for no (more) shared read in this group.
  void Withdraw(const std::string& view);

  // Since construction: shared reads started, views served by them, and the most parts
  // a shared read held at once (for tests and the benchmark notes).
  int64_t shared_reads() const;
  int64_t views_served() const;
  int64_t max_parts_held() const;

 private:
  struct Request {
    std::string view;
    delta::SnapshotPtr snap;
    std::vector<std::string> columns;
    std::vector<parquet::ColumnPredicate> predicates;
    int64_t cut_rows = 0;
    bool exact_parts = false;
  };
  struct Table {
    std::set<std::string> waiting;  // expected views that have neither asked nor withdrawn
    std::vector<Request> requests;
    bool decided = false;
    std::shared_ptr<PartFanout> fanout;
    std::map<std::string, size_t> consumer;  // view -> its cursor in fanout
  };
  // Every expected view of `t` has asked or withdrawn: choose who shares, start the read.
  void DecideLocked(Table* t);

  mutable std::mutex mu_;
  std::condition_variable decided_;
  std::map<std::string, std::shared_ptr<Table>> tables_;
  int64_t shared_reads_ = 0;
  int64_t views_served_ = 0;
  // Updated by the decode threads (which may outlive a group).
  std::shared_ptr<std::atomic<int64_t>> max_parts_held_;
};

}  // namespace lakepipe::runtime
