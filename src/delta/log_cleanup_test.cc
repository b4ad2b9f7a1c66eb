// Delta log cleanup and tombstone expiry: expired commits go only when a later checkpoint
// covers them, the checkpoint's own commit stays, time travel and streaming reads past the
// retention fail naming the version and the property, and checkpoints drop tombstones
// older than delta.deletedFileRetentionDuration.
#include "delta/log_cleanup.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "delta/changes.h"
#include "delta/table.h"
#include "delta/test_util.h"
#include "testing/testing.h"

namespace lakepipe::delta {
namespace {

using ::testing::HasSubstr;

using test::IdSchema;
using test::Ids;

int64_t Rows(const SnapshotPtr& snap) {
  auto scan = Scan::Plan(snap, {});
  EXPECT_TRUE(scan.ok());
  auto all = scan->ReadAll();
  EXPECT_TRUE(all.ok());
  return all.ok() ? all->num_rows() : -1;
}

// Makes the commit files of versions [from, to] look `age_ms` old.
void Age(const std::string& table, int64_t from, int64_t to, int64_t age_ms) {
  struct timespec times[2];
  int64_t t = Clock::System()->NowMillis() - age_ms;
  times[0].tv_sec = times[1].tv_sec = t / 1000;
  times[0].tv_nsec = times[1].tv_nsec = (t % 1000) * 1000000;
  for (int64_t v = from; v <= to; ++v) {
    ASSERT_EQ(utimensat(AT_FDCWD, JoinPath(LogDir(table), CommitFileName(v)).c_str(), times, 0), 0);
  }
}

std::unique_ptr<DeltaTable> Table(const std::string& path, StringMap configuration) {
  CreateOptions create;
  create.schema = IdSchema();
  create.configuration = std::move(configuration);
  auto t = DeltaTable::Create(path, create);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return std::move(t).value();
}

constexpr int64_t kDay = 86400 * 1000;

TEST(LogCleanupTest, ExpiredCommitsGoOnlyUpToTheCheckpointThatCoversThem) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = Table(path, {{"delta.checkpointInterval", "5"}, {"delta.logRetentionDuration", "interval 1 day"}});
  for (int i = 1; i <= 12; ++i) ASSERT_TRUE(table->Write({Ids(i * 10, i * 10 + 10)}, {}).ok());
  // Versions 0-7 are three days old, 8-12 new: the cut-off commit is 7, and the newest
  // checkpoint at or before it is 5.
  Age(path, 0, 7, 3 * kDay);
  FileSystem* fs = FileSystem::Default();
  EXPECT_TRUE(fs->Exists(JoinPath(LogDir(path), CommitFileName(0))));
  for (int i = 13; i <= 15; ++i) ASSERT_TRUE(table->Write({Ids(i * 10, i * 10 + 10)}, {}).ok());  // checkpoint 15
  for (int64_t v = 0; v < 5; ++v) EXPECT_FALSE(fs->Exists(JoinPath(LogDir(path), CommitFileName(v)))) << v;
  EXPECT_TRUE(fs->Exists(JoinPath(LogDir(path), CommitFileName(5))));
  EXPECT_TRUE(fs->Exists(JoinPath(LogDir(path), CheckpointFileName(5))));
  EXPECT_TRUE(fs->Exists(JoinPath(LogDir(path), CheckpointFileName(10))));

  // Everything from the checkpoint on reads as before.
  auto latest = table->Latest();
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ(Rows(*latest), 150);
  auto fresh = DeltaTable::Open(path);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(Rows(*(*fresh)->Latest()), 150);
  auto v5 = table->AtVersion(5);
  ASSERT_TRUE(v5.ok()) << v5.status().ToString();
  EXPECT_EQ(Rows(*v5), 50);
  auto history = table->History();
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->back().version, 5);
  auto appended = ReadAppends(*table, 6, 15, {});
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();

