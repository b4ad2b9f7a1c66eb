// `lakepipe audit PIPELINE [--since T] [--json]` and the recording of command-line actions
// in the audit log (cli/audit.h, docs/governance.md).
#include <cstdio>
#include <ctime>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/audit.h"
#include "cli/commands.h"
#include "common/clock.h"
#include "common/interval_text.h"
#include "governance/audit_log.h"
#include "sql/pipeline.h"

namespace lakepipe::cli {
namespace {

std::string Outcome(const Status& st) { return st.ok() ? "allowed" : "failed"; }
int ExitCode(const Status& st) { return st.ok() ? 0 : (st.code() == StatusCode::kInvalidArgument ? 2 : 1); }

void Record(const std::string& storage, const std::string& pipeline, const AuditedAction& what,
            const std::string& outcome, int status, const std::string& detail) {
  governance::AuditLog log(FileSystem::Default(), storage, pipeline);
  governance::AuditRecord r;
  r.principal = governance::LocalUser();
  r.role = "os";
  r.action = what.action;
  r.target = what.target;
  r.source = governance::LocalSource();
  r.outcome = outcome;
  r.status = status;
  r.detail = detail;
  Status st = log.Record(std::move(r));
  if (!st.ok()) std::fprintf(stderr, "lakepipe: warning: the audit log could not be written: %s\n", st.message().c_str());
}

std::string WithError(const std::string& detail, const Status& st) {
  if (st.ok()) return detail;
  return detail.empty() ? st.message() : detail + "; " + st.message();
}

}  // namespace

Status AuditPipelineCommand(const std::string& folder, const std::vector<std::string>& sets,
                            const AuditedAction& what, const std::function<Status()>& body) {
  auto overrides = sql::ParseOverrides(sets);
  std::optional<sql::PipelineSettings> settings;
  if (overrides.ok()) {
    auto loaded = sql::LoadPipelineSettings(folder, *overrides);
    // Settings that do not load: the command itself reports why, and did nothing.
    if (loaded.ok()) settings = std::move(loaded).value();
  }
  if (settings && what.record_start) Record(settings->storage, settings->name, what, "started", 0, what.detail);
  Status st = body();
  if (settings) Record(settings->storage, settings->name, what, Outcome(st), ExitCode(st), WithError(what.detail, st));
  return st;
}

Status AuditTableCommand(const std::string& table_folder, const AuditedAction& what,
                         const std::function<Status()>& body) {
  std::string folder = table_folder;
  while (folder.size() > 1 && folder.back() == '/') folder.pop_back();
  size_t slash = folder.find_last_of('/');
  std::string storage = slash == std::string::npos ? "." : (slash == 0 ? "/" : folder.substr(0, slash));
  std::string table = slash == std::string::npos ? folder : folder.substr(slash + 1);
  FileSystem* fs = FileSystem::Default();
  bool pipeline_table = fs->Exists(JoinPath(storage, "_event_log")) || fs->Exists(JoinPath(storage, "_checkpoints"));
  Status st = body();
  if (pipeline_table) {
    AuditedAction w = what;
    if (w.target.empty()) w.target = table;
    // The table command knows the folder, not the pipeline: `pipeline` stays null.
    Record(storage, "", w, Outcome(st), ExitCode(st), WithError(what.detail, st));
  }
  return st;
}

void RecordJobAction(const std::string& jobs_storage, const AuditedAction& what, const std::string& outcome,
                     int status) {
  Record(jobs_storage, "", what, outcome, status, what.detail);
}

namespace {

struct AuditArgs {
  std::string folder;
  std::string since;
  bool json = false;
  std::vector<std::string> sets;
};

std::string FormatTime(int64_t micros) {
  time_t secs = static_cast<time_t>(micros / 1000000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];  // room for any int year, so the format cannot truncate
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>((micros / 1000) % 1000));
  return buf;
}

// `--since`: a duration back from now ("1 hour", "30 minutes", "interval 2 days") or a
// UTC timestamp ("2026-12-05", "2026-12-05T16:00:00", "2026-12-05 16:00:00").
Result<int64_t> SinceMicros(const std::string& text) {
  if (text.empty()) return 0;
  auto duration = ParseIntervalMicros(text);
  if (duration.ok()) return Clock::System()->NowMicros() - *duration;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char sep = 0;
  int n = std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d", &y, &mo, &d, &sep, &h, &mi, &s);
  if ((n == 3 && text.size() == 10) || (n == 7 && (sep == 'T' || sep == ' '))) {
    struct tm tm {};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return static_cast<int64_t>(timegm(&tm)) * 1000000;
  }
  return Status::InvalidArgument("--since `" + text +
                                 "`: give a duration back from now (`1 hour`, `30 minutes`) or a UTC time "
                                 "(`2026-12-05`, `2026-12-05T16:00:00`)");
}

Status RunAudit(const AuditArgs& a) {
  LP_ASSIGN_OR_RETURN(int64_t since, SinceMicros(a.since));
  LP_ASSIGN_OR_RETURN(auto overrides, sql::ParseOverrides(a.sets));
  LP_ASSIGN_OR_RETURN(auto settings, sql::LoadPipelineSettings(a.folder, overrides));
  LP_ASSIGN_OR_RETURN(auto records, governance::AuditLog::Read(settings.storage, since));
  for (const auto& r : records) {
    if (a.json) {
      nlohmann::json j = {{"timestamp", FormatTime(r.timestamp_micros)},
                          {"timestamp_unix_ms", r.timestamp_micros / 1000},
                          {"principal", r.principal},
                          {"role", r.role},
                          {"action", r.action},
                          {"target", r.target},
                          {"source", r.source},
                          {"outcome", r.outcome},
                          {"status", r.status},
                          {"detail", r.detail}};
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::printf("%s  %-16s %-8s %-12s %-28s %-8s %3lld  %s%s%s\n", FormatTime(r.timestamp_micros).c_str(),
                  r.principal.c_str(), r.role.c_str(), r.action.c_str(), r.target.c_str(), r.outcome.c_str(),
                  static_cast<long long>(r.status), r.source.c_str(), r.detail.empty() ? "" : "  ", r.detail.c_str());
    }
  }
  if (!a.json && records.empty()) std::printf("no audit records%s\n", a.since.empty() ? "" : " in that time");
  return Status::OK();
}

}  // namespace

void RegisterAuditCommand(CLI::App& app, CommandRegistry& registry) {
  auto args = std::make_shared<AuditArgs>();
  CLI::App* cmd = app.add_subcommand(
      "audit", "Show the pipeline's audit log: who read or changed what, when, from where (docs/governance.md)");
  cmd->add_option("folder", args->folder, "Pipeline folder")->required();
  cmd->add_option("--since", args->since, "Only records since a UTC time or a duration back from now (`1 hour`)");
  cmd->add_flag("--json", args->json, "One JSON object per line");
  cmd->add_option("--set", args->sets, "Override a configuration value or storage: key=value");
  cmd->callback([args, &registry]() { registry.Finish(RunAudit(*args)); });
}

}  // namespace lakepipe::cli
