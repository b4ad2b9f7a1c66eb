// Decoder tests against byte sequences built by hand from apache/parquet-format
// Encodings.md (the worked examples there, and the layouts it describes).
#include "formats/parquet/encodings.h"
#include "formats/parquet/rle.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace lakepipe::parquet::encodings {
namespace {

std::string B(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

template <typename T>
std::vector<T> Fixed(const ValueBuffer& v) {
  std::vector<T> out(static_cast<size_t>(v.count));
  std::memcpy(out.data(), v.fixed.data(), out.size() * sizeof(T));
  return out;
}

const uint8_t* Bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

std::vector<std::string> Strings(const ValueBuffer& v) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < v.count; ++i) out.emplace_back(v.ByteArray(i));
  return out;
}

TEST(RleHybrid, BitPackedExampleFromSpec) {
  // Encodings.md: values 0..7 with bit width 3 bit-packed are 10001000 11000110 11111010.
  std::string in = B({0x03, 0x88, 0xC6, 0xFA});
  RleDecoder dec(Bytes(in), in.size(), 3);
  std::vector<uint32_t> out(8);
  ASSERT_TRUE(dec.GetBatch(out.data(), 8).ok());
  EXPECT_EQ(out, (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  uint32_t extra;
  EXPECT_FALSE(dec.GetBatch(&extra, 1).ok());
}

TEST(RleHybrid, RleRunsAndMixedRuns) {
  // RLE run: header = count << 1 (5 values), value in ceil(9/8) = 2 bytes LE (0x0101 = 257),
  // then a bit-packed run of one group (8 values of width 9: all 1s -> 9 bytes).
  std::string in = B({5 << 1, 0x01, 0x01, 0x03});
  // 8 values of 1 in 9-bit fields: bits 0, 9, 18, ... set.
  std::vector<uint8_t> packed(9, 0);
  for (int i = 0; i < 8; ++i) packed[(i * 9) / 8] |= static_cast<uint8_t>(1 << ((i * 9) % 8));
  in.append(reinterpret_cast<const char*>(packed.data()), packed.size());
  RleDecoder dec(Bytes(in), in.size(), 9);
  std::vector<int16_t> out(13);
  ASSERT_TRUE(dec.GetBatch(out.data(), 13).ok());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(out[i], 257);
  for (int i = 5; i < 13; ++i) EXPECT_EQ(out[i], 1);
}

TEST(RleHybrid, TruncatedInputIsCorruption) {
  std::string run = B({0x0A});  // RLE run of 5 whose value byte is missing
  RleDecoder dec(Bytes(run), run.size(), 8);
  std::vector<uint32_t> out(5);
  Status st = dec.GetBatch(out.data(), 5);
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
  RleDecoder empty(nullptr, 0, 1);
  EXPECT_FALSE(empty.GetBatch(out.data(), 1).ok());
  std::string varint = B({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01});
  RleDecoder huge_varint(Bytes(varint), varint.size(), 1);
  EXPECT_FALSE(huge_varint.GetBatch(out.data(), 1).ok());
}

TEST(Plain, FixedWidthTypes) {
  int32_t i32[] = {1, -2, 3};
  std::string in(reinterpret_cast<const char*>(i32), sizeof(i32));
  ValueBuffer v(4);
  auto used = DecodePlainFixed(in, 3, &v);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, 12);
  EXPECT_EQ(Fixed<int32_t>(v), (std::vector<int32_t>{1, -2, 3}));
  ValueBuffer too_many(4);
  EXPECT_EQ(DecodePlainFixed(in, 4, &too_many).status().code(), StatusCode::kCorruption);
  // FIXED_LEN_BYTE_ARRAY(3) and INT96 use the same path with their width.
  ValueBuffer flba(3);
  ASSERT_TRUE(DecodePlainFixed("abcdef", 2, &flba).ok());
  EXPECT_EQ(std::string(flba.fixed.begin(), flba.fixed.end()), "abcdef");
}

TEST(Plain, BooleanIsBitPackedLsbFirst) {
  // 1,0,1,1,0,0,0,0, 1,1 -> 0b00001101, 0b00000011
  ValueBuffer v(1);
  auto used = DecodePlainBoolean(B({0x0D, 0x03}), 10, &v);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, 2);
  EXPECT_EQ(Fixed<uint8_t>(v), (std::vector<uint8_t>{1, 0, 1, 1, 0, 0, 0, 0, 1, 1}));
  ValueBuffer w(1);
  EXPECT_FALSE(DecodePlainBoolean(B({0x0D}), 9, &w).ok());
}

