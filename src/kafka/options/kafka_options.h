// The options of read_kafka(...) (Databricks' names, docs/kafka.md), parsed once into
// KafkaSourceOptions: by `validate` (through sql/stream_source.h) and by the Kafka source
// when `run` opens it, so both accept and refuse exactly the same options.
//
// `kafka.*` options are librdkafka properties with the prefix removed; each is checked by
// librdkafka itself (rd_kafka_conf_set) at parse time. The Java-only
// `kafka.sasl.jaas.config` of a PlainLoginModule (the Event Hubs setup) becomes
// sasl.username / sasl.password. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace lakepipe::kafka {

// Offsets a starting position may name besides a number (Spark's JSON convention).
inline constexpr int64_t kEarliestOffset = -2;
inline constexpr int64_t kLatestOffset = -1;

struct KafkaSourceOptions {
  std::string bootstrap_servers;
  enum class Mode { kSubscribe, kSubscribePattern, kAssign };
  Mode mode = Mode::kSubscribe;
  std::vector<std::string> topics;                       // subscribe (comma-separated list)
  std::string pattern;                                   // subscribePattern (whole topic name)
  std::map<std::string, std::vector<int32_t>> assign;    // assign: {"topic":[0,1]}
  // Where a partition the flow has never read starts (the flow's first batch, for
  // every partition; later, only startingOffsets JSON entries apply to partitions that
  // appear, others start at the earliest offset, as in Spark).
  enum class Start { kEarliest, kLatest, kOffsets, kTimestamp };
  Start starting = Start::kLatest;
  std::map<std::string, std::map<int32_t, int64_t>> starting_offsets;  // kOffsets; -2/-1 allowed
  int64_t starting_timestamp_ms = 0;                                   // kTimestamp
  int64_t max_offsets_per_trigger = 0;  // 0: no limit
  bool fail_on_data_loss = true;
  std::string group_id_prefix = "lakepipe-kafka-source";
  // librdkafka properties from kafka.* (prefix removed), jaas translated.
  std::map<std::string, std::string> properties;
  // A short text for graphs and messages: "host:port/topic1,topic2" (no secrets).
  std::string Label() const;
};

// Parses read_kafka's named arguments (keys lower-cased). InvalidArgument names the
// option and what is accepted.
Result<KafkaSourceOptions> ParseKafkaSourceOptions(const std::map<std::string, std::string>& options);

// Checks `properties` with librdkafka's own configuration parser (unknown property, bad
// value): InvalidArgument naming the property as `kafka.<name>`.
Status CheckKafkaProperties(const std::map<std::string, std::string>& properties);

}  // namespace lakepipe::kafka
