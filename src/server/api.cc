#include "server/api.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <functional>
#include <set>
#include <thread>

#include "formats/csv/csv_writer.h"
#include "formats/json/json_writer.h"
#include "server/metrics.h"
#include "server/route_pattern.h"

namespace lakepipe::server {

using Json = nlohmann::json;
using governance::Identity;
using runtime::PipelineStatus;
using runtime::TableStatus;

namespace {

constexpr int64_t kDefaultRowLimit = 100;
constexpr int64_t kMaxRowLimit = 10000;
constexpr int64_t kDefaultEventLimit = 100;
constexpr int64_t kMaxEventLimit = 1000;
constexpr int64_t kDefaultHistory = 20;
constexpr int64_t kMaxHistory = 1000;
constexpr int64_t kEventLogPollMs = 2000;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int HttpStatusFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kNotFound: return 404;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotSupported: return 501;
    default: return 500;
  }
}

ApiResponse FromStatus(const Status& s) { return ErrorResponse(HttpStatusFor(s), s.message()); }

ApiResponse JsonResponse(const Json& j) {
  ApiResponse r;
  r.body = DumpJson(j);
  return r;
}

const std::string* Param(const QueryParams& params, const std::string& key) {
  auto it = params.find(key);
  return it == params.end() ? nullptr : &it->second;
}

// An integer query parameter: `fallback` when absent, clamped to `max`; InvalidArgument
// for anything but a non-negative decimal integer.
Result<int64_t> IntParam(const QueryParams& params, const std::string& key, int64_t fallback, int64_t max) {
  const std::string* text = Param(params, key);
  if (text == nullptr || text->empty()) return fallback;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec == std::errc::result_out_of_range && !text->empty() && (*text)[0] != '-') return max;
  if (ec != std::errc() || ptr != text->data() + text->size() || v < 0) {
    return Status::InvalidArgument("query parameter " + key + " must be a non-negative integer, got `" +
                                   text->substr(0, 40) + "`");
  }
  return std::min(v, max);
}

Json HistogramJson(const runtime::Histogram& h) {
  return {{"count", h.count}, {"sum", h.sum}, {"p50", h.Quantile(0.5)}, {"p95", h.Quantile(0.95)},
          {"p99", h.Quantile(0.99)}};
}

Json ReportJson(const runtime::TableReport& r) {
  return {{"status", r.status},
          {"message", r.message},
          {"rows_read", r.rows_read},
          {"rows_written", r.rows_written},
          {"rows_dropped", r.rows_dropped},
          {"rows_quarantined", r.rows_quarantined},
          {"rows_late", r.rows_late},
          {"rows_rescued", r.rows_rescued},
          {"batches", r.batches},
          {"table_version", r.table_version},
          {"duration_ms", r.duration_ms},
          {"technique", r.technique}};
}

Json SchemaJson(const Schema& schema) {
  Json fields = Json::array();
  for (const auto& f : schema.fields())
    fields.push_back({{"name", f.name}, {"type", f.type.ToString()}, {"nullable", f.nullable}});
  return fields;
}

Json InfoJson(const TableInfo& info) {
  return {{"name", info.entry.name},
          {"kind", info.entry.kind},
          {"comment", info.entry.comment},
          {"stored", info.entry.stored()},
          {"exists", info.exists},
          {"version", info.version},
          {"rows", info.rows},
          {"files", info.files},
          {"size_bytes", info.size_bytes},
          {"last_commit_unix_ms", info.last_commit_unix_ms}};
}

