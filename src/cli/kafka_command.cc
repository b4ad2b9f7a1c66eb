// `lakepipe kafka serve [--partitions N] [--topics a,b]`: a Kafka-protocol broker for
// development and tests (kafka/dev_broker.h, librdkafka's mock cluster) on loopback, until
// SIGTERM/SIGINT. The first stdout line is `bootstrap.servers=HOST:PORT`, so scripts can
// start it in the background and read where it listens.
//
// `lakepipe kafka consume --bootstrap-servers S --topic T`: every message the topic holds
// now, as JSON lines (a plain consumer, as `kcat -C -e`; kafka/topic_reader.h), for
// checking what a sink wrote.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "kafka/dev_broker.h"
#include "kafka/topic_reader.h"

#include <nlohmann/json.hpp>

namespace lakepipe::cli {
namespace {

struct ServeArgs {
  int partitions = 1;
  std::string topics;
  int brokers = 1;
};

volatile sig_atomic_t g_stop = 0;

struct ConsumeArgs {
  std::string servers;
  std::string topic;
};

Status RunKafkaConsume(const ConsumeArgs& a) {
  std::string line;
  int64_t n = 0;
  LP_RETURN_IF_ERROR(kafka::ReadTopic(a.servers, {}, a.topic, {}, [&](const kafka::TopicMessage& m) -> Status {
    nlohmann::json j = {{"partition", m.partition}, {"offset", m.offset}};
    j["timestamp_ms"] = m.timestamp_ms >= 0 ? nlohmann::json(m.timestamp_ms) : nlohmann::json(nullptr);
    j["key"] = m.key ? nlohmann::json(*m.key) : nlohmann::json(nullptr);
    j["value"] = m.value ? nlohmann::json(*m.value) : nlohmann::json(nullptr);
    nlohmann::json headers = nlohmann::json::object();
    for (const auto& [k, v] : m.headers) headers[k] = v;
    j["headers"] = headers;
    // Bytes that are not UTF-8 are shown as U+FFFD rather than failing the dump.
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
    ++n;
    return Status::OK();
  }));
  std::fflush(stdout);
  std::fprintf(stderr, "%lld message(s) from topic %s\n", static_cast<long long>(n), a.topic.c_str());
  return Status::OK();
}
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
  CLI::App* kafka = app.add_subcommand("kafka", "Kafka tools: a development broker, a plain consumer");
  kafka->require_subcommand(1);
  auto args = std::make_shared<ServeArgs>();
  CLI::App* serve = kafka->add_subcommand(
      "serve", "Run an in-memory Kafka-protocol broker on loopback for development (until SIGTERM)");
  serve->add_option("--partitions", args->partitions, "Partitions of each --topics topic")->capture_default_str();
  serve->add_option("--topics", args->topics, "Topics to create, comma-separated (others are created on first use)");
  serve->add_option("--brokers", args->brokers, "Brokers in the cluster")->capture_default_str();
  serve->callback([args, &registry] { registry.Finish(RunKafkaServe(*args)); });
  auto cargs = std::make_shared<ConsumeArgs>();
  CLI::App* consume = kafka->add_subcommand(
      "consume", "Print every message a topic holds now as JSON lines (partition, offset, key, value, headers)");
  consume->add_option("--bootstrap-servers", cargs->servers, "host:port[,host:port]")->required();
  consume->add_option("--topic", cargs->topic, "Topic to read")->required();
  consume->callback([cargs, &registry] { registry.Finish(RunKafkaConsume(*cargs)); });
}

}  // namespace lakepipe::cli
