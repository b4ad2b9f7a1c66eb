// The round-trip property test of issue 2: random schemas and data, written by our
// FileWriter, read back by DuckDB (an independent implementation) and by our FileReader;
// every value must be equal. Each case has a fixed seed, printed on failure; rerun one
// case with LAKEPIPE_ROUNDTRIP_SEED=<seed>.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <sstream>

#include "formats/parquet/parquet.h"
#include "testing/testing.h"
#include "types/batch.h"
#include "types/column.h"
#include "types/datetime.h"
#include "types/decimal.h"

namespace lakepipe::parquet {
namespace {

using nlohmann::json;

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}

  uint64_t U(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool Chance(int percent) { return static_cast<int>(U(100)) < percent; }

  DataType Primitive(bool map_key = false) {
    if (map_key) {
      switch (U(4)) {
        case 0: return DataType::Int();
        case 1: return DataType::Long();
        case 2: return DataType::String();
        default: return DataType::Date();
      }
    }
    switch (U(14)) {
      case 0: return DataType::Boolean();
      case 1: return DataType::Byte();
      case 2: return DataType::Short();
      case 3: return DataType::Int();
      case 4: return DataType::Long();
      case 5: return DataType::Float();
      case 6: return DataType::Double();
      case 7: {
        int p = 1 + static_cast<int>(U(38));
        return DataType::Decimal(p, static_cast<int>(U(p + 1)));
      }
      case 8: return DataType::String();
      case 9: return DataType::Binary();
      case 10: return DataType::Date();
      case 11: return DataType::Timestamp();
      case 12: return DataType::TimestampNtz();
      default: return DataType::String();
    }
  }

  DataType Type(int depth) {
    if (depth >= 3 || Chance(60)) return Primitive();
    switch (U(3)) {
      case 0: {
        std::vector<Field> fields;
        int n = 1 + static_cast<int>(U(3));
        for (int i = 0; i < n; ++i) {
          fields.push_back(Field{"f" + std::to_string(i), Type(depth + 1), Chance(80)});
        }
        return DataType::Struct(std::move(fields));
      }
      case 1: return DataType::Array(Type(depth + 1), Chance(70));
      default: return DataType::Map(Primitive(true), Type(depth + 1), Chance(70));
    }
  }

  Value Of(const DataType& t, bool nullable, int null_percent) {
    if (nullable && Chance(null_percent)) return Value::Null();
    switch (t.id()) {
      case TypeId::kBoolean: return Value::Bool(Chance(50));
      case TypeId::kByte: return Value::Int(Extreme<int8_t>(), TypeId::kByte);
      case TypeId::kShort: return Value::Int(Extreme<int16_t>(), TypeId::kShort);
      case TypeId::kInt: return Value::Int(Extreme<int32_t>(), TypeId::kInt);
      case TypeId::kLong: return Value::Int(Extreme<int64_t>(), TypeId::kLong);
      case TypeId::kFloat: return Value::Double(static_cast<float>(Floating<float>()), TypeId::kFloat);
      case TypeId::kDouble: return Value::Double(Floating<double>());
      case TypeId::kDecimal: {
        int128_t limit = Pow10(t.precision()) - 1;
        int128_t v;
        switch (U(5)) {
          case 0: v = limit; break;
          case 1: v = -limit; break;
          case 2: v = 0; break;
          default: {
            int128_t r = (static_cast<int128_t>(rng_()) << 64) | rng_();
            if (r < 0) r = -r;
            v = r % (limit + 1);
            if (Chance(50)) v = -v;
          }
        }
        return Value::Decimal(v, t.precision(), t.scale());
      }
      case TypeId::kString: return Value::String(Text());
      case TypeId::kBinary: {
        std::string b(U(Chance(10) ? 200 : 12), '\0');
        for (char& c : b) {
          do c = static_cast<char>(U(256)); while (c == '\\');  // see RenderBinary
        }
        return Value::Binary(b);
      }
      case TypeId::kDate:
        return Value::Date(static_cast<int32_t>(kMinDay + static_cast<int64_t>(U(kMaxDay - kMinDay + 1))));
      case TypeId::kTimestamp:
      case TypeId::kTimestampNtz: {
        int64_t lo = kMinDay * 86400000000LL, hi = (kMaxDay + 1) * 86400000000LL - 1;
        int64_t v = Chance(10) ? (Chance(50) ? lo : hi)
                               : lo + static_cast<int64_t>(rng_() % static_cast<uint64_t>(hi - lo));
        if (Chance(30)) v -= v % 1000000;  // whole seconds
        return Value::Timestamp(v, t.id() == TypeId::kTimestampNtz);
      }
      case TypeId::kStruct: {
        std::vector<Value> kids;
        for (const Field& f : t.fields()) kids.push_back(Of(f.type, f.nullable, null_percent));
        return Value::Struct(std::move(kids));
      }
      case TypeId::kArray: {
        std::vector<Value> kids;
        int n = static_cast<int>(U(5));
        for (int i = 0; i < n; ++i) kids.push_back(Of(t.element(), t.contains_null(), null_percent));
        return Value::Array(std::move(kids));
      }
      case TypeId::kMap: {
        std::vector<Value> kv;
        std::set<std::string> seen;  // DuckDB requires distinct keys
        int n = static_cast<int>(U(4));
        for (int i = 0; i < n; ++i) {
          Value k = Of(t.key(), false, 0);
          if (!seen.insert(k.ToString()).second) continue;
          kv.push_back(k);
          kv.push_back(Of(t.value(), t.contains_null(), null_percent));
        }
        return Value::Map(std::move(kv));
      }
      default: return Value::Null();
    }
  }

  static constexpr int64_t kMinDay = -719162;  // 0001-01-01
  static constexpr int64_t kMaxDay = 2932896;  // 9999-12-31

 private:
  template <typename T>
  int64_t Extreme() {
    switch (U(6)) {
      case 0: return std::numeric_limits<T>::min();
      case 1: return std::numeric_limits<T>::max();
      case 2: return 0;
      case 3: return -1;
      case 4: return static_cast<int64_t>(U(10));  // small: dictionary-friendly
      default: return static_cast<T>(rng_());
    }
  }
  template <typename T>
  double Floating() {
    switch (U(12)) {
      case 0: return std::numeric_limits<T>::quiet_NaN();
      case 1: return std::numeric_limits<T>::infinity();
      case 2: return -std::numeric_limits<T>::infinity();
      case 3: return -0.0;
      case 4: return std::numeric_limits<T>::denorm_min();
      case 5: return std::numeric_limits<T>::max();
      case 6: return std::numeric_limits<T>::lowest();
      case 7: return static_cast<double>(U(5));
      default: {
        // Random finite bit patterns.
        while (true) {
          if constexpr (sizeof(T) == 4) {
            uint32_t bits = static_cast<uint32_t>(rng_());
            float f;
            std::memcpy(&f, &bits, 4);
            if (std::isfinite(f)) return f;
          } else {
            uint64_t bits = rng_();
            double d;
            std::memcpy(&d, &bits, 8);
            if (std::isfinite(d)) return d;
          }
        }
      }
    }
  }
  std::string Text() {
    static const char* kPieces[] = {"a", "Z", "0", " ", "é", "ß", "😀", "中文", "\t", "\"", "'",
                                    "\\", "\n", "ü", "Ω", "x-y", "\u0001"};
    if (Chance(10)) return "";
    if (Chance(20)) return "v" + std::to_string(U(8));  // repeats: dictionary pages
    std::string s;
    int n = static_cast<int>(U(Chance(5) ? 300 : 12));
    for (int i = 0; i < n; ++i) s += kPieces[U(sizeof(kPieces) / sizeof(kPieces[0]))];
    return s;
  }

  std::mt19937_64 rng_;
};

// ---- comparison with DuckDB's JSON rendering ---------------------------------------------

std::string Two(unsigned v) { return (v < 10 ? "0" : "") + std::to_string(v); }

std::string RenderDate(int64_t days) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  std::string ys = std::to_string(y);
  while (ys.size() < 4) ys = "0" + ys;
  return ys + "-" + Two(m) + "-" + Two(d);
}

