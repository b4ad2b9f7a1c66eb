// Removes kept by their file's modification time (delta/mtime_kept.h, issue 16): OPTIMIZE
// sets the time of each file it removes to the removal time and tags its remove; those
// tombstones leave the snapshot and the checkpoints after an hour, untagged ones keep the
// table's retention; and VACUUM still never deletes a compacted-away file before its
// removal time + the table's retention.
#include "delta/mtime_kept.h"

#include <gtest/gtest.h>

#include <set>

#include "delta/log_cleanup.h"
#include "delta/table.h"
#include "delta/table_internal.h"
#include "delta/test_util.h"
#include "testing/testing.h"

namespace lakepipe::delta {
namespace {

using test::IdSchema;
using test::Ids;

constexpr int64_t kMinuteMicros = 60LL * 1000 * 1000;
constexpr int64_t kHourMicros = 60 * kMinuteMicros;

int64_t MtimeMillis(const std::string& path) {
  auto info = FileSystem::Default()->Stat(path);
  EXPECT_TRUE(info.ok()) << path << ": " << info.status().ToString();
  return info.ok() ? info->mtime_micros / 1000 : -1;
}

std::vector<RemoveFile> RemovesOfCommit(const std::string& table_path, int64_t version) {
  std::vector<RemoveFile> out;
  auto text = FileSystem::Default()->ReadFile(JoinPath(LogDir(table_path), CommitFileName(version)));
  EXPECT_TRUE(text.ok());
  if (!text.ok()) return out;
  auto actions = ParseActions(*text, CommitFileName(version));
  EXPECT_TRUE(actions.ok());
  if (!actions.ok()) return out;
  for (auto& a : *actions) {
    if (auto* r = std::get_if<RemoveFile>(&a)) out.push_back(*r);
  }
  return out;
}

// The removes of the checkpoint of `version`, by path.
std::map<std::string, RemoveFile> RemovesOfCheckpoint(const std::string& table_path, int64_t version) {
  std::map<std::string, RemoveFile> out;
  CheckpointFiles cp;
  cp.version = version;
  cp.paths = {JoinPath(LogDir(table_path), CheckpointFileName(version))};
  auto actions = ReadCheckpoint(FileSystem::Default(), table_path, cp);
  EXPECT_TRUE(actions.ok()) << actions.status().ToString();
  if (!actions.ok()) return out;
  for (auto& a : *actions) {
    if (auto* r = std::get_if<RemoveFile>(&a)) out[r->path] = *r;
  }
  return out;
}

class MtimeKeptTest : public ::testing::Test {
 protected:
  // A table whose clock starts at the real time (so the data files' real modification
  // times are "now" for it) and moves only when told.
  std::unique_ptr<DeltaTable> Create(const std::string& name, const StringMap& configuration) {
    path_ = dir_.Join(name);
    options_.clock = &clock_;
    CreateOptions create;
    create.schema = IdSchema();
    create.configuration = configuration;
    auto table = DeltaTable::Create(path_, create, FileSystem::Default(), options_);
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    return table.ok() ? std::move(table).value() : nullptr;
  }
  void Append(DeltaTable& table, int64_t from, int64_t to) {
    auto done = table.Write({Ids(from, to)}, WriteOptions{});
    ASSERT_TRUE(done.ok()) << done.status().ToString();
  }
  void Overwrite(DeltaTable& table, int64_t from, int64_t to) {
    WriteOptions overwrite;
    overwrite.mode = WriteMode::kOverwrite;
    auto done = table.Write({Ids(from, to)}, overwrite);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
  }
  std::set<std::string> ActivePaths(DeltaTable& table) {
    std::set<std::string> out;
    auto snap = table.Latest();
    EXPECT_TRUE(snap.ok());
    if (snap.ok()) {
      for (const auto& f : (*snap)->files()) out.insert(f.add.path);
    }
    return out;
  }
  // The tombstones a new handle (a restart) holds now: key -> mtime_kept.
  std::map<std::string, bool> TombstonesAfterRestart() {
    std::map<std::string, bool> out;
    auto table = DeltaTable::Open(path_, FileSystem::Default(), options_);
    EXPECT_TRUE(table.ok());
    if (!table.ok()) return out;
    auto snap = (*table)->Latest();
    EXPECT_TRUE(snap.ok());
    if (!snap.ok()) return out;
    for (const auto& [key, t] : (*snap)->state().tombstones) out[key] = t.mtime_kept;
    return out;
  }

