// DeltaTable: snapshots, scans, history, and the commit protocol (put-if-absent,
// conflict checks, retries, checkpoints).
#include "delta/table.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "common/uuid.h"
#include "delta/log_internal.h"
#include "delta/schema_merge.h"
#include "delta/table_internal.h"
#include "delta/txn_retention.h"

namespace lakepipe::delta {

using json = nlohmann::json;

// ---- protocol support ---------------------------------------------------------------

namespace {

std::string ColumnMappingMode(const Metadata& m) {
  auto it = m.configuration.find("delta.columnMapping.mode");
  return it == m.configuration.end() ? "none" : it->second;
}

bool HasFieldMetadataKey(const std::vector<Field>& fields, std::string_view key) {
  for (const Field& f : fields) {
    if (f.metadata.find(key) != std::string::npos) return true;
    if (f.type.id() == TypeId::kStruct && HasFieldMetadataKey(f.type.fields(), key)) return true;
  }
  return false;
}

}  // namespace

Status CheckReadSupport(const Protocol& p, const Metadata& m, const std::string& table_path) {
  if (p.min_reader_version > 3) {
    return Status::NotSupported("Delta table " + table_path + " requires reader version " +
                                std::to_string(p.min_reader_version) +
                                "; lakepipe reads versions 1 to 3");
  }
  if (p.min_reader_version == 2 && ColumnMappingMode(m) != "none") {
    return Status::NotSupported("Delta table " + table_path +
                                " uses reader feature 'columnMapping' (delta.columnMapping.mode = " +
                                ColumnMappingMode(m) + "), which lakepipe does not implement");
  }
  if (p.min_reader_version == 3) {
    static const std::set<std::string> kSupported = {"timestampNtz", "vacuumProtocolCheck",
                                                     "v2Checkpoint"};
    for (const auto& f : p.reader_features.value_or(std::vector<std::string>{})) {
      if (!kSupported.count(f)) {
        return Status::NotSupported("Delta table " + table_path + " uses reader feature '" + f +
                                    "', which lakepipe does not implement");
      }
    }
  }
  return Status::OK();
}

Status CheckWriteSupport(const Protocol& p, const Metadata& m, const std::string& table_path) {
  auto refuse = [&](const std::string& feature) {
    return Status::NotSupported("cannot write to Delta table " + table_path +
                                ": it uses writer feature '" + feature +
                                "', which lakepipe does not honour");
  };
  LP_RETURN_IF_ERROR(CheckReadSupport(p, m, table_path));
  if (p.min_writer_version > 7) {
    return Status::NotSupported("Delta table " + table_path + " requires writer version " +
                                std::to_string(p.min_writer_version));
  }
  auto schema = Schema::FromSparkJson(m.schema_string);
  if (schema.ok()) {
    if (HasFieldMetadataKey(schema->fields(), "delta.invariants")) return refuse("invariants");
    if (HasFieldMetadataKey(schema->fields(), "delta.generationExpression"))
      return refuse("generatedColumns");
    if (HasFieldMetadataKey(schema->fields(), "delta.identity")) return refuse("identityColumns");
  }
  for (const auto& [k, v] : m.configuration) {
    if (k.rfind("delta.constraints.", 0) == 0) return refuse("checkConstraints");
    if (k == "delta.enableDeletionVectors" && v == "true") return refuse("deletionVectors");
    if (k == "delta.enableRowTracking" && v == "true") return refuse("rowTracking");
    if (k == "delta.enableInCommitTimestamps" && v == "true") return refuse("inCommitTimestamp");
  }
  if (ColumnMappingMode(m) != "none") return refuse("columnMapping");
  if (p.min_writer_version == 7) {
    static const std::set<std::string> kHonoured = {"appendOnly", "invariants", "checkConstraints",
                                                    "timestampNtz", "vacuumProtocolCheck",
                                                    "changeDataFeed"};
    for (const auto& f : p.writer_features.value_or(std::vector<std::string>{})) {
      if (!kHonoured.count(f)) return refuse(f);
    }
  }
  return Status::OK();
}

// ---- Snapshot -----------------------------------------------------------------------

Result<DataFile> Snapshot::MakeDataFile(const AddFile& add) const {
  DataFile f;
  f.add = add;
  LP_ASSIGN_OR_RETURN(f.full_path, ResolveDataPath(table_path_, add.path));
  for (const auto& pc : state_.metadata.partition_columns) {
    const Field& field = schema_.field(static_cast<size_t>(schema_.FindField(pc)));
    std::optional<std::string> text;
    auto it = add.partition_values.find(pc);
    if (it == add.partition_values.end()) {
      // Keys are matched case-insensitively as a fallback.
      for (const auto& [k, v] : add.partition_values) {
        if (k.size() == pc.size() &&
            std::equal(k.begin(), k.end(), pc.begin(),
                       [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
          text = v;
      }
    } else {
      text = it->second;
    }
    auto v = ParsePartitionValue(text, field.type);
    if (!v.ok()) return v.status().WithContext("file " + add.path);
    f.partition_values[field.name] = std::move(v).value();
  }
  return f;
}

Status Snapshot::CheckNoDeletionVectors() const {
  if (state_.files_with_deletion_vectors <= 0) return Status::OK();
  std::string path;
  for (const auto& [key, add] : state_.files) {
    if (add.deletion_vector) {
      path = add.path;
      break;
    }
  }
  return Status::NotSupported("Delta table " + table_path_ + " uses reader feature 'deletionVectors' (file " + path +
                              "), which lakepipe does not implement");
}

Result<std::shared_ptr<const Snapshot>> Snapshot::Make(std::string table_path, TableState state,
                                                       FileSystem* fs, Clock* clock) {
  LP_RETURN_IF_ERROR(CheckReadSupport(state.protocol, state.metadata, table_path));
  auto snap = std::shared_ptr<Snapshot>(new Snapshot());
  snap->table_path_ = std::move(table_path);
  snap->fs_ = fs;
  snap->clock_ = clock;
  auto schema = state.metadata.schema_string.empty()
                    ? Result<Schema>(Schema())
                    : Schema::FromSparkJson(state.metadata.schema_string);
  if (!schema.ok()) {
    return schema.status().WithContext("schemaString of Delta table " + snap->table_path_);
  }
  snap->schema_ = std::move(schema).value();
  for (const auto& pc : state.metadata.partition_columns) {
    if (snap->schema_.FindField(pc) < 0) {
      return Status::Corruption("Delta table " + snap->table_path_ + ": partition column '" + pc +
                                "' is not in the schema");
    }
  }
  snap->state_ = std::move(state);
  // A state built by hand may not have counted its deletion vectors.
  int64_t dvs = 0;
  for (const auto& [key, add] : snap->state_.files) dvs += add.deletion_vector ? 1 : 0;
  snap->state_.files_with_deletion_vectors = dvs;
  LP_RETURN_IF_ERROR(snap->CheckNoDeletionVectors());
  // Every file is checked here, so files() (built now) cannot fail later.
  snap->files_.reserve(snap->state_.files.size());
  for (const auto& [key, add] : snap->state_.files) {
    LP_ASSIGN_OR_RETURN(DataFile f, snap->MakeDataFile(add));
    snap->files_.push_back(std::move(f));
  }
  std::sort(snap->files_.begin(), snap->files_.end(),
            [](const DataFile& a, const DataFile& b) { return a.add.path < b.add.path; });
  snap->files_built_ = true;
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

Result<std::shared_ptr<const Snapshot>> Snapshot::Advance(const Snapshot& base, TableState state,
                                                          const std::vector<std::string>& added_keys) {
  if (state.metadata_version > base.version() || base.table_path_.empty()) {
    // The protocol or metadata changed: the schema, partition columns and reader
    // support are checked again, with every file.
    return Make(base.table_path_, std::move(state), base.fs_, base.clock_);
  }
  auto snap = std::shared_ptr<Snapshot>(new Snapshot());
  snap->table_path_ = base.table_path_;
  snap->fs_ = base.fs_;
  snap->clock_ = base.clock_;
  snap->schema_ = base.schema_;
  snap->state_ = std::move(state);
  LP_RETURN_IF_ERROR(snap->CheckNoDeletionVectors());
  // Only the new files need checking: the others passed when they were added, under the
  // same metadata.
  for (const std::string& key : added_keys) {
    const AddFile* add = snap->state_.files.Find(key);
    if (add != nullptr) LP_RETURN_IF_ERROR(snap->MakeDataFile(*add).status());
  }
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

const std::vector<DataFile>& Snapshot::files() const {
  std::lock_guard<std::mutex> lock(files_mu_);
  if (!files_built_) {
    files_.reserve(state_.files.size());
    for (const auto& [key, add] : state_.files) {
      // Checked when the file was added (Make or Advance), so this does not fail.
      auto f = MakeDataFile(add);
      if (f.ok()) {
        files_.push_back(std::move(f).value());
      } else {
        DataFile raw;
        raw.add = add;
        raw.full_path = JoinPath(table_path_, add.path);
        files_.push_back(std::move(raw));
      }
    }
    std::sort(files_.begin(), files_.end(),
              [](const DataFile& a, const DataFile& b) { return a.add.path < b.add.path; });
    files_built_ = true;
  }
  return files_;
}

int64_t Snapshot::num_records() const {
  int64_t total = 0;
  for (const auto& f : files()) {
    auto st = Stats(f);
    if (!st.ok() || !st->num_records) return -1;
    total += *st->num_records;
  }
  return total;
}

int64_t Snapshot::size_bytes() const {
  int64_t total = 0;
  for (const auto& [key, add] : state_.files) total += add.size;
  return total;
}

std::optional<int64_t> Snapshot::TxnVersion(const std::string& app_id) const {
  auto it = state_.txns.find(app_id);
  if (it == state_.txns.end()) return std::nullopt;
  if (TxnExpired(it->second, TxnExpiryCutoffMillis(state_.metadata.configuration, clock_->NowMillis()))) {
    return std::nullopt;
  }
  return it->second.version;
}

Result<FileStats> Snapshot::Stats(const DataFile& file) const {
  if (!file.add.stats) return FileStats{};
  return ParseStatsJson(*file.add.stats, schema_, file.add.path);
}

// ---- Scan ---------------------------------------------------------------------------

Result<Scan> Scan::Plan(SnapshotPtr snapshot, ScanOptions options) {
  Scan scan;
  const Schema& schema = snapshot->schema();
  if (options.columns.empty()) {
    scan.output_schema_ = schema;
  } else {
    for (const auto& c : options.columns) {
      int idx = schema.FindField(c);
      if (idx < 0) {
        return Status::InvalidArgument("column '" + c + "' is not in table " +
                                       snapshot->table_path() + " (columns: " +
                                       schema.ToDDL() + ")");
      }
      scan.output_schema_.AddField(schema.field(static_cast<size_t>(idx)));
    }
  }
  for (const auto& p : options.predicates) {
    if (schema.FindField(p.column) < 0) {
      return Status::InvalidArgument("predicate column '" + p.column + "' is not in table " +
                                     snapshot->table_path());
    }
  }
  for (const DataFile& f : snapshot->files()) {
    if (!options.predicates.empty()) {
      auto st = snapshot->Stats(f);
      const FileStats* stats = st.ok() ? &*st : nullptr;
      if (!FileMayMatch(f, stats, schema, snapshot->partition_columns(), options.predicates))
        continue;
    }
    scan.files_.push_back(f);
  }
  scan.snapshot_ = std::move(snapshot);
  scan.options_ = std::move(options);
  return scan;
}

namespace {

// Converts a column read from a file to the table's type, when the file's physical type
// differs (e.g. an int file column in a bigint table column).
Result<Column> CastColumn(const Column& in, const DataType& type, const std::string& what) {
  if (SameTypeIgnoringNullability(in.type(), type)) return in;
  // A file written before struct fields were added to the column (schema evolution).
  if (GainsStructFields(in.type(), type)) return WidenStructColumn(in, type);
  Column out(type);
  out.Reserve(in.size());
  for (int64_t i = 0; i < in.size(); ++i) {
    Status st = out.AppendValue(in.GetValue(i));
    if (!st.ok()) {
      return Status::NotSupported(what + ": file column of type " + in.type().ToString() +
                                  " cannot be read as " + type.ToString());
    }
  }
  return out;
}

// Opens data file `file` of `snap`. A file that is gone is NotFound naming the file, the
// version and the table, and saying why that happens: VACUUM deletes a removed file once
// its tombstone is older than delta.deletedFileRetentionDuration, so an old version (time
// travel, a reader far behind) may have lost its files while its log entry remains.
Result<std::unique_ptr<parquet::FileReader>> OpenDataFile(const Snapshot& snap, const DataFile& file) {
  auto reader = parquet::FileReader::Open(snap.fs(), file.full_path);
  if (reader.ok() || !reader.status().IsNotFound()) return reader;
  auto retention = snap.configuration().find("delta.deletedFileRetentionDuration");
  const std::string kept = retention != snap.configuration().end()
                               ? "the table's delta.deletedFileRetentionDuration ('" + retention->second + "')"
                               : "the table's delta.deletedFileRetentionDuration (7 days, the default)";
  return Status::NotFound("data file " + file.add.path + " of version " + std::to_string(snap.version()) + " of " +
                          snap.table_path() + " no longer exists (" + reader.status().message() +
                          "): once a later version removes a file, VACUUM deletes it after " + kept +
                          ", so versions older than that may not be readable (time travel reaches back that far "
                          "only); read a newer version");
}

}  // namespace

Result<RecordBatch> Scan::ReadFile(size_t i) const {
  LP_ASSIGN_OR_RETURN(std::vector<RecordBatch> pieces, ReadFilePieces(i));
  if (pieces.size() == 1) return std::move(pieces[0]);
  return RecordBatch::Concat(output_schema_, pieces);
}

Result<std::vector<RecordBatch>> Scan::ReadFilePieces(size_t i) const { return ReadPieces(i, nullptr); }

Result<RecordBatch> Scan::ReadFileRows(size_t i, const std::vector<int64_t>& rows) const {
  LP_ASSIGN_OR_RETURN(std::vector<RecordBatch> pieces, ReadPieces(i, &rows));
  if (pieces.size() == 1) return std::move(pieces[0]);
  return RecordBatch::Concat(output_schema_, pieces);
}

Result<std::vector<RecordBatch>> Scan::ReadPieces(size_t i, const std::vector<int64_t>* selected) const {
  if (i >= files_.size()) return Status::InvalidArgument("scan has no file " + std::to_string(i));
  const DataFile& file = files_[i];
  LP_ASSIGN_OR_RETURN(auto reader, OpenDataFile(*snapshot_, file));
  const Schema& file_schema = reader->schema();
  const auto& partition_columns = snapshot_->partition_columns();
  auto is_partition = [&](const std::string& name) {
    return std::find(partition_columns.begin(), partition_columns.end(), name) !=
           partition_columns.end();
  };
  parquet::ReadOptions ro;
  for (const Field& f : output_schema_.fields()) {
    if (!is_partition(f.name) && file_schema.FindField(f.name) >= 0) ro.columns.push_back(f.name);
  }
  for (const auto& p : options_.predicates) {
    if (!is_partition(p.column) && file_schema.FindField(p.column) >= 0) ro.predicates.push_back(p);
  }
  std::vector<RecordBatch> pieces;
  std::vector<int64_t> rows;  // per piece
  if (selected != nullptr) {
    // File row numbers, split by row group (every row group counts: no predicates here).
    std::vector<int> columns;
    for (const auto& c : ro.columns) columns.push_back(file_schema.FindField(c));
    int64_t base = 0;
    size_t k = 0;
    for (int g = 0; g < reader->num_row_groups(); ++g) {
      const int64_t end = base + reader->row_group_num_rows(g);
      std::vector<int64_t> local;
      for (; k < selected->size() && (*selected)[k] < end; ++k) {
        if ((*selected)[k] < base) return Status::InvalidArgument("row selection is not ascending");
        local.push_back((*selected)[k] - base);
      }
      base = end;
      if (local.empty()) continue;
      if (columns.empty()) {
        pieces.emplace_back();
      } else {
        LP_ASSIGN_OR_RETURN(RecordBatch b, reader->ReadRowGroupRows(g, columns, local));
        pieces.push_back(std::move(b));
      }
      rows.push_back(static_cast<int64_t>(local.size()));
    }
    if (k < selected->size()) {
      return Status::InvalidArgument("row " + std::to_string((*selected)[k]) + " selected in " + file.full_path +
                                     " of " + std::to_string(base) + " rows");
    }
  } else if (!ro.columns.empty()) {
    LP_ASSIGN_OR_RETURN(pieces, reader->ReadRowGroups(ro));
    for (const auto& p : pieces) rows.push_back(p.num_rows());
  } else {
    // Only partition (or missing) columns: the file's row count, in one piece.
    rows.push_back(reader->num_rows());
    pieces.emplace_back();
  }
  if (rows.empty()) {
    rows.push_back(0);
    pieces.emplace_back();
  }
  std::vector<RecordBatch> out;
  for (size_t p = 0; p < pieces.size(); ++p) {
    LP_ASSIGN_OR_RETURN(RecordBatch mapped, MapPiece(file, pieces[p], rows[p]));
    out.push_back(std::move(mapped));
  }
  return out;
}

Result<RecordBatch> Scan::MapPiece(const DataFile& file, const RecordBatch& data, int64_t num_rows) const {
  const auto& partition_columns = snapshot_->partition_columns();
  std::vector<ColumnPtr> columns;
  for (const Field& f : output_schema_.fields()) {
    if (std::find(partition_columns.begin(), partition_columns.end(), f.name) != partition_columns.end()) {
      // One value built from the partition value, then repeated without a Value per row.
      Column one(f.type);
      LP_RETURN_IF_ERROR(one.AppendValue(file.partition_values.at(f.name)));
      Column c(f.type);
      c.Reserve(num_rows);
      for (int64_t r = 0; r < num_rows; ++r) c.AppendRange(one, 0, 1);
      columns.push_back(MakeColumn(std::move(c)));
      continue;
    }
    const Column* col = data.num_columns() > 0 ? data.ColumnByName(f.name) : nullptr;
    if (col == nullptr) {
      columns.push_back(MakeColumn(Column::Nulls(f.type, num_rows)));
      continue;
    }
    if (SameTypeIgnoringNullability(col->type(), f.type)) {
      int idx = data.schema().FindField(f.name);
      columns.push_back(data.column_ptr(static_cast<size_t>(idx)));
    } else {
      LP_ASSIGN_OR_RETURN(Column cast, CastColumn(*col, f.type, file.full_path + " column " + f.name));
      columns.push_back(MakeColumn(std::move(cast)));
    }
  }
  return RecordBatch(output_schema_, std::move(columns), num_rows);
}

Result<std::unique_ptr<Scan::RowGroupReader>> Scan::OpenFile(size_t i) const {
  if (i >= files_.size()) return Status::InvalidArgument("scan has no file " + std::to_string(i));
  auto out = std::make_unique<RowGroupReader>();
  out->scan_ = this;
  out->file_ = &files_[i];
  LP_ASSIGN_OR_RETURN(out->reader_, OpenDataFile(*snapshot_, files_[i]));
  const Schema& file_schema = out->reader_->schema();
  const auto& partition_columns = snapshot_->partition_columns();
  auto is_partition = [&](const std::string& name) {
    return std::find(partition_columns.begin(), partition_columns.end(), name) != partition_columns.end();
  };
  // The same columns and predicates ReadPieces gives the file reader.
  for (const Field& f : output_schema_.fields()) {
    int idx = is_partition(f.name) ? -1 : file_schema.FindField(f.name);
    if (idx >= 0) out->columns_.push_back(idx);
  }
  for (const auto& p : options_.predicates) {
    if (!is_partition(p.column) && file_schema.FindField(p.column) >= 0) out->predicates_.push_back(p);
  }
  return out;
}

Result<bool> Scan::RowGroupReader::Next(RecordBatch* out) {
  const int groups = reader_->num_row_groups();
  const int64_t slice_rows = scan_->options_.slice_rows;
  while (true) {
    if (slices_) {
      RecordBatch data;
      LP_ASSIGN_OR_RETURN(bool more, slices_->Next(&data));
      if (more) {
        LP_ASSIGN_OR_RETURN(*out, scan_->MapPiece(*file_, data, data.num_rows()));
        return true;
      }
      slices_.reset();
    }
    if (next_ >= groups) return false;
    const int g = next_++;
    const int64_t rows = reader_->row_group_num_rows(g);
    if (rows == 0) continue;
    if (!predicates_.empty() && !reader_->RowGroupMayMatch(g, predicates_)) continue;
    // Sliced only when there is more than a slice and a column to read (a row count alone
    // costs nothing to read whole).
    if (slice_rows > 0 && rows > slice_rows && !columns_.empty()) {
      LP_ASSIGN_OR_RETURN(slices_, reader_->SliceRowGroup(g, columns_, slice_rows));
      continue;
    }
    LP_ASSIGN_OR_RETURN(*out, Read(g));
    return true;
  }
}

int Scan::RowGroupReader::num_row_groups() const { return reader_->num_row_groups(); }

int64_t Scan::RowGroupReader::row_group_rows(int g) const { return reader_->row_group_num_rows(g); }

Result<RecordBatch> Scan::RowGroupReader::Read(int g) {
  if (g < 0 || g >= reader_->num_row_groups()) {
    return Status::InvalidArgument("file " + file_->full_path + " has no row group " + std::to_string(g));
  }
  RecordBatch data;
  if (!columns_.empty()) {
    LP_ASSIGN_OR_RETURN(data, reader_->ReadRowGroup(g, columns_));
  }
  return scan_->MapPiece(*file_, data, reader_->row_group_num_rows(g));
}

Result<RecordBatch> Scan::ReadAll() const {
  std::vector<RecordBatch> batches;
  for (size_t i = 0; i < files_.size(); ++i) {
    LP_ASSIGN_OR_RETURN(RecordBatch b, ReadFile(i));
    batches.push_back(std::move(b));
  }
  if (batches.empty()) return RecordBatch::Empty(output_schema_);
  return RecordBatch::Concat(output_schema_, batches);
}

}  // namespace lakepipe::delta
