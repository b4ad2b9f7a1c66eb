// The scan providers read through a ScanContext alone, with no pipeline runner: a planned
// micro-batch's version range gives the rows ReadAppends gives for it, whole and by parts
// of any size, widened to the planned columns (one the table lacks is NULL); a plan without the source, and a table
// without a commit, are errors naming them; the current snapshot is read by a full scan.
#include "runtime/scan_providers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "delta/changes.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

Schema TableSchema() { return *Schema::ParseDDL("id BIGINT, name STRING"); }

RecordBatch Rows(int64_t from, int64_t to) {
  Schema schema = TableSchema();
  std::vector<Column> cols;
  for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  for (int64_t id = from; id < to; ++id) {
    cols[0].Append<int64_t>(id);
    if (id % 5 == 0) {
      cols[1].AppendNull();
    } else {
      cols[1].AppendString("n" + std::to_string(id));
    }
  }
  return RecordBatch::FromColumns(schema, std::move(cols));
}

// Each row as "v|v|...|", in order.
std::vector<std::string> Lines(const Batches& batches) {
  std::vector<std::string> out;
  for (const auto& b : batches) {
    for (int64_t r = 0; r < b.num_rows(); ++r) {
      std::string line;
      for (size_t c = 0; c < b.num_columns(); ++c) line += b.column(c).GetValue(r).ToString() + "|";
      out.push_back(line);
    }
  }
  return out;
}

class ScanProvidersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    delta::CreateOptions create;
    create.schema = TableSchema();
    auto t = delta::DeltaTable::Create(dir_.Join("up"), create);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    table_ = std::shared_ptr<delta::DeltaTable>(std::move(t).value());
    // Versions 1, 2, 3: ids [0, 300), [300, 301), [301, 1000), in small row groups.
    for (auto [from, to] : {std::pair<int64_t, int64_t>{0, 300}, {300, 301}, {301, 1000}}) {
      delta::WriteOptions options;
      options.parquet.row_group_bytes = 1024;
      std::vector<RecordBatch> batches;
      for (int64_t i = from; i < to; i += 128) batches.push_back(Rows(i, std::min(to, i + 128)));
      ASSERT_TRUE(table_->Write(batches, options).ok());
    }
    context_.fs = FileSystem::Default();
    context_.pipeline = &pipeline_;
    context_.open_table = [this](const std::string& name) -> Result<std::shared_ptr<delta::DeltaTable>> {
      if (name == "up") return table_;
      return Status::NotFound("table `" + name + "` has no commit yet");
    };
    context_.shared_scans = &shared_scans_;
    context_.shared_part_scans = &shared_part_scans_;
    context_.shared_appends = &shared_appends_;
    // STREAM(up), planned with a column the table does not have (yet).
    scan_.kind = sql::PlanKind::kTableScan;
    scan_.table = "up";
    scan_.streaming = true;
    scan_.schema = *Schema::ParseDDL("id BIGINT, name STRING, added INT");
    plan_.batch_id = 0;
    PlannedSource source;
    source.kind = PlannedSource::Kind::kDelta;
    source.table = "up";
    source.start_version = 2;
    source.end_version = 3;
    plan_.sources.push_back(source);
  }

  // The rows versions 2..3 appended, with the planned column `added` as NULL.
  std::vector<std::string> Expected() {
    delta::ChangeReadOptions options;
    options.columns = {"id", "name"};
    auto rows = delta::ReadAppends(*table_, 2, 3, options);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    std::vector<std::string> lines = Lines(*rows);
    for (auto& l : lines) l += "NULL|";
    return lines;
  }

  testing::TempDir dir_;
  std::shared_ptr<delta::DeltaTable> table_;
  sql::ResolvedPipeline pipeline_;
  SharedScans shared_scans_;
  SharedPartScans shared_part_scans_;
  SharedAppends shared_appends_;
  ScanContext context_;
  sql::PlanNode scan_;
  BatchPlan plan_;
  ExecOptions exec_;
};

TEST_F(ScanProvidersTest, APlannedVersionRangeReadsWholeAsReadAppendsGivesIt) {
  BatchScanProvider provider(context_, exec_, plan_);
  auto rows = provider.ReadTable(scan_);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  std::vector<std::string> expected = Expected();
  ASSERT_EQ(expected.size(), 700u);
  EXPECT_EQ(Lines(*rows), expected);
  ASSERT_FALSE(rows->empty());
  EXPECT_EQ((*rows)[0].schema().names(), scan_.schema.names());
}

TEST_F(ScanProvidersTest, APlannedVersionRangeReadByPartsOfAnySizeGivesTheSameRows) {
  const std::vector<std::string> expected = Expected();
  for (int64_t part_rows : {1, 7, 128, 129, 700, 5000}) {
    BatchScanProvider provider(context_, exec_, plan_);
    std::vector<std::string> lines;
    int parts = 0;
    for (int part = 0;; ++part) {
      provider.SetPart(part, part_rows);
      auto rows = provider.ReadTable(scan_);
      ASSERT_TRUE(rows.ok()) << rows.status().ToString();
      for (const auto& b : *rows) EXPECT_LE(b.num_rows(), part_rows);
      for (auto& l : Lines(*rows)) lines.push_back(std::move(l));
      if (!rows->empty()) ++parts;
      if (!provider.more_parts()) break;
      ASSERT_LT(part, 2000) << "the parts never end at " << part_rows << " rows";
    }
    EXPECT_EQ(lines, expected) << part_rows << " rows per part";
    // Parts are cut within the versions' row groups (seven pieces: version 2's one row and
    // version 3's six row groups), and a piece's end may end a part early.
    const int64_t full_parts = (700 + part_rows - 1) / part_rows;
    EXPECT_GE(parts, full_parts) << part_rows << " rows per part";
    EXPECT_LE(parts, full_parts + 7) << part_rows << " rows per part";
    EXPECT_EQ(provider.parts_read(), parts);
  }
}

TEST_F(ScanProvidersTest, ASourceThePlanDoesNotNameIsAnErrorNamingIt) {
  sql::PlanNode other = scan_;
  other.table = "elsewhere";
  BatchScanProvider provider(context_, exec_, plan_);
  auto rows = provider.ReadTable(other);
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.status().message().find("elsewhere"), std::string::npos) << rows.status().ToString();
}

TEST_F(ScanProvidersTest, AFullScanReadsTheCurrentSnapshotAndRecordsItsVersion) {
  sql::PlanNode whole = scan_;
  whole.streaming = false;
  whole.schema = TableSchema();
  FullScanProvider provider(context_, exec_);
  auto rows = provider.ReadTable(whole);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(Lines(*rows).size(), 1000u);
  ASSERT_EQ(provider.versions_read().count("up"), 1u);
  EXPECT_EQ(provider.versions_read().at("up"), 3);

  sql::PlanNode missing = whole;
  missing.table = "later";
  auto none = provider.ReadTable(missing);
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(none.status().IsNotFound());
  EXPECT_NE(none.status().message().find("`later` has no data yet"), std::string::npos) << none.status().ToString();
}

}  // namespace
}  // namespace lakepipe::runtime
