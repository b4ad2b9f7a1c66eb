#include "sql/pipeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "testing/testing.h"

namespace lakepipe::sql {
namespace {

using ::testing::HasSubstr;

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = FileSystem::Default();
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("sql")).ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("sql/a.sql"), "CREATE MATERIALIZED VIEW a AS SELECT x FROM t").ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("sql/b.sql"), "CREATE MATERIALIZED VIEW b AS SELECT x FROM t").ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("sql/notes.txt"), "not sql").ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("top.sql"), "CREATE MATERIALIZED VIEW c AS SELECT x FROM t").ok());
  }
  Result<PipelineSettings> Parse(const std::string& yaml, const std::map<std::string, std::string>& overrides = {}) {
    return ParsePipelineSettings(yaml, dir_.path(), "pipeline.yaml", overrides, fs_);
  }
  void ExpectError(const std::string& yaml, const std::string& position, const std::string& words) {
    auto r = Parse(yaml);
    ASSERT_FALSE(r.ok()) << yaml;
    EXPECT_THAT(r.status().message(), HasSubstr(position)) << yaml << " -> " << r.status().ToString();
    EXPECT_THAT(r.status().message(), HasSubstr(words)) << yaml << " -> " << r.status().ToString();
  }
  testing::TempDir dir_;
  FileSystem* fs_ = nullptr;
};

