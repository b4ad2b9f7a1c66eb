// Generators: functions that turn one input row into zero or more rows (explode, posexplode,
// inline, json_tuple, and the _outer forms). They are not scalar functions: the SQL front
// end plans them as a Generate node (sql/plan.h kGenerate; a select-list generator or
// LATERAL VIEW), the binder types them here, and operators/generate.h runs them.
//
// Output columns (default names, as Spark names them):
//   explode(array<T>)        col T                  explode(map<K,V>)     key K, value V
//   posexplode(array<T>)     pos int, col T         posexplode(map<K,V>)  pos int, key K, value V
//   inline(array<struct<..>>) the struct's fields
//   json_tuple(json, 'k1', 'k2', ...)   c0, c1, ... string (one row per input row, always)
// A NULL or empty array/map gives no row; the _outer forms give one row of NULLs instead.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
#include "expr/expr.h"
#include "types/schema.h"

namespace lakepipe::expr {

enum class GeneratorKind { kExplode, kPosExplode, kInline, kJsonTuple };

struct BoundGenerator {
  GeneratorKind kind = GeneratorKind::kExplode;
  bool outer = false;
  std::vector<BoundExpr> args;        // json_tuple: args[0] is the text, keys in `keys`
  std::vector<std::string> keys;      // json_tuple's key constants
  std::vector<Field> outputs;         // default names, types
};

// True for explode, explode_outer, posexplode(_outer), inline(_outer), json_tuple.
bool IsGenerator(std::string_view lower_name);
// Every generator name (for docs and messages).
std::vector<std::string> GeneratorNames();

// Binds a generator call against `input`. InvalidArgument naming the call and its position
// for wrong argument types.
Result<BoundGenerator> BindGenerator(const Expr& call, const Schema& input, const BindContext& context);

// True when `e` calls a generator anywhere below its top.
bool ContainsGenerator(const Expr& e);

}  // namespace lakepipe::expr
