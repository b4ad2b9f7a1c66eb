// The lakepipe command line: one binary, subcommands registered by each command file.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "cli/data_commands.h"
#include "common/kill_point.h"
#include "common/memory.h"

int main(int argc, char** argv) {
  // First: a command that moves data may execute the program again, with malloc on huge
  // pages (common/memory.h).
  if (lakepipe::cli::MovesDataAtVolume(argc, argv)) lakepipe::ReexecWithMallocHugePages(argv);
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
  } catch (const std::exception& e) {
    // Errors travel as Status; an exception reaching here is a bug, but input must never
    // turn it into an abort (exit 134) that repeats on every rerun.
    std::fprintf(stderr, "lakepipe: error: internal error: %s\n", e.what());
    return 70;  // EX_SOFTWARE
  } catch (...) {
    std::fprintf(stderr, "lakepipe: error: internal error: unknown exception\n");
    return 70;
  }
  return registry.exit_code();
}
