#include "sql/stream_source.h"

#include "kafka/options/kafka_options.h"
#include "pgcdc/cdc_reader.h"

namespace lakepipe::sql {

bool IsStreamSourceFunction(const std::string& lower_name) {
  return lower_name == "read_kafka" || lower_name == "read_postgres_cdc";
}

Result<Schema> StreamSourceSchema(const StreamSourceSpec& spec) {
  if (spec.function == "read_kafka") {
    LP_RETURN_IF_ERROR(kafka::ParseKafkaSourceOptions(spec.options).status());
    // Databricks' columns of read_kafka, in its order.
    return Schema::ParseDDL(
        "key BINARY, value BINARY, topic STRING, partition INT, offset BIGINT, timestamp TIMESTAMP, "
        "timestampType INT, headers ARRAY<STRUCT<key: STRING, value: BINARY>>");
  }
  if (spec.function == "read_postgres_cdc") {
    // The table's columns, from PostgreSQL's catalog, after the setup checks run makes.
    LP_ASSIGN_OR_RETURN(pgcdc::CdcOptions options, pgcdc::ParseCdcOptions(spec.options));
    return pgcdc::DescribeCdcSchema(options);
  }
  return Status::NotSupported("table function `" + spec.function + "` is not a message source");
}

std::string StreamSourceKind(const StreamSourceSpec& spec) {
  if (spec.function == "read_kafka") return "kafka";
  if (spec.function == "read_postgres_cdc") return "postgres_cdc";
  return spec.function;
}

std::string StreamSourceLabel(const StreamSourceSpec& spec) {
  if (spec.function == "read_kafka") {
    auto o = kafka::ParseKafkaSourceOptions(spec.options);
    if (o.ok()) return o->Label();
  }
  if (spec.function == "read_postgres_cdc") {
    auto o = pgcdc::ParseCdcOptions(spec.options);
    if (o.ok()) return o->schema + "." + o->table;
  }
  return spec.function;
}

}  // namespace lakepipe::sql
