// TablePublisher: what publication beside a pipeline (publish_loop.h), `lakepipe publish`
// and `run --once` need from a destination that follows pipeline tables version by version:
// PostgreSQL tables (publisher.h) or Kafka topics (kafka_sink.h). Each destination keeps
// its own progress (the last Delta version it holds) durably and exactly once. Files
// (file_export.h) are a third.
//
// Thread-safety: an implementation is used by one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/fs.h"
#include "common/status.h"

namespace lakepipe::delta {
class DeltaTable;
}

namespace lakepipe::publish {

struct PublishResult {
  std::string table;
  std::string target;
  int64_t from_version = -1;  // published before (-1: never)
  int64_t to_version = -1;    // published now (-1: the Delta table does not exist yet)
  int64_t to_version_millis = 0;  // its Delta commit time (ms since the epoch)
  // "up to date", "upsert" (incremental), "replace" (whole table swapped), "not created"
  std::string technique;
  std::string reason;         // why a keyed table was replaced whole, if it was
  int64_t rows_upserted = 0;
  int64_t rows_deleted = 0;
  int64_t rows_loaded = 0;    // replace: rows of the new table
  int64_t rows_unchanged = 0; // upsert: rows in both the removed and the added files
  // upsert: the changes came from the table's change data feed (not the file difference)
  bool from_change_feed = false;
  // Kafka: messages sent now, and messages of these versions an interrupted run had
  // already written (found in the topic, not sent again).
  int64_t messages_sent = 0;
  int64_t messages_already_in_topic = 0;
  std::vector<std::string> columns_added;  // ALTER TABLE ADD COLUMN for new Delta columns
  // Files: partition files replaced now, left as they were (same bytes), and removed.
  int64_t files_written = 0;
  int64_t files_unchanged = 0;
  int64_t files_removed = 0;
  int64_t duration_ms = 0;
};

// Where one table stands: the lag the event log, /metrics and the dashboard show.
struct PublishLag {
  std::string table;
  std::string target;
  int64_t published_version = -1;
  int64_t latest_version = -1;
  int64_t lag_versions = 0;
  double lag_seconds = 0;  // since the oldest unpublished commit (0 when up to date)
};

// The Delta tables a destination follows, opened on first use and kept by pipeline table
// name. A table not created yet gives null and is looked for again at the next call.
// One thread at a time, like the destinations that own it.
class DeltaTableHandles {
 public:
  explicit DeltaTableHandles(FileSystem* fs = FileSystem::Default());
  ~DeltaTableHandles();
  Result<delta::DeltaTable*> Get(const std::string& table, const std::string& path);
  // The latest version of `table`, -1 when it is not created yet.
  Result<int64_t> LatestVersion(const std::string& table, const std::string& path);

 private:
  FileSystem* fs_;
  std::map<std::string, std::unique_ptr<delta::DeltaTable>> open_;
};

// Fills `lag` from `table` (null: not created yet) for a destination holding
// `published_version` (-1: nothing): the latest version, the versions behind, and the
// seconds since the first commit the destination lacks. Shared by the destinations.
Status FillLag(delta::DeltaTable* table, int64_t published_version, const Clock& clock, PublishLag* lag);

class TablePublisher {
 public:
  virtual ~TablePublisher() = default;
  // (pipeline table, target as shown in status and messages), in settings order.
  virtual std::vector<std::pair<std::string, std::string>> Targets() const = 0;
  // Brings the target of `table` to the table's latest Delta version (rebuild: from
  // scratch, where the destination can).
  virtual Result<PublishResult> Publish(const std::string& table, bool rebuild = false) = 0;
  // The latest Delta version of `table` (-1 when its Delta table does not exist yet).
  virtual Result<int64_t> LatestVersion(const std::string& table) = 0;
  // How far behind the target is; `published_version` >= -1 saves reading it back.
  virtual Result<PublishLag> Lag(const std::string& table, int64_t published_version = -2) = 0;
};

}  // namespace lakepipe::publish
