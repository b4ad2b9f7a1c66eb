// The pipeline settings of the event log's upkeep (runtime/event_log_upkeep.h), read from
// pipeline.yaml's `configuration` (or --set):
//   lakepipe.eventLog.retentionDuration      events older than this are deleted: an
//                                             interval as Delta's retention properties take
//                                             it ("7 days", "interval 36 hours"), at least
//                                             an hour, or "off" (kept forever); 7 days
//   lakepipe.eventLog.autoCompact.minNumFiles small files before a compaction; 50
// Owns only the parsing, so that `validate` (sql/pipeline.cc) and `run` accept the same
// values. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/status.h"

namespace lakepipe::sql {

inline constexpr int64_t kDefaultEventRetentionMicros = 7LL * 86400 * 1000000;

struct EventLogSettings {
  int64_t retention_micros = kDefaultEventRetentionMicros;  // 0: events are kept forever
  int min_num_files = 0;  // 0: auto-compaction's default (50)
};

// InvalidArgument naming `settings_file`, the key and what it accepts, for a bad value.
Result<EventLogSettings> EventLogSettingsOf(const std::map<std::string, std::string>& configuration,
                                            const std::string& settings_file);

}  // namespace lakepipe::sql
