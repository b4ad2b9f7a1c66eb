// The pipeline DDL: the statements of one Lakeflow SQL file.
//
//   CREATE [OR REFRESH] STREAMING TABLE name [(columns and constraints)] [clauses] AS query
//   CREATE [OR REFRESH] MATERIALIZED VIEW name [(...)] [clauses] AS query
//   CREATE [OR REFRESH] [STREAMING] LIVE TABLE ...   (legacy DLT spellings)
//   CREATE [TEMPORARY] [LIVE] VIEW name [(...)] [COMMENT '...'] AS query
// clauses (any order, each at most once): COMMENT '...', PARTITIONED BY (cols),
// TBLPROPERTIES ('k' = 'v', ...). Inside the parentheses: column definitions
// (`name TYPE [NOT NULL] [COMMENT '...']`) and expectations
// (`CONSTRAINT name EXPECT (condition) [ON VIOLATION DROP ROW | FAIL UPDATE | QUARANTINE]`;
// QUARANTINE is a lakepipe extension). A streaming table may be declared without AS query
// when a flow writes it: `CREATE FLOW ... AS AUTO CDC INTO t ...`, `APPLY CHANGES INTO t
// ...` and `CREATE FLOW f AS INSERT INTO t BY NAME SELECT ...` (sql/cdc.h).
// Statements are separated by `;`; `--` and `/* */` comments anywhere. Everything else
// (SET, plain CREATE TABLE, ...) is NotSupported naming the construct and its file:line:col.
//
// `${key}` is replaced by configuration values before parsing; an unknown key is an error.
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "expr/expr.h"
#include "sql/cdc.h"
#include "sql/plan.h"
#include "sql/select.h"
#include "sql/source.h"
#include "types/schema.h"

namespace lakepipe::sql {

enum class DatasetKind { kStreamingTable, kMaterializedView, kView };
const char* DatasetKindName(DatasetKind kind);  // "streaming table", "materialized view", "view"

enum class ViolationAction {
  kWarn,        // no ON VIOLATION: keep the row, count the failure
  kDropRow,     // ON VIOLATION DROP ROW
  kFailUpdate,  // ON VIOLATION FAIL UPDATE: stop the table's update with an error
  kQuarantine,  // ON VIOLATION QUARANTINE (lakepipe): move the row to <table>_quarantine
};
const char* ViolationActionName(ViolationAction action);

struct Expectation {
  std::string name;
  expr::ExprPtr condition;
  std::string condition_sql;  // as written (after ${key} substitution)
  ViolationAction action = ViolationAction::kWarn;
  SourceLocation loc;  // of CONSTRAINT
};

struct ColumnDefinition {
  Field field;
  SourceLocation loc;
};

struct DatasetDefinition {
  DatasetKind kind = DatasetKind::kMaterializedView;
  std::string name;
  SourceLocation loc;        // of the name
  SourceLocation statement;  // of CREATE
  bool temporary = false;    // CREATE TEMPORARY VIEW
  std::vector<ColumnDefinition> columns;  // declared columns (optional)
  std::vector<Expectation> expectations;
  std::string comment;
  std::vector<std::string> partition_columns;
  std::vector<std::pair<std::string, std::string>> table_properties;
  // LOCATION 'path' (streaming tables only): the table's folder instead of
  // <storage>/<name>, resolved against the pipeline folder; other runs may append to it.
  std::string location;
  SourceLocation location_loc;
  std::string query_sql;  // the query text (after ${key} substitution)
  PlanPtr query;          // its logical plan (unresolved)
  // `CREATE OR REFRESH STREAMING TABLE t [(...)];` without AS: a flow supplies the query
  // (AttachFlows); then `flow_name` names it, and `apply_changes` is set for AUTO CDC.
  bool declared_only = false;
  std::string flow_name;
  SourceLocation flow_loc;
  bool flow_once = false;  // that flow is ONCE (the table is written only by ONCE flows)
  std::shared_ptr<const ApplyChangesSpec> apply_changes;
  // The other append flows into this streaming table (`CREATE FLOW f AS INSERT INTO [ONCE]
  // t BY NAME query`), besides the one that is its query; each has its own checkpoint.
  struct MoreFlow {
    std::string name;
    SourceLocation loc;
    bool once = false;  // runs one time (a backfill)
    std::string query_sql;
    PlanPtr query;
    // Another AUTO CDC flow into the same target (the query reads its change events).
    std::shared_ptr<const ApplyChangesSpec> apply_changes;
  };
  std::vector<MoreFlow> more_flows;
};

// The statements of one file: datasets and the flows that write them.
struct SqlFileStatements {
  std::vector<DatasetDefinition> datasets;
  std::vector<FlowDefinition> flows;
};
Result<SqlFileStatements> ParseSqlStatements(const SourceFilePtr& file,
                                             const std::map<std::string, std::string>& configuration,
                                             const PlanOptions& options = {});

// Parses every statement of one SQL file and attaches its flows (AttachFlows).
// `configuration` fills `${key}`.
Result<std::vector<DatasetDefinition>> ParseSqlFile(const SourceFilePtr& file,
                                                    const std::map<std::string, std::string>& configuration,
                                                    const PlanOptions& options = {});

}  // namespace lakepipe::sql
