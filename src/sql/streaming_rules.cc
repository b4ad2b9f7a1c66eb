#include "sql/streaming_rules.h"

#include "expr/aggregate_functions.h"
#include "sql/lexer.h"
#include "sql/stream_join.h"
#include "sql/time_window.h"

namespace lakepipe::sql {

namespace {

const char kUseView[] = "use a materialized view (it reads its inputs in full and lakepipe keeps it up to date)";

class Checker {
 public:
  Checker(const DatasetDefinition& def, const ViewPlanLookup& views) : def_(def), views_(views) {}

  // Whether `n` reads a stream; checks the rules on the way up.
  Result<bool> Walk(const PlanNode& n) {
    if (n.kind == PlanKind::kReadFiles || n.kind == PlanKind::kReadStream) return n.streaming;
    if (n.kind == PlanKind::kTableScan) {
      const PlanNode* view = views_ ? views_(n.table) : nullptr;
      if (view == nullptr) return n.streaming;
      LP_ASSIGN_OR_RETURN(bool streams, Walk(*view));
      if (n.streaming && !streams) {
        return NotSupportedAt(n.loc, "STREAM(" + n.table + "): temporary view `" + n.table +
                                         "` reads no stream (it reads its tables in full); write STREAM(...) "
                                         "inside the view, or read `" + n.table + "` without STREAM");
      }
      return streams;
    }
    std::vector<bool> in;
    bool any = false;
    for (const auto& input : n.inputs) {
      LP_ASSIGN_OR_RETURN(bool s, Walk(*input));
      in.push_back(s);
      any |= s;
    }
    if (def_.kind != DatasetKind::kStreamingTable || !any) return any;
    switch (n.kind) {
      case PlanKind::kAggregate: {
        int wk = WindowKeyIndex(n);
        const PlanNode* scan = WatermarkScanBelow(n);
        if (wk >= 0 && scan != nullptr) {
          // The watermark closes the windows, so it must track the window's own time.
          const expr::Expr& time = *n.group_keys[static_cast<size_t>(wk)].expr->args[0];
          if (time.kind != expr::ExprKind::kColumn || !EqualsIgnoreCase(time.name, scan->watermark->column)) {
            return NotSupportedAt(n.loc, "streaming table `" + def_.name + "`: the time window is over `" +
                                             time.ToString() + "` but the WATERMARK is on `" +
                                             scan->watermark->column + "`; window the watermark column");
          }
          if (n.group_keys[static_cast<size_t>(wk)].expr->function == "session_window") {
            // Two open sessions that a row bridges merge their states: the rows of the two
            // no longer come in arrival order.
            for (const auto& a : n.aggregates) {
              const expr::AggregateSignature* sig = expr::FindAggregate(a.expr->function);
              if (sig != nullptr && sig->order_sensitive) {
                return NotSupportedAt(n.loc, "streaming table `" + def_.name + "`: the aggregate `" +
                                                 a.expr->ToString() +
                                                 "` depends on the order of the rows, which merging two sessions "
                                                 "does not keep: not built yet in a streaming session window; use "
                                                 "a materialized view");
              }
            }
          }
          return true;
        }
        if (wk >= 0 && HasWatermark(*n.inputs[0])) {
          return NotSupportedAt(n.loc, "streaming table `" + def_.name +
                                           "`: the WATERMARK must be on the stream the time window aggregates "
                                           "directly (not behind a join, union or view)");
        }
        return NotSupportedAt(n.loc, "streaming table `" + def_.name +
                                         "`: a streaming table cannot aggregate without a time window and a "
                                         "watermark; " + kUseView +
                                         ", or GROUP BY window(event_time, '10 minutes'), ... over a source "
                                         "with WATERMARK event_time DELAY OF INTERVAL 10 MINUTES");
      }
      case PlanKind::kSort:
        return NotSupportedAt(n.loc, "streaming table `" + def_.name +
                                         "`: ORDER BY over a stream (a streaming table appends each micro-batch "
                                         "and keeps no order across them); remove ORDER BY and order when "
                                         "reading, or " + kUseView);
      case PlanKind::kLimit:
        return NotSupportedAt(n.loc, "streaming table `" + def_.name +
                                         "`: LIMIT over a stream (which rows come first would depend on how the "
                                         "input is split into micro-batches); remove LIMIT, or " + kUseView);
      case PlanKind::kJoin:
        if (in[0] && in[1]) {
          // Stream-stream joins (sql/stream_join.h, bounds checked by CheckStreamJoins) see
          // their streams directly; through a view the executor would not keep join state.
          if (IsStreamStreamJoin(n)) return true;
          return NotSupportedAt(n.loc, "streaming table `" + def_.name +
                                           "`: a join of two streams read through temporary views is not built "
                                           "yet; join STREAM(...) scans directly, or " + kUseView);
        }
        if (n.join_type == JoinType::kLeft && !in[0]) {
          return NotSupportedAt(n.loc, "streaming table `" + def_.name +
                                           "`: LEFT JOIN with the stream on the right side (a left row would be "
                                           "written as unmatched before its match arrives, and never corrected); "
                                           "put the stream on the left, or " + kUseView);
        }
        return true;
      case PlanKind::kUnionAll:
        for (size_t i = 0; i < in.size(); ++i) {
          if (!in[i]) {
            return NotSupportedAt(n.inputs[i]->loc,
                                  "streaming table `" + def_.name +
                                      "`: UNION of a stream with a query that reads its tables in full (every "
                                      "micro-batch would append that query's rows again); read every branch "
                                      "with STREAM, or " + kUseView);
          }
        }
        return true;
      case PlanKind::kDistinct: {
        // The runtime bounds the DISTINCT's keys by the watermark of the scan right under it.
        const PlanNode* scan = WatermarkScanBelow(n);
        if (scan != nullptr && n.inputs[0]->schema.FindField(scan->watermark->column) < 0) {
          return NotSupportedAt(n.loc, "WATERMARK column `" + scan->watermark->column +
                                           "` must be selected (under its own name) by the DISTINCT it bounds");
        }
        return true;
      }
      default: return true;
    }
  }

