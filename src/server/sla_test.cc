// Freshness and SLAs (server/sla.h) on a real pipeline: files landed and not yet read make
// Bronze behind and, through it, Silver and Gold; an update catches them all up.
#include "server/sla.h"

#include <gtest/gtest.h>
#include <utime.h>

#include <cstdio>
#include <set>
#include <utility>

#include "common/fs.h"
#include "runtime/pipeline_runner.h"
#include "server/metrics.h"
#include "testing/testing.h"

namespace lakepipe::server {
namespace {

constexpr const char* kSql = R"(
CREATE OR REFRESH STREAMING TABLE bronze_events AS
SELECT * FROM STREAM read_files('${landing}', format => 'csv', header => true, schema => 'id INT, amount DOUBLE');
CREATE OR REFRESH STREAMING TABLE silver_events AS SELECT id, amount FROM STREAM(bronze_events) WHERE amount > 0;
CREATE OR REFRESH MATERIALIZED VIEW gold_totals AS SELECT count(*) AS n, sum(amount) AS total FROM silver_events;
)";

class SlaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = FileSystem::Default();
    folder_ = dir_.Join("pipeline");
    landing_ = dir_.Join("landing");
    ASSERT_TRUE(fs_->CreateDirs(folder_).ok());
    ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
    ASSERT_TRUE(fs_->WriteFile(folder_ + "/pipeline.yaml",
                               "name: sla\nstorage: " + dir_.Join("storage") + "\nconfiguration: {landing: " + landing_ +
                                   "}\nsla:\n  bronze: {max_lag: 5m}\n  gold: {max_lag: 30s}\n  silver_events: {max_lag: 1m}\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(folder_ + "/events.sql", kSql).ok());
  }
  // Lands a file whose modification time is `age_s` seconds before `now_s`.
  void Land(const std::string& name, const std::string& rows, int64_t now_s, int64_t age_s) {
    std::string path = landing_ + "/" + name;
    ASSERT_TRUE(fs_->WriteFile(path, "id,amount\n" + rows).ok());
    struct utimbuf times {static_cast<time_t>(now_s - age_s), static_cast<time_t>(now_s - age_s)};
    ASSERT_EQ(utime(path.c_str(), &times), 0);
  }
  // pipeline.yaml with Bronze's SLA only (5 min); `more` is added to `configuration`.
  void WriteBronzeSlaOnly(const std::string& more) {
    ASSERT_TRUE(fs_->WriteFile(folder_ + "/pipeline.yaml", "name: sla\nstorage: " + dir_.Join("storage") +
                                                               "\nconfiguration: {landing: " + landing_ + more +
                                                               "}\nsla:\n  bronze: {max_lag: 5m}\n")
                    .ok());
  }
  // The pipeline as Bronze alone, reading with maxFileAge => '1 day'.
  void WriteBronzeWithMaxFileAgeOfADay() {
    ASSERT_TRUE(fs_->WriteFile(folder_ + "/events.sql",
                               "CREATE OR REFRESH STREAMING TABLE bronze_events AS SELECT * FROM STREAM "
                               "read_files('${landing}', format => 'csv', header => true, schema => 'id INT, amount "
                               "DOUBLE', maxFileAge => '1 day');\n")
                    .ok());
  }
  std::unique_ptr<runtime::PipelineRunner> Open() {
    auto runner = runtime::PipelineRunner::Open(folder_, {});
    EXPECT_TRUE(runner.ok()) << runner.status().message();
    return runner.ok() ? std::move(*runner) : nullptr;
  }
  static const TableFreshness& Of(const FreshnessReport& r, const std::string& table) {
    for (const auto& t : r.tables)
      if (t.table == table) return t;
    ADD_FAILURE() << "no table " << table;
    static TableFreshness none;
    return none;
  }

  testing::TempDir dir_;
  FileSystem* fs_ = nullptr;
  std::string folder_, landing_;
};

TEST_F(SlaTest, LandedFilesMakeEveryLayerBehindUntilAnUpdate) {
  int64_t now_s = ::time(nullptr);
  Land("a.csv", "1,10\n2,20\n", now_s, 600);
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  int64_t now_ms = now_s * 1000;

  // Nothing read yet: every table is behind by the file's age (600 s), transitively.
  auto before = EvaluateFreshness(*runner, fs_, now_ms);
  ASSERT_TRUE(before.ok()) << before.status().message();
  ASSERT_EQ(before->tables.size(), 3u);
  for (const char* t : {"bronze_events", "silver_events", "gold_totals"}) {
    EXPECT_NEAR(Of(*before, t).lag_seconds, 600, 1) << t;
    EXPECT_TRUE(Of(*before, t).breached) << t;  // 5 min, 1 min, 30 s
    EXPECT_FALSE(Of(*before, t).exists) << t;
  }
  EXPECT_EQ(Of(*before, "bronze_events").sla_scope, "bronze");
  EXPECT_EQ(Of(*before, "silver_events").sla_scope, "silver_events");  // the table's own entry
  EXPECT_EQ(Of(*before, "gold_totals").max_lag_seconds, 30);
  EXPECT_NE(Of(*before, "bronze_events").pending_reason.find("1 file"), std::string::npos)
      << Of(*before, "bronze_events").pending_reason;

  runtime::RunOptions options;
  auto update = runner->RunOnce(options);
  ASSERT_TRUE(update.ok() && update->ok());
  auto after = EvaluateFreshness(*runner, fs_, now_ms + 1000);
  ASSERT_TRUE(after.ok()) << after.status().message();
  for (const auto& t : after->tables) {
    EXPECT_EQ(t.lag_seconds, 0) << t.table << ": " << t.pending_reason;
    EXPECT_FALSE(t.breached) << t.table;
    EXPECT_EQ(t.pending_since_unix_ms, -1) << t.table;
  }
  EXPECT_FALSE(after->any_breached());

  // A file 90 s old: Bronze (5 min) is within its SLA, Silver (1 min) and Gold (30 s) are not.
  Land("b.csv", "3,30\n", now_s, 90);
  auto late = EvaluateFreshness(*runner, fs_, now_ms);
  ASSERT_TRUE(late.ok());
  EXPECT_NEAR(Of(*late, "bronze_events").lag_seconds, 90, 1);
  EXPECT_FALSE(Of(*late, "bronze_events").breached);
  EXPECT_TRUE(Of(*late, "silver_events").breached);
  EXPECT_TRUE(Of(*late, "gold_totals").breached);
  EXPECT_TRUE(late->any_breached());
}

// Files whose plans are gone (minBatchesToRetain) are known from the compact file's
// segment files (docs/checkpoint.md, "Retention"): not pending.
TEST_F(SlaTest, FilesKnownOnlyFromTheCompactFileAreNotPending) {
  WriteBronzeSlaOnly(", spark.sql.streaming.minBatchesToRetain: '1'");
  int64_t now_s = ::time(nullptr);
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  for (const char* name : {"a.csv", "b.csv", "c.csv"}) {
    Land(name, "1,10\n", now_s, 600);
    auto update = runner->RunOnce(runtime::RunOptions{});
    ASSERT_TRUE(update.ok() && update->ok());
  }
  std::string cp = dir_.Join("storage") + "/_checkpoints/bronze_events";
  ASSERT_FALSE(fs_->Exists(cp + "/offsets/0")) << "a.csv's plan is gone";
  ASSERT_TRUE(fs_->Exists(cp + "/offsets/2.compact"));
  auto report = EvaluateFreshness(*runner, fs_, now_s * 1000 + 1000);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(Of(*report, "bronze_events").lag_seconds, 0) << Of(*report, "bronze_events").pending_reason;
}

// Notes the files opened for reading, and the paths stat'ed, whose path contains one of
// `parts`; everything else is the wrapped file system's (a FaultInjectingFileSystem never
// armed forwards every call).
class ReadCountingFileSystem : public FaultInjectingFileSystem {
 public:
  ReadCountingFileSystem(FileSystem* base, std::vector<std::string> parts)
      : FaultInjectingFileSystem(base), base_(base), parts_(std::move(parts)) {}
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    if (Watched(path)) read_.insert(path);
    return base_->NewRandomAccessFile(path);
  }
  Result<FileInfo> Stat(const std::string& path) override {
    if (Watched(path)) stated_.insert(path);
    return base_->Stat(path);
  }
  // The paths read, or stat'ed, since the last call.
  std::set<std::string> TakeRead() { return std::exchange(read_, {}); }
  std::set<std::string> TakeStated() { return std::exchange(stated_, {}); }

