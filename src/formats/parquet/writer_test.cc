#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <sstream>

#include "formats/parquet/metadata.h"
#include "formats/parquet/parquet.h"
#include "formats/parquet/writer.h"
#include "testing/testing.h"
#include "types/batch.h"
#include "types/column.h"

namespace lakepipe::parquet {
namespace {

using lakepipe::testing::RunDuckDB;
using lakepipe::testing::TempDir;

std::vector<nlohmann::json> Lines(const std::string& out) {
  std::vector<nlohmann::json> rows;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  }
  return rows;
}

// Reads the footer of a file we wrote with our own Thrift decoder.
FileMetaData Footer(const std::string& path) {
  auto data = FileSystem::Default()->ReadFile(path);
  EXPECT_TRUE(data.ok());
  const std::string& d = *data;
  uint32_t len;
  std::memcpy(&len, d.data() + d.size() - 8, 4);
  FileMetaData md;
  Status st = ParseFileMetaData(reinterpret_cast<const uint8_t*>(d.data() + d.size() - 8 - len),
                                len, path, &md);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return md;
}

TEST(ParquetSchema, SparkLayout) {
  auto schema = Schema::ParseDDL(
      "b TINYINT, s SMALLINT NOT NULL, d9 DECIMAL(9,2), d18 DECIMAL(18,3), d38 DECIMAL(38,10), "
      "dt DATE, ts TIMESTAMP, tn TIMESTAMP_NTZ, str STRING, bin BINARY, "
      "arr ARRAY<INT>, m MAP<STRING, BIGINT>, st STRUCT<x: INT, y: STRING>");
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  auto elems = ToParquetSchema(*schema);
  ASSERT_TRUE(elems.ok());
  const auto& e = *elems;
  // Expected layout written out by hand from Spark's ParquetSchemaConverter conventions.
  std::vector<std::string> names;
  for (const auto& x : e) names.push_back(x.name);
  std::vector<std::string> want = {"spark_schema", "b", "s", "d9", "d18", "d38", "dt", "ts", "tn",
                                   "str", "bin", "arr", "list", "element", "m", "key_value",
                                   "key", "value", "st", "x", "y"};
  ASSERT_EQ(names, want);
  EXPECT_EQ(e[0].num_children, 13);
  EXPECT_EQ(e[1].type, PhysicalType::kInt32);
  EXPECT_EQ(e[1].logical_type.kind, LogicalType::Kind::kInteger);
  EXPECT_EQ(e[1].logical_type.bit_width, 8);
  EXPECT_EQ(e[2].repetition_type, Repetition::kRequired);
  EXPECT_EQ(e[2].converted_type, ConvertedType::kInt16);
  EXPECT_EQ(e[3].type, PhysicalType::kInt32);
  EXPECT_EQ(e[4].type, PhysicalType::kInt64);
  EXPECT_EQ(e[5].type, PhysicalType::kFixedLenByteArray);
  EXPECT_EQ(e[5].type_length, 16);
  EXPECT_EQ(e[5].precision, 38);
  EXPECT_EQ(e[5].scale, 10);
  EXPECT_EQ(e[6].logical_type.kind, LogicalType::Kind::kDate);
  EXPECT_EQ(e[7].type, PhysicalType::kInt64);
  EXPECT_TRUE(e[7].logical_type.is_adjusted_to_utc);
  EXPECT_EQ(e[7].logical_type.unit, TimeUnit::kMicros);
  EXPECT_FALSE(e[8].logical_type.is_adjusted_to_utc);
  EXPECT_EQ(e[9].converted_type, ConvertedType::kUtf8);
  EXPECT_EQ(e[10].logical_type.kind, LogicalType::Kind::kNone);
  EXPECT_EQ(e[11].converted_type, ConvertedType::kList);
  EXPECT_EQ(e[12].repetition_type, Repetition::kRepeated);
  EXPECT_EQ(e[13].repetition_type, Repetition::kOptional);
  EXPECT_EQ(e[14].converted_type, ConvertedType::kMap);
  EXPECT_EQ(e[15].num_children, 2);
  EXPECT_EQ(e[16].repetition_type, Repetition::kRequired);
  EXPECT_EQ(e[17].repetition_type, Repetition::kOptional);
  EXPECT_EQ(e[18].num_children, 2);
  EXPECT_FALSE(e[18].type.has_value());
}

TEST(ParquetSchema, DecimalWidths) {
  // Smallest n with 10^p - 1 < 2^(8n-1), checked by hand for a few precisions.
  EXPECT_EQ(DecimalBytesForPrecision(19), 9);
  EXPECT_EQ(DecimalBytesForPrecision(20), 9);
  EXPECT_EQ(DecimalBytesForPrecision(21), 9);
  EXPECT_EQ(DecimalBytesForPrecision(22), 10);
  EXPECT_EQ(DecimalBytesForPrecision(38), 16);
  EXPECT_EQ(DecimalBytesForPrecision(2), 1);
  EXPECT_EQ(DecimalBytesForPrecision(3), 2);
}

TEST(ParquetNames, Compression) {
  EXPECT_EQ(*CompressionFromName("ZSTD"), Compression::kZstd);
  EXPECT_EQ(*CompressionFromName("none"), Compression::kUncompressed);
  EXPECT_EQ(*CompressionFromName("lz4_raw"), Compression::kLz4Raw);
  EXPECT_FALSE(CompressionFromName("lzo").ok());
  for (auto c : {Compression::kZstd, Compression::kSnappy, Compression::kGzip,
                 Compression::kUncompressed, Compression::kBrotli, Compression::kLz4,
                 Compression::kLz4Raw}) {
    EXPECT_EQ(*CompressionFromName(CompressionName(c)), c);
  }
}

RecordBatch FlatBatch(int64_t n) {
  auto schema = *Schema::ParseDDL("id BIGINT NOT NULL, name STRING, price DOUBLE, qty INT, "
                                  "flag BOOLEAN, day DATE");
  Column id(DataType::Long()), name(DataType::String()), price(DataType::Double()),
      qty(DataType::Int()), flag(DataType::Boolean()), day(DataType::Date());
  for (int64_t i = 0; i < n; ++i) {
    id.Append<int64_t>(i * 1000003 - 7);
    if (i % 7 == 3) name.AppendNull(); else name.AppendString("cust-" + std::to_string(i % 50));
    if (i % 11 == 5) price.AppendNull(); else price.Append<double>(i * 0.25 - 100);
    qty.Append<int32_t>(static_cast<int32_t>(i % 13) - 6);
    if (i % 5 == 0) flag.AppendNull(); else flag.AppendBool(i % 3 == 0);
    day.Append<int32_t>(static_cast<int32_t>(18000 + i % 400));
  }
  return RecordBatch::FromColumns(schema, {id, name, price, qty, flag, day});
}

TEST(ParquetWriter, FlatColumnsReadByDuckDB) {
  TempDir dir;
  std::string path = dir.Join("flat.parquet");
  RecordBatch batch = FlatBatch(10000);
  WriteOptions opts;
  opts.key_value_metadata = {{"origin", "writer_test"}};
  auto w = FileWriter::Open(FileSystem::Default(), path, batch.schema(), opts);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->Write(batch.Slice(0, 4000)).ok());
  ASSERT_TRUE((*w)->Write(batch.Slice(4000, 6000)).ok());
  auto res = (*w)->Close();
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->num_rows, 10000);
  EXPECT_EQ(res->file_bytes, FileSystem::Default()->Stat(path)->size);

  auto out = RunDuckDB("SELECT count(*)::INT AS n, sum(id)::VARCHAR AS sid, count(name)::INT AS cn, "
                       "sum(price) AS sp, sum(qty)::INT AS sq, count(flag)::INT AS cf, "
                       "sum(flag::INT)::INT AS tf, min(day)::VARCHAR AS md, "
                       "count(DISTINCT name)::INT AS dn FROM read_parquet('" + path + "')");
  if (!out.ok() && out.status().IsNotFound()) GTEST_SKIP() << out.status().ToString();
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto rows = Lines(*out);
  ASSERT_EQ(rows.size(), 1u);
  // Expected values computed independently from the generator's formulas.
  int64_t sid = 0, cn = 0, sq = 0, cf = 0, tf = 0;
  double sp = 0;
  for (int64_t i = 0; i < 10000; ++i) {
    sid += i * 1000003 - 7;
    cn += i % 7 != 3;
    if (i % 11 != 5) sp += i * 0.25 - 100;
    sq += i % 13 - 6;
    if (i % 5 != 0) { ++cf; tf += i % 3 == 0; }
  }
  EXPECT_EQ(rows[0]["n"], 10000);
  EXPECT_EQ(rows[0]["sid"], std::to_string(sid));
  EXPECT_EQ(rows[0]["cn"], cn);
  EXPECT_DOUBLE_EQ(rows[0]["sp"].get<double>(), sp);
  EXPECT_EQ(rows[0]["sq"], sq);
  EXPECT_EQ(rows[0]["cf"], cf);
  EXPECT_EQ(rows[0]["tf"], tf);
  EXPECT_EQ(rows[0]["md"], "2019-04-14");  // day 18000
  EXPECT_EQ(rows[0]["dn"], 50);

  // Key-value metadata and statistics as DuckDB sees them.
  out = RunDuckDB("SELECT value::VARCHAR AS v FROM parquet_kv_metadata('" + path +
                  "') WHERE key::VARCHAR = 'origin'");
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(Lines(*out).size(), 1u);
  EXPECT_EQ(Lines(*out)[0]["v"], "writer_test");
  out = RunDuckDB("SELECT path_in_schema AS p, stats_min_value AS lo, stats_max_value AS hi, "
                  "stats_null_count::INT AS nc, encodings AS enc FROM parquet_metadata('" + path +
                  "') ORDER BY column_id");
  ASSERT_TRUE(out.ok());
  rows = Lines(*out);
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0]["lo"], "-7");
  EXPECT_EQ(rows[0]["hi"], std::to_string(9999LL * 1000003 - 7));
  EXPECT_EQ(rows[1]["lo"], "cust-0");
  EXPECT_EQ(rows[1]["hi"], "cust-9");
  EXPECT_EQ(rows[1]["nc"], 10000 / 7 + (10000 % 7 > 3 ? 1 : 0));
  EXPECT_NE(rows[1]["enc"].get<std::string>().find("RLE_DICTIONARY"), std::string::npos);
  EXPECT_EQ(rows[3]["lo"], "-6");
  EXPECT_EQ(rows[3]["hi"], "6");
  EXPECT_EQ(rows[4]["lo"], "false");
  EXPECT_EQ(rows[4]["hi"], "true");

  // WriteResult statistics.
  ASSERT_EQ(res->columns.size(), 6u);
  EXPECT_EQ(res->columns[0].path, std::vector<std::string>{"id"});
  EXPECT_TRUE(res->columns[0].has_min_max);
  EXPECT_EQ(res->columns[0].min.int_value(), -7);
  EXPECT_EQ(res->columns[1].max.string_value(), "cust-9");
  EXPECT_EQ(res->columns[1].null_count, rows[1]["nc"].get<int64_t>());
  EXPECT_EQ(res->columns[2].min.double_value(), -100);
  EXPECT_EQ(res->columns[5].min, Value::Date(18000));
  EXPECT_EQ(res->columns[5].max, Value::Date(18399));

  // The footer as our own decoder reads it.
  FileMetaData md = Footer(path);
  EXPECT_EQ(md.num_rows, 10000);
  EXPECT_EQ(md.created_by, "lakepipe version 0.1.0");
  EXPECT_EQ(md.column_orders.size(), 6u);
}

