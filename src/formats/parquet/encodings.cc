#include "formats/parquet/encodings.h"

#include "formats/parquet/rle.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace lakepipe::parquet::encodings {
namespace {

std::string Num(int64_t v) { return std::to_string(v); }

// Reads `width` (0..64) bits starting at bit `bit_pos` of data, LSB first. The caller has
// checked that bits [bit_pos, bit_pos + width) lie inside `size` bytes.
inline uint64_t ReadBits(const uint8_t* data, int64_t size, int64_t bit_pos, int width) {
  if (width == 0) return 0;
  int64_t byte = bit_pos >> 3;
  int shift = static_cast<int>(bit_pos & 7);
  uint64_t lo = 0;
  if (byte + 8 <= size) {
    std::memcpy(&lo, data + byte, 8);
  } else {
    for (int64_t i = 0; byte + i < size && i < 8; ++i) lo |= static_cast<uint64_t>(data[byte + i]) << (8 * i);
  }
  uint64_t v = lo >> shift;
  if (shift + width > 64) {
    // The value reaches into a ninth byte (only possible for widths above 56).
    v |= static_cast<uint64_t>(data[byte + 8]) << (64 - shift);
  }
  return width == 64 ? v : (v & ((uint64_t{1} << width) - 1));
}

// Unsigned LEB128 ("VLQ" in Encodings.md), at most 10 bytes.
Status ReadUleb(const uint8_t* data, int64_t size, int64_t* pos, uint64_t* out,
                const char* what) {
  uint64_t v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (*pos >= size) return Status::Corruption(std::string(what) + ": varint runs past the end");
    uint8_t b = data[(*pos)++];
    if (shift == 63 && (b & 0x7e)) return Status::Corruption(std::string(what) + ": varint overflows 64 bits");
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return Status::OK();
    }
  }
  return Status::Corruption(std::string(what) + ": varint longer than 10 bytes");
}

inline int64_t ZigZag(uint64_t v) { return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1)); }

const uint8_t* Bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

}  // namespace


// ---- PLAIN -----------------------------------------------------------------------------

Result<int64_t> DecodePlainFixed(std::string_view input, int64_t n, ValueBuffer* out) {
  if (out->width <= 0) return Status::Internal("PLAIN fixed-width decode without a width");
  if (n < 0 || n > static_cast<int64_t>(input.size()) / out->width) {
    return Status::Corruption("PLAIN data: " + Num(n) + " values of " + Num(out->width) +
                              " bytes need more than the " + Num(input.size()) + " bytes present");
  }
  int64_t bytes = n * out->width;
  out->fixed.insert(out->fixed.end(), Bytes(input), Bytes(input) + bytes);
  out->count += n;
  return bytes;
}

Result<int64_t> DecodePlainBoolean(std::string_view input, int64_t n, ValueBuffer* out) {
  int64_t bytes = (n + 7) / 8;
  if (n < 0 || bytes > static_cast<int64_t>(input.size())) {
    return Status::Corruption("PLAIN BOOLEAN data: " + Num(n) + " values need " + Num(bytes) +
                              " bytes, " + Num(input.size()) + " present");
  }
  const uint8_t* p = Bytes(input);
  size_t at = out->fixed.size();
  out->fixed.resize(at + static_cast<size_t>(n));
  uint8_t* dst = out->fixed.data() + at;
  for (int64_t i = 0; i < n; ++i) dst[i] = (p[i >> 3] >> (i & 7)) & 1;
  out->count += n;
  return bytes;
}

