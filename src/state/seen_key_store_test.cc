#include "state/seen_key_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table_properties.h>

#include "common/fs.h"
#include "testing/testing.h"
#include "types/batch.h"

namespace lakepipe::state {
namespace {

constexpr int64_t kMinute = 60LL * 1000000;

std::vector<uint8_t> Insert(SeenKeyStore& s, std::vector<std::string_view> keys) {
  std::vector<uint8_t> inserted;
  EXPECT_TRUE(s.InsertIfAbsent(keys, &inserted).ok());
  return inserted;
}

std::vector<uint8_t> InsertAt(SeenKeyStore& s, std::vector<std::string_view> keys, std::vector<int64_t> times) {
  std::vector<uint8_t> inserted;
  auto st = s.InsertIfAbsentWithTime(keys, times, &inserted);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return inserted;
}

std::shared_ptr<SeenKeyStore> OpenStore(const std::string& dir,
                                        int64_t max_keys_in_memory = SeenKeyStore::kDefaultMaxKeysInMemory) {
  auto store = SeenKeyStore::Open(dir, max_keys_in_memory);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? *store : nullptr;
}

TEST(SeenKeyStoreTest, KeysSurviveReopenOnlyOnceCommitted) {
  testing::TempDir dir;
  {
    auto store = OpenStore(dir.Join("s"));
    EXPECT_FALSE(store->committed_batch().has_value());
    EXPECT_EQ(Insert(*store, {"a", "b", "a"}), (std::vector<uint8_t>{1, 1, 0}));
    ASSERT_TRUE(store->Commit(0).ok());
    EXPECT_EQ(Insert(*store, {"b", "c"}), (std::vector<uint8_t>{0, 1}));
    // Batch 1 is not committed: "c" must not survive a crash here.
  }
  auto store = OpenStore(dir.Join("s"));
  EXPECT_EQ(store->committed_batch(), 0);
  EXPECT_EQ(store->size(), 2);
  EXPECT_EQ(Insert(*store, {"a", "c"}), (std::vector<uint8_t>{0, 1}));
  ASSERT_TRUE(store->Abandon().ok());
  EXPECT_EQ(store->size(), 2);
  EXPECT_EQ(Insert(*store, {"c"}), (std::vector<uint8_t>{1}));
}

// The keys of a store written before are found again by every probe form: InsertIfAbsent
// digests keys in one pass over their bytes, the timed forms as the stores were always
// written (two hashes, one pass each). Keys of 0 to 40 bytes cover every tail length,
// stored in memory (loaded) and read from RocksDB (max 0 in memory).
TEST(SeenKeyStoreTest, EveryProbeFormDigestsAKeyAlike) {
  testing::TempDir dir;
  std::vector<std::string> owned;
  for (int len = 0; len <= 40; ++len) {
    std::string k;
    for (int i = 0; i < len; ++i) k.push_back(static_cast<char>('a' + (i * 7 + len) % 26));
    owned.push_back(k);
  }
  std::vector<std::string_view> keys(owned.begin(), owned.end());
  std::vector<int64_t> times(keys.size(), kMinute);
  {
    auto s = OpenStore(dir.Join("timed"));
    for (uint8_t x : InsertAt(*s, keys, times)) EXPECT_EQ(x, 1);
    ASSERT_TRUE(s->Commit(0).ok());
  }
  for (int64_t in_memory : {SeenKeyStore::kDefaultMaxKeysInMemory, int64_t{0}}) {
    auto s = OpenStore(dir.Join("timed"), in_memory);
    for (uint8_t x : Insert(*s, keys)) EXPECT_EQ(x, 0) << "a timed key not found by InsertIfAbsent";
  }
  {
    auto s = OpenStore(dir.Join("plain"));
    for (uint8_t x : Insert(*s, keys)) EXPECT_EQ(x, 1);
    ASSERT_TRUE(s->Commit(0).ok());
  }
  auto s = OpenStore(dir.Join("plain"), 0);
  for (uint8_t x : InsertAt(*s, keys, times)) EXPECT_EQ(x, 0) << "a key of InsertIfAbsent not found by a timed probe";
}

// The digest is part of the stores' layout: stores written by earlier versions are found
// only if every key still digests to what those versions stored. These are the digests
// the first layout's two-pass hash gave (lengths 0, 1, under, at and over one word).
TEST(SeenKeyStoreTest, TheDigestIsTheOneEarlierVersionsStored) {
  struct Known {
    std::string key;
    uint64_t part0, part1;
  };
  const Known known[] = {
      {"", 0xd34402edf2a39352ULL, 0x200481dbad2351abULL},
      {"a", 0xbdf57bcda46e5a37ULL, 0xf5e3421916c4dc11ULL},
      {"abcdefg", 0x4d7edd0870d02ccbULL, 0x244e7eb8e2a4d9daULL},
      {"abcdefgh", 0xcd985bfbc98b2cf7ULL, 0xa7cd5b186a527ea4ULL},
      {std::string("key-1234567890123\x01x"), 0xbb74df998fa0a3a7ULL, 0x079ccaa69d6fff8fULL},
  };
  for (const Known& k : known) {
    SeenKeyStore::Digest d = SeenKeyStore::DigestOf(k.key);
    EXPECT_EQ(d.part[0], k.part0) << "key '" << k.key << "'";
    EXPECT_EQ(d.part[1], k.part1) << "key '" << k.key << "'";
  }
}

// A batch of 400,000 new keys or more that spilled past its memory budget is written as
// two table files at once (keys below and above the middle digest, each merged from the
// runs and the pending table) and ingested together: every key of both halves comes back.
TEST(SeenKeyStoreTest, ALargeSpilledBatchIsWrittenAsTwoFilesIngestedTogether) {
  testing::TempDir dir;
  std::vector<std::string> owned;
  for (int i = 0; i < 900001; ++i) owned.push_back("key-" + std::to_string(i));
  std::vector<std::string_view> keys(owned.begin(), owned.end());
  auto insert_in_parts = [&](SeenKeyStore& s, size_t from, size_t to) {
    std::vector<uint8_t> all;
    for (size_t at = from; at < to; at += 65536) {
      std::vector<std::string_view> part(keys.begin() + static_cast<std::ptrdiff_t>(at),
                                         keys.begin() + static_cast<std::ptrdiff_t>(std::min(to, at + 65536)));
      auto got = Insert(s, part);
      all.insert(all.end(), got.begin(), got.end());
    }
    return all;
  };
  {
    auto s = SeenKeyStore::Open(dir.Join("s"), SeenKeyStore::kMaxKeysFromBudget, 1 << 20);
    ASSERT_TRUE(s.ok());
    auto first = insert_in_parts(**s, 0, 450000);
    EXPECT_EQ(std::count(first.begin(), first.end(), 1), 450000);
    EXPECT_GT((*s)->spilled_runs(), 0);
    ASSERT_TRUE((*s)->Commit(0).ok());
    // Batch 1: 50,000 stored keys again and 450,000 new ones.
    auto second = insert_in_parts(**s, 400000, 900000);
    EXPECT_EQ(std::count(second.begin(), second.begin() + 50000, 0), 50000);
    EXPECT_EQ(std::count(second.begin() + 50000, second.end(), 1), 450000);
    EXPECT_GT((*s)->spilled_runs(), 0);
    ASSERT_TRUE((*s)->Commit(1).ok());
  }
  auto s = OpenStore(dir.Join("s"), 0);
  EXPECT_EQ(s->size(), 900000);
  EXPECT_EQ(s->committed_batch(), 1);
  auto seen = Insert(*s, keys);
  EXPECT_EQ(std::count(seen.begin(), seen.begin() + 900000, 0), 900000);
  EXPECT_EQ(seen.back(), 1);  // key-900000 was never inserted
  auto listed = FileSystem::Default()->ListDir(dir.Join("s"));
  ASSERT_TRUE(listed.ok());
  for (const auto& e : *listed) EXPECT_NE(e.name.rfind("ingest-", 0), 0u) << e.name;
}

// The table files of a DB folder (opened read-only once the store is closed): each
// file's first key and the bytes of its Bloom filter.
struct TableFile {
  std::string smallest_key;
  uint64_t filter_bytes = 0;
};
std::vector<TableFile> TableFilesOf(const std::string& dir) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Options options;
  EXPECT_TRUE(rocksdb::DB::OpenForReadOnly(options, dir, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  if (db == nullptr) return {};
  std::vector<rocksdb::LiveFileMetaData> files;
  db->GetLiveFilesMetaData(&files);
  rocksdb::TablePropertiesCollection properties;
  EXPECT_TRUE(db->GetPropertiesOfAllTables(&properties).ok());
  std::vector<TableFile> out;
  for (const auto& f : files) {
    TableFile t{f.smallestkey, 0};
    for (const auto& [path, props] : properties) {
      if (path.size() >= f.name.size() && path.compare(path.size() - f.name.size(), f.name.size(), f.name) == 0) {
        t.filter_bytes = props->filter_size;
      }
    }
    out.push_back(t);
  }
  return out;
}
int64_t TableFiles(const std::string& dir) { return static_cast<int64_t>(TableFilesOf(dir).size()); }

// From SeenKeyStore::kSplitKeys entries (400,000) a batch without spills is written as two
// table files on two threads (the keys below the middle digest and the rest with the
// markers), ingested by one call: every key is found after a reopen, in RocksDB and in
// the loaded copy, and no file is left behind.
TEST(SeenKeyStoreTest, ALargeBatchIsWrittenAsTwoFilesIngestedTogether) {
  testing::TempDir dir;
  std::vector<std::string> owned;
  for (int i = 0; i < 450001; ++i) owned.push_back("key-" + std::to_string(i));
  std::vector<std::string_view> keys(owned.begin(), owned.end());
  std::vector<std::string_view> stored(keys.begin(), keys.end() - 1);
  {
    auto store = OpenStore(dir.Join("s"));
    auto inserted = Insert(*store, stored);
    EXPECT_EQ(std::count(inserted.begin(), inserted.end(), 1), 450000);
    EXPECT_EQ(store->spilled_runs(), 0);
    ASSERT_TRUE(store->Commit(7).ok());
  }
  EXPECT_EQ(TableFiles(dir.Join("s")), 2);
  auto listed = FileSystem::Default()->ListDir(dir.Join("s"));
  ASSERT_TRUE(listed.ok());
  for (const auto& e : *listed) EXPECT_NE(e.name.rfind("ingest-", 0), 0u) << e.name;
  for (int64_t in_memory : {int64_t{0}, int64_t{1} << 20}) {
    auto store = OpenStore(dir.Join("s"), in_memory);
    EXPECT_EQ(store->committed_batch(), 7);
    EXPECT_EQ(store->size(), 450000);
    auto seen = Insert(*store, keys);
    EXPECT_EQ(std::count(seen.begin(), seen.end() - 1, 0), 450000) << in_memory;
    EXPECT_EQ(seen.back(), 1);  // key-450000 was never inserted
    ASSERT_TRUE(store->Abandon().ok());
  }
}

// With event times the `k` entries and the `t` entries (sorted by time, a radix sort) go
// to two files, the second without a Bloom filter. Times repeat, are negative or the NULL time (int64
// max); a later large batch re-times most keys (deleting their old `t` entries) and a
// watermark then expires exactly the keys whose latest time is below it, for good.
TEST(SeenKeyStoreTest, ALargeWatermarkedBatchIsWrittenAsTwoFilesWithItsTimeIndex) {
  testing::TempDir dir;
  constexpr int kKeys = 250000;
  std::vector<std::string> owned;
  std::vector<int64_t> times;
  for (int i = 0; i < kKeys; ++i) {
    owned.push_back("key-" + std::to_string(i));
    // 1,000 distinct times, 250 keys each, half of them negative; every 1,000th key NULL.
    times.push_back(i % 1000 == 999 ? INT64_MAX : (static_cast<int64_t>(i % 1000) - 500) * kMinute);
  }
  std::vector<std::string_view> keys(owned.begin(), owned.end());
  int64_t kept = 0;  // keys whose latest time is at or above the watermark below
  {
    auto store = OpenStore(dir.Join("s"));
    auto inserted = InsertAt(*store, keys, times);
    EXPECT_EQ(std::count(inserted.begin(), inserted.end(), 1), kKeys);
    ASSERT_TRUE(store->Commit(0).ok());
  }
  // The `k` file with a Bloom filter, the `t` file (and markers) without one.
  auto files = TableFilesOf(dir.Join("s"));
  ASSERT_EQ(files.size(), 2u);
  std::sort(files.begin(), files.end(), [](const TableFile& a, const TableFile& b) { return a.smallest_key < b.smallest_key; });
  EXPECT_EQ(files[0].smallest_key[0], 'k');
  EXPECT_GT(files[0].filter_bytes, 0u);
  EXPECT_EQ(files[1].smallest_key[0], 't');
  EXPECT_EQ(files[1].filter_bytes, 0u);
  {
    auto store = OpenStore(dir.Join("s"));
    // Batch 1: keys 0..199,999 seen again 1,000 minutes later: 200,000 `k` puts, 200,000
    // `t` puts and 200,000 `t` deletions of their old times, in two files.
    std::vector<std::string_view> head(keys.begin(), keys.begin() + 200000);
    std::vector<int64_t> later(times.begin(), times.begin() + 200000);
    for (auto& t : later) {
      if (t != INT64_MAX) t += 1000 * kMinute;
    }
    auto again = InsertAt(*store, head, later);
    EXPECT_EQ(std::count(again.begin(), again.end(), 1), 0);
    ASSERT_TRUE(store->Commit(1).ok());
    EXPECT_EQ(store->size(), kKeys);
    for (int i = 0; i < kKeys; ++i) {
      int64_t latest = i < 200000 && times[static_cast<size_t>(i)] != INT64_MAX ? times[static_cast<size_t>(i)] + 1000 * kMinute
                                                                                : times[static_cast<size_t>(i)];
      if (latest >= 600 * kMinute) ++kept;
    }
  }
  {
    auto store = OpenStore(dir.Join("s"));
    ASSERT_TRUE(store->ExpireBefore(600 * kMinute).ok());
    ASSERT_TRUE(store->Commit(2).ok());
    EXPECT_EQ(store->size(), kept);
  }
  auto store = OpenStore(dir.Join("s"), 0);  // probes RocksDB
  EXPECT_EQ(store->size(), kept);
  EXPECT_EQ(store->committed_watermark(), 600 * kMinute);
  // Every key probed at a time above the watermark: new exactly when it expired.
  std::vector<int64_t> now(keys.size(), 5000 * kMinute);
  auto seen = InsertAt(*store, keys, now);
  int64_t gone = 0;
  for (int i = 0; i < kKeys; ++i) {
    int64_t t = times[static_cast<size_t>(i)];
    int64_t latest = i < 200000 && t != INT64_MAX ? t + 1000 * kMinute : t;
    EXPECT_EQ(seen[static_cast<size_t>(i)], latest < 600 * kMinute ? 1 : 0) << owned[static_cast<size_t>(i)];
    if (seen[static_cast<size_t>(i)] == 1) ++gone;
    if (HasFailure()) break;
  }
  EXPECT_EQ(gone, kKeys - kept);
  EXPECT_GT(gone, 0);
  EXPECT_GT(kept, 0);
}

TEST(SeenKeyStoreTest, ABatchIsAppliedOnlyOnce) {
  testing::TempDir dir;
  auto store = OpenStore(dir.Join("s"));
  Insert(*store, {"a"});
  ASSERT_TRUE(store->Commit(4).ok());
  Insert(*store, {"b"});
  Status again = store->Commit(4);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("already has batch 4"), std::string::npos) << again.ToString();
  EXPECT_FALSE(store->Commit(3).ok());
  ASSERT_TRUE(store->Commit(5).ok());
  store.reset();
  store = OpenStore(dir.Join("s"));
  EXPECT_EQ(store->committed_batch(), 5);
  EXPECT_EQ(Insert(*store, {"a", "b", "c"}), (std::vector<uint8_t>{0, 0, 1}));
}

TEST(SeenKeyStoreTest, LargeBatchesAreIngestedWhole) {
  testing::TempDir dir;
  std::vector<std::string> keys;
  for (int i = 0; i < 120000; ++i) keys.push_back("key-" + std::to_string(i));
  std::vector<std::string_view> views(keys.begin(), keys.end());
  {
    auto store = OpenStore(dir.Join("s"));
    auto inserted = Insert(*store, views);
    EXPECT_EQ(std::count(inserted.begin(), inserted.end(), 1), 120000);
    ASSERT_TRUE(store->Commit(3).ok());
  }
  auto store = OpenStore(dir.Join("s"));
  EXPECT_EQ(store->committed_batch(), 3);
  EXPECT_EQ(store->size(), 120000);
  EXPECT_EQ(Insert(*store, {"key-0", "key-119999", "key-120000"}), (std::vector<uint8_t>{0, 0, 1}));
}

TEST(SeenKeyStoreTest, ABulkFileLeftByACrashIsRemovedAndIgnored) {
  testing::TempDir dir;
  {
    auto store = OpenStore(dir.Join("s"));
    Insert(*store, {"a"});
    ASSERT_TRUE(store->Commit(0).ok());
  }
  std::string stale = dir.Join("s") + "/ingest-1.sst";
  ASSERT_TRUE(FileSystem::Default()->WriteFile(stale, "half a table file").ok());
  auto store = OpenStore(dir.Join("s"));
  EXPECT_FALSE(FileSystem::Default()->Exists(stale));
  EXPECT_EQ(store->committed_batch(), 0);
  EXPECT_EQ(Insert(*store, {"a", "b"}), (std::vector<uint8_t>{0, 1}));
}

TEST(SeenKeyStoreTest, ExpiryForgetsOldKeysAtCommitAndKeepsRetimedOnes) {
  testing::TempDir dir;
  {
    auto store = OpenStore(dir.Join("s"));
    EXPECT_EQ(InsertAt(*store, {"old", "mid", "new"}, {1 * kMinute, 5 * kMinute, 9 * kMinute}),
              (std::vector<uint8_t>{1, 1, 1}));
    ASSERT_TRUE(store->Commit(0).ok());
    EXPECT_FALSE(store->committed_watermark().has_value());
    // "mid" is seen again later in event time: it must outlive the watermark below.
    EXPECT_EQ(InsertAt(*store, {"mid", "newer"}, {8 * kMinute, 10 * kMinute}), (std::vector<uint8_t>{0, 1}));
    auto expired = store->ExpireBefore(6 * kMinute);
    ASSERT_TRUE(expired.ok());
    EXPECT_EQ(store->RecordedWatermark(), 6 * kMinute);
    // Within the batch, a stored key below the watermark already counts as gone.
    EXPECT_EQ(InsertAt(*store, {"old"}, {7 * kMinute}), (std::vector<uint8_t>{1}));
    ASSERT_TRUE(store->Commit(1).ok());
    EXPECT_EQ(store->size(), 4);  // old (again), mid, new, newer
    EXPECT_EQ(store->committed_watermark(), 6 * kMinute);
  }
  auto store = OpenStore(dir.Join("s"));
  EXPECT_EQ(store->committed_batch(), 1);
  EXPECT_EQ(store->committed_watermark(), 6 * kMinute);
  EXPECT_EQ(store->RecordedWatermark(), 6 * kMinute);
  EXPECT_EQ(store->size(), 4);
  // Advance past "old" (7), "mid" (8) and "new" (9); "newer" (10) stays.
  ASSERT_TRUE(store->ExpireBefore(9 * kMinute + 1).ok());
  ASSERT_TRUE(store->Commit(2).ok());
  EXPECT_EQ(store->size(), 1);
  EXPECT_EQ(InsertAt(*store, {"old", "mid", "new", "newer"}, {20 * kMinute, 20 * kMinute, 20 * kMinute, 20 * kMinute}),
            (std::vector<uint8_t>{1, 1, 1, 0}));
  // The watermark never goes back.
  ASSERT_TRUE(store->ExpireBefore(1 * kMinute).ok());
  EXPECT_EQ(store->RecordedWatermark(), 9 * kMinute + 1);
  // Abandoning forgets the batch's keys and its watermark.
  ASSERT_TRUE(store->ExpireBefore(15 * kMinute).ok());
  ASSERT_TRUE(store->Abandon().ok());
  EXPECT_EQ(store->RecordedWatermark(), 9 * kMinute + 1);
  EXPECT_EQ(store->size(), 1);
}

// The durable set must answer exactly as the in-memory one (the reference semantics of
// operators::SeenKeySet), batch after batch, across commits and reopenings.
// Stored keys are probed in memory (loaded once, kept current by each commit), in RocksDB
// (max_keys_in_memory 0), or in memory until the store outgrows the limit (150).
class SeenKeyStoreProbes : public ::testing::TestWithParam<int64_t> {};
INSTANTIATE_TEST_SUITE_P(InMemoryRocksDbAndOverTheLimit, SeenKeyStoreProbes,
                         ::testing::Values(SeenKeyStore::kDefaultMaxKeysInMemory, 0, 150));

TEST_P(SeenKeyStoreProbes, MatchesTheInMemorySetUnderRandomBatches) {
  testing::TempDir dir;
  operators::InMemorySeenKeySet reference;
  auto store = OpenStore(dir.Join("s"), GetParam());
  std::mt19937_64 rng(42);
  int64_t watermark = INT64_MIN;
  int64_t largest = 0;
  for (int batch = 0; batch < 60; ++batch) {
    std::vector<std::string> keys;
    std::vector<int64_t> times;
    int n = 1 + static_cast<int>(rng() % 300);
    for (int i = 0; i < n; ++i) {
      keys.push_back("k" + std::to_string(rng() % 400));
      // Event times drift forward with the batches, with jitter, and are never late.
      int64_t t = (batch * 2 + static_cast<int64_t>(rng() % 20)) * kMinute;
      times.push_back(std::max(t, watermark == INT64_MIN ? t : watermark));
    }
    std::vector<std::string_view> views(keys.begin(), keys.end());
    std::vector<uint8_t> want, got;
    ASSERT_TRUE(reference.InsertIfAbsentWithTime(views, times, &want).ok());
    ASSERT_TRUE(store->InsertIfAbsentWithTime(views, times, &got).ok());
    ASSERT_EQ(got, want) << "batch " << batch;
    if (batch % 3 != 2) {
      watermark = std::max(watermark, (batch * 2 - 5) * kMinute);
      ASSERT_TRUE(reference.ExpireBefore(watermark).ok());
      ASSERT_TRUE(store->ExpireBefore(watermark).ok());
    }
    // A second probe in the same batch sees the batch's own inserts and expiry.
    std::vector<std::string_view> again(views.begin(), views.begin() + std::min<size_t>(views.size(), 5));
    std::vector<int64_t> again_times(times.begin(), times.begin() + static_cast<long>(again.size()));
    for (auto& t : again_times) t = std::max(t, watermark);
    ASSERT_TRUE(reference.InsertIfAbsentWithTime(again, again_times, &want).ok());
    ASSERT_TRUE(store->InsertIfAbsentWithTime(again, again_times, &got).ok());
    ASSERT_EQ(got, want) << "second probe of batch " << batch;
    ASSERT_TRUE(store->Commit(batch).ok());
    ASSERT_EQ(store->size(), reference.size()) << "batch " << batch;
    largest = std::max(largest, store->size());
    if (batch % 10 == 9) {
      store.reset();
      store = OpenStore(dir.Join("s"), GetParam());
      ASSERT_EQ(store->size(), reference.size());
    }
  }
  if (GetParam() == 150) { EXPECT_GT(largest, 150); }  // the store outgrew the limit
}

TEST(SeenKeyStoreTest, LargeWatermarkedBatchesAreIngestedWithTheirExpiry) {
  testing::TempDir dir;
  std::vector<std::string> keys;
  std::vector<int64_t> times;
  for (int i = 0; i < 80000; ++i) {
    keys.push_back("key-" + std::to_string(i));
    times.push_back(i);  // key-i at i micros
  }
  std::vector<std::string_view> views(keys.begin(), keys.end());
  {
    auto store = OpenStore(dir.Join("s"));
    auto inserted = InsertAt(*store, views, times);
    EXPECT_EQ(std::count(inserted.begin(), inserted.end(), 1), 80000);
    ASSERT_TRUE(store->Commit(0).ok());
    // Batch 1: re-time the last 60000 keys, then expire everything below 30000 micros:
    // 30000 deletions, a range deletion and 60000 puts in one ingested file.
    std::vector<std::string_view> tail(views.begin() + 20000, views.end());
    std::vector<int64_t> later(tail.size(), 1000000);
    auto again = InsertAt(*store, tail, later);
    EXPECT_EQ(std::count(again.begin(), again.end(), 1), 0);
    ASSERT_TRUE(store->ExpireBefore(30000).ok());
    ASSERT_TRUE(store->Commit(1).ok());
    EXPECT_EQ(store->size(), 60000);
  }
  auto store = OpenStore(dir.Join("s"));
  EXPECT_EQ(store->size(), 60000);
  EXPECT_EQ(store->committed_watermark(), 30000);
  EXPECT_EQ(InsertAt(*store, {"key-0", "key-19999", "key-20000", "key-79999"}, {2000000, 2000000, 2000000, 2000000}),
            (std::vector<uint8_t>{1, 1, 0, 0}));
  ASSERT_TRUE(store->Abandon().ok());
  // The re-timed keys expire at their new time, not their old one.
  ASSERT_TRUE(store->ExpireBefore(999999).ok());
  ASSERT_TRUE(store->Commit(2).ok());
  EXPECT_EQ(store->size(), 60000);
  ASSERT_TRUE(store->ExpireBefore(1000001).ok());
  ASSERT_TRUE(store->Commit(3).ok());
  EXPECT_EQ(store->size(), 0);
  StateSize size = store->Size();
  EXPECT_EQ(size.keys, 0);
  EXPECT_GT(size.disk_bytes, 0);
}

// Batches large enough to be written as one ingested table file alternate with small
// ones (a WriteBatch): both paths, with event times, re-timed keys and expiry, must leave
// the store answering as the in-memory set does.
TEST_P(SeenKeyStoreProbes, BulkAndSmallWritesMatchTheInMemorySet) {
  testing::TempDir dir;
  operators::InMemorySeenKeySet reference;
  auto store = OpenStore(dir.Join("s"), GetParam() == 150 ? 20000 : GetParam());
  std::mt19937_64 rng(5);
  int64_t watermark = 0;
  int64_t largest = 0;
  for (int batch = 0; batch < 12; ++batch) {
    int n = batch % 2 == 0 ? 40000 : 900;  // 40000 keys with times: 80000 entries, ingested
    std::vector<std::string> keys;
    std::vector<int64_t> times;
    for (int i = 0; i < n; ++i) {
      keys.push_back("key-" + std::to_string(rng() % 60000));
      times.push_back(watermark + static_cast<int64_t>(rng() % 1000) * kMinute / 100);
    }
    std::vector<std::string_view> views(keys.begin(), keys.end());
    std::vector<uint8_t> want, got;
    ASSERT_TRUE(reference.InsertIfAbsentWithTime(views, times, &want).ok());
    ASSERT_TRUE(store->InsertIfAbsentWithTime(views, times, &got).ok());
    ASSERT_EQ(got, want) << "batch " << batch;
    watermark += 3 * kMinute;
    auto forgotten_ref = reference.ExpireBefore(watermark);
    auto forgotten = store->ExpireBefore(watermark);
    ASSERT_TRUE(forgotten.ok() && forgotten_ref.ok());
    ASSERT_TRUE(store->Commit(batch).ok());
    ASSERT_EQ(store->size(), reference.size()) << "batch " << batch;
    largest = std::max(largest, store->size());
    if (batch % 4 == 3) {
      store.reset();
      store = OpenStore(dir.Join("s"), GetParam() == 150 ? 20000 : GetParam());
      ASSERT_EQ(store->size(), reference.size());
      ASSERT_EQ(store->committed_watermark(), watermark);
    }
  }
  // Every key of the key space answers as the reference does.
  std::vector<std::string> all;
  for (int i = 0; i < 60000; ++i) all.push_back("key-" + std::to_string(i));
  std::vector<std::string_view> views(all.begin(), all.end());
  std::vector<int64_t> times(all.size(), watermark + 100 * kMinute);
  std::vector<uint8_t> want, got;
  ASSERT_TRUE(reference.InsertIfAbsentWithTime(views, times, &want).ok());
  ASSERT_TRUE(store->InsertIfAbsentWithTime(views, times, &got).ok());
  EXPECT_EQ(got, want);
  EXPECT_GT(std::count(want.begin(), want.end(), 0), 1000);  // many keys are still remembered
  if (GetParam() == 150) { EXPECT_GT(largest, 20000); }  // the store outgrew the limit
}

// A batch's changes are in memory only until Commit: a large abandoned batch leaves
// nothing, and the store answers as before it.
TEST(SeenKeyStoreTest, AnAbandonedLargeBatchLeavesNoTrace) {
  testing::TempDir dir;
  std::vector<std::string> keys;
  for (int i = 0; i < 70000; ++i) keys.push_back("k" + std::to_string(i));
  std::vector<std::string_view> views(keys.begin(), keys.end());
  auto store = OpenStore(dir.Join("s"));
  std::vector<std::string_view> first(views.begin(), views.begin() + 60000);
  auto once = Insert(*store, first);
  EXPECT_EQ(std::count(once.begin(), once.end(), 1), 60000);
  auto twice = Insert(*store, first);
  EXPECT_EQ(std::count(twice.begin(), twice.end(), 1), 0);  // the second call sees the first's inserts
  ASSERT_TRUE(store->Commit(0).ok());
  auto again = Insert(*store, views);
  EXPECT_EQ(std::count(again.begin(), again.end(), 1), 10000);
  EXPECT_EQ(store->size(), 70000);
  EXPECT_GT(store->MemoryBytes(), 10000 * 16);
  ASSERT_TRUE(store->Abandon().ok());
  EXPECT_EQ(store->size(), 60000);
  store.reset();
  store = OpenStore(dir.Join("s"));
  EXPECT_EQ(store->committed_batch(), 0);
  EXPECT_EQ(store->size(), 60000);
  auto third = Insert(*store, views);
  EXPECT_EQ(std::count(third.begin(), third.end(), 1), 10000);
  EXPECT_EQ(third[59999], 0);
  EXPECT_EQ(third[60000], 1);
}

// Stores written before table files were left uncompressed (the layout is the same) hold
// compressed files: they must open and answer as before, and take new batches.
TEST(SeenKeyStoreTest, ReadsAStoreWithCompressedTableFiles) {
  testing::TempDir dir;
  std::vector<std::string> keys;
  std::vector<int64_t> times;
  for (int i = 0; i < 3000; ++i) {
    keys.push_back("key-" + std::to_string(i));
    times.push_back(i * kMinute);
  }
  std::vector<std::string_view> views(keys.begin(), keys.end());
  {
    auto store = OpenStore(dir.Join("new"));
    InsertAt(*store, views, times);
    ASSERT_TRUE(store->ExpireBefore(1000 * kMinute).ok());
    ASSERT_TRUE(store->Commit(7).ok());
  }
  // Copy every entry into a store whose table files are compressed, flushed to files.
  {
    rocksdb::DB* raw = nullptr;
    rocksdb::Options in_options;
    ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(in_options, dir.Join("new"), &raw).ok());
    std::unique_ptr<rocksdb::DB> in(raw);
    rocksdb::Options out_options;
    out_options.create_if_missing = true;
    out_options.compression = rocksdb::kZSTD;
    ASSERT_TRUE(rocksdb::DB::Open(out_options, dir.Join("old"), &raw).ok());
    std::unique_ptr<rocksdb::DB> out(raw);
    std::unique_ptr<rocksdb::Iterator> it(in->NewIterator(rocksdb::ReadOptions()));
    int entries = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++entries) {
      ASSERT_TRUE(out->Put(rocksdb::WriteOptions(), it->key(), it->value()).ok());
    }
    EXPECT_EQ(entries, 2000 * 2 + 3);  // k and t entries of the kept keys, three markers
    ASSERT_TRUE(out->Flush(rocksdb::FlushOptions()).ok());
    std::string compression;
    ASSERT_TRUE(out->GetProperty("rocksdb.compression-ratio-at-level0", &compression));
  }
  auto store = OpenStore(dir.Join("old"));
  EXPECT_EQ(store->committed_batch(), 7);
  EXPECT_EQ(store->committed_watermark(), 1000 * kMinute);
  EXPECT_EQ(store->size(), 2000);
  EXPECT_EQ(InsertAt(*store, {"key-0", "key-999", "key-1000", "key-2999", "key-3000"},
                     {3000 * kMinute, 3000 * kMinute, 3000 * kMinute, 3000 * kMinute, 3000 * kMinute}),
            (std::vector<uint8_t>{1, 1, 0, 0, 1}));
  ASSERT_TRUE(store->ExpireBefore(2000 * kMinute).ok());  // expires key-1000..key-1999 stored
  ASSERT_TRUE(store->Commit(8).ok());
  // key-1000 was re-timed to 3000 min, so it stays; key-1001..1999 go; 2000..2999 stay; the
  // new keys (0, 999, 3000) stay.
  EXPECT_EQ(store->size(), 1 + 1000 + 3);
  store.reset();
  store = OpenStore(dir.Join("old"));
  EXPECT_EQ(store->size(), 1004);
  EXPECT_EQ(InsertAt(*store, {"key-1000", "key-1001", "key-2000"}, {3001 * kMinute, 3001 * kMinute, 3001 * kMinute}),
            (std::vector<uint8_t>{0, 1, 0}));
}

