#include "runtime/view_table_defaults.h"

#include <cctype>

namespace lakepipe::runtime {

namespace {

bool SameKey(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& MaterializedViewTableDefaults() {
  static const std::vector<std::pair<std::string, std::string>> defaults = {
      {"delta.deletedFileRetentionDuration", "interval 1 hour"},
      {"delta.logRetentionDuration", "interval 1 hour"},
      {"delta.checkpointInterval", "100"},
  };
  return defaults;
}

void AddMaterializedViewTableDefaults(std::map<std::string, std::string>* configuration) {
  for (const auto& [key, value] : MaterializedViewTableDefaults()) {
    bool set = false;
    for (const auto& entry : *configuration) set = set || SameKey(entry.first, key);
    if (!set) (*configuration)[key] = value;
  }
}

}  // namespace lakepipe::runtime
