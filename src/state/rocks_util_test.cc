#include "state/rocks_util.h"

#include <gtest/gtest.h>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "testing/testing.h"

namespace lakepipe::state {
namespace {

uint64_t MemtableBytes(rocksdb::DB* db) {
  uint64_t bytes = 0;
  EXPECT_TRUE(db->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &bytes));
  return bytes;
}

// The leak the soak found (docs/BENCHMARKS.md, "Soak"): every state DB (one per stateful
// operator of every flow) kept up to two 64 MiB memtables, filled slowly by a continuous
// run's small batches and flushed only when full, so RSS grew for many minutes. Now the
// memtables of all state DBs of the process share one budget. Ten DBs receive 16 MiB each
// (160 MiB in all); what their memtables hold afterwards must stay within the budget.
TEST(StateDbOptionsTest, MemtablesOfAllStateDbsShareOneBudget) {
  testing::TempDir dir;
  constexpr int kDbs = 10;
  constexpr int kRounds = 16;
  std::vector<std::unique_ptr<rocksdb::DB>> dbs;
  for (int i = 0; i < kDbs; ++i) {
    auto db = OpenStateDb(dir.Join("db-" + std::to_string(i)), /*point_lookups=*/i % 2 == 0);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    dbs.push_back(std::move(*db));
  }
  std::string value(1 << 20, 'v');
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kDbs; ++i) {
      value[round % value.size()] = static_cast<char>('a' + i);
      ASSERT_TRUE(dbs[i]->Put(rocksdb::WriteOptions(), "key-" + std::to_string(round), value).ok());
    }
  }
  // Flushes run in the background: wait (at most 60 s) for them to bring the total down.
  uint64_t total = 0;
  const uint64_t bound = kStateMemtableBudget + (8 << 20);  // plus the memtable a flush is draining
  for (int wait = 0; wait < 600; ++wait) {
    total = 0;
    for (auto& db : dbs) total += MemtableBytes(db.get());
    if (total <= bound) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_LE(total, bound) << "the memtables of " << kDbs << " state DBs hold " << (total >> 20) << " MiB after "
                          << kDbs * kRounds << " MiB were written";
  EXPECT_LE(StateMemtableBytes(), bound);
  for (auto& db : dbs) {
    // One memtable of each DB is flushed at 8 MiB, whatever the budget says.
    EXPECT_LE(MemtableBytes(db.get()), uint64_t{2 * (8 << 20) + (1 << 20)});
    // Table blocks of every state DB share one cache (RocksDB's default is 8 MiB per DB),
    // which the memtables are charged to.
    uint64_t capacity = 0;
    ASSERT_TRUE(db->GetIntProperty("rocksdb.block-cache-capacity", &capacity));
    EXPECT_EQ(capacity, kStateMemtableBudget + kStateBlockCacheBytes);
  }
  // Every value is still there (flushed to table files, not dropped).
  std::string got;
  ASSERT_TRUE(dbs[3]->Get(rocksdb::ReadOptions(), "key-0", &got).ok());
  EXPECT_EQ(got.size(), value.size());
}

// The index and Bloom filter blocks of table files live in the shared cache, not beside
// each open file: with RocksDB's defaults they are held for as long as a file is open and
// grow with the data (1.25 bytes a key of filter), which a soak's DISTINCT of ever more
// keys showed as RSS that never stopped growing. 400,000 keys (a filter of ~500 KB)
// leave the table readers a few KiB (the pinned top level of each partitioned index and
// filter), and what the cache holds stays within its capacity.
TEST(StateDbOptionsTest, IndexAndFilterBlocksLiveInTheSharedCache) {
  testing::TempDir dir;
  auto opened = OpenStateDb(dir.Join("db"), /*point_lookups=*/true, /*compress=*/false);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<rocksdb::DB> db = std::move(*opened);
  constexpr int kKeys = 400000;
  auto key = [](int i) {
    std::string k = "k" + std::to_string(i * 7919LL);
    k.resize(17, '.');
    return k;
  };
  for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key(i), "").ok());
  ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
  std::string got;
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), key(i * 101 % kKeys), &got).ok());
    EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), "absent-" + std::to_string(i), &got).IsNotFound());
  }
  uint64_t readers = 0;
  ASSERT_TRUE(db->GetIntProperty("rocksdb.estimate-table-readers-mem", &readers));
  EXPECT_LT(readers, uint64_t{64} << 10) << "index and filter blocks held outside the cache";
  uint64_t cached = 0;
  ASSERT_TRUE(db->GetIntProperty("rocksdb.block-cache-usage", &cached));
  EXPECT_GT(cached, uint64_t{0});
  EXPECT_LE(StateCacheBytes(), kStateMemtableBudget + kStateBlockCacheBytes + (1 << 20));
}