// ---- Deduplicate over the store: the runtime's use --------------------------------

RecordBatch Events(int64_t first_key, int64_t n, int64_t base_time) {
  Schema schema = Schema::ParseDDL("id BIGINT, ts TIMESTAMP").value();
  Column ids(DataType::Long()), ts(DataType::Timestamp());
  for (int64_t i = 0; i < n; ++i) {
    ids.Append<int64_t>(first_key + i);
    ts.Append<int64_t>(base_time + i * 1000);  // a millisecond apart
  }
  return RecordBatch(schema, {MakeColumn(std::move(ids)), MakeColumn(std::move(ts))}, n);
}

RecordBatch Concat(const RecordBatch& a, const RecordBatch& b) {
  std::vector<ColumnPtr> cols;
  for (size_t c = 0; c < a.num_columns(); ++c) {
    Column col = a.column(c);
    col.AppendRange(b.column(c), 0, b.num_rows());
    cols.push_back(MakeColumn(std::move(col)));
  }
  return RecordBatch(a.schema(), std::move(cols), a.num_rows() + b.num_rows());
}

// One micro-batch as the runtime runs it: a fresh Deduplicate over the store, Push, Commit.
int64_t RunBatch(const std::shared_ptr<SeenKeyStore>& store, const RecordBatch& input, int64_t batch_id,
                 bool watermarked) {
  EXPECT_TRUE(store->Abandon().ok());
  std::optional<operators::DeduplicateWatermark> wm;
  if (watermarked) wm = operators::DeduplicateWatermark{1, 10 * kMinute};
  auto dedup = operators::Deduplicate::Make(input.schema(), {0}, store, wm);
  EXPECT_TRUE(dedup.ok()) << dedup.status().ToString();
  auto out = (*dedup)->Push(input);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  Status st = store->Commit(batch_id);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out.ok() ? out->num_rows() : -1;
}

