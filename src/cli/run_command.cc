// `lakepipe run DIR --once` and `lakepipe query DIR 'SELECT ...'`.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/output.h"
#include "runtime/pipeline_runner.h"
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

Status RunPipeline(const RunArgs& a) {
  if (!a.once) {
    return Status::NotSupported(
        "continuous mode is not built yet: run with --once to process what is there and exit");
  }
  if (a.full_refresh_all && !a.full_refresh.empty()) {
    return Status::InvalidArgument("give --full-refresh T1,T2 or --full-refresh-all, not both");
  }
  LP_ASSIGN_OR_RETURN(auto overrides, sql::ParseOverrides(a.sets));
  LP_ASSIGN_OR_RETURN(auto runner, runtime::PipelineRunner::Open(a.folder, overrides));
  runtime::RunOptions options;
  options.full_refresh = SplitCommas(a.full_refresh);
  options.full_refresh_all = a.full_refresh_all;
  options.on_table = [](const runtime::TableReport& t) {
    std::string line = "  " + t.table + " (" + t.kind + "): " + t.status;
    if (t.status == "up to date") {
      line += ", version " + std::to_string(t.table_version);
    } else if (t.status == "updated") {
      line += ", " + std::to_string(t.rows_written) + " rows written";
      if (t.rows_dropped) line += ", " + std::to_string(t.rows_dropped) + " dropped";
      if (t.rows_quarantined) line += ", " + std::to_string(t.rows_quarantined) + " quarantined";
      if (t.rows_rescued) line += ", " + std::to_string(t.rows_rescued) + " with _rescued_data";
      line += ", version " + std::to_string(t.table_version) + ", " + std::to_string(t.duration_ms) + " ms";
    } else {
      line += ": " + t.message;
    }
    std::puts(line.c_str());
    for (const auto& e : t.expectations) {
      if (e.failed == 0) continue;
      std::printf("      expectation %s (%s): %lld failed, %lld passed\n", e.name.c_str(), e.action.c_str(),
                  static_cast<long long>(e.failed), static_cast<long long>(e.passed));
    }
    std::fflush(stdout);
  };
  std::printf("pipeline %s: update started\n", runner->pipeline().settings.name.c_str());
  std::fflush(stdout);
  LP_ASSIGN_OR_RETURN(runtime::UpdateReport report, runner->RunOnce(options));
  int failed = 0;
  for (const auto& t : report.tables) failed += t.status == "failed" || t.status == "skipped";
  if (failed > 0) {
    return Status::Aborted("update " + report.update_id + " finished with " + std::to_string(failed) +
                           " table(s) failed or skipped (details above and in the event log)");
  }
  std::printf("pipeline %s: update completed in %lld ms (%zu tables)\n",
              runner->pipeline().settings.name.c_str(), static_cast<long long>(report.duration_ms),
              report.tables.size());
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
  run->add_flag("--once", run_args->once, "Process the input that is there now, then exit");
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
