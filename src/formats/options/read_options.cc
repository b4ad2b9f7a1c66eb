#include "formats/options/read_options.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <set>
#include <vector>

#include "common/glob.h"
#include "common/interval_text.h"
#include "expr/datetime_parser.h"
#include "formats/options/infer_schema.h"
#include "formats/parquet/batch_reader.h"
#include "formats/parquet/parquet.h"
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
    "includeexistingfiles", "filestablemillis", "schemaevolutionmode", "recursivefilelookup", "pathglobfilter",
    "infercolumntypes", "schemahints", "maxfileage", "cleansource", "sourcearchivedir"};
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
      {"multiline", "multiLine"}, {"pathglobfilter", "pathGlobFilter"}, {"infercolumntypes", "inferColumnTypes"},
      {"schemahints", "schemaHints"}, {"maxfileage", "maxFileAge"}, {"cleansource", "cleanSource"},
      {"sourcearchivedir", "sourceArchiveDir"}};
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

// The inference options against the format and whether a schema is declared: the
// effective evolution mode (Auto Loader's default: addNewColumns when the schema is
// inferred), and what is refused.
Status SettleInference(const std::string& format, bool declared, std::optional<SchemaEvolutionMode> mode,
                       std::optional<bool> infer_column_types, ReadFilesSettings* s) {
  SchemaInferenceSettings& inf = s->inference;
  inf.infer_column_types = infer_column_types.value_or(false);
  if (declared) {
    if (!inf.schema_hints.empty()) {
      return Status::InvalidArgument("read_files option schemaHints applies when the schema is inferred; "
                                     "with schema => declare the types there");
    }
    if (infer_column_types && format != "csv") {
      return Status::InvalidArgument("read_files option inferColumnTypes applies when the schema is inferred; "
                                     "schema => already gives the types");
    }
    // A declared schema rescues what it lacks (lakepipe always has the rescue column).
    inf.evolution_mode = mode.value_or(format == "parquet" ? SchemaEvolutionMode::kNone : SchemaEvolutionMode::kRescue);
    if (inf.evolution_mode == SchemaEvolutionMode::kAddNewColumns ||
        inf.evolution_mode == SchemaEvolutionMode::kFailOnNewColumns) {
      return Status::NotSupported(std::string("read_files schemaEvolutionMode '") +
                                  SchemaEvolutionModeName(inf.evolution_mode) +
                                  "' with a declared schema is not built yet: drop schema => to let lakepipe infer "
                                  "and evolve it, or use 'rescue' (fields the schema lacks go to the rescue column)");
    }
  } else if (format == "json") {
    inf.evolution_mode = mode.value_or(SchemaEvolutionMode::kAddNewColumns);
  } else {
    inf.evolution_mode = mode.value_or(format == "parquet" ? SchemaEvolutionMode::kNone : SchemaEvolutionMode::kRescue);
  }
  SchemaEvolutionMode m = inf.evolution_mode;
  if (format == "csv" && m != SchemaEvolutionMode::kRescue) {
    return Status::NotSupported(std::string("read_files schemaEvolutionMode '") + SchemaEvolutionModeName(m) +
                                "' for CSV is not built yet: CSV columns the schema lacks go to the rescue column "
                                "('rescue')");
  }
  if (format == "parquet" && m != SchemaEvolutionMode::kNone) {
    return Status::NotSupported(std::string("read_files schemaEvolutionMode '") + SchemaEvolutionModeName(m) +
                                "' for Parquet is not built yet: Parquet columns the schema lacks are not read "
                                "('none')");
  }
  if (format == "json") {
    s->json.unknown_keys_misfit = m != SchemaEvolutionMode::kNone;
    s->json.report_new_fields = m == SchemaEvolutionMode::kAddNewColumns || m == SchemaEvolutionMode::kFailOnNewColumns;
    s->json.infer_types = inf.infer_column_types;
  }
  return Status::OK();
}

}  // namespace

