// Resolution: computes every dataset's output schema without reading data, and turns each
// dataset's plan into the resolved plan the operators execute.
//
// Works in the graph's topological order: a table scan takes the schema resolved for that
// table; read_files takes its `schema =>` option (or the inferred schema, from a
// ReadFilesSchemaLookup) plus the rescued-data column (csv/json)
// and the _metadata columns the query uses. Expressions are bound with expr::Bind (names,
// Spark coercion, result types), so an unknown column is an error naming the column, its
// file:line:col and the available columns. In the resolved plan: every node has `schema`
// and `qualifiers` filled and `resolved` set; stars are expanded into column references;
// joins have left_keys/right_keys (cast to a common type when they differ) and `residual`;
// when a dataset declares column types that differ from its query, a final Project casts.
// Also checked: duplicate output columns, declared columns missing from the query,
// expectation conditions (boolean, no aggregates), partition columns, the streaming rules
// (streaming_rules.h: what a streaming table may compute, STREAM use), and the tables named
// in pipeline.yaml triggers and publish, and the dashboard's charts (sql/dashboard.h). `lakepipe validate` and `lakepipe run` both plan
// through ResolvePipeline, so they accept the same pipelines.
// Pure functions; thread-safe.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "sql/graph.h"
#include "sql/pipeline.h"
#include "sql/plan.h"
#include "sql/statement.h"

namespace lakepipe::sql {

struct ResolvedDataset {
  std::string name;
  DatasetKind kind = DatasetKind::kMaterializedView;
  size_t dataset_index = 0;  // into Pipeline::datasets
  PlanPtr plan;              // resolved plan
  Schema schema;             // the dataset's output (table) schema
  // A table written by AUTO CDC: `plan` yields the change events (source schema) and
  // `schema` is the target's.
  std::shared_ptr<const ResolvedApplyChanges> apply_changes;
  // The flow that is `plan` is ONCE: it runs one time over its inputs as they are.
  bool once = false;
  // A streaming table's other append flows (DatasetDefinition::more_flows), resolved; each
  // writes its output columns by name into `schema` (the others NULL).
  struct MoreFlow {
    std::string name;
    bool once = false;
    PlanPtr plan;
    // Another AUTO CDC flow into the target (`plan` yields its change events).
    std::shared_ptr<const ResolvedApplyChanges> apply_changes;
  };
  std::vector<MoreFlow> more_flows;
};

// A table of another pipeline that this pipeline's queries read as `<pipeline>.<table>`,
// found through the pipeline catalog (sql/pipeline_catalog.h, docs/catalog.md).
struct ExternalTable {
  std::string name;      // lower case `pipeline.table`: what the plans' table scans carry
  std::string pipeline;  // the other pipeline, as the catalog spells it
  std::string table;     // its table, as stored
  std::string path;      // the Delta table's folder
  Schema schema;         // its columns at `version`
  int64_t version = -1;  // the version the schema was read at
  SourceLocation entry;  // the catalog entry
};

// Resolves a qualified name read at `loc` (its schema read from the table's Delta log).
// runtime/external_tables.h provides it; without one, qualified names are refused.
using ExternalTableLookup = std::function<Result<ExternalTable>(const std::string& name, const SourceLocation& loc)>;

struct ResolvedPipeline {
  PipelineGraph graph;
  std::vector<ResolvedDataset> datasets;  // in topological order
  ResolvedDashboard dashboard;            // declared in pipeline.yaml, or the default one
  std::vector<ExternalTable> external_tables;  // other pipelines' tables read, in first-read order
  const ResolvedDataset* Find(const std::string& name) const;
  const ExternalTable* FindExternal(const std::string& name) const;  // case-insensitive
};

// Resolves one plan, given the schemas of the pipeline tables it may read.
using TableSchemaLookup = std::function<Result<Schema>(const std::string& table, const SourceLocation& loc)>;

// Where a read_files scan without `schema =>` sits: the dataset it feeds, the flow (empty:
// the dataset's own query) and its position among that flow's read_files scans in plan
// order. The kept schema of the scan is found by these.
struct ReadFilesScanContext {
  std::string dataset;
  std::string flow;
  int scan_index = 0;
  bool streaming = false;  // STREAM read_files: the schema is kept; a batch read infers each time
};
// The schema a read_files scan without `schema =>` reads with.
struct ReadFilesSchema {
  Schema schema;          // the data columns (hints applied)
  std::string location;   // folder of its versioned schema files; empty: not kept
  int64_t version = -1;
};
// Infers (or reads the kept) schema of a scan without `schema =>`; resolution calls it once
// per such scan. runtime/file_source_schema.h provides it: `validate` and `run` pass the
// same one, so they plan the same columns. Without one, such scans are refused.
using ReadFilesSchemaLookup =
    std::function<Result<ReadFilesSchema>(const ReadFilesSpec& spec, const ReadFilesScanContext& where)>;

Result<PlanPtr> ResolvePlan(const PlanPtr& plan, const TableSchemaLookup& tables,
                            const ReadFilesSchemaLookup& files = {}, const ReadFilesScanContext& where = {});

// Builds the graph and resolves every dataset (what `lakepipe validate` does).
// `external` resolves `<pipeline>.<table>` reads (each name once).
Result<ResolvedPipeline> ResolvePipeline(const Pipeline& pipeline, const ReadFilesSchemaLookup& files = {},
                                         const ExternalTableLookup& external = {});

// Binds expectation `e` of `ds` over the rows it checks, `rows` (validate and run both bind
// through here, so they accept the same expectations). For a table with a query these are
// the table's rows (`rows` = ds.schema). For an AUTO CDC target they are the change events
// a flow writes (`rows` = the flow's source schema), checked before they are applied, and
// the condition may name only the target columns an event carries (not __START_AT /
// __END_AT, which do not exist until the event is applied): docs/sql-reference.md, "Flows".
Result<expr::BoundExpr> BindExpectation(const Expectation& e, const ResolvedDataset& ds, const Schema& rows);

}  // namespace lakepipe::sql
