// ContinuousScheduler alone, with a scripted host in place of the pipeline (the pipeline
// through it is covered by continuous_test.cc and the crash tests): what runs when, on
// which outcome, and that a table never runs twice at once.
#include "runtime/continuous_scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <functional>
#include <mutex>
#include <thread>

#include "runtime/file_watcher.h"

namespace lakepipe::runtime {
namespace {

struct Call {
  size_t table;
  int64_t start_micros;
  int64_t end_micros;
  bool full_refresh;
  std::set<std::string> failed;
};

// Each update of table i ends with script(i, n) (n: the table's n-th update, from 0), after
// `work_ms`. The run stops once `stop_when` holds for the calls so far.
class ScriptedHost : public ContinuousScheduler::Host {
 public:
  std::function<std::string(size_t, int)> script;
  std::function<bool(const std::vector<Call>&)> stop_when;
  int work_ms = 5;
  // Called after the work, before the update ends (an update's own doings, such as telling
  // the scheduler of a commit).
  std::function<void(size_t, int)> then;

  FinishedUpdate RunTable(size_t index, bool full_refresh, const std::set<std::string>& failed, int64_t,
                          int64_t) override {
    int64_t start = Clock::System()->NowMicros();
    int n;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (++running_[index] > 1) twice_at_once_ = true;
      n = updates_[index]++;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(work_ms));
    if (then) then(index, n);
    FinishedUpdate done;
    done.report.status = script(index, n);
    std::lock_guard<std::mutex> lock(mu_);
    --running_[index];
    calls_.push_back({index, start, Clock::System()->NowMicros(), full_refresh, failed});
    return done;
  }
  void Finished(size_t, const TableReport&, UpdateOutcome) override {}
  void VacuumDue(size_t) override {}
  void Replan(std::vector<std::string>* changed) override {
    std::lock_guard<std::mutex> lock(mu_);
    int running = 0;
    for (auto& [i, n] : running_) running += n;
    replans_.push_back(running);
    changed->clear();
  }
  bool TakeMessageWake(size_t) override { return false; }
  bool StopRequested() override {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_ || (stop_when && stop_when(calls_));
  }
  void RequestStop() override {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  void Tick(int64_t now) override {
    // A safety net: no test runs for 20 s.
    if (first_tick_ == 0) first_tick_ = now;
    if (now - first_tick_ > 20'000'000) RequestStop();
  }

  std::vector<Call> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::vector<int> replans() {
    std::lock_guard<std::mutex> lock(mu_);
    return replans_;
  }
  bool twice_at_once() {
    std::lock_guard<std::mutex> lock(mu_);
    return twice_at_once_;
  }

 private:
  std::mutex mu_;
  std::map<size_t, int> running_;
  std::map<size_t, int> updates_;
  std::vector<Call> calls_;
  std::vector<int> replans_;
  bool twice_at_once_ = false;
  bool stop_ = false;
  int64_t first_tick_ = 0;
};

ScheduledTable Streaming(const std::string& name, std::set<std::string> wakes_on = {}) {
  ScheduledTable t;
  t.name = name;
  t.streaming = true;
  t.wakes_on = std::move(wakes_on);
  return t;
}

ScheduledTable View(const std::string& name, std::set<std::string> wakes_on, int64_t min_interval_micros) {
  ScheduledTable t;
  t.name = name;
  t.wakes_on = std::move(wakes_on);
  t.min_interval_micros = min_interval_micros;
  return t;
}

int Count(const std::vector<Call>& calls, size_t table) {
  int n = 0;
  for (const auto& c : calls) n += c.table == table;
  return n;
}

TEST(ContinuousScheduler, DownstreamRunsAfterEachUpstreamCommitAndNeverTwiceAtOnce) {
  // bronze commits three batches, then is up to date; silver follows each commit.
  ScriptedHost host;
  host.script = [](size_t i, int n) { return i == 0 && n < 3 ? "updated" : (i == 1 ? "updated" : "up to date"); };
  host.stop_when = [](const std::vector<Call>& calls) { return Count(calls, 0) >= 4 && Count(calls, 1) >= 4; };
  FileWatcher watcher;
  std::vector<ScheduledTable> tables{Streaming("Bronze"), Streaming("silver", {"bronze"})};
  ContinuousScheduler scheduler(tables, &host, &watcher, Clock::System(), 2, 4);
  ASSERT_TRUE(scheduler.Run().ok());
  auto calls = host.calls();
  EXPECT_FALSE(host.twice_at_once());
  ASSERT_GE(Count(calls, 0), 4);
  // silver's updates that follow a bronze commit start after that commit ended.
  int64_t first_bronze_end = -1;
  for (const auto& c : calls)
    if (c.table == 0 && first_bronze_end < 0) first_bronze_end = c.end_micros;
  int silver_after = 0;
  for (const auto& c : calls) silver_after += c.table == 1 && c.start_micros >= first_bronze_end;
  EXPECT_GE(silver_after, 1);
  for (const auto& c : calls) EXPECT_FALSE(c.full_refresh);
}

TEST(ContinuousScheduler, ACommitNotedDuringAnUpdateStartsItsReadersAtOnceAndOnlyOnce) {
  // bronze's first update commits, notes it, then works 300 ms more (its state and commit
  // record); gold reads bronze.
  ScriptedHost host;
  ContinuousScheduler* running = nullptr;
  std::atomic<int64_t> noted_at{-1};
  host.then = [&](size_t i, int n) {
    if (i != 0 || n != 0) return;
    noted_at = Clock::System()->NowMicros();
    running->NoteCommitted("BRONZE");  // any case, as NoteCommitted takes names
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  };
  host.script = [](size_t i, int n) { return i == 1 || n == 0 ? "updated" : "up to date"; };
  host.stop_when = [](const std::vector<Call>& calls) { return Count(calls, 0) >= 2; };
  FileWatcher watcher;
  ContinuousScheduler scheduler({Streaming("bronze"), View("gold", {"bronze"}, 0)}, &host, &watcher,
                                Clock::System(), 2, 4);
  running = &scheduler;
  ASSERT_TRUE(scheduler.Run().ok());
  auto calls = host.calls();
  int64_t bronze_end = -1;
  for (const auto& c : calls)
    if (c.table == 0 && bronze_end < 0) bronze_end = c.end_micros;
  ASSERT_GT(bronze_end, 0);
  ASSERT_GT(noted_at.load(), 0);
  int after_note = 0, after_end = 0;
  for (const auto& c : calls) {
    if (c.table != 1) continue;
    after_note += c.start_micros >= noted_at.load() && c.start_micros < bronze_end;
    after_end += c.start_micros >= bronze_end;
  }
  EXPECT_EQ(after_note, 1) << "gold did not start on the noted commit while bronze still ran";
  EXPECT_EQ(after_end, 0) << "the end of the update that noted its commit woke gold again";
  EXPECT_FALSE(host.twice_at_once());
}

TEST(ContinuousScheduler, AFailedTableIsRetriedAfterBackoffAndNamedToTheOthers) {
  ScriptedHost host;
  // bronze fails once, then commits once; silver runs every 50 ms on its own timer, so it
  // starts many updates during bronze's backoff (at least 1 s) and after bronze commits.
  host.script = [](size_t i, int n) {
    if (i == 0) return n == 0 ? "failed" : (n == 1 ? "updated" : "up to date");
    return "up to date";
  };
  // The failed set an update is told is the one when the scheduler queued it, which may be
  // a little before RunTable starts: the checks below hold whatever the delay in between.
  host.stop_when = [](const std::vector<Call>& calls) {
    int64_t bronze_commit_end = -1;
    int bronze_seen = 0;
    for (const auto& c : calls)
      if (c.table == 0 && ++bronze_seen == 2) bronze_commit_end = c.end_micros;
    if (bronze_commit_end < 0) return false;
    int silver_after = 0;
    for (const auto& c : calls) silver_after += c.table == 1 && c.start_micros > bronze_commit_end;
    return silver_after >= 3;
  };
  ScheduledTable silver = View("silver", {}, 0);
  silver.trigger.kind = sql::TriggerSpec::Kind::kInterval;
  silver.trigger.interval_micros = 50'000;
  FileWatcher watcher;
  ContinuousScheduler scheduler({Streaming("bronze"), silver}, &host, &watcher, Clock::System(), 2, 4);
  ASSERT_TRUE(scheduler.Run().ok());
  std::vector<Call> bronze, silver_calls;
  for (const auto& c : host.calls()) (c.table == 0 ? bronze : silver_calls).push_back(c);
  ASSERT_GE(bronze.size(), 2u);
  ASSERT_FALSE(silver_calls.empty());
  // The retry comes no sooner than the first backoff after the failure.
  EXPECT_GE(bronze[1].start_micros - bronze[0].end_micros, ContinuousScheduler::kRetryMinMicros);
  // Updates queued while bronze's failure stood are told so, and none before it failed.
  int told = 0;
  for (const auto& c : silver_calls) {
    if (c.failed.count("bronze") == 0) continue;
    ++told;
    EXPECT_GE(c.start_micros, bronze[0].end_micros) << "told of a failure before it happened";
  }
  EXPECT_GE(told, 1) << "no update of silver during bronze's backoff was told of its failure";
  // Once bronze committed, the failure is forgotten: the last update is told nothing.
  EXPECT_EQ(silver_calls.back().failed.count("bronze"), 0u);
}

TEST(ContinuousScheduler, AViewCommitsAtMostOncePerInterval) {
  ScriptedHost host;
  host.work_ms = 5;
  // bronze commits 120 times in a row (over 0.6 s); the view commits whenever it runs.
  host.script = [](size_t i, int n) { return i == 1 || n < 120 ? "updated" : "up to date"; };
  host.stop_when = [](const std::vector<Call>& calls) { return Count(calls, 0) >= 121; };
  FileWatcher watcher;
  constexpr int64_t kInterval = 200'000;
  ContinuousScheduler scheduler({Streaming("bronze"), View("gold", {"bronze"}, kInterval)}, &host, &watcher,
                                Clock::System(), 2, 4);
  ASSERT_TRUE(scheduler.Run().ok());
  std::vector<Call> gold;
  for (const auto& c : host.calls())
    if (c.table == 1) gold.push_back(c);
  ASSERT_GE(gold.size(), 2u);  // it did run again while bronze kept committing
  for (size_t k = 1; k < gold.size(); ++k) EXPECT_GE(gold[k].start_micros - gold[k - 1].end_micros, kInterval);
  // Far fewer view updates than upstream commits: the interval coalesced them.
  EXPECT_LT(gold.size(), 20u);
}

TEST(ContinuousScheduler, ARestartReplansWhileNothingRunsThenRunsTheTableAgain) {
  ScriptedHost host;
  host.work_ms = 30;
  // a restarts once (new columns), b is busy meanwhile; the replan waits for b.
  host.script = [](size_t i, int n) {
    if (i == 0) return n == 0 ? "restarted" : "updated";
    return "up to date";
  };
  host.stop_when = [](const std::vector<Call>& calls) { return Count(calls, 0) >= 2; };
  FileWatcher watcher;
  ScheduledTable a = Streaming("a");
  a.full_refresh = true;
  ContinuousScheduler scheduler({a, Streaming("b")}, &host, &watcher, Clock::System(), 2, 4);
  ASSERT_TRUE(scheduler.Run().ok());
  auto calls = host.calls();
  ASSERT_EQ(host.replans().size(), 1u);
  EXPECT_EQ(host.replans()[0], 0);  // no table was running
  std::vector<Call> a_calls;
  for (const auto& c : calls)
    if (c.table == 0) a_calls.push_back(c);
  ASSERT_GE(a_calls.size(), 2u);
  // The restarted full refresh is still a full refresh; the next one is not.
  EXPECT_TRUE(a_calls[0].full_refresh);
  EXPECT_TRUE(a_calls[1].full_refresh);
  // No backoff after a restart.
  EXPECT_LT(a_calls[1].start_micros - a_calls[0].end_micros, ContinuousScheduler::kRetryMinMicros);
}

TEST(ContinuousScheduler, TimedTablesWaitForTheirTime) {
  ScriptedHost host;
  host.script = [](size_t, int) { return "updated"; };
  // a streaming table keeps committing for ~300 ms; the timed tables must not follow it.
  host.stop_when = [](const std::vector<Call>& calls) { return Count(calls, 0) >= 50; };
  FileWatcher watcher;
  ScheduledTable daily = View("nightly", {"a"}, 0);
  daily.trigger.kind = sql::TriggerSpec::Kind::kDaily;
  time_t later = time(nullptr) + 3 * 3600;
  struct tm local;
  localtime_r(&later, &local);
  daily.trigger.daily_minutes = {local.tm_hour * 60 + local.tm_min};
  ScheduledTable hourly = View("hourly", {"a"}, 0);
  hourly.trigger.kind = sql::TriggerSpec::Kind::kInterval;
  hourly.trigger.interval_micros = 3600LL * 1000000;
  ContinuousScheduler scheduler({Streaming("a"), daily, hourly}, &host, &watcher, Clock::System(), 2, 4);
  ASSERT_TRUE(scheduler.Run().ok());
  auto calls = host.calls();
  EXPECT_EQ(Count(calls, 1), 0);  // its time of day is three hours away
  EXPECT_EQ(Count(calls, 2), 1);  // once at the start, then on its hour
}

TEST(ContinuousScheduler, OutcomesAreParsedOnce) {
  EXPECT_EQ(*UpdateOutcomeOf("updated"), UpdateOutcome::kUpdated);
  EXPECT_EQ(*UpdateOutcomeOf("up to date"), UpdateOutcome::kUpToDate);
  EXPECT_EQ(*UpdateOutcomeOf("waiting"), UpdateOutcome::kWaiting);
  EXPECT_EQ(*UpdateOutcomeOf("failed"), UpdateOutcome::kFailed);
  EXPECT_EQ(*UpdateOutcomeOf("skipped"), UpdateOutcome::kSkipped);
  EXPECT_EQ(*UpdateOutcomeOf("restarted"), UpdateOutcome::kRestarted);
  EXPECT_FALSE(UpdateOutcomeOf("Updated").ok());
}

}  // namespace
}  // namespace lakepipe::runtime
