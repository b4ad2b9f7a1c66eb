// Api: the HTTP API's endpoints (docs/http-api.md) as plain functions from a decoded
// request path and query parameters to a response. http_server.h puts them on a socket;
// keeping them free of sockets makes every route easy to test and to fuzz.
//
// Where status comes from: the StatusBoard when the pipeline runs in this process (a
// board with tables), else a status rebuilt from the event log (`lakepipe serve`), with
// every table "not running" and totals over every recorded update.
//
// Thread-safety: Handle and the other methods may be called from many threads at once.
// The runner and board (may be null) must outlive the Api.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

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

// {"error": message} with `status`.
ApiResponse ErrorResponse(int status, const std::string& message);
// JSON text that never throws: invalid UTF-8 is replaced with U+FFFD.
std::string DumpJson(const nlohmann::json& value);

class Api {
 public:
  Api(runtime::PipelineRunner* runner, runtime::StatusBoard* board);

  // Routes a GET of `path` (already percent-decoded, no query string). Paths outside the
  // API (static files) are not handled here: 404.
  ApiResponse Handle(const std::string& path, const QueryParams& params) const;

  // The status to show: the board's, or one rebuilt from the event log.
  Result<runtime::PipelineStatus> CurrentStatus() const;
  // Whether the pipeline runs in this process (the board has tables).
  bool PipelineRunsHere() const;
  // The /api/pipeline payload and its generation.
  Result<std::pair<std::string, int64_t>> PipelinePayload() const;
  // Waits up to `timeout_ms` for a change after generation `seen`; returns the current
  // generation (the board's, or the event log's version + 1 under `serve`).
  int64_t WaitForChange(int64_t seen, int64_t timeout_ms) const;

  const Catalog& catalog() const { return catalog_; }

 private:
  ApiResponse Tables() const;
  ApiResponse Table(const std::string& name, const QueryParams& params) const;
  ApiResponse Rows(const std::string& name, const QueryParams& params) const;
  ApiResponse Pipeline() const;
  ApiResponse Expectations() const;
  ApiResponse Events(const QueryParams& params) const;
  ApiResponse Metrics() const;
  ApiResponse Sla() const;
  ApiResponse Dashboard() const;
  ApiResponse Chart(const std::string& id) const;

  Catalog catalog_;
  runtime::StatusBoard* board_;
  mutable SlaMonitor sla_;  // freshness of every table, evaluated at most once a second
  // The event log's version as last polled (serve mode's change detection).
  mutable std::mutex poll_mu_;
  mutable std::chrono::steady_clock::time_point last_poll_{};
  mutable int64_t polled_generation_ = -1;
};

}  // namespace lakepipe::server