// A source made of many small row groups (a file patched batch after batch) is not
// copied: AppendPatched refuses it before writing anything, so that the caller writes its
// rows anew into full row groups; a source with few row groups is copied.
TEST(ParquetWriter, AppendPatchedRefusesManySmallRowGroups) {
  TempDir dir;
  const int64_t n = 10000;
  RecordBatch batch = FlatBatch(n);
  auto write = [&](const std::string& path, int64_t slice) {
    WriteOptions small;
    small.row_group_bytes = 10000;  // a row group per 1000-row write
    auto w = FileWriter::Open(FileSystem::Default(), path, batch.schema(), small);
    ASSERT_TRUE(w.ok());
    for (int64_t at = 0; at < n; at += slice) ASSERT_TRUE((*w)->Write(batch.Slice(at, slice)).ok());
    ASSERT_TRUE((*w)->Close().ok());
  };
  std::string many = dir.Join("many.parquet"), few = dir.Join("few.parquet");
  write(many, 1000);
  write(few, n);
  ASSERT_GE(Footer(many).row_groups.size(), 8u);
  ASSERT_LT(Footer(few).row_groups.size(), 8u);
  Column qty(DataType::Int());
  for (int64_t i = 0; i < n; ++i) qty.Append<int32_t>(static_cast<int32_t>(i));
  RecordBatch patch = RecordBatch::FromColumns(*Schema::ParseDDL("qty INT"), {qty});
  WriteOptions merging;
  merging.row_group_bytes = 8 * 1000 * 1000;  // the many row groups are small next to it
  std::string path = dir.Join("patched.parquet");
  auto w = FileWriter::Open(FileSystem::Default(), path, batch.schema(), merging);
  ASSERT_TRUE(w.ok());
  Status st = (*w)->AppendPatched(FileSystem::Default(), many, patch);
  EXPECT_EQ(st.code(), StatusCode::kNotSupported) << st.ToString();
  EXPECT_NE(st.message().find("small row groups"), std::string::npos) << st.ToString();
  st = (*w)->AppendPatched(FileSystem::Default(), few, patch);
  EXPECT_TRUE(st.ok()) << st.ToString();
  auto res = (*w)->Close();
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->num_rows, n);  // only `few`: nothing of the refused source
  EXPECT_EQ(Footer(path).row_groups.size(), Footer(few).row_groups.size());
}

