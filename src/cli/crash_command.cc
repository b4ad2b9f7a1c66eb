// `lakepipe crash power-loss JOURNAL`: the second half of the power-cut simulation of the
// crash tests (common/crash_journal.h, docs/crash-testing.md). Hidden from --help: a test
// tool, present only in builds with kill points.
#include <cstdlib>

#include "cli/commands.h"
#include "common/crash_journal.h"
#include "common/kill_point.h"

namespace lakepipe::cli {

void RegisterCrashCommands(CLI::App& app, CommandRegistry& registry) {
  CLI::App* crash = app.add_subcommand("crash", "crash-test tools (kill-point builds only)");
  crash->group("");  // hidden
  crash->require_subcommand(1);
  auto journal = std::make_shared<std::string>();
  CLI::App* power_loss = crash->add_subcommand(
      "power-loss", "after a process run with LAKEPIPE_CRASH_JOURNAL was killed: drop what it had not fsynced");
  power_loss->add_option("journal", *journal, "the journal file")->required();
  power_loss->callback([journal, &registry] {
    if (!KillPointsCompiledIn()) {
      registry.Finish(Status::NotSupported(
          "crash power-loss: this lakepipe was built without kill points (configure with -DLAKEPIPE_KILL_POINTS=ON)"));
      return;
    }
    if (const char* set = std::getenv("LAKEPIPE_CRASH_JOURNAL"); set != nullptr && *set != '\0') {
      registry.Finish(Status::InvalidArgument(
          "crash power-loss: unset LAKEPIPE_CRASH_JOURNAL first (the rewind itself must not be journaled)"));
      return;
    }
    registry.Finish(SimulatePowerLoss(*journal));
  });
}

}  // namespace lakepipe::cli
