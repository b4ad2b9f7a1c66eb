// Api: the HTTP API's endpoints (docs/http-api.md) as plain functions from a decoded
// request path and query parameters to a response. http_server.h puts them on a socket;
// keeping them free of sockets makes every route easy to test and to fuzz.
//
// Where status comes from: the StatusBoard when the pipeline runs in this process (a
// board with tables), else a status rebuilt from the event log (`lakepipe serve`), with
// every table "not running" and totals over every recorded update.
//
// Access (docs/governance.md): every route is in Routes() with what it needs of the
// identity asking; Handle checks it (403 naming the table or role) and answers the
// status routes with only the tables that identity sees.
//
// Thread-safety: Handle and the other methods may be called from many threads at once.
// The runner and board (may be null) must outlive the Api.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "governance/audit_log.h"
#include "governance/lineage.h"
#include "governance/policy.h"
#include "runtime/status_board.h"
#include "server/catalog.h"
#include "server/sla.h"

namespace lakepipe::server {

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
};

using QueryParams = std::multimap<std::string, std::string>;

// What a route needs of the identity asking (after the token check of http_server.h).
enum class RouteAccess {
  kOpen,       // no token needed (/health)
  kSignedIn,   // any identity (the dashboard's files: they hold no data)
  kFiltered,   // any identity; the answer holds only the tables it sees
  kTable,      // the table named in the path must be one it sees
  kTableRows,  // SELECT on the table named in the path
  kChart,      // SELECT on every table the chart named in the path reads
  kAdmin,      // role admin
};
const char* RouteAccessName(RouteAccess access);

struct Route {
  std::string pattern;  // "/api/tables/{name}/rows"; a {param} matches one path segment
  RouteAccess access;
  bool is_static;       // served by http_server.cc from src/web, not by Api::Handle
  bool streams;         // server-sent events (not a single response)
};
// Every path the server answers to GET/HEAD, in documentation order.
const std::vector<Route>& Routes();
// The route `path` matches (and its {param}, percent-decoded already); nullptr when none.
const Route* MatchRoute(const std::string& path, std::string* param);

// {"error": message} with `status`.
ApiResponse ErrorResponse(int status, const std::string& message);
// JSON text that never throws: invalid UTF-8 is replaced with U+FFFD.
std::string DumpJson(const nlohmann::json& value);

class Api {
 public:
  Api(runtime::PipelineRunner* runner, runtime::StatusBoard* board, governance::Policy policy = {});

  // Routes a GET of `path` (already percent-decoded, no query string) asked by `who` from
  // `from` ("http 127.0.0.1:5555"). Paths outside the API (static files) are not handled
  // here: 404. With an audit log, reads of tables, charts and the audit log, and every
  // denial, are recorded before the answer is returned (docs/governance.md); a record that
  // cannot be written turns an allowed read into 500 (nothing is served unaudited).
  ApiResponse Handle(const std::string& path, const QueryParams& params, const governance::Identity& who,
                     const std::string& from = "") const;
  // As the local user (admin): tests and fuzzing.
  ApiResponse Handle(const std::string& path, const QueryParams& params) const {
    return Handle(path, params, governance::Identity::Local());
  }

  // The status to show: the board's, or one rebuilt from the event log.
  Result<runtime::PipelineStatus> CurrentStatus() const;
  // Whether the pipeline runs in this process (the board has tables).
  bool PipelineRunsHere() const;
  // The /api/pipeline payload as `who` sees it, and its generation.
  Result<std::pair<std::string, int64_t>> PipelinePayload(const governance::Identity& who) const;
  // Waits up to `timeout_ms` for a change after generation `seen`; returns the current
  // generation (the board's, or the event log's version + 1 under `serve`).
  int64_t WaitForChange(int64_t seen, int64_t timeout_ms) const;

  const Catalog& catalog() const { return catalog_; }
  // The policy in effect. A request takes it once and keeps it to the end, so a reload
  // (set_policy) never changes the rules in the middle of an answer.
  std::shared_ptr<const governance::Policy> policy() const;
  // Sets the policy; thread-safe (a server reloads the grants while it serves:
  // server/policy_reloader.h). Governance needs the catalog's table names, so it is
  // loaded after the Api exists (LoadPolicy).
  void set_policy(governance::Policy policy);
  // Loads the pipeline's `governance:` (docs/governance.md) against this API's tables.
  Result<governance::Policy> LoadPolicy() const;
  // Records API reads and denials here (may be null: nothing recorded); set before the
  // first Handle. The log must outlive the Api.
  void set_audit(governance::AuditLog* audit) { audit_ = audit; }
  governance::AuditLog* audit() const { return audit_; }
  // Records one request's outcome (no-op without an audit log).
  Status Audit(const governance::Identity* who, const std::string& action, const std::string& target,
               const std::string& from, int status, const std::string& detail) const;

 private:
  ApiResponse Tables(const governance::Identity& who) const;
  ApiResponse Table(const std::string& name, const QueryParams& params) const;
  ApiResponse Rows(const std::string& name, const QueryParams& params) const;
  ApiResponse Pipeline(const governance::Identity& who) const;
  ApiResponse Expectations(const governance::Identity& who) const;
  ApiResponse Events(const QueryParams& params, const governance::Identity& who) const;
  ApiResponse Metrics(const governance::Identity& who) const;
  ApiResponse Sla(const governance::Identity& who) const;
  ApiResponse Dashboard(const governance::Identity& who) const;
  ApiResponse Chart(const std::string& id) const;
  ApiResponse AuditRows(const QueryParams& params) const;
  ApiResponse Lineage(const QueryParams& params, const governance::Identity& who) const;
  // The access check and the handler of `route`.
  ApiResponse Dispatch(const Route& route, const std::string& param, const QueryParams& params,
                       const governance::Identity& who) const;
  // Whether `who` may read every table `tables` names; else the first it may not.
  std::string FirstNotSelectable(const governance::Identity& who, const std::vector<std::string>& tables) const;

  Catalog catalog_;
  mutable std::mutex policy_mu_;
  std::shared_ptr<const governance::Policy> policy_;  // guarded by policy_mu_
  governance::AuditLog* audit_ = nullptr;
  std::vector<governance::ColumnLineage> lineage_;  // of the resolved pipeline (immutable)
  runtime::StatusBoard* board_;
  mutable SlaMonitor sla_;  // freshness of every table, evaluated at most once a second
  // The event log's version as last polled (serve mode's change detection).
  mutable std::mutex poll_mu_;
  mutable std::chrono::steady_clock::time_point last_poll_{};
  mutable int64_t polled_generation_ = -1;
};

}  // namespace lakepipe::server
