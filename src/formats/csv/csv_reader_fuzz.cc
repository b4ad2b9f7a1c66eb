// libFuzzer entry point for the CSV reader: any bytes must give batches or a clear error,
// never a crash, hang or unbounded allocation. docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <string>

#include "formats/csv/csv_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lakepipe;
  if (size == 0) return 0;
  // The first byte picks the options so one corpus explores them all.
  uint8_t mode = data[0];
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  csv::CsvOptions options;
  options.header = (mode & 1) != 0;
  options.batch_rows = 1 + (mode >> 4);
  if (mode & 2) options.escape = '\\';
  if (mode & 4) options.delimiter = ';';
  if (mode & 8) {
    auto schema = Schema::ParseDDL("a INT, b STRING, c DOUBLE, d DATE, e DECIMAL(9,2)");
    if (schema.ok()) options.schema = *schema;
  }
  auto reader = csv::CsvReader::OpenBuffer(std::move(text), options);
  if (!reader.ok()) return 0;
  csv::CsvBatch batch;
  for (;;) {
    auto more = (*reader)->Next(&batch);
    if (!more.ok() || !*more) break;
    if (!batch.batch.Validate().ok()) __builtin_trap();
  }
  return 0;
}
