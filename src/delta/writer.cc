// TableWriter: schema enforcement/evolution, partitioning, data files with add.stats,
// and the append/overwrite commit (with txn for exactly-once writes).
#include <algorithm>
#include <cstdio>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/uuid.h"
#include "delta/change_feed.h"
#include "delta/mtime_kept.h"
#include "delta/schema_merge.h"
#include "delta/table.h"
#include "delta/table_internal.h"

namespace lakepipe::delta {

using json = nlohmann::ordered_json;

namespace {

constexpr const char* kNullPartitionFolder = "__HIVE_DEFAULT_PARTITION__";

std::string CodecSuffix(parquet::Compression c) {
  switch (c) {
    case parquet::Compression::kUncompressed: return "";
    case parquet::Compression::kSnappy: return ".snappy";
    case parquet::Compression::kGzip: return ".gz";
    case parquet::Compression::kBrotli: return ".br";
    case parquet::Compression::kLz4: return ".lz4";
    case parquet::Compression::kLz4Raw: return ".lz4raw";
    case parquet::Compression::kZstd: return ".zstd";
  }
  return "";
}

int NumIndexedCols(const StringMap& configuration) {
  auto it = configuration.find("delta.dataSkippingNumIndexedCols");
  if (it != configuration.end()) {
    try {
      return std::stoi(it->second);
    } catch (...) {
    }
  }
  return 32;
}

template <typename T>
bool AnyNan(const Column& c) {
  const T* v = c.data<T>();
  for (int64_t i = 0; i < c.size(); ++i) {
    if (v[i] != v[i]) return true;  // NaN is the only value unequal to itself
  }
  return false;
}

// Adds the float leaves of `c` (top level and inside structs) that hold a NaN.
void FindNans(const Column& c, const std::string& name, std::set<std::string>* out) {
  if (out->count(name)) return;
  switch (c.type().id()) {
    case TypeId::kDouble:
      if (AnyNan<double>(c)) out->insert(name);
      break;
    case TypeId::kFloat:
      if (AnyNan<float>(c)) out->insert(name);
      break;
    case TypeId::kStruct:
      for (size_t k = 0; k < c.num_children(); ++k)
        FindNans(c.child(k), name + "." + c.type().fields()[k].name, out);
      break;
    default: break;
  }
}

}  // namespace

struct TableWriter::Impl {
  FileSystem* fs = nullptr;
  std::string path;
  TableOptions table_options;
  WriteOptions options;
  SnapshotPtr snapshot;  // null when this writer creates the table
  bool creating = false;
  bool already_committed = false;
  bool committed = false;
  bool files_owned_by_log = false;  // a commit names the written files: never delete them
  bool schema_known = false;
  bool schema_changed = false;
  Schema table_schema;
  Schema data_schema;  // table schema without partition columns (what data files hold)
  std::vector<std::string> partition_columns;
  StringMap configuration;
  // Where files go under the table folder and how their names start: data files are
  // "part-..." at the top; change data files (CDF) "cdc-..." under "_change_data/".
  std::string folder_prefix;
  std::string name_prefix = "part";

  struct OpenFile {
    std::unique_ptr<parquet::FileWriter> writer;
    std::string relative;  // path under the table, unescaped for the log
    std::string full;
    PartitionValues partition_values;
    std::set<std::string> nan_columns;  // float leaves that held a NaN
  };
  std::map<std::string, OpenFile> open;
  std::vector<AddFile> adds;
  std::set<std::string> unsynced_dirs;  // folders of files closed since the last CloseAll
  std::vector<std::string> written_paths;
  int64_t rows = 0;
  int64_t bytes = 0;
  int64_t invalid_utf8 = 0;  // STRING values repaired by the Parquet writer
  int64_t copied_bytes = 0;  // column-chunk bytes copied by AppendPatched
  int file_counter = 0;

  // A writer for a table that exists, as of `snap`.
  static std::unique_ptr<Impl> ForSnapshot(FileSystem* fs, const std::string& path,
                                           const TableOptions& table_options, SnapshotPtr snap) {
    auto impl = std::make_unique<Impl>();
    impl->fs = fs;
    impl->path = path;
    impl->table_options = table_options;
    impl->snapshot = snap;
    impl->table_schema = snap->schema();
    impl->schema_known = true;
    impl->partition_columns = snap->partition_columns();
    impl->configuration = snap->configuration();
    impl->RebuildDataSchema();
    return impl;
  }

  void RebuildDataSchema() {
    data_schema = Schema();
    for (const Field& f : table_schema.fields()) {
      if (std::find(partition_columns.begin(), partition_columns.end(), f.name) ==
          partition_columns.end())
        data_schema.AddField(f);
    }
  }