// DuckDB: "YYYY-MM-DD HH:MM:SS[.fraction without trailing zeros]".
std::string RenderTimestamp(int64_t micros) {
  int64_t days = FloorDiv(micros, 86400000000LL);
  int64_t in_day = micros - days * 86400000000LL;
  int64_t secs = in_day / 1000000, frac = in_day % 1000000;
  std::string s = RenderDate(days) + " " + Two(static_cast<unsigned>(secs / 3600)) + ":" +
                  Two(static_cast<unsigned>(secs / 60 % 60)) + ":" +
                  Two(static_cast<unsigned>(secs % 60));
  if (frac) {
    std::string f = std::to_string(frac);
    while (f.size() < 6) f = "0" + f;
    while (f.back() == '0') f.pop_back();
    s += "." + f;
  }
  return s;
}

// DuckDB renders a BLOB as text: printable ASCII as is, except ' and ", every other byte as
// \xHH. (A backslash renders ambiguously, so the generator never produces one.)
std::string RenderBinary(const std::string& b) {
  static const char* kHex = "0123456789ABCDEF";
  std::string s;
  for (unsigned char c : b) {
    if (c >= 32 && c < 127 && c != '"' && c != '\'') {
      s.push_back(static_cast<char>(c));
    } else {
      s += "\\x";
      s.push_back(kHex[c >> 4]);
      s.push_back(kHex[c & 15]);
    }
  }
  return s;
}

