#include "runtime/event_log.h"

#include "delta/table.h"
#include "types/batch.h"

namespace lakepipe::runtime {

EventLog::EventLog(FileSystem* fs, std::string storage, std::string pipeline, Clock* clock)
    : fs_(fs), path_(TablePath(storage)), pipeline_(std::move(pipeline)), clock_(clock) {}

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
  pending_.push_back(std::move(event));
}

Status EventLog::Flush() {
  std::vector<Event> events;
  std::string update_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    events.swap(pending_);
    update_id = update_id_;
  }
  if (events.empty()) return Status::OK();
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
  delta::CreateOptions create;
  create.schema = schema;
  create.description = "lakepipe event log of pipeline " + pipeline_;
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