int64_t JsonInt(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  return it->is_number_float() ? static_cast<int64_t>(it->get<double>()) : it->get<int64_t>();
}
std::string JsonString(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string TriggerText(const sql::PipelineSettings& settings, const std::string& table) {
  for (const auto& [name, spec] : settings.triggers)
    if (Lower(name) == Lower(table)) return spec.ToString();
  return settings.continuous ? "continuous" : "triggered";
}

// The DAG's static part of a table's status.
TableStatus StaticStatus(const runtime::PipelineRunner& runner, const sql::GraphNode& node) {
  const auto& graph = runner.resolved().graph;
  TableStatus t;
  t.name = node.name;
  t.kind = sql::DatasetKindName(node.kind);
  t.trigger = TriggerText(runner.pipeline().settings, node.name);
  for (size_t up : node.upstream) t.upstream_tables.push_back(graph.nodes()[up].name);
  for (const auto& in : node.inputs)
    if (in.table.empty()) t.sources.push_back("files:" + in.files_path);
  return t;
}

// A status for `lakepipe serve`: the tables from the pipeline, their totals and last batch
// from the event log's flow_progress and error events.
PipelineStatus StatusFromEvents(const runtime::PipelineRunner& runner, const std::vector<EventRow>& events,
                                int64_t generation) {
  PipelineStatus s;
  s.pipeline = runner.pipeline().settings.name;
  s.storage = runner.pipeline().settings.storage;
  s.mode = "not running";
  s.generation = generation;
  const auto& graph = runner.resolved().graph;
  std::map<std::string, size_t> index;
  for (size_t i : graph.topological_order()) {
    const auto& node = graph.nodes()[i];
    if (node.kind == sql::DatasetKind::kView) continue;
    TableStatus t = StaticStatus(runner, node);
    t.state = "not running";
    index[Lower(t.name)] = s.tables.size();
    s.tables.push_back(std::move(t));
  }
  for (const auto& e : events) {
    if (e.table_is_null || (e.event_type != "flow_progress" && e.event_type != "error" && e.event_type != "flow_restart"))
      continue;
    auto it = index.find(Lower(e.table));
    if (it == index.end()) continue;
    TableStatus& t = s.tables[it->second];
    if (e.event_type == "flow_restart") {
      t.restarts += 1;
      t.last_restart = e.message;
      t.last_restart_unix_ms = e.timestamp_unix_ms;
      continue;
    }
    Json d = Json::parse(e.details, nullptr, /*allow_exceptions=*/false);
    if (!d.is_object()) d = Json::object();
    runtime::TableReport r;
    r.table = t.name;
    r.kind = t.kind;
    r.status = JsonString(d, "status");
    if (r.status.empty()) r.status = e.event_type == "error" ? "failed" : "updated";
    r.message = e.event_type == "error" ? e.message : JsonString(d, "error");
    r.rows_read = JsonInt(d, "rows_read");
    r.rows_written = JsonInt(d, "rows_written");
    r.rows_dropped = JsonInt(d, "rows_dropped");
    r.rows_quarantined = JsonInt(d, "rows_quarantined");
    r.rows_late = JsonInt(d, "rows_late");
    r.rows_rescued = JsonInt(d, "rows_rescued");
    r.batches = JsonInt(d, "batches");
    r.duration_ms = JsonInt(d, "duration_ms");
    r.table_version = d.contains("table_version") ? JsonInt(d, "table_version") : -1;
    r.technique = JsonString(d, "technique");
    if (d.contains("state_keys")) t.state_keys = JsonInt(d, "state_keys");
    if (d.contains("state_bytes")) t.state_bytes = JsonInt(d, "state_bytes");
    t.batches += r.batches;
    t.rows_in += r.rows_read;
    t.rows_out += r.rows_written;
    t.rows_dropped += r.rows_dropped;
    t.rows_quarantined += r.rows_quarantined;
    t.rows_late += r.rows_late;
    t.rows_rescued += r.rows_rescued;
    if (r.table_version >= 0) t.table_version = r.table_version;
    t.last_update_unix_ms = e.timestamp_unix_ms;
    t.last_error = r.status == "failed" ? r.message : "";
    if (auto ex = d.find("expectations"); ex != d.end() && ex->is_array()) {
      for (const auto& x : *ex) {
        if (!x.is_object()) continue;
        std::string name = JsonString(x, "name");
        auto found = std::find_if(t.expectations.begin(), t.expectations.end(),
                                  [&](const runtime::ExpectationTotals& y) { return y.name == name; });
        if (found == t.expectations.end()) {
          t.expectations.push_back({name, JsonString(x, "action"), 0, 0});
          found = t.expectations.end() - 1;
        }
        found->passed += JsonInt(x, "passed");
        found->failed += JsonInt(x, "failed");
      }
    }
    if (r.status == "updated" || r.status == "failed") {
      t.batch_duration_seconds.Observe(static_cast<double>(r.duration_ms) / 1000.0);
      t.last_batch = std::move(r);
    }
  }
  return s;
}

Json TableStatusJson(const TableStatus& t) {
  Json expectations = Json::array();
  for (const auto& e : t.expectations)
    expectations.push_back({{"name", e.name}, {"action", e.action}, {"passed", e.passed}, {"failed", e.failed}});
  return {{"name", t.name},
          {"kind", t.kind},
          {"state", t.state},
          {"trigger", t.trigger},
          {"upstream", t.upstream_tables},
          {"sources", t.sources},
          {"table_version", t.table_version},
          {"batches", t.batches},
          {"rows_in", t.rows_in},
          {"rows_out", t.rows_out},
          {"rows_dropped", t.rows_dropped},
          {"rows_quarantined", t.rows_quarantined},
          {"rows_late", t.rows_late},
          {"rows_rescued", t.rows_rescued},
          {"rows_out_per_second", t.rows_out_per_second},
          {"backlog_files", t.backlog_files},
          {"backlog_bytes", t.backlog_bytes},
          {"files_too_old", t.files_too_old},
          {"files_cleaned", t.files_cleaned},
          {"files_not_cleaned", t.files_not_cleaned},
          {"replication_lag_bytes", t.replication_lag_bytes},
          {"replication_lag_seconds", t.replication_lag_seconds},
          {"state_keys", t.state_keys},
          {"state_bytes", t.state_bytes},
          {"last_update_unix_ms", t.last_update_unix_ms},
          {"last_error", t.last_error},
          {"restarts", t.restarts},
          {"last_restart", t.last_restart},
          {"last_restart_unix_ms", t.last_restart_unix_ms},
          {"last_batch", ReportJson(t.last_batch)},
          {"batch_duration_seconds", HistogramJson(t.batch_duration_seconds)},
          {"end_to_end_latency_seconds", HistogramJson(t.end_to_end_latency_seconds)},
          {"expectations", std::move(expectations)}};
}

Json FreshnessJson(const TableFreshness& t) {
  Json j = {{"table", t.table},
            {"layer", t.layer},
            {"exists", t.exists},
            {"version", t.version},
            {"last_commit_unix_ms", t.last_commit_unix_ms},
            {"lag_seconds", t.lag_seconds},
            {"pending_since_unix_ms", t.pending_since_unix_ms},
            {"pending", t.pending_reason.empty() ? Json() : Json(t.pending_reason)},
            {"sla", nullptr},
            {"breached", t.breached}};
  if (t.has_sla) j["sla"] = {{"scope", t.sla_scope}, {"max_lag_seconds", t.max_lag_seconds}};
  return j;
}

Json PublicationsJson(const PipelineStatus& s) {
  Json out = Json::array();
  for (const auto& p : s.publications) {
    out.push_back({{"table", p.table},
                   {"target", p.target},
                   {"state", p.state},
                   {"published_version", p.published_version},
                   {"latest_version", p.latest_version},
                   {"lag_versions", p.lag_versions},
                   {"lag_seconds", p.lag_seconds},
                   {"publications", p.publications},
                   {"rows_upserted", p.rows_upserted},
                   {"rows_deleted", p.rows_deleted},
                   {"rows_loaded", p.rows_loaded},
                   {"failures", p.failures},
                   {"last_publish_unix_ms", p.last_publish_unix_ms},
                   {"last_error", p.last_error.empty() ? Json() : Json(p.last_error)},
                   {"latency_seconds", HistogramJson(p.latency_seconds)}});
  }
  return out;
}

Json PipelineJson(const runtime::PipelineRunner& runner, const PipelineStatus& s) {
  const auto& graph = runner.resolved().graph;
  std::map<std::string, const TableStatus*> by_name;
  for (const auto& t : s.tables) by_name[Lower(t.name)] = &t;
  Json nodes = Json::array();
  Json edges = Json::array();
  Json sources = Json::array();
  std::set<std::string> source_ids;
  for (size_t i : graph.topological_order()) {
    const auto& node = graph.nodes()[i];
    auto found = by_name.find(Lower(node.name));
    if (found != by_name.end()) {
      Json j = TableStatusJson(*found->second);
      // The DAG's shape always comes from the pipeline definition.
      TableStatus shape = StaticStatus(runner, node);
      j["name"] = shape.name;
      j["kind"] = shape.kind;
      j["upstream"] = shape.upstream_tables;
      j["sources"] = shape.sources;
      if (found->second->trigger.empty()) j["trigger"] = shape.trigger;
      nodes.push_back(std::move(j));
    } else {
      TableStatus t = StaticStatus(runner, node);
      t.state = s.mode == "not running" ? "not running" : "idle";
      nodes.push_back(TableStatusJson(t));
    }
    for (const auto& in : node.inputs) {
      if (in.table.empty()) {
        std::string id = "files:" + in.files_path;
        edges.push_back({{"from", id}, {"to", node.name}, {"streaming", in.streaming}});
        if (source_ids.insert(id).second)
          sources.push_back({{"id", id}, {"path", in.files_path}, {"format", in.files_format}});
      } else if (const sql::ExternalTable* ext = runner.resolved().FindExternal(in.table)) {
        // Another pipeline's table (docs/catalog.md): a source node named pipeline.table.
        edges.push_back({{"from", ext->name}, {"to", node.name}, {"streaming", in.streaming}});
        if (source_ids.insert(ext->name).second)
          sources.push_back({{"id", ext->name},
                             {"path", ext->path},
                             {"format", "delta"},
                             {"pipeline", ext->pipeline},
                             {"table", ext->table}});
      } else {
        int up = graph.Find(in.table);
        std::string from = up >= 0 ? graph.nodes()[static_cast<size_t>(up)].name : in.table;
        edges.push_back({{"from", from}, {"to", node.name}, {"streaming", in.streaming}});
      }
    }
  }
  return {{"pipeline", s.pipeline.empty() ? runner.pipeline().settings.name : s.pipeline},
          {"storage", runner.pipeline().settings.storage},
          {"mode", s.mode.empty() ? "triggered" : s.mode},
          {"started_unix_ms", s.started_unix_ms},
          {"generation", s.generation},
          {"event_log_error", s.event_log_error.empty() ? Json() : Json(s.event_log_error)},
          {"nodes", std::move(nodes)},
          {"edges", std::move(edges)},
          {"sources", std::move(sources)},
          {"publications", PublicationsJson(s)}};
}

// `head` (a JSON object) with "rows": [...] appended: one object per row keyed by column
// name, written straight from the columns (no JSON tree per value).
std::string RowsJson(const Json& head, const RowPage& page) {
  std::vector<std::string> keys;  // each column name as a JSON string, with its colon
  for (const auto& f : page.schema.fields()) keys.push_back(DumpJson(f.name) + ":");
  std::string body = DumpJson(head);
  body.pop_back();  // the closing brace: rows follow
  body += head.empty() ? "\"rows\":[" : ",\"rows\":[";
  json::JsonWriteOptions options;
  options.ignore_null_fields = false;
  bool first_row = true;
  for (const auto& b : page.batches) {
    for (int64_t row = 0; row < b.num_rows(); ++row) {
      body += first_row ? "{" : ",{";
      first_row = false;
      for (size_t c = 0; c < b.num_columns(); ++c) {
        if (c > 0) body += ',';
        body += keys[c];
        json::AppendJsonValue(b.column(c), row, options, &body);
      }
      body += '}';
    }
  }
  body += "]}";
  return body;
}

Json ColumnsJson(const Schema& schema) {
  Json columns = Json::array();
  for (const auto& f : schema.fields()) columns.push_back({{"name", f.name}, {"type", f.type.ToString()}});
  return columns;
}

// One chart of /api/dashboard: its declaration with the defaults filled in.
Json ChartJson(const sql::ResolvedChart& c) {
  const sql::ChartSpec& s = c.spec;
  Json j = {{"id", s.id},
            {"title", s.title},
            {"type", sql::ChartTypeName(s.type)},
            {"sql", s.sql},
            {"subtitle", s.subtitle},
            {"tables", c.tables},
            {"columns", ColumnsJson(c.columns)},
            {"limit", s.limit},
            {"refresh_seconds", s.refresh_micros > 0 ? Json(static_cast<double>(s.refresh_micros) / 1e6) : Json(nullptr)}};
  switch (s.type) {
    case sql::ChartType::kKpi:
      j["value"] = s.value;
      j["format"] = s.format;
      j["note"] = s.note;
      break;
    case sql::ChartType::kBar:
    case sql::ChartType::kLine: {
      Json y = Json::array();
      for (const auto& series : s.y) y.push_back({{"column", series.column}, {"title", series.title}, {"format", series.format}});
      j["width"] = s.width;
      j["x"] = s.x;
      j["y"] = std::move(y);
      j["color"] = s.color;
      j["tooltip"] = s.tooltip;
      if (s.type == sql::ChartType::kBar) {
        j["horizontal"] = s.horizontal;
        j["share"] = s.share;
        j["highlight_first"] = s.highlight_first;
      } else {
        j["moving_average"] = s.moving_average > 0 ? Json{{"window", s.moving_average}, {"title", s.moving_average_title}}
                                                   : Json(nullptr);
      }
      break;
    }
    case sql::ChartType::kTable:
      j["width"] = s.width;
      j["shown_columns"] = s.columns;
      break;
  }
  return j;
}

ApiResponse Forbidden(const Identity& who, const std::string& what) {
  return ErrorResponse(403, "principal `" + who.name + "` (" + governance::RoleName(who.role) + ") may not " + what +
                                " (docs/governance.md)");
}

// Drops the lines of Prometheus text whose `table` label names a table `who` does not see
// (a family's HELP/TYPE lines stay: they say nothing about a table).
std::string FilterMetrics(const std::string& text, const std::function<bool(const std::string&)>& sees) {
  std::string out;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size() - 1;
    std::string_view line(text.data() + at, end - at + 1);
    bool keep = true;
    if (!line.empty() && line[0] != '#') {
      size_t brace = line.find('{');
      size_t close = line.find('}');
      if (brace != std::string_view::npos && close != std::string_view::npos) {
        std::string_view labels = line.substr(brace, close - brace);
        size_t label = labels.find("table=\"");
        // `table=` at the start of a label (not the end of another label's name).
        while (label != std::string_view::npos && label > 0 && labels[label - 1] != '{' && labels[label - 1] != ',')
          label = labels.find("table=\"", label + 1);
        if (label != std::string_view::npos) {
          size_t start = label + 7;
          size_t stop = labels.find('"', start);
          keep = sees(std::string(labels.substr(start, stop - start)));
        }
      }
    }
    if (keep) out.append(line);
    at = end + 1;
  }
  return out;
}

}  // namespace