TEST(Plain, ByteArrayLengthPrefixed) {
  std::string in = B({2, 0, 0, 0}) + "hi" + B({0, 0, 0, 0}) + B({3, 0, 0, 0}) + "abc";
  ValueBuffer v(0);
  auto used = DecodePlainByteArray(in, 3, &v);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, static_cast<int64_t>(in.size()));
  EXPECT_EQ(Strings(v), (std::vector<std::string>{"hi", "", "abc"}));
  // A length that points past the end.
  ValueBuffer bad(0);
  Status st = DecodePlainByteArray(B({0xFF, 0xFF, 0xFF, 0x7F, 'x', 'y', 'z', 'w'}), 1, &bad).status();
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("past the end"), std::string::npos) << st.message();
  // More values than 4-byte lengths could fit: refused before reserving anything.
  ValueBuffer many(0);
  EXPECT_FALSE(DecodePlainByteArray("abcd", 1'000'000'000, &many).ok());
  // A first value that fits the page but leaves no room for the second one's length
  // (make fuzz found it: the copy overran the bytes reserved for the values).
  ValueBuffer greedy(0);
  Status first = DecodePlainByteArray(B({36, 0, 0, 0}) + std::string(36, 'x'), 2, &greedy).status();
  EXPECT_EQ(first.code(), StatusCode::kCorruption);
  EXPECT_NE(first.message().find("value 0 of 36 bytes runs past the end of the page (with the lengths of the 1 values"),
            std::string::npos)
      << first.message();
  EXPECT_EQ(greedy.count, 0);
}

TEST(RleBoolean, LengthPrefixedRuns) {
  // length 4, then an RLE run of 3 trues (header 6, value 1), RLE run of 2 falses.
  std::string in = B({4, 0, 0, 0, 0x06, 0x01, 0x04, 0x00});
  ValueBuffer v(1);
  ASSERT_TRUE(DecodeRleBoolean(in, 5, &v).ok());
  EXPECT_EQ(Fixed<uint8_t>(v), (std::vector<uint8_t>{1, 1, 1, 0, 0}));
  ValueBuffer w(1);
  EXPECT_FALSE(DecodeRleBoolean(B({9, 0, 0, 0, 0x06, 0x01}), 3, &w).ok());
}

TEST(Dictionary, IndicesAndGather) {
  // bit width 2; bit-packed group of 8: 2,1,0,2,1,0,0,0 -> bits 10 01 00 10 | 01 00 00 00
  // byte0 = 0b10000110 (v0=2 at bits0-1, v1=1 bits2-3, v2=0, v3=2 bits6-7) = 0x86,
  // byte1 = 0b00000001 = 0x01.
  std::string in = B({0x02, 0x03, 0x86, 0x01});
  std::vector<int32_t> idx;
  ASSERT_TRUE(DecodeDictionaryIndices(in, 6, 3, &idx).ok());
  EXPECT_EQ(idx, (std::vector<int32_t>{2, 1, 0, 2, 1, 0}));
  ValueBuffer dict(0);
  dict.AppendByteArray(reinterpret_cast<const uint8_t*>("a"), 1);
  dict.AppendByteArray(reinterpret_cast<const uint8_t*>("bb"), 2);
  dict.AppendByteArray(reinterpret_cast<const uint8_t*>("ccc"), 3);
  ValueBuffer out(0);
  GatherFromDictionary(dict, idx.data(), 6, &out);
  EXPECT_EQ(Strings(out), (std::vector<std::string>{"ccc", "bb", "a", "ccc", "bb", "a"}));
  // Index 2 with a dictionary of 2 entries.
  Status st = DecodeDictionaryIndices(in, 6, 2, &idx);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("out of range"), std::string::npos) << st.message();
}

