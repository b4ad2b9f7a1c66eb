// DevBroker: a Kafka-protocol broker in this process for development and tests, built on
// librdkafka's mock cluster (rdkafka_mock.h). It listens on loopback, keeps every message
// in memory (at most ~5 MB or 100,000 message sets per partition: older ones are dropped,
// like retention), and is gone when the object is. Not for production data.
//
// Thread-safety: the methods may be called from any thread (the mock cluster runs on its
// own thread and locks internally). Call order: Start, then the rest, then destruction.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

struct rd_kafka_mock_cluster_s;

namespace lakepipe::kafka {

class DevBroker {
 public:
  // Starts a cluster of `brokers` brokers (ids 1..brokers) on 127.0.0.1 ports chosen by
  // the system.
  static Result<std::unique_ptr<DevBroker>> Start(int brokers = 1);
  ~DevBroker();

  // "127.0.0.1:port[,127.0.0.1:port...]" for bootstrap.servers.
  const std::string& bootstrap_servers() const { return bootstrap_; }

  Status CreateTopic(const std::string& topic, int partitions);
  // Takes broker `id` down (connections refused) / back up.
  Status SetBrokerDown(int32_t id);
  Status SetBrokerUp(int32_t id);
  // The next `count` requests of Kafka API `api_key` (e.g. 1 = Fetch, 2 = ListOffsets,
  // 3 = Metadata) fail with `error` (an rd_kafka_resp_err_t value).
  void PushRequestErrors(int16_t api_key, int count, int error);

 private:
  DevBroker() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string bootstrap_;
};

}  // namespace lakepipe::kafka
