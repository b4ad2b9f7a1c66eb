// `lakepipe job run|history|check|serve`: jobs without Airflow (docs/jobs.md). A jobs.yaml
// holds jobs, each a DAG of tasks; `run` runs one job once (resuming its last run when that
// did not succeed), `history` lists runs from the `_job_runs` Delta table, `check` loads
// and checks the file, `serve` runs the schedules and serves the job runs over HTTP.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/audit.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "governance/policy.h"
#include "jobs/job_runner.h"
#include "jobs/job_server.h"
#include "jobs/job_spec.h"
#include "jobs/run_history.h"
#include "types/datetime.h"

namespace lakepipe::cli {
namespace {

std::atomic<bool> g_stop_jobs{false};
extern "C" void StopJobsOnSignal(int) { g_stop_jobs.store(true); }

// Ctrl-C and SIGTERM set g_stop_jobs for the lifetime of the guard.
class StopSignals {
 public:
  StopSignals() {
    g_stop_jobs.store(false);
    struct sigaction sa {};
    sa.sa_handler = StopJobsOnSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

std::string SelfBinary() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("lakepipe");
}

Result<std::map<std::string, std::string>> ParseParams(const std::vector<std::string>& items) {
  std::map<std::string, std::string> out;
  for (const auto& p : items) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("--param '" + p + "' must be name=value");
    }
    out[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return out;
}

struct RunArgs {
  std::string file, job, storage;
  std::vector<std::string> tasks, params;
  std::string resume;
  bool new_run = false;
};

Status RunJob(const RunArgs& a, CommandRegistry& registry) {
  LP_ASSIGN_OR_RETURN(jobs::JobsFile file, jobs::JobsFile::Load(a.file));
  if (!a.storage.empty()) file.storage = a.storage;
  if (!a.resume.empty() && a.new_run) return Status::InvalidArgument("give --resume or --new, not both");
  jobs::RunOptions o;
  o.job = a.job;
  o.only_tasks = a.tasks;
  LP_ASSIGN_OR_RETURN(o.params, ParseParams(a.params));
  if (!a.resume.empty()) o.resume_run_id = a.resume;
  o.new_run = a.new_run;
  o.lakepipe_binary = SelfBinary();
  o.print = [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  StopSignals signals;
  o.stop = &g_stop_jobs;
  // Recorded in the jobs storage's audit table as the job server records the runs it
  // starts (docs/governance.md, "The job server"): a start, then the outcome.
  AuditedAction audited;
  audited.action = "job_run";
  audited.target = a.job;
  audited.detail = a.resume.empty() ? "command line" : "command line, resuming " + a.resume;
  const std::string storage = file.StoragePath();
  RecordJobAction(storage, audited, "started", 0);
  jobs::JobRunner runner(file);
  auto ran = runner.Run(o);
  if (!ran.ok()) {
    audited.detail += ": the run could not start: " + ran.status().message();
    RecordJobAction(storage, audited, "failed", 1);
    return ran.status();
  }
  const jobs::RunResult& r = *ran;
  audited.detail += ": run " + r.run_id + " " + r.state + (r.error.empty() ? "" : ": " + r.error);
  RecordJobAction(storage, audited, r.state == jobs::kStateSucceeded ? "allowed" : "failed",
                  r.state == jobs::kStateSucceeded ? 0 : 1);
  if (r.state == jobs::kStateSucceeded) return Status::OK();
  if (r.state == jobs::kStateSkipped) return Status::Aborted("run refused: " + r.error);
  registry.SetExitCode(1);
  std::fprintf(stderr, "lakepipe: error: run %s of job %s %s: %s (rerun `lakepipe job run %s %s` to resume it)\n",
               r.run_id.c_str(), a.job.c_str(), r.state.c_str(), r.error.c_str(), a.file.c_str(), a.job.c_str());
  return Status::OK();
}

struct HistoryArgs {
  std::string file, storage;
  std::string job, run;
  int limit = 20;
  bool json = false;
};

std::string Time(int64_t micros) { return micros > 0 ? FormatTimestamp(micros) : ""; }
std::string Duration(int64_t micros) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(micros) / 1e6);
  return buf;
}

Status History(const HistoryArgs& a) {
  LP_ASSIGN_OR_RETURN(jobs::JobsFile file, jobs::JobsFile::Load(a.file));
  if (!a.storage.empty()) file.storage = a.storage;
  if (!a.job.empty() && file.FindJob(a.job) == nullptr) {
    return Status::NotFound("no job `" + a.job + "` in " + a.file);
  }
  jobs::RunHistory history(file.StoragePath());
  LP_ASSIGN_OR_RETURN(std::vector<jobs::RunRecord> rows, history.ReadAll());
  // Runs, newest first; a run's own row may be missing (still running, or killed).
  struct Run {
    std::string job, run_id, trigger, state = "running or interrupted", error, parameters;
    int64_t start = INT64_MAX, end = 0;
    std::vector<const jobs::RunRecord*> tasks;
  };
  std::map<std::string, Run> runs;
  for (const auto& r : rows) {
    if (!a.job.empty() && r.job != a.job) continue;
    if (!a.run.empty() && r.run_id != a.run) continue;
    Run& run = runs[r.run_id];
    run.job = r.job;
    run.run_id = r.run_id;
    if (run.parameters.empty()) run.parameters = r.parameters;
    run.start = std::min(run.start, r.start_micros);
    if (r.task.empty()) {
      run.state = r.state;
      run.error = r.error;
      run.trigger = r.trigger;
      run.end = r.end_micros;
    } else {
      if (run.trigger.empty()) run.trigger = r.trigger;
      run.tasks.push_back(&r);
    }
  }
  if (!a.run.empty() && runs.empty()) return Status::NotFound("no run " + a.run + " in " + history.table_path());
  std::vector<const Run*> order;
  for (const auto& [id, run] : runs) order.push_back(&run);
  std::reverse(order.begin(), order.end());
  if (a.limit > 0 && static_cast<int>(order.size()) > a.limit) order.resize(static_cast<size_t>(a.limit));

  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const Run* run : order) {
      nlohmann::json j;
      j["job"] = run->job;
      j["run_id"] = run->run_id;
      j["trigger"] = run->trigger;
      j["state"] = run->state;
      j["start"] = FormatTimestampIso(run->start);
      j["end"] = run->end > 0 ? nlohmann::json(FormatTimestampIso(run->end)) : nlohmann::json();
      j["error"] = run->error.empty() ? nlohmann::json() : nlohmann::json(run->error);
      nlohmann::json params = nlohmann::json::parse(run->parameters, nullptr, false);
      j["parameters"] = params.is_discarded() ? nlohmann::json::object() : params;
      nlohmann::json tasks = nlohmann::json::array();
      for (const auto* t : run->tasks) {
        tasks.push_back({{"task", t->task},
                         {"attempt", t->attempt},
                         {"state", t->state},
                         {"start", FormatTimestampIso(t->start_micros)},
                         {"end", FormatTimestampIso(t->end_micros)},
                         {"error", t->error.empty() ? nlohmann::json() : nlohmann::json(t->error)},
                         {"log", t->log.empty() ? nlohmann::json() : nlohmann::json(t->log)}});
      }
      j["tasks"] = tasks;
      out.push_back(j);
    }
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return Status::OK();
  }
  if (order.empty()) {
    std::printf("no runs yet (history table %s)\n", history.table_path().c_str());
    return Status::OK();
  }
  if (!a.run.empty()) {
    const Run* run = order[0];
    std::printf("run %s of job %s: %s (%s)%s\n", run->run_id.c_str(), run->job.c_str(), run->state.c_str(),
                run->trigger.c_str(), run->error.empty() ? "" : (": " + run->error).c_str());
    std::printf("parameters %s\n", run->parameters.c_str());
    std::vector<std::vector<std::string>> rows_text;
    for (const auto* t : run->tasks) {
      rows_text.push_back({t->task, std::to_string(t->attempt), t->state, Time(t->start_micros),
                           Duration(t->end_micros - t->start_micros), Cell(t->error, 70)});
    }
    PrintTextTable({"task", "attempt", "state", "start (UTC)", "took", "error"}, rows_text,
                   {false, true, false, false, true, false});
    return Status::OK();
  }
  std::vector<std::vector<std::string>> rows_text;
  for (const Run* run : order) {
    std::map<std::string, std::string> last;  // task -> state of its last row
    for (const auto* t : run->tasks) last[t->task] = t->state;
    std::map<std::string, int> counts;
    for (const auto& [task, state] : last) ++counts[state];
    std::string summary;
    for (const auto& [state, n] : counts) summary += (summary.empty() ? "" : ", ") + std::to_string(n) + " " + state;
    rows_text.push_back({run->run_id, run->job, run->trigger, run->state, Time(run->start),
                         run->end > 0 ? Duration(run->end - run->start) : "", summary, Cell(run->error, 60)});
  }
  PrintTextTable({"run", "job", "trigger", "state", "start (UTC)", "took", "tasks", "error"}, rows_text,
                 {false, false, false, false, false, true, false, false});
  return Status::OK();
}

