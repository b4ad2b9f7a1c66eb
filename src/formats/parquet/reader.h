// Internals of lakepipe's Parquet reader (the public API is FileReader in parquet.h; this
// header exposes the pure value conversions so that tests can check them directly).
//
// The reader (reader.cc) owns: the footer (magic, length, FileMetaData; encrypted files are
// refused with NotSupported naming Parquet modular encryption), column chunks and their
// pages (dictionary pages, data page v1 and v2, every codec of compression.h), the value
// decoders of encodings.h, record assembly from definition/repetition levels into the
// Column layout of types/column.h, column projection, row-group skipping by statistics,
// and a row group read whole, by selected rows, or in slices decoded page by page. Every size read from the file is checked against the file and
// ReadOptions.max_page_bytes before anything is allocated; malformed input is Corruption
// naming the file, the column and what is wrong. Page checksums (crc) are not verified:
// a flipped bit in a page is caught only when it breaks the encoding.
//
// Thread-safety: as FileReader (metadata accessors and ReadRowGroup may run concurrently;
// file reads are serialised on one mutex).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "types/decimal.h"

namespace lakepipe::parquet {

// INT96 timestamp (8 bytes nanoseconds of the day, then 4 bytes Julian day, both
// little-endian) -> microseconds since the Unix epoch.
int64_t Int96ToMicros(const uint8_t* twelve_bytes);
// IEEE 754 half precision (little-endian bytes as stored by FLOAT16) -> float.
float HalfToFloat(uint16_t half);
// Big-endian two's complement of `size` bytes (a DECIMAL in BYTE_ARRAY or
// FIXED_LEN_BYTE_ARRAY) -> int128. Corruption if it does not fit 128 bits.
Result<int128_t> BigEndianToInt128(const uint8_t* data, size_t size);
// 16 bytes -> "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
std::string FormatUuid(const uint8_t* sixteen_bytes);

}  // namespace lakepipe::parquet
