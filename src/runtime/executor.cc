#include "runtime/executor.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "expr/aggregate_functions.h"
#include "expr/binder.h"
#include "expr/eval.h"
#include "operators/deduplicate.h"
#include "expr/generator.h"
#include "operators/filter.h"
#include "operators/generate.h"
#include "operators/hash_aggregate.h"
#include "operators/hash_join.h"
#include "operators/sort.h"
#include "operators/stream_join.h"
#include "sql/stream_join.h"
#include "operators/window.h"
#include "sql/window.h"
#include "operators/window_aggregate.h"
#include "sql/streaming_rules.h"
#include "sql/time_window.h"
#include "types/datetime.h"

namespace lakepipe::runtime {
namespace {

using sql::PlanKind;
using sql::PlanNode;
using Batches = std::vector<RecordBatch>;
using Selected = std::vector<operators::SelectedBatch>;

expr::BindContext ContextFor(const PlanNode& input, const ExecOptions& options) {
  expr::BindContext ctx;
  for (const auto& q : input.qualifiers) ctx.qualifiers.push_back({q.qualifier, q.begin, q.end});
  ctx.current_timestamp_micros = options.current_timestamp_micros;
  return ctx;
}

Status NodeError(const PlanNode& node, const Status& st) {
  if (st.ok() || !node.loc.known()) return st;
  // The innermost node that knows its place said it first: an outer node of the same file
  // adding its own would give `f.sql:13:3: f.sql:29:43: f.sql:23:19: ...`.
  if (st.message().rfind(node.loc.file + ":", 0) == 0) return st;
  return st.WithContext(node.loc.ToString());
}

std::string LateReason(const std::string& column, int64_t event_time, int64_t watermark) {
  return column + " " + FormatTimestamp(event_time) + " is behind the watermark " +
         FormatTimestamp(watermark) + " (the latest " + column + " before it minus the WATERMARK delay)";
}

// Gives every batch the node's schema (names and nullability decided by resolution).
Batches Relabel(const Schema& schema, Batches batches) {
  for (auto& b : batches) b = RecordBatch(schema, b.columns(), b.num_rows());
  return batches;
}

operators::WindowFunctionKind WindowKind(const std::string& f) {
  using K = operators::WindowFunctionKind;
  static const std::map<std::string, K> kKinds = {
      {"row_number", K::kRowNumber}, {"rank", K::kRank},        {"dense_rank", K::kDenseRank},
      {"percent_rank", K::kPercentRank}, {"ntile", K::kNtile},  {"lag", K::kLag},
      {"lead", K::kLead},            {"first_value", K::kFirstValue}, {"last_value", K::kLastValue},
      {"nth_value", K::kNthValue},   {"count", K::kCount},      {"sum", K::kSum},
      {"avg", K::kAvg},              {"min", K::kMin},          {"max", K::kMax}};
  return kKinds.at(f);  // sql::BindWindowFunction accepts only these names
}

operators::FrameBound ToBound(sql::WindowFrameBound::Kind k, double offset) {
  using B = operators::FrameBound;
  switch (k) {
    case sql::WindowFrameBound::kUnboundedPreceding: return {B::kUnboundedPreceding, 0};
    case sql::WindowFrameBound::kPreceding: return {B::kPreceding, offset};
    case sql::WindowFrameBound::kCurrentRow: return {B::kCurrentRow, 0};
    case sql::WindowFrameBound::kFollowing: return {B::kFollowing, offset};
    case sql::WindowFrameBound::kUnboundedFollowing: return {B::kUnboundedFollowing, 0};
  }
  return {B::kCurrentRow, 0};
}

Result<std::unique_ptr<operators::Window>> MakeWindow(const PlanNode& node, const ExecOptions& options) {
  const PlanNode& input = *node.inputs[0];
  expr::BindContext ctx = ContextFor(input, options);
  std::vector<operators::WindowFunctionSpec> specs;
  for (size_t i = 0; i < node.window_functions.size(); ++i) {
    const sql::WindowFunction& w = node.window_functions[i];
    LP_ASSIGN_OR_RETURN(sql::BoundWindowFunction b, sql::BindWindowFunction(w, input.schema, ctx, node.loc.file));
    operators::WindowFunctionSpec spec;
    spec.kind = WindowKind(b.function);
    spec.args = std::move(b.args);
    spec.n = b.n;
    spec.ignore_nulls = b.ignore_nulls;
    spec.partition_by = std::move(b.partition_by);
    for (auto& k : b.order_by) spec.order_by.push_back({std::move(k.expr), k.ascending, k.nulls_first});
    spec.frame.unit = b.rows ? operators::FrameUnit::kRows : operators::FrameUnit::kRange;
    spec.frame.start = ToBound(b.start, b.start_offset);
    spec.frame.end = ToBound(b.end, b.end_offset);
    spec.output = node.schema.field(input.schema.size() + i);
    spec.text = w.text;
    specs.push_back(std::move(spec));
  }
  return operators::Window::Make(input.schema, std::move(specs));
}

class Executor {
 public:
  Executor(ScanProvider& provider, const ExecOptions& options)
      : provider_(provider), options_(options) {}

  Result<Batches> Run(const PlanNode& node) {
    auto out = RunNode(node);
    if (!out.ok()) return NodeError(node, out.status());
    return out;
  }

  // The rows of `node` as selections (ExecuteSelected).
  Result<Selected> RunSelected(const PlanNode& node) {
    auto out = RunSelectedNode(node);
    if (!out.ok()) return NodeError(node, out.status());
    return out;
  }

 private:
  Result<Batches> RunNode(const PlanNode& node) {
    if (!node.resolved) {
      return Status::Internal("plan node " + std::string(sql::PlanKindName(node.kind)) +
                              " was not resolved before execution");
    }
    if (&node == options_.given_node && options_.given_rows != nullptr) return *options_.given_rows;
    switch (node.kind) {
      case PlanKind::kTableScan: {
        LP_ASSIGN_OR_RETURN(Batches rows, provider_.ReadTable(node));
        return Relabel(node.schema, std::move(rows));
      }
      case PlanKind::kReadFiles: {
        LP_ASSIGN_OR_RETURN(Batches rows, provider_.ReadFiles(node));
        return Relabel(node.schema, std::move(rows));
      }
      case PlanKind::kReadStream: {
        LP_ASSIGN_OR_RETURN(Batches rows, provider_.ReadStream(node));
        return Relabel(node.schema, std::move(rows));
      }
      case PlanKind::kSubqueryAlias: {
        LP_ASSIGN_OR_RETURN(Batches rows, Run(*node.inputs[0]));
        return Relabel(node.schema, std::move(rows));
      }
      case PlanKind::kFilter: return RunFilter(node);
      case PlanKind::kProject: return RunProject(node);
      case PlanKind::kGenerate: return RunGenerate(node);
      case PlanKind::kUnionAll: return RunUnionAll(node);
      case PlanKind::kLimit: return RunLimit(node);
      case PlanKind::kAggregate:
      case PlanKind::kJoin:
      case PlanKind::kSort:
      case PlanKind::kDistinct:
      case PlanKind::kWindow: return RunStateful(node);
    }
    return Status::Internal("unknown plan node");
  }

