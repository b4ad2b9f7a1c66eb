// YamlReader: what every reader of a lakepipe YAML document (pipeline.yaml, a dashboard
// file) shares: positions of nodes as file:line:col and the checks of single values, so
// that every error names the file, the place and the key path the same way. The readers
// (sql/pipeline.cc, sql/dashboard.cc) derive from it. Included by those two files only: it
// brings yaml-cpp.
//
// Plain helper; one reader per document, not shared between threads.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "common/status.h"
#include "sql/source.h"

namespace lakepipe::sql {

class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }
  SourceLocation Loc(const YAML::Node& n) const;

  // `map` must be a mapping whose keys are all in `known`; `known_label` qualifies the list
  // in the message ("known keys of a kpi chart: ...").
  Status CheckKeys(const YAML::Node& map, const std::vector<std::string>& known, const std::string& where,
                   const std::string& known_label = "") const;
  Result<std::string> String(const YAML::Node& n, const std::string& where) const;
  // true/yes/on, false/no/off (any case).
  Result<bool> Bool(const YAML::Node& n, const std::string& where) const;
  // One value or a list of single values; `item` names what an entry is in messages.
  Result<std::vector<std::string>> StringList(const YAML::Node& n, const std::string& where,
                                              const std::string& item = "single values") const;

  static std::string JoinNames(const std::vector<std::string>& names);

 private:
  std::string file_;
};

}  // namespace lakepipe::sql
