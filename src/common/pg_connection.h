// PgConnection: one libpq connection — statements, parameterised queries, COPY in and out.
//
// Errors are Status::IOError carrying PostgreSQL's message (and SQLSTATE); broken() says
// whether the connection itself is gone (server down or restarted), so the caller
// reconnects. Server notices ("relation already exists, skipping") are not printed.
// Not thread-safe: one thread uses a connection at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

struct pg_conn;

namespace lakepipe {

using PgRow = std::vector<std::optional<std::string>>;  // text values; nullopt is NULL

class PgConnection {
 public:
  // `dsn` is a libpq connection string or URI; connect_timeout defaults to
  // `connect_timeout_seconds` unless the dsn sets it.
  static Result<std::unique_ptr<PgConnection>> Connect(const std::string& dsn, int connect_timeout_seconds = 5);
  // A walsender connection (`replication=database`, for logical replication): it runs
  // replication commands and plain SQL. The session starts in UTC with ISO dates and
  // shortest-exact floats, so that values decoded from the WAL print like COPY's.
  static Result<std::unique_ptr<PgConnection>> ConnectReplication(const std::string& dsn,
                                                                  int connect_timeout_seconds = 5);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one or more statements (no parameters, results discarded).
  Status Exec(const std::string& sql);
  // Runs one statement with text parameters ($1, $2, ...); returns its rows.
  Result<std::vector<PgRow>> Query(const std::string& sql, const std::vector<std::optional<std::string>>& params = {});
  // COPY ... FROM STDIN with `data` in COPY's text format (lines of tab-separated fields).
  Status CopyIn(const std::string& copy_sql, const std::string& data);
  // COPY ... TO STDOUT: the text it sends.
  Result<std::string> CopyOut(const std::string& copy_sql);

  bool broken() const;
  // The libpq handle, for protocols this class does not wrap (the CopyBoth stream of
  // logical replication, pgcdc/replication_stream.h). Owned by this object.
  pg_conn* native() const { return conn_; }
  // The status of a failed command: PostgreSQL's message and SQLSTATE (IOError).
  Status Error(const std::string& what) const;
  int server_version() const;  // e.g. 150010

 private:
  explicit PgConnection(pg_conn* conn) : conn_(conn) {}
  static Result<std::unique_ptr<PgConnection>> Open(const std::string& dsn, int connect_timeout_seconds,
                                                    bool replication);
  pg_conn* conn_;
};

}  // namespace lakepipe
