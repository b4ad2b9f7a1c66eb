// `lakepipe run DIR [--once]` and `lakepipe query DIR 'SELECT ...'`.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/output.h"
#include "runtime/pipeline_runner.h"
#include "runtime/status_board.h"
#include "sql/pipeline.h"

namespace lakepipe::cli {
namespace {

struct RunArgs {
  std::string folder;
  bool once = false;
  std::string full_refresh;
  bool full_refresh_all = false;
  std::vector<std::string> sets;
};

std::set<std::string> SplitCommas(const std::string& s) {
  std::set<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    std::string item = s.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.insert(item);
    start = comma + 1;
  }
  return out;
}

// The runner a SIGINT/SIGTERM handler stops (one run per process).
std::atomic<runtime::PipelineRunner*> g_running{nullptr};

extern "C" void StopOnSignal(int) {
  if (runtime::PipelineRunner* r = g_running.load()) r->RequestStop();
}

// Installs the stop handler for the lifetime of a run; a second signal while stopping
// kills the process the default way.
class StopSignals {
 public:
  explicit StopSignals(runtime::PipelineRunner* runner) {
    g_running.store(runner);
    struct sigaction sa {};
    sa.sa_handler = StopOnSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    g_running.store(nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// "14:03:07.123", local time, for continuous-mode lines.
std::string FormatLocalTime() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm local;
  localtime_r(&ts.tv_sec, &local);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03ld", local.tm_hour, local.tm_min, local.tm_sec,
                static_cast<long>(ts.tv_nsec / 1000000));
  return buf;
}

std::string Thousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string ReportLine(const runtime::TableReport& t) {
  std::string line = t.table + " (" + t.kind + "): " + t.status;
  if (t.status == "up to date") {
    line += ", version " + std::to_string(t.table_version);
  } else if (t.status == "waiting") {
    line += ": " + t.message;
  } else if (t.status == "updated") {
    line += ", " + Thousands(t.rows_written) + " rows written";
    if (t.rows_dropped) line += ", " + Thousands(t.rows_dropped) + " dropped";
    if (t.rows_quarantined) line += ", " + Thousands(t.rows_quarantined) + " quarantined";
    if (t.rows_rescued) line += ", " + Thousands(t.rows_rescued) + " with _rescued_data";
    line += ", version " + std::to_string(t.table_version) + ", " + std::to_string(t.duration_ms) + " ms";
  } else {
    line += ": " + t.message;
  }
  return line;
}

void PrintReport(const runtime::TableReport& t, const char* prefix) {
  std::printf("%s%s\n", prefix, ReportLine(t).c_str());
  for (const auto& e : t.expectations) {
    if (e.failed == 0) continue;
    std::printf("      expectation %s (%s): %s failed, %s passed\n", e.name.c_str(), e.action.c_str(),
                Thousands(e.failed).c_str(), Thousands(e.passed).c_str());
  }
  std::fflush(stdout);
}

// --once on a terminal: one progress bar line redrawn in place, then the table's line.
class ProgressBar {
 public:
  void Start(const std::string& table, int index, int total) {
    index_ = index;
    total_ = total;
    Draw(table);
  }
  void Done(const runtime::TableReport& t) {
    std::printf("\r\033[K");
    PrintReport(t, "  ");
    Draw("");
  }
  void Clear() {
    std::printf("\r\033[K");
    std::fflush(stdout);
  }

