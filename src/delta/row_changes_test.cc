// Tests of row-level changes: keyed replacement (upsert/delete), truncate, predicate
// deletes, file skipping by stats, txn exactly-once, conflicts with concurrent writers,
// time travel to older versions, and DuckDB reading the result.
#include "delta/row_changes.h"
#include "formats/parquet/parquet.h"

#include <gtest/gtest.h>

#include <map>

#include "testing/testing.h"

namespace lakepipe::delta {
namespace {

Schema KvSchema() { return *Schema::ParseDDL("id BIGINT, name STRING"); }

RecordBatch Rows(const std::vector<std::pair<int64_t, std::string>>& rows) {
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

RecordBatch Keys(const std::vector<int64_t>& ids) {
  Column id(DataType::Long());
  for (int64_t k : ids) id.Append<int64_t>(k);
  std::vector<Column> cols;
  cols.push_back(std::move(id));
  return RecordBatch::FromColumns(*Schema::ParseDDL("id BIGINT"), std::move(cols));
}

std::map<int64_t, std::string> Contents(const SnapshotPtr& snap) {
  auto scan = Scan::Plan(snap, {});
  EXPECT_TRUE(scan.ok());
  auto all = scan->ReadAll();
  EXPECT_TRUE(all.ok());
  std::map<int64_t, std::string> out;
  const Column* id = all->ColumnByName("id");
  const Column* name = all->ColumnByName("name");
  for (int64_t r = 0; r < all->num_rows(); ++r) {
    EXPECT_FALSE(out.count(id->Get<int64_t>(r))) << "key " << id->Get<int64_t>(r) << " twice";
    out[id->Get<int64_t>(r)] = std::string(name->GetString(r));
  }
  return out;
}

// Upserts `rows` and deletes `deletes`, SCD type 1 style.
Result<RowChangeResult> Upsert(const DeltaTable& t, const std::vector<std::pair<int64_t, std::string>>& rows,
                               const std::vector<int64_t>& deletes, RowChangeOptions options = {}) {
  std::vector<int64_t> ids = deletes;
  for (const auto& r : rows) ids.push_back(r.first);
  KeyedReplace change;
  change.key_columns = {"id"};
  change.keys = Keys(ids);
  RecordBatch replacement = Rows(rows);
  return ReplaceKeyedRows(t, change, [&](const RecordBatch&) -> Result<RecordBatch> { return replacement; }, options);
}

class RowChangesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.Join("t");
    CreateOptions c;
    c.schema = KvSchema();
    ASSERT_TRUE(DeltaTable::Create(path_, c).ok());
    table_ = std::move(DeltaTable::Open(path_)).value();
    // Three files of disjoint key ranges: 0-9, 100-109, 200-209.
    for (int64_t base : {0, 100, 200}) {
      std::vector<std::pair<int64_t, std::string>> rows;
      for (int64_t i = base; i < base + 10; ++i) rows.push_back({i, "v" + std::to_string(i)});
      ASSERT_TRUE(table_->Write({Rows(rows)}, {}).ok());
    }
  }
  testing::TempDir dir_;
  std::string path_;
  std::unique_ptr<DeltaTable> table_;
};

TEST_F(RowChangesTest, UpsertAndDeleteRewriteOnlyFilesHoldingTheKeys) {
  auto before = *table_->Latest();
  auto r = Upsert(*table_, {{5, "new5"}, {500, "ins500"}}, {7, 9999});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->committed);
  EXPECT_EQ(r->files_removed, 1);  // only the file of keys 0-9
  EXPECT_EQ(r->rows_removed, 2);   // old 5 and 7
  EXPECT_EQ(r->rows_copied, 8);
  auto after = *table_->Latest();
  EXPECT_EQ(after->version(), before->version() + 1);
  auto m = Contents(after);
  EXPECT_EQ(m.size(), 30u - 1 + 1);
  EXPECT_EQ(m[5], "new5");
  EXPECT_EQ(m[500], "ins500");
  EXPECT_FALSE(m.count(7));
  EXPECT_EQ(m[105], "v105");
  // Time travel: the older version is unchanged.
  auto old = Contents(*table_->AtVersion(before->version()));
  EXPECT_EQ(old[5], "v5");
  EXPECT_TRUE(old.count(7));
  // History names the operation, and the commit has remove + add with dataChange.
  auto h = *table_->History(1);
  EXPECT_EQ(h[0].operation, "MERGE");
  auto log = *FileSystem::Default()->ReadFile(path_ + "/_delta_log/" + CommitFileName(after->version()));
  EXPECT_NE(log.find("\"remove\""), std::string::npos);
  EXPECT_NE(log.find("\"dataChange\":true"), std::string::npos);
  // DuckDB reads the active files and agrees.
  std::string files;
  for (const auto& f : after->files()) files += (files.empty() ? "'" : ", '") + f.full_path + "'";
  auto rows = testing::DuckDBRows("SELECT count(*)::INTEGER AS n, max(CASE WHEN id = 5 THEN name END) AS five FROM read_parquet([" +
                                  files + "])");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["n"], 30);
  EXPECT_EQ(rows[0]["five"], "new5");
}

