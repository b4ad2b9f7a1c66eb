// Parquet value decoders (apache/parquet-format Encodings.md), used by the reader.
//
// Owns: PLAIN for every physical type (bit-packed BOOLEAN, INT32/INT64/INT96/FLOAT/DOUBLE,
// BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY), RLE-encoded BOOLEAN, dictionary indices
// (PLAIN_DICTIONARY / RLE_DICTIONARY), DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY,
// DELTA_BYTE_ARRAY, BYTE_STREAM_SPLIT, and the RLE/bit-packed hybrid decoder behind
// levels and dictionary indices.
//
// Every decoder reads a page's bytes (a std::string_view it does not own) and appends
// *dense* values (nulls are not stored in Parquet pages) to a ValueBuffer. Input is
// untrusted: every length is checked against the bytes present before anything is read or
// allocated, and malformed input yields Corruption naming the encoding and what is wrong —
// never a crash. The caller bounds `n` (the number of values it expects), so no decoder
// allocates more than the caller asked for. Pure functions and small value types; not
// synchronised (use one decoder per thread).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lakepipe::parquet::encodings {

// Dense decoded values of one physical type. Fixed-width types (BOOLEAN as one byte per
// value, INT32, INT64, INT96 as 12 bytes, FLOAT, DOUBLE, FIXED_LEN_BYTE_ARRAY of `width`
// bytes) live in `fixed`; BYTE_ARRAY values live in `bytes` delimited by `offsets`
// (count+1 entries, starting at 0).
struct ValueBuffer {
  int width = 0;  // bytes per fixed-width value; 0 for BYTE_ARRAY
  int64_t count = 0;
  std::vector<uint8_t> fixed;
  std::vector<int64_t> offsets{0};
  std::vector<uint8_t> bytes;

  explicit ValueBuffer(int value_width = 0) : width(value_width) {}
  bool is_byte_array() const { return width == 0; }
  std::string_view ByteArray(int64_t i) const {
    return {reinterpret_cast<const char*>(bytes.data()) + offsets[i],
            static_cast<size_t>(offsets[i + 1] - offsets[i])};
  }
  const uint8_t* FixedAt(int64_t i) const { return fixed.data() + i * width; }
  void AppendByteArray(const uint8_t* p, int64_t len) {
    bytes.insert(bytes.end(), p, p + len);
    offsets.push_back(static_cast<int64_t>(bytes.size()));
    ++count;
  }
  void Clear() {
    count = 0;
    fixed.clear();
    offsets.assign(1, 0);
    bytes.clear();
  }
};

// The RLE / bit-packed hybrid (levels, dictionary indices, RLE booleans) is decoded by
// RleDecoder in formats/parquet/rle.h.

// ---- PLAIN ---------------------------------------------------------------------------
// Each returns the number of input bytes consumed.
// Fixed-width PLAIN (INT32, INT64, INT96, FLOAT, DOUBLE, FIXED_LEN_BYTE_ARRAY): `n`
// values of out->width bytes, copied verbatim (little-endian on disk and in memory).
Result<int64_t> DecodePlainFixed(std::string_view input, int64_t n, ValueBuffer* out);
// BOOLEAN PLAIN: bit-packed, LSB first; out->width must be 1.
Result<int64_t> DecodePlainBoolean(std::string_view input, int64_t n, ValueBuffer* out);
// BYTE_ARRAY PLAIN: 4-byte little-endian length, then the bytes.
Result<int64_t> DecodePlainByteArray(std::string_view input, int64_t n, ValueBuffer* out);

// ---- other encodings -----------------------------------------------------------------
// RLE BOOLEAN (data pages): a 4-byte little-endian length, then the hybrid runs with
// bit width 1.
Status DecodeRleBoolean(std::string_view input, int64_t n, ValueBuffer* out);

// Dictionary indices: one byte bit width, then hybrid runs. Every index must be below
// `dictionary_size` (checked here, so gathering needs no further check).
Status DecodeDictionaryIndices(std::string_view input, int64_t n, int64_t dictionary_size,
                               std::vector<int32_t>* indices);
// Appends dictionary[indices[i]] for each i (indices already validated).
void GatherFromDictionary(const ValueBuffer& dictionary, const int32_t* indices, int64_t n,
                          ValueBuffer* out);

// DELTA_BINARY_PACKED for INT32 (out->width 4) and INT64 (out->width 8). Decodes the
// first `n` values; the header's total count must be at least `n`. Returns the bytes of
// the whole encoded run (header count values), so that DELTA_LENGTH_BYTE_ARRAY can find
// the data that follows. Arithmetic wraps, as the spec requires.
Result<int64_t> DecodeDeltaBinaryPacked(std::string_view input, int64_t n, ValueBuffer* out);

// DELTA_LENGTH_BYTE_ARRAY: DELTA_BINARY_PACKED lengths, then the concatenated bytes.
// Returns the bytes consumed.
Result<int64_t> DecodeDeltaLengthByteArray(std::string_view input, int64_t n,
                                           ValueBuffer* out);

// DELTA_BYTE_ARRAY: DELTA_BINARY_PACKED prefix lengths, then the suffixes as
// DELTA_LENGTH_BYTE_ARRAY; value i = first prefix[i] bytes of value i-1 + suffix i.
// Works for BYTE_ARRAY (out->width 0) and FIXED_LEN_BYTE_ARRAY (out->width > 0, every
// value must have that length).
Status DecodeDeltaByteArray(std::string_view input, int64_t n, ValueBuffer* out);

// BYTE_STREAM_SPLIT (FLOAT, DOUBLE, INT32, INT64, FIXED_LEN_BYTE_ARRAY): byte k of value
// i is at input[k * n + i]. The input must hold exactly n * out->width bytes.
Status DecodeByteStreamSplit(std::string_view input, int64_t n, ValueBuffer* out);

}  // namespace lakepipe::parquet::encodings