 private:
  bool Watched(const std::string& path) const {
    for (const auto& part : parts_)
      if (path.find(part) != std::string::npos) return true;
    return false;
  }
  FileSystem* base_;
  std::vector<std::string> parts_;
  std::set<std::string> read_, stated_;
};

// A monitor keeps what it read of the flows' checkpoints: the next evaluation reads only
// the plans and segment files written since, and gives what an evaluation from scratch
// gives. A full refresh (a new flow id) is read again whole, so what the old flow read
// does not hide what the new one has not.
TEST_F(SlaTest, AnEvaluationReadsOnlyTheCheckpointFilesWrittenSinceThePrevious) {
  WriteBronzeSlaOnly(", spark.sql.streaming.minBatchesToRetain: '1'");
  int64_t now_s = ::time(nullptr);
  int64_t now_ms = now_s * 1000;
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  auto update = [&](runtime::RunOptions options = {}) {
    auto u = runner->RunOnce(options);
    ASSERT_TRUE(u.ok() && u->ok());
  };
  for (const char* name : {"a.csv", "b.csv", "c.csv"}) {
    Land(name, "1,10\n", now_s, 600);
    update();
  }
  ReadCountingFileSystem counting(fs_, {"/offsets/", "/taken/"});
  FreshnessCache cache;
  // Each cached evaluation against one from scratch, for every table.
  auto evaluate = [&]() -> FreshnessReport {
    auto cached = EvaluateFreshness(*runner, &counting, now_ms, &cache);
    EXPECT_TRUE(cached.ok()) << cached.status().message();
    auto scratch = EvaluateFreshness(*runner, fs_, now_ms);
    EXPECT_TRUE(scratch.ok()) << scratch.status().message();
    if (!cached.ok() || !scratch.ok()) return {};
    for (const auto& t : scratch->tables) {
      EXPECT_EQ(Of(*cached, t.table).lag_seconds, t.lag_seconds) << t.table;
      EXPECT_EQ(Of(*cached, t.table).pending_reason, t.pending_reason) << t.table;
    }
    return *cached;
  };

  FreshnessReport first = evaluate();
  EXPECT_EQ(Of(first, "bronze_events").lag_seconds, 0) << Of(first, "bronze_events").pending_reason;
  std::set<std::string> read_before = counting.TakeRead();
  EXPECT_FALSE(read_before.empty());
  // Nothing written since: no plan or segment is read again, and a new file is pending.
  Land("d.csv", "1,10\n", now_s, 600);
  FreshnessReport second = evaluate();
  EXPECT_TRUE(counting.TakeRead().empty());
  EXPECT_NEAR(Of(second, "bronze_events").lag_seconds, 600, 1);
  // One batch more: only its plan, the compact file after it and that file's new segment.
  update();
  FreshnessReport third = evaluate();
  EXPECT_EQ(Of(third, "bronze_events").lag_seconds, 0) << Of(third, "bronze_events").pending_reason;
  std::set<std::string> read_after = counting.TakeRead();
  EXPECT_FALSE(read_after.empty());
  for (const auto& path : read_after) EXPECT_EQ(read_before.count(path), 0u) << path << " was read again";

  // A full refresh while the landing folder is empty: the new flow read nothing, so once
  // the files are back every one of them is pending, however many the old flow read.
  std::string aside = dir_.Join("aside");
  ASSERT_EQ(::rename(landing_.c_str(), aside.c_str()), 0);
  ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
  runtime::RunOptions refresh;
  refresh.full_refresh.insert("bronze_events");
  update(refresh);
  ASSERT_TRUE(fs_->RemoveAll(landing_).ok());
  ASSERT_EQ(::rename(aside.c_str(), landing_.c_str()), 0);
  FreshnessReport refreshed = evaluate();
  EXPECT_NEAR(Of(refreshed, "bronze_events").lag_seconds, 600, 1);
  EXPECT_NE(Of(refreshed, "bronze_events").pending_reason.find("4 files in"), std::string::npos)
      << Of(refreshed, "bronze_events").pending_reason;
}

