// Auto-compaction: due only past the small-file threshold; one dataChange = false commit
// that keeps every row; a concurrent append is not lost and does not stop it; a concurrent
// commit that removed its files wins, and the compaction leaves nothing behind; in a
// continuous run, the tables downstream (a Delta stream, a change-feed stream, a
// materialized view) never read compacted rows twice, also across a restart.
#include "runtime/auto_compaction.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <set>
#include <thread>

#include "delta/changes.h"
#include "delta/table.h"
#include "delta/test_util.h"
#include "runtime/event_log.h"
#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

using delta::test::IdSchema;
using delta::test::Ids;

// Sum and count of `id` in a snapshot.
std::pair<int64_t, int64_t> SumCount(const delta::SnapshotPtr& snap) {
  auto scan = delta::Scan::Plan(snap, {});
  EXPECT_TRUE(scan.ok());
  auto all = scan->ReadAll();
  EXPECT_TRUE(all.ok());
  int64_t sum = 0;
  for (int64_t r = 0; r < all->num_rows(); ++r) sum += std::stoll(all->column(0).GetValue(r).ToString());
  return {sum, all->num_rows()};
}

// A table of `n` appends of 10 rows each (one small file per append).
std::unique_ptr<delta::DeltaTable> SmallFiles(const std::string& path, int n) {
  delta::CreateOptions create;
  create.schema = IdSchema();
  auto table = delta::DeltaTable::Create(path, create);
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  for (int i = 0; i < n; ++i) EXPECT_TRUE((*table)->Write({Ids(i * 10, i * 10 + 10)}, {}).ok());
  return std::move(table).value();
}

TEST(AutoCompactionTest, CompactsOncePastTheThresholdKeepingEveryRow) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = SmallFiles(path, 7);
  AutoCompactOptions options;
  options.min_num_files = 8;
  AutoCompactor compactor(FileSystem::Default(), Clock::System(), nullptr, options);
  auto r = compactor.CompactIfDue("t", path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->compacted);  // 7 small files < 8
  EXPECT_EQ(*table->LatestVersion(), 7);

  ASSERT_TRUE(table->Write({Ids(70, 80)}, {}).ok());
  auto before = table->Latest();
  ASSERT_TRUE(before.ok());
  r = compactor.CompactIfDue("t", path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->compacted);
  EXPECT_EQ(r->version, 9);
  EXPECT_EQ(r->files_removed, 8);
  EXPECT_EQ(r->files_added, 1);
  auto after = table->Latest();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)->files().size(), 1u);
  EXPECT_EQ(SumCount(*after), SumCount(*before));
  EXPECT_EQ(SumCount(*after), std::make_pair(int64_t{79 * 80 / 2}, int64_t{80}));
  // A reader by version sees no rows in the compaction: dataChange = false.
  auto appended = delta::ReadAppends(*table, 9, 9, {});
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  int64_t rows = 0;
  for (const auto& b : *appended) rows += b.num_rows();
  EXPECT_EQ(rows, 0);
  auto history = table->History(1);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ((*history)[0].operation, "OPTIMIZE");
  EXPECT_EQ(compactor.compactions(), 1);
  // Nothing more to do: one file.
  r = compactor.CompactIfDue("t", path);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->compacted);
}

