#include "state/join_state_store.h"

#include <gtest/gtest.h>

#include <random>

#include "expr/test_util.h"
#include "testing/testing.h"

namespace lakepipe::state {
namespace {

using namespace lakepipe::expr::test;
using operators::JoinType;
using operators::StreamJoin;
using operators::StreamJoinBounds;
using operators::StreamJoinState;

constexpr int64_t kMinute = 60LL * 1000000;
const char* kLeftDdl = "k INT, ts TIMESTAMP, v STRING, d DECIMAL(10,2), x DOUBLE, b BOOLEAN, dt DATE, n BIGINT, "
                       "bin BINARY, ntz TIMESTAMP_NTZ, f FLOAT, s SMALLINT, y TINYINT";
const char* kRightDdl = "rk INT, rts TIMESTAMP, w STRING";

struct JoinSetup {
  Schema left = Schema::ParseDDL(kLeftDdl).value();
  Schema right = Schema::ParseDDL(kRightDdl).value();
  Schema output;
  StreamJoinBounds bounds;
  JoinSetup() {
    for (const auto& f : left.fields()) output.AddField(f);
    for (auto f : right.fields()) {
      f.nullable = true;
      output.AddField(f);
    }
    bounds.left_time = 1;
    bounds.right_time = 1;
    bounds.left_delay_micros = 10 * kMinute;
    bounds.right_delay_micros = 10 * kMinute;
    bounds.lower_micros = -30 * kMinute;
    bounds.upper_micros = 30 * kMinute;
  }
  // ON k = rk AND rts - ts within +-30 minutes, in epoch seconds (times are whole minutes).
  std::unique_ptr<StreamJoin> Make(StreamJoinState* state) {
    auto diff = Call("-", {CastAs(Col("rts"), "BIGINT"), CastAs(Col("ts"), "BIGINT")});
    auto residual = expr::Bind(*Call("and", {Call(">=", {diff, Long(-1800)}), Call("<=", {diff, Long(1800)})}),
                               output);
    EXPECT_TRUE(residual.ok()) << residual.status().ToString();
    auto j = StreamJoin::Make(JoinType::kLeft, left, right, output, {expr::Bind(*Col("k"), left).value()},
                              {expr::Bind(*Col("rk"), right).value()}, *residual, bounds, state);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    return std::move(j).value();
  }
};

RecordBatch Left(std::mt19937_64& rng, int64_t* clock, int n) {
  std::vector<std::vector<Value>> rows;
  for (int i = 0; i < n; ++i) {
    *clock += static_cast<int64_t>(rng() % 5) * kMinute;
    int64_t ts = *clock - static_cast<int64_t>(rng() % 15) * kMinute;
    bool nulls = rng() % 7 == 0;
    rows.push_back({Value::Int(static_cast<int64_t>(rng() % 3), TypeId::kInt), Value::Timestamp(ts),
                    nulls ? Value::Null() : Value::String("v\xc3\xa9" + std::to_string(rng() % 1000)),
                    Value::Decimal(static_cast<int128_t>(rng() % 100000) - 50000, 10, 2), Value::Double(0.5 * (rng() % 9)),
                    Value::Bool(rng() % 2), Value::Date(static_cast<int32_t>(rng() % 20000)),
                    Value::Int(static_cast<int64_t>(rng()) >> 3), Value::Binary(std::string("\0\1x", 3)),
                    Value::Timestamp(ts, true), Value::Double(1.25, TypeId::kFloat),
                    Value::Int(-7, TypeId::kShort), nulls ? Value::Null() : Value::Int(3, TypeId::kByte)});
  }
  return MakeBatch(kLeftDdl, rows);
}
RecordBatch Right(std::mt19937_64& rng, int64_t* clock, int n) {
  std::vector<std::vector<Value>> rows;
  for (int i = 0; i < n; ++i) {
    *clock += static_cast<int64_t>(rng() % 5) * kMinute;
    rows.push_back({Value::Int(static_cast<int64_t>(rng() % 3), TypeId::kInt),
                    Value::Timestamp(*clock - static_cast<int64_t>(rng() % 15) * kMinute), Value::String("w")});
  }
  return MakeBatch(kRightDdl, rows);
}

TEST(JoinStateStoreTest, AReopenedStoreJoinsExactlyAsOneKeptInMemory) {
  testing::TempDir dir;
  JoinSetup s;
  std::mt19937_64 rng(7);
  std::vector<std::pair<RecordBatch, RecordBatch>> batches;
  int64_t lc = 1700000000LL * 1000000, rc = lc;
  for (int b = 0; b < 40; ++b) batches.push_back({Left(rng, &lc, static_cast<int>(rng() % 6)), Right(rng, &rc, static_cast<int>(rng() % 6))});

  StreamJoinState memory(s.left, s.right);
  auto in_memory = s.Make(&memory);
  std::vector<RecordBatch> want, got;
  for (const auto& [l, r] : batches) {
    auto out = in_memory->Push({l}, {r});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    for (auto& x : out->rows) want.push_back(x);
  }
  ASSERT_GT(SortedRows(want).size(), 20u);

  for (size_t b = 0; b < batches.size(); ++b) {
    auto store = JoinStateStore::Open(dir.Join("join-0"), s.left, s.right);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto join = s.Make((*store)->state());
    if (b % 3 == 1) {  // a failed attempt first: its changes must leave no trace
      ASSERT_TRUE(join->Push({batches[b].first}, {batches[b].second}).ok());
      ASSERT_TRUE((*store)->Abandon().ok());
      join = s.Make((*store)->state());
    }
    auto out = join->Push({batches[b].first}, {batches[b].second});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    for (auto& x : out->rows) got.push_back(x);
    ASSERT_TRUE((*store)->Commit(static_cast<int64_t>(b)).ok());
    EXPECT_EQ((*store)->Size().keys, (*store)->state()->rows());
  }
  EXPECT_EQ(SortedRows(got), SortedRows(want));
  auto reopened = JoinStateStore::Open(dir.Join("join-0"), s.left, s.right);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(SortedRows(std::vector<RecordBatch>{(*reopened)->state()->left.rows}), SortedRows(std::vector<RecordBatch>{memory.left.rows}));
  EXPECT_EQ(SortedRows(std::vector<RecordBatch>{(*reopened)->state()->right.rows}), SortedRows(std::vector<RecordBatch>{memory.right.rows}));
  EXPECT_EQ((*reopened)->state()->left.matched.size(), memory.left.matched.size());
  EXPECT_EQ((*reopened)->state()->left.max_time, memory.left.max_time);
  EXPECT_EQ((*reopened)->committed_batch(), static_cast<int64_t>(batches.size() - 1));
}

TEST(JoinStateStoreTest, ABatchIsAppliedOnceAndOtherColumnsAreRefused) {
  testing::TempDir dir;
  JoinSetup s;
  auto store = JoinStateStore::Open(dir.Join("j"), s.left, s.right);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Commit(0).ok());
  auto again = (*store)->Commit(0);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("already applied"), std::string::npos) << again.ToString();
  store->reset();
  auto other = JoinStateStore::Open(dir.Join("j"), s.right, s.left);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("full refresh"), std::string::npos) << other.status().ToString();
}

}  // namespace
}  // namespace lakepipe::state
