// The BatchStream wrappers (runtime/batch_stream.h): CoalesceStream joins runs of small
// batches without losing, reordering or splitting rows, keeps batches of their own size
// apart, and reports an error of its input after the rows read before it.
#include "runtime/batch_stream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lakepipe::runtime {
namespace {

Schema IdSchema() { return Schema({Field("id", DataType::Long()), Field("name", DataType::String())}); }

// A batch of ids first..first+n-1, with their names.
RecordBatch Ids(int64_t first, int64_t n) {
  Column ids(DataType::Long());
  Column names(DataType::String());
  for (int64_t i = first; i < first + n; ++i) {
    ids.Append<int64_t>(i);
    names.AppendString("n" + std::to_string(i));
  }
  std::vector<Column> cols;
  cols.push_back(std::move(ids));
  cols.push_back(std::move(names));
  return RecordBatch::FromColumns(IdSchema(), std::move(cols));
}

// A stream of batches of the given sizes, ids counting up from 0; `fail_after` batches
// (-1: never) and then an error.
std::unique_ptr<BatchStream> Sizes(std::vector<int64_t> sizes, int fail_after = -1) {
  auto next_index = std::make_shared<size_t>(0);
  auto next_id = std::make_shared<int64_t>(0);
  return FunctionStream([sizes, fail_after, next_index, next_id](RecordBatch* out) -> Result<bool> {
    if (fail_after >= 0 && *next_index == static_cast<size_t>(fail_after)) return Status::IOError("disk gone");
    if (*next_index >= sizes.size()) return false;
    *out = Ids(*next_id, sizes[(*next_index)++]);
    *next_id += out->num_rows();
    return true;
  });
}

struct Drained {
  std::vector<int64_t> sizes;
  std::vector<int64_t> ids;
  std::vector<std::string> names;
  Status end = Status::OK();
};

Drained Drain(BatchStream& s) {
  Drained d;
  RecordBatch b;
  while (true) {
    Result<bool> more = s.Next(&b);
    if (!more.ok()) {
      d.end = more.status();
      break;
    }
    if (!*more) break;
    EXPECT_TRUE(b.Validate().ok());
    d.sizes.push_back(b.num_rows());
    for (int64_t i = 0; i < b.num_rows(); ++i) {
      d.ids.push_back(b.column(0).GetValue(i).int_value());
      d.names.push_back(b.column(1).GetValue(i).ToString());
    }
  }
  return d;
}

std::vector<int64_t> Count(int64_t n) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(i);
  return v;
}

TEST(CoalesceStreamTest, SmallBatchesJoinUpToTheLimitInOrder) {
  // With max 64 a batch under 4 rows is small: ten 1-row and 3-row batches join.
  auto s = CoalesceStream(Sizes({1, 3, 1, 3, 1, 3, 1, 3, 1, 3}), 64);
  Drained d = Drain(*s);
  ASSERT_TRUE(d.end.ok()) << d.end.ToString();
  EXPECT_EQ(d.sizes, (std::vector<int64_t>{20}));
  EXPECT_EQ(d.ids, Count(20));
  EXPECT_EQ(d.names.front(), "n0");
  EXPECT_EQ(d.names.back(), "n19");
}

TEST(CoalesceStreamTest, AJoinedBatchNeverPassesTheLimit) {
  // Max 32: small means under 2 rows; 70 one-row batches give parts of 32, 32 and 6.
  auto s = CoalesceStream(Sizes(std::vector<int64_t>(70, 1)), 32);
  Drained d = Drain(*s);
  ASSERT_TRUE(d.end.ok());
  EXPECT_EQ(d.sizes, (std::vector<int64_t>{32, 32, 6}));
  EXPECT_EQ(d.ids, Count(70));
}

TEST(CoalesceStreamTest, BatchesOfTheirOwnSizePassAsTheyAre) {
  // Max 64, small under 4: the 10- and 100-row batches stay alone (the 100 is not cut:
  // that is SliceStream's work), and the small runs between them join.
  auto s = CoalesceStream(Sizes({2, 2, 10, 1, 1, 1, 100, 3}), 64);
  Drained d = Drain(*s);
  ASSERT_TRUE(d.end.ok());
  EXPECT_EQ(d.sizes, (std::vector<int64_t>{4, 10, 3, 100, 3}));
  EXPECT_EQ(d.ids, Count(120));
}

TEST(CoalesceStreamTest, AnErrorComesAfterTheRowsReadBeforeIt) {
  auto s = CoalesceStream(Sizes({1, 1, 1, 1, 1}, /*fail_after=*/3), 64);
  Drained d = Drain(*s);
  EXPECT_EQ(d.ids, Count(3));
  EXPECT_EQ(d.sizes, (std::vector<int64_t>{3}));
  EXPECT_EQ(d.end.code(), StatusCode::kIOError) << d.end.ToString();
  // After the error the stream is over.
  RecordBatch b;
  Result<bool> more = s->Next(&b);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
}

TEST(CoalesceStreamTest, AnEmptyInputGivesNothing) {
  auto s = CoalesceStream(Sizes({}), 64);
  Drained d = Drain(*s);
  EXPECT_TRUE(d.end.ok());
  EXPECT_TRUE(d.sizes.empty());
}

TEST(CoalesceStreamTest, BatchesOfOtherSchemasAreNotJoined) {
  Schema other({Field("id", DataType::Long())});
  int calls = 0;
  auto s = CoalesceStream(FunctionStream([&](RecordBatch* out) -> Result<bool> {
                            ++calls;
                            if (calls > 3) return false;
                            if (calls == 2) {
                              Column c(DataType::Long());
                              c.Append<int64_t>(7);
                              std::vector<Column> cols;
                              cols.push_back(std::move(c));
                              *out = RecordBatch::FromColumns(other, std::move(cols));
                            } else {
                              *out = Ids(calls, 1);
                            }
                            return true;
                          }),
                          64);
  std::vector<int64_t> sizes;
  std::vector<size_t> widths;
  RecordBatch b;
  while (true) {
    Result<bool> more = s->Next(&b);
    ASSERT_TRUE(more.ok());
    if (!*more) break;
    sizes.push_back(b.num_rows());
    widths.push_back(b.num_columns());
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(widths, (std::vector<size_t>{2, 1, 2}));
}

}  // namespace
}  // namespace lakepipe::runtime
