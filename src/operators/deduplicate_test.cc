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
