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

namespace lakepipe::formats {

// Auto Loader-style options of the file source itself (docs/continuous.md).
struct FileSourceSettings {
  int64_t max_files_per_trigger = 0;  // 0: no limit
  int64_t max_bytes_per_trigger = 0;  // 0: no limit
  bool include_existing_files = true;
  int64_t file_stable_millis = 0;
  bool recursive_file_lookup = true;  // false: only the files directly in the source folder
  std::string path_glob_filter;       // on file names (common/glob.h); empty: every file
};

struct ReadFilesSettings {
  std::string format;       // "csv", "json" or "parquet" (lower case)
  csv::CsvOptions csv;      // for csv: every reader option but schema/file_path/rescue column
  json::JsonOptions json;   // for json: likewise
  FileSourceSettings source;
};

// `options` as the planner stores them (ReadFilesSpec::options: keys lower-cased, values as
// text, including format and schema). Errors: InvalidArgument for a bad value,
// NotSupported for an option the format does not have (naming the known ones). The error
// names the option; the caller adds file:line:col.
Result<ReadFilesSettings> ReadFilesSettingsFrom(const std::map<std::string, std::string>& options);

}  // namespace lakepipe::formats
