// Reader tests on files assembled byte by byte here (so each feature and each kind of
// damage is exercised on purpose), on parquet-testing's bad_data/, on truncated and
// bit-flipped copies of valid files, and row-group skipping by statistics.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "formats/parquet/compression.h"
#include "formats/parquet/metadata.h"
#include "formats/parquet/parquet.h"
#include "formats/parquet/reader.h"
#include "formats/parquet/rle.h"
#include "formats/parquet/schema_mapping.h"
#include "testing/testing.h"

namespace lakepipe::parquet {
namespace {

namespace fsys = std::filesystem;

// ---- building files by hand ----------------------------------------------------------------

SchemaElement Root(int children) {
  SchemaElement e;
  e.name = "schema";
  e.num_children = children;
  return e;
}

SchemaElement Leaf(const std::string& name, PhysicalType t, Repetition r) {
  SchemaElement e;
  e.name = name;
  e.type = t;
  e.repetition_type = r;
  return e;
}

SchemaElement Group(const std::string& name, Repetition r, int children) {
  SchemaElement e;
  e.name = name;
  e.repetition_type = r;
  e.num_children = children;
  return e;
}

struct Page {
  PageHeader header;
  std::string body;
  bool keep_sizes = false;  // true: the header's sizes are deliberately wrong
};

struct Chunk {
  PhysicalType type = PhysicalType::kInt32;
  std::vector<std::string> path;
  CompressionCodec codec = CompressionCodec::kUncompressed;
  int64_t num_values = 0;
  std::vector<Page> pages;
  std::optional<Statistics> stats;
};

struct RowGroupSpec {
  int64_t num_rows = 0;
  std::vector<Chunk> chunks;
};

std::string BuildFile(const std::vector<SchemaElement>& schema, const std::vector<RowGroupSpec>& groups) {
  std::string file = "PAR1";
  FileMetaData md;
  md.schema = schema;
  for (const auto& g : groups) {
    RowGroup rg;
    rg.num_rows = g.num_rows;
    md.num_rows += g.num_rows;
    for (const auto& c : g.chunks) {
      ColumnChunk cc;
      ColumnMetaData cm;
      cm.type = c.type;
      cm.path_in_schema = c.path;
      cm.codec = c.codec;
      cm.num_values = c.num_values;
      cm.encodings = {Encoding::kPlain, Encoding::kRle};
      cm.statistics = c.stats;
      int64_t start = static_cast<int64_t>(file.size());
      bool first = true;
      for (const auto& p : c.pages) {
        PageHeader h = p.header;
        if (!p.keep_sizes) {
          h.compressed_page_size = static_cast<int32_t>(p.body.size());
          if (h.uncompressed_page_size == 0) h.uncompressed_page_size = static_cast<int32_t>(p.body.size());
        }
        if (h.type == PageType::kDictionaryPage) {
          cm.dictionary_page_offset = static_cast<int64_t>(file.size());
        } else if (first || cm.data_page_offset == 0) {
          if (cm.data_page_offset == 0) cm.data_page_offset = static_cast<int64_t>(file.size());
        }
        first = false;
        file += SerializeThrift(h);
        file += p.body;
      }
      if (cm.data_page_offset == 0) cm.data_page_offset = start;
      cm.total_compressed_size = static_cast<int64_t>(file.size()) - start;
      cm.total_uncompressed_size = cm.total_compressed_size;
      cc.file_offset = start;
      cc.meta_data = cm;
      rg.columns.push_back(cc);
    }
    md.row_groups.push_back(rg);
  }
  std::string footer = SerializeThrift(md);
  file += footer;
  uint32_t len = static_cast<uint32_t>(footer.size());
  file.append(reinterpret_cast<const char*>(&len), 4);
  file += "PAR1";
  return file;
}

template <typename T>
std::string Plain(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

std::string PlainStrings(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& s : values) {
    uint32_t len = static_cast<uint32_t>(s.size());
    out.append(reinterpret_cast<const char*>(&len), 4);
    out += s;
  }
  return out;
}

// RLE/bit-packed levels; `prefixed` adds data page v1's 4-byte length.
std::string Levels(const std::vector<uint32_t>& levels, int max_level, bool prefixed = true) {
  std::string runs;
  int bw = 0;
  while ((1 << bw) <= max_level) ++bw;
  RleEncode(levels.data(), static_cast<int64_t>(levels.size()), bw, &runs);
  if (!prefixed) return runs;
  uint32_t len = static_cast<uint32_t>(runs.size());
  return std::string(reinterpret_cast<const char*>(&len), 4) + runs;
}

Page DataPageV1(int32_t num_values, std::string body, Encoding enc = Encoding::kPlain) {
  Page p;
  p.header.type = PageType::kDataPage;
  DataPageHeader d;
  d.num_values = num_values;
  d.encoding = enc;
  p.header.data_page_header = d;
  p.body = std::move(body);
  return p;
}

Page DictionaryPage(int32_t num_values, std::string body) {
  Page p;
  p.header.type = PageType::kDictionaryPage;
  DictionaryPageHeader d;
  d.num_values = num_values;
  d.encoding = Encoding::kPlain;
  p.header.dictionary_page_header = d;
  p.body = std::move(body);
  return p;
}

Result<RecordBatch> ReadBuffer(const std::string& file, const ReadOptions& options = {}) {
  LP_ASSIGN_OR_RETURN(auto reader, FileReader::OpenBuffer(file, "test.parquet"));
  return reader->ReadAll(options);
}

std::string Rows(const RecordBatch& b) {
  std::string s;
  for (int64_t r = 0; r < b.num_rows(); ++r) {
    std::string row;
    for (const auto& v : b.Row(r)) row += (row.empty() ? "" : ",") + v.ToString();
    s += (s.empty() ? "" : "; ") + row;
  }
  return s;
}

// A one-column file: required INT32 `a` with values 1, 2, 3.
std::string SimpleFile() {
  Chunk c;
  c.type = PhysicalType::kInt32;
  c.path = {"a"};
  c.num_values = 3;
  c.pages.push_back(DataPageV1(3, Plain<int32_t>({1, 2, 3})));
  return BuildFile({Root(1), Leaf("a", PhysicalType::kInt32, Repetition::kRequired)}, {{3, {c}}});
}

// ---- features ------------------------------------------------------------------------------

TEST(Reader, RequiredPlainColumn) {
  auto b = ReadBuffer(SimpleFile());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(Rows(*b), "1; 2; 3");
  EXPECT_FALSE(b->schema().field(0).nullable);
}

TEST(Reader, OptionalColumnWithNullsInPageV1) {
  Chunk c;
  c.type = PhysicalType::kInt64;
  c.path = {"a"};
  c.num_values = 4;
  c.pages.push_back(DataPageV1(4, Levels({1, 0, 1, 0}, 1) + Plain<int64_t>({7, 9})));
  auto b = ReadBuffer(BuildFile({Root(1), Leaf("a", PhysicalType::kInt64, Repetition::kOptional)}, {{4, {c}}}));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(Rows(*b), "7; NULL; 9; NULL");
  EXPECT_EQ(b->column(0).null_count(), 2);
}

TEST(Reader, DataPageV2LevelsUncompressedValuesCompressed) {
  for (bool compress_values : {true, false}) {
    std::string values = PlainStrings({"x", "yz"});
    std::string def = Levels({1, 0, 1}, 1, /*prefixed=*/false);
    std::string stored = values;
    if (compress_values) {
      stored.clear();
      ASSERT_TRUE(Compress(CompressionCodec::kSnappy, 0, reinterpret_cast<const uint8_t*>(values.data()),
                           values.size(), &stored).ok());
    }
    Page p;
    p.header.type = PageType::kDataPageV2;
    DataPageHeaderV2 h;
    h.num_values = 3;
    h.num_nulls = 1;
    h.num_rows = 3;
    h.encoding = Encoding::kPlain;
    h.definition_levels_byte_length = static_cast<int32_t>(def.size());
    h.repetition_levels_byte_length = 0;
    h.is_compressed = compress_values;
    p.header.data_page_header_v2 = h;
    p.header.uncompressed_page_size = static_cast<int32_t>(def.size() + values.size());
    p.body = def + stored;
    Chunk c;
    c.type = PhysicalType::kByteArray;
    c.path = {"s"};
    c.codec = CompressionCodec::kSnappy;
    c.num_values = 3;
    c.pages.push_back(p);
    SchemaElement s = Leaf("s", PhysicalType::kByteArray, Repetition::kOptional);
    s.converted_type = ConvertedType::kUtf8;
    auto b = ReadBuffer(BuildFile({Root(1), s}, {{3, {c}}}));
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(b->schema().field(0).type, DataType::String());
    EXPECT_EQ(Rows(*b), "x; NULL; yz") << "compressed values: " << compress_values;
  }
}

Chunk DictionaryChunk(std::vector<uint32_t> indices) {
  Chunk c;
  c.type = PhysicalType::kInt32;
  c.path = {"a"};
  c.num_values = static_cast<int64_t>(indices.size());
  c.pages.push_back(DictionaryPage(3, Plain<int32_t>({10, 20, 30})));
  std::string body(1, static_cast<char>(2));  // bit width 2
  RleEncode(indices.data(), static_cast<int64_t>(indices.size()), 2, &body);
  c.pages.push_back(DataPageV1(static_cast<int32_t>(indices.size()), body, Encoding::kRleDictionary));
  return c;
}

TEST(Reader, DictionaryPageThenRleDictionaryIndices) {
  auto b = ReadBuffer(BuildFile({Root(1), Leaf("a", PhysicalType::kInt32, Repetition::kRequired)},
                                {{4, {DictionaryChunk({2, 0, 1, 2})}}}));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(Rows(*b), "30; 10; 20; 30");
}

TEST(Reader, LegacyTwoLevelListAssembly) {
  // optional group l (LIST) { repeated int32 element; }: rows [1, 2], NULL, [], [3].
  SchemaElement l = Group("l", Repetition::kOptional, 1);
  l.converted_type = ConvertedType::kList;
  Chunk c;
  c.type = PhysicalType::kInt32;
  c.path = {"l", "element"};
  c.num_values = 5;
  std::string body = Levels({0, 1, 0, 0, 0}, 1) + Levels({2, 2, 0, 1, 2}, 2) + Plain<int32_t>({1, 2, 3});
  c.pages.push_back(DataPageV1(5, body));
  auto b = ReadBuffer(BuildFile({Root(1), l, Leaf("element", PhysicalType::kInt32, Repetition::kRepeated)},
                                {{4, {c}}}));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->schema().field(0).type.ToString(), "array<int>");
  EXPECT_FALSE(b->schema().field(0).type.contains_null());
  EXPECT_EQ(Rows(*b), "[1, 2]; NULL; []; [3]");
}

TEST(Reader, LogicalTypeConversions) {
  std::vector<SchemaElement> schema = {Root(7)};
  std::vector<Chunk> chunks;
  auto add = [&](SchemaElement e, PhysicalType t, std::string values) {
    Chunk c;
    c.type = t;
    c.path = {e.name};
    c.num_values = 2;
    c.pages.push_back(DataPageV1(2, std::move(values)));
    schema.push_back(std::move(e));
    chunks.push_back(std::move(c));
  };
  SchemaElement ns = Leaf("ns", PhysicalType::kInt64, Repetition::kRequired);
  ns.logical_type.kind = LogicalType::Kind::kTimestamp;
  ns.logical_type.unit = TimeUnit::kNanos;
  ns.logical_type.is_adjusted_to_utc = false;
  add(ns, PhysicalType::kInt64, Plain<int64_t>({-1, 1999}));  // floor division to micros
  SchemaElement ms = Leaf("ms", PhysicalType::kInt64, Repetition::kRequired);
  ms.converted_type = ConvertedType::kTimestampMillis;
  add(ms, PhysicalType::kInt64, Plain<int64_t>({1000, -1}));
  SchemaElement u64 = Leaf("u64", PhysicalType::kInt64, Repetition::kRequired);
  u64.converted_type = ConvertedType::kUint64;
  add(u64, PhysicalType::kInt64, Plain<int64_t>({-1, 5}));
  SchemaElement u32 = Leaf("u32", PhysicalType::kInt32, Repetition::kRequired);
  u32.converted_type = ConvertedType::kUint32;
  add(u32, PhysicalType::kInt32, Plain<int32_t>({-1, 7}));
  SchemaElement i8 = Leaf("i8", PhysicalType::kInt32, Repetition::kRequired);
  i8.converted_type = ConvertedType::kInt8;
  add(i8, PhysicalType::kInt32, Plain<int32_t>({-128, 127}));
  SchemaElement half = Leaf("half", PhysicalType::kFixedLenByteArray, Repetition::kRequired);
  half.type_length = 2;
  half.logical_type.kind = LogicalType::Kind::kFloat16;
  add(half, PhysicalType::kFixedLenByteArray, Plain<uint16_t>({0x3C00, 0xC000}));  // 1.0, -2.0
  SchemaElement dec = Leaf("dec", PhysicalType::kFixedLenByteArray, Repetition::kRequired);
  dec.type_length = 3;
  dec.converted_type = ConvertedType::kDecimal;
  dec.precision = 6;
  dec.scale = 2;
  add(dec, PhysicalType::kFixedLenByteArray, std::string("\xFF\xFF\x85\x00\x30\x39", 6));  // -123, 12345
  auto b = ReadBuffer(BuildFile(schema, {{2, chunks}}));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->schema().ToDDL(),
            "ns timestamp_ntz NOT NULL, ms timestamp NOT NULL, u64 decimal(20,0) NOT NULL, u32 bigint NOT NULL, "
            "i8 tinyint NOT NULL, half float NOT NULL, dec decimal(6,2) NOT NULL");
  EXPECT_EQ(b->column(0).Get<int64_t>(0), -1);
  EXPECT_EQ(b->column(0).Get<int64_t>(1), 1);
  EXPECT_EQ(b->column(1).Get<int64_t>(0), 1000000);
  EXPECT_EQ(b->column(1).Get<int64_t>(1), -1000);
  EXPECT_EQ(b->column(2).GetValue(0).ToString(), "18446744073709551615");
  EXPECT_EQ(b->column(3).Get<int64_t>(0), 4294967295LL);
  EXPECT_EQ(b->column(4).Get<int8_t>(0), -128);
  EXPECT_EQ(b->column(5).Get<float>(0), 1.0f);
  EXPECT_EQ(b->column(5).Get<float>(1), -2.0f);
  EXPECT_EQ(b->column(6).GetValue(0).ToString(), "-1.23");
  EXPECT_EQ(b->column(6).GetValue(1).ToString(), "123.45");
}

