#include "governance/lineage.h"

#include <deque>
#include <map>

#include "sql/lexer.h"
#include "sql/stream_source.h"

namespace lakepipe::governance {
namespace {

using Cols = std::vector<std::set<ColumnRef>>;
using sql::EqualsIgnoreCase;
using sql::PlanKind;
using sql::PlanNode;

// The input column an unbound column reference names: qualified through the node's FROM
// item ranges, else by name (exact first, then case-insensitive, as Spark); -1 when none.
int ResolveColumn(const PlanNode& node, const std::string& qualifier, const std::string& name) {
  const auto& fields = node.schema.fields();
  auto find_in = [&](int begin, int end, const std::string& n) {
    for (int i = begin; i < end; ++i)
      if (fields[static_cast<size_t>(i)].name == n) return i;
    for (int i = begin; i < end; ++i)
      if (EqualsIgnoreCase(fields[static_cast<size_t>(i)].name, n)) return i;
    return -1;
  };
  int all = static_cast<int>(fields.size());
  if (!qualifier.empty()) {
    for (const auto& q : node.qualifiers) {
      if (!EqualsIgnoreCase(q.qualifier, qualifier)) continue;
      int found = find_in(q.begin, std::min(q.end, all), name);
      if (found >= 0) return found;
    }
    // `s.x` of a struct column s, or a _metadata field provided as a column.
    int dotted = find_in(0, all, qualifier + "." + name);
    if (dotted >= 0) return dotted;
    return find_in(0, all, qualifier);
  }
  return find_in(0, all, name);
}

void AddRefs(const expr::Expr* e, const PlanNode& input, const Cols& in, std::set<ColumnRef>* out) {
  if (e == nullptr) return;
  if (e->kind == expr::ExprKind::kColumn) {
    int i = ResolveColumn(input, e->qualifier, e->name);
    if (i >= 0 && static_cast<size_t>(i) < in.size()) out->insert(in[static_cast<size_t>(i)].begin(), in[static_cast<size_t>(i)].end());
    return;
  }
  for (const auto& a : e->args) AddRefs(a.get(), input, in, out);
  AddRefs(e->filter.get(), input, in, out);
}

// The rows of every table the input reads (for COUNT(*)).
std::set<ColumnRef> RowsOf(const Cols& in) {
  std::set<ColumnRef> out;
  for (const auto& c : in)
    for (const auto& r : c) out.insert({r.table, "*"});
  return out;
}

// An aggregate's value sources: its columns; with none (COUNT(*)), the input's rows.
std::set<ColumnRef> ValueRefs(const expr::Expr* e, const PlanNode& input, const Cols& in) {
  std::set<ColumnRef> out;
  AddRefs(e, input, in, &out);
  if (out.empty() && e != nullptr && e->IsAggregateCall()) out = RowsOf(in);
  return out;
}

Cols Fit(Cols cols, const PlanNode& node) {
  // A node kind whose columns this walk does not know: every output column conservatively
  // depends on all of its inputs (never fewer sources than the truth).
  size_t n = node.schema.fields().size();
  if (cols.size() == n) return cols;
  std::set<ColumnRef> all;
  for (const auto& c : cols) all.insert(c.begin(), c.end());
  return Cols(n, all);
}

Cols Walk(const PlanNode& node) {
  std::vector<Cols> inputs;
  for (const auto& in : node.inputs) inputs.push_back(Walk(*in));
  const auto& fields = node.schema.fields();
  Cols out;
  switch (node.kind) {
    case PlanKind::kTableScan:
      for (const auto& f : fields) out.push_back({ColumnRef{node.table, f.name}});
      return out;
    case PlanKind::kReadFiles:
      for (const auto& f : fields) out.push_back({ColumnRef{"files:" + node.read_files.path, f.name}});
      return out;
    case PlanKind::kReadStream: {
      std::string label = sql::StreamSourceLabel(node.stream_source);
      for (const auto& f : fields) out.push_back({ColumnRef{label, f.name}});
      return out;
    }
    case PlanKind::kFilter:
    case PlanKind::kSort:
    case PlanKind::kLimit:
    case PlanKind::kSubqueryAlias:
    case PlanKind::kDistinct:
      return inputs.empty() ? Fit({}, node) : Fit(inputs[0], node);
    case PlanKind::kProject: {
      if (inputs.empty()) return Fit({}, node);
      const PlanNode& input = *node.inputs[0];
      for (const auto& item : node.items) {
        if (item.is_star) {  // resolution expands stars; kept for safety
          for (size_t i = 0; i < input.schema.fields().size(); ++i) out.push_back(inputs[0][i]);
          continue;
        }
        std::set<ColumnRef> refs;
        AddRefs(item.expr.get(), input, inputs[0], &refs);
        out.push_back(std::move(refs));
      }
      return Fit(out, node);
    }
    case PlanKind::kAggregate: {
      if (inputs.empty()) return Fit({}, node);
      const PlanNode& input = *node.inputs[0];
      for (const auto& k : node.group_keys) out.push_back(ValueRefs(k.expr.get(), input, inputs[0]));
      if (!node.grouping_ids.empty()) out.push_back({});
      for (const auto& a : node.aggregates) out.push_back(ValueRefs(a.expr.get(), input, inputs[0]));
      return Fit(out, node);
    }
    case PlanKind::kJoin:
      for (const auto& in : inputs) out.insert(out.end(), in.begin(), in.end());
      return Fit(out, node);
    case PlanKind::kUnionAll: {
      out.assign(fields.size(), {});
      for (const auto& in : inputs)
        for (size_t i = 0; i < in.size() && i < out.size(); ++i) out[i].insert(in[i].begin(), in[i].end());
      return out;
    }
    case PlanKind::kWindow: {
      if (inputs.empty()) return Fit({}, node);
      const PlanNode& input = *node.inputs[0];
      out = inputs[0];
      for (const auto& w : node.window_functions) {
        std::set<ColumnRef> refs;
        AddRefs(w.call.get(), input, inputs[0], &refs);
        for (const auto& p : w.partition_by) AddRefs(p.get(), input, inputs[0], &refs);
        for (const auto& o : w.order_by) AddRefs(o.expr.get(), input, inputs[0], &refs);
        if (refs.empty()) refs = RowsOf(inputs[0]);  // row_number(): its position among the rows
        out.push_back(std::move(refs));
      }
      return Fit(out, node);
    }
    case PlanKind::kGenerate: {
      if (inputs.empty()) return Fit({}, node);
      out = inputs[0];
      std::set<ColumnRef> refs;
      AddRefs(node.generator.get(), *node.inputs[0], inputs[0], &refs);
      while (out.size() < fields.size()) out.push_back(refs);
      return Fit(out, node);
    }
  }
  return Fit(out, node);
}

// A flow's output columns by name, for a table fed by several flows or by AUTO CDC.
std::map<std::string, std::set<ColumnRef>> ByName(const sql::PlanPtr& plan) {
  std::map<std::string, std::set<ColumnRef>> out;
  if (plan == nullptr) return out;
  Cols cols = Walk(*plan);
  const auto& fields = plan->schema.fields();
  for (size_t i = 0; i < fields.size() && i < cols.size(); ++i) out[sql::ToLower(fields[i].name)] = cols[i];
  return out;
}

}  // namespace

std::vector<ColumnLineage> PipelineColumnLineage(const sql::ResolvedPipeline& pipeline) {
  std::vector<ColumnLineage> out;
  for (const auto& ds : pipeline.datasets) {
    std::vector<std::map<std::string, std::set<ColumnRef>>> flows;
    flows.push_back(ByName(ds.plan));
    for (const auto& f : ds.more_flows) flows.push_back(ByName(f.plan));
    for (const auto& field : ds.schema.fields()) {
      ColumnLineage c;
      c.column = {ds.name, field.name};
      for (const auto& flow : flows) {
        auto it = flow.find(sql::ToLower(field.name));
        if (it != flow.end()) c.sources.insert(it->second.begin(), it->second.end());
      }
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::vector<std::pair<ColumnRef, ColumnRef>> UpstreamEdges(const std::vector<ColumnLineage>& lineage,
                                                            const ColumnRef& start) {
  std::map<std::pair<std::string, std::string>, const ColumnLineage*> index;
  auto key = [](const ColumnRef& r) { return std::make_pair(sql::ToLower(r.table), sql::ToLower(r.column)); };
  for (const auto& c : lineage) index[key(c.column)] = &c;
  std::vector<std::pair<ColumnRef, ColumnRef>> edges;
  auto first = index.find(key(start));
  if (first == index.end()) return edges;
  std::set<std::pair<std::string, std::string>> seen{key(start)};
  std::deque<const ColumnLineage*> queue{first->second};
  while (!queue.empty()) {
    const ColumnLineage* c = queue.front();
    queue.pop_front();
    for (const auto& s : c->sources) {
      edges.push_back({s, c->column});
      auto k = key(s);
      if (!seen.insert(k).second) continue;
      auto next = index.find(k);
      // `t.*` (the rows of t) ends the path: which rows there are is not a column's value.
      if (next != index.end()) queue.push_back(next->second);
    }
  }
  return edges;
}

std::string LineageToDot(const std::string& pipeline, const std::vector<std::pair<ColumnRef, ColumnRef>>& edges) {
  auto quote = [](const std::string& s) {
    std::string out = "\"";
    for (char ch : s) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    return out + "\"";
  };
  std::map<std::string, std::set<std::string>> tables;
  for (const auto& [from, to] : edges) {
    tables[from.table].insert(from.column);
    tables[to.table].insert(to.column);
  }
  std::string dot = "digraph " + quote(pipeline + " column lineage") + " {\n  rankdir=LR;\n  node [shape=box];\n";
  int cluster = 0;
  for (const auto& [table, columns] : tables) {
    dot += "  subgraph cluster_" + std::to_string(cluster++) + " {\n    label=" + quote(table) + ";\n";
    for (const auto& c : columns) dot += "    " + quote(table + "." + c) + " [label=" + quote(c) + "];\n";
    dot += "  }\n";
  }
  for (const auto& [from, to] : edges) dot += "  " + quote(from.ToString()) + " -> " + quote(to.ToString()) + ";\n";
  dot += "}\n";
  return dot;
}

}  // namespace lakepipe::governance
