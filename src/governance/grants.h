// Grants files: SELECT privileges on tables in Unity Catalog's spelling
// (docs/governance.md, "Grants"):
//
//   GRANT SELECT ON TABLE gold_kpis TO analysts;
//   GRANT SELECT ON TABLE orders.* TO `bi-team`, grafana;   -- every table of pipeline orders
//   GRANT SELECT ON SCHEMA orders TO auditors;               -- the same as orders.*
//   GRANT SELECT ON TABLE * TO admins;                       -- every table of every pipeline
//   REVOKE SELECT ON TABLE gold_kpis FROM analysts;
//
// Statements end with `;`; `--` and `/* */` comments; keywords and names are
// case-insensitive; `ALL PRIVILEGES` is SELECT (the only privilege the API needs). Any
// other privilege or securable is refused with its file:line:col.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "sql/source.h"

namespace lakepipe::governance {

struct GrantStatement {
  bool revoke = false;
  std::string pipeline;  // "" when the table is not qualified
  std::string table;     // a table name, or "*"
  std::vector<std::string> grantees;
  sql::SourceLocation loc;            // of the statement
  std::vector<sql::SourceLocation> grantee_locs;
  sql::SourceLocation table_loc;
};

// Parses a grants file's text (`file` names it in messages).
Result<std::vector<GrantStatement>> ParseGrants(const std::string& text, const std::string& file);

}  // namespace lakepipe::governance
