// AppendsReader and SnapshotReader: a streaming read of a table's appended rows (or its
// snapshot) one row group at a time gives exactly ReadAppends' rows, in order, holding one
// row group at a time (each piece at most a row group), across files, commits,
// partitions and a commit that only rearranges data (OPTIMIZE).
#include "delta/changes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "testing/testing.h"

namespace lakepipe::delta {
namespace {

Schema TestSchema() { return *Schema::ParseDDL("id BIGINT, name STRING, part STRING"); }

RecordBatch Rows(int64_t from, int64_t to) {
  Schema schema = TestSchema();
  std::vector<Column> cols;
  for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  for (int64_t id = from; id < to; ++id) {
    cols[0].Append<int64_t>(id);
    cols[1].AppendString("name-" + std::to_string(id) + std::string(static_cast<size_t>(id % 13), 'x'));
    cols[2].AppendString(id % 3 == 0 ? "p0" : "p1");
  }
  return RecordBatch::FromColumns(schema, std::move(cols));
}

std::vector<int64_t> Ids(const std::vector<RecordBatch>& batches) {
  std::vector<int64_t> out;
  for (const auto& b : batches) {
    int c = b.schema().FindField("id");
    for (int64_t i = 0; i < b.num_rows(); ++i) out.push_back(b.column(static_cast<size_t>(c)).Get<int64_t>(i));
  }
  return out;
}

// Every piece a streaming reader (AppendsReader, SnapshotReader) gives, until its end.
template <typename Reader>
Result<std::vector<RecordBatch>> Pieces(Reader& reader) {
  std::vector<RecordBatch> pieces;
  RecordBatch b;
  while (true) {
    LP_ASSIGN_OR_RETURN(bool more, reader.Next(&b));
    if (!more) return pieces;
    pieces.push_back(std::move(b));
  }
}

class AppendsReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CreateOptions create;
    create.schema = TestSchema();
    create.partition_columns = {"part"};
    auto t = DeltaTable::Create(dir_.Join("t"), create);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    table_ = std::move(t).value();
  }

