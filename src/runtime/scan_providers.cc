#include "runtime/scan_providers.h"

#include <algorithm>
#include <mutex>

#include "delta/change_feed.h"
#include "delta/changes.h"
#include "delta/schema_merge.h"
#include "sql/lexer.h"

namespace lakepipe::runtime {

namespace {

// A NULL column of `type` and `n` rows, shared by every stream that widens batches of that
// length: the incremental views reading the same upstream version each lack the columns
// they do not read, and built those NULLs once per view (tens of MB of fresh memory per
// update at 262,144 rows). Batches are immutable once built, so one column serves all.
ColumnPtr SharedNulls(const DataType& type, int64_t n) {
  static std::mutex mu;
  static std::map<std::pair<std::string, int64_t>, std::weak_ptr<Column>> made;
  std::lock_guard<std::mutex> lock(mu);
  std::weak_ptr<Column>& slot = made[{type.ToString(), n}];
  if (ColumnPtr kept = slot.lock()) return kept;
  ColumnPtr built = MakeColumn(Column::Nulls(type, n));
  slot = built;
  if (made.size() > 256) std::erase_if(made, [](const auto& entry) { return entry.second.expired(); });
  return built;
}

}  // namespace

const sql::ResolvedDataset* ScanContext::View(const std::string& name) const {
  const sql::ResolvedDataset* ds = pipeline->Find(name);
  return ds != nullptr && ds->kind == sql::DatasetKind::kView ? ds : nullptr;
}

// Rows read from a stored table in the plan's columns: versions written before a schema
// change added columns or struct fields, read by a plan made after it (the table's next
// commit will have them), lack them; they are NULL there, so that the executor sees the
// columns and types it planned. Batches that have them all are left as they are.
Result<Batches> WidenToPlan(Batches rows, const Schema& planned, std::vector<ColumnPtr>* nulls) {
  std::vector<ColumnPtr> own;  // without a caller's: shared within this list
  if (nulls == nullptr) nulls = &own;
  nulls->resize(planned.size());
  for (auto& b : rows) {
    bool same = b.num_columns() == planned.size();
    for (size_t c = 0; c < b.num_columns() && same; ++c) {
      same = b.schema().field(c).name == planned.field(c).name &&
             !delta::GainsStructFields(b.column(c).type(), planned.field(c).type);
    }
    if (same) continue;
    std::vector<ColumnPtr> cols;
    int64_t n = b.num_rows();
    for (size_t p = 0; p < planned.size(); ++p) {
      const Field& f = planned.field(p);
      int c = b.schema().FindField(f.name);
      if (c < 0) {
        ColumnPtr& kept = (*nulls)[p];
        if (kept == nullptr || kept->size() != n) kept = SharedNulls(f.type, n);
        cols.push_back(kept);
      } else if (delta::GainsStructFields(b.column(static_cast<size_t>(c)).type(), f.type)) {
        LP_ASSIGN_OR_RETURN(Column wide, delta::WidenStructColumn(b.column(static_cast<size_t>(c)), f.type));
        cols.push_back(MakeColumn(std::move(wide)));
      } else {
        cols.push_back(b.column_ptr(static_cast<size_t>(c)));
      }
    }
    b = RecordBatch(planned, std::move(cols), n);
  }
  return rows;
}

// A stream of stored rows (`next`), each batch widened to the plan's columns as
// WidenToPlan widens a list; `planned` must outlive the stream.
std::unique_ptr<BatchStream> WidenedStream(std::function<Result<bool>(RecordBatch*)> next, const Schema& planned) {
  const Schema* schema = &planned;
  return FunctionStream([next = std::move(next), schema, nulls = std::vector<ColumnPtr>()](RecordBatch* out) mutable -> Result<bool> {
    LP_ASSIGN_OR_RETURN(bool more, next(out));
    if (!more) return false;
    Batches one;
    one.push_back(std::move(*out));
    LP_ASSIGN_OR_RETURN(one, WidenToPlan(std::move(one), *schema, &nulls));
    *out = std::move(one[0]);
    return true;
  });
}

Result<Batches> FullScanProvider::ReadTable(const sql::PlanNode& node) {
  if (const sql::ResolvedDataset* view = context_.View(node.table)) return Execute(*view->plan, *this, exec_);
  return ReadWholeTable(node);
}

Result<Batches> FullScanProvider::ReadFiles(const sql::PlanNode& node) {
  std::vector<std::string> not_followed;
  LP_ASSIGN_OR_RETURN(FileListOptions listing, FileListOptionsFrom(node.read_files));
  LP_ASSIGN_OR_RETURN(auto files, ListAllFiles(context_.fs, node.read_files.path, listing.selection, &not_followed));
  for (auto& link : not_followed) file_stats_.not_followed.push_back(node.read_files.path + ": " + link);
  std::sort(files.begin(), files.end(), [](const SourceFileEntry& a, const SourceFileEntry& b) {
    return a.mtime_micros != b.mtime_micros ? a.mtime_micros < b.mtime_micros : a.path < b.path;
  });
  return ReadSourceFiles(context_.fs, node.read_files, files, node.schema, &file_stats_);
}

Result<delta::SnapshotPtr> FullScanProvider::LatestSnapshot(const sql::PlanNode& node) {
  auto table = context_.open_table(node.table);
  if (!table.ok()) {
    if (table.status().IsNotFound()) {
      return Status::NotFound("table `" + node.table + "` has no data yet (its update has not run or failed)");
    }
    return table.status();
  }
  LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, (*table)->Latest());
  versions_read_[sql::ToLower(node.table)] = snap->version();
  return snap;
}