  testing::TempDir dir_;
  ManualClock clock_{Clock::System()->NowMicros()};
  TableOptions options_;
  std::string path_;
};

TEST_F(MtimeKeptTest, CompactionSetsTheRemovedFilesTimeAndTagsTheirRemoves) {
  auto table = Create("bronze", {});
  ASSERT_NE(table, nullptr);
  for (int i = 0; i < 4; ++i) Append(*table, i * 10, i * 10 + 5);
  std::set<std::string> small = ActivePaths(*table);
  ASSERT_EQ(small.size(), 4u);
  std::map<std::string, int64_t> written_at;
  for (const auto& p : small) written_at[p] = MtimeMillis(JoinPath(path_, p));

  clock_.Advance(10 * kMinuteMicros);
  auto done = table->Optimize();
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ASSERT_TRUE(done->version.has_value());
  EXPECT_EQ(done->files_removed, 4);
  EXPECT_EQ(done->files_kept_by_time, 4);

  const std::vector<RemoveFile> removes = RemovesOfCommit(path_, *done->version);
  ASSERT_EQ(removes.size(), 4u);
  for (const RemoveFile& r : removes) {
    EXPECT_EQ(small.count(r.path), 1u) << r.path;
    EXPECT_FALSE(r.data_change);
    ASSERT_TRUE(r.tags.has_value()) << r.path;
    EXPECT_EQ(r.tags->at(kMtimeKeptTag), "true");
    ASSERT_TRUE(r.deletion_timestamp.has_value());
    EXPECT_EQ(*r.deletion_timestamp, clock_.NowMillis());
    // The file's time moved forward to the removal, not before it.
    const int64_t mtime = MtimeMillis(JoinPath(path_, r.path));
    EXPECT_GE(mtime, *r.deletion_timestamp) << r.path;
    EXPECT_GT(mtime, written_at[r.path]) << r.path;
  }
  // The file OPTIMIZE wrote is live, not tagged as kept by time, and reads back the rows.
  auto snap = table->Latest();
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ((*snap)->files().size(), 1u);
  const AddFile& packed = (*snap)->files()[0].add;
  ASSERT_TRUE(packed.tags.has_value());
  EXPECT_EQ(packed.tags->count(kMtimeKeptTag), 0u);
  auto scan = Scan::Plan(*snap, {});
  ASSERT_TRUE(scan.ok());
  auto rows = scan->ReadAll();
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->num_rows(), 20);
  // The state knows which tombstones are kept by time.
  ASSERT_EQ((*snap)->state().tombstones.size(), 4u);
  for (const auto& [key, t] : (*snap)->state().tombstones) EXPECT_TRUE(t.mtime_kept) << key;
}

TEST_F(MtimeKeptTest, TaggedTombstonesLeaveCheckpointsAfterAnHourUntaggedKeepTheRetention) {
  // Delta's default 7-day retention; checkpoints only when asked.
  auto table = Create("bronze", {{"delta.checkpointInterval", "1000"}});
  ASSERT_NE(table, nullptr);
  for (int i = 0; i < 3; ++i) Append(*table, i * 10, i * 10 + 5);
  const std::set<std::string> compacted_away = ActivePaths(*table);
  auto done = table->Optimize();  // 3 tagged removes
  ASSERT_TRUE(done.ok() && done->version.has_value());
  const std::set<std::string> packed = ActivePaths(*table);
  Append(*table, 100, 102);
  const std::set<std::string> before_overwrite = ActivePaths(*table);
  Overwrite(*table, 200, 205);  // 2 untagged removes (the packed file, the append)
  ASSERT_EQ(before_overwrite.size(), 2u);

  clock_.Advance(30 * kMinuteMicros);
  auto v = table->LatestVersion();
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(table->Checkpoint(*v).ok());
  auto early = RemovesOfCheckpoint(path_, *v);
  ASSERT_EQ(early.size(), 5u);
  for (const auto& [p, r] : early) {
    EXPECT_EQ(HasMtimeKeptTag(r.tags), compacted_away.count(p) == 1) << p;
    EXPECT_EQ(r.stats, std::nullopt);  // the checkpoint still writes no stats for removes
  }
  // A restart from that checkpoint still knows which are which.
  auto restarted = TombstonesAfterRestart();
  ASSERT_EQ(restarted.size(), 5u);
  for (const auto& [key, kept] : restarted) EXPECT_EQ(kept, compacted_away.count(key) == 1) << key;

  // DuckDB reads the checkpoint with its remove.tags column, and the table through it.
  const std::string cp = JoinPath(LogDir(path_), CheckpointFileName(*v));
  auto out = testing::RunDuckDB("SELECT count(\"remove\") AS removes, count(\"remove\".tags) AS tagged, "
                                "count(\"add\") AS adds FROM read_parquet('" + cp + "')");
  if (!out.ok() && out.status().IsNotFound()) GTEST_SKIP() << out.status().ToString();
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto row = nlohmann::json::parse(out->substr(0, out->find('\n')));
  auto num = [](const nlohmann::json& j) { return std::stoll(j.is_string() ? j.get<std::string>() : j.dump()); };
  EXPECT_EQ(num(row["removes"]), 5);
  EXPECT_EQ(num(row["tagged"]), 3);
  EXPECT_EQ(num(row["adds"]), 1);

  // Past the hour: the tagged tombstones are gone from the next checkpoint and from a
  // restarted state; the untagged ones stay (7 days).
  clock_.Advance(31 * kMinuteMicros);
  Append(*table, 300, 302);
  v = table->LatestVersion();
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(table->Checkpoint(*v).ok());
  auto late = RemovesOfCheckpoint(path_, *v);
  std::set<std::string> late_paths;
  for (const auto& [p, r] : late) late_paths.insert(p);
  EXPECT_EQ(late_paths, before_overwrite);
  for (const auto& [p, r] : late) EXPECT_FALSE(HasMtimeKeptTag(r.tags)) << p;
  auto after = TombstonesAfterRestart();
  EXPECT_EQ(after.size(), 2u);
  for (const auto& p : before_overwrite) EXPECT_EQ(after.count(p), 1u) << p;

  auto scanned = testing::RunDuckDB("SELECT count(*) AS n FROM delta_scan('" + path_ + "')");
  if (!scanned.ok()) {
    std::cout << "DuckDB delta extension unavailable (" << scanned.status().message().substr(0, 120)
              << "...); checked the checkpoint with read_parquet instead\n";
    return;
  }
  EXPECT_EQ(num(nlohmann::json::parse(scanned->substr(0, scanned->find('\n')))["n"]), 7);
}

TEST_F(MtimeKeptTest, VacuumNeverDeletesACompactedAwayFileBeforeRemovalPlusRetention) {
  // A 2-hour retention, longer than the hour a tagged tombstone stays.
  auto table = Create("bronze", {{"delta.deletedFileRetentionDuration", "interval 2 hours"}});
  ASSERT_NE(table, nullptr);
  for (int i = 0; i < 3; ++i) Append(*table, i * 10, i * 10 + 5);
  const std::set<std::string> compacted_away = ActivePaths(*table);
  // The files are written now but compacted three hours later: their own times are older
  // than the retention when they are removed.
  clock_.Advance(3 * kHourMicros);
  const int64_t removed_at = clock_.NowMillis();
  auto done = table->Optimize();
  ASSERT_TRUE(done.ok() && done->version.has_value());
  ASSERT_EQ(done->files_kept_by_time, 3);
  // An untagged remove of a file as old, for comparison: the overwrite's.
  Append(*table, 100, 102);
  std::set<std::string> overwritten = ActivePaths(*table);
  Overwrite(*table, 200, 205);
  const std::set<std::string> live = ActivePaths(*table);

  VacuumOptions vacuum;
  vacuum.retention_hours = 2;
  auto exists = [&](const std::string& p) { return FileSystem::Default()->Exists(JoinPath(path_, p)); };

  // 1.5 hours after the removal: the tagged tombstones have left the state, so only the
  // files' times keep them; the untagged tombstones keep theirs.
  clock_.Advance(90 * kMinuteMicros);
  auto tombstones = TombstonesAfterRestart();
  EXPECT_EQ(tombstones.size(), overwritten.size());
  for (const auto& p : compacted_away) EXPECT_EQ(tombstones.count(p), 0u) << p;
  {
    auto fresh = DeltaTable::Open(path_, FileSystem::Default(), options_);
    ASSERT_TRUE(fresh.ok());
    auto none = (*fresh)->Vacuum(vacuum);
    ASSERT_TRUE(none.ok()) << none.status().ToString();
    EXPECT_TRUE(none->deleted.empty()) << none->deleted.size() << " deleted, first " << none->deleted[0];
  }
  for (const auto& p : compacted_away) EXPECT_TRUE(exists(p)) << p;
  for (const auto& p : overwritten) EXPECT_TRUE(exists(p)) << p;

  // Just before removal + retention: still kept. Just after: deleted, with the
  // overwritten files whose tombstones expired at the same time.
  clock_.Set((removed_at + 2 * 3600 * 1000 - 1000) * 1000);
  {
    auto fresh = DeltaTable::Open(path_, FileSystem::Default(), options_);
    ASSERT_TRUE(fresh.ok());
    auto none = (*fresh)->Vacuum(vacuum);
    ASSERT_TRUE(none.ok()) << none.status().ToString();
    EXPECT_TRUE(none->deleted.empty());
  }
  clock_.Set((removed_at + 2 * 3600 * 1000 + 1000) * 1000);
  auto fresh = DeltaTable::Open(path_, FileSystem::Default(), options_);
  ASSERT_TRUE(fresh.ok());
  auto swept = (*fresh)->Vacuum(vacuum);
  ASSERT_TRUE(swept.ok()) << swept.status().ToString();
  std::set<std::string> deleted(swept->deleted.begin(), swept->deleted.end());
  std::set<std::string> expected = compacted_away;
  expected.insert(overwritten.begin(), overwritten.end());
  EXPECT_EQ(deleted, expected);
  for (const auto& p : live) EXPECT_TRUE(exists(p)) << p;
  auto snap = (*fresh)->Latest();
  ASSERT_TRUE(snap.ok());
  auto scan = Scan::Plan(*snap, {});
  ASSERT_TRUE(scan.ok());
  auto rows = scan->ReadAll();
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->num_rows(), 5);
}

