// The logical plan of one dataset's query: a tree of PlanNodes built by the SQL front end
// (select.h) from libpg-query's parse tree, then resolved (resolve.h) into a plan the
// operators execute.
//
// Shape (inputs[] are the children, left to right):
//   kTableScan     reads pipeline table `table` (streaming when written STREAM(t) / STREAM t)
//   kReadFiles     reads files: read_files(path, format => ..., ...) (`read_files`)
//   kReadStream    reads a message source: read_kafka(...), ... (`stream_source`; the
//                  functions and their columns are listed in sql/stream_source.h)
//   kFilter        rows of inputs[0] where `predicate` is TRUE (WHERE, HAVING)
//   kProject       `items` computed over inputs[0]; a star item (`*`, `t.*`, `* EXCEPT (...)`)
//                  stands for input columns until resolution expands it
//   kAggregate     groups inputs[0] by `group_keys`; output = the keys then `aggregates`
//                  (each a single aggregate call of expr/aggregate_functions.h), with
//                  `_grouping_id` after the keys when `grouping_ids` is set;
//                  the select list and HAVING above it refer to these outputs by name
//   kJoin          inputs[0] JOIN inputs[1] (`join_type`, `join_condition`); resolution
//                  splits the condition into equi-join key pairs plus a residual predicate
//   kUnionAll      all rows of every input (columns matched by position)
//   kSort          inputs[0] ordered by `sort_keys`
//   kLimit         the first `limit` rows of inputs[0]
//   kSubqueryAlias inputs[0] (a subquery in FROM or a CTE) seen under the name `alias`
//   kDistinct      distinct rows of inputs[0]
//   kWindow        inputs[0]'s columns, then one column per `window_functions` entry
//                  (named `$window<i>`, hidden from `*`); the select list and QUALIFY
//                  above it refer to those names
//   kGenerate      inputs[0]'s columns for each row a generator (explode, posexplode,
//                  inline, json_tuple: expr/generator.h) yields, then its columns
//                  (`generator_names`, or the generator's defaults) qualified by
//                  `generator_alias`: the LATERAL VIEW's table alias, or `$gen<i>` for a
//                  select-list generator, whose item is then the star `$gen<i>.*` (a
//                  plain `*` leaves `$gen` columns out)
//
// Column references in expressions are by name (expr::Expr kColumn, qualifier = a FROM
// item's alias or table name). The hidden columns of read_files are named
// `_metadata.file_path`, `_metadata.file_name`, `_metadata.file_size`,
// `_metadata.file_modification_time` (listed in ReadFilesSpec::metadata_columns, appended
// after the data columns and not matched by `*`).
//
// After resolution (resolve.h) every node's `schema` holds its output columns, stars are
// expanded, and `qualifiers` says which output columns belong to which FROM item name.
// Immutable once built; shared between threads through PlanPtr.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "expr/binder.h"
#include "expr/expr.h"
#include "sql/source.h"
#include "types/schema.h"

namespace lakepipe::sql {

enum class PlanKind {
  kTableScan,
  kReadFiles,
  kReadStream,
  kFilter,
  kProject,
  kAggregate,
  kJoin,
  kUnionAll,
  kSort,
  kLimit,
  kSubqueryAlias,
  kDistinct,
  kWindow,
  kGenerate,
};
const char* PlanKindName(PlanKind kind);

// WATERMARK col DELAY OF INTERVAL n unit, after a FROM item (Databricks SQL).
struct Watermark {
  std::string column;     // the event-time column the watermark tracks
  int64_t delay_micros = 0;
  SourceLocation loc;
};

struct ReadFilesSpec {
  std::string path;    // after ${key} substitution; relative paths are relative to the
                       // pipeline folder (resolved by the loader)
  std::string format;  // "csv", "json" or "parquet"
  // Every option as written (keys lower-cased, values as text: 'x' -> x, true -> true),
  // including format and schema.
  std::map<std::string, std::string> options;
  // Parsed `schema =>`; when absent, resolution fills it with the inferred schema (the
  // kept one, runtime/file_source_schema.h) and sets `schema_inferred`.
  std::optional<Schema> schema;
  bool schema_inferred = false;
  // For an inferred schema kept in the flow checkpoint: the folder of its versioned
  // schema files and the version read (docs/checkpoint.md, "Inferred schemas"); empty /
  // -1 for a batch read, which infers at every read.
  std::string schema_location;
  int64_t schema_version = -1;
  // Name of the column that collects values not fitting the schema (csv/json): the
  // `rescuedDataColumn` option, default "_rescued_data"; empty for parquet.
  std::string rescued_data_column;
  // _metadata fields the query uses, e.g. "file_path" (provided as `_metadata.file_path`).
  std::vector<std::string> metadata_columns;
};

// A message source called as a table function in FROM: `read_kafka(bootstrapServers =>
// '...', subscribe => 'orders')`. Its columns are fixed per function (sql/stream_source.h);
// its options are checked by the function's own option parser at resolution, the same
// parser `run` opens the source with.
struct StreamSourceSpec {
  std::string function;  // lower case: "read_kafka", ...
  // Every named argument, keys lower-cased (Spark's source options are case-insensitive),
  // values as text ('x' -> x, 5 -> 5, true -> true).
  std::map<std::string, std::string> options;
};

struct ProjectItem {
  expr::ExprPtr expr;    // null for a star item
  std::string name;      // output column name (alias, or derived from the expression)
  bool is_star = false;  // `*` or `qualifier.*`
  std::string star_qualifier;
  std::vector<std::string> star_except;  // * EXCEPT (a, b)
  SourceLocation loc;
};

struct NamedExpr {
  expr::ExprPtr expr;
  std::string name;
};

struct SortKey {
  expr::ExprPtr expr;  // null until resolved when the key is a position (ORDER BY 2)
  int ordinal = 0;     // ORDER BY <position>, 1-based, over the visible output columns
  SourceLocation loc;  // of a position, for its error
  bool ascending = true;
  bool nulls_first = true;  // Spark's default: NULLS FIRST for ASC, NULLS LAST for DESC
};

enum class JoinType { kInner, kLeft };

// A window frame as written (ROWS|RANGE BETWEEN start AND end), or Spark's default: RANGE
// UNBOUNDED PRECEDING .. CURRENT ROW with ORDER BY, the whole partition without.
struct WindowFrameBound {
  enum Kind { kUnboundedPreceding, kPreceding, kCurrentRow, kFollowing, kUnboundedFollowing };
  Kind kind = kCurrentRow;
  expr::ExprPtr offset;  // kPreceding / kFollowing: a numeric literal
};
struct WindowFrameSpec {
  bool rows = false;     // ROWS; otherwise RANGE
  bool written = false;  // given in the query (not the default)
  WindowFrameBound start{WindowFrameBound::kUnboundedPreceding, nullptr};
  WindowFrameBound end{WindowFrameBound::kCurrentRow, nullptr};
};

// One window function call: `call` is the function with its arguments (row_number(),
// lag(x, 1, 0), sum(x), ...), evaluated over partitions and frames of kWindow's input.
struct WindowFunction {
  expr::ExprPtr call;
  std::vector<expr::ExprPtr> partition_by;
  std::vector<SortKey> order_by;
  WindowFrameSpec frame;
  std::string name;  // the output column, `$window<i>`
  std::string text;  // `rank() OVER (PARTITION BY a ORDER BY b)`, for names and messages
};

// Which output columns [begin, end) of a node come from the FROM item called `qualifier`
// (the binder's type, so a node's qualifiers go straight into expr::BindContext).
using QualifiedRange = expr::QualifierRange;

struct PlanNode;
using PlanPtr = std::shared_ptr<const PlanNode>;

struct PlanNode {
  PlanKind kind = PlanKind::kTableScan;
  SourceLocation loc;
  std::vector<PlanPtr> inputs;