// Copy-on-write by column: a file made of another file's row groups, with two columns
// re-encoded and the other chunks copied byte for byte, reads back as the source's rows
// with the new columns (our reader and DuckDB), and its statistics are those of writing
// the same rows from scratch.
TEST(ParquetWriter, AppendPatchedCopiesUnchangedColumnChunks) {
  TempDir dir;
  const int64_t n = 10000;
  RecordBatch batch = FlatBatch(n);
  WriteOptions small;
  small.row_group_bytes = 30000;  // several row groups
  std::string source = dir.Join("source.parquet");
  {
    auto w = FileWriter::Open(FileSystem::Default(), source, batch.schema(), small);
    ASSERT_TRUE(w.ok());
    for (int64_t at = 0; at < n; at += 1000) ASSERT_TRUE((*w)->Write(batch.Slice(at, 1000)).ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  ASSERT_GT(Footer(source).row_groups.size(), 2u);
  // New qty for every row, new names for a few (one NULL turned into a value).
  Column qty(DataType::Int()), name(DataType::String());
  for (int64_t i = 0; i < n; ++i) {
    qty.Append<int32_t>(static_cast<int32_t>(i % 13) * 100);
    if (i == 3) name.AppendString("aaa-first");
    else if (i == 4000) name.AppendString("zzz-last");
    else if (i % 7 == 3) name.AppendNull();
    else name.AppendString("cust-" + std::to_string(i % 50));
  }
  RecordBatch patch = RecordBatch::FromColumns(*Schema::ParseDDL("qty INT, name STRING"), {qty, name});
  // Expected: the head rows, then the source's rows with the two columns replaced.
  std::vector<ColumnPtr> cols = batch.columns();
  cols[1] = patch.column_ptr(1);
  cols[3] = patch.column_ptr(0);
  RecordBatch patched(batch.schema(), cols, n);
  RecordBatch head = batch.Slice(0, 100);
  RecordBatch expected = RecordBatch::Concat(batch.schema(), {head, patched});

  std::string path = dir.Join("patched.parquet");
  WriteOptions copy_all;
  copy_all.merge_row_groups = 0;  // copy the small row groups too
  auto w = FileWriter::Open(FileSystem::Default(), path, batch.schema(), copy_all);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write(head).ok());
  Status st = (*w)->AppendPatched(FileSystem::Default(), source, patch);
  ASSERT_TRUE(st.ok()) << st.ToString();
  // A source with another schema is refused and nothing of it is written.
  std::string other = dir.Join("other.parquet");
  {
    auto schema = *Schema::ParseDDL("id BIGINT NOT NULL, extra STRING");
    Column a(DataType::Long()), b(DataType::String());
    a.Append<int64_t>(1);
    b.AppendString("x");
    auto o = FileWriter::Open(FileSystem::Default(), other, schema, {});
    ASSERT_TRUE((*o)->Write(RecordBatch::FromColumns(schema, {a, b})).ok());
    ASSERT_TRUE((*o)->Close().ok());
  }
  Column one(DataType::Int());
  one.Append<int32_t>(1);
  st = (*w)->AppendPatched(FileSystem::Default(), other, RecordBatch::FromColumns(*Schema::ParseDDL("qty INT"), {one}));
  EXPECT_EQ(st.code(), StatusCode::kNotSupported) << st.ToString();
  auto res = (*w)->Close();
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->num_rows, n + 100);
  FileMetaData src_md = Footer(source);
  int64_t unchanged = 0;
  for (const auto& rg : src_md.row_groups) {
    for (size_t c : {0, 2, 4, 5}) unchanged += rg.columns[c].meta_data->total_compressed_size;
  }
  EXPECT_EQ(res->copied_bytes, unchanged);

  auto reader = FileReader::Open(FileSystem::Default(), path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto all = (*reader)->ReadAll();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->num_rows(), expected.num_rows());
  for (int64_t r = 0; r < expected.num_rows(); ++r) {
    ASSERT_EQ(all->Row(r), expected.Row(r)) << "row " << r;
  }
  // Statistics as if the rows had been written from scratch.
  std::string fresh = dir.Join("fresh.parquet");
  auto f = FileWriter::Open(FileSystem::Default(), fresh, batch.schema(), {});
  ASSERT_TRUE((*f)->Write(expected).ok());
  auto want = (*f)->Close();
  ASSERT_TRUE(want.ok());
  ASSERT_EQ(res->columns.size(), want->columns.size());
  for (size_t c = 0; c < want->columns.size(); ++c) {
    EXPECT_EQ(res->columns[c].null_count, want->columns[c].null_count) << c;
    EXPECT_EQ(res->columns[c].has_min_max, want->columns[c].has_min_max) << c;
    EXPECT_EQ(res->columns[c].min, want->columns[c].min) << c;
    EXPECT_EQ(res->columns[c].max, want->columns[c].max) << c;
  }
  EXPECT_EQ(res->columns[1].min.string_value(), "aaa-first");

  auto out = RunDuckDB("SELECT count(*)::INT AS n, sum(qty)::VARCHAR AS sq, sum(id)::VARCHAR AS sid, "
                       "max(name) AS mx, count(name)::INT AS cn FROM read_parquet('" + path + "')");
  if (!out.ok() && out.status().IsNotFound()) GTEST_SKIP() << out.status().ToString();
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto rows = Lines(*out);
  ASSERT_EQ(rows.size(), 1u);
  int64_t sq = 0, cn = 0;
  __int128 sid = 0;
  for (int64_t i = 0; i < 100; ++i) sq += i % 13 - 6, cn += i % 7 != 3, sid += i * 1000003 - 7;
  for (int64_t i = 0; i < n; ++i) sq += (i % 13) * 100, cn += (i % 7 != 3 || i == 3 || i == 4000), sid += i * 1000003 - 7;
  EXPECT_EQ(rows[0]["n"], n + 100);
  EXPECT_EQ(rows[0]["sq"], std::to_string(sq));
  EXPECT_EQ(rows[0]["sid"], std::to_string(static_cast<int64_t>(sid)));
  EXPECT_EQ(rows[0]["mx"], "zzz-last");
  EXPECT_EQ(rows[0]["cn"], cn);
}

