// Plain reads of a topic outside any pipeline: its partitions' end offsets, and every
// message from given offsets up to the end as it was when the read started. The Kafka
// sink (publish/kafka_sink.h) uses them to find what an interrupted run already wrote;
// `lakepipe kafka consume` uses them to dump a topic (as `kcat -C -e` does).
//
// Each call opens its own short-lived librdkafka client; no consumer-group offsets are
// read or committed. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace lakepipe::kafka {

struct TopicMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;  // -1: not available
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::string>> headers;  // in the message's order
};

// Partition -> high watermark (the offset the next message will get). A topic that does
// not exist yet has no partitions (an empty map), not an error.
Result<std::map<int32_t, int64_t>> TopicEndOffsets(const std::string& bootstrap_servers,
                                                   const std::map<std::string, std::string>& properties,
                                                   const std::string& topic, int timeout_ms = 15000);

// Calls `fn` for each message of `topic`, partition by partition in offset order, from
// `from[partition]` (a partition not in `from`, or an offset retention removed: from its
// first message) to the partition's end offset when the read started. An error from `fn`
// stops the read and is returned. IOError when the brokers stop answering for `timeout_ms`.
Status ReadTopic(const std::string& bootstrap_servers, const std::map<std::string, std::string>& properties,
                 const std::string& topic, const std::map<int32_t, int64_t>& from,
                 const std::function<Status(const TopicMessage&)>& fn, int timeout_ms = 30000);

}  // namespace lakepipe::kafka
