// Issue 19, "data lost or doubled": hostile changes to the landing tree, the Delta logs and
// the checkpoints, each reproduced on a small pipeline. Every case ends with the exact row
// counts, or with a refusal whose message says what happened and how to recover; never
// with exit 0 over lost or doubled rows.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "delta/log.h"
#include "delta/table.h"
#include "runtime/file_watcher.h"
#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("p")).ok());
  }

  void Pipeline(const std::string& sql) {
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"), "name: t\nstorage: " + dir_.Join("storage") +
                                                                 "\nlibraries: [p.sql]\nconfiguration: {landing: " +
                                                                 landing_ + "}\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"), sql).ok());
  }
  // bronze reads the landing folder; silver de-duplicates it (RocksDB seen keys); gold
  // counts silver (an incremental view with aggregate state).
  void Medallion() {
    Pipeline(
        "CREATE OR REFRESH STREAMING TABLE bronze AS SELECT * FROM STREAM read_files('${landing}', format => 'csv', "
        "header => true, schema => 'id INT, kind STRING');\n"
        "CREATE OR REFRESH STREAMING TABLE silver AS SELECT DISTINCT id, kind FROM STREAM(bronze);\n"
        "CREATE OR REFRESH MATERIALIZED VIEW gold AS SELECT kind, count(*) AS n FROM silver GROUP BY kind;\n");
  }

  std::unique_ptr<PipelineRunner> Open() {
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    return runner.ok() ? std::move(runner).value() : nullptr;
  }

  // `n` lines id = from.., kind "k", whole (written aside, renamed in).
  void Drop(const std::string& path, int from, int n) {
    std::string text = "id,kind\n";
    for (int i = from; i < from + n; ++i) text += std::to_string(i) + ",k\n";
    ASSERT_TRUE(fs_->CreateDirs(DirName(path)).ok());
    ASSERT_TRUE(fs_->WriteFileAtomic(path, text).ok());
  }

  int64_t Count(PipelineRunner& runner, const std::string& sql) {
    auto r = runner.Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r->batches.empty() || r->batches[0].num_rows() == 0) return -1;
    return std::stoll(r->batches[0].column(0).GetValue(0).ToString());
  }

  // Runs once in a new runner (a new process, as far as the pipeline can tell).
  UpdateReport RunFresh(RunOptions options = {}) {
    auto runner = Open();
    if (runner == nullptr) return {};
    auto update = runner->RunOnce(options);
    EXPECT_TRUE(update.ok()) << update.status().ToString();
    return update.ok() ? *update : UpdateReport{};
  }

  static const TableReport* Find(const UpdateReport& r, const std::string& table) {
    for (const auto& t : r.tables)
      if (t.table == table) return &t;
    static const TableReport none;
    return &none;
  }

  std::string CommitFile(const std::string& table, int64_t version) {
    return JoinPath(delta::LogDir(dir_.Join("storage/" + table)), delta::CommitFileName(version));
  }
  std::string Checkpoint(const std::string& table) { return dir_.Join("storage/_checkpoints/" + table); }

  void Symlink(const std::string& target, const std::string& at) {
    ASSERT_EQ(::symlink(target.c_str(), at.c_str()), 0) << at;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
};

// ---- 1. links in the landing tree -------------------------------------------------------

TEST_F(RecoveryTest, ALinkBackIntoTheLandingTreeIngestsEachLineOnce) {
  Medallion();
  ASSERT_TRUE(fs_->CreateDirs(JoinPath(landing_, "sub")).ok());
  Symlink("..", JoinPath(landing_, "sub/up"));  // mkdir L/sub; ln -s .. L/sub/up
  Drop(JoinPath(landing_, "good.csv"), 0, 100);
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  auto update = runner->RunOnce({});
  ASSERT_TRUE(update.ok()) << update.status().ToString();
  EXPECT_TRUE(update->ok());
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM bronze"), 100);
  EXPECT_EQ(Count(*runner, "SELECT n FROM gold"), 100);
  // The link is reported once, as a warning in the event log; not silently skipped.
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM _event_log WHERE event_type = 'link_not_followed' AND "
                           "level = 'WARN' AND message LIKE '%sub/up (a link to a folder)%'"),
            1);
  auto again = runner->RunOnce({});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM bronze"), 100);
}