// Issue 19 item 3, last line of defence: invalid UTF-8 that reaches a STRING column is
// written with U+FFFD (one per bad byte) and counted, so DuckDB still reads the file.
// BINARY keeps its bytes.
TEST(ParquetWriter, InvalidUtf8InStringColumnsIsReplacedAndCounted) {
  TempDir dir;
  Schema schema({Field{"s", DataType::String()}, Field{"b", DataType::Binary()}});
  std::vector<Column> cols{Column(DataType::String()), Column(DataType::Binary())};
  for (int i = 0; i < 3000; ++i) {
    cols[0].AppendString(i % 1000 == 7 ? std::string("caf\xe9") : "v" + std::to_string(i % 10));
    cols[1].AppendString("\xff");
  }
  RecordBatch batch = RecordBatch::FromColumns(schema, std::move(cols));
  for (bool dictionary : {true, false}) {
    std::string path = dir.Join(dictionary ? "dict.parquet" : "plain.parquet");
    WriteOptions opts;
    opts.dictionary = dictionary;
    auto w = FileWriter::Open(FileSystem::Default(), path, schema, opts);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->Write(batch).ok());
    auto res = (*w)->Close();
    ASSERT_TRUE(res.ok()) << res.status().ToString();
    EXPECT_EQ(res->invalid_utf8_values, 3);
    ASSERT_TRUE(res->columns[0].has_min_max);
    EXPECT_EQ(res->columns[0].min.ToString(), "caf\xEF\xBF\xBD");

    auto out = RunDuckDB("SELECT count(*)::INT AS n, count(*) FILTER (WHERE s = 'caf\xEF\xBF\xBD')::INT AS bad, "
                         "count(*) FILTER (WHERE b = '\\xFF'::BLOB)::INT AS ff FROM read_parquet('" + path + "')");
    if (!out.ok() && out.status().IsNotFound()) GTEST_SKIP() << out.status().ToString();
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    auto rows = Lines(*out);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0]["n"], 3000);
    EXPECT_EQ(rows[0]["bad"], 3);
    EXPECT_EQ(rows[0]["ff"], 3000);
  }
}

