#include "delta/changes.h"

#include "delta/log_cleanup.h"

namespace lakepipe::delta {

Result<std::vector<RecordBatch>> ReadAppends(const DeltaTable& table, int64_t start_version,
                                             int64_t end_version, const ChangeReadOptions& options) {
  std::vector<RecordBatch> out;
  if (start_version > end_version) return out;
  // Usually the range ends at the latest version, which a kept handle has at hand (it
  // rolls its cached state forward); an older end is replayed.
  // The files are read with the schema as of end_version. The latest snapshot has that
  // schema unless a later commit changed the metadata (then that version is replayed).
  LP_ASSIGN_OR_RETURN(SnapshotPtr end, table.Latest());
  if (end->version() < end_version || end->state().metadata_version > end_version) {
    LP_ASSIGN_OR_RETURN(end, table.AtVersion(end_version));
  }
  for (int64_t v = start_version; v <= end_version; ++v) {
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
    state.version = end->version();
    state.protocol = end->protocol();
    state.metadata = end->metadata();
    state.has_protocol = state.has_metadata = true;
    state.commit_timestamp = end->timestamp_millis();
    std::map<std::string, AddFile> added;
    bool changes_rows = false;
    for (const Action& a : actions) {
      if (const auto* add = std::get_if<AddFile>(&a)) {
        if (!add->data_change) continue;
        LP_ASSIGN_OR_RETURN(std::string key, FileKey(add->path, add->deletion_vector));
        added[key] = *add;
      } else if (const auto* remove = std::get_if<RemoveFile>(&a)) {
        changes_rows |= remove->data_change;
      }
    }
    if (changes_rows) {
      if (options.skip_change_commits) continue;
      return Status::NotSupported("table " + table.path() + ": version " + std::to_string(v) +
                                  " deletes or rewrites rows, which a streaming read of appended "
                                  "rows cannot follow; read its change data feed instead "
                                  "(STREAM(t) WITH (readChangeFeed = true) on a table created with "
                                  "TBLPROPERTIES (delta.enableChangeDataFeed = true)), run a full "
                                  "refresh of the downstream table, or set skipChangeCommits");
    }
    if (added.empty()) continue;
    state.files = FileMap<AddFile>(added);
    LP_ASSIGN_OR_RETURN(SnapshotPtr only_added, Snapshot::Make(table.path(), std::move(state), table.fs()));
    ScanOptions scan_options;
    scan_options.columns = options.columns;
    LP_ASSIGN_OR_RETURN(Scan scan, Scan::Plan(only_added, scan_options));
    for (size_t i = 0; i < scan.files().size(); ++i) {
      LP_ASSIGN_OR_RETURN(RecordBatch b, scan.ReadFile(i));
      if (b.num_rows() > 0) out.push_back(std::move(b));
    }
  }
  return out;
}

}  // namespace lakepipe::delta
