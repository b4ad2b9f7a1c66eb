// Tests of the change data feed: writer version 4, `_change_data` files and `cdc`
// actions written by row-level commits, read back by DuckDB and by ReadChanges, checked
// against the versions' differences computed independently (DuckDB EXCEPT ALL over each
// version's data files, and a model of the table kept by the test); VACUUM and refusals.
#include "delta/change_feed.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "delta/row_changes.h"
#include "testing/testing.h"

namespace lakepipe::delta {
namespace {

using Model = std::map<int64_t, std::string>;

Schema KvSchema() { return *Schema::ParseDDL("id BIGINT, name STRING"); }

RecordBatch Rows(const Model& rows) {
  Column id(DataType::Long()), name(DataType::String());
  for (const auto& [k, v] : rows) {
    id.Append<int64_t>(k);
    name.AppendString(v);
  }
  std::vector<Column> cols;
  cols.push_back(std::move(id));
  cols.push_back(std::move(name));
  return RecordBatch::FromColumns(KvSchema(), std::move(cols));
}

RecordBatch Keys(const std::set<int64_t>& ids) {
  Column id(DataType::Long());
  for (int64_t k : ids) id.Append<int64_t>(k);
  std::vector<Column> cols;
  cols.push_back(std::move(id));
  return RecordBatch::FromColumns(*Schema::ParseDDL("id BIGINT"), std::move(cols));
}

Result<RowChangeResult> Upsert(const DeltaTable& t, const Model& rows, const std::set<int64_t>& deletes) {
  std::set<int64_t> ids = deletes;
  for (const auto& r : rows) ids.insert(r.first);
  KeyedReplace change;
  change.key_columns = {"id"};
  change.keys = Keys(ids);
  RecordBatch replacement = Rows(rows);
  return ReplaceKeyedRows(t, change, [&](const RecordBatch&) -> Result<RecordBatch> { return replacement; }, {});
}

struct Change {
  int64_t id;
  std::string name;
  std::string type;
  int64_t version;
};

std::vector<Change> Flatten(const std::vector<RecordBatch>& batches) {
  std::vector<Change> out;
  for (const auto& b : batches) {
    const Column* id = b.ColumnByName("id");
    const Column* name = b.ColumnByName("name");
    const Column* type = b.ColumnByName(kChangeTypeColumn);
    const Column* version = b.ColumnByName(kCommitVersionColumn);
    EXPECT_NE(b.ColumnByName(kCommitTimestampColumn), nullptr);
    for (int64_t r = 0; r < b.num_rows(); ++r) {
      out.push_back({id->Get<int64_t>(r), std::string(name->GetString(r)), std::string(type->GetString(r)),
                     version->Get<int64_t>(r)});
    }
  }
  return out;
}

// Applies change rows to a model: deletes and preimages must match what is there.
void Apply(const std::vector<Change>& changes, Model* m) {
  // Per version: removals first, then additions (a version's rows are one change).
  std::map<int64_t, std::vector<const Change*>> by_version;
  for (const auto& c : changes) by_version[c.version].push_back(&c);
  for (const auto& [v, cs] : by_version) {
    for (const Change* c : cs) {
      if (c->type == kChangeDelete || c->type == kChangeUpdatePreimage) {
        auto it = m->find(c->id);
        ASSERT_TRUE(it != m->end()) << "version " << v << ": " << c->type << " of absent key " << c->id;
        EXPECT_EQ(it->second, c->name) << "version " << v << ": " << c->type << " of key " << c->id;
        m->erase(it);
      }
    }
    for (const Change* c : cs) {
      if (c->type == kChangeInsert || c->type == kChangeUpdatePostimage) {
        EXPECT_FALSE(m->count(c->id)) << "version " << v << ": " << c->type << " of present key " << c->id;
        (*m)[c->id] = c->name;
      }
    }
  }
}

std::string ListSql(const std::vector<std::string>& files, const std::string& cols) {
  if (files.empty()) return "SELECT NULL::BIGINT AS id, NULL::VARCHAR AS name" + cols + " WHERE false";
  std::string list;
  for (const auto& f : files) list += (list.empty() ? "'" : ", '") + f + "'";
  return "SELECT * FROM read_parquet([" + list + "])";
}

std::vector<std::string> ActiveFiles(const DeltaTable& t, int64_t version) {
  std::vector<std::string> out;
  SnapshotPtr snap = *t.AtVersion(version);
  for (const auto& f : snap->files()) out.push_back(f.full_path);
  return out;
}

// The cdc actions' files of one commit, straight from the log JSON.
std::vector<std::string> CdcFiles(const std::string& table, int64_t version) {
  std::vector<std::string> out;
  auto text = FileSystem::Default()->ReadFile(table + "/_delta_log/" + CommitFileName(version));
  EXPECT_TRUE(text.ok());
  size_t pos = 0;
  while (pos < text->size()) {
    size_t nl = text->find('\n', pos);
    if (nl == std::string::npos) nl = text->size();
    auto j = nlohmann::json::parse(text->substr(pos, nl - pos), nullptr, false);
    pos = nl + 1;
    if (j.is_object() && j.contains("cdc")) {
      EXPECT_EQ(j["cdc"]["dataChange"], false);
      std::string p = j["cdc"]["path"];
      EXPECT_EQ(p.rfind("_change_data/", 0), 0u) << p;
      EXPECT_NE(p.find("/cdc-"), std::string::npos) << p;
      out.push_back(table + "/" + p);
    }
  }
  return out;
}

class ChangeFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.Join("t");
    CreateOptions c;
    c.schema = KvSchema();
    c.configuration["delta.enableChangeDataFeed"] = "true";
    auto created = DeltaTable::Create(path_, c);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    table_ = std::move(created).value();
  }
  testing::TempDir dir_;
  std::string path_;
  std::unique_ptr<DeltaTable> table_;
};

