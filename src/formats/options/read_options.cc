#include "formats/options/read_options.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>
#include <vector>

#include "common/glob.h"
#include "expr/datetime_parser.h"
#include "types/datetime.h"

namespace lakepipe::formats {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Known options, lower-cased, in the order error messages list them.
const std::vector<std::string> kSourceOptions = {
    "format", "schema", "rescueddatacolumn", "maxfilespertrigger", "maxbytespertrigger",
    "includeexistingfiles", "filestablemillis", "schemaevolutionmode", "recursivefilelookup", "pathglobfilter"};
const std::vector<std::string> kCsvOptions = {"header", "sep", "delimiter", "quote", "escape", "nullvalue",
                                              "inferschema", "mode", "dateformat", "timestampformat"};
const std::vector<std::string> kJsonOptions = {"multiline", "mode", "dateformat", "timestampformat"};

// Spark's spelling of each option, for messages.
std::string Spelled(const std::string& key) {
  static const std::map<std::string, std::string> kNames = {
      {"rescueddatacolumn", "rescuedDataColumn"}, {"maxfilespertrigger", "maxFilesPerTrigger"},
      {"maxbytespertrigger", "maxBytesPerTrigger"}, {"includeexistingfiles", "includeExistingFiles"},
      {"filestablemillis", "fileStableMillis"}, {"schemaevolutionmode", "schemaEvolutionMode"},
      {"recursivefilelookup", "recursiveFileLookup"}, {"nullvalue", "nullValue"},
      {"inferschema", "inferSchema"}, {"dateformat", "dateFormat"}, {"timestampformat", "timestampFormat"},
      {"multiline", "multiLine"}, {"pathglobfilter", "pathGlobFilter"}};
  auto it = kNames.find(key);
  return it == kNames.end() ? key : it->second;
}

std::string KnownList(const std::string& format) {
  std::vector<std::string> all = kSourceOptions;
  const std::vector<std::string>* extra = format == "csv" ? &kCsvOptions : format == "json" ? &kJsonOptions : nullptr;
  if (extra != nullptr) all.insert(all.end(), extra->begin(), extra->end());
  std::string out;
  for (const auto& k : all) {
    if (!out.empty()) out += ", ";
    out += Spelled(k);
  }
  return out;
}

Result<bool> Bool(const std::string& key, const std::string& value) {
  std::string v = Lower(value);
  if (v == "true") return true;
  if (v == "false") return false;
  return Status::InvalidArgument("read_files option " + Spelled(key) + " must be true or false, got '" + value + "'");
}

Result<int64_t> Count(const std::string& key, const std::string& value) {
  char* end = nullptr;
  long long n = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || n < 0) {
    return Status::InvalidArgument("read_files option " + Spelled(key) + " must be a non-negative integer, got '" +
                                   value + "'");
  }
  return static_cast<int64_t>(n);
}

Result<expr::DatetimeParser> Pattern(const std::string& key, const std::string& value) {
  auto parser = expr::CompileDatetimeParser(value);
  if (!parser.ok()) {
    return parser.status().WithContext("read_files option " + Spelled(key));
  }
  return std::move(parser).value();
}

}  // namespace

Result<ReadFilesSettings> ReadFilesSettingsFrom(const std::map<std::string, std::string>& options) {
  ReadFilesSettings s;
  auto fmt = options.find("format");
  s.format = fmt == options.end() ? "" : Lower(fmt->second);
  if (s.format != "csv" && s.format != "json" && s.format != "parquet") {
    return Status::NotSupported("read_files format '" + (fmt == options.end() ? "" : fmt->second) +
                                "' (supported: csv, json, parquet)");
  }
  std::vector<std::pair<std::string, std::string>> csv_kv;
  expr::DatetimeParser date_parser, timestamp_parser;
  for (const auto& [raw_key, value] : options) {
    std::string key = Lower(raw_key);
    if (key == "format" || key == "schema" || key == "rescueddatacolumn") continue;  // the planner's
    if (key == "maxfilespertrigger") {
      LP_ASSIGN_OR_RETURN(s.source.max_files_per_trigger, Count(key, value));
    } else if (key == "maxbytespertrigger") {
      LP_ASSIGN_OR_RETURN(s.source.max_bytes_per_trigger, Count(key, value));
    } else if (key == "filestablemillis") {
      LP_ASSIGN_OR_RETURN(s.source.file_stable_millis, Count(key, value));
    } else if (key == "includeexistingfiles") {
      LP_ASSIGN_OR_RETURN(s.source.include_existing_files, Bool(key, value));
    } else if (key == "schemaevolutionmode") {
      // Columns the schema lacks always go to the rescue column: Auto Loader's "rescue".
      if (Lower(value) != "rescue") {
        return Status::NotSupported("read_files schemaEvolutionMode '" + value +
                                    "' is not built yet: lakepipe reads with a fixed schema and rescues "
                                    "other columns ('rescue')");
      }
    } else if (key == "recursivefilelookup") {
      LP_ASSIGN_OR_RETURN(s.source.recursive_file_lookup, Bool(key, value));
    } else if (key == "pathglobfilter") {
      LP_RETURN_IF_ERROR(FileNameGlob::Compile(value).status());
      s.source.path_glob_filter = value;
    } else if (s.format != "parquet" && (key == "dateformat" || key == "timestampformat")) {
      LP_ASSIGN_OR_RETURN(expr::DatetimeParser p, Pattern(key, value));
      (key == "dateformat" ? date_parser : timestamp_parser) = std::move(p);
    } else if (s.format == "csv" &&
               std::find(kCsvOptions.begin(), kCsvOptions.end(), key) != kCsvOptions.end()) {
      csv_kv.emplace_back(key, value);
    } else if (s.format == "json" && key == "multiline") {
      LP_ASSIGN_OR_RETURN(s.json.multi_line, Bool(key, value));
    } else if (s.format == "json" && key == "mode") {
      if (Lower(value) != "permissive") {
        return Status::NotSupported("JSON mode '" + value +
                                    "' is not supported: lakepipe reads in PERMISSIVE mode with _rescued_data");
      }
    } else {
      return Status::NotSupported("read_files option " + Spelled(key) + " is not supported for format " + s.format +
                                  " (known options: " + KnownList(s.format) + ")");
    }
  }
  if (s.format == "csv") {
    LP_ASSIGN_OR_RETURN(s.csv, csv::CsvOptionsFromMap(csv_kv));
  }
  std::function<std::optional<int32_t>(std::string_view)> as_date;
  if (date_parser) {
    as_date = [date_parser](std::string_view text) -> std::optional<int32_t> {
      std::optional<int64_t> micros = date_parser(text);
      if (!micros) return std::nullopt;
      return static_cast<int32_t>(FloorDiv(*micros, kMicrosPerDay));
    };
  }
  s.csv.parse_date = s.json.parse_date = as_date;
  s.csv.parse_timestamp = s.json.parse_timestamp = timestamp_parser;
  return s;
}

}  // namespace lakepipe::formats