TEST_F(SlaTest, AnUnreadUpstreamCommitIsMeasuredFromItsCommitTime) {
  int64_t now_s = ::time(nullptr);
  Land("a.csv", "1,10\n", now_s, 5);
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  ASSERT_TRUE(runner->RunOnce({}).ok());
  // Bronze takes a new file alone (a second pipeline folder over the same storage with only
  // the Bronze table stands in for Silver and Gold being paused).
  std::string bronze_only = dir_.Join("bronze_only");
  ASSERT_TRUE(fs_->CreateDirs(bronze_only).ok());
  auto yaml = fs_->ReadFile(folder_ + "/pipeline.yaml");
  ASSERT_TRUE(yaml.ok());
  std::string sql = kSql;
  ASSERT_TRUE(fs_->WriteFile(bronze_only + "/events.sql", sql.substr(0, sql.find("CREATE OR REFRESH STREAMING TABLE silver"))).ok());
  // The SLA names silver_events, which this folder lacks: drop that entry.
  ASSERT_TRUE(fs_->WriteFile(bronze_only + "/pipeline.yaml",
                             yaml->substr(0, yaml->find("  silver_events:"))).ok());
  Land("b.csv", "2,20\n", now_s, 1);
  runner.reset();  // one run per storage folder at a time
  auto bronze_runner = runtime::PipelineRunner::Open(bronze_only, {});
  ASSERT_TRUE(bronze_runner.ok()) << bronze_runner.status().message();
  auto bronze_update = (*bronze_runner)->RunOnce({});
  ASSERT_TRUE(bronze_update.ok()) << bronze_update.status().message();
  ASSERT_TRUE(bronze_update->ok()) << bronze_update->tables[0].message;

  bronze_runner->reset();
  runner = Open();
  ASSERT_NE(runner, nullptr);
  int64_t later_ms = (::time(nullptr) + 120) * 1000;
  auto r = EvaluateFreshness(*runner, fs_, later_ms);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Of(*r, "bronze_events").lag_seconds, 0);
  const TableFreshness& silver = Of(*r, "silver_events");
  EXPECT_GT(silver.lag_seconds, 110);
  EXPECT_LT(silver.lag_seconds, 130);
  EXPECT_NE(silver.pending_reason.find("1 version of bronze_events"), std::string::npos) << silver.pending_reason;
  EXPECT_TRUE(silver.breached);
  EXPECT_GT(Of(*r, "gold_totals").lag_seconds, 110);  // behind through Silver
  ASSERT_TRUE(runner->RunOnce({}).ok());
  auto caught_up = EvaluateFreshness(*runner, fs_, later_ms);
  ASSERT_TRUE(caught_up.ok());
  EXPECT_FALSE(caught_up->any_breached());
}

