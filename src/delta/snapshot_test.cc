// Incremental snapshots (DeltaTable::Latest rolling its cached snapshot forward by the new
// commits) against full replays: at every version of a history with appends, overwrites,
// removes, OPTIMIZE, schema and property changes, txns, a deletion vector added and
// removed again, and Delta checkpoints in between, the rolled-forward state must equal
// the state replayed from JSON alone and the one replayed from the newest checkpoint.
#include <gtest/gtest.h>

#include <random>

#include "delta/table.h"
#include "delta/table_internal.h"
#include "testing/testing.h"

namespace lakepipe::delta {
namespace {

Schema BaseSchema() { return *Schema::ParseDDL("id BIGINT, p STRING"); }

RecordBatch Rows(int64_t from, int64_t n, const Schema& schema) {
  std::vector<Column> cols;
  for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  for (int64_t id = from; id < from + n; ++id) {
    for (size_t c = 0; c < schema.size(); ++c) {
      const std::string& name = schema.field(c).name;
      if (name == "id") cols[c].Append<int64_t>(id);
      else if (name == "p") cols[c].AppendString(id % 3 == 0 ? "a b" : (id % 3 == 1 ? "x%y" : "z"));
      else cols[c].AppendString("e" + std::to_string(id));
    }
  }
  return RecordBatch::FromColumns(schema, std::move(cols));
}

// Everything a snapshot exposes, as one comparable text.
std::string Describe(const TableState& s) {
  std::string out = "v" + std::to_string(s.version) + " ts" + std::to_string(s.commit_timestamp) + "\n";
  out += "protocol " + SerializeAction(s.protocol) + "\nmetadata " + SerializeAction(s.metadata) + "\n";
  // A checkpoint stores adds and removes with dataChange = false (PROTOCOL.md), and
  // removes without stats and tags (a remove copies its add's, e.g. OPTIMIZE's level):
  // none of these is compared.
  for (const auto& [k, a] : s.files) {
    AddFile c = a;
    c.data_change = false;
    out += "add " + k + " " + SerializeAction(c) + "\n";
  }
  for (const auto& [k, t] : s.tombstones) {
    RemoveFile c = t.ToRemove(k);  // no stats or tags: neither kept in checkpoints
    c.data_change = false;
    out += "tomb " + k + " " + SerializeAction(c) + "\n";
  }
  for (const auto& [k, t] : s.txns) out += "txn " + k + " " + std::to_string(t.version) + "\n";
  out += "dvs " + std::to_string(s.files_with_deletion_vectors) + "\n";
  return out;
}

std::string DescribeFiles(const Snapshot& snap) {
  std::string out = snap.schema().ToDDL() + "\n";
  for (const DataFile& f : snap.files()) {
    out += f.add.path + " -> " + f.full_path;
    for (const auto& [k, v] : f.partition_values) out += " " + k + "=" + v.ToString();
    out += "\n";
  }
  return out;
}

class IncrementalSnapshot : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.Join("t");
    CreateOptions create;
    create.schema = BaseSchema();
    create.partition_columns = {"p"};
    create.configuration["delta.checkpointInterval"] = "7";
    auto t = DeltaTable::Create(path_, create);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    writer_ = std::move(t).value();
    auto a = DeltaTable::Open(path_);
    auto b = DeltaTable::Open(path_);
    ASSERT_TRUE(a.ok() && b.ok());
    every_version_ = std::move(a).value();
    lagging_ = std::move(b).value();
  }

