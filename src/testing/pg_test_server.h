// PgTestServer: a real PostgreSQL for one test (or one test suite): a fresh folder under
// /tmp (given to an unprivileged user when tests run as root), a free loopback port, the
// unix socket inside the folder. Built on common/local_postgres.h, which `lakepipe demo`
// uses too. The destructor always stops the server and removes the folder, so a failing
// test (an EXPECT/ASSERT failure returns through it) leaves no server behind.
//
// Start() fails (it does not skip) when PostgreSQL is not installed: the server package is
// a declared test dependency (scripts/install-deps.sh test).
// Not thread-safe; call order: Start, then any calls, then destruction.
#pragma once

#include <memory>
#include <string>

#include "common/local_postgres.h"
#include "common/status.h"

namespace lakepipe::testing {

struct PgTestOptions {
  bool logical_replication = false;  // wal_level=logical (change data capture tests)
};

class PgTestServer {
 public:
  static Result<std::unique_ptr<PgTestServer>> Start(PgTestOptions options = {});
  ~PgTestServer();

  LocalPostgres& server() { return *pg_; }
  int port() const { return pg_->port(); }
  std::string Dsn(const std::string& dbname = "postgres") const { return pg_->Dsn(dbname); }
  // Creates a database (its name is not quoted: use a plain identifier).
  Status CreateDatabase(const std::string& dbname);
  // psql -At: rows as lines, columns separated by '|'.
  Result<std::string> Psql(const std::string& sql, const std::string& dbname = "postgres") const {
    return pg_->Psql(sql, dbname);
  }
  Status Stop() { return pg_->Stop(); }
  Status Restart() { return pg_->Restart(); }

 private:
  PgTestServer() = default;
  std::string folder_;
  std::unique_ptr<LocalPostgres> pg_;
};

}  // namespace lakepipe::testing
