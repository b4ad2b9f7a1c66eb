#include "governance/policy.h"

#include <algorithm>
#include <map>

#include "sql/lexer.h"
#include "sql/yaml_reader.h"

namespace lakepipe::governance {
namespace {

using sql::ToLower;

class GovernanceReader : public sql::YamlReader {
 public:
  GovernanceReader(std::string file, std::string folder, std::string pipeline, const std::vector<std::string>& tables,
                   FileSystem* fs)
      : YamlReader(std::move(file)), folder_(std::move(folder)), pipeline_(std::move(pipeline)), fs_(fs) {
    for (const auto& t : tables) tables_[ToLower(t)] = t;
  }

  // `node`: the governance mapping (principals, grants).
  Status Read(const YAML::Node& node, std::vector<Principal>* principals,
              std::set<std::tuple<std::string, std::string, std::string>>* selects, std::vector<std::string>* files) {
    LP_RETURN_IF_ERROR(CheckKeys(node, {"principals", "grants"}, "governance"));
    std::set<std::string> names, groups;
    if (node["principals"]) {
      const YAML::Node& list = node["principals"];
      if (!list.IsSequence()) return sql::ErrorAt(Loc(list), "governance.principals must be a list of {name, role, token_hash}");
      for (const auto& p : list) {
        LP_ASSIGN_OR_RETURN(Principal principal, ReadPrincipal(p));
        if (!names.insert(ToLower(principal.name)).second) {
          return sql::ErrorAt(principal.loc, "principal `" + principal.name + "` is declared twice");
        }
        for (const auto& g : principal.groups) groups.insert(ToLower(g));
        principals->push_back(std::move(principal));
      }
    }
    for (const auto& g : groups) {
      if (names.count(g)) return sql::ErrorAt(Loc(node["principals"]), "`" + g + "` is both a principal and a group");
    }
    if (node["grants"]) {
      LP_ASSIGN_OR_RETURN(std::string path, String(node["grants"], "governance.grants"));
      std::string full = !path.empty() && path[0] == '/' ? path : JoinPath(folder_, path);
      files->push_back(full);
      auto text = fs_->ReadFile(full);
      if (!text.ok()) {
        return sql::ErrorAt(Loc(node["grants"]), "governance.grants: cannot read " + full + ": " + text.status().message());
      }
      LP_ASSIGN_OR_RETURN(auto statements, ParseGrants(*text, full));
      for (const auto& s : statements) {
        std::string pipeline = ToLower(s.pipeline);
        std::string table = ToLower(s.table);
        // Without a pipeline (the job server) no table is ours to check.
        bool ours = !pipeline_.empty() && (pipeline.empty() || pipeline == ToLower(pipeline_));
        if (ours && table != "*" && !tables_.count(table)) {
          std::vector<std::string> known;
          for (const auto& [k, v] : tables_) known.push_back(v);
          return sql::ErrorAt(s.table_loc, "`" + s.table + "` is not a table of pipeline " + pipeline_ +
                                               " (qualify another pipeline's table as pipeline.table); tables: " +
                                               JoinNames(known));
        }
        for (size_t i = 0; i < s.grantees.size(); ++i) {
          std::string grantee = ToLower(s.grantees[i]);
          if (!names.count(grantee) && !groups.count(grantee)) {
            return sql::ErrorAt(s.grantee_locs[i], "`" + s.grantees[i] +
                                                       "` is neither a principal nor a group of governance.principals");
          }
          auto key = std::make_tuple(pipeline, table, grantee);
          if (!s.revoke) {
            selects->insert(key);
          } else if (selects->erase(key) == 0) {
            return sql::ErrorAt(s.loc, "REVOKE of a grant not made above: SELECT ON TABLE " +
                                           (s.pipeline.empty() ? "" : s.pipeline + ".") + s.table + " TO " + s.grantees[i]);
          }
        }
      }
    }
    return Status::OK();
  }