// 200 micro-batches of 1000 new keys, event time one minute further each batch, plus the
// previous batch's first 100 rows again (duplicates) and 50 rows from an hour ago (late).
TEST(SeenKeyStoreTest, WatermarkKeepsStateBoundedWhileItGrowsWithout) {
  testing::TempDir dir;
  auto bounded = OpenStore(dir.Join("bounded"));
  auto unbounded = OpenStore(dir.Join("unbounded"));
  std::vector<int64_t> bounded_sizes;
  for (int64_t b = 0; b < 200; ++b) {
    RecordBatch fresh = Events(b * 1000, 1000, b * kMinute);
    RecordBatch input = fresh;
    if (b > 0) input = Concat(input, Events((b - 1) * 1000, 100, (b - 1) * kMinute));
    if (b > 70) input = Concat(input, Events((b - 60) * 1000 + 500, 50, (b - 60) * kMinute));
    EXPECT_EQ(RunBatch(bounded, input, b, true), 1000) << "batch " << b;
    EXPECT_EQ(RunBatch(unbounded, fresh, b, false), 1000) << "batch " << b;
    bounded_sizes.push_back(bounded->size());
  }
  // Without a watermark every key is kept.
  EXPECT_EQ(unbounded->size(), 200000);
  // With a 10-minute delay, a key lives about 10 batches: the size levels off.
  for (size_t b = 20; b < bounded_sizes.size(); ++b) {
    EXPECT_LE(bounded_sizes[b], 12000) << "batch " << b;
    EXPECT_EQ(bounded_sizes[b], bounded_sizes[19]) << "batch " << b;
  }
  EXPECT_EQ(bounded->committed_watermark(), 199 * kMinute + 999 * 1000 - 10 * kMinute);
  EXPECT_EQ(bounded->Size().keys, bounded->size());
}

