#include "formats/json/json_reader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "formats/json/json_writer.h"
#include "testing/testing.h"
#include "types/datetime.h"

namespace lakepipe::json {
namespace {

RecordBatch Read(const std::string& text, JsonOptions o, ReadStats* stats = nullptr) {
  auto r = ReadJsonBuffer(text, std::move(o), stats);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : RecordBatch();
}

JsonOptions WithSchema(const std::string& ddl) {
  JsonOptions o;
  auto s = Schema::ParseDDL(ddl);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  o.schema = *s;
  return o;
}

std::string Str(const RecordBatch& b, int64_t row, const std::string& col) {
  const Column* c = b.ColumnByName(col);
  if (c == nullptr) return "<no column " + col + ">";
  if (c->IsNull(row)) return "NULL";
  return c->GetValue(row).ToString();
}

// Issue 19 item 3: a line with invalid UTF-8 is not JSON; it is rescued as a corrupt record
// whose text is valid JSON (U+FFFD) and whose exact bytes are kept in hex.
TEST(JsonReaderTest, InvalidUtf8LineIsRescuedAsValidJson) {
  ReadStats stats;
  JsonOptions o = WithSchema("a BIGINT, b STRING");
  RecordBatch b = Read("{\"a\":1,\"b\":\"caf\xe9\"}\n{\"a\":2,\"b\":\"ok\"}\n", o, &stats);
  ASSERT_EQ(b.num_rows(), 2);
  EXPECT_TRUE(b.ColumnByName("a")->IsNull(0));
  EXPECT_TRUE(b.ColumnByName("b")->IsNull(0));
  auto r = nlohmann::json::parse(b.ColumnByName("_rescued_data")->GetString(0));
  EXPECT_EQ(r["_corrupt_record"], "{\"a\":1,\"b\":\"caf\xEF\xBF\xBD\"}");
  std::string hex;
  for (unsigned char c : std::string("{\"a\":1,\"b\":\"caf\xe9\"}")) {
    static const char* k = "0123456789abcdef";
    hex.push_back(k[c >> 4]);
    hex.push_back(k[c & 15]);
  }
  EXPECT_EQ(r["_invalid_utf8"]["_corrupt_record"], hex);
  EXPECT_EQ(Str(b, 1, "b"), "ok");
  EXPECT_EQ(stats.rescued_rows, 1);
}

TEST(JsonReaderTest, InfersNestedSchema) {
  std::string text =
      R"({"id":1,"name":"a","tags":["x","y"],"addr":{"city":"Paris","zip":75001},"score":1})" "\n"
      R"({"id":2,"name":null,"tags":[],"addr":{"city":"Oslo","geo":{"lat":59.9}},"score":2.5,"ok":true})" "\n";
  RecordBatch b = Read(text, JsonOptions{});
  const Schema& s = b.schema();
  ASSERT_EQ(s.size(), 7u);
  EXPECT_EQ(s.field(0).name, "id");
  EXPECT_EQ(s.field(0).type, DataType::Long());
  EXPECT_EQ(s.field(1).type, DataType::String());
  EXPECT_EQ(s.field(2).type, DataType::Array(DataType::String()));
  EXPECT_EQ(s.field(3).type.ToString(), "struct<city:string,zip:bigint,geo:struct<lat:double>>");
  EXPECT_EQ(s.field(4).type, DataType::Double());
  EXPECT_EQ(s.field(5).type, DataType::Boolean());
  EXPECT_EQ(s.field(6).name, "_rescued_data");
  ASSERT_EQ(b.num_rows(), 2);
  EXPECT_EQ(Str(b, 0, "tags"), "[x, y]");
  EXPECT_EQ(Str(b, 1, "tags"), "[]");
  EXPECT_EQ(Str(b, 0, "addr"), "{Paris, 75001, NULL}");
  EXPECT_EQ(Str(b, 1, "addr"), "{Oslo, NULL, {59.9}}");
  EXPECT_EQ(Str(b, 0, "score"), "1.0");
  EXPECT_EQ(Str(b, 0, "ok"), "NULL");
  EXPECT_EQ(Str(b, 1, "name"), "NULL");
  EXPECT_EQ(Str(b, 0, "_rescued_data"), "NULL");
  EXPECT_TRUE(b.Validate().ok());
}

TEST(JsonReaderTest, ConflictingKindsWidenToString) {
  RecordBatch b = Read("{\"a\":1,\"b\":{\"x\":1}}\n{\"a\":\"two\",\"b\":[1]}\n", JsonOptions{});
  EXPECT_EQ(b.schema().field(0).type, DataType::String());
  EXPECT_EQ(b.schema().field(1).type, DataType::String());
  EXPECT_EQ(Str(b, 0, "a"), "1");  // raw JSON text, as Spark keeps it
  EXPECT_EQ(Str(b, 1, "b"), "[1]");
}

TEST(JsonReaderTest, RescuesMismatchesUnknownFieldsAndMalformedLines) {
  JsonOptions o = WithSchema("id INT, price DOUBLE, when DATE, s STRUCT<x: INT>");
  o.file_path = "/landing/a.json";
  ReadStats stats;
  std::string text =
      R"({"id":1,"price":2.5,"when":"2020-01-02","s":{"x":3}})" "\n"
      R"({"id":"seven","price":"NaN","extra":[1,2],"s":{"x":"no"}})" "\n"
      "\n"
      R"({"id":3, "price": )" "\n"
      "[1,2]\n"
      R"({"id":4000000000})";
  RecordBatch b = Read(text, o, &stats);
  ASSERT_EQ(b.num_rows(), 5);
  EXPECT_EQ(Str(b, 0, "when"), "2020-01-02");
  EXPECT_EQ(Str(b, 0, "s"), "{3}");
  EXPECT_EQ(Str(b, 0, "_rescued_data"), "NULL");

  EXPECT_EQ(Str(b, 1, "id"), "NULL");
  EXPECT_TRUE(std::isnan(b.column(1).Get<double>(1)));
  EXPECT_EQ(Str(b, 1, "s"), "{NULL}");
  EXPECT_EQ(Str(b, 1, "_rescued_data"),
            R"({"id":"seven","extra":"[1,2]","s":"{\"x\":\"no\"}","_file_path":"/landing/a.json"})");

  EXPECT_EQ(Str(b, 2, "id"), "NULL");
  std::string corrupt = Str(b, 2, "_rescued_data");
  EXPECT_EQ(corrupt.rfind(R"({"_corrupt_record":"{\"id\":3, \"price\": ","_error":"malformed JSON: )", 0), 0u)
      << corrupt;
  EXPECT_NE(corrupt.find(R"("_file_path":"/landing/a.json"})"), std::string::npos);
  EXPECT_EQ(Str(b, 3, "_rescued_data"),
            R"({"_corrupt_record":"[1,2]","_error":"the line is not a JSON object","_file_path":"/landing/a.json"})");
  EXPECT_EQ(Str(b, 4, "_rescued_data"), R"({"id":"4000000000","_file_path":"/landing/a.json"})");
  EXPECT_EQ(stats.rows, 5);
  EXPECT_EQ(stats.rescued_rows, 4);
  EXPECT_EQ(stats.first_bad_lines, (std::vector<int64_t>{2, 4, 5, 6}));
  EXPECT_EQ(stats.lines, 6);
}

TEST(JsonReaderTest, SchemaTypesMapsAndTimestamps) {
  JsonOptions o = WithSchema(
      "m MAP<STRING, INT>, ts TIMESTAMP, d DECIMAL(20,2), arr ARRAY<STRUCT<k: STRING>>, s STRING");
  RecordBatch b = Read(
      R"({"m":{"a":1,"b":2},"ts":"2019-12-09T10:05:00.5Z","d":123456789012345678.91,"arr":[{"k":"v"},null],"s":{"raw":true}})" "\n"
      R"({"ts":1575885900,"d":"0.10"})" "\n",
      o);
  ASSERT_EQ(b.num_rows(), 2);
  EXPECT_EQ(Str(b, 0, "m"), "{a -> 1, b -> 2}");
  EXPECT_EQ(b.column(1).Get<int64_t>(0),
            int64_t{DaysFromCivil(2019, 12, 9)} * kMicrosPerDay + (10 * 3600 + 5 * 60) * kMicrosPerSecond + 500000);
  EXPECT_EQ(b.column(1).Get<int64_t>(1), int64_t{1575885900} * kMicrosPerSecond);
  EXPECT_EQ(Str(b, 1, "d"), "0.10");
  EXPECT_EQ(Str(b, 0, "arr"), "[{v}, NULL]");
  EXPECT_EQ(Str(b, 0, "s"), R"({"raw":true})");
  EXPECT_EQ(Str(b, 0, "_rescued_data"), "NULL");
}

TEST(JsonReaderTest, LineNumbersBatchesAndSmallChunksFromAFile) {
  std::string text;
  for (int i = 0; i < 300; ++i) {
    text += "{\"i\":" + std::to_string(i) + ",\"s\":\"" + std::string(static_cast<size_t>(i % 50), 'x') + "\"}\r\n";
    if (i % 100 == 0) text += "\n";
  }
  testing::TempDir dir;
  std::string path = dir.Join("in.jsonl");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(path, text).ok());
  JsonOptions o;
  o.chunk_bytes = 100;
  o.batch_rows = 64;
  o.line_numbers = true;
  auto reader = JsonReader::Open(FileSystem::Default(), path, o);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->data_schema().ToDDL().find("i bigint"), 0u) << (*reader)->data_schema().ToDDL();
  JsonBatch batch;
  int64_t next = 0;
  int64_t expected_line = 1;
  for (;;) {
    auto more = (*reader)->Next(&batch);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    EXPECT_LE(batch.batch.num_rows(), 64);
    for (int64_t r = 0; r < batch.batch.num_rows(); ++r) {
      EXPECT_EQ(batch.batch.column(0).Get<int64_t>(r), next);
      EXPECT_EQ(batch.line_numbers[static_cast<size_t>(r)], expected_line);
      expected_line += (next % 100 == 0) ? 2 : 1;  // a blank line follows every 100th
      ++next;
    }
  }
  EXPECT_EQ(next, 300);
  EXPECT_EQ((*reader)->total_stats().rescued_rows, 0);
}

TEST(JsonReaderTest, RandomInputsNeverCrash) {
  std::mt19937 rng(7);
  const char* pieces[] = {"{", "}", "[", "]", "\"a\"", ":", ",", "1", "-2.5e3", "null", "true",
                          "\"x\\\"y\"", "\n", " ", "\"b\"", "{\"a\":", "\\u00e9", "\xff"};
  for (int iter = 0; iter < 1500; ++iter) {
    std::string text;
    int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) text += pieces[rng() % (sizeof pieces / sizeof pieces[0])];
    JsonOptions o;
    if (iter % 2 == 0) o = WithSchema("a BIGINT, b ARRAY<STRUCT<a: STRING>>");
    o.batch_rows = 1 + static_cast<int64_t>(rng() % 4);
    auto r = ReadJsonBuffer(text, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r->Validate().ok());
  }
}

