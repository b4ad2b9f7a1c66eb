#include "state/scd_state_store.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "testing/testing.h"

namespace lakepipe::state {
namespace {

std::string Key(int i) { return "key" + std::to_string(i); }

// Lookups answered from Prefetch's MultiGet equal plain point reads, for stored, absent,
// pending and tombstoned keys; commits small (WriteBatch) and large (an ingested file)
// survive a reopen with the right key count, and a truncate hides the stored keys.
TEST(ScdStateStoreTest, PrefetchedLookupsEqualPointReadsAcrossCommitsAndReopens) {
  testing::TempDir dir;
  const std::string path = dir.Join("scd");
  std::map<std::string, ScdKeyState> model;  // what the store holds after each commit
  std::mt19937 rng(5);
  int64_t batch = 0;
  for (int round = 0; round < 6; ++round) {
    auto store = ScdStateStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ((*store)->Size().keys, static_cast<int64_t>(model.size()));
    // Small batches (WriteBatch) and, in rounds 2 and 4, one of 3,000 keys (ingested).
    const int n = round == 2 || round == 4 ? 3000 : 40;
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) keys.push_back(Key(static_cast<int>(rng() % 5000)));
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    std::vector<std::string_view> views(keys.begin(), keys.end());
    if (round % 2 == 1) { ASSERT_TRUE((*store)->Prefetch(views).ok()); }  // else: point reads
    for (const auto& k : keys) {
      auto got = (*store)->Lookup(k);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      auto want = model.find(k);
      ASSERT_EQ(got->has_value(), want != model.end()) << k << " round " << round;
      if (want != model.end()) {
        EXPECT_EQ((*got)->deleted, want->second.deleted) << k;
        EXPECT_EQ((*got)->sequence, want->second.sequence) << k;
        EXPECT_EQ((*got)->history, want->second.history) << k;
      }
      ScdKeyState next;
      if (rng() % 3 == 0) {
        next.history = "h" + std::to_string(round) + k;  // SCD type 2 entry
      } else {
        next.deleted = rng() % 4 == 0;
        next.sequence = "s" + std::to_string(round);
      }
      (*store)->Put(k, next);
      // A pending change is what the next Lookup sees, prefetched or not.
      auto pending = (*store)->Lookup(k);
      ASSERT_TRUE(pending.ok() && pending->has_value());
      EXPECT_EQ((*pending)->sequence, next.sequence);
      model[k] = next;
    }
    ASSERT_TRUE((*store)->Commit(++batch).ok());
    EXPECT_EQ((*store)->Size().keys, static_cast<int64_t>(model.size()));
  }
  // A truncate: stored keys are gone for lookups, prefetched or not, and after a reopen.
  {
    auto store = ScdStateStore::Open(path);
    ASSERT_TRUE(store.ok());
    const std::string some = model.begin()->first;
    std::vector<std::string_view> views = {some};
    (*store)->Truncate("t");
    ASSERT_TRUE((*store)->Prefetch(views).ok());
    auto got = (*store)->Lookup(some);
    ASSERT_TRUE(got.ok());
    EXPECT_FALSE(got->has_value());
    ASSERT_TRUE((*store)->Commit(++batch).ok());
  }
  auto store = ScdStateStore::Open(path);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->Size().keys, 0);
  EXPECT_EQ((*store)->committed_batch(), batch);
  std::vector<std::string_view> views = {model.begin()->first};
  ASSERT_TRUE((*store)->Prefetch(views).ok());
  EXPECT_FALSE((*store)->Lookup(model.begin()->first)->has_value());
}

