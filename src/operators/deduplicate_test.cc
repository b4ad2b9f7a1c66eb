// Deduplicate with a watermark across instances: the runtime builds a Deduplicate per
// micro-batch over the flow's seen-key set, so the watermark must carry over through it.
#include "operators/deduplicate.h"

#include <gtest/gtest.h>

#include "expr/test_util.h"

namespace lakepipe::operators {
namespace {

constexpr int64_t kMinute = 60LL * 1000000;

RecordBatch Rows(std::vector<std::pair<int, int64_t>> key_and_minute) {
  std::vector<std::vector<Value>> rows;
  for (auto [k, m] : key_and_minute) rows.push_back({Value::Int(k, TypeId::kInt), Value::Timestamp(m * kMinute)});
  return expr::test::MakeBatch("k INT, t TIMESTAMP", rows);
}

TEST(DeduplicateWatermark, ANewInstanceContinuesTheSetsWatermark) {
  Schema schema = Schema::ParseDDL("k INT, t TIMESTAMP").value();
  auto seen = std::make_shared<InMemorySeenKeySet>();
  EXPECT_FALSE(seen->RecordedWatermark().has_value());
  {
    auto d = Deduplicate::Make(schema, {0}, seen, DeduplicateWatermark{1, 10 * kMinute});
    ASSERT_TRUE(d.ok());
    EXPECT_FALSE((*d)->watermark().has_value());
    auto out = (*d)->Push(Rows({{1, 30}, {2, 40}}));
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out->num_rows(), 2);
  }
  EXPECT_EQ(seen->RecordedWatermark(), 30 * kMinute);
  auto d = Deduplicate::Make(schema, {0}, seen, DeduplicateWatermark{1, 10 * kMinute});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)->watermark(), 30 * kMinute);
  // Minute 20 is late for the carried-over watermark; key 2 is a duplicate; key 3 is new.
  auto out = (*d)->Push(Rows({{5, 20}, {2, 41}, {3, 35}}));
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->num_rows(), 1);
  EXPECT_EQ(out->Row(0)[0].ToString(), "3");
  // Without a watermark spec the set's watermark is not used.
  auto plain = Deduplicate::Make(schema, {0}, seen);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE((*plain)->watermark().has_value());
}

// Keyed, delay 5 minutes, rows (key, minute) in stream order. Each row's watermark is the
// largest earlier time minus 5: 10, 12 -> a kept, dup; 20 -> b kept (watermark now 15);
// a@14 late; a@16: a's kept row (10) is below 15, a is forgotten -> kept anew; b@18:
// b was kept at 20, a later time -> handed back as out of order; b@25 dup.
std::vector<std::pair<int, int64_t>> KeyedInput() {
  return {{1, 10}, {1, 12}, {2, 20}, {1, 14}, {1, 16}, {2, 18}, {2, 25}};
}

TEST(DeduplicateWatermark, KeyedFirstRowPerKeyWithinTheWatermark) {
  Schema schema = Schema::ParseDDL("k INT, t TIMESTAMP").value();
  auto d = Deduplicate::Make(schema, {0}, nullptr, DeduplicateWatermark{1, 5 * kMinute});
  ASSERT_TRUE(d.ok());
  std::vector<Deduplicate::LateRow> late;
  auto out = (*d)->Push(Rows(KeyedInput()), &late);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(expr::test::SortedRows({*out}),
            (std::vector<std::string>{"1|1970-01-01 00:10:00", "1|1970-01-01 00:16:00", "2|1970-01-01 00:20:00"}));
  ASSERT_EQ(late.size(), 2u);
  EXPECT_EQ(late[0].row, 3);
  EXPECT_EQ(late[0].watermark_micros, 15 * kMinute);
  EXPECT_EQ(late[0].reason, "");
  EXPECT_EQ(late[1].row, 5);
  EXPECT_NE(late[1].reason.find("a row of its key with a later event time (1970-01-01 00:20:00) arrived first"),
            std::string::npos)
      << late[1].reason;
}