TEST_F(RecoveryTest, TwoLoopsAndALinkOutOfTheTreeNeitherHangNorDuplicate) {
  Medallion();
  Drop(JoinPath(landing_, "good.csv"), 0, 100);
  Drop(JoinPath(landing_, "a/b/more.csv"), 100, 10);
  Symlink("..", JoinPath(landing_, "a/up"));
  Symlink(landing_, JoinPath(landing_, "a/b/root"));
  std::string outside = dir_.Join("elsewhere");
  Drop(JoinPath(outside, "not-landing.csv"), 1000, 50);
  Symlink(outside, JoinPath(landing_, "out"));
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  auto update = runner->RunOnce({});
  ASSERT_TRUE(update.ok()) << update.status().ToString();
  EXPECT_TRUE(update->ok());
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM bronze"), 110);
  EXPECT_EQ(Count(*runner, "SELECT count(DISTINCT id) FROM bronze"), 110);
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM bronze WHERE id >= 1000"), 0);
}

TEST_F(RecoveryTest, TheWatcherDoesNotLoopOnLinksAndStillSeesNewFiles) {
  ASSERT_TRUE(fs_->CreateDirs(JoinPath(landing_, "sub")).ok());
  Symlink("..", JoinPath(landing_, "sub/up"));
  Symlink(landing_, JoinPath(landing_, "sub/root"));
  FileWatcher watcher;
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(watcher.Watch(landing_).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  Drop(JoinPath(landing_, "sub/new.csv"), 0, 1);
  bool seen = false;
  for (int i = 0; i < 20 && !seen; ++i) {
    auto changed = watcher.Wait(100);
    ASSERT_TRUE(changed.ok()) << changed.status().ToString();
    seen = !changed->empty() && (*changed)[0] == landing_;
  }
  EXPECT_TRUE(seen);
}

// ---- 2. missing or empty state ----------------------------------------------------------

TEST_F(RecoveryTest, AnEmptiedNewestCommitIsRefusedNamingTheFile) {
  Medallion();
  Drop(JoinPath(landing_, "a.csv"), 0, 10);
  RunFresh();
  Drop(JoinPath(landing_, "b.csv"), 10, 10);
  RunFresh();
  ASSERT_TRUE(fs_->Exists(CommitFile("bronze", 1)));
  ASSERT_TRUE(fs_->WriteFile(CommitFile("bronze", 1), "").ok());  // emptied
  Drop(JoinPath(landing_, "c.csv"), 20, 10);
  UpdateReport update = RunFresh();
  EXPECT_FALSE(update.ok());
  EXPECT_EQ(Find(update, "bronze")->status, "failed");
  EXPECT_NE(Find(update, "bronze")->message.find("00000000000000000001.json"), std::string::npos)
      << Find(update, "bronze")->message;
  EXPECT_NE(Find(update, "bronze")->message.find("emptied or truncated"), std::string::npos);
  // No version was written after (or over) the damaged one.
  EXPECT_FALSE(fs_->Exists(CommitFile("bronze", 2)));
}

// A machine crash on a disk that acknowledged an fsync it had not done can cut the
// newest Delta commit short. When it is this flow's commit of a batch whose plan is in the
// checkpoint and that was never recorded (so never acknowledged), the commit is set aside
// and the batch replayed (docs/delta.md, "Torn commits").
class TornCommitTest : public RecoveryTest {
 protected:
  // Batch 0 (a.csv) through the whole pipeline; then batch 1 (b.csv) of bronze only, whose
  // commit record is lost and whose Delta commit (version 1) is cut `keep` bytes after the
  // end of the line holding `line` (a negative `keep`: that many bytes before it).
  void CrashDuringBronzeBatch1(const std::string& line, int keep) {
    Medallion();
    Drop(JoinPath(landing_, "a.csv"), 0, 10);
    RunFresh();
    Drop(JoinPath(landing_, "b.csv"), 10, 10);
    RunOptions bronze_only;
    bronze_only.refresh_selection = {"bronze"};
    RunFresh(bronze_only);
    ASSERT_TRUE(fs_->RemoveFile(JoinPath(Checkpoint("bronze"), "commits/1")).ok());
    auto text = fs_->ReadFile(CommitFile("bronze", 1));
    ASSERT_TRUE(text.ok());
    ASSERT_NE(text->find("{\"add\""), std::string::npos) << *text;
    size_t at = text->find(line);
    ASSERT_NE(at, std::string::npos) << *text;
    size_t end = text->find('\n', at);
    ASSERT_NE(end, std::string::npos);
    size_t cut = keep >= 0 ? end + 1 + static_cast<size_t>(keep) : at - static_cast<size_t>(-keep);
    ASSERT_LT(cut, text->size());
    ASSERT_TRUE(fs_->WriteFile(CommitFile("bronze", 1), text->substr(0, cut)).ok());
  }

  std::vector<std::string> Warnings(const UpdateReport& update, const std::string& table, const std::string& kind) {
    std::vector<std::string> out;
    for (const auto& [k, message] : Find(update, table)->warnings)
      if (k == kind) out.push_back(message);
    return out;
  }
};

TEST_F(TornCommitTest, TheFlowsOwnUnacknowledgedCommitCutShortIsSetAsideAndReplayed) {
  CrashDuringBronzeBatch1("{\"txn\"", 30);  // the txn line whole, the first add cut
  Drop(JoinPath(landing_, "c.csv"), 20, 10);
  UpdateReport update = RunFresh();
  ASSERT_TRUE(update.ok()) << Find(update, "bronze")->message;
  auto warnings = Warnings(update, "bronze", "torn_commit_set_aside");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("version 1, batch 1"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("00000000000000000001.json.torn"), std::string::npos) << warnings[0];
  EXPECT_TRUE(fs_->Exists(CommitFile("bronze", 1) + ".torn"));
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM bronze"), 30);
  EXPECT_EQ(Count(*runner, "SELECT count(DISTINCT id) FROM bronze"), 30);
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM silver"), 30);
  EXPECT_EQ(Count(*runner, "SELECT sum(n) FROM gold"), 30);
  // Version 1 was committed again, whole, by the replay.
  auto text = fs_->ReadFile(CommitFile("bronze", 1));
  ASSERT_TRUE(text.ok());
  EXPECT_TRUE(delta::ParseActions(*text, "1.json").ok());
  // The event log records it.
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM _event_log WHERE event_type = 'torn_commit_set_aside' AND "
                           "level = 'WARN' AND table_name = 'bronze'"),
            1);
}