  // Appends ids [from, to) in one commit, in row groups of a few hundred rows.
  void Append(int64_t from, int64_t to) {
    WriteOptions options;
    options.parquet.row_group_bytes = 4096;  // each Write of 250 rows closes its row group
    std::vector<RecordBatch> batches;
    for (int64_t i = from; i < to; i += 250) batches.push_back(Rows(i, std::min(to, i + 250)));
    auto r = table_->Write(batches, options);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  testing::TempDir dir_;
  std::unique_ptr<DeltaTable> table_;
};

TEST_F(AppendsReaderTest, RowGroupByRowGroupGivesTheRowsOfReadAppends) {
  Append(0, 5000);
  Append(5000, 5001);
  OptimizeOptions optimize;
  optimize.min_files = 2;
  ASSERT_TRUE(table_->Optimize(optimize).ok());  // dataChange = false: adds no rows
  Append(5001, 9000);
  auto latest = table_->LatestVersion();
  ASSERT_TRUE(latest.ok());

  ChangeReadOptions options;
  options.columns = {"part", "id"};
  auto whole = ReadAppends(*table_, 1, *latest, options);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  std::vector<int64_t> expected = Ids(*whole);
  ASSERT_EQ(expected.size(), 9000u);

  AppendsReader reader(*table_, 1, *latest, options);
  auto read = Pieces(reader);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  const std::vector<RecordBatch>& pieces = *read;
  for (const auto& p : pieces) {
    ASSERT_GT(p.num_rows(), 0);
    ASSERT_EQ(p.schema().names(), (std::vector<std::string>{"part", "id"}));
  }
  EXPECT_EQ(Ids(pieces), expected);
  // Row groups, not files: a file holds thousands of rows, a piece a few hundred.
  EXPECT_GT(pieces.size(), 8u);
  for (const auto& p : pieces) EXPECT_LT(p.num_rows(), 2000);
  // Every piece has its partition value filled.
  for (const auto& p : pieces)
    for (int64_t i = 0; i < p.num_rows(); ++i)
      EXPECT_EQ(p.column(0).GetString(i), p.column(1).Get<int64_t>(i) % 3 == 0 ? "p0" : "p1");
}

TEST_F(AppendsReaderTest, SnapshotReaderGivesTheSnapshotsRows) {
  Append(0, 3000);
  Append(3000, 4000);
  auto snap = table_->Latest();
  ASSERT_TRUE(snap.ok());
  auto reader = SnapshotReader::Open(*snap, {});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto read = Pieces(**reader);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  const std::vector<RecordBatch>& pieces = *read;
  auto scan = Scan::Plan(*snap, {});
  ASSERT_TRUE(scan.ok());
  std::vector<RecordBatch> files;
  for (size_t i = 0; i < scan->files().size(); ++i) files.push_back(*scan->ReadFile(i));
  EXPECT_EQ(Ids(pieces), Ids(files));
  EXPECT_EQ(Ids(pieces).size(), 4000u);
  EXPECT_GT(pieces.size(), scan->files().size());
}

// With slice_rows, row groups come in slices of at most that many rows (decoded page by
// page), with the same rows in the same order and partition values filled.
TEST_F(AppendsReaderTest, SlicedRowGroupsGiveTheSameRows) {
  Append(0, 3000);
  Append(3000, 3001);
  Append(3001, 5000);
  auto latest = table_->LatestVersion();
  ASSERT_TRUE(latest.ok());
  ChangeReadOptions options;
  options.columns = {"part", "id", "name"};
  auto whole = ReadAppends(*table_, 1, *latest, options);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  options.slice_rows = 64;
  AppendsReader reader(*table_, 1, *latest, options);
  auto read = Pieces(reader);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  const std::vector<RecordBatch>& pieces = *read;
  for (const auto& p : pieces) {
    ASSERT_GT(p.num_rows(), 0);
    ASSERT_LE(p.num_rows(), 64);
  }
  EXPECT_EQ(Ids(pieces), Ids(*whole));
  EXPECT_GT(pieces.size(), 5000u / 64);
  std::vector<std::string> names, expected_names;
  for (const auto& p : pieces)
    for (int64_t i = 0; i < p.num_rows(); ++i) {
      names.emplace_back(p.column(2).GetString(i));
      EXPECT_EQ(p.column(0).GetString(i), p.column(1).Get<int64_t>(i) % 3 == 0 ? "p0" : "p1");
    }
  for (const auto& p : *whole)
    for (int64_t i = 0; i < p.num_rows(); ++i) expected_names.emplace_back(p.column(2).GetString(i));
  EXPECT_EQ(names, expected_names);

  ScanOptions scan_options;
  scan_options.slice_rows = 100;
  auto snap = table_->Latest();
  ASSERT_TRUE(snap.ok());
  auto snapshot = SnapshotReader::Open(*snap, scan_options);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  auto snapshot_read = Pieces(**snapshot);
  ASSERT_TRUE(snapshot_read.ok()) << snapshot_read.status().ToString();
  const std::vector<RecordBatch>& snapshot_pieces = *snapshot_read;
  for (const auto& p : snapshot_pieces) ASSERT_LE(p.num_rows(), 100);
  std::vector<int64_t> got = Ids(snapshot_pieces), want = Ids(*whole);
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

TEST_F(AppendsReaderTest, ACommitThatRewritesRowsFailsWhenReached) {
  Append(0, 10);
  WriteOptions overwrite;
  overwrite.mode = WriteMode::kOverwrite;
  ASSERT_TRUE(table_->Write({Rows(10, 20)}, overwrite).ok());
  AppendsReader reader(*table_, 1, 2, {});
  RecordBatch b;
  std::vector<int64_t> ids;
  Status error;
  while (true) {
    auto more = reader.Next(&b);
    if (!more.ok()) {
      error = more.status();
      break;
    }
    if (!*more) break;
    for (int64_t id : Ids({b})) ids.push_back(id);
  }
  EXPECT_EQ(ids.size(), 10u);  // version 1's rows come first
  EXPECT_EQ(error.code(), StatusCode::kNotSupported) << error.ToString();
  EXPECT_NE(error.message().find("version 2"), std::string::npos) << error.ToString();
}

}  // namespace
}  // namespace lakepipe::delta
