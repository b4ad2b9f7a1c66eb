// read_kafka end to end against librdkafka's mock cluster (DevBroker), started by each
// test: pipelines read topics into Delta tables through the runtime, and the tables are
// checked message by message (partition, offset, value).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "delta/table.h"
#include "kafka/client.h"
#include "kafka/dev_broker.h"
#include "kafka/producer.h"
#include "runtime/pipeline_runner.h"
#include "sql/pipeline.h"
#include "sql/resolve.h"
#include "testing/testing.h"

namespace lakepipe::kafka {
namespace {

using ::testing::HasSubstr;

class KafkaSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = DevBroker::Start();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(*b);
    ASSERT_TRUE(broker_->CreateTopic("orders", 4).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("p")).ok());
  }

  void Pipeline(const std::string& options, const std::string& select = "*") {
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"), "name: k\nstorage: " + dir_.Join("storage") +
                                                                   "\nlibraries: [p.sql]\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"),
                               "CREATE OR REFRESH STREAMING TABLE bronze AS SELECT " + select +
                                   " FROM STREAM read_kafka(bootstrapServers => '" + broker_->bootstrap_servers() +
                                   "', " + options + ");\n")
                    .ok());
  }

  // Messages value "m<i>" with key "k<i>", round-robin over the 4 partitions.
  void Produce(int from, int to, const std::string& topic = "orders") {
    auto p = Producer::Open(broker_->bootstrap_servers());
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    for (int i = from; i < to; ++i) {
      std::string k = "k" + std::to_string(i), v = "m" + std::to_string(i);
      ASSERT_TRUE((*p)->Send(topic, i % 4, k, v, 0, {{"h", "x" + std::to_string(i)}}).ok());
    }
    ASSERT_TRUE((*p)->Flush().ok());
  }

  std::unique_ptr<runtime::PipelineRunner> Open() {
    auto runner = runtime::PipelineRunner::Open(dir_.Join("p"), {});
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    return runner.ok() ? std::move(runner).value() : nullptr;
  }

  static const runtime::TableReport* Bronze(const runtime::UpdateReport& r) {
    for (const auto& t : r.tables)
      if (t.table == "bronze") return &t;
    return nullptr;
  }

  // The Bronze table as DuckDB reads it: (partition, offset, value) rows.
  std::vector<nlohmann::json> Rows(const std::string& what = "partition, \"offset\"::INTEGER AS \"offset\", CAST(value AS VARCHAR) AS v") {
    return testing::DuckDBRows("SELECT " + what + " FROM " + Scan("bronze") + " ORDER BY partition, \"offset\"");
  }

  // DuckDB's read_parquet over the data files of the latest version of table `name`.
  std::string Scan(const std::string& name) {
    auto table = delta::DeltaTable::Open(dir_.Join("storage/" + name));
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    if (!table.ok()) return "(SELECT 1 WHERE false)";
    auto snap = (*table)->Latest();
    std::string files;
    for (const auto& f : (*snap)->files()) files += (files.empty() ? "'" : ", '") + f.full_path + "'";
    if (files.empty()) return "(SELECT NULL AS partition, NULL AS \"offset\", NULL AS value WHERE false)";
    return "read_parquet([" + files + "])";
  }

  // Every message i in [0, n) is in Bronze exactly once, at the partition it was sent to.
  void ExpectExactlyOnce(int n) {
    auto rows = Rows();
    ASSERT_EQ(rows.size(), static_cast<size_t>(n));
    std::set<std::pair<int, int64_t>> coords;
    std::set<std::string> values;
    for (const auto& r : rows) {
      coords.insert({r["partition"].get<int>(), r["offset"].get<int64_t>()});
      std::string v = r["v"].get<std::string>();
      int i = std::stoi(v.substr(1));
      EXPECT_EQ(i % 4, r["partition"].get<int>()) << v;
      values.insert(v);
    }
    EXPECT_EQ(coords.size(), static_cast<size_t>(n));
    EXPECT_EQ(values.size(), static_cast<size_t>(n));
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::unique_ptr<DevBroker> broker_;
};

