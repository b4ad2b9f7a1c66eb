// Test helpers for expr/ and operators/ tests: building batches from rows of values and
// expression trees from short calls. Test-only (included by *_test.cc files).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "expr/binder.h"
#include "expr/eval.h"
#include "expr/expr.h"
#include "types/batch.h"

namespace lakepipe::expr::test {

// Every row of `b` as "v1|v2|...", in order: compact comparisons of results.
inline std::vector<std::string> Rows(const RecordBatch& b) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < b.num_rows(); ++i) {
    std::string s;
    auto row = b.Row(i);
    for (size_t c = 0; c < row.size(); ++c) s += (c ? "|" : "") + row[c].ToString();
    out.push_back(s);
  }
  return out;
}

// Every row of `batches` as Rows gives them, sorted: for comparing results whose row
// order is not defined.
inline std::vector<std::string> SortedRows(const std::vector<RecordBatch>& batches) {
  std::vector<std::string> out;
  for (const auto& b : batches) {
    std::vector<std::string> rows = Rows(b);
    out.insert(out.end(), rows.begin(), rows.end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline RecordBatch MakeBatch(const std::string& ddl, const std::vector<std::vector<Value>>& rows) {
  Schema schema = Schema::ParseDDL(ddl).value();
  std::vector<Column> cols;
  for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  for (const auto& row : rows) {
    for (size_t c = 0; c < cols.size(); ++c) {
      Status st = cols[c].AppendValue(row[c]);
      if (!st.ok()) cols[c].AppendNull();
    }
  }
  return RecordBatch(schema, [&] {
    std::vector<ColumnPtr> ptrs;
    for (auto& c : cols) ptrs.push_back(MakeColumn(std::move(c)));
    return ptrs;
  }(), static_cast<int64_t>(rows.size()));
}

inline ExprPtr Col(const std::string& name, const std::string& qualifier = "") { return Expr::Column(name, qualifier); }
inline ExprPtr Int(int64_t v) { return Expr::Literal(Value::Int(v, TypeId::kInt), DataType::Int()); }
inline ExprPtr Long(int64_t v) { return Expr::Literal(Value::Int(v, TypeId::kLong), DataType::Long()); }
inline ExprPtr Dbl(double v) { return Expr::Literal(Value::Double(v), DataType::Double()); }
inline ExprPtr Str(const std::string& v) { return Expr::Literal(Value::String(v), DataType::String()); }
inline ExprPtr Bool(bool v) { return Expr::Literal(Value::Bool(v), DataType::Boolean()); }
inline ExprPtr Null() { return Expr::Literal(Value::Null(), DataType::Null()); }
inline ExprPtr Call(const std::string& fn, std::vector<ExprPtr> args) { return Expr::Call(fn, std::move(args)); }
inline ExprPtr CastAs(ExprPtr e, const std::string& type, bool try_cast = false) {
  return Expr::Cast(std::move(e), ParseDataType(type).value(), try_cast);
}

// Binds and evaluates; returns the column's values.
inline Result<std::vector<Value>> Eval(const ExprPtr& e, const RecordBatch& batch) {
  LP_ASSIGN_OR_RETURN(BoundExpr b, Bind(*e, batch.schema()));
  LP_ASSIGN_OR_RETURN(ColumnPtr c, Evaluate(b, batch));
  std::vector<Value> out;
  for (int64_t i = 0; i < c->size(); ++i) out.push_back(c->GetValue(i));
  return out;
}

// Evaluates over a one-row batch with no columns.
inline Result<Value> Eval1(const ExprPtr& e) {
  RecordBatch one(Schema(), {}, 1);
  LP_ASSIGN_OR_RETURN(auto v, Eval(e, one));
  return v[0];
}

}  // namespace lakepipe::expr::test
