// The lakepipe command line: one binary, subcommands registered by each command file.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "common/kill_point.h"

int main(int argc, char** argv) {
  lakepipe::CheckKillPointEnvironment();
  CLI::App app{"lakepipe: declarative streaming lakehouse pipelines into Delta Lake tables"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("lakepipe 0.1.0"));
  lakepipe::cli::CommandRegistry registry;
  lakepipe::cli::RegisterAllCommands(app, registry);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return registry.exit_code();
}
