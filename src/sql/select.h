// The SELECT front end: Spark SQL text -> rewrite (rewrite.h) -> libpg-query's JSON parse
// tree -> a logical plan (plan.h) whose expressions are expr::Expr trees.
//
// Expression translation follows expr/expr.h's naming: BETWEEN becomes and(>=, <=), simple
// CASE x WHEN v becomes searched CASE on x = v, NOT IN becomes not(in(...)), IS [NOT] NULL
// becomes is_null / is_not_null, NULLIF/COALESCE/GREATEST/LEAST become calls, EXTRACT(f FROM
// x) becomes f(x) (year, month, ...), current_timestamp() a call. Window functions become
// a kWindow node under the select list (QUALIFY a filter over it). Valid SQL lakepipe does
// not run (RIGHT/FULL joins, subqueries in expressions, GROUPING SETS,
// INTERSECT/EXCEPT, LATERAL, ...) is NotSupported naming the construct and file:line:col.
// Pure functions; thread-safe (libpg-query keeps per-thread state).
#pragma once

#include <string>

#include "common/status.h"
#include "expr/expr.h"
#include "sql/plan.h"
#include "sql/source.h"

namespace lakepipe::sql {

struct PlanOptions {
  // Folder that relative read_files paths are relative to (the pipeline folder); empty
  // leaves them as written.
  std::string base_dir;
};

// Plans one query (SELECT ..., possibly with WITH, UNION ALL, ORDER BY, LIMIT).
Result<PlanPtr> PlanQuery(const MappedText& sql, const PlanOptions& options = {});

// Parses one scalar expression, e.g. the condition of CONSTRAINT c EXPECT (expr).
Result<expr::ExprPtr> ParseExpression(const MappedText& sql);

}  // namespace lakepipe::sql
