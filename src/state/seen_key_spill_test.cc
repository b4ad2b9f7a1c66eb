// The memory budget of SeenKeyStore (docs/checkpoint.md, "Memory budget"): a batch whose
// new keys outgrow it spills them to sorted runs on disk, and must answer, commit, abandon
// and recover exactly as the in-memory path does.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "common/fs.h"
#include "operators/deduplicate.h"
#include "state/digest_run.h"
#include "state/seen_key_store.h"
#include "testing/testing.h"

namespace lakepipe::state {
namespace {

// 1 byte: the pending table spills whenever it would grow past its first 1,024 slots
// (768 keys), so a few thousand keys make several runs.
constexpr int64_t kTinyBudget = 1;

std::shared_ptr<SeenKeyStore> Open(const std::string& dir, int64_t budget) {
  auto store = SeenKeyStore::Open(dir, SeenKeyStore::kMaxKeysFromBudget, budget);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? *store : nullptr;
}

std::vector<uint8_t> Insert(SeenKeyStore& s, const std::vector<std::string>& keys) {
  std::vector<std::string_view> views(keys.begin(), keys.end());
  std::vector<uint8_t> inserted;
  auto st = s.InsertIfAbsent(views, &inserted);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return inserted;
}

int CountFiles(const std::string& dir, const std::string& prefix) {
  auto entries = FileSystem::Default()->ListDir(dir);
  EXPECT_TRUE(entries.ok());
  int n = 0;
  if (entries.ok()) {
    for (const auto& e : *entries) n += e.name.rfind(prefix, 0) == 0 ? 1 : 0;
  }
  return n;
}

TEST(DigestRunTest, FindsEveryWrittenDigestAndNoOther) {
  testing::TempDir dir;
  DigestTable table;
  std::mt19937_64 rng(7);
  std::vector<Digest128> in, out;
  for (int i = 0; i < 5000; ++i) {
    Digest128 d{{rng(), rng()}};
    bool added;
    if (i % 2 == 0) {
      table.FindOrInsert(d, &added);
      in.push_back(d);
    } else {
      out.push_back(d);
    }
  }
  auto run = DigestRun::Write(dir.Join("r.run"), table, table.SortedSlots());
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ((*run)->size(), 2500);
  for (const auto& d : in) {
    auto found = (*run)->Contains(d);
    ASSERT_TRUE(found.ok());
    EXPECT_TRUE(*found);
  }
  int maybe = 0;
  for (const auto& d : out) {
    auto found = (*run)->Contains(d);
    ASSERT_TRUE(found.ok());
    EXPECT_FALSE(*found);
    maybe += (*run)->MayContain(d) ? 1 : 0;
  }
  EXPECT_LT(maybe, 125) << "the filter lets more than 5% of absent digests through";
  // The reader gives them back in key order.
  DigestRunReader reader(**run);
  std::vector<Digest128> read;
  Digest128 d;
  while (true) {
    auto more = reader.Next(&d);
    ASSERT_TRUE(more.ok());
    if (!*more) break;
    read.push_back(d);
  }
  std::sort(in.begin(), in.end(), DigestTable::KeyLess);
  EXPECT_TRUE(read == in);
  // A reader started at BlockStartFor(x) skips only whole blocks below x: from there, the
  // digests at or above x are exactly those of the run (x: a stored digest, one absent,
  // below all, above all, the first of a block).
  std::vector<Digest128> starts = {in[777], out[3], Digest128{{0, 0}}, Digest128{{~0ULL, ~0ULL}},
                                   in[DigestRun::kDigestsPerBlock]};
  for (const Digest128& x : starts) {
    const int64_t first = (*run)->BlockStartFor(x);
    EXPECT_EQ(first % static_cast<int64_t>(DigestRun::kDigestsPerBlock), 0);
    DigestRunReader from(**run, first);
    std::vector<Digest128> got;
    while (true) {
      auto more = from.Next(&d);
      ASSERT_TRUE(more.ok());
      if (!*more) break;
      if (!DigestTable::KeyLess(d, x)) got.push_back(d);
    }
    std::vector<Digest128> want;
    for (const Digest128& v : in) {
      if (!DigestTable::KeyLess(v, x)) want.push_back(v);
    }
    EXPECT_TRUE(got == want) << "from " << first;
  }
  EXPECT_GT((*run)->BlockStartFor(in[2000]), 0) << "nothing skipped";
  (*run)->Remove();
  EXPECT_EQ(CountFiles(dir.path(), "r.run"), 0);
}

// Random batches of repeated keys, some far larger than the budget: every answer, size and
// commit equals the reference set's and the default budget's store, across reopenings.
TEST(SeenKeySpillTest, ATinyBudgetAnswersAsTheInMemoryPath) {
  testing::TempDir dir;
  operators::InMemorySeenKeySet reference;
  auto spilling = Open(dir.Join("tiny"), kTinyBudget);
  auto in_memory = Open(dir.Join("default"), SeenKeyStore::kDefaultMemoryBudgetBytes);
  std::mt19937_64 rng(11);
  int64_t most_runs = 0;
  for (int batch = 0; batch < 14; ++batch) {
    // Every part of the batch probes the same (growing) pending state, as Deduplicate's
    // parts do; the key space grows so that later batches hold old and new keys.
    int parts = 1 + static_cast<int>(rng() % 4);
    for (int p = 0; p < parts; ++p) {
      std::vector<std::string> keys;
      int n = batch % 3 == 0 ? 3000 : static_cast<int>(rng() % 700);
      for (int i = 0; i < n; ++i) keys.push_back("k" + std::to_string(rng() % (2000 + 1500 * batch)));
      std::vector<std::string_view> views(keys.begin(), keys.end());
      std::vector<uint8_t> want;
      ASSERT_TRUE(reference.InsertIfAbsent(views, &want).ok());
      ASSERT_EQ(Insert(*spilling, keys), want) << "batch " << batch << " part " << p;
      ASSERT_EQ(Insert(*in_memory, keys), want) << "batch " << batch << " part " << p;
      most_runs = std::max(most_runs, spilling->spilled_runs());
    }
    ASSERT_EQ(spilling->size(), reference.size());
    ASSERT_TRUE(spilling->Commit(batch).ok());
    ASSERT_TRUE(in_memory->Commit(batch).ok());
    EXPECT_EQ(spilling->spilled_runs(), 0);
    EXPECT_EQ(CountFiles(dir.Join("tiny"), "spill-"), 0) << "a committed batch left its runs";
    ASSERT_EQ(spilling->size(), reference.size());
    if (batch % 4 == 3) {
      spilling.reset();
      spilling = Open(dir.Join("tiny"), kTinyBudget);
      ASSERT_EQ(spilling->size(), reference.size());
      ASSERT_EQ(spilling->committed_batch(), batch);
    }
  }
  EXPECT_GE(most_runs, 3) << "the budget never forced a spill";
  // Every key of the key space answers as the reference does.
  std::vector<std::string> all;
  for (int i = 0; i < 2000 + 1500 * 14; ++i) all.push_back("k" + std::to_string(i));
  std::vector<std::string_view> views(all.begin(), all.end());
  std::vector<uint8_t> want;
  ASSERT_TRUE(reference.InsertIfAbsent(views, &want).ok());
  EXPECT_EQ(Insert(*spilling, all), want);
  EXPECT_GT(std::count(want.begin(), want.end(), 0), 5000);
}

// A spilled batch that fails (or is replayed) leaves nothing: no run files, no keys; and
// the replay spills and commits the same keys.
TEST(SeenKeySpillTest, AnAbandonedSpilledBatchLeavesNoTrace) {
  testing::TempDir dir;
  auto store = Open(dir.Join("s"), kTinyBudget);
  std::vector<std::string> first, second;
  for (int i = 0; i < 2000; ++i) first.push_back("a" + std::to_string(i));
  for (int i = 0; i < 5000; ++i) second.push_back(i % 2 == 0 ? "a" + std::to_string(i) : "b" + std::to_string(i));
  Insert(*store, first);
  ASSERT_TRUE(store->Commit(0).ok());
  auto got = Insert(*store, second);
  EXPECT_EQ(std::count(got.begin(), got.end(), 1), 4000);  // 1000 "a" keys were in batch 0
  EXPECT_GT(store->spilled_runs(), 0);
  EXPECT_GT(CountFiles(dir.Join("s"), "spill-"), 0);
  EXPECT_EQ(store->size(), 6000);
  ASSERT_TRUE(store->Abandon().ok());
  EXPECT_EQ(store->spilled_runs(), 0);
  EXPECT_EQ(CountFiles(dir.Join("s"), "spill-"), 0);
  EXPECT_EQ(store->size(), 2000);
  // The replay of batch 1 finds the same keys new, and commits them once.
  EXPECT_EQ(Insert(*store, second), got);
  ASSERT_TRUE(store->Commit(1).ok());
  EXPECT_FALSE(store->Commit(1).ok()) << "a batch must be applied once";
  store.reset();
  store = Open(dir.Join("s"), kTinyBudget);
  EXPECT_EQ(store->size(), 6000);
  auto again = Insert(*store, second);
  EXPECT_EQ(std::count(again.begin(), again.end(), 1), 0);
}

// A process killed while a batch had spilled leaves run files that were never part of the
// store: the next Open deletes them, and the store is as of the last commit.
TEST(SeenKeySpillTest, RunsLeftByACrashAreRemovedAtOpen) {
  testing::TempDir dir;
  {
    auto store = Open(dir.Join("s"), kTinyBudget);
    std::vector<std::string> keys;
    for (int i = 0; i < 1000; ++i) keys.push_back("c" + std::to_string(i));
    Insert(*store, keys);
    ASSERT_TRUE(store->Commit(0).ok());
  }
  // What a kill during batch 1 leaves: a run of keys never committed.
  DigestTable table;
  bool added;
  table.FindOrInsert(Digest128{{1, 2}}, &added);
  ASSERT_TRUE(DigestRun::Write(dir.Join("s") + "/spill-0.run", table, table.SortedSlots()).ok());
  ASSERT_EQ(CountFiles(dir.Join("s"), "spill-"), 1);
  auto store = Open(dir.Join("s"), kTinyBudget);
  EXPECT_EQ(CountFiles(dir.Join("s"), "spill-"), 0);
  EXPECT_EQ(store->committed_batch(), 0);
  EXPECT_EQ(store->size(), 1000);
}

TEST(SeenKeySpillTest, TheBudgetBoundsThePendingTable) {
  testing::TempDir dir;
  const int64_t budget = 1 << 20;
  auto store = Open(dir.Join("s"), budget);
  std::vector<std::string> keys;
  for (int i = 0; i < 200000; ++i) keys.push_back("m" + std::to_string(i));
  int64_t most = 0;
  for (size_t at = 0; at < keys.size(); at += 10000) {
    std::vector<std::string> part(keys.begin() + static_cast<long>(at), keys.begin() + static_cast<long>(at + 10000));
    Insert(*store, part);
    most = std::max(most, store->MemoryBytes());
  }
  EXPECT_GE(store->spilled_runs(), 2);  // 8 spills of 24,576 keys, merged four at a time
  // The table (within the budget) plus the runs' filters and indexes (about 1.3 bytes per
  // spilled key) and RocksDB's empty write buffer.
  EXPECT_LT(most, budget + 200000 * 2 + (1 << 20));
  ASSERT_TRUE(store->Commit(0).ok());
  EXPECT_EQ(store->size(), 200000);
}

TEST(SeenKeySpillTest, ABudgetBelowOneByteIsRefused) {
  testing::TempDir dir;
  auto store = SeenKeyStore::Open(dir.Join("s"), SeenKeyStore::kMaxKeysFromBudget, 0);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().ToString().find("memory budget"), std::string::npos) << store.status().ToString();
}

}  // namespace
}  // namespace lakepipe::state

