// Tests of the Kafka sink against librdkafka's mock cluster (kafka/dev_broker.h): what
// each version sends (keys, JSON values, headers), the change data feed, the refusal of
// rewrites, and recovery of an interrupted run from the topic's tail (no duplicates).
#include "publish/kafka_sink.h"

#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <map>
#include <set>

#include "common/fs.h"
#include "delta/row_changes.h"
#include "delta/table.h"
#include "kafka/dev_broker.h"
#include "kafka/producer.h"
#include "kafka/topic_reader.h"
#include "testing/testing.h"

#include <nlohmann/json.hpp>

namespace lakepipe::publish {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

Schema KvSchema() { return *Schema::ParseDDL("id BIGINT, name STRING"); }

RecordBatch Rows(const std::vector<std::pair<int64_t, std::optional<std::string>>>& rows) {
  Column id(DataType::Long()), name(DataType::String());
  for (const auto& [k, v] : rows) {
    id.Append<int64_t>(k);
    if (v) name.AppendString(*v);
    else name.AppendNull();
  }
  std::vector<Column> cols;
  cols.push_back(std::move(id));
  cols.push_back(std::move(name));
  return RecordBatch::FromColumns(KvSchema(), std::move(cols));
}

std::string Header(const kafka::TopicMessage& m, const std::string& name) {
  for (const auto& [k, v] : m.headers) {
    if (k == name) return v;
  }
  return "<none>";
}

class KafkaSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = kafka::DevBroker::Start();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(*b);
    ASSERT_TRUE(broker_->CreateTopic("out", 3).ok());
  }

  std::unique_ptr<delta::DeltaTable> Create(const std::string& name, bool change_feed) {
    delta::CreateOptions c;
    c.schema = KvSchema();
    if (change_feed) c.configuration["delta.enableChangeDataFeed"] = "true";
    auto t = delta::DeltaTable::Create(dir_.Join(name), c);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return std::move(*t);
  }

  KafkaSinkOptions Options(const std::string& table, const std::string& key = "id") {
    KafkaSinkOptions o;
    o.bootstrap_servers = broker_->bootstrap_servers();
    o.progress_dir = dir_.Join("_publish/kafka");
    o.tables.push_back({table, dir_.Join(table), "out", key});
    return o;
  }

  std::vector<kafka::TopicMessage> Topic() {
    std::vector<kafka::TopicMessage> out;
    Status s = kafka::ReadTopic(broker_->bootstrap_servers(), {}, "out", {}, [&](const kafka::TopicMessage& m) {
      out.push_back(m);
      return Status::OK();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  // "version/seq key value" of every message, sorted.
  std::multiset<std::string> Summary() {
    std::multiset<std::string> out;
    for (const auto& m : Topic()) {
      out.insert(Header(m, "lakepipe.version") + "/" + Header(m, "lakepipe.seq") + " " + m.key.value_or("<null>") +
                 " " + m.value.value_or("<null>"));
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<kafka::DevBroker> broker_;
};

TEST_F(KafkaSinkTest, AppendedRowsAreSentOnceWithKeysJsonValuesAndHeaders) {
  auto t = Create("t", false);
  ASSERT_TRUE(t->Write({Rows({{1, "a"}, {2, "b"}})}, {}).ok());  // v1
  KafkaSink sink(Options("t"));
  auto r = sink.Publish("t");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->technique, "kafka");
  EXPECT_EQ(r->from_version, -1);
  EXPECT_EQ(r->to_version, 1);
  EXPECT_EQ(r->messages_sent, 2);
  EXPECT_FALSE(r->from_change_feed);
  auto messages = Topic();
  ASSERT_EQ(messages.size(), 2u);
  std::string table_id = (*t->Latest())->metadata().id;
  for (const auto& m : messages) {
    EXPECT_EQ(Header(m, "lakepipe.table"), "t");
    EXPECT_EQ(Header(m, "lakepipe.table_id"), table_id);
    EXPECT_EQ(Header(m, "lakepipe.version"), "1");
  }
  EXPECT_EQ(Summary(), (std::multiset<std::string>{"1/0 1 {\"id\":1,\"name\":\"a\"}", "1/1 2 {\"id\":2,\"name\":\"b\"}"}));

  // Nothing new: nothing sent.
  auto again = sink.Publish("t");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->technique, "up to date");
  EXPECT_EQ(Topic().size(), 2u);

  // The next versions: only their rows; NULL fields left out as to_json does; OPTIMIZE
  // (no data change) sends nothing.
  ASSERT_TRUE(t->Write({Rows({{3, std::nullopt}})}, {}).ok());  // v2
  ASSERT_TRUE(t->Optimize().ok());                              // v3
  ASSERT_TRUE(t->Write({Rows({{4, "d"}})}, {}).ok());           // v4
  auto next = sink.Publish("t");
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->from_version, 1);
  EXPECT_EQ(next->to_version, 4);
  EXPECT_EQ(next->messages_sent, 2);
  auto lag = sink.Lag("t");
  ASSERT_TRUE(lag.ok());
  EXPECT_EQ(lag->published_version, 4);
  EXPECT_EQ(lag->lag_versions, 0);
  EXPECT_EQ(Summary(), (std::multiset<std::string>{"1/0 1 {\"id\":1,\"name\":\"a\"}", "1/1 2 {\"id\":2,\"name\":\"b\"}",
                                                   "2/0 3 {\"id\":3}", "4/0 4 {\"id\":4,\"name\":\"d\"}"}));
  // A new sink object (a new process) goes on from the progress file.
  ASSERT_TRUE(t->Write({Rows({{5, "e"}})}, {}).ok());  // v5
  KafkaSink restarted(Options("t"));
  auto later = restarted.Publish("t");
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->from_version, 4);
  EXPECT_EQ(later->messages_sent, 1);
  EXPECT_EQ(later->messages_already_in_topic, 0);
  EXPECT_EQ(Topic().size(), 5u);
}

