// The plan executor: runs a resolved logical plan (sql/plan.h) over record batches with
// the vectorized operators (operators/), materialising each node's output as a list of
// batches. Leaves are supplied by a ScanProvider (pipeline tables, read_files sources),
// which is where streaming reads become "only the new rows".
//
// Stateful nodes (aggregate, distinct, join build side) keep their state only for one
// Execute call, unless ExecOptions supplies state that lives across micro-batches (the
// durable seen keys of a streaming DISTINCT, the open windows of a streaming time-window
// aggregate, the state of an incremental aggregate) or across the parts of one micro-batch
// (AcrossParts: the built side of a join with a stored table).
//
// Thread-safety: Execute is reentrant; the provider is called from the calling thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "formats/parquet/parquet.h"
#include "operators/deduplicate.h"
#include "operators/hash_aggregate.h"
#include "operators/selection.h"
#include "operators/window_aggregate.h"
#include "runtime/batch_stream.h"
#include "sql/plan.h"
#include "types/batch.h"

namespace lakepipe::operators {
class HashJoin;
class StreamJoinState;
}

namespace lakepipe::runtime {

class ScanProvider {
 public:
  virtual ~ScanProvider() = default;
  // Rows of a kTableScan node (a pipeline table or view), in node.schema's columns.
  virtual Result<std::vector<RecordBatch>> ReadTable(const sql::PlanNode& node) = 0;
  // Rows of a kReadFiles node, in node.schema's columns (data columns, the rescue
  // column, then the _metadata columns the query uses).
  virtual Result<std::vector<RecordBatch>> ReadFiles(const sql::PlanNode& node) = 0;
  // Rows of a kTableScan node as a stream of bounded batches, for an aggregate that
  // consumes its input part by part (docs/execution.md, "Materialized views by parts"):
  // only `columns` (names of node.schema's columns, at least one) need hold the table's
  // values, the others may be NULL; row groups whose statistics prove that no row
  // satisfies `predicates` may be left out (the caller still filters every row). The
  // rows, in order, are those ReadTable gives. nullptr when this provider reads the node
  // only whole; Execute then calls ReadTable.
  virtual Result<std::unique_ptr<BatchStream>> StreamTable(const sql::PlanNode& node,
                                                           const std::vector<std::string>& columns,
                                                           const std::vector<parquet::ColumnPredicate>& predicates) {
    (void)node, (void)columns, (void)predicates;
    return std::unique_ptr<BatchStream>();
  }
  // Rows of a kReadStream node (a message source, runtime/stream_source.h), in
  // node.schema's columns. Only a streaming flow's batch has them.
  virtual Result<std::vector<RecordBatch>> ReadStream(const sql::PlanNode& node) {
    return Status::NotSupported(node.loc.ToString() + ": " + node.stream_source.function +
                                "(...) is read only as a stream, in a streaming table");
  }
};

using AggregateFactory = std::function<Result<std::unique_ptr<operators::HashAggregate>>()>;

// What the runs of one query over the parts of a micro-batch keep from one part to the
// next (docs/execution.md, "Two ways to run a micro-batch"): the hash table of each join
// with a stored table, built from that table at the first part, so every part is joined
// with the same version of it and the table is read once. Owned by the caller running the
// parts, which runs them one at a time (not thread-safe).
class AcrossParts {
 public:
  AcrossParts();
  ~AcrossParts();
  AcrossParts(const AcrossParts&) = delete;
  AcrossParts& operator=(const AcrossParts&) = delete;
  // The join of `node` built at an earlier part; null before the first.
  operators::HashJoin* FindJoin(const sql::PlanNode& node) const;
  operators::HashJoin* KeepJoin(const sql::PlanNode& node, std::unique_ptr<operators::HashJoin> join);
  // Marks INNER join `node` as one whose stream is its right input: its left input (a
  // stored table) is the side built once, and each part's rows of the right probe it.
  // Set before the first part.
  void BuildLeft(const sql::PlanNode& node) { build_left_.insert(&node); }
  bool BuildsLeft(const sql::PlanNode& node) const { return build_left_.count(&node) > 0; }

