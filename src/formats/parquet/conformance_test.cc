// Conformance of the reader over apache/parquet-testing's data/ folder (files written by
// parquet-mr, parquet-cpp/Arrow, arrow-rs, Impala, Spark, ...):
//  - every file either reads fully or is refused for a reason listed in kRefused;
//  - files with a *_expect.csv twin are compared value by value with it;
//  - every other file is compared value by value with DuckDB reading the same file;
//  - a few facts that apache/arrow and parquet-testing document for specific files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "formats/parquet/parquet.h"
#include "testing/testing.h"
#include "types/datetime.h"
#include "types/decimal.h"

namespace lakepipe::parquet {
namespace {

namespace fsys = std::filesystem;
using nlohmann::json;

std::string DataDir() {
  std::string t = lakepipe::testing::TestdataDir();
  if (t.empty() || !fsys::exists(t + "/parquet-testing/data")) return "";
  return t + "/parquet-testing/data";
}

// Files lakepipe refuses on purpose, and a phrase the error must contain.
//  - *.parquet.encrypted: Parquet modular encryption (NotSupported).
//  - large_string_map.brotli.parquet: one page decompresses to just over 1 GiB, above
//    ReadOptions.max_page_bytes' default (the decompression-bomb guard).
//  - nation.dict-malformed.parquet: a deliberately malformed dictionary page (arrow's tests
//    expect an error too).
const std::map<std::string, std::string>& Refused() {
  static const std::map<std::string, std::string> kRefused = {
      {"large_string_map.brotli.parquet", "max_page_bytes"},
      {"nation.dict-malformed.parquet", "nation.dict-malformed.parquet"},
  };
  return kRefused;
}

// Files DuckDB itself cannot read; their values are checked by other tests below.
const std::set<std::string>& DuckDbCannotRead() {
  static const std::set<std::string> kFiles = {
      "map_no_value.parquet",  // DuckDB: "MAP_KEY_VALUE requires two children"
      // DuckDB: "BYTE_STREAM_SPLIT encoding is only supported for FLOAT or DOUBLE data"
      "byte_stream_split_extended.gzip.parquet",
      // DuckDB: "Unsupported compression codec LZ4" (the deprecated Hadoop LZ4 codec)
      "hadoop_lz4_compressed.parquet",
      "hadoop_lz4_compressed_larger.parquet",
      "non_hadoop_lz4_compressed.parquet",
  };
  return kFiles;
}

std::vector<std::string> ListParquetFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fsys::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string name = e.path().filename().string();
    if (name.ends_with(".parquet") || name.ends_with(".parquet.encrypted")) {
      out.push_back(fsys::relative(e.path(), dir).string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// DuckDB's text form of a BLOB: printable ASCII kept (even a backslash), everything
// else (and quotes) as \xHH.
std::string DuckBlob(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

json FloatJson(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return d;
}

// Our value as DuckDB's row JSON shows it (getRowObjectsJson).
json ToJson(const Value& v, const DataType& t) {
  if (v.is_null()) return nullptr;
  switch (t.id()) {
    case TypeId::kNull:
    case TypeId::kDayTimeInterval:  // expression-only types: never in a Parquet file
    case TypeId::kYearMonthInterval: return nullptr;
    case TypeId::kBoolean: return v.bool_value();
    case TypeId::kByte:
    case TypeId::kShort:
    case TypeId::kInt:
    case TypeId::kLong: return v.int_value();
    case TypeId::kFloat:
    case TypeId::kDouble: return FloatJson(v.double_value());
    case TypeId::kDecimal: return FormatDecimal(v.decimal_value(), t.scale());
    case TypeId::kString: return v.string_value();
    case TypeId::kBinary: return DuckBlob(v.string_value());
    case TypeId::kDate: return FormatDate(static_cast<int32_t>(v.int_value()));
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz: return FormatTimestamp(v.int_value());
    case TypeId::kStruct: {
      json o = json::object();
      for (size_t i = 0; i < t.fields().size(); ++i) o[t.fields()[i].name] = ToJson(v.children()[i], t.fields()[i].type);
      return o;
    }
    case TypeId::kArray: {
      json a = json::array();
      for (const auto& e : v.children()) a.push_back(ToJson(e, t.element()));
      return a;
    }
    case TypeId::kMap: {
      json a = json::array();
      const auto& kv = v.children();
      for (size_t i = 0; i + 1 < kv.size(); i += 2) {
        a.push_back(json{{"key", ToJson(kv[i], t.key())}, {"value", ToJson(kv[i + 1], t.value())}});
      }
      return a;
    }
  }
  return nullptr;
}

// Both sides reduced to one spelling: every scalar becomes a string, numbers written the
// same way whichever side (or JSON type) they came from.
json Canonical(const json& j) {
  if (j.is_object()) {
    json o = json::object();
    for (auto it = j.begin(); it != j.end(); ++it) o[it.key()] = Canonical(it.value());
    return o;
  }
  if (j.is_array()) {
    json a = json::array();
    for (const auto& e : j) a.push_back(Canonical(e));
    return a;
  }
  if (j.is_null()) return nullptr;
  if (j.is_boolean()) return j.get<bool>() ? "true" : "false";
  if (j.is_number_integer()) return std::to_string(j.get<int64_t>());
  if (j.is_number_unsigned()) return std::to_string(j.get<uint64_t>());
  if (j.is_number_float()) {
    double d = j.get<double>();
    if (d == std::floor(d) && std::fabs(d) < 9007199254740992.0) return std::to_string(static_cast<int64_t>(d));
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%.17g", d);
    return std::string(buf);
  }
  return j;
}

std::string Quote(const std::string& name) {
  std::string s = "\"";
  for (char c : name) {
    s.push_back(c);
    if (c == '"') s.push_back('"');
  }
  return s + "\"";
}

// Our rendering of row `r`, column `c`, matching the SQL expression chosen in DuckSelect.
json OurCell(const RecordBatch& b, size_t c, int64_t r) {
  const DataType& t = b.schema().field(c).type;
  Value v = b.column(c).GetValue(r);
  if (v.is_null()) return nullptr;
  if (t.is_timestamp()) return v.int_value();
  return ToJson(v, t);
}

std::string DuckSelect(const Schema& schema, const std::string& path) {
  std::string sql = "SELECT ";
  for (size_t i = 0; i < schema.size(); ++i) {
    const Field& f = schema.field(i);
    std::string q = Quote(f.name);
    std::string expr = q;
    if (f.type.is_timestamp()) expr = "epoch_us(" + q + ")";
    sql += (i ? ", " : "") + expr + " AS c" + std::to_string(i);
  }
  return sql + " FROM read_parquet('" + path + "')";
}

// Compares every value of `batch` (our reading of `path`) with DuckDB's reading of it.
// `skip_row`: a row DuckDB is known to get wrong (-1: none).
void CompareWithDuckDB(const std::string& path, const RecordBatch& batch, int64_t skip_row) {
  auto out = lakepipe::testing::RunDuckDB(DuckSelect(batch.schema(), path));
  if (!out.ok()) {
    ADD_FAILURE() << out.status().ToString();
    return;
  }
  std::istringstream lines(*out);
  std::string line;
  int64_t r = 0;
  int mismatches = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    ASSERT_LT(r, batch.num_rows()) << "DuckDB returns more rows";
    json duck = json::parse(line);
    for (size_t c = 0; c < batch.num_columns() && mismatches < 5 && r != skip_row; ++c) {
      json theirs = Canonical(duck["c" + std::to_string(c)]);
      json ours = Canonical(OurCell(batch, c, r));
      if (theirs != ours) {
        ++mismatches;
        ADD_FAILURE() << "row " << r << " column " << batch.schema().field(c).name << ": lakepipe "
                      << ours.dump() << ", DuckDB " << theirs.dump();
      }
    }
    ++r;
  }
  EXPECT_EQ(r, batch.num_rows()) << "row counts differ";
}

// A minimal CSV reader that keeps the difference between an empty unquoted field (null)
// and "" (empty string).
std::vector<std::vector<std::optional<std::string>>> ReadCsv(const std::string& text) {
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::vector<std::optional<std::string>> row;
  std::string cell;
  bool quoted = false, was_quoted = false, in_quotes = false;
  auto end_cell = [&]() {
    if (was_quoted || !cell.empty()) {
      row.emplace_back(cell);
    } else {
      row.emplace_back(std::nullopt);
    }
    cell.clear();
    was_quoted = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        cell.push_back('"');
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      } else {
        cell.push_back(c);
      }
    } else if (c == '"') {
      in_quotes = quoted = was_quoted = true;
    } else if (c == ',') {
      end_cell();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_cell();
      rows.push_back(std::move(row));
      row.clear();
    } else {
      cell.push_back(c);
    }
  }
  if (!cell.empty() || !row.empty()) {
    end_cell();
    rows.push_back(std::move(row));
  }
  (void)quoted;
  return rows;
}

std::string CsvRendering(const Value& v) {
  if (v.id() == TypeId::kString || v.id() == TypeId::kBinary) return v.string_value();
  return v.ToString();
}

TEST(ParquetTestingConformance, EveryFileReadsOrIsRefusedForANamedReason) {
  std::string dir = DataDir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata/parquet-testing/data is missing";
  std::vector<std::string> read, refused;
  for (const auto& rel : ListParquetFiles(dir)) {
    std::string name = fsys::path(rel).filename().string();
    auto reader = FileReader::Open(FileSystem::Default(), dir + "/" + rel);
    Status st = reader.status();
    if (st.ok()) {
      auto batch = (*reader)->ReadAll();
      st = batch.status();
      if (st.ok()) {
        EXPECT_EQ(batch->num_rows(), (*reader)->num_rows()) << rel;
        EXPECT_TRUE(batch->Validate().ok()) << rel << ": " << batch->Validate().ToString();
      }
    }
    if (name.ends_with(".encrypted")) {
      EXPECT_EQ(st.code(), StatusCode::kNotSupported) << rel << ": " << st.ToString();
      EXPECT_NE(st.message().find("Parquet modular encryption"), std::string::npos) << st.message();
      refused.push_back(rel + " (encryption)");
    } else if (Refused().count(name)) {
      EXPECT_FALSE(st.ok()) << rel << " was expected to be refused";
      EXPECT_NE(st.message().find(Refused().at(name)), std::string::npos) << st.ToString();
      refused.push_back(rel + " (" + st.ToString() + ")");
    } else {
      EXPECT_TRUE(st.ok()) << rel << ": " << st.ToString();
      read.push_back(rel);
    }
  }
  std::printf("read %zu files; refused %zu:\n", read.size(), refused.size());
  for (const auto& r : refused) std::printf("  refused: %s\n", r.c_str());
}

// Every row group of every readable file read in slices of 7 rows and of 1000 holds the
// rows it holds read whole (flat row groups decode page by page; others are read whole
// and cut).
TEST(ParquetTestingConformance, SlicedRowGroupsHoldTheRowsOfWholeOnes) {
  std::string dir = DataDir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata/parquet-testing/data is missing";
  int compared = 0;
  for (const auto& rel : ListParquetFiles(dir)) {
    auto reader = FileReader::Open(FileSystem::Default(), dir + "/" + rel);
    if (!reader.ok()) continue;
    const FileReader& f = **reader;
    for (int g = 0; g < f.num_row_groups(); ++g) {
      auto whole = f.ReadRowGroup(g, {});
      if (!whole.ok()) break;  // refused files are the test above's
      for (int64_t slice_rows : {int64_t{7}, int64_t{1000}}) {
        auto slices = f.SliceRowGroup(g, {}, slice_rows);
        ASSERT_TRUE(slices.ok()) << rel << ": " << slices.status().ToString();
        int64_t row = 0;
        RecordBatch b;
        while (true) {
          auto more = (*slices)->Next(&b);
          ASSERT_TRUE(more.ok()) << rel << ", row group " << g << ": " << more.status().ToString();
          if (!*more) break;
          ASSERT_LE(b.num_rows(), slice_rows);
          for (int64_t i = 0; i < b.num_rows(); ++i, ++row) {
            ASSERT_EQ(b.Row(i), whole->Row(row)) << rel << ", row group " << g << ", row " << row;
          }
        }
        ASSERT_EQ(row, whole->num_rows()) << rel << ", row group " << g;
      }
      ++compared;
    }
  }
  EXPECT_GT(compared, 50);
  std::printf("compared %d row groups\n", compared);
}

TEST(ParquetTestingConformance, ExpectCsvTwinsMatchValueByValue) {
  std::string dir = DataDir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata/parquet-testing/data is missing";
  int compared = 0;
  for (const auto& e : fsys::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (!name.ends_with("_expect.csv")) continue;
    std::string parquet = dir + "/" + name.substr(0, name.size() - 11) + ".parquet";
    SCOPED_TRACE(parquet);
    auto csv_text = FileSystem::Default()->ReadFile(e.path().string());
    ASSERT_TRUE(csv_text.ok());
    auto rows = ReadCsv(*csv_text);
    ASSERT_GE(rows.size(), 1u);
    auto reader = FileReader::Open(FileSystem::Default(), parquet);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    auto batch = (*reader)->ReadAll();
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    ASSERT_EQ(batch->num_rows(), static_cast<int64_t>(rows.size()) - 1);
    ASSERT_EQ(batch->num_columns(), rows[0].size());
    for (int64_t r = 0; r < batch->num_rows(); ++r) {
      const auto& expect = rows[static_cast<size_t>(r) + 1];
      ASSERT_EQ(expect.size(), batch->num_columns()) << "csv row " << r;
      for (size_t c = 0; c < batch->num_columns(); ++c) {
        Value v = batch->column(c).GetValue(r);
        if (!expect[c]) {
          EXPECT_TRUE(v.is_null()) << "row " << r << " column " << c << ": " << v.ToString();
        } else {
          ASSERT_FALSE(v.is_null()) << "row " << r << " column " << c << " expected " << *expect[c];
          EXPECT_EQ(CsvRendering(v), *expect[c]) << "row " << r << " column " << c;
        }
      }
    }
    ++compared;
  }
  EXPECT_GE(compared, 4);
}

TEST(ParquetTestingConformance, ValuesMatchDuckDB) {
  std::string dir = DataDir();
  if (dir.empty()) GTEST_SKIP() << "../shared/testdata/parquet-testing/data is missing";
  if (!lakepipe::testing::RunDuckDB("SELECT 1 AS x").ok()) GTEST_SKIP() << "DuckDB (npm) is not installed";
  int compared = 0;
  for (const auto& rel : ListParquetFiles(dir)) {
    std::string name = fsys::path(rel).filename().string();
    if (name.ends_with(".encrypted") || Refused().count(name) || DuckDbCannotRead().count(name)) continue;
    if (fsys::exists(dir + "/" + name.substr(0, name.size() - 8) + "_expect.csv")) continue;
    SCOPED_TRACE(rel);
    std::string path = dir + "/" + rel;
    auto reader = FileReader::Open(FileSystem::Default(), path);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    auto batch = (*reader)->ReadAll();
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    // DuckDB overflows INT96 beyond the nanosecond range (year 290000, row 5); our value
    // is checked against arrow-rs in ParquetTestingDocumented.Int96FromSpark.
    CompareWithDuckDB(path, *batch, name == "int96_from_spark.parquet" ? 5 : -1);
    ++compared;
  }
  EXPECT_GE(compared, 50);
}

TEST(DuckDBWrittenFiles, ReadBackEqualsDuckDB) {
  if (!lakepipe::testing::RunDuckDB("SELECT 1 AS x").ok()) GTEST_SKIP() << "DuckDB (npm) is not installed";
  lakepipe::testing::TempDir dir;
  // Every type DuckDB maps to a lakepipe type, nulls, nesting, several row groups; data page
  // v1 and v2 (v2 brings DELTA_BINARY_PACKED / DELTA_LENGTH_BYTE_ARRAY), all of its codecs.
  const std::string select =
      "SELECT i AS id, i % 7 = 0 AS flag, (i % 100)::TINYINT AS tiny, (i * 3)::SMALLINT AS small, "
      "CASE WHEN i % 5 = 0 THEN NULL ELSE i * 1000003 END AS big, i / 3.0 AS dbl, (i / 7.0)::FLOAT AS flt, "
      "(i * 1.25)::DECIMAL(12,2) AS dec, (i * -1.5)::DECIMAL(30,3) AS bigdec, ((i % 900) * 1.1)::DECIMAL(4,1) AS smalldec, "
      "CASE WHEN i % 3 = 0 THEN NULL ELSE 'str' || (i % 13) END AS s, repeat('x', i % 50) || i AS unique_s, "
      "DATE '2020-01-01' + i::INTEGER AS d, TIMESTAMP '1969-12-31 23:59:00' + INTERVAL (i) SECOND AS ts, "
      "TIMESTAMPTZ '2020-01-01 00:00:00+00' + INTERVAL (i * 1001) MILLISECOND AS tstz, "
      "[i, i + 1, NULL] AS l, {'a': i, 'b': 'x' || i, 'c': CASE WHEN i % 2 = 0 THEN NULL ELSE {'z': i} END} AS st, "
      "MAP {'k' || (i % 3): i} AS m, CASE WHEN i % 4 = 0 THEN NULL ELSE [[i], [], NULL] END AS ll, "
      "i::UBIGINT * 1000000000000 AS ub, i::UINTEGER AS ui, (i % 200)::UTINYINT AS ut, "
      "('\\x' || lpad(printf('%x', i % 256), 2, '0'))::BLOB AS bl, uuid() AS u "
      "FROM range(3000) t(i)";
  const std::vector<std::string> kOptions = {
      "PARQUET_VERSION V1, COMPRESSION ZSTD", "PARQUET_VERSION V2, COMPRESSION ZSTD",
      "PARQUET_VERSION V2, COMPRESSION SNAPPY", "PARQUET_VERSION V1, COMPRESSION GZIP",
      "PARQUET_VERSION V1, COMPRESSION BROTLI", "PARQUET_VERSION V2, COMPRESSION LZ4_RAW",
      "PARQUET_VERSION V1, COMPRESSION UNCOMPRESSED"};
  for (size_t k = 0; k < kOptions.size(); ++k) {
    SCOPED_TRACE(kOptions[k]);
    std::string path = dir.Join("duck" + std::to_string(k) + ".parquet");
    auto wrote = lakepipe::testing::RunDuckDB("COPY (" + select + ") TO '" + path + "' (FORMAT PARQUET, " +
                                              kOptions[k] + ", ROW_GROUP_SIZE 1024)");
    ASSERT_TRUE(wrote.ok()) << wrote.status().ToString();
    auto reader = FileReader::Open(FileSystem::Default(), path);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    EXPECT_GE((*reader)->num_row_groups(), 2);
    auto batch = (*reader)->ReadAll();
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    ASSERT_EQ(batch->num_rows(), 3000);
    CompareWithDuckDB(path, *batch, -1);
  }
}

// ---- facts documented for specific files ------------------------------------------------

Result<RecordBatch> ReadFile(const std::string& name, const ReadOptions& options = {}) {
  LP_ASSIGN_OR_RETURN(auto reader, FileReader::Open(FileSystem::Default(), DataDir() + "/" + name));
  return reader->ReadAll(options);
}

TEST(ParquetTestingDocumented, AlltypesPlain) {
  if (DataDir().empty()) GTEST_SKIP() << "parquet-testing data is missing";
  // apache/arrow's reader tests: 8 rows, ids 4,5,6,7,2,3,0,1, bool_col alternating.
  auto b = ReadFile("alltypes_plain.parquet");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->num_rows(), 8);
  const Column* id = b->ColumnByName("id");
  ASSERT_NE(id, nullptr);
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < 8; ++i) ids.push_back(id->Get<int32_t>(i));
  EXPECT_EQ(ids, (std::vector<int32_t>{4, 5, 6, 7, 2, 3, 0, 1}));
  const Column* flag = b->ColumnByName("bool_col");
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(flag->Get<uint8_t>(i), i % 2 == 0 ? 1 : 0);
  // The snappy twin holds the two rows with ids 6 and 7.
  auto s = ReadFile("alltypes_plain.snappy.parquet");
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->num_rows(), 2);
  EXPECT_EQ(s->ColumnByName("id")->Get<int32_t>(0), 6);
  EXPECT_EQ(s->ColumnByName("id")->Get<int32_t>(1), 7);
}