  // Compares the incremental snapshots with full replays at the latest version.
  void Check(const std::string& what) {
    auto rolled = every_version_->Latest();
    ASSERT_TRUE(rolled.ok()) << what << ": " << rolled.status().ToString();
    int64_t v = (*rolled)->version();
    ReplayOptions json_only;
    json_only.version = v;
    json_only.ignore_checkpoints = true;
    auto replayed = ReplayLog(FileSystem::Default(), path_, json_only);
    ASSERT_TRUE(replayed.ok()) << replayed.status().ToString();
    auto from_checkpoint = DeltaTable::Open(path_).value()->AtVersion(v);
    ASSERT_TRUE(from_checkpoint.ok()) << from_checkpoint.status().ToString();
    EXPECT_EQ(Describe((*rolled)->state()), Describe(*replayed)) << what << " at version " << v;
    EXPECT_EQ(Describe((*rolled)->state()), Describe((*from_checkpoint)->state())) << what << " at version " << v;
    EXPECT_EQ(DescribeFiles(**rolled), DescribeFiles(**from_checkpoint)) << what << " at version " << v;
    EXPECT_EQ((*rolled)->num_files(), (*from_checkpoint)->files().size());
    // Unchanged table: the very same snapshot comes back.
    EXPECT_EQ(every_version_->Latest()->get(), rolled->get());
    if (v % 5 == 0) {
      auto late = lagging_->Latest();  // rolls forward over several commits at once
      ASSERT_TRUE(late.ok()) << late.status().ToString();
      EXPECT_EQ(Describe((*late)->state()), Describe(*replayed)) << what << " (lagging handle) at version " << v;
    }
    ++checked_;
  }

  testing::TempDir dir_;
  std::string path_;
  std::unique_ptr<DeltaTable> writer_, every_version_, lagging_;
  int checked_ = 0;
};