// The wake-up consumer of a continuous run polls the mock cluster often, because that
// broker answers an empty long poll only when its wait is over; real brokers get a long poll.
TEST_F(KafkaSourceTest, TheDevelopmentBrokerIsRecognisedAsTheMockClusterAndNothingElseIs) {
  auto client = [](const std::string& servers) {
    auto conf = MakeConf({{"bootstrap.servers", servers}});
    EXPECT_TRUE(conf.ok()) << conf.status().ToString();
    auto rk = NewClient(RD_KAFKA_PRODUCER, std::move(*conf));
    EXPECT_TRUE(rk.ok()) << rk.status().ToString();
    return std::move(*rk);
  };
  EXPECT_TRUE(IsMockCluster(client(broker_->bootstrap_servers()).get()));
  // Nothing listens on port 1: no metadata, so not the mock cluster.
  EXPECT_FALSE(IsMockCluster(client("127.0.0.1:1").get()));
}

TEST_F(KafkaSourceTest, ReadsEveryMessageOnceAcrossUpdatesAndRestarts) {
  Pipeline("subscribe => 'orders', startingOffsets => 'earliest'");
  Produce(0, 1000);
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  auto u1 = runner->RunOnce({});
  ASSERT_TRUE(u1.ok()) << u1.status().ToString();
  ASSERT_EQ(Bronze(*u1)->status, "updated") << Bronze(*u1)->message;
  EXPECT_EQ(Bronze(*u1)->rows_written, 1000);
  Produce(1000, 1500);
  auto u2 = runner->RunOnce({});
  ASSERT_TRUE(u2.ok());
  EXPECT_EQ(Bronze(*u2)->rows_written, 500);
  // A restart resumes from the checkpoint's plans: nothing is read twice.
  runner.reset();
  auto restarted = Open();
  auto u3 = restarted->RunOnce({});
  ASSERT_TRUE(u3.ok());
  EXPECT_EQ(Bronze(*u3)->rows_written, 0);
  ExpectExactlyOnce(1500);
  // The other columns: key, topic, timestamp, headers.
  auto rows = Rows("CAST(key AS VARCHAR) AS k, topic, timestamp IS NOT NULL AS ts, timestampType, "
                   "CAST(headers[1].value AS VARCHAR) AS h, headers[1].key AS hk, CAST(value AS VARCHAR) AS v");
  ASSERT_EQ(rows.size(), 1500u);
  for (const auto& r : rows) {
    std::string i = r["v"].get<std::string>().substr(1);
    EXPECT_EQ(r["k"], "k" + i);
    EXPECT_EQ(r["topic"], "orders");
    EXPECT_EQ(r["ts"], true);
    EXPECT_EQ(r["timestampType"], 0);
    EXPECT_EQ(r["hk"], "h");
    EXPECT_EQ(r["h"], "x" + i);
  }
}

TEST_F(KafkaSourceTest, StartingOffsetsLatestSkipsWhatWasThereAndMaxOffsetsSplitsBatches) {
  Pipeline("subscribe => 'orders', maxOffsetsPerTrigger => 100");
  Produce(0, 40);  // before the flow starts: not read (latest is the default)
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  ASSERT_TRUE(runner->RunOnce({}).ok());
  Produce(40, 440);
  auto u = runner->RunOnce({});
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(Bronze(*u)->rows_written, 400);
  EXPECT_GE(Bronze(*u)->batches, 4);  // at most 100 offsets per batch
  auto rows = Rows();
  ASSERT_EQ(rows.size(), 400u);
  for (const auto& r : rows) EXPECT_GE(std::stoi(r["v"].get<std::string>().substr(1)), 40);
}

TEST_F(KafkaSourceTest, CastValueToStringAndFilter) {
  Pipeline("subscribe => 'orders', startingOffsets => 'earliest'",
           "CAST(value AS STRING) AS v, value::string AS v2, partition");
  Produce(0, 20);
  auto runner = Open();
  auto u = runner->RunOnce({});
  ASSERT_TRUE(u.ok());
  ASSERT_EQ(Bronze(*u)->status, "updated") << Bronze(*u)->message;
  auto rows = testing::DuckDBRows("SELECT v, v2 FROM " + Scan("bronze") + " ORDER BY v");
  ASSERT_EQ(rows.size(), 20u);
  EXPECT_EQ(rows[0]["v"], "m0");
  EXPECT_EQ(rows[0]["v2"], "m0");
}