TEST_F(TornCommitTest, ACommitCutBeforeItsTxnMayBeAnotherWritersAndIsRefused) {
  CrashDuringBronzeBatch1("{\"txn\"", -5);  // the tail of commitInfo and the txn gone
  UpdateReport update = RunFresh();
  EXPECT_FALSE(update.ok());
  const std::string& message = Find(update, "bronze")->message;
  EXPECT_NE(message.find("00000000000000000001.json"), std::string::npos) << message;
  EXPECT_NE(message.find("not set aside"), std::string::npos) << message;
  EXPECT_NE(message.find("another writer"), std::string::npos) << message;
  EXPECT_FALSE(fs_->Exists(CommitFile("bronze", 1) + ".torn"));
  EXPECT_FALSE(fs_->Exists(CommitFile("bronze", 2)));
}

TEST_F(TornCommitTest, ACommitOfARecordedBatchIsRefused) {
  CrashDuringBronzeBatch1("{\"txn\"", 30);
  // The batch's commit record survived: its sources may have been acknowledged.
  ASSERT_TRUE(fs_->WriteFile(JoinPath(Checkpoint("bronze"), "commits/1"), "{\"tableVersion\":1}\n").ok());
  UpdateReport update = RunFresh();
  EXPECT_FALSE(update.ok());
  const std::string& message = Find(update, "bronze")->message;
  EXPECT_NE(message.find("may have been acknowledged"), std::string::npos) << message;
  EXPECT_FALSE(fs_->Exists(CommitFile("bronze", 1) + ".torn"));
}

