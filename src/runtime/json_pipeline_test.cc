// JSON payloads end to end: a generated corpus of nested JSON records (deep objects, arrays
// of objects, unicode escapes, numbers at the limits, malformed lines) goes through a
// pipeline that uses struct paths, subscripts, the JSON functions and generators; DuckDB
// computes the same columns from the same file with its own JSON reader and json_*
// functions, and reads our Parquet files (nested columns included) back. The two must be
// equal as multisets of rows.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

// One JSON line per record. Every few records one is malformed (cut short, or not JSON).
std::string Corpus(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  static const char* kCities[] = {"Lisboa", "S\\u00e3o Paulo", "Z\\u00fcrich", "K\\u00f8benhavn", "\\u6771\\u4eac", "Tab\\tCity"};
  static const char* kSkus[] = {"A1", "B2", "C3", "D4", "E5"};
  std::ostringstream out;
  for (int i = 0; i < n; ++i) {
    if (i % 17 == 16) {
      out << (i % 2 ? "{\"id\": " + std::to_string(i) + ", \"order\": {\"customer\": " : "not json at all") << "\n";
      continue;
    }
    std::ostringstream rec;
    rec << "{\"id\":" << i << ",\"order\":{\"customer\":{\"name\":\"c" << rng() % 50 << "\",\"address\":{\"city\":\""
        << kCities[rng() % 6] << "\",\"zip\":" << (i % 11 == 0 ? "null" : std::to_string(rng() % 99999)) << "}},";
    int items = static_cast<int>(rng() % 4);  // 0..3, so some arrays are empty
    rec << "\"items\":[";
    for (int k = 0; k < items; ++k) {
      rec << (k ? "," : "") << "{\"sku\":\"" << kSkus[rng() % 5] << "\",\"qty\":" << (rng() % 5 + 1)
          << ",\"price\":" << (i % 13 == 0 ? "1.7976931348623157e308" : std::to_string((rng() % 10000) / 100.0)) << "}";
    }
    rec << "],\"big\":" << (i % 7 == 0 ? "9223372036854775807" : (i % 7 == 1 ? "-9223372036854775808" : std::to_string(i)))
        << "},\"tags\":[" << (i % 3 == 0 ? "" : "\"x\",\"y\"") << "]}";
    out << rec.str() << "\n";
  }
  return out.str();
}

// The corpus as Kafka-like records: {"k": <line number>, "payload": "<the line as a JSON
// string>"} — well-formed wrappers around payloads some of which are malformed.
std::string Wrapped(const std::string& corpus) {
  std::ostringstream out;
  std::istringstream in(corpus);
  std::string line;
  for (int k = 0; std::getline(in, line); ++k) {
    std::string escaped;
    for (char c : line) {
      if (c == '"' || c == '\\') escaped += '\\';
      escaped += c;
    }
    out << "{\"k\":" << k << ",\"payload\":\"" << escaped << "\"}\n";
  }
  return out.str();
}

class JsonPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
    ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("p")).ok());
    std::string corpus = Corpus(300, 7);
    ASSERT_TRUE(fs_->WriteFile(JoinPath(landing_, "events.json"), corpus).ok());
    ASSERT_TRUE(fs_->CreateDirs(JoinPath(dir_.path(), "payloads")).ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("payloads/payloads.json"), Wrapped(corpus)).ok());
  }

  std::unique_ptr<PipelineRunner> Run(const std::string& sql) {
    EXPECT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"), "name: t\nstorage: " + storage_ +
                                                                 "\nlibraries: [p.sql]\ncontinuous: false\n"
                                                                 "configuration: {landing: " + landing_ + ", payloads: " +
                                                                 dir_.Join("payloads") + "}\n")
                    .ok());
    EXPECT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"), sql).ok());
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    if (!runner.ok()) return nullptr;
    auto report = (*runner)->RunOnce({});
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    if (report.ok()) {
      for (const auto& t : report->tables) EXPECT_NE(t.status, "failed") << t.table << ": " << t.message;
    }
    return std::move(runner).value();
  }

  // Rows in ours but not theirs plus rows in theirs but not ours (multiset difference).
  int64_t Difference(const std::string& ours, const std::string& theirs, int64_t min_rows = 100) {
    auto rows = testing::DuckDBRows("WITH o AS (" + ours + "), t AS (" + theirs +
                                    ") SELECT ((SELECT count(*) FROM (SELECT * FROM o EXCEPT ALL SELECT * FROM t)) + "
                                    "(SELECT count(*) FROM (SELECT * FROM t EXCEPT ALL SELECT * FROM o)))::INTEGER AS d, "
                                    "(SELECT count(*) FROM o)::INTEGER AS n");
    if (rows.empty()) return -1;
    if (rows[0]["d"].get<int64_t>() != 0) {
      for (const char* side : {"o EXCEPT ALL SELECT * FROM t", "t EXCEPT ALL SELECT * FROM o"}) {
        auto diff = testing::DuckDBRows("WITH o AS (" + ours + "), t AS (" + theirs + ") SELECT * FROM " + side + " LIMIT 4");
        for (auto r : diff) {
          r.erase("payload");  // long; the other columns say what differs
          ADD_FAILURE() << side << ": " << r.dump();
        }
      }
    }
    EXPECT_GE(rows[0]["n"].get<int64_t>(), min_rows) << "too few rows compared";
    return rows[0]["d"].get<int64_t>();
  }

  std::string Parquet(const std::string& table) { return "SELECT * FROM read_parquet('" + storage_ + "/" + table + "/*.parquet')"; }
  std::string File() const { return JoinPath(landing_, "events.json"); }
  std::string Payloads() const { return dir_.Join("payloads/payloads.json"); }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
  std::string storage_ = dir_.Join("storage");
};

