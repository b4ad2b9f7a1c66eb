// libFuzzer entry point for the JSON lines reader: any bytes must give valid batches (bad
// lines rescued) or a clear error, never a crash. docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <string>

#include "formats/json/json_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lakepipe;
  if (size == 0) return 0;
  uint8_t mode = data[0];
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  json::JsonOptions options;
  options.batch_rows = 1 + (mode >> 4);
  if (mode & 1) {
    auto schema = Schema::ParseDDL(
        "a BIGINT, b ARRAY<STRUCT<x: STRING, y: DOUBLE>>, c MAP<STRING, INT>, d DECIMAL(12,3), "
        "e TIMESTAMP");
    if (schema.ok()) options.schema = *schema;
  }
  auto reader = json::JsonReader::OpenBuffer(std::move(text), options);
  if (!reader.ok()) return 0;
  json::JsonBatch batch;
  for (;;) {
    auto more = (*reader)->Next(&batch);
    if (!more.ok() || !*more) break;
    if (!batch.batch.Validate().ok()) __builtin_trap();
  }
  return 0;
}
