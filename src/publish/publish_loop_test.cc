// PublishLoop's publication times (publish.postgres.at): with a manual clock and a
// destination that records its calls, the loop publishes nothing before the time, every
// table behind at the time, nothing more until the next day's time; without times it
// publishes as soon as a table is behind.
#include "publish/publish_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <thread>

#include "sql/pipeline.h"

namespace lakepipe::publish {
namespace {

// A destination whose tables are at `latest`; Publish brings a table there and counts.
class RecordingPublisher : public TablePublisher {
 public:
  std::vector<std::pair<std::string, std::string>> Targets() const override {
    return {{"gold_a", "a"}, {"gold_b", "b"}};
  }
  Result<PublishResult> Publish(const std::string& table, bool) override {
    ++calls;
    PublishResult r;
    r.table = table;
    r.to_version = latest.load();
    r.technique = "upsert";
    return r;
  }
  Result<int64_t> LatestVersion(const std::string&) override { return latest.load(); }
  Result<PublishLag> Lag(const std::string& table, int64_t) override {
    PublishLag lag;
    lag.table = table;
    return lag;
  }
  std::atomic<int> calls{0};
  std::atomic<int64_t> latest{3};
};

// Today at hh:mm:ss local time, in microseconds since the epoch.
int64_t TodayAt(int h, int m, int s) {
  time_t now = time(nullptr);
  struct tm local;
  localtime_r(&now, &local);
  local.tm_hour = h;
  local.tm_min = m;
  local.tm_sec = s;
  local.tm_isdst = -1;
  return static_cast<int64_t>(mktime(&local)) * 1000000;
}

// Waits (real time) until `calls` reaches `n` or 3 s pass.
bool WaitForCalls(const RecordingPublisher& p, int n) {
  for (int i = 0; i < 300 && p.calls.load() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return p.calls.load() >= n;
}

TEST(PublishLoopTest, PublishesOnlyAtItsDailyTimes) {
  ManualClock clock(TodayAt(22, 59, 59));
  auto owned = std::make_unique<RecordingPublisher>();
  RecordingPublisher* p = owned.get();
  PublishLoopOptions options;
  options.poll_ms = 5;
  options.daily_minutes = {23 * 60};
  PublishLoop loop(std::move(owned), nullptr, nullptr, options, &clock);
  loop.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(p->calls.load(), 0) << "published before 23:00";

  clock.Set(TodayAt(23, 0, 0));
  ASSERT_TRUE(WaitForCalls(*p, 2)) << "both tables at 23:00";
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(p->calls.load(), 2) << "each table once: it is up to date";

  // New versions during the day wait for the next day's time.
  p->latest = 4;
  clock.Set(TodayAt(23, 30, 0));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(p->calls.load(), 2) << "published between the times";
  clock.Set(TodayAt(23, 0, 0) + 24LL * 3600 * 1000000);
  EXPECT_TRUE(WaitForCalls(*p, 4)) << "both tables at the next day's 23:00";
  loop.Stop();
}

TEST(PublishLoopTest, WithoutTimesPublishesAsSoonAsATableIsBehind) {
  ManualClock clock(TodayAt(12, 0, 0));
  auto owned = std::make_unique<RecordingPublisher>();
  RecordingPublisher* p = owned.get();
  PublishLoopOptions options;
  options.poll_ms = 5;
  PublishLoop loop(std::move(owned), nullptr, nullptr, options, &clock);
  loop.Start();
  EXPECT_TRUE(WaitForCalls(*p, 2));
  p->latest = 5;
  EXPECT_TRUE(WaitForCalls(*p, 4));
  loop.Stop();
}

}  // namespace
}  // namespace lakepipe::publish
