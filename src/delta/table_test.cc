// Tests of writing Delta tables: create/append/overwrite, stats, partitions, schema
// enforcement, checkpoints and time travel, concurrency, txn, fault injection,
// OPTIMIZE and VACUUM, and DuckDB as an independent reader of the data files.
#include "delta/table.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "delta/checkpoint_deferral.h"
#include "delta/table_internal.h"
#include "testing/testing.h"
#include "types/datetime.h"

namespace lakepipe::delta {
namespace {

using nlohmann::json;

Schema TestSchema() { return *Schema::ParseDDL("id BIGINT, name STRING, price DOUBLE, day DATE, ts TIMESTAMP"); }

// Rows id in [from, to): name "n<id>", price id*1.5 (NULL when id % 7 == 3),
// day 2024-01-01 + id % 3, ts 2024-01-01 00:00:00.000123 + id seconds.
RecordBatch MakeBatch(int64_t from, int64_t to, const Schema& schema = TestSchema()) {
  std::vector<Column> cols;
  for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  int32_t base_day = *ParseDate("2024-01-01");
  int64_t base_ts = static_cast<int64_t>(base_day) * kMicrosPerDay + 123;
  for (int64_t id = from; id < to; ++id) {
    for (size_t c = 0; c < schema.size(); ++c) {
      const std::string& n = schema.field(c).name;
      Column& col = cols[c];
      if (n == "id") col.Append<int64_t>(id);
      else if (n == "name") col.AppendString("n" + std::to_string(id));
      else if (n == "price") {
        if (id % 7 == 3) col.AppendNull();
        else col.Append<double>(static_cast<double>(id) * 1.5);
      } else if (n == "day") col.Append<int32_t>(base_day + static_cast<int32_t>(id % 3));
      else if (n == "ts") col.Append<int64_t>(base_ts + id * kMicrosPerSecond);
      else if (n == "extra") col.AppendString("x" + std::to_string(id));
      else col.AppendNull();
    }
  }
  return RecordBatch::FromColumns(schema, std::move(cols));
}

std::vector<int64_t> Ids(const SnapshotPtr& snap) {
  ScanOptions so;
  so.columns = {"id"};
  auto scan = Scan::Plan(snap, so);
  EXPECT_TRUE(scan.ok()) << scan.status().ToString();
  auto batch = scan->ReadAll();
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  std::vector<int64_t> ids;
  if (!batch.ok()) return ids;
  for (int64_t r = 0; r < batch->num_rows(); ++r) ids.push_back(batch->column(0).Get<int64_t>(r));
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<int64_t> Range(int64_t from, int64_t to) {
  std::vector<int64_t> v;
  for (int64_t i = from; i < to; ++i) v.push_back(i);
  return v;
}

std::vector<json> CommitLines(const std::string& table, int64_t version) {
  auto text = FileSystem::Default()->ReadFile(JoinPath(LogDir(table), CommitFileName(version)));
  EXPECT_TRUE(text.ok());
  std::vector<json> out;
  size_t pos = 0;
  while (text.ok() && pos < text->size()) {
    size_t nl = text->find('\n', pos);
    out.push_back(json::parse(text->substr(pos, nl - pos)));
    pos = nl + 1;
  }
  return out;
}

std::unique_ptr<DeltaTable> CreateTable(const std::string& path, std::vector<std::string> partitions = {},
                                        StringMap config = {}) {
  CreateOptions co;
  co.schema = TestSchema();
  co.partition_columns = std::move(partitions);
  co.configuration = std::move(config);
  auto t = DeltaTable::Create(path, co);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

TEST(DeltaTable, CreateAppendAndTheLogFollowsTheProtocol) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = CreateTable(path);
  ASSERT_NE(table, nullptr);
  auto r = table->Write({MakeBatch(0, 10)}, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->version, 1);
  EXPECT_EQ(r->num_rows, 10);

  auto v0 = CommitLines(path, 0);
  ASSERT_EQ(v0.size(), 3u);
  EXPECT_EQ(v0[0]["commitInfo"]["operation"], "CREATE TABLE");
  EXPECT_EQ(v0[0]["commitInfo"]["engineInfo"], "lakepipe/0.1.0");
  EXPECT_EQ(v0[1]["protocol"]["minReaderVersion"], 1);
  EXPECT_EQ(v0[1]["protocol"]["minWriterVersion"], 2);
  const json& meta = v0[2]["metaData"];
  EXPECT_TRUE(std::regex_match(meta["id"].get<std::string>(),
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
  EXPECT_EQ(meta["format"]["provider"], "parquet");
  json schema = json::parse(meta["schemaString"].get<std::string>());
  ASSERT_EQ(schema["fields"].size(), 5u);
  for (const auto& f : schema["fields"]) EXPECT_EQ(f["nullable"], true);
  EXPECT_EQ(schema["fields"][4]["type"], "timestamp");
  EXPECT_TRUE(meta.contains("createdTime"));

  auto v1 = CommitLines(path, 1);
  ASSERT_EQ(v1.size(), 2u);
  const json& ci = v1[0]["commitInfo"];
  EXPECT_EQ(ci["operation"], "WRITE");
  EXPECT_EQ(ci["operationParameters"]["mode"], "Append");
  EXPECT_EQ(ci["isBlindAppend"], true);
  EXPECT_EQ(ci["operationMetrics"]["numOutputRows"], "10");
  EXPECT_EQ(ci["operationMetrics"]["numFiles"], "1");
  const json& add = v1[1]["add"];
  EXPECT_TRUE(std::regex_match(add["path"].get<std::string>(),
                               std::regex("part-00000000000000000001-00000-[0-9a-f-]{36}-c000\\.zstd\\.parquet")));
  EXPECT_EQ(add["dataChange"], true);
  EXPECT_GT(add["size"].get<int64_t>(), 0);
  EXPECT_GT(add["modificationTime"].get<int64_t>(), 1600000000000);
  json stats = json::parse(add["stats"].get<std::string>());
  EXPECT_EQ(stats["numRecords"], 10);
  EXPECT_EQ(stats["minValues"]["id"], 0);
  EXPECT_EQ(stats["maxValues"]["id"], 9);
  EXPECT_EQ(stats["minValues"]["name"], "n0");
  EXPECT_EQ(stats["maxValues"]["name"], "n9");
  EXPECT_EQ(stats["nullCount"]["price"], 1);  // id 3
  EXPECT_EQ(stats["nullCount"]["id"], 0);
  EXPECT_EQ(stats["minValues"]["day"], "2024-01-01");
  EXPECT_EQ(stats["maxValues"]["day"], "2024-01-03");
  // ts = 2024-01-01 00:00:00.000123 + id s: the minimum is floored to the millisecond,
  // the maximum rounded up, so both remain bounds.
  EXPECT_EQ(stats["minValues"]["ts"], "2024-01-01T00:00:00.000Z");
  EXPECT_EQ(stats["maxValues"]["ts"], "2024-01-01T00:00:09.001Z");

  auto snap = table->Latest();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(Ids(*snap), Range(0, 10));
  EXPECT_EQ((*snap)->num_records(), 10);
  EXPECT_EQ(DeltaTable::Create(path, CreateOptions{TestSchema()}).status().code(), StatusCode::kAlreadyExists);
}

TEST(DeltaTable, OverwriteRemovesEverythingAndTimeTravelSeesTheOldData) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = CreateTable(path);
  ASSERT_TRUE(table->Write({MakeBatch(0, 5)}, {}).ok());
  ASSERT_TRUE(table->Write({MakeBatch(5, 8)}, {}).ok());
  WriteOptions ow;
  ow.mode = WriteMode::kOverwrite;
  auto r = table->Write({MakeBatch(100, 103)}, ow);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Ids(*table->Latest()), Range(100, 103));
  EXPECT_EQ(Ids(*table->AtVersion(2)), Range(0, 8));
  auto lines = CommitLines(path, 3);
  int removes = 0;
  for (const auto& l : lines) {
    if (l.contains("remove")) {
      ++removes;
      EXPECT_EQ(l["remove"]["dataChange"], true);
      EXPECT_TRUE(l["remove"].contains("deletionTimestamp"));
    }
  }
  EXPECT_EQ(removes, 2);
  EXPECT_EQ(lines[0]["commitInfo"]["operationParameters"]["mode"], "Overwrite");
  EXPECT_EQ(lines[0]["commitInfo"]["isBlindAppend"], false);
}

TEST(DeltaTable, WriterCreatesTableInVersionZeroWithData) {
  testing::TempDir dir;
  std::string path = dir.Join("new");
  WriteOptions wo;
  wo.create_if_missing = CreateOptions{};
  wo.create_if_missing->partition_columns = {"day"};
  auto w = DeltaTable::NewWriter(path, wo);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->Write(MakeBatch(0, 6)).ok());
  auto r = (*w)->Commit();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->version, 0);
  auto lines = CommitLines(path, 0);
  ASSERT_GE(lines.size(), 5u);
  EXPECT_TRUE(lines[1].contains("protocol"));
  EXPECT_TRUE(lines[2].contains("metaData"));
  EXPECT_EQ(lines[2]["metaData"]["partitionColumns"], json::array({"day"}));
  auto table = DeltaTable::Open(path);
  ASSERT_TRUE(table.ok());
  auto snap = (*table)->Latest();
  EXPECT_EQ((*snap)->files().size(), 3u);  // three days
  EXPECT_EQ(Ids(*snap), Range(0, 6));
}

TEST(DeltaTable, PartitionedRoundTripWithEscapingAndNulls) {
  testing::TempDir dir;
  std::string path = dir.Join("p");
  CreateOptions co;
  co.schema = *Schema::ParseDDL("id BIGINT, cat STRING, day DATE");
  co.partition_columns = {"cat", "day"};
  auto table = DeltaTable::Create(path, co);
  ASSERT_TRUE(table.ok());
  std::vector<Column> cols = {Column(DataType::Long()), Column(DataType::String()), Column(DataType::Date())};
  const char* cats[] = {"a b", "x:y%z", "", nullptr, "a b"};
  for (int i = 0; i < 5; ++i) {
    cols[0].Append<int64_t>(i);
    if (cats[i]) cols[1].AppendString(cats[i]); else cols[1].AppendNull();
    if (i == 4) cols[2].AppendNull(); else cols[2].Append<int32_t>(19000);
  }
  auto batch = RecordBatch::FromColumns(co.schema, std::move(cols));
  ASSERT_TRUE((*table)->Write({batch}, {}).ok());
  auto snap = (*table)->Latest();
  ASSERT_TRUE(snap.ok());
  std::set<std::string> dirs;
  for (const auto& f : (*snap)->files()) {
    dirs.insert(DirName(f.add.path));
    EXPECT_TRUE(FileSystem::Default()->Exists(f.full_path)) << f.full_path;
  }
  // Folder names are Hive-escaped; add.path percent-encodes them again (as Spark).
  EXPECT_TRUE(dirs.count("cat=a%20b/day=2022-01-08"));
  EXPECT_TRUE(dirs.count("cat=x%253Ay%2525z/day=2022-01-08"));
  EXPECT_TRUE(dirs.count("cat=__HIVE_DEFAULT_PARTITION__/day=2022-01-08"));
  EXPECT_TRUE(dirs.count("cat=a%20b/day=__HIVE_DEFAULT_PARTITION__"));
  EXPECT_TRUE(FileSystem::Default()->Exists(path + "/cat=x%3Ay%25z/day=2022-01-08"));
  // Read back: partition columns are filled from the partition values.
  auto scan = Scan::Plan(*snap, {});
  auto all = scan->ReadAll();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::vector<std::string> rows;
  for (int64_t r = 0; r < all->num_rows(); ++r) {
    auto row = all->Row(r);
    rows.push_back(row[0].ToString() + "|" + row[1].ToString() + "|" + row[2].ToString());
  }
  std::sort(rows.begin(), rows.end());
  // Spark stores an empty string partition value as null.
  EXPECT_EQ(rows, (std::vector<std::string>{"0|a b|2022-01-08", "1|x:y%z|2022-01-08",
                                            "2|NULL|2022-01-08", "3|NULL|2022-01-08",
                                            "4|a b|NULL"}));
  // Partition pruning.
  ScanOptions so;
  so.predicates.push_back({"cat", parquet::ColumnPredicate::Op::kEq, Value::String("a b")});
  auto pruned = Scan::Plan(*snap, so);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(pruned->files().size(), 2u);
  ScanOptions nulls;
  nulls.predicates.push_back({"day", parquet::ColumnPredicate::Op::kIsNull, Value()});
  EXPECT_EQ(Scan::Plan(*snap, nulls)->files().size(), 1u);
}

TEST(DeltaTable, DataSkippingByStats) {
  testing::TempDir dir;
  auto table = CreateTable(dir.Join("t"));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(table->Write({MakeBatch(i * 10, i * 10 + 10)}, {}).ok());
  auto snap = table->Latest();
  using Op = parquet::ColumnPredicate::Op;
  auto count = [&](std::vector<parquet::ColumnPredicate> preds) {
    ScanOptions so;
    so.predicates = std::move(preds);
    auto scan = Scan::Plan(*snap, so);
    EXPECT_TRUE(scan.ok());
    return scan->files().size();
  };
  EXPECT_EQ(count({{"id", Op::kEq, Value::Int(15)}}), 1u);
  EXPECT_EQ(count({{"id", Op::kGe, Value::Int(20)}}), 2u);
  EXPECT_EQ(count({{"id", Op::kLt, Value::Int(0)}}), 0u);
  // "n35" sorts between "n0" and "n9" too, so two files may hold it.
  EXPECT_EQ(count({{"name", Op::kEq, Value::String("n35")}}), 2u);
  EXPECT_EQ(count({{"name", Op::kGt, Value::String("n9")}}), 0u);
  EXPECT_EQ(count({{"price", Op::kIsNull, Value()}}), 4u);
  int64_t ts = static_cast<int64_t>(*ParseDate("2024-01-01")) * kMicrosPerDay + 123 + 25 * kMicrosPerSecond;
  EXPECT_EQ(count({{"ts", Op::kEq, Value::Timestamp(ts)}}), 1u);
}

TEST(DeltaTable, SchemaEnforcementNamesTheColumn) {
  testing::TempDir dir;
  auto table = CreateTable(dir.Join("t"));
  auto extra = Schema::ParseDDL("id BIGINT, name STRING, price DOUBLE, day DATE, ts TIMESTAMP, extra STRING");
  auto r = table->Write({MakeBatch(0, 3, *extra)}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("'extra'"), std::string::npos) << r.status().message();
  auto missing = Schema::ParseDDL("id BIGINT, name STRING, day DATE, ts TIMESTAMP");
  r = table->Write({MakeBatch(0, 3, *missing)}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'price'"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("missing"), std::string::npos);
  auto wrong = Schema::ParseDDL("id INT, name STRING, price DOUBLE, day DATE, ts TIMESTAMP");
  std::vector<Column> cols;
  for (const auto& f : wrong->fields()) cols.push_back(Column::Nulls(f.type, 1));
  r = table->Write({RecordBatch::FromColumns(*wrong, std::move(cols))}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'id' has type int"), std::string::npos) << r.status().message();
  EXPECT_EQ(*table->LatestVersion(), 0);  // nothing committed

  // Opt-in evolution adds the new nullable column in the same commit.
  WriteOptions merge;
  merge.merge_schema = true;
  ASSERT_TRUE(table->Write({MakeBatch(0, 3)}, {}).ok());
  auto m = table->Write({MakeBatch(3, 5, *extra)}, merge);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto lines = CommitLines(table->path(), m->version);
  bool has_meta = false;
  for (const auto& l : lines) has_meta |= l.contains("metaData");
  EXPECT_TRUE(has_meta);
  auto snap = table->Latest();
  EXPECT_EQ((*snap)->schema().ToDDL(), "id bigint, name string, price double, day date, ts timestamp, extra string");
  ScanOptions so;
  so.columns = {"id", "extra"};
  auto batch = Scan::Plan(*snap, so)->ReadAll();
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  std::vector<std::string> rows;
  for (int64_t r2 = 0; r2 < batch->num_rows(); ++r2) {
    auto row = batch->Row(r2);
    rows.push_back(row[0].ToString() + "|" + row[1].ToString());
  }
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(rows, (std::vector<std::string>{"0|NULL", "1|NULL", "2|NULL", "3|x3", "4|x4"}));
}

// 26 commits: checkpoints at 10 and 20, _last_checkpoint at 20 without parts, and every
// version readable, from the checkpoint or from JSON alone, with the same result.
TEST(DeltaTable, TwentyFiveCommitsCheckpointsAndTimeTravel) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = CreateTable(path);
  for (int v = 1; v <= 25; ++v) {
    WriteOptions wo;
    if (v == 13) wo.mode = WriteMode::kOverwrite;
    auto r = table->Write({MakeBatch(v * 100, v * 100 + v)}, wo);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->version, v);
  }
  FileSystem* fs = FileSystem::Default();
  EXPECT_TRUE(fs->Exists(JoinPath(LogDir(path), "00000000000000000010.checkpoint.parquet")));
  EXPECT_TRUE(fs->Exists(JoinPath(LogDir(path), "00000000000000000020.checkpoint.parquet")));
  EXPECT_FALSE(fs->Exists(JoinPath(LogDir(path), "00000000000000000015.checkpoint.parquet")));
  auto lc_text = fs->ReadFile(JoinPath(LogDir(path), "_last_checkpoint"));
  ASSERT_TRUE(lc_text.ok());
  json lc = json::parse(*lc_text);
  EXPECT_EQ(lc["version"], 20);
  EXPECT_FALSE(lc.contains("parts"));
  EXPECT_EQ(lc["numOfAddFiles"], 8);  // versions 13..20
  EXPECT_EQ(lc["size"], 8 + 2 + 12);  // adds + protocol + metaData + tombstones of v13

  for (int v = 0; v <= 25; ++v) {
    std::vector<int64_t> expected;
    for (int k = (v >= 13 ? 13 : 1); k <= v; ++k) {
      auto part = Range(k * 100, k * 100 + k);
      expected.insert(expected.end(), part.begin(), part.end());
    }
    auto snap = table->AtVersion(v);
    ASSERT_TRUE(snap.ok()) << snap.status().ToString();
    EXPECT_EQ((*snap)->version(), v);
    EXPECT_EQ((*snap)->state().checkpoint_version, v >= 20 ? 20 : (v >= 10 ? 10 : -1));
    EXPECT_EQ(Ids(*snap), expected) << "version " << v;
    ReplayOptions ro;
    ro.version = v;
    ro.ignore_checkpoints = true;
    auto json_only = ReplayLog(fs, path, ro);
    ASSERT_TRUE(json_only.ok());
    std::vector<std::string> a, b;
    for (const auto& [k, f] : (*snap)->state().files) a.push_back(k + "|" + f.stats.value_or(""));
    for (const auto& [k, f] : json_only->files) b.push_back(k + "|" + f.stats.value_or(""));
    EXPECT_EQ(a, b) << "version " << v;
    EXPECT_EQ((*snap)->metadata().schema_string, json_only->metadata.schema_string);
  }
  // The handle's rolled-forward state (cached across the 25 writes) equals a fresh replay.
  {
    auto rolled = table->Latest();
    ASSERT_TRUE(rolled.ok());
    auto fresh = ReplayLog(fs, path);
    ASSERT_TRUE(fresh.ok());
    std::vector<std::string> a, b;
    for (const auto& [k, f] : (*rolled)->state().files) a.push_back(k);
    for (const auto& [k, f] : fresh->files) b.push_back(k);
    EXPECT_EQ(a, b);
    EXPECT_EQ((*rolled)->version(), fresh->version);
    EXPECT_EQ((*rolled)->state().txns.size(), fresh->txns.size());
  }
  // A corrupted _last_checkpoint changes nothing: the log is listed.
  ASSERT_TRUE(fs->WriteFile(JoinPath(LogDir(path), "_last_checkpoint"), "garbage").ok());
  EXPECT_EQ(Ids(*table->Latest()).size(), Ids(*table->AtVersion(25)).size());
  // Time travel by timestamp: each commit's time selects its version.
  auto history = table->History();
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->size(), 26u);
  EXPECT_EQ((*history)[0].version, 25);
  // Each version is found again by the timestamp its history entry shows.
  for (const auto& e : *history) {
    auto at = table->AtTimestamp(e.timestamp_millis);
    ASSERT_TRUE(at.ok()) << at.status().ToString();
    EXPECT_EQ((*at)->version(), e.version);
  }
  auto by_ts = table->AtTimestamp(Clock::System()->NowMillis() + 1000);
  ASSERT_TRUE(by_ts.ok());
  EXPECT_EQ((*by_ts)->version(), 25);
  EXPECT_EQ(table->AtTimestamp(1000).status().code(), StatusCode::kNotFound);
}