 private:
  void Draw(const std::string& table) {
    constexpr int kWidth = 30;
    int done = table.empty() ? index_ + 1 : index_;
    int filled = total_ > 0 ? done * kWidth / total_ : kWidth;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::printf("\r\033[K[%s] %d/%d tables%s%s", bar.c_str(), done, total_, table.empty() ? "" : "  updating ",
                table.c_str());
    std::fflush(stdout);
  }
  int index_ = 0;
  int total_ = 0;
};

Status RunPipeline(const RunArgs& a) {
  if (a.full_refresh_all && !a.full_refresh.empty()) {
    return Status::InvalidArgument("give --full-refresh T1,T2 or --full-refresh-all, not both");
  }
  LP_ASSIGN_OR_RETURN(auto overrides, sql::ParseOverrides(a.sets));
  LP_ASSIGN_OR_RETURN(auto runner, runtime::PipelineRunner::Open(a.folder, overrides));
  const auto& settings = runner->pipeline().settings;
  bool once = a.once || !settings.continuous;
  runtime::RunOptions options;
  options.full_refresh = SplitCommas(a.full_refresh);
  options.full_refresh_all = a.full_refresh_all;
  runtime::StatusBoard board;
  options.board = &board;
  StopSignals signals(runner.get());

  if (!once) {
    std::printf("pipeline %s: running continuously (Ctrl-C stops after the current batch)\n", settings.name.c_str());
    std::fflush(stdout);
    options.on_table = [](const runtime::TableReport& t) {
      std::string stamp = FormatLocalTime();
      std::printf("%s  ", stamp.c_str());
      PrintReport(t, "");
    };
    LP_RETURN_IF_ERROR(runner->RunContinuous(options));
    std::printf("pipeline %s: stopped\n", settings.name.c_str());
    return Status::OK();
  }

  bool tty = ::isatty(STDOUT_FILENO) == 1;
  ProgressBar bar;
  if (tty) {
    options.on_table_start = [&bar](const std::string& table, int index, int total) { bar.Start(table, index, total); };
    options.on_table = [&bar](const runtime::TableReport& t) { bar.Done(t); };
  } else {
    options.on_table = [](const runtime::TableReport& t) { PrintReport(t, "  "); };
  }
  std::printf("pipeline %s: update started\n", settings.name.c_str());
  std::fflush(stdout);
  LP_ASSIGN_OR_RETURN(runtime::UpdateReport report, runner->RunOnce(options));
  if (tty) bar.Clear();
  int failed = 0;
  for (const auto& t : report.tables) failed += t.status == "failed" || t.status == "skipped";
  if (failed > 0) {
    return Status::Aborted("update " + report.update_id + " finished with " + std::to_string(failed) +
                           " table(s) failed or skipped (details above and in the event log)");
  }
  size_t tables = 0;
  for (const auto& ds : runner->resolved().datasets) tables += ds.kind != sql::DatasetKind::kView;
  std::printf("pipeline %s: update %s in %lld ms (%zu of %zu tables)\n", settings.name.c_str(),
              report.tables.size() < tables ? "stopped" : "completed", static_cast<long long>(report.duration_ms),
              report.tables.size(), tables);
  return Status::OK();
}

struct QueryArgs {
  std::string folder;
  std::string sql;
  std::string format = "table";
  std::vector<std::string> sets;
};

Status RunQuery(const QueryArgs& a) {
  LP_ASSIGN_OR_RETURN(OutputFormat format, ParseOutputFormat(a.format));
  LP_ASSIGN_OR_RETURN(auto overrides, sql::ParseOverrides(a.sets));
  LP_ASSIGN_OR_RETURN(auto runner, runtime::PipelineRunner::Open(a.folder, overrides));
  LP_ASSIGN_OR_RETURN(auto result, runner->Query(a.sql));
  PrintBatches(result.schema, result.batches, format);
  if (format == OutputFormat::kTable) {
    int64_t rows = 0;
    for (const auto& b : result.batches) rows += b.num_rows();
    std::printf("%lld row%s\n", static_cast<long long>(rows), rows == 1 ? "" : "s");
  }
  return Status::OK();
}

}  // namespace

void RegisterRunCommands(CLI::App& app, CommandRegistry& registry) {
  auto run_args = std::make_shared<RunArgs>();
  CLI::App* run = app.add_subcommand("run", "Run a pipeline folder: every table, in dependency order");
  run->add_option("folder", run_args->folder, "Pipeline folder (pipeline.yaml + *.sql)")->required();
  run->add_flag("--once", run_args->once,
                "Process the input that is there now, then exit (default: run continuously until Ctrl-C)");
  run->add_option("--full-refresh", run_args->full_refresh,
                  "Comma-separated tables to rebuild from their sources");
  run->add_flag("--full-refresh-all", run_args->full_refresh_all, "Rebuild every table");
  run->add_option("--set", run_args->sets, "Override a configuration value or storage: key=value");
  run->callback([run_args, &registry]() { registry.Finish(RunPipeline(*run_args)); });

  auto query_args = std::make_shared<QueryArgs>();
  CLI::App* query = app.add_subcommand("query", "Run a one-off SELECT over a pipeline's tables");
  query->add_option("folder", query_args->folder, "Pipeline folder")->required();
  query->add_option("sql", query_args->sql, "The SELECT statement")->required();
  query->add_option("--format", query_args->format, "table, csv or jsonl")->capture_default_str();
  query->add_option("--set", query_args->sets, "Override a configuration value or storage: key=value");
  query->callback([query_args, &registry]() { registry.Finish(RunQuery(*query_args)); });
}

}  // namespace lakepipe::cli