// Descriptors this process holds on table files (`*.sst`) under `dir`.
int OpenTableFilesUnder(const std::string& dir) {
  int n = 0;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
    if (ec || target.rfind(dir, 0) != 0) continue;
    if (target.size() > 4 && target.compare(target.size() - 4, 4, ".sst") == 0) ++n;
  }
  return n;
}

// One ingested table file per key, each holding only that key, so none overlaps another
// and compaction has nothing to merge: `files` table files under the DB.
void IngestOneFilePerKey(rocksdb::DB* db, const std::string& dir, int files) {
  for (int i = 0; i < files; ++i) {
    StateWrite write;
    char key[16];
    std::snprintf(key, sizeof(key), "k%06d", i);
    write.Put(key, "v");
    ASSERT_TRUE(write.Apply(db, dir, i, /*bulk_entries=*/0).ok());
  }
}

// The soak's growing descriptors (docs/BENCHMARKS.md, "Soak": 51 -> 75 in 40 minutes)
// were the state stores' table files, which grow with the stored keys. A store keeps at
// most kStateMaxOpenTableFiles of them open, however many it has: reading every key of a
// store of three times as many files leaves no more open.
TEST(StateDbOptionsTest, OpenTableFilesStayWithinTheCap) {
  testing::TempDir dir;
  const std::string path = dir.Join("db");
  auto opened = OpenStateDb(path, /*point_lookups=*/true);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<rocksdb::DB> db = std::move(*opened);
  constexpr int kFiles = 3 * kStateMaxOpenTableFiles;
  IngestOneFilePerKey(db.get(), path, kFiles);
  std::vector<rocksdb::LiveFileMetaData> files;
  db->GetLiveFilesMetaData(&files);
  ASSERT_GE(files.size(), static_cast<size_t>(2 * kStateMaxOpenTableFiles)) << "too few table files to test the cap";
  std::string got;
  int max_open = 0;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kFiles; ++i) {
      char key[16];
      std::snprintf(key, sizeof(key), "k%06d", i);
      ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), key, &got).ok()) << key;
      if (i % 16 == 0) max_open = std::max(max_open, OpenTableFilesUnder(path));
    }
  }
  max_open = std::max(max_open, OpenTableFilesUnder(path));
  EXPECT_GT(max_open, 0) << "no table file was seen open: the count looks at the wrong place";
  EXPECT_LE(max_open, kStateMaxOpenTableFiles) << files.size() << " table files";
}

// The memory RocksDB keeps per table file outside the blocks, the readers of open files
// and the metadata of every file, is charged to the shared cache (so that the cache's
// capacity bounds it), not held beside it. Charges are made in 256 KiB entries; forty
// one-key files have blocks of a few dozen bytes each, so only the charges can move the
// cache's usage by that much.
TEST(StateDbOptionsTest, TableReadersAndFileMetadataAreChargedToTheSharedCache) {
  testing::TempDir dir;
  const std::string path = dir.Join("db");
  auto opened = OpenStateDb(path, /*point_lookups=*/true);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<rocksdb::DB> db = std::move(*opened);
  const size_t before = StateCacheBytes();
  IngestOneFilePerKey(db.get(), path, 40);
  std::string got;
  for (int i = 0; i < 40; ++i) {
    char key[16];
    std::snprintf(key, sizeof(key), "k%06d", i);
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), key, &got).ok());
  }
  const size_t after = StateCacheBytes();
  EXPECT_GE(after, before + (256 << 10)) << "before " << before << ", after " << after;
}

// RocksDB's LOG file is not written (on a full disk its writer aborted the process:
// tests/crash/full_disk.mjs).
TEST(StateDbOptionsTest, NoInfoLogFile) {
  testing::TempDir dir;
  auto db = OpenStateDb(dir.Join("db"), /*point_lookups=*/false);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE((*db)->Put(rocksdb::WriteOptions(), "k", "v").ok());
  auto entries = FileSystem::Default()->ListDir(dir.Join("db"));
  ASSERT_TRUE(entries.ok());
  for (const auto& e : *entries) EXPECT_NE(e.name.rfind("LOG", 0), 0u) << e.name;
}

}  // namespace
}  // namespace lakepipe::state
