// libFuzzer target for the Parquet reader: any byte string must give a Status, never a
// crash, a hang or an allocation beyond what the limits below allow.
// docs/fuzzing.md: `make fuzz` runs it, `make test` replays its corpus.
#include <cstddef>
#include <cstdint>
#include <string>

#include "formats/parquet/parquet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using lakepipe::parquet::FileReader;
  auto reader = FileReader::OpenBuffer(std::string(reinterpret_cast<const char*>(data), size), "fuzz-input");
  if (!reader.ok()) return 0;
  lakepipe::parquet::ReadOptions options;
  options.max_page_bytes = 16 << 20;  // keeps a tiny input from asking for a huge page
  auto batch = (*reader)->ReadAll(options);
  (void)batch;
  return 0;
}
