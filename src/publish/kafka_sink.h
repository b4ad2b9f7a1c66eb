// KafkaSink: sends pipeline tables' new rows to Kafka topics, exactly once across crashes
// (docs/kafka.md, "Sink"). Per table, for each Delta version after the last one sent:
// the rows it appended (a table without a change data feed; OPTIMIZE sends nothing), or
// its change rows with `_change_type`, `_commit_version`, `_commit_timestamp` (a table
// with delta.enableChangeDataFeed). One message per row: the key column's value as the
// key, the row as JSON (`to_json` of the row) as the value, and headers
//   lakepipe.table, lakepipe.table_id (Delta metaData.id), lakepipe.version,
//   lakepipe.seq (the row's index among the messages of its version).
//
// Exactly once, without Kafka transactions (librdkafka's mock cluster, the development
// broker, does not isolate aborted ones, so a transactional sink could not be proven):
//   - the producer is idempotent (acks=all; a retried send is never written twice);
//   - the progress file `<storage>/_publish/kafka/<table>.json` records the last version
//     whose messages were all acknowledged, and each partition's end offset right after;
//     it is replaced atomically (temp file, fsync, rename) after Flush;
//   - every message of a later version sits at or past those offsets, so a run that finds
//     versions after the recorded one reads the topic from there, collects the
//     (version, seq) pairs of this table's messages an interrupted run wrote, and sends
//     only the others.
// Kill points kafka_sink_progress_started, kafka_sink_produced, kafka_sink_flushed and
// kafka_sink_progress_written mark the steps for crash tests.
//
// Assumes it is the only writer of this table's messages (one pipeline per storage
// folder; a `<table>.lock` flock beside the progress file serialises `run` and
// `lakepipe publish`); other producers may share the topic (their messages have other
// headers).
//
// Thread-safety: one thread at a time (it owns one producer).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "publish/table_publisher.h"

namespace lakepipe::sql {
struct KafkaPublish;
}
namespace lakepipe::delta {
class DeltaTable;
}
namespace lakepipe::kafka {
class Producer;
}

namespace lakepipe::publish {

struct KafkaSinkTarget {
  std::string table;       // the pipeline table
  std::string table_path;  // its Delta folder
  std::string topic;
  std::string key;         // key column; empty: messages without a key
};

struct KafkaSinkOptions {
  std::string bootstrap_servers;
  std::map<std::string, std::string> properties;  // librdkafka producer properties
  std::string progress_dir;                        // <storage>/_publish/kafka
  std::vector<KafkaSinkTarget> tables;
};

// The options of pipeline.yaml's publish.kafka section.
KafkaSinkOptions KafkaSinkOptionsFromSettings(const sql::KafkaPublish& settings, const std::string& storage,
                                              const std::function<std::string(const std::string&)>& table_path);

class KafkaSink : public TablePublisher {
 public:
  explicit KafkaSink(KafkaSinkOptions options, Clock* clock = Clock::System());
  ~KafkaSink() override;

  const KafkaSinkOptions& options() const { return options_; }
  const KafkaSinkTarget* Find(const std::string& table) const;

  std::vector<std::pair<std::string, std::string>> Targets() const override;
  // `rebuild` is refused: a topic cannot be taken back.
  Result<PublishResult> Publish(const std::string& table, bool rebuild = false) override;
  Result<int64_t> LatestVersion(const std::string& table) override;
  Result<PublishLag> Lag(const std::string& table, int64_t published_version = -2) override;

 private:
  struct Progress;
  Result<Progress> ReadProgress(const KafkaSinkTarget& t);
  Status WriteProgress(const KafkaSinkTarget& t, const Progress& p);
  Result<delta::DeltaTable*> Table(const KafkaSinkTarget& t);
  Result<kafka::Producer*> ProducerHandle();

  KafkaSinkOptions options_;
  Clock* clock_;
  std::unique_ptr<kafka::Producer> producer_;
  DeltaTableHandles tables_;
  // The progress (version, updated_ms) this object last wrote per table after a complete
  // send: while the file still says so, the topic's tail holds none of its messages.
  std::map<std::string, std::pair<int64_t, int64_t>> clean_;
};

}  // namespace lakepipe::publish
