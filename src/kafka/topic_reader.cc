#include "kafka/topic_reader.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "kafka/client.h"

namespace lakepipe::kafka {
namespace {

Result<KafkaHandle> OpenConsumer(const std::string& bootstrap_servers,
                                 const std::map<std::string, std::string>& properties) {
  std::map<std::string, std::string> props = properties;
  props["bootstrap.servers"] = bootstrap_servers;
  // A group id is required by the consumer API; nothing is ever committed to it.
  props["group.id"] = "lakepipe-topic-reader";
  props["enable.auto.commit"] = "false";
  props["enable.auto.offset.store"] = "false";
  props["auto.offset.reset"] = "earliest";
  props["enable.partition.eof"] = "true";
  if (!props.count("client.id")) props["client.id"] = "lakepipe-topic-reader";
  // Producer-only properties a sink's settings may carry are not the consumer's business.
  for (const char* p : {"linger.ms", "queue.buffering.max.ms", "batch.num.messages", "batch.size",
                        "compression.type", "compression.codec", "message.timeout.ms", "queue.buffering.max.messages",
                        "queue.buffering.max.kbytes", "retries", "message.send.max.retries", "retry.backoff.ms"}) {
    props.erase(p);
  }
  LP_ASSIGN_OR_RETURN(KafkaConf conf, MakeConf(props));
  LP_ASSIGN_OR_RETURN(KafkaHandle rk, NewClient(RD_KAFKA_CONSUMER, std::move(conf)));
  rd_kafka_poll_set_consumer(rk.get());
  return rk;
}

// Partitions of `topic` (empty when the topic does not exist).
Result<std::vector<int32_t>> Partitions(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  const rd_kafka_metadata_t* raw = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &raw, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "reading the metadata of topic " + topic);
  std::unique_ptr<const rd_kafka_metadata_t, KafkaDeleter> md(raw);
  std::vector<int32_t> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (topic != t.topic) continue;
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return out;
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(t.err, "reading the metadata of topic " + topic);
    for (int p = 0; p < t.partition_cnt; ++p) out.push_back(t.partitions[p].id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::map<int32_t, std::pair<int64_t, int64_t>>> Watermarks(rd_kafka_t* rk, const std::string& topic,
                                                                  int timeout_ms) {
  LP_ASSIGN_OR_RETURN(std::vector<int32_t> parts, Partitions(rk, topic, timeout_ms));
  std::map<int32_t, std::pair<int64_t, int64_t>> out;
  for (int32_t p : parts) {
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaError(err, "reading the offsets of topic " + topic + " partition " + std::to_string(p));
    }
    out[p] = {lo, hi};
  }
  return out;
}

}  // namespace

Result<std::map<int32_t, int64_t>> TopicEndOffsets(const std::string& bootstrap_servers,
                                                   const std::map<std::string, std::string>& properties,
                                                   const std::string& topic, int timeout_ms) {
  LP_ASSIGN_OR_RETURN(KafkaHandle rk, OpenConsumer(bootstrap_servers, properties));
  LP_ASSIGN_OR_RETURN(auto marks, Watermarks(rk.get(), topic, timeout_ms));
  std::map<int32_t, int64_t> out;
  for (const auto& [p, m] : marks) out[p] = m.second;
  return out;
}

Status ReadTopic(const std::string& bootstrap_servers, const std::map<std::string, std::string>& properties,
                 const std::string& topic, const std::map<int32_t, int64_t>& from,
                 const std::function<Status(const TopicMessage&)>& fn, int timeout_ms) {
  LP_ASSIGN_OR_RETURN(KafkaHandle rk, OpenConsumer(bootstrap_servers, properties));
  LP_ASSIGN_OR_RETURN(auto marks, Watermarks(rk.get(), topic, timeout_ms));
  // Partition by partition, so that the caller sees each in offset order with no
  // interleaving to untangle.
  for (const auto& [partition, mark] : marks) {
    auto [lo, end] = mark;
    int64_t start = lo;
    if (auto it = from.find(partition); it != from.end()) start = std::max(lo, it->second);
    if (start >= end) continue;
    PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = start;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk.get(), list.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "assigning topic " + topic);
    int64_t next = start;
    auto last_progress = std::chrono::steady_clock::now();
    Status result = Status::OK();
    while (next < end && result.ok()) {
      KafkaMessage m(rd_kafka_consumer_poll(rk.get(), 100));
      auto now = std::chrono::steady_clock::now();
      if (!m) {
        if (std::chrono::duration_cast<std::chrono::milliseconds>(now - last_progress).count() > timeout_ms) {
          result = Status::IOError("reading topic " + topic + " partition " + std::to_string(partition) +
                                   ": no progress for " + std::to_string(timeout_ms / 1000) + " s at offset " +
                                   std::to_string(next) + " of [" + std::to_string(start) + ", " +
                                   std::to_string(end) + ") from " + bootstrap_servers);
        }
        continue;
      }
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        // Offsets past the last message (transaction markers) are never delivered.
        if (m->partition == partition && m->offset >= end) next = end;
        continue;
      }
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (m->err == RD_KAFKA_RESP_ERR__TRANSPORT || m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) continue;
        result = KafkaError(m->err, "reading topic " + topic + " partition " + std::to_string(partition));
        continue;
      }
      if (m->partition != partition || m->offset < next) continue;
      last_progress = now;
      next = m->offset + 1;
      if (m->offset >= end) break;
      TopicMessage msg;
      msg.topic = topic;
      msg.partition = partition;
      msg.offset = m->offset;
      rd_kafka_timestamp_type_t tstype;
      int64_t ts = rd_kafka_message_timestamp(m.get(), &tstype);
      if (tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) msg.timestamp_ms = ts;
      if (m->key != nullptr) msg.key.emplace(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr) msg.value.emplace(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m.get(), &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs != nullptr) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
          msg.headers.emplace_back(name, value != nullptr ? std::string(static_cast<const char*>(value), size) : "");
        }
      }
      result = fn(msg);
    }
    rd_kafka_assign(rk.get(), nullptr);
    LP_RETURN_IF_ERROR(result);
  }
  return Status::OK();
}

}  // namespace lakepipe::kafka
