// `lakepipe status DIR [--set k=v]... [--format text|json]`: each table's freshness and
// SLA (docs/sla.md), read from the storage folder whether or not the pipeline runs. The
// exit status is 3 while any table breaches its SLA, so cron or a monitor can alert.
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/clock.h"
#include "runtime/pipeline_runner.h"
#include "server/sla.h"
#include "sql/pipeline.h"

namespace lakepipe::cli {
namespace {

struct StatusArgs {
  std::string folder;
  std::vector<std::string> sets;
  std::string format = "text";
};

std::string Duration(double seconds) {
  char buf[64];
  if (seconds < 120) std::snprintf(buf, sizeof buf, "%.0f s", seconds);
  else if (seconds < 7200) std::snprintf(buf, sizeof buf, "%.1f min", seconds / 60);
  else std::snprintf(buf, sizeof buf, "%.1f h", seconds / 3600);
  return buf;
}

std::string LocalTime(int64_t unix_ms) {
  if (unix_ms < 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// Returns whether an SLA is breached through `breached`.
Status ShowStatus(const StatusArgs& a, bool* breached) {
  if (a.format != "text" && a.format != "json") return Status::InvalidArgument("--format must be text or json, not " + a.format);
  LP_ASSIGN_OR_RETURN(auto overrides, sql::ParseOverrides(a.sets));
  LP_ASSIGN_OR_RETURN(auto runner, runtime::PipelineRunner::Open(a.folder, overrides));
  LP_ASSIGN_OR_RETURN(server::FreshnessReport report,
                      server::EvaluateFreshness(*runner, FileSystem::Default(), Clock::System()->NowMillis()));
  *breached = report.any_breached();
  const auto& settings = runner->pipeline().settings;
  if (a.format == "json") {
    nlohmann::json tables = nlohmann::json::array();
    for (const auto& t : report.tables) {
      nlohmann::json j = {{"table", t.table}, {"version", t.version}, {"last_commit_unix_ms", t.last_commit_unix_ms},
                          {"lag_seconds", t.lag_seconds}, {"pending_since_unix_ms", t.pending_since_unix_ms},
                          {"pending", t.pending_reason}, {"breached", t.breached}, {"sla", nullptr}};
      if (t.has_sla) j["sla"] = {{"scope", t.sla_scope}, {"max_lag_seconds", t.max_lag_seconds}};
      tables.push_back(std::move(j));
    }
    nlohmann::json out = {{"pipeline", settings.name}, {"breached", *breached}, {"tables", std::move(tables)}};
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return Status::OK();
  }
  std::vector<std::vector<std::string>> rows;
  int with_sla = 0, breaches = 0;
  for (const auto& t : report.tables) {
    with_sla += t.has_sla;
    breaches += t.breached;
    std::string sla = t.has_sla ? "<= " + Duration(t.max_lag_seconds) + " (" + t.sla_scope + ")" : "-";
    std::string state = !t.has_sla ? "" : t.breached ? "BREACHED" : "ok";
    rows.push_back({t.table, t.version >= 0 ? std::to_string(t.version) : "-", LocalTime(t.last_commit_unix_ms),
                    Duration(t.lag_seconds), sla, state, Cell(t.pending_reason, 60)});
  }
  std::printf("pipeline %s (storage %s)\n", settings.name.c_str(), settings.storage.c_str());
  PrintTextTable({"table", "version", "last commit", "behind", "sla", "state", "pending"}, rows,
                 {false, true, false, true, false, false, false});
  if (with_sla == 0) {
    std::printf("no sla: in pipeline.yaml (docs/sla.md); nothing to breach\n");
  } else if (breaches > 0) {
    std::printf("%d of %d table(s) with an SLA breach it\n", breaches, with_sla);
  } else {
    std::printf("every table with an SLA (%d) is within it\n", with_sla);
  }
  return Status::OK();
}

}  // namespace

void RegisterStatusCommands(CLI::App& app, CommandRegistry& registry) {
  auto args = std::make_shared<StatusArgs>();
  CLI::App* status = app.add_subcommand(
      "status", "Show how far each table is behind its inputs and whether it meets its sla: (exit 3 on a breach)");
  status->add_option("folder", args->folder, "Pipeline folder (pipeline.yaml + *.sql)")->required();
  status->add_option("--set", args->sets, "Override a configuration value or storage: key=value");
  status->add_option("--format", args->format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
  status->callback([args, &registry] {
    bool breached = false;
    Status s = ShowStatus(*args, &breached);
    registry.Finish(s);
    if (s.ok() && breached) registry.SetExitCode(3);
  });
}

}  // namespace lakepipe::cli