TEST(DeltaTable, CheckpointIntervalIsConfigurable) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = CreateTable(path, {}, {{"delta.checkpointInterval", "3"}});
  for (int v = 1; v <= 6; ++v) ASSERT_TRUE(table->Write({MakeBatch(v, v + 1)}, {}).ok());
  EXPECT_TRUE(FileSystem::Default()->Exists(JoinPath(LogDir(path), "00000000000000000003.checkpoint.parquet")));
  EXPECT_TRUE(FileSystem::Default()->Exists(JoinPath(LogDir(path), "00000000000000000006.checkpoint.parquet")));
  EXPECT_EQ(Ids(*table->Latest()), Range(1, 7));
}

TEST(DeltaTable, ADeferredCheckpointIsHandedToTheSinkAndWrittenByItsTask) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = CreateTable(path, {}, {{"delta.checkpointInterval", "3"}});
  auto checkpoint = [&](int v) {
    return JoinPath(LogDir(path), "0000000000000000000" + std::to_string(v) + ".checkpoint.parquet");
  };
  std::vector<std::pair<int64_t, std::function<Status()>>> tasks;
  {
    ScopedCheckpointDeferral defer([&](const std::string& table_path, int64_t version, std::function<Status()> write) {
      EXPECT_EQ(table_path, path);
      tasks.emplace_back(version, std::move(write));
    });
    for (int v = 1; v <= 6; ++v) ASSERT_TRUE(table->Write({MakeBatch(v, v + 1)}, {}).ok());
  }
  // The commits returned without writing their checkpoints: the sink has them.
  EXPECT_FALSE(FileSystem::Default()->Exists(checkpoint(3)));
  EXPECT_FALSE(FileSystem::Default()->Exists(checkpoint(6)));
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].first, 3);
  EXPECT_EQ(tasks[1].first, 6);
  for (auto& [version, write] : tasks) ASSERT_TRUE(write().ok()) << version;
  EXPECT_TRUE(FileSystem::Default()->Exists(checkpoint(3)));
  EXPECT_TRUE(FileSystem::Default()->Exists(checkpoint(6)));
  auto last = FileSystem::Default()->ReadFile(JoinPath(LogDir(path), "_last_checkpoint"));
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(nlohmann::json::parse(*last)["version"].get<int64_t>(), 6);
  // A new reader starts from that checkpoint and sees every row.
  auto reopened = DeltaTable::Open(path);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(Ids(*(*reopened)->Latest()), Range(1, 7));
  // Without a deferral on the thread, the commit writes its checkpoint again.
  for (int v = 7; v <= 9; ++v) ASSERT_TRUE(table->Write({MakeBatch(v, v + 1)}, {}).ok());
  EXPECT_TRUE(FileSystem::Default()->Exists(checkpoint(9)));
  EXPECT_EQ(tasks.size(), 2u);
}

