// TBLPROPERTIES lakepipe acts on: checked where the SQL is parsed (so `validate` refuses
// what `run` would), read back by TablePropertiesOf, and a per-table trigger set twice.
#include "sql/table_properties.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sql/resolve.h"
#include "sql/statement.h"

namespace lakepipe::sql {
namespace {

using ::testing::HasSubstr;

Result<std::vector<DatasetDefinition>> Parse(const std::string& sql) {
  return ParseSqlFile(std::make_shared<SourceFile>("t.sql", sql), {});
}

const char* kBronze =
    "CREATE STREAMING TABLE raw AS SELECT * FROM STREAM read_files('/in', format => 'csv', schema => 'id INT');\n";

TEST(TablePropertiesTest, TriggerIntervalInDatabricksSpelling) {
  auto r = Parse(std::string(kBronze) +
                 "CREATE MATERIALIZED VIEW a TBLPROPERTIES ('pipelines.trigger.interval' = '5 minutes') AS "
                 "SELECT count(*) AS n FROM raw;\n"
                 "CREATE MATERIALIZED VIEW b TBLPROPERTIES (pipelines.trigger.interval = '0 seconds') AS "
                 "SELECT count(*) AS n FROM raw;\n"
                 "CREATE MATERIALIZED VIEW c AS SELECT count(*) AS n FROM raw;\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(TablePropertiesOf((*r)[1].table_properties).trigger_interval_micros, 300000000);
  EXPECT_EQ(TablePropertiesOf((*r)[2].table_properties).trigger_interval_micros, 0);
  EXPECT_FALSE(TablePropertiesOf((*r)[3].table_properties).trigger_interval_micros.has_value());
  EXPECT_TRUE(TablePropertiesOf((*r)[3].table_properties).auto_compact);
  EXPECT_FALSE(TablePropertiesOf((*r)[3].table_properties).auto_compact_min_files.has_value());
  EXPECT_EQ(TablePropertiesOf({{"lakepipe.autoCompact.minNumFiles", "7"}}).auto_compact_min_files, 7);
}

TEST(TablePropertiesTest, BadValuesAreRefusedAtTheirPosition) {
  struct Case {
    std::string props;
    std::string error;
  } cases[] = {
      {"'pipelines.trigger.interval' = 'often'", "t.sql:2:74: TBLPROPERTIES `pipelines.trigger.interval`: `often` is not an interval"},
      {"'pipelines.trigger.interval' = '5m'", "`5m` is not an interval"},
      {"'delta.logRetentionDuration' = 'forever'", "TBLPROPERTIES `delta.logRetentionDuration`: `forever` is not an interval"},
      {"'delta.deletedFileRetentionDuration' = '-1 days'", "is not an interval"},
      {"'delta.checkpointInterval' = '0'", "`0` is not a positive number of commits"},
      {"'delta.autoOptimize.autoCompact' = 'sometimes'", "`sometimes` must be true, auto or false"},
      {"'delta.enableExpiredLogCleanup' = 'no'", "`no` must be true or false"},
      {"'lakepipe.checkpointThinning' = 'hourly'", "`hourly` must be true or false"},
      {"'lakepipe.autoCompact.minNumFiles' = '1'", "`1` is not a number of files from 2 to 1000000"},
      {"'pipelines.reset.allowed' = 'false'", "not supported: TBLPROPERTIES `pipelines.reset.allowed` is not built yet"},
      {"'lakepipe.something' = '1'", "is not built yet"},
      {"'delta.setTransactionRetentionDuration' = 'interval 7 days'",
       "TBLPROPERTIES `delta.setTransactionRetentionDuration` is refused on pipeline tables: every flow writing the "
       "table keeps its exactly-once progress in the table's txn"},
  };
  for (const auto& c : cases) {
    auto r = Parse(std::string(kBronze) + "CREATE MATERIALIZED VIEW a TBLPROPERTIES (" + c.props +
                   ") AS SELECT count(*) AS n FROM raw;\n");
    ASSERT_FALSE(r.ok()) << c.props;
    EXPECT_THAT(r.status().message(), HasSubstr(c.error)) << c.props;
  }
}

TEST(TablePropertiesTest, OtherPropertiesAreStoredAsTheyAre) {
  EXPECT_TRUE(CheckTableProperty("quality", "silver").ok());
  EXPECT_TRUE(CheckTableProperty("delta.appendOnly", "true").ok());
  EXPECT_TRUE(CheckTableProperty("delta.logRetentionDuration", "interval 30 days").ok());
  EXPECT_TRUE(CheckTableProperty("delta.checkpointInterval", "10").ok());
  EXPECT_TRUE(CheckTableProperty("lakepipe.checkpointThinning", "FALSE").ok());
}

// Scheduled VACUUM: daily when the table says nothing, an interval, or 'off' (0).
TEST(TablePropertiesTest, VacuumIntervalDefaultsToDailyAndCanBeTurnedOff) {
  EXPECT_FALSE(TablePropertiesOf({}).vacuum_interval_micros.has_value());
  EXPECT_EQ(kDefaultVacuumIntervalMicros, 86400LL * 1000000);
  EXPECT_EQ(TablePropertiesOf({{"lakepipe.vacuum.interval", "6 hours"}}).vacuum_interval_micros, 6LL * 3600 * 1000000);
  EXPECT_EQ(TablePropertiesOf({{"lakepipe.vacuum.interval", "OFF"}}).vacuum_interval_micros, 0);
  EXPECT_TRUE(CheckTableProperty("lakepipe.vacuum.interval", "off").ok());
  Status zero = CheckTableProperty("lakepipe.vacuum.interval", "0 seconds");
  EXPECT_FALSE(zero.ok());
  EXPECT_NE(zero.message().find("'off'"), std::string::npos) << zero.ToString();
  EXPECT_FALSE(CheckTableProperty("lakepipe.vacuum.interval", "never").ok());
}

TEST(TablePropertiesTest, ATriggerSetInBothPlacesIsRefused) {
  Pipeline p;
  p.settings.name = "t";
  auto defs = Parse(std::string(kBronze) +
                    "CREATE MATERIALIZED VIEW a TBLPROPERTIES ('pipelines.trigger.interval' = '1 minute') AS "
                    "SELECT count(*) AS n FROM raw;\n");
  ASSERT_TRUE(defs.ok()) << defs.status().ToString();
  p.datasets = std::move(*defs);
  TriggerSpec t;
  t.kind = TriggerSpec::Kind::kInterval;
  t.interval_micros = 60000000;
  p.settings.triggers["a"] = t;
  auto r = ResolvePipeline(p);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("also sets pipelines.trigger.interval in its TBLPROPERTIES (t.sql:2:26)"));
  p.settings.triggers.clear();
  EXPECT_TRUE(ResolvePipeline(p).ok());
}

}  // namespace
}  // namespace lakepipe::sql
