// libFuzzer target for the Parquet reader: any byte string must give a Status, never a
// crash, a hang or an allocation beyond what the limits below allow.
//
// Not part of the library or of ctest (the *_fuzz.cc suffix keeps it out). To run it by hand
// from the repository root:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
//     src/formats/parquet/parquet_reader_fuzz.cc \
//     $(ls src/formats/parquet/*.cc src/types/*.cc src/common/*.cc | grep -v -e _test.cc -e _fuzz.cc) \
//     -lzstd -lsnappy -llz4 -lz -lbrotlidec -lbrotlienc -luuid -o /tmp/parquet_reader_fuzz
// then seed it with the test files:
//   /tmp/parquet_reader_fuzz -max_len=100000 -rss_limit_mb=2048 ../shared/testdata/parquet-testing/data
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