TEST_F(KafkaSourceTest, AssignReadsOnlyItsPartitionsAndNewPartitionsOfSubscribeArePickedUp) {
  Pipeline("assign => '{\"orders\":[1,3]}', startingOffsets => 'earliest'");
  Produce(0, 100);
  auto runner = Open();
  auto u = runner->RunOnce({});
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(Bronze(*u)->rows_written, 50);
  for (const auto& r : Rows()) EXPECT_EQ(r["partition"].get<int>() % 2, 1);
}

TEST_F(KafkaSourceTest, SubscribePatternFindsTopicsCreatedLater) {
  Pipeline("subscribePattern => 'ord.*', startingOffsets => 'earliest'", "topic, CAST(value AS STRING) AS v");
  Produce(0, 8);
  auto runner = Open();
  ASSERT_TRUE(runner->RunOnce({}).ok());
  ASSERT_TRUE(broker_->CreateTopic("ordinals", 2).ok());
  {
    auto p = Producer::Open(broker_->bootstrap_servers());
    ASSERT_TRUE(p.ok());
    for (int i = 0; i < 6; ++i) ASSERT_TRUE((*p)->Send("ordinals", i % 2, std::nullopt, "n" + std::to_string(i)).ok());
    ASSERT_TRUE((*p)->Flush().ok());
  }
  auto u = runner->RunOnce({});
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(Bronze(*u)->rows_written, 6);  // a new topic's partitions start at their earliest offset
  auto rows = testing::DuckDBRows("SELECT topic, count(*)::INTEGER AS n FROM " + Scan("bronze") +
                                  " GROUP BY topic ORDER BY topic");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["topic"], "orders");
  EXPECT_EQ(rows[0]["n"], 8);
  EXPECT_EQ(rows[1]["topic"], "ordinals");
  EXPECT_EQ(rows[1]["n"], 6);
}

// The mock broker keeps ~5 MB per partition: writing more drops the oldest messages, as
// retention does. Offsets the flow had not read yet are then lost.
void OverflowPartitionZero(DevBroker& broker) {
  auto p = Producer::Open(broker.bootstrap_servers(), {{"linger.ms", "0"}});
  ASSERT_TRUE(p.ok());
  std::string big(64 * 1024, 'x');
  for (int i = 0; i < 120; ++i) ASSERT_TRUE((*p)->Send("orders", 0, std::nullopt, big).ok());
  ASSERT_TRUE((*p)->Flush().ok());
}

TEST_F(KafkaSourceTest, RetentionLossFailsNamingTheRangeByDefault) {
  Pipeline("subscribe => 'orders', startingOffsets => 'earliest'");
  Produce(0, 8);
  auto runner = Open();
  ASSERT_TRUE(runner->RunOnce({}).ok());
  OverflowPartitionZero(*broker_);
  runner.reset();
  // Planned from the checkpoint: partition 0 continues at offset 2, which is gone.
  auto restarted = Open();
  auto u = restarted->RunOnce({});
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(Bronze(*u)->status, "failed");
  EXPECT_THAT(Bronze(*u)->message, HasSubstr("data loss: topic orders partition 0: offsets [2, "));
  EXPECT_THAT(Bronze(*u)->message, HasSubstr("failOnDataLoss"));
}

TEST_F(KafkaSourceTest, RetentionLossIsLoggedAndSkippedWithFailOnDataLossFalse) {
  Pipeline("subscribe => 'orders', startingOffsets => 'earliest', failOnDataLoss => false");
  Produce(0, 8);
  auto runner = Open();
  ASSERT_TRUE(runner->RunOnce({}).ok());
  OverflowPartitionZero(*broker_);
  auto u = runner->RunOnce({});
  ASSERT_TRUE(u.ok());
  ASSERT_EQ(Bronze(*u)->status, "updated") << Bronze(*u)->message;
  bool logged = false;
  for (const auto& [kind, message] : Bronze(*u)->warnings)
    logged |= kind == "kafka_data_loss" && message.find("topic orders partition 0: offsets [2, ") != std::string::npos;
  EXPECT_TRUE(logged);
  // The event log has it too.
  auto events = testing::DuckDBRows("SELECT count(*)::INTEGER AS n FROM " + Scan("_event_log") +
                                    " WHERE message LIKE '%offsets [2, %'");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_GE(events[0]["n"].get<int>(), 1);
}