// Whether DuckDB's JSON value `j` equals `v` of type `t`; `where` describes a mismatch.
bool SameAsJson(const DataType& t, const Value& v, const json& j, std::string* where) {
  auto fail = [&](const std::string& want) {
    *where = "expected " + want + ", DuckDB has " + j.dump();
    return false;
  };
  if (v.is_null()) return j.is_null() || fail("null");
  if (j.is_null()) return fail(v.ToString());
  switch (t.id()) {
    case TypeId::kBoolean: return (j.is_boolean() && j.get<bool>() == v.bool_value()) || fail(v.ToString());
    case TypeId::kByte:
    case TypeId::kShort:
    case TypeId::kInt:
    case TypeId::kLong: {
      std::string want = std::to_string(v.int_value());
      std::string got = j.is_string() ? j.get<std::string>() : j.dump();
      return got == want || fail(want);
    }
    case TypeId::kFloat:
    case TypeId::kDouble: {
      double d = v.double_value();
      if (std::isnan(d)) return (j.is_string() && j.get<std::string>() == "NaN") || fail("NaN");
      if (std::isinf(d)) {
        std::string want = d > 0 ? "Infinity" : "-Infinity";
        return (j.is_string() && j.get<std::string>() == want) || fail(want);
      }
      if (!j.is_number()) return fail(v.ToString());
      double got = j.get<double>();
      if (t.id() == TypeId::kFloat) {
        // JSON holds the float widened to double, printed shortest-round-trip.
        return static_cast<float>(got) == static_cast<float>(d) || fail(v.ToString());
      }
      return got == d || fail(v.ToString());  // -0 prints as 0: equal as numbers
    }
    case TypeId::kDecimal: {
      std::string want = FormatDecimal(v.decimal_value(), t.scale());
      std::string got = j.is_string() ? j.get<std::string>() : j.dump();
      return got == want || fail(want);
    }
    case TypeId::kString: return (j.is_string() && j.get<std::string>() == v.string_value()) || fail(v.ToString());
    case TypeId::kBinary: {
      std::string want = RenderBinary(v.string_value());
      return (j.is_string() && j.get<std::string>() == want) || fail(want);
    }
    case TypeId::kDate: {
      std::string want = RenderDate(v.int_value());
      return (j.is_string() && j.get<std::string>() == want) || fail(want);
    }
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz: {
      std::string want = RenderTimestamp(v.int_value()) + (t.id() == TypeId::kTimestamp ? "+00" : "");
      return (j.is_string() && j.get<std::string>() == want) || fail(want);
    }
    case TypeId::kStruct: {
      if (!j.is_object()) return fail(v.ToString());
      for (size_t i = 0; i < t.fields().size(); ++i) {
        const Field& f = t.fields()[i];
        if (!j.contains(f.name)) return fail("field " + f.name);
        if (!SameAsJson(f.type, v.children()[i], j[f.name], where)) {
          *where = "." + f.name + ": " + *where;
          return false;
        }
      }
      return true;
    }
    case TypeId::kArray: {
      if (!j.is_array() || j.size() != v.children().size()) return fail(v.ToString());
      for (size_t i = 0; i < j.size(); ++i) {
        if (!SameAsJson(t.element(), v.children()[i], j[i], where)) {
          *where = "[" + std::to_string(i) + "]: " + *where;
          return false;
        }
      }
      return true;
    }
    case TypeId::kMap: {
      const auto& kv = v.children();
      if (!j.is_array() || j.size() * 2 != kv.size()) return fail(v.ToString());
      for (size_t i = 0; i < j.size(); ++i) {
        if (!SameAsJson(t.key(), kv[2 * i], j[i]["key"], where) ||
            !SameAsJson(t.value(), kv[2 * i + 1], j[i]["value"], where)) {
          *where = "{entry " + std::to_string(i) + "}: " + *where;
          return false;
        }
      }
      return true;
    }
    default: return fail("a supported type");
  }
}

