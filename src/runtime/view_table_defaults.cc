#include "runtime/view_table_defaults.h"

#include "sql/lexer.h"

namespace lakepipe::runtime {

const std::vector<std::pair<std::string, std::string>>& MaterializedViewTableDefaults() {
  static const std::vector<std::pair<std::string, std::string>> defaults = {
      {"delta.deletedFileRetentionDuration", "interval 1 hour"},
      {"delta.logRetentionDuration", "interval 1 hour"},
      {"delta.checkpointInterval", "100"},
  };
  return defaults;
}

const std::vector<std::pair<std::string, std::string>>& StreamingTableDefaults() {
  static const std::vector<std::pair<std::string, std::string>> defaults = {
      {"delta.checkpointInterval", "100"},
      {"delta.logRetentionDuration", "interval 7 days"},
  };
  return defaults;
}

namespace {

void AddDefaults(const std::vector<std::pair<std::string, std::string>>& defaults,
                 std::map<std::string, std::string>* configuration) {
  for (const auto& [key, value] : defaults) {
    bool set = false;
    for (const auto& entry : *configuration) set = set || sql::EqualsIgnoreCase(entry.first, key);
    if (!set) (*configuration)[key] = value;
  }
}

}  // namespace

void AddMaterializedViewTableDefaults(std::map<std::string, std::string>* configuration) {
  AddDefaults(MaterializedViewTableDefaults(), configuration);
}

void AddStreamingTableDefaults(std::map<std::string, std::string>* configuration) {
  AddDefaults(StreamingTableDefaults(), configuration);
}

}  // namespace lakepipe::runtime
