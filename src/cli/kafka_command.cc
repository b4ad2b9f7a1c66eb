// `lakepipe kafka serve [--partitions N] [--topics a,b]`: a Kafka-protocol broker for
// development and tests (kafka/dev_broker.h, librdkafka's mock cluster) on loopback, until
// SIGTERM/SIGINT. The first stdout line is `bootstrap.servers=HOST:PORT`, so scripts can
// start it in the background and read where it listens.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "kafka/dev_broker.h"

namespace lakepipe::cli {
namespace {

struct ServeArgs {
  int partitions = 1;
  std::string topics;
  int brokers = 1;
};

volatile sig_atomic_t g_stop = 0;
extern "C" void OnKafkaServeStop(int) { g_stop = 1; }

Status RunKafkaServe(const ServeArgs& a) {
  if (a.partitions < 1) return Status::InvalidArgument("kafka serve: --partitions must be >= 1");
  if (a.brokers < 1) return Status::InvalidArgument("kafka serve: --brokers must be >= 1");
  LP_ASSIGN_OR_RETURN(auto broker, kafka::DevBroker::Start(a.brokers));
  size_t pos = 0;
  while (pos < a.topics.size()) {
    size_t comma = a.topics.find(',', pos);
    if (comma == std::string::npos) comma = a.topics.size();
    std::string t = a.topics.substr(pos, comma - pos);
    if (!t.empty()) LP_RETURN_IF_ERROR(broker->CreateTopic(t, a.partitions));
    pos = comma + 1;
  }
  struct sigaction sa = {};
  sa.sa_handler = OnKafkaServeStop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::printf("bootstrap.servers=%s\n", broker->bootstrap_servers().c_str());
  std::fflush(stdout);
  std::fprintf(stderr,
               "lakepipe kafka serve: a development broker (librdkafka's mock cluster) on loopback. It keeps "
               "messages in memory only (about 5 MB per partition; older ones are dropped) and loses them when it "
               "stops. Not for production data. Stop with Ctrl-C or SIGTERM.\n");
  while (!g_stop) pause();
  std::fprintf(stderr, "lakepipe kafka serve: stopped\n");
  return Status::OK();
}

}  // namespace

void RegisterKafkaCommands(CLI::App& app, CommandRegistry& registry) {
  CLI::App* kafka = app.add_subcommand("kafka", "Kafka tools: a development broker");
  kafka->require_subcommand(1);
  auto args = std::make_shared<ServeArgs>();
  CLI::App* serve = kafka->add_subcommand(
      "serve", "Run an in-memory Kafka-protocol broker on loopback for development (until SIGTERM)");
  serve->add_option("--partitions", args->partitions, "Partitions of each --topics topic")->capture_default_str();
  serve->add_option("--topics", args->topics, "Topics to create, comma-separated (others are created on first use)");
  serve->add_option("--brokers", args->brokers, "Brokers in the cluster")->capture_default_str();
  serve->callback([args, &registry] { registry.Finish(RunKafkaServe(*args)); });
}

}  // namespace lakepipe::cli