// Exact equality of values of type `t` (floating point by bit pattern, NaN payloads too).
bool SameValue(const DataType& t, const Value& a, const Value& b) {
  if (a.is_null() || b.is_null()) return a.is_null() == b.is_null();
  switch (t.id()) {
    case TypeId::kFloat:
    case TypeId::kDouble: {
      double x = a.double_value(), y = b.double_value();
      if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
      return std::memcmp(&x, &y, 8) == 0;
    }
    case TypeId::kStruct:
      for (size_t i = 0; i < t.fields().size(); ++i) {
        if (!SameValue(t.fields()[i].type, a.children()[i], b.children()[i])) return false;
      }
      return true;
    case TypeId::kArray:
    case TypeId::kMap: {
      const auto& x = a.children();
      const auto& y = b.children();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        const DataType& et = t.id() == TypeId::kArray ? t.element() : (i % 2 ? t.value() : t.key());
        if (!SameValue(et, x[i], y[i])) return false;
      }
      return true;
    }
    case TypeId::kDecimal: return a.decimal_value() == b.decimal_value();
    case TypeId::kString:
    case TypeId::kBinary: return a.string_value() == b.string_value();
    case TypeId::kBoolean: return a.bool_value() == b.bool_value();
    default: return a.int_value() == b.int_value();
  }
}

struct Case {
  Schema schema;
  std::vector<std::vector<Value>> columns;  // [column][row]
  int64_t rows = 0;
  WriteOptions options;
  std::vector<int64_t> write_splits;
};

Case MakeCase(uint64_t seed) {
  Gen g(seed);
  Case c;
  c.schema.AddField(Field{"rid", DataType::Int(), false});
  int ncols = 1 + static_cast<int>(g.U(6));
  for (int i = 0; i < ncols; ++i) {
    c.schema.AddField(Field{"c" + std::to_string(i), g.Type(0), g.Chance(80)});
  }
  c.rows = g.Chance(10) ? static_cast<int64_t>(g.U(3)) : 1 + static_cast<int64_t>(g.U(2500));
  c.columns.resize(c.schema.size());
  for (int64_t r = 0; r < c.rows; ++r) c.columns[0].push_back(Value::Int(r, TypeId::kInt));
  for (size_t i = 1; i < c.schema.size(); ++i) {
    int null_percent = g.Chance(10) ? 100 : g.Chance(20) ? 0 : 15;
    const Field& f = c.schema.field(i);
    for (int64_t r = 0; r < c.rows; ++r) c.columns[i].push_back(g.Of(f.type, f.nullable, null_percent));
  }
  const Compression codecs[] = {Compression::kZstd, Compression::kSnappy, Compression::kGzip,
                                Compression::kUncompressed};
  c.options.compression = codecs[g.U(4)];
  c.options.page_bytes = g.Chance(50) ? 512 : g.Chance(50) ? 8192 : 1 << 20;
  c.options.row_group_bytes = g.Chance(40) ? 4096 : g.Chance(50) ? 65536 : 128LL << 20;
  c.options.dictionary = !g.Chance(20);
  c.options.dictionary_page_bytes = g.Chance(30) ? 100 : 1 << 20;
  int64_t at = 0;
  while (at < c.rows) {
    int64_t n = std::min<int64_t>(c.rows - at, 1 + static_cast<int64_t>(g.U(c.rows)));
    c.write_splits.push_back(n);
    at += n;
  }
  return c;
}