  // Whether a streaming scan under `n` (through views) has a WATERMARK.
  bool HasWatermark(const PlanNode& n) {
    if (n.kind == PlanKind::kTableScan) {
      if (n.streaming && n.watermark) return true;
      const PlanNode* view = views_ ? views_(n.table) : nullptr;
      return view != nullptr && HasWatermark(*view);
    }
    if (n.kind == PlanKind::kReadFiles || n.kind == PlanKind::kReadStream) return n.streaming && n.watermark.has_value();
    for (const auto& input : n.inputs) {
      if (HasWatermark(*input)) return true;
    }
    return false;
  }

 private:
  const DatasetDefinition& def_;
  const ViewPlanLookup& views_;
};

// The first streaming scan under `n`, looking through views; `via` is set to the reader's
// scan of the view it was found in.
const PlanNode* FindStreamingScan(const PlanNode& n, const ViewPlanLookup& views, const PlanNode** via) {
  if ((n.kind == PlanKind::kTableScan || n.kind == PlanKind::kReadFiles || n.kind == PlanKind::kReadStream) && n.streaming) return &n;
  if (n.kind == PlanKind::kTableScan) {
    const PlanNode* view = views ? views(n.table) : nullptr;
    if (view != nullptr && FindStreamingScan(*view, views, via) != nullptr) {
      *via = &n;
      return view;
    }
    return nullptr;
  }
  for (const auto& in : n.inputs) {
    if (const PlanNode* s = FindStreamingScan(*in, views, via)) return s;
  }
  return nullptr;
}

}  // namespace

Status CheckKeyedDedup(const std::string& table, const PlanNode& window, const PlanNode* parent) {
  const std::string form = "QUALIFY row_number() OVER (PARTITION BY key ORDER BY event_time) = 1";
  const WindowFunction& f = window.window_functions[0];
  auto refuse = [&](const std::string& why) {
    return NotSupportedAt(window.loc, "streaming table `" + table + "` uses the window function `" + f.text + "`: " +
                                          why);
  };
  bool row_number = window.window_functions.size() == 1 && f.call->kind == expr::ExprKind::kCall &&
                    f.call->function == "row_number";
  bool first_only = false;
  if (parent != nullptr && parent->kind == PlanKind::kFilter && parent->predicate) {
    const expr::Expr& p = *parent->predicate;
    if (p.kind == expr::ExprKind::kCall && p.function == "=" && p.args.size() == 2) {
      for (int side = 0; side < 2; ++side) {
        const expr::Expr& col = *p.args[static_cast<size_t>(side)];
        const expr::Expr& one = *p.args[static_cast<size_t>(1 - side)];
        if (col.kind == expr::ExprKind::kColumn && col.name == f.name && one.kind == expr::ExprKind::kLiteral &&
            !one.literal.is_null() && one.literal.ToString() == "1") {
          first_only = true;
        }
      }
    }
  }
  if (!row_number || !first_only) {
    return refuse("a window function needs its whole partition, which a stream never has; make it a "
                  "MATERIALIZED VIEW (recomputed on each update). The one form a streaming table runs is keyed "
                  "de-duplication, the first row per key within the watermark: " + form);
  }
  if (f.partition_by.empty()) return refuse("keyed de-duplication needs PARTITION BY the key columns: " + form);
  for (const auto& k : f.partition_by) {
    if (k->kind != expr::ExprKind::kColumn) {
      return refuse("keyed de-duplication by an expression (`" + k->ToString() +
                    "`) is not built yet; compute the key as a column in a view or subquery and PARTITION BY it");
    }
  }
  const PlanNode* scan = WatermarkScanBelow(window);
  if (scan == nullptr) {
    return refuse("keyed de-duplication of a stream needs `WATERMARK event_time DELAY OF INTERVAL ...` on the "
                  "stream it reads (directly: projections and filters may sit between), ORDER BY that column: the "
                  "watermark bounds the keys kept. Without one, SELECT DISTINCT keeps every key forever");
  }
  if (f.order_by.size() != 1 || !f.order_by[0].ascending || f.order_by[0].expr->kind != expr::ExprKind::kColumn ||
      !EqualsIgnoreCase(f.order_by[0].expr->name, scan->watermark->column)) {
    return refuse("keyed de-duplication keeps the first row per key: ORDER BY the WATERMARK column `" +
                  scan->watermark->column + "` ascending, alone (" + form +
                  "). The latest row per key is not built: it would rewrite rows already written; use a "
                  "materialized view");
  }
  if (window.inputs[0]->schema.FindField(scan->watermark->column) < 0) {
    return refuse("WATERMARK column `" + scan->watermark->column + "` must be selected (under its own name) by "
                  "the query the de-duplication reads");
  }
  return Status::OK();
}

bool IsStreamingKeyedDedup(const PlanNode& window) {
  return window.kind == PlanKind::kWindow && WatermarkScanBelow(window) != nullptr;
}

const PlanNode* WatermarkScanBelow(const PlanNode& node) {
  if (node.inputs.size() != 1) return nullptr;
  const PlanNode* scan = node.inputs[0].get();
  while (!scan->watermark && scan->inputs.size() == 1) scan = scan->inputs[0].get();
  return scan->watermark && scan->streaming ? scan : nullptr;
}

bool ReadsStream(const PlanNode& plan, const ViewPlanLookup& views) {
  const PlanNode* via = nullptr;
  return FindStreamingScan(plan, views, &via) != nullptr;
}

int WindowKeyIndex(const PlanNode& aggregate) {
  for (size_t i = 0; i < aggregate.group_keys.size(); ++i) {
    const expr::ExprPtr& e = aggregate.group_keys[i].expr;
    if (e && IsTimeWindowCall(*e)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

Status CheckStreamingRules(const DatasetDefinition& def, const PlanNode& plan, const ViewPlanLookup& views) {
  Checker checker(def, views);
  LP_ASSIGN_OR_RETURN(bool streams, checker.Walk(plan));
  if (def.kind == DatasetKind::kStreamingTable && !streams) {
    return ErrorAt(def.loc, "streaming table `" + def.name + "` reads no stream: write FROM STREAM(table) or "
                                                          "FROM STREAM read_files(...), or make it a MATERIALIZED VIEW");
  }
  if (def.kind == DatasetKind::kMaterializedView && streams) {
    const PlanNode* via = nullptr;
    const PlanNode* scan = FindStreamingScan(plan, views, &via);
    if (via != nullptr) {
      return ErrorAt(via->loc, "materialized view `" + def.name + "` reads its inputs in full, but view `" + via->table +
                                   "` reads a stream: remove STREAM from the view, or make `" + def.name +
                                   "` a STREAMING TABLE");
    }
    return ErrorAt(scan->loc, "materialized view `" + def.name + "` reads its inputs in full: remove STREAM, "
                                                                "or make it a STREAMING TABLE");
  }
  return Status::OK();
}

}  // namespace lakepipe::sql