// AUTO CDC FROM SNAPSHOT's state: staged progress, held rows and image changes are
// invisible until Commit, dropped by Abandon, and survive a reopen; an image of 1,500 keys
// (an ingested table file) scans back whole, and a later commit deletes keys from it.
TEST(ScdStateStoreTest, SnapshotProgressHeldRowsAndImageCommitWithTheBatch) {
  testing::TempDir dir;
  const std::string path = dir.Join("scd");
  const Schema source = *Schema::ParseDDL("id BIGINT, name STRING, day INT");
  auto held_rows = [&](int n) {
    std::vector<Column> cols;
    for (const Field& f : source.fields()) cols.emplace_back(f.type);
    for (int i = 0; i < n; ++i) {
      cols[0].Append<int64_t>(i);
      if (i % 3 == 0) cols[1].AppendNull();
      else cols[1].AppendString("n" + std::to_string(i));
      cols[2].Append<int32_t>(7);
    }
    return RecordBatch::FromColumns(source, std::move(cols));
  };
  auto scan = [](ScdStateStore& store) {
    std::map<std::string, std::string> image;
    EXPECT_TRUE(store.ScanSnapshotKeys([&](std::string_view k, std::string_view v) {
                       image.emplace(std::string(k), std::string(v));
                       return Status::OK();
                     }).ok());
    return image;
  };
  std::vector<std::pair<std::string, std::optional<std::string>>> image;
  for (int i = 0; i < 1500; ++i) image.push_back({Key(i), "v" + std::to_string(i)});
  {
    auto store = ScdStateStore::Open(path);
    ASSERT_TRUE(store.ok());
    auto empty = (*store)->LoadSnapshotProgress(source);
    ASSERT_TRUE(empty.ok());
    EXPECT_FALSE(empty->last_version || empty->held_version);
    operators::SnapshotProgress p;
    p.last_version = std::string("\x80\0\0\x06", 4);
    p.held_version = std::string("\x80\0\0\x07", 4);
    p.held_rows = {held_rows(2), held_rows(3)};
    // Abandoned: nothing of it stays.
    ASSERT_TRUE((*store)->StageSnapshot(p, source, image).ok());
    (*store)->Abandon();
    ASSERT_TRUE((*store)->Commit(0).ok());
    EXPECT_FALSE(*(*store)->HoldsSnapshotVersion());
    EXPECT_TRUE(scan(**store).empty());
    // Committed with batch 1.
    ASSERT_TRUE((*store)->StageSnapshot(p, source, image).ok());
    EXPECT_TRUE(scan(**store).empty()) << "staged changes are not visible before the commit";
    ASSERT_TRUE((*store)->Commit(1).ok());
  }
  {
    auto store = ScdStateStore::Open(path);
    ASSERT_TRUE(store.ok());
    EXPECT_TRUE(*(*store)->HoldsSnapshotVersion());
    auto p = (*store)->LoadSnapshotProgress(source);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->last_version, std::string("\x80\0\0\x06", 4));
    EXPECT_EQ(p->held_version, std::string("\x80\0\0\x07", 4));
    ASSERT_EQ(p->held_rows.size(), 1u);
    EXPECT_EQ(p->held_rows[0].num_rows(), 5);
    EXPECT_TRUE(p->held_rows[0].ColumnByName("name")->IsNull(2));  // row 0 of the second batch
    EXPECT_EQ(p->held_rows[0].ColumnByName("name")->GetString(3), "n1");
    EXPECT_EQ(p->held_rows[0].ColumnByName("name")->GetString(4), "n2");
    auto got = scan(**store);
    ASSERT_EQ(got.size(), 1500u);
    EXPECT_EQ(got[Key(1234)], "v1234");
    // The next version processed: nothing held, two keys gone, one changed.
    operators::SnapshotProgress next;
    next.last_version = std::string("\x80\0\0\x07", 4);
    ASSERT_TRUE((*store)->StageSnapshot(next, source, {{Key(1), std::nullopt}, {Key(2), std::nullopt},
                                                       {Key(3), std::string("changed")}}).ok());
    ASSERT_TRUE((*store)->Commit(2).ok());
  }
  auto store = ScdStateStore::Open(path);
  ASSERT_TRUE(store.ok());
  EXPECT_FALSE(*(*store)->HoldsSnapshotVersion());
  auto p = (*store)->LoadSnapshotProgress(source);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->last_version, std::string("\x80\0\0\x07", 4));
  EXPECT_FALSE(p->held_version);
  EXPECT_TRUE(p->held_rows.empty());
  auto got = scan(**store);
  EXPECT_EQ(got.size(), 1498u);
  EXPECT_EQ(got.count(Key(1)) + got.count(Key(2)), 0u);
  EXPECT_EQ(got[Key(3)], "changed");
  EXPECT_EQ((*store)->committed_batch(), 2);
}

}  // namespace
}  // namespace lakepipe::state