// schemaEvolutionMode support: new top-level keys are reported once each with their
// first line (and still rescued); with unknown keys ignored ('none') they leave no trace,
// while a type mismatch is still rescued.
TEST(JsonReaderTest, NewFieldsReportedOrIgnored) {
  std::string text = "{\"a\":1}\n{\"a\":2,\"dev\":\"tv\"}\n{\"a\":3,\"dev\":\"pc\",\"x\":{\"y\":1}}\n{\"a\":\"no\"}\n";
  JsonOptions o;
  o.schema = *Schema::ParseDDL("a BIGINT");
  o.report_new_fields = true;
  ReadStats stats;
  RecordBatch b = Read(text, o, &stats);
  ASSERT_EQ(stats.new_fields.size(), 2u);
  EXPECT_EQ(stats.new_fields[0].name, "dev");
  EXPECT_EQ(stats.new_fields[0].line, 2);
  EXPECT_EQ(stats.new_fields[1].name, "x");
  EXPECT_EQ(stats.new_fields[1].line, 3);
  EXPECT_EQ(stats.rescued_rows, 3);
  EXPECT_EQ(b.ColumnByName("_rescued_data")->GetValue(1).ToString(), "{\"dev\":\"tv\"}");

  o.report_new_fields = false;
  o.unknown_keys_misfit = false;
  ReadStats ignored;
  RecordBatch c = Read(text, o, &ignored);
  EXPECT_TRUE(ignored.new_fields.empty());
  EXPECT_EQ(ignored.rescued_rows, 1);  // only the mismatch "no"
  EXPECT_TRUE(c.ColumnByName("_rescued_data")->IsNull(1));
  EXPECT_TRUE(c.ColumnByName("a")->IsNull(3));
}