 private:
  Result<Principal> ReadPrincipal(const YAML::Node& p) {
    Principal out;
    out.loc = Loc(p);
    LP_RETURN_IF_ERROR(CheckKeys(p, {"name", "role", "groups", "token_hash"}, "a principal"));
    if (!p["name"]) return sql::ErrorAt(Loc(p), "a principal needs `name:`");
    LP_ASSIGN_OR_RETURN(out.name, String(p["name"], "principal name"));
    if (out.name.empty()) return sql::ErrorAt(Loc(p["name"]), "principal name must not be empty");
    if (!p["role"]) return sql::ErrorAt(Loc(p), "principal " + out.name + " needs `role:` (admin, operator or reader)");
    LP_ASSIGN_OR_RETURN(std::string role, String(p["role"], "role"));
    role = ToLower(role);
    if (role == "admin") {
      out.role = Role::kAdmin;
    } else if (role == "operator") {
      out.role = Role::kOperator;
    } else if (role == "reader") {
      out.role = Role::kReader;
    } else {
      return sql::ErrorAt(Loc(p["role"]), "role `" + role + "` is not admin, operator or reader");
    }
    if (p["groups"]) {
      LP_ASSIGN_OR_RETURN(out.groups, StringList(p["groups"], "groups"));
    }
    if (!p["token_hash"]) {
      return sql::ErrorAt(Loc(p), "principal " + out.name + " needs `token_hash:` (from `lakepipe token hash`)");
    }
    LP_ASSIGN_OR_RETURN(auto hashes, StringList(p["token_hash"], "token_hash"));
    for (const auto& text : hashes) {
      auto hash = ParseTokenHash(text);
      if (!hash.ok()) return sql::ErrorAt(Loc(p["token_hash"]), "token_hash: " + hash.status().message());
      out.tokens.push_back(std::move(hash).value());
    }
    if (out.tokens.empty()) return sql::ErrorAt(Loc(p["token_hash"]), "token_hash is empty");
    return out;
  }

  std::string folder_;
  std::string pipeline_;
  FileSystem* fs_;
  std::map<std::string, std::string> tables_;  // lower case -> spelling
};

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kAdmin: return "admin";
    case Role::kOperator: return "operator";
    case Role::kReader: return "reader";
  }
  return "reader";
}

Identity Identity::Local() {
  Identity i;
  i.kind = Kind::kLocal;
  i.name = "local";
  i.role = Role::kAdmin;
  return i;
}

Identity Identity::ServerToken() {
  Identity i;
  i.kind = Kind::kToken;
  i.name = "server.tokens";
  i.role = Role::kAdmin;
  return i;
}

Result<Policy> Policy::ParseYaml(const std::string& yaml_text, const std::string& file, const std::string& folder,
                                 const std::string& pipeline, const std::vector<std::string>& tables, FileSystem* fs) {
  Policy policy;
  policy.pipeline_ = pipeline;
  policy.source_ = file;
  policy.files_.push_back(file);
  GovernanceReader reader(file, folder, pipeline, tables, fs);
  try {
    YAML::Node node = YAML::Load(yaml_text);
    LP_RETURN_IF_ERROR(reader.Read(node, &policy.principals_, &policy.selects_, &policy.files_));
  } catch (const YAML::Exception& e) {
    return sql::ErrorAt(sql::SourceLocation{file, e.mark.line + 1, e.mark.column + 1}, "YAML: " + e.msg);
  }
  return policy;
}