  Status CheckSchema(const Schema& batch) {
    if (!schema_known) {
      table_schema = MakeNullable(batch);
      schema_known = true;
      for (auto& pc : partition_columns) {
        int idx = table_schema.FindField(pc);
        if (idx < 0) {
          return Status::InvalidArgument("partition column '" + pc + "' is not in the data (" +
                                         batch.ToDDL() + ")");
        }
        pc = table_schema.field(static_cast<size_t>(idx)).name;
      }
      RebuildDataSchema();
      return Status::OK();
    }
    // Every column of the data must be in the table with the same type (with
    // merge_schema: or with struct fields added on either side, delta/schema_merge.h).
    std::vector<Field> added;
    std::vector<std::pair<size_t, DataType>> widened;  // table columns whose structs gain fields
    for (const Field& f : batch.fields()) {
      int idx = table_schema.FindField(f.name);
      if (idx < 0) {
        if (!options.merge_schema) {
          return Status::InvalidArgument(
              "write to " + path + " refused: column '" + f.name +
              "' is not in the table schema (" + table_schema.ToDDL() +
              "); enable schema evolution (merge_schema) to add it");
        }
        Field nf = f;
        nf.nullable = true;
        added.push_back(std::move(nf));
        continue;
      }
      const Field& tf = table_schema.field(static_cast<size_t>(idx));
      if (options.merge_schema && GainsStructFields(tf.type, f.type)) {
        widened.emplace_back(static_cast<size_t>(idx), MergeStructFields(tf.type, f.type));
        continue;
      }
      if (options.merge_schema && GainsStructFields(f.type, tf.type)) continue;  // written NULL there
      if (!SameTypeIgnoringNullability(tf.type, f.type)) {
        return Status::InvalidArgument("write to " + path + " refused: column '" + f.name +
                                       "' has type " + f.type.ToString() +
                                       " in the data but " + tf.type.ToString() +
                                       " in the table");
      }
    }
    if (!options.merge_schema) {
      for (const Field& tf : table_schema.fields()) {
        if (batch.FindField(tf.name) < 0) {
          return Status::InvalidArgument("write to " + path + " refused: table column '" +
                                         tf.name + "' (" + tf.type.ToString() +
                                         ") is missing from the data");
        }
      }
    }
    if (!added.empty() || !widened.empty()) {
      // New columns (or struct fields) change the files' schema: finish the open files first.
      LP_RETURN_IF_ERROR(CloseAll());
      for (auto& [idx, type] : widened) table_schema.mutable_fields()[idx].type = std::move(type);
      Schema merged = MakeNullable(Schema(std::vector<Field>(added)));
      for (const Field& f : merged.fields()) table_schema.AddField(f);
      schema_changed = !creating;
      RebuildDataSchema();
    }
    return Status::OK();
  }

  Result<OpenFile*> FileFor(const std::string& key, const PartitionValues& pv) {
    auto it = open.find(key);
    if (it != open.end()) return &it->second;
    std::string dir = folder_prefix;
    for (const auto& pc : partition_columns) {
      const auto& v = pv.at(pc);
      dir += EscapePartitionPathComponent(pc) + "=" +
             (v ? EscapePartitionPathComponent(*v) : std::string(kNullPartitionFolder)) + "/";
    }
    // Names sort in commit order: the version this writer expects to commit (one past the
    // version it read), then the file's number within the writer. A snapshot lists its files
    // by path, so a batch read then sees rows in the order they were written, whichever way
    // the input was cut into commits (docs/functions.md, "Input order").
    char part[48];
    std::snprintf(part, sizeof(part), "%s-%020lld-%05d-", name_prefix.c_str(),
                  static_cast<long long>(snapshot ? snapshot->version() + 1 : 0), file_counter++);
    std::string name = std::string(part) + NewUuid() + "-c000" +
                       CodecSuffix(options.parquet.compression) + ".parquet";
    OpenFile f;
    f.relative = dir + name;
    f.full = JoinPath(path, f.relative);
    f.partition_values = pv;
    // The table folder itself may not exist yet (a table created by its first write).
    LP_RETURN_IF_ERROR(fs->CreateDirs(DirName(f.full)));
    // Recorded before the file exists: an Open that fails after creating it leaves it too.
    written_paths.push_back(f.full);
    LP_ASSIGN_OR_RETURN(f.writer, parquet::FileWriter::Open(fs, f.full, data_schema, options.parquet));
    auto [pos, inserted] = open.emplace(key, std::move(f));
    return &pos->second;
  }

  Status CloseFile(OpenFile& f) {
    LP_ASSIGN_OR_RETURN(parquet::WriteResult result, f.writer->Close());
    // The writer fsynced the bytes; the file's name needs its folder fsynced too before a
    // commit can name it (a power cut would otherwise leave a commit without its file):
    // CloseAll does it once per folder, as every way to the commit passes through it.
    unsynced_dirs.insert(DirName(f.full));
    AddFile add;
    add.path = EncodeLogPath(f.relative);
    add.partition_values = f.partition_values;
    add.size = result.file_bytes;
    auto info = fs->Stat(f.full);
    add.modification_time = info.ok() ? info->mtime_micros / 1000 : table_options.clock->NowMillis();
    add.data_change = true;
    add.stats = BuildStatsJson(result, data_schema, NumIndexedCols(configuration), f.nan_columns);
    rows += result.num_rows;
    bytes += result.file_bytes;
    invalid_utf8 += result.invalid_utf8_values;
    copied_bytes += result.copied_bytes;
    adds.push_back(std::move(add));
    return Status::OK();
  }

  Status CloseAll() {
    for (auto& [key, f] : open) LP_RETURN_IF_ERROR(CloseFile(f));
    open.clear();
    for (const auto& dir : unsynced_dirs) LP_RETURN_IF_ERROR(fs->SyncDir(dir));
    unsynced_dirs.clear();
    return Status::OK();
  }

