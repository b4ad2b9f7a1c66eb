// A pipeline's materialized views are created with a short history (one hour of removed
// files and of log, a checkpoint every 100 versions: view_table_defaults.h) unless their
// TBLPROPERTIES set those keys; streaming tables (and their `_quarantine`) keep Delta's
// retentions but checkpoint every 100 versions, unless their TBLPROPERTIES say otherwise.
#include "runtime/view_table_defaults.h"

#include <gtest/gtest.h>

#include "delta/table.h"
#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

std::map<std::string, std::string> ConfigurationOf(const std::string& path) {
  auto table = delta::DeltaTable::Open(path);
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  if (!table.ok()) return {};
  auto snap = (*table)->Latest();
  EXPECT_TRUE(snap.ok());
  return snap.ok() ? (*snap)->configuration() : std::map<std::string, std::string>{};
}

TEST(ViewTableDefaultsTest, ViewsGetAShortHistoryAndTheUsersPropertiesWin) {
  FileSystem* fs = FileSystem::Default();
  testing::TempDir dir;
  const std::string landing = dir.Join("landing");
  const std::string storage = dir.Join("storage");
  ASSERT_TRUE(fs->CreateDirs(landing).ok());
  ASSERT_TRUE(fs->CreateDirs(dir.Join("p")).ok());
  ASSERT_TRUE(fs->WriteFile(JoinPath(landing, "a.csv"), "id,kind\n1,a\n2,b\n3,a\n").ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/pipeline.yaml"), "name: t\nstorage: " + storage +
                                                              "\nlibraries: [p.sql]\nconfiguration: {landing: " +
                                                              landing + "}\n")
                  .ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/p.sql"),
                            "CREATE OR REFRESH STREAMING TABLE raw (CONSTRAINT small EXPECT (id < 3) ON VIOLATION "
                            "QUARANTINE) AS SELECT * FROM STREAM read_files('${landing}', "
                            "format => 'csv', header => true, schema => 'id INT, kind STRING');\n"
                            "CREATE OR REFRESH STREAMING TABLE tuned TBLPROPERTIES ('Delta.CheckpointInterval' = '25') "
                            "AS SELECT * FROM STREAM read_files('${landing}', "
                            "format => 'csv', header => true, schema => 'id INT, kind STRING');\n"
                            "CREATE OR REFRESH MATERIALIZED VIEW totals AS SELECT kind, count(*) AS n FROM raw "
                            "GROUP BY kind;\n"
                            "CREATE OR REFRESH MATERIALIZED VIEW kept TBLPROPERTIES "
                            "('delta.deletedFileRetentionDuration' = 'interval 2 days', "
                            "'delta.logretentionduration' = 'interval 3 days') AS SELECT kind, sum(id) AS s FROM raw "
                            "GROUP BY kind;\n")
                  .ok());
  auto runner = PipelineRunner::Open(dir.Join("p"), {});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  auto update = (*runner)->RunOnce({});
  ASSERT_TRUE(update.ok()) << update.status().ToString();

  auto totals = ConfigurationOf(storage + "/totals");
  EXPECT_EQ(totals["delta.deletedFileRetentionDuration"], "interval 1 hour");
  EXPECT_EQ(totals["delta.logRetentionDuration"], "interval 1 hour");
  EXPECT_EQ(totals["delta.checkpointInterval"], "100");

  auto kept = ConfigurationOf(storage + "/kept");
  EXPECT_EQ(kept["delta.deletedFileRetentionDuration"], "interval 2 days");
  // Set in another letter case: left as written, no second key added.
  EXPECT_EQ(kept["delta.logretentionduration"], "interval 3 days");
  EXPECT_EQ(kept.count("delta.logRetentionDuration"), 0u);
  EXPECT_EQ(kept["delta.checkpointInterval"], "100");

  // Streaming tables: 7 days of removed files and of log, a checkpoint every 100 versions; their
  // quarantine table as they are.
  for (const std::string name : {"raw", "raw_quarantine"}) {
    auto raw = ConfigurationOf(storage + "/" + name);
    EXPECT_EQ(raw.count("delta.deletedFileRetentionDuration"), 0u) << name;
    EXPECT_EQ(raw["delta.logRetentionDuration"], "interval 7 days") << name;
    EXPECT_EQ(raw["delta.checkpointInterval"], "100") << name;
  }
  auto tuned = ConfigurationOf(storage + "/tuned");
  EXPECT_EQ(tuned["Delta.CheckpointInterval"], "25");
  EXPECT_EQ(tuned.count("delta.checkpointInterval"), 0u);
}

TEST(ViewTableDefaultsTest, StreamingTablesGetASparserCheckpointAndTheirFileRetentionOfLog) {
  std::map<std::string, std::string> configuration = {{"other", "x"}};
  AddStreamingTableDefaults(&configuration);
  EXPECT_EQ(configuration, (std::map<std::string, std::string>{{"other", "x"},
                                                               {"delta.checkpointInterval", "100"},
                                                               {"delta.logRetentionDuration", "interval 7 days"}}));
  std::map<std::string, std::string> set = {{"DELTA.CHECKPOINTINTERVAL", "7"}, {"delta.LogRetentionDuration", "30 days"}};
  AddStreamingTableDefaults(&set);
  EXPECT_EQ(set, (std::map<std::string, std::string>{{"DELTA.CHECKPOINTINTERVAL", "7"},
                                                     {"delta.LogRetentionDuration", "30 days"}}));
}

TEST(ViewTableDefaultsTest, AddsOnlyTheKeysNotSet) {
  std::map<std::string, std::string> configuration = {{"DELTA.CHECKPOINTINTERVAL", "7"}, {"other", "x"}};
  AddMaterializedViewTableDefaults(&configuration);
  EXPECT_EQ(configuration.size(), 4u);
  EXPECT_EQ(configuration["DELTA.CHECKPOINTINTERVAL"], "7");
  EXPECT_EQ(configuration["delta.deletedFileRetentionDuration"], "interval 1 hour");
  EXPECT_EQ(configuration["delta.logRetentionDuration"], "interval 1 hour");
}

}  // namespace
}  // namespace lakepipe::runtime