Result<Policy> Policy::Load(const std::string& settings_file, const std::string& pipeline,
                            const std::vector<std::string>& tables, FileSystem* fs) {
  LP_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(settings_file));
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return sql::ErrorAt(sql::SourceLocation{settings_file, e.mark.line + 1, e.mark.column + 1}, "YAML: " + e.msg);
  }
  if (!root.IsMap() || !root["governance"]) {
    Policy none;  // nothing declared; the file is still where a declaration would appear
    none.pipeline_ = pipeline;
    none.files_.push_back(settings_file);
    return none;
  }
  YAML::Node g = root["governance"];
  std::string folder = DirName(settings_file);
  if (g.IsScalar()) {
    // A governance.yaml shared by several pipelines: its top level is the mapping.
    std::string path = g.Scalar();
    std::string full = !path.empty() && path[0] == '/' ? path : JoinPath(folder, path);
    auto shared = fs->ReadFile(full);
    if (!shared.ok()) {
      YAML::Mark m = g.Mark();
      return sql::ErrorAt(sql::SourceLocation{settings_file, m.line + 1, m.column + 1},
                          "governance: cannot read " + full + ": " + shared.status().message());
    }
    LP_ASSIGN_OR_RETURN(Policy policy, ParseYaml(*shared, full, DirName(full), pipeline, tables, fs));
    policy.files_.insert(policy.files_.begin(), settings_file);
    return policy;
  }
  // Inline: parse the node again from its own text so that positions stay those of
  // pipeline.yaml (yaml-cpp keeps marks on the node itself).
  Policy policy;
  policy.pipeline_ = pipeline;
  policy.source_ = settings_file;
  policy.files_.push_back(settings_file);
  GovernanceReader reader(settings_file, folder, pipeline, tables, fs);
  try {
    LP_RETURN_IF_ERROR(reader.Read(g, &policy.principals_, &policy.selects_, &policy.files_));
  } catch (const YAML::Exception& e) {
    return sql::ErrorAt(sql::SourceLocation{settings_file, e.mark.line + 1, e.mark.column + 1}, "YAML: " + e.msg);
  }
  return policy;
}

std::optional<Identity> Policy::Authenticate(std::string_view token) const {
  const Principal* found = nullptr;
  for (const auto& p : principals_) {
    for (const auto& hash : p.tokens) {
      // Every hash is computed and compared; the first match wins (a token hashed into two
      // principals is the file's mistake, resolved by declaration order).
      bool match = TokenHashMatches(hash, token);
      if (match && found == nullptr) found = &p;
    }
  }
  if (found == nullptr) return std::nullopt;
  Identity i;
  i.kind = Identity::Kind::kPrincipal;
  i.name = found->name;
  i.role = found->role;
  i.groups = found->groups;
  return i;
}

bool Policy::CanSelect(const Identity& who, std::string_view table) const {
  if (who.role == Role::kAdmin) return true;
  std::string t = ToLower(table);
  std::string p = ToLower(pipeline_);
  // (pipeline, table) pairs a grant may name: this pipeline's table unqualified or
  // qualified; another pipeline's `q.table` (read through the catalog, docs/catalog.md)
  // only qualified, or `*` of every pipeline.
  std::vector<std::pair<std::string, std::string>> names = {{"", t}, {"", "*"}, {p, t}, {p, "*"}};
  if (size_t dot = t.find('.'); dot != std::string::npos) {
    std::string q = t.substr(0, dot);
    std::string qt = t.substr(dot + 1);
    names = {{q, qt}, {q, "*"}, {"", "*"}};
    if (q == p) names.push_back({"", qt});
  }
  std::vector<std::string> grantees{ToLower(who.name)};
  for (const auto& g : who.groups) grantees.push_back(ToLower(g));
  for (const auto& grantee : grantees) {
    for (const auto& [pipeline, name] : names) {
      if (selects_.count(std::make_tuple(pipeline, name, grantee))) return true;
    }
  }
  return false;
}

bool Policy::CanSee(const Identity& who, std::string_view table) const {
  return SeesAllStatus(who) || CanSelect(who, table);
}

std::vector<std::string> Policy::EffectiveGrants() const {
  std::vector<std::string> out;
  std::string p = ToLower(pipeline_);
  for (const auto& [pipeline, table, grantee] : selects_) {
    if (!pipeline.empty() && pipeline != p) continue;
    out.push_back("SELECT ON TABLE " + (pipeline.empty() ? std::string() : pipeline + ".") + table + " TO " + grantee);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Policy::Describe() const {
  std::vector<std::string> out = EffectiveGrants();
  for (const auto& p : principals_) {
    std::string line = "PRINCIPAL " + p.name + " ROLE " + RoleName(p.role);
    if (!p.groups.empty()) {
      line += " GROUPS";
      for (const auto& g : p.groups) line += " " + g;
    }
    line += " TOKENS " + std::to_string(p.tokens.size());
    out.push_back(std::move(line));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace lakepipe::governance
