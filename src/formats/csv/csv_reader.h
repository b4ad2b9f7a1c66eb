// CsvReader (a BatchReader, types/batch_reader.h): streams an RFC 4180 CSV file (or an in-memory buffer) into RecordBatches of
// a bounded number of rows, with Spark/Databricks "rescue" semantics: nothing in the
// input is ever dropped silently.
//
// What it owns: the parsing of CSV text (quoted fields with delimiters, doubled quotes or
// an escape character, embedded newlines, CRLF or LF, a UTF-8 BOM), conversion of each
// field to its column's type, schema inference when no schema is given, and the
// `_rescued_data` column (docs/file-formats.md states the exact rules):
//   - a value that does not parse as its column's type becomes NULL and its raw text is
//     recorded as {"<column>": "<raw>", ..., "_file_path": "<path>"};
//   - extra fields in a row are recorded as "_c<position>" (or by header name when the
//     header names them but the schema does not);
//   - a row with too few fields gets NULLs and "_missing_columns": ["a", ...];
//   - an unterminated quote at end of input rescues the raw row as "_corrupt_record";
//   - a STRING value that is not valid UTF-8 becomes NULL and is rescued (its bytes in
//     hex under "_invalid_utf8"); BINARY columns take any bytes.
// Every rescued row is counted in ReadStats with the line numbers of the first few.
//
// Memory is bounded: the reader holds one input window (chunk_bytes, grown only for a
// single row longer than that, up to max_row_bytes) and one batch.
//
// Call order: Open/OpenBuffer, then Next() until it returns false. One thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "types/batch.h"
#include "types/batch_reader.h"
#include "types/schema.h"

namespace lakepipe::csv {

struct CsvOptions {
  bool header = true;      // the first row names the columns
  char delimiter = ',';
  char quote = '"';
  // Inside a quoted field, `escape` followed by the quote (or by itself) yields that
  // character. The default equals the quote: RFC 4180's doubled quotes.
  char escape = '"';
  // An unquoted field equal to this text is NULL. An empty unquoted field is always NULL.
  std::optional<std::string> null_value;
  // The schema to read into; when absent, types are inferred from the first
  // `infer_rows` rows and columns are named from the header (or _c0, _c1, ...).
  std::optional<Schema> schema;
  int64_t infer_rows = 10000;
  // Without a schema: false reads every column as STRING (Spark's inferSchema=false).
  bool infer_types = true;
  // Name of the rescue column appended to the schema; empty disables rescue (values that
  // do not fit are still NULL and still counted).
  std::string rescued_data_column = "_rescued_data";
  // Recorded as "_file_path" in rescued records (the path passed to Open by default).
  std::string file_path;
  int64_t batch_rows = 65536;
  int64_t chunk_bytes = 8 << 20;
  int64_t max_row_bytes = 64 << 20;
  // Keep each row's source line number (1-based line where the row starts).
  bool line_numbers = false;
  // DATE and TIMESTAMP fields are parsed with these when set (read_files' dateFormat and
  // timestampFormat, compiled by formats/options); otherwise as ISO 8601 text. A value
  // the parser rejects is rescued like any other misfit.
  std::function<std::optional<int32_t>(std::string_view)> parse_date;
  std::function<std::optional<int64_t>(std::string_view)> parse_timestamp;
};

// Builds options from read_files()/Spark option names (case-insensitive): header, sep or
// delimiter, quote, escape, nullValue, inferSchema, schema (DDL), rescuedDataColumn, mode
// (PERMISSIVE only). Anything else is NotSupported, naming the option.
Result<CsvOptions> CsvOptionsFromMap(const std::vector<std::pair<std::string, std::string>>& kv);

using lakepipe::ReadStats;
using CsvBatch = ReadBatch;

class CsvReader final : public BatchReader {
 public:
  ~CsvReader() override;
  static Result<std::unique_ptr<CsvReader>> Open(FileSystem* fs, const std::string& path,
                                                 CsvOptions options);
  // Reads from memory; `options.file_path` names the source in rescued records.
  static Result<std::unique_ptr<CsvReader>> OpenBuffer(std::string data, CsvOptions options);

  // The schema of the batches: the given or inferred columns, then the rescue column.
  const Schema& schema() const override;
  // The data columns only (without the rescue column).
  const Schema& data_schema() const override;

  // Fills `out` with the next batch of at most batch_rows rows; false at end of input.
  // Errors: IOError from the file, Corruption for a row longer than max_row_bytes.
  Result<bool> Next(ReadBatch* out) override;
  // Totals over every batch returned so far.
  const ReadStats& total_stats() const override;

  class Impl;

 private:
  explicit CsvReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads a whole file into one batch (for the CLI and tests); stats summed into *stats.
Result<RecordBatch> ReadCsvFile(FileSystem* fs, const std::string& path, CsvOptions options,
                                ReadStats* stats = nullptr);
Result<RecordBatch> ReadCsvBuffer(std::string data, CsvOptions options,
                                  ReadStats* stats = nullptr);

// Appends `text` to `out` as a JSON string literal (quotes and escapes included). Invalid
// UTF-8 is written as U+FFFD, so the result is always valid JSON.
void AppendJsonString(std::string_view text, std::string* out);

// The `_rescued_data` record both readers build (docs/file-formats.md): AddRescueEntry
// appends "key": "raw" to `record` (opening the object on the first entry); a raw value
// that is not valid UTF-8 is written with U+FFFD and its exact bytes are kept, in hex, in
// `invalid_utf8`. FinishRescueRecord appends "_invalid_utf8": {...} when there is any and
// "_file_path", closes the object and clears `invalid_utf8`.
void AddRescueEntry(std::string_view key, std::string_view raw, std::string* record,
                    std::string* invalid_utf8);
void FinishRescueRecord(const std::string& file_path, std::string* record,
                        std::string* invalid_utf8);

}  // namespace lakepipe::csv
