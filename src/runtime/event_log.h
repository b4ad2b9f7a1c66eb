// EventLog: the pipeline's event log, a Delta table at `<storage>/_event_log/` that any
// Delta reader (and `lakepipe query`) can read. docs/event-log.md states its schema.
//
// Events of one update are buffered and appended in one Delta commit by Flush(), so a
// pipeline update costs one event-log commit, not one per event. Thread-safe: Add and
// Flush may be called from several flows' threads.
#pragma once

#include <cstdint>
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
  // Appends the buffered events to the table; a no-op when none are buffered.
  Status Flush();

 private:
  FileSystem* fs_;
  std::string path_;
  std::string pipeline_;
  Clock* clock_;
  std::string update_id_;
  std::mutex mu_;
  std::vector<Event> pending_;
};

}  // namespace lakepipe::runtime
