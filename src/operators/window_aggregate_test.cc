// WindowAggregate: rows assigned to tumbling and sliding windows; in streaming mode the
// per-row watermark decides late rows and which windows are output, and a new instance
// continues from the exported open windows exactly as one instance would.
#include "operators/window_aggregate.h"

#include <gtest/gtest.h>

#include "expr/test_util.h"

namespace lakepipe::operators {
namespace {

using expr::Expr;
constexpr int64_t kMinute = 60LL * 1000000;

RecordBatch Rows(std::vector<std::pair<std::string, int64_t>> key_and_minute) {
  std::vector<std::vector<Value>> rows;
  for (auto& [k, m] : key_and_minute) rows.push_back({Value::String(k), Value::Timestamp(m * kMinute)});
  return expr::test::MakeBatch("k STRING, t TIMESTAMP", rows);
}

// GROUP BY window(t, size, slide), k with count(*), over "k STRING, t TIMESTAMP".
std::unique_ptr<WindowAggregate> Make(int64_t size_min, int64_t slide_min, std::optional<int64_t> delay_min) {
  Schema in = Schema::ParseDDL("k STRING, t TIMESTAMP").value();
  auto time = expr::Bind(*Expr::Column("t"), in, {}).value();
  expr::BoundExpr start;
  start.kind = expr::BoundKind::kColumn;
  start.column_index = 2;
  start.type = DataType::Timestamp();
  start.text = "window";
  auto key = expr::Bind(*Expr::Column("k"), in, {}).value();
  expr::BindContext ctx;
  ctx.allow_aggregates = true;
  auto count = expr::Bind(*Expr::Call("count", {}), in, ctx).value();
  WindowAggregate::Factory make = [=]() { return HashAggregate::Make({start, key}, {"window", "k"}, {count}, {"n"}); };
  Schema out;
  out.AddField(Field{"window", DataType::Struct({Field{"start", DataType::Timestamp(), true},
                                                 Field{"end", DataType::Timestamp(), true}}),
                     true});
  out.AddField(Field{"k", DataType::String(), true});
  out.AddField(Field{"n", DataType::Long(), false});
  std::optional<int64_t> delay;
  if (delay_min) delay = *delay_min * kMinute;
  auto w = WindowAggregate::Make({size_min * kMinute, slide_min * kMinute, 0}, time, 0, delay, make, out);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return std::move(w).value();
}

TEST(WindowAggregate, TumblingAndSlidingWindowsInBatchMode) {
  auto tumbling = Make(10, 10, std::nullopt);
  std::vector<WindowAggregate::LateRow> late;
  ASSERT_TRUE(tumbling->Push(Rows({{"a", 1}, {"a", 9}, {"a", 10}, {"b", 25}}), &late).ok());
  auto out = tumbling->Finish();
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(expr::test::SortedRows(*out),
            (std::vector<std::string>{"{1970-01-01 00:00:00, 1970-01-01 00:10:00}|a|2",
                                      "{1970-01-01 00:10:00, 1970-01-01 00:20:00}|a|1",
                                      "{1970-01-01 00:20:00, 1970-01-01 00:30:00}|b|1"}));
  // 10-minute windows every 5 minutes: minute 7 is in [0,10) and [5,15).
  auto sliding = Make(10, 5, std::nullopt);
  ASSERT_TRUE(sliding->Push(Rows({{"a", 7}, {"a", 12}}), &late).ok());
  out = sliding->Finish();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(expr::test::SortedRows(*out),
            (std::vector<std::string>{"{1970-01-01 00:00:00, 1970-01-01 00:10:00}|a|1",
                                      "{1970-01-01 00:05:00, 1970-01-01 00:15:00}|a|2",
                                      "{1970-01-01 00:10:00, 1970-01-01 00:20:00}|a|1"}));
  EXPECT_TRUE(late.empty());
}

TEST(WindowAggregate, StreamingOutputsClosedWindowsOnceAndHandsBackLateRows) {
  // Delay 5 minutes. Rows 1, 8, 21: the watermark reaches 16 and [0,10) closes. Then 3 and
  // 14 are late (below 16), 17 is not.
  auto first = Make(10, 10, 5);
  std::vector<WindowAggregate::LateRow> late;
  ASSERT_TRUE(first->Push(Rows({{"a", 1}, {"a", 8}, {"a", 21}}), &late).ok());
  EXPECT_TRUE(late.empty());
  auto closed = first->TakeClosed();
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(expr::test::SortedRows(*closed),
            (std::vector<std::string>{"{1970-01-01 00:00:00, 1970-01-01 00:10:00}|a|2"}));
  auto open = first->OpenState();
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->num_rows(), 1);  // [20,30)
  EXPECT_EQ(first->max_event_time(), 21 * kMinute);