  Status WriteGroup(const RecordBatch& batch, const std::vector<int32_t>* rows_of_group,
                    const std::string& key, const PartitionValues& pv) {
    std::vector<ColumnPtr> cols;
    int64_t n = rows_of_group ? static_cast<int64_t>(rows_of_group->size()) : batch.num_rows();
    for (const Field& f : data_schema.fields()) {
      int idx = batch.schema().FindField(f.name);
      if (idx < 0) {
        cols.push_back(MakeColumn(Column::Nulls(f.type, n)));
      } else if (GainsStructFields(batch.schema().field(static_cast<size_t>(idx)).type, f.type)) {
        // A struct of the data lacks fields the table has (merge_schema): NULL there.
        LP_ASSIGN_OR_RETURN(Column wide, WidenStructColumn(batch.column(static_cast<size_t>(idx)), f.type));
        cols.push_back(MakeColumn(rows_of_group ? wide.Take(*rows_of_group) : std::move(wide)));
      } else if (rows_of_group) {
        cols.push_back(MakeColumn(batch.column(static_cast<size_t>(idx)).Take(*rows_of_group)));
      } else {
        cols.push_back(batch.column_ptr(static_cast<size_t>(idx)));
      }
    }
    RecordBatch data(data_schema, std::move(cols), n);
    LP_ASSIGN_OR_RETURN(OpenFile * f, FileFor(key, pv));
    for (size_t c = 0; c < data.num_columns(); ++c) {
      FindNans(data.column(c), data_schema.field(c).name, &f->nan_columns);
    }
    LP_RETURN_IF_ERROR(f->writer->Write(data));
    if (f->writer->EstimatedSize() >= options.target_file_bytes) {
      LP_RETURN_IF_ERROR(CloseFile(*f));
      open.erase(key);
    }
    return Status::OK();
  }

  Status Write(const RecordBatch& batch) {
    if (committed) return Status::InvalidArgument("TableWriter::Write after Commit");
    if (already_committed) return Status::OK();  // the txn is already in the table
    LP_RETURN_IF_ERROR(CheckSchema(batch.schema()));
    if (batch.num_rows() == 0) return Status::OK();
    if (partition_columns.empty()) return WriteGroup(batch, nullptr, "", {});
    std::vector<const Column*> pcols;
    std::vector<DataType> ptypes;
    for (const auto& pc : partition_columns) {
      int idx = batch.schema().FindField(pc);
      pcols.push_back(idx < 0 ? nullptr : &batch.column(static_cast<size_t>(idx)));
    }
    std::unordered_map<std::string, std::vector<int32_t>> groups;
    std::unordered_map<std::string, PartitionValues> group_values;
    std::vector<std::string> order;
    std::string key;
    // Rows are grouped by the raw bytes of their partition values (no Value per row);
    // the serialised partition values are computed once per group.
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      key.clear();
      for (size_t k = 0; k < partition_columns.size(); ++k) {
        const Column* c = pcols[k];
        if (c == nullptr || c->IsNull(r)) {
          key += 'n';
        } else if (c->type().is_binary_like()) {
          std::string_view v = c->GetString(r);
          if (v.empty()) {
            key += 'n';  // Spark stores an empty string partition value as null
          } else {
            key += 'v';
            uint32_t len = static_cast<uint32_t>(v.size());
            key.append(reinterpret_cast<const char*>(&len), sizeof(len));
            key.append(v);
          }
        } else {
          int w = c->type().fixed_width();
          key += 'v';
          key.append(reinterpret_cast<const char*>(c->raw_data().data()) + r * w,
                     static_cast<size_t>(w));
        }
      }
      auto [it, inserted] = groups.try_emplace(key);
      if (inserted) {
        PartitionValues pv;
        for (size_t k = 0; k < partition_columns.size(); ++k) {
          std::optional<std::string> v;
          if (pcols[k] != nullptr && !pcols[k]->IsNull(r)) {
            v = SerializePartitionValue(pcols[k]->GetValue(r));
            if (v && v->empty()) v.reset();
          }
          pv[partition_columns[k]] = std::move(v);
        }
        // Groups that serialise alike (e.g. -0.0 and 0.0) share one partition folder
        // through FileFor's key below.
        order.push_back(key);
        group_values[key] = std::move(pv);
      }
      it->second.push_back(static_cast<int32_t>(r));
    }
    for (const auto& k : order) {
      const PartitionValues& pv = group_values[k];
      std::string file_key;
      for (const auto& [name, v] : pv) file_key += (v ? "v" + *v : std::string("n")) + '\x1f';
      LP_RETURN_IF_ERROR(WriteGroup(batch, &groups[k], file_key, pv));
    }
    return Status::OK();
  }

  // A writer dropped before its commit (a failed Write, an abandoned update) leaves no
  // data files behind: they belong to no version and would only wait for VACUUM.
  ~Impl() {
    if (!files_owned_by_log) DiscardFiles();
  }

  void DiscardFiles() {
    for (auto& [k, f] : open) (void)f.writer->Close();
    open.clear();
    for (const auto& p : written_paths) (void)fs->RemoveFile(p);
    written_paths.clear();
  }

  // After a failed commit: deletes the data files unless a commit naming them is visible
  // in the log (RunCommit fails after the link when the directory fsync fails; the files
  // are then the table's). Unknown (the log unreadable) counts as visible.
  void DiscardFilesUnlessCommitted(int64_t read_version) {
    if (adds.empty()) {
      DiscardFiles();
      return;
    }
    const std::string& marker = adds.front().path;
    for (int64_t v = read_version + 1;; ++v) {
      std::string commit = JoinPath(LogDir(path), CommitFileName(v));
      if (!fs->Exists(commit)) break;
      auto text = fs->ReadFile(commit);
      if (!text.ok() || text->find("\"" + marker + "\"") != std::string::npos) {
        files_owned_by_log = true;
        return;
      }
    }
    DiscardFiles();
  }