TEST_F(TornCommitTest, ATornCommitThatIsNotTheNewestStaysCorruption) {
  CrashDuringBronzeBatch1("{\"txn\"", 30);
  // A later version on top of the torn one (another writer's, say).
  ASSERT_TRUE(fs_->WriteFile(CommitFile("bronze", 2), "{\"commitInfo\":{\"operation\":\"WRITE\"}}\n").ok());
  UpdateReport update = RunFresh();
  EXPECT_FALSE(update.ok());
  const std::string& message = Find(update, "bronze")->message;
  EXPECT_NE(message.find("00000000000000000001.json"), std::string::npos) << message;
  EXPECT_FALSE(fs_->Exists(CommitFile("bronze", 1) + ".torn"));
}

// Commit records are written without fsync (they repeat the Delta commit's txn): a machine
// crash can leave the newest ones empty or cut short. The next run drops them, replays
// their batches as already committed (the txn says so), and ends with every row once.
TEST_F(RecoveryTest, TornNewestCommitRecordsAreRecoveredLikeACrashAfterTheDeltaCommit) {
  Medallion();
  Drop(JoinPath(landing_, "a.csv"), 0, 10);
  RunFresh();
  Drop(JoinPath(landing_, "b.csv"), 10, 10);
  RunFresh();
  Drop(JoinPath(landing_, "c.csv"), 20, 10);
  RunFresh();
  const std::string commits = JoinPath(Checkpoint("bronze"), "commits");
  auto record = fs_->ReadFile(JoinPath(commits, "2"));
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  ASSERT_TRUE(fs_->WriteFile(JoinPath(commits, "2"), "").ok());                               // never written back
  ASSERT_TRUE(fs_->WriteFile(JoinPath(commits, "1"), record->substr(0, 9)).ok());  // cut short
  Drop(JoinPath(landing_, "d.csv"), 30, 10);
  UpdateReport update = RunFresh();
  ASSERT_TRUE(update.ok()) << Find(update, "bronze")->message;
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM bronze"), 40);
  EXPECT_EQ(Count(*runner, "SELECT count(DISTINCT id) FROM bronze"), 40);
  EXPECT_EQ(Count(*runner, "SELECT sum(n) FROM gold"), 40);
  // The torn records are gone; the replayed newest batch recorded itself again, whole,
  // and the next one after it.
  EXPECT_FALSE(fs_->Exists(JoinPath(commits, "1")));
  for (const char* id : {"2", "3"}) {
    auto text = fs_->ReadFile(JoinPath(commits, id));
    ASSERT_TRUE(text.ok()) << id;
    EXPECT_NE(text->find("\"tableVersion\""), std::string::npos) << id << ": " << *text;
  }
}

TEST_F(RecoveryTest, ADeletedNewestCommitLeavesTheCheckpointAheadAndIsRefused) {
  Medallion();
  Drop(JoinPath(landing_, "a.csv"), 0, 10);
  RunFresh();
  Drop(JoinPath(landing_, "b.csv"), 10, 10);
  RunFresh();
  ASSERT_TRUE(fs_->RemoveFile(CommitFile("bronze", 1)).ok());
  Drop(JoinPath(landing_, "c.csv"), 20, 10);
  UpdateReport update = RunFresh();
  EXPECT_FALSE(update.ok());
  const std::string& message = Find(update, "bronze")->message;
  EXPECT_NE(message.find("ahead of table `bronze`"), std::string::npos) << message;
  EXPECT_NE(message.find("latest version is 0"), std::string::npos) << message;
  EXPECT_NE(message.find("--full-refresh bronze"), std::string::npos) << message;
  // Version 1 was not reused by new data.
  EXPECT_FALSE(fs_->Exists(CommitFile("bronze", 1)));
  // The way out it names works: every file once.
  RunOptions refresh;
  refresh.full_refresh = {"bronze", "silver", "gold"};
  UpdateReport rebuilt = RunFresh(refresh);
  for (const auto& t : rebuilt.tables) EXPECT_NE(t.status, "failed") << t.table << ": " << t.message;
  auto runner = Open();
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM bronze"), 30);
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM silver"), 30);
  EXPECT_EQ(Count(*runner, "SELECT n FROM gold"), 30);
}

