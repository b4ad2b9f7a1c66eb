#include "runtime/file_source.h"

#include <algorithm>
#include <cctype>

#include "formats/csv/csv_reader.h"
#include "formats/json/json_reader.h"
#include "formats/options/read_options.h"
#include "formats/parquet/parquet.h"

namespace lakepipe::runtime {
namespace {

bool IsHiddenName(const std::string& name) {
  return !name.empty() && (name[0] == '.' || name[0] == '_');
}

// Lists the visible files under root/rel. Files in `skip` (relative paths) are left out
// before they are stat'ed: a landing folder holds mostly files already ingested.
Status ListRecursive(FileSystem* fs, const std::string& root, const std::string& rel,
                     const std::set<std::string>& skip, std::vector<SourceFileEntry>* out) {
  std::string dir = rel.empty() ? root : JoinPath(root, rel);
  LP_ASSIGN_OR_RETURN(auto entries, fs->ListNames(dir));
  for (const auto& e : entries) {
    if (IsHiddenName(e.name)) continue;
    std::string child = rel.empty() ? e.name : rel + "/" + e.name;
    if (e.is_dir) {
      LP_RETURN_IF_ERROR(ListRecursive(fs, root, child, skip, out));
    } else if (!skip.count(child)) {
      auto info = fs->Stat(JoinPath(dir, e.name));
      if (!info.ok()) {
        if (info.status().IsNotFound()) continue;  // gone between the listing and the stat
        return info.status();
      }
      out->push_back({child, info->size, info->mtime_micros});
    }
  }
  return Status::OK();
}

Result<std::vector<SourceFileEntry>> ListFilesExcept(FileSystem* fs, const std::string& root,
                                                     const std::set<std::string>& skip) {
  LP_ASSIGN_OR_RETURN(FileInfo info, fs->Stat(root));
  std::vector<SourceFileEntry> out;
  if (info.is_dir) {
    LP_RETURN_IF_ERROR(ListRecursive(fs, root, "", skip, &out));
  } else if (!skip.count("")) {
    out.push_back({"", info.size, info.mtime_micros});
  }
  return out;
}

// Fills the output batch's columns: data and rescue columns by name from the reader's
// batch, `_metadata.*` from the file.
Result<RecordBatch> ShapeBatch(const RecordBatch& read, const Schema& output,
                               const std::string& full_path, const SourceFileEntry& file) {
  std::vector<ColumnPtr> cols;
  int64_t n = read.num_rows();
  for (const auto& f : output.fields()) {
    if (f.name.rfind("_metadata.", 0) == 0) {
      std::string field = f.name.substr(10);
      Column c(f.type);
      c.Reserve(n);
      for (int64_t i = 0; i < n; ++i) {
        if (field == "file_path") {
          c.AppendString(full_path);
        } else if (field == "file_name") {
          c.AppendString(BaseName(full_path));
        } else if (field == "file_size") {
          c.Append<int64_t>(file.size);
        } else if (field == "file_modification_time") {
          c.Append<int64_t>(file.mtime_micros);
        } else {
          return Status::NotSupported("_metadata." + field + " is not provided by read_files");
        }
      }
      cols.push_back(MakeColumn(std::move(c)));
      continue;
    }
    const Column* src = read.ColumnByName(f.name);
    if (src == nullptr) {
      cols.push_back(MakeColumn(Column::Nulls(f.type, n)));
    } else if (src->type() != f.type) {
      return Status::Internal("read_files column " + f.name + " read as " + src->type().ToString() +
                              ", planned as " + f.type.ToString());
    } else {
      cols.push_back(read.column_ptr(static_cast<size_t>(read.schema().FindField(f.name))));
    }
  }
  return RecordBatch(output, std::move(cols), n);
}

}  // namespace

Result<std::vector<SourceFileEntry>> ListAllFiles(FileSystem* fs, const std::string& root) {
  return ListFilesExcept(fs, root, {});
}

Result<FileListing> ListNewFiles(FileSystem* fs, const std::string& root, const std::set<std::string>& seen,
                                 const FileListOptions& options) {
  LP_ASSIGN_OR_RETURN(auto unseen, ListFilesExcept(fs, root, seen));
  FileListing listing;
  std::vector<SourceFileEntry> fresh;
  for (auto& f : unseen) {
    if (options.stable_micros > 0) {
      int64_t age = options.now_micros - f.mtime_micros;
      if (age < options.stable_micros) {
        int64_t wait = options.stable_micros - age;
        if (listing.next_stable_in_micros == 0 || wait < listing.next_stable_in_micros) listing.next_stable_in_micros = wait;
        listing.backlog_files += 1;
        listing.backlog_bytes += f.size;
        continue;
      }
    }
    fresh.push_back(std::move(f));
  }
  std::sort(fresh.begin(), fresh.end(), [](const SourceFileEntry& a, const SourceFileEntry& b) {
    return a.mtime_micros != b.mtime_micros ? a.mtime_micros < b.mtime_micros : a.path < b.path;
  });
  int64_t bytes = 0;
  for (auto& f : fresh) {
    bool over = (options.max_files > 0 && static_cast<int64_t>(listing.files.size()) >= options.max_files) ||
                (options.max_bytes > 0 && !listing.files.empty() && bytes + f.size > options.max_bytes);
    if (over) {
      listing.backlog_files += 1;
      listing.backlog_bytes += f.size;
      continue;
    }
    bytes += f.size;
    listing.files.push_back(std::move(f));
  }
  return listing;
}

Result<FileListOptions> FileListOptionsFrom(const sql::ReadFilesSpec& spec) {
  LP_ASSIGN_OR_RETURN(formats::ReadFilesSettings settings, formats::ReadFilesSettingsFrom(spec.options));
  FileListOptions options;
  options.include_existing = settings.source.include_existing_files;
  options.max_files = settings.source.max_files_per_trigger;
  options.max_bytes = settings.source.max_bytes_per_trigger;
  options.stable_micros = settings.source.file_stable_millis * 1000;
  return options;
}

Result<std::vector<RecordBatch>> ReadSourceFiles(FileSystem* fs, const sql::ReadFilesSpec& spec,
                                                 const std::vector<SourceFileEntry>& files,
                                                 const Schema& output_schema,
                                                 FileReadStats* stats) {
  std::vector<RecordBatch> out;
  // The same settings `validate` checked (formats/options).
  LP_ASSIGN_OR_RETURN(formats::ReadFilesSettings settings, formats::ReadFilesSettingsFrom(spec.options));
  std::string format = settings.format;
  for (const auto& file : files) {
    std::string full = file.path.empty() ? spec.path : JoinPath(spec.path, file.path);
    std::vector<RecordBatch> read;
    if (format == "csv") {
      csv::CsvOptions options = settings.csv;
      options.schema = spec.schema;
      options.rescued_data_column = spec.rescued_data_column;
      options.file_path = full;
      LP_ASSIGN_OR_RETURN(auto reader, csv::CsvReader::Open(fs, full, options));
      csv::CsvBatch batch;
      while (true) {
        LP_ASSIGN_OR_RETURN(bool more, reader->Next(&batch));
        if (!more) break;
        read.push_back(std::move(batch.batch));
      }
      stats->rescued_rows += reader->total_stats().rescued_rows;
    } else if (format == "json") {
      json::JsonOptions options = settings.json;
      options.schema = spec.schema;
      options.rescued_data_column = spec.rescued_data_column;
      options.file_path = full;
      LP_ASSIGN_OR_RETURN(auto reader, json::JsonReader::Open(fs, full, options));
      json::JsonBatch batch;
      while (true) {
        LP_ASSIGN_OR_RETURN(bool more, reader->Next(&batch));
        if (!more) break;
        read.push_back(std::move(batch.batch));
      }
      stats->rescued_rows += reader->total_stats().rescued_rows;
    } else if (format == "parquet") {
      LP_ASSIGN_OR_RETURN(auto reader, parquet::FileReader::Open(fs, full));
      LP_ASSIGN_OR_RETURN(RecordBatch all, reader->ReadAll());
      // Parquet columns are typed by the file; they must match the declared schema.
      if (spec.schema) {
        for (const auto& f : spec.schema->fields()) {
          const Column* c = all.ColumnByName(f.name);
          if (c != nullptr && c->type() != f.type) {
            return Status::InvalidArgument(full + ": column " + f.name + " is " + c->type().ToString() +
                                           " in the file but " + f.type.ToString() + " in the schema");
          }
        }
      }
      read.push_back(std::move(all));
    } else {
      return Status::NotSupported("read_files format '" + spec.format + "' (supported: csv, json, parquet)");
    }
    int64_t file_rows = 0;
    for (const auto& b : read) {
      auto shaped = ShapeBatch(b, output_schema, full, file);
      if (!shaped.ok()) return shaped.status().WithContext(full);
      file_rows += b.num_rows();
      out.push_back(std::move(shaped).value());
    }
    stats->rows += file_rows;
    stats->rows_by_file_mtime.emplace_back(file.mtime_micros, file_rows);
    stats->files += 1;
    stats->bytes += file.size;
  }
  return out;
}

}  // namespace lakepipe::runtime