TEST_F(ChangeFeedTest, TableIsCreatedAtWriterVersionFour) {
  auto snap = *table_->Latest();
  EXPECT_EQ(snap->protocol().min_reader_version, 1);
  EXPECT_EQ(snap->protocol().min_writer_version, 4);
  EXPECT_TRUE(HasChangeDataFeed(*snap));
  // A table created by its first write gets it too.
  WriteOptions w;
  w.create_if_missing = CreateOptions{};
  w.create_if_missing->configuration["delta.enableChangeDataFeed"] = "true";
  auto writer = DeltaTable::NewWriter(dir_.Join("u"), w);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write(Rows({{1, "a"}})).ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  auto u = *(*DeltaTable::Open(dir_.Join("u")))->Latest();
  EXPECT_EQ(u->protocol().min_writer_version, 4);
  // Without the property: (1, 2) as before.
  CreateOptions plain;
  plain.schema = KvSchema();
  auto p = *(*DeltaTable::Create(dir_.Join("p"), plain))->Latest();
  EXPECT_EQ(p->protocol().min_writer_version, 2);
  EXPECT_FALSE(HasChangeDataFeed(*p));
}

TEST_F(ChangeFeedTest, UpsertWritesChangeDataFilesWithEveryChangeType) {
  ASSERT_TRUE(table_->Write({Rows({{1, "a"}, {2, "b"}, {3, "c"}})}, {}).ok());  // v1: append
  auto r = Upsert(*table_, {{1, "a2"}, {3, "c"}, {4, "d"}}, {2});               // v2
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->committed);
  EXPECT_EQ(r->version, 2);
  ASSERT_FALSE(CdcFiles(path_, 2).empty());
  EXPECT_TRUE(CdcFiles(path_, 1).empty());  // a plain append writes none
  auto changes = ReadChanges(*table_, 1, 2);
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  auto flat = Flatten(*changes);
  std::multiset<std::string> got;
  for (const auto& c : flat) got.insert(std::to_string(c.version) + ":" + c.type + ":" + std::to_string(c.id) + "=" + c.name);
  // Key 3 was replaced by an identical row: no change. The append's rows are inserts.
  std::multiset<std::string> want = {"1:insert:1=a",           "1:insert:2=b",          "1:insert:3=c",
                                     "2:update_preimage:1=a",  "2:update_postimage:1=a2", "2:delete:2=b",
                                     "2:insert:4=d"};
  EXPECT_EQ(got, want);
  // Preimage and postimage of one key come next to each other.
  for (size_t i = 0; i < flat.size(); ++i) {
    if (flat[i].type == kChangeUpdatePreimage) {
      ASSERT_LT(i + 1, flat.size());
      EXPECT_EQ(flat[i + 1].type, kChangeUpdatePostimage);
      EXPECT_EQ(flat[i + 1].id, flat[i].id);
    }
  }
  // _commit_timestamp is the time travel timestamp of the version.
  auto history = *table_->History();
  for (const auto& b : *changes) {
    const Column* v = b.ColumnByName(kCommitVersionColumn);
    const Column* ts = b.ColumnByName(kCommitTimestampColumn);
    for (int64_t i = 0; i < b.num_rows(); ++i) {
      for (const auto& h : history) {
        if (h.version == v->Get<int64_t>(i)) {
          EXPECT_EQ(ts->Get<int64_t>(i), h.timestamp_millis * 1000);
        }
      }
    }
  }
  // DuckDB reads the change data file as Parquet: the table's columns and _change_type.
  auto rows = testing::DuckDBRows("SELECT id, name, _change_type AS t FROM " +
                                  ("read_parquet([" + [&] {
                                    std::string l;
                                    for (const auto& f : CdcFiles(path_, 2)) l += (l.empty() ? "'" : ", '") + f + "'";
                                    return l;
                                  }() + "])") + " ORDER BY id, t");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0]["t"], "update_postimage");
  EXPECT_EQ(rows[0]["name"], "a2");
  EXPECT_EQ(rows[1]["t"], "update_preimage");
  EXPECT_EQ(rows[2]["t"], "delete");
  EXPECT_EQ(rows[3]["t"], "insert");
  // DuckDB still reads the table itself: the active files hold the new contents.
  auto table_rows = testing::DuckDBRows("SELECT string_agg(id || '=' || name, ',' ORDER BY id) AS s FROM (" +
                                        ListSql(ActiveFiles(*table_, 2), "") + ")");
  ASSERT_EQ(table_rows.size(), 1u);
  EXPECT_EQ(table_rows[0]["s"], "1=a2,3=c,4=d");
}

