// FileExport: writes pipeline tables as plain files outside the lake (pipeline.yaml
// `publish.files`, docs/publish.md "Files"), for consumers that read CSV, JSON lines or
// Parquet files rather than Delta tables (seed 003's Gold CSVs).
//
// Per table, at each publication, the table's latest version is read whole and split by
// the `partition_by` column's value (or kept as one file):
//   <path>/<column>=<value>/part-00000.<ext>  and  <path>/<column>=<value>/_SUCCESS
//   (<path>/part-00000.<ext> and <path>/_SUCCESS without partition_by)
// A partition file is replaced only when its bytes change: each new file is written under
// a hidden temporary name, fsynced and renamed into place (a reader sees the old file or
// the new one, never a part), then `_SUCCESS` is rewritten. Partitions the table no longer
// has are removed. `<path>/_lakepipe_export.json` records the version exported last.
//
// Exactly once across crashes: a publication is idempotent (the files are a function of
// the table version), so a crash anywhere leaves each partition whole (old or new) and
// the next publication completes it, rewriting nothing that is already right.
//
// Thread-safety: one thread at a time.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/fs.h"
#include "publish/table_publisher.h"

namespace lakepipe::sql {
struct FilesPublish;
}
namespace lakepipe::delta {
class DeltaTable;
}

namespace lakepipe::publish {

struct FileExportTarget {
  std::string table;         // the pipeline table
  std::string table_path;    // its Delta folder
  std::string path;          // the export folder (absolute)
  std::string format;        // "csv", "json" or "parquet"
  std::string partition_by;  // a column of the table; empty: one file
};

// The targets of pipeline.yaml's publish.files section (paths relative to the pipeline
// folder made absolute).
std::vector<FileExportTarget> FileExportTargetsFromSettings(
    const sql::FilesPublish& settings, const std::string& pipeline_folder,
    const std::function<std::string(const std::string&)>& table_path);

class FileExport : public TablePublisher {
 public:
  explicit FileExport(std::vector<FileExportTarget> targets, FileSystem* fs = FileSystem::Default(),
                      Clock* clock = Clock::System());
  ~FileExport() override;

  std::vector<std::pair<std::string, std::string>> Targets() const override;
  // `rebuild` rewrites every partition file even when its bytes are unchanged.
  Result<PublishResult> Publish(const std::string& table, bool rebuild = false) override;
  Result<int64_t> LatestVersion(const std::string& table) override;
  Result<PublishLag> Lag(const std::string& table, int64_t published_version = -2) override;

 private:
  const FileExportTarget* Find(const std::string& table) const;
  Result<delta::DeltaTable*> Table(const FileExportTarget& t);
  Result<int64_t> ExportedVersion(const FileExportTarget& t);

  std::vector<FileExportTarget> targets_;
  FileSystem* fs_;
  Clock* clock_;
  DeltaTableHandles tables_;
};

}  // namespace lakepipe::publish