Result<RecordBatch> BuildBatch(const Case& c, int64_t begin, int64_t n) {
  std::vector<Column> cols;
  for (size_t i = 0; i < c.schema.size(); ++i) {
    Column col(c.schema.field(i).type);
    for (int64_t r = begin; r < begin + n; ++r) LP_RETURN_IF_ERROR(col.AppendValue(c.columns[i][r]));
    cols.push_back(std::move(col));
  }
  return RecordBatch::FromColumns(c.schema, std::move(cols));
}

std::string Describe(const Case& c, uint64_t seed) {
  return "seed " + std::to_string(seed) + " (rerun with LAKEPIPE_ROUNDTRIP_SEED=" +
         std::to_string(seed) + "), schema " + c.schema.ToDDL() + ", rows " +
         std::to_string(c.rows) + ", " + CompressionName(c.options.compression) +
         ", page_bytes " + std::to_string(c.options.page_bytes) + ", row_group_bytes " +
         std::to_string(c.options.row_group_bytes) + ", dictionary " +
         (c.options.dictionary ? std::to_string(c.options.dictionary_page_bytes) : "off");
}

void RunCase(uint64_t seed, bool* duckdb_missing) {
  Case c = MakeCase(seed);
  SCOPED_TRACE(Describe(c, seed));
  if (std::getenv("LAKEPIPE_ROUNDTRIP_VERBOSE")) std::fprintf(stderr, "%s\n", Describe(c, seed).c_str());
  lakepipe::testing::TempDir dir;
  std::string path = dir.Join("case.parquet");
  auto w = FileWriter::Open(FileSystem::Default(), path, c.schema, c.options);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  int64_t at = 0;
  for (int64_t n : c.write_splits) {
    auto batch = BuildBatch(c, at, n);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    Status st = (*w)->Write(*batch);
    ASSERT_TRUE(st.ok()) << st.ToString();
    at += n;
  }
  auto res = (*w)->Close();
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  ASSERT_EQ(res->num_rows, c.rows);

  // (b) our own reader.
  auto reader = FileReader::Open(FileSystem::Default(), path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_EQ((*reader)->num_rows(), c.rows);
  auto all = (*reader)->ReadAll();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->num_rows(), c.rows);
  ASSERT_EQ(all->num_columns(), c.schema.size());
  for (size_t i = 0; i < c.schema.size(); ++i) {
    const DataType& t = c.schema.field(i).type;
    ASSERT_EQ(all->schema().field(i).type, t) << "column " << i;
    for (int64_t r = 0; r < c.rows; ++r) {
      Value got = all->column(i).GetValue(r);
      ASSERT_TRUE(SameValue(t, c.columns[i][r], got))
          << "our reader, column " << c.schema.field(i).name << " row " << r << ": expected "
          << c.columns[i][r].ToString() << ", read " << got.ToString();
    }
  }

  // (a) DuckDB.
  auto out = lakepipe::testing::RunDuckDB("SET TimeZone='UTC'; SELECT * FROM read_parquet('" +
                                          path + "') ORDER BY rid");
  if (!out.ok() && out.status().IsNotFound()) {
    *duckdb_missing = true;
    return;
  }
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  std::istringstream in(*out);
  std::string line;
  int64_t r = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ASSERT_LT(r, c.rows);
    json row = json::parse(line);
    for (size_t i = 0; i < c.schema.size(); ++i) {
      const Field& f = c.schema.field(i);
      std::string where;
      ASSERT_TRUE(SameAsJson(f.type, c.columns[i][r], row[f.name], &where))
          << "DuckDB, column " << f.name << " row " << r << ": " << where;
    }
    ++r;
  }
  ASSERT_EQ(r, c.rows);
}

TEST(ParquetRoundTrip, RandomSchemasAndData) {
  bool duckdb_missing = false;
  if (const char* s = std::getenv("LAKEPIPE_ROUNDTRIP_SEED")) {
    RunCase(std::strtoull(s, nullptr, 10), &duckdb_missing);
    return;
  }
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    RunCase(seed * 7919, &duckdb_missing);
    if (::testing::Test::HasFatalFailure()) return;
  }
  if (duckdb_missing) GTEST_SKIP() << "DuckDB (node_modules/@duckdb/node-api) missing: only our reader was checked";
}

}  // namespace
}  // namespace lakepipe::parquet