Result<Batches> FullScanProvider::ReadWholeTable(const sql::PlanNode& node) {
  LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, LatestSnapshot(node));
  if (node.read_change_feed) {
    // table_changes('t', start[, end]): versions start..end (the latest when no end).
    int64_t end = node.change_feed_end.value_or(snap->version());
    if (end > snap->version()) {
      return Status::InvalidArgument("table_changes('" + node.table + "', " + std::to_string(node.change_feed_start) +
                                     ", " + std::to_string(end) + "): the table's latest version is " +
                                     std::to_string(snap->version()));
    }
    delta::ChangeFeedOptions options;
    options.columns = node.schema.names();
    LP_ASSIGN_OR_RETURN(auto table, context_.open_table(node.table));
    return delta::ReadChanges(*table, node.change_feed_start, end, options);
  }
  return ReadSnapshot(snap, node.schema);
}

Result<Batches> FullScanProvider::ReadSnapshot(const delta::SnapshotPtr& snap, const Schema& columns) {
  delta::ScanOptions options;
  options.columns = columns.names();
  LP_ASSIGN_OR_RETURN(Batches out,
                      context_.shared_scans->Read(snap->table_path(), snap->version(), options.columns,
                                                [&]() -> Result<Batches> {
                                                  LP_ASSIGN_OR_RETURN(delta::Scan scan, delta::Scan::Plan(snap, options));
                                                  Batches read;
                                                  for (size_t i = 0; i < scan.files().size(); ++i) {
                                                    LP_ASSIGN_OR_RETURN(RecordBatch b, scan.ReadFile(i));
                                                    if (b.num_rows() > 0) read.push_back(std::move(b));
                                                  }
                                                  return read;
                                                }));
  return WidenToPlan(std::move(out), columns);
}

BatchScanProvider::~BatchScanProvider() = default;

void BatchScanProvider::NotePart(bool rows, bool more) {
  more_parts_ = more_parts_ || more;
  if (rows && counted_part_ != part_) {
    counted_part_ = part_;
    ++parts_read_;
  }
}

