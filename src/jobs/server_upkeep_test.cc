// The job server's daily upkeep (jobs/server_upkeep.h): not before its first minute, then
// once a day; its VACUUMs keep what the tables' retention keeps and delete the files the
// audit log's and the run history's compactions replaced once they are older, rows
// untouched; task logs go after log_retention; and a running `lakepipe job serve` does it
// on its own.
#include "jobs/server_upkeep.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "delta/append_log_compaction.h"
#include "delta/table.h"
#include "delta/test_util.h"
#include "governance/audit_log.h"
#include "jobs/job_server.h"
#include "jobs/job_spec.h"
#include "jobs/run_history.h"
#include "testing/testing.h"

namespace lakepipe::jobs {
namespace {

using delta::test::CountCommits;

constexpr int64_t kMinute = 60LL * 1000000;
constexpr int64_t kDay = 86400LL * 1000000;

int ParquetFiles(const std::string& dir) {
  int n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    n += e.path().extension() == ".parquet" && e.path().string().find("_delta_log") == std::string::npos;
  }
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

TEST(ServerUpkeepTest, FirstAMinuteAfterTheStartThenDailyKeepingTheRetention) {
  testing::TempDir dir;
  const std::string storage = dir.Join("state");
  const std::string audit = governance::AuditLog::TablePath(storage);
  WriteCompactedAuditTable(storage);
  ManualClock clock(Clock::System()->NowMicros());
  ServerUpkeep upkeep(FileSystem::Default(), &clock, storage, kDefaultLogRetentionMicros);

  UpkeepReport r = upkeep.RunIfDue();  // at the start: not due
  EXPECT_FALSE(r.ran);
  clock.Advance(kMinute);  // due, but the replaced files are minutes old (7 days kept)
  r = upkeep.RunIfDue();
  EXPECT_TRUE(r.ran);
  EXPECT_TRUE(r.failures.empty()) << r.failures[0];
  EXPECT_EQ(r.audit_files_deleted, 0);
  EXPECT_EQ(ParquetFiles(audit), 3);
  EXPECT_EQ(CountCommits(audit, "VACUUM START"), 0);  // nothing to delete: nothing committed

  clock.Advance(8 * kDay);  // due again (a day passed) and past the 7 days
  r = upkeep.RunIfDue();
  EXPECT_TRUE(r.failures.empty()) << r.failures[0];
  EXPECT_EQ(r.audit_files_deleted, 2);
  EXPECT_EQ(ParquetFiles(audit), 1);
  EXPECT_EQ(CountCommits(audit, "VACUUM END"), 1);
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
  EXPECT_FALSE(r.ran);
  EXPECT_EQ(ParquetFiles(audit), 3);
  clock.Advance(kMinute);
  r = upkeep.RunIfDue();
  EXPECT_TRUE(r.failures.empty()) << r.failures[0];
  EXPECT_EQ(r.audit_files_deleted, 2);
  EXPECT_EQ(CountCommits(audit, "VACUUM END"), 2);
  EXPECT_EQ(Records(storage), 3);
}

TEST(ServerUpkeepTest, ATableRetentionUnderAnHourIsRaisedToAnHour) {
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
  auto none = ServerUpkeep::VacuumNow(FileSystem::Default(), &clock, audit);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, 0);  // half an hour: kept, though the table says a minute
  clock.Advance(31 * kMinute);
  auto some = ServerUpkeep::VacuumNow(FileSystem::Default(), &clock, audit);
  ASSERT_TRUE(some.ok()) << some.status().ToString();
  EXPECT_EQ(*some, 2);
  // No table yet: nothing to do, no error.
  auto missing = ServerUpkeep::VacuumNow(FileSystem::Default(), &clock, dir.Join("none/_audit"));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, 0);
}

// The run history compacts itself every 50 versions (delta/append_log_compaction.h); the
// files it replaced go at the upkeep after the table's retention, and every run stays.
TEST(ServerUpkeepTest, TheRunHistorysReplacedFilesGoAfterItsRetention) {
  testing::TempDir dir;
  const std::string storage = dir.Join("state");
  const int n = delta::kAppendLogCompactEvery + 1;  // the 51st append (version 50) compacts
  for (int i = 0; i < n; ++i) {
    RunRecord r;
    r.job = "j";
    r.run_id = "r" + std::to_string(i);
    r.state = kStateSucceeded;
    r.end_micros = i + 1;
    ASSERT_TRUE(RunHistory(storage).Append({r}).ok());
  }
  const std::string runs = RunHistory(storage).table_path();
  ASSERT_EQ(ParquetFiles(runs), n + 1);  // n appended, one replacing them
  ManualClock clock(Clock::System()->NowMicros());
  ServerUpkeep upkeep(FileSystem::Default(), &clock, storage, kDefaultLogRetentionMicros);
  clock.Advance(kMinute);
  UpkeepReport r = upkeep.RunIfDue();
  EXPECT_TRUE(r.failures.empty()) << r.failures[0];
  EXPECT_EQ(r.run_history_files_deleted, 0);  // minutes old: kept for 7 days
  clock.Advance(8 * kDay);
  r = upkeep.RunIfDue();
  EXPECT_TRUE(r.failures.empty()) << r.failures[0];
  EXPECT_EQ(r.run_history_files_deleted, n);
  EXPECT_EQ(ParquetFiles(runs), 1);
  auto rows = RunHistory(storage).ReadAll();
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->size(), static_cast<size_t>(n));
}