  Result<Selected> RunSelectedNode(const PlanNode& node) {
    if (!node.resolved) {
      return Status::Internal("plan node " + std::string(sql::PlanKindName(node.kind)) +
                              " was not resolved before execution");
    }
    if (&node == options_.given_node && options_.given_selected != nullptr) return *options_.given_selected;
    switch (node.kind) {
      case PlanKind::kSubqueryAlias: {
        LP_ASSIGN_OR_RETURN(Selected rows, RunSelected(*node.inputs[0]));
        for (auto& b : rows) b = b.Relabel(node.schema);
        return rows;
      }
      case PlanKind::kFilter: {
        const PlanNode& input = *node.inputs[0];
        LP_ASSIGN_OR_RETURN(Selected rows, RunSelected(input));
        LP_ASSIGN_OR_RETURN(expr::BoundExpr predicate,
                            expr::Bind(*node.predicate, input.schema, ContextFor(input, options_)));
        Selected out;
        for (auto& b : rows) {
          LP_ASSIGN_OR_RETURN(operators::SelectedBatch kept, operators::FilterSelected(std::move(b), predicate));
          if (kept.num_rows() > 0) out.push_back(kept.Relabel(node.schema));
        }
        return out;
      }
      case PlanKind::kProject: {
        const PlanNode& input = *node.inputs[0];
        LP_ASSIGN_OR_RETURN(Selected rows, RunSelected(input));
        LP_ASSIGN_OR_RETURN(std::vector<expr::BoundExpr> exprs, BindProjection(node));
        Selected out;
        for (auto& b : rows) {
          LP_ASSIGN_OR_RETURN(operators::SelectedBatch p, operators::ProjectSelected(std::move(b), exprs, node.schema));
          out.push_back(std::move(p));
        }
        return out;
      }
      case PlanKind::kDistinct: return RunDistinct(node);
      default: {
        LP_ASSIGN_OR_RETURN(Batches rows, RunNode(node));
        Selected out;
        out.reserve(rows.size());
        for (auto& b : rows) out.emplace_back(std::move(b));
        return out;
      }
    }
  }

  Result<std::vector<expr::BoundExpr>> BindProjection(const PlanNode& node) {
    const PlanNode& input = *node.inputs[0];
    std::vector<expr::BoundExpr> exprs;
    expr::BindContext ctx = ContextFor(input, options_);
    for (const auto& item : node.items) {
      if (item.is_star || item.expr == nullptr) {
        return Status::Internal("a star item survived resolution");
      }
      LP_ASSIGN_OR_RETURN(expr::BoundExpr e, expr::Bind(*item.expr, input.schema, ctx));
      exprs.push_back(std::move(e));
    }
    return exprs;
  }

  // A DISTINCT's new rows, as selections of its input's batches.
  Result<Selected> RunDistinct(const PlanNode& node);

  Result<Batches> RunFilter(const PlanNode& node) {
    const PlanNode& input = *node.inputs[0];
    LP_ASSIGN_OR_RETURN(Batches rows, Run(input));
    LP_ASSIGN_OR_RETURN(expr::BoundExpr predicate,
                        expr::Bind(*node.predicate, input.schema, ContextFor(input, options_)));
    Batches out;
    for (const auto& b : rows) {
      LP_ASSIGN_OR_RETURN(RecordBatch kept, operators::Filter(b, predicate));
      if (kept.num_rows() > 0) out.push_back(std::move(kept));
    }
    return Relabel(node.schema, std::move(out));
  }

  Result<Batches> RunProject(const PlanNode& node) {
    const PlanNode& input = *node.inputs[0];
    LP_ASSIGN_OR_RETURN(Batches rows, Run(input));
    LP_ASSIGN_OR_RETURN(std::vector<expr::BoundExpr> exprs, BindProjection(node));
    Batches out;
    for (const auto& b : rows) {
      LP_ASSIGN_OR_RETURN(RecordBatch p, operators::Project(b, exprs, node.schema));
      out.push_back(std::move(p));
    }
    return out;
  }

  Result<Batches> RunGenerate(const PlanNode& node) {
    const PlanNode& input = *node.inputs[0];
    LP_ASSIGN_OR_RETURN(Batches rows, Run(input));
    LP_ASSIGN_OR_RETURN(expr::BoundGenerator g, expr::BindGenerator(*node.generator, input.schema, ContextFor(input, options_)));
    Batches out;
    for (const auto& b : rows) {
      LP_ASSIGN_OR_RETURN(RecordBatch p, operators::Generate(b, g, node.schema));
      if (p.num_rows() > 0) out.push_back(std::move(p));
    }
    return out;
  }

  Result<Batches> RunUnionAll(const PlanNode& node) {
    Batches out;
    for (const auto& input : node.inputs) {
      LP_ASSIGN_OR_RETURN(Batches rows, Run(*input));
      // Columns match by position; the resolver chose the common types.
      for (auto& b : rows) {
        std::vector<ColumnPtr> cols;
        for (size_t c = 0; c < node.schema.size(); ++c) {
          const DataType& want = node.schema.field(c).type;
          if (b.column(c).type() == want) {
            cols.push_back(b.column_ptr(c));
          } else {
            expr::BoundExpr ref;
            ref.kind = expr::BoundKind::kColumn;
            ref.column_index = static_cast<int>(c);
            ref.type = b.column(c).type();
            ref.text = node.schema.field(c).name;
            LP_ASSIGN_OR_RETURN(ColumnPtr cast, expr::Evaluate(expr::CastTo(ref, want), b));
            cols.push_back(cast);
          }
        }
        out.emplace_back(node.schema, std::move(cols), b.num_rows());
      }
    }
    return out;
  }

  Result<Batches> RunLimit(const PlanNode& node) {
    LP_ASSIGN_OR_RETURN(Batches rows, Run(*node.inputs[0]));
    Batches out;
    int64_t left = node.limit;
    for (auto& b : rows) {
      if (left <= 0) break;
      if (b.num_rows() <= left) {
        left -= b.num_rows();
        out.push_back(std::move(b));
      } else {
        out.push_back(b.Slice(0, left));
        left = 0;
      }
    }
    return Relabel(node.schema, std::move(out));
  }

  Result<Batches> RunStateful(const PlanNode& node);
  // An aggregate over row-wise steps over one table scan, with the table read by parts
  // (ScanProvider::StreamTable) and each part taken through the steps into the aggregate
  // as it comes: memory holds the aggregate's state and a few parts, not the input.
  // nullopt when the input has another shape or the provider reads the table only whole.
  Result<std::optional<Batches>> RunAggregateByParts(const PlanNode& node, const AggregateFactory& make);
  // A join's keys, bound over its inputs, its residual over its output, and its type.
  struct JoinParts {
    operators::JoinType type = operators::JoinType::kInner;
    std::vector<expr::BoundExpr> left_keys, right_keys;
    std::optional<expr::BoundExpr> residual;
  };
  Result<JoinParts> BindJoin(const PlanNode& node);
  Result<Batches> RunJoinBuildingLeft(const PlanNode& node);
  Result<std::unique_ptr<operators::HashJoin>> BuildJoin(const PlanNode& node, JoinParts parts);
  Result<Batches> RunStreamJoin(const PlanNode& node, JoinParts parts, const Batches& left_rows,
                                const Batches& right_rows);

