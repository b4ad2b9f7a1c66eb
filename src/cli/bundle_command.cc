// `lakepipe bundle DIR --out OUT`: writes the pipeline folder DIR as a Databricks Asset
// Bundle (src/bundle/bundle.h, docs/bundle.md) and prints what became of each lakepipe
// extension it uses.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bundle/bundle.h"
#include "cli/commands.h"
#include "sql/pipeline.h"

namespace lakepipe::cli {

namespace {

struct BundleCommandOptions {
  std::string dir;
  std::string out;
  std::vector<std::string> sets;
  std::string catalog = "main";
  std::string schema;
  bool continuous = false;
  bool triggered = false;
};

Status RunBundle(const BundleCommandOptions& o) {
  if (o.continuous && o.triggered) return Status::InvalidArgument("--continuous and --triggered exclude each other");
  LP_ASSIGN_OR_RETURN(auto overrides, sql::ParseOverrides(o.sets));
  auto loaded = sql::LoadPipeline(o.dir, overrides);
  if (!loaded.ok()) {
    // The pipeline's own mistakes are usage errors, as in `validate`.
    const Status& s = loaded.status();
    if (s.code() == StatusCode::kIOError || s.code() == StatusCode::kNoSpace) return s;
    return Status::InvalidArgument(s.message());
  }
  bundle::BundleOptions options;
  options.catalog = o.catalog;
  options.schema = o.schema;
  if (o.continuous) options.mode = bundle::BundleOptions::Mode::kContinuous;
  if (o.triggered) options.mode = bundle::BundleOptions::Mode::kTriggered;
  LP_ASSIGN_OR_RETURN(bundle::Bundle b, bundle::BuildBundle(*loaded, options));
  LP_RETURN_IF_ERROR(bundle::WriteBundle(b, o.out));
  size_t translated = 0, not_carried = 0;
  for (const auto& item : b.items) (item.translated ? translated : not_carried)++;
  std::printf("bundle %s: %zu files in %s (%s pipeline)\n", b.name.c_str(), b.files.size(), o.out.c_str(),
              b.continuous ? "continuous" : "triggered");
  for (const auto& item : b.items) {
    if (!item.translated) std::printf("  not carried over: %s (%s)\n", item.feature.c_str(), item.where.c_str());
  }
  std::printf("%zu translated, %zu not carried over: see %s/README.md\n", translated, not_carried, o.out.c_str());
  return Status::OK();
}

}  // namespace

void RegisterBundleCommands(CLI::App& app, CommandRegistry& registry) {
  auto opts = std::make_shared<BundleCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bundle", "Write the pipeline as a Databricks Asset Bundle (databricks.yml, the SQL files, what is not carried over)");
  cmd->add_option("DIR", opts->dir, "pipeline folder (holds pipeline.yaml)")->required();
  cmd->add_option("--out", opts->out, "the bundle's folder (new, empty, or an earlier export)")->required();
  cmd->add_option("--set", opts->sets, "override a configuration value or storage: key=value")->take_all();
  cmd->add_option("--catalog", opts->catalog, "default of the bundle's catalog variable (main)");
  cmd->add_option("--schema", opts->schema, "default of the bundle's schema variable (default: the pipeline's name)");
  cmd->add_flag("--continuous", opts->continuous, "make the Databricks pipeline continuous (default: as pipeline.yaml and jobs.yaml say)");
  cmd->add_flag("--triggered", opts->triggered, "make it triggered, with the jobs.yaml jobs that update it");
  cmd->callback([opts, &registry] { registry.Finish(RunBundle(*opts)); });
}

}  // namespace lakepipe::cli
