#include "formats/parquet/compression.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>

namespace lakepipe::parquet {
namespace {

const CompressionCodec kAll[] = {
    CompressionCodec::kUncompressed, CompressionCodec::kSnappy, CompressionCodec::kGzip,
    CompressionCodec::kBrotli,       CompressionCodec::kZstd,   CompressionCodec::kLz4Raw,
    CompressionCodec::kLz4};

std::string SampleData(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s;
  s.reserve(n);
  while (s.size() < n) {
    // Compressible text with some randomness.
    s += "order-" + std::to_string(rng() % 1000) + ",";
  }
  s.resize(n);
  return s;
}

const uint8_t* U8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

TEST(Compression, RoundTripEveryCodec) {
  for (CompressionCodec c : kAll) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{100}, size_t{70000}, size_t{1} << 20}) {
      std::string data = SampleData(n, static_cast<uint32_t>(n));
      std::string comp;
      ASSERT_TRUE(Compress(c, 3, U8(data), data.size(), &comp).ok()) << CodecName(c);
      std::string back;
      Status st = DecompressToString(c, U8(comp), comp.size(), static_cast<int64_t>(n),
                                     1 << 30, &back);
      ASSERT_TRUE(st.ok()) << CodecName(c) << " n=" << n << ": " << st.ToString();
      EXPECT_EQ(back, data) << CodecName(c);
      if (c != CompressionCodec::kUncompressed && n == (size_t{1} << 20)) {
        EXPECT_LT(comp.size(), n / 2) << CodecName(c) << " should compress text";
      }
    }
  }
}

TEST(Compression, WrongExpectedSizeOrBombIsRefused) {
  std::string data(1 << 20, 'a');  // compresses to almost nothing: a bomb for small limits
  for (CompressionCodec c : kAll) {
    std::string comp;
    ASSERT_TRUE(Compress(c, 1, U8(data), data.size(), &comp).ok());
    std::string out;
    // Above the maximum: refused before decompressing.
    Status st = DecompressToString(c, U8(comp), comp.size(), 1 << 20, 1 << 16, &out);
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << CodecName(c);
    EXPECT_LT(out.capacity(), size_t{1} << 20) << CodecName(c);
    // The header lies: promises fewer bytes than the stream holds.
    st = DecompressToString(c, U8(comp), comp.size(), 1000, 1 << 30, &out);
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << CodecName(c);
    // Promises more bytes than the stream holds.
    st = DecompressToString(c, U8(comp), comp.size(), (1 << 20) + 1, 1 << 30, &out);
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << CodecName(c);
    // Negative size.
    st = DecompressToString(c, U8(comp), comp.size(), -1, 1 << 30, &out);
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << CodecName(c);
  }
}

TEST(Compression, CorruptedInputIsRefusedOrHarmless) {
  std::mt19937 rng(3);
  std::string data = SampleData(50000, 9);
  for (CompressionCodec c : kAll) {
    if (c == CompressionCodec::kUncompressed) continue;
    std::string comp;
    ASSERT_TRUE(Compress(c, 1, U8(data), data.size(), &comp).ok());
    for (int iter = 0; iter < 300; ++iter) {
      std::string bad = comp;
      if (iter % 3 == 0) {
        bad.resize(rng() % bad.size());  // truncated
      } else {
        for (int k = 0; k < 4; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
      }
      std::string out;
      Status st = DecompressToString(c, U8(bad), bad.size(), 50000, 1 << 20, &out);
      // Either detected, or (for codecs without checksums) some 50000 bytes came out.
      if (!st.ok()) {
        EXPECT_EQ(st.code(), StatusCode::kCorruption) << CodecName(c);
      } else {
        EXPECT_EQ(out.size(), 50000u);
      }
    }
  }
}

TEST(Compression, ConcatenatedGzipMembers) {
  std::string a = SampleData(3000, 1), b = SampleData(5000, 2);
  std::string comp;
  ASSERT_TRUE(Compress(CompressionCodec::kGzip, 6, U8(a), a.size(), &comp).ok());
  ASSERT_TRUE(Compress(CompressionCodec::kGzip, 6, U8(b), b.size(), &comp).ok());
  std::string out;
  Status st = DecompressToString(CompressionCodec::kGzip, U8(comp), comp.size(), 8000, 1 << 20,
                                 &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out, a + b);
}

TEST(Compression, ZlibStreamAcceptedAsGzip) {
  std::string data = SampleData(10000, 5);
  uLongf n = compressBound(data.size());
  std::string comp(n, '\0');
  ASSERT_EQ(compress2(reinterpret_cast<Bytef*>(comp.data()), &n, U8(data), data.size(), 6), Z_OK);
  comp.resize(n);
  std::string out;
  ASSERT_TRUE(
      DecompressToString(CompressionCodec::kGzip, U8(comp), comp.size(), 10000, 1 << 20, &out)
          .ok());
  EXPECT_EQ(out, data);
}

TEST(Compression, Lz4FallsBackToRawBlock) {
  // The "LZ4" codec written by old parquet-cpp is a raw LZ4 block without Hadoop framing.
  std::string data = SampleData(20000, 8);
  std::string raw;
  ASSERT_TRUE(Compress(CompressionCodec::kLz4Raw, 0, U8(data), data.size(), &raw).ok());
  std::string out;
  Status st = DecompressToString(CompressionCodec::kLz4, U8(raw), raw.size(), 20000, 1 << 20, &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out, data);
}

TEST(Compression, LzoIsNotSupported) {
  std::string out;
  EXPECT_EQ(Compress(CompressionCodec::kLzo, 0, nullptr, 0, &out).code(),
            StatusCode::kNotSupported);
  std::string in = "x";
  EXPECT_EQ(DecompressToString(CompressionCodec::kLzo, U8(in), 1, 1, 10, &out).code(),
            StatusCode::kNotSupported);
}

}  // namespace
}  // namespace lakepipe::parquet
