// CdcReader: one PostgreSQL table's changes through logical replication (docs/
// postgres-cdc.md): the option check and table description `validate` uses, the setup
// checks with their fixes, the initial snapshot consistent with a new slot, and the
// stream of whole transactions as rows with `_change_type`, `_lsn`, `_commit_timestamp`,
// `_xid` and `_rescued_data`.
//
// Positions are transaction end LSNs (the Commit message's end_lsn): a range (after,
// end] holds the transactions whose end LSN lies in it, so ranges split only between
// transactions. The reader never confirms anything on its own: Confirm(lsn) is the only
// way the slot's confirmed_flush_lsn moves, and the caller calls it once the rows up to
// `lsn` are durable downstream. Reading a range again (after a crash, in another process)
// restarts the stream at `after` and yields the same transactions: the slot keeps them
// until confirmed.
//
// A dropped connection (the server restarting) is reconnected with backoff inside
// Poll/Read; what was buffered is received again.
//
// Memory stays bounded by the spill threshold, not by the data: a transaction with more
// than `spill_rows` changes (or 64 MiB of messages) is spooled, as the pgoutput messages
// it came as, to a file in `spool_dir` while it is received, and ReadPart/ReadSnapshot
// hand out any range or snapshot in parts of about `spill_rows` rows. Spool files are
// scratch: the slot resends what they hold after a crash, so they are removed when
// their transaction is trimmed, the stream is dropped, or a reader opens.
// Not thread-safe: one flow's thread drives a reader. Call order: Open, then
// PrepareSlot (once), then any Poll/Read/Confirm/Lag.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/pg_connection.h"
#include "common/status.h"
#include "pgcdc/pg_type_map.h"
#include "pgcdc/pgoutput.h"
#include "pgcdc/replication_stream.h"
#include "types/batch.h"

namespace lakepipe::pgcdc {

// read_postgres_cdc(dsn => ..., tableName => 'schema.table', slot => ..., publication =>
// ..., snapshot => true, maxRowsPerTrigger => 100000).
struct CdcOptions {
  std::string dsn;
  std::string schema = "public";
  std::string table;
  std::string slot;         // empty: derived from the flow id
  std::string publication;  // empty: lakepipe_<schema>_<table>, created when absent
  bool snapshot = true;
  int64_t max_rows_per_trigger = 100000;  // a batch ends at the transaction that reaches it
  // spillRows => : changes of one transaction held in memory before it is spooled to disk,
  // and the rows of one part of a batch read by parts.
  int64_t spill_rows = 100000;
  int64_t spill_bytes = 64LL << 20;  // the same for the bytes of a transaction's messages
  std::string spool_dir;             // set by the source (its checkpoint folder); empty: no spooling
};
// Checks the named options (keys lower case) like validate and run both do.
Result<CdcOptions> ParseCdcOptions(const std::map<std::string, std::string>& options);
// The publication lakepipe creates when none is named.
std::string DefaultPublication(const CdcOptions& options);
// The slot name for a flow (valid slot characters only, at most 63).
std::string DefaultSlot(const std::string& flow_id);

struct CdcColumn {
  std::string name;
  PgColumnType pg;
  DataType type;
  bool toastable = false;  // storage 'x' or 'e': may arrive as an unchanged TOAST value
};
struct CdcTable {
  uint32_t oid = 0;
  std::string schema, name;
  char replica_identity = 'd';
  std::vector<CdcColumn> columns;
  std::string Qualified() const;  // "schema"."name", quoted for SQL
};
// The table as the catalog describes it; NotFound naming the table when absent.
Result<CdcTable> DescribeTable(PgConnection& conn, const std::string& schema, const std::string& table);
// The source's rows: the table's columns, then _change_type STRING, _lsn BIGINT,
// _commit_timestamp TIMESTAMP, _xid BIGINT, _rescued_data STRING.
Schema CdcSchema(const CdcTable& table);
// Connects, describes the table and returns CdcSchema: what `validate` resolves.
Result<Schema> DescribeCdcSchema(const CdcOptions& options);

// Replication lag of a source: WAL the server has past what lakepipe confirmed, and the
// age of the oldest transaction received but not yet confirmed (0 when none waits).
struct CdcLag {
  int64_t bytes = 0;
  double seconds = 0;
};

// The end of the last WAL record written when PostgreSQL's insert position is `insert`
// (pg_current_wal_insert_lsn points past the page header at a page start), comparable
// with the positions the walsender reports.
Lsn EndOfRecordsBefore(Lsn insert, uint64_t segment_size, uint64_t block_size);

class CdcReader {
 public:
  // Connects (a plain connection for the catalog), describes the table and checks the
  // setup: wal_level = logical, the role's REPLICATION attribute, the publication and
  // its table (a default publication is created), REPLICA IDENTITY FULL when the table
  // has columns that PostgreSQL may TOAST. Each failure says which setting and the fix.
  static Result<std::unique_ptr<CdcReader>> Open(const CdcOptions& options, FileSystem* fs);
  ~CdcReader();