Status Check(const std::string& path) {
  LP_ASSIGN_OR_RETURN(jobs::JobsFile file, jobs::JobsFile::Load(path));
  if (file.has_governance) {
    // What `job serve` will load: principals (and grants, checked for their grantees).
    LP_ASSIGN_OR_RETURN(governance::Policy policy, governance::Policy::Load(path, "", {}));
    std::printf("governance %s: %zu principals\n", policy.source().c_str(), policy.principals().size());
  }
  for (const auto& job : file.jobs) {
    std::string schedule = job.cron ? "cron \"" + job.cron->text() + "\" in " + job.timezone.name() : "no schedule";
    std::printf("job %s: %zu tasks, %s\n", job.name.c_str(), job.tasks.size(), schedule.c_str());
    for (const auto& t : job.tasks) {
      std::string deps;
      for (const auto& d : t.depends_on) deps += (deps.empty() ? "" : ", ") + d;
      std::printf("  %-24s %-16s%s\n", t.name.c_str(), jobs::TaskKindName(t.kind),
                  deps.empty() ? "" : (" after " + deps).c_str());
    }
  }
  return Status::OK();
}

struct ServeArgs {
  std::string file, storage, host = "127.0.0.1";
  int port = 8080;
  std::vector<std::string> tokens;
};