  Result<Batches> RunWindowAggregate(const PlanNode& node);
  Result<Batches> RunKeyedDedup(const PlanNode& node);

  Status HandOverLate(const PlanNode& op, const RecordBatch& input, std::vector<int32_t> rows,
                      std::vector<std::string> reasons) {
    if (!options_.late_rows) {
      return Status::Internal(std::to_string(rows.size()) + " late rows and nowhere to put them");
    }
    return options_.late_rows(op, operators::TakeRows(input, rows), reasons);
  }

  Status HandOverLate(const PlanNode& op, const RecordBatch& input, int time_column,
                      const std::vector<operators::Deduplicate::LateRow>& late) {
    std::vector<int32_t> rows;
    std::vector<std::string> reasons;
    const Column& time = input.column(static_cast<size_t>(time_column));
    const std::string& name = input.schema().field(static_cast<size_t>(time_column)).name;
    for (const auto& l : late) {
      rows.push_back(l.row);
      reasons.push_back(!l.reason.empty() ? name + ": " + l.reason
                                          : LateReason(name, time.data<int64_t>()[l.row], l.watermark_micros));
    }
    return HandOverLate(op, input, std::move(rows), std::move(reasons));
  }

  ScanProvider& provider_;
  const ExecOptions& options_;
};

// The inputs whose rows a watermarked operator may hand over as late.
void CollectWatermarked(const PlanNode& node, std::vector<const PlanNode*>* out) {
  bool stateful = node.kind == PlanKind::kDistinct || sql::IsStreamingKeyedDedup(node) ||
                  (node.kind == PlanKind::kAggregate && sql::WindowKeyIndex(node) >= 0);
  if (stateful && sql::WatermarkScanBelow(node) != nullptr) out->push_back(node.inputs[0].get());
  if (node.kind == PlanKind::kJoin && sql::IsStreamStreamJoin(node)) {
    out->push_back(node.inputs[0].get());
    out->push_back(node.inputs[1].get());
  }
  for (const auto& in : node.inputs) CollectWatermarked(*in, out);
}

// ---- aggregates over an input read by parts ------------------------------------------

// One row-wise step between a table scan and the aggregate above it, bound once.
struct RowwiseStep {
  const PlanNode* node = nullptr;
  std::optional<expr::BoundExpr> predicate;       // kFilter
  std::vector<expr::BoundExpr> exprs;             // kProject
  std::optional<expr::BoundGenerator> generator;  // kGenerate
};

bool IsRowwiseKind(PlanKind k) {
  return k == PlanKind::kFilter || k == PlanKind::kProject || k == PlanKind::kSubqueryAlias ||
         k == PlanKind::kGenerate;
}

// The steps from `scan` up to (not including) `top`, bottom first; the scan is set when
// the input of `top` is row-wise steps over one table scan, else left null.
std::vector<const PlanNode*> RowwiseChain(const PlanNode& top, const PlanNode** scan) {
  std::vector<const PlanNode*> chain;
  *scan = nullptr;
  const PlanNode* n = top.inputs.size() == 1 ? top.inputs[0].get() : nullptr;
  while (n != nullptr && IsRowwiseKind(n->kind) && n->inputs.size() == 1) {
    chain.push_back(n);
    n = n->inputs[0].get();
  }
  if (n == nullptr || n->kind != PlanKind::kTableScan) return {};
  *scan = n;
  std::reverse(chain.begin(), chain.end());
  return chain;
}

Result<std::vector<RowwiseStep>> BindSteps(const std::vector<const PlanNode*>& chain, const ExecOptions& options) {
  std::vector<RowwiseStep> steps;
  for (const PlanNode* n : chain) {
    RowwiseStep step;
    step.node = n;
    const PlanNode& input = *n->inputs[0];
    expr::BindContext ctx = ContextFor(input, options);
    switch (n->kind) {
      case PlanKind::kFilter: {
        LP_ASSIGN_OR_RETURN(expr::BoundExpr p, expr::Bind(*n->predicate, input.schema, ctx));
        step.predicate = std::move(p);
        break;
      }
      case PlanKind::kProject:
        for (const auto& item : n->items) {
          if (item.is_star || item.expr == nullptr) return Status::Internal("a star item survived resolution");
          LP_ASSIGN_OR_RETURN(expr::BoundExpr e, expr::Bind(*item.expr, input.schema, ctx));
          step.exprs.push_back(std::move(e));
        }
        break;
      case PlanKind::kGenerate: {
        LP_ASSIGN_OR_RETURN(expr::BoundGenerator g, expr::BindGenerator(*n->generator, input.schema, ctx));
        step.generator = std::move(g);
        break;
      }
      default:
        break;  // kSubqueryAlias: the same columns under the node's names
    }
    steps.push_back(std::move(step));
  }
  return steps;
}

// One part through the steps (as RunFilter / RunProject / RunGenerate do to each batch).
Result<RecordBatch> ApplySteps(const Schema& scan, const std::vector<RowwiseStep>& steps, RecordBatch b) {
  b = RecordBatch(scan, b.columns(), b.num_rows());
  for (const RowwiseStep& step : steps) {
    if (b.num_rows() == 0) break;
    switch (step.node->kind) {
      case PlanKind::kFilter: {
        LP_ASSIGN_OR_RETURN(b, operators::Filter(b, *step.predicate));
        break;
      }
      case PlanKind::kProject: {
        LP_ASSIGN_OR_RETURN(b, operators::Project(b, step.exprs, step.node->schema));
        break;
      }
      case PlanKind::kGenerate: {
        LP_ASSIGN_OR_RETURN(b, operators::Generate(b, *step.generator, step.node->schema));
        break;
      }
      default:
        break;
    }
    b = RecordBatch(step.node->schema, b.columns(), b.num_rows());
  }
  return b;
}

void MarkColumns(const expr::BoundExpr& e, std::vector<bool>* used) {
  if (e.kind == expr::BoundKind::kColumn && e.column_index >= 0 &&
      static_cast<size_t>(e.column_index) < used->size()) {
    (*used)[static_cast<size_t>(e.column_index)] = true;
  }
  for (const auto& a : e.args) MarkColumns(a, used);
  if (e.filter) MarkColumns(*e.filter, used);
}

// The scan's columns that the steps and the aggregate read (projection pushdown): the
// aggregate's keys and arguments, then going down, every column a step's expressions
// read (all of a projection's items are evaluated, so all their inputs are read), every
// column under a generator. Never empty: a count(*) alone reads the first column.
Result<std::vector<std::string>> ColumnsRead(const PlanNode& aggregate, const std::vector<RowwiseStep>& steps,
                                             const PlanNode& scan, const ExecOptions& options) {
  const PlanNode& input = *aggregate.inputs[0];
  std::vector<bool> used(input.schema.size(), false);
  expr::BindContext ctx = ContextFor(input, options);
  for (const auto& k : aggregate.group_keys) {
    LP_ASSIGN_OR_RETURN(expr::BoundExpr b, expr::Bind(*k.expr, input.schema, ctx));
    MarkColumns(b, &used);
  }
  ctx.allow_aggregates = true;
  for (const auto& a : aggregate.aggregates) {
    LP_ASSIGN_OR_RETURN(expr::BoundExpr b, expr::Bind(*a.expr, input.schema, ctx));
    MarkColumns(b, &used);
  }
  for (size_t i = steps.size(); i-- > 0;) {
    const RowwiseStep& step = steps[i];
    const size_t below = step.node->inputs[0]->schema.size();
    switch (step.node->kind) {
      case PlanKind::kFilter:
        MarkColumns(*step.predicate, &used);
        break;
      case PlanKind::kProject:
        used.assign(below, false);
        for (const auto& e : step.exprs) MarkColumns(e, &used);
        break;
      case PlanKind::kGenerate:
        used.assign(below, true);
        break;
      default:
        break;
    }
    used.resize(below, false);
  }
  std::vector<std::string> names;
  for (size_t c = 0; c < used.size() && c < scan.schema.size(); ++c)
    if (used[c]) names.push_back(scan.schema.field(c).name);
  if (names.empty() && scan.schema.size() > 0) names.push_back(scan.schema.field(0).name);
  return names;
}

// Row-group pushdown: the conjuncts of the filters right above the scan that compare a
// column with a literal of its own type (or test it for NULL). Floating-point columns
// are left out (NaN and -0.0 make statistics ranges unsafe).
void CollectPredicates(const expr::BoundExpr& e, const Schema& schema, std::vector<parquet::ColumnPredicate>* out) {
  using Op = parquet::ColumnPredicate::Op;
  if (e.kind != expr::BoundKind::kCall) return;
  if (e.function == "and") {
    for (const auto& a : e.args) CollectPredicates(a, schema, out);
    return;
  }
  auto column_of = [&](const expr::BoundExpr& c) -> const Field* {
    if (c.kind != expr::BoundKind::kColumn || c.column_index < 0 ||
        static_cast<size_t>(c.column_index) >= schema.size())
      return nullptr;
    const Field& f = schema.field(static_cast<size_t>(c.column_index));
    switch (f.type.id()) {
      case TypeId::kByte: case TypeId::kShort: case TypeId::kInt: case TypeId::kLong:
      case TypeId::kString: case TypeId::kDate: case TypeId::kTimestamp: case TypeId::kTimestampNtz:
        return &f;
      default:
        return nullptr;
    }
  };
  if ((e.function == "is_null" || e.function == "is_not_null") && e.args.size() == 1) {
    if (const Field* f = column_of(e.args[0])) {
      out->push_back({f->name, e.function == "is_null" ? Op::kIsNull : Op::kIsNotNull, Value()});
    }
    return;
  }
  static const std::map<std::string, std::pair<Op, Op>> kOps = {  // (column op literal, literal op column)
      {"=", {Op::kEq, Op::kEq}}, {"<", {Op::kLt, Op::kGt}}, {"<=", {Op::kLe, Op::kGe}},
      {">", {Op::kGt, Op::kLt}}, {">=", {Op::kGe, Op::kLe}}};
  auto op = kOps.find(e.function);
  if (op == kOps.end() || e.args.size() != 2) return;
  for (int side = 0; side < 2; ++side) {
    const expr::BoundExpr& c = e.args[static_cast<size_t>(side)];
    const expr::BoundExpr& lit = e.args[static_cast<size_t>(1 - side)];
    const Field* f = column_of(c);
    if (f == nullptr || !lit.is_literal() || lit.literal.is_null() || !(lit.type == f->type)) continue;
    out->push_back({f->name, side == 0 ? op->second.first : op->second.second, lit.literal});
    return;
  }
}

// Partial aggregates on worker threads: part s goes to worker s % n, each worker takes
// its parts in order through its own bound steps into its own aggregate. The caller
// pulls the parts (the decode runs on the stream's own thread) and hands them out.
class PartialAggregates {
 public:
  explicit PartialAggregates(size_t workers) : queues_(workers) {}
  ~PartialAggregates() { Stop(); }