TEST_F(RecoveryTest, DeletedOffsetsAndCommitsLeaveTheCheckpointBehindAndAreRefused) {
  Medallion();
  Drop(JoinPath(landing_, "a.csv"), 0, 10);
  RunFresh();
  ASSERT_TRUE(fs_->RemoveAll(JoinPath(Checkpoint("bronze"), "offsets")).ok());
  ASSERT_TRUE(fs_->RemoveAll(JoinPath(Checkpoint("bronze"), "commits")).ok());
  Drop(JoinPath(landing_, "b.csv"), 10, 10);
  UpdateReport update = RunFresh();
  EXPECT_FALSE(update.ok());
  const std::string& message = Find(update, "bronze")->message;
  EXPECT_NE(message.find("behind table `bronze`"), std::string::npos) << message;
  EXPECT_NE(message.find("offsets and commits were deleted"), std::string::npos) << message;
  EXPECT_NE(message.find("--full-refresh bronze"), std::string::npos) << message;
  auto runner = Open();
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM bronze"), 10);  // nothing doubled meanwhile
}

TEST_F(RecoveryTest, ADeletedCheckpointUnderATableWithDataIsRefused) {
  Medallion();
  Drop(JoinPath(landing_, "a.csv"), 0, 10);
  RunFresh();
  ASSERT_TRUE(fs_->RemoveAll(Checkpoint("bronze")).ok());
  UpdateReport update = RunFresh();
  EXPECT_FALSE(update.ok());
  const std::string& message = Find(update, "bronze")->message;
  EXPECT_NE(message.find("behind table `bronze`: the table has data"), std::string::npos) << message;
  auto runner = Open();
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM bronze"), 10);
}

TEST_F(RecoveryTest, DeletedDedupStateIsRefusedInsteadOfDoublingSilverAndGold) {
  Medallion();
  Drop(JoinPath(landing_, "a.csv"), 0, 10);
  RunFresh();
  std::string state = JoinPath(Checkpoint("silver"), "state");
  std::string backup = dir_.Join("state-after-batch-0");
  std::filesystem::copy(state, backup, std::filesystem::copy_options::recursive);
  Drop(JoinPath(landing_, "b.csv"), 10, 10);
  RunFresh();
  struct Case {
    std::string damage;
    std::string message;
  };
  for (const Case& c : {Case{"deleted", "state missing for batches 0..1 of `silver`"},
                        Case{"older", "state missing for batch 1 of `silver`"}}) {
    SCOPED_TRACE(c.damage);
    ASSERT_TRUE(fs_->RemoveAll(state).ok());
    if (c.damage == "older") std::filesystem::copy(backup, state, std::filesystem::copy_options::recursive);
    // The same rows delivered again under a new name: silver's state is what drops them.
    Drop(JoinPath(landing_, "again-" + c.damage + ".csv"), 0, 10);
    UpdateReport update = RunFresh();
    EXPECT_FALSE(update.ok());
    const std::string& message = Find(update, "silver")->message;
    EXPECT_NE(message.find(c.message), std::string::npos) << message;
    EXPECT_NE(message.find("--full-refresh silver"), std::string::npos) << message;
    EXPECT_EQ(Find(update, "gold")->status, "skipped");
    auto runner = Open();
    EXPECT_EQ(Count(*runner, "SELECT count(*) FROM silver"), 20);
    EXPECT_EQ(Count(*runner, "SELECT n FROM gold"), 20);
  }
  // A full refresh of silver rebuilds its state from bronze: still 20 distinct rows.
  RunOptions refresh;
  refresh.full_refresh = {"silver"};
  UpdateReport rebuilt = RunFresh(refresh);
  EXPECT_TRUE(rebuilt.ok()) << Find(rebuilt, "silver")->message;
  auto runner = Open();
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM silver"), 20);
  EXPECT_EQ(Count(*runner, "SELECT n FROM gold"), 20);
}

TEST_F(RecoveryTest, DeletedViewStateIsRebuiltFromASnapshot) {
  Medallion();
  Drop(JoinPath(landing_, "a.csv"), 0, 10);
  RunFresh();
  ASSERT_TRUE(fs_->RemoveAll(JoinPath(Checkpoint("gold"), "state")).ok());
  Drop(JoinPath(landing_, "b.csv"), 10, 5);
  UpdateReport update = RunFresh();
  EXPECT_TRUE(update.ok()) << Find(update, "gold")->message;
  auto runner = Open();
  EXPECT_EQ(Count(*runner, "SELECT n FROM gold"), 15);
}

