// The pgoutput logical replication message format (PostgreSQL's "Logical Replication
// Message Formats", protocol versions 1 and 2) and the walsender's CopyBoth envelope
// (XLogData 'w', primary keepalive 'k', standby status update 'r').
//
// Decode* functions are pure: they take the bytes of one message and return a typed value
// or Corruption naming the message kind and offset; they never read past the input (a
// fuzz target can feed them anything). Values of tuples are kept as PostgreSQL's text
// output (or raw bytes for the binary format), as the server sent them.
// Value types; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lakepipe::pgcdc {

using Lsn = uint64_t;

// "16/B374D848" <-> 0x16B374D848.
std::string FormatLsn(Lsn lsn);
Result<Lsn> ParseLsn(std::string_view text);

// PostgreSQL timestamps count microseconds from 2000-01-01; lakepipe's from 1970-01-01.
constexpr int64_t kPgEpochOffsetMicros = 946'684'800'000'000;

// The CopyBoth envelope of the walsender.
struct XLogData {
  Lsn wal_start = 0;  // where this message's WAL data starts (a change's own record LSN)
  Lsn wal_end = 0;    // the server's current end of WAL
  int64_t send_time_micros = 0;  // Unix epoch
  std::string_view payload;      // the pgoutput message (points into the input)
};
struct Keepalive {
  Lsn wal_end = 0;
  int64_t send_time_micros = 0;  // Unix epoch
  bool reply_requested = false;
};
struct CopyMessage {
  enum Kind { kXLogData, kKeepalive } kind = kXLogData;
  XLogData data;
  Keepalive keepalive;
};
Result<CopyMessage> DecodeCopyMessage(std::string_view bytes);
// A standby status update: written/flushed/applied positions and the client's clock.
std::string EncodeStandbyStatus(Lsn written, Lsn flushed, Lsn applied, int64_t now_unix_micros, bool reply);

// One column of a tuple.
struct TupleValue {
  enum Kind : char { kNull = 'n', kUnchangedToast = 'u', kText = 't', kBinary = 'b' } kind = kNull;
  std::string data;  // text or binary representation
};
using Tuple = std::vector<TupleValue>;

struct RelationColumn {
  bool is_key = false;
  std::string name;
  uint32_t type_oid = 0;
  int32_t type_modifier = -1;
};

struct PgOutputMessage {
  enum Kind : char {
    kBegin = 'B',
    kCommit = 'C',
    kOrigin = 'O',
    kRelation = 'R',
    kType = 'Y',
    kInsert = 'I',
    kUpdate = 'U',
    kDelete = 'D',
    kTruncate = 'T',
    kMessage = 'M',
    kStreamStart = 'S',
    kStreamStop = 'E',
    kStreamCommit = 'c',
    kStreamAbort = 'A',
  } kind = kBegin;
  // Begin: final_lsn (the commit record), timestamp, xid. Commit / Stream Commit:
  // commit_lsn, end_lsn, timestamp (and xid for Stream Commit).
  Lsn final_lsn = 0;
  Lsn commit_lsn = 0;
  Lsn end_lsn = 0;
  int64_t timestamp_micros = 0;  // Unix epoch
  uint32_t xid = 0;              // Begin, stream messages; 0 when absent
  // Relation / Type / Insert / Update / Delete.
  uint32_t relation_oid = 0;
  std::string nspname;  // Relation, Type
  std::string relname;  // Relation (table), Type (type name)
  char replica_identity = 'd';  // Relation: d(efault), n(othing), f(ull), i(ndex)
  std::vector<RelationColumn> columns;
  // Insert / Update: new_tuple. Update / Delete: old_tuple with its kind ('K' key
  // columns only, 'O' the whole old row under REPLICA IDENTITY FULL; 0 when absent).
  char old_kind = 0;
  Tuple old_tuple;
  Tuple new_tuple;
  // Truncate.
  std::vector<uint32_t> truncated;
  bool cascade = false;
  bool restart_identity = false;
  // Message (pg_logical_emit_message): prefix and content.
  std::string prefix;
  std::string content;
};

// `in_stream`: between Stream Start and Stream Stop (protocol 2), where Relation, Type,
// Insert/Update/Delete/Truncate and Message carry the transaction's xid first.
Result<PgOutputMessage> DecodePgOutput(std::string_view bytes, bool in_stream = false);

}  // namespace lakepipe::pgcdc