TEST(ParquetTestingDocumented, ProjectionReadsOnlyTheColumnsAsked) {
  if (DataDir().empty()) GTEST_SKIP() << "parquet-testing data is missing";
  ReadOptions o;
  o.columns = {"STRING_COL", "id"};  // case-insensitive, in the order given
  auto b = ReadFile("alltypes_plain.parquet", o);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->num_columns(), 2u);
  EXPECT_EQ(b->schema().field(0).name, "string_col");
  EXPECT_EQ(b->schema().field(1).name, "id");
  EXPECT_EQ(b->column(0).GetString(1), "1");
  o.columns = {"nope"};
  EXPECT_EQ(ReadFile("alltypes_plain.parquet", o).status().code(), StatusCode::kNotFound);
}

TEST(ParquetTestingDocumented, NullsSnappy) {
  if (DataDir().empty()) GTEST_SKIP() << "parquet-testing data is missing";
  // 8 rows of a struct b_struct whose only field b_c_int is null everywhere.
  auto b = ReadFile("nulls.snappy.parquet");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->num_rows(), 8);
  const Column& s = b->column(0);
  ASSERT_EQ(s.type().id(), TypeId::kStruct);
  for (int64_t i = 0; i < 8; ++i) EXPECT_TRUE(s.child(0).IsNull(i));
}

