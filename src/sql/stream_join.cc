#include "sql/stream_join.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "expr/binder.h"
#include "expr/eval.h"
#include "types/batch.h"

namespace lakepipe::sql {
namespace {

using expr::Expr;
using expr::ExprPtr;

bool ReadsStream(const PlanNode& n) {
  if ((n.kind == PlanKind::kTableScan || n.kind == PlanKind::kReadFiles || n.kind == PlanKind::kReadStream) && n.streaming) return true;
  for (const auto& in : n.inputs)
    if (ReadsStream(*in)) return true;
  return false;
}

std::string SourceName(const PlanNode& scan) {
  if (scan.kind == PlanKind::kReadStream) return "STREAM " + scan.stream_source.function + "(...)";
  return scan.kind == PlanKind::kTableScan ? "STREAM(" + scan.table + ")" : "read_files('" + scan.read_files.path + "')";
}

bool SameName(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The watermarked scan under one join input, through filters and projections only, and
// the name its watermark column has at the input (projections may rename it, never change it).
Result<StreamJoinSide> FindSide(const PlanNode& input, const char* which, const PlanNode& join) {
  std::vector<const PlanNode*> path;
  const PlanNode* n = &input;
  while (n->kind == PlanKind::kFilter || n->kind == PlanKind::kProject || n->kind == PlanKind::kSubqueryAlias) {
    path.push_back(n);
    n = n->inputs[0].get();
  }
  if ((n->kind != PlanKind::kTableScan && n->kind != PlanKind::kReadFiles && n->kind != PlanKind::kReadStream) || !n->streaming) {
    return NotSupportedAt(join.loc, std::string("stream-stream join: the ") + which +
                                        " input is a " + PlanKindName(n->kind) +
                                        "; each side must be one STREAM(table) or STREAM read_files(...) with "
                                        "filters and projections (put the rest in a view or table upstream)");
  }
  StreamJoinSide side;
  side.source = SourceName(*n);
  if (!n->watermark) {
    return NotSupportedAt(join.loc, std::string("stream-stream join: the ") + which + " input " + side.source +
                                        " has no watermark, so its buffered rows could never be dropped; write " +
                                        side.source + " WATERMARK <event time column> DELAY OF INTERVAL 10 MINUTES");
  }
  side.delay_micros = n->watermark->delay_micros;
  std::string name = n->watermark->column;
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    if ((*it)->kind != PlanKind::kProject) continue;
    std::optional<std::string> renamed;
    for (const auto& item : (*it)->items) {
      if (item.expr && item.expr->kind == expr::ExprKind::kColumn && SameName(item.expr->name, name)) {
        renamed = item.name;
        break;
      }
    }
    if (!renamed) {
      return NotSupportedAt(join.loc, std::string("stream-stream join: the ") + which + " input does not select " +
                                          "its watermark column `" + n->watermark->column + "` unchanged; " +
                                          "select it as a plain column");
    }
    name = *renamed;
  }
  side.time_column = input.schema.FindField(name);
  if (side.time_column < 0) return Status::Internal("watermark column `" + name + "` not in the join input");
  if (!input.schema.field(side.time_column).type.is_timestamp()) {
    return NotSupportedAt(join.loc, "stream-stream join: the watermark column `" + name + "` of " + side.source +
                                        " is " + input.schema.field(side.time_column).type.ToString() +
                                        ", not a timestamp");
  }
  side.time_name = name;
  return side;
}

void CollectColumns(const ExprPtr& e, std::vector<ExprPtr>* out) {
  if (e->kind == expr::ExprKind::kColumn) out->push_back(e);
  for (const auto& a : e->args) CollectColumns(a, out);
}

// `e` as (one event-time column of the join) + a constant, whatever its spelling
// (`a.ts + INTERVAL 1 HOUR`, `timestampadd(...)`, a cast): found by evaluating it at two
// instants a month apart, so a month interval (not a fixed length) is not a constant.
struct TimeTerm {
  int column = -1;  // index in the join's schema
  int64_t offset = 0;
};
std::optional<TimeTerm> AsTimeTerm(const ExprPtr& e, const PlanNode& join, int left_time, int right_time) {
  expr::BindContext ctx;
  ctx.qualifiers = join.qualifiers;
  std::vector<ExprPtr> columns;
  CollectColumns(e, &columns);
  int column = -1;
  for (const auto& c : columns) {
    auto b = expr::Bind(*c, join.schema, ctx);
    if (!b.ok() || b->kind != expr::BoundKind::kColumn) return std::nullopt;
    if (b->column_index != left_time && b->column_index != right_time) return std::nullopt;
    if (column >= 0 && column != b->column_index) return std::nullopt;
    column = b->column_index;
  }
  if (column < 0) return std::nullopt;
  auto bound = expr::Bind(*e, join.schema, ctx);
  if (!bound.ok() || !bound->type.is_timestamp() || bound->ContainsAggregate()) return std::nullopt;
  const int64_t kDay = 86400LL * 1000000;
  const int64_t at[2] = {19753 * kDay, 19783 * kDay + 45296500000LL};  // 2024-01-31, 2024-03-01 12:34:56.5
  std::vector<ColumnPtr> cols;
  for (size_t i = 0; i < join.schema.size(); ++i) {
    if (static_cast<int>(i) == column) {
      Column t(join.schema.field(i).type);
      t.Append<int64_t>(at[0]);
      t.Append<int64_t>(at[1]);
      cols.push_back(MakeColumn(std::move(t)));
    } else {
      cols.push_back(MakeColumn(Column::Nulls(join.schema.field(i).type, 2)));
    }
  }
  RecordBatch probe(join.schema, std::move(cols), 2);
  auto value = expr::Evaluate(*bound, probe);
  if (!value.ok() || (*value)->IsNull(0) || (*value)->IsNull(1)) return std::nullopt;
  int64_t o0 = (*value)->Get<int64_t>(0) - at[0];
  int64_t o1 = (*value)->Get<int64_t>(1) - at[1];
  if (o0 != o1) return std::nullopt;
  return TimeTerm{column, o0};
}

void SplitConjuncts(const ExprPtr& e, std::vector<ExprPtr>* out) {
  if (e->kind == expr::ExprKind::kCall && e->function == "and" && e->args.size() == 2) {
    SplitConjuncts(e->args[0], out);
    SplitConjuncts(e->args[1], out);
    return;
  }
  out->push_back(e);
}

}  // namespace

bool IsStreamStreamJoin(const PlanNode& join) {
  return join.kind == PlanKind::kJoin && join.inputs.size() == 2 && ReadsStream(*join.inputs[0]) &&
         ReadsStream(*join.inputs[1]);
}

Result<StreamJoinBounds> AnalyzeStreamJoin(const PlanNode& join) {
  if (!IsStreamStreamJoin(join)) return Status::Internal("AnalyzeStreamJoin of a node that is not a stream-stream join");
  if (join.join_type != JoinType::kInner && join.join_type != JoinType::kLeft) {
    return NotSupportedAt(join.loc, "stream-stream join: only INNER and LEFT OUTER joins of two streams are built "
                                    "(a right outer join is a left outer join with the tables swapped)");
  }
  StreamJoinBounds out;
  LP_ASSIGN_OR_RETURN(out.left, FindSide(*join.inputs[0], "left", join));
  LP_ASSIGN_OR_RETURN(out.right, FindSide(*join.inputs[1], "right", join));
  if (join.left_keys.empty()) {
    return NotSupportedAt(join.loc, "stream-stream join without an equality between the two sides; join ON "
                                    "left.key = right.key AND a time range");
  }
  const PlanNode& left = *join.inputs[0];
  int left_time = out.left.time_column;
  int right_time = static_cast<int>(left.schema.size()) + out.right.time_column;
  std::optional<int64_t> lower, upper;
  std::vector<ExprPtr> conjuncts;
  if (join.residual) SplitConjuncts(join.residual, &conjuncts);
  for (const ExprPtr& c : conjuncts) {
    if (c->kind != expr::ExprKind::kCall || c->args.size() != 2) continue;
    const std::string& op = c->function;
    if (op != "<" && op != "<=" && op != ">" && op != ">=") continue;
    auto a = AsTimeTerm(c->args[0], join, left_time, right_time);
    auto b = AsTimeTerm(c->args[1], join, left_time, right_time);
    if (!a || !b || a->column == b->column) continue;
    // Written as right + oR  op  left + oL, or the mirror image.
    bool right_first = a->column == right_time;
    const TimeTerm& r = right_first ? *a : *b;
    const TimeTerm& l = right_first ? *b : *a;
    bool greater = op[0] == '>';
    if (!right_first) greater = !greater;
    // right - left  (>= | <=)  oL - oR; a strict bound is kept as the non-strict one (a
    // row is then kept a little longer, never dropped too early).
    int64_t c_micros = l.offset - r.offset;
    if (greater) lower = lower ? std::max(*lower, c_micros) : c_micros;
    else upper = upper ? std::min(*upper, c_micros) : c_micros;
  }
  const PlanNode& right = *join.inputs[1];
  std::string lt = left.schema.field(out.left.time_column).name;
  std::string rt = right.schema.field(out.right.time_column).name;
  if (!lower || !upper) {
    std::string missing = !lower && !upper ? "does not bound" : !lower ? "bounds only from above" : "bounds only from below";
    return NotSupportedAt(join.loc, "stream-stream join: the ON condition " + missing + " the right event time `" + rt +
                                        "` by the left event time `" + lt +
                                        "`, so buffered rows could never be dropped; add a time range over the "
                                        "watermark columns, such as `right." + rt + " BETWEEN left." + lt +
                                        " AND left." + lt + " + INTERVAL 1 HOUR`");
  }
  out.lower_micros = *lower;
  out.upper_micros = *upper;
  return out;
}

Status CheckStreamJoins(const PlanNode& plan) {
  for (const auto& in : plan.inputs) LP_RETURN_IF_ERROR(CheckStreamJoins(*in));
  if (IsStreamStreamJoin(plan)) LP_RETURN_IF_ERROR(AnalyzeStreamJoin(plan).status());
  return Status::OK();
}

}  // namespace lakepipe::sql
