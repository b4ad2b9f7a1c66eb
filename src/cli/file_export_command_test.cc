// publish.files through the CLI: `validate` checks the section, `run --once` exports the
// table after the update, and `lakepipe publish` says it is up to date.
#include <gtest/gtest.h>

#include <string>

#include "cli/cli_test_util.h"
#include "common/fs.h"
#include "testing/testing.h"

namespace lakepipe::cli {
namespace {

class FileExportCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("landing")).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("p")).ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("landing/v.csv"),
                               "day,network,views\n2026-01-01,YouTube,10\n2026-01-01,TikTok,5\n2026-01-02,YouTube,7\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/t.sql"),
                               "CREATE OR REFRESH STREAMING TABLE bronze AS SELECT * FROM STREAM read_files('" +
                                   dir_.Join("landing") +
                                   "', format => 'csv', header => true, schema => 'day DATE, network STRING, views BIGINT');\n"
                                   "CREATE OR REFRESH MATERIALIZED VIEW gold AS SELECT day, network, sum(views) AS views "
                                   "FROM bronze GROUP BY day, network;\n")
                    .ok());
  }
  void Settings(const std::string& files) {
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"), "name: v\nstorage: ./storage\npublish:\n  files:\n" + files).ok());
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
};

TEST_F(FileExportCommandTest, RunOnceExportsAndValidateChecksTheSection) {
  Settings("    - {table: gold, path: out, format: bson}\n");
  ExpectOneErrorLine(LakepipeFails("validate " + dir_.Join("p")), "`bson` is not csv, json or parquet");
  Settings("    - {table: gold, path: out, partition_by: hour}\n");
  ExpectOneErrorLine(LakepipeFails("validate " + dir_.Join("p")), "partition_by column `hour` is not a column of `gold`");
  Settings("    - {table: gold, path: out, partition_by: day}\n");
  std::string out = Lakepipe("run " + dir_.Join("p") + " --once");
  EXPECT_NE(out.find("publish gold -> csv files"), std::string::npos) << out;
  EXPECT_NE(out.find("2 file(s) written"), std::string::npos) << out;
  auto rows = testing::DuckDBRows("SELECT CAST(sum(views) AS INT) AS v, count(*)::INT AS n FROM read_csv('" +
                                  dir_.Join("p/out") + "/day=2026-01-0*/part-00000.csv')");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["v"].get<int64_t>(), 22);
  EXPECT_EQ(rows[0]["n"].get<int64_t>(), 3);
  out = Lakepipe("publish " + dir_.Join("p"));
  EXPECT_NE(out.find("up to date"), std::string::npos) << out;
  // It says where it publishes: files only, not PostgreSQL.
  EXPECT_NE(out.find("pipeline v: publishing to files\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("PostgreSQL"), std::string::npos) << out;
}

}  // namespace
}  // namespace lakepipe::cli
