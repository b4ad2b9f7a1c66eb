#include "sql/table_properties.h"

#include <cctype>
#include <cstdlib>

#include "common/interval_text.h"

namespace lakepipe::sql {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool StartsWith(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

// Keys lakepipe reads as intervals.
bool IsIntervalKey(const std::string& key) {
  return key == "pipelines.trigger.interval" || key == "delta.logretentionduration" ||
         key == "delta.deletedfileretentionduration" || key == "lakepipe.vacuum.interval";
}

}  // namespace

Status CheckTableProperty(std::string_view key_text, std::string_view value) {
  std::string key = Lower(key_text);
  std::string quoted = "TBLPROPERTIES `" + std::string(key_text) + "`";
  if (key == "lakepipe.vacuum.interval" && Lower(value) == "off") return Status::OK();
  if (IsIntervalKey(key)) {
    auto micros = ParseIntervalMicros(value);
    if (!micros.ok()) return Status::InvalidArgument(quoted + ": " + micros.status().message());
    if (key == "lakepipe.vacuum.interval" && *micros <= 0) {
      return Status::InvalidArgument(quoted + ": the interval must be positive ('off' never VACUUMs the table)");
    }
    return Status::OK();
  }
  if (key == "delta.settransactionretentionduration") {
    // delta/txn_retention.h: an expired txn reads as never committed.
    return Status::NotSupported(
        quoted + " is refused on pipeline tables: every flow writing the table keeps its exactly-once progress in "
                 "the table's txn (appId = the flow's id), and a flow idle or stopped for longer than the duration "
                 "would lose it, then refuse to start (its checkpoint ahead of the table) or write a batch twice "
                 "(docs/delta.md, \"Transaction identifiers\")");
  }
  if (key == "delta.checkpointinterval") {
    std::string v(value);
    char* end = nullptr;
    long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || end != v.c_str() + v.size() || n <= 0) {
      return Status::InvalidArgument(quoted + ": `" + v + "` is not a positive number of commits");
    }
    return Status::OK();
  }
  if (key == "lakepipe.autocompact.minnumfiles") {
    std::string v(value);
    char* end = nullptr;
    long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || end != v.c_str() + v.size() || n < 2 || n > 1000000) {
      return Status::InvalidArgument(quoted + ": `" + v + "` is not a number of files from 2 to 1000000");
    }
    return Status::OK();
  }
  if (key == "delta.enableexpiredlogcleanup" || key == "lakepipe.checkpointthinning") {
    std::string v = Lower(value);
    if (v != "true" && v != "false") {
      return Status::InvalidArgument(quoted + ": `" + std::string(value) + "` must be true or false");
    }
    return Status::OK();
  }
  if (key == "delta.autooptimize.autocompact") {
    std::string v = Lower(value);
    if (v != "true" && v != "false" && v != "auto") {
      return Status::InvalidArgument(quoted + ": `" + std::string(value) + "` must be true, auto or false");
    }

    return Status::OK();
  }
  if (StartsWith(key, "pipelines.") || StartsWith(key, "lakepipe.")) {
    return Status::NotSupported(quoted + " is not built yet; the table properties lakepipe acts on are "
                                "pipelines.trigger.interval, lakepipe.autoCompact.minNumFiles, lakepipe.vacuum.interval, "
                                "lakepipe.checkpointThinning and the delta.* "
                                "properties "
                                "of docs/sql-reference.md (\"Table properties\")");
  }
  return Status::OK();
}

TableProperties TablePropertiesOf(const std::vector<std::pair<std::string, std::string>>& properties) {
  TableProperties out;
  for (const auto& [k, v] : properties) {
    std::string key = Lower(k);
    if (key == "pipelines.trigger.interval") {
      auto micros = ParseIntervalMicros(v);
      if (micros.ok()) out.trigger_interval_micros = *micros;
    } else if (key == "delta.autooptimize.autocompact") {
      out.auto_compact = Lower(v) != "false";
    } else if (key == "lakepipe.autocompact.minnumfiles") {
      out.auto_compact_min_files = std::atoi(v.c_str());
    } else if (key == "lakepipe.vacuum.interval") {
      auto micros = ParseIntervalMicros(v);
      if (Lower(v) == "off") out.vacuum_interval_micros = 0;
      else if (micros.ok() && *micros > 0) out.vacuum_interval_micros = *micros;
    }
  }
  return out;
}

}  // namespace lakepipe::sql
