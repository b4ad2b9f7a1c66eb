#include "formats/csv/csv_reader.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <cstring>
#include <optional>
#include <random>

#include "common/utf8.h"
#include "formats/csv/csv_writer.h"
#include "testing/testing.h"
#include "types/datetime.h"

namespace lakepipe::csv {
namespace {

CsvOptions WithSchema(const std::string& ddl, bool header = true) {
  CsvOptions o;
  o.header = header;
  auto s = Schema::ParseDDL(ddl);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  o.schema = *s;
  return o;
}

RecordBatch Read(const std::string& text, CsvOptions o, ReadStats* stats = nullptr) {
  auto r = ReadCsvBuffer(text, std::move(o), stats);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : RecordBatch();
}

std::string Str(const RecordBatch& b, int64_t row, const std::string& col) {
  const Column* c = b.ColumnByName(col);
  if (c == nullptr) return "<no column " + col + ">";
  if (c->IsNull(row)) return "NULL";
  return c->GetValue(row).ToString();
}

TEST(CsvReaderTest, QuotedFieldsWithDelimitersQuotesAndNewlines) {
  std::string text =
      "a,b,c\n"
      "\"x,y\",\"he said \"\"hi\"\"\",\"line1\nline2\"\n"
      "plain,,\"\"\n";
  RecordBatch b = Read(text, WithSchema("a STRING, b STRING, c STRING"));
  ASSERT_EQ(b.num_rows(), 2);
  EXPECT_EQ(Str(b, 0, "a"), "x,y");
  EXPECT_EQ(Str(b, 0, "b"), "he said \"hi\"");
  EXPECT_EQ(Str(b, 0, "c"), "line1\nline2");
  EXPECT_EQ(Str(b, 1, "a"), "plain");
  EXPECT_EQ(Str(b, 1, "b"), "NULL");  // empty unquoted field
  EXPECT_EQ(Str(b, 1, "c"), "");      // quoted empty string
  EXPECT_EQ(Str(b, 0, "_rescued_data"), "NULL");
}

TEST(CsvReaderTest, CrlfBomAndMissingFinalNewline) {
  std::string text = "\xEF\xBB\xBFid,name\r\n1,one\r\n2,two";
  RecordBatch b = Read(text, WithSchema("id INT, name STRING"));
  ASSERT_EQ(b.num_rows(), 2);
  EXPECT_EQ(b.schema().field(0).name, "id");
  EXPECT_EQ(Str(b, 0, "name"), "one");
  EXPECT_EQ(Str(b, 1, "id"), "2");
  EXPECT_EQ(Str(b, 1, "name"), "two");
}

TEST(CsvReaderTest, EscapeCharacterAndNullValueAndDelimiter) {
  CsvOptions o = WithSchema("a STRING, b INT");
  o.delimiter = ';';
  o.escape = '\\';
  o.null_value = "NA";
  RecordBatch b = Read("a;b\n\"q\\\"x\";NA\n\"z\";7\n", o);
  ASSERT_EQ(b.num_rows(), 2);
  EXPECT_EQ(Str(b, 0, "a"), "q\"x");
  EXPECT_EQ(Str(b, 0, "b"), "NULL");
  EXPECT_EQ(Str(b, 1, "b"), "7");
}

TEST(CsvReaderTest, InfersTypesAndNamesColumns) {
  std::string text =
      "i,l,d,dt,ts,b,s,n,mix\n"
      "1,3000000000,1.5,2019-12-09,2019-12-09T10:05:00Z,true,x,,1\n"
      "-2,4,2,2020-01-31,2020-01-31 00:00:00,FALSE,y,,2.5\n";
  CsvOptions o;
  RecordBatch b = Read(text, o);
  const Schema& s = b.schema();
  ASSERT_EQ(s.size(), 10u);
  EXPECT_EQ(s.field(0).type, DataType::Int());
  EXPECT_EQ(s.field(1).type, DataType::Long());
  EXPECT_EQ(s.field(2).type, DataType::Double());
  EXPECT_EQ(s.field(3).type, DataType::Date());
  EXPECT_EQ(s.field(4).type, DataType::Timestamp());
  EXPECT_EQ(s.field(5).type, DataType::Boolean());
  EXPECT_EQ(s.field(6).type, DataType::String());
  EXPECT_EQ(s.field(7).type, DataType::String());  // all empty
  EXPECT_EQ(s.field(8).type, DataType::Double());  // int and double merge to double
  EXPECT_EQ(s.field(9).name, "_rescued_data");
  EXPECT_EQ(b.column(3).Get<int32_t>(0), DaysFromCivil(2019, 12, 9));
  EXPECT_EQ(b.column(4).Get<int64_t>(1), int64_t{DaysFromCivil(2020, 1, 31)} * kMicrosPerDay);
  EXPECT_EQ(Str(b, 1, "b"), "false");

  CsvOptions no_header;
  no_header.header = false;
  RecordBatch c = Read("1,x\n2,y\n", no_header);
  EXPECT_EQ(c.schema().field(0).name, "_c0");
  EXPECT_EQ(c.schema().field(1).name, "_c1");
  EXPECT_EQ(c.schema().field(0).type, DataType::Int());

  CsvOptions all_strings;
  all_strings.infer_types = false;
  RecordBatch d = Read("a\n1\n", all_strings);
  EXPECT_EQ(d.schema().field(0).type, DataType::String());
}

TEST(CsvReaderTest, RescuesBadValuesWithExactJson) {
  CsvOptions o = WithSchema("name STRING, qty INT, price DOUBLE");
  o.file_path = "/landing/orders.csv";
  ReadStats stats;
  RecordBatch b = Read("name,qty,price\nok,1,2.5\nbad,one,x9\nbig,9999999999,1\n", o, &stats);
  ASSERT_EQ(b.num_rows(), 3);
  EXPECT_EQ(Str(b, 0, "_rescued_data"), "NULL");
  EXPECT_EQ(Str(b, 1, "qty"), "NULL");
  EXPECT_EQ(Str(b, 1, "price"), "NULL");
  EXPECT_EQ(Str(b, 1, "_rescued_data"),
            R"({"qty":"one","price":"x9","_file_path":"/landing/orders.csv"})");
  EXPECT_EQ(Str(b, 2, "_rescued_data"),
            R"({"qty":"9999999999","_file_path":"/landing/orders.csv"})");
  EXPECT_EQ(stats.rows, 3);
  EXPECT_EQ(stats.rescued_rows, 2);
  EXPECT_EQ(stats.first_bad_lines, (std::vector<int64_t>{3, 4}));
}

TEST(CsvReaderTest, RescuesExtraAndMissingFieldsAndUnknownHeaderColumns) {
  CsvOptions o = WithSchema("a INT, b STRING, c STRING");
  ReadStats stats;
  RecordBatch b = Read("a,b,c\n1,x,y,extra1,\"ex,2\"\n2\n3,p,q\n", o, &stats);
  ASSERT_EQ(b.num_rows(), 3);
  EXPECT_EQ(Str(b, 0, "c"), "y");
  EXPECT_EQ(Str(b, 0, "_rescued_data"), R"({"_c3":"extra1","_c4":"ex,2"})");
  EXPECT_EQ(Str(b, 1, "a"), "2");
  EXPECT_EQ(Str(b, 1, "b"), "NULL");
  EXPECT_EQ(Str(b, 1, "_rescued_data"), R"({"_missing_columns":["b","c"]})");
  EXPECT_EQ(Str(b, 2, "_rescued_data"), "NULL");
  EXPECT_EQ(stats.rescued_rows, 2);

  // The header names a column the schema lacks, and omits one it has; columns are matched
  // by name, not position.
  CsvOptions o2 = WithSchema("b STRING, a INT, z STRING");
  RecordBatch c = Read("a,extra,b\n1,e,x\n2,,y\n", o2);
  ASSERT_EQ(c.num_rows(), 2);
  EXPECT_EQ(Str(c, 0, "a"), "1");
  EXPECT_EQ(Str(c, 0, "b"), "x");
  EXPECT_EQ(Str(c, 0, "z"), "NULL");
  EXPECT_EQ(Str(c, 0, "_rescued_data"), R"({"extra":"e"})");
  EXPECT_EQ(Str(c, 1, "_rescued_data"), "NULL");  // an empty unknown value holds nothing
}

TEST(CsvReaderTest, UnterminatedQuoteAtEndIsRescuedWithItsLine) {
  CsvOptions o = WithSchema("a STRING, b STRING");
  ReadStats stats;
  RecordBatch b = Read("a,b\n1,2\n3,\"open\nmore\n", o, &stats);
  ASSERT_EQ(b.num_rows(), 2);
  EXPECT_EQ(Str(b, 1, "a"), "NULL");
  EXPECT_EQ(Str(b, 1, "_rescued_data"),
            R"({"_corrupt_record":"3,\"open\nmore\n","_error":"unterminated quoted field starting on line 3"})");
  EXPECT_EQ(stats.first_bad_lines, (std::vector<int64_t>{3}));
}

TEST(CsvReaderTest, LineNumbersAndBatchesOfNRows) {
  CsvOptions o = WithSchema("a INT, b STRING");
  o.batch_rows = 2;
  o.line_numbers = true;
  auto reader = CsvReader::OpenBuffer("a,b\n1,x\n\n2,\"two\nlines\"\n3,y\n4,z\n", o);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<int64_t> sizes, lines, values;
  CsvBatch batch;
  for (;;) {
    auto more = (*reader)->Next(&batch);
    ASSERT_TRUE(more.ok());
    if (!*more) break;
    sizes.push_back(batch.batch.num_rows());
    for (int64_t i = 0; i < batch.batch.num_rows(); ++i) {
      values.push_back(batch.batch.column(0).Get<int32_t>(i));
      lines.push_back(batch.line_numbers[static_cast<size_t>(i)]);
    }
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(values, (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(lines, (std::vector<int64_t>{2, 4, 6, 7}));  // line 3 is blank
  EXPECT_EQ((*reader)->total_stats().rows, 4);
  EXPECT_EQ((*reader)->total_stats().lines, 7);
}

// The file reader refills a small window: rows and quoted fields straddle chunk borders.
TEST(CsvReaderTest, FileReaderWithTinyChunksMatchesBufferReader) {
  std::string text = "id,name,price\n";
  for (int i = 0; i < 500; ++i) {
    text += std::to_string(i) + ",\"name, with \"\"quotes\"\" " + std::to_string(i) +
            "\nsecond line\"," + std::to_string(i) + ".25\r\n";
  }
  testing::TempDir dir;
  std::string path = dir.Join("in.csv");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(path, text).ok());
  CsvOptions o = WithSchema("id INT, name STRING, price DOUBLE");
  o.chunk_bytes = 64;
  o.batch_rows = 37;
  ReadStats stats;
  auto from_file = ReadCsvFile(FileSystem::Default(), path, o, &stats);
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  ASSERT_EQ(from_file->num_rows(), 500);
  EXPECT_EQ(stats.rescued_rows, 0);
  for (int64_t i = 0; i < 500; i += 97) {
    EXPECT_EQ(from_file->column(0).Get<int32_t>(i), i);
    EXPECT_EQ(from_file->column(1).GetString(i),
              "name, with \"quotes\" " + std::to_string(i) + "\nsecond line");
    EXPECT_DOUBLE_EQ(from_file->column(2).Get<double>(i), i + 0.25);
  }
}

TEST(CsvReaderTest, RowLongerThanTheLimitIsAClearError) {
  testing::TempDir dir;
  std::string path = dir.Join("long.csv");
  std::string text = "a\n\"" + std::string(5000, 'x');  // never closed
  ASSERT_TRUE(FileSystem::Default()->WriteFile(path, text).ok());
  CsvOptions o = WithSchema("a STRING");
  o.chunk_bytes = 256;
  o.max_row_bytes = 1024;
  auto r = ReadCsvFile(FileSystem::Default(), path, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("line 2"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(path), std::string::npos);
}

TEST(CsvReaderTest, TypedColumns) {
  CsvOptions o = WithSchema(
      "b BOOLEAN, s SMALLINT, l BIGINT, f FLOAT, d DECIMAL(10,2), dt DATE, ts TIMESTAMP", false);
  ReadStats stats;
  RecordBatch b = Read("true,-32768,-9223372036854775808,1.5,12.345,2019-12-09,2019-12-09 10:00:00\n"
                       "maybe,32768,9223372036854775808,x,abc,2019-13-01,never\n",
                       o, &stats);
  ASSERT_EQ(b.num_rows(), 2);
  EXPECT_EQ(Str(b, 0, "s"), "-32768");
  EXPECT_EQ(Str(b, 0, "l"), "-9223372036854775808");
  EXPECT_EQ(Str(b, 0, "d"), "12.35");
  EXPECT_EQ(Str(b, 0, "ts"), "2019-12-09 10:00:00");
  for (const char* c : {"b", "s", "l", "f", "d", "dt", "ts"}) EXPECT_EQ(Str(b, 1, c), "NULL") << c;
  EXPECT_EQ(Str(b, 1, "_rescued_data"),
            R"({"b":"maybe","s":"32768","l":"9223372036854775808","f":"x","d":"abc","dt":"2019-13-01","ts":"never"})");
  EXPECT_EQ(stats.rescued_rows, 1);
}

TEST(CsvReaderTest, OptionsFromMap) {
  auto o = CsvOptionsFromMap({{"header", "false"}, {"sep", "|"}, {"nullValue", "\\N"}});
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->header);
  EXPECT_EQ(o->delimiter, '|');
  EXPECT_EQ(*o->null_value, "\\N");
  auto bad = CsvOptionsFromMap({{"multiLine", "true"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("multiLine"), std::string::npos);
  EXPECT_FALSE(CsvOptionsFromMap({{"mode", "FAILFAST"}}).ok());
  EXPECT_FALSE(CsvOptionsFromMap({{"sep", ",,"}}).ok());
}

TEST(CsvReaderTest, NestedSchemaIsRefused) {
  auto r = ReadCsvBuffer("a\n1\n", WithSchema("a ARRAY<INT>"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotSupported);
}

TEST(CsvReaderTest, RandomInputsNeverCrashAndGiveValidBatches) {
  std::mt19937 rng(42);
  const char alphabet[] = {'a', '1', ',', '"', '\n', '\r', ';', '\\', ' ', '.', '-', '\xEF'};
  for (int iter = 0; iter < 2000; ++iter) {
    std::string text;
    int n = static_cast<int>(rng() % 200);
    for (int i = 0; i < n; ++i) text.push_back(alphabet[rng() % sizeof alphabet]);
    CsvOptions o;
    if (iter % 2 == 0) o = WithSchema("a INT, b STRING, c DOUBLE", iter % 4 == 0);
    o.batch_rows = 1 + static_cast<int64_t>(rng() % 5);
    if (iter % 3 == 0) o.escape = '\\';
    auto r = ReadCsvBuffer(text, o);
    if (!r.ok()) {
      // The only refusal: a header whose quote never closes, named by line.
      EXPECT_NE(r.status().message().find("line 1: the header"), std::string::npos)
          << r.status().ToString();
      continue;
    }
    ASSERT_TRUE(r->Validate().ok());
  }
}

TEST(CsvWriterTest, RoundTripThroughTheReader) {
  Schema schema({Field{"s", DataType::String()}, Field{"i", DataType::Int()},
                 Field{"d", DataType::Double()}, Field{"dt", DataType::Date()},
                 Field{"ts", DataType::Timestamp()}, Field{"dec", DataType::Decimal(12, 3)},
                 Field{"b", DataType::Boolean()}});
  std::vector<Column> cols;
  for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  std::vector<std::string> strings = {"plain", "comma, inside", "quote \"q\"", "new\nline",
                                      "", "cr\r\nlf", "  spaces  "};
  for (size_t i = 0; i < strings.size(); ++i) {
    cols[0].AppendString(strings[i]);
    cols[1].Append<int32_t>(static_cast<int32_t>(i) - 3);
    cols[2].Append<double>(i == 4 ? 0.1 + 0.2 : static_cast<double>(i) / 3);
    cols[3].Append<int32_t>(static_cast<int32_t>(i * 1000));
    cols[4].Append<int64_t>(static_cast<int64_t>(i) * 1234567891);
    cols[5].Append<int128_t>(static_cast<int128_t>(i) * 1001 - 5000);
    cols[6].AppendBool(i % 2 == 0);
  }
  for (auto& c : cols) c.AppendNull();
  RecordBatch batch = RecordBatch::FromColumns(schema, std::move(cols));
  std::string text;
  CsvWriteOptions wo;
  AppendCsvHeader(schema, wo, &text);
  AppendCsvRows(batch, wo, &text);

  CsvOptions ro;
  ro.schema = schema;
  ro.rescued_data_column = "";
  RecordBatch back = Read(text, ro);
  ASSERT_EQ(back.num_rows(), batch.num_rows());
  for (int64_t r = 0; r < batch.num_rows(); ++r) {
    for (size_t c = 0; c < schema.size(); ++c) {
      EXPECT_EQ(back.column(c).GetValue(r), batch.column(c).GetValue(r))
          << "row " << r << " column " << schema.field(c).name;
      EXPECT_EQ(back.column(c).IsNull(r), batch.column(c).IsNull(r));
    }
  }
}

// Issue 19 item 3: a STRING holds UTF-8 only. Latin-1 bytes are rescued (with their exact
// bytes in hex), the column is NULL, and the rescue record is valid JSON.
TEST(CsvReaderTest, InvalidUtf8IsRescuedNotStored) {
  ReadStats stats;
  CsvOptions o = WithSchema("a INT, b STRING, c BINARY, d INT");
  o.file_path = "in.csv";
  RecordBatch b = Read("a,b,c,d\n1,caf\xe9,x\xffy,2\n2,ok \xc3\xa9,z,no\xe9\n", o, &stats);
  ASSERT_EQ(b.num_rows(), 2);
  EXPECT_EQ(Str(b, 0, "a"), "1");
  EXPECT_EQ(Str(b, 0, "b"), "NULL");
  EXPECT_EQ(b.ColumnByName("c")->GetString(0), "x\xffy");  // BINARY keeps any bytes
  EXPECT_EQ(Str(b, 0, "d"), "2");
  auto r0 = nlohmann::json::parse(b.ColumnByName("_rescued_data")->GetString(0));
  EXPECT_EQ(r0["b"], "caf\xEF\xBF\xBD");
  EXPECT_EQ(r0["_invalid_utf8"]["b"], "636166e9");
  EXPECT_EQ(r0["_file_path"], "in.csv");
  EXPECT_EQ(Str(b, 1, "b"), "ok \xc3\xa9");  // valid UTF-8 stays
  auto r1 = nlohmann::json::parse(b.ColumnByName("_rescued_data")->GetString(1));
  EXPECT_EQ(r1["d"], "no\xEF\xBF\xBD");
  EXPECT_EQ(r1["_invalid_utf8"]["d"], "6e6fe9");
  EXPECT_EQ(stats.rescued_rows, 2);
}

TEST(CsvReaderTest, InvalidUtf8InHeadersExtraFieldsAndCorruptRows) {
  CsvOptions o;
  o.infer_types = false;
  RecordBatch b = Read("n\xe9m,v\nx,y,extra\xe9\n\"open\xe9", o);
  ASSERT_EQ(b.schema().field(0).name, "n\xEF\xBF\xBDm");
  ASSERT_EQ(b.num_rows(), 2);
  auto r0 = nlohmann::json::parse(b.ColumnByName("_rescued_data")->GetString(0));
  EXPECT_EQ(r0["_invalid_utf8"]["_c2"], "6578747261e9");
  auto r1 = nlohmann::json::parse(b.ColumnByName("_rescued_data")->GetString(1));
  EXPECT_EQ(r1["_invalid_utf8"]["_corrupt_record"], "226f70656ee9");
  EXPECT_TRUE(r1.contains("_error"));
}

// The reader checks UTF-8 once per window, not once per value (RowIsValidUtf8): an
// invalid byte in a row in the middle of a window, rows of valid multi-byte text around
// it (some cut by the window's edge), two bad rows in a row and a bad first row of a
// window must each be rescued exactly as the per-value check did, naming line and column.
TEST(CsvReaderTest, InvalidUtf8InTheMiddleOfAWindowIsRescuedWithItsLine) {
  std::string text = "id,name,city\n";
  std::vector<int> bad_rows = {300, 301, 777};
  auto name_of = [](int i) { return "caf\xc3\xa9 \xe2\x82\xac" + std::to_string(i); };
  for (int i = 0; i < 1000; ++i) {
    bool bad = std::find(bad_rows.begin(), bad_rows.end(), i) != bad_rows.end();
    text += std::to_string(i) + "," + (bad ? "bad\xe9" + std::to_string(i) : name_of(i)) +
            "," + (i % 7 == 0 ? "" : "\"Z\"\"rich\"") + "\n";
  }
  testing::TempDir dir;
  std::string path = dir.Join("utf8.csv");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(path, text).ok());
  for (int64_t chunk : {int64_t{100}, int64_t{333}, int64_t{4096}, int64_t{8} << 20}) {
    SCOPED_TRACE("chunk_bytes " + std::to_string(chunk));
    CsvOptions o = WithSchema("id INT, name STRING, city STRING");
    o.chunk_bytes = chunk;
    o.batch_rows = 128;
    ReadStats stats;
    auto b = ReadCsvFile(FileSystem::Default(), path, o, &stats);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    ASSERT_EQ(b->num_rows(), 1000);
    EXPECT_EQ(stats.rescued_rows, 3);
    // Lines are 1-based and the header is line 1: row i is on line i + 2.
    EXPECT_EQ(stats.first_bad_lines, (std::vector<int64_t>{302, 303, 779}));
    const Column* name = b->ColumnByName("name");
    const Column* city = b->ColumnByName("city");
    const Column* rescued = b->ColumnByName("_rescued_data");
    for (int i = 0; i < 1000; ++i) {
      bool bad = std::find(bad_rows.begin(), bad_rows.end(), i) != bad_rows.end();
      ASSERT_EQ(b->column(0).Get<int32_t>(i), i);
      if (bad) {
        EXPECT_TRUE(name->IsNull(i)) << i;
        auto r = nlohmann::json::parse(rescued->GetString(i));
        EXPECT_EQ(r["_invalid_utf8"]["name"], "626164e9" + [&] {
          std::string hex;
          AppendHex(std::to_string(i), &hex);
          return hex;
        }()) << i;
      } else {
        EXPECT_EQ(name->GetString(i), name_of(i)) << i;
        EXPECT_TRUE(rescued->IsNull(i)) << i;
      }
      if (i % 7 == 0) {
        EXPECT_TRUE(city->IsNull(i)) << i;
      } else {
        EXPECT_EQ(city->GetString(i), "Z\"rich") << i;
      }
    }
  }
}

// String values wait in a per-column list and go into the column in bulk: values from
// the window, values unescaped into scratch space (doubled quotes), NULLs and missing
// fields must keep their row order across window refills and batch ends.
TEST(CsvReaderTest, StringValuesKeepTheirOrderAcrossRefillsAndBatches) {
  std::string text = "a,b\n";
  std::vector<std::optional<std::string>> want_a, want_b;
  for (int i = 0; i < 3000; ++i) {
    std::string id = std::to_string(i);
    switch (i % 5) {
      case 0: text += "plain" + id + ",x" + id + "\n"; want_a.push_back("plain" + id); want_b.push_back("x" + id); break;
      case 1: text += "\"q\"\"" + id + "\",\n"; want_a.push_back("q\"" + id); want_b.push_back(std::nullopt); break;
      case 2: text += ",\"" + id + "\"\n"; want_a.push_back(std::nullopt); want_b.push_back(id); break;
      case 3: text += "\"\"," + id + "\n"; want_a.push_back(""); want_b.push_back(id); break;
      default: text += "only" + id + "\n"; want_a.push_back("only" + id); want_b.push_back(std::nullopt); break;
    }
  }
  testing::TempDir dir;
  std::string path = dir.Join("order.csv");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(path, text).ok());
  CsvOptions o = WithSchema("a STRING, b STRING");
  o.chunk_bytes = 250;
  o.batch_rows = 333;
  ReadStats stats;
  auto b = ReadCsvFile(FileSystem::Default(), path, o, &stats);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->num_rows(), 3000);
  EXPECT_EQ(stats.rescued_rows, 600);  // the rows with a missing field
  for (int64_t i = 0; i < 3000; ++i) {
    for (int c = 0; c < 2; ++c) {
      const auto& want = c == 0 ? want_a[static_cast<size_t>(i)] : want_b[static_cast<size_t>(i)];
      const Column& col = b->column(static_cast<size_t>(c));
      if (!want) {
        EXPECT_TRUE(col.IsNull(i)) << "row " << i << " col " << c;
      } else {
        ASSERT_FALSE(col.IsNull(i)) << "row " << i << " col " << c;
        EXPECT_EQ(col.GetString(i), *want) << "row " << i << " col " << c;
      }
    }
  }
}

// The reader splits most rows 16 bytes at a time and leaves quotes, CR and rows near the
// window's end to the general parser; typed values are stored in place and the rescue
// column is built once per batch. Random rows mixing all of these, read through windows
// and batches of several sizes, must give back exactly what was written.
TEST(CsvReaderTest, RandomRowsReadBackAsWrittenAcrossWindowsAndBatches) {
  struct Want {
    std::optional<std::string> s, t;
    std::optional<int32_t> i;
    std::optional<double> d;
    bool rescued = false;
  };
  std::mt19937 rng(7);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const std::vector<std::string> pieces = {"a", "b", "Z", " ", ",", "\"", "\n", "\xC3\xA9", "7", ".", "-"};
  std::string text = "s,i,d,t\n";
  std::vector<Want> want;
  for (int row = 0; row < 1500; ++row) {
    Want w;
    std::string s;
    for (int k = pick(30); k > 0; --k) s += pieces[static_cast<size_t>(pick(static_cast<int>(pieces.size())))];
    bool must_quote = s.find_first_of(",\"\n") != std::string::npos;
    if (must_quote || pick(5) == 0) {
      std::string q = "\"";
      for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      text += q + "\"";
      w.s = s;
    } else {
      text += s;
      if (!s.empty()) w.s = s;
    }
    int32_t i = static_cast<int32_t>(rng()) / (1 << pick(31));
    switch (pick(10)) {
      case 0: text += ",x" + std::to_string(i); w.rescued = true; break;
      case 1: text += ","; break;
      default: text += "," + std::to_string(i); w.i = i; break;
    }
    char dbuf[32];
    std::snprintf(dbuf, sizeof dbuf, "%.2f", (static_cast<double>(rng() % 2000000) - 1000000) / 100);
    text += std::string(",") + dbuf;
    w.d = std::strtod(dbuf, nullptr);
    switch (pick(20)) {
      case 0: w.rescued = true; break;  // a missing field: t is NULL
      case 1: text += ",tt,extra"; w.t = "tt"; w.rescued = true; break;
      default: {
        std::string t(static_cast<size_t>(pick(20)), 'q');
        for (auto& ch : t) ch = static_cast<char>('a' + pick(26));
        text += "," + t;
        if (!t.empty()) w.t = t;
      }
    }
    text += pick(4) == 0 ? "\r\n" : "\n";
    want.push_back(w);
  }
  testing::TempDir dir;
  std::string path = dir.Join("random.csv");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(path, text).ok());
  for (int64_t chunk : {64, 100, 1000, 1 << 20}) {
    for (int64_t batch_rows : {1, 7, 250, 65536}) {
      CsvOptions o = WithSchema("s STRING, i INT, d DOUBLE, t STRING");
      o.chunk_bytes = chunk;
      o.batch_rows = batch_rows;
      ReadStats stats;
      auto b = ReadCsvFile(FileSystem::Default(), path, o, &stats);
      ASSERT_TRUE(b.ok()) << b.status().ToString();
      ASSERT_TRUE(b->Validate().ok());
      ASSERT_EQ(b->num_rows(), static_cast<int64_t>(want.size()));
      int64_t rescued = 0;
      for (int64_t r = 0; r < b->num_rows(); ++r) {
        const Want& w = want[static_cast<size_t>(r)];
        std::string where = "row " + std::to_string(r) + " chunk " + std::to_string(chunk) +
                            " batch " + std::to_string(batch_rows);
        auto check_string = [&](size_t c, const std::optional<std::string>& v) {
          ASSERT_EQ(b->column(c).IsNull(r), !v.has_value()) << where << " col " << c;
          if (v) EXPECT_EQ(b->column(c).GetString(r), *v) << where << " col " << c;
        };
        check_string(0, w.s);
        check_string(3, w.t);
        ASSERT_EQ(b->column(1).IsNull(r), !w.i.has_value()) << where;
        EXPECT_EQ(b->column(1).Get<int32_t>(r), w.i.value_or(0)) << where;  // NULL slots hold 0
        ASSERT_FALSE(b->column(2).IsNull(r)) << where;
        EXPECT_EQ(b->column(2).Get<double>(r), *w.d) << where;
        EXPECT_EQ(!b->column(4).IsNull(r), w.rescued) << where;
        rescued += w.rescued;
      }
      EXPECT_EQ(stats.rescued_rows, rescued);
      EXPECT_EQ(b->column(1).null_count(),
                std::count_if(want.begin(), want.end(), [](const Want& w) { return !w.i; }));
    }
  }
}

// DOUBLE fields of up to 15 digits take a short path (an exact integer divided by an exact
// power of ten); the value must be bit for bit what a correctly rounding parser gives.
TEST(CsvReaderTest, DecimalsParseToTheCorrectlyRoundedDouble) {
  std::mt19937_64 rng(11);
  std::string text = "d\n";
  std::vector<std::string> fields;
  for (int i = 0; i < 20000; ++i) {
    int digits = 1 + static_cast<int>(rng() % 18);
    std::string f;
    if (rng() % 3 == 0) f += '-';
    std::string ds;
    for (int k = 0; k < digits; ++k) ds += static_cast<char>('0' + rng() % 10);
    int frac = static_cast<int>(rng() % (digits + 1));
    f += ds.substr(0, ds.size() - frac);
    if (frac > 0) f += "." + ds.substr(ds.size() - frac);
    if (f == "-" || f.empty()) f += "0";
    if (f[0] == '.' || (f[0] == '-' && f[1] == '.')) f.insert(f[0] == '-' ? 1 : 0, "0");
    fields.push_back(f);
    text += f + "\n";
  }
  for (std::string f : {"-0", "-0.000", "0.1", "999999999999999", "9999999999999999", "0.000000000000001",
                        "123456789012345.6", "1e5", "1.", ".5", "+2.5", "-", "1.2.3"}) {
    fields.push_back(f);
    text += f + "\n";
  }
  CsvOptions o = WithSchema("d DOUBLE");
  RecordBatch b = Read(text, o);
  ASSERT_EQ(b.num_rows(), static_cast<int64_t>(fields.size()));
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string& f = fields[i];
    char* end = nullptr;
    double want = std::strtod(f.c_str(), &end);
    bool parses = end == f.c_str() + f.size() && f != "-";
    if (f == "1." || f == ".5") parses = true;
    if (f == "1.2.3") parses = false;
    const int64_t r = static_cast<int64_t>(i);
    ASSERT_EQ(b.column(0).IsNull(r), !parses) << f;
    if (!parses) continue;
    double got = b.column(0).Get<double>(r);
    EXPECT_EQ(std::memcmp(&got, &want, sizeof got), 0) << f << ": " << got << " vs " << want;
  }
}

TEST(CsvWriterTest, QuotesOnlyWhatNeedsIt) {
  Schema schema({Field{"a", DataType::String()}, Field{"b", DataType::Double()}});
  std::vector<Column> cols{Column(DataType::String()), Column(DataType::Double())};
  cols[0].AppendString("x,y");
  cols[1].Append<double>(1.0);
  cols[0].AppendNull();
  cols[1].Append<double>(std::nan(""));
  RecordBatch b = RecordBatch::FromColumns(schema, std::move(cols));
  std::string out;
  AppendCsvRows(b, CsvWriteOptions{}, &out);
  EXPECT_EQ(out, "\"x,y\",1.0\n,NaN\n");
}

}  // namespace
}  // namespace lakepipe::csv
