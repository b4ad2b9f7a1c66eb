// StreamJoin against a brute-force reference of its documented rule (per-side watermarks in
// input order, every on-time pair joined, unmatched left rows once the right watermark
// passes them), over many splits of the same input into micro-batches.
#include "operators/stream_join.h"

#include <gtest/gtest.h>

#include <random>

#include "expr/test_util.h"

namespace lakepipe::operators {
namespace {

using namespace lakepipe::expr::test;

constexpr int64_t kMinute = 60LL * 1000000;
constexpr int64_t kHour = 60 * kMinute;
const char* kLeftDdl = "k INT, ts TIMESTAMP, hi TIMESTAMP, v STRING";
const char* kRightDdl = "rk INT, rts TIMESTAMP, w STRING";

struct Row {
  std::optional<int> key;
  std::optional<int64_t> ts;
  std::string tag;
};

Value S2(const std::string& s) { return Value::String(s); }
Value OptInt(const std::optional<int>& v) { return v ? Value::Int(*v, TypeId::kInt) : Value::Null(); }
Value OptTs(const std::optional<int64_t>& v) { return v ? Value::Timestamp(*v) : Value::Null(); }

RecordBatch LeftBatch(const std::vector<Row>& rows) {
  std::vector<std::vector<Value>> values;
  for (const auto& r : rows) {
    values.push_back({OptInt(r.key), OptTs(r.ts), r.ts ? Value::Timestamp(*r.ts + kHour) : Value::Null(), S2(r.tag)});
  }
  return MakeBatch(kLeftDdl, values);
}
RecordBatch RightBatch(const std::vector<Row>& rows) {
  std::vector<std::vector<Value>> values;
  for (const auto& r : rows) values.push_back({OptInt(r.key), OptTs(r.ts), S2(r.tag)});
  return MakeBatch(kRightDdl, values);
}

// ON l.k = r.rk AND r.rts >= l.ts AND r.rts <= l.hi (hi = ts + 1 hour): bounds [0, 1 hour].
struct Fixture {
  Schema left = Schema::ParseDDL(kLeftDdl).value();
  Schema right = Schema::ParseDDL(kRightDdl).value();
  Schema output;
  StreamJoinBounds bounds;
  Fixture(int64_t left_delay, int64_t right_delay) {
    for (const auto& f : left.fields()) output.AddField(f);
    for (auto f : right.fields()) {
      f.nullable = true;
      output.AddField(f);
    }
    bounds.left_time = 1;
    bounds.right_time = 1;
    bounds.left_delay_micros = left_delay;
    bounds.right_delay_micros = right_delay;
    bounds.lower_micros = 0;
    bounds.upper_micros = kHour;
  }
  std::unique_ptr<StreamJoin> Make(JoinType type, StreamJoinState* state) {
    auto residual = expr::Bind(*Call("and", {Call(">=", {Col("rts"), Col("ts")}), Call("<=", {Col("rts"), Col("hi")})}),
                               output)
                        .value();
    auto j = StreamJoin::Make(type, left, right, output, {expr::Bind(*Col("k"), left).value()},
                              {expr::Bind(*Col("rk"), right).value()}, residual, bounds, state);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    return std::move(j).value();
  }
};

// The documented result over the whole input.
struct Expected {
  std::vector<std::string> rows, late_left, late_right;
};
std::vector<bool> OnTime(const std::vector<Row>& rows, int64_t delay) {
  std::vector<bool> on;
  std::optional<int64_t> max;
  for (const auto& r : rows) {
    bool late = r.ts && max && *r.ts < *max - delay;
    on.push_back(!late);
    if (r.ts && !late && (!max || *r.ts > *max)) max = *r.ts;
  }
  return on;
}
std::optional<int64_t> MaxTime(const std::vector<Row>& rows) {
  std::optional<int64_t> max;
  for (const auto& r : rows)
    if (r.ts && (!max || *r.ts > *max)) max = *r.ts;
  return max;
}
Expected Reference(JoinType type, const std::vector<Row>& left, const std::vector<Row>& right, int64_t left_delay,
                   int64_t right_delay) {
  Expected e;
  auto lon = OnTime(left, left_delay), ron = OnTime(right, right_delay);
  std::vector<RecordBatch> out, ll, lr;
  std::vector<Row> late_l, late_r;
  for (size_t i = 0; i < left.size(); ++i)
    if (!lon[i]) late_l.push_back(left[i]);
  for (size_t j = 0; j < right.size(); ++j)
    if (!ron[j]) late_r.push_back(right[j]);
  auto max_r = MaxTime(right);  // late rows never raise the max, so this is the final base
  std::vector<std::string> rows;
  for (size_t i = 0; i < left.size(); ++i) {
    if (!lon[i]) continue;
    const Row& l = left[i];
    bool matched = false;
    for (size_t j = 0; j < right.size(); ++j) {
      const Row& r = right[j];
      if (!ron[j] || !l.key || !r.key || *l.key != *r.key || !l.ts || !r.ts) continue;
      if (*r.ts < *l.ts || *r.ts > *l.ts + kHour) continue;
      matched = true;
      out.push_back(MakeBatch(std::string(kLeftDdl) + ", " + kRightDdl,
                              {{OptInt(l.key), OptTs(l.ts), Value::Timestamp(*l.ts + kHour), S2(l.tag), OptInt(r.key),
                                OptTs(r.ts), S2(r.tag)}}));
    }
    bool passed = !l.ts || !l.key || (max_r && *l.ts + kHour < *max_r - right_delay);
    if (type == JoinType::kLeft && !matched && passed) {
      out.push_back(MakeBatch(std::string(kLeftDdl) + ", " + kRightDdl,
                              {{OptInt(l.key), OptTs(l.ts), l.ts ? Value::Timestamp(*l.ts + kHour) : Value::Null(),
                                S2(l.tag), Value::Null(), Value::Null(), Value::Null()}}));
    }
  }
  e.rows = SortedRows(out);
  e.late_left = SortedRows({LeftBatch(late_l)});
  e.late_right = SortedRows({RightBatch(late_r)});
  return e;
}

// Random events around a clock that mostly moves forward, with some late and NULL values.
std::vector<Row> RandomRows(std::mt19937_64& rng, int n, const std::string& prefix) {
  std::vector<Row> rows;
  int64_t clock = 1700000000LL * 1000000;
  for (int i = 0; i < n; ++i) {
    clock += static_cast<int64_t>(rng() % 20) * kMinute;
    Row r;
    if (rng() % 17 != 0) r.key = static_cast<int>(rng() % 4);
    if (rng() % 19 != 0) r.ts = clock - static_cast<int64_t>(rng() % 90) * kMinute;  // up to 90 min out of order
    r.tag = prefix + std::to_string(i);
    rows.push_back(r);
  }
  return rows;
}

// Cuts both inputs at random points (sizes 0..max_size per side per batch).
struct Split {
  std::vector<std::vector<Row>> left, right;
};
Split RandomSplit(std::mt19937_64& rng, const std::vector<Row>& left, const std::vector<Row>& right, int max_size) {
  Split s;
  size_t i = 0, j = 0;
  while (i < left.size() || j < right.size()) {
    size_t a = std::min(left.size() - i, static_cast<size_t>(rng() % (max_size + 1)));
    size_t b = std::min(right.size() - j, static_cast<size_t>(rng() % (max_size + 1)));
    s.left.emplace_back(left.begin() + static_cast<long>(i), left.begin() + static_cast<long>(i + a));
    s.right.emplace_back(right.begin() + static_cast<long>(j), right.begin() + static_cast<long>(j + b));
    i += a;
    j += b;
  }
  return s;
}

Expected RunSplit(Fixture& f, JoinType type, const Split& split) {
  StreamJoinState state(f.left, f.right);
  auto join = f.Make(type, &state);
  std::vector<RecordBatch> out, late_l, late_r;
  for (size_t b = 0; b < split.left.size(); ++b) {
    auto r = join->Push({LeftBatch(split.left[b])}, {RightBatch(split.right[b])});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    for (auto& x : r->rows) out.push_back(x);
    late_l.push_back(r->late_left);
    late_r.push_back(r->late_right);
  }
  return {SortedRows(out), SortedRows(late_l), SortedRows(late_r)};
}

TEST(StreamJoin, PartnerArrivingBatchesLaterStillJoins) {
  Fixture f(10 * kMinute, 10 * kMinute);
  StreamJoinState state(f.left, f.right);
  auto join = f.Make(JoinType::kInner, &state);
  int64_t t0 = 1700000000LL * 1000000;
  auto first = join->Push({LeftBatch({{1, t0, "l1"}})}, {RightBatch({})});
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->rows.empty());
  auto second = join->Push({LeftBatch({})}, {RightBatch({})});  // an empty batch between
  ASSERT_TRUE(second.ok());
  auto third = join->Push({LeftBatch({})}, {RightBatch({{1, t0 + 30 * kMinute, "r1"}, {2, t0 + 30 * kMinute, "r2"}})});
  ASSERT_TRUE(third.ok());
  ASSERT_EQ(SortedRows(third->rows).size(), 1u);
  EXPECT_NE(SortedRows(third->rows)[0].find("l1"), std::string::npos);
  EXPECT_NE(SortedRows(third->rows)[0].find("r1"), std::string::npos);
  EXPECT_EQ(state.left.rows.num_rows(), 1);  // the right watermark (t0+20min) has not passed t0+1h
}

TEST(StreamJoin, LeftRowWithoutMatchIsEmittedOnceWhenTheRightWatermarkPassesIt) {
  Fixture f(10 * kMinute, 10 * kMinute);
  StreamJoinState state(f.left, f.right);
  auto join = f.Make(JoinType::kLeft, &state);
  int64_t t0 = 1700000000LL * 1000000;
  auto a = join->Push({LeftBatch({{1, t0, "l1"}})}, {RightBatch({{2, t0 + 65 * kMinute, "r"}})});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->rows.empty());  // right watermark t0+55min: a match could still come
  auto b = join->Push({}, {RightBatch({{2, t0 + 71 * kMinute, "r"}})});
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(SortedRows(b->rows), (std::vector<std::string>{"1|2023-11-14 22:13:20|2023-11-14 23:13:20|l1|NULL|NULL|NULL"}));
  EXPECT_EQ(state.left.rows.num_rows(), 0);
  auto c = join->Push({}, {RightBatch({{2, t0 + 200 * kMinute, "r"}})});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->rows.empty());  // not again
}

