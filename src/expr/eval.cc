#include "expr/eval.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string_view>

#include "expr/eval_internal.h"
#include "expr/function.h"
#include "expr/kernel_state.h"

namespace lakepipe::expr {

std::string PositionPrefix(const SourcePos& pos) {
  if (pos.line <= 0) return "";
  return std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": ";
}

Status EvalError(const BoundExpr& e, const std::string& message) {
  return Status::InvalidArgument(PositionPrefix(e.pos) + message + " in `" + e.text + "`");
}

void ValidityBuilder::AndWith(const Column& c) {
  if (!c.has_nulls()) return;
  Materialize();
  const auto& src = c.validity();
  size_t bytes = std::min(bits_.size(), src.size());
  for (size_t i = 0; i < bytes; ++i) bits_[i] &= src[i];
}

void FinishFixed(Column* out, ValidityBuilder* validity) {
  if (validity->all_valid()) return;
  int w = out->type().fixed_width();
  int64_t n = out->size();
  uint8_t* data = out->raw_data().data();
  for (int64_t i = 0; i < n; ++i) {
    if (!validity->IsValid(i)) std::memset(data + i * w, 0, static_cast<size_t>(w));
  }
  out->SetValidity(validity->Take());
}

namespace {

Result<ColumnPtr> Broadcast(const Value& v, const DataType& type, int64_t n) {
  if (v.is_null() || type.id() == TypeId::kNull) return MakeColumn(Column::Nulls(type, n));
  Column c(type);
  int w = type.fixed_width();
  if (w > 0) {
    Status st = c.AppendValue(v);
    if (!st.ok()) return Status::Internal("literal " + v.ToString() + " does not match its type: " + st.message());
    c.ResizeFixed(n);
    // Doubling copies from the first value: a few memcpy calls, not one per row.
    uint8_t* d = c.raw_data().data();
    const size_t total = static_cast<size_t>(n) * static_cast<size_t>(w);
    for (size_t filled = static_cast<size_t>(w); filled < total;) {
      size_t step = std::min(filled, total - filled);
      std::memcpy(d + filled, d, step);
      filled += step;
    }
    return MakeColumn(std::move(c));
  }
  if (type.is_binary_like()) {
    if (v.id() != TypeId::kString && v.id() != TypeId::kBinary) {
      return Status::Internal("literal " + v.ToString() + " is not a string but typed " + type.ToString());
    }
    // A literal in a filter or a concatenation is broadcast to every row of a part: one
    // block of it is built, then appended whole (a bulk copy of bytes and offsets) as
    // often as needed, instead of a view and a copy per row.
    const int64_t block_rows = std::min<int64_t>(n, 1024);
    const std::vector<std::string_view> views(static_cast<size_t>(block_rows), std::string_view(v.string_value()));
    if (block_rows == n) {
      c.AppendStrings(views.data(), n);
      return MakeColumn(std::move(c));
    }
    Column block(type);
    block.AppendStrings(views.data(), block_rows);
    c.raw_data().reserve(v.string_value().size() * static_cast<size_t>(n));
    c.mutable_offsets().reserve(static_cast<size_t>(n) + 1);
    for (int64_t done = 0; done < n; done += block_rows) c.AppendRange(block, 0, std::min(block_rows, n - done));
    return MakeColumn(std::move(c));
  }
  for (int64_t i = 0; i < n; ++i) {
    Status st = c.AppendValue(v);
    if (!st.ok()) return Status::Internal("literal " + v.ToString() + " does not match its type: " + st.message());
  }
  return MakeColumn(std::move(c));
}

void CollectColumns(const BoundExpr& e, std::set<int>* out) {
  if (e.kind == BoundKind::kColumn) out->insert(e.column_index);
  for (const auto& a : e.args) CollectColumns(a, out);
}

}  // namespace

// True when evaluating `e` may raise an ANSI error, so it must only see the rows a
// conditional (CASE/IF/COALESCE/AND/OR) actually sends to it.
bool CanFail(const BoundExpr& e) {
  switch (e.kind) {
    case BoundKind::kLiteral:
    case BoundKind::kColumn: break;
    case BoundKind::kCast: {
      if (e.try_cast) break;
      const DataType& from = e.args[0].type;
      const DataType& to = e.type;
      bool widening = (from.is_integer() && (to.is_integer() ? to.fixed_width() >= from.fixed_width() : to.is_floating())) ||
                       to.id() == TypeId::kString || from.id() == TypeId::kNull ||
                       (from.id() == TypeId::kDate && to.is_timestamp()) || (from.is_timestamp() && to.id() == TypeId::kDate) ||
                       (from.is_floating() && to.id() == TypeId::kDouble);
      if (!widening) return true;
      break;
    }
    case BoundKind::kCall:
      if (!e.fn || e.fn->may_error) return true;
      break;
    case BoundKind::kAggregate: return true;
  }
  for (const auto& a : e.args) {
    if (CanFail(a)) return true;
  }
  return false;
}

namespace {

// The batch restricted to `rows` (only the columns `e` reads are gathered).
RecordBatch SubBatch(const BoundExpr& e, const RecordBatch& batch, const std::vector<int32_t>& rows) {
  std::set<int> used;
  CollectColumns(e, &used);
  std::vector<ColumnPtr> cols(batch.num_columns());
  for (int i : used) cols[static_cast<size_t>(i)] = MakeColumn(batch.column(static_cast<size_t>(i)).Take(rows));
  return RecordBatch(batch.schema(), std::move(cols), static_cast<int64_t>(rows.size()));
}

}  // namespace

Result<ColumnPtr> EvaluateOnRows(const BoundExpr& e, const RecordBatch& batch, const std::vector<int32_t>& rows) {
  if (static_cast<int64_t>(rows.size()) == batch.num_rows()) return Evaluate(e, batch);
  return Evaluate(e, SubBatch(e, batch, rows));
}

// Builds a column of n rows where row i comes from pieces[source[i]] at offset index[i].
Result<ColumnPtr> Assemble(const DataType& type, int64_t n, const std::vector<ColumnPtr>& pieces,
                           const std::vector<int32_t>& piece_of_row, const std::vector<int32_t>& index_in_piece) {
  Column all(type);
  std::vector<int64_t> base(pieces.size());
  for (size_t p = 0; p < pieces.size(); ++p) {
    base[p] = all.size();
    if (pieces[p]) all.AppendRange(*pieces[p], 0, pieces[p]->size());
  }
  std::vector<int32_t> take(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int32_t p = piece_of_row[static_cast<size_t>(i)];
    take[static_cast<size_t>(i)] = p < 0 ? -1 : static_cast<int32_t>(base[static_cast<size_t>(p)] + index_in_piece[static_cast<size_t>(i)]);
  }
  // Rows with no piece (-1) are NULL: point them at an appended null.
  bool need_null = false;
  for (int32_t t : take) need_null |= t < 0;
  if (need_null) {
    int32_t null_at = static_cast<int32_t>(all.size());
    all.AppendNull();
    for (int32_t& t : take) {
      if (t < 0) t = null_at;
    }
  }
  return MakeColumn(all.Take(take));
}

std::vector<int32_t> AllRows(int64_t n) {
  std::vector<int32_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  return rows;
}

std::string ValueText(const Column& c, int64_t i) { return c.GetValue(i).ToString(); }

namespace {

// Whether `e` reads no column and calls only functions of their arguments: its value is
// the same in every row. (A call without arguments is left out: current_timestamp() is
// bound to a literal already, and a function of nothing may differ per row.)
bool IsConstant(const BoundExpr& e) {
  switch (e.kind) {
    case BoundKind::kLiteral: return true;
    case BoundKind::kCast: return IsConstant(e.args[0]);
    case BoundKind::kCall:
      if (e.args.empty()) return false;
      for (const auto& a : e.args) {
        if (!IsConstant(a)) return false;
      }
      return e.fn != nullptr;
    default: return false;
  }
}

}  // namespace

Result<ColumnPtr> Evaluate(const BoundExpr& e, const RecordBatch& batch) {
  int64_t n = batch.num_rows();
  // A constant call or cast (`',' || '${var}' || ','`) is evaluated over one row and its
  // value repeated, not computed again per row over broadcast literals. Every row would
  // have given that value, or the same error.
  if (n > 1 && (e.kind == BoundKind::kCall || e.kind == BoundKind::kCast) && IsConstant(e)) {
    LP_ASSIGN_OR_RETURN(ColumnPtr one, Evaluate(e, RecordBatch(Schema(), {}, 1)));
    if (one->size() == 1 && one->type().id() != TypeId::kNull) {
      const DataType& type = one->type();
      if (type.fixed_width() > 0 || type.is_binary_like()) return Broadcast(one->GetValue(0), type, n);
      return MakeColumn(one->Take(std::vector<int32_t>(static_cast<size_t>(n), 0)));  // nested values
    }
  }
  switch (e.kind) {
    case BoundKind::kLiteral: return Broadcast(e.literal, e.type, n);
    case BoundKind::kColumn: {
      if (e.column_index < 0 || static_cast<size_t>(e.column_index) >= batch.num_columns() ||
          !batch.column_ptr(static_cast<size_t>(e.column_index))) {
        return Status::Internal("column #" + std::to_string(e.column_index) + " of `" + e.text + "` is not in the batch");
      }
      const ColumnPtr& c = batch.column_ptr(static_cast<size_t>(e.column_index));
      if (c->type() != e.type) {
        return Status::InvalidArgument(PositionPrefix(e.pos) + "column `" + e.text + "` is " + c->type().ToString() +
                                       " in the batch but was bound as " + e.type.ToString());
      }
      return c;
    }
    case BoundKind::kCast: {
      LP_ASSIGN_OR_RETURN(ColumnPtr in, Evaluate(e.args[0], batch));
      return CastColumn(e, *in, e.type, e.try_cast);
    }
    case BoundKind::kAggregate:
      return Status::InvalidArgument(PositionPrefix(e.pos) + "aggregate `" + e.text + "` outside an aggregation");
    case BoundKind::kCall: break;
  }
  if (!e.fn) return Status::Internal(PositionPrefix(e.pos) + "call `" + e.text + "` was not bound to a function");
  if (e.fn->lazy) return e.fn->lazy(e, batch);
  std::vector<ColumnPtr> args;
  args.reserve(e.args.size());
  for (const auto& a : e.args) {
    LP_ASSIGN_OR_RETURN(ColumnPtr c, Evaluate(a, batch));
    args.push_back(std::move(c));
  }
  return e.fn->kernel(e, args, n);
}

Result<std::vector<int32_t>> EvaluateSelection(const BoundExpr& predicate, const RecordBatch& batch) {
  if (predicate.type.id() != TypeId::kBoolean && predicate.type.id() != TypeId::kNull) {
    return Status::InvalidArgument(PositionPrefix(predicate.pos) + "predicate `" + predicate.text + "` is " +
                                   predicate.type.ToString() + ", not boolean");
  }
  LP_ASSIGN_OR_RETURN(ColumnPtr c, Evaluate(predicate, batch));
  std::vector<int32_t> rows;
  if (c->type().id() == TypeId::kNull) return rows;
  int64_t n = c->size();
  rows.reserve(static_cast<size_t>(n));
  const uint8_t* v = c->data<uint8_t>();
  if (!c->has_nulls()) {
    for (int64_t i = 0; i < n; ++i) {
      if (v[i]) rows.push_back(static_cast<int32_t>(i));
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      if (v[i] && c->IsValid(i)) rows.push_back(static_cast<int32_t>(i));
    }
  }
  return rows;
}

Result<Value> EvaluateConstant(const BoundExpr& expr) {
  RecordBatch one(Schema(), {}, 1);
  LP_ASSIGN_OR_RETURN(ColumnPtr c, Evaluate(expr, one));
  return c->GetValue(0);
}

}  // namespace lakepipe::expr
