#include "sql/graph.h"

#include <functional>
#include <map>
#include <set>

#include "sql/lexer.h"
#include "sql/pipeline_catalog.h"
#include "sql/stream_source.h"

namespace lakepipe::sql {

namespace {

void CollectInputs(const PlanPtr& plan, std::vector<GraphInput>* out) {
  if (!plan) return;
  if (plan->kind == PlanKind::kTableScan) {
    GraphInput in;
    in.table = plan->table;
    in.streaming = plan->streaming;
    in.loc = plan->loc;
    out->push_back(in);
  } else if (plan->kind == PlanKind::kReadFiles) {
    GraphInput in;
    in.files_path = plan->read_files.path;
    in.files_format = plan->read_files.format;
    in.streaming = plan->streaming;
    in.loc = plan->loc;
    out->push_back(in);
  } else if (plan->kind == PlanKind::kReadStream) {
    GraphInput in;
    in.source_function = plan->stream_source.function;
    in.files_path = StreamSourceLabel(plan->stream_source);
    in.files_format = StreamSourceKind(plan->stream_source);
    in.streaming = plan->streaming;
    in.loc = plan->loc;
    out->push_back(in);
  }
  for (const auto& child : plan->inputs) CollectInputs(child, out);
}

std::string DotQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

int PipelineGraph::Find(const std::string& name) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (EqualsIgnoreCase(nodes_[i].name, name)) return static_cast<int>(i);
  }
  return -1;
}

Result<PipelineGraph> PipelineGraph::Build(const std::vector<DatasetDefinition>& datasets) {
  PipelineGraph g;
  std::map<std::string, size_t> by_name;
  for (size_t i = 0; i < datasets.size(); ++i) {
    const DatasetDefinition& d = datasets[i];
    std::string key = ToLower(d.name);
    auto it = by_name.find(key);
    if (it != by_name.end()) {
      return ErrorAt(d.loc, "`" + d.name + "` is defined twice: first at " + datasets[it->second].loc.ToString());
    }
    by_name[key] = i;
    GraphNode n;
    n.name = d.name;
    n.kind = d.kind;
    n.dataset_index = i;
    std::vector<GraphInput> inputs;
    CollectInputs(d.query, &inputs);
    for (const auto& f : d.more_flows) CollectInputs(f.query, &inputs);
    std::set<std::string> seen;
    for (auto& in : inputs) {
      std::string k = in.table.empty() ? "files:" + in.files_path + ":" + in.files_format : "table:" + ToLower(in.table);
      k += in.streaming ? ":s" : ":b";
      if (seen.insert(k).second) n.inputs.push_back(in);
    }
    g.nodes_.push_back(std::move(n));
  }
  std::vector<std::string> all_names;
  for (const auto& d : datasets) all_names.push_back(d.name);
  for (size_t i = 0; i < g.nodes_.size(); ++i) {
    GraphNode& n = g.nodes_[i];
    for (const GraphInput& in : n.inputs) {
      // Another pipeline's table (`pipeline.table`, docs/catalog.md) is an input of this
      // graph, not a node of it: resolution finds it through the catalog.
      if (in.table.empty() || IsQualifiedTableName(in.table)) continue;
      auto it = by_name.find(ToLower(in.table));
      if (it == by_name.end()) {
        std::string known;
        for (const auto& name : all_names) known += (known.empty() ? "" : ", ") + name;
        return ErrorAt(in.loc, "`" + n.name + "` reads unknown table `" + in.table + "`; the pipeline defines: " + known);
      }
      if (std::find(n.upstream.begin(), n.upstream.end(), it->second) == n.upstream.end()) {
        n.upstream.push_back(it->second);
        g.nodes_[it->second].downstream.push_back(i);
      }
    }
  }
  // Topological order by depth-first search in definition order; a back edge is a cycle.
  std::vector<int> state(g.nodes_.size(), 0);  // 0 new, 1 on stack, 2 done
  std::vector<size_t> stack;
  Status cycle;
  std::function<bool(size_t)> visit = [&](size_t v) -> bool {
    if (state[v] == 2) return true;
    if (state[v] == 1) {
      std::string path;
      auto from = std::find(stack.begin(), stack.end(), v);
      for (auto it = from; it != stack.end(); ++it) {
        const DatasetDefinition& d = datasets[g.nodes_[*it].dataset_index];
        path += d.name + " (" + d.loc.ToString() + ") reads ";
      }
      path += g.nodes_[v].name;
      cycle = ErrorAt(datasets[g.nodes_[v].dataset_index].loc, "cycle: " + path);
      return false;
    }
    state[v] = 1;
    stack.push_back(v);
    for (size_t u : g.nodes_[v].upstream) {
      if (!visit(u)) return false;
    }
    stack.pop_back();
    state[v] = 2;
    g.order_.push_back(v);
    return true;
  };
  for (size_t i = 0; i < g.nodes_.size(); ++i) {
    if (!visit(i)) return cycle;
  }
  return g;
}

