// Malformed JSON payloads from Kafka (issue 11): a topic of nested, malformed and
// misfit payloads read with `from_json(..., '..., _corrupt_record STRING')`. No record is
// dropped or crashes the update: each keeps NULL fields and its raw text in the corrupt
// record field, with its topic, partition and offset beside it; an expectation on that
// field counts them (report and event log) and QUARANTINE moves them to
// `<table>_quarantine` with their coordinates. The expected results come from DuckDB's
// JSON functions over the same payloads as read back from the topic.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "delta/table.h"
#include "kafka/dev_broker.h"
#include "kafka/producer.h"
#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::kafka {
namespace {

// Payload i: nested and valid mostly; every 7th not JSON (cut short or plain text), every
// 11th valid JSON that does not fit the schema (a string id, an order that is not an
// object), some with keys the schema lacks (ignored, as Spark does).
std::string Payload(int i) {
  if (i % 7 == 3) return i % 2 ? "{\"id\": " + std::to_string(i) + ", \"order\": {\"sku\": " : "not json " + std::to_string(i);
  if (i % 11 == 5) return i % 2 ? "{\"id\": \"seven\", \"order\": {\"sku\": \"A\"}}" : "{\"id\": " + std::to_string(i) + ", \"order\": 5}";
  std::string items;
  for (int k = 0; k < i % 3; ++k) items += std::string(k ? "," : "") + "{\"sku\":\"S" + std::to_string(k) + "\",\"qty\":" + std::to_string(k + 1) + "}";
  return "{\"id\":" + std::to_string(i) + ",\"order\":{\"sku\":\"A" + std::to_string(i % 5) + "\",\"items\":[" + items +
         "],\"where\":{\"city\":\"S\\u00e3o Paulo\"}}" + (i % 4 == 0 ? ",\"extra\":true" : "") + "}";
}

class KafkaJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
    auto b = DevBroker::Start();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(*b);
    ASSERT_TRUE(broker_->CreateTopic("events", 3).ok());
    auto p = Producer::Open(broker_->bootstrap_servers());
    ASSERT_TRUE(p.ok());
    for (int i = 0; i < kMessages; ++i) {
      std::string v = Payload(i);
      ASSERT_TRUE((*p)->Send("events", i % 3, std::nullopt, v).ok());
    }
    ASSERT_TRUE((*p)->Flush().ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("p")).ok());
  }

  std::unique_ptr<runtime::PipelineRunner> Run(const std::string& sql, runtime::UpdateReport* report) {
    EXPECT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"), "name: k\nstorage: " + dir_.Join("storage") +
                                                                   "\nlibraries: [p.sql]\nconfiguration: {kafka: '" +
                                                                   broker_->bootstrap_servers() + "'}\n")
                    .ok());
    EXPECT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"), sql).ok());
    auto runner = runtime::PipelineRunner::Open(dir_.Join("p"), {});
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    if (!runner.ok()) return nullptr;
    auto r = (*runner)->RunOnce({});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) {
      for (const auto& t : r->tables) EXPECT_NE(t.status, "failed") << t.table << ": " << t.message;
      *report = *r;
    }
    return std::move(runner).value();
  }

  std::string Scan(const std::string& name) {
    auto table = delta::DeltaTable::Open(dir_.Join("storage/" + name));
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    if (!table.ok()) return "(SELECT 1 WHERE false)";
    std::string files;
    auto snap = (*table)->Latest();  // kept alive while its files are listed
    EXPECT_TRUE(snap.ok());
    if (!snap.ok()) return "(SELECT 1 WHERE false)";
    for (const auto& f : (*snap)->files()) files += (files.empty() ? "'" : ", '") + f.full_path + "'";
    return "read_parquet([" + files + "])";
  }

  static constexpr int kMessages = 400;
  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::unique_ptr<DevBroker> broker_;
};

constexpr const char* kSchema =
    "id BIGINT, order STRUCT<sku: STRING, items: ARRAY<STRUCT<sku: STRING, qty: INT>>, where: STRUCT<city: STRING>>, "
    "_corrupt_record STRING";

// DuckDB's view of each payload: the fields json_transform gives for valid JSON, and the
// corrupt text where the JSON is invalid or its id / order do not have the schema's type.
std::string DuckExpected(const std::string& bronze) {
  return "SELECT topic, partition, \"offset\", "
         "CASE WHEN json_valid(p) THEN json_transform(p, '{\"id\":\"BIGINT\"}').id END AS id, "
         "CASE WHEN json_valid(p) THEN json_extract_string(p, '$.order.sku') END AS sku, "
         "CASE WHEN json_valid(p) THEN json_extract_string(p, '$.order.where.city') END AS city, "
         "CASE WHEN json_valid(p) THEN json_array_length(p, '$.order.items') END AS items, "
         "CASE WHEN NOT json_valid(p) THEN p "
         "     WHEN coalesce(json_type(p, '$.id'), 'NULL') NOT IN ('BIGINT', 'UBIGINT', 'NULL') THEN p "
         "     WHEN coalesce(json_type(p, '$.order'), 'NULL') NOT IN ('OBJECT', 'NULL') THEN p END AS corrupt "
         "FROM (SELECT topic, partition, \"offset\", payload AS p FROM " + bronze + ")";
}