TEST(MtimeKeptRules, ATaggedTombstoneKeepsAnHourOrTheTablesRetentionIfShorter) {
  Tombstone tagged;
  tagged.mtime_kept = true;
  Tombstone plain;
  const int64_t week = kDefaultDeletedFileRetentionMillis;
  EXPECT_EQ(TombstoneRetentionMillis(tagged, week), 3600 * 1000);
  EXPECT_EQ(TombstoneRetentionMillis(plain, week), week);
  EXPECT_EQ(TombstoneRetentionMillis(tagged, 600 * 1000), 600 * 1000);

  // DropExpiredTombstones applies it per tombstone.
  TableState state;
  std::vector<Action> removes;
  for (int i = 0; i < 4; ++i) {
    RemoveFile r;
    r.path = "f" + std::to_string(i);
    r.deletion_timestamp = 1000000;
    if (i % 2 == 0) r.tags = StringMap{{kMtimeKeptTag, "true"}, {"lakepipe.compacted", "1"}};
    removes.push_back(r);
  }
  ASSERT_TRUE(ApplyActions(&state, removes).ok());
  EXPECT_EQ(DropExpiredTombstones(&state, 1000000 + 3600 * 1000), 0);
  EXPECT_EQ(DropExpiredTombstones(&state, 1000000 + 3600 * 1000 + 1), 2);
  EXPECT_EQ(state.tombstones.count("f1"), 1u);
  EXPECT_EQ(state.tombstones.count("f3"), 1u);
  EXPECT_EQ(DropExpiredTombstones(&state, 1000000 + week + 1), 2);

  // The tombstone keeps the tag and nothing else of the remove's tags.
  Tombstone t = Tombstone::Of("f0", std::get<RemoveFile>(removes[0]));
  EXPECT_TRUE(t.mtime_kept);
  RemoveFile back = t.ToRemove("f0");
  ASSERT_TRUE(back.tags.has_value());
  EXPECT_EQ(*back.tags, (StringMap{{kMtimeKeptTag, "true"}}));
  // Only the value "true" counts.
  EXPECT_FALSE(HasMtimeKeptTag(StringMap{{kMtimeKeptTag, "false"}}));
  EXPECT_FALSE(HasMtimeKeptTag(std::nullopt));
}

