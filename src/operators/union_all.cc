#include "operators/union_all.h"

#include "expr/binder.h"
#include "expr/eval.h"

namespace lakepipe::operators {

Result<Schema> UnionSchema(const std::vector<Schema>& inputs) {
  if (inputs.empty()) return Status::InvalidArgument("UNION ALL of no inputs");
  Schema out = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (inputs[i].size() != out.size()) {
      return Status::InvalidArgument("UNION ALL input " + std::to_string(i + 1) + " has " +
                                     std::to_string(inputs[i].size()) + " columns, the first has " +
                                     std::to_string(out.size()));
    }
    for (size_t c = 0; c < out.size(); ++c) {
      auto& f = out.mutable_fields()[c];
      auto t = expr::CommonType(f.type, inputs[i].field(c).type);
      if (!t.ok()) {
        return Status::InvalidArgument("UNION ALL column " + std::to_string(c + 1) + " (`" + f.name + "`): " +
                                       f.type.ToString() + " and " + inputs[i].field(c).type.ToString() +
                                       " have no common type");
      }
      f.type = *t;
      f.nullable = f.nullable || inputs[i].field(c).nullable;
    }
  }
  return out;
}

Result<RecordBatch> AdaptToUnion(const RecordBatch& batch, const Schema& output) {
  if (batch.num_columns() != output.size()) return Status::InvalidArgument("UNION ALL batch has the wrong column count");
  std::vector<ColumnPtr> cols;
  for (size_t c = 0; c < output.size(); ++c) {
    if (batch.column(c).type() == output.field(c).type) {
      cols.push_back(batch.column_ptr(c));
      continue;
    }
    expr::BoundExpr ref;
    ref.kind = expr::BoundKind::kColumn;
    ref.column_index = static_cast<int>(c);
    ref.type = batch.column(c).type();
    ref.text = output.field(c).name;
    LP_ASSIGN_OR_RETURN(ColumnPtr col, expr::Evaluate(expr::CastTo(ref, output.field(c).type), batch));
    cols.push_back(std::move(col));
  }
  return RecordBatch(output, std::move(cols), batch.num_rows());
}

}  // namespace lakepipe::operators