 private:
  std::map<const sql::PlanNode*, std::unique_ptr<operators::HashJoin>> joins_;
  std::set<const sql::PlanNode*> build_left_;
};

struct ExecOptions {
  // current_timestamp() for the whole query (Spark fixes it once per query).
  int64_t current_timestamp_micros = 0;
  // The seen-key set of a DISTINCT node. A streaming flow supplies a durable one so that
  // duplicates are dropped across micro-batches; unset, each Execute starts empty.
  std::function<Result<std::shared_ptr<operators::SeenKeySet>>(const sql::PlanNode&)> seen_keys;
  // The state of an aggregate node kept across micro-batches (incremental materialized
  // views): given the node, a factory of empty aggregates of it and this batch's input
  // rows, returns the aggregate's output over all input so far. Unset, each Execute
  // aggregates only its own input.
  std::function<Result<std::vector<RecordBatch>>(const sql::PlanNode&, const AggregateFactory&,
                                                 const std::vector<RecordBatch>&)>
      incremental_aggregate;
  // With incremental_aggregate: the same for an aggregate whose input was read by parts
  // (ScanProvider::StreamTable): Execute aggregates the new rows itself as they stream
  // in, and hands over that aggregate (`these`, built by the factory) with the number of
  // rows it took. Unset, such an input is read whole and given to incremental_aggregate.
  std::function<Result<std::vector<RecordBatch>>(const sql::PlanNode&, const AggregateFactory&,
                                                 std::unique_ptr<operators::HashAggregate> these, int64_t rows)>
      incremental_aggregate_merge;
  // The factory of the aggregate incremental_aggregate_merge takes (its state's: it may
  // hold more aggregates than the node, e.g. hidden counts); unset, the node's own.
  AggregateFactory incremental_aggregate_factory;
  // Partial aggregates of an input read by parts run on this many threads (each takes
  // every n-th part; their states are merged in a fixed order, so the result does not
  // depend on timing). 1: one thread. Aggregates whose result depends on the order of
  // the rows (first, last, collect_list, ...) always use one.
  int aggregate_threads = 1;
  // The state of a stream-stream join node, kept across micro-batches (a streaming flow
  // supplies a durable one, state::JoinStateStore); unset, each Execute starts empty.
  std::function<Result<operators::StreamJoinState*>(const sql::PlanNode&)> join_state;
  // The durable state of a streaming time-window aggregate node (open windows, max event
  // time), given its HashAggregate state schema. A streaming flow supplies it; unset, a
  // window aggregate over a watermarked stream is an error.
  std::function<Result<std::shared_ptr<operators::WindowState>>(const sql::PlanNode&, const Schema& state_schema)>
      window_state;
  // Rows an operator found behind its watermark (docs/sql-reference.md "Streaming
  // semantics"), handed over instead of dropped: `rows` has the columns of `op`'s input,
  // `reasons` one text per row (the `_late_reason` of `<table>_late`). A streaming flow
  // collects them into `<table>_late` (LateRowsSchema). Unset, a late row is an error.
  std::function<Status(const sql::PlanNode& op, const RecordBatch& rows, const std::vector<std::string>& reasons)>
      late_rows;
  // The rows of one node of the plan, computed beforehand (a streaming flow running its
  // query in two halves on two threads, docs/execution.md): Execute takes them as that
  // node's output instead of running it and the nodes below it. Both unset: none.
  const sql::PlanNode* given_node = nullptr;
  const std::vector<RecordBatch>* given_rows = nullptr;
  // The same as selections (ExecuteSelected's output for given_node), for ExecuteSelected.
  const std::vector<operators::SelectedBatch>* given_selected = nullptr;
  // Set when the query runs once per part of its input: what it keeps between the parts.
  AcrossParts* across_parts = nullptr;
};

// The name of the reason column of a late-rows table.
inline constexpr char kLateReasonColumn[] = "_late_reason";

// The schema of `<table>_late` for a streaming table computed by `plan`: the input columns
// of every operator of the plan that applies a watermark (their union by name, in order of
// appearance) plus `_late_reason STRING`; nullopt when no operator applies one.
Result<std::optional<Schema>> LateRowsSchema(const sql::PlanNode& plan);

// Reorders `rows` (the input columns of a watermarked operator) into `late_schema` by
// column name (NULL where the operator has no such column) and appends the reasons.
Result<RecordBatch> ToLateRows(const Schema& late_schema, const RecordBatch& rows, const std::vector<std::string>& reasons);

// Runs `plan` (resolved: every node has its schema) and returns its rows; every batch has
// exactly plan.schema's columns.
Result<std::vector<RecordBatch>> Execute(const sql::PlanNode& plan, ScanProvider& provider,
                                         const ExecOptions& options);

// As Execute, with the rows as selections of batches: a DISTINCT hands on which rows of its
// input are new instead of copying them, and the filters and projections above it carry
// the selection (operators/selection.h), so the rows are copied once, by the consumer, or
// never when all are kept. Other nodes run as in Execute (every row selected).
Result<std::vector<operators::SelectedBatch>> ExecuteSelected(const sql::PlanNode& plan, ScanProvider& provider,
                                                              const ExecOptions& options);

// Empty aggregates of a resolved kAggregate node (its keys and aggregates bound against
// its input), for state that outlives one Execute call.
Result<AggregateFactory> AggregateFactoryFor(const sql::PlanNode& aggregate, const ExecOptions& options);
// The aggregate calls of a resolved kAggregate node, bound against its input (typed:
// argument types, canonical function names), in node.aggregates' order.
Result<std::vector<expr::BoundExpr>> BindAggregateCalls(const sql::PlanNode& aggregate, const ExecOptions& options);

// Total rows of a list of batches.
int64_t CountRows(const std::vector<RecordBatch>& batches);

}  // namespace lakepipe::runtime