TEST_F(IncrementalSnapshot, EqualsFullReplayAtEveryVersion) {
  std::mt19937 rng(11);
  Schema schema = BaseSchema();
  int64_t next_id = 0;
  ASSERT_NO_FATAL_FAILURE(Check("create"));
  for (int step = 0; step < 48; ++step) {
    std::string what;
    int kind = step == 0 ? 0 : static_cast<int>(rng() % 10);
    if (step == 20) kind = 100;  // schema change
    if (step == 30) kind = 101;  // property change
    if (step == 36) kind = 102;  // deletion vector, then its removal
    if (kind <= 4) {
      WriteOptions wo;
      wo.txn_app_id = "flow-" + std::to_string(step % 3);
      wo.txn_version = step;
      auto r = writer_->Write({Rows(next_id, 5 + step % 4, schema)}, wo);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      next_id += 10;
      what = "append";
    } else if (kind == 5) {
      WriteOptions wo;
      wo.mode = WriteMode::kOverwrite;
      auto r = writer_->Write({Rows(next_id, 4, schema)}, wo);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      next_id += 10;
      what = "overwrite";
    } else if (kind == 6 || kind == 7) {
      // Remove one file (a DELETE-like commit) through the commit protocol.
      auto snap = writer_->Latest();
      ASSERT_TRUE(snap.ok());
      if ((*snap)->files().empty()) continue;
      const DataFile& victim = (*snap)->files()[rng() % (*snap)->files().size()];
      std::vector<Action> actions = {RemoveOf(victim, Clock::System()->NowMillis(), true)};
      ASSERT_TRUE(writer_->CommitActions(actions, (*snap)->version(), "DELETE", {}).ok());
      what = "remove";
    } else if (kind == 8) {
      auto r = writer_->Optimize();
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      if (!r->version) continue;
      what = "optimize";
    } else if (kind == 100) {
      Schema wider = *Schema::ParseDDL("id BIGINT, p STRING, extra STRING");
      WriteOptions wo;
      wo.merge_schema = true;
      ASSERT_TRUE(writer_->Write({Rows(next_id, 3, wider)}, wo).ok());
      schema = wider;
      next_id += 10;
      what = "schema change";
    } else if (kind == 101) {
      auto snap = writer_->Latest();
      ASSERT_TRUE(snap.ok());
      Metadata m = (*snap)->metadata();
      m.configuration["delta.checkpointInterval"] = "5";
      m.configuration["lakepipe.test"] = "yes";
      ASSERT_TRUE(writer_->CommitActions({m}, (*snap)->version(), "SET TBLPROPERTIES", {}).ok());
      what = "property change";
    } else if (kind == 102) {
      // An add with a deletion vector: every snapshot of this version is refused.
      auto snap = writer_->Latest();
      ASSERT_TRUE(snap.ok());
      AddFile dv_file;
      dv_file.path = "p=z/with-dv.parquet";
      dv_file.partition_values["p"] = "z";
      dv_file.size = 10;
      DeletionVector dv;
      dv.storage_type = "i";
      dv.path_or_inline_dv = "wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L";
      dv.size_in_bytes = 40;
      dv.cardinality = 1;
      dv_file.deletion_vector = dv;
      CommitInfo ci;
      ci.json = "{\"operation\":\"TEST\"}";
      int64_t v = (*snap)->version() + 1;
      ASSERT_TRUE(FileSystem::Default()
                      ->PutIfAbsent(JoinPath(LogDir(path_), CommitFileName(v)), SerializeActions({ci, dv_file}))
                      .ok());
      auto refused = every_version_->Latest();
      ASSERT_FALSE(refused.ok());
      EXPECT_EQ(refused.status().code(), StatusCode::kNotSupported);
      EXPECT_NE(refused.status().message().find("deletionVectors"), std::string::npos) << refused.status().ToString();
      EXPECT_FALSE(DeltaTable::Open(path_).value()->Latest().ok());
      RemoveFile r;
      r.path = dv_file.path;
      r.deletion_vector = dv;
      r.deletion_timestamp = Clock::System()->NowMillis();
      ASSERT_TRUE(FileSystem::Default()
                      ->PutIfAbsent(JoinPath(LogDir(path_), CommitFileName(v + 1)), SerializeActions({ci, r}))
                      .ok());
      what = "deletion vector removed";
    } else {
      // Two appends by another handle before the next check: a roll over two commits.
      auto other = DeltaTable::Open(path_).value();
      ASSERT_TRUE(other->Write({Rows(next_id, 2, schema)}, {}).ok());
      ASSERT_TRUE(other->Write({Rows(next_id + 2, 2, schema)}, {}).ok());
      next_id += 10;
      what = "two appends";
    }
    ASSERT_NO_FATAL_FAILURE(Check(what));
  }
  EXPECT_GE(checked_, 40);
  // The history crossed checkpoints (interval 7, then 5).
  auto listing = ListLog(FileSystem::Default(), path_);
  ASSERT_TRUE(listing.ok());
  EXPECT_GE(listing->checkpoints.size(), 5u);
}

TEST_F(IncrementalSnapshot, ANewVersionSharesTheUnchangedFiles) {
  // 3,000 files in one commit, then one append: the new version's file map shares all but
  // the chunk the new file lands in (a full copy per version made each batch O(files)).
  auto snap = writer_->Latest();
  ASSERT_TRUE(snap.ok());
  std::vector<Action> adds;
  for (int i = 0; i < 3000; ++i) {
    AddFile a;
    a.path = "p=z/part-" + std::to_string(100000 + i) + ".parquet";
    a.partition_values["p"] = "z";
    a.size = 100;
    adds.push_back(a);
  }
  ASSERT_TRUE(writer_->CommitActions(adds, (*snap)->version(), "WRITE", {}).ok());
  auto before = every_version_->Latest();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  ASSERT_TRUE(writer_->Write({Rows(0, 1, BaseSchema())}, {}).ok());
  auto after = every_version_->Latest();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)->version(), (*before)->version() + 1);
  EXPECT_EQ((*after)->num_files(), 3001u);
  const auto& fa = (*after)->state().files;
  const auto& fb = (*before)->state().files;
  EXPECT_GE(fa.SharedChunks(fb) + 2, fa.num_chunks());
  EXPECT_GT(fa.num_chunks(), 10u);
}

}  // namespace
}  // namespace lakepipe::delta