TEST_F(RecoveryTest, AViewBehindItsStateIsRepublished) {
  Medallion();
  Drop(JoinPath(landing_, "a.csv"), 0, 10);
  RunFresh();
  Drop(JoinPath(landing_, "b.csv"), 10, 5);
  RunFresh();
  // The view's newest commit is lost; its state still covers everything.
  auto gold = delta::DeltaTable::Open(dir_.Join("storage/gold"));
  ASSERT_TRUE(gold.ok());
  int64_t latest = *(*gold)->LatestVersion();
  ASSERT_GE(latest, 1);
  ASSERT_TRUE(fs_->RemoveFile(CommitFile("gold", latest)).ok());
  UpdateReport update = RunFresh();
  EXPECT_TRUE(update.ok()) << Find(update, "gold")->message;
  auto runner = Open();
  EXPECT_EQ(Count(*runner, "SELECT n FROM gold"), 15);
}

// ---- 5. a file written in place ------------------------------------------------------------

// A batch planned before a crash is replayed from its plan: a file appended to between
// the plan and the read gives exactly the planned rows, and the growth is a warning.
TEST_F(RecoveryTest, AFileAppendedBetweenPlanAndReadIsReadAsPlannedAndFlagged) {
  Pipeline(
      "CREATE OR REFRESH STREAMING TABLE bronze AS SELECT * FROM STREAM read_files('${landing}', format => 'csv', "
      "header => true, schema => 'id INT, kind STRING');\n");
  Drop(JoinPath(landing_, "a.csv"), 0, 3);
  RunFresh();
  // Batch 1 is planned (as the flow does, before reading) with grow.csv at 2 lines...
  std::string grow = JoinPath(landing_, "grow.csv");
  Drop(grow, 100, 2);
  auto info = fs_->Stat(grow);
  ASSERT_TRUE(info.ok());
  nlohmann::json plan = {{"batchId", 1},
                         {"plannedAt", 0},
                         {"sources",
                          {{{"kind", "files"},
                            {"path", landing_},
                            {"files", {{{"path", "grow.csv"}, {"size", info->size}, {"mtime", info->mtime_micros}}}}}}}};
  ASSERT_TRUE(fs_->WriteFile(JoinPath(Checkpoint("bronze"), "offsets/1"), plan.dump() + "\n").ok());
  // ...then the writer appends 298 more lines in place before the read.
  std::string more;
  for (int i = 102; i < 400; ++i) more += std::to_string(i) + ",k\n";
  auto text = fs_->ReadFile(grow);
  ASSERT_TRUE(fs_->WriteFile(grow, *text + more).ok());
  auto runner = Open();
  auto update = runner->RunOnce({});
  ASSERT_TRUE(update.ok());
  EXPECT_TRUE(update->ok()) << Find(*update, "bronze")->message;
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM bronze WHERE id >= 100"), 2);
  EXPECT_EQ(Count(*runner, "SELECT max(id) FROM bronze"), 101);
  EXPECT_EQ(Count(*runner, "SELECT count(*) FROM _event_log WHERE event_type = 'file_changed' AND level = 'WARN' "
                           "AND message LIKE '%grow.csv grew to%only the planned bytes were read%'"),
            1);
}

// ---- 5. damaged state files and a missing data file (issue 16) ----------------------------