const char* SchemaEvolutionModeName(SchemaEvolutionMode mode) {
  switch (mode) {
    case SchemaEvolutionMode::kAddNewColumns: return "addNewColumns";
    case SchemaEvolutionMode::kRescue: return "rescue";
    case SchemaEvolutionMode::kNone: return "none";
    case SchemaEvolutionMode::kFailOnNewColumns: return "failOnNewColumns";
  }
  return "?";
}

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
  std::optional<SchemaEvolutionMode> mode;
  std::optional<bool> infer_column_types;
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
      std::string v = Lower(value);
      if (v == "addnewcolumns") {
        mode = SchemaEvolutionMode::kAddNewColumns;
      } else if (v == "rescue") {
        mode = SchemaEvolutionMode::kRescue;
      } else if (v == "none") {
        mode = SchemaEvolutionMode::kNone;
      } else if (v == "failonnewcolumns") {
        mode = SchemaEvolutionMode::kFailOnNewColumns;
      } else {
        return Status::InvalidArgument("read_files schemaEvolutionMode '" + value +
                                       "' is not a mode (addNewColumns, rescue, none, failOnNewColumns)");
      }
    } else if (key == "infercolumntypes") {
      LP_ASSIGN_OR_RETURN(bool b, Bool(key, value));
      infer_column_types = b;
    } else if (key == "schemahints") {
      LP_RETURN_IF_ERROR(ParseSchemaHints(value).status());
      s.inference.schema_hints = value;
    } else if (key == "maxfileage") {
      auto micros = ParseIntervalMicros(value);
      if (!micros.ok() || *micros <= 0) {
        return Status::InvalidArgument("read_files option maxFileAge must be a duration such as '7 days' or "
                                       "'12 hours' (more than 0), got '" + value + "'");
      }
      s.source.max_file_age_micros = *micros;
    } else if (key == "cleansource") {
      // Spark's option: what becomes of a file once the batch that read it is committed.
      std::string v = Lower(value);
      if (v == "off") {
        s.source.clean_source = CleanSourceMode::kOff;
      } else if (v == "delete") {
        s.source.clean_source = CleanSourceMode::kDelete;
      } else if (v == "archive") {
        s.source.clean_source = CleanSourceMode::kArchive;
      } else {
        return Status::InvalidArgument("read_files option cleanSource must be 'off', 'delete' or 'archive', got '" +
                                       value + "'");
      }
    } else if (key == "sourcearchivedir") {
      if (value.empty() || value[0] != '/') {
        return Status::InvalidArgument("read_files option sourceArchiveDir must be a folder's absolute path (or one "
                                       "relative to the pipeline folder), got '" + value + "'");
      }
      s.source.source_archive_dir = value;
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
  if (s.source.clean_source == CleanSourceMode::kArchive && s.source.source_archive_dir.empty()) {
    return Status::InvalidArgument("read_files option cleanSource => 'archive' needs sourceArchiveDir => '/folder' "
                                   "(where taken files are moved)");
  }
  if (s.source.clean_source != CleanSourceMode::kArchive && !s.source.source_archive_dir.empty()) {
    // Spark ignores it then; a setting that does nothing is refused rather than dropped.
    return Status::InvalidArgument("read_files option sourceArchiveDir is used only with cleanSource => 'archive'");
  }
  if (s.format == "csv") {
    LP_ASSIGN_OR_RETURN(s.csv, csv::CsvOptionsFromMap(csv_kv));
    // CSV's own inferSchema means inferColumnTypes when the latter is not given.
    for (const auto& [k, v] : csv_kv) {
      if (k == "inferschema" && !infer_column_types) infer_column_types = s.csv.infer_types;
    }
  }
  LP_RETURN_IF_ERROR(SettleInference(s.format, options.count("schema") > 0, mode, infer_column_types, &s));
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

Result<std::unique_ptr<BatchReader>> OpenFileReader(FileSystem* fs, const std::string& path,
                                                    const ReadFilesSettings& settings,
                                                    const FileReadTarget& target) {
  if (settings.format == "csv") {
    csv::CsvOptions options = settings.csv;
    options.schema = target.schema;
    options.rescued_data_column = target.rescued_data_column;
    options.file_path = target.file_path.empty() ? path : target.file_path;
    if (target.batch_rows > 0) options.batch_rows = target.batch_rows;
    LP_ASSIGN_OR_RETURN(auto reader, csv::CsvReader::Open(fs, path, std::move(options)));
    return std::unique_ptr<BatchReader>(std::move(reader));
  }
  if (settings.format == "json") {
    json::JsonOptions options = settings.json;
    options.schema = target.schema;
    options.rescued_data_column = target.rescued_data_column;
    options.file_path = target.file_path.empty() ? path : target.file_path;
    if (target.batch_rows > 0) options.batch_rows = target.batch_rows;
    LP_ASSIGN_OR_RETURN(auto reader, json::JsonReader::Open(fs, path, std::move(options)));
    return std::unique_ptr<BatchReader>(std::move(reader));
  }
  if (settings.format == "parquet") {
    LP_ASSIGN_OR_RETURN(auto reader, parquet::OpenBatchReader(fs, path));
    if (target.schema) {
      for (const auto& f : target.schema->fields()) {
        int i = reader->schema().FindField(f.name);
        if (i >= 0 && reader->schema().field(static_cast<size_t>(i)).type != f.type) {
          return Status::InvalidArgument((target.file_path.empty() ? path : target.file_path) + ": column " + f.name +
                                         " is " + reader->schema().field(static_cast<size_t>(i)).type.ToString() +
                                         " in the file but " + f.type.ToString() + " in the schema");
        }
      }
    }
    return reader;
  }
  return Status::NotSupported("read_files format '" + settings.format + "' (supported: csv, json, parquet)");
}

}  // namespace lakepipe::formats
