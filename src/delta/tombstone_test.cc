// Tombstones of a table that replaces its file at every version, as a Gold materialized
// view committing every second does (issue 16): the checkpoints and the handle's cached
// snapshot keep only the tombstones within delta.deletedFileRetentionDuration, however
// many versions were committed; VACUUM deletes exactly the removed files whose tombstone
// expired; a version whose files VACUUM deleted fails to read with a message naming the
// file, the version and the property. And the compact tombstone gives back the `remove`
// it was made of (without stats and tags).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "delta/log_cleanup.h"
#include "delta/table.h"
#include "delta/test_util.h"
#include "testing/testing.h"

namespace lakepipe::delta {
namespace {

using ::testing::HasSubstr;

using test::IdSchema;
using test::Ids;

// The remove actions of the newest checkpoint of the table at `path` (-1 without one).
int64_t RemovesInNewestCheckpoint(const std::string& path, int64_t* version) {
  auto listing = ListLog(FileSystem::Default(), path);
  if (!listing.ok() || listing->checkpoints.empty()) return -1;
  const CheckpointFiles& newest = listing->checkpoints.back();
  *version = newest.version;
  auto actions = ReadCheckpoint(FileSystem::Default(), path, newest);
  if (!actions.ok()) return -1;
  int64_t n = 0;
  for (const auto& a : *actions) n += std::holds_alternative<RemoveFile>(a);
  return n;
}

class ViewTombstoneTest : public ::testing::Test {
 protected:
  static constexpr int64_t kVersions = 150;
  static constexpr int64_t kRetentionSeconds = 30;

  // A table with a 30-second tombstone retention overwritten once per (simulated) second,
  // kVersions times: version v holds the single file of ids [v, v + 3).
  void SetUp() override {
    path_ = dir_.path() + "/view";
    options_.clock = &clock_;
    CreateOptions create;
    create.schema = IdSchema();
    create.configuration["delta.deletedFileRetentionDuration"] = "interval 30 seconds";
    auto table = DeltaTable::Create(path_, create, FileSystem::Default(), options_);
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    table_ = std::move(table).value();
    WriteOptions overwrite;
    overwrite.mode = WriteMode::kOverwrite;
    for (int64_t v = 1; v <= kVersions; ++v) {
      clock_.Advance(1000000);
      auto committed = table_->Write({Ids(v, v + 3)}, overwrite);
      ASSERT_TRUE(committed.ok()) << committed.status().ToString();
      ASSERT_EQ(committed->version, v);
      ASSERT_TRUE(committed->checkpoint_error.empty()) << committed->checkpoint_error;
    }
  }

  testing::TempDir dir_;
  // Starts at the real time, so that the data files' modification times (real) are
  // "now" for it, and moves one second per commit.
  ManualClock clock_{Clock::System()->NowMicros()};
  TableOptions options_;
  std::string path_;
  std::unique_ptr<DeltaTable> table_;
};

TEST_F(ViewTombstoneTest, CheckpointAndCachedSnapshotKeepOnlyTheRetention) {
  // One tombstone per version: a version's removal expires kRetentionSeconds later, so at
  // most that many (plus the versions since the last checkpoint, for the cached state,
  // which is pruned once per checkpoint interval) are live.
  int64_t checkpoint_version = -1;
  const int64_t in_checkpoint = RemovesInNewestCheckpoint(path_, &checkpoint_version);
  EXPECT_EQ(checkpoint_version, 150);
  EXPECT_GT(in_checkpoint, 0);
  EXPECT_LE(in_checkpoint, kRetentionSeconds + 1);
  auto latest = table_->Latest();
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ((*latest)->version(), kVersions);
  EXPECT_GT((*latest)->state().tombstones.size(), 0u);
  EXPECT_LE((*latest)->state().tombstones.size(), static_cast<size_t>(kRetentionSeconds + 10 + 1));
  // A new handle replays from the checkpoint: the same bound.
  auto fresh = DeltaTable::Open(path_, FileSystem::Default(), options_);
  ASSERT_TRUE(fresh.ok());
  auto replayed = (*fresh)->Latest();
  ASSERT_TRUE(replayed.ok());
  EXPECT_LE((*replayed)->state().tombstones.size(), static_cast<size_t>(kRetentionSeconds + 1));
}

TEST_F(ViewTombstoneTest, VacuumDeletesOnlyExpiredRemovedFiles) {
  auto latest = table_->Latest();
  ASSERT_TRUE(latest.ok());
  // Files to keep: the current one, and every file removed within the retention.
  const int64_t cutoff = clock_.NowMillis() - kRetentionSeconds * 1000;
  std::set<std::string> live;
  for (const auto& f : (*latest)->files()) live.insert(f.add.path);
  std::set<std::string> recently_removed;
  for (const auto& [key, t] : (*latest)->state().tombstones) {
    if (t.deletion_timestamp.value_or(0) >= cutoff) recently_removed.insert(t.LogPath(key));
  }
  ASSERT_FALSE(recently_removed.empty());
  // The files on disk before: one per version.
  auto before = FileSystem::Default()->ListDir(path_);
  ASSERT_TRUE(before.ok());
  int64_t parquet_before = 0;
  for (const auto& f : *before) parquet_before += f.name.find(".parquet") != std::string::npos;
  EXPECT_EQ(parquet_before, kVersions);

  VacuumOptions vacuum;
  vacuum.retention_hours = kRetentionSeconds / 3600.0;
  auto done = table_->Vacuum(vacuum);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  for (const auto& deleted : done->deleted) {
    EXPECT_EQ(live.count(deleted), 0u) << deleted;
    EXPECT_EQ(recently_removed.count(deleted), 0u) << deleted;
  }
  auto after = FileSystem::Default()->ListDir(path_);
  ASSERT_TRUE(after.ok());
  std::set<std::string> remaining;
  for (const auto& f : *after) {
    if (f.name.find(".parquet") != std::string::npos) remaining.insert(f.name);
  }
  std::set<std::string> expected = live;
  expected.insert(recently_removed.begin(), recently_removed.end());
  EXPECT_EQ(remaining, expected);
  EXPECT_EQ(static_cast<int64_t>(done->deleted.size()), parquet_before - static_cast<int64_t>(expected.size()));

  // A version within the retention still reads; one past it names what went and why.
  auto recent = table_->AtVersion(kVersions - 5);
  ASSERT_TRUE(recent.ok());
  auto recent_scan = Scan::Plan(*recent, {});
  ASSERT_TRUE(recent_scan.ok());
  auto rows = recent_scan->ReadAll();
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->num_rows(), 3);
  auto old = table_->AtVersion(20);
  ASSERT_TRUE(old.ok()) << old.status().ToString();  // its log entry is still there
  auto old_scan = Scan::Plan(*old, {});
  ASSERT_TRUE(old_scan.ok());
  auto gone = old_scan->ReadAll();
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.status().IsNotFound());
  EXPECT_THAT(gone.status().message(), HasSubstr("of version 20 of " + path_));
  EXPECT_THAT(gone.status().message(), HasSubstr("delta.deletedFileRetentionDuration ('interval 30 seconds')"));
  EXPECT_THAT(gone.status().message(), HasSubstr((*old)->files()[0].add.path));
}

