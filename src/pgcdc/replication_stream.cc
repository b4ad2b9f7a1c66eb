#include "pgcdc/replication_stream.h"

#include <libpq-fe.h>
#include <poll.h>

#include <chrono>
#include <vector>

namespace lakepipe::pgcdc {
namespace {

int64_t NowUnixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string OneLine(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

Status ResultStatus(PGresult* r, const std::string& what) {
  std::string message = OneLine(PQresultErrorMessage(r));
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  if (state != nullptr) message += " (SQLSTATE " + std::string(state) + ")";
  return Status::IOError("PostgreSQL: " + what + ": " + message);
}

// Walsender connections speak the simple query protocol only.
Result<std::vector<std::vector<std::string>>> SimpleQuery(PgConnection& conn, const std::string& sql) {
  PGresult* r = PQexec(conn.native(), sql.c_str());
  if (r == nullptr) return conn.Error(sql);
  auto st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    Status s = ResultStatus(r, sql);
    PQclear(r);
    return s;
  }
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < PQntuples(r); ++i) {
    std::vector<std::string> row;
    for (int c = 0; c < PQnfields(r); ++c) row.emplace_back(PQgetisnull(r, i, c) ? "" : PQgetvalue(r, i, c));
    rows.push_back(std::move(row));
  }
  PQclear(r);
  return rows;
}

std::string QuoteIdent(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Result<std::unique_ptr<ReplicationStream>> ReplicationStream::Connect(const std::string& dsn) {
  LP_ASSIGN_OR_RETURN(auto conn, PgConnection::ConnectReplication(dsn));
  return std::unique_ptr<ReplicationStream>(new ReplicationStream(std::move(conn)));
}

ReplicationStream::~ReplicationStream() {
  if (buffer_ != nullptr) PQfreemem(buffer_);
}

bool ReplicationStream::broken() const { return conn_->broken(); }

Result<ReplicationStream::CreatedSlot> ReplicationStream::CreateSlot(const std::string& slot, bool export_snapshot) {
  std::string sql = "CREATE_REPLICATION_SLOT " + QuoteIdent(slot) + " LOGICAL pgoutput " +
                    (export_snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
  LP_ASSIGN_OR_RETURN(auto rows, SimpleQuery(*conn_, sql));
  if (rows.size() != 1 || rows[0].size() < 3) return Status::IOError("PostgreSQL: " + sql + ": unexpected reply");
  CreatedSlot created;
  LP_ASSIGN_OR_RETURN(created.consistent_point, ParseLsn(rows[0][1]));
  created.snapshot_name = rows[0][2];
  return created;
}

Status ReplicationStream::DropSlot(const std::string& slot) {
  return SimpleQuery(*conn_, "DROP_REPLICATION_SLOT " + QuoteIdent(slot) + " WAIT").status();
}

Status ReplicationStream::Start(const std::string& slot, Lsn start, const std::string& publication) {
  protocol_version_ = PQserverVersion(conn_->native()) >= 140000 ? 2 : 1;
  std::string pub = "\"";
  for (char c : publication) {
    if (c == '"') pub += '"';
    if (c == '\'') pub += '\'';
    pub += c;
  }
  pub += "\"";
  std::string sql = "START_REPLICATION SLOT " + QuoteIdent(slot) + " LOGICAL " + FormatLsn(start) +
                    " (proto_version '" + std::to_string(protocol_version_) + "', publication_names '" + pub + "')";
  PGresult* r = PQexec(conn_->native(), sql.c_str());
  if (r == nullptr) return conn_->Error(sql);
  if (PQresultStatus(r) != PGRES_COPY_BOTH) {
    Status s = ResultStatus(r, "START_REPLICATION SLOT " + slot);
    PQclear(r);
    return s;
  }
  PQclear(r);
  streaming_ = true;
  wal_end_ = std::max(wal_end_, start);
  return Status::OK();
}

Status ReplicationStream::SendStatus(Lsn flushed, bool reply_requested) {
  std::string msg = EncodeStandbyStatus(std::max(wal_end_, flushed), flushed, flushed, NowUnixMicros(), reply_requested);
  if (PQputCopyData(conn_->native(), msg.data(), static_cast<int>(msg.size())) != 1 || PQflush(conn_->native()) != 0) {
    return conn_->Error("standby status update");
  }
  return Status::OK();
}

Result<std::optional<XLogData>> ReplicationStream::Receive(int timeout_ms) {
  if (!streaming_) return Status::Internal("ReplicationStream::Receive before Start");
  if (buffer_ != nullptr) {
    PQfreemem(buffer_);
    buffer_ = nullptr;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  PGconn* c = conn_->native();
  for (;;) {
    char* buf = nullptr;
    int n = PQgetCopyData(c, &buf, /*async=*/1);
    if (n > 0) {
      auto decoded = DecodeCopyMessage(std::string_view(buf, static_cast<size_t>(n)));
      if (!decoded.ok()) {
        PQfreemem(buf);
        return decoded.status();
      }
      if (decoded->kind == CopyMessage::kKeepalive) {
        wal_end_ = std::max(wal_end_, decoded->keepalive.wal_end);
        bool reply = decoded->keepalive.reply_requested;
        PQfreemem(buf);
        if (reply) LP_RETURN_IF_ERROR(SendStatus(0));
        continue;
      }
      wal_end_ = std::max(wal_end_, decoded->data.wal_end);
      buffer_ = buf;
      return std::optional<XLogData>(decoded->data);
    }
    if (n == 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::optional<XLogData>();
      pollfd p{PQsocket(c), POLLIN, 0};
      int pr = ::poll(&p, 1, static_cast<int>(left.count()));
      if (pr < 0 && errno != EINTR) return Status::FromErrno(errno, "poll on the replication connection");
      if (pr > 0 && PQconsumeInput(c) != 1) return conn_->Error("replication stream");
      continue;
    }
    streaming_ = false;
    if (n == -1) {
      // The server ended the stream (e.g. shutting down): its result says why.
      Status s = Status::IOError("PostgreSQL: the replication stream ended");
      while (PGresult* r = PQgetResult(c)) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_COPY_OUT) s = ResultStatus(r, "replication stream");
        PQclear(r);
      }
      return s;
    }
    return conn_->Error("replication stream");
  }
}

}  // namespace lakepipe::pgcdc