TEST_F(PipelineTest, FullSettings) {
  auto r = Parse(
      "name: shop\n"
      "storage: out/tables\n"
      "libraries: [sql/*.sql, top.sql]\n"
      "configuration:\n"
      "  landing: /data/landing\n"
      "  limit: 5\n"
      "continuous: true\n"
      "triggers:\n"
      "  silver: {interval: 5m}\n"
      "  gold: {at: [\"20:00\", \"08:00\"]}\n"
      "  backfill: once\n"
      "server: {host: 0.0.0.0, port: 9090, tokens: [abcdefghijklmnopqrstuvwxyz]}\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, "shop");
  EXPECT_EQ(r->storage, dir_.path() + "/out/tables");
  ASSERT_EQ(r->sql_files.size(), 3u);
  EXPECT_EQ(r->sql_files[0], dir_.path() + "/sql/a.sql");
  EXPECT_EQ(r->sql_files[1], dir_.path() + "/sql/b.sql");
  EXPECT_EQ(r->sql_files[2], dir_.path() + "/top.sql");
  EXPECT_EQ(r->configuration.at("landing"), "/data/landing");
  EXPECT_EQ(r->configuration.at("limit"), "5");
  EXPECT_TRUE(r->continuous);
  EXPECT_EQ(r->triggers.at("silver").kind, TriggerSpec::Kind::kInterval);
  EXPECT_EQ(r->triggers.at("silver").interval_micros, 300000000);
  EXPECT_EQ(r->triggers.at("gold").ToString(), "daily at 08:00, 20:00");
  EXPECT_EQ(r->triggers.at("gold").loc.ToString(), "pipeline.yaml:10:3");
  EXPECT_EQ(r->triggers.at("backfill").kind, TriggerSpec::Kind::kOnce);
  EXPECT_FALSE(r->publish.postgres.has_value());
  ASSERT_TRUE(r->server.has_value());
  EXPECT_EQ(r->server->port, 9090);
  EXPECT_FALSE(r->server->IsLoopback());
}

// The publish section: tables with targets and keys; ${VAR} in the dsn from the
// configuration (or --set) or the environment; mistakes at their positions.
TEST_F(PipelineTest, PublishSection) {
  auto r = Parse(
      "name: p\n"
      "configuration: {pg_port: \"5999\"}\n"
      "publish:\n"
      "  postgres:\n"
      "    dsn: host=localhost port=${pg_port} dbname=shop\n"
      "    schema: gold\n"
      "    reader_role: bi\n"
      "    tables: [gold, {table: silver, target: clean, key: [id]}]\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->publish.postgres.has_value());
  const auto& pg = *r->publish.postgres;
  EXPECT_EQ(pg.dsn, "host=localhost port=5999 dbname=shop");
  EXPECT_EQ(pg.schema, "gold");
  EXPECT_EQ(pg.reader_role, "bi");
  ASSERT_EQ(pg.tables.size(), 2u);
  EXPECT_EQ(pg.tables[0].target, "gold");
  EXPECT_TRUE(pg.tables[0].key.empty());
  EXPECT_EQ(pg.tables[1].target, "clean");
  EXPECT_EQ(pg.tables[1].key, std::vector<std::string>{"id"});
  ExpectError("name: p\npublish:\n  postgres: {dsn: x, tables: [a, a]}\n", "pipeline.yaml:3:", "two tables publish");
  ExpectError("name: p\npublish:\n  postgres: {dsn: \"port=${LAKEPIPE_NO_SUCH_VAR_X}\", tables: [a]}\n",
              "pipeline.yaml:3:", "publish.postgres.dsn: ${LAKEPIPE_NO_SUCH_VAR_X} is not set");
}

// publish.postgres.at: daily publication times; `--set triggers=continuous` drops them
// and every trigger (after checking them), for tests and demos; `--set
// publish.postgres=off` drops the section; any other value is refused.
TEST_F(PipelineTest, PublicationTimesAndTheContinuousOverride) {
  const std::string yaml =
      "name: p\n"
      "configuration: {landing: ./in}\n"
      "triggers:\n"
      "  bronze: {at: [\"20:00\", \"08:00\"]}\n"
      "  silver: {interval: 1h}\n"
      "publish:\n"
      "  postgres: {dsn: x, at: [\"23:00\"], tables: [gold]}\n";
  auto r = Parse(yaml);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->publish.postgres->daily_minutes, std::vector<int>{23 * 60});
  EXPECT_EQ(r->triggers.size(), 2u);
  auto continuous = Parse(yaml, {{"triggers", "continuous"}});
  ASSERT_TRUE(continuous.ok()) << continuous.status().ToString();
  EXPECT_TRUE(continuous->triggers.empty());
  EXPECT_TRUE(continuous->publish.postgres->daily_minutes.empty());
  EXPECT_EQ(continuous->configuration.count("triggers"), 0u) << "not a configuration value";
  EXPECT_EQ(continuous->configuration.at("landing"), "./in");
  auto no_postgres = Parse(yaml, {{"publish.postgres", "off"}});
  ASSERT_TRUE(no_postgres.ok()) << no_postgres.status().ToString();
  EXPECT_FALSE(no_postgres->publish.postgres.has_value());
  EXPECT_EQ(no_postgres->triggers.size(), 2u);
  auto postgres_on = Parse(yaml, {{"publish.postgres", "on"}});
  ASSERT_FALSE(postgres_on.ok());
  EXPECT_THAT(postgres_on.status().message(), HasSubstr("--set publish.postgres=off"));
  auto refused = Parse(yaml, {{"triggers", "never"}});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("--set triggers=continuous"));
  // The override does not hide a bad entry.
  auto bad = ParsePipelineSettings("name: p\ntriggers:\n  silver: {at: [\"24:00\"]}\n", dir_.path(), "pipeline.yaml",
                                   {{"triggers", "continuous"}}, fs_);
  EXPECT_FALSE(bad.ok());
  ExpectError("name: p\npublish:\n  postgres: {dsn: x, at: [\"7pm\"], tables: [a]}\n", "pipeline.yaml:3:",
              "publish.postgres.at: `7pm` is not a time HH:MM");
  // The next publication time is the first listed time at or after now (local time).
  std::vector<int> times = {8 * 60, 20 * 60};
  time_t now = time(nullptr);
  int64_t next = NextDailyMicros(times, static_cast<int64_t>(now) * 1000000);
  EXPECT_GE(next, static_cast<int64_t>(now) * 1000000);
  EXPECT_LE(next, static_cast<int64_t>(now) * 1000000 + 13LL * 3600 * 1000000);
  time_t at = static_cast<time_t>(next / 1000000);
  struct tm local;
  localtime_r(&at, &local);
  EXPECT_TRUE((local.tm_hour == 8 || local.tm_hour == 20) && local.tm_min == 0 && local.tm_sec == 0);
}