// Keys a struct column lacks are new fields too, at any depth through structs (reported
// by path, each once with its first line; the top-level value still rescued); a key new
// inside an array element is not reported (only rescued).
TEST(JsonReaderTest, NewFieldsInsideStructsAreReportedByPath) {
  std::string text =
      "{\"p\":{\"id\":1,\"geo\":{\"city\":\"x\"}}}\n"
      "{\"p\":{\"id\":2,\"geo\":{\"city\":\"y\",\"lat\":1.5},\"dev\":\"tv\"}}\n"
      "{\"p\":{\"id\":3,\"dev\":\"pc\",\"a.b\":1}}\n"
      "{\"tags\":[{\"k\":\"a\",\"new\":1}]}\n";
  JsonOptions o;
  o.schema = *Schema::ParseDDL("p STRUCT<id: BIGINT, geo: STRUCT<city: STRING>>, tags ARRAY<STRUCT<k: STRING>>");
  o.report_new_fields = true;
  ReadStats stats;
  RecordBatch b = Read(text, o, &stats);
  ASSERT_EQ(stats.new_fields.size(), 3u);
  EXPECT_EQ(stats.new_fields[0].name, "p.geo.lat");
  EXPECT_EQ(stats.new_fields[0].path, (std::vector<std::string>{"p", "geo", "lat"}));
  EXPECT_EQ(stats.new_fields[0].line, 2);
  EXPECT_EQ(stats.new_fields[1].name, "p.dev");
  EXPECT_EQ(stats.new_fields[1].line, 2);
  EXPECT_EQ(stats.new_fields[2].name, "p.`a.b`");
  EXPECT_EQ(stats.new_fields[2].line, 3);
  EXPECT_EQ(stats.rescued_rows, 3);
  EXPECT_TRUE(b.ColumnByName("_rescued_data")->IsNull(0));
  EXPECT_NE(b.ColumnByName("_rescued_data")->GetValue(1).ToString().find("dev"), std::string::npos)
      << b.ColumnByName("_rescued_data")->GetValue(1).ToString();
}

