// `lakepipe serve DIR [--host H] [--port N] [--set k=v]...`: the HTTP API and dashboard
// over a pipeline's storage without running the pipeline (docs/http-api.md).
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "runtime/pipeline_runner.h"
#include "server/http_server.h"
#include "sql/pipeline.h"

namespace lakepipe::cli {
namespace {

struct ServeArgs {
  std::string folder;
  std::optional<std::string> host;
  std::optional<int> port;
  std::vector<std::string> sets;
};

std::atomic<bool> g_stop_serving{false};
extern "C" void StopServingOnSignal(int) { g_stop_serving.store(true); }

Status Serve(const ServeArgs& args) {
  LP_ASSIGN_OR_RETURN(auto overrides, sql::ParseOverrides(args.sets));
  LP_ASSIGN_OR_RETURN(auto runner, runtime::PipelineRunner::Open(args.folder, overrides));
  const auto& settings = runner->pipeline().settings;
  server::ServerOptions options;
  if (settings.server) options = server::ServerOptions::FromSettings(*settings.server);
  if (args.host) options.host = *args.host;
  if (args.port) options.port = *args.port;

  g_stop_serving.store(false);
  struct sigaction sa {}, old_int {}, old_term {};
  sa.sa_handler = StopServingOnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  server::HttpServer http;
  Status started = http.Start(options, runner.get(), nullptr);
  if (started.ok()) {
    std::printf("lakepipe: serving pipeline %s (storage %s) at %s\n", settings.name.c_str(), settings.storage.c_str(),
                http.url().c_str());
    std::printf("lakepipe: the pipeline is not running in this process; press Ctrl-C to stop\n");
    std::fflush(stdout);
    while (!g_stop_serving.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    http.Stop();
    std::printf("lakepipe: server stopped\n");
    std::fflush(stdout);
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  return started;
}

}  // namespace

void RegisterServeCommands(CLI::App& app, CommandRegistry& registry) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* serve = app.add_subcommand(
      "serve", "Serve a pipeline's tables, status and dashboard over HTTP without running it (docs/http-api.md)");
  serve->add_option("folder", args->folder, "Pipeline folder (pipeline.yaml + *.sql)")->required();
  serve->add_option("--host", args->host, "Address to bind (default: server.host, else 127.0.0.1)");
  serve->add_option("--port", args->port, "Port (default: server.port, else 8080; 0 picks a free port)")
      ->check(CLI::Range(0, 65535));
  serve->add_option("--set", args->sets, "Override a configuration value or storage: key=value");
  serve->callback([args, &registry]() { registry.Finish(Serve(*args)); });
}

}  // namespace lakepipe::cli