TEST_F(PipelineTest, TokensTakeVariablesFromConfigurationAndEnvironment) {
  ::setenv("LAKEPIPE_TEST_API_TOKEN", "from-the-environment-0123", 1);
  auto r = Parse("name: p\nserver: {host: 0.0.0.0, tokens: [\"${LAKEPIPE_TEST_API_TOKEN}\", \"x-${mine}-y\"]}\n",
                 {{"mine", "from-configuration"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->server.has_value());
  EXPECT_THAT(r->server->tokens, ::testing::ElementsAre("from-the-environment-0123", "x-from-configuration-y"));
  // --set wins over the environment, as it wins over everything.
  auto set = Parse("name: p\nserver: {tokens: [\"${LAKEPIPE_TEST_API_TOKEN}\"]}\n",
                   {{"LAKEPIPE_TEST_API_TOKEN", "given-on-the-command-line"}});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->server->tokens.at(0), "given-on-the-command-line");
  ::unsetenv("LAKEPIPE_TEST_API_TOKEN_UNSET");
  ExpectError("name: p\nserver:\n  host: 0.0.0.0\n  tokens: [\"${LAKEPIPE_TEST_API_TOKEN_UNSET}\"]\n",
              "pipeline.yaml:4:11", "${LAKEPIPE_TEST_API_TOKEN_UNSET} is not set");
  ExpectError("name: p\nserver: {tokens: [\"${OPEN\"]}\n", "pipeline.yaml:2:", "unterminated");
  // A substituted token is held to the same length rule as a literal one.
  ::setenv("LAKEPIPE_TEST_SHORT", "short", 1);
  ExpectError("name: p\nserver: {tokens: [\"${LAKEPIPE_TEST_SHORT}\"]}\n", "pipeline.yaml:2:", "16 characters");
  ::unsetenv("LAKEPIPE_TEST_API_TOKEN");
  ::unsetenv("LAKEPIPE_TEST_SHORT");
}

TEST(LoopbackTest, AddressesAreParsedNotPrefixMatched) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "127.255.255.254", "localhost", "LOCALHOST", "::1", "[::1]",
                           "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackAddress(host)) << host;
  }
  for (const char* host : {"127.attacker.example", "127.0.0.1.nip.io", "localhost.attacker.example", "0.0.0.0",
                           "128.0.0.1", "10.0.0.1", "::", "::2", "::ffff:10.0.0.1", "", "127.0.0.1 ", "1270.0.0.1"}) {
    EXPECT_FALSE(IsLoopbackAddress(host)) << host;
  }
}

