#include "kafka/dev_broker.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <vector>

#include "kafka/client.h"

namespace lakepipe::kafka {

struct DevBroker::Impl {
  KafkaHandle rk;  // the mock cluster's bookkeeping handle; destroyed after the cluster
  rd_kafka_mock_cluster_t* cluster = nullptr;
  ~Impl() {
    if (cluster != nullptr) rd_kafka_mock_cluster_destroy(cluster);
  }
};

Result<std::unique_ptr<DevBroker>> DevBroker::Start(int brokers) {
  if (brokers < 1) return Status::InvalidArgument("a development broker needs at least 1 broker");
  LP_ASSIGN_OR_RETURN(KafkaConf conf, MakeConf({{"client.id", "lakepipe-dev-broker"}}));
  LP_ASSIGN_OR_RETURN(KafkaHandle rk, NewClient(RD_KAFKA_PRODUCER, std::move(conf)));
  std::unique_ptr<DevBroker> b(new DevBroker());
  b->impl_ = std::make_unique<Impl>();
  b->impl_->rk = std::move(rk);
  b->impl_->cluster = rd_kafka_mock_cluster_new(b->impl_->rk.get(), brokers);
  if (b->impl_->cluster == nullptr) return Status::IOError("cannot start librdkafka's mock cluster");
  b->bootstrap_ = rd_kafka_mock_cluster_bootstraps(b->impl_->cluster);
  return b;
}

DevBroker::~DevBroker() = default;

Status DevBroker::CreateTopic(const std::string& topic, int partitions) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(impl_->cluster, topic.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "creating topic " + topic);
  return Status::OK();
}

Status DevBroker::SetBrokerDown(int32_t id) {
  rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_down(impl_->cluster, id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "setting broker " + std::to_string(id) + " down");
  return Status::OK();
}

Status DevBroker::SetBrokerUp(int32_t id) {
  rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_up(impl_->cluster, id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "setting broker " + std::to_string(id) + " up");
  return Status::OK();
}

void DevBroker::PushRequestErrors(int16_t api_key, int count, int error) {
  std::vector<rd_kafka_resp_err_t> errs(static_cast<size_t>(count), static_cast<rd_kafka_resp_err_t>(error));
  rd_kafka_mock_push_request_errors_array(impl_->cluster, api_key, errs.size(), errs.data());
}

}  // namespace lakepipe::kafka