// Task logs: a run's folder goes once nothing in it was written for log_retention; a
// folder with one fresh file (a run still writing, or resumed) stays whole, and so do
// the jobs' own folders.
TEST(ServerUpkeepTest, TaskLogsGoAfterLogRetentionCountedFromTheirLastWrite) {
  namespace fs = std::filesystem;
  testing::TempDir dir;
  const std::string storage = dir.Join("state");
  const std::string logs = storage + "/_job_logs/daily";
  auto write = [](const std::string& path, fs::file_time_type when) {
    fs::create_directories(fs::path(path).parent_path());
    ASSERT_TRUE(FileSystem::Default()->WriteFile(path, "output\n").ok());
    fs::last_write_time(path, when);
  };
  const auto now = fs::file_time_type::clock::now();
  const auto old = now - std::chrono::hours(24 * 40);
  write(logs + "/old-run/extract.1.log", old);
  write(logs + "/old-run/load.1.log", old);
  write(logs + "/resumed-run/extract.1.log", old);
  write(logs + "/resumed-run/load.2.log", now);
  write(logs + "/new-run/extract.1.log", now);
  fs::last_write_time(logs + "/old-run", old);
  fs::last_write_time(logs + "/resumed-run", old);

  ManualClock clock(Clock::System()->NowMicros());
  const int64_t thirty_days = 30 * kDay;
  auto deleted = ServerUpkeep::DeleteExpiredLogs(FileSystem::Default(), &clock, storage, thirty_days);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 1);
  EXPECT_FALSE(fs::exists(logs + "/old-run"));
  EXPECT_TRUE(fs::exists(logs + "/resumed-run/extract.1.log"));
  EXPECT_TRUE(fs::exists(logs + "/new-run/extract.1.log"));

  clock.Advance(31 * kDay);  // a month later everything is past the retention
  deleted = ServerUpkeep::DeleteExpiredLogs(FileSystem::Default(), &clock, storage, thirty_days);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 2);
  EXPECT_TRUE(fs::is_directory(logs));
  EXPECT_TRUE(fs::is_empty(logs));
  // No logs yet at all: nothing to do, no error.
  auto none = ServerUpkeep::DeleteExpiredLogs(FileSystem::Default(), &clock, dir.Join("none"), thirty_days);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, 0);
}

// `lakepipe job serve` runs it by itself: a server whose clock is eight days past the
// compaction VACUUMs its audit table, and deletes task logs past its jobs file's 7-day
// log_retention, about a minute after it starts.
TEST(ServerUpkeepTest, TheJobServerVacuumsItsAuditTableAndDeletesOldLogs) {
  testing::TempDir dir;
  const std::string storage = dir.Join("state");
  const std::string audit = governance::AuditLog::TablePath(storage);
  WriteCompactedAuditTable(storage);
  const std::string path = dir.Join("jobs.yaml");
  ASSERT_TRUE(FileSystem::Default()
                  ->WriteFile(path, "storage: ./state\nlog_retention: 7d\njobs:\n  j:\n    tasks:\n"
                                    "      - {name: t, kind: command, argv: [true]}\n")
                  .ok());
  const std::string old_log = storage + "/_job_logs/j/r-old/t.1.log";
  ASSERT_TRUE(FileSystem::Default()->CreateDirs(storage + "/_job_logs/j/r-old").ok());
  ASSERT_TRUE(FileSystem::Default()->WriteFile(old_log, "done\n").ok());
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
  EXPECT_EQ(CountCommits(audit, "VACUUM END"), 0) << "not before its first minute";
  clock.Advance(kMinute);
  bool vacuumed = false;
  for (int i = 0; i < 600 && !vacuumed; ++i) {
    vacuumed = CountCommits(audit, "VACUUM END") == 1;
    if (!vacuumed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  bool logs_gone = false;  // the logs come after the VACUUMs in the same upkeep
  for (int i = 0; i < 600 && vacuumed && !logs_gone; ++i) {
    logs_gone = !std::filesystem::exists(old_log);
    if (!logs_gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  server.Stop();
  EXPECT_TRUE(vacuumed);
  EXPECT_TRUE(logs_gone);
  EXPECT_EQ(ParquetFiles(audit), 1);
  EXPECT_EQ(Records(storage), 2);
}

}  // namespace
}  // namespace lakepipe::jobs