TEST(Reader, ValueConversionHelpers) {
  // Julian day 2440588 is 1970-01-01; 1.5 seconds of nanoseconds into it.
  uint8_t int96[12];
  int64_t nanos = 1'500'000'000;
  int32_t day = 2440588;
  std::memcpy(int96, &nanos, 8);
  std::memcpy(int96 + 8, &day, 4);
  EXPECT_EQ(Int96ToMicros(int96), 1'500'000);
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7E00)));
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(HalfToFloat(0x7C00), INFINITY);
  const uint8_t wide[17] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE};
  EXPECT_EQ(*BigEndianToInt128(wide, 17), -2);
  const uint8_t b80[1] = {0x80}, b7f[1] = {0x7F}, min8[8] = {0x80, 0, 0, 0, 0, 0, 0, 0};
  const uint8_t nine[9] = {0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(*BigEndianToInt128(b80, 1), -128);
  EXPECT_EQ(*BigEndianToInt128(b7f, 1), 127);
  EXPECT_EQ(*BigEndianToInt128(min8, 8), static_cast<int128_t>(INT64_MIN));
  EXPECT_EQ(*BigEndianToInt128(nine, 9), static_cast<int128_t>(INT64_MIN));
  const uint8_t too_wide[17] = {0x01};
  EXPECT_FALSE(BigEndianToInt128(too_wide, 17).ok());
  const uint8_t uuid[16] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0, 1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(FormatUuid(uuid), "12345678-9abc-def0-0001-020304050607");
}