TEST(SeenKeyStoreTest, RestartRestoresTheWatermarkAndTheKeys) {
  testing::TempDir dir;
  {
    auto store = OpenStore(dir.Join("s"));
    EXPECT_EQ(RunBatch(store, Events(0, 100, 0), 0, true), 100);
    EXPECT_EQ(RunBatch(store, Events(100, 100, 30 * kMinute), 1, true), 100);
    // A batch that never commits (crash after processing).
    auto dedup = operators::Deduplicate::Make(Events(0, 1, 0).schema(), {0}, store,
                                              operators::DeduplicateWatermark{1, 10 * kMinute});
    ASSERT_TRUE(dedup.ok());
    ASSERT_TRUE((*dedup)->Push(Events(5000, 10, 90 * kMinute)).ok());
  }
  auto store = OpenStore(dir.Join("s"));
  int64_t watermark = 30 * kMinute + 99 * 1000 - 10 * kMinute;
  EXPECT_EQ(store->committed_watermark(), watermark);
  EXPECT_EQ(store->size(), 100);  // batch 0's keys expired below the watermark
  auto dedup = operators::Deduplicate::Make(Events(0, 1, 0).schema(), {0}, store,
                                            operators::DeduplicateWatermark{1, 10 * kMinute});
  ASSERT_TRUE(dedup.ok());
  EXPECT_EQ((*dedup)->watermark(), watermark);
  // Late rows (batch 0's times) are dropped, batch 1's keys are duplicates, the
  // uncommitted batch's keys are new.
  RecordBatch input = Concat(Concat(Events(0, 10, 0), Events(100, 100, 30 * kMinute)), Events(5000, 10, 90 * kMinute));
  auto out = (*dedup)->Push(input);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->num_rows(), 10);
  EXPECT_EQ(out->column(0).data<int64_t>()[0], 5000);
}

}  // namespace
}  // namespace lakepipe::state

