#include "delta/change_feed.h"

#include <strings.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "delta/commit_file_time.h"
#include "delta/log_cleanup.h"
#include "delta/table_internal.h"

namespace lakepipe::delta {

namespace {

bool IsFeedColumn(const std::string& name);

// Only feed columns asked for: a table column is still read (to count rows), not returned.
bool OnlyFeedColumns(const ChangeFeedOptions& options) {
  return !options.columns.empty() &&
         std::all_of(options.columns.begin(), options.columns.end(), [](const std::string& c) { return IsFeedColumn(c); });
}

bool IsFeedColumn(const std::string& name) {
  return strcasecmp(name.c_str(), kChangeTypeColumn) == 0 || strcasecmp(name.c_str(), kCommitVersionColumn) == 0 ||
         strcasecmp(name.c_str(), kCommitTimestampColumn) == 0;
}

// The requested table columns (without the feed columns); empty = all.
std::vector<std::string> TableColumns(const ChangeFeedOptions& options, const Schema& schema) {
  std::vector<std::string> out;
  for (const auto& c : options.columns) {
    if (!IsFeedColumn(c)) out.push_back(c);
  }
  if (out.empty() && !options.columns.empty()) {
    // Only feed columns were asked for: still read one table column to count rows.
    if (schema.size() > 0) out.push_back(schema.field(0).name);
  }
  return out;
}

Column RepeatInt64(const DataType& type, int64_t v, int64_t n) {
  Column c(type);
  c.Reserve(n);
  for (int64_t i = 0; i < n; ++i) c.Append<int64_t>(v);
  return c;
}

Column RepeatString(const std::string& v, int64_t n) {
  Column c(DataType::String());
  c.Reserve(n);
  for (int64_t i = 0; i < n; ++i) c.AppendString(v);
  return c;
}

// `rows` (table columns, maybe with `_change_type` last) with the feed columns appended.
RecordBatch WithFeedColumns(const RecordBatch& rows, const std::vector<std::string>& wanted,
                            const std::string* change_type, int64_t version, int64_t timestamp_millis,
                            bool keep_table_columns) {
  Schema schema;
  std::vector<ColumnPtr> cols;
  int64_t n = rows.num_rows();
  if (keep_table_columns) {
    for (size_t i = 0; i < rows.num_columns(); ++i) {
      const Field& f = rows.schema().field(i);
      if (strcasecmp(f.name.c_str(), kChangeTypeColumn) == 0) continue;
      if (!wanted.empty() && std::none_of(wanted.begin(), wanted.end(), [&](const std::string& w) {
            return strcasecmp(w.c_str(), f.name.c_str()) == 0;
          }))
        continue;
      schema.AddField(f);
      cols.push_back(rows.column_ptr(i));
    }
  }
  schema.AddField(Field{kChangeTypeColumn, DataType::String(), true});
  if (change_type != nullptr) {
    cols.push_back(MakeColumn(RepeatString(*change_type, n)));
  } else {
    int ci = rows.schema().FindField(kChangeTypeColumn);
    cols.push_back(ci >= 0 ? rows.column_ptr(static_cast<size_t>(ci))
                           : MakeColumn(Column::Nulls(DataType::String(), n)));
  }
  schema.AddField(Field{kCommitVersionColumn, DataType::Long(), true});
  cols.push_back(MakeColumn(RepeatInt64(DataType::Long(), version, n)));
  schema.AddField(Field{kCommitTimestampColumn, DataType::Timestamp(), true});
  cols.push_back(MakeColumn(RepeatInt64(DataType::Timestamp(), timestamp_millis * 1000, n)));
  return RecordBatch(std::move(schema), std::move(cols), n);
}

struct CdcFile {
  std::string path;
  PartitionValues partition_values;
  int64_t size = 0;
};

Result<CdcFile> ParseCdc(const OtherAction& a, const std::string& commit) {
  auto v = nlohmann::json::parse(a.json, nullptr, false);
  if (!v.is_object() || !v.contains("path") || !v["path"].is_string()) {
    return Status::Corruption(commit + ": cdc action without a path");
  }
  CdcFile f;
  f.path = v["path"].get<std::string>();
  if (v.contains("partitionValues") && v["partitionValues"].is_object()) {
    for (auto it = v["partitionValues"].begin(); it != v["partitionValues"].end(); ++it) {
      if (it.value().is_string()) f.partition_values[it.key()] = it.value().get<std::string>();
      else f.partition_values[it.key()] = std::nullopt;
    }
  }
  if (v.contains("size") && v["size"].is_number_integer()) f.size = v["size"].get<int64_t>();
  return f;
}

}  // namespace

bool HasChangeDataFeed(const Snapshot& snapshot) {
  return ChangeDataFeedEnabled(snapshot.protocol(), snapshot.metadata());
}

Schema ChangeFeedSchema(const Schema& columns) {
  Schema s = columns;
  s.AddField(Field{kChangeTypeColumn, DataType::String(), true});
  s.AddField(Field{kCommitVersionColumn, DataType::Long(), true});
  s.AddField(Field{kCommitTimestampColumn, DataType::Timestamp(), true});
  return s;
}

struct ChangeReader::Group {
  int64_t version = 0;
  int64_t timestamp_millis = 0;
  bool cdc = false;          // change data files: each row says its own _change_type
  std::string change_type;   // otherwise the type of every row (insert or delete)
  FileMap<AddFile> files;
};

ChangeReader::~ChangeReader() = default;

Result<std::unique_ptr<ChangeReader>> ChangeReader::Open(const DeltaTable& table, int64_t start_version,
                                                         int64_t end_version, const ChangeFeedOptions& options) {
  std::unique_ptr<ChangeReader> reader(new ChangeReader());
  reader->path_ = table.path();
  reader->fs_ = table.fs();
  if (start_version < 0) return Status::InvalidArgument("change data feed start version must be >= 0");
  if (start_version > end_version) return reader;
  LP_ASSIGN_OR_RETURN(SnapshotPtr end, table.Latest());
  if (end->version() < end_version) {
    return Status::InvalidArgument("table " + table.path() + " has no version " + std::to_string(end_version) +
                                   " yet (latest is " + std::to_string(end->version()) + ")");
  }
  // The latest snapshot has end_version's schema and settings unless a later commit
  // changed the metadata.
  if (end->version() != end_version && end->state().metadata_version > end_version) {
    LP_ASSIGN_OR_RETURN(end, table.AtVersion(end_version));
  }
  reader->ReadAs(*end, options);

  // Commit times as time travel uses them: the commit file's modification time made
  // monotonic over the log (inCommitTimestamp where the commit has one). A read at or after
  // the newest checkpoint (a publication step, each batch) takes the log from there, not a
  // listing of its millions of commits: monotonic from the checkpoint on, which differs
  // from the whole log's only if a commit file before the checkpoint is newer than one
  // after it (a clock set back).
  std::optional<LogListing> tail = ListLogFromHint(table.fs(), table.path());
  if (tail && (tail->versions.empty() || tail->versions.front() > start_version)) tail.reset();
  LP_ASSIGN_OR_RETURN(LogListing listing, tail ? Result<LogListing>(std::move(*tail)) : ListLog(table.fs(), table.path()));
  std::map<int64_t, int64_t> times;
  {
    int64_t prev = INT64_MIN;
    for (size_t k = 0; k < listing.versions.size() && listing.versions[k] <= end_version; ++k) {
      int64_t t = CommitFileMillis(table.fs(), table.path(), listing.commit_files[k]);
      if (prev != INT64_MIN && t <= prev) t = prev + 1;
      prev = t;
      times[listing.versions[k]] = t;
    }
  }
  // Whether the feed was recorded at each version: the end's setting, unless a metaData
  // action inside the range changed it (then the setting before the range applies
  // until that action).
  bool cdf = HasChangeDataFeed(*end);
  std::vector<std::pair<int64_t, std::vector<Action>>> commits;
  bool metadata_changes = false;
  for (int64_t v = start_version; v <= end_version; ++v) {
    std::string name = CommitFileName(v);
    auto text = table.fs()->ReadFile(JoinPath(LogDir(table.path()), name));
    if (!text.ok()) {
      if (text.status().IsNotFound()) {
        Status expired = CheckVersionRetained(table.fs(), table.path(), v);
        if (!expired.ok()) {
          return Status::NotFound("the change data feed of " + table.path() + " cannot be read from version " +
                                  std::to_string(start_version) + ": " + expired.message());
        }
        return Status::NotFound("table " + table.path() + ": commit " + std::to_string(v) +
                                " is missing from _delta_log (it may have been cleaned up); the change "
                                "data feed cannot be read from version " + std::to_string(start_version));
      }
      return text.status();
    }
    LP_ASSIGN_OR_RETURN(std::vector<Action> actions, ParseActions(*text, name));
    for (const Action& a : actions) metadata_changes |= std::holds_alternative<Metadata>(a);
    commits.emplace_back(v, std::move(actions));
  }
  Protocol protocol = end->protocol();
  Metadata metadata = end->metadata();
  if (metadata_changes && start_version > 0) {
    LP_ASSIGN_OR_RETURN(SnapshotPtr before, table.AtVersion(start_version - 1));
    protocol = before->protocol();
    metadata = before->metadata();
    cdf = ChangeDataFeedEnabled(protocol, metadata);
  }
  for (auto& [v, actions] : commits) {
    if (metadata_changes) {
      for (const Action& a : actions) {
        if (const auto* m = std::get_if<Metadata>(&a)) metadata = *m;
        if (const auto* p = std::get_if<Protocol>(&a)) protocol = *p;
      }
      cdf = ChangeDataFeedEnabled(protocol, metadata);
    }
    int64_t ts = times.count(v) ? times[v] : end->timestamp_millis();
    for (const Action& a : actions) {
      if (const auto* c = std::get_if<CommitInfo>(&a); c && c->in_commit_timestamp) ts = *c->in_commit_timestamp;
    }
    std::map<std::string, AddFile> cdc_files, added, removed;
    bool removes_rows = false;
    for (const Action& a : actions) {
      if (const auto* o = std::get_if<OtherAction>(&a); o && o->kind == "cdc") {
        LP_ASSIGN_OR_RETURN(CdcFile f, ParseCdc(*o, CommitFileName(v)));
        AddFile as_add;
        as_add.path = f.path;
        as_add.partition_values = f.partition_values;
        as_add.size = f.size;
        LP_ASSIGN_OR_RETURN(std::string key, FileKey(f.path, std::nullopt));
        cdc_files[key] = std::move(as_add);
      } else if (const auto* add = std::get_if<AddFile>(&a)) {
        if (!add->data_change) continue;
        LP_ASSIGN_OR_RETURN(std::string key, FileKey(add->path, add->deletion_vector));
        added[key] = *add;
      } else if (const auto* r = std::get_if<RemoveFile>(&a)) {
        if (!r->data_change) continue;
        removes_rows = true;
        if (r->deletion_vector) {
          return Status::NotSupported("table " + table.path() + ": version " + std::to_string(v) +
                                      " removes a file with a deletion vector; its change data cannot be derived");
        }
        if (!r->partition_values && !end->partition_columns().empty()) {
          return Status::NotSupported("table " + table.path() + ": version " + std::to_string(v) +
                                      " removes file " + r->path + " without its partition values");
        }
        AddFile as_add;
        as_add.path = r->path;
        as_add.partition_values = r->partition_values.value_or(PartitionValues{});
        as_add.size = r->size.value_or(0);
        as_add.stats = r->stats;
        LP_ASSIGN_OR_RETURN(std::string key, FileKey(r->path, std::nullopt));
        removed[key] = std::move(as_add);
      }
    }
    auto add_group = [&](bool cdc, const char* type, const std::map<std::string, AddFile>& files) {
      if (files.empty()) return;
      reader->may_hold_non_inserts_ |= cdc || std::string(type) != kChangeInsert;
      reader->groups_.push_back(Group{v, ts, cdc, type, FileMap<AddFile>(files)});
    };
    if (!cdc_files.empty()) {
      add_group(true, "", cdc_files);
      continue;
    }
    if (removes_rows && !cdf && !options.derive_from_files) {
      return Status::NotSupported(
          "table " + table.path() + ": version " + std::to_string(v) +
          " deletes or rewrites rows but the table did not record its change data feed then "
          "(TBLPROPERTIES (delta.enableChangeDataFeed = true) when the table is created, or a full "
          "refresh to rebuild it with it); read from a later version");
    }
    add_group(false, kChangeDelete, removed);
    add_group(false, kChangeInsert, added);
  }
  return reader;
}

void ChangeReader::ReadAs(const Snapshot& end, const ChangeFeedOptions& options) {
  base_ = end.state();
  base_.files = FileMap<AddFile>();
  columns_ = TableColumns(options, end.schema());
  keep_table_columns_ = !OnlyFeedColumns(options);
  Schema with_type = end.schema();
  with_type.AddField(Field{kChangeTypeColumn, DataType::String(), true});
  cdc_schema_string_ = with_type.ToSparkJson();
}

// Plans the scan of groups_[group_]'s files: change data files with the table's columns
// and `_change_type`, others with the table's (as of the end version).
Status ChangeReader::OpenGroup() {
  Group& g = groups_[group_];
  TableState state = base_;
  state.files = std::move(g.files);
  std::vector<std::string> cols = columns_;
  if (g.cdc) {
    state.metadata.schema_string = cdc_schema_string_;
    if (!cols.empty()) cols.push_back(kChangeTypeColumn);
  }
  LP_ASSIGN_OR_RETURN(SnapshotPtr snap, Snapshot::Make(path_, std::move(state), fs_));
  ScanOptions so;
  so.columns = std::move(cols);
  LP_ASSIGN_OR_RETURN(Scan scan, Scan::Plan(snap, so));
  scan_ = std::make_unique<Scan>(std::move(scan));
  file_ = 0;
  return Status::OK();
}

Result<bool> ChangeReader::NextInGroup(RecordBatch* rows) {
  while (file_ < scan_->files().size()) {
    if (file_reader_ == nullptr) {
      LP_ASSIGN_OR_RETURN(file_reader_, scan_->OpenFile(file_));
    }
    LP_ASSIGN_OR_RETURN(bool more, file_reader_->Next(rows));
    if (more) return true;
    file_reader_.reset();
    ++file_;
  }
  return false;
}

Result<bool> ChangeReader::Next(RecordBatch* out) {
  for (; group_ < groups_.size(); ++group_, scan_.reset()) {
    if (scan_ == nullptr) LP_RETURN_IF_ERROR(OpenGroup());
    RecordBatch rows;
    Result<bool> more = NextInGroup(&rows);
    if (!more.ok()) {
      if (!more.status().IsNotFound()) return more.status();
      return Status::NotFound("table " + path_ + ": file " + scan_->files()[file_].add.path +
                              " of the change data feed is gone (removed by VACUUM?): " + more.status().message());
    }
    if (*more) {
      const Group& g = groups_[group_];
      *out = WithFeedColumns(rows, columns_, g.cdc ? nullptr : &g.change_type, g.version, g.timestamp_millis,
                             keep_table_columns_);
      return true;
    }
  }
  return false;
}

Result<std::unique_ptr<ChangeReader>> ChangeReader::OpenSnapshot(const SnapshotPtr& snapshot,
                                                                 const ChangeFeedOptions& options) {
  std::unique_ptr<ChangeReader> reader(new ChangeReader());
  reader->path_ = snapshot->table_path();
  reader->fs_ = snapshot->fs();
  reader->ReadAs(*snapshot, options);
  if (!snapshot->state().files.empty()) {
    reader->groups_.push_back(
        Group{snapshot->version(), snapshot->timestamp_millis(), false, kChangeInsert, snapshot->state().files});
  }
  return reader;
}

namespace {
Result<std::vector<RecordBatch>> ReadAll(ChangeReader& reader) {
  std::vector<RecordBatch> out;
  RecordBatch b;
  while (true) {
    LP_ASSIGN_OR_RETURN(bool more, reader.Next(&b));
    if (!more) return out;
    out.push_back(std::move(b));
  }
}
}  // namespace

Result<std::vector<RecordBatch>> ReadChanges(const DeltaTable& table, int64_t start_version, int64_t end_version,
                                             const ChangeFeedOptions& options) {
  LP_ASSIGN_OR_RETURN(auto reader, ChangeReader::Open(table, start_version, end_version, options));
  return ReadAll(*reader);
}

Result<std::vector<RecordBatch>> SnapshotAsInserts(const SnapshotPtr& snapshot, const ChangeFeedOptions& options) {
  LP_ASSIGN_OR_RETURN(auto reader, ChangeReader::OpenSnapshot(snapshot, options));
  return ReadAll(*reader);
}

}  // namespace lakepipe::delta
