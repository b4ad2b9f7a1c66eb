#include "formats/parquet/compression.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <lz4.h>
#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace lakepipe::parquet {
namespace {

Status Bad(CompressionCodec codec, const std::string& msg) {
  return Status::Corruption(CodecName(codec) + " page: " + msg);
}

struct ZstdCtx {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ~ZstdCtx() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
};
ZstdCtx& ThreadZstd() {
  thread_local ZstdCtx ctx;
  return ctx;
}

Status GzipCompress(int level, const uint8_t* data, size_t size, std::string* out) {
  z_stream s{};
  if (deflateInit2(&s, level <= 0 ? Z_DEFAULT_COMPRESSION : level, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::Internal("deflateInit2 failed");
  }
  size_t at = out->size();
  size_t bound = deflateBound(&s, size) + 32;
  out->resize(at + bound);
  s.next_in = const_cast<Bytef*>(data);
  s.avail_in = static_cast<uInt>(size);
  s.next_out = reinterpret_cast<Bytef*>(out->data() + at);
  s.avail_out = static_cast<uInt>(bound);
  int rc = deflate(&s, Z_FINISH);
  size_t produced = bound - s.avail_out;
  deflateEnd(&s);
  if (rc != Z_STREAM_END) return Status::Internal("gzip compression did not finish");
  out->resize(at + produced);
  return Status::OK();
}

Status GzipDecompress(const uint8_t* in, size_t in_size, uint8_t* out, size_t expected) {
  const CompressionCodec c = CompressionCodec::kGzip;
  if (in_size > UINT32_MAX || expected > UINT32_MAX) return Bad(c, "page too large");
  z_stream s{};
  // 15 + 32: accept gzip and zlib headers.
  if (inflateInit2(&s, 15 + 32) != Z_OK) return Status::Internal("inflateInit2 failed");
  s.next_in = const_cast<Bytef*>(in);
  s.avail_in = static_cast<uInt>(in_size);
  s.next_out = out;
  s.avail_out = static_cast<uInt>(expected);
  Status result;
  while (true) {
    uInt in_before = s.avail_in;
    uInt out_before = s.avail_out;
    // With the buffer full, offer one spare byte: if inflate fills it, the stream holds
    // more than the header promised.
    uint8_t probe;
    bool probing = s.avail_out == 0;
    if (probing) {
      s.next_out = &probe;
      s.avail_out = 1;
    }
    int rc = inflate(&s, Z_NO_FLUSH);
    if (probing) {
      if (s.avail_out == 0) {
        result = Bad(c, "decompresses to more than the " + std::to_string(expected) +
                            " bytes the page header states");
        break;
      }
      s.next_out = out + expected;
      s.avail_out = 0;
    }
    if (rc == Z_STREAM_END) {
      if (s.avail_in == 0) break;
      // Concatenated gzip members: continue with the next one.
      if (inflateReset(&s) != Z_OK) {
        result = Bad(c, "cannot reset inflater");
        break;
      }
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      result = Bad(c, std::string("malformed deflate data (") + (s.msg ? s.msg : "error") + ")");
      break;
    }
    if (s.avail_in == in_before && s.avail_out == out_before) {
      result = Bad(c, "truncated gzip stream");
      break;
    }
  }
  size_t produced = expected - s.avail_out;
  inflateEnd(&s);
  LP_RETURN_IF_ERROR(result);
  if (produced != expected) {
    return Bad(c, "decompresses to " + std::to_string(produced) + " bytes, header says " +
                      std::to_string(expected));
  }
  return Status::OK();
}

Status Lz4HadoopTry(const uint8_t* in, size_t in_size, uint8_t* out, size_t expected) {
  // Sequence of [BE uint32 decompressed size][BE uint32 compressed size][LZ4 block].
  size_t ip = 0, op = 0;
  auto be32 = [&](size_t at) {
    return (static_cast<uint32_t>(in[at]) << 24) | (static_cast<uint32_t>(in[at + 1]) << 16) |
           (static_cast<uint32_t>(in[at + 2]) << 8) | static_cast<uint32_t>(in[at + 3]);
  };
  while (ip < in_size) {
    if (in_size - ip < 8) return Status::Corruption("hadoop lz4 frame header truncated");
    uint32_t raw = be32(ip), comp = be32(ip + 4);
    ip += 8;
    if (comp > in_size - ip || raw > expected - op) {
      return Status::Corruption("hadoop lz4 frame sizes out of range");
    }
    int n = LZ4_decompress_safe(reinterpret_cast<const char*>(in + ip),
                                reinterpret_cast<char*>(out + op), static_cast<int>(comp),
                                static_cast<int>(raw));
    if (n < 0 || static_cast<uint32_t>(n) != raw) {
      return Status::Corruption("hadoop lz4 block malformed");
    }
    ip += comp;
    op += raw;
  }
  if (op != expected) return Status::Corruption("hadoop lz4 size mismatch");
  return Status::OK();
}

Status Lz4FrameTry(const uint8_t* in, size_t in_size, uint8_t* out, size_t expected) {
  LZ4F_dctx* ctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) {
    return Status::Internal("LZ4F context");
  }
  size_t ip = 0, op = 0;
  Status st;
  while (true) {
    size_t src = in_size - ip, dst = expected - op;
    size_t rc = LZ4F_decompress(ctx, out + op, &dst, in + ip, &src, nullptr);
    if (LZ4F_isError(rc)) {
      st = Status::Corruption(std::string("lz4 frame: ") + LZ4F_getErrorName(rc));
      break;
    }
    ip += src;
    op += dst;
    if (rc == 0) {  // frame finished
      if (ip < in_size) {
        LZ4F_resetDecompressionContext(ctx);
        continue;  // another frame
      }
      break;
    }
    if (op == expected && src == 0 && dst == 0) {
      st = Status::Corruption("lz4 frame decompresses past the expected size");
      break;
    }
    if (ip >= in_size && dst == 0) {
      st = Status::Corruption("lz4 frame truncated");
      break;
    }
  }
  LZ4F_freeDecompressionContext(ctx);
  LP_RETURN_IF_ERROR(st);
  if (op != expected) return Status::Corruption("lz4 frame size mismatch");
  return Status::OK();
}

}  // namespace