// Without a schema and without type inference (Auto Loader's default), every top-level
// column is a STRING and nested values keep their JSON text.
TEST(JsonReaderTest, InferStringsOnly) {
  JsonOptions o;
  o.infer_types = false;
  RecordBatch b = Read("{\"a\":1,\"s\":{\"x\":[1,2]},\"t\":\"u\"}\n", o);
  EXPECT_EQ(b.schema().ToDDL(), "a string, s string, t string, _rescued_data string");
  EXPECT_EQ(b.ColumnByName("a")->GetValue(0).ToString(), "1");
  EXPECT_EQ(b.ColumnByName("s")->GetValue(0).ToString(), "{\"x\":[1,2]}");
}

TEST(JsonWriterTest, WritesSparkStyleJson) {
  Schema schema({Field{"d", DataType::Double()}, Field{"dec", DataType::Decimal(38, 4)},
                 Field{"dt", DataType::Date()}, Field{"ts", DataType::Timestamp()},
                 Field{"s", DataType::String()}, Field{"n", DataType::Int()},
                 Field{"a", DataType::Array(DataType::Long())}});
  std::vector<Column> cols;
  for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  cols[0].Append<double>(std::nan(""));
  int128_t big = Pow10(37) + 12345;  // 38 digits: more than a double holds
  cols[1].Append<int128_t>(big);
  cols[2].Append<int32_t>(DaysFromCivil(2019, 12, 9));
  cols[3].Append<int64_t>(int64_t{DaysFromCivil(2019, 12, 9)} * kMicrosPerDay + 1500);
  cols[4].AppendString("q\"\n");
  cols[5].AppendNull();
  cols[6].child(0).Append<int64_t>(1);
  cols[6].child(0).AppendNull();
  cols[6].CloseListRow();
  RecordBatch b = RecordBatch::FromColumns(schema, std::move(cols));
  std::string out;
  AppendJsonLines(b, JsonWriteOptions{}, &out);
  EXPECT_EQ(out,
            "{\"d\":\"NaN\",\"dec\":1000000000000000000000000000000001.2345,\"dt\":\"2019-12-09\","
            "\"ts\":\"2019-12-09T00:00:00.001500Z\",\"s\":\"q\\\"\\n\",\"a\":[1,null]}\n");
}