  const Schema& schema() const { return schema_; }
  const CdcTable& table() const { return table_; }
  const std::string& slot() const { return options_.slot; }
  const std::string& publication() const { return publication_; }

  struct SlotState {
    Lsn confirmed_flush = 0;
    Lsn restart = 0;
    std::string wal_status;  // reserved, extended, unreserved, lost
  };
  Result<std::optional<SlotState>> FindSlot();
  // Fails (naming the slot, what was lost and the way out) when the slot the flow has
  // used is gone or invalidated by max_slot_wal_keep_size.
  Status CheckSlotUsable(Lsn needed_from);
  Status DropSlotIfExists();
  // Creates the slot. With `snapshot_path`, exports its snapshot and writes the table
  // as of that snapshot to that file (COPY text, synced) before anything else happens
  // on the slot; returns the slot's consistent point, from which the stream continues.
  Result<Lsn> CreateSlot(const std::string* snapshot_path);
  // The rows of a snapshot file written by CreateSlot (change type `snapshot`, _lsn 0),
  // from byte `begin` (a row start) for at most `max_rows` rows: `next` is where the next
  // part starts, or -1 when the file is done.
  struct SnapshotPart {
    std::vector<RecordBatch> batches;
    int64_t next = -1;
  };
  Result<SnapshotPart> ReadSnapshot(const std::string& path, int64_t begin = 0, int64_t max_rows = INT64_MAX);

  // Receives whole transactions after `after` for up to `timeout_ms` (returning as
  // soon as some arrived and nothing more is waiting) and returns the end LSN of the last
  // one to take next (at most about `max_rows` rows unless one transaction is larger),
  // or `after` when none came. Reconnects a dropped stream (a warning, not an error).
  Result<Lsn> Poll(Lsn after, int timeout_ms, int64_t max_rows);
  // The rows of the transactions in (after, end], receiving (and reconnecting) as needed.
  Result<std::vector<RecordBatch>> Read(Lsn after, Lsn end);
  // The same rows in parts of about `max_rows` rows (a part ends inside a transaction only
  // when that transaction alone is larger): part 0 first, then 1, 2 ... while `*more`.
  // The parts of one range concatenated are exactly Read(after, end).
  Result<std::vector<RecordBatch>> ReadPart(Lsn after, Lsn end, int part, int64_t max_rows, bool* more);
  // Transactions spooled to disk since Open (for tests and the event log).
  int64_t spilled_transactions() const { return spilled_; }
  // Transactions in (after, end]: count and commit times (for latency).
  std::vector<std::pair<int64_t, int64_t>> CommitTimes(Lsn after, Lsn end) const;
  // Lets the slot go of WAL up to `lsn` (its data is committed downstream).
  Status Confirm(Lsn lsn);
  CdcLag Lag() const;
  // Problems survived (a reconnect), for the event log.
  void SetWarn(std::function<void(const std::string&, const std::string&)> warn) { warn_ = std::move(warn); }
  // Bytes of the server's WAL end, for tests and lag.
  Lsn server_wal_end() const { return wal_end_; }
  // Rows received whole but not yet handed out by Read (data waiting to be planned).
  int64_t buffered_rows(Lsn after) const;
  // For a watcher thread (the only members safe to call from another thread): the
  // replication connection's socket (-1 when none) and a counter bumped after each Poll.
  int socket_fd() const { return socket_fd_.load(); }
  uint64_t polls() const { return polls_.load(); }

