// The run history's cache (what `job serve` reads per request): served from memory while
// the table's version is unchanged, read again after any writer's Append.
#include "jobs/run_history.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace lakepipe::jobs
