// EventLog: the pipeline's event log, a Delta table at `<storage>/_event_log/` that any
// Delta reader (and `lakepipe query`) can read. docs/event-log.md states its schema.
//
// Events of one update are buffered and appended in one Delta commit by Flush(), so a
// pipeline update costs one event-log commit, not one per event. A Flush that fails keeps
// its batch and writes it again, first, at the next Flush; events added meanwhile stay
// buffered (at most kMaxPending; older ones are then dropped and counted in a WARN event
// `event_log_overflow`). Each batch carries a txn (an app id of this EventLog, a version
// per batch), so a retried batch whose commit had become visible is not added twice.
// Thread-safe: Add and Flush may be called from several flows' threads.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/fs.h"
#include "common/status.h"
#include "types/schema.h"

namespace lakepipe::runtime {

struct Event {
  int64_t timestamp_micros = 0;  // 0: now
  std::string table;             // empty for pipeline-level events
  std::string event_type;        // update_start, flow_progress, update_complete, error, ...
  std::string level = "INFO";    // INFO, WARN, ERROR
  std::string message;
  std::string details_json = "{}";
};

class EventLog {
 public:
  EventLog(FileSystem* fs, std::string storage, std::string pipeline, Clock* clock);

  // The event log table's schema.
  static Schema TableSchema();
  static std::string TablePath(const std::string& storage);

  void set_update_id(std::string update_id);
  const std::string& update_id() const { return update_id_; }

  void Add(Event event);
  // Appends the buffered events to the table; a no-op when none are buffered. On failure
  // the events stay buffered for the next call.
  Status Flush();
  size_t pending() const;  // events added and not yet written (a failed batch excluded)

  static constexpr size_t kMaxPending = 100000;

 private:
  Status Write(const std::vector<Event>& events, const std::string& update_id);

  FileSystem* fs_;
  std::string path_;
  std::string pipeline_;
  Clock* clock_;
  std::string update_id_;
  const std::string txn_app_id_;
  std::mutex flush_mu_;      // one Flush at a time (the txn version is per Flush)
  int64_t txn_version_ = 1;  // guarded by flush_mu_
  std::vector<Event> retry_;       // the batch of a failed Flush (guarded by flush_mu_)
  std::string retry_update_id_;
  mutable std::mutex mu_;
  std::deque<Event> pending_;
  int64_t dropped_ = 0;      // events dropped past kMaxPending, not yet reported
};

}  // namespace lakepipe::runtime