TEST(ParquetTestingDocumented, NestedLists) {
  if (DataDir().empty()) GTEST_SKIP() << "parquet-testing data is missing";
  // a: list<list<list<string>>>, b: int32 (all 1), 3 rows (arrow's nested_lists test).
  auto b = ReadFile("nested_lists.snappy.parquet");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->num_rows(), 3);
  EXPECT_EQ(b->schema().field(0).type.ToString(), "array<array<array<string>>>");
  EXPECT_EQ(b->column(0).GetValue(0).ToString(), "[[[a, b], [c]], [NULL, [d]]]");
  EXPECT_EQ(b->column(0).GetValue(2).ToString(), "[[[a, b], [c, d], [e]], [NULL, [f]]]");
  for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(b->column(1).Get<int32_t>(i), 1);
}

TEST(ParquetTestingDocumented, Int96FromSpark) {
  if (DataDir().empty()) GTEST_SKIP() << "parquet-testing data is missing";
  // Spark-written INT96 timestamps, one past the nanosecond range (year 290000).
  auto b = ReadFile("int96_from_spark.parquet");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->num_rows(), 6);
  ASSERT_EQ(b->schema().field(0).type.id(), TypeId::kTimestamp);
  const Column& c = b->column(0);
  EXPECT_EQ(FormatTimestamp(c.Get<int64_t>(0)), "2024-01-01 20:34:56.123456");
  EXPECT_EQ(FormatTimestamp(c.Get<int64_t>(1)), "2024-01-01 01:00:00");
  EXPECT_EQ(FormatTimestamp(c.Get<int64_t>(2)), "9999-12-31 03:00:00");
  EXPECT_EQ(FormatTimestamp(c.Get<int64_t>(3)), "2024-12-30 23:00:00");
  EXPECT_TRUE(c.IsNull(4));
  // arrow-rs reads the same file as these microseconds (its int96_from_spark test).
  EXPECT_EQ(c.Get<int64_t>(0), 1704141296123456);
  EXPECT_EQ(c.Get<int64_t>(2), 253402225200000000);
  EXPECT_EQ(c.Get<int64_t>(5), 9089380393200000000);
}

