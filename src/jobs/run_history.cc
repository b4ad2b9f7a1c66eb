#include "jobs/run_history.h"

#include <algorithm>

#include "delta/append_log_compaction.h"
#include "delta/table.h"
#include "types/batch.h"

namespace lakepipe::jobs {
namespace {

Schema HistorySchema() {
  Schema s;
  auto add = [&s](const char* name, DataType type) {
    Field f;
    f.name = name;
    f.type = type;
    s.AddField(f);
  };
  add("job", DataType::String());
  add("run_id", DataType::String());
  add("task", DataType::String());
  add("attempt", DataType::Int());
  add("trigger", DataType::String());
  add("state", DataType::String());
  add("start_time", DataType::Timestamp());
  add("end_time", DataType::Timestamp());
  add("error", DataType::String());
  add("parameters", DataType::String());
  add("log", DataType::String());
  return s;
}

}  // namespace

RunHistory::RunHistory(std::string storage) : table_path_(std::move(storage) + "/_job_runs") {}

Status RunHistory::Append(const std::vector<RunRecord>& records) {
  if (records.empty()) return Status::OK();
  std::lock_guard<std::mutex> lock(mu_);
  Schema schema = HistorySchema();
  std::vector<Column> cols;
  for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  auto str = [](Column& c, const std::string& v) {
    if (v.empty()) {
      c.AppendNull();
    } else {
      c.AppendString(v);
    }
  };
  for (const auto& r : records) {
    cols[0].AppendString(r.job);
    cols[1].AppendString(r.run_id);
    str(cols[2], r.task);
    cols[3].Append<int32_t>(r.attempt);
    cols[4].AppendString(r.trigger);
    cols[5].AppendString(r.state);
    cols[6].Append<int64_t>(r.start_micros);
    cols[7].Append<int64_t>(r.end_micros);
    str(cols[8], r.error);
    str(cols[9], r.parameters);
    str(cols[10], r.log);
  }
  RecordBatch batch = RecordBatch::FromColumns(schema, std::move(cols));
  for (int attempt = 0;; ++attempt) {
    delta::WriteOptions wo;
    wo.operation_parameters["source"] = "lakepipe job";
    if (!delta::DeltaTable::Exists(table_path_)) {
      delta::CreateOptions create;
      create.schema = schema;
      create.name = "_job_runs";
      create.description = "lakepipe job run history (docs/jobs.md)";
      wo.create_if_missing = create;
    }
    auto writer = delta::DeltaTable::NewWriter(table_path_, wo);
    Status st = writer.ok() ? (*writer)->Write(batch) : writer.status();
    if (st.ok()) {
      auto committed = (*writer)->Commit();
      st = committed.status();
      // One small file per Append: compacted as delta/append_log_compaction.h says. The
      // records are committed whatever happens there (a failure is retried 50 versions on).
      if (st.ok() && delta::AppendLogCompactionDue(committed->version)) {
        auto table = delta::DeltaTable::Open(table_path_);
        if (table.ok()) (void)delta::CompactAppendLog(**table);
      }
    }
    // Another process created the table at the same moment: append to it.
    if (st.IsAlreadyExists() && attempt == 0) continue;
    return st.WithContext("job run history " + table_path_);
  }
}

namespace {

// Every row of `snap`, in the order they ended.
Result<std::vector<RunRecord>> ReadSnapshot(const delta::SnapshotPtr& snap, const std::string& table_path) {
  std::vector<RunRecord> out;
  LP_ASSIGN_OR_RETURN(delta::Scan scan, delta::Scan::Plan(snap, {}));
  // Files in commit order (each Append adds one file in one commit).
  std::vector<std::pair<int64_t, size_t>> order;
  for (size_t i = 0; i < scan.files().size(); ++i) order.push_back({scan.files()[i].add.modification_time, i});
  std::stable_sort(order.begin(), order.end());
  for (const auto& [mtime, i] : order) {
    LP_ASSIGN_OR_RETURN(RecordBatch b, scan.ReadFile(i));
    auto col = [&b](const char* name) { return b.ColumnByName(name); };
    const Column *job = col("job"), *run = col("run_id"), *task = col("task"), *attempt = col("attempt"),
                 *trigger = col("trigger"), *state = col("state"), *start = col("start_time"),
                 *end = col("end_time"), *error = col("error"), *params = col("parameters"), *log = col("log");
    if (!job || !run || !task || !attempt || !trigger || !state || !start || !end || !error || !params || !log) {
      return Status::Corruption("job run history " + table_path + " lacks a column of docs/jobs.md");
    }
    auto s = [](const Column* c, int64_t r) { return c->IsNull(r) ? std::string() : std::string(c->GetString(r)); };
    for (int64_t r = 0; r < b.num_rows(); ++r) {
      RunRecord rec;
      rec.job = s(job, r);
      rec.run_id = s(run, r);
      rec.task = s(task, r);
      rec.attempt = attempt->IsNull(r) ? 0 : attempt->Get<int32_t>(r);
      rec.trigger = s(trigger, r);
      rec.state = s(state, r);
      rec.start_micros = start->IsNull(r) ? 0 : start->Get<int64_t>(r);
      rec.end_micros = end->IsNull(r) ? 0 : end->Get<int64_t>(r);
      rec.error = s(error, r);
      rec.parameters = s(params, r);
      rec.log = s(log, r);
      out.push_back(std::move(rec));
    }
  }
  // Rows in the order they ended (file times have millisecond resolution).
  std::stable_sort(out.begin(), out.end(),
                   [](const RunRecord& a, const RunRecord& b) { return a.end_micros < b.end_micros; });
  return out;
}

}  // namespace

Result<std::vector<RunRecord>> RunHistory::ReadAll() const {
  if (!delta::DeltaTable::Exists(table_path_)) return std::vector<RunRecord>();
  LP_ASSIGN_OR_RETURN(auto table, delta::DeltaTable::Open(table_path_));
  LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, table->Latest());
  return ReadSnapshot(snap, table_path_);
}

Result<std::shared_ptr<const std::vector<RunRecord>>> RunHistory::ReadAllCached() {
  if (!delta::DeltaTable::Exists(table_path_)) return std::make_shared<const std::vector<RunRecord>>();
  LP_ASSIGN_OR_RETURN(auto table, delta::DeltaTable::Open(table_path_));
  LP_ASSIGN_OR_RETURN(int64_t version, table->LatestVersion());  // lists the log, reads no data
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cached_ != nullptr && cached_version_ == version) return cached_;
  }
  LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, table->AtVersion(version));
  LP_ASSIGN_OR_RETURN(std::vector<RunRecord> rows, ReadSnapshot(snap, table_path_));
  auto shared = std::make_shared<const std::vector<RunRecord>>(std::move(rows));
  std::lock_guard<std::mutex> lock(cache_mu_);
  ++cache_misses_;
  if (version >= cached_version_) {  // a slower reader of an older version keeps the newer
    cached_version_ = version;
    cached_ = shared;
  }
  return shared;
}

int64_t RunHistory::cache_misses() const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  return cache_misses_;
}

}  // namespace lakepipe::jobs
