#include "governance/audit_log.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>

#include <set>

#include "delta/append_log_compaction.h"
#include "delta/table.h"
#include "governance/policy.h"
#include "types/batch.h"

namespace lakepipe::governance {

AuditLog::AuditLog(FileSystem* fs, std::string storage, std::string pipeline, Clock* clock)
    : fs_(fs), path_(TablePath(storage)), pipeline_(std::move(pipeline)), clock_(clock) {}

Schema AuditLog::TableSchema() {
  return Schema({{"timestamp", DataType::Timestamp()},
                 {"pipeline", DataType::String()},
                 {"principal", DataType::String()},
                 {"role", DataType::String()},
                 {"action", DataType::String()},
                 {"target", DataType::String()},
                 {"source", DataType::String()},
                 {"outcome", DataType::String()},
                 {"status", DataType::Long()},
                 {"detail", DataType::String()}});
}

std::string AuditLog::TablePath(const std::string& storage) { return JoinPath(storage, "_audit"); }

Status AuditLog::Record(AuditRecord record) {
  if (record.timestamp_micros == 0) record.timestamp_micros = clock_->NowMicros();
  std::unique_lock<std::mutex> lock(mu_);
  if (open_ == nullptr) open_ = std::make_shared<Batch>();
  std::shared_ptr<Batch> batch = open_;
  batch->records.push_back(std::move(record));
  while (!batch->done) {
    if (!committing_ && open_ == batch) {
      // Lead: commit the open batch (ours, with whatever arrived since), outside the lock.
      open_.reset();
      committing_ = true;
      lock.unlock();
      Status st = Write(batch->records);
      lock.lock();
      batch->status = st;
      batch->done = true;
      committing_ = false;
      cv_.notify_all();
    } else {
      cv_.wait(lock);
    }
  }
  return batch->status;
}

Status AuditLog::Write(const std::vector<AuditRecord>& records) {
  Schema schema = TableSchema();
  std::vector<Column> cols;
  for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  auto str = [](Column& c, const std::string& s) {
    if (s.empty()) {
      c.AppendNull();
    } else {
      c.AppendString(s);
    }
  };
  for (const auto& r : records) {
    cols[0].Append<int64_t>(r.timestamp_micros);
    str(cols[1], pipeline_);  // null: the job server's log, or a `lakepipe table` command's
    str(cols[2], r.principal);
    str(cols[3], r.role);
    cols[4].AppendString(r.action);
    str(cols[5], r.target);
    str(cols[6], r.source);
    cols[7].AppendString(r.outcome);
    cols[8].Append<int64_t>(r.status);
    str(cols[9], r.detail);
  }
  delta::WriteOptions options;
  options.operation = "WRITE";
  delta::CreateOptions create;
  create.schema = schema;
  create.description = pipeline_.empty() ? std::string("lakepipe audit log (docs/governance.md)")
                                         : "lakepipe audit log of pipeline " + pipeline_ + " (docs/governance.md)";
  create.configuration["delta.appendOnly"] = "true";
  options.create_if_missing = create;
  delta::TableOptions table_options;
  table_options.clock = clock_;
  if (table_ == nullptr && delta::DeltaTable::Exists(path_, fs_)) {
    auto opened = delta::DeltaTable::Open(path_, fs_, table_options);
    if (!opened.ok()) return opened.status().WithContext("audit log");
    table_ = std::move(opened).value();
  }
  auto writer = table_ != nullptr ? table_->NewWriter(options) : delta::DeltaTable::NewWriter(path_, options, fs_, table_options);
  if (!writer.ok()) return writer.status().WithContext("audit log");
  LP_RETURN_IF_ERROR((*writer)->Write(RecordBatch::FromColumns(schema, std::move(cols))));
  auto committed = (*writer)->Commit();
  if (!committed.ok()) return committed.status().WithContext("audit log");
  // Compacted as delta/append_log_compaction.h says; the record is committed whatever
  // happens there (a failed compaction is tried again kCompactEvery versions later).
  if (delta::AppendLogCompactionDue(committed->version)) {
    if (table_ == nullptr) {
      auto opened = delta::DeltaTable::Open(path_, fs_, table_options);
      if (!opened.ok()) return Status::OK();
      table_ = std::move(opened).value();
    }
    (void)delta::CompactAppendLog(*table_);
  }
  return Status::OK();
}

Result<std::vector<AuditRecord>> AuditLog::Read(const std::string& storage, int64_t since_micros, FileSystem* fs) {
  std::vector<AuditRecord> out;
  std::string path = TablePath(storage);
  if (!delta::DeltaTable::Exists(path, fs)) return out;
  LP_ASSIGN_OR_RETURN(auto table, delta::DeltaTable::Open(path, fs));
  LP_ASSIGN_OR_RETURN(auto snapshot, table->Latest());
  LP_ASSIGN_OR_RETURN(auto scan, delta::Scan::Plan(snapshot, {}));
  LP_ASSIGN_OR_RETURN(RecordBatch batch, scan.ReadAll());
  const Schema& schema = batch.schema();
  auto col = [&](const char* name) -> const Column* {
    int i = schema.FindField(name);
    return i < 0 ? nullptr : &batch.column(static_cast<size_t>(i));
  };
  const Column* ts = col("timestamp");
  if (ts == nullptr) return Status::Corruption(path + ": the audit table has no timestamp column");
  auto text = [&](const Column* c, int64_t row) {
    return c == nullptr || c->IsNull(row) ? std::string() : std::string(c->GetString(row));
  };
  const Column *principal = col("principal"), *role = col("role"), *action = col("action"), *target = col("target"),
               *source = col("source"), *outcome = col("outcome"), *status = col("status"), *detail = col("detail");
  for (int64_t row = 0; row < batch.num_rows(); ++row) {
    if (ts->IsNull(row)) continue;
    AuditRecord r;
    r.timestamp_micros = ts->Get<int64_t>(row);
    if (r.timestamp_micros < since_micros) continue;
    r.principal = text(principal, row);
    r.role = text(role, row);
    r.action = text(action, row);
    r.target = text(target, row);
    r.source = text(source, row);
    r.outcome = text(outcome, row);
    r.status = status == nullptr || status->IsNull(row) ? 0 : status->Get<int64_t>(row);
    r.detail = text(detail, row);
    out.push_back(std::move(r));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const AuditRecord& a, const AuditRecord& b) { return a.timestamp_micros < b.timestamp_micros; });
  return out;
}