TEST(TombstoneTest, KeepsWhatTheRemoveNeedsWithoutStatsOrTags) {
  RemoveFile plain;
  plain.path = "part-00001-a.parquet";
  plain.deletion_timestamp = 1234;
  plain.size = 99;
  plain.data_change = false;
  plain.extended_file_metadata = true;
  plain.partition_values.emplace();  // `{}`: an unpartitioned table's
  plain.stats = "{\"numRecords\":3}";
  plain.tags = StringMap{{"k", "v"}};
  Tombstone t = Tombstone::Of("part-00001-a.parquet", plain);
  EXPECT_TRUE(t.path.empty());  // the key is the path: not kept twice
  EXPECT_EQ(t.extras, nullptr);
  RemoveFile back = t.ToRemove("part-00001-a.parquet");
  RemoveFile expected = plain;
  expected.stats.reset();
  expected.tags.reset();
  EXPECT_EQ(SerializeAction(back), SerializeAction(expected));

  RemoveFile escaped;
  escaped.path = "d=a%20b/part-2.parquet";
  escaped.partition_values = PartitionValues{{"d", "a b"}};
  escaped.deletion_vector = DeletionVector{"u", "ab^-aqEH.-t@S}K{vb[*k^", 1, 36, 2};
  escaped.base_row_id = 7;
  auto key = FileKey(escaped.path, escaped.deletion_vector);
  ASSERT_TRUE(key.ok());
  Tombstone e = Tombstone::Of(*key, escaped);
  EXPECT_EQ(e.LogPath(*key), "d=a%20b/part-2.parquet");
  ASSERT_NE(e.extras, nullptr);
  EXPECT_EQ(SerializeAction(e.ToRemove(*key)), SerializeAction(escaped));
}

TEST(TombstoneTest, DropExpiredTombstonesUsesTheTableRetention) {
  TableState state;
  state.metadata.configuration["delta.deletedFileRetentionDuration"] = "interval 1 hour";
  std::vector<Action> removes;
  for (int i = 0; i < 5; ++i) {
    RemoveFile r;
    r.path = "f" + std::to_string(i);
    r.deletion_timestamp = 1000000 + i * 1000 * 1000;  // i * 1000 s after the first
    removes.push_back(r);
  }
  ASSERT_TRUE(ApplyActions(&state, removes).ok());
  ASSERT_EQ(state.tombstones.size(), 5u);
  // An hour after the third removal: the first three are expired (strictly older).
  const int64_t now = 1000000 + 2 * 1000 * 1000 + 3600 * 1000 + 1;
  EXPECT_EQ(DropExpiredTombstones(&state, now), 3);
  EXPECT_EQ(state.tombstones.size(), 2u);
  EXPECT_EQ(state.tombstones.count("f3"), 1u);
  EXPECT_EQ(state.tombstones.count("f4"), 1u);
}

}  // namespace
}  // namespace lakepipe::delta
