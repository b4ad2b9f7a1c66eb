// CSV writer: RecordBatches to RFC 4180 text, for `table show --format csv` and exports.
//
// A field is quoted when it contains the delimiter, the quote, CR or LF, or when it is an
// empty string (so that "" reads back as an empty string and an empty field as NULL);
// quotes inside are doubled. NULL is written as an empty field. Doubles use the shortest
// text that reads back to the same value (NaN, Infinity, -Infinity as Spark writes them);
// dates yyyy-MM-dd; timestamps "yyyy-MM-dd HH:mm:ss[.ffffff]" in UTC; nested values as
// Spark prints them. Pure functions plus a small file writer used by one thread at a time.
#pragma once

#include <memory>
#include <string>

#include "common/fs.h"
#include "common/status.h"
#include "types/batch.h"

namespace lakepipe::csv {

struct CsvWriteOptions {
  bool header = true;
  char delimiter = ',';
  char quote = '"';
  std::string line_end = "\n";
};

// "a,b,c\n" for the schema's field names (quoted as needed).
void AppendCsvHeader(const Schema& schema, const CsvWriteOptions& options, std::string* out);
// One line per row of `batch`.
void AppendCsvRows(const RecordBatch& batch, const CsvWriteOptions& options, std::string* out);
// Appends the text of row `row` of `column` (no quoting) — the CSV form of a value.
void AppendCsvValueText(const Column& column, int64_t row, std::string* out);

// Writes a CSV file: header (if asked) on the first Write, rows buffered and appended in
// large chunks; Close flushes and fsyncs.
class CsvWriter {
 public:
  static Result<std::unique_ptr<CsvWriter>> Open(FileSystem* fs, const std::string& path,
                                                 CsvWriteOptions options = {});
  Status Write(const RecordBatch& batch);
  Status Close();

 private:
  CsvWriter() = default;
  std::unique_ptr<WritableFile> file_;
  CsvWriteOptions options_;
  std::string buffer_;
  bool wrote_header_ = false;
};

}  // namespace lakepipe::csv
