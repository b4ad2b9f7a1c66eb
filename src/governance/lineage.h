// Column lineage: for each output column of each dataset of a pipeline, the columns it is
// computed from (docs/governance.md, "Column lineage"), read from the resolved plans the
// runner executes, so it cannot drift from what runs.
//
// A source is a column of another dataset, of a file source (`files:<path>`) or of a
// message source (its label, e.g. `kafka:localhost:9092/orders`). Column `*` stands for the
// rows of a table when a value depends on how many there are and on no column
// (COUNT(*)). Lineage follows values: columns named in a WHERE, a JOIN condition or a
// GROUP BY key decide which rows there are, not what a column holds, and are not sources
// of other columns (a GROUP BY key column is the source of itself in the output).
//
// Pure functions; thread-safe.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "sql/resolve.h"

namespace lakepipe::governance {

struct ColumnRef {
  std::string table;   // a dataset, "files:<path>", or a message source's label
  std::string column;  // "*": the rows of `table`
  bool operator<(const ColumnRef& o) const { return table != o.table ? table < o.table : column < o.column; }
  bool operator==(const ColumnRef& o) const { return table == o.table && column == o.column; }
  std::string ToString() const { return table + "." + column; }
};

struct ColumnLineage {
  ColumnRef column;               // a dataset's output column
  std::set<ColumnRef> sources;    // what it is computed from, directly
};

// Every dataset's columns (topological order, then column order) with their direct sources.
std::vector<ColumnLineage> PipelineColumnLineage(const sql::ResolvedPipeline& pipeline);

// Every edge (source -> column) on the paths from `start` back to where its data enters
// the pipeline, nearest first. Empty when `start` is not a column of the lineage.
std::vector<std::pair<ColumnRef, ColumnRef>> UpstreamEdges(const std::vector<ColumnLineage>& lineage,
                                                            const ColumnRef& start);

// Graphviz: one cluster per table, a node per column, an edge per source.
std::string LineageToDot(const std::string& pipeline, const std::vector<std::pair<ColumnRef, ColumnRef>>& edges);

}  // namespace lakepipe::governance