Result<int64_t> DecodePlainByteArray(std::string_view input, int64_t n, ValueBuffer* out) {
  const uint8_t* p = Bytes(input);
  int64_t size = static_cast<int64_t>(input.size());
  // Each value takes at least its 4-byte length, which bounds n before reserving.
  if (n < 0 || n > size / 4) {
    return Status::Corruption("PLAIN BYTE_ARRAY data: " + Num(n) + " values cannot fit in " +
                              Num(size) + " bytes");
  }
  out->offsets.reserve(out->offsets.size() + static_cast<size_t>(n));
  // The values take at most the page less their lengths: copied into place at once
  // rather than appended one by one.
  const size_t at = out->bytes.size();
  out->bytes.resize(at + static_cast<size_t>(size - 4 * n));
  uint8_t* dst = out->bytes.data() + at;
  int64_t pos = 0, written = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (size - pos < 4) {
      out->bytes.resize(at + static_cast<size_t>(written));
      out->count += i;
      return Status::Corruption("PLAIN BYTE_ARRAY data: length of value " + Num(i) + " cut off");
    }
    uint32_t len;
    std::memcpy(&len, p + pos, 4);
    pos += 4;
    // The lengths of the values after this one must still fit: that is what keeps the
    // copies inside the `size - 4 * n` bytes reserved above.
    const int64_t rest_lengths = 4 * (n - i - 1);
    if (len > static_cast<uint64_t>(size - pos - rest_lengths)) {
      out->bytes.resize(at + static_cast<size_t>(written));
      out->count += i;
      return Status::Corruption("PLAIN BYTE_ARRAY data: value " + Num(i) + " of " + Num(len) +
                                " bytes runs past the end of the page (with the lengths of the " +
                                Num(n - i - 1) + " values after it)");
    }
    std::memcpy(dst + written, p + pos, len);
    written += len;
    out->offsets.push_back(static_cast<int64_t>(at) + written);
    pos += len;
  }
  out->bytes.resize(at + static_cast<size_t>(written));
  out->count += n;
  return pos;
}

// ---- RLE boolean, dictionary -------------------------------------------------------------

Status DecodeRleBoolean(std::string_view input, int64_t n, ValueBuffer* out) {
  if (input.size() < 4) return Status::Corruption("RLE BOOLEAN data: missing 4-byte length");
  uint32_t len;
  std::memcpy(&len, input.data(), 4);
  if (len > input.size() - 4) {
    return Status::Corruption("RLE BOOLEAN data: length " + Num(len) + " exceeds the " +
                              Num(input.size() - 4) + " bytes present");
  }
  // Each run header byte can stand for at most 2^31 values, so n alone bounds nothing;
  // the caller's n is already bounded by the page's value count.
  size_t at = out->fixed.size();
  out->fixed.resize(at + static_cast<size_t>(n));
  RleDecoder dec(Bytes(input) + 4, len, 1, "RLE BOOLEAN data");
  Status st = dec.GetBatch<uint8_t>(out->fixed.data() + at, n);
  if (!st.ok()) {
    out->fixed.resize(at);
    return st.WithContext("RLE BOOLEAN data");
  }
  out->count += n;
  return Status::OK();
}

Status DecodeDictionaryIndices(std::string_view input, int64_t n, int64_t dictionary_size,
                               std::vector<int32_t>* indices) {
  if (n == 0) {
    indices->clear();
    return Status::OK();
  }
  if (input.empty()) return Status::Corruption("dictionary indices: missing bit width byte");
  int bit_width = static_cast<uint8_t>(input[0]);
  if (bit_width > 32) return Status::Corruption("dictionary indices: bit width " + Num(bit_width) + " is above 32");
  indices->resize(static_cast<size_t>(n));
  RleDecoder dec(Bytes(input) + 1, input.size() - 1, bit_width, "dictionary indices");
  // Indices are non-negative: decoding into the unsigned view of the int32 buffer.
  LP_RETURN_IF_ERROR(dec.GetBatch<uint32_t>(reinterpret_cast<uint32_t*>(indices->data()), n));
  // One pass with unsigned compare catches negative (32-bit) and too-large indices.
  uint32_t limit = static_cast<uint32_t>(std::min<int64_t>(dictionary_size, UINT32_MAX));
  const int32_t* idx = indices->data();
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad |= static_cast<uint32_t>(static_cast<uint32_t>(idx[i]) >= limit);
  if (bad) {
    for (int64_t i = 0; i < n; ++i) {
      if (static_cast<uint32_t>(idx[i]) >= limit) {
        return Status::Corruption("dictionary index " + std::to_string(static_cast<uint32_t>(idx[i])) +
                                  " is out of range (dictionary has " + Num(dictionary_size) + " entries)");
      }
    }
  }
  return Status::OK();
}