// ---- schema mapping: LogicalTypes.md backward-compatibility rules ---------------------------

std::string MappedType(std::vector<SchemaElement> elements) {
  auto fs = MapSchema(elements, "t.parquet");
  if (!fs.ok()) return fs.status().ToString();
  return fs->schema.ToDDL();
}

TEST(SchemaMapping, ListLayouts) {
  auto list = [](const std::string& name, Repetition r) {
    SchemaElement e = Group(name, r, 1);
    e.converted_type = ConvertedType::kList;
    return e;
  };
  SchemaElement str = Leaf("str", PhysicalType::kByteArray, Repetition::kRequired);
  str.converted_type = ConvertedType::kUtf8;
  SchemaElement num = Leaf("num", PhysicalType::kInt32, Repetition::kRequired);
  // Standard 3-level list.
  EXPECT_EQ(MappedType({Root(1), list("l", Repetition::kOptional), Group("list", Repetition::kRepeated, 1),
                        Leaf("element", PhysicalType::kInt32, Repetition::kOptional)}),
            "l array<int>");
  // 2-level: the repeated primitive is the element.
  EXPECT_EQ(MappedType({Root(1), list("l", Repetition::kRequired), Leaf("element", PhysicalType::kInt32, Repetition::kRepeated)}),
            "l array<int> NOT NULL");
  // A repeated group of several fields is the element.
  EXPECT_EQ(MappedType({Root(1), list("l", Repetition::kOptional), Group("element", Repetition::kRepeated, 2), str, num}),
            "l array<struct<str:string,num:int>>");
  // One-field repeated groups named `array` or `<list>_tuple` are the element.
  EXPECT_EQ(MappedType({Root(1), list("l", Repetition::kOptional), Group("array", Repetition::kRepeated, 1), str}),
            "l array<struct<str:string>>");
  EXPECT_EQ(MappedType({Root(1), list("l", Repetition::kOptional), Group("l_tuple", Repetition::kRepeated, 1), str}),
            "l array<struct<str:string>>");
  // Otherwise the single child is the element.
  EXPECT_EQ(MappedType({Root(1), list("l", Repetition::kOptional), Group("bag", Repetition::kRepeated, 1), str}),
            "l array<string>");
  // A repeated field outside a LIST: a required list of required elements.
  EXPECT_EQ(MappedType({Root(1), Leaf("r", PhysicalType::kInt64, Repetition::kRepeated)}), "r array<bigint> NOT NULL");
}

TEST(SchemaMapping, MapsAndRefusals) {
  SchemaElement m = Group("m", Repetition::kOptional, 1);
  m.converted_type = ConvertedType::kMapKeyValue;  // the legacy annotation
  SchemaElement key = Leaf("key", PhysicalType::kByteArray, Repetition::kRequired);
  key.converted_type = ConvertedType::kUtf8;
  EXPECT_EQ(MappedType({Root(1), m, Group("key_value", Repetition::kRepeated, 2), key,
                        Leaf("value", PhysicalType::kInt32, Repetition::kOptional)}),
            "m map<string,int>");
  SchemaElement time = Leaf("t", PhysicalType::kInt64, Repetition::kOptional);
  time.converted_type = ConvertedType::kTimeMicros;
  auto fs = MapSchema({Root(1), time}, "t.parquet");
  EXPECT_EQ(fs.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(fs.status().message().find("TIME"), std::string::npos);
  // num_children pointing past the end, and a group without children.
  EXPECT_EQ(MapSchema({Root(2), Leaf("a", PhysicalType::kInt32, Repetition::kOptional)}, "t").status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(MapSchema({Root(1), Group("g", Repetition::kOptional, 0)}, "t").status().code(), StatusCode::kCorruption);
  SchemaElement bad_dec = Leaf("d", PhysicalType::kInt32, Repetition::kOptional);
  bad_dec.converted_type = ConvertedType::kDecimal;
  bad_dec.precision = 3;
  bad_dec.scale = 5;
  EXPECT_EQ(MapSchema({Root(1), bad_dec}, "t").status().code(), StatusCode::kCorruption);
}

// ---- malformed input ---------------------------------------------------------------------

void ExpectCorruption(const Result<RecordBatch>& r, const std::string& phrase) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
  EXPECT_NE(r.status().message().find(phrase), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find("test.parquet"), std::string::npos) << r.status().ToString();
}

TEST(ReaderMalformed, DictionaryIndexOutOfRange) {
  ExpectCorruption(ReadBuffer(BuildFile({Root(1), Leaf("a", PhysicalType::kInt32, Repetition::kRequired)},
                                        {{4, {DictionaryChunk({2, 0, 3, 2})}}})),
                   "dictionary index 3 is out of range");
}

TEST(ReaderMalformed, DefinitionLevelAboveMaximum) {
  Chunk c;
  c.type = PhysicalType::kInt32;
  c.path = {"a"};
  c.num_values = 2;
  // An RLE run of 2 levels of value 3 where the maximum is 1 (bit width 1): refused by
  // the level decoder, naming the definition levels.
  std::string runs = std::string("\x04\x03", 2);
  uint32_t len = 2;
  std::string body = std::string(reinterpret_cast<const char*>(&len), 4) + runs + Plain<int32_t>({1, 2});
  c.pages.push_back(DataPageV1(2, body));
  ExpectCorruption(ReadBuffer(BuildFile({Root(1), Leaf("a", PhysicalType::kInt32, Repetition::kOptional)}, {{2, {c}}})),
                   "definition levels: RLE run value 3 exceeds bit width 1");
}

TEST(ReaderMalformed, RowCountMismatch) {
  Chunk c;
  c.type = PhysicalType::kInt32;
  c.path = {"a"};
  c.num_values = 3;
  c.pages.push_back(DataPageV1(3, Plain<int32_t>({1, 2, 3})));
  ExpectCorruption(ReadBuffer(BuildFile({Root(1), Leaf("a", PhysicalType::kInt32, Repetition::kRequired)}, {{5, {c}}})),
                   "row group of 5 rows");
}

TEST(ReaderMalformed, DecompressionBombsAndLyingSizes) {
  std::string zeros(1 << 20, '\0');
  std::string packed;
  ASSERT_TRUE(Compress(CompressionCodec::kZstd, 1, reinterpret_cast<const uint8_t*>(zeros.data()), zeros.size(),
                       &packed).ok());
  auto file_with = [&](int32_t claimed_size) {
    Chunk c;
    c.type = PhysicalType::kInt32;
    c.path = {"a"};
    c.codec = CompressionCodec::kZstd;
    c.num_values = 1 << 18;
    Page p = DataPageV1(1 << 18, packed);
    p.header.uncompressed_page_size = claimed_size;
    c.pages.push_back(p);
    return BuildFile({Root(1), Leaf("a", PhysicalType::kInt32, Repetition::kRequired)}, {{1 << 18, {c}}});
  };
  // The honest file reads; with a small page limit it is refused before inflating.
  auto ok = ReadBuffer(file_with(1 << 20));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->num_rows(), 1 << 18);
  ReadOptions small;
  small.max_page_bytes = 64 << 10;
  ExpectCorruption(ReadBuffer(file_with(1 << 20), small), "max_page_bytes");
  // A header claiming 2 GiB is refused without allocating it.
  ExpectCorruption(ReadBuffer(file_with(INT32_MAX)), "max_page_bytes");
  // A header claiming less than the data inflates to is caught by the codec.
  auto lying = ReadBuffer(file_with(1000));
  EXPECT_EQ(lying.status().code(), StatusCode::kCorruption) << lying.status().ToString();
}

