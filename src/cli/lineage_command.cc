// `lakepipe lineage DIR [TABLE.COLUMN] [--format text|dot]`: column lineage from the
// planner (governance/lineage.h, docs/governance.md).
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "governance/lineage.h"
#include "runtime/pipeline_runner.h"
#include "sql/lexer.h"
#include "sql/pipeline.h"

namespace lakepipe::cli {
namespace {

struct LineageArgs {
  std::string folder;
  std::string column;
  std::string format = "text";
  std::vector<std::string> sets;
};

Status RunLineage(const LineageArgs& a) {
  if (a.format != "text" && a.format != "dot") {
    return Status::InvalidArgument("--format must be text or dot, not `" + a.format + "`");
  }
  LP_ASSIGN_OR_RETURN(auto overrides, sql::ParseOverrides(a.sets));
  LP_ASSIGN_OR_RETURN(auto runner, runtime::PipelineRunner::Open(a.folder, overrides));
  std::vector<governance::ColumnLineage> lineage = governance::PipelineColumnLineage(runner->resolved());
  const std::string& name = runner->pipeline().settings.name;
  if (a.column.empty()) {
    std::vector<std::pair<governance::ColumnRef, governance::ColumnRef>> edges;
    for (const auto& c : lineage) {
      std::string sources;
      for (const auto& s : c.sources) {
        sources += (sources.empty() ? "" : ", ") + s.ToString();
        edges.push_back({s, c.column});
      }
      if (a.format == "text") std::printf("%s <- %s\n", c.column.ToString().c_str(), sources.empty() ? "(none)" : sources.c_str());
    }
    if (a.format == "dot") std::printf("%s", governance::LineageToDot(name, edges).c_str());
    return Status::OK();
  }
  size_t dot = a.column.find('.');
  if (dot == std::string::npos) return Status::InvalidArgument("give the column as TABLE.COLUMN, not `" + a.column + "`");
  governance::ColumnRef start{a.column.substr(0, dot), a.column.substr(dot + 1)};
  const governance::ColumnLineage* found = nullptr;
  std::string columns_of_table;
  for (const auto& c : lineage) {
    if (!sql::EqualsIgnoreCase(c.column.table, start.table)) continue;
    columns_of_table += (columns_of_table.empty() ? "" : ", ") + c.column.column;
    if (sql::EqualsIgnoreCase(c.column.column, start.column)) found = &c;
  }
  if (found == nullptr) {
    if (columns_of_table.empty()) return Status::NotFound("`" + start.table + "` is not a table of pipeline " + name);
    return Status::NotFound("`" + start.column + "` is not a column of " + start.table + "; columns: " + columns_of_table);
  }
  auto edges = governance::UpstreamEdges(lineage, found->column);
  if (a.format == "dot") {
    std::printf("%s", governance::LineageToDot(name, edges).c_str());
  } else {
    for (const auto& [from, to] : edges) std::printf("%s -> %s\n", from.ToString().c_str(), to.ToString().c_str());
    if (edges.empty()) std::printf("%s has no source column\n", found->column.ToString().c_str());
  }
  return Status::OK();
}

}  // namespace

void RegisterLineageCommand(CLI::App& app, CommandRegistry& registry) {
  auto args = std::make_shared<LineageArgs>();
  CLI::App* cmd = app.add_subcommand(
      "lineage", "Column lineage: what each column is computed from, or one column's path back to its sources");
  cmd->add_option("folder", args->folder, "Pipeline folder")->required();
  cmd->add_option("column", args->column, "TABLE.COLUMN: print its path back to the sources");
  cmd->add_option("--format", args->format, "text or dot (Graphviz)")->capture_default_str();
  cmd->add_option("--set", args->sets, "Override a configuration value or storage: key=value");
  cmd->callback([args, &registry]() { registry.Finish(RunLineage(*args)); });
}

}  // namespace lakepipe::cli
