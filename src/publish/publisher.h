// Publisher: publishes pipeline tables (Delta) to PostgreSQL tables, exactly once per
// Delta version, as docs/publish.md specifies.
//
//   - A table with a key is kept by upserts and deletes computed from the difference
//     between the last published Delta version and the latest one: from the table's
//     change data feed when it records one (delta/change_feed.h: only the changed rows
//     are read), else the rows of the data files the newer version removed against the
//     rows of the files it added (rows in both are unchanged and not sent); loaded through
//     COPY into temp tables, then INSERT ... ON CONFLICT DO UPDATE and DELETE ... USING.
//   - A table without a key (and a keyed table published the first time, rebuilt, or whose
//     old version can no longer be read) is loaded into a new table that replaces the
//     old one by DROP + RENAME in the same transaction: readers see the old rows or the
//     new ones, never a half table.
//   - `<schema>.lakepipe_publish` holds, per target table, the Delta version it equals.
//     It is read with FOR UPDATE and written in the same PostgreSQL transaction as the
//     data, so a crash anywhere applies a version entirely or not at all, and the next
//     run starts from what is committed.
//   - The reader role (if set) is created when missing and gets USAGE on the schema and
//     SELECT on the published tables, nothing else.
//
// Thread-safety: one thread uses a Publisher (it owns one connection). Several processes
// may publish the same table: the progress row's lock serialises them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "publish/table_publisher.h"

namespace lakepipe::sql {
struct PostgresPublish;
}
namespace lakepipe::delta {
class DeltaTable;
}
namespace lakepipe {
class PgConnection;
}

namespace lakepipe::publish {

struct PublishTarget {
  std::string table;        // the pipeline table
  std::string table_path;   // its Delta folder
  std::string target;       // the PostgreSQL table (published in lower case)
  std::vector<std::string> key;  // empty: replaced whole at each version
};

struct PublisherOptions {
  std::string dsn;
  std::string schema = "public";
  std::string reader_role;  // empty: none
  std::vector<PublishTarget> tables;
  int connect_timeout_seconds = 5;
};

// The options of pipeline.yaml's publish.postgres section; `table_path` gives a pipeline
// table's Delta folder.
PublisherOptions OptionsFromSettings(const sql::PostgresPublish& settings,
                                     const std::function<std::string(const std::string&)>& table_path);

class Publisher : public TablePublisher {
 public:
  explicit Publisher(PublisherOptions options, Clock* clock = Clock::System());
  ~Publisher() override;

  const PublisherOptions& options() const { return options_; }
  // The target of pipeline table `table`, or nullptr.
  const PublishTarget* Find(const std::string& table) const;

  // Brings `table`'s PostgreSQL table to the Delta table's latest version (or, with
  // rebuild, recreates it from that version whatever was published). Connects (again)
  // when needed. An error leaves PostgreSQL as it was (the transaction rolls back).
  Result<PublishResult> Publish(const std::string& table, bool rebuild = false) override;

  // Lag of `table` from the progress table and the Delta log. Needs the connection
  // (published version) unless `published_version` is given (>= -1).
  Result<PublishLag> Lag(const std::string& table, int64_t published_version = -2) override;

  // Drops the connection (the next call reconnects).
  void Disconnect();

  // The latest Delta version of `table` (-1 when its Delta table does not exist yet).
  Result<int64_t> LatestVersion(const std::string& table) override;
  std::vector<std::pair<std::string, std::string>> Targets() const override;

 private:
  Status Connect();
  Status Setup();
  Result<PublishResult> PublishInTransaction(const PublishTarget& t, bool rebuild);
  // A handle kept per table: it caches the last state it replayed, so the next version
  // costs only the commits after it (nullptr while the table does not exist).
  Result<delta::DeltaTable*> Table(const PublishTarget& t);

  PublisherOptions options_;
  Clock* clock_;
  std::unique_ptr<PgConnection> conn_;
  bool setup_done_ = false;
  DeltaTableHandles tables_;
};

}  // namespace lakepipe::publish
