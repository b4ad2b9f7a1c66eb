// The read_kafka message source (docs/kafka.md): a runtime::StreamSource whose ranges are
// per-partition offset ranges [start, end), planned from the brokers' watermarks and read
// back exactly, partition by partition in (topic, partition, offset) order, so a replay
// of a plan after a crash yields the same rows. Kafka consumer-group offsets are never
// read or committed: the flow's plans are the only record of what was consumed.
//
// Range JSON (inside a batch plan's {"kind": "stream"} entry):
//   {"partitions": [{"topic": "orders", "partition": 0, "start": 120, "end": 180}, ...]}
// listing every partition the source knows (start == end when it has nothing new), in
// (topic, partition) order; the next plan continues at each `end`.
//
// Thread-safety and call order: those of runtime::StreamSource. The source owns two
// librdkafka consumers: one the flow's thread plans and reads with, and one a background
// thread uses (continuous runs, after SetWakeup) to notice new messages past the last
// plan and call the wake-up (a long-polling fetch: no polling interval adds latency).
#pragma once

#include <memory>

#include "kafka/options/kafka_options.h"
#include "runtime/stream_source.h"

namespace lakepipe::kafka {

Result<std::unique_ptr<runtime::StreamSource>> OpenKafkaSource(const KafkaSourceOptions& options,
                                                               const runtime::StreamSourceContext& context);

}  // namespace lakepipe::kafka