  Status Start(const Schema& scan, const std::vector<const PlanNode*>& chain, const ExecOptions& options,
               const AggregateFactory& make) {
    scan_ = &scan;
    for (size_t w = 0; w < queues_.size(); ++w) {
      LP_ASSIGN_OR_RETURN(std::vector<RowwiseStep> steps, BindSteps(chain, options));
      LP_ASSIGN_OR_RETURN(std::unique_ptr<operators::HashAggregate> agg, make());
      workers_.push_back(std::make_unique<Worker>());
      workers_.back()->steps = std::move(steps);
      workers_.back()->agg = std::move(agg);
    }
    for (size_t w = 0; w < workers_.size(); ++w) threads_.emplace_back([this, w] { Work(w); });
    return Status::OK();
  }

  // Hands part `seq` to its worker; blocks while that worker has two parts waiting.
  // False once a worker failed (Finish returns its error).
  bool Add(int64_t seq, RecordBatch part) {
    const size_t w = static_cast<size_t>(seq) % queues_.size();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return queues_[w].size() < 2 || failed_; });
    if (failed_) return false;
    queues_[w].push_back(std::move(part));
    cv_.notify_all();
    return true;
  }

  // Rows the steps gave the aggregates (complete after Finish).
  int64_t rows() const { return rows_.load(); }

  // Waits for the workers; the partial aggregates merged in worker order into the first.
  Result<std::unique_ptr<operators::HashAggregate>> Finish() {
    Stop();
    if (!error_.ok()) return error_;
    std::unique_ptr<operators::HashAggregate> out = std::move(workers_[0]->agg);
    for (size_t w = 1; w < workers_.size(); ++w) {
      LP_ASSIGN_OR_RETURN(RecordBatch state, workers_[w]->agg->ExportState());
      workers_[w]->agg.reset();
      LP_RETURN_IF_ERROR(out->MergeState(state));
    }
    return out;
  }

 private:
  struct Worker {
    std::vector<RowwiseStep> steps;
    std::unique_ptr<operators::HashAggregate> agg;
  };

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      cv_.notify_all();
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  void Work(size_t w) {
    while (true) {
      RecordBatch part;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !queues_[w].empty() || done_ || failed_; });
        if (failed_ || queues_[w].empty()) return;
        part = std::move(queues_[w].front());
        queues_[w].pop_front();
        cv_.notify_all();
      }
      Status st = Status::OK();
      auto out = ApplySteps(*scan_, workers_[w]->steps, std::move(part));
      if (!out.ok()) st = out.status();
      else if (out->num_rows() > 0) st = workers_[w]->agg->Push(*out);
      if (out.ok()) rows_ += out->num_rows();
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!failed_) error_ = st;
        failed_ = true;
        cv_.notify_all();
        return;
      }
    }
  }

  const Schema* scan_ = nullptr;
  std::atomic<int64_t> rows_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::deque<RecordBatch>> queues_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  bool done_ = false;
  bool failed_ = false;
  Status error_ = Status::OK();
};

