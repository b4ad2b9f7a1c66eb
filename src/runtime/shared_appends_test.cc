// SharedAppends: a version read through it, in any columns and in any order of column
// sets, gives exactly the rows ReadAppends gives for that version; a column is decoded
// once per version and reused by later readers; a version that rewrites rows is refused;
// versions every reader took, and versions beyond the budget, are let go.
#include "runtime/shared_appends.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "delta/changes.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

Schema TestSchema() { return *Schema::ParseDDL("id BIGINT, name STRING, amount DOUBLE, part STRING"); }

RecordBatch Rows(int64_t from, int64_t to) {
  Schema schema = TestSchema();
  std::vector<Column> cols;
  for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  for (int64_t id = from; id < to; ++id) {
    cols[0].Append<int64_t>(id);
    if (id % 7 == 0) {
      cols[1].AppendNull();
    } else {
      cols[1].AppendString("name-" + std::to_string(id) + std::string(static_cast<size_t>(id % 5), 'x'));
    }
    cols[2].Append<double>(static_cast<double>(id % 11) + 0.5);
    cols[3].AppendString(id % 3 == 0 ? "p0" : "p1");
  }
  return RecordBatch::FromColumns(schema, std::move(cols));
}

// Each row as text, in order; `columns` names the columns to print, in that order.
std::vector<std::string> Lines(const std::vector<RecordBatch>& batches, const std::vector<std::string>& columns) {
  std::vector<std::string> out;
  for (const auto& b : batches) {
    for (int64_t r = 0; r < b.num_rows(); ++r) {
      std::string line;
      for (const auto& c : columns) {
        int i = b.schema().FindField(c);
        line += i < 0 ? "?" : b.column(static_cast<size_t>(i)).GetValue(r).ToString();
        line += "|";
      }
      out.push_back(line);
    }
  }
  return out;
}

class SharedAppendsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    delta::CreateOptions create;
    create.schema = TestSchema();
    create.partition_columns = {"part"};
    auto t = delta::DeltaTable::Create(dir_.Join("t"), create);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    table_ = std::move(t).value();
  }

  // Appends ids [from, to) in one commit, in row groups of 250 rows.
  void Append(int64_t from, int64_t to) {
    delta::WriteOptions options;
    options.parquet.row_group_bytes = 4096;
    std::vector<RecordBatch> batches;
    for (int64_t i = from; i < to; i += 250) batches.push_back(Rows(i, std::min(to, i + 250)));
    auto r = table_->Write(batches, options);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  std::vector<std::string> Expected(int64_t version, const std::vector<std::string>& columns) {
    delta::ChangeReadOptions options;
    options.columns = columns;
    auto rows = delta::ReadAppends(*table_, version, version, options);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() ? Lines(*rows, columns) : std::vector<std::string>{};
  }

  delta::SnapshotPtr Latest() { return *table_->Latest(); }

  testing::TempDir dir_;
  std::unique_ptr<delta::DeltaTable> table_;
};

TEST_F(SharedAppendsTest, EachVersionInAnyColumnsEqualsReadAppendsAndDecodesAColumnOnce) {
  Append(0, 1200);
  Append(1200, 1201);
  Append(1201, 2000);
  SharedAppends shared;
  ASSERT_TRUE(SharedAppends::UsableFor(*Latest(), 1));
  auto only = shared.OnlyAppends(*table_, Latest(), 1, 3);
  ASSERT_TRUE(only.ok()) << only.status().ToString();
  EXPECT_TRUE(*only);
  const std::vector<std::vector<std::string>> sets = {{"name", "id"}, {"part", "id", "amount"}, {"AMOUNT"}};
  for (int64_t v = 1; v <= 3; ++v) {
    for (const auto& columns : sets) {
      auto rows = shared.Read(*table_, Latest(), v, columns);
      ASSERT_TRUE(rows.ok()) << rows.status().ToString();
      EXPECT_EQ(Lines(*rows, columns), Expected(v, columns)) << "version " << v << ", " << columns[0];
      for (const auto& b : *rows) {
        EXPECT_GT(b.num_rows(), 0);
        EXPECT_LE(b.num_rows(), 500);  // a row group at most, not a file of its partition
        EXPECT_EQ(b.num_columns(), columns.size());
      }
    }
  }
  // Per version: name and id decoded by the first set, part and amount by the second
  // (id reused), amount reused by the third.
  EXPECT_EQ(shared.columns_decoded(), 3 * 4);
  EXPECT_EQ(shared.columns_reused(), 3 * 2);
  EXPECT_GT(shared.bytes_kept(), 0);
}

TEST_F(SharedAppendsTest, AVersionThatRewritesRowsIsNotAppends) {
  Append(0, 10);
  delta::WriteOptions overwrite;
  overwrite.mode = delta::WriteMode::kOverwrite;
  ASSERT_TRUE(table_->Write({Rows(10, 20)}, overwrite).ok());
  SharedAppends shared;
  auto first = shared.OnlyAppends(*table_, Latest(), 1, 1);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  auto both = shared.OnlyAppends(*table_, Latest(), 1, 2);
  ASSERT_TRUE(both.ok());
  EXPECT_FALSE(*both);
  auto rows = shared.Read(*table_, Latest(), 2, {"id"});
  EXPECT_EQ(rows.status().code(), StatusCode::kNotSupported) << rows.status().ToString();
  // A version that is not in the log is an error naming it.
  auto missing = shared.Read(*table_, Latest(), 9, {"id"});
  EXPECT_FALSE(missing.ok());
}

TEST_F(SharedAppendsTest, VersionsEveryReaderTookAreLetGo) {
  Append(0, 500);
  Append(500, 1000);
  SharedAppends shared;
  for (int64_t v = 1; v <= 2; ++v) ASSERT_TRUE(shared.Read(*table_, Latest(), v, {"id", "name"}).ok());
  const int64_t both = shared.bytes_kept();
  ASSERT_GT(both, 0);
  shared.Taken(table_->path(), "view_a", 1);  // the only reader known: version 1 goes
  const int64_t second = shared.bytes_kept();
  EXPECT_LT(second, both);
  EXPECT_GT(second, 0);
  shared.Taken(table_->path(), "view_b", 1);
  shared.Taken(table_->path(), "view_a", 2);  // view_b still needs version 2
  EXPECT_EQ(shared.bytes_kept(), second);
  shared.Taken(table_->path(), "view_b", 2);
  EXPECT_EQ(shared.bytes_kept(), 0);
  // Read again, it is decoded again (and equal).
  const int64_t decoded = shared.columns_decoded();
  auto again = shared.Read(*table_, Latest(), 2, {"id", "name"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Lines(*again, {"id", "name"}), Expected(2, {"id", "name"}));
  EXPECT_EQ(shared.columns_decoded(), decoded + 2);
}

TEST_F(SharedAppendsTest, BeyondTheBudgetTheOldestVersionsGo) {
  Append(0, 500);
  Append(500, 1000);
  Append(1000, 1500);
  SharedAppends shared(/*budget_bytes=*/1);
  for (int64_t v = 1; v <= 3; ++v) ASSERT_TRUE(shared.Read(*table_, Latest(), v, {"name"}).ok());
  // Only the version read last is kept.
  const int64_t decoded = shared.columns_decoded();
  auto last = shared.Read(*table_, Latest(), 3, {"name"});
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(shared.columns_decoded(), decoded);
  auto first = shared.Read(*table_, Latest(), 1, {"name"});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(shared.columns_decoded(), decoded + 1);
  EXPECT_EQ(Lines(*first, {"name"}), Expected(1, {"name"}));
}

}  // namespace
}  // namespace lakepipe::runtime