// A topic that is gone: the pipeline moves to another broker (a new cluster, as after a
// topic was deleted and nothing recreated it) where the topic does not exist. The mock
// cluster cannot delete a topic, so the cluster is replaced; `${kafka}` is the same query.
TEST_F(KafkaSourceTest, ATopicThatIsGoneFailsNamingItByDefaultAndIsLoggedWithFailOnDataLossFalse) {
  for (bool fail_on_loss : {true, false}) {
    SCOPED_TRACE(fail_on_loss ? "failOnDataLoss true" : "failOnDataLoss false");
    ASSERT_TRUE(fs_->RemoveAll(dir_.Join("storage")).ok());
    auto first = DevBroker::Start();
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE((*first)->CreateTopic("orders", 4).ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"),
                               std::string("CREATE OR REFRESH STREAMING TABLE bronze AS SELECT * FROM STREAM "
                                           "read_kafka(bootstrapServers => '${kafka}', subscribe => 'orders', "
                                           "startingOffsets => 'earliest'") +
                                   (fail_on_loss ? "" : ", failOnDataLoss => false") + ");\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"),
                               "name: k\nstorage: " + dir_.Join("storage") + "\nlibraries: [p.sql]\n")
                    .ok());
    auto p = Producer::Open((*first)->bootstrap_servers());
    ASSERT_TRUE(p.ok());
    for (int i = 0; i < 8; ++i) ASSERT_TRUE((*p)->Send("orders", i % 4, std::nullopt, "m" + std::to_string(i)).ok());
    ASSERT_TRUE((*p)->Flush().ok());
    p->reset();
    {
      auto runner = runtime::PipelineRunner::Open(dir_.Join("p"), {{"kafka", (*first)->bootstrap_servers()}});
      ASSERT_TRUE(runner.ok()) << runner.status().ToString();
      auto u = (*runner)->RunOnce({});
      ASSERT_TRUE(u.ok());
      ASSERT_EQ(Bronze(*u)->rows_written, 8) << Bronze(*u)->message;
    }
    first->reset();
    auto second = DevBroker::Start();
    ASSERT_TRUE(second.ok());
    auto runner = runtime::PipelineRunner::Open(dir_.Join("p"), {{"kafka", (*second)->bootstrap_servers()}});
    ASSERT_TRUE(runner.ok()) << runner.status().ToString();
    auto u = (*runner)->RunOnce({});
    ASSERT_TRUE(u.ok());
    if (fail_on_loss) {
      EXPECT_EQ(Bronze(*u)->status, "failed");
      EXPECT_THAT(Bronze(*u)->message, HasSubstr("data loss: topic orders partition "));
      EXPECT_THAT(Bronze(*u)->message, HasSubstr("no longer exists (topic deleted?)"));
    } else {
      ASSERT_NE(Bronze(*u)->status, "failed") << Bronze(*u)->message;
      int logged = 0;
      for (const auto& [kind, message] : Bronze(*u)->warnings)
        logged += kind == "kafka_data_loss" && message.find("no longer exists") != std::string::npos;
      EXPECT_EQ(logged, 4);  // each of the topic's partitions
    }
  }
}

// startingTimestamp asks the broker for each partition's first offset at or after the
// timestamp (ListOffsets by time). librdkafka 2.0.2's mock cluster does not look offsets up
// by time: it answers -1, which Kafka uses for "no message at or after it". What is tested
// here is that answer's meaning: the flow starts at the partitions' ends, and reads what is
// produced afterwards once.
TEST_F(KafkaSourceTest, StartingTimestampWithNoMessageAtOrAfterItStartsAtTheEnd) {
  Produce(0, 40);
  Pipeline("subscribe => 'orders', startingTimestamp => 1700000000000");
  auto runner = Open();
  auto u1 = runner->RunOnce({});
  ASSERT_TRUE(u1.ok());
  ASSERT_NE(Bronze(*u1)->status, "failed") << Bronze(*u1)->message;
  EXPECT_EQ(Bronze(*u1)->rows_written, 0);
  Produce(40, 45);
  auto u2 = runner->RunOnce({});
  ASSERT_TRUE(u2.ok());
  ASSERT_EQ(Bronze(*u2)->status, "updated") << Bronze(*u2)->message;
  std::set<std::string> got;
  for (const auto& r : Rows("CAST(value AS VARCHAR) AS v")) got.insert(r["v"].get<std::string>());
  EXPECT_EQ(got, (std::set<std::string>{"m40", "m41", "m42", "m43", "m44"}));
}