TEST(DeltaTable, RacingAppendsAllLandOnAContiguousLog) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = CreateTable(path);
  constexpr int kThreads = 2, kCommits = 8;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto mine = DeltaTable::Open(path);
      for (int i = 0; i < kCommits; ++i) {
        int64_t base = (t * kCommits + i) * 10;
        auto r = (*mine)->Write({MakeBatch(base, base + 10)}, {});
        if (!r.ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(*table->LatestVersion(), kThreads * kCommits);
  EXPECT_EQ(Ids(*table->Latest()), Range(0, kThreads * kCommits * 10));
}

TEST(DeltaTable, ConflictRules) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = CreateTable(path);
  ASSERT_TRUE(table->Write({MakeBatch(0, 5)}, {}).ok());
  // An append prepared at version 1 loses the race to another append and retries.
  auto slow = table->NewWriter({});
  ASSERT_TRUE(slow.ok());
  ASSERT_TRUE((*slow)->Write(MakeBatch(5, 10)).ok());
  ASSERT_TRUE(table->Write({MakeBatch(10, 15)}, {}).ok());  // version 2
  auto r = (*slow)->Commit();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->version, 3);
  EXPECT_EQ(r->attempts, 2);
  // An overwrite that read version 3 conflicts with a concurrent append.
  WriteOptions ow;
  ow.mode = WriteMode::kOverwrite;
  auto over = table->NewWriter(ow);
  ASSERT_TRUE((*over)->Write(MakeBatch(100, 101)).ok());
  ASSERT_TRUE(table->Write({MakeBatch(15, 16)}, {}).ok());  // version 4
  auto c = (*over)->Commit();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kConflict);
  EXPECT_NE(c.status().message().find("version 4"), std::string::npos) << c.status().message();
  // The log stays contiguous and no data was lost.
  EXPECT_EQ(*table->LatestVersion(), 4);
  EXPECT_EQ(Ids(*table->Latest()), Range(0, 16));
  // An append racing a metadata change (schema evolution) conflicts.
  auto app = table->NewWriter({});
  ASSERT_TRUE((*app)->Write(MakeBatch(16, 17)).ok());
  WriteOptions merge;
  merge.merge_schema = true;
  auto extra = Schema::ParseDDL("id BIGINT, name STRING, price DOUBLE, day DATE, ts TIMESTAMP, extra STRING");
  ASSERT_TRUE(table->Write({MakeBatch(17, 18, *extra)}, merge).ok());
  EXPECT_EQ((*app)->Commit().status().code(), StatusCode::kConflict);
}

