#include "runtime/status_board.h"

#include <algorithm>
#include <chrono>
#include <cctype>

namespace lakepipe::runtime {

namespace {
std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
constexpr int64_t kRateWindowMs = 60000;
}  // namespace

Histogram Histogram::Seconds() {
  Histogram h;
  h.bounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  h.counts.assign(h.bounds.size() + 1, 0);
  return h;
}

void Histogram::Observe(double value, int64_t times) {
  if (times <= 0) return;
  size_t i = std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
  counts[i] += times;
  sum += value * static_cast<double>(times);
  count += times;
}

double Histogram::Quantile(double q) const {
  if (count == 0) return 0;
  double rank = q * static_cast<double>(count);
  int64_t below = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] > 0 && static_cast<double>(below + counts[i]) >= rank) {
      double lo = i == 0 ? 0 : bounds[i - 1];
      if (i == bounds.size()) return lo;  // the +Inf bucket: its lower bound is all we know
      double hi = bounds[i];
      double within = (rank - static_cast<double>(below)) / static_cast<double>(counts[i]);
      return lo + (hi - lo) * std::clamp(within, 0.0, 1.0);
    }
    below += counts[i];
  }
  return bounds.empty() ? 0 : bounds.back();
}

void StatusBoard::Init(PipelineStatus initial) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t generation = status_.generation;
  // Publication runs beside the runner and may have reported before the runner starts.
  if (initial.publications.empty()) initial.publications = std::move(status_.publications);
  status_ = std::move(initial);
  status_.generation = generation;
  recent_.clear();
  Changed();
}

TableStatus* StatusBoard::Find(const std::string& table) {
  std::string key = Lower(table);
  for (auto& t : status_.tables)
    if (Lower(t.name) == key) return &t;
  return nullptr;
}

void StatusBoard::Changed() {
  ++status_.generation;
  changed_.notify_all();
}

void StatusBoard::SetEventLogError(const std::string& error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (status_.event_log_error == error) return;
  status_.event_log_error = error;
  Changed();
}

void StatusBoard::SetState(const std::string& table, const std::string& state) {
  std::lock_guard<std::mutex> lock(mu_);
  TableStatus* t = Find(table);
  if (t == nullptr || t->state == state) return;
  t->state = state;
  Changed();
}

void StatusBoard::RecordBatch(const TableReport& report, int64_t now_unix_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  TableStatus* t = Find(report.table);
  if (t == nullptr) return;
  if (report.status == "failed") {
    t->state = "failed";
    t->last_error = report.message;
  } else {
    t->last_error.clear();
  }
  if (report.table_version >= 0) t->table_version = report.table_version;
  t->batches += report.batches;
  t->rows_in += report.rows_read;
  t->rows_out += report.rows_written;
  t->rows_dropped += report.rows_dropped;
  t->rows_quarantined += report.rows_quarantined;
  t->rows_late += report.rows_late;
  t->rows_rescued += report.rows_rescued;
  t->last_update_unix_ms = now_unix_ms;
  if (report.status == "updated" || report.status == "failed") {
    t->last_batch = report;
    t->batch_duration_seconds.Observe(static_cast<double>(report.duration_ms) / 1000.0);
  }
  for (const auto& e : report.expectations) {
    auto it = std::find_if(t->expectations.begin(), t->expectations.end(),
                           [&](const ExpectationTotals& x) { return x.name == e.name; });
    if (it == t->expectations.end()) {
      t->expectations.push_back({e.name, e.action, 0, 0});
      it = t->expectations.end() - 1;
    }
    it->passed += e.passed;
    it->failed += e.failed;
  }
  auto& recent = recent_[t->name];
  recent.emplace_back(now_unix_ms, report.rows_written);
  while (!recent.empty() && recent.front().first < now_unix_ms - kRateWindowMs) recent.erase(recent.begin());
  int64_t rows = 0;
  for (const auto& [ms, n] : recent) rows += n;
  int64_t span_ms = std::max<int64_t>(1000, std::min(kRateWindowMs, now_unix_ms - status_.started_unix_ms));
  t->rows_out_per_second = static_cast<double>(rows) * 1000.0 / static_cast<double>(span_ms);
  Changed();
}

void StatusBoard::RecordLatency(const std::string& table, double seconds, int64_t lines) {
  std::lock_guard<std::mutex> lock(mu_);
  TableStatus* t = Find(table);
  if (t == nullptr) return;
  t->end_to_end_latency_seconds.Observe(seconds, lines);
  Changed();
}

void StatusBoard::RecordRestart(const std::string& table, const std::string& message, int64_t now_unix_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  TableStatus* t = Find(table);
  if (t == nullptr) return;
  t->restarts += 1;
  t->last_restart = message;
  t->last_restart_unix_ms = now_unix_ms;
  Changed();
}

void StatusBoard::SetBacklog(const std::string& table, int64_t files, int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  TableStatus* t = Find(table);
  if (t == nullptr || (t->backlog_files == files && t->backlog_bytes == bytes)) return;
  t->backlog_files = files;
  t->backlog_bytes = bytes;
  Changed();
}

void StatusBoard::SetFilesTooOld(const std::string& table, int64_t files) {
  std::lock_guard<std::mutex> lock(mu_);
  TableStatus* t = Find(table);
  if (t == nullptr || t->files_too_old == files) return;
  t->files_too_old = files;
  Changed();
}

void StatusBoard::AddCleanedFiles(const std::string& table, int64_t cleaned, int64_t not_cleaned) {
  std::lock_guard<std::mutex> lock(mu_);
  TableStatus* t = Find(table);
  if (t == nullptr || (cleaned == 0 && not_cleaned == 0)) return;
  t->files_cleaned += cleaned;
  t->files_not_cleaned += not_cleaned;
  Changed();
}

void StatusBoard::SetReplicationLag(const std::string& table, int64_t bytes, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  TableStatus* t = Find(table);
  if (t == nullptr || (t->replication_lag_bytes == bytes && t->replication_lag_seconds == seconds)) return;
  t->replication_lag_bytes = bytes;
  t->replication_lag_seconds = seconds;
  Changed();
}

void StatusBoard::SetStateSize(const std::string& table, int64_t keys, int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  TableStatus* t = Find(table);
  if (t == nullptr || (t->state_keys == keys && t->state_bytes == bytes)) return;
  t->state_keys = keys;
  t->state_bytes = bytes;
  Changed();
}

void StatusBoard::SetPublication(const PublicationStatus& status) {
  std::lock_guard<std::mutex> lock(mu_);
  bool found = false;
  for (auto& p : status_.publications) {
    if (p.table == status.table && p.target == status.target) {
      p = status;
      found = true;
    }
  }
  if (!found) status_.publications.push_back(status);
  Changed();
}

PipelineStatus StatusBoard::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

int64_t StatusBoard::WaitForChange(int64_t seen_generation, int64_t timeout_ms) const {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                    [&] { return status_.generation > seen_generation; });
  return status_.generation;
}

}  // namespace lakepipe::runtime
