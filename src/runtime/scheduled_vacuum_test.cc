// Scheduled VACUUM (lakepipe.vacuum.interval): in a continuous run it deletes the files that
// no version within the table's retention needs (here: the small files an auto-compaction
// replaced eight days ago), the table reads the same, a table without the property is
// vacuumed too (daily by default, the first a minute after the start), one with 'off' is
// not, and a VACUUM with nothing to delete writes no commit.
#include "runtime/scheduled_vacuum.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "delta/table.h"
#include "delta/test_util.h"
#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

using delta::test::CountCommits;

int64_t Count(PipelineRunner& runner, const std::string& sql) {
  auto r = runner.Query(sql);
  if (!r.ok() || r->batches.empty() || r->batches[0].num_rows() == 0) return -1;
  Value v = r->batches[0].column(0).GetValue(0);
  return v.ToString() == "NULL" ? -1 : std::stoll(v.ToString());
}

int ParquetFiles(const std::string& dir) {
  auto listed = FileSystem::Default()->ListDir(dir);
  int n = 0;
  if (listed.ok()) {
    for (const auto& f : *listed) n += f.name.find(".parquet") != std::string::npos;
  }
  return n;
}

TEST(ScheduledVacuumTest, DeletesWhatNoVersionWithinTheRetentionNeeds) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  std::string landing = dir.Join("landing");
  ASSERT_TRUE(fs->CreateDirs(landing).ok());
  ASSERT_TRUE(fs->CreateDirs(dir.Join("p")).ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/pipeline.yaml"), "name: t\nstorage: " + dir.Join("storage") +
                                                             "\nconfiguration: {landing: " + landing + "}\n")
                  .ok());
  // The tables compact from 2 small files on; `kept` is never vacuumed.
  const char* kTable =
      "CREATE OR REFRESH STREAMING TABLE %s TBLPROPERTIES ('lakepipe.autoCompact.minNumFiles' = '2'%s) AS "
      "SELECT * FROM STREAM read_files('${landing}', format => 'csv', header => true, schema => 'id INT');\n";
  char sql[1024];
  std::string text;
  std::snprintf(sql, sizeof(sql), kTable, "swept", ", 'lakepipe.vacuum.interval' = '1 second'");
  text += sql;
  std::snprintf(sql, sizeof(sql), kTable, "kept", ", 'lakepipe.vacuum.interval' = 'off'");
  text += sql;
  std::snprintf(sql, sizeof(sql), kTable, "daily", "");
  text += sql;
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/p.sql"), text).ok());

  // Two triggered updates: two small files each table, compacted at the end of the second.
  for (int u = 0; u < 2; ++u) {
    ASSERT_TRUE(fs->WriteFile(JoinPath(landing, "f" + std::to_string(u) + ".csv"),
                              "id\n" + std::to_string(2 * u) + "\n" + std::to_string(2 * u + 1) + "\n")
                    .ok());
    auto runner = PipelineRunner::Open(dir.Join("p"), {});
    ASSERT_TRUE(runner.ok()) << runner.status().ToString();
    auto update = (*runner)->RunOnce({});
    ASSERT_TRUE(update.ok()) << update.status().ToString();
  }
  std::string swept = dir.Join("storage/swept"), kept = dir.Join("storage/kept"), daily = dir.Join("storage/daily");
  ASSERT_EQ(CountCommits(swept, "OPTIMIZE"), 1);
  ASSERT_EQ(ParquetFiles(swept), 3);  // the two compacted away and the compacted one
  ASSERT_EQ(ParquetFiles(kept), 3);
  ASSERT_EQ(ParquetFiles(daily), 3);

  // A continuous run eight days later (the default retention is seven).
  ManualClock clock(Clock::System()->NowMicros() + 8LL * 86400 * 1000000);
  auto opened = PipelineRunner::Open(dir.Join("p"), {}, fs, &clock);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<PipelineRunner> runner = std::move(opened).value();
  Status result;
  std::atomic<bool> done{false};
  std::thread run([&] { result = runner->RunContinuous({}); });
  std::thread tick([&] {
    while (!done.load()) {
      clock.Advance(200 * 1000);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  // `swept` within a second (its interval), `daily` a minute after the start (the clock
  // runs four times faster than the wall).
  bool vacuumed = false;
  for (int i = 0; i < 1200 && !vacuumed; ++i) {
    vacuumed = CountCommits(swept, "VACUUM END") == 1 && CountCommits(daily, "VACUUM END") == 1;
    if (!vacuumed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(vacuumed);
  // Later runs of the schedule find nothing to delete: no more VACUUM commits.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  runner->RequestStop();
  run.join();
  done.store(true);
  tick.join();
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(ParquetFiles(swept), 1);
  EXPECT_EQ(CountCommits(swept, "VACUUM START"), 1);
  EXPECT_EQ(CountCommits(swept, "VACUUM END"), 1);
  EXPECT_EQ(ParquetFiles(kept), 3);
  EXPECT_EQ(CountCommits(kept, "VACUUM START"), 0);
  EXPECT_EQ(ParquetFiles(daily), 1);
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM daily"), 4);
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM swept"), 4);
  EXPECT_EQ(Count(*runner, "SELECT sum(id) FROM swept"), 0 + 1 + 2 + 3);
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM _event_log WHERE event_type = 'scheduled_vacuum' AND "
                           "table_name = 'swept' AND level = 'INFO'"),
            1);
}

TEST(ScheduledVacuumTest, ATableWithinItsRetentionKeepsItsFiles) {
  testing::TempDir dir;
  delta::CreateOptions create;
  create.schema = *Schema::ParseDDL("id BIGINT");
  auto table = delta::DeltaTable::Create(dir.Join("t"), create);
  ASSERT_TRUE(table.ok());
  Column c(DataType::Long());
  c.Append<int64_t>(1);
  std::vector<Column> cols;
  cols.push_back(std::move(c));
  RecordBatch b = RecordBatch::FromColumns(create.schema, std::move(cols));
  ASSERT_TRUE((*table)->Write({b}, {}).ok());
  delta::WriteOptions overwrite;
  overwrite.mode = delta::WriteMode::kOverwrite;
  ASSERT_TRUE((*table)->Write({b}, overwrite).ok());  // the first file now has a tombstone
  ScheduledVacuum vacuum(FileSystem::Default(), Clock::System(), nullptr);
  auto n = vacuum.VacuumNow("t", dir.Join("t"));
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(ParquetFiles(dir.Join("t")), 2);
  EXPECT_EQ(CountCommits(dir.Join("t"), "VACUUM START"), 0);  // nothing to delete: no commit
}

// <storage>/_audit as the audit log leaves it (governance/audit_log.h): an append-only
// table whose small files a compaction replaced (OPTIMIZE, dataChange=false). `retention`:
// its delta.deletedFileRetentionDuration ("" for the default, 7 days).
void WriteCompactedAuditTable(const std::string& path, const std::string& retention) {
  delta::CreateOptions create;
  create.schema = *Schema::ParseDDL("action STRING");
  create.configuration["delta.appendOnly"] = "true";
  if (!retention.empty()) create.configuration["delta.deletedFileRetentionDuration"] = retention;
  auto table = delta::DeltaTable::Create(path, create);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  for (const char* action : {"read_rows", "grant_change"}) {
    Column c(DataType::String());
    c.AppendString(action);
    std::vector<Column> cols;
    cols.push_back(std::move(c));
    ASSERT_TRUE((*table)->Write({RecordBatch::FromColumns(create.schema, std::move(cols))}, {}).ok());
  }
  auto optimized = (*table)->Optimize({});
  ASSERT_TRUE(optimized.ok()) << optimized.status().ToString();
  ASSERT_EQ(ParquetFiles(path), 3);  // the two appended and the one replacing them
}

int64_t RowsOf(const std::string& path) {
  auto table = delta::DeltaTable::Open(path);
  if (!table.ok()) return -1;
  auto snap = (*table)->Latest();
  if (!snap.ok()) return -1;
  auto scan = delta::Scan::Plan(*snap, {});
  if (!scan.ok()) return -1;
  auto all = scan->ReadAll();
  return all.ok() ? all->num_rows() : -1;
}

// The audit log is vacuumed in a continuous run as the tables are (daily, the first a
// minute after the start), though no dataset names it: the replaced files go, the rows stay.
TEST(ScheduledVacuumTest, TheAuditLogIsVacuumedOnTheDailySchedule) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  std::string landing = dir.Join("landing");
  ASSERT_TRUE(fs->CreateDirs(landing).ok());
  ASSERT_TRUE(fs->CreateDirs(dir.Join("p")).ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/pipeline.yaml"), "name: t\nstorage: " + dir.Join("storage") +
                                                             "\nconfiguration: {landing: " + landing + "}\n")
                  .ok());
  // The pipeline's own table is never vacuumed: only the audit log's VACUUM is scheduled.
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/p.sql"),
                            "CREATE OR REFRESH STREAMING TABLE kept TBLPROPERTIES ('lakepipe.vacuum.interval' = 'off') "
                            "AS SELECT * FROM STREAM read_files('${landing}', format => 'csv', header => true, "
                            "schema => 'id INT');\n")
                  .ok());
  ASSERT_TRUE(fs->WriteFile(JoinPath(landing, "f.csv"), "id\n1\n").ok());
  std::string audit = dir.Join("storage/_audit");
  WriteCompactedAuditTable(audit, "");

  ManualClock clock(Clock::System()->NowMicros() + 8LL * 86400 * 1000000);  // past the 7 days
  auto opened = PipelineRunner::Open(dir.Join("p"), {}, fs, &clock);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<PipelineRunner> runner = std::move(opened).value();
  Status result;
  std::atomic<bool> done{false};
  std::thread run([&] { result = runner->RunContinuous({}); });
  std::thread tick([&] {
    while (!done.load()) {
      clock.Advance(200 * 1000);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  bool vacuumed = false;
  for (int i = 0; i < 1200 && !vacuumed; ++i) {
    vacuumed = CountCommits(audit, "VACUUM END") == 1;
    if (!vacuumed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  runner->RequestStop();
  run.join();
  done.store(true);
  tick.join();
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_TRUE(vacuumed);
  EXPECT_EQ(ParquetFiles(audit), 1);
  EXPECT_EQ(RowsOf(audit), 2);
  EXPECT_EQ(CountCommits(dir.Join("storage/kept"), "VACUUM START"), 0);
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM _event_log WHERE event_type = 'scheduled_vacuum' AND "
                           "table_name = '_audit' AND level = 'INFO'"),
            1);
}

// The audit log's VACUUM honours its own delta.deletedFileRetentionDuration: 30 days keeps
// the replaced files eight days on, and deletes them after 31.
TEST(ScheduledVacuumTest, TheAuditLogKeepsItsFilesWithinItsRetention) {
  testing::TempDir dir;
  std::string audit = dir.Join("storage/_audit");
  WriteCompactedAuditTable(audit, "interval 30 days");
  const int64_t now = Clock::System()->NowMicros();
  ManualClock eight_days(now + 8LL * 86400 * 1000000);
  ScheduledVacuum early(FileSystem::Default(), &eight_days, nullptr);
  auto none = early.VacuumNow("_audit", audit);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, 0);
  EXPECT_EQ(ParquetFiles(audit), 3);
  ManualClock a_month(now + 31LL * 86400 * 1000000);
  ScheduledVacuum late(FileSystem::Default(), &a_month, nullptr);
  auto deleted = late.VacuumNow("_audit", audit);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 2);
  EXPECT_EQ(ParquetFiles(audit), 1);
  EXPECT_EQ(RowsOf(audit), 2);
}

}  // namespace
}  // namespace lakepipe::runtime