// Two writers create the same table at once (two runs appending to one table at a
// LOCATION, docs/scale-out.md): the loser of version 0 appends its rows at version 1 when
// the winner's columns are its own, and still fails when they are not.
TEST(DeltaTable, ConcurrentCreationsAppendWhenTheColumnsAgree) {
  testing::TempDir dir;
  std::string path = dir.Join("shared");
  auto writer = [&](const std::string& app, const Schema& schema, int64_t from, int64_t to) {
    WriteOptions wo;
    wo.create_if_missing = CreateOptions{};
    wo.create_if_missing->partition_columns = {"day"};
    wo.txn_app_id = app;
    wo.txn_version = 0;
    auto w = DeltaTable::NewWriter(path, wo);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_TRUE((*w)->Write(MakeBatch(from, to, schema)).ok());
    return std::move(*w);
  };
  auto a = writer("run-a", TestSchema(), 0, 6);
  auto b = writer("run-b", TestSchema(), 6, 12);
  auto odd = writer("run-c", *Schema::ParseDDL("id BIGINT, name STRING, price DOUBLE, day DATE, ts TIMESTAMP, x INT"),
                    12, 13);
  auto ra = a->Commit();
  ASSERT_TRUE(ra.ok()) << ra.status().ToString();
  EXPECT_EQ(ra->version, 0);
  auto rb = b->Commit();
  ASSERT_TRUE(rb.ok()) << rb.status().ToString();
  EXPECT_EQ(rb->version, 1);
  EXPECT_FALSE(rb->already_committed);
  auto lines = CommitLines(path, 1);
  for (const auto& l : lines) {
    EXPECT_FALSE(l.contains("metaData")) << l;
    EXPECT_FALSE(l.contains("protocol")) << l;
  }
  auto rc = odd->Commit();
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.status().code(), StatusCode::kConflict);
  auto table = DeltaTable::Open(path);
  ASSERT_TRUE(table.ok());
  auto snap = (*table)->Latest();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ((*snap)->version(), 1);
  EXPECT_EQ(Ids(*snap), Range(0, 12));
  EXPECT_EQ((*snap)->TxnVersion("run-a"), 0);
  EXPECT_EQ((*snap)->TxnVersion("run-b"), 0);
  // The failed writer left no data file behind: every Parquet file is in the table.
  size_t parquet = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(path))
    parquet += e.path().extension() == ".parquet" && e.path().string().find("_delta_log") == std::string::npos;
  EXPECT_EQ(parquet, (*snap)->files().size());
}

