// LocalPostgres: a private PostgreSQL server in a folder of its own, for tests (testing/
// pg_test_server.h) and `lakepipe demo` — initdb, pg_ctl start/stop, nothing shared with a
// system cluster.
//
// The server listens on 127.0.0.1 at a free port and on a unix socket in the folder, with
// trust authentication for the superuser `postgres` (only local connections). PostgreSQL
// refuses to run as root: when the process is root, the folder is given to an unprivileged
// user (`nobody` unless LocalPostgresOptions::run_as says otherwise) and initdb/pg_ctl run
// as that user. The binaries are found under /usr/lib/postgresql/<highest>/bin (Debian's
// `postgresql` package) unless LAKEPIPE_PG_BIN names a folder.
//
// Call order: Start(), then any number of Stop()/Restart(); the destructor stops the
// server (immediate mode) if it is running. It does NOT remove the folder (the owner
// does). Not thread-safe: one thread drives one server.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace lakepipe {

struct LocalPostgresOptions {
  std::string folder;          // created if missing; holds data/, the socket and server.log
  bool logical_replication = false;  // wal_level=logical, for change data capture tests
  std::string run_as = "nobody";     // the unprivileged user when the process is root
  int port = 0;                      // 0: a free port
};

class LocalPostgres {
 public:
  // initdb (if data/ is not there yet) and start; returns when the server accepts
  // connections. An error carries the tail of server.log.
  static Result<std::unique_ptr<LocalPostgres>> Start(LocalPostgresOptions options);
  ~LocalPostgres();
  LocalPostgres(const LocalPostgres&) = delete;
  LocalPostgres& operator=(const LocalPostgres&) = delete;

  // Stops the server (fast mode: open sessions are ended). Idempotent.
  Status Stop();
  // Starts it again on the same port and data folder.
  Status Restart();
  bool running() const { return running_; }

  int port() const { return port_; }
  const std::string& folder() const { return options_.folder; }
  const std::string& bin_dir() const { return bin_dir_; }
  // A libpq connection string for `dbname` as the superuser over TCP.
  std::string Dsn(const std::string& dbname = "postgres") const;
  // A psql command line a user can paste.
  std::string PsqlCommand(const std::string& dbname = "postgres", const std::string& user = "postgres") const;

  // Runs SQL through psql (-X -A -t, ON_ERROR_STOP) as the superuser; returns its output
  // (one line per row, columns separated by '|').
  Result<std::string> Psql(const std::string& sql, const std::string& dbname = "postgres") const;

 private:
  explicit LocalPostgres(LocalPostgresOptions options) : options_(std::move(options)) {}
  Status StartServer();
  std::string LogTail() const;

  LocalPostgresOptions options_;
  std::string bin_dir_;
  int port_ = 0;
  int uid_ = -1;  // the user the server runs as (-1: this process's user)
  int gid_ = -1;
  bool running_ = false;
};

// Debian's PostgreSQL binaries (the highest version), or $LAKEPIPE_PG_BIN; NotFound with
// the package to install when absent.
Result<std::string> FindPostgresBinDir();

}  // namespace lakepipe
