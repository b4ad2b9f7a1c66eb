// The scalar function registry: one ScalarFunction entry per SQL function and operator,
// holding its arity, its bind step (argument coercion and result type) and its vectorized
// kernel. The binder looks a call's name up once; the BoundExpr keeps a pointer to the
// entry, so evaluation calls the kernel directly and never compares names.
//
// Entries live in one file per family (arithmetic_functions.cc, comparison_functions.cc,
// conditional_functions.cc, string_functions.cc, datetime_functions.cc,
// math_functions.cc, struct_functions.cc, nested_functions.cc, json_functions.cc), each with a Register*Functions(FunctionRegistry*) called once
// when the registry is first used. Adding a function touches its family file (and
// docs/functions.md, which a test checks against the registry).
//
// Aggregates are not here: the binder hands them to BindAggregateCall (aggregate_functions.h).
//
// Thread-safety: the registry is built once (thread-safe static initialization) and is
// read-only afterwards; entries are never moved, so BoundExpr may point at them.
// Call order: FunctionRegistry::Get() at any time; CallBinder only inside a bind step.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
#include "types/batch.h"
#include "types/column.h"

namespace lakepipe::expr {

class CallBinder;

// Computes a call from its evaluated arguments (each `n` rows).
using ScalarKernel = Result<ColumnPtr> (*)(const BoundExpr& call, const std::vector<ColumnPtr>& args, int64_t n);
// Computes a call that decides itself which rows each argument is evaluated on (CASE, IF,
// COALESCE, AND, OR), so an ANSI error in an untaken branch does not fire.
using LazyKernel = Result<ColumnPtr> (*)(const BoundExpr& call, const RecordBatch& batch);
// Checks and coerces the bound arguments (CallBinder::ExpectType ...) and sets the result
// type; may also prepare kernel state or turn the call into a literal or a cast.
using BindStep = Status (*)(CallBinder& call);

struct ScalarFunction {
  std::string name;        // lower case, as SQL writes it ("+", "date_add")
  int min_args = 0;
  int max_args = 0;        // -1: no upper bound
  BindStep bind = nullptr;
  ScalarKernel kernel = nullptr;  // exactly one of kernel / lazy
  LazyKernel lazy = nullptr;
  // False when the kernel can never raise an ANSI error, so conditionals may evaluate it
  // over all rows instead of only the rows they route to it.
  bool may_error = true;
  // Reached only by CallBinder::Rebind from an operator (timestamp + interval); not
  // callable by name from SQL and not listed.
  bool internal = false;
};

class FunctionRegistry {
 public:
  static const FunctionRegistry& Get();

  // The entry for `name` (lower case) or an alias of it; nullptr when unknown.
  const ScalarFunction* Find(std::string_view name) const;
  // Every name and alias, sorted.
  std::vector<std::string> Names() const;

  // Registration (only from the Register*Functions below, while the registry is built).
  void Add(ScalarFunction f);
  void AddAlias(std::string alias, std::string target);

 private:
  FunctionRegistry() = default;
  std::map<std::string, ScalarFunction, std::less<>> functions_;
  std::map<std::string, std::string, std::less<>> aliases_;
};

void RegisterArithmeticFunctions(FunctionRegistry* r);
void RegisterComparisonFunctions(FunctionRegistry* r);
void RegisterConditionalFunctions(FunctionRegistry* r);
void RegisterStringFunctions(FunctionRegistry* r);
void RegisterDatetimeFunctions(FunctionRegistry* r);
void RegisterStructFunctions(FunctionRegistry* r);
void RegisterIntervalFunctions(FunctionRegistry* r);
void RegisterMathFunctions(FunctionRegistry* r);
void RegisterNestedFunctions(FunctionRegistry* r);
void RegisterJsonFunctions(FunctionRegistry* r);

// The bind step's view of one call: its source expression, its bound arguments, and the
// coercion helpers. Errors name the call and its source position.
class CallBinder {
 public:
  CallBinder(const Expr& expr, BoundExpr& bound, const BindContext& context)
      : expr_(expr), bound_(bound), context_(context) {}

  const Expr& expr() const { return expr_; }
  BoundExpr& bound() { return bound_; }
  const BindContext& context() const { return context_; }
  size_t num_args() const { return bound_.args.size(); }
  BoundExpr& arg(size_t i) { return bound_.args[i]; }
  const DataType& arg_type(size_t i) const { return bound_.args[i].type; }
  // The name as the query wrote it, for messages.
  const std::string& written_name() const { return expr_.function; }

  void SetResult(const DataType& type) { bound_.type = type; }

  Status Error(const std::string& message) const;        // InvalidArgument, with position
  Status Unsupported(const std::string& message) const;  // NotSupported, with position

  // Casts argument i to `want` when Spark would do so implicitly; else an error naming it.
  Status ExpectType(size_t i, const DataType& want);
  Status ExpectAll(size_t from, const DataType& want);
  // Casts arguments from, from+step, ... to their common type (CASE/COALESCE/IN rules).
  Status CoerceToCommon(size_t from, size_t step, DataType* common_out);
  // Refuses a non-constant argument i (patterns, formats, units must be constants).
  Status ExpectLiteral(size_t i) const;
  // Turns the call into a call of another registered function over the same arguments
  // (date + 3 -> date_add) and runs that function's bind step.
  Status Rebind(std::string_view name);
  // Turns the call into a cast of argument i.
  void BecomeCast(size_t i, const DataType& to, bool try_cast);
  // Turns the call into a literal (current_timestamp()).
  void BecomeLiteral(Value v, const DataType& type);

 private:
  const Expr& expr_;
  BoundExpr& bound_;
  const BindContext& context_;
};

// + and - over dates, timestamps and intervals (interval_functions.cc): when an operand
// is temporal, rebinds the call to the matching function and returns true; false leaves
// numeric operands to the arithmetic operator.
Result<bool> BindTemporalArithmetic(CallBinder& call, bool subtract, bool try_mode);

// Spark's numeric widening (binder.cc): the wider of two numeric types; an integer as the
// decimal that holds it; a decimal result cut to 38 digits as allowPrecisionLoss does.
DataType WiderNumeric(const DataType& a, const DataType& b);
DataType AsDecimal(const DataType& t);
DataType AdjustedDecimal(int precision, int scale);

// Implicit and explicit cast support between two types (the binder's rule for CAST).
bool CastSupported(const DataType& from, const DataType& to);

}  // namespace lakepipe::expr