TEST_F(PipelineTest, DefaultsAndOverrides) {
  auto r = Parse("name: p\nconfiguration: {landing: ./in}\n", {{"landing", "/elsewhere"}, {"storage", "/tmp/st"}, {"new", "1"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->storage, "/tmp/st");
  EXPECT_EQ(r->configuration.at("landing"), "/elsewhere");
  EXPECT_EQ(r->configuration.at("new"), "1");
  ASSERT_EQ(r->sql_files.size(), 1u);  // default: *.sql in the folder
  EXPECT_EQ(r->sql_files[0], dir_.path() + "/top.sql");
  EXPECT_TRUE(r->continuous);  // the default
  EXPECT_FALSE(r->server.has_value());
  auto folder = Parse("name: p\nlibraries: sql\n");
  ASSERT_TRUE(folder.ok()) << folder.status().ToString();
  EXPECT_EQ(folder->sql_files.size(), 2u);  // a folder means its *.sql
}

TEST_F(PipelineTest, ErrorsNameFileLineAndKey) {
  ExpectError("name: p\nstorrage: x\n", "pipeline.yaml:2:1", "unknown key `storrage`");
  ExpectError("name: p\nstorrage: x\n", "pipeline.yaml:2:1", "known keys: name, storage");
  ExpectError("storage: x\n", "pipeline.yaml:1:1", "`name:` is required");
  ExpectError("name: [a, b]\n", "pipeline.yaml:1:7", "name must be a single value");
  ExpectError("name: p\ntriggers:\n  silver: {interval: 5 parsecs}\n", "pipeline.yaml:3:22", "duration");
  ExpectError("name: p\ntriggers:\n  silver: {at: [\"25:00\"]}\n", "pipeline.yaml:3:", "25:00");
  ExpectError("name: p\ntriggers:\n  silver: {every: 5m}\n", "pipeline.yaml:3:12", "unknown key `every`");
  ExpectError("name: p\ntriggers:\n  silver: sometimes\n", "pipeline.yaml:3:11", "once, continuous");
  ExpectError("name: p\ncontinuous: maybe\n", "pipeline.yaml:2:13", "true or false");
  ExpectError("name: p\nlibraries: [missing.sql]\n", "pipeline.yaml:2:12", "not found");
  ExpectError("name: p\nlibraries: [sql/*.py]\n", "pipeline.yaml:2:12", "matches no file");
  ExpectError("name: p\nserver: {host: 0.0.0.0}\n", "pipeline.yaml:2:16", "server.tokens");
  ExpectError("name: p\nserver: {port: 70000}\n", "pipeline.yaml:2:16", "1 to 65535");
  ExpectError("name: p\npublish:\n  postgres: {schema: x}\n", "pipeline.yaml:3:13", "dsn");
  ExpectError("name: p\npublish:\n  pulsar: {}\n", "pipeline.yaml:3:3", "unknown key `pulsar`");
  ExpectError("name: p\nconfiguration: {a: [1]}\n", "pipeline.yaml:2:20", "single value");
  ExpectError("name: p\n  bad: indentation\n", "pipeline.yaml:2:", "YAML");
}

// publish.kafka: servers from the configuration, producer properties, tables with topics
// (default: the table's name) and keys; the delivery settings the sink owns are refused.
TEST_F(PipelineTest, PublishKafkaSection) {
  auto r = Parse(
      "name: p\n"
      "configuration: {kafka: \"127.0.0.1:9092\"}\n"
      "publish:\n"
      "  kafka:\n"
      "    bootstrap_servers: ${kafka}\n"
      "    properties: {linger.ms: 20, compression.type: zstd}\n"
      "    tables: [silver, {table: gold, topic: gold-out, key: id}]\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->publish.kafka.has_value());
  EXPECT_FALSE(r->publish.postgres.has_value());
  const auto& k = *r->publish.kafka;
  EXPECT_EQ(k.bootstrap_servers, "127.0.0.1:9092");
  EXPECT_EQ(k.properties.at("linger.ms"), "20");
  EXPECT_EQ(k.properties.at("compression.type"), "zstd");
  ASSERT_EQ(k.tables.size(), 2u);
  EXPECT_EQ(k.tables[0].table, "silver");
  EXPECT_EQ(k.tables[0].topic, "silver");
  EXPECT_TRUE(k.tables[0].key.empty());
  EXPECT_EQ(k.tables[1].topic, "gold-out");
  EXPECT_EQ(k.tables[1].key, "id");
  EXPECT_EQ(k.tables[1].loc.ToString(), "pipeline.yaml:7:22");
  ExpectError("name: p\npublish:\n  kafka: {tables: [a]}\n", "pipeline.yaml:3:10", "bootstrap_servers");
  ExpectError("name: p\npublish:\n  kafka: {bootstrap_servers: x}\n", "pipeline.yaml:3:10", "needs tables");
  ExpectError("name: p\npublish:\n  kafka: {bootstrap_servers: x, tables: [a, a]}\n", "pipeline.yaml:3:", "listed twice");
  ExpectError("name: p\npublish:\n  kafka: {bootstrap_servers: x, tables: [{table: a, topic: \"a b\"}]}\n",
              "pipeline.yaml:3:", "not a Kafka topic name");
  ExpectError("name: p\npublish:\n  kafka: {bootstrap_servers: x, properties: {acks: \"1\"}, tables: [a]}\n",
              "pipeline.yaml:3:", "`acks` is set by the sink");
  ExpectError("name: p\npublish:\n  kafka: {bootstrap_servers: x, tables: [{table: a, partition: 1}]}\n",
              "pipeline.yaml:3:", "unknown key `partition`");
}

TEST_F(PipelineTest, LoadPipelineParsesSqlWithConfiguration) {
  ASSERT_TRUE(fs_->WriteFile(dir_.Join("pipeline.yaml"), "name: p\nlibraries: [x.sql]\nconfiguration: {min: 3}\n").ok());
  ASSERT_TRUE(fs_->WriteFile(dir_.Join("x.sql"), "CREATE MATERIALIZED VIEW m AS SELECT a FROM t WHERE a > ${min}").ok());
  auto p = LoadPipeline(dir_.path());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->datasets.size(), 1u);
  EXPECT_EQ(p->datasets[0].query->inputs[0]->predicate->ToString(), "(a > 3)");
  auto overridden = LoadPipeline(dir_.path(), {{"min", "7"}});
  ASSERT_TRUE(overridden.ok());
  EXPECT_EQ(overridden->datasets[0].query->inputs[0]->predicate->ToString(), "(a > 7)");
  auto missing = LoadPipeline(dir_.Join("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("does not exist"));
}

TEST(ParseOverridesTest, KeyValue) {
  auto r = ParseOverrides({"a=1", "b=x=y", "c="});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("b"), "x=y");
  EXPECT_EQ(r->at("c"), "");
  EXPECT_FALSE(ParseOverrides({"novalue"}).ok());
  EXPECT_FALSE(ParseOverrides({"=x"}).ok());
}

TEST(ParseDurationTest, Units) {
  EXPECT_EQ(*ParseDuration("30s"), 30000000);
  EXPECT_EQ(*ParseDuration("5m"), 300000000);
  EXPECT_EQ(*ParseDuration("2 hours"), 7200000000LL);
  EXPECT_EQ(*ParseDuration("1d"), 86400000000LL);
  EXPECT_FALSE(ParseDuration("0m").ok());
  EXPECT_FALSE(ParseDuration("5 weeks").ok());
  EXPECT_FALSE(ParseDuration("m").ok());
  // Beyond int64 microseconds: refused by name, not converted (make fuzz found it).
  auto huge = ParseDuration(std::string(70, '9') + "m");
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("is too long (at most 100 years)"), std::string::npos) << huge.status().ToString();
  EXPECT_EQ(*ParseDuration("36500d"), 36500LL * 86400000000LL);
}

}  // namespace
}  // namespace lakepipe::sql
