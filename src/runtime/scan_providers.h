// The scan providers of the runtime: how a plan's scans (runtime/executor.h ScanProvider)
// get their rows while a pipeline runs. FullScanProvider reads everything: the current
// snapshot of each stored table, every file of a read_files folder; a view is executed in
// place. BatchScanProvider reads what one planned micro-batch of a streaming flow
// (runtime/batch_plan.h) names, whole or by parts (docs/execution.md). Materialized views
// derive their own from FullScanProvider (materialized_view.cc).
//
// They know the running pipeline only through a ScanContext: its datasets, its stored
// tables' open handles, the file system, and the reads shared by views run together.
//
// Thread-safety: a provider is used by one execution at a time (the executor's thread,
// or the flow's steps in order); the streams it opens decode on threads of their own. The
// context's parts are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "delta/table.h"
#include "runtime/arrival_ledger.h"
#include "runtime/batch_plan.h"
#include "runtime/batch_stream.h"
#include "runtime/executor.h"
#include "runtime/file_source.h"
#include "runtime/shared_appends.h"
#include "runtime/shared_part_scan.h"
#include "runtime/shared_scan.h"
#include "runtime/stream_source.h"
#include "sql/resolve.h"

namespace lakepipe::runtime {

using Batches = std::vector<RecordBatch>;
// A streaming flow's open message sources, by StreamSourceKey.
using StreamSources = std::map<std::string, std::unique_ptr<StreamSource>>;

// What the scan providers need of the running pipeline (PipelineRunner::Impl::Scans()
// makes one). Every pointer outlives the providers given it.
struct ScanContext {
  FileSystem* fs = nullptr;
  // The pipeline's datasets: a view read by a query is executed in place.
  const sql::ResolvedPipeline* pipeline = nullptr;
  // An open handle on stored table `name`; NotFound when the table has no commit yet.
  std::function<Result<std::shared_ptr<delta::DeltaTable>>(const std::string& name)> open_table;
  // Snapshot reads, whole and by parts, shared by the views RunOnce runs together.
  SharedScans* shared_scans = nullptr;
  SharedPartScans* shared_part_scans = nullptr;
  // The rows upstream versions appended, decoded once for the incremental views.
  SharedAppends* shared_appends = nullptr;

  // The pipeline's view `name`, or null when `name` is no view (a stored table).
  const sql::ResolvedDataset* View(const std::string& name) const;
};

// Rows read from a stored table in the plan's columns (`planned`): columns (or struct
// fields) a batch lacks are NULL, so that the executor sees the columns it planned.
// A NULL column made is handed to the next batch of the same length too (batches are
// immutable once built): a view reading 3 of Silver's 12 columns does not build 9
// columns of NULLs per part. `nulls` keeps them across calls (one per planned field);
// without it they are shared within `rows`.
Result<Batches> WidenToPlan(Batches rows, const Schema& planned, std::vector<ColumnPtr>* nulls = nullptr);
// A stream of stored rows (`next`), each batch widened as WidenToPlan widens a list;
// `planned` must outlive the stream.
std::unique_ptr<BatchStream> WidenedStream(std::function<Result<bool>(RecordBatch*)> next, const Schema& planned);

// Reads everything: the current snapshot of each table, every file of each source.
class FullScanProvider : public ScanProvider {
 public:
  FullScanProvider(ScanContext context, const ExecOptions& exec) : context_(std::move(context)), exec_(exec) {}

  Result<Batches> ReadTable(const sql::PlanNode& node) override;
  Result<Batches> ReadFiles(const sql::PlanNode& node) override;

  // Lets an aggregate read the tables it scans by parts (StreamTable; docs/execution.md,
  // "Materialized views by parts"), decoded on a thread of their own: one part per row
  // group, cut to at most `cut_rows` rows when that is > 0. Off until called: the
  // providers that give a scan its rows in advance (a view's retracted rows) must not be
  // bypassed.
  void ReadByParts(int64_t cut_rows) {
    by_parts_ = true;
    cut_rows_ = cut_rows;
  }
  // The snapshot reads by parts of this provider are those of view `view` (lower case):
  // a table that other views of the same `run --once` group read at the same version is
  // read once for all of them (ScanContext::shared_part_scans). Unset, each read is its own.
  void ShareScansAs(std::string view) { share_as_ = std::move(view); }
  Result<std::unique_ptr<BatchStream>> StreamTable(const sql::PlanNode& node, const std::vector<std::string>& columns,
                                                   const std::vector<parquet::ColumnPredicate>& predicates) override;

  const FileReadStats& file_stats() const { return file_stats_; }
  // name@version of every table read, for "nothing changed" checks.
  const std::map<std::string, int64_t>& versions_read() const { return versions_read_; }
  // The views that shared this provider's read by parts (ShareScansAs), 0 when it read alone.
  int64_t shared_read_views() const { return shared_read_views_; }

