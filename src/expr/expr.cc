#include "expr/expr.h"

#include "expr/aggregate_functions.h"

namespace lakepipe::expr {

ExprPtr Expr::Literal(Value v, DataType type, SourcePos pos) {
  auto e = std::make_shared<Expr>();
  e->kind = ExprKind::kLiteral;
  e->literal = std::move(v);
  e->literal_type = std::move(type);
  e->pos = pos;
  return e;
}

ExprPtr Expr::Column(std::string name, std::string qualifier, SourcePos pos) {
  auto e = std::make_shared<Expr>();
  e->kind = ExprKind::kColumn;
  e->name = std::move(name);
  e->qualifier = std::move(qualifier);
  e->pos = pos;
  return e;
}

ExprPtr Expr::Cast(ExprPtr arg, DataType type, bool try_cast, SourcePos pos) {
  auto e = std::make_shared<Expr>();
  e->kind = ExprKind::kCast;
  e->args.push_back(std::move(arg));
  e->cast_type = std::move(type);
  e->try_cast = try_cast;
  e->pos = pos;
  return e;
}

ExprPtr Expr::Call(std::string function, std::vector<ExprPtr> args, SourcePos pos, bool distinct) {
  auto e = std::make_shared<Expr>();
  e->kind = ExprKind::kCall;
  e->function = std::move(function);
  e->args = std::move(args);
  e->pos = pos;
  e->distinct = distinct;
  return e;
}

bool Expr::IsAggregateCall() const { return kind == ExprKind::kCall && IsAggregateFunction(function); }

std::string Expr::ToString() const {
  switch (kind) {
    case ExprKind::kLiteral:
      if (literal.is_null()) return "NULL";
      if (literal.id() == TypeId::kString) return "'" + literal.string_value() + "'";
      return literal.ToString();
    case ExprKind::kColumn: return qualifier.empty() ? name : qualifier + "." + name;
    case ExprKind::kCast:
      return std::string(try_cast ? "try_cast(" : "CAST(") + args[0]->ToString() + " AS " +
             cast_type.ToString() + ")";
    case ExprKind::kCall: {
      if (function == "get_field" && args.size() == 2 && args[1]->kind == ExprKind::kLiteral && !args[1]->literal.is_null()) {
        return args[0]->ToString() + "." + args[1]->literal.string_value();
      }
      if (function == "subscript" && args.size() == 2) return args[0]->ToString() + "[" + args[1]->ToString() + "]";
      static const char* kInfix[] = {"+", "-", "*", "/", "%", "=", "<>", "<", "<=", ">", ">=",
                                     "<=>", "and", "or", "||", "like"};
      for (const char* op : kInfix) {
        if (function == op && args.size() == 2) {
          return "(" + args[0]->ToString() + " " + function + " " + args[1]->ToString() + ")";
        }
      }
      std::string s = function + "(";
      if (distinct) s += "DISTINCT ";
      if (function == "count" && args.empty()) s += "*";
      for (size_t i = 0; i < args.size(); ++i) {
        if (i) s += ", ";
        s += args[i]->ToString();
      }
      s += ")";
      if (filter) s += " FILTER (WHERE " + filter->ToString() + ")";
      return s;
    }
  }
  return "?";
}

}  // namespace lakepipe::expr