// The writer checks a string column's UTF-8 once per Write over the rows' bytes, not per
// value. Values that are valid only when joined (a character split between two values)
// must still each be repaired and counted, as the per-value check did.
TEST(ParquetWriter, Utf8SplitAcrossTwoValuesIsStillRepaired) {
  TempDir dir;
  Schema schema({Field{"s", DataType::String()}});
  Column c(DataType::String());
  for (int i = 0; i < 100; ++i) c.AppendString(i == 40 ? "a\xc3" : i == 41 ? "\xa9z" : "ok\xc3\xa9");
  RecordBatch batch = RecordBatch::FromColumns(schema, {c});
  std::string path = dir.Join("split.parquet");
  auto w = FileWriter::Open(FileSystem::Default(), path, schema, WriteOptions());
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->Write(batch).ok());
  auto res = (*w)->Close();
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->invalid_utf8_values, 2);
  auto reader = FileReader::Open(FileSystem::Default(), path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto back = (*reader)->ReadAll();
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->column(0).GetString(40), "a\xEF\xBF\xBD");
  EXPECT_EQ(back->column(0).GetString(41), "\xEF\xBF\xBDz");
  EXPECT_EQ(back->column(0).GetString(42), "ok\xc3\xa9");
}

uint64_t ConstantHash(const char*, size_t) { return 0x1234; }
// Same slot bits for all (the top bits), different low bits: tags differ, probes collide.
uint64_t SameSlotHash(const char* p, size_t n) { return n == 0 ? 0 : static_cast<uint8_t>(p[n - 1]); }

// The dictionary encoder compares bytes only where hashes match: with a hash under which
// every value collides, and one where every value lands in the same slot with different
// tags, the file must be byte for byte the one written with the real hash (the dictionary
// is in order of first appearance), through several growths of the hash table.
TEST(ParquetWriter, DictionaryWithHashCollisionsWritesTheSameFile) {
  TempDir dir;
  Schema schema({Field{"s", DataType::String()}});
  Column c(DataType::String());
  for (int i = 0; i < 20000; ++i) {
    int k = (i * 7919) % 3001;
    // Prefixes of each other, an empty value, runs of equal values.
    std::string v = k == 0 ? "" : "key-" + std::string(static_cast<size_t>(k % 13), 'x') + std::to_string(k);
    c.AppendString(v);
    if (i % 5 == 0) c.AppendString(v);
    if (i % 97 == 0) c.AppendNull();
  }
  RecordBatch batch = RecordBatch::FromColumns(schema, {c});
  auto write = [&](const std::string& name) -> std::string {
    std::string path = dir.Join(name);
    auto w = FileWriter::Open(FileSystem::Default(), path, schema, WriteOptions());
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_TRUE((*w)->Write(batch).ok());
    auto res = (*w)->Close();
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    auto bytes = FileSystem::Default()->ReadFile(path);
    EXPECT_TRUE(bytes.ok());
    return bytes.ok() ? *bytes : std::string();
  };
  std::string normal = write("normal.parquet");
  g_dictionary_hash_for_testing = ConstantHash;
  std::string constant = write("constant.parquet");
  g_dictionary_hash_for_testing = SameSlotHash;
  std::string same_slot = write("same_slot.parquet");
  g_dictionary_hash_for_testing = nullptr;
  ASSERT_FALSE(normal.empty());
  EXPECT_EQ(constant, normal);
  EXPECT_EQ(same_slot, normal);

  // And the file holds the values, through a dictionary of the 3001 distinct ones.
  FileMetaData md = Footer(dir.Join("constant.parquet"));
  ASSERT_EQ(md.row_groups.size(), 1u);
  const ColumnMetaData& cm = *md.row_groups[0].columns[0].meta_data;
  ASSERT_TRUE(cm.dictionary_page_offset.has_value());
  PageHeader h;
  size_t used = 0;
  ASSERT_TRUE(ParsePageHeader(reinterpret_cast<const uint8_t*>(constant.data() + *cm.dictionary_page_offset),
                              constant.size() - static_cast<size_t>(*cm.dictionary_page_offset),
                              "constant.parquet", &h, &used)
                  .ok());
  ASSERT_TRUE(h.dictionary_page_header.has_value());
  EXPECT_EQ(h.dictionary_page_header->num_values, 3001);
  auto reader = FileReader::OpenBuffer(constant, "constant.parquet");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto back = (*reader)->ReadAll();
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->num_rows(), c.size());
  for (int64_t i = 0; i < c.size(); ++i) {
    ASSERT_EQ(back->column(0).IsNull(i), c.IsNull(i)) << i;
    ASSERT_EQ(back->column(0).GetString(i), c.GetString(i)) << i;
  }
}

// Dictionary-encoded columns buffer few bytes per row: the row limit, not the byte limit,
// closes such row groups, at exactly row_group_rows rows whatever the Write sizes.
TEST(ParquetWriter, RowGroupsCloseAtTheRowLimit) {
  testing::TempDir dir;
  std::string path = dir.Join("rows.parquet");
  auto schema = *Schema::ParseDDL("k STRING, v BIGINT");
  WriteOptions opts;
  opts.row_group_rows = 1000;  // row_group_bytes (128 MB) is never reached here
  auto w = FileWriter::Open(FileSystem::Default(), path, schema, opts);
  ASSERT_TRUE(w.ok());
  int64_t next = 0;
  for (int64_t size : {700, 2500, 1, 799, 3000}) {
    Column k(DataType::String()), v(DataType::Long());
    for (int64_t i = 0; i < size; ++i, ++next) {
      k.AppendString(next % 2 ? "a" : "b");
      v.Append<int64_t>(next);
    }
    ASSERT_TRUE((*w)->Write(RecordBatch::FromColumns(schema, {k, v})).ok());
  }
  auto res = (*w)->Close();
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  FileMetaData md = Footer(path);
  std::vector<int64_t> rows;
  for (const auto& rg : md.row_groups) rows.push_back(rg.num_rows);
  EXPECT_EQ(rows, (std::vector<int64_t>{1000, 1000, 1000, 1000, 1000, 1000, 1000}));
  auto r = FileReader::Open(FileSystem::Default(), path);
  ASSERT_TRUE(r.ok());
  auto all = (*r)->ReadAll();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->num_rows(), 7000);
  for (int64_t i = 0; i < 7000; ++i) ASSERT_EQ(all->column(1).Get<int64_t>(i), i);
}