  // The next batch in a new instance continues from the exported state.
  auto second = Make(10, 10, 5);
  ASSERT_TRUE(second->Restore(first->max_event_time(), *open).ok());
  RecordBatch batch = Rows({{"a", 3}, {"a", 14}, {"a", 17}, {"a", 29}, {"a", 36}, {"a", 9}});
  ASSERT_TRUE(second->Push(batch, &late).ok());
  // Watermark 16 when 3 and 14 arrive: [0,10) is closed (3 is late), [10,20) is not (14
  // counts although it is below the watermark, as in Spark). At 9 the watermark is 31.
  ASSERT_EQ(late.size(), 2u);
  EXPECT_EQ(late[0].row, 0);
  EXPECT_EQ(late[1].row, 5);
  EXPECT_EQ(late[0].reason, "t 1970-01-01 00:03:00 is behind the watermark 1970-01-01 00:16:00 (the latest t before it "
                            "minus the WATERMARK delay) in every window it belongs to");
  // Watermark 31: [10,20) has 14 and 17, [20,30) has 21 and 29; [30,40) stays open.
  closed = second->TakeClosed();
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(expr::test::SortedRows(*closed),
            (std::vector<std::string>{"{1970-01-01 00:10:00, 1970-01-01 00:20:00}|a|2",
                                      "{1970-01-01 00:20:00, 1970-01-01 00:30:00}|a|2"}));
  EXPECT_EQ(second->OpenState()->num_rows(), 1);
}

TEST(WindowAggregate, SlidingRowCountsOnlyInItsOpenWindows) {
  // 10-minute windows every 5, delay 0. After 12 the watermark is 12: a row at 6 belongs to
  // [0,10) (closed) and [5,15) (open): it counts in [5,15) only and is not late. A row at
  // 4 belongs to [-5,5) and [0,10), both closed: late.
  auto w = Make(10, 5, 0);
  std::vector<WindowAggregate::LateRow> late;
  ASSERT_TRUE(w->Push(Rows({{"a", 12}, {"a", 6}, {"a", 4}}), &late).ok());
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].row, 2);
  auto closed = w->TakeClosed();
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(expr::test::SortedRows(*closed), (std::vector<std::string>{}));
  auto open = w->OpenState();
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->num_rows(), 2);  // [5,15) with 12 and 6, [10,20) with 12
  auto all = Make(10, 5, 0);
  ASSERT_TRUE(all->Restore(w->max_event_time(), *open).ok());
  ASSERT_TRUE(all->Push(Rows({{"a", 40}}), &late).ok());
  closed = all->TakeClosed();
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(expr::test::SortedRows(*closed),
            (std::vector<std::string>{"{1970-01-01 00:05:00, 1970-01-01 00:15:00}|a|2",
                                      "{1970-01-01 00:10:00, 1970-01-01 00:20:00}|a|1"}));
}

