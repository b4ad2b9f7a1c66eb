// JsonReader (a BatchReader, types/batch_reader.h): streams JSON lines (one object per line, simdjson; or, with multi_line, one
// JSON value per file) into RecordBatches of a
// bounded number of rows, with the rescue semantics of the CSV reader: nothing is dropped
// silently (docs/file-formats.md states the exact rules).
//
// Types come from the given schema or are inferred from the first `infer_rows` lines:
// objects -> struct (fields in first-seen order), arrays -> array, integers -> bigint,
// other numbers -> double, strings -> string, booleans -> boolean; conflicting kinds
// widen (bigint+double -> double) or fall back to string; a column only ever null is
// string. Values land in nested Columns.
//
// Rescue: a top-level value that does not fit its column (anywhere inside it) makes the
// misfit leaves NULL and records {"<field>": "<raw JSON text>", ..., "_file_path": ...};
// a key the schema lacks is recorded the same way; a malformed line (or one that is not an
// object) gives a row of NULLs with {"_corrupt_record": "<line>", "_error": "...", ...}.
// Each rescued row is counted in ReadStats with its line number.
//
// Call order: Open/OpenBuffer, then Next() until false. One thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/fs.h"
#include "common/status.h"
#include "formats/csv/csv_reader.h"  // ReadStats, AppendJsonString
#include "types/batch.h"
#include "types/batch_reader.h"
#include "types/schema.h"

namespace lakepipe::json {

using lakepipe::ReadStats;
using JsonBatch = ReadBatch;

struct JsonOptions {
  std::optional<Schema> schema;
  int64_t infer_rows = 10000;
  std::string rescued_data_column = "_rescued_data";  // empty: no rescue column
  std::string file_path;                              // "_file_path" in rescued records
  int64_t batch_rows = 65536;
  int64_t chunk_bytes = 8 << 20;
  int64_t max_line_bytes = 64 << 20;
  bool line_numbers = false;
  // Spark's multiLine: the file is one JSON value, an object or an array of objects, and
  // records may span lines. The file is read whole (at most max_line_bytes); line numbers
  // and first_bad_lines are then 1-based record numbers. A file that does not parse is one
  // corrupt record; an array element that is not an object is a corrupt record.
  bool multi_line = false;
  // DATE / TIMESTAMP string values are parsed with these when set (dateFormat and
  // timestampFormat); otherwise as ISO 8601 text.
  std::function<std::optional<int32_t>(std::string_view)> parse_date;
  std::function<std::optional<int64_t>(std::string_view)> parse_timestamp;
  // Whether a key the schema lacks makes the record a misfit (the file readers rescue such
  // records) or is ignored (from_json, as Spark's JSON functions do; read_files'
  // schemaEvolutionMode 'none'), at any depth.
  bool unknown_keys_misfit = true;
  // Without a schema: false infers every top-level column as STRING (nested values kept as
  // their JSON text), Auto Loader's default; true infers types, structs and arrays.
  bool infer_types = true;
  // Note each top-level key the schema lacks in ReadStats::new_fields (its first line);
  // the value is still rescued (schemaEvolutionMode addNewColumns / failOnNewColumns).
  bool report_new_fields = false;
};

class JsonReader final : public BatchReader {
 public:
  ~JsonReader() override;
  static Result<std::unique_ptr<JsonReader>> Open(FileSystem* fs, const std::string& path,
                                                  JsonOptions options);
  static Result<std::unique_ptr<JsonReader>> OpenBuffer(std::string data, JsonOptions options);

  const Schema& schema() const override;       // data columns, then the rescue column
  const Schema& data_schema() const override;  // data columns only
  // Next batch of at most batch_rows rows; false at end of input. Errors: IOError,
  // Corruption for a line longer than max_line_bytes.
  Result<bool> Next(ReadBatch* out) override;
  const ReadStats& total_stats() const override;

  class Impl;

 private:
  explicit JsonReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

Result<RecordBatch> ReadJsonFile(FileSystem* fs, const std::string& path, JsonOptions options,
                                 ReadStats* stats = nullptr);
Result<RecordBatch> ReadJsonBuffer(std::string data, JsonOptions options,
                                   ReadStats* stats = nullptr);

}  // namespace lakepipe::json