// A version written in many row groups is read a row group at a time: its messages are
// numbered through the version (seq 0..n-1 in row order), each sent once.
TEST_F(KafkaSinkTest, AVersionOfManyRowGroupsIsSentInRowOrder) {
  auto t = Create("t", false);
  std::vector<RecordBatch> parts;
  for (int64_t part = 0; part < 6; ++part) {
    std::vector<std::pair<int64_t, std::optional<std::string>>> rows;
    for (int64_t id = part * 100; id < part * 100 + 100; ++id) rows.push_back({id, "n" + std::to_string(id)});
    parts.push_back(Rows(rows));
  }
  delta::WriteOptions small_groups;
  small_groups.parquet.row_group_bytes = 1024;
  ASSERT_TRUE(t->Write(parts, small_groups).ok());
  KafkaSink sink(Options("t"));
  auto r = sink.Publish("t");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->messages_sent, 600);
  std::map<int64_t, std::string> by_seq;
  for (const auto& m : Topic()) {
    EXPECT_TRUE(by_seq.emplace(std::stoll(Header(m, "lakepipe.seq")), m.key.value_or("")).second) << "seq sent twice";
  }
  ASSERT_EQ(by_seq.size(), 600u);
  for (const auto& [seq, key] : by_seq) EXPECT_EQ(key, std::to_string(seq));
}

