#include "formats/parquet/thrift_compact.h"

#include <gtest/gtest.h>

#include <random>

#include "formats/parquet/metadata.h"

namespace lakepipe::parquet {
namespace {

FileMetaData SampleFooter() {
  FileMetaData md;
  md.version = 1;
  SchemaElement root;
  root.name = "spark_schema";
  root.num_children = 2;
  md.schema.push_back(root);
  SchemaElement a;
  a.name = "a";
  a.type = PhysicalType::kInt64;
  a.repetition_type = Repetition::kOptional;
  a.logical_type.kind = LogicalType::Kind::kTimestamp;
  a.logical_type.is_adjusted_to_utc = true;
  a.logical_type.unit = TimeUnit::kMicros;
  a.converted_type = ConvertedType::kTimestampMicros;
  md.schema.push_back(a);
  SchemaElement d;
  d.name = "d";
  d.type = PhysicalType::kFixedLenByteArray;
  d.type_length = 16;
  d.repetition_type = Repetition::kRequired;
  d.converted_type = ConvertedType::kDecimal;
  d.precision = 38;
  d.scale = 10;
  d.field_id = 300;  // needs the long field-id form in its own struct? no: a value
  d.logical_type.kind = LogicalType::Kind::kDecimal;
  d.logical_type.decimal_precision = 38;
  d.logical_type.decimal_scale = 10;
  md.schema.push_back(d);
  md.num_rows = 1234567890123LL;
  RowGroup rg;
  rg.num_rows = 1234567890123LL;
  rg.total_byte_size = 99;
  rg.ordinal = 3;
  ColumnChunk cc;
  cc.file_offset = 4;
  ColumnMetaData cm;
  cm.type = PhysicalType::kInt64;
  cm.encodings = {Encoding::kPlain, Encoding::kRle, Encoding::kRleDictionary};
  cm.path_in_schema = {"a"};
  cm.codec = CompressionCodec::kZstd;
  cm.num_values = -5;  // negative values survive zigzag
  cm.total_compressed_size = 1LL << 40;
  cm.total_uncompressed_size = 7;
  cm.data_page_offset = 100;
  cm.dictionary_page_offset = 4;
  Statistics st;
  st.min_value = std::string("\x00\x01\x02", 3);
  st.max_value = std::string(300, 'z');
  st.null_count = 0;
  st.is_max_value_exact = true;
  cm.statistics = st;
  cm.key_value_metadata.push_back({"k", std::nullopt});
  cc.meta_data = cm;
  rg.columns.push_back(cc);
  rg.columns.push_back(cc);
  md.row_groups.push_back(rg);
  for (int i = 0; i < 20; ++i) md.key_value_metadata.push_back({"key" + std::to_string(i), "v"});
  md.created_by = "lakepipe test";
  md.column_orders = {ColumnOrder::kTypeDefined, ColumnOrder::kTypeDefined};
  return md;
}

TEST(ThriftCompact, VarintAndZigZag) {
  std::string out;
  CompactWriter w(&out);
  w.BeginStruct();
  w.FieldI32(1, -1);
  w.FieldI64(2, INT64_MIN);
  w.FieldI64(3, INT64_MAX);
  w.FieldI32(40, INT32_MIN);  // long-form field header (delta > 15)
  w.FieldI16(2, -300);        // negative delta: long form
  w.FieldBool(3, true);
  w.FieldBool(4, false);
  w.FieldDouble(5, -2.5);
  w.EndStruct();
  // Hand-checked bytes of the first field: header 0x15 (delta 1, i32), zigzag(-1) = 1.
  ASSERT_GE(out.size(), 2u);
  EXPECT_EQ(static_cast<uint8_t>(out[0]), 0x15);
  EXPECT_EQ(static_cast<uint8_t>(out[1]), 0x01);

  CompactReader r(reinterpret_cast<const uint8_t*>(out.data()), out.size());
  ASSERT_TRUE(r.EnterStruct().ok());
  int16_t id;
  ThriftType t;
  int32_t i32;
  int64_t i64;
  int16_t i16;
  double dbl;
  ASSERT_TRUE(r.ReadFieldHeader(&id, &t).ok());
  EXPECT_EQ(id, 1);
  ASSERT_TRUE(r.ReadI32(&i32).ok());
  EXPECT_EQ(i32, -1);
  ASSERT_TRUE(r.ReadFieldHeader(&id, &t).ok());
  ASSERT_TRUE(r.ReadI64(&i64).ok());
  EXPECT_EQ(i64, INT64_MIN);
  ASSERT_TRUE(r.ReadFieldHeader(&id, &t).ok());
  ASSERT_TRUE(r.ReadI64(&i64).ok());
  EXPECT_EQ(i64, INT64_MAX);
  ASSERT_TRUE(r.ReadFieldHeader(&id, &t).ok());
  EXPECT_EQ(id, 40);
  ASSERT_TRUE(r.ReadI32(&i32).ok());
  EXPECT_EQ(i32, INT32_MIN);
  ASSERT_TRUE(r.ReadFieldHeader(&id, &t).ok());
  EXPECT_EQ(id, 2);
  ASSERT_TRUE(r.ReadI16(&i16).ok());
  EXPECT_EQ(i16, -300);
  ASSERT_TRUE(r.ReadFieldHeader(&id, &t).ok());
  EXPECT_EQ(id, 3);
  EXPECT_TRUE(CompactReader::BoolFromType(t));
  ASSERT_TRUE(r.ReadFieldHeader(&id, &t).ok());
  EXPECT_EQ(id, 4);
  EXPECT_FALSE(CompactReader::BoolFromType(t));
  ASSERT_TRUE(r.ReadFieldHeader(&id, &t).ok());
  ASSERT_TRUE(r.ReadDouble(&dbl).ok());
  EXPECT_EQ(dbl, -2.5);
  ASSERT_TRUE(r.ReadFieldHeader(&id, &t).ok());
  EXPECT_EQ(t, ThriftType::kStop);
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(ThriftCompact, FileMetaDataRoundTrip) {
  FileMetaData md = SampleFooter();
  std::string bytes = SerializeThrift(md);
  FileMetaData back;
  Status st = ParseFileMetaData(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                "test", &back);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(back.schema.size(), 3u);
  EXPECT_EQ(back.schema[0].name, "spark_schema");
  EXPECT_EQ(back.schema[0].num_children, 2);
  EXPECT_FALSE(back.schema[0].type.has_value());
  EXPECT_EQ(back.schema[1].logical_type.kind, LogicalType::Kind::kTimestamp);
  EXPECT_TRUE(back.schema[1].logical_type.is_adjusted_to_utc);
  EXPECT_EQ(back.schema[1].logical_type.unit, TimeUnit::kMicros);
  EXPECT_EQ(back.schema[1].converted_type, ConvertedType::kTimestampMicros);
  EXPECT_EQ(back.schema[2].type_length, 16);
  EXPECT_EQ(back.schema[2].field_id, 300);
  EXPECT_EQ(back.schema[2].logical_type.kind, LogicalType::Kind::kDecimal);
  EXPECT_EQ(back.schema[2].logical_type.decimal_precision, 38);
  EXPECT_EQ(back.schema[2].logical_type.decimal_scale, 10);
  EXPECT_EQ(back.num_rows, 1234567890123LL);
  ASSERT_EQ(back.row_groups.size(), 1u);
  EXPECT_EQ(back.row_groups[0].ordinal, 3);
  ASSERT_EQ(back.row_groups[0].columns.size(), 2u);
  const ColumnMetaData& cm = *back.row_groups[0].columns[1].meta_data;
  EXPECT_EQ(cm.encodings.size(), 3u);
  EXPECT_EQ(cm.encodings[2], Encoding::kRleDictionary);
  EXPECT_EQ(cm.path_in_schema, std::vector<std::string>{"a"});
  EXPECT_EQ(cm.codec, CompressionCodec::kZstd);
  EXPECT_EQ(cm.num_values, -5);
  EXPECT_EQ(cm.total_compressed_size, 1LL << 40);
  EXPECT_EQ(cm.dictionary_page_offset, 4);
  ASSERT_TRUE(cm.statistics.has_value());
  EXPECT_EQ(*cm.statistics->min_value, std::string("\x00\x01\x02", 3));
  EXPECT_EQ(cm.statistics->max_value->size(), 300u);
  EXPECT_EQ(cm.statistics->null_count, 0);
  EXPECT_EQ(cm.statistics->is_max_value_exact, true);
  EXPECT_FALSE(cm.statistics->min.has_value());
  ASSERT_EQ(cm.key_value_metadata.size(), 1u);
  EXPECT_FALSE(cm.key_value_metadata[0].value.has_value());
  EXPECT_EQ(back.key_value_metadata.size(), 20u);  // list header in the long form
  EXPECT_EQ(back.key_value_metadata[19].key, "key19");
  EXPECT_EQ(back.created_by, "lakepipe test");
  EXPECT_EQ(back.column_orders.size(), 2u);
  EXPECT_EQ(back.column_orders[0], ColumnOrder::kTypeDefined);
  // Serializing again gives identical bytes.
  EXPECT_EQ(SerializeThrift(back), bytes);
}

TEST(ThriftCompact, PageHeaderRoundTrip) {
  PageHeader h;
  h.type = PageType::kDataPageV2;
  h.uncompressed_page_size = 1000;
  h.compressed_page_size = 500;
  h.crc = -12345;
  DataPageHeaderV2 v2;
  v2.num_values = 10;
  v2.num_nulls = 2;
  v2.num_rows = 9;
  v2.encoding = Encoding::kDeltaBinaryPacked;
  v2.definition_levels_byte_length = 3;
  v2.repetition_levels_byte_length = 4;
  v2.is_compressed = false;
  h.data_page_header_v2 = v2;
  std::string bytes = SerializeThrift(h);
  bytes += "trailing page data";
  PageHeader back;
  size_t used = 0;
  ASSERT_TRUE(ParsePageHeader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x",
                              &back, &used)
                  .ok());
  EXPECT_EQ(used, bytes.size() - strlen("trailing page data"));
  EXPECT_EQ(back.type, PageType::kDataPageV2);
  EXPECT_EQ(back.crc, -12345);
  ASSERT_TRUE(back.data_page_header_v2.has_value());
  EXPECT_FALSE(back.data_page_header_v2->is_compressed);
  EXPECT_EQ(back.data_page_header_v2->repetition_levels_byte_length, 4);
  EXPECT_EQ(back.data_page_header_v2->encoding, Encoding::kDeltaBinaryPacked);
}

TEST(ThriftCompact, UnknownFieldsAreSkipped) {
  // A KeyValue with extra fields of every type, including nested structs, lists and maps.
  std::string out;
  CompactWriter w(&out);
  w.BeginStruct();
  w.FieldBinary(1, "key");
  w.FieldDouble(3, 1.0);
  w.FieldStructBegin(4);
  w.FieldI64(1, 5);
  w.FieldListBegin(2, ThriftType::kBoolTrue, 3);
  w.ElemBool(true);
  w.ElemBool(false);
  w.ElemBool(true);
  w.EndStruct();
  w.FieldListBegin(5, ThriftType::kBinary, 2);
  w.ElemBinary("x");
  w.ElemBinary("yy");
  // A map<i32,string> with 2 entries, written by hand: field header, size, types.
  out.push_back(static_cast<char>((1 << 4) | 11));
  out.push_back(2);
  out.push_back(static_cast<char>((5 << 4) | 8));
  out += std::string("\x02\x01" "a" "\x04\x01" "b", 6);
  w.FieldI32(7, 1);  // delta from 6
  w.EndStruct();
  CompactReader r(reinterpret_cast<const uint8_t*>(out.data()), out.size());
  KeyValue kv;
  Status st = kv.Deserialize(r);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(kv.key, "key");
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(ThriftCompact, MalformedInputsAreCorruption) {
  std::string good = SerializeThrift(SampleFooter());
  auto parse = [](const std::string& b) {
    FileMetaData md;
    return ParseFileMetaData(reinterpret_cast<const uint8_t*>(b.data()), b.size(), "f.parquet",
                             &md);
  };
  // Every truncation fails cleanly.
  for (size_t n = 0; n < good.size(); ++n) {
    Status st = parse(good.substr(0, n));
    ASSERT_FALSE(st.ok()) << "truncated at " << n;
    EXPECT_EQ(st.code(), StatusCode::kCorruption);
  }
  // A string length far beyond the data.
  std::string huge;
  CompactWriter w(&huge);
  w.BeginStruct();
  huge.push_back(static_cast<char>((4 << 4) | 8));  // field 4 (name), binary
  w.WriteVarint(1ULL << 40);
  Status st = parse(huge);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("exceeds"), std::string::npos) << st.message();
  // A list claiming two billion elements.
  std::string biglist;
  biglist.push_back(static_cast<char>((2 << 4) | 9));
  biglist.push_back(static_cast<char>(0xfc));  // long form, struct elements
  CompactWriter w2(&biglist);
  w2.WriteVarint(2000000000);
  EXPECT_EQ(parse(biglist).code(), StatusCode::kCorruption);
  // Deep nesting: unknown struct fields nested 10000 deep.
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep.push_back(static_cast<char>((1 << 4) | 12));
  st = parse(deep);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("nesting"), std::string::npos) << st.message();
  // Invalid wire type.
  EXPECT_EQ(parse(std::string("\x1e", 1)).code(), StatusCode::kCorruption);
  // Overlong varint.
  std::string ov = "\x15";
  ov += std::string(11, '\xff');
  EXPECT_EQ(parse(ov).code(), StatusCode::kCorruption);
  // Missing required fields: an empty struct.
  st = parse(std::string("\x00", 1));
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("schema"), std::string::npos);
}

TEST(ThriftCompact, RandomBytesNeverCrash) {
  std::mt19937 rng(42);
  std::string good = SerializeThrift(SampleFooter());
  for (int iter = 0; iter < 20000; ++iter) {
    std::string b = good;
    int flips = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] = static_cast<char>(rng());
    FileMetaData md;
    Status st = ParseFileMetaData(reinterpret_cast<const uint8_t*>(b.data()), b.size(), "f", &md);
    if (!st.ok()) { EXPECT_EQ(st.code(), StatusCode::kCorruption); }
  }
}

}  // namespace
}  // namespace lakepipe::parquet