TEST(ReaderMalformed, PageSizeBeyondTheFile) {
  Chunk c;
  c.type = PhysicalType::kInt32;
  c.path = {"a"};
  c.num_values = 3;
  Page p = DataPageV1(3, Plain<int32_t>({1, 2, 3}));
  p.keep_sizes = true;
  p.header.compressed_page_size = 1'000'000;
  p.header.uncompressed_page_size = 12;
  c.pages.push_back(p);
  ExpectCorruption(ReadBuffer(BuildFile({Root(1), Leaf("a", PhysicalType::kInt32, Repetition::kRequired)}, {{3, {c}}})),
                   "runs past the column chunk");
}

TEST(ReaderMalformed, FooterDamage) {
  std::string good = SimpleFile();
  auto open = [](std::string data) { return FileReader::OpenBuffer(std::move(data), "test.parquet").status(); };
  ASSERT_TRUE(open(good).ok());
  EXPECT_EQ(open("PAR1").code(), StatusCode::kCorruption);
  EXPECT_EQ(open("").code(), StatusCode::kCorruption);
  std::string bad_tail = good;
  bad_tail[bad_tail.size() - 1] = 'X';
  EXPECT_NE(open(bad_tail).message().find("magic"), std::string::npos);
  std::string bad_head = good;
  bad_head[0] = 'X';
  EXPECT_EQ(open(bad_head).code(), StatusCode::kCorruption);
  std::string huge_len = good;
  uint32_t len = 0x7FFFFFFF;
  std::memcpy(huge_len.data() + huge_len.size() - 8, &len, 4);
  Status st = open(huge_len);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("footer length"), std::string::npos) << st.ToString();
  std::string encrypted = good;
  encrypted.replace(encrypted.size() - 4, 4, "PARE");
  st = open(encrypted);
  EXPECT_EQ(st.code(), StatusCode::kNotSupported);
  EXPECT_NE(st.message().find("Parquet modular encryption"), std::string::npos) << st.ToString();
  // Every truncation of the file fails cleanly.
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = FileReader::OpenBuffer(good.substr(0, n), "test.parquet");
    if (r.ok()) {
      EXPECT_FALSE((*r)->ReadAll().ok()) << "truncated to " << n;
    }
  }
}

TEST(ReaderMalformed, FromAFileSystemPath) {
  lakepipe::testing::TempDir dir;
  ASSERT_TRUE(FileSystem::Default()->WriteFile(dir.Join("a.parquet"), SimpleFile()).ok());
  auto r = FileReader::Open(FileSystem::Default(), dir.Join("a.parquet"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto b = (*r)->ReadAll();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Rows(*b), "1; 2; 3");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(dir.Join("bad.parquet"), "PAR1 this is not parquet PAR1").ok());
  auto bad = FileReader::Open(FileSystem::Default(), dir.Join("bad.parquet"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(dir.Join("bad.parquet")), std::string::npos) << bad.status().ToString();
  EXPECT_FALSE(FileReader::Open(FileSystem::Default(), dir.Join("missing.parquet")).ok());
}

std::string TestdataFile(const std::string& rel) {
  std::string t = lakepipe::testing::TestdataDir();
  return t.empty() ? "" : t + "/parquet-testing/" + rel;
}

TEST(ReaderMalformed, EveryBadDataFileIsRefused) {
  std::string dir = TestdataFile("bad_data");
  if (dir.empty() || !fsys::exists(dir)) GTEST_SKIP() << "../shared/testdata/parquet-testing/bad_data is missing";
  int files = 0;
  for (const auto& e : fsys::directory_iterator(dir)) {
    if (e.path().extension() != ".parquet") continue;
    ++files;
    Status st;
    auto r = FileReader::Open(FileSystem::Default(), e.path().string());
    st = r.status();
    if (r.ok()) st = (*r)->ReadAll().status();
    if (e.path().filename() == "ARROW-GH-43605.parquet") {
      // Not malformed: dictionary indices with bit width 0 (a one-entry dictionary) that
      // crashed Arrow. DuckDB reads 21186 rows of min_fl = 0, and so must we.
      auto b = r.ok() ? (*r)->ReadAll() : Result<RecordBatch>(r.status());
      ASSERT_TRUE(b.ok()) << b.status().ToString();
      ASSERT_EQ(b->num_rows(), 21186);
      for (int64_t i = 0; i < b->num_rows(); ++i) ASSERT_EQ(b->column(0).GetValue(i), Value::Int(0, TypeId::kInt));
      continue;
    }
    EXPECT_FALSE(st.ok()) << e.path().filename() << " was read without error";
    EXPECT_NE(st.message().find(e.path().filename().string()), std::string::npos) << st.ToString();
    std::printf("  %s: %s\n", e.path().filename().c_str(), st.ToString().c_str());
  }
  EXPECT_GE(files, 8);
}

TEST(ReaderMalformed, TruncatedAndBitFlippedCopiesNeverCrash) {
  std::string dir = TestdataFile("data");
  if (dir.empty() || !fsys::exists(dir)) GTEST_SKIP() << "../shared/testdata/parquet-testing/data is missing";
  const std::vector<std::string> kFiles = {
      "alltypes_plain.parquet", "alltypes_dictionary.parquet", "datapage_v2.snappy.parquet",
      "delta_byte_array.parquet", "delta_length_byte_array.parquet", "nested_lists.snappy.parquet",
      "nested_maps.snappy.parquet", "nullable.impala.parquet", "byte_stream_split.zstd.parquet",
      "rle_boolean_encoding.parquet", "lz4_raw_compressed.parquet", "fixed_length_decimal.parquet",
      "repeated_no_annotation.parquet", "int96_from_spark.parquet"};
  std::mt19937_64 rng(20261123);  // fixed seed: failures reproduce
  ReadOptions options;
  options.max_page_bytes = 16 << 20;
  int mutations = 0, refused = 0;
  for (const auto& name : kFiles) {
    auto data = FileSystem::Default()->ReadFile(dir + "/" + name);
    ASSERT_TRUE(data.ok()) << name;
    const std::string& good = *data;
    // Truncations: always an error (the footer is at the end).
    for (int i = 0; i < 8; ++i) {
      size_t n = std::uniform_int_distribution<size_t>(0, good.size() - 1)(rng);
      auto r = FileReader::OpenBuffer(good.substr(0, n), name);
      Status st = r.ok() ? (*r)->ReadAll(options).status() : r.status();
      EXPECT_FALSE(st.ok()) << name << " truncated to " << n;
      ++mutations;
    }
    // Bit flips and byte overwrites anywhere: an error or a (different) table, never a crash.
    for (int i = 0; i < 30; ++i) {
      std::string bad = good;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < edits; ++k) {
        size_t at = std::uniform_int_distribution<size_t>(0, bad.size() - 1)(rng);
        if (rng() % 2) {
          bad[at] = static_cast<char>(bad[at] ^ (1 << (rng() % 8)));
        } else {
          bad[at] = static_cast<char>(rng());
        }
      }
      auto r = FileReader::OpenBuffer(bad, name);
      Status st = r.ok() ? (*r)->ReadAll(options).status() : r.status();
      if (!st.ok()) {
        ++refused;
        EXPECT_NE(st.code(), StatusCode::kInternal) << st.ToString();
      }
      ++mutations;
    }
  }
  EXPECT_GE(mutations, 400);
  EXPECT_GT(refused, 0);
}