  // kTableScan / kReadFiles
  std::string table;          // kTableScan: the pipeline table read
  bool streaming = false;     // STREAM(...) / STREAM ...: read incrementally
  // STREAM(t) WITH (skipChangeCommits = true): commits that delete or rewrite rows are
  // skipped instead of failing the streaming read (Spark's option of the same name).
  bool skip_change_commits = false;
  // kTableScan of the table's change data feed (docs/delta.md, "Change data feed"):
  // `table_changes('t', start[, end])` (a batch read of versions start..end; no end: the
  // latest) or `STREAM(t) WITH (readChangeFeed = true)`. The output is the table's columns
  // then `_change_type STRING`, `_commit_version BIGINT`, `_commit_timestamp TIMESTAMP`.
  bool read_change_feed = false;
  int64_t change_feed_start = 0;                 // table_changes only
  std::optional<int64_t> change_feed_end;        // table_changes only
  ReadFilesSpec read_files;   // kReadFiles
  StreamSourceSpec stream_source;  // kReadStream
  std::optional<Watermark> watermark;  // kTableScan / kReadFiles / kReadStream

  // kFilter
  expr::ExprPtr predicate;

  // kProject
  std::vector<ProjectItem> items;

  // kAggregate
  std::vector<NamedExpr> group_keys;
  std::vector<NamedExpr> aggregates;
  // Parallel to group_keys: the select alias a key was written as (GROUP BY alias), or "".
  std::vector<std::string> group_key_aliases;
  // GROUPING SETS / ROLLUP / CUBE: one Spark grouping id per set (bit k-1-i set when key i
  // is not in the set); the output then has a bigint `_grouping_id` column after the keys.
  // Empty for a plain GROUP BY.
  std::vector<int64_t> grouping_ids;

  // kJoin
  JoinType join_type = JoinType::kInner;
  expr::ExprPtr join_condition;  // null for a cross join (FROM a, b)
  // Filled by resolution: left_keys[i] (over inputs[0]) = right_keys[i] (over inputs[1]),
  // and the rest of the condition (over the joined columns), null when none.
  std::vector<expr::ExprPtr> left_keys;
  std::vector<expr::ExprPtr> right_keys;
  expr::ExprPtr residual;

  // kSort
  std::vector<SortKey> sort_keys;
  // kWindow
  std::vector<WindowFunction> window_functions;
  // kGenerate: the generator call (its `_outer` form for LATERAL VIEW OUTER), its output
  // column names (empty: the generator's defaults) and the LATERAL VIEW's table alias.
  expr::ExprPtr generator;
  std::vector<std::string> generator_names;
  std::string generator_alias;
  // kLimit
  int64_t limit = 0;
  // kSubqueryAlias (also the alias of a scan: `FROM t AS o` sets alias "o" on the scan)
  std::string alias;

  // Filled by resolution: output columns, and the FROM item names they can be qualified by.
  Schema schema;
  std::vector<QualifiedRange> qualifiers;
  bool resolved = false;

  // Indented one-node-per-line text, for `lakepipe graph --verbose`, tests and messages.
  std::string ToString(int indent = 0) const;
};

}  // namespace lakepipe::sql
