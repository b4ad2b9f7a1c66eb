// `lakepipe publish DIR [--rebuild] [--table T]`: publishes the pipeline's tables to
// PostgreSQL (publish.postgres in pipeline.yaml) without running the pipeline; also the
// publication step of `lakepipe run --once`.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/clock.h"
#include "publish/publisher.h"
#include "runtime/event_log.h"
#include "runtime/pipeline_runner.h"
#include "sql/pipeline.h"

namespace lakepipe::cli {

Status PublishTables(runtime::PipelineRunner& runner, const std::string& only_table, bool rebuild) {
  const auto& settings = runner.pipeline().settings;
  if (!settings.publish.postgres) {
    return Status::InvalidArgument("pipeline " + settings.name + " has no publish.postgres section in pipeline.yaml");
  }
  publish::Publisher publisher(publish::OptionsFromSettings(
      *settings.publish.postgres, [&](const std::string& t) { return runner.TablePath(t); }));
  std::vector<std::string> tables;
  for (const auto& t : publisher.options().tables) tables.push_back(t.table);
  if (!only_table.empty()) {
    const publish::PublishTarget* t = publisher.Find(only_table);
    if (t == nullptr) {
      std::string known;
      for (const auto& x : tables) known += (known.empty() ? "" : ", ") + x;
      return Status::InvalidArgument("--table " + only_table + " is not published; publish.postgres.tables has: " + known);
    }
    tables = {t->table};
  }
  runtime::EventLog events(FileSystem::Default(), settings.storage, settings.name, Clock::System());
  int failed = 0;
  std::string first_error;
  for (const auto& table : tables) {
    auto r = publisher.Publish(table, rebuild);
    runtime::Event e;
    e.table = table;
    if (!r.ok()) {
      ++failed;
      if (first_error.empty()) first_error = r.status().message();
      std::printf("  publish %s: failed: %s\n", table.c_str(), r.status().message().c_str());
      e.event_type = "publish_error";
      e.level = "ERROR";
      e.message = r.status().message();
      events.Add(std::move(e));
      continue;
    }
    std::string target = publisher.options().schema + "." + r->target;
    std::string line = "  publish " + table + " -> " + target + ": ";
    if (r->technique == "not created") {
      line += "the Delta table does not exist yet (run the pipeline first)";
    } else if (r->technique == "up to date") {
      line += "up to date, version " + std::to_string(r->to_version);
    } else if (r->technique == "replace") {
      line += "replaced (" + r->reason + "), " + std::to_string(r->rows_loaded) + " rows, version " +
              std::to_string(r->to_version) + ", " + std::to_string(r->duration_ms) + " ms";
    } else {
      line += std::to_string(r->rows_upserted) + " upserted, " + std::to_string(r->rows_deleted) + " deleted, " +
              std::to_string(r->rows_unchanged) + " unchanged, version " + std::to_string(r->from_version) + " -> " +
              std::to_string(r->to_version) + ", " + std::to_string(r->duration_ms) + " ms";
    }
    for (const auto& c : r->columns_added) line += " (column " + c + " added)";
    std::printf("%s\n", line.c_str());
    if (r->technique != "up to date" && r->technique != "not created") {
      e.event_type = "publish_progress";
      e.message = "published version " + std::to_string(r->to_version) + " to " + target + " (" + r->technique + ")";
      e.details_json = nlohmann::json{{"target", target},
                                      {"from_version", r->from_version},
                                      {"to_version", r->to_version},
                                      {"technique", r->technique},
                                      {"reason", r->reason},
                                      {"rows_upserted", r->rows_upserted},
                                      {"rows_deleted", r->rows_deleted},
                                      {"rows_loaded", r->rows_loaded},
                                      {"rows_unchanged", r->rows_unchanged},
                                      {"columns_added", r->columns_added},
                                      {"duration_ms", r->duration_ms}}
                           .dump();
      events.Add(std::move(e));
    }
  }
  std::fflush(stdout);
  Status flushed = events.Flush();
  if (failed > 0) {
    return Status::IOError(std::to_string(failed) + " of " + std::to_string(tables.size()) +
                           " table(s) not published (the lake is up to date; `lakepipe publish` catches up): " +
                           first_error);
  }
  return flushed;
}

namespace {

struct PublishArgs {
  std::string folder;
  bool rebuild = false;
  std::string table;
  std::vector<std::string> sets;
};

Status RunPublish(const PublishArgs& a) {
  LP_ASSIGN_OR_RETURN(auto overrides, sql::ParseOverrides(a.sets));
  LP_ASSIGN_OR_RETURN(auto runner, runtime::PipelineRunner::Open(a.folder, overrides));
  std::printf("pipeline %s: publishing to PostgreSQL%s\n", runner->pipeline().settings.name.c_str(),
              a.rebuild ? " (rebuilding the serving tables from the lake)" : "");
  return PublishTables(*runner, a.table, a.rebuild);
}

}  // namespace

void RegisterPublishCommands(CLI::App& app, CommandRegistry& registry) {
  auto args = std::make_shared<PublishArgs>();
  CLI::App* cmd = app.add_subcommand(
      "publish", "Publish the pipeline's tables to PostgreSQL (publish.postgres in pipeline.yaml) without running it");
  cmd->add_option("folder", args->folder, "Pipeline folder")->required();
  cmd->add_flag("--rebuild", args->rebuild, "Drop and recreate the serving tables from the lake's latest versions");
  cmd->add_option("--table", args->table, "Publish only this pipeline table");
  cmd->add_option("--set", args->sets, "Override a configuration value or storage: key=value");
  cmd->callback([args, &registry]() { registry.Finish(RunPublish(*args)); });
}

}  // namespace lakepipe::cli
