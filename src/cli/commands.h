// Command registration for the `lakepipe` binary. Each command group (table, run, ...)
// has a Register*Commands function in its own file; RegisterAllCommands calls them all.
// A command's callback stores its exit code in the registry; errors are printed as one
// line "lakepipe: error: <message>" on stderr with a non-zero exit.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "common/status.h"

namespace lakepipe::cli {

class CommandRegistry {
 public:
  int exit_code() const { return exit_code_; }
  // Records the outcome of a command: prints the error, if any, and sets the exit code.
  void Finish(const Status& status);
  // A command that succeeded but reports a condition through its exit status (status: an
  // SLA breached).
  void SetExitCode(int code) { exit_code_ = code; }

 private:
  int exit_code_ = 0;
};

void RegisterAllCommands(CLI::App& app, CommandRegistry& registry);

void RegisterBundleCommands(CLI::App& app, CommandRegistry& registry);
void RegisterCrashCommands(CLI::App& app, CommandRegistry& registry);
void RegisterGenerateCommands(CLI::App& app, CommandRegistry& registry);
void RegisterGovernanceCommands(CLI::App& app, CommandRegistry& registry);
void RegisterJobCommands(CLI::App& app, CommandRegistry& registry);
void RegisterKafkaCommands(CLI::App& app, CommandRegistry& registry);
void RegisterPipelineCommands(CLI::App& app, CommandRegistry& registry);
void RegisterProduceCommands(CLI::App& app, CommandRegistry& registry);
void RegisterPublishCommands(CLI::App& app, CommandRegistry& registry);
void RegisterRunCommands(CLI::App& app, CommandRegistry& registry);
void RegisterServeCommands(CLI::App& app, CommandRegistry& registry);
void RegisterStatusCommands(CLI::App& app, CommandRegistry& registry);
void RegisterTableCommands(CLI::App& app, CommandRegistry& registry);

}  // namespace lakepipe::cli

namespace lakepipe::runtime {
class PipelineRunner;
}

namespace lakepipe::cli {
// Publishes the pipeline's publish.postgres tables (all, or `only_table`) once, printing a
// line per table and logging publish_* events; an error when any table failed
// (publish_command.cc; used by `lakepipe publish` and `run --once`).
Status PublishTables(runtime::PipelineRunner& runner, const std::string& only_table, bool rebuild);
}  // namespace lakepipe::cli