const char* RouteAccessName(RouteAccess access) {
  switch (access) {
    case RouteAccess::kOpen: return "open";
    case RouteAccess::kSignedIn: return "signed in";
    case RouteAccess::kFiltered: return "filtered";
    case RouteAccess::kTable: return "table";
    case RouteAccess::kTableRows: return "table rows";
    case RouteAccess::kChart: return "chart";
    case RouteAccess::kAdmin: return "admin";
  }
  return "?";
}

const std::vector<Route>& Routes() {
  static const std::vector<Route> kRoutes = {
      {"/health", RouteAccess::kOpen, false, false},
      {"/api/tables", RouteAccess::kFiltered, false, false},
      {"/api/tables/{name}", RouteAccess::kTable, false, false},
      {"/api/tables/{name}/rows", RouteAccess::kTableRows, false, false},
      {"/api/pipeline", RouteAccess::kFiltered, false, false},
      {"/api/dashboard", RouteAccess::kFiltered, false, false},
      {"/api/dashboard/charts/{id}", RouteAccess::kChart, false, false},
      {"/api/sla", RouteAccess::kFiltered, false, false},
      {"/api/expectations", RouteAccess::kFiltered, false, false},
      {"/api/events", RouteAccess::kFiltered, false, false},
      {"/metrics", RouteAccess::kFiltered, false, false},
      {"/api/stream", RouteAccess::kFiltered, false, true},
      {"/api/audit", RouteAccess::kAdmin, false, false},
      {"/api/lineage", RouteAccess::kFiltered, false, false},
      {"/", RouteAccess::kSignedIn, true, false},
      {"/index.html", RouteAccess::kSignedIn, true, false},
      {"/assets/{file}", RouteAccess::kSignedIn, true, false},
  };
  return kRoutes;
}

