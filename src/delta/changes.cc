#include "delta/changes.h"

#include "delta/commit_appends.h"
#include "delta/log_cleanup.h"

namespace lakepipe::delta {

Result<std::vector<RecordBatch>> ReadAppends(const DeltaTable& table, int64_t start_version,
                                             int64_t end_version, const ChangeReadOptions& options) {
  std::vector<RecordBatch> out;
  AppendsReader reader(table, start_version, end_version, options);
  RecordBatch b;
  while (true) {
    LP_ASSIGN_OR_RETURN(bool more, reader.Next(&b));
    if (!more) break;
    out.push_back(std::move(b));
  }
  return out;
}

AppendsReader::AppendsReader(const DeltaTable& table, int64_t start_version, int64_t end_version,
                             ChangeReadOptions options)
    : table_(table), next_version_(start_version), end_version_(end_version), options_(std::move(options)) {}

AppendsReader::~AppendsReader() = default;

Result<bool> AppendsReader::NextCommit() {
  scan_.reset();
  file_.reset();
  next_file_ = 0;
  if (next_version_ > end_version_) return false;
  if (!end_) {
    // Usually the range ends at the latest version, which a kept handle has at hand (it
    // rolls its cached state forward); an older end is replayed.
    // The files are read with the schema as of end_version. The latest snapshot has that
    // schema unless a later commit changed the metadata (then that version is replayed).
    LP_ASSIGN_OR_RETURN(end_, table_.Latest());
    if (end_->version() < end_version_ || end_->state().metadata_version > end_version_) {
      LP_ASSIGN_OR_RETURN(end_, table_.AtVersion(end_version_));
    }
  }
  for (; next_version_ <= end_version_;) {
    const int64_t v = next_version_++;
    LP_ASSIGN_OR_RETURN(CommitAppends commit, ReadCommitAppends(table_, *end_, v));
    if (commit.rewrites_rows) {
      if (options_.skip_change_commits) continue;
      return Status::NotSupported("table " + table_.path() + ": version " + std::to_string(v) +
                                  " deletes or rewrites rows, which a streaming read of appended "
                                  "rows cannot follow; read its change data feed instead "
                                  "(STREAM(t) WITH (readChangeFeed = true) on a table created with "
                                  "TBLPROPERTIES (delta.enableChangeDataFeed = true)), run a full "
                                  "refresh of the downstream table, or set skipChangeCommits");
    }
    if (commit.added == nullptr) continue;
    ScanOptions scan_options;
    scan_options.columns = options_.columns;
    scan_options.slice_rows = options_.slice_rows;
    LP_ASSIGN_OR_RETURN(Scan scan, Scan::Plan(commit.added, scan_options));
    scan_ = std::make_unique<Scan>(std::move(scan));
    return true;
  }
  return false;
}

Result<CommitAppends> ReadCommitAppends(const DeltaTable& table, const Snapshot& end, int64_t v) {
  std::string name = CommitFileName(v);
  auto text = table.fs()->ReadFile(JoinPath(LogDir(table.path()), name));
  if (!text.ok()) {
    if (text.status().IsNotFound()) {
      Status expired = CheckVersionRetained(table.fs(), table.path(), v);
      if (!expired.ok()) {
        return Status::NotFound("a streaming read of " + table.path() + " from version " + std::to_string(v) +
                                " cannot go on: " + expired.message() +
                                "; run a full refresh of the downstream table, or set a longer "
                                "delta.logRetentionDuration on the upstream table");
      }
      return Status::NotFound("table " + table.path() + ": commit " + std::to_string(v) +
                              " is missing from _delta_log (it may have been cleaned up); "
                              "run a full refresh of the downstream table");
    }
    return text.status();
  }
  LP_ASSIGN_OR_RETURN(std::vector<Action> actions, ParseActions(*text, name));
  // The commit's appended files, as a snapshot of just those files, so that the regular
  // scan path (schema mapping, partition values) reads them.
  TableState state;
  state.version = end.version();
  state.protocol = end.protocol();
  state.metadata = end.metadata();
  state.has_protocol = state.has_metadata = true;
  state.commit_timestamp = end.timestamp_millis();
  std::map<std::string, AddFile> added;
  CommitAppends out;
  for (const Action& a : actions) {
    if (const auto* add = std::get_if<AddFile>(&a)) {
      if (!add->data_change) continue;
      LP_ASSIGN_OR_RETURN(std::string key, FileKey(add->path, add->deletion_vector));
      added[key] = *add;
    } else if (const auto* remove = std::get_if<RemoveFile>(&a)) {
      out.rewrites_rows |= remove->data_change;
    }
  }
  if (out.rewrites_rows || added.empty()) return out;
  state.files = FileMap<AddFile>(added);
  LP_ASSIGN_OR_RETURN(out.added, Snapshot::Make(table.path(), std::move(state), table.fs()));
  return out;
}

// Reads the files of `scan` in order, one row group at a time; false when they are done.
static Result<bool> NextPiece(const Scan& scan, size_t* next_file, std::unique_ptr<Scan::RowGroupReader>* file,
                              RecordBatch* out) {
  while (true) {
    if (*file) {
      LP_ASSIGN_OR_RETURN(bool more, (*file)->Next(out));
      if (more && out->num_rows() > 0) return true;
      if (more) continue;
      file->reset();
    }
    if (*next_file >= scan.files().size()) return false;
    LP_ASSIGN_OR_RETURN(*file, scan.OpenFile((*next_file)++));
  }
}

Result<bool> AppendsReader::Next(RecordBatch* out) {
  while (true) {
    if (scan_) {
      LP_ASSIGN_OR_RETURN(bool more, NextPiece(*scan_, &next_file_, &file_, out));
      if (more) return true;
    }
    LP_ASSIGN_OR_RETURN(bool commit, NextCommit());
    if (!commit) return false;
  }
}

Result<std::unique_ptr<SnapshotReader>> SnapshotReader::Open(SnapshotPtr snapshot, const ScanOptions& options) {
  LP_ASSIGN_OR_RETURN(Scan scan, Scan::Plan(std::move(snapshot), options));
  auto out = std::unique_ptr<SnapshotReader>(new SnapshotReader());
  out->scan_ = std::make_unique<Scan>(std::move(scan));
  return out;
}

Result<bool> SnapshotReader::Next(RecordBatch* out) { return NextPiece(*scan_, &next_file_, &file_, out); }

}  // namespace lakepipe::delta