TEST(ParquetWriter, RowGroupsPagesAndDictionaryFallback) {
  TempDir dir;
  std::string path = dir.Join("rg.parquet");
  auto schema = *Schema::ParseDDL("k STRING, v BIGINT");
  Column k(DataType::String()), v(DataType::Long());
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    k.AppendString("unique-key-" + std::to_string(i));  // defeats the dictionary
    v.Append<int64_t>(i % 3);                            // dictionary-friendly
  }
  RecordBatch batch = RecordBatch::FromColumns(schema, {k, v});
  WriteOptions opts;
  opts.compression = Compression::kSnappy;
  opts.row_group_bytes = 1 << 20;
  opts.page_bytes = 64 << 10;
  opts.dictionary_page_bytes = 32 << 10;
  auto w = FileWriter::Open(FileSystem::Default(), path, schema, opts);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write(batch).ok());
  EXPECT_GT((*w)->EstimatedSize(), 1 << 20);
  auto res = (*w)->Close();
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  FileMetaData md = Footer(path);
  EXPECT_GT(md.row_groups.size(), 1u);
  int64_t rows = 0;
  for (const auto& rg : md.row_groups) rows += rg.num_rows;
  EXPECT_EQ(rows, n);
  const ColumnMetaData& kc = *md.row_groups[0].columns[0].meta_data;
  EXPECT_EQ(kc.codec, CompressionCodec::kSnappy);
  // Dictionary pages first, then PLAIN after the fallback.
  bool has_dict = false, has_plain = false;
  for (const auto& s : kc.encoding_stats) {
    if (s.page_type == PageType::kDataPage && s.encoding == Encoding::kRleDictionary) has_dict = true;
    if (s.page_type == PageType::kDataPage && s.encoding == Encoding::kPlain) has_plain = true;
  }
  EXPECT_TRUE(has_dict);
  EXPECT_TRUE(has_plain);
  EXPECT_TRUE(kc.dictionary_page_offset.has_value());

  // Walk the pages of that chunk with our page-header decoder: a dictionary page first,
  // then data pages sized by page_bytes (plus at most one 1024-value step) whose values
  // add up to the row group's rows.
  {
    auto file = FileSystem::Default()->ReadFile(path);
    ASSERT_TRUE(file.ok());
    int64_t pos = *kc.dictionary_page_offset;
    const int64_t end = pos + kc.total_compressed_size;
    int64_t values = 0, data_pages = 0;
    bool first = true;
    while (pos < end) {
      PageHeader h;
      size_t used = 0;
      ASSERT_TRUE(ParsePageHeader(reinterpret_cast<const uint8_t*>(file->data() + pos),
                                  static_cast<size_t>(end - pos), path, &h, &used)
                      .ok());
      if (first) {
        EXPECT_EQ(h.type, PageType::kDictionaryPage);
        EXPECT_EQ(pos + static_cast<int64_t>(used) + h.compressed_page_size, kc.data_page_offset);
        first = false;
      } else {
        EXPECT_EQ(h.type, PageType::kDataPage);
        ASSERT_TRUE(h.data_page_header.has_value());
        values += h.data_page_header->num_values;
        EXPECT_LE(h.uncompressed_page_size, opts.page_bytes + 1024 * 24);
        ++data_pages;
      }
      pos += static_cast<int64_t>(used) + h.compressed_page_size;
    }
    EXPECT_EQ(pos, end);
    EXPECT_EQ(values, md.row_groups[0].num_rows);
    EXPECT_GT(data_pages, 2);
  }
  auto out = RunDuckDB("SELECT count(*)::INT AS n, count(DISTINCT k)::INT AS dk, sum(v)::VARCHAR AS sv, "
                       "max(k) AS mk FROM read_parquet('" + path + "')");
  if (!out.ok() && out.status().IsNotFound()) GTEST_SKIP() << out.status().ToString();
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto r = Lines(*out);
  EXPECT_EQ(r[0]["n"], n);
  EXPECT_EQ(r[0]["dk"], n);
  int64_t sv = 0;
  for (int i = 0; i < n; ++i) sv += i % 3;
  EXPECT_EQ(r[0]["sv"], std::to_string(sv));
  EXPECT_EQ(r[0]["mk"], "unique-key-99999");
  EXPECT_EQ(res->columns[0].max.string_value(), "unique-key-99999");
  out = RunDuckDB("SELECT count(*) AS pages FROM parquet_metadata('" + path + "')");
  ASSERT_TRUE(out.ok());
}

