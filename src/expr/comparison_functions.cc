// Comparison operators, three-valued boolean logic (AND/OR short-circuit per row), null
// tests and IN.
#include <cstring>

#include "expr/eval.h"
#include "expr/eval_internal.h"
#include "expr/function.h"

namespace lakepipe::expr {
namespace {

template <CompareOp op>
inline bool Holds(int c) {
  switch (op) {
    case CompareOp::kEq:
    case CompareOp::kNullSafeEq: return c == 0;
    case CompareOp::kNe: return c != 0;
    case CompareOp::kLt: return c < 0;
    case CompareOp::kLe: return c <= 0;
    case CompareOp::kGt: return c > 0;
    case CompareOp::kGe: return c >= 0;
  }
  return false;
}

template <typename T, CompareOp op>
void CompareLoop(const Column& a, const Column& b, uint8_t* r, int64_t n) {
  for (int64_t i = 0; i < n; ++i) r[i] = Holds<op>(Compare3<T>(Load<T>(a, i), Load<T>(b, i))) ? 1 : 0;
}

template <CompareOp op>
Result<ColumnPtr> Comparison(const Column& a, const Column& b) {
  int64_t n = a.size();
  Column out(DataType::Boolean());
  out.ResizeFixed(n);
  uint8_t* r = out.data<uint8_t>();
  if (a.type().id() == TypeId::kNull) {
    std::memset(r, 1, static_cast<size_t>(n));
  } else {
    DispatchPhysical(a.type().id(), [&](auto tag) {
      using T = decltype(tag);
      CompareLoop<T, op>(a, b, r, n);
      return 0;
    });
  }
  ValidityBuilder validity(n);
  if constexpr (op == CompareOp::kNullSafeEq) {
    if (a.has_nulls() || b.has_nulls() || a.type().id() == TypeId::kNull) {
      for (int64_t i = 0; i < n; ++i) {
        bool an = a.IsNull(i) || a.type().id() == TypeId::kNull, bn = b.IsNull(i) || b.type().id() == TypeId::kNull;
        if (an || bn) r[i] = an && bn;
      }
    }
  } else {
    validity.AndWith(a);
    validity.AndWith(b);
  }
  FinishFixed(&out, &validity);
  return MakeColumn(std::move(out));
}

}  // namespace

Result<ColumnPtr> CompareColumns(CompareOp op, const Column& a, const Column& b) {
  switch (op) {
    case CompareOp::kEq: return Comparison<CompareOp::kEq>(a, b);
    case CompareOp::kNe: return Comparison<CompareOp::kNe>(a, b);
    case CompareOp::kLt: return Comparison<CompareOp::kLt>(a, b);
    case CompareOp::kLe: return Comparison<CompareOp::kLe>(a, b);
    case CompareOp::kGt: return Comparison<CompareOp::kGt>(a, b);
    case CompareOp::kGe: return Comparison<CompareOp::kGe>(a, b);
    case CompareOp::kNullSafeEq: return Comparison<CompareOp::kNullSafeEq>(a, b);
  }
  return Status::Internal("bad comparison");
}

// ---- boolean ---------------------------------------------------------------------------

Result<ColumnPtr> AndOr(bool is_and, const Column& a, const Column& b) {
  int64_t n = a.size();
  Column out(DataType::Boolean());
  out.ResizeFixed(n);
  uint8_t* r = out.data<uint8_t>();
  const uint8_t* x = a.data<uint8_t>();
  const uint8_t* y = b.data<uint8_t>();
  ValidityBuilder validity(n);
  if (!a.has_nulls() && !b.has_nulls()) {
    if (is_and) {
      for (int64_t i = 0; i < n; ++i) r[i] = x[i] & y[i];
    } else {
      for (int64_t i = 0; i < n; ++i) r[i] = x[i] | y[i];
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      bool av = a.IsValid(i), bv = b.IsValid(i);
      if (is_and) {
        if ((av && !x[i]) || (bv && !y[i])) { r[i] = 0; continue; }
        r[i] = 1;
      } else {
        if ((av && x[i]) || (bv && y[i])) { r[i] = 1; continue; }
        r[i] = 0;
      }
      if (!av || !bv) validity.SetNull(i);
    }
  }
  FinishFixed(&out, &validity);
  return MakeColumn(std::move(out));
}

namespace {

Result<ColumnPtr> Not(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t) {
  const Column& a = *args[0];
  int64_t n = a.size();
  Column out(DataType::Boolean());
  out.ResizeFixed(n);
  uint8_t* r = out.data<uint8_t>();
  const uint8_t* x = a.data<uint8_t>();
  for (int64_t i = 0; i < n; ++i) r[i] = x[i] ^ 1;
  ValidityBuilder validity(n);
  validity.AndWith(a);
  FinishFixed(&out, &validity);
  return MakeColumn(std::move(out));
}

template <bool want_null>
Result<ColumnPtr> NullTest(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t) {
  const Column& a = *args[0];
  int64_t n = a.size();
  Column out(DataType::Boolean());
  out.ResizeFixed(n);
  uint8_t* r = out.data<uint8_t>();
  bool void_type = a.type().id() == TypeId::kNull;
  for (int64_t i = 0; i < n; ++i) r[i] = ((void_type || a.IsNull(i)) == want_null) ? 1 : 0;
  return MakeColumn(std::move(out));
}


Result<ColumnPtr> In(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t) {
  // x IN (v1, ..., vk) == (x = v1) OR ... OR (x = vk), three-valued.
  ColumnPtr acc;
  for (size_t i = 1; i < args.size(); ++i) {
    LP_ASSIGN_OR_RETURN(ColumnPtr c, Comparison<CompareOp::kEq>(*args[0], *args[i]));
    if (!acc) {
      acc = c;
    } else {
      LP_ASSIGN_OR_RETURN(acc, AndOr(false, *acc, *c));
    }
  }
  return acc;
}

// Lazy AND/OR: the right side only sees rows the left side did not decide (Spark
// short-circuits, so `b <> 0 AND a / b > 1` does not divide by zero).
template <bool is_and>
Result<ColumnPtr> LazyAndOr(const BoundExpr& e, const RecordBatch& batch) {
  int64_t n = batch.num_rows();
  LP_ASSIGN_OR_RETURN(ColumnPtr left, Evaluate(e.args[0], batch));
  if (!CanFail(e.args[1])) {
    LP_ASSIGN_OR_RETURN(ColumnPtr right, Evaluate(e.args[1], batch));
    return AndOr(is_and, *left, *right);
  }
  std::vector<int32_t> undecided;
  const uint8_t* l = left->data<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    bool decided = left->IsValid(i) && (is_and ? l[i] == 0 : l[i] == 1);
    if (!decided) undecided.push_back(static_cast<int32_t>(i));
  }
  if (undecided.empty()) return left;
  LP_ASSIGN_OR_RETURN(ColumnPtr part, EvaluateOnRows(e.args[1], batch, undecided));
  // Spread the right side back over all rows; decided rows get a neutral value.
  Column right(DataType::Boolean());
  right.ResizeFixed(n);
  uint8_t* r = right.data<uint8_t>();
  std::memset(r, is_and ? 1 : 0, static_cast<size_t>(n));
  ValidityBuilder validity(n);
  const uint8_t* p = part->data<uint8_t>();
  for (size_t i = 0; i < undecided.size(); ++i) {
    if (part->IsNull(static_cast<int64_t>(i))) {
      validity.SetNull(undecided[i]);
    } else {
      r[undecided[i]] = p[i];
    }
  }
  FinishFixed(&right, &validity);
  return AndOr(is_and, *left, right);
}


// ---- binding -----------------------------------------------------------------------------

Status BindComparison(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.CoerceToCommon(0, 1, nullptr));
  if (c.arg_type(0).is_nested()) return c.Unsupported("comparing " + c.arg_type(0).ToString() + " values");
  c.SetResult(DataType::Boolean());
  return Status::OK();
}