void GatherFromDictionary(const ValueBuffer& dictionary, const int32_t* indices, int64_t n,
                          ValueBuffer* out) {
  if (dictionary.is_byte_array()) {
    int64_t total = 0;
    for (int64_t i = 0; i < n; ++i) {
      total += dictionary.offsets[indices[i] + 1] - dictionary.offsets[indices[i]];
    }
    out->bytes.reserve(out->bytes.size() + static_cast<size_t>(total));
    out->offsets.reserve(out->offsets.size() + static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      int64_t b = dictionary.offsets[indices[i]];
      out->AppendByteArray(dictionary.bytes.data() + b, dictionary.offsets[indices[i] + 1] - b);
    }
    return;
  }
  int w = dictionary.width;
  size_t at = out->fixed.size();
  out->fixed.resize(at + static_cast<size_t>(n) * w);
  uint8_t* dst = out->fixed.data() + at;
  const uint8_t* src = dictionary.fixed.data();
  switch (w) {
    case 4:
      for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * 4, src + static_cast<int64_t>(indices[i]) * 4, 4);
      break;
    case 8:
      for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * 8, src + static_cast<int64_t>(indices[i]) * 8, 8);
      break;
    default:
      for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * w, src + static_cast<int64_t>(indices[i]) * w, w);
  }
  out->count += n;
}

// ---- DELTA_BINARY_PACKED -----------------------------------------------------------------