  // After losing the creation of the table to another writer: takes its latest version
  // as the base of this commit when it has this writer's columns (names and types) and
  // partition columns; false (the conflict stands) otherwise.
  Result<bool> AdoptConcurrentCreation() {
    if (!DeltaTable::Exists(path, fs)) return false;
    LP_ASSIGN_OR_RETURN(auto table, DeltaTable::Open(path, fs, table_options));
    LP_ASSIGN_OR_RETURN(SnapshotPtr snap, table->Latest());
    const Schema& theirs = snap->schema();
    if (theirs.size() != table_schema.size() || snap->partition_columns() != partition_columns) return false;
    for (size_t i = 0; i < theirs.size(); ++i) {
      if (theirs.field(i).name != table_schema.field(i).name ||
          !SameTypeIgnoringNullability(theirs.field(i).type, table_schema.field(i).type))
        return false;
    }
    LP_RETURN_IF_ERROR(CheckWriteSupport(snap->protocol(), snap->metadata(), path));
    snapshot = snap;
    creating = false;
    configuration = snap->configuration();
    if (options.txn_app_id) {
      auto v = snap->TxnVersion(*options.txn_app_id);
      if (v && *v >= options.txn_version) already_committed = true;
    }
    return true;
  }

  Result<CommitResult> Commit() {
    if (committed) return Status::InvalidArgument("TableWriter::Commit called twice");
    committed = true;
    CommitResult result;
    if (already_committed) {
      result.version = snapshot ? snapshot->version() : -1;
      result.already_committed = true;
      return result;
    }
    if (!schema_known) {
      return Status::InvalidArgument("cannot create Delta table " + path +
                                     " without a schema: no data was written");
    }
    if (Status closed = CloseAll(); !closed.ok()) {
      DiscardFiles();
      return closed;
    }
    int64_t now = table_options.clock->NowMillis();
    int64_t removed = 0;
    // The commit request, as a creation or on top of `snapshot` (rebuilt when another
    // writer created the table first, below).
    auto build = [&]() -> Result<CommitRequest> {
      removed = 0;
      CommitRequest req;
      Metadata meta;
      if (creating) {
        meta.id = NewUuid();
        if (options.create_if_missing) {
          meta.name = options.create_if_missing->name;
          meta.description = options.create_if_missing->description;
        }
        meta.created_time = now;
        meta.configuration = configuration;
        meta.partition_columns = partition_columns;
        meta.schema_string = table_schema.ToSparkJson();
        req.actions.push_back(InitialProtocol(configuration));
        req.actions.push_back(meta);
        req.read_version = -1;
      } else {
        req.read_version = snapshot->version();
        req.read_snapshot = snapshot;
        req.checkpoint_interval = CheckpointIntervalOf(snapshot->metadata());
        if (schema_changed) {
          meta = snapshot->metadata();
          meta.schema_string = table_schema.ToSparkJson();
          req.actions.push_back(meta);
        }
      }
      if (options.mode == WriteMode::kOverwrite && snapshot) {
        req.reads_all_files = true;
        for (const DataFile& f : snapshot->files()) {
          RemoveFile r = RemoveOf(f, now, /*data_change=*/true);
          LP_ASSIGN_OR_RETURN(std::string key, FileKey(r.path, r.deletion_vector));
          req.read_keys.insert(key);
          req.actions.push_back(std::move(r));
          ++removed;
        }
      }
      if (options.txn_app_id) {
        req.txn_app_id = options.txn_app_id;
        req.txn_version = options.txn_version;
        req.actions.push_back(Txn{*options.txn_app_id, options.txn_version, now});
      }
      for (const auto& a : adds) req.actions.push_back(a);
      req.blind_append = options.mode == WriteMode::kAppend && !schema_changed && !creating;
      req.operation = options.operation.empty() ? "WRITE" : options.operation;
      json pcs = partition_columns;
      req.operation_parameters["mode"] = options.mode == WriteMode::kAppend ? "Append" : "Overwrite";
      req.operation_parameters["partitionBy"] = pcs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      for (const auto& [k, v] : options.operation_parameters) req.operation_parameters[k] = v;
      req.operation_metrics["numFiles"] = std::to_string(adds.size());
      req.operation_metrics["numOutputRows"] = std::to_string(rows);
      req.operation_metrics["numOutputBytes"] = std::to_string(bytes);
      if (removed > 0) req.operation_metrics["numRemovedFiles"] = std::to_string(removed);
      // Ours, not Spark's: STRING values written with invalid UTF-8 replaced (U+FFFD).
      if (invalid_utf8 > 0) req.operation_metrics["numInvalidUtf8Replaced"] = std::to_string(invalid_utf8);
      return req;
    };
    LP_ASSIGN_OR_RETURN(CommitRequest req, build());
    int64_t read_version = req.read_version;
    auto outcome = RunCommit(fs, path, table_options, std::move(req));
    if (!outcome.ok() && outcome.status().IsConflict() && creating && options.mode == WriteMode::kAppend) {
      // Another writer created the table first: several runs appending to one table at a
      // LOCATION start together (docs/scale-out.md). With the same columns and partitioning
      // our files are valid on top of its version 0, so they are appended there (at the
      // next free version, with the usual conflict checks) instead of failing the batch.
      LP_ASSIGN_OR_RETURN(bool adopted, AdoptConcurrentCreation());
      if (adopted) {
        if (already_committed) {
          DiscardFiles();
          result.version = snapshot->version();
          result.already_committed = true;
          return result;
        }
        LP_ASSIGN_OR_RETURN(req, build());
        read_version = req.read_version;
        outcome = RunCommit(fs, path, table_options, std::move(req));
      }
    }
    if (!outcome.ok()) {
      if (outcome.status().IsConflict()) {
        DiscardFiles();
      } else {
        DiscardFilesUnlessCommitted(read_version);
      }
      return outcome.status();
    }
    files_owned_by_log = !outcome->already_committed;
    result.attempts = outcome->attempts;
    result.version = outcome->version;
    result.checkpoint_error = outcome->checkpoint_error;
    if (outcome->already_committed) {
      DiscardFiles();
      result.already_committed = true;
      return result;
    }
    result.num_files = static_cast<int64_t>(adds.size());
    result.num_rows = rows;
    result.num_bytes = bytes;
    return result;
  }
};