namespace lakepipe::state {
namespace {

// Remove (an incremental view's recomputed groups give their distinct pairs back): a
// removed stored key is absent once committed, a key removed and inserted again in the
// same batch is new at the insert and stays, a pending key removed is never written, and
// removing what is not there changes nothing. The count follows; an abandoned removal
// leaves the store as it was; both write paths (WriteBatch, ingested file) agree.
TEST(SeenKeyStoreTest, RemovedKeysLeaveAtTheCommitAndMayComeBackInTheSameBatch) {
  for (int keys : {20, 60000}) {  // 60,000 pending entries take the ingested-file path
    testing::TempDir dir;
    std::vector<std::string> names;
    for (int i = 0; i < keys; ++i) names.push_back("k" + std::to_string(i));
    auto views = [&](int from, int to) {
      std::vector<std::string_view> v;
      for (int i = from; i < to; ++i) v.push_back(names[static_cast<size_t>(i)]);
      return v;
    };
    const int half = keys / 2;
    {
      auto store = OpenStore(dir.Join("s"));
      std::vector<uint8_t> inserted;
      ASSERT_TRUE(store->InsertIfAbsent(views(0, half), &inserted).ok());
      ASSERT_TRUE(store->Commit(0).ok());
      EXPECT_EQ(store->size(), half);
      // An abandoned removal changes nothing.
      ASSERT_TRUE(store->Remove(views(0, 4)).ok());
      EXPECT_EQ(store->size(), half - 4);
      ASSERT_TRUE(store->Abandon().ok());
      EXPECT_EQ(store->size(), half);
      // Batch 1: remove k0..k3 (stored), insert k2 again; insert k[half] and remove it
      // again (pending only); remove k[keys-1] (never there); insert the rest of the keys.
      ASSERT_TRUE(store->Remove(views(0, 4)).ok());
      EXPECT_EQ(Insert(*store, {"k2", "k2"}), (std::vector<uint8_t>{1, 0}));
      EXPECT_EQ(Insert(*store, views(half, half + 1)), (std::vector<uint8_t>{1}));
      ASSERT_TRUE(store->Remove(views(half, half + 1)).ok());
      ASSERT_TRUE(store->Remove(views(keys - 1, keys)).ok());
      ASSERT_TRUE(store->InsertIfAbsent(views(half + 1, keys - 1), &inserted).ok());
      EXPECT_EQ(std::count(inserted.begin(), inserted.end(), 1), keys - 1 - (half + 1));
      EXPECT_EQ(store->size(), half - 3 + (keys - 1 - (half + 1)));
      ASSERT_TRUE(store->Commit(1).ok());
    }
    auto store = OpenStore(dir.Join("s"));
    const int64_t expected = half - 3 + (keys - 1 - (half + 1));
    EXPECT_EQ(store->size(), expected) << keys;
    // k0, k1, k3, k[half], k[keys-1] are absent; k2, k4 and the batch-1 keys are present.
    EXPECT_EQ(Insert(*store, {"k0", "k1", "k3", names[static_cast<size_t>(half)], names.back()}),
              (std::vector<uint8_t>{1, 1, 1, 1, 1}))
        << keys;
    EXPECT_EQ(Insert(*store, {"k2", "k4", names[static_cast<size_t>(half + 1)]}), (std::vector<uint8_t>{0, 0, 0}))
        << keys;
  }
}

// A batch that removes keeps its keys in memory (removals live in the pending table), and
// a batch that already spilled refuses to remove instead of losing the removal.
TEST(SeenKeyStoreTest, RemovalsAndSpillsDoNotMix) {
  testing::TempDir dir;
  auto spilling = SeenKeyStore::Open(dir.Join("a"), SeenKeyStore::kMaxKeysFromBudget, /*memory_budget_bytes=*/1);
  ASSERT_TRUE(spilling.ok());
  std::vector<std::string> names;
  for (int i = 0; i < 5000; ++i) names.push_back("v" + std::to_string(i));
  std::vector<std::string_view> views(names.begin(), names.end());
  std::vector<uint8_t> inserted;
  ASSERT_TRUE((*spilling)->InsertIfAbsent(views, &inserted).ok());
  ASSERT_GT((*spilling)->spilled_runs(), 0);
  auto refused = (*spilling)->Remove({"v1"});
  EXPECT_EQ(refused.code(), StatusCode::kNotSupported) << refused.ToString();

  auto removing = SeenKeyStore::Open(dir.Join("b"), SeenKeyStore::kMaxKeysFromBudget, /*memory_budget_bytes=*/1);
  ASSERT_TRUE(removing.ok());
  ASSERT_TRUE((*removing)->Remove({"gone"}).ok());
  ASSERT_TRUE((*removing)->InsertIfAbsent(views, &inserted).ok());
  EXPECT_EQ((*removing)->spilled_runs(), 0);
  EXPECT_EQ(std::count(inserted.begin(), inserted.end(), 1), 5000);
  ASSERT_TRUE((*removing)->Commit(0).ok());
  EXPECT_EQ((*removing)->size(), 5000);
}

}  // namespace
}  // namespace lakepipe::state