Result<int64_t> DecodeDeltaBinaryPacked(std::string_view input, int64_t n, ValueBuffer* out) {
  const char* kWhat = "DELTA_BINARY_PACKED data";
  if (out->width != 4 && out->width != 8) return Status::Internal("DELTA_BINARY_PACKED needs width 4 or 8");
  const uint8_t* p = Bytes(input);
  int64_t size = static_cast<int64_t>(input.size());
  int64_t pos = 0;
  uint64_t block_size, miniblocks, total, first_raw;
  LP_RETURN_IF_ERROR(ReadUleb(p, size, &pos, &block_size, kWhat));
  LP_RETURN_IF_ERROR(ReadUleb(p, size, &pos, &miniblocks, kWhat));
  LP_RETURN_IF_ERROR(ReadUleb(p, size, &pos, &total, kWhat));
  LP_RETURN_IF_ERROR(ReadUleb(p, size, &pos, &first_raw, kWhat));
  if (block_size == 0 || block_size % 128 != 0 || block_size > (1u << 20)) {
    return Status::Corruption(std::string(kWhat) + ": block size " + std::to_string(block_size) +
                              " is not a multiple of 128 (up to 2^20)");
  }
  if (miniblocks == 0 || block_size % miniblocks != 0 || (block_size / miniblocks) % 32 != 0) {
    return Status::Corruption(std::string(kWhat) + ": " + std::to_string(miniblocks) +
                              " miniblocks do not divide a block of " + std::to_string(block_size) +
                              " into multiples of 32 values");
  }
  if (total < static_cast<uint64_t>(n)) {
    return Status::Corruption(std::string(kWhat) + ": holds " + std::to_string(total) +
                              " values, " + Num(n) + " expected");
  }
  const int64_t per_miniblock = static_cast<int64_t>(block_size / miniblocks);
  const int w = out->width;
  size_t at = out->fixed.size();
  out->fixed.resize(at + static_cast<size_t>(n) * w);
  uint8_t* dst = out->fixed.data() + at;
  auto put = [&](int64_t i, uint64_t v) {
    if (w == 4) {
      uint32_t v32 = static_cast<uint32_t>(v);
      std::memcpy(dst + i * 4, &v32, 4);
    } else {
      std::memcpy(dst + i * 8, &v, 8);
    }
  };
  auto fail = [&](Status st) {
    out->fixed.resize(at);
    return st;
  };
  uint64_t value = static_cast<uint64_t>(ZigZag(first_raw));
  if (total == 0) {
    out->count += n;
    return pos;
  }
  if (n > 0) put(0, value);
  int64_t produced = 1;  // values of the run accounted for (decoded or skipped)
  const int64_t total_values = static_cast<int64_t>(std::min<uint64_t>(total, INT64_MAX));
  std::vector<uint8_t> widths(static_cast<size_t>(miniblocks));
  while (produced < total_values) {
    uint64_t min_delta_raw;
    Status st = ReadUleb(p, size, &pos, &min_delta_raw, kWhat);
    if (!st.ok()) return fail(st);
    uint64_t min_delta = static_cast<uint64_t>(ZigZag(min_delta_raw));
    if (size - pos < static_cast<int64_t>(miniblocks)) {
      return fail(Status::Corruption(std::string(kWhat) + ": miniblock bit widths cut off"));
    }
    std::memcpy(widths.data(), p + pos, widths.size());
    pos += static_cast<int64_t>(miniblocks);
    for (uint64_t m = 0; m < miniblocks && produced < total_values; ++m) {
      int bw = widths[m];
      if (bw > 64) {
        return fail(Status::Corruption(std::string(kWhat) + ": miniblock bit width " + Num(bw) + " is above 64"));
      }
      int64_t mb_bytes = per_miniblock * bw / 8;
      int64_t in_mb = std::min<int64_t>(per_miniblock, total_values - produced);
      // The last miniblock is padded to full size, but tolerate writers that cut it at the
      // last needed byte.
      int64_t needed = (in_mb * bw + 7) / 8;
      if (size - pos < needed) {
        return fail(Status::Corruption(std::string(kWhat) + ": miniblock at byte " + Num(pos) +
                                       " runs past the end (" + Num(size) + " bytes)"));
      }
      int64_t to_decode = std::max<int64_t>(0, std::min(in_mb, n - produced));
      const uint8_t* mb = p + pos;
      int64_t mb_size = size - pos;
      for (int64_t i = 0; i < to_decode; ++i) {
        value += min_delta + ReadBits(mb, mb_size, i * bw, bw);
        put(produced + i, value);
      }
      produced += in_mb;
      pos += std::min(mb_bytes, size - pos);
    }
  }
  out->count += n;
  return pos;
}

// ---- DELTA_LENGTH_BYTE_ARRAY / DELTA_BYTE_ARRAY -------------------------------------------

namespace {

// Decodes n lengths (DELTA_BINARY_PACKED int32) into `lengths`; returns bytes consumed.
Result<int64_t> DecodeLengths(std::string_view input, int64_t n, const char* what,
                              std::vector<int32_t>* lengths) {
  ValueBuffer buf(4);
  auto consumed = DecodeDeltaBinaryPacked(input, n, &buf);
  if (!consumed.ok()) return consumed.status().WithContext(what);
  lengths->resize(static_cast<size_t>(n));
  if (n > 0) std::memcpy(lengths->data(), buf.fixed.data(), static_cast<size_t>(n) * 4);
  return *consumed;
}

}  // namespace