Status BindNullSafeEqual(CallBinder& c) {
  LP_RETURN_IF_ERROR(BindComparison(c));
  c.bound().nullable = false;
  return Status::OK();
}

Status BindLogic(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectAll(0, DataType::Boolean()));
  c.SetResult(DataType::Boolean());
  return Status::OK();
}

Status BindNullTest(CallBinder& c) {
  c.SetResult(DataType::Boolean());
  c.bound().nullable = false;
  return Status::OK();
}

Status BindIn(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.CoerceToCommon(0, 1, nullptr));
  c.SetResult(DataType::Boolean());
  return Status::OK();
}

template <CompareOp op>
Result<ColumnPtr> CompareKernel(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t) {
  return Comparison<op>(*args[0], *args[1]);
}

template <CompareOp op>
ScalarFunction Cmp(const char* name) {
  return {name, 2, 2, op == CompareOp::kNullSafeEq ? BindNullSafeEqual : BindComparison, CompareKernel<op>, nullptr,
          /*may_error=*/false};
}

}  // namespace

void RegisterComparisonFunctions(FunctionRegistry* r) {
  r->Add(Cmp<CompareOp::kEq>("="));
  r->Add(Cmp<CompareOp::kNe>("<>"));
  r->Add(Cmp<CompareOp::kLt>("<"));
  r->Add(Cmp<CompareOp::kLe>("<="));
  r->Add(Cmp<CompareOp::kGt>(">"));
  r->Add(Cmp<CompareOp::kGe>(">="));
  r->Add(Cmp<CompareOp::kNullSafeEq>("<=>"));
  r->AddAlias("!=", "<>");
  r->Add({"and", 2, 2, BindLogic, nullptr, LazyAndOr<true>, false});
  r->Add({"or", 2, 2, BindLogic, nullptr, LazyAndOr<false>, false});
  r->Add({"not", 1, 1, BindLogic, Not, nullptr, false});
  r->Add({"is_null", 1, 1, BindNullTest, NullTest<true>, nullptr, false});
  r->Add({"is_not_null", 1, 1, BindNullTest, NullTest<false>, nullptr, false});
  r->AddAlias("isnull", "is_null");
  r->AddAlias("isnotnull", "is_not_null");
  r->Add({"in", 2, -1, BindIn, In, nullptr, false});
}

}  // namespace lakepipe::expr
