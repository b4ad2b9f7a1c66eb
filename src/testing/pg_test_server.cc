#include "testing/pg_test_server.h"

#include <stdlib.h>

#include <filesystem>

namespace lakepipe::testing {

Result<std::unique_ptr<PgTestServer>> PgTestServer::Start(PgTestOptions options) {
  // Directly under /tmp rather than $TMPDIR: every parent must be searchable by the user
  // the server runs as, and the socket path must stay short.
  std::string pattern = "/tmp/lakepipe-pg-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) return Status::FromErrno(errno, "mkdtemp " + pattern);
  std::unique_ptr<PgTestServer> server(new PgTestServer());
  server->folder_ = pattern;
  LocalPostgresOptions pg;
  pg.folder = pattern;
  pg.logical_replication = options.logical_replication;
  LP_ASSIGN_OR_RETURN(server->pg_, LocalPostgres::Start(pg));
  return server;
}

PgTestServer::~PgTestServer() {
  pg_.reset();  // stops the server
  if (!folder_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(folder_, ec);
  }
}

Status PgTestServer::CreateDatabase(const std::string& dbname) {
  return pg_->Psql("CREATE DATABASE " + dbname).status();
}

}  // namespace lakepipe::testing