// ---- row-group skipping ----------------------------------------------------------------------

Statistics Int64Stats(int64_t lo, int64_t hi, int64_t nulls, bool deprecated_only = false) {
  Statistics s;
  std::string l = Plain<int64_t>({lo}), h = Plain<int64_t>({hi});
  if (deprecated_only) {
    s.min = l;
    s.max = h;
  } else {
    s.min_value = l;
    s.max_value = h;
  }
  s.null_count = nulls;
  return s;
}

// Three row groups of 10 rows: a = 0..9, 10..19, 20..29 (row group 2 also has nulls:
// its last 5 rows); s (UTF8) with only deprecated min/max, which must be ignored.
std::string ThreeRowGroupFile() {
  std::vector<RowGroupSpec> groups;
  for (int g = 0; g < 3; ++g) {
    Chunk a;
    a.type = PhysicalType::kInt64;
    a.path = {"a"};
    a.num_values = 10;
    std::vector<int64_t> vals;
    std::vector<uint32_t> def;
    for (int i = 0; i < 10; ++i) {
      bool null = g == 2 && i >= 5;
      def.push_back(null ? 0 : 1);
      if (!null) vals.push_back(g * 10 + i);
    }
    a.pages.push_back(DataPageV1(10, Levels(def, 1) + Plain<int64_t>(vals)));
    a.stats = Int64Stats(g * 10, g == 2 ? 24 : g * 10 + 9, g == 2 ? 5 : 0);
    Chunk s;
    s.type = PhysicalType::kByteArray;
    s.path = {"s"};
    s.num_values = 10;
    std::vector<std::string> strs(10, std::string(1, static_cast<char>('a' + g)));
    s.pages.push_back(DataPageV1(10, Levels(std::vector<uint32_t>(10, 1), 1) + PlainStrings(strs)));
    Statistics ss;
    ss.min = "zzz";  // deliberately wrong: deprecated byte-array stats are not trusted
    ss.max = "zzz";
    ss.null_count = 0;
    s.stats = ss;
    groups.push_back({10, {a, s}});
  }
  SchemaElement s = Leaf("s", PhysicalType::kByteArray, Repetition::kOptional);
  s.converted_type = ConvertedType::kUtf8;
  return BuildFile({Root(2), Leaf("a", PhysicalType::kInt64, Repetition::kOptional), s}, groups);
}

std::vector<bool> Matches(const FileReader& r, std::vector<ColumnPredicate> preds) {
  std::vector<bool> out;
  for (int g = 0; g < r.num_row_groups(); ++g) out.push_back(r.RowGroupMayMatch(g, preds));
  return out;
}