Result<Batches> BatchScanProvider::NextPart(
    const sql::PlanNode& node, const std::function<Result<std::unique_ptr<BatchStream>>(SourceParts&)>& open) {
  auto found = parts_.find(&node);
  if (found == parts_.end()) {
    if (part_ != 0) return Status::Internal("a part stream was asked for part " + std::to_string(part_) + " first");
    // In place first: the stream keeps the addresses of the entry's files and statistics.
    found = parts_.try_emplace(&node).first;
    Result<std::unique_ptr<BatchStream>> stream = open(found->second);
    if (!stream.ok()) {
      parts_.erase(found);
      return stream.status();
    }
    // Two parts ahead: the reader decodes the next while the flow runs this one. Small
    // pieces (a file of a few lines, a small upstream commit) are joined into parts.
    found->second.stream =
        PrefetchStream(SliceStream(CoalesceStream(std::move(stream).value(), batch_rows_), batch_rows_), 2);
  }
  SourceParts& source = found->second;
  Batches out;
  if (source.ended) return out;
  RecordBatch b;
  LP_ASSIGN_OR_RETURN(bool more, source.stream->Next(&b));
  if (more) {
    out.push_back(std::move(b));
  } else {
    source.ended = true;
    // The stream's thread is done with the statistics.
    FileReadStats& stats = source.stats;
    file_stats_.files += stats.files;
    file_stats_.rows += stats.rows;
    file_stats_.rescued_rows += stats.rescued_rows;
    file_stats_.bytes += stats.bytes;
    for (auto& m : stats.rows_by_file_mtime) file_stats_.rows_by_file_mtime.push_back(m);
    for (auto& f : stats.changed_files) file_stats_.changed_files.push_back(std::move(f));
    for (auto& n : stats.not_followed) file_stats_.not_followed.push_back(std::move(n));
  }
  NotePart(more, more);
  return out;
}