TEST(DeltaTable, TxnMakesWritesIdempotent) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = CreateTable(path);
  WriteOptions wo;
  wo.txn_app_id = "flow-orders";
  wo.txn_version = 1;
  auto r1 = table->Write({MakeBatch(0, 5)}, wo);
  ASSERT_TRUE(r1.ok());
  EXPECT_FALSE(r1->already_committed);
  auto again = table->Write({MakeBatch(0, 5)}, wo);  // a replayed batch 1
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_committed);
  EXPECT_EQ(*table->LatestVersion(), 1);
  wo.txn_version = 2;
  auto r2 = table->Write({MakeBatch(5, 8)}, wo);
  ASSERT_TRUE(r2.ok());
  EXPECT_FALSE(r2->already_committed);
  auto snap = table->Latest();
  EXPECT_EQ((*snap)->TxnVersion("flow-orders"), 2);
  EXPECT_EQ((*snap)->TxnVersion("other"), std::nullopt);
  EXPECT_EQ(Ids(*snap), Range(0, 8));
  // Two writers with the same batch racing: one commits, the other learns it is done.
  wo.txn_version = 3;
  auto a = table->NewWriter(wo);
  auto b = table->NewWriter(wo);
  ASSERT_TRUE((*a)->Write(MakeBatch(8, 10)).ok());
  ASSERT_TRUE((*b)->Write(MakeBatch(8, 10)).ok());
  auto ra = (*a)->Commit();
  auto rb = (*b)->Commit();
  ASSERT_TRUE(ra.ok() && rb.ok()) << ra.status().ToString() << rb.status().ToString();
  EXPECT_FALSE(ra->already_committed);
  EXPECT_TRUE(rb->already_committed);
  EXPECT_EQ(Ids(*table->Latest()), Range(0, 10));
  // The loser's data files were deleted, not left behind.
  std::vector<FileInfo> files;
  ASSERT_TRUE(ListDataFilesRecursive(FileSystem::Default(), path, "", &files).ok());
  EXPECT_EQ(files.size(), (*table->Latest())->files().size());
}

