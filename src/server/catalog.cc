#include "server/catalog.h"

#include <algorithm>
#include <cctype>

#include "runtime/event_log.h"

namespace lakepipe::server {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A table name the pipeline defined, usable as one folder name under the storage root.
// Backquoted SQL identifiers can hold anything; such a dataset is listed but never read.
bool SafeFolderName(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  return name.find_first_of(std::string("/\\\0", 3)) == std::string::npos;
}

// A name from a request, shortened for an error message.
std::string Shown(std::string_view name) {
  std::string s(name.substr(0, 120));
  if (name.size() > 120) s += "...";
  return s;
}

std::string QuoteIdentifier(const std::string& name) {
  std::string out = "`";
  for (char c : name) {
    out += c;
    if (c == '`') out += '`';
  }
  return out + "`";
}

// `path` with "." and ".." segments and repeated slashes resolved lexically.
std::string LexicallyNormal(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t slash = path.find('/', i);
    if (slash == std::string::npos) slash = path.size();
    std::string part = path.substr(i, slash - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = slash + 1;
  }
  std::string out = path.rfind('/', 0) == 0 ? "" : ".";
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

// A Delta log may name data files anywhere (absolute paths, file: URIs, "../"): the
// server reads only files inside the table's own folder, so a log written by someone
// else cannot make it serve other files of the machine.
Status CheckFilesInsideTable(const delta::Snapshot& snapshot) {
  std::string root = LexicallyNormal(snapshot.table_path()) + "/";
  for (const auto& f : snapshot.files()) {
    if (LexicallyNormal(f.full_path).rfind(root, 0) != 0) {
      return Status::Corruption("table " + snapshot.table_path() + " version " +
                                      std::to_string(snapshot.version()) + ": data file `" + f.add.path.substr(0, 300) +
                                      "` is outside the table's folder; the server reads only files inside it");
    }
  }
  return Status::OK();
}

int64_t FileRecords(const delta::Snapshot& snapshot, const delta::DataFile& file) {
  auto stats = snapshot.Stats(file);
  if (!stats.ok() || !stats->num_records) return -1;
  return *stats->num_records;
}

// Appends the rows [offset, offset+limit) of the concatenation of `batches` to `page`.
void TakeRange(const std::vector<RecordBatch>& batches, int64_t* skip, int64_t* want, RowPage* page) {
  for (const auto& b : batches) {
    if (*want <= 0) return;
    int64_t n = b.num_rows();
    if (*skip >= n) {
      *skip -= n;
      continue;
    }
    int64_t take = std::min(n - *skip, *want);
    page->batches.push_back(b.Slice(*skip, take));
    *skip = 0;
    *want -= take;
  }
}

}  // namespace

Catalog::Catalog(runtime::PipelineRunner* runner) : runner_(runner) {
  const auto& pipeline = runner->pipeline();
  std::vector<TableEntry> quarantine;
  for (const auto& ds : runner->resolved().datasets) {
    TableEntry e;
    e.name = ds.name;
    e.kind = sql::DatasetKindName(ds.kind);
    e.comment = pipeline.datasets[ds.dataset_index].comment;
    e.dataset = &ds;
    bool stored = ds.kind != sql::DatasetKind::kView;
    if (stored && SafeFolderName(ds.name)) e.path = runner->TablePath(ds.name);
    entries_.push_back(e);
    if (stored && SafeFolderName(ds.name + "_quarantine")) {
      TableEntry q;
      q.name = ds.name + "_quarantine";
      q.kind = "quarantine";
      q.comment = "rows of " + ds.name + " that failed a QUARANTINE expectation";
      q.dataset = &ds;
      q.path = runner->TablePath(q.name);
      quarantine.push_back(std::move(q));
    }
  }
  entries_.insert(entries_.end(), quarantine.begin(), quarantine.end());
  TableEntry log;
  log.name = "_event_log";
  log.kind = "event log";
  log.comment = "the pipeline's event log (docs/event-log.md)";
  log.path = runtime::EventLog::TablePath(pipeline.settings.storage);
  entries_.push_back(std::move(log));
}

Result<TableEntry> Catalog::Find(std::string_view name) const {
  std::string key = Lower(name);
  for (const auto& e : entries_) {
    if (Lower(e.name) == key) {
      if (!e.stored() && e.kind != "view") {
        return Status::NotFound("table `" + e.name + "` has a name that cannot be a folder; it is not served");
      }
      return e;
    }
  }
  std::string known;
  for (const auto& e : entries_) {
    if (e.kind == "quarantine") continue;
    known += (known.empty() ? "" : ", ") + e.name;
  }
  return Status::NotFound("`" + Shown(name) + "` is not a table of pipeline " + runner_->pipeline().settings.name +
                          "; tables: " + known + " (and <table>_quarantine)");
}

Result<std::shared_ptr<const delta::DeltaTable>> Catalog::OpenTable(const std::string& path) const {
  {
    std::lock_guard<std::mutex> lock(tables_mu_);
    auto it = tables_.find(path);
    if (it != tables_.end()) return it->second;
  }
  FileSystem* fs = FileSystem::Default();
  if (!delta::DeltaTable::Exists(path, fs)) return std::shared_ptr<const delta::DeltaTable>();
  LP_ASSIGN_OR_RETURN(std::unique_ptr<delta::DeltaTable> opened, delta::DeltaTable::Open(path, fs));
  std::shared_ptr<const delta::DeltaTable> table = std::move(opened);
  std::lock_guard<std::mutex> lock(tables_mu_);
  return tables_.emplace(path, table).first->second;
}

Result<delta::SnapshotPtr> Catalog::LatestSnapshot(const std::string& path) const {
  LP_ASSIGN_OR_RETURN(auto table, OpenTable(path));
  if (table == nullptr) return delta::SnapshotPtr();
  auto latest = table->Latest();
  if (!latest.ok() && latest.status().IsNotFound()) {
    // The table was removed (e.g. the storage folder was reset): forget the handle.
    std::lock_guard<std::mutex> lock(tables_mu_);
    tables_.erase(path);
    row_counts_.erase(path);
    return delta::SnapshotPtr();
  }
  return latest;
}

int64_t Catalog::RowCount(const delta::Snapshot& snapshot) const {
  {
    std::lock_guard<std::mutex> lock(tables_mu_);
    auto it = row_counts_.find(snapshot.table_path());
    if (it != row_counts_.end() && it->second.first == snapshot.version()) return it->second.second;
  }
  int64_t rows = snapshot.num_records();
  std::lock_guard<std::mutex> lock(tables_mu_);
  row_counts_[snapshot.table_path()] = {snapshot.version(), rows};
  return rows;
}

Result<TableInfo> Catalog::Info(const TableEntry& entry) const {
  TableInfo info;
  info.entry = entry;
  if (!entry.stored()) return info;
  LP_ASSIGN_OR_RETURN(info.snapshot, LatestSnapshot(entry.path));
  if (info.snapshot == nullptr) return info;
  info.exists = true;
  info.version = info.snapshot->version();
  info.rows = RowCount(*info.snapshot);
  info.files = static_cast<int64_t>(info.snapshot->files().size());
  info.size_bytes = info.snapshot->size_bytes();
  info.last_commit_unix_ms = info.snapshot->timestamp_millis();
  return info;
}

Result<RowPage> Catalog::ReadRows(const TableEntry& entry, int64_t offset, int64_t limit) const {
  RowPage page;
  int64_t skip = offset;
  int64_t want = limit;
  if (!entry.stored()) {
    // A view: computed by the engine. LIMIT bounds what it materialises.
    std::lock_guard<std::mutex> lock(query_mu_);
    LP_ASSIGN_OR_RETURN(auto result, runner_->Query("SELECT * FROM " + QuoteIdentifier(entry.name) + " LIMIT " +
                                                    std::to_string(offset + limit)));
    page.schema = result.schema;
    TakeRange(result.batches, &skip, &want, &page);
    return page;
  }
  LP_ASSIGN_OR_RETURN(TableInfo info, Info(entry));
  if (!info.exists) {
    return Status::NotFound("table `" + entry.name + "` has not been written yet (run the pipeline first)");
  }
  LP_RETURN_IF_ERROR(CheckFilesInsideTable(*info.snapshot));
  page.schema = info.snapshot->schema();
  page.version = info.version;
  page.total_rows = info.rows;
  LP_ASSIGN_OR_RETURN(delta::Scan scan, delta::Scan::Plan(info.snapshot, {}));
  for (size_t i = 0; i < scan.files().size() && want > 0; ++i) {
    // Whole files before the offset are skipped by their statistics, unread.
    int64_t records = FileRecords(*info.snapshot, scan.files()[i]);
    if (records >= 0 && skip >= records) {
      skip -= records;
      continue;
    }
    LP_ASSIGN_OR_RETURN(RecordBatch batch, scan.ReadFile(i));
    TakeRange({batch}, &skip, &want, &page);
  }
  return page;
}

Result<RowPage> Catalog::QueryRows(const std::string& sql, const std::vector<std::string>& tables, int64_t limit,
                                   const std::vector<std::string>& sum_columns) const {
  for (const auto& name : tables) {
    LP_ASSIGN_OR_RETURN(TableEntry entry, Find(name));
    LP_ASSIGN_OR_RETURN(TableInfo info, Info(entry));
    if (!info.exists) return Status::NotFound("table `" + entry.name + "` has not been written yet (run the pipeline first)");
    LP_RETURN_IF_ERROR(CheckFilesInsideTable(*info.snapshot));
  }
  RowPage page;
  std::lock_guard<std::mutex> lock(query_mu_);
  LP_ASSIGN_OR_RETURN(auto result, runner_->Query(sql));
  page.schema = result.schema;
  page.total_rows = 0;
  for (const auto& b : result.batches) page.total_rows += b.num_rows();
  for (const auto& name : sum_columns) {
    int c = page.schema.FindField(name);
    double sum = 0;
    if (c >= 0 && page.schema.field(static_cast<size_t>(c)).type.is_numeric()) {
      for (const auto& b : result.batches) {
        const Column& column = b.column(static_cast<size_t>(c));
        for (int64_t i = 0; i < b.num_rows(); ++i)
          if (column.IsValid(i)) sum += column.GetValue(i).AsDouble();
      }
    }
    page.totals.push_back(sum);
  }
  int64_t skip = 0;
  int64_t want = limit;
  TakeRange(result.batches, &skip, &want, &page);
  return page;
}

Result<int64_t> Catalog::EventLogVersion() const {
  LP_ASSIGN_OR_RETURN(auto table, OpenTable(entries_.back().path));
  if (table == nullptr) return int64_t{-1};
  return table->LatestVersion();
}

namespace {

Status AppendEvents(const RecordBatch& batch, const std::string& file, std::vector<EventRow>* out) {
  const char* names[] = {"timestamp", "pipeline", "table_name", "update_id", "event_type", "level", "message", "details"};
  const Column* cols[8];
  for (int i = 0; i < 8; ++i) {
    cols[i] = batch.ColumnByName(names[i]);
    if (cols[i] == nullptr) return Status::Corruption("event log file " + file + " has no column " + names[i]);
    bool want_string = i != 0;
    TypeId id = cols[i]->type().id();
    if (want_string ? id != TypeId::kString : !(id == TypeId::kTimestamp || id == TypeId::kTimestampNtz)) {
      return Status::Corruption("event log file " + file + ": column " + names[i] + " has type " +
                                cols[i]->type().ToString());
    }
  }
  auto text = [&](int c, int64_t r) { return cols[c]->IsNull(r) ? std::string() : std::string(cols[c]->GetString(r)); };
  for (int64_t r = 0; r < batch.num_rows(); ++r) {
    EventRow e;
    int64_t micros = cols[0]->IsNull(r) ? 0 : cols[0]->Get<int64_t>(r);
    e.timestamp_unix_ms = micros >= 0 ? micros / 1000 : -((-micros + 999) / 1000);
    e.pipeline = text(1, r);
    e.table_is_null = cols[2]->IsNull(r);
    e.table = text(2, r);
    e.update_id = text(3, r);
    e.event_type = text(4, r);
    e.level = text(5, r);
    e.message = text(6, r);
    e.details = text(7, r);
    out->push_back(std::move(e));
  }
  return Status::OK();
}

}  // namespace

Result<EventRows> Catalog::Events() const {
  std::lock_guard<std::mutex> lock(events_mu_);
  LP_ASSIGN_OR_RETURN(auto snapshot, LatestSnapshot(entries_.back().path));
  if (snapshot == nullptr) {
    events_version_ = -1;
    events_files_.clear();
    events_ = std::make_shared<const std::vector<EventRow>>();
    return events_;
  }
  if (events_ && snapshot->version() == events_version_) return events_;
  LP_RETURN_IF_ERROR(CheckFilesInsideTable(*snapshot));

  std::set<std::string> now;
  for (const auto& f : snapshot->files()) now.insert(f.full_path);
  bool append_only = events_ != nullptr &&
                     std::includes(now.begin(), now.end(), events_files_.begin(), events_files_.end());
  auto rows = std::make_shared<std::vector<EventRow>>();
  if (append_only) *rows = *events_;
  LP_ASSIGN_OR_RETURN(delta::Scan scan, delta::Scan::Plan(snapshot, {}));
  for (size_t i = 0; i < scan.files().size(); ++i) {
    const std::string& path = scan.files()[i].full_path;
    if (append_only && events_files_.count(path)) continue;
    LP_ASSIGN_OR_RETURN(RecordBatch batch, scan.ReadFile(i));
    LP_RETURN_IF_ERROR(AppendEvents(batch, path, rows.get()));
  }
  std::stable_sort(rows->begin(), rows->end(),
                   [](const EventRow& a, const EventRow& b) { return a.timestamp_unix_ms < b.timestamp_unix_ms; });
  events_version_ = snapshot->version();
  events_files_ = std::move(now);
  events_ = std::move(rows);
  return events_;
}

}  // namespace lakepipe::server