Result<Batches> BatchScanProvider::ReadTable(const sql::PlanNode& node) {
  if (const sql::ResolvedDataset* view = context_.View(node.table)) return Execute(*view->plan, *this, exec_);
  if (!node.streaming) return ReadWholeTable(node);
  for (const auto& s : plan_.sources) {
    if (s.kind == PlannedSource::Kind::kSnapshot && sql::ToLower(s.table) == sql::ToLower(node.table)) {
      LP_ASSIGN_OR_RETURN(auto table, context_.open_table(node.table));
      LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, table->AtVersion(s.version));
      if (node.read_change_feed) {
        // The first batch of a change feed read: the current rows as inserts (Spark's
        // readChangeFeed without startingVersion).
        delta::ChangeFeedOptions options;
        options.columns = node.schema.names();
        if (part_ >= 0) {
          return NextPart(node, [&](SourceParts&) -> Result<std::unique_ptr<BatchStream>> {
            LP_ASSIGN_OR_RETURN(std::shared_ptr<delta::ChangeReader> reader,
                                delta::ChangeReader::OpenSnapshot(snap, options));
            return FunctionStream([reader](RecordBatch* out) { return reader->Next(out); });
          });
        }
        return delta::SnapshotAsInserts(snap, options);
      }
      if (part_ >= 0) {
        return NextPart(node, [&](SourceParts&) -> Result<std::unique_ptr<BatchStream>> {
          delta::ScanOptions options;
          options.columns = node.schema.names();
          options.slice_rows = batch_rows_;
          LP_ASSIGN_OR_RETURN(std::shared_ptr<delta::SnapshotReader> reader, delta::SnapshotReader::Open(snap, options));
          return WidenedStream([reader](RecordBatch* out) { return reader->Next(out); }, node.schema);
        });
      }
      return ReadSnapshot(snap, node.schema);
    }
    if (s.kind == PlannedSource::Kind::kDelta && sql::ToLower(s.table) == sql::ToLower(node.table)) {
      int64_t start = s.start_version, end = s.end_version;
      if (start > end) return Batches{};
      LP_ASSIGN_OR_RETURN(auto table, context_.open_table(node.table));
      if (node.read_change_feed) {
        delta::ChangeFeedOptions options;
        options.columns = node.schema.names();
        if (part_ >= 0) {
          return NextPart(node, [&](SourceParts&) -> Result<std::unique_ptr<BatchStream>> {
            LP_ASSIGN_OR_RETURN(std::shared_ptr<delta::ChangeReader> reader,
                                delta::ChangeReader::Open(*table, start, end, options));
            // The stream keeps the table handle alive for its reader.
            return FunctionStream([table, reader](RecordBatch* out) { return reader->Next(out); });
          });
        }
        return delta::ReadChanges(*table, start, end, options);
      }
      // The plan's columns that version `end` has (the read's schema is end's): a plan made
      // after a schema change may read versions from before it (WidenToPlan). Found once
      // per read, not once per part.
      auto read_options = [&]() -> Result<delta::ChangeReadOptions> {
        delta::ChangeReadOptions options;
        options.skip_change_commits = node.skip_change_commits;
        LP_ASSIGN_OR_RETURN(delta::SnapshotPtr latest, table->Latest());
        delta::SnapshotPtr at_end = latest;
        if (latest->version() != end) {
          LP_ASSIGN_OR_RETURN(at_end, table->AtVersion(end));
        }
        for (const Field& f : node.schema.fields())
          if (at_end->schema().FindField(f.name) >= 0) options.columns.push_back(f.name);
        if (options.columns.empty()) options.columns = node.schema.names();  // let the read name what is missing
        return options;
      };
      if (part_ >= 0) {
        return NextPart(node, [&](SourceParts&) -> Result<std::unique_ptr<BatchStream>> {
          LP_ASSIGN_OR_RETURN(delta::ChangeReadOptions options, read_options());
          options.slice_rows = batch_rows_;
          // The stream keeps the table handle alive for its reader.
          auto reader = std::make_shared<delta::AppendsReader>(*table, start, end, options);
          return WidenedStream([table, reader](RecordBatch* out) { return reader->Next(out); }, node.schema);
        });
      }
      LP_ASSIGN_OR_RETURN(delta::ChangeReadOptions options, read_options());
      LP_ASSIGN_OR_RETURN(Batches appended, delta::ReadAppends(*table, start, end, options));
      return WidenToPlan(std::move(appended), node.schema);
    }
  }
  return Status::Internal("micro-batch plan has no entry for streaming source " + node.table);
}

Result<Batches> BatchScanProvider::ReadFiles(const sql::PlanNode& node) {
  for (const auto& s : plan_.sources) {
    if (s.kind == PlannedSource::Kind::kFiles && s.path == node.read_files.path) {
      // The planned files as the reader takes them. Copied once per read: a batch read by
      // parts asks for every part here, and copying the list each time made a backlog of
      // n small files (one part each) cost n * n copies.
      auto planned_files = [&s] {
        std::vector<SourceFileEntry> files;
        files.reserve(s.files.size());
        for (const auto& f : s.files) files.push_back({f.path, f.size, f.mtime_micros});
        return files;
      };
      if (part_ >= 0) {
        return NextPart(node, [&](SourceParts& source) -> Result<std::unique_ptr<BatchStream>> {
          source.files = planned_files();
          // Read on the prefetch thread; its statistics are the stream's until it ends.
          LP_ASSIGN_OR_RETURN(std::shared_ptr<SourceFileStream> stream,
                              SourceFileStream::Open(context_.fs, node.read_files, source.files, node.schema,
                                                     &source.stats, batch_rows_));
          return FunctionStream([stream](RecordBatch* out) { return stream->Next(out); });
        });
      }
      return ReadSourceFiles(context_.fs, node.read_files, planned_files(), node.schema, &file_stats_);
    }
  }
  return Status::Internal("micro-batch plan has no entry for read_files " + node.read_files.path);
}