// A compactor lent the runner's handles compacts through them and keeps none of its own:
// otherwise every table's snapshot (its files and tombstones) is cached twice in a
// continuous run. A table the lender does not have yet (NotFound) is nothing to compact.
TEST(AutoCompactionTest, ALentHandleIsUsedAndNoneIsKeptBeside) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  SmallFiles(path, 8);
  auto opened = delta::DeltaTable::Open(path);
  ASSERT_TRUE(opened.ok());
  std::shared_ptr<delta::DeltaTable> handle = std::move(*opened);
  AutoCompactOptions options;
  options.min_num_files = 8;
  AutoCompactor compactor(FileSystem::Default(), Clock::System(), nullptr, options);
  int lent = 0;
  compactor.LendTableHandles(
      [&](const std::string& name, const std::string& at) -> Result<std::shared_ptr<delta::DeltaTable>> {
        if (name != "t") return Status::NotFound("table `" + name + "` has no commit yet");
        EXPECT_EQ(at, path);
        ++lent;
        return handle;
      });
  auto r = compactor.CompactIfDue("t", path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->compacted);
  EXPECT_EQ(lent, 1);
  EXPECT_EQ(compactor.own_handles(), 0u);
  auto snap = handle->Latest();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ((*snap)->version(), r->version);
  EXPECT_EQ((*snap)->files().size(), 1u);
  r = compactor.CompactIfDue("u", dir.Join("u"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->compacted);

  AutoCompactor alone(FileSystem::Default(), Clock::System(), nullptr, options);
  r = alone.CompactIfDue("t", path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(alone.own_handles(), 1u);
}

int64_t OptimizeCommits(const delta::DeltaTable& table) {
  auto history = table.History();
  EXPECT_TRUE(history.ok());
  int64_t n = 0;
  for (const auto& h : *history) n += h.operation == "OPTIMIZE";
  return n;
}

// What an earlier compaction wrote is not compacted again at every look: only new small
// files make a partition due, its earlier outputs join when they would reach the threshold,
// and a look with no new small files writes nothing. Over a long stream of small commits,
// each row is rewritten a few times (one per level of min_num_files), not at every
// compaction.
TEST(AutoCompactionTest, ItsOwnOutputsAreNotCompactedAgainUntilEnoughOfThemExist) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = SmallFiles(path, 4);
  AutoCompactOptions options;
  options.min_num_files = 4;
  AutoCompactor compactor(FileSystem::Default(), Clock::System(), nullptr, options);
  auto r = compactor.CompactIfDue("t", path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->compacted);
  EXPECT_EQ(r->files_removed, 4);
  auto first = table->Latest();
  ASSERT_TRUE(first.ok());
  ASSERT_EQ((*first)->files().size(), 1u);
  const delta::DataFile first_output = (*first)->files()[0];
  ASSERT_TRUE(first_output.add.tags.has_value());
  EXPECT_EQ(first_output.add.tags->at(delta::kCompactedTag), "1");  // its level
  // A second look with nothing new: no OPTIMIZE commit.
  r = compactor.CompactIfDue("t", path);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->compacted);
  EXPECT_EQ(*table->LatestVersion(), 5);
  EXPECT_EQ(OptimizeCommits(*table), 1);

  // Four new small files: they are compacted; the first output (one small output, the
  // new one would make two of four) is left as it is.
  for (int i = 4; i < 8; ++i) ASSERT_TRUE(table->Write({Ids(i * 10, i * 10 + 10)}, {}).ok());
  r = compactor.CompactIfDue("t", path);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->compacted);
  EXPECT_EQ(r->files_removed, 4);
  auto second = table->Latest();
  ASSERT_TRUE(second.ok());
  ASSERT_EQ((*second)->files().size(), 2u);
  bool kept = false;
  for (const auto& f : (*second)->files()) kept |= f.add.path == first_output.add.path;
  EXPECT_TRUE(kept) << "the first compaction's output was rewritten";
  r = compactor.CompactIfDue("t", path);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->compacted);
  EXPECT_EQ(OptimizeCommits(*table), 2);

  // A long stream of single small commits, a look after each (as in a continuous run):
  // the rows rewritten stay within a few times the rows written, and every row is there.
  int64_t rewritten = 0;
  for (int i = 8; i < 128; ++i) {
    ASSERT_TRUE(table->Write({Ids(i * 10, i * 10 + 10)}, {}).ok());
    auto before = table->Latest();
    ASSERT_TRUE(before.ok());
    r = compactor.CompactIfDue("t", path);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (!r->compacted) continue;
    auto after = table->Latest();
    ASSERT_TRUE(after.ok());
    std::set<std::string> still;
    for (const auto& f : (*after)->files()) still.insert(f.add.path);
    for (const auto& f : (*before)->files()) {
      if (still.count(f.add.path) != 0) continue;
      auto stats = (*before)->Stats(f);
      ASSERT_TRUE(stats.ok() && stats->num_records.has_value());
      rewritten += *stats->num_records;
    }
    // After any compaction, a look with nothing new writes nothing.
    auto again = compactor.CompactIfDue("t", path);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->compacted) << "after commit " << i;
  }
  auto last = table->Latest();
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(SumCount(*last), std::make_pair(int64_t{1279 * 1280 / 2}, int64_t{1280}));
  // 1,280 rows in files of 10, min_num_files 4: levels of about 40, 160 and 640 rows, so
  // a row is rewritten at most 3 times (re-compacting every small file at each compaction
  // rewrote every row at every compaction: about 25 times each here).
  EXPECT_LE(rewritten, 3 * 1280) << "rows rewritten by compactions";
  EXPECT_GE(rewritten, 1200 - 3 * 10);  // every full group of new files was compacted
  // Fewer than 4 small files per level (0 to 3).
  EXPECT_LT((*last)->files().size(), 16u);
  int top = 0;
  for (const auto& f : (*last)->files()) top = std::max(top, delta::CompactionLevel(f.add));
  EXPECT_EQ(top, 3);

  // A file at or above min_file_bytes is never small.
  AutoCompactOptions big;
  big.min_num_files = 2;
  big.min_file_bytes = 1;
  AutoCompactor none(FileSystem::Default(), Clock::System(), nullptr, big);
  for (int i = 128; i < 132; ++i) ASSERT_TRUE(table->Write({Ids(i * 10, i * 10 + 10)}, {}).ok());
  r = none.CompactIfDue("t", path);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->compacted);
}