TEST(ParquetTestingDocumented, MapWithoutValues) {
  if (DataDir().empty()) GTEST_SKIP() << "parquet-testing data is missing";
  // map_no_value.parquet (arrow-rs): my_map, my_map_no_v (a map without a value field)
  // and my_list hold the same keys per row; DuckDB cannot read it, so check agreement.
  auto b = ReadFile("map_no_value.parquet");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->num_rows(), 3);
  const Column& with_values = b->column(0);
  const Column& no_values = b->column(1);
  const Column& list = b->column(2);
  EXPECT_EQ(no_values.type().value().id(), TypeId::kNull);
  for (int64_t r = 0; r < 3; ++r) {
    auto a = with_values.GetValue(r).children(), n = no_values.GetValue(r).children();
    auto l = list.GetValue(r).children();
    ASSERT_EQ(a.size(), 2 * l.size());
    ASSERT_EQ(n.size(), 2 * l.size());
    for (size_t i = 0; i < l.size(); ++i) {
      EXPECT_EQ(a[2 * i], l[i]);
      EXPECT_EQ(n[2 * i], l[i]);
      EXPECT_TRUE(n[2 * i + 1].is_null());
    }
  }
  EXPECT_EQ(list.GetValue(0).ToString(), "[1, 2, 3]");
}