 protected:
  Result<Batches> ReadWholeTable(const sql::PlanNode& node);
  // The latest snapshot of the table `node` reads, recorded in versions_read_; NotFound
  // names the table when it has no data yet.
  Result<delta::SnapshotPtr> LatestSnapshot(const sql::PlanNode& node);
  // Every row of a snapshot, in `columns`' columns (one read shared by the views that run
  // together, ScanContext::shared_scans).
  Result<Batches> ReadSnapshot(const delta::SnapshotPtr& snap, const Schema& columns);
  // The rows of a snapshot by parts, in `planned`'s columns of which only `columns` are
  // read (the others NULL), skipping row groups by `predicates`: a stream of row groups
  // (cut to cut_rows_), read a few batches ahead on a thread of its own.
  // `table` is the table's name in the plan (the key of a shared read).
  Result<std::unique_ptr<BatchStream>> SnapshotStream(const std::string& table, const delta::SnapshotPtr& snap,
                                                      const Schema& planned, const std::vector<std::string>& columns,
                                                      const std::vector<parquet::ColumnPredicate>& predicates);
  bool by_parts_ = false;  // ReadByParts
  int64_t cut_rows_ = 0;
  std::string share_as_;  // ShareScansAs
  int64_t shared_read_views_ = 0;

  ScanContext context_;
  const ExecOptions& exec_;
  FileReadStats file_stats_;
  std::map<std::string, int64_t> versions_read_;
};

// The input of one planned micro-batch: the planned files of each read_files source and the
// planned version range of each streaming table; other tables are read whole.
class BatchScanProvider : public FullScanProvider {
 public:
  // `stream_sources`: the flow's open message sources, by StreamSourceKey (null: the plan
  // reads none).
  BatchScanProvider(ScanContext context, const ExecOptions& exec, const BatchPlan& plan,
                    StreamSources* stream_sources = nullptr)
      : FullScanProvider(std::move(context), exec), plan_(plan), stream_sources_(stream_sources) {}

  Result<Batches> ReadTable(const sql::PlanNode& node) override;
  Result<Batches> ReadFiles(const sql::PlanNode& node) override;
  // The planned range of a message source, read through the flow's open source.
  Result<Batches> ReadStream(const sql::PlanNode& node) override;

  // When the message-source rows read were produced (for latency).
  const Arrivals& stream_arrivals() const { return stream_arrivals_; }
  // Reading by parts: from now on each source of the batch gives part `part` of its
  // input (part 0 first, then 1, 2, ... while more_parts() says another follows; a part
  // may be empty, and a source whose input ended gives empty parts while another goes
  // on). A message source reads StreamSource::ReadPart; read_files and a streaming
  // table's planned versions (or snapshot) are read as a stream of about `batch_rows`
  // rows per part, decoded on a thread of their own a few parts ahead (runtime/
  // batch_stream.h). file_stats() is complete once more_parts() is false.
  void SetPart(int part, int64_t batch_rows = kDefaultBatchRows) {
    part_ = part;
    batch_rows_ = batch_rows;
    more_parts_ = false;
  }
  bool more_parts() const { return more_parts_; }
  // The parts with rows read so far.
  int64_t parts_read() const { return parts_read_; }
  ~BatchScanProvider() override;

 private:
  // A source's parts: its stream (opened at part 0) and, for read_files, the planned files
  // it reads and its read statistics, added to file_stats_ when it ends (each stream is
  // read on a thread of its own).
  struct SourceParts {
    std::unique_ptr<BatchStream> stream;
    std::vector<SourceFileEntry> files;
    FileReadStats stats;
    bool ended = false;
  };
  // The next part of `node`'s stream, opened at part 0 by `open`.
  Result<Batches> NextPart(const sql::PlanNode& node, const std::function<Result<std::unique_ptr<BatchStream>>(SourceParts&)>& open);
  // After a source's read of the current part: whether it had rows, and whether more follow.
  void NotePart(bool rows, bool more);

  const BatchPlan& plan_;
  StreamSources* stream_sources_;
  Arrivals stream_arrivals_;
  int part_ = -1;  // -1: the whole range
  bool more_parts_ = false;
  int64_t parts_read_ = 0;
  int counted_part_ = -1;  // the last part counted in parts_read_
  int64_t batch_rows_ = kDefaultBatchRows;
  std::set<const sql::PlanNode*> stream_parts_ended_;  // message sources whose parts ended
  std::map<const sql::PlanNode*, SourceParts> parts_;  // declared last: their threads stop first
};

}  // namespace lakepipe::runtime
