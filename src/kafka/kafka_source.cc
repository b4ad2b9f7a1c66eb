#include "kafka/kafka_source.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "kafka/client.h"

namespace lakepipe::kafka {
namespace {

using Json = nlohmann::json;
using runtime::StreamBacklog;
using runtime::StreamRead;

// How long a metadata or offsets request may wait for the brokers (a broker that is down
// is retried by librdkafka meanwhile), and how long a read may make no progress before
// the batch fails (and the scheduler retries it with backoff).
constexpr int kRequestTimeoutMs = 15000;
constexpr int64_t kReadStallMs = 30000;

struct PartitionRange {
  std::string topic;
  int32_t partition = 0;
  int64_t start = 0;
  int64_t end = 0;
};

Json RangeJson(const std::vector<PartitionRange>& parts) {
  Json arr = Json::array();
  for (const auto& p : parts)
    arr.push_back({{"topic", p.topic}, {"partition", p.partition}, {"start", p.start}, {"end", p.end}});
  return {{"partitions", std::move(arr)}};
}

Result<std::vector<PartitionRange>> ParseRange(const Json& range) {
  if (!range.is_object() || !range.contains("partitions") || !range["partitions"].is_array()) {
    return Status::Corruption("Kafka range is not {\"partitions\": [...]}: " + range.dump());
  }
  std::vector<PartitionRange> out;
  for (const auto& p : range["partitions"]) {
    if (!p.is_object() || !p.contains("topic") || !p["topic"].is_string() || !p.contains("partition") ||
        !p["partition"].is_number_integer() || !p.contains("start") || !p["start"].is_number_integer() ||
        !p.contains("end") || !p["end"].is_number_integer()) {
      return Status::Corruption("Kafka range entry is not {topic, partition, start, end}: " + p.dump());
    }
    out.push_back({p["topic"].get<std::string>(), p["partition"].get<int32_t>(), p["start"].get<int64_t>(),
                   p["end"].get<int64_t>()});
  }
  return out;
}

std::string Where(const std::string& topic, int32_t partition) {
  return "topic " + topic + " partition " + std::to_string(partition);
}

// Column builders for read_kafka's fixed columns (sql/stream_source.cc), one set per
// partition so that the rows come out in (partition, offset) order.
struct RowBuilder {
  explicit RowBuilder(const Schema& schema) {
    for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  }
  std::vector<Column> cols;
  int64_t rows = 0;

  void Add(const rd_kafka_message_t* m, const std::string& topic) {
    if (m->key != nullptr) cols[0].AppendString({static_cast<const char*>(m->key), m->key_len});
    else cols[0].AppendNull();
    if (m->payload != nullptr) cols[1].AppendString({static_cast<const char*>(m->payload), m->len});
    else cols[1].AppendNull();
    cols[2].AppendString(topic);
    cols[3].Append<int32_t>(m->partition);
    cols[4].Append<int64_t>(m->offset);
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) {
      cols[5].AppendNull();
      cols[6].AppendNull();
    } else {
      cols[5].Append<int64_t>(ts * 1000);
      // Spark's timestampType: 0 CreateTime, 1 LogAppendTime.
      cols[6].Append<int32_t>(tstype == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? 1 : 0);
    }
    Column& headers = cols[7];
    Column& entry = headers.child(0);
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs != nullptr) {
      const char* name;
      const void* value;
      size_t size;
      for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
        entry.child(0).AppendString(name);
        if (value != nullptr) entry.child(1).AppendString({static_cast<const char*>(value), size});
        else entry.child(1).AppendNull();
        entry.CloseStructRow();
      }
    }
    headers.CloseListRow();
    ++rows;
  }
};

class KafkaSource : public runtime::StreamSource {
 public:
  KafkaSource(KafkaSourceOptions options, runtime::StreamSourceContext context)
      : o_(std::move(options)), ctx_(std::move(context)) {}

  ~KafkaSource() override {
    {
      std::lock_guard<std::mutex> lock(wake_mu_);
      wake_stop_ = true;
    }
    wake_cv_.notify_all();
    if (wake_thread_.joinable()) wake_thread_.join();
  }

  Status Init() {
    LP_ASSIGN_OR_RETURN(consumer_, NewConsumer(true));
    return Status::OK();
  }

