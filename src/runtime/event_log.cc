#include "runtime/event_log.h"

#include <iterator>

#include "common/uuid.h"
#include "delta/table.h"
#include "runtime/event_log_upkeep.h"
#include "types/batch.h"

namespace lakepipe::runtime {

EventLog::EventLog(FileSystem* fs, std::string storage, std::string pipeline, Clock* clock)
    : fs_(fs),
      path_(TablePath(storage)),
      pipeline_(std::move(pipeline)),
      clock_(clock),
      txn_app_id_("lakepipe-event-log-" + NewUuid()) {}

Schema EventLog::TableSchema() {
  return Schema({{"timestamp", DataType::Timestamp()},
                 {"pipeline", DataType::String()},
                 {"table_name", DataType::String()},
                 {"update_id", DataType::String()},
                 {"event_type", DataType::String()},
                 {"level", DataType::String()},
                 {"message", DataType::String()},
                 {"details", DataType::String()}});
}

std::string EventLog::TablePath(const std::string& storage) { return JoinPath(storage, "_event_log"); }

void EventLog::set_update_id(std::string update_id) {
  std::lock_guard<std::mutex> lock(mu_);
  update_id_ = std::move(update_id);
}

void EventLog::Add(Event event) {
  if (event.timestamp_micros == 0) event.timestamp_micros = clock_->NowMicros();
  std::lock_guard<std::mutex> lock(mu_);
  if (pending_.size() >= kMaxPending) {
    pending_.pop_front();
    ++dropped_;
  }
  pending_.push_back(std::move(event));
}

Status EventLog::Flush() {
  std::lock_guard<std::mutex> flush_lock(flush_mu_);
  // A failed batch is written again as it was, under the same txn version: if its commit
  // did become visible, the writer finds the txn and adds nothing.
  if (!retry_.empty()) {
    LP_RETURN_IF_ERROR(Write(retry_, retry_update_id_));
    retry_.clear();
    ++txn_version_;
  }
  std::vector<Event> events;
  std::string update_id;
  int64_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    events.assign(std::make_move_iterator(pending_.begin()), std::make_move_iterator(pending_.end()));
    pending_.clear();
    update_id = update_id_;
    dropped = dropped_;
    dropped_ = 0;
  }
  if (dropped > 0) {
    Event e;
    e.timestamp_micros = clock_->NowMicros();
    e.event_type = "event_log_overflow";
    e.level = "WARN";
    e.message = std::to_string(dropped) + " events were dropped while the event log could not be written (at most " +
                std::to_string(kMaxPending) + " are kept)";
    e.details_json = "{\"dropped_events\":" + std::to_string(dropped) + "}";
    events.push_back(std::move(e));
  }
  if (events.empty()) return Status::OK();
  Status st = Write(events, update_id);
  if (st.ok()) {
    ++txn_version_;
    return st;
  }
  retry_ = std::move(events);
  retry_update_id_ = update_id;
  return st;
}

size_t EventLog::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

Status EventLog::Write(const std::vector<Event>& events, const std::string& update_id) {
  Schema schema = TableSchema();
  std::vector<Column> cols;
  for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  for (const auto& e : events) {
    cols[0].Append<int64_t>(e.timestamp_micros);
    cols[1].AppendString(pipeline_);
    if (e.table.empty()) {
      cols[2].AppendNull();
    } else {
      cols[2].AppendString(e.table);
    }
    cols[3].AppendString(update_id);
    cols[4].AppendString(e.event_type);
    cols[5].AppendString(e.level);
    cols[6].AppendString(e.message);
    cols[7].AppendString(e.details_json);
  }
  delta::WriteOptions options;
  options.operation = "WRITE";
  options.txn_app_id = txn_app_id_;
  options.txn_version = txn_version_;
  delta::CreateOptions create;
  create.schema = schema;
  create.description = "lakepipe event log of pipeline " + pipeline_;
  create.configuration = EventLogHistoryProperties();
  options.create_if_missing = create;
  delta::TableOptions table_options;
  table_options.clock = clock_;
  auto result = delta::DeltaTable::NewWriter(path_, options, fs_, table_options);
  if (!result.ok()) return result.status().WithContext("event log");
  LP_RETURN_IF_ERROR((*result)->Write(RecordBatch::FromColumns(schema, std::move(cols))));
  auto committed = (*result)->Commit();
  if (!committed.ok()) return committed.status().WithContext("event log");
  return Status::OK();
}

}  // namespace lakepipe::runtime
