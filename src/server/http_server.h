// HttpServer: lakepipe's HTTP server (cpp-httplib) — the API of docs/http-api.md, the
// Prometheus /metrics, server-sent events on /api/stream, and the dashboard's static files
// (module src/web, when built in).
//
// Security rules it owns: bound to a non-loopback address Start refuses without tokens;
// with tokens every path but /health needs `Authorization: Bearer <token>` (or
// `?access_token=`, which also sets a `lakepipe_token` cookie for the dashboard's files),
// compared in constant time. Table names are checked by the Catalog
// (server/catalog.h), so no request reaches a path outside the storage folder, and the
// Catalog refuses a table whose Delta log names data files outside the table's folder.
// A client that stalls is dropped after a 5 s read timeout (10 s write); connections get
// a thread each, added on demand up to max_connections, so slow clients do not starve
// /health. Range requests are served for the static files only, clamped to the file
// (416 when nothing of it is left).
//
// Use: construct, Start (binds and serves on its own threads; port 0 picks a free port,
// see port()), Stop (or the destructor). Start and Stop are called from one thread;
// port() and url() from any. The runner and board (may be null) must outlive the server.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "runtime/pipeline_runner.h"
#include "runtime/status_board.h"
#include "sql/pipeline.h"

namespace lakepipe::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                  // 0: any free port
  std::vector<std::string> tokens;  // bearer tokens; required off loopback
  int threads = 16;                 // connection threads started at once
  int max_connections = 256;        // connections served at once (a thread each); more wait
  int max_streams = 8;              // concurrent /api/stream clients; more get 503
  // How often the governance files are checked for changes (docs/governance.md,
  // "Reloading the grants"); 0: only on SIGHUP.
  int64_t policy_poll_ms = 2000;

  static ServerOptions FromSettings(const sql::ServerSettings& settings);
};

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port and starts serving. InvalidArgument when the host is not loopback and
  // no token is set; IOError when the address cannot be bound.
  Status Start(const ServerOptions& options, runtime::PipelineRunner* runner, runtime::StatusBoard* board);
  // Stops accepting, ends open event streams and waits for the server's threads.
  void Stop();

  int port() const { return port_.load(); }
  // "http://127.0.0.1:8080/" (IPv6 hosts in brackets).
  std::string url() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::atomic<int> port_{0};
};

// Whether `given` equals one of `tokens`, comparing every byte of every token (constant
// time in the given token's content).
bool TokenMatches(const std::string& given, const std::vector<std::string>& tokens);

}  // namespace lakepipe::server
