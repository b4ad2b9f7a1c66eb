#include "common/pg_connection.h"

#include <libpq-fe.h>

#include <vector>

namespace lakepipe {
namespace {

void IgnoreNotice(void*, const char*) {}

// libpq's messages span lines ("...refused\n\tIs the server running..."): one line here,
// since errors end up as one `lakepipe: error:` line.
std::string TrimNewline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n') {
      while (i + 1 < s.size() && (s[i + 1] == '\t' || s[i + 1] == ' ')) ++i;
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

// A result that clears itself.
struct ResultHolder {
  PGresult* r;
  explicit ResultHolder(PGresult* result) : r(result) {}
  ~ResultHolder() { PQclear(r); }
};

Status ResultError(PGresult* r, const std::string& what) {
  std::string message = TrimNewline(PQresultErrorMessage(r));
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  if (state != nullptr) message += " (SQLSTATE " + std::string(state) + ")";
  return Status::IOError("PostgreSQL: " + what + ": " + message);
}

}  // namespace

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& dsn, int connect_timeout_seconds) {
  return Open(dsn, connect_timeout_seconds, false);
}

Result<std::unique_ptr<PgConnection>> PgConnection::ConnectReplication(const std::string& dsn,
                                                                       int connect_timeout_seconds) {
  return Open(dsn, connect_timeout_seconds, true);
}

Result<std::unique_ptr<PgConnection>> PgConnection::Open(const std::string& dsn, int connect_timeout_seconds,
                                                         bool replication) {
  // Defaults first: the expanded dsn, later in the array, overrides them; `replication`
  // comes after it (a walsender is what the caller asked for).
  std::string timeout = std::to_string(connect_timeout_seconds);
  std::vector<const char*> keys = {"connect_timeout", "application_name"};
  std::vector<const char*> values = {timeout.c_str(), "lakepipe"};
  if (replication) {
    // The walsender formats decoded values with these settings (SET would come too late
    // for nothing, but startup options also hold for a session that never runs SQL).
    keys.push_back("options");
    values.push_back("-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=iso_8601 -c extra_float_digits=3");
  }
  keys.push_back("dbname");
  values.push_back(dsn.c_str());
  if (replication) {
    keys.push_back("replication");
    values.push_back("database");
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (conn == nullptr) return Status::IOError("PostgreSQL: out of memory connecting");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = TrimNewline(PQerrorMessage(conn));
    PQfinish(conn);
    return Status::IOError("PostgreSQL: cannot connect (" + dsn + "): " + message);
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  std::unique_ptr<PgConnection> c(new PgConnection(conn));
  if (replication) return c;
  // Timestamps are sent with an explicit offset; results (tests) read back in UTC.
  LP_RETURN_IF_ERROR(c->Exec("SET TIME ZONE 'UTC'; SET extra_float_digits = 1"));
  return c;
}

PgConnection::~PgConnection() { PQfinish(conn_); }

bool PgConnection::broken() const { return PQstatus(conn_) != CONNECTION_OK; }
int PgConnection::server_version() const { return PQserverVersion(conn_); }

Status PgConnection::Error(const std::string& what) const {
  return Status::IOError("PostgreSQL: " + what + ": " + TrimNewline(PQerrorMessage(conn_)));
}

Status PgConnection::Exec(const std::string& sql) {
  ResultHolder r(PQexec(conn_, sql.c_str()));
  if (r.r == nullptr) return Error("cannot send a statement");
  auto status = PQresultStatus(r.r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return ResultError(r.r, sql.size() > 200 ? sql.substr(0, 200) + "..." : sql);
  }
  return Status::OK();
}

Result<std::vector<PgRow>> PgConnection::Query(const std::string& sql,
                                               const std::vector<std::optional<std::string>>& params) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  ResultHolder r(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                              nullptr, 0));
  if (r.r == nullptr) return Error("cannot send a query");
  auto status = PQresultStatus(r.r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return ResultError(r.r, sql);
  std::vector<PgRow> rows;
  int n = PQntuples(r.r), cols = PQnfields(r.r);
  rows.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    PgRow row;
    for (int c = 0; c < cols; ++c) {
      if (PQgetisnull(r.r, i, c)) {
        row.push_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(r.r, i, c), static_cast<size_t>(PQgetlength(r.r, i, c))));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Status PgConnection::CopyIn(const std::string& copy_sql, const std::string& data) {
  {
    ResultHolder r(PQexec(conn_, copy_sql.c_str()));
    if (r.r == nullptr) return Error("cannot send COPY");
    if (PQresultStatus(r.r) != PGRES_COPY_IN) return ResultError(r.r, copy_sql);
  }
  constexpr size_t kChunk = 1 << 20;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    size_t n = std::min(kChunk, data.size() - off);
    if (PQputCopyData(conn_, data.data() + off, static_cast<int>(n)) != 1) return Error("COPY data");
  }
  if (PQputCopyEnd(conn_, nullptr) != 1) return Error("COPY end");
  Status st;
  while (PGresult* res = PQgetResult(conn_)) {
    ResultHolder r(res);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && st.ok()) st = ResultError(res, copy_sql);
  }
  return st;
}

Result<std::string> PgConnection::CopyOut(const std::string& copy_sql) {
  {
    ResultHolder r(PQexec(conn_, copy_sql.c_str()));
    if (r.r == nullptr) return Error("cannot send COPY");
    if (PQresultStatus(r.r) != PGRES_COPY_OUT) return ResultError(r.r, copy_sql);
  }
  std::string out;
  for (;;) {
    char* buf = nullptr;
    int n = PQgetCopyData(conn_, &buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      PQfreemem(buf);
      continue;
    }
    if (n == -2) return Error("COPY out");
    break;
  }
  Status st;
  while (PGresult* res = PQgetResult(conn_)) {
    ResultHolder r(res);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && st.ok()) st = ResultError(res, copy_sql);
  }
  LP_RETURN_IF_ERROR(st);
  return out;
}

}  // namespace lakepipe