Result<std::optional<Batches>> Executor::RunAggregateByParts(const PlanNode& node, const AggregateFactory& own) {
  // An incremental aggregate takes rows read by parts only through its merge callback.
  if (options_.incremental_aggregate && !options_.incremental_aggregate_merge) return std::optional<Batches>();
  const AggregateFactory& make = options_.incremental_aggregate_merge && options_.incremental_aggregate_factory
                                     ? options_.incremental_aggregate_factory
                                     : own;
  const PlanNode* scan = nullptr;
  std::vector<const PlanNode*> chain = RowwiseChain(node, &scan);
  if (scan == nullptr || !scan->resolved) return std::optional<Batches>();
  LP_ASSIGN_OR_RETURN(std::vector<RowwiseStep> steps, BindSteps(chain, options_));
  LP_ASSIGN_OR_RETURN(std::vector<std::string> columns, ColumnsRead(node, steps, *scan, options_));
  std::vector<parquet::ColumnPredicate> predicates;
  for (const RowwiseStep& step : steps) {
    if (step.node->kind != PlanKind::kFilter) break;  // only filters on the table's own columns
    CollectPredicates(*step.predicate, scan->schema, &predicates);
  }
  LP_ASSIGN_OR_RETURN(std::unique_ptr<BatchStream> stream, provider_.StreamTable(*scan, columns, predicates));
  if (stream == nullptr) return std::optional<Batches>();

  bool ordered = false;  // an aggregate whose result depends on the order of its rows
  for (const auto& a : node.aggregates) {
    const expr::AggregateSignature* sig = expr::FindAggregate(a.expr->function);
    ordered = ordered || (sig != nullptr && sig->order_sensitive);
  }
  const int threads = ordered ? 1 : std::max(1, options_.aggregate_threads);
  int64_t rows = 0;
  std::unique_ptr<operators::HashAggregate> agg;
  RecordBatch part;
  if (threads == 1) {
    LP_ASSIGN_OR_RETURN(agg, make());
    while (true) {
      LP_ASSIGN_OR_RETURN(bool more, stream->Next(&part));
      if (!more) break;
      LP_ASSIGN_OR_RETURN(RecordBatch in, ApplySteps(scan->schema, steps, std::move(part)));
      rows += in.num_rows();
      if (in.num_rows() > 0) LP_RETURN_IF_ERROR(agg->Push(in));
    }
  } else {
    PartialAggregates partials(static_cast<size_t>(threads));
    LP_RETURN_IF_ERROR(partials.Start(scan->schema, chain, options_, make));
    Status read = Status::OK();
    for (int64_t seq = 0;; ++seq) {
      auto more = stream->Next(&part);
      if (!more.ok()) {
        read = more.status();
        break;
      }
      if (!*more || !partials.Add(seq, std::move(part))) break;
    }
    auto merged = partials.Finish();
    LP_RETURN_IF_ERROR(read);
    if (!merged.ok()) return merged.status();
    agg = std::move(merged).value();
    rows = partials.rows();
  }
  stream.reset();  // the decode thread ends before the state is handed on
  if (options_.incremental_aggregate_merge) {
    LP_ASSIGN_OR_RETURN(Batches out, options_.incremental_aggregate_merge(node, make, std::move(agg), rows));
    return std::optional<Batches>(Relabel(node.schema, std::move(out)));
  }
  LP_ASSIGN_OR_RETURN(Batches out, agg->Finish());
  return std::optional<Batches>(Relabel(node.schema, std::move(out)));
}

Result<Selected> Executor::RunDistinct(const PlanNode& node) {
  const PlanNode& input = *node.inputs[0];
  LP_ASSIGN_OR_RETURN(Batches rows, Run(input));
  std::shared_ptr<operators::SeenKeySet> seen;
  if (options_.seen_keys) {
    LP_ASSIGN_OR_RETURN(seen, options_.seen_keys(node));
  }
  // WATERMARK on the streaming scan under a DISTINCT bounds its state (state owner).
  std::optional<operators::DeduplicateWatermark> watermark;
  if (const PlanNode* scan = sql::WatermarkScanBelow(node)) {
    int column = input.schema.FindField(scan->watermark->column);
    if (column < 0) {
      return Status::NotSupported("WATERMARK column `" + scan->watermark->column +
                                  "` must be selected (under its own name) by the DISTINCT it bounds");
    }
    watermark = operators::DeduplicateWatermark{column, scan->watermark->delay_micros};
  }
  LP_ASSIGN_OR_RETURN(auto dedup, operators::Deduplicate::Make(input.schema, {}, seen, watermark));
  Selected out;
  std::vector<operators::Deduplicate::LateRow> late;
  for (const auto& b : rows) {
    late.clear();
    LP_ASSIGN_OR_RETURN(operators::SelectedBatch fresh, dedup->PushSelect(b, &late));
    if (fresh.num_rows() > 0) out.push_back(fresh.Relabel(node.schema));
    if (!late.empty()) LP_RETURN_IF_ERROR(HandOverLate(node, b, watermark->event_time_column, late));
  }
  return out;
}

Result<Batches> Executor::RunStateful(const PlanNode& node) {
  switch (node.kind) {
    case PlanKind::kAggregate: {
      if (sql::WindowKeyIndex(node) >= 0) return RunWindowAggregate(node);
      const PlanNode& input = *node.inputs[0];
      LP_ASSIGN_OR_RETURN(AggregateFactory make, AggregateFactoryFor(node, options_));
      LP_ASSIGN_OR_RETURN(std::optional<Batches> by_parts, RunAggregateByParts(node, make));
      if (by_parts) return std::move(*by_parts);
      LP_ASSIGN_OR_RETURN(Batches rows, Run(input));
      if (options_.incremental_aggregate) {
        // The state lives across micro-batches: the runtime adds these (new) rows to it and
        // returns the aggregate over everything so far.
        LP_ASSIGN_OR_RETURN(Batches out, options_.incremental_aggregate(node, make, rows));
        return Relabel(node.schema, std::move(out));
      }
      LP_ASSIGN_OR_RETURN(auto agg, make());
      for (const auto& b : rows) LP_RETURN_IF_ERROR(agg->Push(b));
      LP_ASSIGN_OR_RETURN(Batches out, agg->Finish());
      return Relabel(node.schema, std::move(out));
    }
    case PlanKind::kJoin: {
      const PlanNode& left = *node.inputs[0];
      if (node.left_keys.empty()) {
        return Status::NotSupported("a join without an equality between the two sides (cross join or "
                                    "non-equi join); join ON left.col = right.col");
      }
      if (options_.across_parts != nullptr && options_.across_parts->BuildsLeft(node)) return RunJoinBuildingLeft(node);
      operators::HashJoin* join =
          options_.across_parts != nullptr ? options_.across_parts->FindJoin(node) : nullptr;
      std::unique_ptr<operators::HashJoin> own;
      if (join == nullptr) {
        LP_ASSIGN_OR_RETURN(JoinParts parts, BindJoin(node));
        if (sql::IsStreamStreamJoin(node)) {
          LP_ASSIGN_OR_RETURN(Batches left_rows, Run(left));
          LP_ASSIGN_OR_RETURN(Batches right_rows, Run(*node.inputs[1]));
          return RunStreamJoin(node, std::move(parts), left_rows, right_rows);
        }
        LP_ASSIGN_OR_RETURN(own, BuildJoin(node, std::move(parts)));
        join = options_.across_parts != nullptr ? options_.across_parts->KeepJoin(node, std::move(own)) : own.get();
      }
      LP_ASSIGN_OR_RETURN(Batches left_rows, Run(left));
      Batches out;
      for (const auto& b : left_rows) {
        LP_ASSIGN_OR_RETURN(RecordBatch joined, join->Probe(b));
        if (joined.num_rows() > 0) out.push_back(std::move(joined));
      }
      return Relabel(node.schema, std::move(out));
    }
    case PlanKind::kSort: {
      const PlanNode& input = *node.inputs[0];
      LP_ASSIGN_OR_RETURN(Batches rows, Run(input));
      std::vector<operators::SortKey> keys;
      for (const auto& k : node.sort_keys) {
        LP_ASSIGN_OR_RETURN(expr::BoundExpr b, expr::Bind(*k.expr, input.schema, ContextFor(input, options_)));
        keys.push_back({std::move(b), k.ascending, k.nulls_first});
      }
      LP_ASSIGN_OR_RETURN(auto sort, operators::Sort::Make(input.schema, std::move(keys)));
      for (const auto& b : rows) LP_RETURN_IF_ERROR(sort->Push(b));
      LP_ASSIGN_OR_RETURN(Batches out, sort->Finish());
      return Relabel(node.schema, std::move(out));
    }
    case PlanKind::kDistinct: {
      LP_ASSIGN_OR_RETURN(Selected fresh, RunDistinct(node));
      Batches out;
      out.reserve(fresh.size());
      for (const auto& b : fresh) out.push_back(b.Materialize());
      return out;
    }
    case PlanKind::kWindow: {
      if (sql::IsStreamingKeyedDedup(node)) return RunKeyedDedup(node);
      const PlanNode& input = *node.inputs[0];
      LP_ASSIGN_OR_RETURN(Batches rows, Run(input));
      LP_ASSIGN_OR_RETURN(auto window, MakeWindow(node, options_));
      for (const auto& b : rows) LP_RETURN_IF_ERROR(window->Push(b));
      LP_ASSIGN_OR_RETURN(Batches out, window->Finish());
      return Relabel(node.schema, std::move(out));
    }
    default: break;
  }
  return Status::Internal("not a stateful plan node");
}

