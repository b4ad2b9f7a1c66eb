// The audit log table: records from many threads at once all committed (group commit:
// fewer commits than records), read back in order, filtered by time; grant changes
// recorded as differences from what the log last holds.
#include "governance/audit_log.h"

#include <gtest/gtest.h>

#include <thread>

#include "delta/table.h"
#include "governance/policy.h"
#include "testing/testing.h"

namespace lakepipe::governance {
namespace {

TEST(AuditLog, ConcurrentRecordsAreAllCommittedInFewerCommits) {
  testing::TempDir dir;
  AuditLog log(FileSystem::Default(), dir.path(), "orders");
  constexpr int kThreads = 8, kEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        AuditRecord r;
        r.principal = "p" + std::to_string(t);
        r.role = "reader";
        r.action = "read_rows";
        r.target = "t" + std::to_string(i);
        r.outcome = "allowed";
        r.status = 200;
        if (!log.Record(r).ok()) failures++;
        // Returned: the record is committed, visible to a fresh reader now.
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto rows = AuditLog::Read(dir.path());
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), static_cast<size_t>(kThreads * kEach));
  std::map<std::string, int> per_principal;
  for (size_t i = 0; i < rows->size(); ++i) {
    per_principal[(*rows)[i].principal]++;
    if (i > 0) {
      EXPECT_GE((*rows)[i].timestamp_micros, (*rows)[i - 1].timestamp_micros);
    }
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(per_principal["p" + std::to_string(t)], kEach);
  }
  auto table = delta::DeltaTable::Open(AuditLog::TablePath(dir.path()));
  ASSERT_TRUE(table.ok());
  auto version = (*table)->LatestVersion();
  ASSERT_TRUE(version.ok());
  EXPECT_LE(*version + 1, kThreads * kEach);  // at most one commit per record
  // Time filter.
  int64_t middle = (*rows)[rows->size() / 2].timestamp_micros;
  auto later = AuditLog::Read(dir.path(), middle);
  ASSERT_TRUE(later.ok());
  EXPECT_LT(later->size(), rows->size());
  for (const auto& r : *later) {
    EXPECT_GE(r.timestamp_micros, middle);
  }
}

TEST(AuditLog, SmallFilesAreCompactedAsRecordsAccumulate) {
  testing::TempDir dir;
  AuditLog log(FileSystem::Default(), dir.path(), "orders");
  const int n = AuditLog::kCompactEvery * 2 + 3;
  for (int i = 0; i < n; ++i) {
    AuditRecord r;
    r.action = "read_rows";
    r.target = std::to_string(i);
    r.outcome = "allowed";
    ASSERT_TRUE(log.Record(r).ok());  // one at a time: one commit each
  }
  auto table = delta::DeltaTable::Open(AuditLog::TablePath(dir.path()));
  ASSERT_TRUE(table.ok());
  auto snapshot = (*table)->Latest();
  ASSERT_TRUE(snapshot.ok());
  EXPECT_LE((*snapshot)->num_files(), 4u);  // one compacted file and the 3 records since
  auto rows = AuditLog::Read(dir.path());
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), static_cast<size_t>(n));  // compaction keeps every record, in order
  for (int i = 0; i < n; ++i) EXPECT_EQ((*rows)[static_cast<size_t>(i)].target, std::to_string(i));
}

// Cron-style commands (`run --once`, `table vacuum`, ...) each record once through an
// AuditLog of their own: the table is still compacted, by whichever writes every
// kCompactEvery-th version.
TEST(AuditLog, OneRecordPerProcessIsCompactedToo) {
  testing::TempDir dir;
  const int n = AuditLog::kCompactEvery * 2 + 3;
  for (int i = 0; i < n; ++i) {
    AuditLog log(FileSystem::Default(), dir.path(), "orders");
    AuditRecord r;
    r.action = "run";
    r.target = std::to_string(i);
    r.outcome = "allowed";
    ASSERT_TRUE(log.Record(r).ok());
  }
  auto table = delta::DeltaTable::Open(AuditLog::TablePath(dir.path()));
  ASSERT_TRUE(table.ok());
  auto snapshot = (*table)->Latest();
  ASSERT_TRUE(snapshot.ok());
  EXPECT_LE((*snapshot)->num_files(), 4u);  // one compacted file and the 3 records since
  auto rows = AuditLog::Read(dir.path());
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ((*rows)[static_cast<size_t>(i)].target, std::to_string(i));
}

TEST(AuditLog, NoTableYetReadsAsNoRecords) {
  testing::TempDir dir;
  auto rows = AuditLog::Read(dir.path());
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
}

TEST(AuditLog, GrantChangesAreRecordedAsDifferences) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  auto hash = HashToken("reader-token-0123456789");
  ASSERT_TRUE(hash.ok());
  std::string yaml = "name: orders\ngovernance:\n  principals:\n    - {name: alice, role: reader, token_hash: \"" +
                     FormatTokenHash(*hash) + "\"}\n  grants: grants.sql\n";
  ASSERT_TRUE(fs->WriteFile(dir.Join("pipeline.yaml"), yaml).ok());
  std::vector<std::string> tables = {"gold_kpis", "gold_daily"};
  auto load = [&](const std::string& grants) {
    EXPECT_TRUE(fs->WriteFile(dir.Join("grants.sql"), grants).ok());
    auto p = Policy::Load(dir.Join("pipeline.yaml"), "orders", tables);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? *p : Policy();
  };
  AuditLog log(fs, dir.Join("storage"), "orders");
  std::string storage = dir.Join("storage");
  ASSERT_TRUE(RecordPolicyChange(log, storage, load("GRANT SELECT ON TABLE gold_kpis TO alice;"), "local:me", "cli").ok());
  ASSERT_TRUE(RecordPolicyChange(log, storage, load("GRANT SELECT ON TABLE gold_kpis TO alice;"), "local:me", "cli").ok());
  ASSERT_TRUE(RecordPolicyChange(log, storage, load("GRANT SELECT ON TABLE gold_daily TO alice;"), "local:me", "cli").ok());
  auto rows = AuditLog::Read(storage);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);  // the unchanged second start is not a change
  EXPECT_EQ((*rows)[0].action, "grant_change");
  EXPECT_EQ((*rows)[0].detail,
            "+ PRINCIPAL alice ROLE reader TOKENS 1\n+ SELECT ON TABLE gold_kpis TO alice");
  EXPECT_EQ((*rows)[1].detail, "- SELECT ON TABLE gold_kpis TO alice\n+ SELECT ON TABLE gold_daily TO alice");
  EXPECT_EQ((*rows)[1].principal, "local:me");
  EXPECT_EQ((*rows)[1].target, dir.Join("pipeline.yaml"));
}

}  // namespace
}  // namespace lakepipe::governance