Result<Batches> BatchScanProvider::ReadStream(const sql::PlanNode& node) {
  if (stream_sources_ == nullptr) return FullScanProvider::ReadStream(node);
  std::string key = StreamSourceKey(node.stream_source);
  for (const auto& s : plan_.sources) {
    if (s.kind == PlannedSource::Kind::kStream && s.key == key) {
      auto it = stream_sources_->find(key);
      if (it == stream_sources_->end()) {
        return Status::Internal("micro-batch plan reads " + key + ", which the flow did not open");
      }
      StreamRead read;
      if (part_ < 0) {
        LP_ASSIGN_OR_RETURN(read, it->second->Read(s.range, node.schema));
      } else {
        if (stream_parts_ended_.count(&node)) return Batches{};
        LP_ASSIGN_OR_RETURN(read, it->second->ReadPart(s.range, node.schema, part_));
        NotePart(!read.batches.empty(), read.more);
        if (!read.more) stream_parts_ended_.insert(&node);
      }
      stream_arrivals_.insert(stream_arrivals_.end(), read.produced_at.begin(), read.produced_at.end());
      return std::move(read.batches);
    }
  }
  return Status::Internal("micro-batch plan has no entry for " + key);
}

Result<std::unique_ptr<BatchStream>> FullScanProvider::StreamTable(
    const sql::PlanNode& node, const std::vector<std::string>& columns,
    const std::vector<parquet::ColumnPredicate>& predicates) {
  if (!by_parts_ || node.read_change_feed) return std::unique_ptr<BatchStream>();
  if (context_.View(node.table) != nullptr) return std::unique_ptr<BatchStream>();
  LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, LatestSnapshot(node));
  return SnapshotStream(node.table, snap, node.schema, columns, predicates);
}

Result<std::unique_ptr<BatchStream>> FullScanProvider::SnapshotStream(
    const std::string& table, const delta::SnapshotPtr& snap, const Schema& planned,
    const std::vector<std::string>& columns, const std::vector<parquet::ColumnPredicate>& predicates) {
  delta::ScanOptions options;
  // Columns (and predicates) the snapshot has: an older version may lack a column the
  // plan has (it reads as NULL, WidenToPlan).
  for (const auto& c : columns)
    if (snap->schema().FindField(c) >= 0) options.columns.push_back(c);
  if (options.columns.empty() && snap->schema().size() > 0) options.columns.push_back(snap->schema().field(0).name);
  for (const auto& p : predicates)
    if (snap->schema().FindField(p.column) >= 0) options.predicates.push_back(p);
  if (!share_as_.empty()) {
    // Read once for the views of this `run --once` group that read the same version.
    LP_ASSIGN_OR_RETURN(std::unique_ptr<BatchStream> shared,
                        context_.shared_part_scans->Open(sql::ToLower(table), share_as_, snap, options.columns,
                                                       options.predicates, cut_rows_,
                                                       /*exact_parts=*/exec_.aggregate_threads > 1, &shared_read_views_));
    if (shared != nullptr) {
      std::shared_ptr<BatchStream> parts(std::move(shared));
      return WidenedStream([parts](RecordBatch* out) { return parts->Next(out); }, planned);
    }
  }
  LP_ASSIGN_OR_RETURN(std::shared_ptr<delta::SnapshotReader> reader, delta::SnapshotReader::Open(snap, options));
  // Cut first, then widen: the NULL columns of the columns not read are a part long.
  std::unique_ptr<BatchStream> parts = FunctionStream([reader](RecordBatch* out) { return reader->Next(out); });
  if (cut_rows_ > 0) parts = SliceStream(std::move(parts), cut_rows_);
  std::shared_ptr<BatchStream> cut(std::move(parts));
  auto widened = WidenedStream([cut](RecordBatch* out) { return cut->Next(out); }, planned);
  // Two parts ahead: the next is decoded while the aggregate takes this one.
  return PrefetchStream(std::move(widened), 2);
}

}  // namespace lakepipe::runtime