  // Older versions: a clear error naming the version and the property.
  auto v3 = table->AtVersion(3);
  ASSERT_FALSE(v3.ok());
  EXPECT_TRUE(v3.status().IsNotFound());
  EXPECT_THAT(v3.status().message(), HasSubstr("version 3 of " + path + " is no longer in its Delta log"));
  EXPECT_THAT(v3.status().message(), HasSubstr("delta.logRetentionDuration"));
  EXPECT_THAT(v3.status().message(), HasSubstr("the oldest version it can give is 5"));
  auto stream = ReadAppends(*table, 3, 15, {});
  ASSERT_FALSE(stream.ok());
  EXPECT_THAT(stream.status().message(), HasSubstr("a streaming read of " + path + " from version 3 cannot go on"));
  EXPECT_THAT(stream.status().message(), HasSubstr("delta.logRetentionDuration"));
  auto old = table->AtTimestamp(Clock::System()->NowMillis() - 10 * kDay);
  ASSERT_FALSE(old.ok());
  EXPECT_THAT(old.status().message(), HasSubstr("log cleanup removed the older commits"));
}

TEST(LogCleanupTest, NothingGoesWithinTheRetentionOrWhenTurnedOff) {
  testing::TempDir dir;
  for (bool off : {false, true}) {
    std::string path = dir.Join(off ? "off" : "default");
    StringMap config = {{"delta.checkpointInterval", "5"}};
    if (off) config["delta.enableExpiredLogCleanup"] = "false";
    auto table = Table(path, config);
    for (int i = 1; i <= 9; ++i) ASSERT_TRUE(table->Write({Ids(i, i + 1)}, {}).ok());
    // 20 days old: within the default 30 days; 40 days with cleanup turned off.
    Age(path, 0, 9, (off ? 40 : 20) * kDay);
    ASSERT_TRUE(table->Write({Ids(10, 11)}, {}).ok());  // checkpoint 10
    EXPECT_TRUE(FileSystem::Default()->Exists(JoinPath(LogDir(path), CommitFileName(0)))) << path;
    auto v0 = table->AtVersion(0);
    EXPECT_TRUE(v0.ok()) << v0.status().ToString();
  }
  // The same log past 30 days is cleaned when the next checkpoint is written.
  std::string path = dir.Join("default");
  auto table = DeltaTable::Open(path);
  ASSERT_TRUE(table.ok());
  Age(path, 0, 10, 40 * kDay);
  auto r = CleanUpExpiredLog(FileSystem::Default(), path, {{"delta.checkpointInterval", "5"}},
                             Clock::System()->NowMillis());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->cutoff_checkpoint, 10);
  EXPECT_EQ(r->files_deleted, 10 + 1);  // commits 0-9 and checkpoint 5
  EXPECT_EQ(Rows(*(*table)->Latest()), 10);
}

