#include "formats/parquet/rle.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace lakepipe::parquet {
namespace {

TEST(Rle, BitWidth) {
  EXPECT_EQ(BitWidth(0), 0);
  EXPECT_EQ(BitWidth(1), 1);
  EXPECT_EQ(BitWidth(2), 2);
  EXPECT_EQ(BitWidth(3), 2);
  EXPECT_EQ(BitWidth(255), 8);
  EXPECT_EQ(BitWidth(256), 9);
  EXPECT_EQ(BitWidth(0xffffffffULL), 32);
}

TEST(Rle, SpecExample) {
  // Encodings.md: values 0..7 with bit width 3 bit-pack to 0x88 0xC6 0xFA.
  std::vector<uint32_t> v = {0, 1, 2, 3, 4, 5, 6, 7};
  std::string out;
  BitPackAppend(v.data(), 8, 3, &out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(static_cast<uint8_t>(out[0]), 0x88);
  EXPECT_EQ(static_cast<uint8_t>(out[1]), 0xC6);
  EXPECT_EQ(static_cast<uint8_t>(out[2]), 0xFA);
  // A run of 100 ones at width 1: header 100<<1 = 200 = varint C8 01, value byte 01.
  std::vector<uint16_t> ones(100, 1);
  std::string rle;
  RleEncode(ones.data(), 100, 1, &rle);
  EXPECT_EQ(rle, std::string("\xC8\x01\x01", 3));
}

TEST(Rle, RoundTripAcrossWidthsAndRunShapes) {
  std::mt19937_64 rng(7);
  for (int width = 0; width <= 32; ++width) {
    const uint64_t limit = width == 32 ? 0xffffffffULL : ((1ULL << width) - 1);
    for (int shape = 0; shape < 4; ++shape) {
      std::vector<uint32_t> v;
      int n = 1 + static_cast<int>(rng() % 3000);
      while (static_cast<int>(v.size()) < n) {
        uint32_t x = limit == 0 ? 0 : static_cast<uint32_t>(rng() % (limit + 1));
        // shape 0: random; 1: long runs; 2: runs of 7-9 around the threshold; 3: mixed
        int run = shape == 0 ? 1 : shape == 1 ? 50 + static_cast<int>(rng() % 500)
                 : shape == 2 ? 7 + static_cast<int>(rng() % 3)
                              : (rng() % 2 ? 1 : static_cast<int>(rng() % 20));
        for (int k = 0; k < run && static_cast<int>(v.size()) < n; ++k) v.push_back(x);
      }
      std::string enc;
      RleEncode(v.data(), static_cast<int64_t>(v.size()), width, &enc);
      std::vector<uint32_t> back(v.size());
      RleDecoder d(reinterpret_cast<const uint8_t*>(enc.data()), enc.size(), width);
      Status st = d.GetBatch(back.data(), static_cast<int64_t>(back.size()));
      ASSERT_TRUE(st.ok()) << "width " << width << " shape " << shape << ": " << st.ToString();
      ASSERT_EQ(back, v) << "width " << width << " shape " << shape;
      // Decoding in small uneven batches gives the same values.
      if (width <= 16) {
        std::vector<uint16_t> small(v.size());
        RleDecoder d2(reinterpret_cast<const uint8_t*>(enc.data()), enc.size(), width);
        size_t at = 0;
        while (at < small.size()) {
          size_t take = std::min<size_t>(small.size() - at, 1 + rng() % 37);
          ASSERT_TRUE(d2.GetBatch(small.data() + at, static_cast<int64_t>(take)).ok());
          at += take;
        }
        for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(small[i], v[i]);
      }
    }
  }
}

TEST(Rle, MalformedInputIsCorruption) {
  std::vector<uint32_t> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint32_t>(i % 5 == 0 ? 3 : i % 7);
  std::string enc;
  RleEncode(v.data(), 1000, 3, &enc);
  std::vector<uint32_t> out(2000);
  // Asking for more values than encoded: Corruption (beyond the padded last group).
  RleDecoder d(reinterpret_cast<const uint8_t*>(enc.data()), enc.size(), 3);
  Status st = d.GetBatch(out.data(), 2000);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  // Truncations never read out of bounds (ASan builds would catch it) and fail or succeed
  // cleanly.
  for (size_t n = 0; n < enc.size(); ++n) {
    RleDecoder t(reinterpret_cast<const uint8_t*>(enc.data()), n, 3);
    Status s = t.GetBatch(out.data(), 1000);
    if (!s.ok()) { EXPECT_EQ(s.code(), StatusCode::kCorruption); }
  }
  // An RLE run value wider than the bit width.
  std::string bad("\x10\x09", 2);  // run of 8, value 9 at width 3
  RleDecoder b(reinterpret_cast<const uint8_t*>(bad.data()), bad.size(), 3);
  EXPECT_EQ(b.GetBatch(out.data(), 8).code(), StatusCode::kCorruption);
  // A bad bit width.
  RleDecoder w(reinterpret_cast<const uint8_t*>(enc.data()), enc.size(), 40);
  EXPECT_EQ(w.GetBatch(out.data(), 1).code(), StatusCode::kCorruption);
  // A bit-packed run header of 2^50 groups.
  std::string giant = "\xff\xff\xff\xff\xff\xff\xff\x7f";
  RleDecoder g(reinterpret_cast<const uint8_t*>(giant.data()), giant.size(), 1);
  EXPECT_EQ(g.GetBatch(out.data(), 10).code(), StatusCode::kCorruption);
  // BitUnpack refuses short input.
  EXPECT_EQ(BitUnpack(reinterpret_cast<const uint8_t*>(enc.data()), 1, 5, 100, out.data()).code(),
            StatusCode::kCorruption);
}

TEST(Rle, RandomBytesNeverCrash) {
  std::mt19937 rng(1);
  std::vector<uint32_t> out(4096);
  for (int iter = 0; iter < 5000; ++iter) {
    std::string b(1 + rng() % 64, '\0');
    for (auto& c : b) c = static_cast<char>(rng());
    int width = static_cast<int>(rng() % 33);
    RleDecoder d(reinterpret_cast<const uint8_t*>(b.data()), b.size(), width);
    Status st = d.GetBatch(out.data(), 1 + rng() % 4000);
    if (!st.ok()) { EXPECT_EQ(st.code(), StatusCode::kCorruption); }
  }
}

}  // namespace
}  // namespace lakepipe::parquet
