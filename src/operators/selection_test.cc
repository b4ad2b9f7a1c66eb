// Selections through DISTINCT, filters, projections and expectations: the rows, counts,
// quarantine and errors equal those of the copying operators, at the boundaries (no row
// survives, every row, one row) and when a dropped row would make an expression fail.
#include "operators/selection.h"

#include <gtest/gtest.h>

#include "expr/test_util.h"
#include "operators/deduplicate.h"
#include "operators/expectations.h"
#include "operators/filter.h"

namespace lakepipe::operators {
namespace {

using expr::BoundExpr;
using expr::test::Call;
using expr::test::Col;
using expr::test::Int;
using expr::test::MakeBatch;

Value I(int64_t v) { return Value::Int(v, TypeId::kInt); }
Value S(const std::string& v) { return Value::String(v); }
Value N() { return Value::Null(); }

BoundExpr B(const expr::ExprPtr& e, const Schema& s) {
  auto b = expr::Bind(*e, s);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return *b;
}

using expr::test::Rows;

// q, p, s: rows 1 and 3 repeat rows 0 and 2.
RecordBatch Input() {
  return MakeBatch("q INT, p INT, s STRING", {{I(1), I(2), S("a")},
                                              {I(1), I(2), S("a")},
                                              {I(-1), I(0), S("b")},
                                              {I(-1), I(0), S("b")},
                                              {N(), I(3), N()},
                                              {I(4), I(-5), S("c")}});
}

TEST(Selection, DistinctHandsOnRowsWithoutCopying) {
  RecordBatch in = Input();
  auto d = Deduplicate::Make(in.schema(), {});
  ASSERT_TRUE(d.ok());
  auto fresh = (*d)->PushSelect(in);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  ASSERT_TRUE(fresh->rows.has_value());
  EXPECT_EQ(*fresh->rows, (std::vector<int32_t>{0, 2, 4, 5}));
  // The columns are the input's own, not copies.
  EXPECT_EQ(fresh->batch.column_ptr(0).get(), in.column_ptr(0).get());
  // Push (the copying form) gives the same rows; the seen keys were recorded once.
  auto again = (*d)->PushSelect(in);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->num_rows(), 0);
  auto d2 = Deduplicate::Make(in.schema(), {});
  auto copied = (*d2)->Push(in);
  ASSERT_TRUE(copied.ok());
  EXPECT_EQ(Rows(*copied), Rows(fresh->Materialize()));
}

TEST(Selection, EveryRowSurvivingIsAllWithTheSameBatch) {
  RecordBatch in = MakeBatch("q INT", {{I(1)}, {I(2)}, {I(3)}});
  auto d = Deduplicate::Make(in.schema(), {});
  auto fresh = (*d)->PushSelect(in);
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->all());
  EXPECT_EQ(fresh->Materialize().column_ptr(0).get(), in.column_ptr(0).get());
  auto kept = FilterSelected(*fresh, B(Call(">", {Col("q"), Int(0)}), in.schema()));
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->all());
  EXPECT_EQ(kept->batch.column_ptr(0).get(), in.column_ptr(0).get());
}

TEST(Selection, FilterAndProjectCarryTheSelection) {
  RecordBatch in = Input();
  // 5 of 6 rows: dense enough to be evaluated in place (CompactIfSparse).
  SelectedBatch sel(in, std::vector<int32_t>{0, 1, 2, 4, 5});
  auto kept = FilterSelected(sel, B(Call(">", {Col("p"), Int(0)}), in.schema()));
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  ASSERT_TRUE(kept->rows.has_value());
  EXPECT_EQ(*kept->rows, (std::vector<int32_t>{0, 1, 4}));
  EXPECT_EQ(kept->batch.column_ptr(0).get(), in.column_ptr(0).get());
  std::vector<BoundExpr> exprs = {B(Call("*", {Col("p"), Int(10)}), in.schema()), B(Col("s"), in.schema())};
  Schema out_schema = ProjectionSchema(exprs, {"p10", "s"});
  auto projected = ProjectSelected(*kept, exprs, out_schema);
  ASSERT_TRUE(projected.ok());
  EXPECT_EQ(Rows(projected->Materialize()), (std::vector<std::string>{"20|a", "20|a", "30|NULL"}));
  // Against the copying operators.
  auto filtered = Filter(sel.Materialize(), B(Call(">", {Col("p"), Int(0)}), in.schema()));
  auto dense = Project(*filtered, exprs, out_schema);
  EXPECT_EQ(Rows(*dense), Rows(projected->Materialize()));
}