TableWriter::TableWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TableWriter::~TableWriter() = default;
Status TableWriter::Write(const RecordBatch& batch) { return impl_->Write(batch); }
Result<CommitResult> TableWriter::Commit() { return impl_->Commit(); }

Result<std::unique_ptr<TableWriter>> DeltaTable::NewWriter(WriteOptions options) const {
  LP_ASSIGN_OR_RETURN(SnapshotPtr snap, Latest());
  LP_RETURN_IF_ERROR(CheckWriteSupport(snap->protocol(), snap->metadata(), path_));
  auto append_only = snap->configuration().find("delta.appendOnly");
  if (options.mode == WriteMode::kOverwrite && append_only != snap->configuration().end() &&
      append_only->second == "true") {
    return Status::InvalidArgument("cannot overwrite Delta table " + path_ +
                                   ": it is append-only (delta.appendOnly = true)");
  }
  auto impl = TableWriter::Impl::ForSnapshot(fs_, path_, options_, snap);
  if (options.txn_app_id) {
    auto v = snap->TxnVersion(*options.txn_app_id);
    if (v && *v >= options.txn_version) impl->already_committed = true;
  }
  impl->options = std::move(options);
  return std::unique_ptr<TableWriter>(new TableWriter(std::move(impl)));
}

Result<std::unique_ptr<TableWriter>> DeltaTable::NewWriter(const std::string& path,
                                                           WriteOptions options, FileSystem* fs,
                                                           TableOptions table_options) {
  if (Exists(path, fs)) {
    LP_ASSIGN_OR_RETURN(auto table, Open(path, fs, table_options));
    return table->NewWriter(std::move(options));
  }
  if (!options.create_if_missing) {
    return Status::NotFound("no Delta table at " + path +
                            " (set create_if_missing to create one)");
  }
  auto impl = std::make_unique<TableWriter::Impl>();
  impl->fs = fs;
  impl->path = path;
  impl->table_options = table_options;
  impl->creating = true;
  const CreateOptions& create = *options.create_if_missing;
  impl->partition_columns = create.partition_columns;
  impl->configuration = create.configuration;
  if (create.schema.size() > 0) {
    impl->table_schema = MakeNullable(create.schema);
    impl->schema_known = true;
    for (auto& pc : impl->partition_columns) {
      int idx = impl->table_schema.FindField(pc);
      if (idx < 0) {
        return Status::InvalidArgument("partition column '" + pc + "' is not in the schema (" +
                                       impl->table_schema.ToDDL() + ")");
      }
      pc = impl->table_schema.field(static_cast<size_t>(idx)).name;
    }
    impl->RebuildDataSchema();
  }
  impl->options = std::move(options);
  return std::unique_ptr<TableWriter>(new TableWriter(std::move(impl)));
}

Result<CommitResult> DeltaTable::Write(const std::vector<RecordBatch>& batches,
                                       WriteOptions options) const {
  LP_ASSIGN_OR_RETURN(auto writer, NewWriter(std::move(options)));
  for (const auto& b : batches) LP_RETURN_IF_ERROR(writer->Write(b));
  return writer->Commit();
}

}  // namespace lakepipe::delta

// ---- OPTIMIZE -----------------------------------------------------------------------