namespace lakepipe::state {
namespace {

TEST(DigestRunTest, MergedRunsHoldEveryDigestInOrder) {
  testing::TempDir dir;
  std::mt19937_64 rng(3);
  std::vector<std::unique_ptr<DigestRun>> runs;
  std::vector<Digest128> all;
  for (int r = 0; r < 4; ++r) {
    DigestTable table;
    for (int i = 0; i < 300 + 250 * r; ++i) {
      Digest128 d{{rng(), rng()}};
      bool added;
      table.FindOrInsert(d, &added);
      all.push_back(d);
    }
    auto run = DigestRun::Write(dir.Join("in" + std::to_string(r)), table, table.SortedSlots());
    ASSERT_TRUE(run.ok());
    runs.push_back(std::move(*run));
  }
  std::vector<const DigestRun*> inputs;
  for (const auto& r : runs) inputs.push_back(r.get());
  auto merged = DigestRun::Merge(dir.Join("merged"), inputs);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ((*merged)->level(), 1);
  EXPECT_EQ((*merged)->size(), static_cast<int64_t>(all.size()));
  std::sort(all.begin(), all.end(), DigestTable::KeyLess);
  DigestRunReader reader(**merged);
  std::vector<Digest128> read;
  Digest128 d;
  while (true) {
    auto more = reader.Next(&d);
    ASSERT_TRUE(more.ok());
    if (!*more) break;
    read.push_back(d);
  }
  EXPECT_TRUE(read == all);
  for (const auto& x : all) {
    ASSERT_TRUE((*merged)->MayContain(x));
    auto found = (*merged)->Contains(x);
    ASSERT_TRUE(found.ok() && *found);
  }
  Digest128 absent{{rng(), rng()}};
  auto found = (*merged)->Contains(absent);
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(*found);
}

}  // namespace
}  // namespace lakepipe::state