 private:
  // Relation oid -> its columns as the stream described them -> schema column (-1: not
  // in the schema, kept in _rescued_data). Shared, copied on change: a spooled
  // transaction decodes later with the relations as they were at its Begin.
  using RelationMap = std::map<uint32_t, std::vector<std::pair<std::string, int>>>;
  struct Txn {
    Lsn end_lsn = 0;
    int64_t commit_micros = 0;
    uint32_t xid = 0;
    int64_t rows = 0;
    std::vector<Column> columns;  // the rows, unless spooled
    // Spooling: the messages since Begin (framed as in the spool file) until the
    // transaction spills or commits, then the file that holds them all.
    std::string raw;
    std::string spool_path;
    std::shared_ptr<const RelationMap> relations;
  };
  struct ReadCursor {
    int next_part = 0;
    Lsn done = 0;          // transactions up to this end LSN are handed out
    int64_t offset = 0;    // into the spool file of the next transaction
  };
  CdcReader(CdcOptions options, FileSystem* fs) : options_(std::move(options)), fs_(fs) {}
  Status EnsureStream(Lsn after);
  Status ReceiveSome(int timeout_ms, int64_t max_rows);
  // Whether a fresh stream has received everything the server had written when it
  // started (asks for a keepalive while not).
  bool CaughtUp();
  // The end of the WAL records written so far (the insert position).
  Result<Lsn> WalWrittenSoFar();
  Status HandleMessage(const XLogData& data);
  // Appends the change's row to `columns`; false when the relation is not this table.
  Result<bool> AppendChange(char change, const PgOutputMessage& m, Lsn lsn, const RelationMap& relations,
                            int64_t commit_micros, uint32_t xid, std::vector<Column>& columns) const;
  std::vector<std::pair<std::string, int>> MappingOf(const PgOutputMessage& relation) const;
  // Moves the open transaction to its spool file once it passes the threshold.
  Status Spill(Txn& t);
  // Decodes a spooled transaction's rows from byte `*offset`, at most `max_rows`;
  // *offset becomes -1 at its end.
  Status ReadSpooled(const Txn& t, int64_t* offset, int64_t max_rows, std::vector<Column>* columns);
  Status ReceiveUpTo(Lsn after, Lsn end);
  void Discard(Txn& t);
  void Trim(Lsn after);
  void DropStream(const Status& why);
  void StartTxn(const PgOutputMessage& begin);

  CdcOptions options_;
  FileSystem* fs_;
  std::string publication_;
  CdcTable table_;
  Schema schema_;
  std::unique_ptr<PgConnection> conn_;  // catalog queries
  std::unique_ptr<ReplicationStream> stream_;
  std::shared_ptr<const RelationMap> relations_ = std::make_shared<RelationMap>();
  std::unique_ptr<WritableFile> spool_file_;  // the open transaction's, once it spilled
  int64_t spilled_ = 0;
  ReadCursor cursor_;
  std::shared_ptr<const RelationMap> cursor_relations_;  // while a spooled transaction is read
  // Whole transactions received, in (buffer_low_, position_].
  std::deque<Txn> buffer_;
  Lsn buffer_low_ = 0;
  Lsn position_ = 0;
  std::optional<Txn> open_;  // between Begin and Commit
  Lsn confirmed_ = 0;
  Lsn wal_end_ = 0;
  std::deque<std::pair<Lsn, int64_t>> unconfirmed_;  // (end LSN, commit time) handed out
  int reconnects_ = 0;
  Lsn catch_up_to_ = 0;  // the server's written WAL when the stream started (0: caught up)
  std::chrono::steady_clock::time_point catch_up_since_, last_ping_;
  // How long a fresh stream may take to reach catch_up_to_ before planning goes on with
  // a warning (a walsender decoding gigabytes of other tables' WAL can take minutes).
  static constexpr std::chrono::minutes kCatchUpLimit{10};
  std::atomic<int> socket_fd_{-1};
  std::atomic<uint64_t> polls_{0};
  std::function<void(const std::string&, const std::string&)> warn_;
};

}  // namespace lakepipe::pgcdc