// The keys and residual of a join, bound over its inputs.
Result<Executor::JoinParts> Executor::BindJoin(const PlanNode& node) {
  const PlanNode& left = *node.inputs[0];
  const PlanNode& right = *node.inputs[1];
  JoinParts parts;
  for (const auto& k : node.left_keys) {
    LP_ASSIGN_OR_RETURN(expr::BoundExpr b, expr::Bind(*k, left.schema, ContextFor(left, options_)));
    parts.left_keys.push_back(std::move(b));
  }
  for (const auto& k : node.right_keys) {
    LP_ASSIGN_OR_RETURN(expr::BoundExpr b, expr::Bind(*k, right.schema, ContextFor(right, options_)));
    parts.right_keys.push_back(std::move(b));
  }
  if (node.residual) {
    LP_ASSIGN_OR_RETURN(expr::BoundExpr b, expr::Bind(*node.residual, node.schema, ContextFor(node, options_)));
    parts.residual = std::move(b);
  }
  parts.type = node.join_type == sql::JoinType::kLeft ? operators::JoinType::kLeft : operators::JoinType::kInner;
  return parts;
}

// A hash join with its right input read and built, ready to probe.
Result<std::unique_ptr<operators::HashJoin>> Executor::BuildJoin(const PlanNode& node, JoinParts parts) {
  const PlanNode& right = *node.inputs[1];
  LP_ASSIGN_OR_RETURN(auto join, operators::HashJoin::Make(parts.type, node.inputs[0]->schema, right.schema,
                                                           std::move(parts.left_keys), std::move(parts.right_keys),
                                                           std::move(parts.residual)));
  LP_ASSIGN_OR_RETURN(Batches right_rows, Run(right));
  for (const auto& b : right_rows) LP_RETURN_IF_ERROR(join->Build(b));
  LP_RETURN_IF_ERROR(join->FinishBuild());
  return join;
}

// An INNER join read by parts whose stream is its right input (AcrossParts::BuildLeft):
// the same join with its sides swapped. Its left input is built once, at the first part;
// each part's right rows probe it, and the matches are put back in the join's column
// order (left, then right) before the residual condition keeps the rows it accepts, as
// an inner join's residual does.
Result<Batches> Executor::RunJoinBuildingLeft(const PlanNode& node) {
  const PlanNode& left = *node.inputs[0];
  const PlanNode& right = *node.inputs[1];
  if (node.join_type != sql::JoinType::kInner) {
    return Status::Internal("only an inner join can build its left side");
  }
  LP_ASSIGN_OR_RETURN(JoinParts parts, BindJoin(node));
  operators::HashJoin* join = options_.across_parts->FindJoin(node);
  if (join == nullptr) {
    LP_ASSIGN_OR_RETURN(auto built, operators::HashJoin::Make(operators::JoinType::kInner, right.schema, left.schema,
                                                              std::move(parts.right_keys), std::move(parts.left_keys),
                                                              std::nullopt));
    LP_ASSIGN_OR_RETURN(Batches left_rows, Run(left));
    for (const auto& b : left_rows) LP_RETURN_IF_ERROR(built->Build(b));
    LP_RETURN_IF_ERROR(built->FinishBuild());
    join = options_.across_parts->KeepJoin(node, std::move(built));
  }
  const size_t left_columns = left.schema.size();
  const size_t right_columns = right.schema.size();
  LP_ASSIGN_OR_RETURN(Batches right_rows, Run(right));
  Batches out;
  for (const auto& b : right_rows) {
    LP_ASSIGN_OR_RETURN(RecordBatch swapped, join->Probe(b));
    if (swapped.num_rows() == 0) continue;
    std::vector<ColumnPtr> columns;
    columns.reserve(left_columns + right_columns);
    for (size_t c = 0; c < left_columns; ++c) columns.push_back(swapped.column_ptr(right_columns + c));
    for (size_t c = 0; c < right_columns; ++c) columns.push_back(swapped.column_ptr(c));
    RecordBatch joined(node.schema, std::move(columns), swapped.num_rows());
    if (parts.residual) {
      LP_ASSIGN_OR_RETURN(joined, operators::Filter(joined, *parts.residual));
      if (joined.num_rows() == 0) continue;
    }
    out.push_back(std::move(joined));
  }
  return Relabel(node.schema, std::move(out));
}

