#include "sql/event_log_settings.h"

#include <algorithm>
#include <cctype>

#include "common/interval_text.h"

namespace lakepipe::sql {

namespace {
constexpr const char* kRetentionKey = "lakepipe.eventLog.retentionDuration";
constexpr const char* kMinFilesKey = "lakepipe.eventLog.autoCompact.minNumFiles";
constexpr int64_t kMinRetentionMicros = 3600LL * 1000000;
}  // namespace

Result<EventLogSettings> EventLogSettingsOf(const std::map<std::string, std::string>& configuration,
                                            const std::string& settings_file) {
  EventLogSettings settings;
  if (auto it = configuration.find(kRetentionKey); it != configuration.end()) {
    std::string lower = it->second;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "off") {
      settings.retention_micros = 0;
    } else {
      auto micros = ParseIntervalMicros(it->second);
      if (!micros.ok() || *micros < kMinRetentionMicros) {
        return Status::InvalidArgument(settings_file + ": configuration " + kRetentionKey + " is '" + it->second +
                                       "'; it must be an interval of at least an hour ('7 days', 'interval 36 "
                                       "hours') or 'off' (keep every event; the default is 7 days)");
      }
      settings.retention_micros = *micros;
    }
  }
  if (auto it = configuration.find(kMinFilesKey); it != configuration.end()) {
    const std::string& v = it->second;
    bool digits =
        !v.empty() && v.size() <= 6 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoi(v) < 2) {
      return Status::InvalidArgument(settings_file + ": configuration " + kMinFilesKey + " is '" + v +
                                     "'; it must be a whole number of files, at least 2 (the default is 50)");
    }
    settings.min_num_files = std::stoi(v);
  }
  return settings;
}

}  // namespace lakepipe::sql
