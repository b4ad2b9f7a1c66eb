#include "formats/parquet/rle.h"

#include <algorithm>
#include <cstring>

namespace lakepipe::parquet {

int BitWidth(uint64_t max_value) {
  int w = 0;
  while (max_value) {
    ++w;
    max_value >>= 1;
  }
  return w;
}

void BitPackAppend(const uint32_t* values, int64_t n, int bit_width, std::string* out) {
  if (bit_width == 0 || n == 0) return;
  size_t at = out->size();
  out->resize(at + static_cast<size_t>((n * bit_width + 7) / 8));
  uint8_t* dst = reinterpret_cast<uint8_t*>(out->data()) + at;
  int64_t i = 0;
  if (bit_width <= 16) {
    // Eight values fill exactly bit_width bytes: each group is assembled in one 128-bit
    // word and stored at once, instead of a byte-by-byte flush loop per value (dictionary
    // indices of a page are packed this way).
    for (; i + 8 <= n; i += 8) {
      unsigned __int128 group = 0;
      for (int k = 0; k < 8; ++k) {
        group |= static_cast<unsigned __int128>(values[i + k]) << (k * bit_width);
      }
      std::memcpy(dst, &group, static_cast<size_t>(bit_width));
      dst += bit_width;
    }
  }
  uint64_t acc = 0;
  int bits = 0;
  for (; i < n; ++i) {
    acc |= static_cast<uint64_t>(values[i]) << bits;
    bits += bit_width;
    while (bits >= 8) {
      *dst++ = static_cast<uint8_t>(acc);
      acc >>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) *dst = static_cast<uint8_t>(acc);
}

namespace {

// Unpacks values [first, first+n) of a packed run; the caller checked the bounds.
inline void UnpackRange(const uint8_t* in, size_t in_size, int bit_width, int64_t first,
                        int64_t n, uint32_t* out) {
  const uint64_t mask = bit_width == 32 ? 0xffffffffULL : ((1ULL << bit_width) - 1);
  for (int64_t i = 0; i < n; ++i) {
    uint64_t bit = static_cast<uint64_t>(first + i) * bit_width;
    size_t byte = bit >> 3;
    uint64_t word = 0;
    if (byte + 8 <= in_size) {
      std::memcpy(&word, in + byte, 8);
    } else {
      std::memcpy(&word, in + byte, in_size - byte);
    }
    out[i] = static_cast<uint32_t>((word >> (bit & 7)) & mask);
  }
}

template <typename T>
void PutRleRun(uint32_t value, int64_t count, int value_bytes, std::string* out) {
  // header = count << 1 (varint)
  uint64_t h = static_cast<uint64_t>(count) << 1;
  while (h >= 0x80) {
    out->push_back(static_cast<char>((h & 0x7f) | 0x80));
    h >>= 7;
  }
  out->push_back(static_cast<char>(h));
  for (int b = 0; b < value_bytes; ++b) out->push_back(static_cast<char>(value >> (8 * b)));
}

void PutLiteralRun(const uint32_t* values, int64_t n, int bit_width, std::string* out) {
  // n is a multiple of 8 (the caller pads).
  uint64_t h = (static_cast<uint64_t>(n / 8) << 1) | 1;
  while (h >= 0x80) {
    out->push_back(static_cast<char>((h & 0x7f) | 0x80));
    h >>= 7;
  }
  out->push_back(static_cast<char>(h));
  BitPackAppend(values, n, bit_width, out);
}

}  // namespace

Status BitUnpack(const uint8_t* in, size_t in_size, int bit_width, int64_t n, uint32_t* out) {
  if (bit_width < 0 || bit_width > 32) {
    return Status::Corruption("bit width " + std::to_string(bit_width) + " out of range");
  }
  if (n < 0 || static_cast<uint64_t>(n) * bit_width > static_cast<uint64_t>(in_size) * 8) {
    return Status::Corruption("bit-packed data of " + std::to_string(in_size) +
                              " bytes is too short for " + std::to_string(n) + " values");
  }
  if (bit_width == 0) {
    std::fill(out, out + n, 0u);
    return Status::OK();
  }
  UnpackRange(in, in_size, bit_width, 0, n, out);
  return Status::OK();
}

template <typename T>
void RleEncode(const T* values, int64_t n, int bit_width, std::string* out) {
  const int value_bytes = (bit_width + 7) / 8;
  // Pending literal values (not yet written), kept as uint32 for packing.
  uint32_t literal[512];
  int64_t literal_count = 0;
  auto flush_literals = [&](bool pad) {
    if (literal_count == 0) return;
    if (pad) {
      while (literal_count % 8) literal[literal_count++] = 0;
    }
    PutLiteralRun(literal, literal_count, bit_width, out);
    literal_count = 0;
  };
  int64_t i = 0;
  while (i < n) {
    T v = values[i];
    int64_t j = i + 1;
    // A run is measured eight bytes at a time first: levels of a column without NULLs
    // and the indices of a constant column are one run the length of the page.
    const uint64_t pattern = (~uint64_t{0} / ((uint64_t{1} << (8 * sizeof(T))) - 1)) * v;
    constexpr int64_t kPerWord = 8 / sizeof(T);
    while (j + kPerWord <= n) {
      uint64_t w;
      std::memcpy(&w, values + j, 8);
      if (w != pattern) break;
      j += kPerWord;
    }
    while (j < n && values[j] == v) ++j;
    int64_t run = j - i;
    // Complete the pending literal group with values from this run, so the literals can
    // be flushed as whole groups of 8 before a repeated run.
    if (run >= 8 && literal_count % 8 != 0) {
      int64_t borrow = 8 - literal_count % 8;
      for (int64_t k = 0; k < borrow; ++k) literal[literal_count++] = static_cast<uint32_t>(v);
      run -= borrow;
      i += borrow;
    }
    if (run >= 8) {
      flush_literals(false);
      PutRleRun<T>(static_cast<uint32_t>(v), run, value_bytes, out);
      i = j;
      continue;
    }
    for (int64_t k = 0; k < run; ++k) {
      if (literal_count >= 504) flush_literals(false);  // 63 groups: a one-byte header
      literal[literal_count++] = static_cast<uint32_t>(v);
    }
    i = j;
  }
  flush_literals(true);
}

template void RleEncode<uint8_t>(const uint8_t*, int64_t, int, std::string*);
template void RleEncode<uint16_t>(const uint16_t*, int64_t, int, std::string*);
template void RleEncode<uint32_t>(const uint32_t*, int64_t, int, std::string*);

// ---- decoder ----------------------------------------------------------------------------

RleDecoder::RleDecoder(const uint8_t* data, size_t size, int bit_width, std::string what)
    : data_(data), size_(size), bit_width_(bit_width), what_(std::move(what)) {}

Status RleDecoder::Error(const std::string& msg) const {
  return Status::Corruption(what_ + ": " + msg + " at byte " + std::to_string(pos_));
}

Status RleDecoder::NextRun() {
  if (bit_width_ < 0 || bit_width_ > 32) {
    return Error("bit width " + std::to_string(bit_width_) + " out of range");
  }
  uint64_t header = 0;
  int shift = 0;
  while (true) {
    if (pos_ >= size_) return Error("data ended before all values were decoded");
    uint8_t b = data_[pos_++];
    if (shift >= 63) return Error("run header varint too long");
    header |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
    shift += 7;
  }
  if (header & 1) {
    uint64_t groups = header >> 1;
    if (groups > (1ULL << 40)) return Error("bit-packed run too long");
    uint64_t values = groups * 8;
    uint64_t bytes = groups * static_cast<uint64_t>(bit_width_);
    size_t available = size_ - pos_;
    if (bytes > available) {
      // Some writers truncate the final bit-packed run to the bytes its values need.
      bytes = available;
      values = bit_width_ == 0 ? values : (available * 8) / static_cast<uint64_t>(bit_width_);
    }
    if (values == 0) return Error("empty bit-packed run");
    is_literal_ = true;
    literal_data_ = data_ + pos_;
    literal_bytes_ = bytes;
    literal_index_ = 0;
    run_remaining_ = static_cast<int64_t>(values);
    pos_ += bytes;
  } else {
    uint64_t count = header >> 1;
    int value_bytes = (bit_width_ + 7) / 8;
    if (static_cast<size_t>(value_bytes) > size_ - pos_) return Error("truncated RLE run value");
    uint32_t v = 0;
    for (int b = 0; b < value_bytes; ++b) v |= static_cast<uint32_t>(data_[pos_ + b]) << (8 * b);
    pos_ += value_bytes;
    if (bit_width_ < 32 && (v >> bit_width_) != 0) {
      return Error("RLE run value " + std::to_string(v) + " exceeds bit width " +
                   std::to_string(bit_width_));
    }
    if (count > (1ULL << 40)) return Error("RLE run too long");
    is_literal_ = false;
    rle_value_ = v;
    run_remaining_ = static_cast<int64_t>(count);
  }
  return Status::OK();
}

template <typename T>
Status RleDecoder::GetBatch(T* out, int64_t n) {
  uint32_t tmp[256];
  while (n > 0) {
    if (run_remaining_ == 0) {
      LP_RETURN_IF_ERROR(NextRun());
      continue;
    }
    int64_t take = std::min(n, run_remaining_);
    if (!is_literal_) {
      std::fill(out, out + take, static_cast<T>(rle_value_));
    } else if (bit_width_ == 0) {
      std::fill(out, out + take, static_cast<T>(0));
    } else {
      if constexpr (sizeof(T) == 4) {
        UnpackRange(literal_data_, literal_bytes_, bit_width_, literal_index_, take,
                    reinterpret_cast<uint32_t*>(out));
      } else {
        take = std::min<int64_t>(take, 256);
        UnpackRange(literal_data_, literal_bytes_, bit_width_, literal_index_, take, tmp);
        for (int64_t k = 0; k < take; ++k) out[k] = static_cast<T>(tmp[k]);
      }
      literal_index_ += take;
    }
    out += take;
    n -= take;
    run_remaining_ -= take;
  }
  return Status::OK();
}

template Status RleDecoder::GetBatch<uint8_t>(uint8_t*, int64_t);
template Status RleDecoder::GetBatch<uint16_t>(uint16_t*, int64_t);
template Status RleDecoder::GetBatch<int16_t>(int16_t*, int64_t);
template Status RleDecoder::GetBatch<uint32_t>(uint32_t*, int64_t);

}  // namespace lakepipe::parquet