TEST(Selection, AnErrorOfADroppedRowDoesNotSurface) {
  RecordBatch in = Input();
  // Row 2 (p = 0) is not selected: q / p would fail on it.
  SelectedBatch sel(in, std::vector<int32_t>{0, 4, 5});
  std::vector<BoundExpr> exprs = {B(Call("/", {Col("q"), Col("p")}), in.schema())};
  Schema out_schema = ProjectionSchema(exprs, {"r"});
  auto projected = ProjectSelected(sel, exprs, out_schema);
  ASSERT_TRUE(projected.ok()) << projected.status().ToString();
  EXPECT_EQ(Rows(projected->Materialize()), (std::vector<std::string>{"0.5", "NULL", "-0.8"}));
  // A selected row that fails still fails.
  SelectedBatch with_zero(in, std::vector<int32_t>{0, 2});
  auto failed = ProjectSelected(with_zero, exprs, out_schema);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("DIVIDE_BY_ZERO"), std::string::npos);
  // The same for a filter's predicate and an expectation.
  auto kept = FilterSelected(sel, B(Call(">", {Call("/", {Col("q"), Col("p")}), Int(0)}), in.schema()));
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(Rows(kept->Materialize()), (std::vector<std::string>{"1|2|a"}));
  std::vector<Expectation> ex = {
      {"ratio", B(Call(">", {Call("/", {Col("q"), Col("p")}), Int(0)}), in.schema()), ViolationAction::kQuarantine}};
  auto r = ApplyExpectationsSelected(sel, ex);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Rows(r->kept.Materialize()), (std::vector<std::string>{"1|2|a", "NULL|3|NULL"}));
  EXPECT_EQ(Rows(r->quarantined), (std::vector<std::string>{"4|-5|c|[ratio]"}));
}

// Expectations over a selection give what they give over the selected rows copied, for
// selections where no row, one row, every selected row and every row of the batch passes.
TEST(Selection, ExpectationsEqualTheCopyingFormAtTheBoundaries) {
  RecordBatch in = Input();
  const Schema& s = in.schema();
  std::vector<Expectation> ex = {
      {"positive_q", B(Call(">", {Col("q"), Int(0)}), s), ViolationAction::kQuarantine},
      {"positive_p", B(Call(">", {Col("p"), Int(0)}), s), ViolationAction::kDrop},
      {"named", B(Call("isnotnull", {Col("s")}), s), ViolationAction::kWarn}};
  std::vector<std::optional<std::vector<int32_t>>> selections = {
      std::vector<int32_t>{2, 3},           // no row survives (quarantined)
      std::vector<int32_t>{5},              // none: dropped
      std::vector<int32_t>{1, 2, 5},        // one survives
      std::vector<int32_t>{0, 1, 4},        // every selected row survives
      std::nullopt,                         // the whole batch
      std::vector<int32_t>{},               // nothing selected
  };
  for (const auto& rows : selections) {
    SelectedBatch sel(in);
    sel.rows = rows;
    RecordBatch dense = sel.Materialize();
    auto copying = ApplyExpectations(dense, ex);
    auto selected = ApplyExpectationsSelected(sel, ex);
    ASSERT_TRUE(copying.ok() && selected.ok());
    SCOPED_TRACE(dense.num_rows());
    EXPECT_EQ(Rows(selected->kept.Materialize()), Rows(copying->kept));
    EXPECT_EQ(Rows(selected->quarantined), Rows(copying->quarantined));
    EXPECT_TRUE(selected->quarantined.schema() == copying->quarantined.schema());
    ASSERT_EQ(selected->counts.size(), copying->counts.size());
    for (size_t e = 0; e < ex.size(); ++e) {
      EXPECT_EQ(selected->counts[e].passed, copying->counts[e].passed);
      EXPECT_EQ(selected->counts[e].failed, copying->counts[e].failed);
    }
  }
  // Every selected row kept (5 of 6, dense enough to be evaluated in place): the same
  // batch, no copy made.
  std::vector<Expectation> warn_only = {ex[2]};
  SelectedBatch most(in, std::vector<int32_t>{0, 1, 2, 3, 5});
  auto kept_all = ApplyExpectationsSelected(most, warn_only);
  ASSERT_TRUE(kept_all.ok());
  EXPECT_EQ(kept_all->kept.batch.column_ptr(0).get(), in.column_ptr(0).get());
  EXPECT_EQ(*kept_all->kept.rows, (std::vector<int32_t>{0, 1, 2, 3, 5}));
  EXPECT_EQ(kept_all->counts[0].passed, 5);
  // A FAIL names a selected row, never a dropped one.
  ex.push_back({"no_negative_p", B(Call(">=", {Col("p"), Int(0)}), s), ViolationAction::kFail});
  SelectedBatch sel(in, std::vector<int32_t>{0, 4});
  EXPECT_TRUE(ApplyExpectationsSelected(sel, ex).ok());
  SelectedBatch with_negative(in, std::vector<int32_t>{0, 5});
  auto fail = ApplyExpectationsSelected(with_negative, ex);
  ASSERT_FALSE(fail.ok());
  EXPECT_NE(fail.status().message().find("1 of 2 rows"), std::string::npos) << fail.status().message();
  EXPECT_NE(fail.status().message().find("{q: 4, p: -5, s: c}"), std::string::npos) << fail.status().message();
}

TEST(Selection, SparseSelectionsAreCompactedBeforeEvaluating) {
  RecordBatch in = Input();
  SelectedBatch sel(in, std::vector<int32_t>{5});
  sel.CompactIfSparse();
  EXPECT_TRUE(sel.all());
  EXPECT_EQ(Rows(sel.batch), (std::vector<std::string>{"4|-5|c"}));
  SelectedBatch dense_enough(in, std::vector<int32_t>{0, 1, 2, 3, 5});
  dense_enough.CompactIfSparse();
  EXPECT_FALSE(dense_enough.all());
  EXPECT_EQ(IntersectRows({0, 2, 4, 5}, {1, 2, 3, 5, 7}), (std::vector<int32_t>{2, 5}));
}

}  // namespace
}  // namespace lakepipe::operators