// Issue 19: an emptied or cut-off newest commit is corruption, named by its file; it is
// never read as an empty commit (that lost its rows), and a writer does not append after it.
TEST(DeltaTable, EmptiedOrTruncatedNewestCommitIsRefusedByName) {
  for (const std::string damage : {"empty", "blank", "cut"}) {
    SCOPED_TRACE(damage);
    testing::TempDir dir;
    std::string path = dir.Join("t");
    auto table = CreateTable(path);
    ASSERT_NE(table, nullptr);
    ASSERT_TRUE(table->Write({MakeBatch(0, 5)}, {}).ok());
    ASSERT_TRUE(table->Write({MakeBatch(5, 9)}, {}).ok());
    std::string newest = JoinPath(LogDir(path), CommitFileName(2));
    auto text = FileSystem::Default()->ReadFile(newest);
    ASSERT_TRUE(text.ok());
    std::string damaged = damage == "empty" ? "" : damage == "blank" ? "\n\n" : text->substr(0, text->size() / 2);
    ASSERT_TRUE(FileSystem::Default()->WriteFile(newest, damaged).ok());
    auto reopened = DeltaTable::Open(path);
    Status st = reopened.ok() ? (*reopened)->Latest().status() : reopened.status();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
    EXPECT_NE(st.message().find("00000000000000000002.json"), std::string::npos) << st.ToString();
    EXPECT_NE(st.message().find(path), std::string::npos) << st.ToString();
    // A new writer (a restarted run) refuses too: it never commits version 3 after it.
    if (reopened.ok()) {
      auto appended = (*reopened)->Write({MakeBatch(9, 10)}, {});
      EXPECT_FALSE(appended.ok());
    }
    EXPECT_FALSE(FileSystem::Default()->Exists(JoinPath(LogDir(path), CommitFileName(3))));
    // Older versions stay readable (time travel to before the damage).
    if (reopened.ok()) {
      auto v1 = (*reopened)->AtVersion(1);
      ASSERT_TRUE(v1.ok()) << v1.status().ToString();
      EXPECT_EQ(Ids(*v1), Range(0, 5));
    }
  }
}

// Every write, fsync, link and rename of a commit fails in turn: each failure is an
// error, no partial commit is visible, and a retry after Clear() succeeds.
TEST(DeltaTable, FaultInjectionAtEveryStepOfACommit) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = CreateTable(path);
  ASSERT_TRUE(table->Write({MakeBatch(0, 3)}, {}).ok());
  FaultInjectingFileSystem faulty(FileSystem::Default());
  auto ftable = DeltaTable::Open(path, &faulty);
  ASSERT_TRUE(ftable.ok());
  int64_t next_id = 3;
  int injected = 0;
  for (int64_t n = 1; n < 200; ++n) {
    int64_t before = *table->LatestVersion();
    faulty.FailAt(n, n % 2 ? FaultInjectingFileSystem::Fault::kIOError
                           : FaultInjectingFileSystem::Fault::kNoSpace);
    auto r = (*ftable)->Write({MakeBatch(next_id, next_id + 2)}, {});
    bool fired = faulty.fired();
    faulty.Clear();
    if (!fired) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      next_id += 2;
      break;  // the commit needs fewer than n operations: every step was covered
    }
    ++injected;
    int64_t after = *table->LatestVersion();
    if (r.ok()) {
      // The fault hit the checkpoint after the commit (which must not fail it).
      next_id += 2;
    } else if (after != before) {
      // The commit became visible before the failing step (directory fsync): the
      // error says so and the commit is complete.
      EXPECT_NE(r.status().message().find("visible"), std::string::npos) << r.status().ToString();
      next_id += 2;
    } else {
      // Retry the same batch: it succeeds, exactly once.
      auto retry = (*ftable)->Write({MakeBatch(next_id, next_id + 2)}, {});
      ASSERT_TRUE(retry.ok()) << retry.status().ToString();
      next_id += 2;
    }
    auto snap = table->Latest();
    ASSERT_TRUE(snap.ok()) << snap.status().ToString();
    ASSERT_EQ(Ids(*snap), Range(0, next_id)) << "fault at operation " << n;
    // A failed write leaves no data file that no version names (issue 19).
    std::vector<FileInfo> files;
    ASSERT_TRUE(ListDataFilesRecursive(FileSystem::Default(), path, "", &files).ok());
    EXPECT_EQ(files.size(), (*snap)->files().size()) << "fault at operation " << n << ": " << r.status().ToString();
  }
  EXPECT_GE(injected, 5);
}

// ENOSPC in the middle of a write of several files (one per partition): the writer's
// files are deleted, whether the caller gives up after the failed Write or the failure
// comes at Commit; OPTIMIZE cleans up the same way.
TEST(DeltaTable, FailedWritesLeaveNoDataFiles) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = CreateTable(path, {"day"});
  ASSERT_TRUE(table->Write({MakeBatch(0, 6)}, {}).ok());
  ASSERT_TRUE(table->Write({MakeBatch(6, 12)}, {}).ok());
  auto count_files = [&] {
    std::vector<FileInfo> files;
    EXPECT_TRUE(ListDataFilesRecursive(FileSystem::Default(), path, "", &files).ok());
    return files.size();
  };
  size_t before = count_files();
  ASSERT_EQ(before, (*table->Latest())->files().size());
  FaultInjectingFileSystem faulty(FileSystem::Default());
  auto ftable = DeltaTable::Open(path, &faulty);
  ASSERT_TRUE(ftable.ok());
  int64_t v0 = *table->LatestVersion();
  int fired = 0;
  for (int64_t n = 1; n < 60; ++n) {
    faulty.FailAt(n, FaultInjectingFileSystem::Fault::kNoSpace);
    Status st;
    {
      auto writer = (*ftable)->NewWriter(WriteOptions{});
      ASSERT_TRUE(writer.ok());
      st = (*writer)->Write(MakeBatch(100, 112));
      if (st.ok()) st = (*writer)->Write(MakeBatch(200, 212));
      if (st.ok()) st = (*writer)->Commit().status();
    }  // a writer whose Write failed is dropped here, uncommitted
    bool hit = faulty.fired();
    faulty.Clear();
    if (!hit || *table->LatestVersion() != v0) break;  // done, or the fault came after the commit
    ++fired;
    EXPECT_EQ(st.code(), StatusCode::kNoSpace) << st.ToString();
    EXPECT_EQ(count_files(), before) << "fault at operation " << n << ": " << st.ToString();
  }
  EXPECT_GE(fired, 3);
  // OPTIMIZE with no space: no half-written compacted file stays.
  auto fresh = DeltaTable::Open(path, &faulty);
  ASSERT_TRUE(fresh.ok());
  size_t now = count_files();
  size_t referenced = (*table->Latest())->files().size();
  ASSERT_EQ(now, referenced);
  faulty.FailAt(2, FaultInjectingFileSystem::Fault::kNoSpace);
  auto optimized = (*fresh)->Optimize();
  ASSERT_TRUE(faulty.fired());
  faulty.Clear();
  EXPECT_FALSE(optimized.ok());
  EXPECT_EQ(count_files(), now);
}

