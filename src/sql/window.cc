#include "sql/window.h"

#include <cctype>
#include <cmath>
#include <set>

namespace lakepipe::sql {

namespace {

using expr::Expr;
using expr::ExprPtr;

SourceLocation LocOf(const Expr& e, const std::string& file) {
  SourceLocation loc;
  loc.file = file;
  loc.line = e.pos.line;
  loc.column = e.pos.column;
  return loc;
}

// The binder reports "line:col: message"; add the file in front.
Status InFile(const Status& s, const std::string& file) {
  if (s.ok()) return s;
  const std::string& m = s.message();
  std::string message = !m.empty() && std::isdigit(static_cast<unsigned char>(m[0])) ? file + ":" + m : file + ": " + m;
  return Status(s.code(), message);
}

bool IsRanking(const std::string& f) {
  return f == "row_number" || f == "rank" || f == "dense_rank" || f == "percent_rank" || f == "ntile";
}

// An integer literal argument (lag's offset, ntile's buckets, nth_value's position).
Result<int64_t> IntLiteral(const ExprPtr& e, const std::string& what, const WindowFunction& w, const std::string& file) {
  if (e->kind != expr::ExprKind::kLiteral || e->literal.is_null() || !e->literal_type.is_integer()) {
    return ErrorAt(LocOf(*e, file), what + " of `" + w.text + "` must be an integer literal");
  }
  return e->literal.int_value();
}

Result<double> OffsetLiteral(const ExprPtr& e, bool rows, const WindowFunction& w, const std::string& file) {
  if (e == nullptr || e->kind != expr::ExprKind::kLiteral || e->literal.is_null() || !e->literal_type.is_numeric()) {
    return NotSupportedAt(LocOf(*w.call, file), "a frame offset that is not a numeric literal in `" + w.text +
                                                    "` (INTERVAL offsets are not built yet)");
  }
  double v = e->literal.AsDouble();
  if (rows && (!e->literal_type.is_integer() || v < 0)) {
    return ErrorAt(LocOf(*e, file), "a ROWS frame offset must be a non-negative integer in `" + w.text + "`");
  }
  if (v < 0) return ErrorAt(LocOf(*e, file), "a RANGE frame offset must not be negative in `" + w.text + "`");
  return v;
}

}  // namespace

bool IsWindowFunctionName(const std::string& name) {
  static const std::set<std::string> kNames = {"row_number", "rank",      "dense_rank", "percent_rank", "ntile",
                                               "lag",        "lead",      "first_value", "last_value",  "nth_value",
                                               "count",      "sum",       "avg",        "min",          "max"};
  return kNames.count(name) > 0;
}

Result<BoundWindowFunction> BindWindowFunction(const WindowFunction& w, const Schema& input,
                                               const expr::BindContext& ctx, const std::string& file) {
  BoundWindowFunction b;
  const Expr& call = *w.call;
  b.function = call.function;
  const std::string& f = b.function;
  SourceLocation loc = LocOf(call, file);
  auto bind = [&](const ExprPtr& e) -> Result<expr::BoundExpr> {
    Result<expr::BoundExpr> r = expr::Bind(*e, input, ctx);
    if (!r.ok()) return InFile(r.status(), file);
    if (r->ContainsAggregate()) return ErrorAt(LocOf(*e, file), "aggregate inside window function `" + w.text + "`");
    return r;
  };
  if (!IsWindowFunctionName(f)) {
    return NotSupportedAt(loc, "window function `" + f + "` (supported: row_number, rank, dense_rank, percent_rank, "
                               "ntile, lag, lead, first_value, last_value, nth_value, count, sum, avg, min, max)");
  }
  if (call.distinct) return NotSupportedAt(loc, "DISTINCT in window function `" + w.text + "`");
  for (const auto& p : w.partition_by) {
    LP_ASSIGN_OR_RETURN(expr::BoundExpr e, bind(p));
    if (e.type.is_nested()) return NotSupportedAt(loc, "PARTITION BY a " + e.type.ToString() + " value in `" + w.text + "`");
    b.partition_by.push_back(std::move(e));
  }
  for (const auto& k : w.order_by) {
    LP_ASSIGN_OR_RETURN(expr::BoundExpr e, bind(k.expr));
    if (e.type.is_nested()) return NotSupportedAt(loc, "ORDER BY a " + e.type.ToString() + " value in `" + w.text + "`");
    b.order_by.push_back({std::move(e), k.ascending, k.nulls_first});
  }
  const size_t nargs = call.args.size();
  auto arity = [&](size_t lo, size_t hi) -> Status {
    if (nargs < lo || nargs > hi) {
      std::string want = lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi);
      return ErrorAt(loc, "`" + f + "` takes " + want + " argument(s) in `" + w.text + "`");
    }
    return Status::OK();
  };
  bool frameless = IsRanking(f) || f == "lag" || f == "lead";
  if (frameless && w.order_by.empty()) {
    return ErrorAt(loc, "window function `" + f + "` needs ORDER BY in its window: `" + w.text + "`");
  }
  if (frameless && w.frame.written) {
    return ErrorAt(loc, "window function `" + f + "` does not take a frame (ROWS/RANGE): `" + w.text + "`");
  }
  if (IsRanking(f)) {
    if (f == "ntile") {
      LP_RETURN_IF_ERROR(arity(1, 1));
      LP_ASSIGN_OR_RETURN(b.n, IntLiteral(call.args[0], "the number of buckets", w, file));
      if (b.n <= 0) return ErrorAt(loc, "ntile needs a positive number of buckets in `" + w.text + "`");
    } else {
      LP_RETURN_IF_ERROR(arity(0, 0));
    }
    b.type = f == "percent_rank" ? DataType::Double() : DataType::Int();
    b.nullable = false;
  } else if (f == "lag" || f == "lead") {
    LP_RETURN_IF_ERROR(arity(1, 3));
    LP_ASSIGN_OR_RETURN(expr::BoundExpr value, bind(call.args[0]));
    if (nargs >= 2) {
      LP_ASSIGN_OR_RETURN(b.n, IntLiteral(call.args[1], "the offset", w, file));
    }
    b.type = value.type;
    if (nargs == 3) {
      LP_ASSIGN_OR_RETURN(expr::BoundExpr def, bind(call.args[2]));
      Result<DataType> common = expr::CommonType(value.type, def.type);
      if (!common.ok()) return ErrorAt(loc, "the default of `" + w.text + "`: " + common.status().message());
      b.type = *common;
      b.args.push_back(expr::CastTo(std::move(value), b.type));
      b.args.push_back(expr::CastTo(std::move(def), b.type));
    } else {
      b.args.push_back(std::move(value));
    }
  } else if (f == "first_value" || f == "last_value" || f == "nth_value") {
    if (f == "nth_value") {
      LP_RETURN_IF_ERROR(arity(2, 2));
      LP_ASSIGN_OR_RETURN(b.n, IntLiteral(call.args[1], "the position", w, file));
      if (b.n <= 0) return ErrorAt(loc, "nth_value needs a positive position in `" + w.text + "`");
    } else {
      LP_RETURN_IF_ERROR(arity(1, 2));
      if (nargs == 2) {
        const ExprPtr& ig = call.args[1];
        if (ig->kind != expr::ExprKind::kLiteral || ig->literal_type.id() != TypeId::kBoolean || ig->literal.is_null()) {
          return ErrorAt(LocOf(*ig, file), "the ignoreNulls argument of `" + w.text + "` must be true or false");
        }
        b.ignore_nulls = ig->literal.bool_value();
      }
    }
    LP_ASSIGN_OR_RETURN(expr::BoundExpr value, bind(call.args[0]));
    b.type = value.type;
    b.args.push_back(std::move(value));
  } else {
    // count / sum / avg / min / max: the aggregate's own binding gives Spark's types.
    expr::BindContext agg_ctx = ctx;
    agg_ctx.allow_aggregates = true;
    Result<expr::BoundExpr> agg = expr::Bind(call, input, agg_ctx);
    if (!agg.ok()) return InFile(agg.status(), file);
    for (const auto& a : agg->args) {
      if (a.ContainsAggregate()) return ErrorAt(loc, "aggregate inside window function `" + w.text + "`");
    }
    b.type = agg->type;
    b.nullable = agg->nullable;
    b.args = agg->args;
  }
  // The frame.
  const WindowFrameSpec& fr = w.frame;
  b.rows = fr.rows;
  b.start = fr.start.kind;
  b.end = fr.end.kind;
  auto is_offset = [](WindowFrameBound::Kind k) { return k == WindowFrameBound::kPreceding || k == WindowFrameBound::kFollowing; };
  if (is_offset(b.start)) {
    LP_ASSIGN_OR_RETURN(b.start_offset, OffsetLiteral(fr.start.offset, fr.rows, w, file));
  }
  if (is_offset(b.end)) {
    LP_ASSIGN_OR_RETURN(b.end_offset, OffsetLiteral(fr.end.offset, fr.rows, w, file));
  }
  if (!fr.rows && (is_offset(b.start) || is_offset(b.end))) {
    if (b.order_by.size() != 1 || !b.order_by[0].expr.type.is_numeric()) {
      return NotSupportedAt(loc, "a RANGE frame with an offset needs exactly one numeric ORDER BY key in `" + w.text +
                                     "` (use ROWS, or order by a number; timestamp ranges with INTERVAL are not built yet)");
    }
  }
  return b;
}

}  // namespace lakepipe::sql