// The operationMetrics of the commit of `version`, as the log has them.
std::map<std::string, std::string> CommitMetrics(const std::string& path, int64_t version) {
  auto log = FileSystem::Default()->ReadFile(path + "/_delta_log/" + CommitFileName(version));
  EXPECT_TRUE(log.ok());
  std::map<std::string, std::string> out;
  size_t at = log->find("\"operationMetrics\":{");
  if (at == std::string::npos) return out;
  at += 20;
  size_t end = log->find('}', at);
  std::string body = log->substr(at, end - at);
  size_t p = 0;
  while (p < body.size()) {
    size_t k1 = body.find('"', p), k2 = body.find('"', k1 + 1);
    size_t v1 = body.find('"', k2 + 1), v2 = body.find('"', v1 + 1);
    if (v2 == std::string::npos) break;
    out[body.substr(k1 + 1, k2 - k1 - 1)] = body.substr(v1 + 1, v2 - v1 - 1);
    p = v2 + 1;
  }
  return out;
}

TEST_F(RowChangesTest, ChangingOneColumnOfAKeyPatchesOnlyItsFile) {
  // The file of keys 100-109 is rewritten with only `name` re-encoded (its `id` column
  // chunk copied byte for byte); the other two files stay.
  auto before = *table_->Latest();
  auto r = Upsert(*table_, {{104, "changed"}}, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files_removed, 1);
  EXPECT_EQ(r->files_added, 1);
  EXPECT_EQ(r->rows_copied, 9);
  auto after = *table_->Latest();
  auto metrics = CommitMetrics(path_, after->version());
  EXPECT_EQ(metrics["numPatchedFiles"], "1");
  EXPECT_GT(std::stoll(metrics["numCopiedBytes"]), 0);
  // The removed file is the one that held key 104, and the others are still active.
  auto log = *FileSystem::Default()->ReadFile(path_ + "/_delta_log/" + CommitFileName(after->version()));
  std::string removed_path;
  for (const auto& f : before->files()) {
    if (log.find("\"remove\":{\"path\":\"" + f.add.path + "\"") != std::string::npos) removed_path = f.add.path;
  }
  ASSERT_FALSE(removed_path.empty());
  auto stats = before->Stats(*std::find_if(before->files().begin(), before->files().end(),
                                           [&](const DataFile& f) { return f.add.path == removed_path; }));
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->min_values.at("id").int_value(), 100);
  // Rows stay in their order; the patched file's stats cover its rows.
  auto m = Contents(after);
  EXPECT_EQ(m.size(), 30u);
  EXPECT_EQ(m[104], "changed");
  EXPECT_EQ(m[105], "v105");
  for (const auto& f : after->files()) {
    auto st = after->Stats(f);
    ASSERT_TRUE(st.ok());
    if (st->min_values.at("id").int_value() != 100) continue;
    EXPECT_EQ(st->num_records, 10);
    EXPECT_EQ(st->max_values.at("id").int_value(), 109);
    EXPECT_EQ(st->min_values.at("name").string_value(), "changed");
    EXPECT_EQ(st->max_values.at("name").string_value(), "v109");
  }
  EXPECT_EQ(Contents(*table_->AtVersion(before->version()))[104], "v104");
  // DuckDB reads the patched file in its row order.
  std::string files;
  for (const auto& f : after->files()) files += (files.empty() ? "'" : ", '") + f.full_path + "'";
  auto rows = testing::DuckDBRows("SELECT count(*)::INTEGER AS n, string_agg(name, ',' ORDER BY id) "
                                  "FILTER (WHERE id BETWEEN 103 AND 105) AS s FROM read_parquet([" + files + "])");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["n"], 30);
  EXPECT_EQ(rows[0]["s"], "v103,changed,v105");
}

