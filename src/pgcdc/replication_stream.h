// ReplicationStream: one walsender connection (`replication=database`) and the commands
// of PostgreSQL's streaming replication protocol that logical decoding needs:
// CREATE_REPLICATION_SLOT ... LOGICAL pgoutput (optionally exporting a snapshot),
// DROP_REPLICATION_SLOT, START_REPLICATION SLOT ... LOGICAL, then the CopyBoth stream:
// Receive() hands out XLogData payloads and answers the server's keepalives itself,
// SendStatus() reports positions.
//
// The flushed position is the only thing that lets the server discard WAL and is what
// a restarted stream resumes from (the slot's confirmed_flush_lsn): callers pass only
// positions whose data is durable on their side, and every other status message (the
// keepalive answers) says "flushed: unknown" (0), which the server ignores. They do
// report as written what was received, so that a server shutting down does not wait
// for lakepipe to confirm (it waits for the written position, or wal_sender_timeout).
//
// Errors are IOError with PostgreSQL's message; broken() tells a dead connection (server
// restarted) from a refused command. Not thread-safe; call order: Connect, any
// slot commands, Start, then Receive/SendStatus until destruction.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/pg_connection.h"
#include "common/status.h"
#include "pgcdc/pgoutput.h"

namespace lakepipe::pgcdc {

class ReplicationStream {
 public:
  static Result<std::unique_ptr<ReplicationStream>> Connect(const std::string& dsn);
  ~ReplicationStream();

  struct CreatedSlot {
    Lsn consistent_point = 0;
    std::string snapshot_name;  // empty unless exported
  };
  // The exported snapshot lives until the next command on this connection: the caller
  // copies under it (SET TRANSACTION SNAPSHOT on another connection) before Start().
  Result<CreatedSlot> CreateSlot(const std::string& slot, bool export_snapshot);
  Status DropSlot(const std::string& slot);

  // START_REPLICATION from `start` (the server resumes at the later of `start` and the
  // slot's confirmed_flush_lsn). Protocol 2 on PostgreSQL 14 and later, else 1; in-progress
  // transactions are not streamed (whole transactions arrive at their commit).
  Status Start(const std::string& slot, Lsn start, const std::string& publication);
  int protocol_version() const { return protocol_version_; }

  // The next XLogData within `timeout_ms` (nullopt when none came). Keepalives are
  // answered inside; wal_end() follows both.
  Result<std::optional<XLogData>> Receive(int timeout_ms);
  // Reports what was received as written, and `flushed` (0: nothing new) as flushed
  // and applied.
  Status SendStatus(Lsn flushed, bool reply_requested = false);
  Lsn wal_end() const { return wal_end_; }
  bool broken() const;
  PgConnection& connection() { return *conn_; }

 private:
  explicit ReplicationStream(std::unique_ptr<PgConnection> conn) : conn_(std::move(conn)) {}
  std::unique_ptr<PgConnection> conn_;
  int protocol_version_ = 1;
  bool streaming_ = false;
  Lsn wal_end_ = 0;
  char* buffer_ = nullptr;  // the last CopyData (libpq's), freed on the next Receive
};

}  // namespace lakepipe::pgcdc
