#include "operators/filter.h"

#include "expr/eval.h"

namespace lakepipe::operators {

RecordBatch TakeRows(const RecordBatch& batch, const std::vector<int32_t>& rows) {
  std::vector<ColumnPtr> cols;
  cols.reserve(batch.num_columns());
  for (size_t c = 0; c < batch.num_columns(); ++c) cols.push_back(MakeColumn(batch.column(c).Take(rows)));
  return RecordBatch(batch.schema(), std::move(cols), static_cast<int64_t>(rows.size()));
}

Result<RecordBatch> Filter(const RecordBatch& batch, const expr::BoundExpr& predicate) {
  LP_ASSIGN_OR_RETURN(std::vector<int32_t> rows, expr::EvaluateSelection(predicate, batch));
  if (static_cast<int64_t>(rows.size()) == batch.num_rows()) return batch;
  return TakeRows(batch, rows);
}

Result<SelectedBatch> FilterSelected(SelectedBatch in, const expr::BoundExpr& predicate) {
  std::function<Result<std::vector<int32_t>>(const RecordBatch&)> eval = [&](const RecordBatch& b) {
    return expr::EvaluateSelection(predicate, b);
  };
  LP_ASSIGN_OR_RETURN(std::vector<int32_t> passing, EvaluateOverSelection(&in, eval));
  if (in.all()) return SelectedBatch(std::move(in.batch), std::move(passing));
  std::vector<int32_t> kept = IntersectRows(*in.rows, passing);
  return SelectedBatch(std::move(in.batch), std::move(kept));
}

Schema ProjectionSchema(const std::vector<expr::BoundExpr>& exprs, const std::vector<std::string>& names) {
  Schema s;
  for (size_t i = 0; i < exprs.size(); ++i) {
    Field f;
    f.name = i < names.size() ? names[i] : exprs[i].text;
    f.type = exprs[i].type;
    f.nullable = exprs[i].nullable;
    s.AddField(std::move(f));
  }
  return s;
}

Result<RecordBatch> Project(const RecordBatch& batch, const std::vector<expr::BoundExpr>& exprs,
                            const Schema& output_schema) {
  std::vector<ColumnPtr> cols;
  cols.reserve(exprs.size());
  for (const auto& e : exprs) {
    LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(e, batch));
    cols.push_back(std::move(c));
  }
  return RecordBatch(output_schema, std::move(cols), batch.num_rows());
}

}  // namespace lakepipe::operators

namespace lakepipe::operators {

Result<SelectedBatch> ProjectSelected(SelectedBatch in, const std::vector<expr::BoundExpr>& exprs,
                                      const Schema& output_schema) {
  std::function<Result<RecordBatch>(const RecordBatch&)> eval = [&](const RecordBatch& b) {
    return Project(b, exprs, output_schema);
  };
  LP_ASSIGN_OR_RETURN(RecordBatch projected, EvaluateOverSelection(&in, eval));
  SelectedBatch out(std::move(projected));
  out.rows = std::move(in.rows);
  return out;
}

}  // namespace lakepipe::operators
