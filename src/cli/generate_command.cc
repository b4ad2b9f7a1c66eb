// `lakepipe generate <domain> --rows N --out FILE [--seed S]`: writes a synthetic CSV
// dataset (src/generator/). The domain is resolved before the other options are checked,
// so `lakepipe generate videos` says that domain is not built yet.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "generator/domain.h"

namespace lakepipe::cli {
namespace {

struct GenerateOptions {
  std::string domain;
  int64_t rows = 0;
  bool rows_given = false;
  std::string out;
  uint64_t seed = 1;
};

Status RunGenerate(const GenerateOptions& o) {
  LP_ASSIGN_OR_RETURN(auto domain, generator::MakeDomain(o.domain));
  if (!o.rows_given) return Status::InvalidArgument("generate " + o.domain + ": --rows N is required");
  if (o.rows < 0) {
    return Status::InvalidArgument("generate " + o.domain + ": --rows must be >= 0, got " +
                                   std::to_string(o.rows));
  }
  if (o.out.empty()) return Status::InvalidArgument("generate " + o.domain + ": --out FILE is required");
  auto start = std::chrono::steady_clock::now();
  generator::GenerateStats stats;
  LP_RETURN_IF_ERROR(generator::GenerateToFile(FileSystem::Default(), *domain, o.seed, o.rows,
                                               o.out, &stats));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %lld %s lines (%.1f MB) to %s in %.2f s (seed %llu)\n",
              static_cast<long long>(stats.rows), o.domain.c_str(),
              static_cast<double>(stats.bytes) / 1e6, o.out.c_str(), seconds,
              static_cast<unsigned long long>(o.seed));
  return Status::OK();
}

}  // namespace

void RegisterGenerateCommands(CLI::App& app, CommandRegistry& registry) {
  auto opts = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "generate", "Write a synthetic dataset as CSV (the same seed gives the same file)");
  cmd->add_option("domain", opts->domain, "Dataset to generate (see the list below)")->required();
  CLI::Option* rows = cmd->add_option("--rows", opts->rows, "Number of data lines (the header is extra)");
  cmd->add_option("--out", opts->out, "CSV file to write (created or replaced)");
  cmd->add_option("--seed", opts->seed, "Random seed")->capture_default_str();
  std::string footer = "Domains:";
  for (const auto& d : generator::KnownDomains()) {
    footer += "\n  " + d.name + (d.built ? ": " : " (not built yet): ") + d.description;
  }
  cmd->footer(footer);
  cmd->callback([opts, rows, &registry] {
    opts->rows_given = rows->count() > 0;
    registry.Finish(RunGenerate(*opts));
  });
}

}  // namespace lakepipe::cli