constexpr const char* kNestedSchema =
    "id BIGINT, order STRUCT<customer: STRUCT<name: STRING, address: STRUCT<city: STRING, zip: BIGINT>>, "
    "items: ARRAY<STRUCT<sku: STRING, qty: INT, price: DOUBLE>>, big: BIGINT>, tags ARRAY<STRING>";

// The file's lines as DuckDB sees them, one VARCHAR per line. (DuckDB's own JSON lines
// reader is not used: after an unterminated object it swallows the next line, where Spark
// and lakepipe read line by line.)
std::string DuckLines(const std::string& file) {
  return "SELECT line FROM read_csv('" + file +
         "', columns = {'line': 'VARCHAR'}, header = false, delim = chr(1), quote = '', escape = '', auto_detect = false)";
}

// DuckDB's reading of the same records with the same schema (json_transform); malformed
// lines are left out there, ours become rescued rows whose id is NULL.
std::string DuckNested(const std::string& file) {
  return "SELECT unnest(j) FROM (SELECT json_transform(line, '{\"id\":\"BIGINT\",\"order\":{\"customer\":{\"name\":"
         "\"VARCHAR\",\"address\":{\"city\":\"VARCHAR\",\"zip\":\"BIGINT\"}},\"items\":[{\"sku\":\"VARCHAR\","
         "\"qty\":\"INTEGER\",\"price\":\"DOUBLE\"}],\"big\":\"BIGINT\"},\"tags\":[\"VARCHAR\"]}') AS j FROM (" +
         DuckLines(file) + ") WHERE json_valid(line))";
}

TEST_F(JsonPipelineTest, NestedPathsSubscriptsAndConstructorsMatchDuckDB) {
  auto runner = Run(std::string("CREATE OR REFRESH STREAMING TABLE bronze AS SELECT * FROM STREAM read_files('${landing}', "
                                "format => 'json', schema => '") + kNestedSchema + "');\n"
                    "CREATE OR REFRESH STREAMING TABLE silver AS SELECT id, order.customer.address.city AS city, "
                    "bronze.order.customer.address.zip AS zip, CASE WHEN size(order.items) > 0 THEN order.items[0].sku END AS first_sku, "
                    "try_element_at(order.items, -1).price AS last_price, try_element_at(order.items, 2).qty AS second_qty, "
                    "size(order.items) AS n_items, order.items.sku AS skus, array_contains(tags, 'x') AS has_x, "
                    "named_struct('c', order.customer.name, 'n', size(tags)) AS summary, order.big AS big, "
                    "bronze.order AS whole FROM STREAM bronze WHERE id IS NOT NULL;\n");
  ASSERT_NE(runner, nullptr);
  std::string duck =
      "SELECT id, \"order\".customer.address.city AS city, \"order\".customer.address.zip AS zip, "
      "\"order\".items[1].sku AS first_sku, \"order\".items[-1].price AS last_price, \"order\".items[2].qty AS second_qty, "
      "CAST(len(\"order\".items) AS INTEGER) AS n_items, [x.sku FOR x IN \"order\".items] AS skus, "
      "list_contains(tags, 'x') AS has_x, {'c': \"order\".customer.name, 'n': CAST(len(tags) AS INTEGER)} AS summary, "
      "\"order\".big AS big, \"order\" AS whole FROM (" + DuckNested(File()) + ")";
  EXPECT_EQ(Difference(Parquet("silver"), duck), 0);
  // Malformed lines are kept as rescued rows in Bronze, never dropped.
  auto rescued = testing::DuckDBRows("SELECT count(*)::INTEGER AS n FROM read_parquet('" + storage_ +
                                     "/bronze/*.parquet') WHERE id IS NULL AND _rescued_data IS NOT NULL");
  ASSERT_FALSE(rescued.empty());
  EXPECT_EQ(rescued[0]["n"].get<int64_t>(), 300 / 17);
}

