// The RLE / bit-packed hybrid encoding of Parquet (Encodings.md, "RLE"), used for
// definition and repetition levels, dictionary indices and RLE booleans, plus the plain
// LSB-first bit packing it is built on.
//
// RleEncode works on a whole array at once (levels and indices are buffered per page);
// RleDecoder pulls values in batches. The decoder is bounds-checked: running out of data
// is Corruption, never a read past the end. Bit widths 0..32. Not synchronised.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace lakepipe::parquet {

// Bits needed to store values 0..max_value (0 for max_value 0).
int BitWidth(uint64_t max_value);

// Packs `n` values of `bit_width` bits, LSB first, appending ceil(n*bit_width/8) bytes.
void BitPackAppend(const uint32_t* values, int64_t n, int bit_width, std::string* out);
// Unpacks `n` values of `bit_width` bits starting at bit 0 of `in` (in_size bytes).
// Corruption if the input is too short.
Status BitUnpack(const uint8_t* in, size_t in_size, int bit_width, int64_t n, uint32_t* out);

// Appends the RLE/bit-packed hybrid encoding of values[0..n) (each < 2^bit_width) to
// `out`, without a length prefix. The last bit-packed group is padded with zeros.
template <typename T>  // uint8_t, uint16_t or uint32_t
void RleEncode(const T* values, int64_t n, int bit_width, std::string* out);

class RleDecoder {
 public:
  // `what` names the stream in errors ("definition levels of column a.b").
  RleDecoder(const uint8_t* data, size_t size, int bit_width, std::string what = "RLE data");

  // Decodes exactly `n` values into `out`; Corruption if the data holds fewer, or a bit
  // width is out of range.
  template <typename T>  // uint8_t, uint16_t, int16_t or uint32_t
  Status GetBatch(T* out, int64_t n);

  // Bytes consumed so far (complete runs).
  size_t position() const { return pos_; }

 private:
  Status NextRun();
  Status Error(const std::string& msg) const;

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  int bit_width_;
  std::string what_;
  // Current run.
  bool is_literal_ = false;
  int64_t run_remaining_ = 0;
  uint32_t rle_value_ = 0;
  const uint8_t* literal_data_ = nullptr;
  size_t literal_bytes_ = 0;
  int64_t literal_index_ = 0;  // next value within the literal run
};

}  // namespace lakepipe::parquet