// Both inputs are streams: the join keeps its buffers across micro-batches (the flow's
// state) and answers for this batch's new rows only (operators/stream_join.h).
Result<Batches> Executor::RunStreamJoin(const PlanNode& node, JoinParts parts, const Batches& left_rows,
                                        const Batches& right_rows) {
  const PlanNode& left = *node.inputs[0];
  const PlanNode& right = *node.inputs[1];
  LP_ASSIGN_OR_RETURN(sql::StreamJoinBounds found, sql::AnalyzeStreamJoin(node));
  operators::StreamJoinBounds bounds;
  bounds.left_time = found.left.time_column;
  bounds.right_time = found.right.time_column;
  bounds.left_delay_micros = found.left.delay_micros;
  bounds.right_delay_micros = found.right.delay_micros;
  bounds.lower_micros = found.lower_micros;
  bounds.upper_micros = found.upper_micros;
  std::unique_ptr<operators::StreamJoinState> local;
  operators::StreamJoinState* state = nullptr;
  if (options_.join_state) {
    LP_ASSIGN_OR_RETURN(state, options_.join_state(node));
  } else {
    local = std::make_unique<operators::StreamJoinState>(left.schema, right.schema);
    state = local.get();
  }
  LP_ASSIGN_OR_RETURN(auto join, operators::StreamJoin::Make(parts.type, left.schema, right.schema, node.schema,
                                                             std::move(parts.left_keys), std::move(parts.right_keys),
                                                             std::move(parts.residual), bounds, state));
  LP_ASSIGN_OR_RETURN(operators::StreamJoinOutput out, join->Push(left_rows, right_rows));
  for (int side = 0; side < 2; ++side) {
    const RecordBatch& late = side == 0 ? out.late_left : out.late_right;
    if (late.num_rows() == 0) continue;
    const sql::StreamJoinSide& s = side == 0 ? found.left : found.right;
    const auto& watermarks = side == 0 ? out.late_left_watermarks : out.late_right_watermarks;
    const Column& time = late.column(static_cast<size_t>(s.time_column));
    std::vector<std::string> reasons;
    for (int64_t i = 0; i < late.num_rows(); ++i) {
      reasons.push_back(std::string(side == 0 ? "left" : "right") + " join input " + s.source + ": " + s.time_name +
                        " " + FormatTimestamp(time.Get<int64_t>(i)) + " is behind the watermark " +
                        FormatTimestamp(watermarks[static_cast<size_t>(i)]) + " (the latest " + s.time_name +
                        " before it minus the WATERMARK delay)");
    }
    if (!options_.late_rows) {
      return Status::Internal(std::to_string(late.num_rows()) + " late rows of a stream-stream join (" + reasons[0] +
                              ") and nowhere to put them");
    }
    LP_RETURN_IF_ERROR(options_.late_rows(node, late, reasons));
  }
  return Relabel(node.schema, std::move(out.rows));
}

// QUALIFY row_number() OVER (PARTITION BY keys ORDER BY ts) = 1 over a watermarked stream:
// the first row per key within the watermark (sql/streaming_rules.h CheckKeyedDedup),
// with the keys in the flow's seen-key state. The kept rows' row_number is 1.
Result<Batches> Executor::RunKeyedDedup(const PlanNode& node) {
  const PlanNode& input = *node.inputs[0];
  LP_ASSIGN_OR_RETURN(Batches rows, Run(input));
  const sql::PlanNode* scan = sql::WatermarkScanBelow(node);
  int time_column = input.schema.FindField(scan->watermark->column);
  if (time_column < 0) {
    return Status::NotSupported("WATERMARK column `" + scan->watermark->column +
                                "` must be selected (under its own name) by the query the de-duplication reads");
  }
  std::vector<int> keys;
  for (const auto& k : node.window_functions[0].partition_by) {
    LP_ASSIGN_OR_RETURN(expr::BoundExpr b, expr::Bind(*k, input.schema, ContextFor(input, options_)));
    if (b.kind != expr::BoundKind::kColumn) {
      return Status::NotSupported("keyed de-duplication by an expression is not built yet");
    }
    keys.push_back(b.column_index);
  }
  std::shared_ptr<operators::SeenKeySet> seen;
  if (options_.seen_keys) {
    LP_ASSIGN_OR_RETURN(seen, options_.seen_keys(node));
  }
  operators::DeduplicateWatermark watermark{time_column, scan->watermark->delay_micros};
  LP_ASSIGN_OR_RETURN(auto dedup, operators::Deduplicate::Make(input.schema, keys, seen, watermark));
  const DataType& number_type = node.schema.field(node.schema.size() - 1).type;
  Batches out;
  std::vector<operators::Deduplicate::LateRow> late;
  for (const auto& b : rows) {
    late.clear();
    LP_ASSIGN_OR_RETURN(RecordBatch kept, dedup->Push(b, &late));
    if (!late.empty()) LP_RETURN_IF_ERROR(HandOverLate(node, b, time_column, late));
    if (kept.num_rows() == 0) continue;
    Column one(number_type);
    for (int64_t i = 0; i < kept.num_rows(); ++i) {
      if (number_type.id() == TypeId::kInt) one.Append<int32_t>(1);
      else one.Append<int64_t>(1);
    }
    std::vector<ColumnPtr> cols = kept.columns();
    cols.push_back(MakeColumn(std::move(one)));
    out.push_back(RecordBatch(node.schema, std::move(cols), kept.num_rows()));
  }
  return Relabel(node.schema, std::move(out));
}

Result<Batches> Executor::RunWindowAggregate(const PlanNode& node) {
  const PlanNode& input = *node.inputs[0];
  int wk = sql::WindowKeyIndex(node);
  const expr::Expr& call = *node.group_keys[static_cast<size_t>(wk)].expr;
  LP_ASSIGN_OR_RETURN(sql::TimeWindow tw, sql::ParseTimeWindow(call));
  LP_ASSIGN_OR_RETURN(Batches rows, Run(input));
  expr::BindContext ctx = ContextFor(input, options_);
  LP_ASSIGN_OR_RETURN(expr::BoundExpr time, expr::Bind(*call.args[0], input.schema, ctx));
  // The window start is appended to the input as its last column; the HashAggregate
  // groups by it in the window's key position.
  std::vector<expr::BoundExpr> keys, aggs;
  std::vector<std::string> key_names, agg_names;
  for (size_t i = 0; i < node.group_keys.size(); ++i) {
    key_names.push_back(node.group_keys[i].name);
    if (static_cast<int>(i) == wk) {
      expr::BoundExpr start;
      start.kind = expr::BoundKind::kColumn;
      start.column_index = static_cast<int>(input.schema.size());
      start.type = DataType::Timestamp();
      start.text = node.group_keys[i].name;
      keys.push_back(std::move(start));
      continue;
    }
    LP_ASSIGN_OR_RETURN(expr::BoundExpr b, expr::Bind(*node.group_keys[i].expr, input.schema, ctx));
    keys.push_back(std::move(b));
  }
  ctx.allow_aggregates = true;
  for (const auto& a : node.aggregates) {
    LP_ASSIGN_OR_RETURN(expr::BoundExpr b, expr::Bind(*a.expr, input.schema, ctx));
    aggs.push_back(std::move(b));
    agg_names.push_back(a.name);
  }
  std::vector<expr::BoundExpr> other_keys;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (static_cast<int>(i) != wk) other_keys.push_back(keys[i]);
  }
  if (tw.session) {
    // The session's end follows from its latest event time: one more aggregate, last.
    LP_ASSIGN_OR_RETURN(expr::BoundExpr last, expr::Bind(*expr::Expr::Call("max", {call.args[0]}), input.schema, ctx));
    aggs.push_back(std::move(last));
    agg_names.push_back("$session_last");
  }
  operators::WindowAggregate::Factory make = [keys, key_names, aggs, agg_names]() {
    return operators::HashAggregate::Make(keys, key_names, aggs, agg_names);
  };
  const PlanNode* scan = sql::WatermarkScanBelow(node);
  std::optional<int64_t> delay;
  if (scan != nullptr) delay = scan->watermark->delay_micros;
  LP_ASSIGN_OR_RETURN(auto agg, operators::WindowAggregate::Make(
                                    {tw.size_micros, tw.slide_micros, tw.offset_micros, tw.session}, std::move(time),
                                    wk, delay, make, node.schema, std::move(other_keys)));
  if (!delay) {
    std::vector<operators::WindowAggregate::LateRow> none;
    for (const auto& b : rows) LP_RETURN_IF_ERROR(agg->Push(b, &none));
    LP_ASSIGN_OR_RETURN(Batches out, agg->Finish());
    return Relabel(node.schema, std::move(out));
  }
  // Streaming: continue from the stored open windows, output the windows the watermark
  // has passed, stage the rest.
  if (!options_.window_state) {
    return Status::Internal("a time-window aggregate over a watermarked stream has no state to keep its windows in");
  }
  LP_ASSIGN_OR_RETURN(auto state, options_.window_state(node, agg->state_schema()));
  LP_ASSIGN_OR_RETURN(RecordBatch open, state->OpenWindows());
  LP_RETURN_IF_ERROR(agg->Restore(state->max_event_time(), open));
  std::vector<operators::WindowAggregate::LateRow> late;
  for (const auto& b : rows) {
    late.clear();
    LP_RETURN_IF_ERROR(agg->Push(b, &late));
    if (late.empty()) continue;
    std::vector<int32_t> idx;
    std::vector<std::string> reasons;
    for (auto& l : late) {
      idx.push_back(l.row);
      reasons.push_back(std::move(l.reason));
    }
    LP_RETURN_IF_ERROR(HandOverLate(node, b, std::move(idx), std::move(reasons)));
  }
  LP_ASSIGN_OR_RETURN(Batches out, agg->TakeClosed());
  LP_ASSIGN_OR_RETURN(RecordBatch still_open, agg->OpenState());
  state->Stage(agg->max_event_time(), std::move(still_open));
  return Relabel(node.schema, std::move(out));
}

}  // namespace

