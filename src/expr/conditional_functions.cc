// Conditional functions: searched CASE, IF, COALESCE (each branch evaluated only on the
// rows that reach it), NULLIF, greatest, least.
#include "expr/eval.h"
#include "expr/eval_internal.h"
#include "expr/function.h"

namespace lakepipe::expr {
namespace {

// Searched CASE: each condition only sees the rows no earlier branch took; each result
// only the rows its condition chose (so an ANSI error in an untaken branch does not fire).
Result<ColumnPtr> Case(const BoundExpr& e, const RecordBatch& batch) {
  int64_t n = batch.num_rows();
  size_t pairs = e.args.size() / 2;
  bool has_else = e.args.size() % 2 == 1;
  bool any_can_fail = false;
  for (const auto& a : e.args) any_can_fail |= CanFail(a);
  if (!any_can_fail) {
    // Nothing can raise: evaluate every branch over the whole batch and pick per row,
    // avoiding the gathers of the lazy path.
    std::vector<ColumnPtr> values;
    std::vector<int32_t> piece_of_row(static_cast<size_t>(n), -1), index_in_piece(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) index_in_piece[static_cast<size_t>(i)] = static_cast<int32_t>(i);
    std::vector<uint8_t> decided(static_cast<size_t>(n), 0);
    for (size_t p = 0; p < pairs; ++p) {
      LP_ASSIGN_OR_RETURN(ColumnPtr cond, Evaluate(e.args[2 * p], batch));
      LP_ASSIGN_OR_RETURN(ColumnPtr value, Evaluate(e.args[2 * p + 1], batch));
      const uint8_t* c = cond->data<uint8_t>();
      bool void_cond = cond->type().id() == TypeId::kNull;
      for (int64_t i = 0; i < n; ++i) {
        if (!decided[static_cast<size_t>(i)] && !void_cond && cond->IsValid(i) && c[i]) {
          decided[static_cast<size_t>(i)] = 1;
          piece_of_row[static_cast<size_t>(i)] = static_cast<int32_t>(values.size());
        }
      }
      values.push_back(value);
    }
    if (has_else) {
      LP_ASSIGN_OR_RETURN(ColumnPtr value, Evaluate(e.args.back(), batch));
      for (int64_t i = 0; i < n; ++i) {
        if (!decided[static_cast<size_t>(i)]) piece_of_row[static_cast<size_t>(i)] = static_cast<int32_t>(values.size());
      }
      values.push_back(value);
    }
    for (auto& v : values) {
      if (v->type().id() == TypeId::kNull && e.type.id() != TypeId::kNull) v = nullptr;
    }
    for (int64_t i = 0; i < n; ++i) {
      int32_t p = piece_of_row[static_cast<size_t>(i)];
      if (p >= 0 && !values[static_cast<size_t>(p)]) piece_of_row[static_cast<size_t>(i)] = -1;
    }
    return Assemble(e.type, n, values, piece_of_row, index_in_piece);
  }
  std::vector<int32_t> remaining = AllRows(n);
  std::vector<ColumnPtr> pieces;
  std::vector<int32_t> piece_of_row(static_cast<size_t>(n), -1), index_in_piece(static_cast<size_t>(n), 0);
  for (size_t p = 0; p < pairs && !remaining.empty(); ++p) {
    LP_ASSIGN_OR_RETURN(ColumnPtr cond, EvaluateOnRows(e.args[2 * p], batch, remaining));
    std::vector<int32_t> taken, rest;
    const uint8_t* c = cond->data<uint8_t>();
    for (size_t i = 0; i < remaining.size(); ++i) {
      if (cond->IsValid(static_cast<int64_t>(i)) && c[i]) {
        taken.push_back(remaining[i]);
      } else {
        rest.push_back(remaining[i]);
      }
    }
    if (!taken.empty()) {
      LP_ASSIGN_OR_RETURN(ColumnPtr value, EvaluateOnRows(e.args[2 * p + 1], batch, taken));
      for (size_t i = 0; i < taken.size(); ++i) {
        piece_of_row[static_cast<size_t>(taken[i])] = static_cast<int32_t>(pieces.size());
        index_in_piece[static_cast<size_t>(taken[i])] = static_cast<int32_t>(i);
      }
      pieces.push_back(value);
    }
    remaining = std::move(rest);
  }
  if (has_else && !remaining.empty()) {
    LP_ASSIGN_OR_RETURN(ColumnPtr value, EvaluateOnRows(e.args.back(), batch, remaining));
    for (size_t i = 0; i < remaining.size(); ++i) {
      piece_of_row[static_cast<size_t>(remaining[i])] = static_cast<int32_t>(pieces.size());
      index_in_piece[static_cast<size_t>(remaining[i])] = static_cast<int32_t>(i);
    }
    pieces.push_back(value);
  }
  if (pieces.size() == 1 && piece_of_row[0] == 0 && pieces[0]->size() == n) {
    bool all = true;
    for (int32_t p : piece_of_row) all &= p == 0;
    if (all) return pieces[0];
  }
  return Assemble(e.type, n, pieces, piece_of_row, index_in_piece);
}

// COALESCE: each argument only sees the rows still NULL.
Result<ColumnPtr> Coalesce(const BoundExpr& e, const RecordBatch& batch) {
  int64_t n = batch.num_rows();
  std::vector<int32_t> remaining = AllRows(n);
  std::vector<ColumnPtr> pieces;
  std::vector<int32_t> piece_of_row(static_cast<size_t>(n), -1), index_in_piece(static_cast<size_t>(n), 0);
  for (size_t a = 0; a < e.args.size() && !remaining.empty(); ++a) {
    LP_ASSIGN_OR_RETURN(ColumnPtr value, EvaluateOnRows(e.args[a], batch, remaining));
    if (a == 0 && !value->has_nulls() && value->type().id() != TypeId::kNull) return value;
    std::vector<int32_t> rest;
    bool void_type = value->type().id() == TypeId::kNull;
    for (size_t i = 0; i < remaining.size(); ++i) {
      if (!void_type && value->IsValid(static_cast<int64_t>(i))) {
        piece_of_row[static_cast<size_t>(remaining[i])] = static_cast<int32_t>(pieces.size());
        index_in_piece[static_cast<size_t>(remaining[i])] = static_cast<int32_t>(i);
      } else {
        rest.push_back(remaining[i]);
      }
    }
    pieces.push_back(void_type ? nullptr : value);
    remaining = std::move(rest);
  }
  return Assemble(e.type, n, pieces, piece_of_row, index_in_piece);
}

template <bool greatest>
Result<ColumnPtr> GreatestLeast(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  std::vector<int32_t> best(static_cast<size_t>(n), -1);
  DispatchPhysical(e.type.id(), [&](auto tag) {
    using T = decltype(tag);
    for (size_t a = 0; a < args.size(); ++a) {
      const Column& c = *args[a];
      if (c.type().id() == TypeId::kNull) continue;
      for (int64_t i = 0; i < n; ++i) {
        if (c.IsNull(i)) continue;
        int32_t& b = best[static_cast<size_t>(i)];
        if (b < 0) { b = static_cast<int32_t>(a); continue; }
        int cmp = Compare3<T>(Load<T>(c, i), Load<T>(*args[static_cast<size_t>(b)], i));
        if (greatest ? cmp > 0 : cmp < 0) b = static_cast<int32_t>(a);
      }
    }
    return 0;
  });
  std::vector<int32_t> index(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) index[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  return Assemble(e.type, n, args, best, index);
}

Result<ColumnPtr> NullIf(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  LP_ASSIGN_OR_RETURN(ColumnPtr equal, CompareColumns(CompareOp::kEq, *args[0], *args[1]));
  Column out = *args[0];
  const uint8_t* q = equal->data<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    if (equal->IsValid(i) && q[i]) out.SetNull(i);
  }
  if (out.type().is_binary_like() && out.has_nulls()) {
    // SetNull keeps the bytes of a variable-width value; rebuild so nulls hold empty ranges.
    Column clean(out.type());
    clean.AppendRange(out, 0, 0);
    for (int64_t i = 0; i < n; ++i) {
      if (out.IsNull(i)) clean.AppendNull(); else clean.AppendString(out.GetString(i));
    }
    return MakeColumn(std::move(clean));
  }
  return MakeColumn(std::move(out));
}

// IF(c, a, b) has CASE's shape: (when, then, else).
Result<ColumnPtr> If(const BoundExpr& e, const RecordBatch& batch) { return Case(e, batch); }

// ---- binding -----------------------------------------------------------------------------

Status BindCase(CallBinder& c) {
  BoundExpr& b = c.bound();
  size_t n = b.args.size();
  size_t pairs = n / 2;
  for (size_t i = 0; i < pairs; ++i) LP_RETURN_IF_ERROR(c.ExpectType(2 * i, DataType::Boolean()));
  DataType common = DataType::Null();
  auto widen = [&](size_t i) -> Status {
    auto t = CommonType(common, b.args[i].type);
    if (!t.ok()) {
      return c.Error("CASE branches have incompatible types (" + common.ToString() + " and " + b.args[i].type.ToString() +
                     ") in `" + c.expr().ToString() + "`");
    }
    common = *t;
    return Status::OK();
  };
  for (size_t i = 1; i < n; i += 2) LP_RETURN_IF_ERROR(widen(i));
  if (n % 2 == 1) LP_RETURN_IF_ERROR(widen(n - 1));
  bool nullable = n % 2 == 0;
  for (size_t i = 1; i < n; i += 2) {
    b.args[i] = CastTo(std::move(b.args[i]), common);
    nullable |= b.args[i].nullable;
  }
  if (n % 2 == 1) {
    b.args[n - 1] = CastTo(std::move(b.args[n - 1]), common);
    nullable |= b.args[n - 1].nullable;
  }
  b.type = common;
  b.nullable = nullable;
  return Status::OK();
}

Status BindCoalesce(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.CoerceToCommon(0, 1, &c.bound().type));
  c.bound().nullable = true;
  for (const auto& a : c.bound().args) {
    if (!a.nullable) c.bound().nullable = false;
  }
  return Status::OK();
}

Status BindGreatestLeast(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.CoerceToCommon(0, 1, &c.bound().type));
  // Spark's greatest/least skip NULLs: NULL only when all are NULL.
  c.bound().nullable = true;
  return Status::OK();
}

Status BindNullIf(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.CoerceToCommon(0, 1, &c.bound().type));
  c.bound().nullable = true;
  return Status::OK();
}

Status BindIf(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::Boolean()));
  LP_RETURN_IF_ERROR(c.CoerceToCommon(1, 1, &c.bound().type));
  c.bound().nullable = c.arg(1).nullable || c.arg(2).nullable;
  return Status::OK();
}

}  // namespace

void RegisterConditionalFunctions(FunctionRegistry* r) {
  r->Add({"case", 2, -1, BindCase, nullptr, Case, false});
  r->Add({"if", 3, 3, BindIf, nullptr, If, false});
  r->AddAlias("iff", "if");
  r->Add({"coalesce", 1, -1, BindCoalesce, nullptr, Coalesce, false});
  r->AddAlias("nvl", "coalesce");
  r->AddAlias("ifnull", "coalesce");
  r->Add({"nullif", 2, 2, BindNullIf, NullIf, nullptr, false});
  r->Add({"greatest", 2, -1, BindGreatestLeast, GreatestLeast<true>, nullptr, false});
  r->Add({"least", 2, -1, BindGreatestLeast, GreatestLeast<false>, nullptr, false});
}

}  // namespace lakepipe::expr
