// Producer: sends messages to Kafka (librdkafka's idempotent producer: a retried send is
// never written twice), for `lakepipe produce --to kafka://...`, the Kafka sink and tests.
// Send queues a message; Flush waits until every queued message is acknowledged, and
// returns the first delivery failure.
//
// Thread-safety: one thread at a time. Call order: Open, Send/Flush any number of times.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lakepipe::kafka {

class Producer {
 public:
  // `properties`: extra librdkafka properties (e.g. linger.ms).
  static Result<std::unique_ptr<Producer>> Open(const std::string& bootstrap_servers,
                                                const std::map<std::string, std::string>& properties = {});
  ~Producer();

  // Queues one message; partition -1 lets the key choose (librdkafka's default
  // partitioner). `timestamp_ms` 0: now. Waits while the local queue is full.
  Status Send(const std::string& topic, int32_t partition, std::optional<std::string_view> key,
              std::optional<std::string_view> value, int64_t timestamp_ms = 0,
              const std::vector<std::pair<std::string, std::string>>& headers = {});
  Status Flush(int timeout_ms = 60000);

 private:
  Producer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lakepipe::kafka
