// Message sources called as table functions in FROM (read_kafka, ...), on the SQL side:
// which functions exist, their columns, and their option check. The option check is the
// source's own parser (e.g. kafka/options/kafka_options.h), the same one `run` opens the
// source with, so `validate` refuses exactly what `run` would. The runtime half of a
// message source is runtime/stream_source.h. Adding a source: one entry here, one in
// runtime/stream_source.cc. Pure functions; thread-safe.
#pragma once

#include <string>

#include "common/status.h"
#include "sql/plan.h"
#include "types/schema.h"

namespace lakepipe::sql {

// Whether `lower_name` is a message-source table function.
bool IsStreamSourceFunction(const std::string& lower_name);

// The columns of `spec`'s rows, after checking its options (InvalidArgument /
// NotSupported naming the option).
Result<Schema> StreamSourceSchema(const StreamSourceSpec& spec);

// What the source is, for graphs and the dashboard: kind ("kafka") and label
// ("host:port/topic"); never secrets.
std::string StreamSourceKind(const StreamSourceSpec& spec);
std::string StreamSourceLabel(const StreamSourceSpec& spec);

}  // namespace lakepipe::sql
