#include "kafka/producer.h"

#include <atomic>
#include <mutex>

#include "kafka/client.h"

namespace lakepipe::kafka {

struct Producer::Impl {
  KafkaHandle rk;
  std::mutex mu;
  std::string first_error;  // first failed delivery (delivery reports come from poll)
};

Result<std::unique_ptr<Producer>> Producer::Open(const std::string& bootstrap_servers,
                                                 const std::map<std::string, std::string>& properties) {
  std::map<std::string, std::string> props = {{"bootstrap.servers", bootstrap_servers},
                                              {"enable.idempotence", "true"},
                                              {"linger.ms", "5"},
                                              {"client.id", "lakepipe-producer"}};
  for (const auto& [k, v] : properties) props[k] = v;
  LP_ASSIGN_OR_RETURN(KafkaConf conf, MakeConf(props));
  std::unique_ptr<Producer> p(new Producer());
  p->impl_ = std::make_unique<Impl>();
  rd_kafka_conf_set_opaque(conf.get(), p->impl_.get());
  rd_kafka_conf_set_dr_msg_cb(conf.get(), [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    auto* impl = static_cast<Impl*>(opaque);
    std::lock_guard<std::mutex> lock(impl->mu);
    if (impl->first_error.empty()) {
      impl->first_error = std::string("delivery to ") + rd_kafka_topic_name(m->rkt) + " [" +
                          std::to_string(m->partition) + "] failed: " + rd_kafka_err2str(m->err);
    }
  });
  LP_ASSIGN_OR_RETURN(p->impl_->rk, NewClient(RD_KAFKA_PRODUCER, std::move(conf)));
  return p;
}

Producer::~Producer() {
  if (impl_ && impl_->rk) rd_kafka_flush(impl_->rk.get(), 10000);
}

Status Producer::Send(const std::string& topic, int32_t partition, std::optional<std::string_view> key,
                      std::optional<std::string_view> value, int64_t timestamp_ms,
                      const std::vector<std::pair<std::string, std::string>>& headers) {
  while (true) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (!headers.empty()) {
      hdrs = rd_kafka_headers_new(headers.size());
      for (const auto& [k, v] : headers) rd_kafka_header_add(hdrs, k.data(), static_cast<ssize_t>(k.size()), v.data(), static_cast<ssize_t>(v.size()));
    }
    void* key_data = key ? const_cast<char*>(key->data()) : nullptr;
    size_t key_size = key ? key->size() : 0;
    void* value_data = value ? const_cast<char*>(value->data()) : nullptr;
    size_t value_size = value ? value->size() : 0;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        impl_->rk.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key_data, key_size), RD_KAFKA_V_VALUE(value_data, value_size),
        RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);  // not taken on failure
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(impl_->rk.get(), 10);
      continue;
    }
    return KafkaError(err, "producing to " + topic);
  }
  rd_kafka_poll(impl_->rk.get(), 0);
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->first_error.empty()) return Status::IOError(impl_->first_error);
  return Status::OK();
}

Status Producer::Flush(int timeout_ms) {
  rd_kafka_resp_err_t err = rd_kafka_flush(impl_->rk.get(), timeout_ms);
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->first_error.empty()) return Status::IOError(impl_->first_error);
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "waiting for Kafka to acknowledge messages");
  return Status::OK();
}

}  // namespace lakepipe::kafka
