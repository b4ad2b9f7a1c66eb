// Transaction identifier retention (delta.setTransactionRetentionDuration): a txn expires
// once its lastUpdated is the duration old, not before; an expired txn reads as unknown
// (a write of the same version commits again); checkpoints leave expired txns out and keep
// live ones; a txn without lastUpdated and a table without the property expire nothing;
// and DuckDB still reads the checkpoint.
#include "delta/txn_retention.h"

#include <gtest/gtest.h>

#include <iostream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "delta/log_internal.h"
#include "delta/table.h"
#include "delta/test_util.h"
#include "testing/testing.h"

namespace lakepipe::delta {
namespace {

constexpr int64_t kMinute = 60LL * 1000000;  // microseconds, as ManualClock counts
constexpr int64_t kStart = 1767225600LL * 1000000;  // 2026-01-01 00:00 UTC

using test::IdSchema;
using test::Ids;

std::unique_ptr<DeltaTable> Table(const std::string& path, ManualClock* clock, StringMap configuration) {
  CreateOptions create;
  create.schema = IdSchema();
  create.configuration = std::move(configuration);
  TableOptions options;
  options.clock = clock;
  auto t = DeltaTable::Create(path, create, FileSystem::Default(), options);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

// Appends rows [from, to) as batch `version` of application `app` (exactly once).
CommitResult WriteBatch(const DeltaTable& table, const std::string& app, int64_t version, int64_t from, int64_t to) {
  WriteOptions wo;
  wo.txn_app_id = app;
  wo.txn_version = version;
  auto r = table.Write({Ids(from, to)}, wo);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : CommitResult{};
}

std::optional<int64_t> TxnOf(const DeltaTable& table, const std::string& app) {
  auto snap = table.Latest();
  EXPECT_TRUE(snap.ok()) << snap.status().ToString();
  return snap.ok() ? (*snap)->TxnVersion(app) : std::nullopt;
}

// The txns a fresh reader replays from the newest checkpoint (no commit after it).
std::map<std::string, Txn> CheckpointTxns(const std::string& path) {
  auto table = DeltaTable::Open(path);
  EXPECT_TRUE(table.ok());
  auto snap = (*table)->Latest();
  EXPECT_TRUE(snap.ok());
  EXPECT_EQ((*snap)->state().checkpoint_version, (*snap)->version()) << "the latest version should be a checkpoint";
  return (*snap)->txns();
}

TEST(TxnRetention, ExpiryRule) {
  StringMap hour = {{"delta.setTransactionRetentionDuration", "interval 1 hour"}};
  const int64_t now = 10 * 3600 * 1000;
  auto cutoff = TxnExpiryCutoffMillis(hour, now);
  ASSERT_TRUE(cutoff.has_value());
  EXPECT_EQ(*cutoff, now - 3600 * 1000);
  EXPECT_TRUE(TxnExpired(Txn{"a", 1, *cutoff}, cutoff));       // at the cut-off: expired
  EXPECT_FALSE(TxnExpired(Txn{"a", 1, *cutoff + 1}, cutoff));  // a millisecond younger: live
  EXPECT_FALSE(TxnExpired(Txn{"a", 1, std::nullopt}, cutoff));  // no lastUpdated: never
  EXPECT_FALSE(TxnExpiryCutoffMillis({}, now).has_value());  // no property: nothing expires
  EXPECT_FALSE(TxnExpiryCutoffMillis({{"delta.setTransactionRetentionDuration", "soon"}}, now).has_value());
}

TEST(TxnRetention, ATxnExpiresAfterTheDurationAndThenReadsAsUnknown) {
  testing::TempDir dir;
  ManualClock clock(kStart);
  auto table = Table(dir.Join("t"), &clock, {{"delta.setTransactionRetentionDuration", "interval 1 hour"}});
  ASSERT_NE(table, nullptr);
  EXPECT_FALSE(WriteBatch(*table, "run-1", 1, 0, 5).already_committed);
  // The txn carries lastUpdated, the commit's time.
  auto text = FileSystem::Default()->ReadFile(JoinPath(LogDir(dir.Join("t")), CommitFileName(1)));
  ASSERT_TRUE(text.ok());
  bool stamped = false;
  std::istringstream lines(*text);
  for (std::string l; std::getline(lines, l);) {
    if (l.empty()) continue;
    auto j = nlohmann::json::parse(l);
    if (j.contains("txn")) stamped = j["txn"].value("lastUpdated", int64_t{-1}) == kStart / 1000;
  }
  EXPECT_TRUE(stamped) << "the txn action should carry lastUpdated = the commit time";

  clock.Advance(59 * kMinute);  // not yet the duration: still known, a replay is skipped
  EXPECT_EQ(TxnOf(*table, "run-1"), 1);
  EXPECT_TRUE(WriteBatch(*table, "run-1", 1, 0, 5).already_committed);

  clock.Advance(kMinute);  // exactly the duration: expired
  EXPECT_EQ(TxnOf(*table, "run-1"), std::nullopt);
  // Unknown, as if it had never committed: the same batch is committed again.
  CommitResult again = WriteBatch(*table, "run-1", 1, 0, 5);
  EXPECT_FALSE(again.already_committed);
  EXPECT_EQ(again.version, 2);
  EXPECT_EQ(TxnOf(*table, "run-1"), 1);  // the new txn is fresh
}

TEST(TxnRetention, NothingExpiresWithoutThePropertyOrWithoutLastUpdated) {
  testing::TempDir dir;
  ManualClock clock(kStart);
  auto plain = Table(dir.Join("plain"), &clock, {});
  ASSERT_NE(plain, nullptr);
  WriteBatch(*plain, "run-1", 1, 0, 5);
  auto set = Table(dir.Join("set"), &clock, {{"delta.setTransactionRetentionDuration", "interval 1 hour"}});
  ASSERT_NE(set, nullptr);
  // A txn written by a writer that leaves lastUpdated out (it is optional).
  auto latest = set->LatestVersion();
  ASSERT_TRUE(latest.ok());
  ASSERT_TRUE(set->CommitActions({Txn{"legacy", 7, std::nullopt}}, *latest, "STREAMING UPDATE", {}).ok());
  clock.Advance(30 * 24 * 60 * kMinute);
  EXPECT_EQ(TxnOf(*plain, "run-1"), 1);
  EXPECT_EQ(TxnOf(*set, "legacy"), 7);
  ASSERT_TRUE(plain->Checkpoint(*plain->LatestVersion()).ok());
  ASSERT_TRUE(set->Checkpoint(*set->LatestVersion()).ok());
  EXPECT_EQ(CheckpointTxns(dir.Join("plain")).count("run-1"), 1u);
  EXPECT_EQ(CheckpointTxns(dir.Join("set")).count("legacy"), 1u);
}

TEST(TxnRetention, CheckpointsDropExpiredTxnsAndKeepLiveOnes) {
  testing::TempDir dir;
  const std::string path = dir.Join("t");
  ManualClock clock(kStart);
  auto table = Table(path, &clock, {{"delta.setTransactionRetentionDuration", "interval 1 hour"},
                                    {"delta.checkpointInterval", "1000"}});
  ASSERT_NE(table, nullptr);
  WriteBatch(*table, "run-old", 1, 0, 5);  // one run that then stopped
  clock.Advance(50 * kMinute);
  WriteBatch(*table, "run-new", 1, 5, 10);  // the current run

  // 30 minutes after the old run: both are live, both are checkpointed.
  ASSERT_TRUE(table->Checkpoint(*table->LatestVersion()).ok());
  auto before = CheckpointTxns(path);
  EXPECT_EQ(before.count("run-old"), 1u);
  EXPECT_EQ(before.count("run-new"), 1u);

  clock.Advance(20 * kMinute);  // 70 minutes after the old run, 20 after the new one
  WriteBatch(*table, "run-new", 2, 10, 12);
  ASSERT_TRUE(table->Checkpoint(*table->LatestVersion()).ok());
  auto after = CheckpointTxns(path);
  EXPECT_EQ(after.count("run-old"), 0u) << "an expired txn should be left out of the checkpoint";
  ASSERT_EQ(after.count("run-new"), 1u);
  EXPECT_EQ(after.at("run-new").version, 2);
  EXPECT_EQ(after.at("run-new").last_updated, (kStart + 70 * kMinute) / 1000);
  // The rows are all there: only the bookkeeping went.
  auto snap = DeltaTable::Open(path);
  ASSERT_TRUE(snap.ok());
  auto latest = (*snap)->Latest();
  ASSERT_TRUE(latest.ok());
  auto scan = Scan::Plan(*latest, {});
  ASSERT_TRUE(scan.ok());
  auto all = scan->ReadAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->num_rows(), 12);

  // DuckDB reads the checkpoint: its txn rows are the live one, with lastUpdated.
  std::string cp = JoinPath(LogDir(path), CheckpointFileName(*table->LatestVersion()));
  auto out = testing::RunDuckDB("SELECT count(txn) AS txns, max(txn.appId) AS app, max(txn.version) AS v, "
                                "max(txn.lastUpdated) AS lu, count(\"add\") AS adds FROM read_parquet('" + cp + "')");
  if (!out.ok() && out.status().IsNotFound()) GTEST_SKIP() << out.status().ToString();
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto row = nlohmann::json::parse(out->substr(0, out->find('\n')));
  auto num = [](const nlohmann::json& j) { return std::stoll(j.is_string() ? j.get<std::string>() : j.dump()); };
  EXPECT_EQ(num(row["txns"]), 1);
  EXPECT_EQ(row["app"], "run-new");
  EXPECT_EQ(num(row["v"]), 2);
  EXPECT_EQ(num(row["lu"]), (kStart + 70 * kMinute) / 1000);
  EXPECT_EQ(num(row["adds"]), 3);
  auto scanned = testing::RunDuckDB("SELECT count(*) AS n FROM delta_scan('" + path + "')");
  if (!scanned.ok()) {
    std::cout << "DuckDB delta extension unavailable (" << scanned.status().message().substr(0, 120)
              << "...); checked the checkpoint with read_parquet instead\n";
    return;
  }
  EXPECT_EQ(num(nlohmann::json::parse(scanned->substr(0, scanned->find('\n')))["n"]), 12);
}

}  // namespace
}  // namespace lakepipe::delta