// The struct the payloads hold, for from_json and DuckDB's json_transform.
constexpr const char* kPayloadSchema =
    "id BIGINT, order STRUCT<customer: STRUCT<name: STRING, address: STRUCT<city: STRING, zip: BIGINT>>, "
    "items: ARRAY<STRUCT<sku: STRING, qty: INT, price: DOUBLE>>, big: BIGINT>, tags ARRAY<STRING>";
constexpr const char* kDuckStructure =
    "'{\"id\":\"BIGINT\",\"order\":{\"customer\":{\"name\":\"VARCHAR\",\"address\":{\"city\":\"VARCHAR\","
    "\"zip\":\"BIGINT\"}},\"items\":[{\"sku\":\"VARCHAR\",\"qty\":\"INTEGER\",\"price\":\"DOUBLE\"}],"
    "\"big\":\"BIGINT\"},\"tags\":[\"VARCHAR\"]}'";

std::string PayloadPipeline(const std::string& extra) {
  return std::string(
             "CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${payloads}', format => 'json', "
             "schema => 'k BIGINT, payload STRING');\n"
             "CREATE OR REFRESH STREAMING TABLE parsed AS SELECT k, from_json(payload, '") +
         kPayloadSchema +
         "') AS j, get_json_object(payload, '$.order.customer.address.city') AS city, "
         "payload:order.items[0].sku, payload:ORDER.Big::bigint AS big, payload:['order']['customer'].name AS name, "
         "get_json_object(payload, '$.order.items[*].sku') AS skus, payload FROM STREAM raw;\n" +
         extra;
}

// DuckDB's json functions over the same payloads. Its json_* functions raise on malformed
// JSON, so they are guarded by json_valid (where ours give NULL).
std::string DuckParsed(const std::string& file) {
  std::string valid = "json_valid(payload)";
  return std::string("SELECT k, CASE WHEN ") + valid + " THEN json_transform(payload, " + kDuckStructure +
         ") ELSE json_transform('{}', " + kDuckStructure + ") END AS j, "
         "CASE WHEN " + valid + " THEN json_extract_string(payload, '$.order.customer.address.city') END AS city, "
         "CASE WHEN " + valid + " THEN json_extract_string(payload, '$.order.items[0].sku') END AS sku, "
         "CASE WHEN " + valid + " THEN CAST(json_extract_string(payload, '$.order.big') AS BIGINT) END AS big, "
         "CASE WHEN " + valid + " THEN json_extract_string(payload, '$.order.customer.name') END AS name, "
         "CASE WHEN " + valid + " THEN (CASE len(json_extract(payload, '$.order.items[*].sku')) WHEN 0 THEN NULL "
         "WHEN 1 THEN json_extract(payload, '$.order.items[*].sku')[1]->>'$' "
         "ELSE '[' || array_to_string(json_extract(payload, '$.order.items[*].sku'), ',') || ']' END) END AS skus, payload "
         "FROM read_json('" + file + "', format = 'newline_delimited', columns = {k: 'BIGINT', payload: 'VARCHAR'})";
}

TEST_F(JsonPipelineTest, JsonFunctionsAndColonPathsMatchDuckDB) {
  auto runner = Run(PayloadPipeline(""));
  ASSERT_NE(runner, nullptr);
  EXPECT_EQ(Difference(Parquet("parsed"), DuckParsed(Payloads())), 0);
  // Malformed payloads: every field of the struct NULL, the raw text kept.
  auto bad = testing::DuckDBRows("SELECT count(*)::INTEGER AS n FROM read_parquet('" + storage_ +
                                 "/parsed/*.parquet') WHERE j.id IS NULL AND j.order IS NULL AND payload IS NOT NULL");
  ASSERT_FALSE(bad.empty());
  EXPECT_EQ(bad[0]["n"].get<int64_t>(), 300 / 17);
}

