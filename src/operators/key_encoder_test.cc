// KeyEncoder::EncodeAll (column by column, for the dedup set and aggregates) must give
// every row exactly the bytes Encode gives it row by row: the seen-key digests and the
// aggregate states stored on disk are made from these bytes.
#include "operators/key_encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "expr/test_util.h"

namespace lakepipe::operators {
namespace {

void ExpectSameAsRowByRow(const RecordBatch& batch) {
  std::vector<const Column*> columns;
  for (size_t c = 0; c < batch.num_columns(); ++c) columns.push_back(&batch.column(c));
  std::string arena;
  std::vector<std::string_view> keys;
  KeyEncoder::EncodeAll(columns, batch.num_rows(), &arena, &keys);
  ASSERT_EQ(keys.size(), static_cast<size_t>(batch.num_rows()));
  size_t total = 0;
  for (int64_t r = 0; r < batch.num_rows(); ++r) {
    std::string one;
    KeyEncoder::Encode(columns, r, &one);
    EXPECT_EQ(std::string(keys[static_cast<size_t>(r)]), one) << "row " << r;
    total += one.size();
  }
  EXPECT_EQ(arena.size(), total);  // the keys are the arena, row after row
  // Again into the same (now long enough) arena: the same keys, from its start.
  const std::string first = arena;
  KeyEncoder::EncodeAll(columns, batch.num_rows(), &arena, &keys);
  ASSERT_EQ(keys.size(), static_cast<size_t>(batch.num_rows()));
  EXPECT_EQ(arena, first);
  if (!keys.empty()) {
    EXPECT_EQ(keys[0].data(), arena.data());
  }
}

TEST(KeyEncoderEncodeAll, EqualsEncodeRowByRowForEveryFlatType) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  RecordBatch batch = expr::test::MakeBatch(
      "i INT, l BIGINT, d DOUBLE, f FLOAT, s STRING, b BOOLEAN, dt DATE, ts TIMESTAMP, m DECIMAL(20,2), bin BINARY",
      {
          {Value::Int(1, TypeId::kInt), Value::Int(-5), Value::Double(-0.0), Value::Double(1.5, TypeId::kFloat),
           Value::String("abc"), Value::Bool(true), Value::Date(19000), Value::Timestamp(123456789),
           Value::Decimal(12345, 20, 2), Value::Binary(std::string("\0\1x", 3))},
          {Value::Null(), Value::Null(), Value::Null(), Value::Null(), Value::Null(), Value::Null(), Value::Null(),
           Value::Null(), Value::Null(), Value::Null()},
          {Value::Int(-7, TypeId::kInt), Value::Int(1LL << 40), Value::Double(nan), Value::Double(-0.0, TypeId::kFloat),
           Value::String(""), Value::Bool(false), Value::Date(-1), Value::Timestamp(-1), Value::Decimal(-1, 20, 2),
           Value::Binary("")},
          {Value::Int(0, TypeId::kInt), Value::Null(), Value::Double(2.25), Value::Null(),
           Value::String(std::string(300, 'z')), Value::Null(), Value::Date(0), Value::Null(), Value::Null(),
           Value::Binary("b")},
      });
  ExpectSameAsRowByRow(batch);
  // -0.0 and 0.0, and every NaN, give one key (they group together).
  RecordBatch zeros = expr::test::MakeBatch("d DOUBLE", {{Value::Double(-0.0)}, {Value::Double(0.0)},
                                                         {Value::Double(nan)}, {Value::Double(-nan)}});
  std::vector<const Column*> columns{&zeros.column(0)};
  std::string arena;
  std::vector<std::string_view> keys;
  KeyEncoder::EncodeAll(columns, zeros.num_rows(), &arena, &keys);
  EXPECT_EQ(keys[0], keys[1]);
  EXPECT_EQ(keys[2], keys[3]);
  EXPECT_NE(keys[0], keys[2]);
}

TEST(KeyEncoderEncodeAll, NestedColumnsAndEmptyBatches) {
  RecordBatch batch = expr::test::MakeBatch(
      "s STRING, a ARRAY<INT>", {{Value::String("x"), Value::Array({Value::Int(1, TypeId::kInt)})},
                                 {Value::Null(), Value::Null()},
                                 {Value::String("y"), Value::Array({})}});
  ExpectSameAsRowByRow(batch);
  RecordBatch empty = expr::test::MakeBatch("s STRING, i INT", {});
  ExpectSameAsRowByRow(empty);
  // A second call reuses the arena and gives the new rows only.
  RecordBatch one = expr::test::MakeBatch("s STRING", {{Value::String("again")}});
  std::vector<const Column*> columns{&one.column(0)};
  std::string arena = "left over from an earlier call";
  std::vector<std::string_view> keys{"stale", "stale"};
  KeyEncoder::EncodeAll(columns, 1, &arena, &keys);
  ASSERT_EQ(keys.size(), 1u);
  std::string expected;
  KeyEncoder::Encode(columns, 0, &expected);
  EXPECT_EQ(keys[0], expected);
}

}  // namespace
}  // namespace lakepipe::operators

namespace lakepipe::operators {
namespace {

// EncodeRows over a range gives each row of the range the bytes EncodeAll gives it.
TEST(KeyEncoderEncodeRows, ARangeEncodesAsTheWholeBatch) {
  std::vector<std::vector<Value>> rows;
  for (int i = 0; i < 50; ++i) {
    rows.push_back({i % 4 == 0 ? Value::Null() : Value::Int(i * 3), Value::String(std::string(static_cast<size_t>(i % 9), 'x')),
                    Value::Double(i / 4.0)});
  }
  RecordBatch batch = expr::test::MakeBatch("l BIGINT, s STRING, d DOUBLE", rows);
  std::vector<const Column*> columns;
  for (size_t c = 0; c < batch.num_columns(); ++c) columns.push_back(&batch.column(c));
  std::string whole_arena, arena;
  std::vector<std::string_view> whole, keys;
  KeyEncoder::EncodeAll(columns, batch.num_rows(), &whole_arena, &whole);
  for (auto [from, n] : std::vector<std::pair<int64_t, int64_t>>{{0, 50}, {0, 0}, {13, 1}, {7, 30}, {49, 1}}) {
    KeyEncoder::EncodeRows(columns, from, n, &arena, &keys);
    ASSERT_EQ(keys.size(), static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(keys[static_cast<size_t>(i)], whole[static_cast<size_t>(from + i)]) << from << "+" << i;
  }
}

}  // namespace
}  // namespace lakepipe::operators