// Runs `before_commit` once, just before the compaction's commit file is linked into
// place: the commit of another writer that won the race.
class RaceFs : public FaultInjectingFileSystem {
 public:
  RaceFs() : FaultInjectingFileSystem(FileSystem::Default()) {}
  Status Link(const std::string& from, const std::string& to) override {
    if (to.size() > 5 && to.compare(to.size() - 5, 5, ".json") == 0 && before_commit) {
      auto f = std::move(before_commit);
      before_commit = nullptr;
      f();
    }
    return FaultInjectingFileSystem::Link(from, to);
  }
  std::function<void()> before_commit;
};

TEST(AutoCompactionTest, AConcurrentAppendIsKeptAndTheCompactionMovesToTheNextVersion) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = SmallFiles(path, 5);
  RaceFs fs;
  fs.before_commit = [&] { ASSERT_TRUE(table->Write({Ids(1000, 1003)}, {}).ok()); };  // version 5
  AutoCompactOptions options;
  options.min_num_files = 5;
  AutoCompactor compactor(&fs, Clock::System(), nullptr, options);
  auto r = compactor.CompactIfDue("t", path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->compacted) << r->skipped;
  EXPECT_EQ(r->version, 7);  // 0 creates, 1-5 append, 6 is the concurrent append
  auto snap = table->Latest();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ((*snap)->files().size(), 2u);  // the compacted file and the append's
  EXPECT_EQ(SumCount(*snap), std::make_pair(int64_t{49 * 50 / 2 + 1000 + 1001 + 1002}, int64_t{53}));
}

TEST(AutoCompactionTest, ACompactionWhoseFilesWereRemovedGivesWayAndLeavesNothing) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = SmallFiles(path, 5);
  RaceFs fs;
  fs.before_commit = [&] {
    delta::WriteOptions overwrite;
    overwrite.mode = delta::WriteMode::kOverwrite;
    ASSERT_TRUE(table->Write({Ids(500, 502)}, overwrite).ok());
  };
  testing::TempDir storage;
  EventLog log(FileSystem::Default(), storage.path(), "t", Clock::System());
  AutoCompactOptions options;
  options.min_num_files = 5;
  AutoCompactor compactor(&fs, Clock::System(), &log, options);
  auto r = compactor.CompactIfDue("t", path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->compacted);
  EXPECT_NE(r->skipped.find("removed file"), std::string::npos) << r->skipped;
  auto snap = table->Latest();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ((*snap)->version(), 6);  // the overwrite; no compaction after it
  EXPECT_EQ(SumCount(*snap), std::make_pair(int64_t{1001}, int64_t{2}));
  // The compaction's own data file is gone: only the 5 appends' and the overwrite's stay.
  std::vector<FileInfo> files;
  auto listed = FileSystem::Default()->ListDir(path);
  ASSERT_TRUE(listed.ok());
  int parquet = 0;
  for (const auto& f : *listed) parquet += f.name.find(".parquet") != std::string::npos;
  EXPECT_EQ(parquet, 6);
  EXPECT_EQ(log.pending(), 1u);  // the "gave way" event
}

int64_t Count(PipelineRunner& runner, const std::string& sql) {
  auto r = runner.Query(sql);
  if (!r.ok() || r->batches.empty() || r->batches[0].num_rows() == 0) return -1;
  Value v = r->batches[0].column(0).GetValue(0);
  return v.ToString() == "NULL" ? -1 : std::stoll(v.ToString());
}

bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 600; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST(AutoCompactionTest, DownstreamReadersNeverReadCompactedRowsTwice) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  std::string landing = dir.Join("landing");
  ASSERT_TRUE(fs->CreateDirs(landing).ok());
  ASSERT_TRUE(fs->CreateDirs(dir.Join("p")).ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/pipeline.yaml"), "name: t\nstorage: " + dir.Join("storage") +
                                                             "\nconfiguration: {landing: " + landing + "}\n")
                  .ok());
  // raw takes one file per batch: on a loaded machine the files, landed 40 ms apart, would
  // otherwise gather into fewer than the six small files a compaction needs.
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/p.sql"),
                            "CREATE OR REFRESH STREAMING TABLE raw TBLPROPERTIES (delta.enableChangeDataFeed = true, "
                            "'lakepipe.autoCompact.minNumFiles' = '6') "
                            "AS SELECT * FROM STREAM read_files('${landing}', format => 'csv', header => true, "
                            "schema => 'id INT, kind STRING', maxFilesPerTrigger => 1);\n"
                            "CREATE OR REFRESH STREAMING TABLE clean AS SELECT id, kind FROM STREAM(raw);\n"
                            "CREATE OR REFRESH STREAMING TABLE feed AS SELECT id, _change_type FROM "
                            "STREAM(raw) WITH (readChangeFeed = true);\n"
                            "CREATE OR REFRESH MATERIALIZED VIEW totals TBLPROPERTIES "
                            "('pipelines.trigger.interval' = '0 seconds') AS SELECT count(*) AS n, sum(id) AS s FROM raw;\n"
                            "CREATE OR REFRESH STREAMING TABLE kept TBLPROPERTIES "
                            "('delta.autoOptimize.autoCompact' = 'false') AS SELECT id FROM STREAM(raw);\n")
                  .ok());
  int64_t rows = 0, sum = 0;
  int next_file = 0;
  auto land = [&](int files) {
    for (int f = 0; f < files; ++f, ++next_file) {
      std::string body = "id,kind\n";
      for (int i = 0; i < 4; ++i) {
        int id = next_file * 4 + i;
        body += std::to_string(id) + ",k" + std::to_string(id % 3) + "\n";
        ++rows;
        sum += id;
      }
      ASSERT_TRUE(fs->WriteFileAtomic(JoinPath(landing, "f" + std::to_string(1000 + next_file) + ".csv"), body).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(40));
    }
  };
  auto check = [&](PipelineRunner& runner) {
    EXPECT_EQ(Count(runner, "SELECT count(*) FROM clean"), rows);
    EXPECT_EQ(Count(runner, "SELECT sum(id) FROM clean"), sum);
    EXPECT_EQ(Count(runner, "SELECT count(*) FROM feed"), rows);
    EXPECT_EQ(Count(runner, "SELECT count(*) FROM feed WHERE _change_type <> 'insert'"), 0);
    EXPECT_EQ(Count(runner, "SELECT count(*) FROM kept"), rows);
    EXPECT_EQ(Count(runner, "SELECT s FROM totals"), sum);
    EXPECT_EQ(Count(runner, "SELECT count(*) - count(DISTINCT id) FROM clean"), 0);
  };
  RunOptions options;
  {
    auto opened = PipelineRunner::Open(dir.Join("p"), {});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    std::unique_ptr<PipelineRunner> runner = std::move(opened).value();
    Status result;
    std::thread run([&] { result = runner->RunContinuous(options); });
    land(20);
    EXPECT_TRUE(WaitFor([&] { return Count(*runner, "SELECT n FROM totals") == rows; }));
    EXPECT_TRUE(WaitFor([&] {
      return Count(*runner, "SELECT count(*) FROM _event_log WHERE event_type = 'auto_compaction' AND table_name = 'raw' "
                            "AND message LIKE 'compacted%'") > 0;
    }));
    EXPECT_TRUE(WaitFor([&] { return Count(*runner, "SELECT count(*) FROM feed") == rows; }));
    runner->RequestStop();
    run.join();
    ASSERT_TRUE(result.ok()) << result.ToString();
    check(*runner);
    EXPECT_GE(delta::test::CountCommits(runner->TablePath("raw"), "OPTIMIZE"), 1);
    auto raw = delta::DeltaTable::Open(runner->TablePath("raw"));
    ASSERT_TRUE(raw.ok());
    // Below the threshold again after compacting; the table with autoCompact = false kept
    // a file per batch.
    EXPECT_LT((*(*raw)->Latest())->files().size(), 6u + 6u);
    auto kept = delta::DeltaTable::Open(runner->TablePath("kept"));
    ASSERT_TRUE(kept.ok());
    auto kept_history = (*kept)->History();
    ASSERT_TRUE(kept_history.ok());
    for (const auto& h : *kept_history) EXPECT_NE(h.operation, "OPTIMIZE");
  }
  // A restart reads on from the versions it committed, compactions included.
  {
    auto opened = PipelineRunner::Open(dir.Join("p"), {});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    std::unique_ptr<PipelineRunner> runner = std::move(opened).value();
    land(8);
    auto update = runner->RunOnce(options);
    ASSERT_TRUE(update.ok()) << update.status().ToString();
    check(*runner);
  }
}

}  // namespace
}  // namespace lakepipe::runtime
