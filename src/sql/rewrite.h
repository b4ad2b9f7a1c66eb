// The Spark -> PostgreSQL rewrite in front of libpg-query.
//
// libpg-query parses PostgreSQL; Lakeflow SQL is Spark SQL. This token-level rewrite turns
// the Spark spellings PostgreSQL rejects or reads differently into PostgreSQL text, and
// records what it removed so the plan builder can put it back:
//   `name`                      -> "name"            (backtick identifiers)
//   "text" / 'a\'b'             -> 'text' / 'a''b'    (Spark strings, backslash escapes)
//   unquoted non-keyword words  -> "Word"            (keeps their case, as Spark does)
//   * EXCEPT (a, b)             -> *                 (list kept in star_excepts)
//   STREAM(t) / STREAM t        -> t                 (offset kept in streaming_refs)
//   LIVE.t                      -> t
//   try_cast(x AS t)            -> cast(x AS t)      (offset kept in try_casts)
//   CAST(x AS DECIMAL(10,2)), x::STRING -> the Spark type text as one quoted name
//                                  ("decimal(10,2)"), parsed later with ParseDataType
//   current_timestamp() / current_date() -> current_timestamp / current_date
//   a RLIKE b / a REGEXP b      -> a ~ b
//   col:a.b[0]['k'], t.col:x    -> "$json_path"(col, 'a.b[0][''k'']') (Databricks' JSON
//                                  path operator; the path text is parsed at bind time)
//   order.items, s.order        -> "order"."items" (keywords on a dotted path are names)
//   f(x).field, f(x)[k]         -> (f(x)).field     (PostgreSQL subscripts parenthesized calls)
//   array(a, b)                 -> "array"(a, b)    (ARRAY is a PostgreSQL keyword)
//   LATERAL VIEW [OUTER] gen(x) t [AS] a, b -> , LATERAL gen[_outer](x) AS t(a, b)
//                                  (offset of the call kept in lateral_views)
//   WATERMARK c DELAY OF INTERVAL n UNIT after a FROM item -> removed (kept in watermarks)
//   QUALIFY cond                -> WINDOW "$qualify" AS (ORDER BY cond) (a later WINDOW
//                                  becomes ","; the planner takes the condition back out)
//   GROUP BY ALL                -> GROUP BY ()      (offset of "()" kept in group_by_all)
//   WITH (key = value, ...) after a FROM item (streaming read options, e.g.
//                                  skipChangeCommits) -> removed (kept in table_options)
// Every byte of the output maps back to the original file (MappedText), so libpg-query's
// error and node offsets become file:line:col. Offsets in the maps below are offsets in
// the rewritten text. Pure function; thread-safe.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "sql/plan.h"
#include "sql/source.h"

namespace lakepipe::sql {

struct RewrittenSql {
  MappedText text;
  // Offset of a star column reference (`*`, or the qualifier of `t.*`) -> EXCEPT columns.
  std::map<size_t, std::vector<std::string>> star_excepts;
  // Offsets where a FROM item written with STREAM begins (its table name or function).
  std::set<size_t> streaming_refs;
  // Offsets of CAST keywords that were try_cast.
  std::set<size_t> try_casts;
  // Offsets of the empty grouping sets "()" that stand for GROUP BY ALL.
  std::set<size_t> group_by_all;
  // Offset where a FROM item begins -> its WATERMARK clause.
  std::map<size_t, Watermark> watermarks;
  // Offset where a FROM item begins -> its WITH (key = value, ...) options (keys as
  // written, values unquoted), and where the clause was.
  struct TableOptions {
    std::vector<std::pair<std::string, std::string>> options;
    SourceLocation loc;
  };
  std::map<size_t, TableOptions> table_options;
  // Offsets of the generator call of each LATERAL VIEW, rewritten as
  // `, LATERAL gen(args) AS t(a, b)` (OUTER: gen becomes gen_outer).
  std::set<size_t> lateral_views;
};

Result<RewrittenSql> RewriteSparkSql(const MappedText& sql);

// True when libpg-query's lexer treats `word` as a keyword (any category). Used to decide
// which words can be quoted without changing their meaning.
bool IsPostgresKeyword(const std::string& word);

}  // namespace lakepipe::sql