// A garbled CURRENT, a cut MANIFEST and bytes overwritten in the WAL of silver's seen-key
// store (RocksDB): each is a failure of silver naming the store and the way to rebuild it;
// nothing downstream runs on it, gold keeps its last good rows, and the full refresh it
// names brings every table back to the exact counts.
TEST_F(RecoveryTest, DamagedStateStoreFilesAreRefusedNamingTheStore) {
  Medallion();
  for (const std::string damage : {"CURRENT", "MANIFEST", "WAL"}) {
    SCOPED_TRACE(damage);
    ASSERT_TRUE(fs_->RemoveAll(dir_.Join("storage")).ok());
    ASSERT_TRUE(fs_->RemoveAll(landing_).ok());
    ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
    Drop(JoinPath(landing_, "a.csv"), 0, 50);
    RunFresh();
    std::string store = Checkpoint("silver") + "/state/distinct-0";
    auto entries = fs_->ListDir(store);
    ASSERT_TRUE(entries.ok()) << entries.status().ToString();
    bool damaged = false;
    for (const auto& e : *entries) {
      std::string file = JoinPath(store, e.name);
      auto text = fs_->ReadFile(file);
      ASSERT_TRUE(text.ok());
      if (damage == "CURRENT" && e.name == "CURRENT") {
        ASSERT_TRUE(fs_->WriteFile(file, "garbage\n").ok());
      } else if (damage == "MANIFEST" && e.name.rfind("MANIFEST-", 0) == 0) {
        ASSERT_TRUE(fs_->WriteFile(file, text->substr(0, 20)).ok());
      } else if (damage == "WAL" && e.name.size() > 4 && e.name.compare(e.name.size() - 4, 4, ".log") == 0 &&
                 text->size() > 64) {
        std::string bytes = *text;
        for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 32; ++i) bytes[i] = 'X';
        ASSERT_TRUE(fs_->WriteFile(file, bytes).ok());
      } else {
        continue;
      }
      damaged = true;
    }
    ASSERT_TRUE(damaged) << "no " << damage << " file in " << store;
    Drop(JoinPath(landing_, "b.csv"), 50, 50);
    UpdateReport update = RunFresh();
    EXPECT_FALSE(update.ok());
    const TableReport* silver = Find(update, "silver");
    EXPECT_EQ(silver->status, "failed");
    EXPECT_NE(silver->message.find(store), std::string::npos) << silver->message;
    EXPECT_NE(silver->message.find("--full-refresh silver"), std::string::npos) << silver->message;
    EXPECT_EQ(Find(update, "gold")->status, "skipped");
    {
      auto runner = Open();
      ASSERT_NE(runner, nullptr);
      EXPECT_EQ(Count(*runner, "SELECT n FROM gold"), 50);
      EXPECT_EQ(Count(*runner, "SELECT count(*) FROM silver"), 50);
    }
    RunOptions rebuild;
    rebuild.full_refresh = {"silver"};
    UpdateReport rebuilt = RunFresh(rebuild);
    EXPECT_TRUE(rebuilt.ok()) << Find(rebuilt, "silver")->message;
    auto runner = Open();
    ASSERT_NE(runner, nullptr);
    EXPECT_EQ(Count(*runner, "SELECT count(*) FROM bronze"), 100);
    EXPECT_EQ(Count(*runner, "SELECT count(*) FROM silver"), 100);
    EXPECT_EQ(Count(*runner, "SELECT n FROM gold"), 100);
  }
}

// A data file that a version of silver names is gone. The incremental flows after it read
// only newer versions (gold from its state), so they go on with the right counts; every
// read that needs the file — a query, a full refresh of gold — fails naming it, and
// nothing is computed without its rows.
TEST_F(RecoveryTest, AMissingDataFileIsNamedByEveryReadThatNeedsIt) {
  Medallion();
  Drop(JoinPath(landing_, "a.csv"), 0, 50);
  RunFresh();
  auto table = delta::DeltaTable::Open(dir_.Join("storage/silver"));
  ASSERT_TRUE(table.ok());
  auto snap = (*table)->Latest();
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ((*snap)->files().size(), 1u);
  std::string gone = (*snap)->files()[0].full_path;
  ASSERT_TRUE(fs_->RemoveFile(gone).ok());
  Drop(JoinPath(landing_, "b.csv"), 50, 50);
  UpdateReport update = RunFresh();
  EXPECT_TRUE(update.ok());
  auto runner = Open();
  ASSERT_NE(runner, nullptr);
  EXPECT_EQ(Count(*runner, "SELECT n FROM gold"), 100);
  auto read = runner->Query("SELECT count(*) FROM silver");
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find(gone), std::string::npos) << read.status().ToString();
  RunOptions refresh;
  refresh.full_refresh = {"gold"};
  auto recomputed = runner->RunOnce(refresh);
  ASSERT_TRUE(recomputed.ok());
  EXPECT_EQ(Find(*recomputed, "gold")->status, "failed");
  EXPECT_NE(Find(*recomputed, "gold")->message.find(gone), std::string::npos) << Find(*recomputed, "gold")->message;
}

}  // namespace
}  // namespace lakepipe::runtime