TEST(ParquetWriter, ErrorsAreClear) {
  TempDir dir;
  std::string path = dir.Join("e.parquet");
  auto schema = *Schema::ParseDDL("a INT NOT NULL");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(path, "x").ok());
  auto exists = FileWriter::Open(FileSystem::Default(), path, schema);
  EXPECT_FALSE(exists.ok());
  EXPECT_TRUE(exists.status().IsAlreadyExists()) << exists.status().ToString();

  std::string p2 = dir.Join("e2.parquet");
  auto w = FileWriter::Open(FileSystem::Default(), p2, schema);
  ASSERT_TRUE(w.ok());
  Column a(DataType::Int());
  a.Append<int32_t>(1);
  a.AppendNull();
  Status st = (*w)->Write(RecordBatch::FromColumns(schema, {a}));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("'a'"), std::string::npos) << st.message();
  auto other = *Schema::ParseDDL("a STRING");
  Column s(DataType::String());
  s.AppendString("x");
  st = (*w)->Write(RecordBatch::FromColumns(other, {s}));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);

  // A null inside a NOT NULL struct field.
  auto nested = *Schema::ParseDDL("s STRUCT<x: INT NOT NULL>");
  auto w3 = FileWriter::Open(FileSystem::Default(), dir.Join("e3.parquet"), nested);
  ASSERT_TRUE(w3.ok());
  Column sc(nested.field(0).type);
  sc.child(0).AppendNull();
  sc.CloseStructRow();
  st = (*w3)->Write(RecordBatch::FromColumns(nested, {sc}));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("'x'"), std::string::npos) << st.message();

  // A batch whose buffers contradict its layout is refused, not read out of bounds.
  auto strs = *Schema::ParseDDL("t STRING");
  auto w4 = FileWriter::Open(FileSystem::Default(), dir.Join("e4.parquet"), strs);
  ASSERT_TRUE(w4.ok());
  Column t(DataType::String());
  t.AppendString("abc");
  t.AppendString("d");
  t.mutable_offsets()[1] = 1000;
  st = (*w4)->Write(RecordBatch::FromColumns(strs, {t}));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("malformed"), std::string::npos) << st.message();

  auto v = FileWriter::Open(FileSystem::Default(), dir.Join("v.parquet"),
                            Schema({Field{"n", DataType::Null()}}));
  EXPECT_EQ(v.status().code(), StatusCode::kNotSupported);
}

TEST(ParquetWriter, FaultsAtEveryWriteAreReported) {
  TempDir dir;
  RecordBatch batch = FlatBatch(3000);
  WriteOptions opts;
  opts.row_group_bytes = 8 << 10;  // several row groups, so several appends
  // Count the operations of a clean run, then fail each one in turn.
  FaultInjectingFileSystem fs(FileSystem::Default());
  int64_t ops = 0;
  {
    fs.Clear();
    auto w = FileWriter::Open(&fs, dir.Join("clean.parquet"), batch.schema(), opts);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(batch).ok());
    ASSERT_TRUE((*w)->Close().ok());
    ops = fs.operations();
  }
  ASSERT_GT(ops, 4);
  for (int64_t k = 1; k <= ops; ++k) {
    for (auto fault : {FaultInjectingFileSystem::Fault::kNoSpace,
                       FaultInjectingFileSystem::Fault::kShortWrite}) {
      fs.FailAt(k, fault);
      std::string p = dir.Join("f" + std::to_string(k) + "_" + std::to_string(int(fault)) + ".parquet");
      auto w = FileWriter::Open(&fs, p, batch.schema(), opts);
      Status st;
      if (!w.ok()) {
        st = w.status();
      } else {
        st = (*w)->Write(batch);
        if (st.ok()) st = (*w)->Close().status();
      }
      if (fs.fired()) {
        EXPECT_FALSE(st.ok()) << "operation " << k;
      } else {
        EXPECT_TRUE(st.ok()) << st.ToString();
      }
    }
  }
}

}  // namespace
}  // namespace lakepipe::parquet

namespace lakepipe::parquet {
namespace {

TEST(ParquetWriter, StatisticsFollowTypeOrder) {
  TempDir dir;
  std::string path = dir.Join("stats.parquet");
  auto schema = *Schema::ParseDDL(
      "d DOUBLE, nan_only DOUBLE, dec DECIMAL(38,2), ts TIMESTAMP, s STRING, "
      "arr ARRAY<INT>, st STRUCT<x: INT, y: STRING>, b BINARY");
  const int n = 6;
  double dv[n] = {std::nan(""), -0.0, 2.5, -7.25, 0.0, std::nan("")};
  int128_t decs[n] = {-12345, 99, -(Pow10(36) - 1), 0, 7, Pow10(36) - 1};
  int64_t ts[n] = {-1000000, 0, 1577836800000000LL, 5, -62135596800000000LL, 42};
  const char* strs[n] = {"b", "ä", "a", "", "zz", "\x7f"};
  Column d(DataType::Double()), nan_only(DataType::Double()), dec(schema.field(2).type),
      tsc(DataType::Timestamp()), s(DataType::String()), arr(schema.field(5).type),
      st(schema.field(6).type), b(DataType::Binary());
  for (int i = 0; i < n; ++i) {
    d.Append<double>(dv[i]);
    if (i == 3) nan_only.AppendNull(); else nan_only.Append<double>(std::nan(""));
    dec.Append<int128_t>(decs[i]);
    tsc.Append<int64_t>(ts[i]);
    s.AppendString(strs[i]);
    arr.child(0).Append<int32_t>(i * 100);
    arr.CloseListRow();
    if (i == 2) {
      st.AppendNull();  // also appends a null to each child
    } else {
      st.child(0).Append<int32_t>(i - 3);
      if (i == 4) st.child(1).AppendNull(); else st.child(1).AppendString(std::string(1, 'a' + i));
      st.CloseStructRow();
    }
    b.AppendString(std::string(1, static_cast<char>(0x80 + i)));
  }
  auto w = FileWriter::Open(FileSystem::Default(), path, schema);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write(RecordBatch::FromColumns(schema, {d, nan_only, dec, tsc, s, arr, st, b})).ok());
  auto res = (*w)->Close();
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  const auto& c = res->columns;
  ASSERT_EQ(c.size(), 9u);
  EXPECT_EQ(c[0].min.double_value(), -7.25);
  EXPECT_EQ(c[0].max.double_value(), 2.5);
  EXPECT_FALSE(c[1].has_min_max);  // NaN only
  EXPECT_EQ(c[1].null_count, 1);
  EXPECT_EQ(c[2].min.decimal_value(), -(Pow10(36) - 1));
  EXPECT_EQ(c[2].max.decimal_value(), Pow10(36) - 1);
  EXPECT_EQ(c[3].min, Value::Timestamp(-62135596800000000LL));
  EXPECT_EQ(c[3].max, Value::Timestamp(1577836800000000LL));
  EXPECT_EQ(c[4].min.string_value(), "");
  EXPECT_EQ(c[4].max.string_value(), "ä");  // unsigned bytes: 0xC3 > 'z' and 0x7f
  EXPECT_EQ(c[5].path, (std::vector<std::string>{"arr", "element"}));
  EXPECT_FALSE(c[5].has_min_max);
  EXPECT_EQ(c[6].path, (std::vector<std::string>{"st", "x"}));
  EXPECT_EQ(c[6].min.int_value(), -3);
  EXPECT_EQ(c[6].max.int_value(), 2);
  EXPECT_EQ(c[6].null_count, 1);  // the null struct
  EXPECT_EQ(c[7].null_count, 2);  // the null struct and one null y
  EXPECT_EQ(c[7].min.string_value(), "a");
  EXPECT_EQ(c[7].max.string_value(), "f");
  EXPECT_EQ(c[8].min.string_value(), "\x80");
  EXPECT_EQ(c[8].max.string_value(), "\x85");

