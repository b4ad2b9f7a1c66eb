#include "runtime/shared_scan.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace lakepipe::runtime {
namespace {

using Batches = SharedScans::Batches;

Batches OneBatch(int64_t value) {
  auto schema = Schema::ParseDDL("x BIGINT");
  Column c(DataType::Long());
  c.Append<int64_t>(value);
  Batches out;
  out.push_back(RecordBatch::FromColumns(*schema, {c}));
  return out;
}

TEST(SharedScans, ViewsRunningTogetherReadEachSnapshotOnce) {
  SharedScans scans;
  std::atomic<int> reads{0};
  auto read = [&]() -> Result<Batches> {
    ++reads;
    // Slow enough that the other threads ask while it runs: they wait for it.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return OneBatch(7);
  };
  scans.Begin();
  std::vector<std::thread> threads;
  std::vector<Result<Batches>> got(4, Status::Internal("not run"));
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] { got[t] = scans.Read("/t/silver", 3, {"a", "b"}, read); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(reads.load(), 1);
  EXPECT_EQ(scans.reads(), 1);
  EXPECT_EQ(scans.reuses(), 3);
  for (const auto& g : got) {
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    ASSERT_EQ(g->size(), 1u);
    EXPECT_EQ((*g)[0].column(0).Get<int64_t>(0), 7);
  }
  // The batches share their columns: one read in memory, not four.
  EXPECT_EQ((*got[0])[0].column_ptr(0).get(), (*got[3])[0].column_ptr(0).get());

  // Another version, other columns, another table: each is a read of its own.
  ASSERT_TRUE(scans.Read("/t/silver", 4, {"a", "b"}, read).ok());
  ASSERT_TRUE(scans.Read("/t/silver", 3, {"a"}, read).ok());
  ASSERT_TRUE(scans.Read("/t/bronze", 3, {"a", "b"}, read).ok());
  EXPECT_EQ(reads.load(), 4);

  // Once the group is done nothing is kept: the next read reads.
  scans.End();
  ASSERT_TRUE(scans.Read("/t/silver", 3, {"a", "b"}, read).ok());
  ASSERT_TRUE(scans.Read("/t/silver", 3, {"a", "b"}, read).ok());
  EXPECT_EQ(reads.load(), 6);
}

TEST(SharedScans, AFailedReadIsEveryWaitersError) {
  SharedScans scans;
  std::atomic<int> reads{0};
  auto fail = [&]() -> Result<Batches> {
    ++reads;
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    return Status::Corruption("part-0.parquet: bad page");
  };
  scans.Begin();
  std::vector<std::thread> threads;
  std::vector<Status> got(3);
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] { got[t] = scans.Read("/t/silver", 1, {"a"}, fail).status(); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(reads.load(), 1);
  for (const auto& st : got) {
    EXPECT_EQ(st.code(), StatusCode::kCorruption);
    EXPECT_NE(st.message().find("bad page"), std::string::npos) << st.ToString();
  }
  scans.End();
}

}  // namespace
}  // namespace lakepipe::runtime