TEST(ParquetTestingDocumented, HadoopLz4FilesHoldTheSameDataAsTheirLz4RawTwins) {
  if (DataDir().empty()) GTEST_SKIP() << "parquet-testing data is missing";
  // parquet-testing writes the same table with each LZ4 flavour; DuckDB verifies the
  // LZ4_RAW files (ValuesMatchDuckDB), and cannot read the Hadoop ones.
  const std::vector<std::pair<std::string, std::string>> kTwins = {
      {"hadoop_lz4_compressed.parquet", "lz4_raw_compressed.parquet"},
      {"non_hadoop_lz4_compressed.parquet", "lz4_raw_compressed.parquet"},
      {"hadoop_lz4_compressed_larger.parquet", "lz4_raw_compressed_larger.parquet"},
  };
  for (const auto& [lz4, raw] : kTwins) {
    auto a = ReadFile(lz4);
    auto b = ReadFile(raw);
    ASSERT_TRUE(a.ok()) << lz4 << ": " << a.status().ToString();
    ASSERT_TRUE(b.ok()) << raw << ": " << b.status().ToString();
    ASSERT_EQ(a->num_rows(), b->num_rows()) << lz4;
    // Nullability differs between the twins; compare the values.
    for (int64_t r = 0; r < a->num_rows(); ++r) {
      ASSERT_EQ(a->Row(r), b->Row(r)) << lz4 << " row " << r;
    }
  }
}

