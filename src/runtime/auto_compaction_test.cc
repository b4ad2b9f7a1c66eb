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
#include <thread>

#include "delta/changes.h"
#include "delta/table.h"
#include "runtime/event_log.h"
#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

Schema IdSchema() { return *Schema::ParseDDL("id BIGINT"); }

RecordBatch Ids(int64_t from, int64_t to) {
  Column c(DataType::Long());
  for (int64_t i = from; i < to; ++i) c.Append<int64_t>(i);
  std::vector<Column> cols;
  cols.push_back(std::move(c));
  return RecordBatch::FromColumns(IdSchema(), std::move(cols));
}

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
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/p.sql"),
                            "CREATE OR REFRESH STREAMING TABLE raw TBLPROPERTIES (delta.enableChangeDataFeed = true, "
                            "'lakepipe.autoCompact.minNumFiles' = '6') "
                            "AS SELECT * FROM STREAM read_files('${landing}', format => 'csv', header => true, "
                            "schema => 'id INT, kind STRING');\n"
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
    auto raw = delta::DeltaTable::Open(runner->TablePath("raw"));
    ASSERT_TRUE(raw.ok());
    auto history = (*raw)->History();
    ASSERT_TRUE(history.ok());
    int optimize = 0;
    for (const auto& h : *history) optimize += h.operation == "OPTIMIZE";
    EXPECT_GE(optimize, 1);
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