TEST(StreamJoin, LateRowsOfEachSideAreHandedBackNotJoined) {
  Fixture f(5 * kMinute, 10 * kMinute);
  StreamJoinState state(f.left, f.right);
  auto join = f.Make(JoinType::kInner, &state);
  int64_t t0 = 1700000000LL * 1000000;
  // Left: t0+60, then t0+54 (late: below 60-5) in the same batch; right: t0+60, t0+51 (on time).
  auto r = join->Push({LeftBatch({{1, t0 + 60 * kMinute, "a"}, {1, t0 + 54 * kMinute, "late"}})},
                      {RightBatch({{1, t0 + 60 * kMinute, "x"}, {1, t0 + 51 * kMinute, "y"}})});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->late_left.num_rows(), 1);
  EXPECT_EQ(r->late_right.num_rows(), 0);
  EXPECT_EQ(SortedRows(r->rows).size(), 1u);  // a with x (y is before a)
}

TEST(StreamJoin, SameResultForEverySplitOfTheInput) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    std::mt19937_64 rng(seed);
    auto left = RandomRows(rng, 60, "l");
    auto right = RandomRows(rng, 60, "r");
    int64_t ld = static_cast<int64_t>(rng() % 40) * kMinute, rd = static_cast<int64_t>(rng() % 40) * kMinute;
    Fixture f(ld, rd);
    for (JoinType type : {JoinType::kInner, JoinType::kLeft}) {
      Expected want = Reference(type, left, right, ld, rd);
      ASSERT_FALSE(want.rows.empty());
      Split whole{{left}, {right}};
      Split one_each;
      for (const auto& r : left) one_each.left.push_back({r}), one_each.right.push_back({});
      for (const auto& r : right) one_each.left.push_back({}), one_each.right.push_back({r});
      std::vector<Split> splits = {whole, one_each, RandomSplit(rng, left, right, 1), RandomSplit(rng, left, right, 7),
                                   RandomSplit(rng, left, right, 25)};
      for (size_t s = 0; s < splits.size(); ++s) {
        Expected got = RunSplit(f, type, splits[s]);
        EXPECT_EQ(got.rows, want.rows) << "seed " << seed << " split " << s << " type " << static_cast<int>(type);
        EXPECT_EQ(got.late_left, want.late_left) << "seed " << seed << " split " << s;
        EXPECT_EQ(got.late_right, want.late_right) << "seed " << seed << " split " << s;
      }
    }
  }
}

TEST(StreamJoin, StateStaysBoundedByTheWatermarks) {
  Fixture f(5 * kMinute, 5 * kMinute);
  StreamJoinState state(f.left, f.right);
  auto join = f.Make(JoinType::kLeft, &state);
  int64_t t = 1700000000LL * 1000000;
  int64_t most = 0;
  for (int b = 0; b < 200; ++b) {
    std::vector<Row> l, r;
    for (int i = 0; i < 10; ++i) {
      t += kMinute;
      l.push_back({i % 3, t, "l"});
      r.push_back({i % 3, t + 2 * kMinute, "r"});
    }
    ASSERT_TRUE(join->Push({LeftBatch(l)}, {RightBatch(r)}).ok());
    most = std::max(most, state.rows());
  }
  // Left rows live about upper + delay = 65 minutes, right rows about the left delay: at
  // one row per minute per side, well under 100 rows, however long the stream runs.
  EXPECT_LT(most, 100);
  EXPECT_GT(state.left.rows.num_rows(), 0);
}

}  // namespace
}  // namespace lakepipe::operators