std::string CodecName(CompressionCodec codec) {
  switch (codec) {
    case CompressionCodec::kUncompressed: return "UNCOMPRESSED";
    case CompressionCodec::kSnappy: return "SNAPPY";
    case CompressionCodec::kGzip: return "GZIP";
    case CompressionCodec::kLzo: return "LZO";
    case CompressionCodec::kBrotli: return "BROTLI";
    case CompressionCodec::kLz4: return "LZ4";
    case CompressionCodec::kZstd: return "ZSTD";
    case CompressionCodec::kLz4Raw: return "LZ4_RAW";
  }
  return "codec " + std::to_string(static_cast<int>(codec));
}

Status Compress(CompressionCodec codec, int level, const uint8_t* data, size_t size,
                std::string* out) {
  size_t at = out->size();
  switch (codec) {
    case CompressionCodec::kUncompressed:
      out->append(reinterpret_cast<const char*>(data), size);
      return Status::OK();
    case CompressionCodec::kSnappy: {
      out->resize(at + snappy::MaxCompressedLength(size));
      size_t n = 0;
      snappy::RawCompress(reinterpret_cast<const char*>(data), size, out->data() + at, &n);
      out->resize(at + n);
      return Status::OK();
    }
    case CompressionCodec::kGzip:
      return GzipCompress(level, data, size, out);
    case CompressionCodec::kBrotli: {
      size_t n = BrotliEncoderMaxCompressedSize(size);
      if (n == 0) n = size + 1024;
      out->resize(at + n);
      int quality = level <= 0 ? 1 : std::min(level, 11);
      if (!BrotliEncoderCompress(quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, size, data,
                                 &n, reinterpret_cast<uint8_t*>(out->data() + at))) {
        return Status::Internal("brotli compression failed");
      }
      out->resize(at + n);
      return Status::OK();
    }
    case CompressionCodec::kZstd: {
      size_t bound = ZSTD_compressBound(size);
      out->resize(at + bound);
      size_t n = ZSTD_compressCCtx(ThreadZstd().c, out->data() + at, bound, data, size,
                                   level == 0 ? 1 : level);
      if (ZSTD_isError(n)) {
        return Status::Internal(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
      }
      out->resize(at + n);
      return Status::OK();
    }
    case CompressionCodec::kLz4Raw:
    case CompressionCodec::kLz4: {
      if (size > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
        return Status::InvalidArgument("page too large for LZ4");
      }
      int bound = LZ4_compressBound(static_cast<int>(size));
      size_t header = codec == CompressionCodec::kLz4 ? 8 : 0;
      out->resize(at + header + static_cast<size_t>(bound));
      int n = LZ4_compress_default(reinterpret_cast<const char*>(data),
                                   out->data() + at + header, static_cast<int>(size), bound);
      if (n <= 0) return Status::Internal("lz4 compression failed");
      if (header) {
        uint32_t sizes[2] = {static_cast<uint32_t>(size), static_cast<uint32_t>(n)};
        for (int k = 0; k < 2; ++k) {
          for (int b = 0; b < 4; ++b) {
            (*out)[at + 4 * k + b] = static_cast<char>(sizes[k] >> (24 - 8 * b));
          }
        }
      }
      out->resize(at + header + static_cast<size_t>(n));
      return Status::OK();
    }
    case CompressionCodec::kLzo:
      break;
  }
  return Status::NotSupported("compression codec " + CodecName(codec) + " is not supported");
}

Status Decompress(CompressionCodec codec, const uint8_t* in, size_t in_size, uint8_t* out,
                  int64_t expected_size, int64_t max_size) {
  if (expected_size < 0) return Bad(codec, "negative uncompressed size");
  if (expected_size > max_size) {
    return Bad(codec, "uncompressed size " + std::to_string(expected_size) +
                          " exceeds the limit of " + std::to_string(max_size) + " bytes");
  }
  const size_t expected = static_cast<size_t>(expected_size);
  switch (codec) {
    case CompressionCodec::kUncompressed:
      if (in_size != expected) {
        return Bad(codec, "page holds " + std::to_string(in_size) + " bytes, header says " +
                              std::to_string(expected));
      }
      if (expected) std::memcpy(out, in, expected);
      return Status::OK();
    case CompressionCodec::kSnappy: {
      size_t n = 0;
      if (!snappy::GetUncompressedLength(reinterpret_cast<const char*>(in), in_size, &n)) {
        return Bad(codec, "malformed snappy header");
      }
      if (n != expected) {
        return Bad(codec, "decompresses to " + std::to_string(n) + " bytes, header says " +
                              std::to_string(expected));
      }
      if (!snappy::RawUncompress(reinterpret_cast<const char*>(in), in_size,
                                 reinterpret_cast<char*>(out))) {
        return Bad(codec, "malformed snappy data");
      }
      return Status::OK();
    }
    case CompressionCodec::kGzip: {
      return GzipDecompress(in, in_size, out, expected);
    }
    case CompressionCodec::kBrotli: {
      size_t avail_in = in_size, avail_out = expected;
      const uint8_t* next_in = in;
      uint8_t* next_out = out;
      BrotliDecoderState* s = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
      if (!s) return Status::Internal("brotli decoder");
      BrotliDecoderResult r = BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out,
                                                            &next_out, nullptr);
      BrotliDecoderDestroyInstance(s);
      if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
        return Bad(codec, "decompresses to more than the " + std::to_string(expected) +
                              " bytes the page header states");
      }
      if (r != BROTLI_DECODER_RESULT_SUCCESS) return Bad(codec, "malformed brotli data");
      if (avail_out != 0) return Bad(codec, "decompresses to fewer bytes than the header says");
      return Status::OK();
    }
    case CompressionCodec::kZstd: {
      size_t n = ZSTD_decompressDCtx(ThreadZstd().d, out, expected, in, in_size);
      if (ZSTD_isError(n)) {
        return Bad(codec, std::string("malformed or oversized zstd data: ") + ZSTD_getErrorName(n));
      }
      if (n != expected) {
        return Bad(codec, "decompresses to " + std::to_string(n) + " bytes, header says " +
                              std::to_string(expected));
      }
      return Status::OK();
    }
    case CompressionCodec::kLz4Raw: {
      if (in_size > static_cast<size_t>(INT32_MAX) || expected > static_cast<size_t>(INT32_MAX)) {
        return Bad(codec, "page too large");
      }
      int n = LZ4_decompress_safe(reinterpret_cast<const char*>(in), reinterpret_cast<char*>(out),
                                  static_cast<int>(in_size), static_cast<int>(expected));
      if (n < 0) return Bad(codec, "malformed or oversized lz4 block");
      if (static_cast<size_t>(n) != expected) {
        return Bad(codec, "decompresses to " + std::to_string(n) + " bytes, header says " +
                              std::to_string(expected));
      }
      return Status::OK();
    }
    case CompressionCodec::kLz4: {
      if (Lz4HadoopTry(in, in_size, out, expected).ok()) return Status::OK();
      if (in_size >= 4 && in[0] == 0x04 && in[1] == 0x22 && in[2] == 0x4d && in[3] == 0x18) {
        Status st = Lz4FrameTry(in, in_size, out, expected);
        if (st.ok()) return st;
      }
      Status st = Decompress(CompressionCodec::kLz4Raw, in, in_size, out, expected_size, max_size);
      if (!st.ok()) return Bad(codec, "not Hadoop-framed LZ4, an LZ4 frame or a raw LZ4 block");
      return Status::OK();
    }
    case CompressionCodec::kLzo:
      break;
  }
  return Status::NotSupported("compression codec " + CodecName(codec) + " is not supported");
}

Status DecompressToString(CompressionCodec codec, const uint8_t* in, size_t in_size,
                          int64_t expected_size, int64_t max_size, std::string* out) {
  if (expected_size < 0 || expected_size > max_size) {
    return Decompress(codec, in, in_size, nullptr, expected_size, max_size);
  }
  out->resize(static_cast<size_t>(expected_size));
  return Decompress(codec, in, in_size, reinterpret_cast<uint8_t*>(out->data()), expected_size,
                    max_size);
}

}  // namespace lakepipe::parquet
