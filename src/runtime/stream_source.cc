#include "runtime/stream_source.h"

#include <nlohmann/json.hpp>

#include "kafka/kafka_source.h"
#include "pgcdc/postgres_cdc_source.h"

namespace lakepipe::runtime {

std::string StreamSourceKey(const sql::StreamSourceSpec& spec) {
  // What the source reads and where it starts, not how it connects: a moved broker, a new
  // password or a tuned client property keep the flow's offsets (and secrets stay out of
  // the checkpoint's plans).
  nlohmann::json options = nlohmann::json::object();
  for (const auto& [k, v] : spec.options) {
    bool connection = k.rfind("kafka.", 0) == 0 || k == "bootstrapservers" || k.find("password") != std::string::npos ||
                      k.find("secret") != std::string::npos || k.find("conninfo") != std::string::npos ||
                      k.find("connection") != std::string::npos || k == "dsn";
    if (!connection) options[k] = v;
  }
  return spec.function + options.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::unique_ptr<StreamSource>> OpenStreamSource(const sql::StreamSourceSpec& spec,
                                                       const StreamSourceContext& context) {
  if (spec.function == "read_kafka") {
    LP_ASSIGN_OR_RETURN(kafka::KafkaSourceOptions options, kafka::ParseKafkaSourceOptions(spec.options));
    return kafka::OpenKafkaSource(options, context);
  }
  if (spec.function == "read_postgres_cdc") {
    LP_ASSIGN_OR_RETURN(pgcdc::CdcOptions options, pgcdc::ParseCdcOptions(spec.options));
    return pgcdc::OpenPostgresCdcSource(options, context);
  }
  return Status::NotSupported("not built yet: running " + spec.function + "(...)");
}

}  // namespace lakepipe::runtime
