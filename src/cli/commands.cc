#include "cli/commands.h"

#include <cstdio>

namespace lakepipe::cli {

void CommandRegistry::Finish(const Status& status) {
  if (status.ok()) return;
  std::fprintf(stderr, "lakepipe: error: %s\n", status.message().c_str());
  exit_code_ = status.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

void RegisterAllCommands(CLI::App& app, CommandRegistry& registry) {
  // Each command file (src/cli/*_command.cc) adds its Register function here.
  RegisterBundleCommands(app, registry);
  RegisterCrashCommands(app, registry);
  RegisterGenerateCommands(app, registry);
  RegisterGovernanceCommands(app, registry);
  RegisterJobCommands(app, registry);
  RegisterKafkaCommands(app, registry);
  RegisterPipelineCommands(app, registry);
  RegisterProduceCommands(app, registry);
  RegisterPublishCommands(app, registry);
  RegisterRunCommands(app, registry);
  RegisterServeCommands(app, registry);
  RegisterStatusCommands(app, registry);
  RegisterTableCommands(app, registry);
}

}  // namespace lakepipe::cli
