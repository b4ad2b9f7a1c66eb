// Page compression codecs of Parquet: UNCOMPRESSED, SNAPPY, GZIP, BROTLI, ZSTD, LZ4_RAW and
// the deprecated Hadoop-framed "LZ4".
//
// Decompression is defensive: the caller states the size the page header promises and the
// largest size it accepts; anything that would decompress to a different size, or past the
// maximum, is Corruption (no decompression bombs). GZIP accepts concatenated members and
// zlib streams. "LZ4" tries Hadoop framing first and falls back to an LZ4 frame or a raw
// LZ4 block, as parquet-cpp does. Functions are thread-safe (per-thread codec contexts).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "formats/parquet/metadata.h"

namespace lakepipe::parquet {

// Appends the compressed form of data[0..size) to `out`. `level` applies to ZSTD, GZIP
// and BROTLI (<= 0: the codec's default). NotSupported for LZO.
Status Compress(CompressionCodec codec, int level, const uint8_t* data, size_t size,
                std::string* out);

// Decompresses into out[0..expected_size) (the caller's buffer of at least expected_size
// bytes). Corruption if expected_size > max_size, the input is malformed, or it does not
// decompress to exactly expected_size bytes.
Status Decompress(CompressionCodec codec, const uint8_t* in, size_t in_size, uint8_t* out,
                  int64_t expected_size, int64_t max_size);

// Convenience: resizes `out` to expected_size and decompresses into it.
Status DecompressToString(CompressionCodec codec, const uint8_t* in, size_t in_size,
                          int64_t expected_size, int64_t max_size, std::string* out);

// "SNAPPY", "ZSTD", ...: for error messages.
std::string CodecName(CompressionCodec codec);

}  // namespace lakepipe::parquet
