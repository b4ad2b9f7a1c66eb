// The expression tree shared by the SQL front end (which builds it from libpg-query's
// parse tree), the binder and the vectorized evaluator (expr/), and the planner.
//
// Deliberately small: a literal, a column reference, a cast, or a call of a named
// function. Operators are calls too ("+", "=", "and", "not", "is_null", "like", "in",
// "case", ...), so adding a function never changes this header. Immutable once built;
// shared freely between threads through ExprPtr.
//
// Function names (lower case) and argument conventions:
//   arithmetic      "+", "-", "*", "/", "%", "negate"(x)          ("/" is Spark's: double)
//   comparison      "=", "<>", "<", "<=", ">", ">=", "<=>" (null-safe equal)
//   boolean         "and", "or", "not"                            (three-valued)
//   null tests      "is_null"(x), "is_not_null"(x)
//   "in"            (x, v1, v2, ...)            NOT IN is not(in(...))
//   "like"          (x, pattern)                also "ilike", "rlike"
//   "case"          (when1, then1, when2, then2, ..., [else])     searched CASE only;
//                   the front end rewrites CASE x WHEN v ... into x = v conditions
//   "get_field"     (struct_expr, literal field name)             s.x
//   "||"            string concatenation
//   everything else by its Spark SQL name: "coalesce", "upper", "to_date", "round", ...
//   aggregates: the names in expr/aggregate_functions.h ("count" with no args = count(*)),
//   with `distinct` set for count(DISTINCT x) and `filter` for FILTER (WHERE ...)
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "types/schema.h"
#include "types/value.h"

namespace lakepipe::expr {

// Position in the SQL source, 1-based; 0 when unknown. The file is known by the caller.
struct SourcePos {
  int line = 0;
  int column = 0;
};

enum class ExprKind { kLiteral, kColumn, kCast, kCall };

struct Expr;
using ExprPtr = std::shared_ptr<const Expr>;

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  SourcePos pos;

  // kLiteral: the value and its type (a NULL literal has type void).
  Value literal;
  DataType literal_type;

  // kColumn: `qualifier.name`; qualifier empty when unqualified.
  std::string qualifier;
  std::string name;

  // kCast: args[0] converted to cast_type; try_cast gives NULL instead of an error.
  DataType cast_type;
  bool try_cast = false;

  // kCall: function name (lower case) and arguments.
  std::string function;
  std::vector<ExprPtr> args;
  bool distinct = false;  // aggregates only
  ExprPtr filter;         // aggregates only: FILTER (WHERE filter)

  static ExprPtr Literal(Value v, DataType type, SourcePos pos = {});
  static ExprPtr Column(std::string name, std::string qualifier = "", SourcePos pos = {});
  static ExprPtr Cast(ExprPtr arg, DataType type, bool try_cast = false, SourcePos pos = {});
  static ExprPtr Call(std::string function, std::vector<ExprPtr> args, SourcePos pos = {},
                      bool distinct = false);

  bool IsAggregateCall() const;
  // SQL-like text, for messages and EXPLAIN-style output: "(Price * Quantity)".
  std::string ToString() const;
};

}  // namespace lakepipe::expr