// A scrape whose freshness evaluation failed keeps its other families: the SLA ones are
// left out and lakepipe_sla_evaluation_failed says so (it was a 500 for the whole scrape).
// A file the source forgot (older than its maxFileAge horizon, still in the folder) or
// will never take (landed older than the horizon) is not waiting to be read: it must not
// make Bronze late for ever.
TEST_F(SlaTest, FilesOlderThanMaxFileAgeAreNotPending) {
  WriteBronzeSlaOnly(", spark.sql.streaming.minBatchesToRetain: '1'");
  WriteBronzeWithMaxFileAgeOfADay();
  constexpr int64_t kDay = 86400;
  int64_t now_s = ::time(nullptr);
  int64_t now_ms = now_s * 1000;
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  runtime::RunOptions options;
  // The first batch takes every file, however old; the second moves the horizon to a day
  // before new.csv and, with a compact file after every batch, forgets old.csv.
  Land("old.csv", "1,10\n", now_s, 3 * kDay);
  auto first = runner->RunOnce(options);
  ASSERT_TRUE(first.ok() && first->ok());
  Land("new.csv", "2,20\n", now_s, 0);
  auto second = runner->RunOnce(options);
  ASSERT_TRUE(second.ok() && second->ok());
  // Landed two days old: behind the horizon, never taken (the run reports it as too old).
  Land("stale.csv", "3,30\n", now_s, 2 * kDay);

  auto report = EvaluateFreshness(*runner, fs_, now_ms);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(Of(*report, "bronze_events").lag_seconds, 0) << Of(*report, "bronze_events").pending_reason;
  EXPECT_FALSE(Of(*report, "bronze_events").breached);

  // A file within the horizon still counts, and only it.
  Land("fresh.csv", "4,40\n", now_s, 600);
  auto late = EvaluateFreshness(*runner, fs_, now_ms);
  ASSERT_TRUE(late.ok()) << late.status().message();
  EXPECT_NEAR(Of(*late, "bronze_events").lag_seconds, 600, 1);
  EXPECT_NE(Of(*late, "bronze_events").pending_reason.find("1 file in"), std::string::npos)
      << Of(*late, "bronze_events").pending_reason;
}