TEST(RowGroupSkipping, ByMinMaxAndNullCount) {
  auto r = FileReader::OpenBuffer(ThreeRowGroupFile(), "test.parquet");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const FileReader& f = **r;
  ASSERT_EQ(f.num_row_groups(), 3);
  using Op = ColumnPredicate::Op;
  auto p = [](Op op, Value v) { return ColumnPredicate{"a", op, std::move(v)}; };
  EXPECT_EQ(Matches(f, {p(Op::kEq, Value::Int(15))}), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(Matches(f, {p(Op::kLt, Value::Int(10))}), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(Matches(f, {p(Op::kLe, Value::Int(10))}), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(Matches(f, {p(Op::kGt, Value::Int(19))}), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(Matches(f, {p(Op::kGe, Value::Int(25))}), (std::vector<bool>{false, false, false}));
  EXPECT_EQ(Matches(f, {p(Op::kIsNull, Value())}), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(Matches(f, {p(Op::kIsNotNull, Value())}), (std::vector<bool>{true, true, true}));
  // Numbers compare across types (an int column against a double literal).
  EXPECT_EQ(Matches(f, {p(Op::kEq, Value::Double(9.5))}), (std::vector<bool>{false, false, false}));
  // Conjunction: both must allow the row group.
  EXPECT_EQ(Matches(f, {p(Op::kGe, Value::Int(5)), p(Op::kLt, Value::Int(12))}), (std::vector<bool>{true, true, false}));
  // Deprecated byte-array statistics ("zzz") are ignored; unknown columns never skip.
  EXPECT_EQ(Matches(f, {ColumnPredicate{"s", Op::kEq, Value::String("a")}}), (std::vector<bool>{true, true, true}));
  EXPECT_EQ(Matches(f, {ColumnPredicate{"nope", Op::kEq, Value::Int(1)}}), (std::vector<bool>{true, true, true}));

  // Soundness over every value present: a row group holding a matching row is never skipped.
  auto all = f.ReadAll();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  for (int64_t v = -1; v <= 31; ++v) {
    for (Op op : {Op::kEq, Op::kLt, Op::kLe, Op::kGt, Op::kGe}) {
      for (int g = 0; g < 3; ++g) {
        auto rows = f.ReadRowGroup(g, {0});
        ASSERT_TRUE(rows.ok());
        bool any = false;
        for (int64_t i = 0; i < rows->num_rows(); ++i) {
          if (rows->column(0).IsNull(i)) continue;
          int64_t x = rows->column(0).Get<int64_t>(i);
          any |= (op == Op::kEq && x == v) || (op == Op::kLt && x < v) || (op == Op::kLe && x <= v) ||
                 (op == Op::kGt && x > v) || (op == Op::kGe && x >= v);
        }
        if (any) {
          EXPECT_TRUE(f.RowGroupMayMatch(g, {p(op, Value::Int(v))})) << "value " << v << " group " << g;
        }
      }
    }
  }

  // ReadAll applies the predicates and reads only row groups that may match.
  ReadOptions o;
  o.predicates = {p(Op::kGe, Value::Int(12)), p(Op::kLe, Value::Int(13))};
  o.columns = {"a"};
  auto b = f.ReadAll(o);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->num_rows(), 10);
  EXPECT_EQ(b->column(0).Get<int64_t>(0), 10);
  o.predicates = {p(Op::kGt, Value::Int(100))};
  auto none = f.ReadAll(o);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->num_rows(), 0);
  EXPECT_EQ(none->num_columns(), 1u);
}

TEST(RowGroupSkipping, OnAFileOfOurWriterWithManyRowGroups) {
  // Sorted data in small row groups: each predicate keeps exactly the groups whose rows
  // can satisfy it, for int, string, timestamp and decimal columns (the writer's stats).
  auto schema = Schema::ParseDDL("id BIGINT, name STRING, at TIMESTAMP, price DECIMAL(10,2)");
  ASSERT_TRUE(schema.ok());
  std::vector<Column> cols;
  for (const auto& f : schema->fields()) cols.emplace_back(f.type);
  const int64_t kRows = 20000;
  for (int64_t i = 0; i < kRows; ++i) {
    cols[0].Append<int64_t>(i);
    char name[16];
    std::snprintf(name, sizeof(name), "n%06lld", static_cast<long long>(i));
    cols[1].AppendString(name);
    cols[2].Append<int64_t>(1'700'000'000'000'000 + i * 1'000'000);
    cols[3].Append<int128_t>(static_cast<int128_t>(i) * 100 + 99);
  }
  RecordBatch batch = RecordBatch::FromColumns(*schema, std::move(cols));
  lakepipe::testing::TempDir dir;
  WriteOptions wo;
  wo.row_group_bytes = 32 << 10;
  wo.page_bytes = 8 << 10;
  auto w = FileWriter::Open(FileSystem::Default(), dir.Join("w.parquet"), *schema, wo);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  for (int64_t i = 0; i < kRows; i += 1000) ASSERT_TRUE((*w)->Write(batch.Slice(i, 1000)).ok());
  ASSERT_TRUE((*w)->Close().ok());
  auto r = FileReader::Open(FileSystem::Default(), dir.Join("w.parquet"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const FileReader& f = **r;
  ASSERT_GE(f.num_row_groups(), 4);
  // First row of each group, to know which group holds which ids.
  std::vector<int64_t> first(static_cast<size_t>(f.num_row_groups()) + 1, kRows);
  int64_t at = 0;
  for (int g = 0; g < f.num_row_groups(); ++g) {
    first[static_cast<size_t>(g)] = at;
    at += f.row_group_num_rows(g);
  }
  auto expect_only_group_of = [&](const ColumnPredicate& p, int64_t id) {
    for (int g = 0; g < f.num_row_groups(); ++g) {
      bool holds = id >= first[static_cast<size_t>(g)] && id < first[static_cast<size_t>(g) + 1];
      EXPECT_EQ(f.RowGroupMayMatch(g, {p}), holds) << p.column << " group " << g << " id " << id;
    }
  };
  for (int64_t id : {int64_t{0}, int64_t{7777}, kRows - 1}) {
    char name[16];
    std::snprintf(name, sizeof(name), "n%06lld", static_cast<long long>(id));
    expect_only_group_of({"id", ColumnPredicate::Op::kEq, Value::Int(id)}, id);
    expect_only_group_of({"NAME", ColumnPredicate::Op::kEq, Value::String(name)}, id);
    expect_only_group_of({"at", ColumnPredicate::Op::kEq, Value::Timestamp(1'700'000'000'000'000 + id * 1'000'000)}, id);
    expect_only_group_of({"price", ColumnPredicate::Op::kEq, Value::Decimal(static_cast<int128_t>(id) * 100 + 99, 10, 2)}, id);
  }
  ReadOptions o;
  o.predicates = {{"id", ColumnPredicate::Op::kGe, Value::Int(kRows - 10)}};
  auto tail = f.ReadAll(o);
  ASSERT_TRUE(tail.ok()) << tail.status().ToString();
  EXPECT_EQ(tail->num_rows(), f.row_group_num_rows(f.num_row_groups() - 1));
  EXPECT_EQ(tail->column(0).Get<int64_t>(tail->num_rows() - 1), kRows - 1);
}

// ReadRowGroupRows equals the whole row group read with the rows taken, for flat
// columns (nullable fixed-width, PLAIN and dictionary strings, booleans), a struct of
// flat leaves and a list (read whole, then taken), over many small pages, for selections
// from none to all rows; pages with no selected row are skipped, which a selection inside
// one page proves by succeeding on a file whose other pages are damaged.
TEST(RowSelection, SelectedRowsEqualTheWholeReadTaken) {
  auto schema = Schema::ParseDDL(
      "id BIGINT, name STRING, city STRING, flag BOOLEAN, s STRUCT<a: INT, b: STRING>, tags ARRAY<STRING>");
  ASSERT_TRUE(schema.ok());
  std::mt19937 rng(5);
  const int64_t kRows = 12000;
  std::vector<Column> cols;
  for (const auto& f : schema->fields()) cols.emplace_back(f.type);
  for (int64_t i = 0; i < kRows; ++i) {
    if (i % 7 == 3) cols[0].AppendNull(); else cols[0].Append<int64_t>(i * 3);
    if (i % 11 == 5) cols[1].AppendNull(); else cols[1].AppendString("name-" + std::to_string(rng()));
    if (i % 13 == 1) cols[2].AppendNull(); else cols[2].AppendString("c" + std::to_string(rng() % 20));
    if (i % 5 == 2) cols[3].AppendNull(); else cols[3].Append<uint8_t>(rng() % 2);
    std::vector<Value> fields = {i % 9 == 0 ? Value::Null() : Value::Int(static_cast<int32_t>(i), TypeId::kInt),
                                 i % 4 == 0 ? Value::Null() : Value::String("b" + std::to_string(i % 50))};
    ASSERT_TRUE(cols[4].AppendValue(i % 17 == 8 ? Value::Null() : Value::Struct(fields)).ok());
    std::vector<Value> tags;
    for (int64_t t = 0; t < i % 4; ++t) tags.push_back(Value::String("t" + std::to_string(t)));
    ASSERT_TRUE(cols[5].AppendValue(i % 19 == 0 ? Value::Null() : Value::Array(tags)).ok());
  }
  RecordBatch batch = RecordBatch::FromColumns(*schema, std::move(cols));
  lakepipe::testing::TempDir dir;
  WriteOptions wo;
  wo.row_group_bytes = 256 << 10;
  wo.page_bytes = 2 << 10;
  wo.dictionary_page_bytes = 4 << 10;  // name falls back to PLAIN, city stays a dictionary
  auto w = FileWriter::Open(FileSystem::Default(), dir.Join("s.parquet"), *schema, wo);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  for (int64_t i = 0; i < kRows; i += 1000) ASSERT_TRUE((*w)->Write(batch.Slice(i, 1000)).ok());
  ASSERT_TRUE((*w)->Close().ok());
  auto r = FileReader::Open(FileSystem::Default(), dir.Join("s.parquet"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const FileReader& f = **r;
  ASSERT_GE(f.num_row_groups(), 2);
  for (int g = 0; g < f.num_row_groups(); ++g) {
    auto whole = f.ReadRowGroup(g, {});
    ASSERT_TRUE(whole.ok()) << whole.status().ToString();
    const int64_t n = whole->num_rows();
    std::vector<std::vector<int64_t>> selections = {{}, {0}, {n - 1}, {0, n - 1}};
    std::vector<int64_t> sparse, dense, all;
    for (int64_t i = 0; i < n; ++i) {
      if (i % 97 == 13) sparse.push_back(i);
      if (rng() % 3 == 0) dense.push_back(i);
      all.push_back(i);
    }
    selections.push_back(sparse);
    selections.push_back(dense);
    selections.push_back(all);
    for (const auto& rows : selections) {
      for (const std::vector<int>& columns : {std::vector<int>{}, std::vector<int>{2, 0}, std::vector<int>{5, 4}}) {
        auto got = f.ReadRowGroupRows(g, columns, rows);
        ASSERT_TRUE(got.ok()) << got.status().ToString();
        ASSERT_EQ(got->num_rows(), static_cast<int64_t>(rows.size()));
        auto expected = f.ReadRowGroup(g, columns);
        ASSERT_TRUE(expected.ok());
        ASSERT_EQ(got->num_columns(), expected->num_columns());
        for (size_t i = 0; i < rows.size(); ++i) {
          ASSERT_EQ(got->Row(static_cast<int64_t>(i)), expected->Row(rows[i]))
              << "row group " << g << ", row " << rows[i] << " of a selection of " << rows.size();
        }
      }
    }
  }
  EXPECT_FALSE(f.ReadRowGroupRows(0, {}, {5, 3}).ok());
  EXPECT_FALSE(f.ReadRowGroupRows(0, {}, {f.row_group_num_rows(0)}).ok());
  EXPECT_FALSE(f.ReadRowGroupRows(f.num_row_groups(), {}, {0}).ok());
}

// Flat columns read whole are built straight from the pages: dictionary indices gathered
// once into the column, PLAIN strings moved, validity from the definition levels. Every
// kind of flat column, with and without nulls, dictionary pages with a PLAIN fallback in
// the same chunk, in one row group (its columns decoded by two threads) and in several.
// Every kind of flat column, with and without nulls: `s` first holds a few distinct values
// (dictionary pages), then unique ones (the writer falls back to PLAIN within the chunk).
RecordBatch FlatRows(int64_t rows, uint32_t seed) {
  Schema schema = *Schema::ParseDDL(
      "s STRING, city STRING NOT NULL, bin BINARY, id BIGINT, q INT NOT NULL, price DOUBLE, day DATE, "
      "flag BOOLEAN, amount DECIMAL(10,2), ts TIMESTAMP, empty STRING");
  std::mt19937 rng(seed);
  std::vector<Column> cols;
  for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  for (int64_t i = 0; i < rows; ++i) {
    std::string s = i < rows / 3 ? "v" + std::to_string(i % 5) : "unique-" + std::to_string(rng());
    if (i % 7 == 3) cols[0].AppendNull(); else cols[0].AppendString(i % 50 == 0 ? "" : s);
    cols[1].AppendString("city-" + std::to_string(rng() % 30));
    if (i % 5 == 1) cols[2].AppendNull(); else cols[2].AppendString(std::string(1 + i % 3, static_cast<char>(i % 256)));
    if (i % 3 == 0) cols[3].AppendNull(); else cols[3].Append<int64_t>(static_cast<int64_t>(rng() % 40) - 20);
    cols[4].Append<int32_t>(static_cast<int32_t>(i));
    if (i % 11 == 0) cols[5].AppendNull(); else cols[5].Append<double>(static_cast<double>(rng() % 1000) / 8);
    if (i % 13 == 0) cols[6].AppendNull(); else cols[6].Append<int32_t>(static_cast<int32_t>(19000 + i % 400));
    if (i % 4 == 0) cols[7].AppendNull(); else cols[7].Append<uint8_t>(rng() % 2);
    EXPECT_TRUE(cols[8].AppendValue(i % 9 == 0 ? Value::Null() : Value::Decimal(static_cast<int64_t>(rng() % 100000), 10, 2)).ok());
    if (i % 6 == 0) cols[9].AppendNull(); else cols[9].Append<int64_t>(1700000000000000LL + static_cast<int64_t>(rng() % 1000) * 1000000);
    cols[10].AppendNull();
  }
  return RecordBatch::FromColumns(schema, std::move(cols));
}

TEST(Reader, FlatColumnsReadWholeEqualTheWrittenValues) {
  const int64_t kRows = 30000;
  RecordBatch batch = FlatRows(kRows, 11);
  const Schema* schema = &batch.schema();
  for (int64_t row_group_bytes : {int64_t{256} << 20, int64_t{128} << 10}) {
    lakepipe::testing::TempDir dir;
    WriteOptions wo;
    wo.row_group_bytes = row_group_bytes;
    wo.page_bytes = 4 << 10;
    wo.dictionary_page_bytes = 2 << 10;
    const std::string path = dir.Join("flat.parquet");
    auto w = FileWriter::Open(FileSystem::Default(), path, *schema, wo);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    for (int64_t i = 0; i < kRows; i += 5000) ASSERT_TRUE((*w)->Write(batch.Slice(i, 5000)).ok());
    ASSERT_TRUE((*w)->Close().ok());
    auto r = FileReader::Open(FileSystem::Default(), path);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (row_group_bytes > (1 << 20)) {
      ASSERT_EQ((*r)->num_row_groups(), 1);
    } else {
      ASSERT_GE((*r)->num_row_groups(), 2);
    }
    // A chunk of the string column holds dictionary-encoded pages, then PLAIN pages.
    FileMetaData md;
    auto bytes = FileSystem::Default()->ReadFile(path);
    ASSERT_TRUE(bytes.ok());
    uint32_t footer_len;
    std::memcpy(&footer_len, bytes->data() + bytes->size() - 8, 4);
    ASSERT_TRUE(ParseFileMetaData(reinterpret_cast<const uint8_t*>(bytes->data()) + bytes->size() - 8 - footer_len,
                                  footer_len, path, &md)
                    .ok());
    bool mixed_chunk = false;
    for (const auto& rg : md.row_groups) {
      bool dict_pages = false, plain_pages = false;
      for (const auto& st : rg.columns[0].meta_data->encoding_stats) {
        dict_pages |= st.page_type == PageType::kDataPage && st.encoding == Encoding::kRleDictionary;
        plain_pages |= st.page_type == PageType::kDataPage && st.encoding == Encoding::kPlain;
      }
      mixed_chunk |= dict_pages && plain_pages;
    }
    EXPECT_TRUE(mixed_chunk);

    auto all = (*r)->ReadAll();
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    ASSERT_EQ(all->num_rows(), kRows);
    ASSERT_EQ(all->num_columns(), batch.num_columns());
    for (size_t c = 0; c < batch.num_columns(); ++c) {
      EXPECT_EQ(all->column(c).null_count(), batch.column(c).null_count()) << schema->field(c).name;
    }
    for (int64_t i = 0; i < kRows; ++i) ASSERT_EQ(all->Row(i), batch.Row(i)) << "row " << i;
    // Columns chosen, reordered and repeated.
    ReadOptions some;
    some.columns = {"price", "s", "s", "city"};
    auto picked = (*r)->ReadAll(some);
    ASSERT_TRUE(picked.ok()) << picked.status().ToString();
    ASSERT_EQ(picked->num_columns(), 4u);
    for (int64_t i = 0; i < kRows; i += 7) {
      ASSERT_EQ(picked->column(0).GetValue(i), batch.column(5).GetValue(i)) << "row " << i;
      ASSERT_EQ(picked->column(1).GetValue(i), batch.column(0).GetValue(i)) << "row " << i;
      ASSERT_EQ(picked->column(2).GetValue(i), batch.column(0).GetValue(i)) << "row " << i;
      ASSERT_EQ(picked->column(3).GetValue(i), batch.column(1).GetValue(i)) << "row " << i;
    }
  }
}

// One required BIGINT column of 50,000 rows (row i holds i * 7919 % 100003) in many small
// PLAIN pages, as file bytes (`intact`), and a copy whose bytes from half to three
// quarters of the file are overwritten, later pages' headers and data alike (`damaged`).
struct ManyPages {
  std::string intact, damaged;
};
void WriteManyPages(ManyPages* out) {
  auto schema = Schema::ParseDDL("id BIGINT NOT NULL");
  ASSERT_TRUE(schema.ok());
  Column c(schema->field(0).type);
  for (int64_t i = 0; i < 50000; ++i) c.Append<int64_t>(i * 7919 % 100003);
  std::vector<Column> cols;
  cols.push_back(std::move(c));
  RecordBatch batch = RecordBatch::FromColumns(*schema, std::move(cols));
  lakepipe::testing::TempDir dir;
  WriteOptions wo;
  wo.page_bytes = 4 << 10;
  wo.dictionary = false;
  auto w = FileWriter::Open(FileSystem::Default(), dir.Join("p.parquet"), *schema, wo);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write(batch).ok());
  ASSERT_TRUE((*w)->Close().ok());
  auto bytes = FileSystem::Default()->ReadFile(dir.Join("p.parquet"));
  ASSERT_TRUE(bytes.ok());
  out->intact = *bytes;
  out->damaged = *bytes;
  for (size_t i = out->damaged.size() / 2; i < out->damaged.size() * 3 / 4; ++i) out->damaged[i] = static_cast<char>(0xA5);
}

TEST(RowSelection, PagesWithoutSelectedRowsAreNotDecompressed) {
  // The bytes of later pages are overwritten: reading the first rows alone succeeds,
  // reading the whole row group is refused.
  ManyPages file;
  ASSERT_NO_FATAL_FAILURE(WriteManyPages(&file));
  auto r = FileReader::OpenBuffer(file.intact, "p.parquet");
  ASSERT_TRUE(r.ok());
  auto first = (*r)->ReadRowGroupRows(0, {}, {0, 1});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->column(0).Get<int64_t>(1), 7919);
  auto d = FileReader::OpenBuffer(file.damaged, "damaged.parquet");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  // The rows of the first pages read from the damaged file as from the good one; the
  // whole row group does not.
  auto early = (*d)->ReadRowGroupRows(0, {}, {0, 1, 100});
  EXPECT_FALSE((*d)->ReadRowGroup(0, {}).ok());
  if (early.ok()) {
    EXPECT_EQ(early->column(0).Get<int64_t>(2), 100 * 7919 % 100003);
  } else {
    ADD_FAILURE() << "rows of intact pages: " << early.status().ToString();
  }
}

// The rows of a row group's slices, concatenated.
Result<RecordBatch> ReadSliced(const FileReader& f, int g, const std::vector<int>& columns, int64_t slice_rows,
                               std::vector<int64_t>* sizes) {
  LP_ASSIGN_OR_RETURN(auto slices, f.SliceRowGroup(g, columns, slice_rows));
  std::vector<RecordBatch> got;
  RecordBatch b;
  while (true) {
    LP_ASSIGN_OR_RETURN(bool more, slices->Next(&b));
    if (!more) break;
    sizes->push_back(b.num_rows());
    got.push_back(std::move(b));
  }
  if (got.empty()) return Status::Internal("no slice");
  Schema schema = got[0].schema();
  return RecordBatch::Concat(schema, got);
}

// A row group read by slices holds the rows of the row group read whole, at every cut:
// a slice inside a page, across pages, across a dictionary chunk's switch to PLAIN, of
// one row, of the whole group and more; columns picked, reordered and repeated; nested
// columns (read whole, then cut) beside flat ones.
TEST(RowGroupSlices, SlicesHoldTheRowsOfTheWholeRowGroupAtEveryCut) {
  const int64_t kRows = 20000;
  RecordBatch flat = FlatRows(kRows, 23);
  // And a list column, whose row groups are read whole and cut.
  Schema schema = flat.schema();
  auto tags_type = Schema::ParseDDL("tags ARRAY<STRING>");
  ASSERT_TRUE(tags_type.ok());
  schema.AddField(tags_type->field(0));
  std::vector<Column> cols;
  for (size_t c = 0; c < flat.num_columns(); ++c) cols.push_back(flat.column(c));
  cols.emplace_back(tags_type->field(0).type);
  for (int64_t i = 0; i < kRows; ++i) {
    std::vector<Value> tags;
    for (int64_t t = 0; t < i % 3; ++t) tags.push_back(Value::String("t" + std::to_string(t)));
    ASSERT_TRUE(cols.back().AppendValue(i % 19 == 0 ? Value::Null() : Value::Array(tags)).ok());
  }
  RecordBatch batch = RecordBatch::FromColumns(schema, std::move(cols));
  lakepipe::testing::TempDir dir;
  WriteOptions wo;
  wo.row_group_bytes = 160 << 10;
  wo.page_bytes = 4 << 10;
  wo.dictionary_page_bytes = 2 << 10;  // s falls back to PLAIN within a chunk
  const std::string path = dir.Join("sliced.parquet");
  auto w = FileWriter::Open(FileSystem::Default(), path, schema, wo);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  for (int64_t i = 0; i < kRows; i += 5000) ASSERT_TRUE((*w)->Write(batch.Slice(i, 5000)).ok());
  ASSERT_TRUE((*w)->Close().ok());
  auto r = FileReader::Open(FileSystem::Default(), path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const FileReader& f = **r;
  ASSERT_GE(f.num_row_groups(), 2);
  for (int g = 0; g < f.num_row_groups(); ++g) {
    const int64_t n = f.row_group_num_rows(g);
    for (const std::vector<int>& columns :
         {std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, std::vector<int>{4, 0, 0}, std::vector<int>{}}) {
      auto whole = f.ReadRowGroup(g, columns);
      ASSERT_TRUE(whole.ok()) << whole.status().ToString();
      for (int64_t slice : {int64_t{1}, int64_t{3}, int64_t{999}, int64_t{4096}, n - 1, n, n + 5}) {
        std::vector<int64_t> sizes;
        auto got = ReadSliced(f, g, columns, slice, &sizes);
        ASSERT_TRUE(got.ok()) << got.status().ToString();
        ASSERT_EQ(got->num_rows(), n);
        ASSERT_EQ(got->schema().names(), whole->schema().names());
        for (size_t k = 0; k < sizes.size(); ++k) {
          ASSERT_EQ(sizes[k], std::min(slice, n - static_cast<int64_t>(k) * slice)) << "slice " << k;
        }
        for (size_t c = 0; c < got->num_columns(); ++c) {
          ASSERT_EQ(got->column(c).null_count(), whole->column(c).null_count()) << "column " << c;
        }
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(got->Row(i), whole->Row(i)) << "row group " << g << ", slices of " << slice << ", row " << i;
        }
      }
    }
  }
  EXPECT_FALSE(f.SliceRowGroup(f.num_row_groups(), {}, 10).ok());
  EXPECT_FALSE(f.SliceRowGroup(0, {}, 0).ok());
  EXPECT_FALSE(f.SliceRowGroup(0, {99}, 10).ok());
}

// A slice is decoded from the pages it spans: the first slices of a row group whose later
// pages are damaged read as from the intact file, and the damage is reported (Corruption)
// by the slice that reaches it.
TEST(RowGroupSlices, ASliceDecodesOnlyThePagesItReaches) {
  ManyPages file;
  ASSERT_NO_FATAL_FAILURE(WriteManyPages(&file));
  auto d = FileReader::OpenBuffer(file.damaged, "damaged.parquet");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_FALSE((*d)->ReadRowGroup(0, {}).ok());
  auto slices = (*d)->SliceRowGroup(0, {}, 1000);
  ASSERT_TRUE(slices.ok()) << slices.status().ToString();
  RecordBatch b;
  auto first = (*slices)->Next(&b);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(*first);
  ASSERT_EQ(b.num_rows(), 1000);
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(b.column(0).Get<int64_t>(i), i * 7919 % 100003) << i;
  Status failure;
  for (int k = 1; k < 50 && failure.ok(); ++k) {
    auto more = (*slices)->Next(&b);
    if (!more.ok()) failure = more.status();
    else ASSERT_TRUE(*more) << "the damaged row group ended without an error";
  }
  EXPECT_EQ(failure.code(), StatusCode::kCorruption) << failure.ToString();
}

TEST(RowGroupSkipping, ParquetTestingFileWithSeveralRowGroups) {
  std::string path = TestdataFile("data/sort_columns.parquet");
  if (path.empty() || !fsys::exists(path)) GTEST_SKIP() << "parquet-testing data is missing";
  auto r = FileReader::Open(FileSystem::Default(), path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_GE((*r)->num_row_groups(), 2);
  // For each row group and each non-null `a` it holds, `a = value` must keep it; and the
  // skipping must be sound for every value of every other group.
  int skipped = 0;
  for (int g = 0; g < (*r)->num_row_groups(); ++g) {
    auto rows = (*r)->ReadRowGroup(g, {0});
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    for (int64_t i = 0; i < rows->num_rows(); ++i) {
      if (rows->column(0).IsNull(i)) continue;
      Value v = rows->column(0).GetValue(i);
      EXPECT_TRUE((*r)->RowGroupMayMatch(g, {ColumnPredicate{"a", ColumnPredicate::Op::kEq, v}}));
      for (int h = 0; h < (*r)->num_row_groups(); ++h) {
        skipped += !(*r)->RowGroupMayMatch(h, {ColumnPredicate{"a", ColumnPredicate::Op::kEq, v}});
      }
    }
  }
  std::printf("  sort_columns.parquet: %d (value, row group) pairs skipped\n", skipped);
}

}  // namespace
}  // namespace lakepipe::parquet