TEST(DeduplicateWatermark, KeyedResultDoesNotDependOnTheBatches) {
  // One row per batch, each batch a new instance over the shared set (as the runtime does).
  Schema schema = Schema::ParseDDL("k INT, t TIMESTAMP").value();
  auto seen = std::make_shared<InMemorySeenKeySet>();
  std::vector<RecordBatch> kept;
  std::vector<int32_t> late_rows;
  int32_t index = 0;
  for (auto row : KeyedInput()) {
    auto d = Deduplicate::Make(schema, {0}, seen, DeduplicateWatermark{1, 5 * kMinute});
    ASSERT_TRUE(d.ok());
    std::vector<Deduplicate::LateRow> late;
    auto out = (*d)->Push(Rows({row}), &late);
    ASSERT_TRUE(out.ok());
    kept.push_back(*out);
    for (const auto& l : late) late_rows.push_back(index + l.row);
    ++index;
  }
  EXPECT_EQ(expr::test::SortedRows(kept),
            (std::vector<std::string>{"1|1970-01-01 00:10:00", "1|1970-01-01 00:16:00", "2|1970-01-01 00:20:00"}));
  EXPECT_EQ(late_rows, (std::vector<int32_t>{3, 5}));
}

}  // namespace
}  // namespace lakepipe::operators

namespace lakepipe::operators {
namespace {

// A DISTINCT encodes and looks up a large batch's keys a slice of 2,048 rows at a time:
// the rows kept must be those of one row at a time, whatever slice a row and its earlier
// duplicate fall in (the same slice, the one before, a batch before), and when no row, all
// rows or one row of a batch survive.
TEST(DeduplicateSlices, TheRowsKeptDoNotDependOnTheSlices) {
  Schema schema = Schema::ParseDDL("k INT, s STRING").value();
  auto batch_of = [](const std::vector<int>& keys) {
    std::vector<std::vector<Value>> rows;
    for (int k : keys) {
      rows.push_back({Value::Int(k, TypeId::kInt), k % 3 == 0 ? Value::Null() : Value::String("v" + std::to_string(k % 7))});
    }
    return expr::test::MakeBatch("k INT, s STRING", rows);
  };
  // Key i and i + 7 mod 5,000 meet across slices; the third batch repeats every key of
  // the first two (none survives); the fourth holds only new keys (all survive); the
  // fifth one new key among repeats.
  std::vector<std::vector<int>> batches;
  std::vector<int> first;
  for (int i = 0; i < 6000; ++i) first.push_back((i * 7919) % 5000);
  batches.push_back(first);
  std::vector<int> second;
  for (int i = 0; i < 4100; ++i) second.push_back(i % 2 == 0 ? 4000 + i : (i * 31) % 6000);
  batches.push_back(second);
  std::vector<int> repeats(first.begin(), first.end());
  repeats.insert(repeats.end(), second.begin(), second.end());
  batches.push_back(repeats);
  std::vector<int> fresh;
  for (int i = 0; i < 2049; ++i) fresh.push_back(100000 + i);
  batches.push_back(fresh);
  std::vector<int> one(first.begin(), first.begin() + 4097);
  one[2048] = 200000;
  batches.push_back(one);

  auto sliced = Deduplicate::Make(schema, {}).value();
  auto row_by_row = Deduplicate::Make(schema, {}).value();
  const std::vector<int64_t> expect_kept = {-1, -1, 0, 2049, 1};
  for (size_t b = 0; b < batches.size(); ++b) {
    RecordBatch batch = batch_of(batches[b]);
    auto got = sliced->PushSelect(batch);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    std::vector<int32_t> want;
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      auto out = row_by_row->Push(batch.Slice(r, 1));
      ASSERT_TRUE(out.ok());
      if (out->num_rows() == 1) want.push_back(static_cast<int32_t>(r));
    }
    std::vector<int32_t> kept;
    if (got->all()) {
      for (int64_t r = 0; r < batch.num_rows(); ++r) kept.push_back(static_cast<int32_t>(r));
    } else {
      kept = *got->rows;
    }
    EXPECT_EQ(kept, want) << "batch " << b;
    if (expect_kept[b] >= 0) {
      EXPECT_EQ(static_cast<int64_t>(kept.size()), expect_kept[b]) << "batch " << b;
    }
  }
}

}  // namespace
}  // namespace lakepipe::operators