// A random sequence of upserts, deletes by key, predicate deletes, appends and a
// truncate: every version's change rows (ReadChanges, and the cdc files through DuckDB)
// equal that version's difference computed independently.
TEST_F(ChangeFeedTest, RandomChangesEqualTheVersionsDifferences) {
  std::mt19937_64 rng(20261204);
  Model model;
  for (int64_t i = 0; i < 40; ++i) model[i] = "v" + std::to_string(i);
  ASSERT_TRUE(table_->Write({Rows(model)}, {}).ok());
  Model start_model;  // the table before version 1 (empty)
  int64_t first = 1, last = 1;
  std::vector<Model> at_version = {Model{}, model};
  for (int step = 0; step < 24; ++step) {
    int kind = static_cast<int>(rng() % 10);
    Model next = model;
    if (kind < 6) {
      Model rows;
      std::set<int64_t> deletes;
      for (int k = 0; k < 6; ++k) {
        int64_t id = static_cast<int64_t>(rng() % 60);
        if (rng() % 4 == 0) {
          deletes.insert(id);
          rows.erase(id);
        } else {
          deletes.erase(id);
          // Sometimes the same value again (no change), mostly a new one.
          rows[id] = rng() % 5 == 0 && model.count(id) ? model[id] : "s" + std::to_string(step) + "_" + std::to_string(k);
        }
      }
      for (int64_t d : deletes) next.erase(d);
      for (const auto& [k, v] : rows) next[k] = v;
      auto r = Upsert(*table_, rows, deletes);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      if (!r->committed) continue;
      last = r->version;
    } else if (kind < 8) {
      int64_t mod = 3 + static_cast<int64_t>(rng() % 4);
      std::vector<parquet::ColumnPredicate> none;
      auto r = DeleteRows(*table_, none, [&](const RecordBatch& rows) -> Result<std::vector<uint8_t>> {
        std::vector<uint8_t> mask(static_cast<size_t>(rows.num_rows()));
        const Column* id = rows.ColumnByName("id");
        for (int64_t i = 0; i < rows.num_rows(); ++i) mask[i] = id->Get<int64_t>(i) % mod == 0;
        return mask;
      }, "id % " + std::to_string(mod) + " = 0", {});
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      for (auto it = next.begin(); it != next.end();) it = it->first % mod == 0 ? next.erase(it) : std::next(it);
      if (!r->committed) continue;
      last = r->version;
    } else if (kind == 8) {
      Model rows;
      for (int k = 0; k < 3; ++k) {
        int64_t id = 100 + step * 10 + k;
        rows[id] = "a" + std::to_string(id);
      }
      for (const auto& [k, v] : rows) next[k] = v;
      auto r = table_->Write({Rows(rows)}, {});
      ASSERT_TRUE(r.ok());
      last = r->version;
    } else {
      // Truncate, then a few rows: every old row deleted, the new ones inserted.
      Model rows = {{1000 + step, "t"}};
      KeyedReplace change;
      change.key_columns = {"id"};
      change.keys = Keys({});
      change.truncate = true;
      RecordBatch replacement = Rows(rows);
      auto r = ReplaceKeyedRows(*table_, change,
                                [&](const RecordBatch&) -> Result<RecordBatch> { return replacement; }, {});
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      next = rows;
      if (!r->committed) continue;
      last = r->version;
    }
    model = next;
    ASSERT_EQ(static_cast<int64_t>(at_version.size()), last);
    at_version.push_back(model);
  }
  ASSERT_GT(last, 12);

  // Each version alone, and the whole range at once, replayed over the version before.
  for (int64_t v = first; v <= last; ++v) {
    auto changes = ReadChanges(*table_, v, v);
    ASSERT_TRUE(changes.ok()) << changes.status().ToString();
    Model m = at_version[static_cast<size_t>(v - 1)];
    Apply(Flatten(*changes), &m);
    EXPECT_EQ(m, at_version[static_cast<size_t>(v)]) << "version " << v;
  }
  auto all = ReadChanges(*table_, first, last);
  ASSERT_TRUE(all.ok());
  Model m = start_model;
  Apply(Flatten(*all), &m);
  EXPECT_EQ(m, model);

  // DuckDB, independently: per version, (old EXCEPT ALL new) = deletes + preimages and
  // (new EXCEPT ALL old) = inserts + postimages, where old/new are the versions' data
  // files and the change rows come from the cdc files (or, without them, from the
  // commit's added and removed files).
  std::string sql;
  for (int64_t v = first + 1; v <= last; ++v) {
    auto cdc = CdcFiles(path_, v);
    std::string changes_sql;
    if (!cdc.empty()) {
      changes_sql = ListSql(cdc, ", NULL::VARCHAR AS _change_type");
    } else {
      // An append: the version's new files are its inserts.
      auto prev = ActiveFiles(*table_, v - 1);
      std::vector<std::string> added;
      for (const auto& f : ActiveFiles(*table_, v))
        if (std::find(prev.begin(), prev.end(), f) == prev.end()) added.push_back(f);
      changes_sql = "SELECT *, 'insert' AS _change_type FROM (" + ListSql(added, "") + ")";
    }
    std::string V = std::to_string(v);
    sql += std::string(sql.empty() ? "" : " UNION ALL ") + "SELECT * FROM (WITH o AS (" +
           ListSql(ActiveFiles(*table_, v - 1), "") + "), n AS (" + ListSql(ActiveFiles(*table_, v), "") +
           "), c AS (" + changes_sql +
           "), gd AS (SELECT id, name FROM c WHERE _change_type IN ('delete', 'update_preimage')), "
           "gi AS (SELECT id, name FROM c WHERE _change_type IN ('insert', 'update_postimage')), "
           "ed AS (SELECT * FROM o EXCEPT ALL SELECT * FROM n), ei AS (SELECT * FROM n EXCEPT ALL SELECT * FROM o) "
           "SELECT " + V + " AS v, "
           "((SELECT count(*) FROM (SELECT * FROM ed EXCEPT ALL SELECT * FROM gd)) + "
           "(SELECT count(*) FROM (SELECT * FROM gd EXCEPT ALL SELECT * FROM ed)) + "
           "(SELECT count(*) FROM (SELECT * FROM ei EXCEPT ALL SELECT * FROM gi)) + "
           "(SELECT count(*) FROM (SELECT * FROM gi EXCEPT ALL SELECT * FROM ei)))::INTEGER AS mismatches, "
           "(SELECT count(*) FROM c)::INTEGER AS n)";
  }
  auto rows = testing::DuckDBRows(sql + " ORDER BY v");
  ASSERT_EQ(static_cast<int64_t>(rows.size()), last - first);
  int64_t total = 0;
  for (const auto& r : rows) {
    EXPECT_EQ(r["mismatches"].get<int64_t>(), 0) << "version " << r["v"] << ": " << r.dump();
    total += r["n"].get<int64_t>();
  }
  EXPECT_GT(total, 0);
}