// A run that sent (all or part of) a version's messages and died before its progress
// write: the next run finds them in the topic by their headers and sends only the rest.
TEST_F(KafkaSinkTest, AnInterruptedRunIsCompletedWithoutDuplicates) {
  auto t = Create("t", false);
  std::vector<std::pair<int64_t, std::optional<std::string>>> v1, v2, v3;
  for (int64_t i = 0; i < 100; ++i) v1.push_back({i, "n" + std::to_string(i)});
  for (int64_t i = 100; i < 200; ++i) v2.push_back({i, "n" + std::to_string(i)});
  for (int64_t i = 200; i < 300; ++i) v3.push_back({i, "n" + std::to_string(i)});
  ASSERT_TRUE(t->Write({Rows(v1)}, {}).ok());
  ASSERT_TRUE(KafkaSink(Options("t")).Publish("t").ok());
  std::string progress_path = dir_.Join("_publish/kafka/t.json");
  std::string after_v1 = *FileSystem::Default()->ReadFile(progress_path);

  // Whole version sent, progress not written.
  ASSERT_TRUE(t->Write({Rows(v2)}, {}).ok());
  ASSERT_TRUE(KafkaSink(Options("t")).Publish("t").ok());
  ASSERT_TRUE(FileSystem::Default()->WriteFileAtomic(progress_path, after_v1).ok());
  auto r = KafkaSink(Options("t")).Publish("t");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->messages_already_in_topic, 100);
  EXPECT_EQ(r->messages_sent, 0);
  EXPECT_EQ(Topic().size(), 200u);

  // Part of a version sent (its first 30 messages, as the sink writes them), and a message
  // of another producer in between: 70 are sent, the stranger is left alone.
  ASSERT_TRUE(t->Write({Rows(v3)}, {}).ok());  // v3
  std::string after_v2 = *FileSystem::Default()->ReadFile(progress_path);
  std::string table_id = (*t->Latest())->metadata().id;
  {
    auto producer = kafka::Producer::Open(broker_->bootstrap_servers());
    ASSERT_TRUE(producer.ok());
    for (int64_t s = 0; s < 30; ++s) {
      int64_t id = 200 + s;
      std::string key = std::to_string(id);
      std::string value = "{\"id\":" + key + ",\"name\":\"n" + key + "\"}";
      ASSERT_TRUE((*producer)
                      ->Send("out", -1, key, value, 0,
                             {{"lakepipe.table", "t"}, {"lakepipe.table_id", table_id}, {"lakepipe.version", "3"},
                              {"lakepipe.seq", std::to_string(s)}})
                      .ok());
    }
    ASSERT_TRUE((*producer)->Send("out", 0, std::string_view("x"), std::string_view("someone else's"), 0, {}).ok());
    ASSERT_TRUE((*producer)->Flush().ok());
  }
  auto partial = KafkaSink(Options("t")).Publish("t");
  ASSERT_TRUE(partial.ok()) << partial.status().ToString();
  EXPECT_EQ(partial->from_version, 2);
  EXPECT_EQ(partial->messages_already_in_topic, 30);
  EXPECT_EQ(partial->messages_sent, 70);
  auto messages = Topic();
  ASSERT_EQ(messages.size(), 301u);
  std::set<int64_t> ids;
  std::set<std::string> version_seq;
  for (const auto& m : messages) {
    if (Header(m, "lakepipe.table") != "t") continue;
    ids.insert(std::stoll(*m.key));
    EXPECT_TRUE(version_seq.insert(Header(m, "lakepipe.version") + "/" + Header(m, "lakepipe.seq")).second)
        << "twice: " << Header(m, "lakepipe.version") << "/" << Header(m, "lakepipe.seq");
    EXPECT_EQ(*m.value, "{\"id\":" + *m.key + ",\"name\":\"n" + *m.key + "\"}");
  }
  EXPECT_EQ(ids.size(), 300u);
  EXPECT_EQ(*ids.begin(), 0);
  EXPECT_EQ(*ids.rbegin(), 299);
}

TEST_F(KafkaSinkTest, ChangeFeedTablesSendChangeRowsWithTheirType) {
  auto t = Create("c", true);
  ASSERT_TRUE(t->Write({Rows({{1, "a"}, {2, "b"}})}, {}).ok());  // v1
  delta::KeyedReplace change;  // v2: 1 updated, 2 deleted, 3 inserted
  change.key_columns = {"id"};
  {
    Column id(DataType::Long());
    for (int64_t k : {1, 2, 3}) id.Append<int64_t>(k);
    std::vector<Column> cols;
    cols.push_back(std::move(id));
    change.keys = RecordBatch::FromColumns(*Schema::ParseDDL("id BIGINT"), std::move(cols));
  }
  RecordBatch replacement = Rows({{1, "a2"}, {3, "c"}});
  ASSERT_TRUE(delta::ReplaceKeyedRows(*t, change, [&](const RecordBatch&) -> Result<RecordBatch> { return replacement; }, {})
                  .ok());
  KafkaSink sink(Options("c"));
  auto r = sink.Publish("c");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->from_change_feed);
  std::multiset<std::string> got;
  for (const auto& m : Topic()) {
    auto j = nlohmann::json::parse(*m.value);
    EXPECT_EQ(std::to_string(j["_commit_version"].get<int64_t>()), Header(m, "lakepipe.version"));
    EXPECT_TRUE(j.contains("_commit_timestamp"));
    got.insert(j["_change_type"].get<std::string>() + ":" + *m.key + "=" + j.value("name", "?"));
  }
  EXPECT_EQ(got, (std::multiset<std::string>{"insert:1=a", "insert:2=b", "update_preimage:1=a", "update_postimage:1=a2",
                                             "delete:2=b", "insert:3=c"}));
}