TEST(DeltaTable, OptimizeCompactsPerPartitionWithoutChangingData) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = CreateTable(path, {"day"});
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(table->Write({MakeBatch(i * 6, i * 6 + 6)}, {}).ok());
  auto before = table->Latest();
  EXPECT_EQ((*before)->files().size(), 12u);  // 4 commits x 3 days
  auto r = table->Optimize();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->version.has_value());
  EXPECT_EQ(r->files_removed, 12);
  EXPECT_EQ(r->files_added, 3);
  auto after = table->Latest();
  EXPECT_EQ((*after)->files().size(), 3u);
  EXPECT_EQ(Ids(*after), Range(0, 24));
  for (const auto& f : (*after)->files()) EXPECT_FALSE(f.add.data_change);
  auto lines = CommitLines(path, *r->version);
  EXPECT_EQ(lines[0]["commitInfo"]["operation"], "OPTIMIZE");
  for (const auto& l : lines) {
    if (l.contains("remove")) {
      EXPECT_EQ(l["remove"]["dataChange"], false);
    }
    if (l.contains("add")) {
      EXPECT_EQ(l["add"]["dataChange"], false);
      // Its level, for auto-compaction (files no OPTIMIZE wrote are level 0).
      EXPECT_EQ(l["add"]["tags"]["lakepipe.compacted"], "1");
    }
  }
  // Nothing left to compact.
  auto again = table->Optimize();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->version.has_value());
}

TEST(DeltaTable, VacuumHonoursRetentionAndKeepsReferencedFiles) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  ManualClock clock(Clock::System()->NowMicros());
  TableOptions topts;
  topts.clock = &clock;
  CreateOptions co;
  co.schema = TestSchema();
  auto table = DeltaTable::Create(path, co, FileSystem::Default(), topts);
  ASSERT_TRUE(table.ok());
  ASSERT_TRUE((*table)->Write({MakeBatch(0, 5)}, {}).ok());
  WriteOptions ow;
  ow.mode = WriteMode::kOverwrite;
  ASSERT_TRUE((*table)->Write({MakeBatch(5, 10)}, ow).ok());
  ASSERT_TRUE(FileSystem::Default()->WriteFile(path + "/orphan.parquet", "not in the log").ok());

  VacuumOptions short_retention;
  short_retention.retention_hours = 0;
  auto refused = (*table)->Vacuum(short_retention);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("168"), std::string::npos) << refused.status().message();
  EXPECT_NE(refused.status().message().find("override"), std::string::npos);

  // With the default retention nothing is old enough yet.
  auto none = (*table)->Vacuum();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->deleted.empty());

  // Eight days later the removed file and the orphan go; the active file stays.
  clock.Advance(8LL * 24 * 3600 * kMicrosPerSecond);
  VacuumOptions dry;
  dry.dry_run = true;
  auto listed = (*table)->Vacuum(dry);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->deleted.size(), 2u);
  auto done = (*table)->Vacuum();
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->deleted.size(), 2u);
  EXPECT_FALSE(FileSystem::Default()->Exists(path + "/orphan.parquet"));
  auto snap = (*table)->Latest();
  for (const auto& f : (*snap)->files()) EXPECT_TRUE(FileSystem::Default()->Exists(f.full_path));
  EXPECT_EQ(Ids(*snap), Range(5, 10));
  auto history = (*table)->History(2);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ((*history)[0].operation, "VACUUM END");
  EXPECT_EQ((*history)[1].operation, "VACUUM START");
  // The explicit override allows a zero retention.
  short_retention.disable_retention_check = true;
  EXPECT_TRUE((*table)->Vacuum(short_retention).ok());
}

TEST(DeltaTable, RefusesUnsupportedWriterFeatures) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  ASSERT_TRUE(FileSystem::Default()->CreateDirs(LogDir(path)).ok());
  std::string v0 =
      R"({"protocol":{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["changeDataFeed","generatedColumns","appendOnly"]}})" "\n"
      R"({"metaData":{"id":"x","format":{"provider":"parquet","options":{}},"schemaString":"{\"type\":\"struct\",\"fields\":[{\"name\":\"id\",\"type\":\"long\",\"nullable\":true,\"metadata\":{}}]}","partitionColumns":[],"configuration":{}}})" "\n";
  ASSERT_TRUE(FileSystem::Default()->WriteFile(JoinPath(LogDir(path), CommitFileName(0)), v0).ok());
  auto table = DeltaTable::Open(path);
  ASSERT_TRUE(table.ok());
  EXPECT_TRUE((*table)->Latest().ok());  // readable
  auto w = (*table)->NewWriter({});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kNotSupported);
  // changeDataFeed is honoured now (docs/delta.md, "Change data feed"); generatedColumns is not.
  EXPECT_NE(w.status().message().find("generatedColumns"), std::string::npos) << w.status().message();
}