namespace lakepipe::delta {

int CompactionLevel(const AddFile& add) {
  if (!add.tags) return 0;
  auto it = add.tags->find(kCompactedTag);
  if (it == add.tags->end()) return 0;
  int level = 0;
  for (char c : it->second) {
    if (c < '0' || c > '9' || level > 1000) return 1;  // not ours to read: an output all the same
    level = level * 10 + (c - '0');
  }
  return std::max(level, 1);
}

std::vector<std::vector<const DataFile*>> PlanOptimize(const std::vector<DataFile>& files,
                                                       const OptimizeOptions& options) {
  const int64_t small_below = options.min_file_bytes > 0 ? options.min_file_bytes : options.target_file_bytes;
  const size_t min_files = static_cast<size_t>(std::max(2, options.min_files));
  // Small files per partition, by level (0: no OPTIMIZE wrote it; k: written by one that
  // took files of level k - 1 at most). Without separate_compacted, one group.
  std::map<std::string, std::map<int, std::vector<const DataFile*>>> by_partition;
  for (const DataFile& f : files) {
    if (f.add.size >= small_below) continue;
    std::string key;
    for (const auto& [k, v] : f.add.partition_values) key += k + "=" + (v ? "v" + *v : "n") + "\x1f";
    by_partition[key][options.separate_compacted ? CompactionLevel(f.add) : 0].push_back(&f);
  }
  std::vector<std::vector<const DataFile*>> bins;
  for (auto& [key, levels] : by_partition) {
    // A level is taken when it alone reaches min_files, or when the level below is taken
    // and the output would make it reach min_files (it joins now rather than at the next
    // look). So after a compaction no level holds min_files small files: a look with no
    // new small files finds nothing to do.
    std::vector<const DataFile*> candidates;
    bool below_taken = false;
    int previous = -1;
    for (auto& [level, group] : levels) {
      bool next_to_taken = below_taken && level == previous + 1;
      if (group.size() >= min_files || (next_to_taken && group.size() + 1 >= min_files)) {
        candidates.insert(candidates.end(), group.begin(), group.end());
        below_taken = true;
      } else {
        below_taken = false;
      }
      previous = level;
    }
    if (candidates.size() < 2) continue;
    // Smallest first, packed into bins of about the target size; a bin of one file would
    // only copy it.
    std::sort(candidates.begin(), candidates.end(), [](const DataFile* a, const DataFile* b) {
      return a->add.size != b->add.size ? a->add.size < b->add.size : a->add.path < b->add.path;
    });
    std::vector<const DataFile*> bin;
    int64_t bin_bytes = 0;
    for (const DataFile* f : candidates) {
      if (!bin.empty() && bin_bytes + f->add.size > options.target_file_bytes) {
        if (bin.size() >= 2) bins.push_back(bin);
        bin.clear();
        bin_bytes = 0;
      }
      bin.push_back(f);
      bin_bytes += f->add.size;
    }
    if (bin.size() >= 2) bins.push_back(bin);
  }
  return bins;
}

Result<OptimizeResult> DeltaTable::Optimize(const OptimizeOptions& options) const {
  LP_ASSIGN_OR_RETURN(SnapshotPtr snap, Latest());
  LP_RETURN_IF_ERROR(CheckWriteSupport(snap->protocol(), snap->metadata(), path_));
  OptimizeResult result;
  std::vector<std::vector<const DataFile*>> bins = PlanOptimize(snap->files(), options);
  if (bins.empty()) return result;

  auto impl = TableWriter::Impl::ForSnapshot(fs_, path_, options_, snap);
  impl->options.target_file_bytes = options.target_file_bytes;

  LP_ASSIGN_OR_RETURN(Scan scan, Scan::Plan(snap, {}));
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < scan.files().size(); ++i) index[scan.files()[i].add.path] = i;

  int64_t now = options_.clock->NowMillis();
  CommitRequest req;
  req.read_version = snap->version();
  req.checkpoint_interval = CheckpointIntervalOf(snap->metadata());
  int64_t removed_bytes = 0;
  std::vector<int> output_levels;  // of each output file, in impl->adds order
  for (const auto& bin : bins) {
    int level = 0;
    for (const DataFile* f : bin) level = std::max(level, CompactionLevel(f->add));
    for (const DataFile* f : bin) {
      LP_ASSIGN_OR_RETURN(RecordBatch batch, scan.ReadFile(index.at(f->add.path)));
      Status st = impl->Write(batch);
      if (!st.ok()) {
        impl->DiscardFiles();
        return st;
      }
      // OPTIMIZE only rearranges rows: dataChange false, so streaming readers skip it.
      RemoveFile r = RemoveOf(*f, now, /*data_change=*/false);
      LP_ASSIGN_OR_RETURN(std::string key, FileKey(r.path, r.deletion_vector));
      req.read_keys.insert(key);
      req.actions.push_back(std::move(r));
      removed_bytes += f->add.size;
      ++result.files_removed;
    }
    // One output file (or more, past the target size) per bin.
    Status st = impl->CloseAll();
    if (!st.ok()) {
      impl->DiscardFiles();
      return st;
    }
    output_levels.resize(impl->adds.size(), level + 1);
  }
  for (size_t i = 0; i < impl->adds.size(); ++i) {
    AddFile a = impl->adds[i];
    a.data_change = false;  // OPTIMIZE rearranges data; it changes none
    // Marked with its level, so that auto-compaction tells its own outputs from new small
    // files (PlanOptimize).
    if (!a.tags) a.tags.emplace();
    (*a.tags)[kCompactedTag] = std::to_string(output_levels[i]);
    req.actions.push_back(std::move(a));
  }
  result.files_added = static_cast<int64_t>(impl->adds.size());
  // Each file about to be removed gets "now" as its modification time, durably, before the
  // commit, and its remove the tag saying so: every VACUUM that lists files then keeps it
  // for the table's retention after its removal by its time alone, and its tombstone may
  // leave the snapshot and the checkpoints after an hour (delta/mtime_kept.h). The time is
  // taken after deletionTimestamp, so the file's time is never the earlier of the two. A
  // file whose time cannot be set keeps an untagged remove (the full retention); a crash
  // before the commit only leaves live files looking younger to VACUUM.
  const int64_t touched_at = std::max(now, options_.clock->NowMillis());
  for (Action& action : req.actions) {
    auto* remove = std::get_if<RemoveFile>(&action);
    if (remove == nullptr) continue;
    auto full = ResolveDataPath(path_, remove->path);
    if (!full.ok() || !KeepRemovedFileByTime(*full, touched_at).ok()) continue;
    if (!remove->tags) remove->tags.emplace();
    (*remove->tags)[kMtimeKeptTag] = "true";
    ++result.files_kept_by_time;
  }
  req.operation = "OPTIMIZE";
  req.operation_parameters["predicate"] = "[]";
  req.operation_parameters["zOrderBy"] = "[]";
  req.operation_metrics["numRemovedFiles"] = std::to_string(result.files_removed);
  req.operation_metrics["numAddedFiles"] = std::to_string(result.files_added);
  req.operation_metrics["numRemovedBytes"] = std::to_string(removed_bytes);
  req.operation_metrics["numAddedBytes"] = std::to_string(impl->bytes);
  int64_t read_version = req.read_version;
  auto outcome = RunCommit(fs_, path_, options_, std::move(req));
  if (!outcome.ok()) {
    if (outcome.status().IsConflict()) {
      impl->DiscardFiles();
    } else {
      impl->DiscardFilesUnlessCommitted(read_version);
    }
    return outcome.status();
  }
  impl->files_owned_by_log = true;
  result.version = outcome->version;
  result.checkpoint_error = outcome->checkpoint_error;
  return result;
}

}  // namespace lakepipe::delta