namespace lakepipe::state {
namespace {

std::vector<std::string> Keys(const std::string& prefix, int from, int to) {
  std::vector<std::string> keys;
  for (int i = from; i < to; ++i) keys.push_back(prefix + std::to_string(i));
  return keys;
}

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Stored keys probed without a copy in memory (as an incremental view's distinct pairs
// are) go through a Bloom filter of the stored keys, which must hold every stored key:
// those a spilled batch wrote from its runs, those of a batch that outgrew the filter (a
// second filter takes them, without a scan of the store), and those stored before a restart. A key it wrongly ruled out would be
// counted as new again. Keys read in the store are remembered for the rest of the batch,
// also past the memo's size, where it starts over.
// Inserts every `step`th key of `stored` and all of `fresh` in one batch of `s`: each stored
// key must be found, each fresh one new.
void ExpectStoredSeenAndFreshNew(SeenKeyStore& s, const std::vector<std::string>& stored, size_t step,
                                 const std::vector<std::string>& fresh, const std::string& where) {
  std::vector<std::string> probe;
  for (size_t i = 0; i < stored.size(); i += step) probe.push_back(stored[i]);
  std::vector<uint8_t> got = Insert(s, Concat(probe, fresh));
  ASSERT_EQ(got.size(), probe.size() + fresh.size()) << where;
  EXPECT_EQ(std::count(got.begin(), got.begin() + static_cast<long>(probe.size()), 1), 0) << where;
  EXPECT_EQ(std::count(got.begin() + static_cast<long>(probe.size()), got.end(), 0), 0) << where;
}

TEST(SeenKeySpillTest, TheFilterOfStoredKeysKeepsEveryStoredKey) {
  testing::TempDir dir;
  constexpr int64_t kBudget = 1 << 20;  // spills every ~12,000 new keys; room for the filter
  auto open = [&] {
    auto store = SeenKeyStore::Open(dir.Join("s"), /*max_keys_in_memory=*/0, kBudget);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  };
  auto store = open();
  auto expect = [](const std::vector<uint8_t>& got, size_t old_keys, size_t new_keys) {
    ASSERT_EQ(got.size(), old_keys + new_keys);
    EXPECT_EQ(std::count(got.begin(), got.begin() + static_cast<long>(old_keys), 1), 0) << "a stored key was new";
    EXPECT_EQ(std::count(got.begin() + static_cast<long>(old_keys), got.end(), 0), 0) << "a new key was found";
  };
  // 60,000 keys: the filter built at the next batch is sized for 120,000.
  expect(Insert(*store, Keys("a", 0, 60000)), 0, 60000);
  ASSERT_TRUE(store->Commit(0).ok());
  // 50,000 new keys beside stored ones: they spill to runs, and the commit adds the runs'
  // keys to the filter (110,000 stored, within what it was sized for).
  expect(Insert(*store, Concat(Keys("a", 0, 30000), Keys("b", 0, 50000))), 30000, 50000);
  EXPECT_TRUE(store->stored_filter_loaded());
  EXPECT_GE(store->spilled_runs(), 1);
  ASSERT_TRUE(store->Commit(1).ok());
  EXPECT_TRUE(store->stored_filter_loaded()) << "the filter should have been kept and the runs' keys added";
  expect(Insert(*store, Concat(Keys("b", 0, 50000), Keys("c", 0, 1000))), 50000, 1000);
  ASSERT_TRUE(store->Commit(2).ok());
  // Past what the filter was sized for: a second filter in its chain takes the new keys
  // at the commit, and the stored keys are not scanned again.
  EXPECT_EQ(store->stored_filter_scans(), 1);
  expect(Insert(*store, Keys("d", 0, 20000)), 0, 20000);
  ASSERT_TRUE(store->Commit(3).ok());
  EXPECT_TRUE(store->stored_filter_loaded());
  EXPECT_EQ(store->stored_filters(), 2u);
  EXPECT_EQ(store->stored_filter_scans(), 1);
  std::vector<std::string> stored =
      Concat(Concat(Concat(Keys("a", 0, 60000), Keys("b", 0, 50000)), Keys("c", 0, 1000)), Keys("d", 0, 20000));
  expect(Insert(*store, Concat(stored, Keys("e", 0, 10))), stored.size(), 10);
  EXPECT_TRUE(store->stored_filter_loaded());
  // The same stored keys again in the same batch: 131,000 of them, twice the memo of keys
  // read in the store.
  expect(Insert(*store, stored), stored.size(), 0);
  ASSERT_TRUE(store->Commit(4).ok());
  // After a restart the filter is built from the store.
  store.reset();
  store = open();
  expect(Insert(*store, Concat(Keys("e", 0, 10), Keys("f", 0, 10))), 10, 10);
  expect(Insert(*store, stored), stored.size(), 0);
  EXPECT_TRUE(store->stored_filter_loaded());
  EXPECT_EQ(store->size(), static_cast<int64_t>(stored.size()) + 20);
}

// A store that keeps growing is never scanned again for its filter: each batch's new keys
// go to the newest filter of the chain, a doubling while it fits in half the budget, then
// smaller (dense) filters, and without room the filter is dropped (probes read RocksDB).
// Every stored key stays "seen" throughout.
TEST(SeenKeySpillTest, AGrowingStoreAddsFiltersInsteadOfScanningItsKeysAgain) {
  testing::TempDir dir;
  constexpr int64_t kBudget = 2 << 20;
  auto store = SeenKeyStore::Open(dir.Join("s"), /*max_keys_in_memory=*/0, kBudget);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  SeenKeyStore& s = **store;
  std::vector<std::string> stored;
  size_t most_filters = 0;
  bool dropped = false;
  for (int batch = 0; batch < 15; ++batch) {
    std::vector<std::string> fresh = Keys("k" + std::to_string(batch) + "-", 0, 40000);
    ExpectStoredSeenAndFreshNew(s, stored, 97, fresh, "batch " + std::to_string(batch));
    ASSERT_TRUE(s.Commit(batch).ok());
    stored.insert(stored.end(), fresh.begin(), fresh.end());
    EXPECT_LE(s.stored_filter_bytes(), kBudget / 2) << "batch " << batch;
    most_filters = std::max(most_filters, s.stored_filters());
    if (!dropped && s.stored_filter_scans() > 0) {
      dropped = !s.stored_filter_loaded();
      // Until the chain runs out of room, the one scan that built it is the only one.
      if (!dropped) {
        EXPECT_EQ(s.stored_filter_scans(), 1) << "batch " << batch;
      }
    }
  }
  // 40,000 keys a batch under 1 MiB for the filter: three filters by doubling (the first
  // 40,000 keys scanned into one sized for 80,000; then 80,000 and 160,000 more, each in one
  // sized for twice that), then dense ones of a quarter of the chain, then no room (batch
  // 12 here): dropped, and built again by a scan the next batch.
  EXPECT_GE(most_filters, 4u) << "the chain should have grown by doublings, then by dense filters";
  EXPECT_TRUE(dropped) << "the chain should have run out of room in half the budget";
  EXPECT_EQ(s.size(), static_cast<int64_t>(stored.size()));
}

// The stored keys outgrow their copy in memory: from then on probes go through the filter
// of the stored keys, filled from the copy as it goes, not by a scan of the store inside
// the next batch.
TEST(SeenKeySpillTest, KeysOutgrowingMemoryKeepTheirFilterWithoutAScan) {
  testing::TempDir dir;
  constexpr int64_t kBudget = 64 << 20;
  auto store = SeenKeyStore::Open(dir.Join("s"), /*max_keys_in_memory=*/100000, kBudget);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  SeenKeyStore& s = **store;
  std::vector<std::string> stored;
  bool switched = false;
  for (int batch = 0; batch < 6; ++batch) {
    std::vector<std::string> fresh = Keys("m" + std::to_string(batch) + "-", 0, 40000);
    ExpectStoredSeenAndFreshNew(s, stored, 31, fresh, "batch " + std::to_string(batch));
    ASSERT_TRUE(s.Commit(batch).ok());
    stored.insert(stored.end(), fresh.begin(), fresh.end());
    if (stored.size() > 100000) {
      switched = true;
      EXPECT_TRUE(s.stored_filter_loaded()) << "batch " << batch;
    }
    EXPECT_EQ(s.stored_filter_scans(), 0) << "batch " << batch;
  }
  ASSERT_TRUE(switched);
  EXPECT_EQ(s.size(), static_cast<int64_t>(stored.size()));
  // A store opened again has no copy in memory: its first probes build the filter by the
  // one scan there is no way around.
  store->reset();
  auto reopened = SeenKeyStore::Open(dir.Join("s"), /*max_keys_in_memory=*/100000, kBudget);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  ExpectStoredSeenAndFreshNew(**reopened, stored, 7, Keys("n-", 0, 40000), "reopened");
  EXPECT_EQ((*reopened)->stored_filter_scans(), 1);
}

// A store of many keys scans for its filter on a thread of its own: the batches meanwhile
// read RocksDB and commit, and the filter, scanned from a snapshot taken before their
// commits, holds their keys too once taken into use.
TEST(SeenKeySpillTest, AFilterScannedOnItsOwnThreadHoldsTheKeysCommittedMeanwhile) {
  testing::TempDir dir;
  auto open = [&] {
    auto store = SeenKeyStore::Open(dir.Join("s"), /*max_keys_in_memory=*/0, 64 << 20);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (store.ok()) (*store)->set_background_scan_keys(50000);
    return store.ok() ? *store : nullptr;
  };
  auto store = open();
  ASSERT_NE(store, nullptr);
  SeenKeyStore& s = *store;
  std::vector<std::string> stored = Keys("a", 0, 60000);
  Insert(s, stored);
  ASSERT_TRUE(s.Commit(0).ok());
  // The scan begins at batch 1's probes and waits (held); the probes read RocksDB.
  s.HoldFilterScans(true);
  for (int batch = 1; batch <= 2; ++batch) {
    std::vector<std::string> fresh = Keys("b" + std::to_string(batch) + "-", 0, 30000);
    ExpectStoredSeenAndFreshNew(s, stored, 7, fresh, "during the scan, batch " + std::to_string(batch));
    EXPECT_TRUE(s.stored_filter_building());
    EXPECT_FALSE(s.stored_filter_loaded());
    ASSERT_TRUE(s.Commit(batch).ok());
    stored = Concat(stored, fresh);
  }
  EXPECT_EQ(s.stored_filter_scans(), 1);
  s.HoldFilterScans(false);
  s.WaitForFilterScan();
  // Taken into use at the next probe: every stored key passes it, batches 1 and 2's too.
  ExpectStoredSeenAndFreshNew(s, stored, 1, Keys("c", 0, 100), "after the scan");
  EXPECT_TRUE(s.stored_filter_loaded());
  EXPECT_FALSE(s.stored_filter_building());
  EXPECT_EQ(s.stored_filter_scans(), 1);
  ASSERT_TRUE(s.Commit(3).ok());
  stored = Concat(stored, Keys("c", 0, 100));
  // A store closed during a scan stops it; opened again, it has every key.
  store.reset();
  store = open();
  ASSERT_NE(store, nullptr);
  store->HoldFilterScans(true);
  ExpectStoredSeenAndFreshNew(*store, stored, 3, Keys("d", 0, 20000), "reopened");
  EXPECT_TRUE(store->stored_filter_building());
  store.reset();
  store = open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->size(), static_cast<int64_t>(stored.size()));
}

// The keys committed during the scan are kept within the memory budget: a batch too large
// for it stops the scan (the filter would miss its keys), and the next probe begins another.
TEST(SeenKeySpillTest, ABatchTooLargeToKeepAsideDuringTheScanStopsIt) {
  testing::TempDir dir;
  constexpr int64_t kBudget = 1 << 20;
  auto store = SeenKeyStore::Open(dir.Join("s"), /*max_keys_in_memory=*/0, kBudget);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  SeenKeyStore& s = **store;
  s.set_background_scan_keys(50000);
  std::vector<std::string> stored = Keys("a", 0, 60000);
  Insert(s, stored);
  ASSERT_TRUE(s.Commit(0).ok());
  s.HoldFilterScans(true);
  // 50,000 new keys: 800 KB to keep aside, more than the budget leaves beside the filter.
  std::vector<std::string> fresh = Keys("b", 0, 50000);
  ExpectStoredSeenAndFreshNew(s, stored, 3, fresh, "during the scan");
  EXPECT_TRUE(s.stored_filter_building());
  ASSERT_TRUE(s.Commit(1).ok());
  stored = Concat(stored, fresh);
  EXPECT_FALSE(s.stored_filter_building()) << "the scan should have been stopped";
  EXPECT_LE(s.BudgetBytes(), kBudget);
  s.HoldFilterScans(false);
  // The next probes begin a scan from a snapshot that has batch 1; once taken into use, the
  // filter holds every key.
  ExpectStoredSeenAndFreshNew(s, stored, 5, Keys("c", 0, 20000), "after the stop");
  EXPECT_EQ(s.stored_filter_scans(), 2);
  s.WaitForFilterScan();
  ExpectStoredSeenAndFreshNew(s, stored, 1, Keys("d", 0, 100), "with the new filter");
  EXPECT_TRUE(s.stored_filter_loaded());
}

}  // namespace
}  // namespace lakepipe::state
