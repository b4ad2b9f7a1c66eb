// The Lakeflow SQL files of a pipeline as Databricks will read them: one pass over each
// file's tokens (sql/lexer.h, before `${key}` substitution, so `${landing}` stays for
// Databricks' own substitution) that finds what lakepipe reads differently and makes the
// copy that goes into the bundle.
//
// The copy is the file byte for byte except for two lakepipe-only clauses:
//   * `ON VIOLATION QUARANTINE` becomes `ON VIOLATION DROP ROW`, and the rows it moved are
//     kept by a `<table>_quarantine` table (QuarantineTableSql, Databricks' documented
//     quarantine pattern: the same query, filtered on the broken rules);
//   * `LOCATION 'path'` on a streaming table is removed: Unity Catalog manages the tables
//     of a pipeline (docs/bundle.md).
// and, when the caller asks for it, a table property is added to a table's statement (a
// per-table `triggers: {interval: ...}` of pipeline.yaml becomes Databricks' own
// `TBLPROPERTIES ('pipelines.trigger.interval' = '5 minutes')`).
// Everything else lakepipe-only (read_postgres_cdc, librdkafka options of read_kafka, AUTO
// CDC FROM SNAPSHOT) is reported, not changed, so the caller lists it in the bundle's README.
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "sql/source.h"

namespace lakepipe::bundle {

// A table with at least one `ON VIOLATION QUARANTINE` expectation.
struct QuarantinedTable {
  std::string table;
  bool materialized_view = false;  // else a streaming table
  sql::SourceLocation loc;         // of CREATE
  // Every QUARANTINE rule of the table: its name and condition, as written.
  std::vector<std::pair<std::string, std::string>> rules;
  std::string query;  // the text after AS, as written; empty when the table has none (a flow target)
};

// Something in the file that Databricks does not run as lakepipe does.
struct SqlFinding {
  std::string feature;  // "read_postgres_cdc", "read_kafka option kafka.sasl.username", ...
  sql::SourceLocation loc;
};

struct ScannedSqlFile {
  std::string databricks_text;  // the copy for the bundle (see above)
  std::vector<std::string> properties_added;           // tables (lower case) given a property
  std::vector<QuarantinedTable> quarantined;
  std::vector<sql::SourceLocation> removed_locations;  // LOCATION clauses taken out
  std::vector<SqlFinding> findings;                    // not changed: to list
};

// `path` names the file in locations; `text` is its content. Errors are the lexer's
// (an unterminated string or comment), with file:line:col.
// `add_properties` maps a table name (lower case) to one `'key' = 'value'` pair to add to
// its CREATE statement: into its TBLPROPERTIES list, or as a new TBLPROPERTIES clause.
Result<ScannedSqlFile> ScanSqlFile(const std::string& path, const std::string& text,
                                   const std::map<std::string, std::string>& add_properties = {});

// The statement that keeps a quarantined table's failing rows on Databricks:
//   CREATE OR REFRESH STREAMING TABLE <t>_quarantine AS
//   SELECT *, <names of the broken rules> AS _failed_constraints FROM (<query>) WHERE NOT r1 OR NOT r2
// (a rule whose condition is NULL passes, as in lakepipe and Databricks).
std::string QuarantineTableSql(const QuarantinedTable& table, const std::string& file);

}  // namespace lakepipe::bundle