std::string PipelineGraph::ToText() const {
  std::string out;
  for (size_t idx : order_) {
    const GraphNode& n = nodes_[idx];
    out += n.name + " (" + DatasetKindName(n.kind) + ")";
    if (!n.inputs.empty()) {
      out += " <- ";
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        const GraphInput& in = n.inputs[i];
        if (i) out += ", ";
        if (in.streaming) out += "STREAM ";
        if (!in.source_function.empty()) out += in.source_function + "('" + in.files_path + "')";
        else out += in.table.empty() ? "read_files('" + in.files_path + "', " + in.files_format + ")" : in.table;
      }
    }
    out += "\n";
  }
  return out;
}

std::string PipelineGraph::ToDot(const std::string& pipeline_name) const {
  std::string out = "digraph " + DotQuote(pipeline_name) + " {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n";
  std::map<std::string, std::string> sources;  // path+format (or lower-case pipeline.table) -> node id
  for (size_t idx : order_) {
    const GraphNode& n = nodes_[idx];
    for (const GraphInput& in : n.inputs) {
      if (IsQualifiedTableName(in.table)) {
        // Another pipeline's table: a box with a double border, named as the query names it.
        std::string key = ToLower(in.table);
        if (sources.count(key)) continue;
        std::string id = "external" + std::to_string(sources.size());
        sources[key] = id;
        out += "  " + id + " [shape=box, peripheries=2, label=" + DotQuote(key) + ", class=\"external_table\"];\n";
        continue;
      }
      if (!in.table.empty()) continue;
      std::string key = in.files_path + "\n" + in.files_format;
      if (sources.count(key)) continue;
      std::string id = "files" + std::to_string(sources.size());
      sources[key] = id;
      std::string fn = in.source_function.empty() ? "read_files" : in.source_function;
      out += "  " + id + " [shape=" + (in.source_function.empty() ? "folder" : "cds") + ", label=" +
             DotQuote(fn + "\n" + in.files_path + "\n" + in.files_format) + ", class=\"" + fn + "\"];\n";
    }
  }
  for (size_t idx : order_) {
    const GraphNode& n = nodes_[idx];
    std::string shape, style, kind;
    switch (n.kind) {
      case DatasetKind::kStreamingTable: shape = "box"; style = "filled"; kind = "streaming_table"; break;
      case DatasetKind::kMaterializedView: shape = "ellipse"; style = "filled"; kind = "materialized_view"; break;
      case DatasetKind::kView: shape = "box"; style = "dashed"; kind = "view"; break;
    }
    out += "  " + DotQuote(n.name) + " [shape=" + shape + ", style=" + style + ", class=\"" + kind + "\"];\n";
  }
  for (size_t idx : order_) {
    const GraphNode& n = nodes_[idx];
    for (const GraphInput& in : n.inputs) {
      std::string from = in.table.empty()                  ? sources[in.files_path + "\n" + in.files_format]
                         : IsQualifiedTableName(in.table) ? sources[ToLower(in.table)]
                                                          : DotQuote(nodes_[static_cast<size_t>(Find(in.table))].name);
      out += "  " + from + " -> " + DotQuote(n.name) + " [style=" + (in.streaming ? "solid" : "dashed") +
             (in.streaming ? ", label=\"STREAM\"" : "") + "];\n";
    }
  }
  out += "}\n";
  return out;
}

}  // namespace lakepipe::sql
