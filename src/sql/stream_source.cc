#include "sql/stream_source.h"

#include "kafka/options/kafka_options.h"

namespace lakepipe::sql {

bool IsStreamSourceFunction(const std::string& lower_name) { return lower_name == "read_kafka"; }

Result<Schema> StreamSourceSchema(const StreamSourceSpec& spec) {
  if (spec.function == "read_kafka") {
    LP_RETURN_IF_ERROR(kafka::ParseKafkaSourceOptions(spec.options).status());
    // Databricks' columns of read_kafka, in its order.
    return Schema::ParseDDL(
        "key BINARY, value BINARY, topic STRING, partition INT, offset BIGINT, timestamp TIMESTAMP, "
        "timestampType INT, headers ARRAY<STRUCT<key: STRING, value: BINARY>>");
  }
  return Status::NotSupported("table function `" + spec.function + "` is not a message source");
}

std::string StreamSourceKind(const StreamSourceSpec& spec) {
  if (spec.function == "read_kafka") return "kafka";
  return spec.function;
}

std::string StreamSourceLabel(const StreamSourceSpec& spec) {
  if (spec.function == "read_kafka") {
    auto o = kafka::ParseKafkaSourceOptions(spec.options);
    if (o.ok()) return o->Label();
  }
  return spec.function;
}

}  // namespace lakepipe::sql