// Cleanup finds what to delete by name, from `_last_checkpoint` (a listing after each
// checkpoint would cost seconds on a log of millions of commits); without that file it
// lists. Both must leave the same log, checksum files included, and again after a crash
// that deleted only part of the expired entries.
TEST(LogCleanupTest, ByNameLeavesWhatTheListingLeaves) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  auto names = [&](const std::string& path) {
    std::vector<std::string> out;
    auto listed = fs->ListNames(LogDir(path));
    EXPECT_TRUE(listed.ok());
    if (!listed.ok()) return out;
    for (const FileInfo& f : *listed) {
      if (f.name != "_last_checkpoint") out.push_back(f.name);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  for (bool crashed_half_way : {false, true}) {
    std::vector<std::string> left[2];
    for (int by_listing = 0; by_listing < 2; ++by_listing) {
      std::string path = dir.Join(std::string(crashed_half_way ? "crash" : "clean") + (by_listing ? "-listed" : "-named"));
      StringMap config = {{"delta.checkpointInterval", "5"}, {"delta.logRetentionDuration", "interval 1 day"},
                          {"delta.enableExpiredLogCleanup", "false"}};
      auto table = Table(path, config);
      for (int i = 1; i <= 23; ++i) ASSERT_TRUE(table->Write({Ids(i, i + 1)}, {}).ok());
      ASSERT_TRUE(fs->WriteFile(JoinPath(LogDir(path), "00000000000000000003.crc"), "{}").ok());
      ASSERT_TRUE(fs->WriteFile(JoinPath(LogDir(path), "00000000000000000012.crc"), "{}").ok());
      // A crash of an earlier cleanup took versions 0-2 already.
      if (crashed_half_way) {
        for (int v = 0; v <= 2; ++v) ASSERT_TRUE(fs->RemoveFile(JoinPath(LogDir(path), CommitFileName(v))).ok());
      }
      Age(path, crashed_half_way ? 3 : 0, 17, 3 * kDay);
      if (by_listing) {
        ASSERT_TRUE(fs->RemoveFile(JoinPath(LogDir(path), "_last_checkpoint")).ok());
      }
      config.erase("delta.enableExpiredLogCleanup");
      auto r = CleanUpExpiredLog(fs, path, config, Clock::System()->NowMillis());
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->cutoff_checkpoint, 15);
      left[by_listing] = names(path);
      EXPECT_EQ(left[by_listing].front(), CheckpointFileName(15)) << path;  // sorts before 15.json
      auto latest = DeltaTable::Open(path);
      ASSERT_TRUE(latest.ok());
      EXPECT_EQ(Rows(*(*latest)->Latest()), 23);
    }
    EXPECT_EQ(left[0], left[1]);
  }
}

// Sets the commit files of versions [from, to] to the time `millis`.
void SetCommitTime(const std::string& table, int64_t from, int64_t to, int64_t millis) {
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = millis / 1000;
  times[0].tv_nsec = times[1].tv_nsec = (millis % 1000) * 1000000;
  for (int64_t v = from; v <= to; ++v) {
    ASSERT_EQ(utimensat(AT_FDCWD, JoinPath(LogDir(table), CommitFileName(v)).c_str(), times, 0), 0);
  }
}

// Checkpoints more than an hour old are thinned to the first of each clock hour; every
// version in the log still reads as a replay of all commits gives it.
TEST(LogCleanupTest, ThinningKeepsTheFirstCheckpointOfEachHourAndEveryVersionReadable) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  for (bool off : {false, true}) {
    std::string path = dir.Join(off ? "off" : "on");
    StringMap config = {{"delta.checkpointInterval", "2"}};
    if (off) config["lakepipe.checkpointThinning"] = "false";
    auto table = Table(path, config);
    for (int i = 1; i <= 24; ++i) ASSERT_TRUE(table->Write({Ids(i, i + 1)}, {}).ok());  // checkpoints 2, 4 ... 24
    constexpr int64_t kHour = 3600 * 1000;
    const int64_t now = Clock::System()->NowMillis();
    const int64_t hour0 = (now - 5 * kHour) / kHour * kHour;
    SetCommitTime(path, 0, 7, hour0 + 60 * 1000);               // checkpoints 2, 4, 6
    SetCommitTime(path, 8, 15, hour0 + kHour + 60 * 1000);      // 8, 10, 12, 14
    SetCommitTime(path, 16, 19, hour0 + 2 * kHour + 60 * 1000); // 16, 18
    auto thinned = ThinCheckpoints(fs, path, config, 2, 24, now);
    ASSERT_TRUE(thinned.ok()) << thinned.status().ToString();
    std::vector<int64_t> kept;
    for (int64_t v = 2; v <= 24; v += 2) {
      if (fs->Exists(JoinPath(LogDir(path), CheckpointFileName(v)))) kept.push_back(v);
    }
    if (off) {
      EXPECT_EQ(*thinned, 0);
      EXPECT_EQ(kept.size(), 12u);
      continue;
    }
    // The first of each hour (2 is also the log's oldest), and everything under an hour old.
    EXPECT_EQ(kept, (std::vector<int64_t>{2, 8, 16, 20, 22, 24}));
    EXPECT_EQ(*thinned, 6);
    auto again = ThinCheckpoints(fs, path, config, 2, 24, now);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, 0);
    auto reopened = DeltaTable::Open(path);
    ASSERT_TRUE(reopened.ok());
    for (int64_t v = 0; v <= 24; ++v) {
      auto snap = (*reopened)->AtVersion(v);
      ASSERT_TRUE(snap.ok()) << v << ": " << snap.status().ToString();
      EXPECT_EQ(Rows(*snap), v) << v;
    }
    EXPECT_EQ(Rows(*(*reopened)->Latest()), 24);
  }
}

