// AuditLog: who read or changed what, a Delta table at `<storage>/_audit/` that any Delta
// reader (and `lakepipe audit`, `lakepipe query`) can read. docs/governance.md states its
// schema and what is recorded.
//
// Append-only: records are only ever appended (blind Delta appends, which never conflict,
// so the server and command-line runs may append at the same time), never updated.
//
// Durability (group commit): Record() returns only once its record is in a committed Delta
// version (data file and commit fsynced, as every lakepipe commit). Records that arrive
// while a commit is being written wait and go together into the next one, so a busy
// server makes one commit per batch of requests, not per request. Callers answer (an HTTP
// response, a command's exit) only after Record returns, so a crash can lose only records
// of actions that were never acknowledged; their data files, if written, are never
// referenced by the log and are removed by VACUUM.
//
// Each commit adds one small data file; every kCompactEvery-th version compacts the
// table (delta/append_log_compaction.h), so neither a server that runs for weeks nor
// cron-style commands that each record once leave a file per record for every checkpoint
// to list.
//
// Thread-safe: Record may be called from many threads at once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/fs.h"
#include "common/status.h"
#include "delta/append_log_compaction.h"
#include "types/schema.h"

namespace lakepipe::delta {
class DeltaTable;
}

namespace lakepipe::governance {

struct AuditRecord {
  int64_t timestamp_micros = 0;  // 0: now
  std::string principal;  // principal name, "server.tokens", "local:<OS user>", "" (no valid token)
  std::string role;       // admin, operator, reader; "" when unknown
  std::string action;     // read_table, read_rows, query, run, full_refresh, vacuum, delete, publish, grant_change, http
  std::string target;     // a table, a chart, a path, tables of a run
  std::string source;     // "http 127.0.0.1:54321", "cli pid 4242 on host"
  std::string outcome;    // allowed, denied, failed
  int64_t status = 0;     // the HTTP status, or the command's exit status
  std::string detail;     // why denied or failed; what changed (grants); the SQL of a query
};

class AuditLog {
 public:
  AuditLog(FileSystem* fs, std::string storage, std::string pipeline, Clock* clock = Clock::System());

  static constexpr int kCompactEvery = delta::kAppendLogCompactEvery;

  static Schema TableSchema();
  static std::string TablePath(const std::string& storage);

  // Appends `record` and returns once it is committed (see the class comment).
  Status Record(AuditRecord record);

  // Every record with timestamp >= since_micros, oldest first (none when there is no
  // audit table yet).
  static Result<std::vector<AuditRecord>> Read(const std::string& storage, int64_t since_micros = 0,
                                               FileSystem* fs = FileSystem::Default());

 private:
  struct Batch {
    std::vector<AuditRecord> records;
    bool done = false;
    Status status;
  };
  Status Write(const std::vector<AuditRecord>& records);

  FileSystem* fs_;
  std::string path_;
  std::string pipeline_;
  Clock* clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<Batch> open_;  // records waiting for the next commit (guarded by mu_)
  bool committing_ = false;      // a commit is being written (guarded by mu_)
  // The table's handle, kept between commits so that each one replays only the commits
  // since the last (not the checkpoint again). Only the committing leader touches it.
  std::shared_ptr<delta::DeltaTable> table_;
};

// The local OS user running this process ("local:<name>", or "local:uid <n>").
std::string LocalUser();
// "cli pid <pid> on <host>".
std::string LocalSource();

}  // namespace lakepipe::governance

namespace lakepipe::governance {
class Policy;
// Appends a `grant_change` record when `policy`'s principals or grants differ from what
// the audit log last recorded (replaying earlier grant_change records): detail holds one
// line per change, "+ <line>" or "- <line>" (lines as Policy::Describe gives them). No
// record when nothing changed. `principal`/`source`: who started the process, from where.
Status RecordPolicyChange(AuditLog& log, const std::string& storage, const Policy& policy, const std::string& principal,
                          const std::string& source);
}  // namespace lakepipe::governance