Status Serve(const ServeArgs& a) {
  LP_ASSIGN_OR_RETURN(jobs::JobsFile file, jobs::JobsFile::Load(a.file));
  if (!a.storage.empty()) file.storage = a.storage;
  jobs::JobServerOptions o;
  o.host = a.host;
  o.port = a.port;
  o.tokens = a.tokens;
  o.lakepipe_binary = SelfBinary();
  StopSignals signals;
  jobs::JobServer server(file);
  LP_RETURN_IF_ERROR(server.Start(o));
  std::printf("lakepipe: jobs of %s at %s\n", a.file.c_str(), server.url().c_str());
  int scheduled = 0;
  for (const auto& job : file.jobs) {
    if (!job.cron) continue;
    ++scheduled;
    std::printf("  %s: cron \"%s\" in %s\n", job.name.c_str(), job.cron->text().c_str(), job.timezone.name().c_str());
  }
  std::printf("lakepipe: %d scheduled job%s; press Ctrl-C to stop\n", scheduled, scheduled == 1 ? "" : "s");
  std::fflush(stdout);
  while (!g_stop_jobs.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.Stop();
  std::printf("lakepipe: job server stopped\n");
  std::fflush(stdout);
  return Status::OK();
}

}  // namespace

void RegisterJobCommands(CLI::App& app, CommandRegistry& registry) {
  CLI::App* job = app.add_subcommand("job", "Run jobs of pipeline tasks (jobs.yaml: a DAG, schedules, history; docs/jobs.md)");
  job->require_subcommand(1);

  auto run_args = std::make_shared<RunArgs>();
  CLI::App* run = job->add_subcommand("run", "Run a job's tasks once (resuming its last run if that did not succeed)");
  run->add_option("jobs_file", run_args->file, "The jobs.yaml")->required();
  run->add_option("job", run_args->job, "The job to run")->required();
  run->add_option("--task", run_args->tasks, "Run only this task (repeatable); its dependencies are not run");
  run->add_option("--param", run_args->params, "A run parameter: name=value (repeatable)");
  run->add_option("--resume", run_args->resume, "Resume this run (the default resumes the job's last run if it did not succeed)");
  run->add_option("--storage", run_args->storage, "Folder of the run history, locks and logs (default: the file's storage:)");
  run->add_flag("--new", run_args->new_run, "Start a new run even if the last one did not succeed");
  run->callback([run_args, &registry]() { registry.Finish(RunJob(*run_args, registry)); });

  auto history_args = std::make_shared<HistoryArgs>();
  CLI::App* history = job->add_subcommand("history", "List job runs, newest first (from the _job_runs Delta table)");
  history->add_option("jobs_file", history_args->file, "The jobs.yaml")->required();
  history->add_option("--storage", history_args->storage, "Folder of the run history (default: the file's storage:)");
  history->add_option("--job", history_args->job, "Only this job's runs");
  history->add_option("--run", history_args->run, "One run, task by task");
  history->add_option("--limit", history_args->limit, "Runs to list (0: all)")->capture_default_str();
  history->add_flag("--json", history_args->json, "Print JSON (runs with their task attempts)");
  history->callback([history_args, &registry]() { registry.Finish(History(*history_args)); });

  auto serve_args = std::make_shared<ServeArgs>();
  CLI::App* serve = job->add_subcommand("serve", "Run the jobs' schedules and serve their runs (API and page)");
  serve->add_option("jobs_file", serve_args->file, "The jobs.yaml")->required();
  serve->add_option("--storage", serve_args->storage, "Folder of the run history (default: the file's storage:)");
  serve->add_option("--host", serve_args->host, "Address to bind")->capture_default_str();
  serve->add_option("--port", serve_args->port, "Port (0 picks a free port)")->capture_default_str()->check(CLI::Range(0, 65535));
  serve->add_option("--token", serve_args->tokens, "A bearer token (repeatable; required off loopback)");
  serve->callback([serve_args, &registry]() { registry.Finish(Serve(*serve_args)); });

  auto check_file = std::make_shared<std::string>();
  CLI::App* check = job->add_subcommand("check", "Load and check a jobs.yaml; print its jobs and tasks");
  check->add_option("jobs_file", *check_file, "The jobs.yaml")->required();
  check->callback([check_file, &registry]() { registry.Finish(Check(*check_file)); });
}

}  // namespace lakepipe::cli