// The same payloads with a corrupt record field (Spark's PERMISSIVE mode): valid records
// parse as DuckDB's json_transform reads them and leave the field NULL; malformed ones keep
// their text there, so none is lost; keys the schema lacks are not corrupt.
TEST_F(JsonPipelineTest, CorruptRecordFieldKeepsMalformedPayloadsAsDuckDBFindsThem) {
  auto runner = Run(std::string(
                        "CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${payloads}', "
                        "format => 'json', schema => 'k BIGINT, payload STRING');\n"
                        "CREATE OR REFRESH STREAMING TABLE parsed AS SELECT k, from_json(payload, '") +
                    kPayloadSchema + ", _corrupt_record STRING') AS j FROM STREAM raw;\n");
  ASSERT_NE(runner, nullptr);
  std::string ours = "SELECT k, j.id AS id, j.order.customer.address.city AS city, len(j.order.items) AS items, "
                     "j.tags AS tags, j._corrupt_record AS bad FROM read_parquet('" + storage_ + "/parsed/*.parquet')";
  std::string theirs = "SELECT k, (t).id AS id, (t).order.customer.address.city AS city, len((t).order.items) AS items, "
                       "(t).tags AS tags, CASE WHEN json_valid(payload) THEN NULL ELSE payload END AS bad FROM "
                       "(SELECT k, payload, CASE WHEN json_valid(payload) THEN json_transform(payload, " +
                       std::string(kDuckStructure) + ") END AS t FROM read_json('" + Payloads() +
                       "', format = 'newline_delimited', columns = {k: 'BIGINT', payload: 'VARCHAR'}))";
  EXPECT_EQ(Difference(ours, theirs), 0);
  auto bad = testing::DuckDBRows("SELECT count(bad)::INTEGER AS n FROM (" + ours + ")");
  ASSERT_FALSE(bad.empty());
  EXPECT_EQ(bad[0]["n"].get<int64_t>(), 300 / 17);
}

TEST_F(JsonPipelineTest, ExplodeAndLateralViewMatchDuckDBUnnest) {
  auto runner = Run(PayloadPipeline(
      "CREATE OR REFRESH STREAMING TABLE items AS SELECT k, item.sku, item.qty, item.price FROM STREAM parsed "
      "LATERAL VIEW explode(j.order.items) t AS item;\n"
      "CREATE OR REFRESH STREAMING TABLE tags AS SELECT k, posexplode_outer(j.tags) FROM STREAM parsed;\n"
      "CREATE OR REFRESH MATERIALIZED VIEW sku_qty AS SELECT sku, sum(qty) AS qty, count(*) AS n FROM "
      "(SELECT inline(j.order.items) FROM parsed) AS x GROUP BY sku;\n"
      "CREATE OR REFRESH STREAMING TABLE tuples AS SELECT k, json_tuple(payload, 'id', 'tags', 'nope') FROM STREAM raw;\n"));
  ASSERT_NE(runner, nullptr);
  std::string parsed = "(" + DuckParsed(Payloads()) + ")";
  EXPECT_EQ(Difference(Parquet("items"), "SELECT k, it.sku, it.qty, it.price FROM (SELECT k, unnest(j.\"order\".items) AS it FROM " +
                                             parsed + ")"),
            0);
  EXPECT_EQ(Difference(Parquet("tags"),
                       "SELECT k, CAST(CASE WHEN len(j.tags) > 0 THEN generate_subscripts(j.tags, 1) - 1 END AS INTEGER) AS pos, "
                       "unnest(CASE WHEN len(j.tags) > 0 THEN j.tags ELSE [NULL] END) AS col FROM " + parsed),
            0);
  EXPECT_EQ(Difference(Parquet("sku_qty"), "SELECT it.sku AS sku, sum(it.qty) AS qty, count(*) AS n FROM (SELECT unnest(j.\"order\".items) "
                                              "AS it FROM " + parsed + ") GROUP BY it.sku", 5),
            0);
  EXPECT_EQ(Difference(Parquet("tuples"),
                       "SELECT k, CASE WHEN json_valid(payload) THEN json_extract_string(payload, '$.id') END AS c0, "
                       "CASE WHEN json_valid(payload) THEN json_extract_string(payload, '$.tags') END AS c1, "
                       "CAST(NULL AS VARCHAR) AS c2 FROM " + parsed),
            0);
}

}  // namespace
}  // namespace lakepipe::runtime