// ---- data files for row-level changes --------------------------------------------------

namespace lakepipe::delta {

struct WriterAccess {
  using Impl = TableWriter::Impl;
};

Result<StagedFiles> WriteDataFiles(FileSystem* fs, const std::string& table_path,
                                   const TableOptions& options, const SnapshotPtr& snap,
                                   const std::vector<RecordBatch>& batches,
                                   int64_t target_file_bytes, const parquet::WriteOptions& parquet) {
  auto impl = WriterAccess::Impl::ForSnapshot(fs, table_path, options, snap);
  impl->options.target_file_bytes = target_file_bytes;
  impl->options.parquet = parquet;
  // Rows come from the table itself or are made to its schema: columns the batch lacks
  // read as NULL, and no schema change happens here.
  impl->options.merge_schema = true;
  for (const RecordBatch& b : batches) {
    for (const Field& f : b.schema().fields()) {
      if (snap->schema().FindField(f.name) < 0) {
        return Status::InvalidArgument("write to " + table_path + " refused: column '" + f.name +
                                       "' is not in the table schema (" + snap->schema().ToDDL() + ")");
      }
    }
    LP_RETURN_IF_ERROR(impl->Write(b));  // ~Impl removes the files on error
  }
  LP_RETURN_IF_ERROR(impl->CloseAll());
  StagedFiles out;
  out.adds = impl->adds;
  out.full_paths = impl->written_paths;
  out.rows = impl->rows;
  out.bytes = impl->bytes;
  impl->files_owned_by_log = true;  // the caller owns them now (DiscardStagedFiles)
  return out;
}

Result<StagedFiles> WritePatchedFiles(FileSystem* fs, const std::string& table_path, const TableOptions& options,
                                      const SnapshotPtr& snap, const std::vector<FilePatch>& patches,
                                      int64_t target_file_bytes, const parquet::WriteOptions& parquet,
                                      std::vector<size_t>* refused) {
  auto impl = WriterAccess::Impl::ForSnapshot(fs, table_path, options, snap);
  impl->options.target_file_bytes = target_file_bytes;
  impl->options.parquet = parquet;
  std::set<std::string> filled;  // output files (by partition key) holding a patched file
  for (size_t i = 0; i < patches.size(); ++i) {
    const FilePatch& p = patches[i];
    const DataFile& f = *p.file;
    // Float columns that held a NaN have no min/max in add.stats (BuildStatsJson): a copied
    // one keeps that mark, read from the source's stats; nested ones are not patched.
    std::set<std::string> nans;
    bool patchable = true;
    auto stats = snap->Stats(f);
    for (const Field& field : impl->data_schema.fields()) {
      bool replaced = p.columns.schema().FindField(field.name) >= 0;
      const DataType& t = field.type;
      if (t.is_nested()) {
        std::function<bool(const DataType&)> has_float = [&](const DataType& d) {
          if (d.id() == TypeId::kFloat || d.id() == TypeId::kDouble) return true;
          for (const Field& c : d.fields()) if (has_float(c.type)) return true;
          if (d.id() == TypeId::kArray) return has_float(d.element());
          if (d.id() == TypeId::kMap) return has_float(d.key()) || has_float(d.value());
          return false;
        };
        if (has_float(t)) patchable = false;
        continue;
      }
      if (t.id() != TypeId::kFloat && t.id() != TypeId::kDouble) continue;
      if (replaced) {
        FindNans(*p.columns.ColumnByName(field.name), field.name, &nans);
        continue;
      }
      if (!stats.ok() || !stats->num_records) { patchable = false; continue; }
      auto nc = stats->null_count.find(field.name);
      bool all_null = nc != stats->null_count.end() && nc->second == *stats->num_records;
      if (!all_null && (!stats->min_values.count(field.name) || !stats->max_values.count(field.name))) nans.insert(field.name);
    }
    if (!patchable) {
      refused->push_back(i);
      continue;
    }
    std::string key;
    for (const auto& [k, v] : f.add.partition_values) key += k + (v ? "=v" + *v : "=n") + '\n';
    LP_ASSIGN_OR_RETURN(WriterAccess::Impl::OpenFile * out, impl->FileFor(key, f.add.partition_values));
    Status st = out->writer->AppendPatched(fs, f.full_path, p.columns);
    if (st.code() == StatusCode::kNotSupported) {
      refused->push_back(i);
      continue;
    }
    LP_RETURN_IF_ERROR(st);  // ~Impl removes the files on error
    filled.insert(key);
    out->nan_columns.insert(nans.begin(), nans.end());
    if (out->writer->EstimatedSize() >= target_file_bytes) {
      LP_RETURN_IF_ERROR(impl->CloseFile(*out));
      impl->open.erase(key);
      filled.erase(key);
    }
  }
  // An output file opened for patches that were all refused holds no row: not added.
  for (auto it = impl->open.begin(); it != impl->open.end();) {
    if (filled.count(it->first)) {
      ++it;
      continue;
    }
    LP_RETURN_IF_ERROR(it->second.writer->Close().status());
    (void)fs->RemoveFile(it->second.full);
    it = impl->open.erase(it);
  }
  LP_RETURN_IF_ERROR(impl->CloseAll());
  StagedFiles out;
  out.adds = impl->adds;
  out.full_paths = impl->written_paths;
  out.rows = impl->rows;
  out.bytes = impl->bytes;
  out.copied_bytes = impl->copied_bytes;
  impl->files_owned_by_log = true;  // the caller owns them now (DiscardStagedFiles)
  return out;
}

Result<StagedFiles> WriteChangeDataFiles(FileSystem* fs, const std::string& table_path,
                                         const TableOptions& options, const SnapshotPtr& snap,
                                         const RecordBatch& changes,
                                         const parquet::WriteOptions& parquet) {
  auto impl = WriterAccess::Impl::ForSnapshot(fs, table_path, options, snap);
  // The file schema is the table's plus `_change_type` (PROTOCOL.md, "Change Data Files").
  impl->table_schema.AddField(Field{kChangeTypeColumn, DataType::String(), true});
  impl->RebuildDataSchema();
  impl->folder_prefix = "_change_data/";
  impl->name_prefix = "cdc";
  impl->options.parquet = parquet;
  LP_RETURN_IF_ERROR(impl->Write(changes));  // ~Impl removes the files on error
  LP_RETURN_IF_ERROR(impl->CloseAll());
  StagedFiles out;
  for (const AddFile& a : impl->adds) {
    json v = json::object();
    v["path"] = a.path;
    json pv = json::object();
    for (const auto& [k, val] : a.partition_values) pv[k] = val ? json(*val) : json(nullptr);
    v["partitionValues"] = std::move(pv);
    v["size"] = a.size;
    v["dataChange"] = false;  // cdc files never change the table's data
    out.cdc.push_back(OtherAction{"cdc", v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
  }
  out.full_paths = impl->written_paths;
  out.bytes = impl->bytes;
  impl->files_owned_by_log = true;  // the caller owns them now (DiscardStagedFiles)
  return out;
}

bool ChangeDataFeedEnabled(const Protocol& protocol, const Metadata& metadata) {
  auto it = metadata.configuration.find("delta.enableChangeDataFeed");
  if (it == metadata.configuration.end()) return false;
  std::string v = it->second;
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v != "true") return false;
  if (protocol.min_writer_version == 7) {
    const auto& f = protocol.writer_features;
    return f && std::find(f->begin(), f->end(), "changeDataFeed") != f->end();
  }
  return true;
}

Protocol InitialProtocol(const StringMap& configuration) {
  Protocol p;
  Metadata m;
  m.configuration = configuration;
  if (ChangeDataFeedEnabled(p, m)) p.min_writer_version = 4;
  return p;
}

void DiscardStagedFiles(FileSystem* fs, const std::string& table_path, const StagedFiles& staged,
                        int64_t read_version, bool commit_may_be_visible) {
  std::string marker;
  if (!staged.adds.empty()) {
    marker = staged.adds.front().path;
  } else if (!staged.cdc.empty()) {
    auto v = nlohmann::json::parse(staged.cdc.front().json, nullptr, false);
    if (v.is_object() && v.contains("path") && v["path"].is_string()) marker = v["path"].get<std::string>();
  }
  if (commit_may_be_visible && !marker.empty()) {
    for (int64_t v = read_version + 1;; ++v) {
      std::string commit = JoinPath(LogDir(table_path), CommitFileName(v));
      if (!fs->Exists(commit)) break;
      auto text = fs->ReadFile(commit);
      if (!text.ok() || text->find("\"" + marker + "\"") != std::string::npos) return;
    }
  }
  for (const auto& p : staged.full_paths) (void)fs->RemoveFile(p);
}

RemoveFile RemoveOf(const DataFile& file, int64_t deletion_timestamp, bool data_change) {
  RemoveFile r;
  r.path = file.add.path;
  r.deletion_timestamp = deletion_timestamp;
  r.data_change = data_change;
  r.extended_file_metadata = true;
  r.partition_values = file.add.partition_values;
  r.size = file.add.size;
  r.stats = file.add.stats;
  r.tags = file.add.tags;
  // Only OPTIMIZE may say a removed file is kept by its time, after setting that time: the
  // tag copied from an add (some writer's) would let the tombstone go early unprotected.
  if (r.tags && r.tags->erase(kMtimeKeptTag) > 0 && r.tags->empty()) r.tags.reset();
  return r;
}

}  // namespace lakepipe::delta
