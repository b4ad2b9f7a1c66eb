// SharedAppends: a version read through it, in any columns and in any order of column
// sets, gives exactly the rows ReadAppends gives for that version, a row group at a time;
// a column of a row group is decoded once and reused by later readers; a version that
// rewrites rows is refused; pieces every follower took, versions every reader took, and
// versions beyond the budget are let go.
#include "runtime/shared_appends.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
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

// Every batch of version `version` read through `shared` in `columns`.
Result<std::vector<RecordBatch>> ReadAll(SharedAppends& shared, const delta::DeltaTable& table,
                                         const delta::SnapshotPtr& latest, int64_t version,
                                         const std::vector<std::string>& columns) {
  LP_ASSIGN_OR_RETURN(std::unique_ptr<BatchStream> stream, shared.Read(table, latest, version, columns));
  std::vector<RecordBatch> out;
  RecordBatch b;
  while (true) {
    LP_ASSIGN_OR_RETURN(bool more, stream->Next(&b));
    if (!more) return out;
    out.push_back(std::move(b));
  }
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
  int64_t pieces = 0;
  for (int64_t v = 1; v <= 3; ++v) {
    for (const auto& columns : sets) {
      auto rows = ReadAll(shared, *table_, Latest(), v, columns);
      ASSERT_TRUE(rows.ok()) << rows.status().ToString();
      EXPECT_EQ(Lines(*rows, columns), Expected(v, columns)) << "version " << v << ", " << columns[0];
      for (const auto& b : *rows) {
        EXPECT_GT(b.num_rows(), 0);
        EXPECT_LE(b.num_rows(), 500);  // a row group at most, not a file of its partition
        EXPECT_EQ(b.num_columns(), columns.size());
      }
      if (&columns == &sets[0]) pieces += static_cast<int64_t>(rows->size());
    }
  }
  ASSERT_GT(pieces, 3);  // versions 1 and 3 have several row groups
  // Per piece: name and id decoded by the first set, part and amount by the second
  // (id reused), amount reused by the third.
  EXPECT_EQ(shared.columns_decoded(), pieces * 4);
  EXPECT_EQ(shared.columns_reused(), pieces * 2);
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
  auto rows = ReadAll(shared, *table_, Latest(), 2, {"id"});
  EXPECT_EQ(rows.status().code(), StatusCode::kNotSupported) << rows.status().ToString();
  // A version that is not in the log is an error naming it.
  auto missing = ReadAll(shared, *table_, Latest(), 9, {"id"});
  EXPECT_FALSE(missing.ok());
}