  // The same statistics as DuckDB decodes them from the footer.
  auto out = RunDuckDB("SET TimeZone='UTC'; SELECT stats_min_value AS lo, stats_max_value AS hi, "
                       "stats_null_count::INT AS nc FROM parquet_metadata('" + path +
                       "') ORDER BY column_id");
  if (!out.ok() && out.status().IsNotFound()) GTEST_SKIP() << out.status().ToString();
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto rows = Lines(*out);
  ASSERT_EQ(rows.size(), 9u);
  EXPECT_EQ(rows[0]["lo"], "-7.25");
  EXPECT_EQ(rows[0]["hi"], "2.5");
  EXPECT_TRUE(rows[1]["lo"].is_null());
  EXPECT_EQ(rows[2]["lo"], "-9999999999999999999999999999999999.99");
  EXPECT_EQ(rows[2]["hi"], "9999999999999999999999999999999999.99");
  EXPECT_EQ(rows[4]["lo"], "");
  EXPECT_EQ(rows[4]["hi"], "ä");
  EXPECT_TRUE(rows[5]["lo"].is_null());
  EXPECT_EQ(rows[6]["lo"], "-3");
  EXPECT_EQ(rows[6]["nc"], 1);
  EXPECT_EQ(rows[7]["nc"], 2);
}

}  // namespace
}  // namespace lakepipe::parquet

namespace lakepipe::parquet {
namespace {

TEST(ParquetWriter, EveryCodecReadsBack) {
  TempDir dir;
  RecordBatch batch = FlatBatch(5000);
  for (auto c : {Compression::kZstd, Compression::kSnappy, Compression::kGzip,
                 Compression::kBrotli, Compression::kLz4Raw, Compression::kLz4,
                 Compression::kUncompressed}) {
    SCOPED_TRACE(CompressionName(c));
    std::string path = dir.Join(CompressionName(c) + ".parquet");
    WriteOptions opts;
    opts.compression = c;
    opts.page_bytes = 4096;
    auto w = FileWriter::Open(FileSystem::Default(), path, batch.schema(), opts);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(batch).ok());
    ASSERT_TRUE((*w)->Close().ok());
    FileMetaData md = Footer(path);
    ASSERT_FALSE(md.row_groups.empty());
    EXPECT_EQ(md.row_groups[0].columns[0].meta_data->codec, ToCodec(c));
    // Our reader.
    auto r = FileReader::Open(FileSystem::Default(), path);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    auto all = (*r)->ReadAll();
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    ASSERT_EQ(all->num_rows(), batch.num_rows());
    for (int64_t i = 0; i < batch.num_rows(); i += 97) {
      for (size_t k = 0; k < batch.num_columns(); ++k) {
        ASSERT_EQ(all->column(k).GetValue(i), batch.column(k).GetValue(i)) << "row " << i;
      }
    }
    // DuckDB (which reads every codec but Hadoop-framed LZ4).
    if (c == Compression::kLz4) continue;
    auto out = RunDuckDB("SELECT count(*)::INT AS n, count(name)::INT AS cn, sum(qty)::INT AS sq "
                         "FROM read_parquet('" + path + "')");
    if (!out.ok() && out.status().IsNotFound()) continue;
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    auto rows = Lines(*out);
    EXPECT_EQ(rows[0]["n"], 5000);
    int64_t cn = 0, sq = 0;
    for (int64_t i = 0; i < 5000; ++i) {
      cn += i % 7 != 3;
      sq += i % 13 - 6;
    }
    EXPECT_EQ(rows[0]["cn"], cn);
    EXPECT_EQ(rows[0]["sq"], sq);
  }
}

}  // namespace
}  // namespace lakepipe::parquet
