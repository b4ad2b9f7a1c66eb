// The event log's upkeep (issue 16): events past the retention go and the recent ones
// stay, reading only the files that hold old events; its small files are compacted; an
// event log created without them gets its history properties, a value set by hand stays.
#include "runtime/event_log_upkeep.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <set>
#include <thread>

#include "delta/table.h"
#include "delta/test_util.h"
#include "runtime/event_log.h"
#include "runtime/pipeline_runner.h"
#include "sql/event_log_settings.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

constexpr int64_t kDay = 86400LL * 1000000;
constexpr int64_t kStart = 1764000000LL * 1000000;  // November 2025

class EventLogUpkeepTest : public ::testing::Test {
 protected:
  // One flush per event, so one data file per event: `message` is "e<i>".
  void AddFlushed(int64_t timestamp, int i) {
    clock_.Set(timestamp);
    log_.Add({timestamp, "", "flow_progress", "INFO", "e" + std::to_string(i), "{}"});
    ASSERT_TRUE(log_.Flush().ok());
  }

  delta::SnapshotPtr Latest() {
    auto table = delta::DeltaTable::Open(EventLog::TablePath(dir_.path()));
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    auto snap = (*table)->Latest();
    EXPECT_TRUE(snap.ok()) << snap.status().ToString();
    return *snap;
  }

  // The messages of the events in the table, and their timestamps.
  std::multiset<std::string> Messages(std::vector<int64_t>* timestamps = nullptr) {
    auto scan = delta::Scan::Plan(Latest(), {});
    EXPECT_TRUE(scan.ok());
    auto all = scan->ReadAll();
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    std::multiset<std::string> out;
    int msg = all->schema().FindField("message");
    int ts = all->schema().FindField("timestamp");
    for (int64_t r = 0; r < all->num_rows(); ++r) {
      out.insert(all->column(static_cast<size_t>(msg)).GetValue(r).ToString());
      if (timestamps) timestamps->push_back(all->column(static_cast<size_t>(ts)).Get<int64_t>(r));
    }
    return out;
  }

  testing::TempDir dir_;
  FileSystem* fs_ = FileSystem::Default();
  ManualClock clock_{kStart};
  EventLog log_{fs_, dir_.path(), "p", &clock_};
};

TEST_F(EventLogUpkeepTest, EventsOlderThanTheRetentionGoAndRecentOnesStay) {
  for (int d = 0; d < 10; ++d) AddFlushed(kStart + d * kDay, d);
  ASSERT_EQ(Latest()->num_files(), 10u);
  EventLogUpkeepOptions options;
  options.retention_micros = 7 * kDay;
  EventLogUpkeep upkeep(fs_, &clock_, nullptr, dir_.path(), options);
  // Now = day 9: the cut-off is day 2; days 0 and 1 are older.
  auto deleted = upkeep.ExpireEvents();
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 2);
  std::vector<int64_t> timestamps;
  auto messages = Messages(&timestamps);
  EXPECT_EQ(messages, (std::multiset<std::string>{"e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9"}));
  for (int64_t t : timestamps) EXPECT_GE(t, clock_.NowMicros() - 7 * kDay);
  // The two files of old events were removed, none rewritten: the others were not read.
  EXPECT_EQ(Latest()->num_files(), 8u);
  // Nothing older now: no commit.
  int64_t version = Latest()->version();
  deleted = upkeep.ExpireEvents();
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0);
  EXPECT_EQ(Latest()->version(), version);
}

TEST_F(EventLogUpkeepTest, AFileHoldingOldAndRecentEventsKeepsTheRecentOnes) {
  clock_.Set(kStart + 5 * kDay);
  log_.Add({kStart, "", "flow_progress", "INFO", "old", "{}"});
  log_.Add({kStart + 5 * kDay, "", "flow_progress", "INFO", "recent", "{}"});
  ASSERT_TRUE(log_.Flush().ok());
  EventLogUpkeepOptions options;
  options.retention_micros = 2 * kDay;
  EventLogUpkeep upkeep(fs_, &clock_, &log_, dir_.path(), options);
  auto result = upkeep.RunNow(/*vacuum=*/false);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->events_deleted, 1);
  EXPECT_EQ(Messages(), (std::multiset<std::string>{"recent"}));
  // The upkeep reports itself in the event log.
  ASSERT_TRUE(log_.Flush().ok());
  auto scan = delta::Scan::Plan(Latest(), {});
  auto all = scan->ReadAll();
  ASSERT_TRUE(all.ok());
  bool reported = false;
  int type = all->schema().FindField("event_type"), details = all->schema().FindField("details");
  for (int64_t r = 0; r < all->num_rows(); ++r) {
    if (all->column(static_cast<size_t>(type)).GetValue(r).ToString() == "event_log_retention") {
      reported = true;
      EXPECT_NE(all->column(static_cast<size_t>(details)).GetValue(r).ToString().find("\"events_deleted\":1"),
                std::string::npos);
    }
  }
  EXPECT_TRUE(reported);
}