TEST(LogCleanupTest, CheckpointsDropTombstonesPastTheDeletedFileRetention) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  ManualClock clock(Clock::System()->NowMicros());
  CreateOptions create;
  create.schema = IdSchema();
  create.configuration = {{"delta.checkpointInterval", "2"}, {"delta.deletedFileRetentionDuration", "interval 1 hour"}};
  TableOptions options;
  options.clock = &clock;
  auto table = DeltaTable::Create(path, create, FileSystem::Default(), options);
  ASSERT_TRUE(table.ok());
  ASSERT_TRUE((*table)->Write({Ids(0, 5)}, {}).ok());  // 1
  WriteOptions overwrite;
  overwrite.mode = WriteMode::kOverwrite;
  ASSERT_TRUE((*table)->Write({Ids(5, 10)}, overwrite).ok());  // 2: a tombstone; checkpoint 2
  auto removes_in = [&](int64_t version) {
    auto listing = ListLog(FileSystem::Default(), path);
    EXPECT_TRUE(listing.ok());
    for (const auto& c : listing->checkpoints) {
      if (c.version != version) continue;
      auto actions = ReadCheckpoint(FileSystem::Default(), path, c);
      EXPECT_TRUE(actions.ok());
      int n = 0;
      for (const auto& a : *actions) n += std::holds_alternative<RemoveFile>(a);
      return n;
    }
    ADD_FAILURE() << "no checkpoint " << version;
    return -1;
  };
  EXPECT_EQ(removes_in(2), 1);
  ASSERT_TRUE((*table)->Write({Ids(10, 11)}, {}).ok());  // 3
  clock.Advance(30LL * 60 * 1000000);  // 30 minutes: still kept
  ASSERT_TRUE((*table)->Write({Ids(11, 12)}, {}).ok());  // 4: checkpoint
  EXPECT_EQ(removes_in(4), 1);
  clock.Advance(31LL * 60 * 1000000);  // past the hour
  ASSERT_TRUE((*table)->Write({Ids(12, 13)}, {}).ok());  // 5
  ASSERT_TRUE((*table)->Write({Ids(13, 14)}, {}).ok());  // 6: checkpoint
  EXPECT_EQ(removes_in(6), 0);
  auto fresh = DeltaTable::Open(path);
  ASSERT_TRUE(fresh.ok());
  auto latest = (*fresh)->Latest();
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(Rows(*latest), 9);
  EXPECT_TRUE((*latest)->state().tombstones.empty());
}

TEST(LogCleanupTest, RetentionProperties) {
  EXPECT_EQ(LogRetentionMillis({}), 30 * kDay);
  EXPECT_EQ(LogRetentionMillis({{"delta.logRetentionDuration", "interval 2 days"}}), 2 * kDay);
  EXPECT_EQ(DeletedFileRetentionMillis({}), 7 * kDay);
  EXPECT_EQ(DeletedFileRetentionMillis({{"delta.deletedFileRetentionDuration", "interval 1 day 12 hours"}}),
            kDay + kDay / 2);
}

}  // namespace
}  // namespace lakepipe::delta