// Patching copies a file's row groups, so a file patched from many small files holds many
// small row groups; the next patch of it writes its rows anew (parquet WriteOptions::
// merge_row_groups), merging them into one row group instead of copying them again.
TEST_F(RowChangesTest, APatchedFileOfManySmallRowGroupsIsWrittenAnewMerged) {
  for (int64_t base = 300; base < 1200; base += 100) {  // 12 files in all
    std::vector<std::pair<int64_t, std::string>> rows;
    for (int64_t i = base; i < base + 10; ++i) rows.push_back({i, "v" + std::to_string(i)});
    ASSERT_TRUE(table_->Write({Rows(rows)}, {}).ok());
  }
  auto row_groups = [](const DataFile& f) {
    auto reader = parquet::FileReader::Open(FileSystem::Default(), f.full_path);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    return reader.ok() ? (*reader)->num_row_groups() : -1;
  };
  // One changed name per file: each file is patched, all into one new file.
  std::vector<std::pair<int64_t, std::string>> first;
  for (int64_t base = 0; base < 1200; base += 100) first.push_back({base + 4, "a" + std::to_string(base)});
  auto r = Upsert(*table_, first, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(CommitMetrics(path_, r->version)["numPatchedFiles"], "12");
  auto patched = *table_->Latest();
  ASSERT_EQ(patched->files().size(), 1u);
  EXPECT_EQ(row_groups(patched->files()[0]), 12);
  // The next change of that file writes it anew: one row group, same rows.
  r = Upsert(*table_, {{704, "b"}}, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(CommitMetrics(path_, r->version).count("numPatchedFiles") ? CommitMetrics(path_, r->version)["numPatchedFiles"]
                                                                       : std::string("0"),
            "0");
  auto merged = *table_->Latest();
  ASSERT_FALSE(merged->files().empty());
  for (const auto& f : merged->files()) EXPECT_EQ(row_groups(f), 1) << f.add.path;
  auto m = Contents(merged);
  EXPECT_EQ(m.size(), 120u);
  EXPECT_EQ(m[704], "b");
  EXPECT_EQ(m[1104], "a1100");
  EXPECT_EQ(m[1105], "v1105");
}

TEST_F(RowChangesTest, ReplacingRowsByEqualRowsRewritesNothing) {
  auto before = *table_->Latest();
  auto r = Upsert(*table_, {{3, "v3"}, {204, "v204"}}, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->committed);
  EXPECT_EQ(r->files_removed, 0);
  EXPECT_EQ(*table_->LatestVersion(), before->version());
}

TEST_F(RowChangesTest, ADeletedRowRewritesItsFileWhole) {
  // A key that loses its row cannot keep the file's rows in place: no patch.
  auto r = Upsert(*table_, {{101, "x"}}, {102});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files_removed, 1);
  auto metrics = CommitMetrics(path_, r->version);
  EXPECT_EQ(metrics.count("numPatchedFiles"), 0u);
  auto m = Contents(*table_->Latest());
  EXPECT_EQ(m.size(), 29u);
  EXPECT_EQ(m[101], "x");
  EXPECT_FALSE(m.count(102));
}

TEST_F(RowChangesTest, NothingToChangeCommitsNothing) {
  int64_t v = *table_->LatestVersion();
  auto r = Upsert(*table_, {}, {12345});  // deleting an absent key
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->committed);
  EXPECT_EQ(r->files_removed, 0);
  EXPECT_EQ(*table_->LatestVersion(), v);
}

TEST_F(RowChangesTest, ComputeSeesExistingRowsOfAffectedKeys) {
  KeyedReplace change;
  change.key_columns = {"id"};
  change.keys = Keys({3, 104, 777});
  std::vector<int64_t> seen;
  auto r = ReplaceKeyedRows(
      *table_, change,
      [&](const RecordBatch& existing) -> Result<RecordBatch> {
        for (int64_t i = 0; i < existing.num_rows(); ++i) seen.push_back(existing.ColumnByName("id")->Get<int64_t>(i));
        // Keep the old name and add a suffix: what IGNORE NULL UPDATES needs.
        std::vector<std::pair<int64_t, std::string>> out;
        for (int64_t i = 0; i < existing.num_rows(); ++i)
          out.push_back({existing.ColumnByName("id")->Get<int64_t>(i),
                         std::string(existing.ColumnByName("name")->GetString(i)) + "+"});
        return Rows(out);
      },
      {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int64_t>{3, 104}));
  auto m = Contents(*table_->Latest());
  EXPECT_EQ(m[3], "v3+");
  EXPECT_EQ(m[104], "v104+");
  EXPECT_EQ(r->files_removed, 2);
}

TEST_F(RowChangesTest, ReplacementRowsOfOtherKeysAreRefused) {
  KeyedReplace change;
  change.key_columns = {"id"};
  change.keys = Keys({1});
  auto r = ReplaceKeyedRows(*table_, change, [](const RecordBatch&) -> Result<RecordBatch> { return Rows({{2, "x"}}); }, {});
  EXPECT_FALSE(r.ok());
}