TEST_F(ChangeFeedTest, PartitionedTableKeepsChangeFilesPerPartition) {
  CreateOptions c;
  c.schema = *Schema::ParseDDL("id BIGINT, name STRING, region STRING");
  c.partition_columns = {"region"};
  c.configuration["delta.enableChangeDataFeed"] = "true";
  std::string path = dir_.Join("part");
  auto t = std::move(DeltaTable::Create(path, c)).value();
  auto batch = [&](const std::vector<std::tuple<int64_t, std::string, std::string>>& rows) {
    Column id(DataType::Long()), name(DataType::String()), region(DataType::String());
    for (const auto& [i, n, r] : rows) {
      id.Append<int64_t>(i);
      name.AppendString(n);
      region.AppendString(r);
    }
    std::vector<Column> cols;
    cols.push_back(std::move(id));
    cols.push_back(std::move(name));
    cols.push_back(std::move(region));
    return RecordBatch::FromColumns(c.schema, std::move(cols));
  };
  ASSERT_TRUE(t->Write({batch({{1, "a", "eu"}, {2, "b", "us"}})}, {}).ok());
  KeyedReplace change;
  change.key_columns = {"id"};
  change.keys = Keys({1, 2});
  RecordBatch repl = batch({{1, "a2", "eu"}});
  auto r = ReplaceKeyedRows(*t, change, [&](const RecordBatch&) -> Result<RecordBatch> { return repl; }, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto files = CdcFiles(path, 2);
  ASSERT_EQ(files.size(), 2u);
  std::set<std::string> dirs;
  for (const auto& f : files) dirs.insert(f.substr(path.size() + 1, f.rfind('/') - path.size() - 1));
  EXPECT_EQ(dirs, (std::set<std::string>{"_change_data/region=eu", "_change_data/region=us"}));
  auto changes = ReadChanges(*t, 2, 2, {{"region", "id", kChangeTypeColumn}});
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  std::multiset<std::string> got;
  for (const auto& b : *changes) {
    ASSERT_EQ(b.schema().ToDDL(), ChangeFeedSchema(*Schema::ParseDDL("region STRING, id BIGINT")).ToDDL());
    for (int64_t i = 0; i < b.num_rows(); ++i) {
      got.insert(std::string(b.column(0).GetString(i)) + ":" + std::to_string(b.column(1).Get<int64_t>(i)) + ":" +
                 std::string(b.column(2).GetString(i)));
    }
  }
  EXPECT_EQ(got, (std::multiset<std::string>{"eu:1:update_preimage", "eu:1:update_postimage", "us:2:delete"}));
}

TEST_F(ChangeFeedTest, OverwriteIsReadAsDeletesAndInserts) {
  ASSERT_TRUE(table_->Write({Rows({{1, "a"}, {2, "b"}})}, {}).ok());
  WriteOptions w;
  w.mode = WriteMode::kOverwrite;
  ASSERT_TRUE(table_->Write({Rows({{2, "b"}, {3, "c"}})}, w).ok());
  EXPECT_TRUE(CdcFiles(path_, 2).empty());
  auto flat = Flatten(*ReadChanges(*table_, 2, 2));
  std::multiset<std::string> got;
  for (const auto& c : flat) got.insert(c.type + ":" + std::to_string(c.id));
  EXPECT_EQ(got, (std::multiset<std::string>{"delete:1", "delete:2", "insert:2", "insert:3"}));
}

TEST_F(ChangeFeedTest, RowChangesOnATableWithoutTheFeedAreRefusedByTheReader) {
  CreateOptions c;
  c.schema = KvSchema();
  auto t = std::move(DeltaTable::Create(dir_.Join("plain"), c)).value();
  ASSERT_TRUE(t->Write({Rows({{1, "a"}, {2, "b"}})}, {}).ok());
  ASSERT_TRUE(Upsert(*t, {{1, "z"}}, {}).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("plain/_change_data")));
  auto appends = ReadChanges(*t, 0, 1);  // appends alone are exact
  ASSERT_TRUE(appends.ok());
  EXPECT_EQ(Flatten(*appends).size(), 2u);
  auto refused = ReadChanges(*t, 1, 2);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(refused.status().message().find("version 2"), std::string::npos) << refused.status().message();
  EXPECT_NE(refused.status().message().find("delta.enableChangeDataFeed"), std::string::npos);
}

