// The pipeline graph: which dataset reads which, in an order that runs producers first.
//
// Nodes are the datasets of a pipeline (streaming tables, materialized views, views) and
// the read_files sources they ingest; edges go from what is read to what reads it. Another
// pipeline's table (`pipeline.table`, docs/catalog.md) is an input like a file source, not
// a node: it has no upstream edge here, and ToText / ToDot show it by that name. A table
// defined twice, a reference to an unknown table and a cycle are errors naming the files
// and positions involved. Table names match case-insensitively (as in Spark).
// Immutable once built; safe to share between threads.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "sql/statement.h"

namespace lakepipe::sql {

struct GraphInput {
  std::string table;       // a pipeline dataset, or another pipeline's `pipeline.table` (empty for a file source)
  bool streaming = false;  // read with STREAM
  std::string files_path;  // read_files path (empty for a table)
  std::string files_format;  // csv/json/parquet; for a message source its kind ("kafka")
  // A message source (read_kafka, ...): the function; files_path then holds its label
  // (sql/stream_source.h StreamSourceLabel), e.g. "localhost:9092/orders".
  std::string source_function;
  SourceLocation loc;
};

struct GraphNode {
  std::string name;
  DatasetKind kind = DatasetKind::kMaterializedView;
  size_t dataset_index = 0;  // into the datasets given to Build
  std::vector<GraphInput> inputs;  // in query order, duplicates removed
  std::vector<size_t> upstream;    // node indexes this node reads
  std::vector<size_t> downstream;  // node indexes that read this node
};

class PipelineGraph {
 public:
  static Result<PipelineGraph> Build(const std::vector<DatasetDefinition>& datasets);

  const std::vector<GraphNode>& nodes() const { return nodes_; }
  // Node indexes with every node after the nodes it reads; ties keep definition order.
  const std::vector<size_t>& topological_order() const { return order_; }
  // Index of the node named `name` (case-insensitive); -1 when absent.
  int Find(const std::string& name) const;

  // One line per dataset in topological order:
  //   "silver_orders (streaming table) <- STREAM bronze_orders"
  std::string ToText() const;
  // Graphviz: datasets as boxes (streaming tables), ellipses (materialized views), dashed
  // boxes (views); read_files sources as folders; STREAM edges solid, batch
  // reads dashed. Each node has class="streaming_table" / "materialized_view" / "view" /
  // "read_files" (a Graphviz attribute that becomes the SVG class).
  std::string ToDot(const std::string& pipeline_name) const;

 private:
  std::vector<GraphNode> nodes_;
  std::vector<size_t> order_;
};

}  // namespace lakepipe::sql
