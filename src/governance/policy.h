// Policy: who may do what through lakepipe's HTTP API (docs/governance.md).
//
// It owns the principals (a name, a role, groups, the hashes of their bearer tokens)
// declared under `governance:` in pipeline.yaml, or in a governance.yaml shared by several
// pipelines that `governance: path` names; and the SELECT grants of the grants file it
// names (GRANT / REVOKE statements in Unity Catalog's spelling, see grants.h).
//
// Roles: `admin` may read everything (and, on the command line, run, full refresh, vacuum,
// delete); `operator` sees every table's status, metrics and events but reads rows only
// of tables granted to it; `reader` sees only the tables granted to it, everywhere.
//
// A Policy is immutable once loaded; every method is thread-safe.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "governance/grants.h"
#include "governance/token_hash.h"
#include "sql/source.h"

namespace lakepipe::governance {

enum class Role { kAdmin, kOperator, kReader };
const char* RoleName(Role role);

struct Principal {
  std::string name;
  Role role = Role::kReader;
  std::vector<std::string> groups;
  std::vector<TokenHash> tokens;  // any of them authenticates the principal
  sql::SourceLocation loc;
};

// Who a request or command acts as.
struct Identity {
  enum class Kind {
    kPrincipal,  // a declared principal, by its token
    kToken,      // a plain `server.tokens` token: admin, as before principals existed
    kLocal,      // no token configured (loopback): the local user, admin
  };
  Kind kind = Kind::kLocal;
  std::string name;  // principal name; "server.tokens"; "local"
  Role role = Role::kAdmin;
  std::vector<std::string> groups;

  static Identity Local();
  static Identity ServerToken();
};

class Policy {
 public:
  Policy() = default;  // nothing declared: every identity is admin or a plain token

  // Reads `governance:` of `settings_file` (pipeline.yaml) of pipeline `pipeline`.
  // `tables` are the names a grant may name unqualified (the pipeline's datasets,
  // quarantine tables, `_event_log`, `_audit`). No `governance:` gives an empty Policy.
  // Errors name file:line:col. An empty `pipeline` reads the principals for a server that
  // serves no pipeline (`lakepipe job serve`, whose jobs.yaml has the same key): grants
  // are parsed and their grantees checked, but no table is any pipeline's to check.
  static Result<Policy> Load(const std::string& settings_file, const std::string& pipeline,
                             const std::vector<std::string>& tables, FileSystem* fs = FileSystem::Default());
  // Parses a `governance:` mapping given as YAML text (`file` names it in messages,
  // relative paths resolve against `folder`).
  static Result<Policy> ParseYaml(const std::string& yaml_text, const std::string& file, const std::string& folder,
                                  const std::string& pipeline, const std::vector<std::string>& tables,
                                  FileSystem* fs = FileSystem::Default());

  bool declared() const { return !principals_.empty(); }
  const std::vector<Principal>& principals() const { return principals_; }
  const std::string& pipeline() const { return pipeline_; }
  // Where the principals and grants come from ("" when nothing is declared).
  const std::string& source() const { return source_; }
  // Every file the policy was read from (the settings file, a shared governance.yaml, the
  // grants file): what a server watches to reload it (server/policy_reloader.h).
  const std::vector<std::string>& files() const { return files_; }

  // The principal one of whose token hashes `token` matches. Every hash of every
  // principal is checked (no early exit), each in constant time.
  std::optional<Identity> Authenticate(std::string_view token) const;

  // Whether `who` may read rows of this pipeline's table `table` (case-insensitive), or of
  // another pipeline's `pipeline.table` (granted qualified, or by `*`).
  bool CanSelect(const Identity& who, std::string_view table) const;
  // Whether `who` sees `table` at all (in lists, the DAG, metrics, events): admins and
  // operators see every table, readers the tables they may select.
  bool CanSee(const Identity& who, std::string_view table) const;
  // Admins and operators see every table's status.
  static bool SeesAllStatus(const Identity& who) { return who.role != Role::kReader; }

  // The grants in effect for this pipeline, one "SELECT ON TABLE <pipeline.table> TO
  // <grantee>" line each, sorted (the audit log compares them between starts).
  std::vector<std::string> EffectiveGrants() const;
  // The principals ("PRINCIPAL alice ROLE reader GROUPS analysts", no token material) and
  // the effective grants, sorted: what the audit log compares between starts.
  std::vector<std::string> Describe() const;

 private:
  std::string pipeline_;
  std::string source_;
  std::vector<std::string> files_;
  std::vector<Principal> principals_;
  // (pipeline or "" for any, table or "*", grantee), lower case.
  std::set<std::tuple<std::string, std::string, std::string>> selects_;
};

}  // namespace lakepipe::governance