// The reader hands out a row group at a time, in the order ReadChanges returns, and
// knows from the log alone whether any row may be other than an insert.
TEST_F(ChangeFeedTest, TheReaderGivesARowGroupAtATime) {
  WriteOptions small_groups;
  small_groups.parquet.row_group_bytes = 2048;
  std::vector<RecordBatch> parts;
  Model rows;
  for (int64_t id = 0; id < 2000; ++id) {
    rows[id] = "name-" + std::to_string(id);
    if (rows.size() == 200) {
      parts.push_back(Rows(rows));
      rows.clear();
    }
  }
  ASSERT_TRUE(table_->Write(parts, small_groups).ok());  // version 1: 2,000 rows in one file
  ASSERT_TRUE(table_->Write({Rows({{5000, "x"}})}, {}).ok());
  auto whole = ReadChanges(*table_, 1, 2);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  auto reader = ChangeReader::Open(*table_, 1, 2);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_FALSE((*reader)->may_hold_non_inserts());
  std::vector<RecordBatch> pieces;
  int64_t largest = 0;
  RecordBatch b;
  while (true) {
    auto more = (*reader)->Next(&b);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    largest = std::max(largest, b.num_rows());
    pieces.push_back(std::move(b));
  }
  EXPECT_GE(pieces.size(), 4u) << "version 1's file should be read in several row groups";
  EXPECT_LT(largest, 2000);
  std::vector<Change> got = Flatten(pieces), want = Flatten(*whole);
  ASSERT_EQ(got.size(), 2001u);
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].id, want[i].id) << i;
    EXPECT_EQ(got[i].type, want[i].type) << i;
    EXPECT_EQ(got[i].version, want[i].version) << i;
  }
  EXPECT_EQ(got.front().version, 1);
  EXPECT_EQ(got.back().version, 2);
  // Against what was written, not only against ReadChanges (built on the same reader):
  // version 1's ids in order, then version 2's row, every one an insert with its name.
  for (size_t i = 0; i < got.size(); ++i) {
    const int64_t id = i < 2000 ? static_cast<int64_t>(i) : 5000;
    EXPECT_EQ(got[i].id, id) << i;
    EXPECT_EQ(got[i].type, kChangeInsert) << i;
    EXPECT_EQ(got[i].name, i < 2000 ? "name-" + std::to_string(i) : "x") << i;
    EXPECT_EQ(got[i].version, i < 2000 ? 1 : 2) << i;
  }
  // An upsert writes change data files: their rows carry updates and deletes.
  ASSERT_TRUE(Upsert(*table_, {{1, "y"}}, {2}).ok());
  auto with_updates = ChangeReader::Open(*table_, 2, 3);
  ASSERT_TRUE(with_updates.ok()) << with_updates.status().ToString();
  EXPECT_TRUE((*with_updates)->may_hold_non_inserts());
}