TEST_F(KafkaSourceTest, BrokerDownAndRequestErrorsLoseNothingAndDoubleNothing) {
  Pipeline("subscribe => 'orders', startingOffsets => 'earliest', maxOffsetsPerTrigger => 250");
  Produce(0, 1000);
  auto runner = Open();
  // Fetch (1) and ListOffsets (2) requests fail a few times; then the broker goes down
  // for a while in the middle of the run.
  broker_->PushRequestErrors(1, 3, 6 /* NOT_LEADER_FOR_PARTITION */);
  broker_->PushRequestErrors(2, 2, 7 /* REQUEST_TIMED_OUT */);
  auto u1 = runner->RunOnce({});
  ASSERT_TRUE(u1.ok());
  ASSERT_EQ(Bronze(*u1)->status, "updated") << Bronze(*u1)->message;
  Produce(1000, 2000);
  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  std::thread up([this] {
    std::this_thread::sleep_for(std::chrono::seconds(3));
    ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
  });
  auto u2 = runner->RunOnce({});
  up.join();
  ASSERT_TRUE(u2.ok());
  if (Bronze(*u2)->status == "failed") {  // the outage outlasted a request: the next run resumes
    auto u3 = runner->RunOnce({});
    ASSERT_TRUE(u3.ok());
    ASSERT_EQ(Bronze(*u3)->status, "updated") << Bronze(*u3)->message;
  }
  ExpectExactlyOnce(2000);
  // The outage is in the event log: a failed update or librdkafka's errors as a warning.
  auto events = testing::DuckDBRows("SELECT count(*)::INTEGER AS n FROM " + Scan("_event_log") +
                                    " WHERE table_name = 'bronze' AND (level = 'ERROR' OR message LIKE '%read_kafka%')");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_GE(events[0]["n"].get<int>(), 1);
}

TEST_F(KafkaSourceTest, ValidateChecksOptionsWithTheSameParser) {
  auto check = [&](const std::string& options) -> Status {
    Pipeline(options);
    LP_ASSIGN_OR_RETURN(sql::Pipeline p, sql::LoadPipeline(dir_.Join("p"), {}));
    return sql::ResolvePipeline(p).status();
  };
  EXPECT_TRUE(check("subscribe => 'orders'").ok());
  EXPECT_THAT(check("subscribe => 'a', assign => '{\"a\":[0]}'").message(), HasSubstr("exactly one of subscribe"));
  EXPECT_THAT(check("subscribe => 'a', startingOffsets => 'soon'").message(), HasSubstr("startingOffsets"));
  EXPECT_THAT(check("subscribe => 'a', maxOffsetsPerTrigger => 0").message(), HasSubstr("maxOffsetsPerTrigger"));
  EXPECT_THAT(check("subscribe => 'a', `kafka.no.such.property` => 1").message(), HasSubstr("kafka.no.such.property"));
  EXPECT_THAT(check("subscribe => 'a', `kafka.group.id` => 'g'").message(), HasSubstr("set by the source itself"));
  EXPECT_THAT(check("subscribe => 'a', endingOffsets => 'latest'").message(), HasSubstr("not built yet"));
  EXPECT_THAT(check("subscribe => 'a', colour => 'red'").message(), HasSubstr("unknown option `colour`"));
  // The Event Hubs setup: SASL_SSL with PLAIN, the password in a Java JAAS line.
  EXPECT_TRUE(check("subscribe => 'sales', `kafka.security.protocol` => 'SASL_SSL', `kafka.sasl.mechanism` => 'PLAIN', "
                    "`kafka.sasl.jaas.config` => 'kafkashaded.org.apache.kafka.common.security.plain.PlainLoginModule "
                    "required username=\"$ConnectionString\" password=\"Endpoint=sb://x.servicebus.windows.net/;"
                    "SharedAccessKeyName=k;SharedAccessKey=s\";'")
                  .ok());
}

}  // namespace
}  // namespace lakepipe::kafka