TEST(MtimeKeptRules, ARemoveNeverInheritsTheTagFromItsAdd) {
  // An add that carries the tag (written by some other tool) is removed by an overwrite,
  // a row-level change or an OPTIMIZE that could not set its time: its remove must keep
  // the table's retention.
  DataFile file;
  file.add.path = "part-1.parquet";
  file.add.tags = StringMap{{kMtimeKeptTag, "true"}, {"lakepipe.compacted", "1"}};
  RemoveFile r = RemoveOf(file, 1000, /*data_change=*/true);
  ASSERT_TRUE(r.tags.has_value());
  EXPECT_EQ(*r.tags, (StringMap{{"lakepipe.compacted", "1"}}));
  file.add.tags = StringMap{{kMtimeKeptTag, "true"}};
  EXPECT_FALSE(HasMtimeKeptTag(RemoveOf(file, 1000, true).tags));
}

TEST(MtimeKeptRules, KeepRemovedFileByTimeOnlyMovesTheTimeForward) {
  testing::TempDir dir;
  const std::string file = dir.Join("part-1.parquet");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(file, "x").ok());
  const int64_t written = MtimeMillis(file);
  ASSERT_TRUE(KeepRemovedFileByTime(file, written - 3600 * 1000).ok());
  EXPECT_EQ(MtimeMillis(file), written);
  ASSERT_TRUE(KeepRemovedFileByTime(file, written + 3600 * 1000).ok());
  EXPECT_EQ(MtimeMillis(file), written + 3600 * 1000);
  Status missing = KeepRemovedFileByTime(dir.Join("gone.parquet"), written);
  EXPECT_TRUE(missing.IsNotFound()) << missing.ToString();
  EXPECT_NE(missing.message().find("gone.parquet"), std::string::npos);
}

}  // namespace
}  // namespace lakepipe::delta
