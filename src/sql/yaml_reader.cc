#include "sql/yaml_reader.h"

#include <algorithm>

#include "sql/lexer.h"

namespace lakepipe::sql {

SourceLocation YamlReader::Loc(const YAML::Node& n) const {
  SourceLocation loc;
  loc.file = file_;
  YAML::Mark m = n.Mark();
  if (m.line >= 0) {
    loc.line = m.line + 1;
    loc.column = m.column + 1;
  }
  return loc;
}

std::string YamlReader::JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

Status YamlReader::CheckKeys(const YAML::Node& map, const std::vector<std::string>& known, const std::string& where,
                             const std::string& known_label) const {
  if (!map.IsMap()) return ErrorAt(Loc(map), where + " must be a mapping of key: value");
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string key = it->first.Scalar();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return ErrorAt(Loc(it->first),
                     "unknown key `" + key + "` in " + where + "; known keys" + known_label + ": " + JoinNames(known));
    }
  }
  return Status::OK();
}

Result<std::string> YamlReader::String(const YAML::Node& n, const std::string& where) const {
  if (!n.IsScalar()) return ErrorAt(Loc(n), where + " must be a single value");
  return n.Scalar();
}

Result<bool> YamlReader::Bool(const YAML::Node& n, const std::string& where) const {
  if (n.IsScalar()) {
    std::string v = ToLower(n.Scalar());
    if (v == "true" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "no" || v == "off") return false;
  }
  return ErrorAt(Loc(n), where + " must be true or false");
}

Result<std::vector<std::string>> YamlReader::StringList(const YAML::Node& n, const std::string& where,
                                                        const std::string& item) const {
  std::vector<std::string> out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
    return out;
  }
  if (!n.IsSequence()) return ErrorAt(Loc(n), where + " must be a list");
  for (const auto& entry : n) {
    if (!entry.IsScalar()) return ErrorAt(Loc(entry), where + " entries must be " + item);
    out.push_back(entry.Scalar());
  }
  return out;
}

}  // namespace lakepipe::sql