TEST(DeltaBinaryPacked, SpecExampleOne) {
  // Encodings.md example 1: 1, 2, 3, 4, 5. Header: block 128, 4 miniblocks, 5 values,
  // first value 1 (zigzag 2); block: min delta 1 (zigzag 2), bit widths 0,0,0,0.
  std::string in = B({0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00});
  ValueBuffer v(4);
  auto used = DecodeDeltaBinaryPacked(in, 5, &v);
  ASSERT_TRUE(used.ok()) << used.status().ToString();
  EXPECT_EQ(*used, static_cast<int64_t>(in.size()));
  EXPECT_EQ(Fixed<int32_t>(v), (std::vector<int32_t>{1, 2, 3, 4, 5}));
}

TEST(DeltaBinaryPacked, SpecExampleTwo) {
  // Encodings.md example 2: 7, 5, 3, 1, 2, 3, 4, 5: deltas -2 -2 -2 1 1 1 1, min delta -2
  // (zigzag 3), relative 0 0 0 3 3 3 3 in 2 bits: 0xC0 0xFF, then padding to 32 values.
  std::string in = B({0x80, 0x01, 0x04, 0x08, 0x0E, 0x03, 0x02, 0x00, 0x00, 0x00,
                      0xC0, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
  ValueBuffer v(8);
  auto used = DecodeDeltaBinaryPacked(in, 8, &v);
  ASSERT_TRUE(used.ok()) << used.status().ToString();
  EXPECT_EQ(*used, static_cast<int64_t>(in.size()));
  EXPECT_EQ(Fixed<int64_t>(v), (std::vector<int64_t>{7, 5, 3, 1, 2, 3, 4, 5}));
}

TEST(DeltaBinaryPacked, WrapsAroundLikeTheSpecSays) {
  // INT32: first value INT32_MAX, one delta of +1 wraps to INT32_MIN. zigzag(2147483647) =
  // 4294967294 = varint FE FF FF FF 0F. min delta 1 (zigzag 2), widths 0.
  std::string in = B({0x80, 0x01, 0x04, 0x02, 0xFE, 0xFF, 0xFF, 0xFF, 0x0F, 0x02, 0, 0, 0, 0});
  ValueBuffer v(4);
  ASSERT_TRUE(DecodeDeltaBinaryPacked(in, 2, &v).ok());
  EXPECT_EQ(Fixed<int32_t>(v), (std::vector<int32_t>{INT32_MAX, INT32_MIN}));
}

TEST(DeltaBinaryPacked, RejectsBadHeaders) {
  ValueBuffer v(4);
  // block size 100 is not a multiple of 128
  EXPECT_FALSE(DecodeDeltaBinaryPacked(B({100, 4, 1, 0}), 1, &v).ok());
  // 3 miniblocks do not divide 128
  EXPECT_FALSE(DecodeDeltaBinaryPacked(B({0x80, 0x01, 3, 1, 0}), 1, &v).ok());
  // header says 1 value, 5 wanted
  EXPECT_FALSE(DecodeDeltaBinaryPacked(B({0x80, 0x01, 4, 1, 0}), 5, &v).ok());
  // miniblock bit width 8 but no bytes follow
  EXPECT_FALSE(DecodeDeltaBinaryPacked(B({0x80, 0x01, 4, 3, 0, 0, 8, 0, 0, 0}), 3, &v).ok());
  EXPECT_EQ(v.count, 0);
}

TEST(DeltaLengthByteArray, SpecExample) {
  // Encodings.md: "Hello", "World", "Foobar", "ABCDEF" -> lengths 5 5 6 6 as
  // DELTA_BINARY_PACKED (first 5 = zigzag 10, deltas 0 1 0, min 0, width 1: bits 0,1,0 =
  // 0x02), then the concatenated bytes.
  std::string in = B({0x80, 0x01, 0x04, 0x04, 0x0A, 0x00, 0x01, 0x00, 0x00, 0x00,
                      0x02, 0x00, 0x00, 0x00}) +
                   "HelloWorldFoobarABCDEF";
  ValueBuffer v(0);
  auto used = DecodeDeltaLengthByteArray(in, 4, &v);
  ASSERT_TRUE(used.ok()) << used.status().ToString();
  EXPECT_EQ(*used, static_cast<int64_t>(in.size()));
  EXPECT_EQ(Strings(v), (std::vector<std::string>{"Hello", "World", "Foobar", "ABCDEF"}));
  // Cut the data short by one byte.
  ValueBuffer w(0);
  EXPECT_FALSE(DecodeDeltaLengthByteArray(in.substr(0, in.size() - 1), 4, &w).ok());
}

TEST(DeltaByteArray, SpecExample) {
  // Encodings.md: "axis", "axle", "babble", "babyhood" -> prefix lengths 0 2 0 3 and
  // suffixes "axis" "le" "babble" "yhood".
  // prefixes: first 0, deltas 2 -2 3, min -2 (zigzag 3), relative 4 0 5 in 3 bits:
  // bits 0-2 = 100, 3-5 = 000, 6-8 = 101 -> 0x44 0x01.
  std::string prefixes = B({0x80, 0x01, 0x04, 0x04, 0x00, 0x03, 0x03, 0x00, 0x00, 0x00,
                            0x44, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  // suffix lengths 4 2 6 5: first 4 (zigzag 8), deltas -2 4 -1, min -2, relative 0 6 1 in
  // 3 bits: bits 3-5 = 011 (6), bit 6 = 1 -> 0x70 0x00.
  std::string suffix_lengths = B({0x80, 0x01, 0x04, 0x04, 0x08, 0x03, 0x03, 0x00, 0x00, 0x00,
                                  0x70, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  std::string in = prefixes + suffix_lengths + "axislebabbleyhood";
  ValueBuffer v(0);
  Status st = DecodeDeltaByteArray(in, 4, &v);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Strings(v), (std::vector<std::string>{"axis", "axle", "babble", "babyhood"}));
  // As FIXED_LEN_BYTE_ARRAY(4) the third value (6 bytes) does not fit.
  ValueBuffer flba(4);
  EXPECT_EQ(DecodeDeltaByteArray(in, 4, &flba).code(), StatusCode::kCorruption);
  // A prefix longer than the previous value: first prefix 1 with no previous value.
  std::string bad_prefix = B({0x80, 0x01, 0x04, 0x01, 0x02});
  std::string one_suffix = B({0x80, 0x01, 0x04, 0x01, 0x02}) + "x";
  ValueBuffer w(0);
  EXPECT_EQ(DecodeDeltaByteArray(bad_prefix + one_suffix, 1, &w).code(), StatusCode::kCorruption);
}

TEST(ByteStreamSplit, FloatsAndFixedWidth) {
  float values[] = {1.5f, -2.25f, 3.0e10f};
  const uint8_t* raw = reinterpret_cast<const uint8_t*>(values);
  std::string in(12, '\0');
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 4; ++k) in[k * 3 + i] = static_cast<char>(raw[i * 4 + k]);
  }
  ValueBuffer v(4);
  ASSERT_TRUE(DecodeByteStreamSplit(in, 3, &v).ok());
  EXPECT_EQ(Fixed<float>(v), (std::vector<float>{1.5f, -2.25f, 3.0e10f}));
  // FLBA(2): values "ab", "cd" -> streams "ac", "bd".
  ValueBuffer f(2);
  ASSERT_TRUE(DecodeByteStreamSplit("acbd", 2, &f).ok());
  EXPECT_EQ(std::string(f.fixed.begin(), f.fixed.end()), "abcd");
  ValueBuffer bad(4);
  EXPECT_FALSE(DecodeByteStreamSplit(in.substr(0, 11), 3, &bad).ok());
}

TEST(BitWidth, ForMaxValue) {
  EXPECT_EQ(BitWidth(0), 0);
  EXPECT_EQ(BitWidth(1), 1);
  EXPECT_EQ(BitWidth(2), 2);
  EXPECT_EQ(BitWidth(255), 8);
  EXPECT_EQ(BitWidth(256), 9);
}

}  // namespace
}  // namespace lakepipe::parquet::encodings