TEST_F(SharedAppendsTest, VersionsEveryReaderTookAreLetGo) {
  Append(0, 500);
  Append(500, 1000);
  SharedAppends shared;
  for (int64_t v = 1; v <= 2; ++v) ASSERT_TRUE(ReadAll(shared, *table_, Latest(), v, {"id", "name"}).ok());
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
  auto again = ReadAll(shared, *table_, Latest(), 2, {"id", "name"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Lines(*again, {"id", "name"}), Expected(2, {"id", "name"}));
  EXPECT_EQ(shared.columns_decoded(), decoded + 2 * static_cast<int64_t>(again->size()));
}

TEST_F(SharedAppendsTest, BeyondTheBudgetTheOldestVersionsGo) {
  Append(0, 500);
  Append(500, 1000);
  Append(1000, 1500);
  // The budget holds the largest version (its names are the longest), not two.
  int64_t largest = 0;
  {
    SharedAppends measure;
    ASSERT_TRUE(ReadAll(measure, *table_, Latest(), 3, {"name"}).ok());
    largest = measure.bytes_kept();
  }
  ASSERT_GT(largest, 0);
  SharedAppends shared(largest);
  for (int64_t v = 1; v <= 3; ++v) ASSERT_TRUE(ReadAll(shared, *table_, Latest(), v, {"name"}).ok());
  // Only the version read last is kept.
  EXPECT_EQ(shared.bytes_kept(), largest);
  const int64_t decoded = shared.columns_decoded();
  auto last = ReadAll(shared, *table_, Latest(), 3, {"name"});
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(shared.columns_decoded(), decoded);
  auto first = ReadAll(shared, *table_, Latest(), 1, {"name"});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(shared.columns_decoded(), decoded + static_cast<int64_t>(first->size()));
  EXPECT_EQ(Lines(*first, {"name"}), Expected(1, {"name"}));
}

// A version of many row groups read by the views that follow its table: each reader
// holds a row group, not the version; a piece is decoded once and let go when every
// follower took it; a reader ahead of the others keeps pieces for them only within the
// budget, and what it could not keep is decoded again for the reader behind.
TEST_F(SharedAppendsTest, AReaderHoldsARowGroupNotTheVersion) {
  Append(0, 4000);
  const std::vector<std::string> columns = {"id", "name"};
  int64_t pieces = 0, version_bytes = 0;
  {
    SharedAppends measure;
    auto all = ReadAll(measure, *table_, Latest(), 1, columns);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    pieces = static_cast<int64_t>(all->size());
    version_bytes = measure.bytes_kept();
  }
  ASSERT_GE(pieces, 8);
  const std::vector<std::string> expected = Expected(1, columns);

  // In step: two followers take each piece in turn, with the default budget and with a
  // budget smaller than one piece (the piece just read is kept for the other all the same).
  for (int64_t budget : {SharedAppends::kDefaultBudgetBytes, int64_t{1}}) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    SharedAppends shared(budget);
    shared.Follow(table_->path(), "view_a");
    shared.Follow(table_->path(), "view_b");
    auto a = shared.Read(*table_, Latest(), 1, columns);
    auto b = shared.Read(*table_, Latest(), 1, columns);
    ASSERT_TRUE(a.ok() && b.ok());
    std::vector<RecordBatch> got_a, got_b;
    RecordBatch batch;
    while (true) {
      auto more_a = (*a)->Next(&batch);
      ASSERT_TRUE(more_a.ok()) << more_a.status().ToString();
      if (*more_a) got_a.push_back(std::move(batch));
      EXPECT_LT(shared.bytes_kept(), version_bytes / 2) << "the piece view_b has yet to take, not the version";
      auto more_b = (*b)->Next(&batch);
      ASSERT_TRUE(more_b.ok()) << more_b.status().ToString();
      ASSERT_EQ(*more_a, *more_b);
      if (!*more_b) break;
      got_b.push_back(std::move(batch));
      EXPECT_EQ(shared.bytes_kept(), 0) << "a piece both followers took is let go";
    }
    EXPECT_EQ(Lines(got_a, columns), expected);
    EXPECT_EQ(Lines(got_b, columns), expected);
    EXPECT_EQ(shared.columns_decoded(), pieces * 2);
    EXPECT_EQ(shared.columns_reused(), pieces * 2);
  }

  // One after the other, with room for about a quarter of the version: view_a keeps
  // pieces for view_b within the budget (and the piece it just took), view_b decodes the
  // others again.
  {
    const int64_t largest_piece = version_bytes / pieces * 2;  // pieces are about equal
    SharedAppends shared(version_bytes / 4);
    shared.Follow(table_->path(), "view_a");
    shared.Follow(table_->path(), "view_b");
    auto a = shared.Read(*table_, Latest(), 1, columns);
    ASSERT_TRUE(a.ok());
    std::vector<RecordBatch> got_a;
    RecordBatch batch;
    while (true) {
      auto more = (*a)->Next(&batch);
      ASSERT_TRUE(more.ok()) << more.status().ToString();
      if (!*more) break;
      got_a.push_back(std::move(batch));
      EXPECT_LE(shared.bytes_kept(), version_bytes / 4 + largest_piece);
    }
    const int64_t kept = shared.bytes_kept();
    EXPECT_GT(kept, 0);
    got_a.clear();
    auto b = ReadAll(shared, *table_, Latest(), 1, columns);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(Lines(*b, columns), expected);
    EXPECT_EQ(shared.bytes_kept(), 0);
    EXPECT_GT(shared.columns_reused(), 0);
    EXPECT_GT(shared.columns_decoded(), pieces * 2);
    EXPECT_LT(shared.columns_decoded(), pieces * 4);
  }
}

// Views updated on threads of their own read the same version at once, each in its own
// columns: each gets every row, and no column of a row group is decoded twice while the
// budget holds them.
TEST_F(SharedAppendsTest, ViewsReadingAtOnceEachGetTheWholeVersion) {
  Append(0, 3000);
  const std::vector<std::vector<std::string>> sets = {{"id", "name"}, {"name", "amount"}, {"part", "id"}, {"amount"}};
  SharedAppends shared;
  for (size_t v = 0; v < sets.size(); ++v) shared.Follow(table_->path(), "view_" + std::to_string(v));
  const delta::SnapshotPtr latest = Latest();
  std::vector<Result<std::vector<RecordBatch>>> got(sets.size(), Status::Internal("not run"));
  std::vector<std::thread> views;
  for (size_t v = 0; v < sets.size(); ++v) {
    views.emplace_back([&, v] { got[v] = ReadAll(shared, *table_, latest, 1, sets[v]); });
  }
  for (auto& t : views) t.join();
  int64_t pieces = 0;
  for (size_t v = 0; v < sets.size(); ++v) {
    ASSERT_TRUE(got[v].ok()) << got[v].status().ToString();
    EXPECT_EQ(Lines(*got[v], sets[v]), Expected(1, sets[v])) << "view " << v;
    pieces = static_cast<int64_t>(got[v]->size());
  }
  ASSERT_GE(pieces, 4);
  EXPECT_EQ(shared.columns_decoded(), pieces * 4);  // id, name, amount, part: once each
  EXPECT_EQ(shared.columns_reused(), pieces * 3);
  EXPECT_EQ(shared.bytes_kept(), 0);  // every follower took every piece
}

}  // namespace
}  // namespace lakepipe::runtime