// A table whose change data feed was turned off after row-level commits: its latest
// version says "no feed", so only inserts may be sent, and the versions read hold change
// data files with updates and deletes. Found by a first pass over the change types alone,
// before anything is sent.
TEST_F(KafkaSinkTest, RowsRemovedWhileTheFeedWasOnStopTheTableOnceItIsOff) {
  auto t = Create("f", true);
  ASSERT_TRUE(t->Write({Rows({{1, "a"}, {2, "b"}})}, {}).ok());  // v1
  delta::KeyedReplace change;  // v2: 1 updated, 2 deleted
  change.key_columns = {"id"};
  {
    Column id(DataType::Long());
    for (int64_t k : {1, 2}) id.Append<int64_t>(k);
    std::vector<Column> cols;
    cols.push_back(std::move(id));
    change.keys = RecordBatch::FromColumns(*Schema::ParseDDL("id BIGINT"), std::move(cols));
  }
  RecordBatch replacement = Rows({{1, "a2"}});
  ASSERT_TRUE(delta::ReplaceKeyedRows(*t, change, [&](const RecordBatch&) -> Result<RecordBatch> { return replacement; }, {})
                  .ok());
  // v3: the feed turned off (a metaData action, as ALTER TABLE ... SET TBLPROPERTIES writes).
  auto latest = t->Latest();
  ASSERT_TRUE(latest.ok());
  delta::Metadata metadata = (*latest)->metadata();
  metadata.configuration["delta.enableChangeDataFeed"] = "false";
  ASSERT_TRUE(FileSystem::Default()
                  ->WriteFile(delta::LogDir(dir_.Join("f")) + "/" + delta::CommitFileName(3),
                              delta::SerializeAction(delta::Action(metadata)) + "\n")
                  .ok());
  ASSERT_TRUE(t->Write({Rows({{4, "d"}})}, {}).ok());  // v4
  KafkaSink sink(Options("f"));
  auto r = sink.Publish("f");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kConflict);
  EXPECT_THAT(r.status().message(), HasSubstr("version 2 removes rows"));
  EXPECT_TRUE(Topic().empty()) << "nothing may be sent before the refusal";
}

TEST_F(KafkaSinkTest, AnOverwriteWithoutAChangeFeedStopsTheTable) {
  auto t = Create("t", false);
  ASSERT_TRUE(t->Write({Rows({{1, "a"}})}, {}).ok());
  KafkaSink sink(Options("t"));
  ASSERT_TRUE(sink.Publish("t").ok());
  delta::WriteOptions w;
  w.mode = delta::WriteMode::kOverwrite;
  ASSERT_TRUE(t->Write({Rows({{2, "b"}})}, w).ok());
  auto r = sink.Publish("t");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kConflict);
  EXPECT_THAT(r.status().message(), HasSubstr("version 2"));
  EXPECT_THAT(r.status().message(), HasSubstr("delta.enableChangeDataFeed"));
  EXPECT_EQ(Topic().size(), 1u);
  auto lag = sink.Lag("t");
  ASSERT_TRUE(lag.ok());
  EXPECT_EQ(lag->published_version, 1);
  EXPECT_EQ(lag->lag_versions, 1);
  // --rebuild cannot take messages back.
  auto rebuild = sink.Publish("t", /*rebuild=*/true);
  ASSERT_FALSE(rebuild.ok());
  EXPECT_THAT(rebuild.status().message(), HasSubstr("cannot be taken back"));
}

TEST_F(KafkaSinkTest, ATableNotCreatedYetSendsNothing) {
  KafkaSink sink(Options("missing"));
  auto r = sink.Publish("missing");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->technique, "not created");
  EXPECT_EQ(*sink.LatestVersion("missing"), -1);
  EXPECT_FALSE(sink.Publish("other").ok());
}

}  // namespace
}  // namespace lakepipe::publish
