// The run history's cache (what `job serve` reads per request): served from memory while
// the table's version is unchanged, read again after any writer's Append.
#include "jobs/run_history.h"

#include <gtest/gtest.h>

#include "delta/append_log_compaction.h"
#include "delta/table.h"
#include "testing/testing.h"

namespace lakepipe::jobs {
namespace {

RunRecord Row(const std::string& run_id, int64_t end) {
  RunRecord r;
  r.job = "daily";
  r.run_id = run_id;
  r.trigger = "manual";
  r.state = kStateSucceeded;
  r.start_micros = end - 1000;
  r.end_micros = end;
  r.parameters = "{}";
  return r;
}

TEST(RunHistory, CachedReadsFollowTheTableVersion) {
  testing::TempDir dir;
  RunHistory server(dir.path());
  auto none = server.ReadAllCached();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE((*none)->empty());

  ASSERT_TRUE(server.Append({Row("r1", 2'000'000)}).ok());
  auto first = server.ReadAllCached();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ((*first)->size(), 1u);
  auto again = server.ReadAllCached();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), first->get());  // the same rows, not read again
  EXPECT_EQ(server.cache_misses(), 1);

  // Another writer (a `job run` process) appends: the next read sees it.
  RunHistory other(dir.path());
  ASSERT_TRUE(other.Append({Row("r2", 3'000'000)}).ok());
  auto after = server.ReadAllCached();
  ASSERT_TRUE(after.ok());
  ASSERT_EQ((*after)->size(), 2u);
  EXPECT_EQ((*after)->at(1).run_id, "r2");
  EXPECT_EQ(server.cache_misses(), 2);
  auto all = server.ReadAll();  // the uncached read agrees
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].run_id, "r1");
}


// A job that runs every minute appends twice a run for months: every 50th version
// compacts the table (delta/append_log_compaction.h), whichever writer reaches it, and
// the history reads the same rows in the same order.
TEST(RunHistory, AppendsAreCompactedEveryFiftyVersions) {
  testing::TempDir dir;
  const int n = delta::kAppendLogCompactEvery * 2 + 3;
  for (int i = 0; i < n; ++i) {
    RunHistory writer(dir.path());  // a process of its own each time, as `job run` is
    ASSERT_TRUE(writer.Append({Row("r" + std::to_string(i), 1'000'000 * (i + 1))}).ok());
  }
  RunHistory history(dir.path());
  auto table = delta::DeltaTable::Open(history.table_path());
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  auto snapshot = (*table)->Latest();
  ASSERT_TRUE(snapshot.ok());
  // Each compaction is a version of its own: the appends at versions 50 and 100 are
  // followed by OPTIMIZEs, leaving one compacted file and the 3 appends since.
  EXPECT_EQ((*snapshot)->num_files(), 4u);
  auto rows = history.ReadAll();
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ((*rows)[static_cast<size_t>(i)].run_id, "r" + std::to_string(i));
}

}  // namespace
}  // namespace lakepipe::jobs