TEST_F(ChangeFeedTest, VacuumRemovesOldChangeDataFiles) {
  ManualClock clock(Clock::System()->NowMicros());
  TableOptions opts;
  opts.clock = &clock;
  auto t = std::move(DeltaTable::Open(path_, FileSystem::Default(), opts)).value();
  ASSERT_TRUE(t->Write({Rows({{1, "a"}, {2, "b"}})}, {}).ok());
  ASSERT_TRUE(Upsert(*t, {{1, "b"}}, {}).ok());
  auto cdc = CdcFiles(path_, 2);
  ASSERT_EQ(cdc.size(), 1u);
  // Within the retention they stay (and the feed stays readable).
  clock.Set(Clock::System()->NowMicros() + 1000000);
  VacuumOptions keep;
  keep.dry_run = true;
  auto listed = t->Vacuum(keep);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  for (const auto& f : listed->deleted) EXPECT_EQ(f.find("_change_data"), std::string::npos) << f;
  // Past it, VACUUM deletes them like any unreferenced file; the feed then says so.
  clock.Advance(200LL * 3600 * 1000000);
  auto vac = t->Vacuum({});
  ASSERT_TRUE(vac.ok()) << vac.status().ToString();
  bool removed = false;
  for (const auto& f : vac->deleted) removed |= f.rfind("_change_data/cdc-", 0) == 0;
  EXPECT_TRUE(removed);
  EXPECT_FALSE(std::filesystem::exists(cdc[0]));
  auto gone = ReadChanges(*t, 2, 2);
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.status().IsNotFound()) << gone.status().ToString();
}

}  // namespace
}  // namespace lakepipe::delta