TEST(ParquetTestingDocumented, ByteStreamSplitExtendedMatchesPlainTwins) {
  if (DataDir().empty()) GTEST_SKIP() << "parquet-testing data is missing";
  // Each <type>_byte_stream_split column holds the same values as <type>_plain.
  auto b = ReadFile("byte_stream_split_extended.gzip.parquet");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  int pairs = 0;
  for (size_t c = 0; c < b->num_columns(); ++c) {
    const std::string& name = b->schema().field(c).name;
    if (!name.ends_with("_plain")) continue;
    std::string twin = name.substr(0, name.size() - 6) + "_byte_stream_split";
    const Column* other = b->ColumnByName(twin);
    ASSERT_NE(other, nullptr) << twin;
    for (int64_t r = 0; r < b->num_rows(); ++r) {
      Value x = b->column(c).GetValue(r), y = other->GetValue(r);
      bool both_nan = x.id() != TypeId::kNull && (x.id() == TypeId::kFloat || x.id() == TypeId::kDouble) &&
                      std::isnan(x.double_value()) && std::isnan(y.double_value());
      if (!both_nan) {
        ASSERT_EQ(x, y) << name << " row " << r;
      }
    }
    ++pairs;
  }
  EXPECT_GE(pairs, 5);  // float16, float, double, int32, int64, flba, decimal
}

TEST(ParquetTestingDocumented, RowCounts) {
  if (DataDir().empty()) GTEST_SKIP() << "parquet-testing data is missing";
  // Row counts stated in parquet-testing's README and arrow's tests.
  const std::map<std::string, int64_t> kRows = {
      {"overflow_i16_page_cnt.parquet", 40000},   // more than 2^15 pages in one chunk
      {"int32_with_null_pages.parquet", 1000},
      {"datapage_v2_empty_datapage.snappy.parquet", 1},
      {"rle_boolean_encoding.parquet", 68},
      {"single_nan.parquet", 1},
      {"alltypes_tiny_pages.parquet", 7300},
      {"hadoop_lz4_compressed_larger.parquet", 10000},
      {"lz4_raw_compressed_larger.parquet", 10000},
      {"delta_length_byte_array.parquet", 1000},
  };
  for (const auto& [name, rows] : kRows) {
    auto b = ReadFile(name);
    ASSERT_TRUE(b.ok()) << name << ": " << b.status().ToString();
    EXPECT_EQ(b->num_rows(), rows) << name;
  }
}

}  // namespace
}  // namespace lakepipe::parquet
