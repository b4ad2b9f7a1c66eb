// The job server's daily VACUUM of its audit table (jobs/audit_upkeep.h): not before its
// first minute, then once a day; it keeps what the table's retention keeps and deletes the
// files the audit log's compaction replaced once they are older, rows untouched; and a
// running `lakepipe job serve` does it on its own.
#include "jobs/audit_upkeep.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "delta/table.h"
#include "governance/audit_log.h"
#include "jobs/job_server.h"
#include "jobs/job_spec.h"
#include "testing/testing.h"

namespace lakepipe::jobs {
namespace {

constexpr int64_t kMinute = 60LL * 1000000;
constexpr int64_t kDay = 86400LL * 1000000;

int ParquetFiles(const std::string& dir) {
  int n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    n += e.path().extension() == ".parquet" && e.path().string().find("_delta_log") == std::string::npos;
  }
  return n;
}

int Operations(const std::string& table_path, const std::string& operation) {
  auto table = delta::DeltaTable::Open(table_path);
  if (!table.ok()) return -1;
  auto history = (*table)->History();
  if (!history.ok()) return -1;
  int n = 0;
  for (const auto& h : *history) n += h.operation == operation;
  return n;
}

// The audit table as a server leaves it after its log compacted: records appended by
// AuditLog, then an OPTIMIZE that replaced their files (the audit log's own compaction).
void WriteCompactedAuditTable(const std::string& storage) {
  governance::AuditLog log(FileSystem::Default(), storage, "");
  for (const char* action : {"job_run", "http"}) {
    governance::AuditRecord r;
    r.principal = "local:test";
    r.action = action;
    r.outcome = "allowed";
    ASSERT_TRUE(log.Record(r).ok());
  }
  auto table = delta::DeltaTable::Open(governance::AuditLog::TablePath(storage));
  ASSERT_TRUE(table.ok());
  auto optimized = (*table)->Optimize({});
  ASSERT_TRUE(optimized.ok()) << optimized.status().ToString();
  ASSERT_EQ(ParquetFiles(governance::AuditLog::TablePath(storage)), 3);  // two appended, one replacing them
}

int64_t Records(const std::string& storage) {
  auto all = governance::AuditLog::Read(storage);
  EXPECT_TRUE(all.ok()) << all.status().ToString();
  return all.ok() ? static_cast<int64_t>(all->size()) : -1;
}

TEST(AuditUpkeepTest, FirstAMinuteAfterTheStartThenDailyKeepingTheRetention) {
  testing::TempDir dir;
  const std::string storage = dir.Join("state");
  const std::string audit = governance::AuditLog::TablePath(storage);
  WriteCompactedAuditTable(storage);
  ManualClock clock(Clock::System()->NowMicros());
  AuditUpkeep upkeep(FileSystem::Default(), &clock, audit);

  auto r = upkeep.RunIfDue();  // at the start: not due
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0);
  clock.Advance(kMinute);  // due, but the replaced files are minutes old (7 days kept)
  r = upkeep.RunIfDue();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 0);
  EXPECT_EQ(ParquetFiles(audit), 3);
  EXPECT_EQ(Operations(audit, "VACUUM START"), 0);  // nothing to delete: nothing committed

  clock.Advance(8 * kDay);  // due again (a day passed) and past the 7 days
  r = upkeep.RunIfDue();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 2);
  EXPECT_EQ(ParquetFiles(audit), 1);
  EXPECT_EQ(Operations(audit, "VACUUM END"), 1);
  EXPECT_EQ(Records(storage), 2);  // the rows stay: only replaced files went

  // More replaced files (their time is the real clock's, eight days behind this one): not
  // due again until a day after the last VACUUM, whatever there is to do.
  auto table = delta::DeltaTable::Open(audit);
  ASSERT_TRUE(table.ok());
  {
    governance::AuditLog log(FileSystem::Default(), storage, "");
    governance::AuditRecord rec;
    rec.action = "http";
    ASSERT_TRUE(log.Record(rec).ok());
  }
  ASSERT_TRUE((*table)->Optimize({}).ok());
  ASSERT_EQ(ParquetFiles(audit), 3);  // the old compacted file and the new record's, and theirs
  clock.Advance(kDay - kMinute);
  r = upkeep.RunIfDue();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0);
  EXPECT_EQ(ParquetFiles(audit), 3);
  clock.Advance(kMinute);
  r = upkeep.RunIfDue();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 2);
  EXPECT_EQ(Operations(audit, "VACUUM END"), 2);
  EXPECT_EQ(Records(storage), 3);
}

TEST(AuditUpkeepTest, ATableRetentionUnderAnHourIsRaisedToAnHour) {
  testing::TempDir dir;
  const std::string storage = dir.Join("state");
  const std::string audit = governance::AuditLog::TablePath(storage);
  WriteCompactedAuditTable(storage);
  auto table = delta::DeltaTable::Open(audit);
  ASSERT_TRUE(table.ok());
  auto snap = (*table)->Latest();
  ASSERT_TRUE(snap.ok());
  delta::Metadata m = (*snap)->metadata();
  m.configuration["delta.deletedFileRetentionDuration"] = "interval 1 minute";
  ASSERT_TRUE((*table)->CommitActions({m}, (*snap)->version(), "SET TBLPROPERTIES", {}).ok());

  ManualClock clock(Clock::System()->NowMicros() + 30 * kMinute);
  auto none = AuditUpkeep::VacuumNow(FileSystem::Default(), &clock, audit);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, 0);  // half an hour: kept, though the table says a minute
  clock.Advance(31 * kMinute);
  auto some = AuditUpkeep::VacuumNow(FileSystem::Default(), &clock, audit);
  ASSERT_TRUE(some.ok()) << some.status().ToString();
  EXPECT_EQ(*some, 2);
  // No table yet: nothing to do, no error.
  auto missing = AuditUpkeep::VacuumNow(FileSystem::Default(), &clock, dir.Join("none/_audit"));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, 0);
}

// `lakepipe job serve` runs it by itself: a server whose clock is eight days past the
// compaction VACUUMs its audit table about a minute after it starts.
TEST(AuditUpkeepTest, TheJobServerVacuumsItsAuditTable) {
  testing::TempDir dir;
  const std::string storage = dir.Join("state");
  const std::string audit = governance::AuditLog::TablePath(storage);
  WriteCompactedAuditTable(storage);
  const std::string path = dir.Join("jobs.yaml");
  ASSERT_TRUE(FileSystem::Default()
                  ->WriteFile(path, "storage: ./state\njobs:\n  j:\n    tasks:\n      - {name: t, kind: command, argv: [true]}\n")
                  .ok());
  auto file = JobsFile::Load(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ManualClock clock(Clock::System()->NowMicros() + 8 * kDay);
  JobServer server(*file);
  JobServerOptions options;
  options.port = 0;
  options.clock = &clock;
  options.run_schedules = false;
  ASSERT_TRUE(server.Start(options).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(Operations(audit, "VACUUM END"), 0) << "not before its first minute";
  clock.Advance(kMinute);
  bool vacuumed = false;
  for (int i = 0; i < 600 && !vacuumed; ++i) {
    vacuumed = Operations(audit, "VACUUM END") == 1;
    if (!vacuumed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  server.Stop();
  EXPECT_TRUE(vacuumed);
  EXPECT_EQ(ParquetFiles(audit), 1);
  EXPECT_EQ(Records(storage), 2);
}

}  // namespace
}  // namespace lakepipe::jobs