TEST_F(EventLogUpkeepTest, RetentionOffKeepsEveryEvent) {
  for (int d = 0; d < 3; ++d) AddFlushed(kStart + d * 30 * kDay, d);
  EventLogUpkeepOptions options;
  options.retention_micros = 0;
  EventLogUpkeep upkeep(fs_, &clock_, nullptr, dir_.path(), options);
  auto result = upkeep.RunNow(false);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->events_deleted, 0);
  EXPECT_EQ(Messages().size(), 3u);
}

TEST_F(EventLogUpkeepTest, SmallFilesAreCompactedKeepingEveryEvent) {
  for (int i = 0; i < 12; ++i) AddFlushed(kStart + i * 1000000, i);
  ASSERT_EQ(Latest()->num_files(), 12u);
  EventLogUpkeepOptions options;
  options.min_num_files = 5;
  EventLogUpkeep upkeep(fs_, &clock_, nullptr, dir_.path(), options);
  auto result = upkeep.RunNow(false);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->compacted);
  EXPECT_LT(Latest()->num_files(), 12u);
  EXPECT_EQ(Messages().size(), 12u);
}

TEST_F(EventLogUpkeepTest, NewEventLogsCarryTheHistoryPropertiesAndOldOnesGetThem) {
  AddFlushed(kStart, 0);
  delta::SnapshotPtr created = Latest();
  for (const auto& [key, value] : EventLogHistoryProperties()) {
    auto it = created->configuration().find(key);
    ASSERT_NE(it, created->configuration().end()) << key;
    EXPECT_EQ(it->second, value);
  }
  // An event log of an older lakepipe: created without them, one set by hand.
  testing::TempDir other;
  delta::CreateOptions create;
  create.schema = EventLog::TableSchema();
  create.configuration["delta.logRetentionDuration"] = "interval 3 days";
  ASSERT_TRUE(delta::DeltaTable::Create(EventLog::TablePath(other.path()), create).ok());
  EventLogUpkeep upkeep(fs_, &clock_, nullptr, other.path(), {});
  ASSERT_TRUE(upkeep.RunNow(false).ok());
  auto table = delta::DeltaTable::Open(EventLog::TablePath(other.path()));
  ASSERT_TRUE(table.ok());
  auto snap = (*table)->Latest();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ((*snap)->configuration().at("delta.logRetentionDuration"), "interval 3 days");
  EXPECT_EQ((*snap)->configuration().at("delta.deletedFileRetentionDuration"), "interval 1 hour");
  EXPECT_EQ((*snap)->configuration().at("delta.setTransactionRetentionDuration"), "interval 1 day");
  EXPECT_EQ((*snap)->schema().ToDDL(), EventLog::TableSchema().ToDDL());
}

// Every run writes the event log under an appId of its own; a day after a run's last
// flush its txn leaves the checkpoints, so a month of hourly runs does not put 720 txns
// in every checkpoint. The current run's txn stays.
TEST_F(EventLogUpkeepTest, PastRunsTxnsLeaveTheCheckpointsAfterADay) {
  AddFlushed(kStart, 0);  // this fixture's EventLog: the first run
  ASSERT_EQ(Latest()->txns().size(), 1u);
  const std::string first_run = Latest()->txns().begin()->first;
  EventLog second(fs_, dir_.path(), "p", &clock_);  // a later run
  // Ten flushes of the second run, 23 hours on: one checkpoint (every 10 commits) holds both.
  int64_t t = kStart + 23 * kDay / 24;
  for (int i = 0; i < 10; ++i) {
    clock_.Set(t + i);
    second.Add({t + i, "", "flow_progress", "INFO", "second", "{}"});
    ASSERT_TRUE(second.Flush().ok());
  }
  ASSERT_GE(Latest()->state().checkpoint_version, 0);
  EXPECT_EQ(Latest()->txns().size(), 2u);
  // Ten more, 25 hours after the first run's flush: the next checkpoint drops its txn.
  t = kStart + 25 * kDay / 24;
  for (int i = 0; i < 10; ++i) {
    clock_.Set(t + i);
    second.Add({t + i, "", "flow_progress", "INFO", "second", "{}"});
    ASSERT_TRUE(second.Flush().ok());
  }
  delta::SnapshotPtr snap = Latest();
  ASSERT_EQ(snap->state().checkpoint_version, snap->version()) << "expected a checkpoint at the 20th flush";
  EXPECT_EQ(snap->txns().count(first_run), 0u);
  ASSERT_EQ(snap->txns().size(), 1u);
  EXPECT_EQ(Messages().count("second"), 20u);
  EXPECT_EQ(Messages().count("e0"), 1u);
}

