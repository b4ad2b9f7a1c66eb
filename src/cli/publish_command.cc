// `lakepipe publish DIR [--rebuild] [--table T]`: publishes the pipeline's tables to
// PostgreSQL, Kafka and files (publish.postgres, publish.kafka, publish.files in
// pipeline.yaml) without running the pipeline; also the publication step of
// `lakepipe run --once`.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/audit.h"
#include "cli/commands.h"
#include "common/clock.h"
#include "publish/file_export.h"
#include "publish/kafka_sink.h"
#include "publish/publisher.h"
#include "runtime/event_log.h"
#include "runtime/pipeline_runner.h"
#include "sql/pipeline.h"

namespace lakepipe::cli {

namespace {

// Publishes `tables` of `publisher` (all when empty), a line each, with events.
Status PublishWith(publish::TablePublisher& publisher, const std::vector<std::string>& tables, bool rebuild,
                   runtime::EventLog& events, int* failed, std::string* first_error) {
  for (const auto& table : tables) {
    std::string target;
    for (const auto& [t, shown] : publisher.Targets()) {
      if (t == table) target = shown;
    }
    auto r = publisher.Publish(table, rebuild);
    runtime::Event e;
    e.table = table;
    if (!r.ok()) {
      ++*failed;
      if (first_error->empty()) *first_error = r.status().message();
      std::printf("  publish %s -> %s: failed: %s\n", table.c_str(), target.c_str(), r.status().message().c_str());
      e.event_type = "publish_error";
      e.level = "ERROR";
      e.message = r.status().message();
      e.details_json = nlohmann::json{{"target", target}}.dump();
      events.Add(std::move(e));
      continue;
    }
    std::string line = "  publish " + table + " -> " + target + ": ";
    if (r->technique == "not created") {
      line += "the Delta table does not exist yet (run the pipeline first)";
    } else if (r->technique == "up to date") {
      line += "up to date, version " + std::to_string(r->to_version);
    } else if (r->technique == "replace") {
      line += "replaced (" + r->reason + "), " + std::to_string(r->rows_loaded) + " rows, version " +
              std::to_string(r->to_version) + ", " + std::to_string(r->duration_ms) + " ms";
    } else if (r->technique == "export") {
      line += std::to_string(r->files_written) + " file(s) written, " + std::to_string(r->files_unchanged) +
              " unchanged, " + std::to_string(r->files_removed) + " removed, " + std::to_string(r->rows_loaded) +
              " rows, version " + std::to_string(r->to_version) + ", " + std::to_string(r->duration_ms) + " ms";
    } else if (r->technique == "kafka") {
      line += std::to_string(r->messages_sent) + " messages" +
              (r->from_change_feed ? " (change feed)" : "") + ", version " + std::to_string(r->from_version) +
              " -> " + std::to_string(r->to_version) + ", " + std::to_string(r->duration_ms) + " ms";
      if (r->messages_already_in_topic > 0) {
        line += " (" + std::to_string(r->messages_already_in_topic) +
                " already in the topic from an interrupted run, not sent again)";
      }
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
      nlohmann::json d = {{"target", target},
                          {"from_version", r->from_version},
                          {"to_version", r->to_version},
                          {"technique", r->technique},
                          {"reason", r->reason},
                          {"rows_upserted", r->rows_upserted},
                          {"rows_deleted", r->rows_deleted},
                          {"rows_loaded", r->rows_loaded},
                          {"rows_unchanged", r->rows_unchanged},
                          {"columns_added", r->columns_added},
                          {"duration_ms", r->duration_ms}};
      if (r->technique == "export") {
        d["files_written"] = r->files_written;
        d["files_unchanged"] = r->files_unchanged;
        d["files_removed"] = r->files_removed;
      }
      if (r->technique == "kafka") {
        d["messages_sent"] = r->messages_sent;
        d["messages_already_in_topic"] = r->messages_already_in_topic;
        d["from_change_feed"] = r->from_change_feed;
      }
      e.details_json = d.dump();
      events.Add(std::move(e));
    }
  }
  return Status::OK();
}

}  // namespace

Status PublishTables(runtime::PipelineRunner& runner, const std::string& only_table, bool rebuild) {
  const auto& settings = runner.pipeline().settings;
  if (!settings.publish.postgres && !settings.publish.kafka && !settings.publish.files) {
    return Status::InvalidArgument("pipeline " + settings.name +
                                   " has no publish section (publish.postgres, publish.kafka or publish.files) in "
                                   "pipeline.yaml");
  }
  auto table_path = [&](const std::string& t) { return runner.TablePath(t); };
  std::vector<std::unique_ptr<publish::TablePublisher>> publishers;
  if (settings.publish.postgres) {
    publishers.push_back(std::make_unique<publish::Publisher>(
        publish::OptionsFromSettings(*settings.publish.postgres, table_path)));
  }
  if (settings.publish.kafka) {
    publishers.push_back(std::make_unique<publish::KafkaSink>(
        publish::KafkaSinkOptionsFromSettings(*settings.publish.kafka, settings.storage, table_path)));
  }
  if (settings.publish.files) {
    publishers.push_back(std::make_unique<publish::FileExport>(
        publish::FileExportTargetsFromSettings(*settings.publish.files, settings.folder, table_path)));
  }
  std::vector<std::vector<std::string>> tables(publishers.size());
  std::vector<std::string> known;
  bool found = only_table.empty();
  for (size_t i = 0; i < publishers.size(); ++i) {
    for (const auto& [t, target] : publishers[i]->Targets()) {
      known.push_back(t);
      bool match = only_table.empty() || t == only_table;
      // PostgreSQL folds names: the --table of a publish.postgres entry matches any case.
      if (!match && dynamic_cast<publish::Publisher*>(publishers[i].get()) != nullptr) {
        auto* pg = static_cast<publish::Publisher*>(publishers[i].get());
        const publish::PublishTarget* pt = pg->Find(only_table);
        match = pt != nullptr && pt->table == t;
      }
      if (match) {
        tables[i].push_back(t);
        found = true;
      }
    }
  }
  if (!found) {
    std::string list;
    for (const auto& x : known) list += (list.empty() ? "" : ", ") + x;
    return Status::InvalidArgument("--table " + only_table + " is not published; the publish section has: " + list);
  }
  runtime::EventLog events(FileSystem::Default(), settings.storage, settings.name, Clock::System());
  int failed = 0;
  size_t total = 0;
  std::string first_error;
  for (size_t i = 0; i < publishers.size(); ++i) {
    total += tables[i].size();
    LP_RETURN_IF_ERROR(PublishWith(*publishers[i], tables[i], rebuild, events, &failed, &first_error));
  }
  std::fflush(stdout);
  Status flushed = events.Flush();
  if (failed > 0) {
    return Status::IOError(std::to_string(failed) + " of " + std::to_string(total) +
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
  const auto& publish = runner->pipeline().settings.publish;
  // Name only the destinations the publish section has: a pipeline that only exports
  // files must not read as if it wrote to PostgreSQL.
  std::vector<std::string> to;
  if (publish.postgres) to.push_back("PostgreSQL");
  if (publish.kafka) to.push_back("Kafka");
  if (publish.files) to.push_back("files");
  std::string where;
  for (size_t i = 0; i < to.size(); ++i) where += (i == 0 ? "" : i + 1 == to.size() ? " and " : ", ") + to[i];
  if (!where.empty()) {
    std::printf("pipeline %s: publishing to %s%s\n", runner->pipeline().settings.name.c_str(), where.c_str(),
                a.rebuild ? " (rebuilding from the lake's latest versions)" : "");
  }
  return PublishTables(*runner, a.table, a.rebuild);
}

}  // namespace

void RegisterPublishCommands(CLI::App& app, CommandRegistry& registry) {
  auto args = std::make_shared<PublishArgs>();
  CLI::App* cmd = app.add_subcommand(
      "publish", "Publish the pipeline's tables to PostgreSQL, Kafka and files (publish: in pipeline.yaml) without running it");
  cmd->add_option("folder", args->folder, "Pipeline folder")->required();
  cmd->add_flag("--rebuild", args->rebuild, "Drop and recreate the serving tables from the lake's latest versions");
  cmd->add_option("--table", args->table, "Publish only this pipeline table");
  cmd->add_option("--set", args->sets, "Override a configuration value or storage: key=value");
  cmd->callback([args, &registry]() {
    AuditedAction what{"publish", args->table, args->rebuild ? "--rebuild" : "", false};
    registry.Finish(AuditPipelineCommand(args->folder, args->sets, what, [&] { return RunPublish(*args); }));
  });
}

}  // namespace lakepipe::cli
