// `lakepipe validate DIR` and `lakepipe graph DIR`: parse and resolve a pipeline folder
// (pipeline.yaml + Lakeflow SQL). No table data is read; a read_files scan without a
// schema reads its kept schema or samples its files, exactly as `run` does.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "governance/policy.h"
#include "sql/graph.h"
#include "sql/pipeline.h"
#include "sql/resolve.h"
#include "runtime/external_tables.h"
#include "runtime/file_source_schema.h"
#include "runtime/runtime_settings.h"

namespace lakepipe::cli {

namespace {

struct PipelineOptions {
  std::string dir;
  std::vector<std::string> sets;
  std::string format = "text";
  bool verbose = false;
};

// A problem in the user's pipeline (bad SQL, bad settings, unsupported construct, missing
// file) is a usage error: exit code 2. Failures of the machine (I/O) keep their code.
Status AsUsageError(const Status& s) {
  if (s.ok() || s.code() == StatusCode::kIOError || s.code() == StatusCode::kNoSpace ||
      s.code() == StatusCode::kInternal) {
    return s;
  }
  return Status::InvalidArgument(s.message());
}

Result<sql::Pipeline> Load(const PipelineOptions& o) {
  LP_ASSIGN_OR_RETURN(auto overrides, sql::ParseOverrides(o.sets));
  return sql::LoadPipeline(o.dir, overrides);
}

Status RunValidate(const PipelineOptions& o) {
  LP_ASSIGN_OR_RETURN(sql::Pipeline p, Load(o));
  // The runtime's own settings (lakepipe.*), refused here as `run` refuses them.
  LP_RETURN_IF_ERROR(runtime::CheckRuntimeSettings(p.settings));
  // read_files scans without a schema: the kept or inferred schema, as `run` plans them.
  // Other pipelines' tables: through the catalog, at their current versions (docs/catalog.md).
  LP_ASSIGN_OR_RETURN(sql::ResolvedPipeline r,
                      sql::ResolvePipeline(p, runtime::ReadFilesSchemaLookupFor(FileSystem::Default(), p.settings.storage),
                                           runtime::ExternalTableLookupFor(FileSystem::Default(), p)));
  if (o.verbose) {
    for (const auto& d : r.datasets) {
      std::printf("%s (%s): %s\n", d.name.c_str(), sql::DatasetKindName(d.kind), d.schema.ToDDL().c_str());
      std::printf("%s", d.plan->ToString(1).c_str());
    }
  }
  // The dashboard's charts were planned with the tables (docs/dashboard.md).
  const sql::ResolvedDashboard& d = r.dashboard;
  if (o.verbose) {
    for (const auto& c : d.charts) {
      std::string tables;
      for (const auto& t : c.tables) tables += (tables.empty() ? "" : ", ") + t;
      std::printf("chart %s (%s) reads %s: %s\n", c.spec.id.c_str(), sql::ChartTypeName(c.spec.type), tables.c_str(),
                  c.columns.ToDDL().c_str());
    }
  }
  // governance: (docs/governance.md), checked against the tables as the server checks it.
  std::vector<std::string> tables = {"_event_log", "_audit"};
  for (const auto& ds : r.datasets) {
    tables.push_back(ds.name);
    tables.push_back(ds.name + "_quarantine");
  }
  LP_ASSIGN_OR_RETURN(auto policy, governance::Policy::Load(p.settings.settings_file, p.settings.name, tables));
  if (policy.declared()) {
    std::printf("governance: %zu principals, %zu grants (%s)\n", policy.principals().size(),
                policy.EffectiveGrants().size(), policy.source().c_str());
  }
  std::printf("dashboard %s: %zu chart%s%s\n", d.title.c_str(), d.charts.size(), d.charts.size() == 1 ? "" : "s",
              d.declared ? "" : " (default: a table per Gold table)");
  for (const auto& t : r.external_tables) {
    std::printf("reads %s: pipeline %s's table at %s (version %lld)\n", t.name.c_str(), t.pipeline.c_str(),
                t.path.c_str(), static_cast<long long>(t.version));
  }
  std::printf("pipeline %s: %zu tables, OK\n", p.settings.name.c_str(), r.datasets.size());
  return Status::OK();
}

Status RunGraph(const PipelineOptions& o) {
  if (o.format != "text" && o.format != "dot") {
    return Status::InvalidArgument("--format must be text or dot, not " + o.format);
  }
  LP_ASSIGN_OR_RETURN(sql::Pipeline p, Load(o));
  LP_ASSIGN_OR_RETURN(sql::PipelineGraph g, sql::PipelineGraph::Build(p.datasets));
  std::string out = o.format == "dot" ? g.ToDot(p.settings.name) : g.ToText();
  std::fwrite(out.data(), 1, out.size(), stdout);
  return Status::OK();
}

}  // namespace

void RegisterPipelineCommands(CLI::App& app, CommandRegistry& registry) {
  auto validate_opts = std::make_shared<PipelineOptions>();
  CLI::App* validate = app.add_subcommand(
      "validate", "Parse a pipeline folder and resolve every table's schema (read_files without a schema: inferred from its files)");
  validate->add_option("DIR", validate_opts->dir, "pipeline folder (holds pipeline.yaml)")->required();
  validate->add_option("--set", validate_opts->sets, "override a configuration value or storage: key=value")
      ->take_all();
  validate->add_flag("--verbose,-v", validate_opts->verbose, "print each table's schema and plan");
  validate->callback([validate_opts, &registry] { registry.Finish(AsUsageError(RunValidate(*validate_opts))); });

  auto graph_opts = std::make_shared<PipelineOptions>();
  CLI::App* graph = app.add_subcommand("graph", "Print the pipeline's tables in dependency order (text or Graphviz dot)");
  graph->add_option("DIR", graph_opts->dir, "pipeline folder (holds pipeline.yaml)")->required();
  graph->add_option("--format", graph_opts->format, "text (default) or dot")->check(CLI::IsMember({"text", "dot"}));
  graph->add_option("--set", graph_opts->sets, "override a configuration value or storage: key=value")->take_all();
  graph->callback([graph_opts, &registry] { registry.Finish(AsUsageError(RunGraph(*graph_opts))); });
}

}  // namespace lakepipe::cli
