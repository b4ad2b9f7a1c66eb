#include "kafka/client.h"

namespace lakepipe::kafka {

Result<KafkaConf> MakeConf(const std::map<std::string, std::string>& properties) {
  KafkaConf conf(rd_kafka_conf_new());
  // librdkafka logs to stderr by default; what matters reaches us as errors (error and
  // delivery callbacks, results), which the callers report in their own words.
  rd_kafka_conf_set_log_cb(conf.get(), [](const rd_kafka_t*, int, const char*, const char*) {});
  char err[512];
  for (const auto& [k, v] : properties) {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      return Status::InvalidArgument("kafka property `" + k + "`: " + err);
    }
  }
  return conf;
}

Result<KafkaHandle> NewClient(rd_kafka_type_t type, KafkaConf conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (rk == nullptr) return Status::InvalidArgument(std::string("cannot create a Kafka client: ") + err);
  conf.release();  // owned by rk now
  return KafkaHandle(rk);
}

Status KafkaError(rd_kafka_resp_err_t err, const std::string& what) {
  std::string text = what + ": " + rd_kafka_err2str(err);
  switch (err) {
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      return Status::InvalidArgument(text);
    default:
      return Status::IOError(text);
  }
}

bool IsMockCluster(rd_kafka_t* rk) {
  char* id = rd_kafka_clusterid(rk, 1000);
  if (id == nullptr) return false;
  bool mock = std::string(id).starts_with("mockCluster");
  rd_kafka_mem_free(rk, id);
  return mock;
}

}  // namespace lakepipe::kafka
