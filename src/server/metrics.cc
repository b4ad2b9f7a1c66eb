#include "server/metrics.h"

#include <charconv>
#include <cmath>
#include <functional>

#include "common/memory.h"
#include "state/memory_usage.h"

namespace lakepipe::server {

namespace {

std::string Number(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), d);
  return std::string(buf, r.ptr);
}
std::string Number(int64_t v) { return std::to_string(v); }

// HELP text escapes backslash and newline (not quotes).
std::string EscapeHelp(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

class Writer {
 public:
  void Family(const char* name, const char* type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += EscapeHelp(help);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // `labels`: pairs of name and raw value.
  void Sample(std::string_view name, std::initializer_list<std::pair<const char*, std::string_view>> labels,
              const std::string& value) {
    out_ += name;
    if (labels.size() > 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += k;
        out_ += "=\"";
        out_ += EscapeLabelValue(v);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  std::string& text() { return out_; }

 private:
  std::string out_;
};

using runtime::Histogram;
using runtime::TableStatus;

void PerTable(Writer& w, const runtime::PipelineStatus& s, const char* name, const char* type, const char* help,
              const std::function<std::string(const TableStatus&)>& value) {
  w.Family(name, type, help);
  for (const auto& t : s.tables) w.Sample(name, {{"table", t.name}}, value(t));
}

void Histograms(Writer& w, const runtime::PipelineStatus& s, const char* name, const char* help,
                const std::function<const Histogram&(const TableStatus&)>& get) {
  w.Family(name, "histogram", help);
  std::string bucket = std::string(name) + "_bucket";
  for (const auto& t : s.tables) {
    const Histogram& h = get(t);
    int64_t cumulative = 0;
    for (size_t i = 0; i < h.bounds.size(); ++i) {
      cumulative += i < h.counts.size() ? h.counts[i] : 0;
      w.Sample(bucket, {{"table", t.name}, {"le", Number(h.bounds[i])}}, Number(cumulative));
    }
    w.Sample(bucket, {{"table", t.name}, {"le", "+Inf"}}, Number(h.count));
    w.Sample(std::string(name) + "_sum", {{"table", t.name}}, Number(h.sum));
    w.Sample(std::string(name) + "_count", {{"table", t.name}}, Number(h.count));
  }
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string RenderMetrics(const runtime::PipelineStatus& s, bool running) {
  Writer w;
  w.Family("lakepipe_up", "gauge", "1 while the lakepipe server answers");
  w.Sample("lakepipe_up", {}, "1");
  w.Family("lakepipe_pipeline_running", "gauge", "1 when the pipeline runs in this process");
  w.Sample("lakepipe_pipeline_running", {{"pipeline", s.pipeline}, {"mode", s.mode}}, running ? "1" : "0");

  PerTable(w, s, "lakepipe_table_version", "gauge", "Latest Delta version of the table (-1: not written)",
           [](const TableStatus& t) { return Number(t.table_version); });
  PerTable(w, s, "lakepipe_batches_total", "counter", "Batches (or updates) committed",
           [](const TableStatus& t) { return Number(t.batches); });
  PerTable(w, s, "lakepipe_rows_in_total", "counter", "Rows read",
           [](const TableStatus& t) { return Number(t.rows_in); });
  PerTable(w, s, "lakepipe_rows_out_total", "counter", "Rows written",
           [](const TableStatus& t) { return Number(t.rows_out); });
  PerTable(w, s, "lakepipe_rows_dropped_total", "counter", "Rows dropped by expectations",
           [](const TableStatus& t) { return Number(t.rows_dropped); });
  PerTable(w, s, "lakepipe_rows_quarantined_total", "counter", "Rows moved to the quarantine table",
           [](const TableStatus& t) { return Number(t.rows_quarantined); });
  PerTable(w, s, "lakepipe_rows_late_total", "counter", "Rows behind a watermark, moved to the <table>_late table",
           [](const TableStatus& t) { return Number(t.rows_late); });
  PerTable(w, s, "lakepipe_rows_rescued_total", "counter", "Source rows with _rescued_data",
           [](const TableStatus& t) { return Number(t.rows_rescued); });
  PerTable(w, s, "lakepipe_flow_restarts_total", "counter",
           "Restarts of the table's flow after it stopped for new fields (schemaEvolutionMode addNewColumns)",
           [](const TableStatus& t) { return Number(t.restarts); });
  PerTable(w, s, "lakepipe_rows_out_per_second", "gauge", "Rows written per second over the last minute",
           [](const TableStatus& t) { return Number(t.rows_out_per_second); });
  PerTable(w, s, "lakepipe_backlog_files", "gauge", "Input files found but not yet processed",
           [](const TableStatus& t) { return Number(t.backlog_files); });
  PerTable(w, s, "lakepipe_backlog_bytes", "gauge", "Bytes of input found but not yet processed",
           [](const TableStatus& t) { return Number(t.backlog_bytes); });
  PerTable(w, s, "lakepipe_files_too_old_total", "counter",
           "read_files: files listed and not taken for being older than maxFileAge allows",
           [](const TableStatus& t) { return Number(t.files_too_old); });
  PerTable(w, s, "lakepipe_files_cleaned_total", "counter",
           "read_files cleanSource: files deleted or archived once their batch was committed",
           [](const TableStatus& t) { return Number(t.files_cleaned); });
  PerTable(w, s, "lakepipe_files_not_cleaned_total", "counter",
           "read_files cleanSource: files that could not be deleted or archived (each in a file_not_cleaned warning)",
           [](const TableStatus& t) { return Number(t.files_not_cleaned); });
  // Only the tables that replicate a database have a lag.
  w.Family("lakepipe_replication_lag_bytes", "gauge", "Replication sources: server log bytes past the confirmed position");
  for (const auto& t : s.tables)
    if (t.replication_lag_bytes >= 0)
      w.Sample("lakepipe_replication_lag_bytes", {{"table", t.name}}, Number(t.replication_lag_bytes));
  w.Family("lakepipe_replication_lag_seconds", "gauge",
           "Replication sources: age of the oldest commit received but not yet confirmed");
  for (const auto& t : s.tables)
    if (t.replication_lag_seconds >= 0)
      w.Sample("lakepipe_replication_lag_seconds", {{"table", t.name}}, Number(t.replication_lag_seconds));
  PerTable(w, s, "lakepipe_state_keys", "gauge", "Operator state keys (dedup keys, aggregate groups)",
           [](const TableStatus& t) { return Number(t.state_keys); });
  PerTable(w, s, "lakepipe_state_bytes", "gauge", "Operator state size in bytes",
           [](const TableStatus& t) { return Number(t.state_bytes); });
  // The process as a whole (docs/http-api.md, "Metrics"): RSS against what malloc holds,
  // and RocksDB's shared cache (the memtables are charged to it) of all state stores.
  w.Family("lakepipe_memory_bytes", "gauge",
           "Process memory by kind: rss, heap_in_use, heap_free (freed, kept by malloc), state_cache (RocksDB's "
           "shared cache, memtables included), state_memtables");
  const ProcessMemory process = ReadProcessMemory();
  const state::StateDbMemory rocks = state::ReadStateDbMemory();
  w.Sample("lakepipe_memory_bytes", {{"kind", "rss"}}, Number(process.rss_bytes));
  w.Sample("lakepipe_memory_bytes", {{"kind", "heap_in_use"}}, Number(process.heap_in_use_bytes));
  w.Sample("lakepipe_memory_bytes", {{"kind", "heap_free"}}, Number(process.heap_free_bytes));
  w.Sample("lakepipe_memory_bytes", {{"kind", "state_cache"}}, Number(rocks.cache_bytes));
  w.Sample("lakepipe_memory_bytes", {{"kind", "state_memtables"}}, Number(rocks.memtable_bytes));

  w.Family("lakepipe_expectation_passed_total", "counter", "Rows that passed an expectation");
  for (const auto& t : s.tables)
    for (const auto& e : t.expectations)
      w.Sample("lakepipe_expectation_passed_total", {{"table", t.name}, {"expectation", e.name}, {"action", e.action}},
               Number(e.passed));
  w.Family("lakepipe_expectation_failed_total", "counter", "Rows that failed an expectation");
  for (const auto& t : s.tables)
    for (const auto& e : t.expectations)
      w.Sample("lakepipe_expectation_failed_total", {{"table", t.name}, {"expectation", e.name}, {"action", e.action}},
               Number(e.failed));

  Histograms(w, s, "lakepipe_batch_duration_seconds", "Duration of a table's batch or update in seconds",
             [](const TableStatus& t) -> const Histogram& { return t.batch_duration_seconds; });
  Histograms(w, s, "lakepipe_end_to_end_latency_seconds",
             "Seconds from a source line's arrival in the landing folder to the commit containing it",
             [](const TableStatus& t) -> const Histogram& { return t.end_to_end_latency_seconds; });

  // Publication to PostgreSQL (publish.postgres), per published table.
  if (s.publications.empty()) return std::move(w.text());
  using runtime::PublicationStatus;
  auto per_publication = [&](const char* name, const char* type, const char* help,
                             const std::function<std::string(const PublicationStatus&)>& value) {
    w.Family(name, type, help);
    for (const auto& p : s.publications) w.Sample(name, {{"table", p.table}, {"target", p.target}}, value(p));
  };
  per_publication("lakepipe_publish_lag_versions", "gauge", "Delta versions not yet published to PostgreSQL",
                  [](const PublicationStatus& p) { return Number(p.lag_versions); });
  per_publication("lakepipe_publish_lag_seconds", "gauge",
                  "Seconds since the oldest Delta commit not yet published to PostgreSQL (0: up to date)",
                  [](const PublicationStatus& p) { return Number(p.lag_seconds); });
  per_publication("lakepipe_publish_version", "gauge", "Delta version PostgreSQL holds (-1: none)",
                  [](const PublicationStatus& p) { return Number(p.published_version); });
  per_publication("lakepipe_publish_up", "gauge", "1 unless publication is retrying or stopped",
                  [](const PublicationStatus& p) {
                    return std::string(p.state == "retrying" || p.state == "stopped" ? "0" : "1");
                  });
  per_publication("lakepipe_publish_total", "counter", "Publications (Delta versions applied to PostgreSQL)",
                  [](const PublicationStatus& p) { return Number(p.publications); });
  per_publication("lakepipe_publish_failures_total", "counter", "Failed publication attempts",
                  [](const PublicationStatus& p) { return Number(p.failures); });
  per_publication("lakepipe_publish_rows_total", "counter", "Rows sent to PostgreSQL (upserted + loaded)",
                  [](const PublicationStatus& p) { return Number(p.rows_upserted + p.rows_loaded); });
  w.Family("lakepipe_publish_latency_seconds", "histogram",
           "Seconds from a Delta commit to the PostgreSQL commit that makes it visible");
  for (const auto& p : s.publications) {
    const Histogram& h = p.latency_seconds;
    int64_t cumulative = 0;
    for (size_t i = 0; i < h.bounds.size(); ++i) {
      cumulative += i < h.counts.size() ? h.counts[i] : 0;
      w.Sample("lakepipe_publish_latency_seconds_bucket", {{"table", p.table}, {"le", Number(h.bounds[i])}},
               Number(cumulative));
    }
    w.Sample("lakepipe_publish_latency_seconds_bucket", {{"table", p.table}, {"le", "+Inf"}}, Number(h.count));
    w.Sample("lakepipe_publish_latency_seconds_sum", {{"table", p.table}}, Number(h.sum));
    w.Sample("lakepipe_publish_latency_seconds_count", {{"table", p.table}}, Number(h.count));
  }
  return std::move(w.text());
}

std::string RenderSlaMetrics(const Result<FreshnessReport>& evaluated) {
  Writer w;
  // A failed evaluation (a table's log unreadable for a moment) must not fail the whole
  // scrape: the other families stay, the SLA ones are left out and this gauge says why.
  w.Family("lakepipe_sla_evaluation_failed", "gauge",
           "1 when freshness could not be evaluated at this scrape (the reason is in /api/sla); the SLA families are then absent");
  w.Sample("lakepipe_sla_evaluation_failed", {}, evaluated.ok() ? "0" : "1");
  if (!evaluated.ok()) return std::move(w.text());
  const FreshnessReport& report = *evaluated;
  w.Family("lakepipe_freshness_lag_seconds", "gauge",
           "Age of the oldest input (landed file or upstream commit) not yet in the table; 0: caught up");
  for (const auto& t : report.tables) w.Sample("lakepipe_freshness_lag_seconds", {{"table", t.table}}, Number(t.lag_seconds));
  w.Family("lakepipe_sla_max_lag_seconds", "gauge", "The table's SLA from pipeline.yaml sla: (tables with one)");
  for (const auto& t : report.tables)
    if (t.has_sla) w.Sample("lakepipe_sla_max_lag_seconds", {{"table", t.table}, {"sla", t.sla_scope}}, Number(t.max_lag_seconds));
  w.Family("lakepipe_sla_breached", "gauge", "1 while the table is further behind its inputs than its SLA allows");
  for (const auto& t : report.tables)
    if (t.has_sla) w.Sample("lakepipe_sla_breached", {{"table", t.table}, {"sla", t.sla_scope}}, t.breached ? "1" : "0");
  return std::move(w.text());
}

}  // namespace lakepipe::server
