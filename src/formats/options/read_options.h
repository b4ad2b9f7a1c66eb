// ReadFilesSettingsFrom: the one place that turns `read_files(path, option => value, ...)`
// options into reader settings. `validate` (sql/resolve.cc) and `run`
// (runtime/file_source.cc) both call it, so an option one accepts the other runs, and an
// unknown option or a bad value is refused before any data is read, with the list of the
// options the format knows.
//
// Owns: the option names per format (Spark's, case-insensitive), their value rules, and the
// compilation of dateFormat / timestampFormat (Spark datetime patterns, via expr) into the
// readers' parse functions. Not the path, schema or format checks (sql/select.cc).
//
// Pure function; thread-safe. The returned settings may be copied and used on any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/status.h"
#include "formats/csv/csv_reader.h"
#include "formats/json/json_reader.h"
#include "types/batch_reader.h"

namespace lakepipe::formats {

// cleanSource (Spark's file source option): what becomes of a file once the batch that
// read it is durably committed (docs/continuous.md, "Cleaning the source").
enum class CleanSourceMode { kOff, kDelete, kArchive };

// Auto Loader-style options of the file source itself (docs/continuous.md).
struct FileSourceSettings {
  int64_t max_files_per_trigger = 0;  // 0: no limit
  int64_t max_bytes_per_trigger = 0;  // 0: no limit
  bool include_existing_files = true;
  int64_t file_stable_millis = 0;
  bool recursive_file_lookup = true;  // false: only the files directly in the source folder
  std::string path_glob_filter;       // on file names (common/glob.h); empty: every file
  // maxFileAge: a file more than this older than the newest file taken is not taken, and
  // what the source remembers is forgotten past it (docs/continuous.md). Spark's default.
  static constexpr int64_t kDefaultMaxFileAgeMicros = 7LL * 24 * 3600 * 1000000;
  int64_t max_file_age_micros = kDefaultMaxFileAgeMicros;
  CleanSourceMode clean_source = CleanSourceMode::kOff;
  // sourceArchiveDir, for kArchive only: an absolute path (the planner resolves a relative
  // one against the pipeline folder, as it does the source path).
  std::string source_archive_dir;
};

// schemaEvolutionMode (Auto Loader's): what a top-level field the schema lacks does.
enum class SchemaEvolutionMode {
  kAddNewColumns,     // the stream stops once; the next run reads with the field added
  kRescue,            // kept in the rescue column; the schema never changes
  kNone,              // ignored (Databricks' meaning); type mismatches are still rescued
  kFailOnNewColumns,  // the stream fails until the schema or the file changes
};
const char* SchemaEvolutionModeName(SchemaEvolutionMode mode);

// How a scan without `schema =>` gets its columns (docs/sql-reference.md, read_files).
struct SchemaInferenceSettings {
  bool infer_column_types = false;  // inferColumnTypes: false reads every column as STRING
  std::string schema_hints;         // schemaHints, checked ('a INT, b.c DATE')
  SchemaEvolutionMode evolution_mode = SchemaEvolutionMode::kRescue;  // the effective mode
};

struct ReadFilesSettings {
  std::string format;       // "csv", "json" or "parquet" (lower case)
  csv::CsvOptions csv;      // for csv: every reader option but schema/file_path/rescue column
  json::JsonOptions json;   // for json: likewise
  FileSourceSettings source;
  SchemaInferenceSettings inference;
};

// `options` as the planner stores them (ReadFilesSpec::options: keys lower-cased, values as
// text, including format and schema). Errors: InvalidArgument for a bad value,
// NotSupported for an option the format does not have (naming the known ones). The error
// names the option; the caller adds file:line:col.
Result<ReadFilesSettings> ReadFilesSettingsFrom(const std::map<std::string, std::string>& options);

// What one file of a read_files scan is read into.
struct FileReadTarget {
  std::optional<Schema> schema;     // the scan's data columns (given or inferred); csv/json
                                    // infer from the file when absent
  std::string rescued_data_column;  // csv/json; empty: no rescue column
  std::string file_path;            // named in rescued records and errors
  int64_t batch_rows = 0;           // csv/json: rows per batch; 0: the reader's default
};

// Opens `path` with the reader of `settings.format` behind the one BatchReader interface
// (types/batch_reader.h), so callers run one read loop whatever the format. Parquet files
// are typed by their footer: a column the target schema declares with another type is
// InvalidArgument naming the file and column.
Result<std::unique_ptr<BatchReader>> OpenFileReader(FileSystem* fs, const std::string& path,
                                                    const ReadFilesSettings& settings,
                                                    const FileReadTarget& target);

}  // namespace lakepipe::formats