AcrossParts::AcrossParts() = default;
AcrossParts::~AcrossParts() = default;

operators::HashJoin* AcrossParts::FindJoin(const sql::PlanNode& node) const {
  auto it = joins_.find(&node);
  return it == joins_.end() ? nullptr : it->second.get();
}

operators::HashJoin* AcrossParts::KeepJoin(const sql::PlanNode& node, std::unique_ptr<operators::HashJoin> join) {
  auto& kept = joins_[&node];
  kept = std::move(join);
  return kept.get();
}

Result<std::vector<RecordBatch>> Execute(const sql::PlanNode& plan, ScanProvider& provider,
                                         const ExecOptions& options) {
  Executor executor(provider, options);
  return executor.Run(plan);
}

Result<std::vector<operators::SelectedBatch>> ExecuteSelected(const sql::PlanNode& plan, ScanProvider& provider,
                                                              const ExecOptions& options) {
  Executor executor(provider, options);
  return executor.RunSelected(plan);
}

Result<AggregateFactory> AggregateFactoryFor(const PlanNode& node, const ExecOptions& options) {
  if (node.kind != PlanKind::kAggregate) return Status::Internal("AggregateFactoryFor a non-aggregate node");
  const PlanNode& input = *node.inputs[0];
  expr::BindContext ctx = ContextFor(input, options);
  std::vector<expr::BoundExpr> keys, aggs;
  std::vector<std::string> key_names, agg_names;
  for (const auto& k : node.group_keys) {
    LP_ASSIGN_OR_RETURN(expr::BoundExpr b, expr::Bind(*k.expr, input.schema, ctx));
    keys.push_back(std::move(b));
    key_names.push_back(k.name);
  }
  ctx.allow_aggregates = true;
  for (const auto& a : node.aggregates) {
    LP_ASSIGN_OR_RETURN(expr::BoundExpr b, expr::Bind(*a.expr, input.schema, ctx));
    aggs.push_back(std::move(b));
    agg_names.push_back(a.name);
  }
  std::vector<int64_t> grouping_ids = node.grouping_ids;
  return AggregateFactory([keys, key_names, aggs, agg_names, grouping_ids]() {
    return operators::HashAggregate::Make(keys, key_names, aggs, agg_names, grouping_ids);
  });
}

Result<std::vector<expr::BoundExpr>> BindAggregateCalls(const PlanNode& node, const ExecOptions& options) {
  if (node.kind != PlanKind::kAggregate) return Status::Internal("BindAggregateCalls of a non-aggregate node");
  const PlanNode& input = *node.inputs[0];
  expr::BindContext ctx = ContextFor(input, options);
  ctx.allow_aggregates = true;
  std::vector<expr::BoundExpr> out;
  for (const auto& a : node.aggregates) {
    LP_ASSIGN_OR_RETURN(expr::BoundExpr b, expr::Bind(*a.expr, input.schema, ctx));
    out.push_back(std::move(b));
  }
  return out;
}

Result<std::optional<Schema>> LateRowsSchema(const sql::PlanNode& plan) {
  std::vector<const PlanNode*> ops;
  CollectWatermarked(plan, &ops);
  if (ops.empty()) return std::optional<Schema>();
  Schema s;
  for (const PlanNode* input : ops) {
    for (const Field& f : input->schema.fields()) {
      int i = s.FindField(f.name);
      if (i < 0) {
        s.AddField(Field{f.name, f.type, true});
      } else if (s.field(static_cast<size_t>(i)).type != f.type) {
        return Status::NotSupported("two watermarked operators of one table have column `" + f.name +
                                    "` with different types (" + s.field(static_cast<size_t>(i)).type.ToString() +
                                    ", " + f.type.ToString() + "): their late rows cannot share `<table>_late`");
      }
    }
  }
  s.AddField(Field{kLateReasonColumn, DataType::String(), false});
  return std::optional<Schema>(std::move(s));
}

Result<RecordBatch> ToLateRows(const Schema& late_schema, const RecordBatch& rows,
                               const std::vector<std::string>& reasons) {
  std::vector<ColumnPtr> cols;
  for (size_t c = 0; c + 1 < late_schema.size(); ++c) {
    const Field& f = late_schema.field(c);
    int i = rows.schema().FindField(f.name);
    if (i < 0) {
      cols.push_back(MakeColumn(Column::Nulls(f.type, rows.num_rows())));
    } else if (rows.column(static_cast<size_t>(i)).type() != f.type) {
      return Status::Internal("late row column `" + f.name + "` has another type than the late-rows table");
    } else {
      cols.push_back(rows.column_ptr(static_cast<size_t>(i)));
    }
  }
  Column reason(DataType::String());
  for (const auto& r : reasons) reason.AppendString(r);
  cols.push_back(MakeColumn(std::move(reason)));
  return RecordBatch(late_schema, std::move(cols), rows.num_rows());
}

int64_t CountRows(const std::vector<RecordBatch>& batches) {
  int64_t n = 0;
  for (const auto& b : batches) n += b.num_rows();
  return n;
}

}  // namespace lakepipe::runtime