  Result<std::optional<Json>> PlanNext(const Json* previous) override {
    std::vector<PartitionRange> prev;
    if (previous != nullptr) {
      LP_ASSIGN_OR_RETURN(prev, ParseRange(*previous));
    }
    std::map<std::pair<std::string, int32_t>, int64_t> prev_end;
    std::set<std::string> prev_topics;
    for (const auto& p : prev) {
      prev_end[{p.topic, p.partition}] = p.end;
      prev_topics.insert(p.topic);
    }
    LP_ASSIGN_OR_RETURN(auto current, CurrentPartitions());
    // A partition read before and gone now: its topic was deleted (or shrank, which Kafka
    // does not do): what it still held is lost.
    for (const auto& p : prev) {
      if (current.count({p.topic, p.partition})) continue;
      std::string what = Where(p.topic, p.partition) + " no longer exists (topic deleted?); offsets from " +
                         std::to_string(p.end) + " on that were not read are lost";
      LP_RETURN_IF_ERROR(DataLoss(what));
    }
    std::vector<PartitionRange> next;
    int64_t total_lag = 0;
    std::vector<int64_t> lag;
    std::vector<std::pair<int64_t, int64_t>> marks;
    for (const auto& [tp, unused] : current) {
      int64_t lo = 0, hi = 0;
      rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(consumer_.get(), tp.first.c_str(), tp.second, &lo,
                                                                 &hi, kRequestTimeoutMs);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return KafkaError(err, "read_kafka: offsets of " + Where(tp.first, tp.second) + " at " + o_.bootstrap_servers);
      }
      marks.emplace_back(lo, hi);
      PartitionRange r{tp.first, tp.second, 0, 0};
      auto it = prev_end.find(tp);
      if (it != prev_end.end()) {
        r.start = it->second;
      } else {
        LP_ASSIGN_OR_RETURN(r.start, StartOf(tp.first, tp.second, lo, hi, previous == nullptr));
      }
      if (r.start < lo) {
        std::string what = Where(tp.first, tp.second) + ": offsets [" + std::to_string(r.start) + ", " +
                           std::to_string(lo) + ") were removed (retention) before they were read";
        LP_RETURN_IF_ERROR(DataLoss(what));
        r.start = lo;
      } else if (r.start > hi) {
        std::string what = Where(tp.first, tp.second) + ": the next offset to read is " + std::to_string(r.start) +
                           " but the partition ends at " + std::to_string(hi) +
                           " (topic re-created?); offsets [" + std::to_string(lo) + ", " + std::to_string(hi) +
                           ") are read instead";
        LP_RETURN_IF_ERROR(DataLoss(what));
        r.start = lo;
      }
      r.end = hi;
      lag.push_back(hi - r.start);
      total_lag += hi - r.start;
      next.push_back(r);
    }
    // maxOffsetsPerTrigger: shared out in proportion to each partition's lag (Spark's rule).
    int64_t planned = total_lag;
    if (o_.max_offsets_per_trigger > 0 && total_lag > o_.max_offsets_per_trigger) {
      planned = 0;
      for (size_t i = 0; i < next.size(); ++i) {
        int64_t take = static_cast<int64_t>(static_cast<__int128>(o_.max_offsets_per_trigger) * lag[i] / total_lag);
        next[i].end = next[i].start + take;
        planned += take;
      }
      for (size_t i = 0; i < next.size() && planned < o_.max_offsets_per_trigger; ++i) {
        if (next[i].end < next[i].start + lag[i]) {
          ++next[i].end;
          ++planned;
        }
      }
    }
    backlog_.records = total_lag - planned;
    backlog_.bytes = -1;
    FlushErrors();
    std::sort(next.begin(), next.end(), [](const PartitionRange& a, const PartitionRange& b) {
      return a.topic != b.topic ? a.topic < b.topic : a.partition < b.partition;
    });
    ArmWakeup(next);
    // The first plan is written even when it reads nothing: it records where the
    // partitions start (`latest` must not move on while nothing arrives).
    bool changed = previous == nullptr || next.size() != prev.size();
    if (planned == 0 && !changed) return std::optional<Json>();
    return std::optional<Json>(RangeJson(next));
  }

  Result<StreamRead> Read(const Json& range, const Schema& columns) override {
    LP_ASSIGN_OR_RETURN(auto parts, ParseRange(range));
    StreamRead out;
    std::vector<PartitionRange> todo;
    for (const auto& p : parts)
      if (p.end > p.start) todo.push_back(p);
    if (todo.empty()) return out;
    std::vector<RowBuilder> builders;
    std::vector<int64_t> next_offset;
    std::map<std::pair<std::string, int32_t>, size_t> index;
    for (size_t i = 0; i < todo.size(); ++i) {
      builders.emplace_back(columns);
      next_offset.push_back(todo[i].start);
      index[{todo[i].topic, todo[i].partition}] = i;
    }
    size_t remaining = todo.size();
    std::vector<bool> done(todo.size(), false);
    LP_RETURN_IF_ERROR(Assign(todo, next_offset, done));
    auto last_progress = std::chrono::steady_clock::now();
    std::map<int64_t, int64_t> produced_ms;  // message timestamp (ms) -> rows
    while (remaining > 0) {
      KafkaMessage m(rd_kafka_consumer_poll(consumer_.get(), 100));
      auto now = std::chrono::steady_clock::now();
      if (!m) {
        if (std::chrono::duration_cast<std::chrono::milliseconds>(now - last_progress).count() > kReadStallMs) {
          rd_kafka_assign(consumer_.get(), nullptr);
          FlushErrors();
          std::string stuck;
          for (size_t i = 0; i < todo.size(); ++i)
            if (!done[i])
              stuck += (stuck.empty() ? "" : ", ") + Where(todo[i].topic, todo[i].partition) + " at offset " +
                       std::to_string(next_offset[i]) + " of [" + std::to_string(todo[i].start) + ", " +
                       std::to_string(todo[i].end) + ")";
          return Status::IOError("read_kafka: no progress for " + std::to_string(kReadStallMs / 1000) + " s from " +
                                 o_.bootstrap_servers + " reading " + stuck + "; the batch is retried");
        }
        continue;
      }
      const char* tname = m->rkt != nullptr ? rd_kafka_topic_name(m->rkt) : "";
      auto it = index.find({tname, m->partition});
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;  // the end is planned: keep waiting
        if (m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE && it != index.end()) {
          // Retention removed planned offsets after planning.
          size_t i = it->second;
          int64_t lo = 0, hi = 0;
          rd_kafka_query_watermark_offsets(consumer_.get(), tname, m->partition, &lo, &hi, kRequestTimeoutMs);
          std::string what = Where(todo[i].topic, todo[i].partition) + ": offsets [" + std::to_string(next_offset[i]) +
                             ", " + std::to_string(std::min(lo, todo[i].end)) +
                             ") were removed (retention) after they were planned, before they were read";
          Status loss = DataLoss(what);
          if (!loss.ok()) {
            rd_kafka_assign(consumer_.get(), nullptr);
            return loss;
          }
          next_offset[i] = std::max(next_offset[i], lo);
          if (next_offset[i] >= todo[i].end) {
            done[i] = true;
            --remaining;
          }
          LP_RETURN_IF_ERROR(Assign(todo, next_offset, done));
          last_progress = now;
          continue;
        }
        errors_.push_back(std::string(rd_kafka_err2str(m->err)));
        continue;
      }
      if (it == index.end()) continue;
      size_t i = it->second;
      if (done[i] || m->offset < next_offset[i]) continue;
      if (m->offset >= todo[i].end) {
        done[i] = true;
        --remaining;
        continue;
      }
      builders[i].Add(m.get(), todo[i].topic);
      rd_kafka_timestamp_type_t tstype;
      int64_t ts = rd_kafka_message_timestamp(m.get(), &tstype);
      if (tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) ++produced_ms[ts];
      next_offset[i] = m->offset + 1;
      last_progress = now;
      if (next_offset[i] >= todo[i].end) {
        done[i] = true;
        --remaining;
      }
    }
    rd_kafka_assign(consumer_.get(), nullptr);
    FlushErrors();
    for (auto& b : builders) {
      if (b.rows == 0) continue;
      std::vector<ColumnPtr> cols;
      for (auto& c : b.cols) cols.push_back(std::make_shared<Column>(std::move(c)));
      out.batches.emplace_back(columns, std::move(cols), b.rows);
    }
    for (const auto& [ms, n] : produced_ms) out.produced_at.emplace_back(ms * 1000, n);
    return out;
  }

  StreamBacklog Backlog() const override { return backlog_; }

  void SetWakeup(std::function<void()> wake) override {
    auto consumer = NewConsumer(false, IsMockCluster(consumer_.get()));
    if (!consumer.ok()) return;  // the scheduler's backstop still finds new messages
    std::lock_guard<std::mutex> lock(wake_mu_);
    wake_ = std::move(wake);
    wake_rk_ = std::move(*consumer);
    wake_thread_ = std::thread([this] { WakeLoop(); });
  }

 private:
  Result<KafkaHandle> NewConsumer(bool main, bool mock_cluster = false) {
    std::map<std::string, std::string> props = o_.properties;
    props["group.id"] = o_.group_id_prefix + "-" + ctx_.flow_id;
    props["enable.auto.commit"] = "false";
    props["enable.auto.offset.store"] = "false";
    props["auto.offset.reset"] = "error";
    props["enable.partition.eof"] = "true";
    // Spark's consumers read uncommitted data unless told otherwise (kafka.isolation.level).
    if (!props.count("isolation.level")) props["isolation.level"] = "read_uncommitted";
    if (!props.count("client.id")) props["client.id"] = main ? "lakepipe-source" : "lakepipe-source-wakeup";
    // Read() fetches ranges known to exist, so a long poll there only adds latency: a
    // fetch sent before every assigned partition's fetcher has started, or after some
    // partitions reached their planned end, comes back empty only after the broker's wait
    // (librdkafka's mock cluster holds an empty fetch for the whole wait, even when data
    // arrives meanwhile; 500 ms by default cost each Bronze batch up to half a second). The
    // wake-up consumer waits for new data, so a long poll is its purpose: a real broker
    // answers it as soon as a message arrives. The mock cluster does not (it answers an
    // empty fetch only when the wait is over), so against it a long wait would be a fixed
    // polling interval added to every batch's latency; there the wake-up consumer asks
    // again every 5 ms, which costs the in-memory broker little.
    if (main && !props.count("fetch.wait.max.ms")) props["fetch.wait.max.ms"] = "5";
    if (!main) props["fetch.wait.max.ms"] = mock_cluster ? "5" : "500";
    LP_ASSIGN_OR_RETURN(KafkaConf conf, MakeConf(props));
    if (main) {
      rd_kafka_conf_set_opaque(conf.get(), this);
      rd_kafka_conf_set_error_cb(conf.get(), [](rd_kafka_t*, int err, const char* reason, void* opaque) {
        auto* self = static_cast<KafkaSource*>(opaque);
        self->errors_.push_back(std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))) + ": " + reason);
      });
    }
    LP_ASSIGN_OR_RETURN(KafkaHandle rk, NewClient(RD_KAFKA_CONSUMER, std::move(conf)));
    rd_kafka_poll_set_consumer(rk.get());
    return rk;
  }

  // The partitions the source reads now: (topic, partition) -> unused.
  Result<std::map<std::pair<std::string, int32_t>, int>> CurrentPartitions() {
    const rd_kafka_metadata_t* raw = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(consumer_.get(), 1, nullptr, &raw, kRequestTimeoutMs);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaError(err, "read_kafka: metadata from " + o_.bootstrap_servers);
    }
    std::unique_ptr<const rd_kafka_metadata_t, KafkaDeleter> md(raw);
    std::map<std::string, int> partitions_of;
    for (int i = 0; i < md->topic_cnt; ++i) {
      const auto& t = md->topics[i];
      if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      partitions_of[t.topic] = t.partition_cnt;
    }
    std::map<std::pair<std::string, int32_t>, int> out;
    auto add_topic = [&](const std::string& topic) {
      auto it = partitions_of.find(topic);
      if (it == partitions_of.end()) return;
      for (int32_t p = 0; p < it->second; ++p) out[{topic, p}] = 0;
    };
    switch (o_.mode) {
      case KafkaSourceOptions::Mode::kSubscribe:
        for (const auto& t : o_.topics) add_topic(t);
        break;
      case KafkaSourceOptions::Mode::kSubscribePattern: {
        std::regex re(o_.pattern);
        for (const auto& [t, n] : partitions_of)
          if (t.rfind("__", 0) != 0 && std::regex_match(t, re)) add_topic(t);
        break;
      }
      case KafkaSourceOptions::Mode::kAssign:
        for (const auto& [t, parts] : o_.assign) {
          auto it = partitions_of.find(t);
          for (int32_t p : parts)
            if (it != partitions_of.end() && p < it->second) out[{t, p}] = 0;
        }
        break;
    }
    return out;
  }

  // Where a partition the flow has not read yet starts.
  Result<int64_t> StartOf(const std::string& topic, int32_t partition, int64_t lo, int64_t hi, bool first_batch) {
    using Start = KafkaSourceOptions::Start;
    if (o_.starting == Start::kOffsets) {
      auto t = o_.starting_offsets.find(topic);
      if (t != o_.starting_offsets.end()) {
        auto p = t->second.find(partition);
        if (p != t->second.end()) {
          return p->second == kEarliestOffset ? lo : p->second == kLatestOffset ? hi : p->second;
        }
      }
      if (first_batch) {
        return Status::InvalidArgument("read_kafka option `startingOffsets` does not give an offset for " +
                                       Where(topic, partition) + " (use -2 for earliest, -1 for latest)");
      }
    }
    // Partitions that appear after the flow started are read from their beginning (Spark).
    if (!first_batch) return lo;
    if (o_.starting == Start::kEarliest) return lo;
    if (o_.starting == Start::kLatest) return hi;
    // startingTimestamp: the first offset at or after it.
    PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = o_.starting_timestamp_ms;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(consumer_.get(), list.get(), kRequestTimeoutMs);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaError(err, "read_kafka: offset for startingTimestamp in " + Where(topic, partition));
    }
    int64_t off = list->elems[0].offset;
    return off < 0 ? hi : off;
  }

  Status DataLoss(const std::string& what) {
    if (o_.fail_on_data_loss) {
      return Status::InvalidArgument("read_kafka: data loss: " + what +
                                     " (failOnDataLoss => false logs such losses and goes on)");
    }
    if (ctx_.warn) ctx_.warn("kafka_data_loss", "read_kafka " + o_.Label() + ": " + what);
    return Status::OK();
  }

  Status Assign(const std::vector<PartitionRange>& todo, const std::vector<int64_t>& next, const std::vector<bool>& done) {
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(todo.size())));
    for (size_t i = 0; i < todo.size(); ++i) {
      if (done[i]) continue;
      rd_kafka_topic_partition_list_add(list.get(), todo[i].topic.c_str(), todo[i].partition)->offset = next[i];
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(consumer_.get(), list.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err, "read_kafka: assigning partitions");
    return Status::OK();
  }

  // Broker errors seen by librdkafka (a broker down, a request failing) go to the event
  // log once per plan or read, even when librdkafka's retries hid them from the result.
  void FlushErrors() {
    if (errors_.empty()) return;
    std::set<std::string> unique(errors_.begin(), errors_.end());
    errors_.clear();
    std::string text;
    for (const auto& e : unique) text += (text.empty() ? "" : "; ") + e;
    if (ctx_.warn) ctx_.warn("kafka_client_error", "read_kafka " + o_.Label() + ": " + text);
  }

  void ArmWakeup(const std::vector<PartitionRange>& next) {
    std::lock_guard<std::mutex> lock(wake_mu_);
    if (!wake_rk_) return;
    wake_positions_ = next;
    wake_rearm_ = true;
    wake_cv_.notify_all();
  }

  // Waits, with a long-polling fetch from the planned ends, for any message the last plan
  // does not cover; then wakes the scheduler once and waits to be re-armed by a plan.
  void WakeLoop() {
    bool armed = false;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(wake_mu_);
        if (!armed) wake_cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return wake_stop_ || wake_rearm_; });
        if (wake_stop_) break;
        if (wake_rearm_) {
          wake_rearm_ = false;
          PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(wake_positions_.size()) + 1));
          for (const auto& p : wake_positions_)
            rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition)->offset = p.end;
          armed = rd_kafka_assign(wake_rk_.get(), list.get()) == RD_KAFKA_RESP_ERR_NO_ERROR;
        }
      }
      if (!armed) continue;
      KafkaMessage m(rd_kafka_consumer_poll(wake_rk_.get(), 200));
      if (m && m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        armed = false;
        rd_kafka_assign(wake_rk_.get(), nullptr);
        std::function<void()> wake;
        {
          std::lock_guard<std::mutex> lock(wake_mu_);
          wake = wake_;
        }
        if (wake) wake();
      }
    }
  }

  KafkaSourceOptions o_;
  runtime::StreamSourceContext ctx_;
  KafkaHandle consumer_;
  StreamBacklog backlog_;
  std::vector<std::string> errors_;  // from the error callback, on the flow's thread (polls)

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  std::function<void()> wake_;
  KafkaHandle wake_rk_;
  std::vector<PartitionRange> wake_positions_;
  bool wake_rearm_ = false;
  bool wake_stop_ = false;
  std::thread wake_thread_;
};

}  // namespace

Result<std::unique_ptr<runtime::StreamSource>> OpenKafkaSource(const KafkaSourceOptions& options,
                                                               const runtime::StreamSourceContext& context) {
  auto source = std::make_unique<KafkaSource>(options, context);
  LP_RETURN_IF_ERROR(source->Init());
  return std::unique_ptr<runtime::StreamSource>(std::move(source));
}

}  // namespace lakepipe::kafka
