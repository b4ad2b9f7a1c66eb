// Small shared pieces of librdkafka use: handles with owners, configuration from a
// property map, and errors as Status. Thread-safety: as librdkafka's handles (an rd_kafka_t
// is thread-safe; a configuration object is not).
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>

#include "common/status.h"

namespace lakepipe::kafka {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;
using KafkaMessage = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;

// A configuration with `properties` set (InvalidArgument naming the property).
Result<KafkaConf> MakeConf(const std::map<std::string, std::string>& properties);

// rd_kafka_new from `conf` (taken on success).
Result<KafkaHandle> NewClient(rd_kafka_type_t type, KafkaConf conf);

// `what`: <librdkafka's text> as an IOError (broker, network) or InvalidArgument.
Status KafkaError(rd_kafka_resp_err_t err, const std::string& what);

// Whether `rk` is connected to librdkafka's mock cluster (`lakepipe kafka serve`, the
// tests), which names itself "mockCluster<hex>" in its metadata. Waits up to 1 s for
// metadata when `rk` has none yet; false when none arrives.
bool IsMockCluster(rd_kafka_t* rk);

}  // namespace lakepipe::kafka