TEST(JsonWriterTest, RoundTripThroughTheReader) {
  Schema schema({Field{"i", DataType::Long()}, Field{"d", DataType::Double()},
                 Field{"ts", DataType::Timestamp()}, Field{"dec", DataType::Decimal(10, 2)},
                 Field{"st", DataType::Struct({Field{"x", DataType::String()},
                                               Field{"y", DataType::Array(DataType::Int())}})},
                 Field{"m", DataType::Map(DataType::String(), DataType::Double())}});
  std::vector<Column> cols;
  for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  std::mt19937 rng(3);
  for (int r = 0; r < 50; ++r) {
    bool null_row = r % 7 == 3;
    if (null_row) {
      for (auto& c : cols) c.AppendNull();
      continue;
    }
    cols[0].Append<int64_t>(static_cast<int64_t>(rng()) * (r % 2 ? -1 : 1) * 1000003);
    cols[1].Append<double>(r == 5 ? -INFINITY : static_cast<double>(rng()) / 977.0);
    cols[2].Append<int64_t>(static_cast<int64_t>(rng()) * 1000 + r);
    cols[3].Append<int128_t>(static_cast<int128_t>(rng() % 1000000) - 500000);
    cols[4].child(0).AppendString(r % 3 ? "t\u00e9xt \"" + std::to_string(r) : "");
    for (int k = 0; k < r % 4; ++k) cols[4].child(1).child(0).Append<int32_t>(k - r);
    cols[4].child(1).CloseListRow();
    cols[4].CloseStructRow();
    cols[5].child(0).AppendString("k" + std::to_string(r));
    cols[5].child(1).Append<double>(0.5 * r);
    cols[5].CloseListRow();
  }
  RecordBatch batch = RecordBatch::FromColumns(schema, std::move(cols));
  ASSERT_TRUE(batch.Validate().ok());
  std::string text;
  AppendJsonLines(batch, JsonWriteOptions{}, &text);
  JsonOptions o;
  o.schema = schema;
  RecordBatch back = Read(text, o);
  ASSERT_EQ(back.num_rows(), batch.num_rows());
  for (int64_t r = 0; r < batch.num_rows(); ++r) {
    for (size_t c = 0; c < schema.size(); ++c) {
      EXPECT_EQ(back.column(c).GetValue(r), batch.column(c).GetValue(r))
          << "row " << r << " column " << schema.field(c).name;
    }
    EXPECT_TRUE(back.column(schema.size()).IsNull(r)) << Str(back, r, "_rescued_data");
  }
}

}  // namespace
}  // namespace lakepipe::json