Result<int64_t> DecodeDeltaLengthByteArray(std::string_view input, int64_t n, ValueBuffer* out) {
  const char* kWhat = "DELTA_LENGTH_BYTE_ARRAY data";
  std::vector<int32_t> lengths;
  LP_ASSIGN_OR_RETURN(int64_t pos, DecodeLengths(input, n, kWhat, &lengths));
  int64_t remaining = static_cast<int64_t>(input.size()) - pos;
  int64_t total = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (lengths[i] < 0) return Status::Corruption(std::string(kWhat) + ": negative length " + Num(lengths[i]));
    total += lengths[i];
    if (total > remaining) {
      return Status::Corruption(std::string(kWhat) + ": values need more than the " + Num(remaining) +
                                " bytes present");
    }
  }
  const uint8_t* p = Bytes(input) + pos;
  if (out->is_byte_array()) {
    out->bytes.reserve(out->bytes.size() + static_cast<size_t>(total));
    out->offsets.reserve(out->offsets.size() + static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      out->AppendByteArray(p, lengths[i]);
      p += lengths[i];
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      if (lengths[i] != out->width) {
        return Status::Corruption(std::string(kWhat) + ": value of " + Num(lengths[i]) +
                                  " bytes in a FIXED_LEN_BYTE_ARRAY(" + Num(out->width) + ") column");
      }
    }
    out->fixed.insert(out->fixed.end(), p, p + total);
    out->count += n;
  }
  return pos + total;
}

Status DecodeDeltaByteArray(std::string_view input, int64_t n, ValueBuffer* out) {
  const char* kWhat = "DELTA_BYTE_ARRAY data";
  std::vector<int32_t> prefixes;
  LP_ASSIGN_OR_RETURN(int64_t pos, DecodeLengths(input, n, kWhat, &prefixes));
  ValueBuffer suffixes(0);
  auto st = DecodeDeltaLengthByteArray(input.substr(static_cast<size_t>(pos)), n, &suffixes);
  if (!st.ok()) return st.status().WithContext(kWhat);
  std::string previous;
  std::string current;
  for (int64_t i = 0; i < n; ++i) {
    int32_t prefix = prefixes[i];
    if (prefix < 0 || static_cast<size_t>(prefix) > previous.size()) {
      return Status::Corruption(std::string(kWhat) + ": prefix length " + Num(prefix) + " of value " +
                                Num(i) + " exceeds the previous value's " + Num(previous.size()) + " bytes");
    }
    std::string_view suffix = suffixes.ByteArray(i);
    current.assign(previous, 0, static_cast<size_t>(prefix));
    current.append(suffix);
    const uint8_t* cp = reinterpret_cast<const uint8_t*>(current.data());
    if (out->is_byte_array()) {
      out->AppendByteArray(cp, static_cast<int64_t>(current.size()));
    } else {
      if (static_cast<int64_t>(current.size()) != out->width) {
        return Status::Corruption(std::string(kWhat) + ": value " + Num(i) + " has " + Num(current.size()) +
                                  " bytes in a FIXED_LEN_BYTE_ARRAY(" + Num(out->width) + ") column");
      }
      out->fixed.insert(out->fixed.end(), cp, cp + current.size());
      out->count += 1;
    }
    previous.swap(current);
  }
  return Status::OK();
}

// ---- BYTE_STREAM_SPLIT -------------------------------------------------------------------

Status DecodeByteStreamSplit(std::string_view input, int64_t n, ValueBuffer* out) {
  const int w = out->width;
  if (w <= 0) return Status::Internal("BYTE_STREAM_SPLIT needs a fixed width");
  int64_t size = static_cast<int64_t>(input.size());
  if (size % w != 0 || size / w < n) {
    return Status::Corruption("BYTE_STREAM_SPLIT data: " + Num(size) + " bytes do not hold " + Num(n) +
                              " values of " + Num(w) + " bytes");
  }
  // The streams are as long as the values encoded in the page.
  int64_t stride = size / w;
  const uint8_t* p = Bytes(input);
  size_t at = out->fixed.size();
  out->fixed.resize(at + static_cast<size_t>(n) * w);
  uint8_t* dst = out->fixed.data() + at;
  for (int k = 0; k < w; ++k) {
    const uint8_t* stream = p + k * stride;
    for (int64_t i = 0; i < n; ++i) dst[i * w + k] = stream[i];
  }
  out->count += n;
  return Status::OK();
}

}  // namespace lakepipe::parquet::encodings
