// Flows: AUTO CDC / APPLY CHANGES INTO (change data into SCD type 1 and 2 tables) and
// append flows (CREATE FLOW ... AS INSERT INTO ... BY NAME SELECT ...), as Lakeflow
// declares them next to a bare `CREATE OR REFRESH STREAMING TABLE t [(schema)];`.
//
//   [CREATE FLOW name [COMMENT '...'] AS] {AUTO CDC | APPLY CHANGES} [ONCE] INTO target
//   FROM source                           -- STREAM(t), STREAM t or t
//      | SNAPSHOT source                  -- full snapshots, one per SEQUENCE BY value
//   KEYS (k1, ...)
//   [IGNORE NULL UPDATES]
//   [APPLY AS DELETE WHEN condition]
//   [APPLY AS TRUNCATE WHEN condition]
//   SEQUENCE BY expression                 -- struct(a, b) orders by a, then b
//   [COLUMNS c1, ... | COLUMNS * EXCEPT (c1, ...)]
//   [STORED AS SCD TYPE 1 | SCD TYPE 2]
//   [TRACK HISTORY ON c1, ... | TRACK HISTORY ON * EXCEPT (c1, ...)]
//
//   CREATE FLOW name AS INSERT INTO [ONCE] target BY NAME query
//
// The clauses after FROM may come in any order, each at most once. Parsing is here
// (called by statement.cc for these statements); AttachFlows joins the flows of every
// file to the tables they write; ResolveApplyChanges computes a CDC target's schema.
// What is parsed but not built yet is refused there with NotSupported at file:line:col.
// Pure functions; thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "expr/expr.h"
#include "sql/lexer.h"
#include "sql/plan.h"
#include "sql/select.h"
#include "sql/source.h"
#include "types/schema.h"

namespace lakepipe::sql {

struct DatasetDefinition;

// `c1, c2` (listed) or `* EXCEPT (c1, c2)` (all but those).
struct ColumnSelection {
  bool except = false;
  std::vector<std::string> columns;
  SourceLocation loc;
};

struct ApplyChangesSpec {
  std::string target;
  SourceLocation target_loc;
  bool once = false;
  std::string source_sql;  // the FROM item as written, e.g. STREAM(customers_cdc)
  // FROM SNAPSHOT source: the source's rows are full snapshots of the target, one per
  // value of SEQUENCE BY (the snapshot's version), compared with the target's current rows
  // (docs/sql-reference.md, "AUTO CDC FROM SNAPSHOT"); not change events.
  bool from_snapshot = false;
  SourceLocation snapshot_loc;
  std::vector<std::string> keys;
  SourceLocation keys_loc;
  bool ignore_null_updates = false;
  expr::ExprPtr delete_when;
  std::string delete_sql;
  SourceLocation delete_loc;
  expr::ExprPtr truncate_when;
  std::string truncate_sql;
  SourceLocation truncate_loc;
  expr::ExprPtr sequence_by;
  std::string sequence_sql;
  SourceLocation sequence_loc;
  std::optional<ColumnSelection> columns;  // absent: every source column
  int scd_type = 1;
  SourceLocation scd_loc;
  std::optional<ColumnSelection> track_history;  // SCD type 2 only
};

struct FlowDefinition {
  enum class Kind { kAutoCdc, kAppend };
  Kind kind = Kind::kAutoCdc;
  std::string name;  // the flow's name (APPLY CHANGES without CREATE FLOW: the target's)
  SourceLocation loc;
  SourceLocation statement;
  std::string target;
  SourceLocation target_loc;
  bool once = false;
  std::string comment;
  std::shared_ptr<const ApplyChangesSpec> cdc;  // kAutoCdc
  std::string query_sql;                        // kAppend: the query, or the CDC source read
  PlanPtr query;
};

// Parses a flow statement occupying tokens [begin, end) of `text`: CREATE FLOW ..., or a
// bare AUTO CDC / APPLY CHANGES INTO.
Result<FlowDefinition> ParseFlowStatement(const MappedText& text, const std::vector<Token>& toks, size_t begin,
                                          size_t end, const PlanOptions& options);

// Joins flows to the streaming tables they write. A table declared without a query
// (`CREATE OR REFRESH STREAMING TABLE t;`) takes its flow's input as its query and, for an
// AUTO CDC flow, the flow's spec (DatasetDefinition::apply_changes). Errors: a flow into
// an undeclared table or a materialized view, a bare declaration that no flow writes,
// a CDC flow into a table that has its own query, AUTO CDC and append flows into one
// table. Several flows of one kind: the first that is not ONCE (else the first) is the
// table's query, the others are DatasetDefinition::more_flows.
Status AttachFlows(std::vector<DatasetDefinition>* datasets, const std::vector<FlowDefinition>& flows);

// A CDC target resolved against its source rows.
struct ResolvedApplyChanges {
  std::shared_ptr<const ApplyChangesSpec> spec;
  std::string flow_name;
  Schema source_schema;              // the change events
  std::vector<std::string> keys;     // as spelled in the source
  std::vector<std::string> columns;  // source columns written to the target, in order
  // SEQUENCE BY: one expression, or the fields of struct(a, b, ...) compared in order
  // (evaluated as separate parts: no struct value is built per row).
  std::vector<expr::ExprPtr> sequence_parts;
  DataType sequence_type;  // the part's type, or struct<a, b, ...> of the parts
  // SCD type 2: the target columns whose change opens a new version (all non-key
  // columns without TRACK HISTORY ON).
  std::vector<std::string> tracked;
  Schema target_schema;  // `columns` (+ __START_AT, __END_AT for SCD type 2)
};

// Checks the spec against the source schema (keys, sequence, conditions, column lists,
// each naming file:line:col) and computes the target schema.
Result<std::shared_ptr<const ResolvedApplyChanges>> ResolveApplyChanges(
    const std::shared_ptr<const ApplyChangesSpec>& spec, const std::string& flow_name, const Schema& source);

}  // namespace lakepipe::sql