const Route* MatchRoute(const std::string& path, std::string* param) {
  if (path.empty() || path[0] != '/') return nullptr;
  // "/api/tables/" is "/api/tables" (as it always was).
  std::string p = path.size() > 1 && path.back() == '/' && path != "/" ? path.substr(0, path.size() - 1) : path;
  for (const auto& route : Routes()) {
    if (MatchRoutePattern(route.pattern, p, param)) return &route;
  }
  return nullptr;
}

std::string DumpJson(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

ApiResponse ErrorResponse(int status, const std::string& message) {
  ApiResponse r;
  r.status = status;
  r.body = DumpJson(Json{{"error", message}});
  return r;
}

Api::Api(runtime::PipelineRunner* runner, runtime::StatusBoard* board, governance::Policy policy)
    : catalog_(runner),
      policy_(std::make_shared<const governance::Policy>(std::move(policy))),
      lineage_(governance::PipelineColumnLineage(runner->resolved())),
      board_(board),
      sla_(runner) {}

std::shared_ptr<const governance::Policy> Api::policy() const {
  std::lock_guard<std::mutex> lock(policy_mu_);
  return policy_;
}

void Api::set_policy(governance::Policy policy) {
  auto next = std::make_shared<const governance::Policy>(std::move(policy));
  std::lock_guard<std::mutex> lock(policy_mu_);
  policy_ = std::move(next);
}

Result<governance::Policy> Api::LoadPolicy() const {
  std::vector<std::string> tables;
  for (const auto& e : catalog_.entries()) tables.push_back(e.name);
  tables.push_back("_audit");
  const auto& settings = catalog_.runner()->pipeline().settings;
  return governance::Policy::Load(settings.settings_file, settings.name, tables);
}

std::string Api::FirstNotSelectable(const Identity& who, const std::vector<std::string>& tables) const {
  const auto policy = this->policy();
  for (const auto& t : tables)
    if (!policy->CanSelect(who, t)) return t;
  return std::string();
}

bool Api::PipelineRunsHere() const { return board_ != nullptr && !board_->Snapshot().tables.empty(); }

Result<PipelineStatus> Api::CurrentStatus() const {
  if (board_ != nullptr) {
    PipelineStatus s = board_->Snapshot();
    if (!s.tables.empty()) return s;
  }
  LP_ASSIGN_OR_RETURN(int64_t version, catalog_.EventLogVersion());
  LP_ASSIGN_OR_RETURN(EventRows events, catalog_.Events());
  return StatusFromEvents(*catalog_.runner(), *events, version + 1);
}

Result<std::pair<std::string, int64_t>> Api::PipelinePayload(const Identity& who) const {
  const auto policy = this->policy();
  LP_ASSIGN_OR_RETURN(PipelineStatus s, CurrentStatus());
  Json j = PipelineJson(*catalog_.runner(), s);
  if (!governance::Policy::SeesAllStatus(who)) {
    // A reader's DAG: its tables, the edges between them and from the files they read.
    auto sees = [&](const Json& name) { return name.is_string() && policy->CanSee(who, name.get<std::string>()); };
    Json nodes = Json::array(), edges = Json::array(), sources = Json::array(), publications = Json::array();
    std::set<std::string> used_sources;
    for (auto& n : j["nodes"]) {
      if (!sees(n["name"])) continue;
      Json upstream = Json::array();
      for (auto& u : n["upstream"])
        if (sees(u)) upstream.push_back(u);
      n["upstream"] = std::move(upstream);
      nodes.push_back(std::move(n));
    }
    for (auto& e : j["edges"]) {
      if (!sees(e["to"])) continue;
      std::string from = e["from"].get<std::string>();
      bool file_source = from.rfind("files:", 0) == 0;
      // Another pipeline's table shows as the grants allow `pipeline.table`: its node
      // carries its name and folder, never its rows (those are its own pipeline's to serve).
      if (!file_source && !sees(e["from"])) continue;
      used_sources.insert(from);
      edges.push_back(std::move(e));
    }
    for (auto& src : j["sources"])
      if (used_sources.count(src["id"].get<std::string>())) sources.push_back(std::move(src));
    for (auto& pub : j["publications"])
      if (sees(pub["table"])) publications.push_back(std::move(pub));
    j["nodes"] = std::move(nodes);
    j["edges"] = std::move(edges);
    j["sources"] = std::move(sources);
    j["publications"] = std::move(publications);
  }
  // Freshness is read from the storage; a failure to read it must not hide the DAG.
  auto freshness = sla_.Current();
  std::map<std::string, Json> by_table;
  if (freshness.ok()) {
    bool breached = false;
    for (const auto& t : freshness->tables) {
      if (!policy->CanSee(who, t.table)) continue;
      by_table[Lower(t.table)] = FreshnessJson(t);
      breached = breached || t.breached;
    }
    j["sla_breached"] = breached;
  } else {
    j["sla_breached"] = nullptr;
  }
  for (auto& node : j["nodes"]) {
    auto it = by_table.find(Lower(node["name"].get<std::string>()));
    node["freshness"] = it != by_table.end() ? it->second : Json();
  }
  return std::make_pair(DumpJson(j), s.generation);
}

int64_t Api::WaitForChange(int64_t seen, int64_t timeout_ms) const {
  if (PipelineRunsHere()) return board_->WaitForChange(seen, timeout_ms);
  // Under `serve` another process writes the event log: its version is polled, at most
  // once per kEventLogPollMs for all streams together.
  std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
  std::lock_guard<std::mutex> lock(poll_mu_);
  auto now = std::chrono::steady_clock::now();
  if (polled_generation_ < 0 || now - last_poll_ >= std::chrono::milliseconds(kEventLogPollMs)) {
    auto version = catalog_.EventLogVersion();
    if (version.ok()) polled_generation_ = *version + 1;
    last_poll_ = now;
  }
  return polled_generation_ < 0 ? seen : polled_generation_;
}

// What the audit log calls a request on `route` (docs/governance.md).
std::string AuditAction(const Route& route) {
  switch (route.access) {
    case RouteAccess::kTable: return "read_table";
    case RouteAccess::kTableRows: return "read_rows";
    case RouteAccess::kChart: return "query";
    case RouteAccess::kAdmin: return "read_audit";
    default: return "http";
  }
}

Status Api::Audit(const Identity* who, const std::string& action, const std::string& target, const std::string& from,
                  int status, const std::string& detail) const {
  if (audit_ == nullptr) return Status::OK();
  governance::AuditRecord r;
  if (who != nullptr) {
    r.principal = who->kind == Identity::Kind::kLocal ? "local" : who->name;
    r.role = governance::RoleName(who->role);
  }
  r.action = action;
  r.target = target;
  r.source = from;
  r.outcome = status == 401 || status == 403 ? "denied" : (status < 400 ? "allowed" : "failed");
  r.status = status;
  r.detail = detail;
  return audit_->Record(std::move(r));
}

ApiResponse Api::Handle(const std::string& path, const QueryParams& params, const Identity& who,
                        const std::string& from) const {
  std::string param;
  const Route* route = MatchRoute(path, &param);
  if (route == nullptr || route->is_static || route->streams) {
    std::string shown = path.substr(0, 200);
    return ErrorResponse(404, "no endpoint GET " + shown + " (see docs/http-api.md)");
  }
  ApiResponse r = Dispatch(*route, param, params, who);
  bool audited = route->access == RouteAccess::kTable || route->access == RouteAccess::kTableRows ||
                 route->access == RouteAccess::kChart || route->access == RouteAccess::kAdmin;
  if (audited || r.status == 403) {
    std::string target = route->access == RouteAccess::kFiltered ? path.substr(0, 200) : param.substr(0, 200);
    if (target.empty()) target = path.substr(0, 200);
    std::string detail;
    if (r.status >= 400) {
      Json body = Json::parse(r.body, nullptr, false);
      if (body.is_object() && body["error"].is_string()) detail = body["error"].get<std::string>();
    }
    Status st = Audit(&who, AuditAction(*route), target, from, r.status, detail);
    if (!st.ok() && r.status < 400) {
      return ErrorResponse(500, "the audit log cannot be written, so nothing is served unaudited: " + st.message());
    }
  }
  return r;
}

ApiResponse Api::Dispatch(const Route& route, const std::string& param, const QueryParams& params,
                       const Identity& who) const {
  const auto policy = this->policy();
  const std::string& p = route.pattern;
  switch (route.access) {
    case RouteAccess::kTable:
    case RouteAccess::kTableRows: {
      auto entry = catalog_.Find(param);
      if (!entry.ok()) return FromStatus(entry.status());
      if (route.access == RouteAccess::kTable && !policy->CanSee(who, entry->name))
        return Forbidden(who, "see table `" + entry->name + "`: no SELECT grant on it");
      if (route.access == RouteAccess::kTableRows && !policy->CanSelect(who, entry->name))
        return Forbidden(who, "read rows of table `" + entry->name + "`: no SELECT grant on it");
      break;
    }
    case RouteAccess::kChart: {
      const sql::ResolvedChart* c = catalog_.runner()->resolved().dashboard.Find(param);
      if (c != nullptr) {
        std::string denied = FirstNotSelectable(who, c->tables);
        if (!denied.empty())
          return Forbidden(who, "read chart `" + c->spec.id + "`: no SELECT grant on table `" + denied + "` it reads");
      }
      break;  // an unknown chart: Chart() says 404 naming the charts
    }
    case RouteAccess::kAdmin:
      if (who.role != governance::Role::kAdmin) return Forbidden(who, "use " + p + ": it needs role admin");
      break;
    case RouteAccess::kOpen:
    case RouteAccess::kSignedIn:
    case RouteAccess::kFiltered:
      break;
  }
  if (p == "/health") return JsonResponse({{"status", "ok"}});
  if (p == "/api/tables") return Tables(who);
  if (p == "/api/tables/{name}") return Table(param, params);
  if (p == "/api/tables/{name}/rows") return Rows(param, params);
  if (p == "/api/pipeline") return Pipeline(who);
  if (p == "/api/expectations") return Expectations(who);
  if (p == "/api/events") return Events(params, who);
  if (p == "/metrics") return Metrics(who);
  if (p == "/api/sla") return Sla(who);
  if (p == "/api/dashboard") return Dashboard(who);
  if (p == "/api/dashboard/charts/{id}") return Chart(param);
  if (p == "/api/audit") return AuditRows(params);
  if (p == "/api/lineage") return Lineage(params, who);
  return ErrorResponse(500, "route " + p + " has no handler (a bug)");
}

ApiResponse Api::Lineage(const QueryParams& params, const Identity& who) const {
  const auto policy = this->policy();
  // A source in a table `who` does not see is left out (counted), so a reader learns
  // neither its name nor its columns; file and message sources are shown.
  const auto& graph = catalog_.runner()->resolved().graph;
  auto shown = [&](const governance::ColumnRef& r) { return graph.Find(r.table) < 0 || policy->CanSee(who, r.table); };
  auto ref_json = [](const governance::ColumnRef& r) { return Json{{"table", r.table}, {"column", r.column}}; };
  const std::string* column = Param(params, "column");
  if (column != nullptr) {
    size_t dot = column->find('.');
    if (dot == std::string::npos) return ErrorResponse(400, "query parameter column must be table.column");
    governance::ColumnRef start{column->substr(0, dot), column->substr(dot + 1)};
    bool known = std::any_of(lineage_.begin(), lineage_.end(), [&](const governance::ColumnLineage& c) {
      return Lower(c.column.table) == Lower(start.table) && Lower(c.column.column) == Lower(start.column);
    });
    if (!known) return ErrorResponse(404, "no column `" + column->substr(0, 200) + "` in the pipeline's tables");
    if (!policy->CanSee(who, start.table)) return Forbidden(who, "see table `" + start.table + "`: no SELECT grant on it");
    Json edges = Json::array();
    int64_t hidden = 0;
    for (const auto& [from, to] : governance::UpstreamEdges(lineage_, start)) {
      if (!shown(from) || !shown(to)) {
        ++hidden;
        continue;
      }
      edges.push_back({{"from", ref_json(from)}, {"to", ref_json(to)}});
    }
    return JsonResponse({{"column", *column}, {"edges", std::move(edges)}, {"hidden_edges", hidden}});
  }
  Json columns = Json::array();
  for (const auto& c : lineage_) {
    if (!policy->CanSee(who, c.column.table)) continue;
    Json sources = Json::array();
    int64_t hidden = 0;
    for (const auto& s : c.sources) {
      if (shown(s)) {
        sources.push_back(ref_json(s));
      } else {
        ++hidden;
      }
    }
    columns.push_back({{"table", c.column.table}, {"column", c.column.column}, {"sources", std::move(sources)},
                       {"hidden_sources", hidden}});
  }
  return JsonResponse({{"pipeline", catalog_.runner()->pipeline().settings.name}, {"columns", std::move(columns)}});
}

ApiResponse Api::AuditRows(const QueryParams& params) const {
  auto limit = IntParam(params, "limit", kDefaultEventLimit, kMaxEventLimit);
  if (!limit.ok()) return FromStatus(limit.status());
  auto records = governance::AuditLog::Read(catalog_.runner()->pipeline().settings.storage);
  if (!records.ok()) return FromStatus(records.status());
  Json list = Json::array();
  for (auto it = records->rbegin(); it != records->rend() && static_cast<int64_t>(list.size()) < *limit; ++it) {
    list.push_back({{"timestamp_unix_ms", it->timestamp_micros / 1000},
                    {"principal", it->principal},
                    {"role", it->role},
                    {"action", it->action},
                    {"target", it->target},
                    {"source", it->source},
                    {"outcome", it->outcome},
                    {"status", it->status},
                    {"detail", it->detail}});
  }
  return JsonResponse({{"records", std::move(list)}});
}

ApiResponse Api::Tables(const Identity& who) const {
  const auto policy = this->policy();
  Json tables = Json::array();
  for (const auto& entry : catalog_.entries()) {
    if (!entry.stored() && entry.kind != "view") continue;
    if (!policy->CanSee(who, entry.name)) continue;
    auto info = catalog_.Info(entry);
    if (!info.ok()) return FromStatus(info.status());
    if (entry.kind == "quarantine" && !info->exists) continue;
    tables.push_back(InfoJson(*info));
  }
  const auto& settings = catalog_.runner()->pipeline().settings;
  return JsonResponse({{"pipeline", settings.name}, {"storage", settings.storage}, {"tables", std::move(tables)}});
}

ApiResponse Api::Table(const std::string& name, const QueryParams& params) const {
  auto entry = catalog_.Find(name);
  if (!entry.ok()) return FromStatus(entry.status());
  auto history_limit = IntParam(params, "history", kDefaultHistory, kMaxHistory);
  if (!history_limit.ok()) return FromStatus(history_limit.status());
  auto info = catalog_.Info(*entry);
  if (!info.ok()) return FromStatus(info.status());
  Json j = InfoJson(*info);
  const auto& pipeline = catalog_.runner()->pipeline();
  const auto& graph = catalog_.runner()->resolved().graph;
  bool is_dataset = entry->dataset != nullptr && entry->kind != "quarantine";
  if (info->exists) {
    j["schema"] = SchemaJson(info->snapshot->schema());
    j["partition_columns"] = info->snapshot->partition_columns();
  } else {
    j["schema"] = is_dataset ? SchemaJson(entry->dataset->schema) : Json::array();
    j["partition_columns"] = is_dataset ? pipeline.datasets[entry->dataset->dataset_index].partition_columns
                                        : std::vector<std::string>{};
  }
  Json upstream = Json::array();
  Json expectations = Json::array();
  if (is_dataset) {
    int node = graph.Find(entry->name);
    if (node >= 0)
      for (size_t up : graph.nodes()[static_cast<size_t>(node)].upstream) upstream.push_back(graph.nodes()[up].name);
    for (const auto& e : pipeline.datasets[entry->dataset->dataset_index].expectations)
      expectations.push_back(
          {{"name", e.name}, {"condition", e.condition_sql}, {"action", sql::ViolationActionName(e.action)}});
  } else if (entry->kind == "quarantine") {
    upstream.push_back(entry->dataset->name);
  }
  j["upstream"] = std::move(upstream);
  j["expectations"] = std::move(expectations);
  Json history = Json::array();
  if (info->exists && *history_limit > 0) {
    auto table = delta::DeltaTable::Open(entry->path);
    if (!table.ok()) return FromStatus(table.status());
    auto entries = (*table)->History(static_cast<int>(*history_limit));  // reads only the log
    if (!entries.ok()) return FromStatus(entries.status());
    for (const auto& h : *entries) {
      Json info_json = Json::parse(h.commit_info, nullptr, false);
      if (!info_json.is_object()) info_json = Json::object();
      Json parameters = info_json.value("operationParameters", Json::object());
      Json metrics = info_json.value("operationMetrics", Json::object());
      history.push_back({{"version", h.version},
                         {"timestamp_unix_ms", h.timestamp_millis},
                         {"operation", h.operation},
                         {"operation_parameters", parameters.is_object() ? parameters : Json::object()},
                         {"operation_metrics", metrics.is_object() ? metrics : Json::object()}});
    }
  }
  j["history"] = std::move(history);
  return JsonResponse(j);
}

ApiResponse Api::Rows(const std::string& name, const QueryParams& params) const {
  auto entry = catalog_.Find(name);
  if (!entry.ok()) return FromStatus(entry.status());
  auto limit = IntParam(params, "limit", kDefaultRowLimit, kMaxRowLimit);
  if (!limit.ok()) return FromStatus(limit.status());
  auto offset = IntParam(params, "offset", 0, INT64_MAX / 4);
  if (!offset.ok()) return FromStatus(offset.status());
  const std::string* format = Param(params, "format");
  bool csv_format = format != nullptr && *format == "csv";
  if (format != nullptr && !csv_format && *format != "json") {
    return ErrorResponse(400, "query parameter format must be json or csv, got `" + format->substr(0, 40) + "`");
  }
  auto page = catalog_.ReadRows(*entry, *offset, *limit);
  if (!page.ok()) return FromStatus(page.status());

  ApiResponse r;
  if (csv_format) {
    r.content_type = "text/csv; charset=utf-8";
    csv::CsvWriteOptions options;
    csv::AppendCsvHeader(page->schema, options, &r.body);
    for (const auto& b : page->batches) csv::AppendCsvRows(b, options, &r.body);
    return r;
  }
  Json head = {{"table", entry->name},      {"version", page->version}, {"offset", *offset},
               {"limit", *limit},           {"total_rows", page->total_rows}};
  head["columns"] = ColumnsJson(page->schema);
  r.body = RowsJson(head, *page);
  return r;
}

ApiResponse Api::Pipeline(const Identity& who) const {
  auto payload = PipelinePayload(who);
  if (!payload.ok()) return FromStatus(payload.status());
  ApiResponse r;
  r.body = std::move(payload->first);
  return r;
}

ApiResponse Api::Expectations(const Identity& who) const {
  const auto policy = this->policy();
  auto status = CurrentStatus();
  if (!status.ok()) return FromStatus(status.status());
  std::map<std::string, const TableStatus*> by_name;
  for (const auto& t : status->tables) by_name[Lower(t.name)] = &t;
  const auto& pipeline = catalog_.runner()->pipeline();
  Json tables = Json::array();
  for (const auto& ds : catalog_.runner()->resolved().datasets) {
    const auto& definition = pipeline.datasets[ds.dataset_index];
    if (definition.expectations.empty() || !policy->CanSee(who, ds.name)) continue;
    const TableStatus* t = by_name.count(Lower(ds.name)) ? by_name[Lower(ds.name)] : nullptr;
    bool quarantines = std::any_of(definition.expectations.begin(), definition.expectations.end(),
                                   [](const sql::Expectation& e) { return e.action == sql::ViolationAction::kQuarantine; });
    int64_t quarantined_rows = 0;
    if (quarantines) {
      auto entry = catalog_.Find(ds.name + "_quarantine");
      if (entry.ok()) {
        auto info = catalog_.Info(*entry);
        if (!info.ok()) return FromStatus(info.status());
        quarantined_rows = std::max<int64_t>(0, info->rows);
      }
    }
    Json list = Json::array();
    for (const auto& e : definition.expectations) {
      int64_t passed = 0, failed = 0;
      if (t != nullptr) {
        for (const auto& x : t->expectations) {
          if (Lower(x.name) == Lower(e.name)) {
            passed = x.passed;
            failed = x.failed;
          }
        }
      }
      Json rate = passed + failed > 0 ? Json(static_cast<double>(passed) / static_cast<double>(passed + failed))
                                      : Json(nullptr);
      list.push_back({{"name", e.name},
                      {"condition", e.condition_sql},
                      {"action", sql::ViolationActionName(e.action)},
                      {"passed", passed},
                      {"failed", failed},
                      {"pass_rate", rate}});
    }
    tables.push_back({{"table", ds.name},
                      {"quarantine_table", quarantines ? Json(ds.name + "_quarantine") : Json(nullptr)},
                      {"quarantined_rows", quarantined_rows},
                      {"expectations", std::move(list)}});
  }
  return JsonResponse({{"tables", std::move(tables)}});
}

ApiResponse Api::Events(const QueryParams& params, const Identity& who) const {
  const auto policy = this->policy();
  auto limit = IntParam(params, "limit", kDefaultEventLimit, kMaxEventLimit);
  if (!limit.ok()) return FromStatus(limit.status());
  const std::string* table = Param(params, "table");
  const std::string* type = Param(params, "type");
  const std::string* level = Param(params, "level");
  bool all_events = governance::Policy::SeesAllStatus(who);
  if (table != nullptr && !policy->CanSee(who, *table))
    return Forbidden(who, "read events of table `" + table->substr(0, 80) + "`: no SELECT grant on it");
  auto events = catalog_.Events();
  if (!events.ok()) return FromStatus(events.status());
  Json list = Json::array();
  std::string table_key = table != nullptr ? Lower(*table) : "";
  for (auto it = (*events)->rbegin(); it != (*events)->rend() && static_cast<int64_t>(list.size()) < *limit; ++it) {
    const EventRow& e = *it;
    if (table != nullptr && (e.table_is_null || Lower(e.table) != table_key)) continue;
    if (type != nullptr && e.event_type != *type) continue;
    if (level != nullptr && e.level != *level) continue;
    // A reader gets the events of its tables only (pipeline-level events name others).
    if (!all_events && (e.table_is_null || !policy->CanSee(who, e.table))) continue;
    Json details = Json::parse(e.details, nullptr, false);
    if (details.is_discarded()) details = e.details;
    list.push_back({{"timestamp_unix_ms", e.timestamp_unix_ms},
                    {"pipeline", e.pipeline},
                    {"table", e.table_is_null ? Json(nullptr) : Json(e.table)},
                    {"update_id", e.update_id},
                    {"event_type", e.event_type},
                    {"level", e.level},
                    {"message", e.message},
                    {"details", std::move(details)}});
  }
  return JsonResponse({{"events", std::move(list)}});
}

ApiResponse Api::Metrics(const Identity& who) const {
  const auto policy = this->policy();
  auto status = CurrentStatus();
  if (!status.ok()) return FromStatus(status.status());
  ApiResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = RenderMetrics(*status, PipelineRunsHere());
  r.body += RenderSlaMetrics(sla_.Current());
  if (!governance::Policy::SeesAllStatus(who))
    r.body = FilterMetrics(r.body, [&](const std::string& t) { return policy->CanSee(who, t); });
  return r;
}

ApiResponse Api::Sla(const Identity& who) const {
  const auto policy = this->policy();
  auto freshness = sla_.Current();
  if (!freshness.ok()) return FromStatus(freshness.status());
  Json tables = Json::array();
  bool breached = false;
  for (const auto& t : freshness->tables) {
    if (!policy->CanSee(who, t.table)) continue;
    tables.push_back(FreshnessJson(t));
    breached = breached || t.breached;
  }
  return JsonResponse({{"pipeline", catalog_.runner()->pipeline().settings.name},
                       {"evaluated_unix_ms", freshness->evaluated_unix_ms},
                       {"breached", breached},
                       {"tables", std::move(tables)}});
}

ApiResponse Api::Dashboard(const Identity& who) const {
  const auto& runner = *catalog_.runner();
  const sql::ResolvedDashboard& d = runner.resolved().dashboard;
  Json charts = Json::array();
  for (const auto& c : d.charts)
    if (FirstNotSelectable(who, c.tables).empty()) charts.push_back(ChartJson(c));
  return JsonResponse({{"pipeline", runner.pipeline().settings.name},
                       {"title", d.title.empty() ? runner.pipeline().settings.name : d.title},
                       {"declared", d.declared},
                       {"charts", std::move(charts)}});
}

ApiResponse Api::Chart(const std::string& id) const {
  const sql::ResolvedDashboard& d = catalog_.runner()->resolved().dashboard;
  const sql::ResolvedChart* c = d.Find(id);
  if (c == nullptr) {
    std::string known;
    for (const auto& x : d.charts) known += (known.empty() ? "" : ", ") + x.spec.id;
    return ErrorResponse(404, "no chart `" + id.substr(0, 80) + "` on the dashboard; charts: " + known);
  }
  // Bars and lines also get each series' total over every row (a bar's share of it).
  std::vector<std::string> series;
  for (const auto& y : c->spec.y) series.push_back(y.column);
  auto page = catalog_.QueryRows(c->spec.sql, c->tables, c->spec.limit, series);
  if (!page.ok()) return FromStatus(page.status());
  Json head = {{"id", c->spec.id}, {"limit", c->spec.limit}, {"total_rows", page->total_rows}};
  if (!series.empty()) {
    Json totals = Json::object();
    for (size_t i = 0; i < series.size(); ++i) totals[series[i]] = page->totals[i];
    head["totals"] = std::move(totals);
  }
  head["columns"] = ColumnsJson(page->schema);
  ApiResponse r;
  r.body = RowsJson(head, *page);
  return r;
}

}  // namespace lakepipe::server
