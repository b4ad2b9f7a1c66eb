// The binder: turns an Expr (names, as the SQL front end wrote them) into a BoundExpr
// (column indexes, resolved function, result type) against one input schema, applying
// Spark 4's (ANSI mode) type coercion by inserting explicit casts.
//
// Coercion rules (docs/functions.md has the full table):
//   - numbers widen byte < short < int < bigint < decimal < float < double; an integer
//     meeting a decimal becomes decimal(3|5|10|20, 0); decimal meeting float/double -> double.
//   - string with a number in arithmetic: the string is cast to double (ANSI: an
//     unparseable string is an error at run time). In comparisons and IN a string meeting an
//     integer is cast to bigint, meeting decimal/float/double to double, meeting a date to
//     date, a timestamp to timestamp, a boolean to boolean.
//   - date meeting timestamp -> timestamp. NULL literals (type void) take the other side's
//     type. CASE/COALESCE/IF/NULLIF/IN/greatest/least use the common type of all branches.
//   - "/" on integers/floats gives double; on decimals a decimal (Spark's precision rules).
//
// Errors are InvalidArgument (NotSupported for valid Spark we lack) and name the column or
// function and the source position: "1:8: column `Prise` not found; available: Price, ...".
//
// Thread-safety: Bind is a pure function. A BoundExpr is immutable once built and may be
// evaluated from several threads at once (its cached compiled patterns are read-only).
// Call order: Bind once per (expression, input schema), then Evaluate (expr/eval.h) per
// batch of that schema.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "expr/expr.h"
#include "types/schema.h"
#include "types/value.h"

namespace lakepipe::expr {

enum class BoundKind {
  kLiteral,    // `literal` of `type` (NULL when literal.is_null())
  kColumn,     // input column `column_index`
  kCast,       // args[0] cast to `type`; `try_cast` gives NULL on failure
  kCall,       // scalar function `function` over args
  kAggregate,  // aggregate `function` (expr/aggregate_functions.h) over args; only the
               // aggregate operators evaluate these (Evaluate refuses them)
};

// State prepared at bind time for a kernel (a compiled LIKE/regex pattern, a parsed
// datetime format); opaque outside expr/. Immutable, shared between copies.
struct KernelState {
  virtual ~KernelState() = default;
};

struct ScalarFunction;  // expr/function.h

struct BoundExpr {
  BoundKind kind = BoundKind::kLiteral;
  DataType type;          // result type
  bool nullable = true;   // false when the result can never be NULL
  SourcePos pos;
  std::string text;       // the source expression as SQL text, for error messages

  Value literal;          // kLiteral
  int column_index = -1;  // kColumn
  bool try_cast = false;  // kCast
  // kCall / kAggregate: lower-case function name after alias resolution ("substr" ->
  // "substring", "iff" -> "if", "dayofmonth" -> "day", "try_add" keeps its name).
  std::string function;
  // kCall: the registry entry whose kernel computes it (never null for a bound call).
  const ScalarFunction* fn = nullptr;
  bool distinct = false;  // kAggregate: count(DISTINCT x)
  std::shared_ptr<const BoundExpr> filter;  // kAggregate: FILTER (WHERE ...), boolean
  std::vector<BoundExpr> args;
  std::shared_ptr<const KernelState> state;

  bool is_literal() const { return kind == BoundKind::kLiteral; }
  // True when this node or any descendant is an aggregate.
  bool ContainsAggregate() const;
  std::string ToString() const { return text; }
};

// Where a qualifier's columns live in the input schema: for a join of `o` and `c`, the
// input is o's columns then c's, and `o` maps to [0, n_o), `c` to [n_o, n_o + n_c).
struct QualifierRange {
  std::string qualifier;  // matched case-insensitively
  int begin = 0;
  int end = 0;  // exclusive
};

struct BindContext {
  std::vector<QualifierRange> qualifiers;
  // When false, an aggregate call is an error ("aggregate `sum` not allowed here").
  bool allow_aggregates = false;
  // The value of current_timestamp()/current_date()/now(): Spark fixes it once per query.
  // Unset: the wall clock at bind time.
  std::optional<int64_t> current_timestamp_micros;
};

Result<BoundExpr> Bind(const Expr& expr, const Schema& input, const BindContext& context = {});

// The common type Spark would pick for CASE/COALESCE/UNION branches (also used by the
// planner for UNION ALL). InvalidArgument naming both types when there is none.
Result<DataType> CommonType(const DataType& a, const DataType& b);

// Wraps `bound` in a cast to `to` unless it already has that type (implicit coercion).
BoundExpr CastTo(BoundExpr bound, const DataType& to);

// Every scalar function name the binder accepts (for docs and "did you mean" messages).
std::vector<std::string> SupportedFunctions();

}  // namespace lakepipe::expr
