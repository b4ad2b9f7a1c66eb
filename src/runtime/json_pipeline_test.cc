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

class JsonPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
    ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("p")).ok());
    ASSERT_TRUE(fs_->WriteFile(JoinPath(landing_, "events.json"), Corpus(300, 7)).ok());
  }

  std::unique_ptr<PipelineRunner> Run(const std::string& sql) {
    EXPECT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"), "name: t\nstorage: " + storage_ +
                                                                 "\nlibraries: [p.sql]\ncontinuous: false\n"
                                                                 "configuration: {landing: " + landing_ + "}\n")
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
  int64_t Difference(const std::string& ours, const std::string& theirs) {
    auto rows = testing::DuckDBRows("WITH o AS (" + ours + "), t AS (" + theirs +
                                    ") SELECT ((SELECT count(*) FROM (SELECT * FROM o EXCEPT ALL SELECT * FROM t)) + "
                                    "(SELECT count(*) FROM (SELECT * FROM t EXCEPT ALL SELECT * FROM o)))::INTEGER AS d, "
                                    "(SELECT count(*) FROM o)::INTEGER AS n");
    if (rows.empty()) return -1;
    if (rows[0]["d"].get<int64_t>() != 0) {
      for (const char* side : {"o EXCEPT ALL SELECT * FROM t", "t EXCEPT ALL SELECT * FROM o"}) {
        auto diff = testing::DuckDBRows("WITH o AS (" + ours + "), t AS (" + theirs + ") SELECT * FROM " + side + " LIMIT 4");
        for (const auto& r : diff) ADD_FAILURE() << side << ": " << r.dump();
      }
    }
    EXPECT_GT(rows[0]["n"].get<int64_t>(), 100) << "too few rows compared";
    return rows[0]["d"].get<int64_t>();
  }

  std::string Parquet(const std::string& table) { return "SELECT * FROM read_parquet('" + storage_ + "/" + table + "/*.parquet')"; }
  std::string File() const { return JoinPath(landing_, "events.json"); }

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

}  // namespace
}  // namespace lakepipe::runtime
