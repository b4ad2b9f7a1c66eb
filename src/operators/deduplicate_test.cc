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

}  // namespace
}  // namespace lakepipe::operators