TEST(DeltaTable, DuckDbReadsOurDataFiles) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = CreateTable(path, {"day"});
  ASSERT_TRUE(table->Write({MakeBatch(0, 50)}, {}).ok());
  ASSERT_TRUE(table->Write({MakeBatch(50, 60)}, {}).ok());
  auto snap = table->Latest();
  std::string list;
  for (const auto& f : (*snap)->files()) list += (list.empty() ? "'" : ", '") + f.full_path + "'";
  auto out = testing::RunDuckDB(
      "SELECT count(*) AS n, sum(id) AS s, count(price) AS p, min(name) AS mn, "
      "strftime(max(ts), '%Y-%m-%d %H:%M:%S.%f') AS mt FROM read_parquet([" + list + "])");
  if (!out.ok() && out.status().IsNotFound()) GTEST_SKIP() << out.status().ToString();
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  json row = json::parse(out->substr(0, out->find('\n')));
  auto num = [](const json& j) { return std::stoll(j.is_string() ? j.get<std::string>() : j.dump()); };
  EXPECT_EQ(num(row["n"]), 60);
  EXPECT_EQ(num(row["s"]), 59 * 60 / 2);
  EXPECT_EQ(num(row["p"]), 60 - 9);  // ids with id % 7 == 3 are NULL
  EXPECT_EQ(row["mn"], "n0");
  EXPECT_EQ(row["mt"], "2024-01-01 00:00:59.000123");
}

}  // namespace
}  // namespace lakepipe::delta

namespace lakepipe::delta {
namespace {

// DuckDB's delta extension, when it can be loaded (it needs a download, so usually not
// offline), reads the whole table through our log; our checkpoint file is read by
// DuckDB's Parquet reader in any case, checking its nested layout independently.
TEST(DeltaTable, DuckDbReadsOurCheckpointAndLog) {
  testing::TempDir dir;
  std::string path = dir.Join("t");
  auto table = CreateTable(path, {"day"});
  for (int v = 1; v <= 10; ++v) ASSERT_TRUE(table->Write({MakeBatch(v * 10, v * 10 + 3)}, {}).ok());
  std::string cp = JoinPath(LogDir(path), "00000000000000000010.checkpoint.parquet");
  ASSERT_TRUE(FileSystem::Default()->Exists(cp));
  auto out = testing::RunDuckDB(
      "SELECT count(\"add\") AS adds, count(metaData) AS metas, count(protocol) AS protos, "
      "min(protocol.minWriterVersion) AS writer, "
      "count(*) FILTER (WHERE \"add\".deletionVector IS NULL AND \"add\" IS NOT NULL) AS no_dv, "
      "max(\"add\".partitionValues['day']) AS max_day, "
      "max(metaData.partitionColumns[1]) AS pcol FROM read_parquet('" + cp + "')");
  if (!out.ok() && out.status().IsNotFound()) GTEST_SKIP() << out.status().ToString();
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  json row = json::parse(out->substr(0, out->find('\n')));
  auto num = [](const json& j) { return std::stoll(j.is_string() ? j.get<std::string>() : j.dump()); };
  EXPECT_EQ(num(row["adds"]), 30);  // 10 commits x 3 days
  EXPECT_EQ(num(row["no_dv"]), 30);
  EXPECT_EQ(num(row["metas"]), 1);
  EXPECT_EQ(num(row["protos"]), 1);
  EXPECT_EQ(num(row["writer"]), 2);
  EXPECT_EQ(row["max_day"], "2024-01-03");
  EXPECT_EQ(row["pcol"], "day");

  auto scan = testing::RunDuckDB("SELECT count(*) AS n, sum(id) AS s FROM delta_scan('" + path + "')");
  if (!scan.ok()) {
    std::cout << "DuckDB delta extension unavailable (" << scan.status().message().substr(0, 120)
              << "...); checked the data files with read_parquet instead\n";
    return;
  }
  json r = json::parse(scan->substr(0, scan->find('\n')));
  EXPECT_EQ(num(r["n"]), 30);
}

}  // namespace
}  // namespace lakepipe::delta

namespace lakepipe::delta {
namespace {

TEST(DeltaTable, WriterRollsDataFilesBySize) {
  testing::TempDir dir;
  auto table = CreateTable(dir.Join("t"));
  WriteOptions wo;
  wo.target_file_bytes = 1;  // every batch closes its file
  auto w = table->NewWriter(wo);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*w)->Write(MakeBatch(i * 5, i * 5 + 5)).ok());
  auto r = (*w)->Commit();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->num_files, 4);
  auto snap = table->Latest();
  ASSERT_EQ((*snap)->files().size(), 4u);
  std::set<std::string> names;
  for (const auto& f : (*snap)->files()) names.insert(f.add.path);
  EXPECT_EQ(names.size(), 4u);  // uniquely named
  EXPECT_EQ(Ids(*snap), Range(0, 20));
  EXPECT_EQ((*w)->Write(MakeBatch(0, 1)).code(), StatusCode::kInvalidArgument);  // after Commit
}

}  // namespace
}  // namespace lakepipe::delta

namespace lakepipe::delta {
namespace {

TEST(DeltaTable, StatsForStructLeavesAndNaN) {
  testing::TempDir dir;
  CreateOptions co;
  co.schema = *Schema::ParseDDL("id BIGINT, s STRUCT<x: INT, y: STRING>, f DOUBLE, g DOUBLE");
  auto table = DeltaTable::Create(dir.Join("t"), co);
  ASSERT_TRUE(table.ok());
  std::vector<Column> cols;
  for (const auto& f : co.schema.fields()) cols.emplace_back(f.type);
  for (int i = 0; i < 4; ++i) {
    cols[0].Append<int64_t>(i);
    cols[1].child(0).Append<int32_t>(10 + i);
    if (i == 2) cols[1].child(1).AppendNull(); else cols[1].child(1).AppendString("s" + std::to_string(i));
    cols[1].CloseStructRow();
    cols[2].Append<double>(i == 1 ? std::nan("") : i * 1.0);  // one NaN among numbers
    cols[3].Append<double>(i * 2.0);
  }
  ASSERT_TRUE((*table)->Write({RecordBatch::FromColumns(co.schema, std::move(cols))}, {}).ok());
  auto lines = CommitLines((*table)->path(), 1);
  json stats = json::parse(lines[1]["add"]["stats"].get<std::string>());
  EXPECT_EQ(stats["minValues"]["s"]["x"], 10);
  EXPECT_EQ(stats["maxValues"]["s"]["x"], 13);
  EXPECT_EQ(stats["nullCount"]["s"]["y"], 1);
  EXPECT_FALSE(stats["minValues"].contains("f"));  // a NaN: no bounds
  EXPECT_FALSE(stats["maxValues"].contains("f"));
  EXPECT_EQ(stats["nullCount"]["f"], 0);
  EXPECT_EQ(stats["maxValues"]["g"], 6.0);
}

}  // namespace
}  // namespace lakepipe::delta