// GROUP BY session_window(t, gap), k with count(*) over "k STRING, t TIMESTAMP".
std::unique_ptr<WindowAggregate> MakeSession(int64_t gap_min, std::optional<int64_t> delay_min) {
  Schema in = Schema::ParseDDL("k STRING, t TIMESTAMP").value();
  auto time = expr::Bind(*Expr::Column("t"), in, {}).value();
  expr::BoundExpr start;
  start.kind = expr::BoundKind::kColumn;
  start.column_index = 2;
  start.type = DataType::Timestamp();
  start.text = "session_window";
  auto key = expr::Bind(*Expr::Column("k"), in, {}).value();
  expr::BindContext ctx;
  ctx.allow_aggregates = true;
  auto count = expr::Bind(*Expr::Call("count", {}), in, ctx).value();
  auto last = expr::Bind(*Expr::Call("max", {Expr::Column("t")}), in, ctx).value();
  WindowAggregate::Factory make = [=]() {
    return HashAggregate::Make({start, key}, {"session_window", "k"}, {count, last}, {"n", "$last"});
  };
  Schema out;
  out.AddField(Field{"session_window", DataType::Struct({Field{"start", DataType::Timestamp(), true},
                                                         Field{"end", DataType::Timestamp(), true}}),
                     true});
  out.AddField(Field{"k", DataType::String(), true});
  out.AddField(Field{"n", DataType::Long(), false});
  std::optional<int64_t> delay;
  if (delay_min) delay = *delay_min * kMinute;
  WindowSpec spec{gap_min * kMinute, gap_min * kMinute, 0, true};
  auto w = WindowAggregate::Make(spec, time, 0, delay, make, out, {key});
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return std::move(w).value();
}

TEST(WindowAggregate, SessionsInBatchMode) {
  // Gap 5: a@1, a@4, a@8 form [1, 13); a@13 starts [13, 18) (13 is not before 13); b@2 alone.
  auto w = MakeSession(5, std::nullopt);
  std::vector<WindowAggregate::LateRow> late;
  ASSERT_TRUE(w->Push(Rows({{"a", 8}, {"a", 1}, {"b", 2}, {"a", 13}, {"a", 4}}), &late).ok());
  auto out = w->Finish();
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(expr::test::SortedRows(*out),
            (std::vector<std::string>{"{1970-01-01 00:01:00, 1970-01-01 00:13:00}|a|3",
                                      "{1970-01-01 00:02:00, 1970-01-01 00:07:00}|b|1",
                                      "{1970-01-01 00:13:00, 1970-01-01 00:18:00}|a|1"}));
}

TEST(WindowAggregate, StreamingSessionsMergeAcrossBatchesAndCloseWithTheWatermark) {
  // Gap 5, delay 10. Batch 1: a@0, a@20, a@14 open [0,5), [20,25), [14,19); the watermark
  // ends at 10, past [0,5), which is output.
  auto first = MakeSession(5, 10);
  std::vector<WindowAggregate::LateRow> late;
  ASSERT_TRUE(first->Push(Rows({{"a", 0}, {"a", 20}, {"a", 14}}), &late).ok());
  EXPECT_TRUE(late.empty());
  auto closed = first->TakeClosed();
  ASSERT_TRUE(closed.ok()) << closed.status().ToString();
  EXPECT_EQ(expr::test::SortedRows(*closed),
            (std::vector<std::string>{"{1970-01-01 00:00:00, 1970-01-01 00:05:00}|a|1"}));
  auto open = first->OpenState();
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->num_rows(), 2);  // [14,19) and [20,25)

  // Batch 2 in a new instance: a@17 bridges [14,19) and [20,25) into [14,25) of 3 rows,
  // then 4 more; a@9 is late (watermark 10); at a@60 the watermark is 50 and all close.
  auto second = MakeSession(5, 10);
  ASSERT_TRUE(second->Restore(first->max_event_time(), *open).ok());
  ASSERT_TRUE(second->Push(Rows({{"a", 17}, {"a", 9}, {"b", 21}}), &late).ok());
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].row, 1);
  ASSERT_TRUE(second->Push(Rows({{"a", 60}}), &late).ok());
  closed = second->TakeClosed();
  ASSERT_TRUE(closed.ok()) << closed.status().ToString();
  EXPECT_EQ(expr::test::SortedRows(*closed),
            (std::vector<std::string>{"{1970-01-01 00:14:00, 1970-01-01 00:25:00}|a|3",
                                      "{1970-01-01 00:21:00, 1970-01-01 00:26:00}|b|1"}));
  open = second->OpenState();
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->num_rows(), 1);  // [60,65)
}

}  // namespace
}  // namespace lakepipe::operators