std::string LocalUser() {
  uid_t uid = geteuid();
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found != nullptr && found->pw_name != nullptr) {
    return std::string("local:") + found->pw_name;
  }
  return "local:uid " + std::to_string(uid);
}

std::string LocalSource() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = 0;
  return "cli pid " + std::to_string(getpid()) + " on " + (host[0] ? host : "?");
}

Status RecordPolicyChange(AuditLog& log, const std::string& storage, const Policy& policy, const std::string& principal,
                          const std::string& source) {
  LP_ASSIGN_OR_RETURN(auto records, AuditLog::Read(storage));
  std::set<std::string> before;
  for (const auto& r : records) {
    if (r.action != "grant_change") continue;
    size_t at = 0;
    while (at < r.detail.size()) {
      size_t end = r.detail.find('\n', at);
      if (end == std::string::npos) end = r.detail.size();
      std::string line = r.detail.substr(at, end - at);
      if (line.size() > 2 && line[0] == '+') before.insert(line.substr(2));
      if (line.size() > 2 && line[0] == '-') before.erase(line.substr(2));
      at = end + 1;
    }
  }
  std::vector<std::string> now = policy.Describe();
  std::set<std::string> after(now.begin(), now.end());
  std::string detail;
  int changes = 0;
  for (const auto& line : before)
    if (!after.count(line)) detail += (changes++ ? "\n- " : "- ") + line;
  for (const auto& line : after)
    if (!before.count(line)) detail += (changes++ ? "\n+ " : "+ ") + line;
  if (changes == 0) return Status::OK();
  AuditRecord r;
  r.principal = principal;
  r.role = "os";
  r.action = "grant_change";
  r.target = policy.source().empty() ? "(no governance)" : policy.source();
  r.source = source;
  r.outcome = "allowed";
  r.detail = std::move(detail);
  return log.Record(std::move(r));
}

}  // namespace lakepipe::governance