// A name found older than the horizon is passed by without a stat by the next cached
// evaluation while it stays in the folder (the run's own listing does the same), so a
// landing folder nobody empties costs a listing, not a stat of every old file.
TEST_F(SlaTest, ACachedEvaluationDoesNotStatFilesFoundTooOldBefore) {
  WriteBronzeSlaOnly("");
  WriteBronzeWithMaxFileAgeOfADay();
  constexpr int64_t kDay = 86400;
  int64_t now_s = ::time(nullptr);
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  Land("new.csv", "2,20\n", now_s, 0);
  auto update = runner->RunOnce(runtime::RunOptions{});
  ASSERT_TRUE(update.ok() && update->ok());
  Land("stale.csv", "3,30\n", now_s, 2 * kDay);  // behind the horizon: never taken

  ReadCountingFileSystem counting(fs_, {landing_ + "/"});
  FreshnessCache cache;
  for (int round = 0; round < 2; ++round) {
    auto report = EvaluateFreshness(*runner, &counting, now_s * 1000, &cache);
    ASSERT_TRUE(report.ok()) << report.status().message();
    EXPECT_EQ(Of(*report, "bronze_events").lag_seconds, 0) << Of(*report, "bronze_events").pending_reason;
    std::set<std::string> stated = counting.TakeStated();
    EXPECT_EQ(stated.count(landing_ + "/stale.csv"), round == 0 ? 1u : 0u) << "round " << round;
  }
  // A file landing later is still stat'ed, and found pending.
  Land("fresh.csv", "4,40\n", now_s, 600);
  auto late = EvaluateFreshness(*runner, &counting, now_s * 1000, &cache);
  ASSERT_TRUE(late.ok()) << late.status().message();
  EXPECT_NEAR(Of(*late, "bronze_events").lag_seconds, 600, 1);
  std::set<std::string> stated = counting.TakeStated();
  EXPECT_EQ(stated.count(landing_ + "/fresh.csv"), 1u);
  EXPECT_EQ(stated.count(landing_ + "/stale.csv"), 0u);
}

// The monitor's interval follows the cost of an evaluation, never below its minimum, and
// within it Current() returns the same evaluation.
TEST_F(SlaTest, MonitorSpacesEvaluationsByTheirCost) {
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  SlaMonitor monitor(runner.get(), 60'000);
  auto first = monitor.Current();
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(monitor.IntervalMs(), std::max<int64_t>(60'000, SlaMonitor::kCostFactor * monitor.last_evaluation_ms()));
  Land("a.csv", "1,10\n", ::time(nullptr), 600);
  auto again = monitor.Current();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->evaluated_unix_ms, first->evaluated_unix_ms);
  EXPECT_EQ(Of(*again, "bronze_events").lag_seconds, 0);  // the file landed after it
}

TEST(SlaMetricsTest, AFailedEvaluationLeavesOutTheSlaFamiliesAndSaysSo) {
  FreshnessReport report;
  TableFreshness t;
  t.table = "gold_kpis";
  t.lag_seconds = 4;
  t.has_sla = true;
  t.sla_scope = "gold";
  t.max_lag_seconds = 2;
  t.breached = true;
  report.tables.push_back(t);
  std::string good = RenderSlaMetrics(Result<FreshnessReport>(report));
  EXPECT_NE(good.find("lakepipe_sla_evaluation_failed 0\n"), std::string::npos) << good;
  EXPECT_NE(good.find("lakepipe_sla_breached{table=\"gold_kpis\",sla=\"gold\"} 1\n"), std::string::npos) << good;

  std::string failed = RenderSlaMetrics(Result<FreshnessReport>(Status::IOError("gold_kpis/_delta_log: gone")));
  EXPECT_NE(failed.find("lakepipe_sla_evaluation_failed 1\n"), std::string::npos) << failed;
  EXPECT_EQ(failed.find("lakepipe_sla_breached"), std::string::npos) << failed;
  EXPECT_EQ(failed.find("lakepipe_freshness_lag_seconds"), std::string::npos) << failed;
}

}  // namespace
}  // namespace lakepipe::server
