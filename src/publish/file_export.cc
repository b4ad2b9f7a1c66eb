#include "publish/file_export.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <unistd.h>

#include "delta/table.h"
#include "formats/csv/csv_writer.h"
#include "formats/json/json_writer.h"
#include "formats/parquet/parquet.h"
#include "sql/pipeline.h"

namespace lakepipe::publish {
namespace {

constexpr const char* kProgressFile = "_lakepipe_export.json";
constexpr const char* kNullPartition = "__HIVE_DEFAULT_PARTITION__";

std::string Extension(const std::string& format) {
  return format == "csv" ? "csv" : format == "json" ? "json" : "parquet";
}

// The rows of one partition, rendered as the file's bytes.
Result<std::string> Render(FileSystem* fs, const std::string& format, const RecordBatch& rows,
                           const std::string& scratch_path) {
  std::string out;
  if (format == "csv") {
    csv::CsvWriteOptions options;
    csv::AppendCsvHeader(rows.schema(), options, &out);
    csv::AppendCsvRows(rows, options, &out);
    return out;
  }
  if (format == "json") {
    json::AppendJsonLines(rows, json::JsonWriteOptions{}, &out);
    return out;
  }
  // Parquet is written to a scratch file (the writer wants a file), then read back.
  (void)fs->RemoveFile(scratch_path);
  LP_ASSIGN_OR_RETURN(auto writer, parquet::FileWriter::Open(fs, scratch_path, rows.schema()));
  if (rows.num_rows() > 0) LP_RETURN_IF_ERROR(writer->Write(rows));
  LP_RETURN_IF_ERROR(writer->Close().status());
  LP_ASSIGN_OR_RETURN(out, fs->ReadFile(scratch_path));
  LP_RETURN_IF_ERROR(fs->RemoveFile(scratch_path));
  return out;
}

// Replaces `path` by `data` whole (hidden temporary name, fsync, rename, fsync of the folder).
Status ReplaceFile(FileSystem* fs, const std::string& path, const std::string& data) {
  return fs->WriteFileAtomic(path, data);
}

}  // namespace

std::vector<FileExportTarget> FileExportTargetsFromSettings(
    const sql::FilesPublish& settings, const std::string& pipeline_folder,
    const std::function<std::string(const std::string&)>& table_path) {
  std::vector<FileExportTarget> out;
  for (const auto& f : settings.tables) {
    FileExportTarget t;
    t.table = f.table;
    t.table_path = table_path(f.table);
    t.path = !f.path.empty() && f.path[0] == '/' ? f.path : JoinPath(pipeline_folder, f.path);
    t.format = f.format;
    t.partition_by = f.partition_by;
    out.push_back(std::move(t));
  }
  return out;
}

FileExport::FileExport(std::vector<FileExportTarget> targets, FileSystem* fs, Clock* clock)
    : targets_(std::move(targets)), fs_(fs), clock_(clock), tables_(fs) {}
FileExport::~FileExport() = default;

const FileExportTarget* FileExport::Find(const std::string& table) const {
  for (const auto& t : targets_) {
    if (t.table == table) return &t;
  }
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> FileExport::Targets() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& t : targets_) out.emplace_back(t.table, Extension(t.format) + " files " + t.path);
  return out;
}

Result<delta::DeltaTable*> FileExport::Table(const FileExportTarget& t) { return tables_.Get(t.table, t.table_path); }

Result<int64_t> FileExport::ExportedVersion(const FileExportTarget& t) {
  std::string path = JoinPath(t.path, kProgressFile);
  auto text = fs_->ReadFile(path);
  if (!text.ok()) {
    if (text.status().IsNotFound()) return int64_t{-1};
    return text.status();
  }
  auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.contains("version") || !j["version"].is_number_integer()) {
    return Status::Corruption(path + ": not an export progress file (expected {\"version\": N, ...})");
  }
  return j["version"].get<int64_t>();
}