// In a continuous run the log is written about once a second while tables update; its
// upkeep thread compacts it beside the run (here every 3 small files).
TEST(EventLogContinuousTest, TheLogIsCompactedWhileTheRunGoesOn) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  const std::string landing = dir.Join("landing");
  ASSERT_TRUE(fs->CreateDirs(landing).ok());
  ASSERT_TRUE(fs->CreateDirs(dir.Join("p")).ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/pipeline.yaml"),
                            "name: t\nstorage: " + dir.Join("storage") + "\nconfiguration: {landing: " + landing +
                                ", lakepipe.eventLog.autoCompact.minNumFiles: '3'}\n")
                  .ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/p.sql"),
                            "CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${landing}', "
                            "format => 'csv', header => true, schema => 'id INT');\n")
                  .ok());
  auto opened = PipelineRunner::Open(dir.Join("p"), {});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<PipelineRunner> runner = std::move(opened).value();
  Status result;
  std::thread run([&] { result = runner->RunContinuous({}); });
  auto count = [&](const std::string& sql) -> int64_t {
    auto r = runner->Query(sql);
    if (!r.ok() || r->batches.empty() || r->batches[0].num_rows() == 0) return -1;
    return std::stoll(r->batches[0].column(0).GetValue(0).ToString());
  };
  auto wait_for = [](const std::function<bool()>& done) {
    for (int i = 0; i < 400; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  const std::string compactions =
      "SELECT count(*) FROM _event_log WHERE event_type = 'auto_compaction' AND table_name = '_event_log' AND "
      "level = 'INFO'";
  bool compacted = false;
  // A file, then a flush of its events (at most one a second), until the log compacted.
  for (int i = 0; i < 12 && !compacted; ++i) {
    ASSERT_TRUE(fs->WriteFileAtomic(JoinPath(landing, "f" + std::to_string(i) + ".csv"),
                                    "id\n" + std::to_string(i) + "\n")
                    .ok());
    ASSERT_TRUE(wait_for([&] { return count("SELECT count(*) FROM raw") == i + 1; })) << i;
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    compacted = count(compactions) > 0;
  }
  EXPECT_TRUE(compacted);
  runner->RequestStop();
  run.join();
  EXPECT_TRUE(result.ok()) << result.ToString();
  auto table = delta::DeltaTable::Open(EventLog::TablePath(dir.Join("storage")));
  ASSERT_TRUE(table.ok());
  auto snap = (*table)->Latest();
  ASSERT_TRUE(snap.ok());
  // Fewer files than the commits that appended events (each added one).
  EXPECT_LT(static_cast<int64_t>((*snap)->num_files()),
            delta::test::CountCommits(EventLog::TablePath(dir.Join("storage")), "WRITE"));
  EXPECT_EQ(count("SELECT count(*) FROM raw"), count("SELECT count(DISTINCT id) FROM raw"));
}

TEST(EventLogSettingsTest, ReadsTheRetentionAndRefusesWhatItCannotUse) {
  auto defaults = sql::EventLogSettingsOf({}, "p.yaml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->retention_micros, 7 * kDay);
  auto set = sql::EventLogSettingsOf({{"lakepipe.eventLog.retentionDuration", "interval 36 hours"},
                                      {"lakepipe.eventLog.autoCompact.minNumFiles", "20"}},
                                     "p.yaml");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->retention_micros, 36LL * 3600 * 1000000);
  EXPECT_EQ(set->min_num_files, 20);
  auto off = sql::EventLogSettingsOf({{"lakepipe.eventLog.retentionDuration", "OFF"}}, "p.yaml");
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->retention_micros, 0);
  for (const char* bad : {"5 minutes", "seven days", "-1 day", ""}) {
    auto r = sql::EventLogSettingsOf({{"lakepipe.eventLog.retentionDuration", bad}}, "p.yaml");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("p.yaml: configuration lakepipe.eventLog.retentionDuration is '"),
              std::string::npos)
        << r.status().message();
  }
  EXPECT_FALSE(sql::EventLogSettingsOf({{"lakepipe.eventLog.autoCompact.minNumFiles", "1"}}, "p.yaml").ok());
  EXPECT_FALSE(sql::EventLogSettingsOf({{"lakepipe.eventLog.autoCompact.minNumFiles", "x"}}, "p.yaml").ok());
}

}  // namespace
}  // namespace lakepipe::runtime
