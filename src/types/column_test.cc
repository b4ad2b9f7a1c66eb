// Column building: the bulk string appends (AppendStrings, the string gather of
// AppendTake) must give the same column as appending the values one by one.
#include "types/column.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace lakepipe {
namespace {

// Every observable part of two string columns: size, nulls, each value, offsets.
void ExpectSameStrings(const Column& want, const Column& got) {
  ASSERT_EQ(want.size(), got.size());
  EXPECT_EQ(want.null_count(), got.null_count());
  for (int64_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(want.IsNull(i), got.IsNull(i)) << "row " << i;
    EXPECT_EQ(want.GetString(i), got.GetString(i)) << "row " << i;
  }
  EXPECT_EQ(want.offsets(), got.offsets());
  EXPECT_EQ(static_cast<int64_t>(got.offsets().size()), got.size() + 1);
  EXPECT_EQ(got.offsets().back(), static_cast<int64_t>(got.raw_data().size()));
}

TEST(ColumnAppendStrings, EmptyAndLongStrings) {
  std::string long_value(1 << 20, 'x');
  long_value[12345] = 'y';
  std::vector<std::string> values = {"", "a", "", long_value, "", "tail"};
  std::vector<std::string_view> views(values.begin(), values.end());

  Column bulk(DataType::String());
  bulk.AppendStrings(views.data(), static_cast<int64_t>(views.size()));
  Column one(DataType::String());
  for (const auto& v : values) one.AppendString(v);
  ExpectSameStrings(one, bulk);
  EXPECT_EQ(bulk.GetString(3).size(), long_value.size());
  EXPECT_EQ(bulk.GetString(3)[12345], 'y');
  EXPECT_EQ(bulk.null_count(), 0);
  EXPECT_TRUE(bulk.validity().empty());

  // Nothing appended for n = 0, and only empty strings give an empty byte buffer.
  bulk.AppendStrings(views.data(), 0);
  EXPECT_EQ(bulk.size(), 6);
  Column empties(DataType::String());
  std::string_view e[3] = {"", "", ""};
  empties.AppendStrings(e, 3);
  EXPECT_EQ(empties.size(), 3);
  EXPECT_TRUE(empties.raw_data().empty());
  for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(empties.GetString(i), "");
}

// Many calls of random sizes mixed with nulls and single appends, across many
// reallocations of the byte buffer, against the same values appended one by one.
TEST(ColumnAppendStrings, ManyValuesAcrossBufferGrowthWithNulls) {
  std::mt19937_64 rng(15);
  Column bulk(DataType::String());
  Column one(DataType::String());
  std::vector<std::string> batch;
  std::vector<std::string_view> views;
  size_t reallocations = 0;
  const uint8_t* last_data = nullptr;
  for (int round = 0; round < 400; ++round) {
    batch.clear();
    views.clear();
    int n = static_cast<int>(rng() % 700);
    for (int i = 0; i < n; ++i) {
      size_t len = rng() % 5 == 0 ? rng() % 300 : rng() % 12;
      std::string v(len, '\0');
      for (auto& ch : v) ch = static_cast<char>('a' + rng() % 26);
      batch.push_back(std::move(v));
    }
    for (const auto& v : batch) views.push_back(v);
    bulk.AppendStrings(views.data(), static_cast<int64_t>(views.size()));
    for (const auto& v : batch) one.AppendString(v);
    switch (rng() % 3) {
      case 0:
        bulk.AppendNull();
        one.AppendNull();
        break;
      case 1:
        bulk.AppendString("single");
        one.AppendString("single");
        break;
      default: break;
    }
    if (bulk.raw_data().data() != last_data) {
      ++reallocations;
      last_data = bulk.raw_data().data();
    }
  }
  EXPECT_GT(reallocations, 5u);  // the byte buffer did grow under the appends
  EXPECT_GT(bulk.null_count(), 0);
  ExpectSameStrings(one, bulk);
}

// A validity bitmap that exists before a bulk append: the new rows are valid, the old
// null stays null, including across byte boundaries of the bitmap.
TEST(ColumnAppendStrings, AfterNullsKeepsBitmapRight) {
  Column c(DataType::String());
  c.AppendNull();
  std::vector<std::string_view> v(21, "v");
  c.AppendStrings(v.data(), 21);
  c.AppendNull();
  c.AppendStrings(v.data(), 3);
  ASSERT_EQ(c.size(), 26);
  EXPECT_EQ(c.null_count(), 2);
  for (int64_t i = 0; i < c.size(); ++i) {
    bool want_null = i == 0 || i == 22;
    EXPECT_EQ(c.IsNull(i), want_null) << "row " << i;
    EXPECT_EQ(c.GetString(i), want_null ? "" : "v") << "row " << i;
  }
}

// The string gather: nulls become empty ranges even when SetNull left bytes under them,
// repeated and out-of-order indices copy the right values.
TEST(ColumnTake, StringsGatherNullsAndRepeats) {
  Column src(DataType::String());
  for (int i = 0; i < 100; ++i) src.AppendString("value-" + std::to_string(i));
  src.SetNull(7);  // its bytes stay in the buffer
  src.AppendNull();
  std::vector<int32_t> idx = {99, 7, 0, 0, 100, 50, 7, 1};
  Column got = src.Take(idx);
  ASSERT_EQ(got.size(), 8);
  EXPECT_EQ(got.null_count(), 3);
  const char* want[] = {"value-99", nullptr, "value-0", "value-0", nullptr, "value-50", nullptr,
                        "value-1"};
  for (int64_t i = 0; i < 8; ++i) {
    if (want[i] == nullptr) {
      EXPECT_TRUE(got.IsNull(i)) << "row " << i;
      EXPECT_EQ(got.GetString(i), "") << "row " << i;
    } else {
      EXPECT_FALSE(got.IsNull(i)) << "row " << i;
      EXPECT_EQ(got.GetString(i), want[i]) << "row " << i;
    }
  }
  // Gathering onto a column that already holds rows (and a bitmap) appends after them.
  Column more(DataType::String());
  more.AppendNull();
  more.AppendString("first");
  std::vector<int32_t> idx2 = {3, 4};
  more.AppendTake(src, idx2.data(), 2);
  ASSERT_EQ(more.size(), 4);
  EXPECT_TRUE(more.IsNull(0));
  EXPECT_EQ(more.GetString(1), "first");
  EXPECT_EQ(more.GetString(2), "value-3");
  EXPECT_EQ(more.GetString(3), "value-4");
  EXPECT_FALSE(more.IsNull(3));
  EXPECT_EQ(more.null_count(), 1);
}

// The fixed-width gather with nulls (values whole, the bitmap a byte per 8 rows) against
// appending each taken row by AppendRange, onto columns with and without rows and nulls
// already, for gathers that start inside a bitmap byte and end inside another.
TEST(ColumnTake, FixedWidthWithNullsEqualsRowByRow) {
  std::mt19937 rng(7);
  for (DataType type : {DataType::Int(), DataType::Double(), DataType::Boolean(), DataType::Long()}) {
    Column src(type);
    for (int i = 0; i < 300; ++i) {
      if (rng() % 5 == 0) {
        src.AppendNull();
      } else if (type.id() == TypeId::kBoolean) {
        src.AppendBool(rng() % 2);
      } else if (type.id() == TypeId::kDouble) {
        src.Append<double>(i * 0.5);
      } else if (type.id() == TypeId::kLong) {
        src.Append<int64_t>(i * 1000003LL);
      } else {
        src.Append<int32_t>(i);
      }
    }
    ASSERT_TRUE(src.has_nulls());
    for (int before : {0, 3, 8, 13}) {
      for (int count : {0, 1, 7, 8, 9, 64, 131}) {
        std::vector<int32_t> idx;
        for (int k = 0; k < count; ++k) idx.push_back(static_cast<int32_t>(rng() % 300));
        Column want(type), got(type);
        for (int b = 0; b < before; ++b) {
          // Rows already there, one of them NULL when there are several.
          if (b == 1) {
            want.AppendNull();
            got.AppendNull();
          } else {
            want.AppendRange(src, b, 1);
            got.AppendRange(src, b, 1);
          }
        }
        for (int32_t r : idx) want.AppendRange(src, r, 1);
        got.AppendTake(src, idx.data(), static_cast<int64_t>(idx.size()));
        SCOPED_TRACE(type.ToString() + " before " + std::to_string(before) + " count " + std::to_string(count));
        ASSERT_EQ(want.size(), got.size());
        EXPECT_EQ(want.null_count(), got.null_count());
        for (int64_t i = 0; i < want.size(); ++i) {
          ASSERT_EQ(want.IsNull(i), got.IsNull(i)) << "row " << i;
          EXPECT_TRUE(want.GetValue(i) == got.GetValue(i)) << "row " << i;
        }
        EXPECT_EQ(want.raw_data(), got.raw_data());
      }
    }
  }
}

// AppendRange (and Slice, which the parts of a row group are cut with) copies the bitmap a
// byte at a time where source and destination rows both start on a byte boundary and bit
// by bit otherwise: every alignment gives the rows, nulls and count of one-row appends.
TEST(ColumnAppendRange, NullsAtEveryAlignmentEqualRowByRow) {
  std::mt19937 rng(11);
  Column src(DataType::String());
  for (int i = 0; i < 200; ++i) {
    if (rng() % 4 == 0) src.AppendNull();
    else src.AppendString("v" + std::to_string(i));
  }
  ASSERT_TRUE(src.has_nulls());
  for (int before : {0, 1, 5, 8, 16}) {
    for (int offset : {0, 3, 8, 16, 57}) {
      for (int count : {0, 1, 7, 8, 9, 64, 130}) {
        if (offset + count > src.size()) continue;
        Column want(src.type()), got(src.type());
        for (int b = 0; b < before; ++b) {
          if (b % 3 == 1) {
            want.AppendNull();
            got.AppendNull();
          } else {
            want.AppendString("b");
            got.AppendString("b");
          }
        }
        for (int r = offset; r < offset + count; ++r) {
          if (src.IsNull(r)) want.AppendNull();
          else want.AppendString(src.GetString(r));
        }
        got.AppendRange(src, offset, count);
        SCOPED_TRACE("before " + std::to_string(before) + " offset " + std::to_string(offset) + " count " +
                     std::to_string(count));
        ExpectSameStrings(want, got);
        // Rows appended later get their own bits.
        want.AppendNull();
        got.AppendNull();
        want.AppendString("after");
        got.AppendString("after");
        ExpectSameStrings(want, got);
      }
    }
  }
  Column slice = src.Slice(64, 120);
  int64_t nulls = 0;
  for (int r = 64; r < 184; ++r) nulls += src.IsNull(r) ? 1 : 0;
  EXPECT_EQ(slice.null_count(), nulls);
  for (int r = 0; r < 120; ++r) ASSERT_EQ(slice.IsNull(r), src.IsNull(64 + r)) << r;
}

// SetValidity counts the nulls of the rows only (whole words, then the tail), whatever
// the bitmap holds past them.
TEST(ColumnValidity, SetValidityCountsNullsOfTheRowsOnly) {
  for (int64_t n : {1, 63, 64, 65, 130, 200}) {
    Column c(DataType::Int());
    c.ResizeFixed(n);
    std::vector<uint8_t> bits(static_cast<size_t>((n + 7) / 8 + 9), 0x00);  // trailing bytes: all "null"
    int64_t want = 0;
    for (int64_t r = 0; r < n; ++r) {
      if (r % 3 != 0) bits[static_cast<size_t>(r >> 3)] |= static_cast<uint8_t>(1u << (r & 7));
      else ++want;
    }
    c.SetValidity(bits);
    EXPECT_EQ(c.null_count(), want) << n;
    for (int64_t r = 0; r < n; ++r) EXPECT_EQ(c.IsNull(r), r % 3 == 0);
  }
}

}  // namespace
}  // namespace lakepipe