Result<PublishResult> FileExport::Publish(const std::string& table, bool rebuild) {
  auto started = std::chrono::steady_clock::now();
  const FileExportTarget* t = Find(table);
  if (t == nullptr) return Status::NotFound("`" + table + "` is not in publish.files");
  PublishResult r;
  r.table = t->table;
  r.target = Extension(t->format) + " files " + t->path;
  LP_ASSIGN_OR_RETURN(delta::DeltaTable * dt, Table(*t));
  if (dt == nullptr) {
    r.technique = "not created";
    return r;
  }
  LP_ASSIGN_OR_RETURN(r.from_version, ExportedVersion(*t));
  LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, dt->Latest());
  r.to_version = snap->version();
  r.to_version_millis = snap->timestamp_millis();
  if (r.from_version == r.to_version && !rebuild) {
    r.technique = "up to date";
    return r;
  }
  LP_ASSIGN_OR_RETURN(delta::Scan scan, delta::Scan::Plan(snap, {}));
  LP_ASSIGN_OR_RETURN(RecordBatch rows, scan.ReadAll());
  const std::string ext = Extension(t->format);

  // Partition folder name -> row indices, in the order of first appearance.
  std::map<std::string, std::vector<int32_t>> partitions;
  if (t->partition_by.empty()) {
    std::vector<int32_t> all(static_cast<size_t>(rows.num_rows()));
    for (int32_t i = 0; i < static_cast<int32_t>(all.size()); ++i) all[static_cast<size_t>(i)] = i;
    partitions[""] = std::move(all);
  } else {
    const Column* key = rows.ColumnByName(t->partition_by);
    if (key == nullptr) {
      return Status::InvalidArgument("publish.files: table `" + t->table + "` has no column `" + t->partition_by +
                                     "` to partition by");
    }
    int column = rows.schema().FindField(t->partition_by);
    const std::string column_name = rows.schema().field(static_cast<size_t>(column)).name;
    for (int64_t i = 0; i < rows.num_rows(); ++i) {
      std::optional<std::string> value = delta::SerializePartitionValue(key->GetValue(i));
      std::string folder = column_name + "=" + (value ? delta::EscapePartitionPathComponent(*value) : kNullPartition);
      partitions[folder].push_back(static_cast<int32_t>(i));
    }
  }

  LP_RETURN_IF_ERROR(fs_->CreateDirs(t->path));
  const std::string scratch = JoinPath(t->path, ".scratch." + ext);
  for (const auto& [folder, indices] : partitions) {
    std::vector<ColumnPtr> cols;
    for (size_t c = 0; c < rows.schema().size(); ++c) cols.push_back(MakeColumn(rows.column(c).Take(indices)));
    RecordBatch part(rows.schema(), std::move(cols), static_cast<int64_t>(indices.size()));
    LP_ASSIGN_OR_RETURN(std::string bytes, Render(fs_, t->format, part, scratch));
    std::string dir = folder.empty() ? t->path : JoinPath(t->path, folder);
    std::string file = JoinPath(dir, "part-00000." + ext);
    r.rows_loaded += part.num_rows();
    auto existing = fs_->ReadFile(file);
    if (!rebuild && existing.ok() && *existing == bytes && fs_->Stat(JoinPath(dir, "_SUCCESS")).ok()) {
      ++r.files_unchanged;
      continue;
    }
    LP_RETURN_IF_ERROR(fs_->CreateDirs(dir));
    LP_RETURN_IF_ERROR(ReplaceFile(fs_, file, bytes));
    LP_RETURN_IF_ERROR(ReplaceFile(fs_, JoinPath(dir, "_SUCCESS"), ""));
    ++r.files_written;
  }
  // Partitions the table no longer has: their files go (the folder too, when empty).
  if (!t->partition_by.empty()) {
    LP_ASSIGN_OR_RETURN(auto entries, fs_->ListDir(t->path));
    for (const auto& e : entries) {
      if (!e.is_dir || e.name.find('=') == std::string::npos || partitions.count(e.name)) continue;
      std::string dir = JoinPath(t->path, e.name);
      LP_ASSIGN_OR_RETURN(auto inside, fs_->ListDir(dir));
      // Only what an export writes is removed; anything else keeps the folder.
      for (const auto& f : inside) {
        if (f.name == "_SUCCESS" || f.name == "part-00000." + ext) LP_RETURN_IF_ERROR(fs_->RemoveFile(JoinPath(dir, f.name)));
      }
      (void)::rmdir(dir.c_str());
      ++r.files_removed;
    }
  }
  nlohmann::json progress = {{"table", t->table},
                             {"version", r.to_version},
                             {"format", t->format},
                             {"partitionBy", t->partition_by},
                             {"exportedAt", clock_->NowMillis()}};
  LP_RETURN_IF_ERROR(ReplaceFile(fs_, JoinPath(t->path, kProgressFile), progress.dump() + "\n"));
  r.technique = "export";
  r.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  return r;
}

Result<int64_t> FileExport::LatestVersion(const std::string& table) {
  const FileExportTarget* t = Find(table);
  if (t == nullptr) return Status::NotFound("`" + table + "` is not in publish.files");
  return tables_.LatestVersion(t->table, t->table_path);
}

Result<PublishLag> FileExport::Lag(const std::string& table, int64_t published_version) {
  const FileExportTarget* t = Find(table);
  if (t == nullptr) return Status::NotFound("`" + table + "` is not in publish.files");
  PublishLag lag;
  lag.table = t->table;
  lag.target = Extension(t->format) + " files " + t->path;
  if (published_version < -1) {
    LP_ASSIGN_OR_RETURN(published_version, ExportedVersion(*t));
  }
  LP_ASSIGN_OR_RETURN(delta::DeltaTable * dt, Table(*t));
  LP_RETURN_IF_ERROR(FillLag(dt, published_version, *clock_, &lag));
  return lag;
}

}  // namespace lakepipe::publish