TEST_F(RowChangesTest, TruncateRemovesEveryFile) {
  KeyedReplace change;
  change.key_columns = {"id"};
  change.keys = Keys({1000});
  change.truncate = true;
  auto r = ReplaceKeyedRows(*table_, change, [](const RecordBatch& existing) -> Result<RecordBatch> {
    EXPECT_EQ(existing.num_rows(), 30);  // every row, for the caller to keep some
    return Rows({{1000, "after"}});
  }, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->files_removed, 3);
  auto m = Contents(*table_->Latest());
  EXPECT_EQ(m.size(), 1u);
  EXPECT_EQ(m[1000], "after");
}

TEST_F(RowChangesTest, TxnMakesAChangeExactlyOnce) {
  RowChangeOptions o;
  o.txn_app_id = "flow-1";
  o.txn_version = 4;
  auto first = Upsert(*table_, {{1, "a"}}, {}, o);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->committed);
  int64_t v = *table_->LatestVersion();
  auto again = Upsert(*table_, {{1, "b"}}, {}, o);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_committed);
  EXPECT_EQ(*table_->LatestVersion(), v);
  EXPECT_EQ(Contents(*table_->Latest())[1], "a");
}

TEST_F(RowChangesTest, ConcurrentAppendOfAnAffectedKeyIsAConflictAndRecomputed) {
  // The first computation races with a writer that appends key 5 (and 300): the commit
  // must not succeed on that snapshot (key 5 would be there twice); the recomputation
  // sees the appended row.
  KeyedReplace change;
  change.key_columns = {"id"};
  change.keys = Keys({5});
  int calls = 0;
  auto r = ReplaceKeyedRows(*table_, change, [&](const RecordBatch& existing) -> Result<RecordBatch> {
    ++calls;
    if (calls == 1) {
      EXPECT_TRUE(table_->Write({Rows({{5, "dup"}, {300, "dup300"}})}, {}).ok());
      EXPECT_EQ(existing.num_rows(), 1);
    } else {
      EXPECT_EQ(existing.num_rows(), 2);  // both rows of key 5 are replaced
    }
    return Rows({{5, "merged"}});
  }, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(r->attempts, 2);
  auto m = Contents(*table_->Latest());  // fails on a duplicate key
  EXPECT_EQ(m[5], "merged");
  EXPECT_EQ(m[300], "dup300");
}

TEST_F(RowChangesTest, ConcurrentAppendOfOtherKeysDoesNotConflict) {
  KeyedReplace change;
  change.key_columns = {"id"};
  change.keys = Keys({5});
  int calls = 0;
  auto r = ReplaceKeyedRows(*table_, change, [&](const RecordBatch&) -> Result<RecordBatch> {
    if (++calls == 1) { EXPECT_TRUE(table_->Write({Rows({{900, "far"}})}, {}).ok()); }
    return Rows({{5, "x"}});
  }, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(calls, 1);
  auto m = Contents(*table_->Latest());
  EXPECT_EQ(m[5], "x");
  EXPECT_EQ(m[900], "far");
}

TEST_F(RowChangesTest, ConcurrentRewriteOfAReadFileIsAConflict) {
  KeyedReplace change;
  change.key_columns = {"id"};
  change.keys = Keys({5});
  int calls = 0;
  RowChangeOptions o;
  o.max_attempts = 1;
  auto r = ReplaceKeyedRows(*table_, change, [&](const RecordBatch&) -> Result<RecordBatch> {
    if (++calls == 1) { EXPECT_TRUE(Upsert(*table_, {{6, "other"}}, {}).ok()); }  // rewrites file 0-9
    return Rows({{5, "x"}});
  }, o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsConflict()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("removed file"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(Contents(*table_->Latest())[5], "v5");
}

TEST_F(RowChangesTest, DeleteRowsByPredicate) {
  parquet::ColumnPredicate ge{"id", parquet::ColumnPredicate::Op::kGe, Value::Int(200)};
  auto r = DeleteRows(*table_, {ge}, [](const RecordBatch& rows) -> Result<std::vector<uint8_t>> {
    std::vector<uint8_t> m(rows.num_rows());
    for (int64_t i = 0; i < rows.num_rows(); ++i) m[i] = rows.ColumnByName("id")->Get<int64_t>(i) % 2 == 0;
    return m;
  }, "id >= 200 AND id % 2 = 0", {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rows_removed, 5);
  EXPECT_EQ(r->files_removed, 1);
  auto m = Contents(*table_->Latest());
  EXPECT_EQ(m.size(), 25u);
  EXPECT_FALSE(m.count(200));
  EXPECT_TRUE(m.count(201));
  auto h = *table_->History(1);
  EXPECT_EQ(h[0].operation, "DELETE");
  EXPECT_NE(h[0].commit_info.find("id >= 200"), std::string::npos);
}

}  // namespace
}  // namespace lakepipe::delta