TEST_F(KafkaJsonTest, MalformedPayloadsKeepTheirTextAndCoordinatesAndAreCounted) {
  runtime::UpdateReport report;
  auto runner = Run(
      "CREATE OR REFRESH STREAMING TABLE bronze AS SELECT CAST(value AS STRING) AS payload, "
      "from_json(CAST(value AS STRING), '" + std::string(kSchema) + "') AS j, topic, partition, offset "
      "FROM STREAM read_kafka(bootstrapServers => '${kafka}', subscribe => 'events', startingOffsets => 'earliest');\n"
      "CREATE OR REFRESH STREAMING TABLE silver (\n"
      "  CONSTRAINT parsed EXPECT (raw IS NULL) ON VIOLATION QUARANTINE\n"
      ") AS SELECT j.id, j.order.sku, j._corrupt_record AS raw, topic, partition, offset FROM STREAM(bronze);\n",
      &report);
  ASSERT_NE(runner, nullptr);
  // Every message is in Bronze, none dropped.
  std::string bronze = Scan("bronze");
  auto n = testing::DuckDBRows("SELECT count(*)::INTEGER AS n, count(DISTINCT (partition, \"offset\"))::INTEGER AS c FROM " + bronze);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0]["n"].get<int>(), kMessages);
  EXPECT_EQ(n[0]["c"].get<int>(), kMessages);
  // Ours against DuckDB's reading of the same payloads, row for row.
  std::string ours = "SELECT topic, partition, \"offset\", j.id AS id, j.order.sku AS sku, j.order.where.city AS city, "
                     "len(j.order.items) AS items, j._corrupt_record AS corrupt FROM " + bronze;
  auto diff = testing::DuckDBRows("WITH o AS (" + ours + "), t AS (" + DuckExpected(bronze) +
                                  ") SELECT (SELECT count(*) FROM (SELECT * FROM o EXCEPT ALL SELECT * FROM t))::INTEGER AS extra, "
                                  "(SELECT count(*) FROM (SELECT * FROM t EXCEPT ALL SELECT * FROM o))::INTEGER AS missing, "
                                  "(SELECT count(*) FROM t WHERE corrupt IS NOT NULL)::INTEGER AS corrupt");
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_EQ(diff[0]["extra"].get<int>(), 0) << diff[0].dump();
  EXPECT_EQ(diff[0]["missing"].get<int>(), 0) << diff[0].dump();
  int corrupt = diff[0]["corrupt"].get<int>();
  int expected_corrupt = 0;
  for (int i = 0; i < kMessages; ++i) expected_corrupt += (i % 7 == 3) || (i % 11 == 5 && i % 7 != 3);
  EXPECT_EQ(corrupt, expected_corrupt);
  // Malformed records: every data field NULL (PERMISSIVE), only the text kept.
  auto bad = testing::DuckDBRows("SELECT count(*)::INTEGER AS n FROM " + bronze +
                                 " WHERE NOT json_valid(payload) AND j.id IS NULL AND j.order IS NULL AND j._corrupt_record = payload");
  EXPECT_EQ(bad[0]["n"].get<int>(), kMessages / 7 + (kMessages % 7 > 3));

  // The expectation counts them (report and event log) and quarantines them with their
  // Kafka coordinates; Silver has the others.
  const runtime::TableReport* silver = nullptr;
  for (const auto& t : report.tables)
    if (t.table == "silver") silver = &t;
  ASSERT_NE(silver, nullptr);
  ASSERT_EQ(silver->expectations.size(), 1u);
  EXPECT_EQ(silver->expectations[0].failed, corrupt);
  EXPECT_EQ(silver->expectations[0].passed, kMessages - corrupt);
  EXPECT_EQ(silver->rows_quarantined, corrupt);
  auto quarantine = testing::DuckDBRows(
      "SELECT count(*)::INTEGER AS n, count(*) FILTER (WHERE q.raw = b.payload)::INTEGER AS same FROM " +
      Scan("silver_quarantine") + " q JOIN " + bronze + " b USING (topic, partition, \"offset\")");
  EXPECT_EQ(quarantine[0]["n"].get<int>(), corrupt);
  EXPECT_EQ(quarantine[0]["same"].get<int>(), corrupt);
  auto clean = testing::DuckDBRows("SELECT count(*)::INTEGER AS n, count(raw)::INTEGER AS raw FROM " + Scan("silver"));
  EXPECT_EQ(clean[0]["n"].get<int>(), kMessages - corrupt);
  EXPECT_EQ(clean[0]["raw"].get<int>(), 0);
  auto events = testing::DuckDBRows(
      "SELECT details FROM " + Scan("_event_log") + " WHERE event_type = 'flow_progress' AND table_name = 'silver'");
  ASSERT_FALSE(events.empty());
  EXPECT_THAT(events[0]["details"].get<std::string>(), ::testing::HasSubstr("\"failed\":" + std::to_string(corrupt)));
}

TEST_F(KafkaJsonTest, FailFastStopsTheUpdateNamingTheRecord) {
  ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"), "name: k\nstorage: " + dir_.Join("storage") +
                                                                 "\nlibraries: [p.sql]\n")
                  .ok());
  ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"),
                             "CREATE OR REFRESH STREAMING TABLE bronze AS SELECT from_json(CAST(value AS STRING), "
                             "'id BIGINT', map('mode', 'FAILFAST')) AS j FROM STREAM read_kafka(bootstrapServers => '" +
                                 broker_->bootstrap_servers() + "', subscribe => 'events', startingOffsets => 'earliest');\n")
                  .ok());
  auto runner = runtime::PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  auto r = (*runner)->RunOnce({});
  std::string message = r.ok() ? (r->tables.empty() ? "" : r->tables[0].message) : r.status().message();
  if (r.ok()) {
    ASSERT_FALSE(r->tables.empty());
    EXPECT_EQ(r->tables[0].status, "failed");
  }
  EXPECT_THAT(message, ::testing::HasSubstr("FAILFAST"));
  EXPECT_FALSE(delta::DeltaTable::Exists(dir_.Join("storage/bronze")) &&
               (*(*delta::DeltaTable::Open(dir_.Join("storage/bronze")))->Latest())->num_records() > 0);
}

}  // namespace
}  // namespace lakepipe::kafka
