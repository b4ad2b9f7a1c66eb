// JSON lines writer: RecordBatches (or single column values) to JSON text as Spark writes
// them: one object per row; NULL fields omitted (Spark's ignoreNullFields=true) unless
// asked otherwise; dates "yyyy-MM-dd"; timestamps ISO 8601 in UTC with a 'Z'
// ("2019-12-09T10:05:00.000Z", microseconds when not whole milliseconds; timestamp_ntz
// without the 'Z'); decimals as JSON numbers with every digit; NaN and infinities as the
// strings "NaN", "Infinity", "-Infinity"; binary as base64; maps as objects (keys as text).
// Pure functions plus a small file writer used by one thread at a time.
#pragma once

#include <memory>
#include <string>

#include "common/fs.h"
#include "common/status.h"
#include "types/batch.h"

namespace lakepipe::json {

struct JsonWriteOptions {
  bool ignore_null_fields = true;
};

// The JSON form of row `row` of `column` (null as `null`).
void AppendJsonValue(const Column& column, int64_t row, const JsonWriteOptions& options,
                     std::string* out);
// One JSON object per row, each followed by '\n'.
void AppendJsonLines(const RecordBatch& batch, const JsonWriteOptions& options, std::string* out);

class JsonWriter {
 public:
  static Result<std::unique_ptr<JsonWriter>> Open(FileSystem* fs, const std::string& path,
                                                  JsonWriteOptions options = {});
  Status Write(const RecordBatch& batch);
  Status Close();  // flushes and fsyncs

 private:
  JsonWriter() = default;
  std::unique_ptr<WritableFile> file_;
  JsonWriteOptions options_;
  std::string buffer_;
};

}  // namespace lakepipe::json
