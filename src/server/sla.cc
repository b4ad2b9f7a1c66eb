#include "server/sla.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "delta/table.h"
#include "runtime/batch_plan.h"
#include "runtime/checkpoint.h"
#include "runtime/file_source.h"
#include "runtime/taken_files.h"
#include "runtime/taken_segments.h"

namespace lakepipe::server {

namespace {

using Json = nlohmann::json;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// What a stored table reads, looking through views (a view is computed inside its reader,
// so the reader's plans and commits name the view's own inputs).
struct Inputs {
  std::vector<const sql::ReadFilesSpec*> files;    // read_files scans
  std::vector<bool> files_streaming;
  std::map<std::string, bool> tables;              // stored table (lower case) -> read with STREAM
};

void CollectInputs(const runtime::PipelineRunner& runner, const sql::PlanPtr& plan, bool via_stream, Inputs* out,
                   std::set<std::string>* views_seen) {
  if (!plan) return;
  if (plan->kind == sql::PlanKind::kReadFiles) {
    out->files.push_back(&plan->read_files);
    out->files_streaming.push_back(plan->streaming || via_stream);
  } else if (plan->kind == sql::PlanKind::kTableScan && !plan->table.empty()) {
    const sql::ResolvedDataset* ds = runner.resolved().Find(plan->table);
    if (ds != nullptr && ds->kind == sql::DatasetKind::kView) {
      if (views_seen->insert(Lower(ds->name)).second) CollectInputs(runner, ds->plan, plan->streaming || via_stream, out, views_seen);
    } else {
      bool& streaming = out->tables[Lower(ds != nullptr ? ds->name : plan->table)];
      streaming = streaming || plan->streaming || via_stream;
    }
  }
  for (const auto& child : plan->inputs) CollectInputs(runner, child, via_stream, out, views_seen);
}

// The flow id in a checkpoint folder's metadata; "" when it cannot be read.
std::string ReadFlowId(FileSystem* fs, const std::string& cp_dir) {
  auto text = fs->ReadFile(JoinPath(cp_dir, "metadata"));
  if (!text.ok()) return "";
  Json metadata = Json::parse(*text, nullptr, false);
  if (!metadata.is_object() || !metadata.contains("id") || !metadata["id"].is_string()) return "";
  return metadata["id"].get<std::string>();
}

// Notes into `flow` what the flow whose checkpoint folder is `cp_dir` consumed, from the
// committed plans and segment files it has not read yet (read only: `lakepipe serve`
// never writes the storage). Plans without a commit record are not in the table yet and
// so do not count. Everything kept only grows (files taken, the newest time, versions
// read), so what was read before stays true; files older than the flow's forgottenBefore
// are dropped as the flow drops them (TakenSegments::kForgetShare at a time).
void NoteFlowPlans(FileSystem* fs, const std::string& cp_dir, int64_t now_micros, FlowConsumed* flow) {
  std::string id = ReadFlowId(fs, cp_dir);
  if (id.empty() || id != flow->flow_id) {
    *flow = FlowConsumed{};
    flow->flow_id = id;
  }
  auto offsets = fs->ListDir(JoinPath(cp_dir, "offsets"));
  if (!offsets.ok()) return;
  auto commits = fs->ListDir(JoinPath(cp_dir, "commits"));
  std::set<std::string> committed;
  if (commits.ok()) for (const auto& c : *commits) committed.insert(c.name);
  const std::string taken_dir = runtime::FlowCheckpoint::TakenDirOf(cp_dir);
  std::set<std::string> plans_listed;
  bool read_compact = false;
  for (const auto& f : *offsets) {
    bool compact = f.name.size() > 8 && f.name.compare(f.name.size() - 8, 8, ".compact") == 0;
    if (!compact && committed.count(f.name) == 0) continue;
    plans_listed.insert(f.name);
    if (flow->plans_read.count(f.name) > 0) continue;
    auto text = fs->ReadFile(JoinPath(JoinPath(cp_dir, "offsets"), f.name));
    if (!text.ok()) continue;
    // A plan that does not parse is skipped: the flow itself stops on it, with the reason.
    auto plan = runtime::ParseBatchPlan(*text, f.name);
    if (!plan.ok()) continue;
    bool complete = true;
    for (const auto& s : plan->sources) {
      if (s.kind == runtime::PlannedSource::Kind::kFiles) {
        runtime::TakenFiles& taken = flow->files[s.path];
        taken.NoteNewest(s.newest_mtime_micros);
        taken.NoteForgottenBefore(s.forgotten_before_micros);
        for (const auto* list : {&s.files, &s.skipped_existing}) {
          for (const auto& file : *list) {
            if (file.mtime_known) {
              taken.Insert(file.path, file.mtime_micros);
              taken.NoteNewest(file.mtime_micros);
            } else {
              taken.InsertWithoutTime(file.path, now_micros);
            }
          }
        }
        for (const auto& ref : s.segments) {  // compact format 3: the files are in its segment files
          if (flow->segments_read.count(ref.name) > 0) continue;
          // Without noting the newest time: the compact file's "newest" says it. A segment
          // that cannot be read leaves its files unknown (pending) until a later evaluation.
          Status read = runtime::ReadSegment(fs, taken_dir, s, ref, [&taken](std::string_view path, int64_t mtime) {
            taken.InsertWithoutTime(path, mtime);
          });
          if (read.ok()) flow->segments_read.insert(ref.name);
          else complete = false;
        }
      } else if (s.kind == runtime::PlannedSource::Kind::kDelta || s.kind == runtime::PlannedSource::Kind::kSnapshot) {
        int64_t& v = flow->versions.try_emplace(Lower(s.table), -1).first->second;
        v = std::max(v, s.kind == runtime::PlannedSource::Kind::kDelta ? s.end_version : s.version);
      }
    }
    if (complete) flow->plans_read.insert(f.name);
    read_compact = read_compact || compact;
  }
  // Under one flow id a name is never written again once retention deleted it.
  for (auto it = flow->plans_read.begin(); it != flow->plans_read.end();)
    it = plans_listed.count(*it) > 0 ? std::next(it) : flow->plans_read.erase(it);
  if (!read_compact) return;  // segments are dropped, and files forgotten, only by a compaction
  if (auto segments = fs->ListNames(taken_dir); segments.ok()) {
    std::set<std::string> present;
    for (const auto& e : *segments) present.insert(e.name);
    for (auto it = flow->segments_read.begin(); it != flow->segments_read.end();)
      it = present.count(*it) > 0 ? std::next(it) : flow->segments_read.erase(it);
  }
  for (auto& [path, taken] : flow->files) {
    int64_t before = taken.forgotten_before_micros();
    if (before != runtime::TakenFiles::kNoHorizon &&
        taken.CountOlderThan(before) * runtime::TakenSegments::kForgetShare >= taken.size())
      taken.ForgetOlderThan(before);
  }
}

// The flows writing a streaming table (its own, in `cp_dir`, and the append flows under
// flows/), each brought up to date in `cache`; their folders are added to `visited`.
std::vector<const FlowConsumed*> ReadConsumed(FileSystem* fs, const std::string& cp_dir, int64_t now_micros,
                                              FreshnessCache* cache, std::set<std::string>* visited) {
  std::vector<std::string> dirs = {cp_dir};
  auto flows = fs->ListDir(JoinPath(cp_dir, "flows"));
  if (flows.ok()) {
    for (const auto& f : *flows) if (f.is_dir) dirs.push_back(JoinPath(JoinPath(cp_dir, "flows"), f.name));
  }
  std::vector<const FlowConsumed*> out;
  for (const auto& dir : dirs) {
    visited->insert(dir);
    FlowConsumed& flow = cache->flows[dir];
    NoteFlowPlans(fs, dir, now_micros, &flow);
    out.push_back(&flow);
  }
  return out;
}

// Several flows into one table: the table has an upstream's version only when every flow
// reading it has.
std::map<std::string, int64_t> VersionsRead(const std::vector<const FlowConsumed*>& flows) {
  std::map<std::string, int64_t> out;
  for (const FlowConsumed* flow : flows) {
    for (const auto& [t, v] : flow->versions) {
      auto [it, added] = out.try_emplace(t, v);
      if (!added) it->second = std::min(it->second, v);
    }
  }
  return out;
}

// Commits that only rearrange data: nothing downstream reads them.
bool CarriesData(const std::string& operation) {
  return operation != "OPTIMIZE" && operation != "VACUUM START" && operation != "VACUUM END";
}

// How many of the newest commits are read to find the first one a reader lacks; a reader
// further behind is measured from the oldest of them (an under-estimate of its lag, and
// still far past any SLA by then).
constexpr int kMaxCommitsScanned = 2000;

struct Upstream {
  std::shared_ptr<delta::DeltaTable> table;  // null: not written yet
  int64_t version = -1;
};

std::string FormatCount(int64_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

std::string LayerOf(const std::string& table) {
  std::string l = Lower(table);
  for (const char* layer : {"bronze", "silver", "gold"}) {
    size_t n = std::char_traits<char>::length(layer);
    if (l.compare(0, n, layer) == 0 && (l.size() == n || l[n] == '_')) return layer;
  }
  return "";
}

bool FreshnessReport::any_breached() const {
  for (const auto& t : tables) if (t.breached) return true;
  return false;
}

Result<FreshnessReport> EvaluateFreshness(const runtime::PipelineRunner& runner, FileSystem* fs, int64_t now_unix_ms,
                                          FreshnessCache* cache) {
  FreshnessCache one_evaluation;
  if (cache == nullptr) cache = &one_evaluation;
  std::set<std::string> flows_visited, old_files_visited;
  FreshnessReport report;
  report.evaluated_unix_ms = now_unix_ms;
  const auto& settings = runner.pipeline().settings;
  std::map<std::string, Upstream> opened;  // lower-case name -> table
  auto open = [&](const std::string& name) -> Result<Upstream*> {
    std::string key = Lower(name);
    auto it = opened.find(key);
    if (it != opened.end()) return &it->second;
    Upstream u;
    std::string path = runner.TablePath(name);
    if (delta::DeltaTable::Exists(path, fs)) {
      LP_ASSIGN_OR_RETURN(auto t, delta::DeltaTable::Open(path, fs));
      u.table = std::move(t);
      LP_ASSIGN_OR_RETURN(u.version, u.table->LatestVersion());
    }
    return &opened.emplace(key, std::move(u)).first->second;
  };
  // The commit time of the first data-carrying version after `read`; -1 when none.
  auto first_unread = [&](Upstream& u, int64_t read) -> Result<int64_t> {
    if (!u.table || u.version <= read) return -1;
    int64_t n = std::min<int64_t>(u.version - read, kMaxCommitsScanned);
    LP_ASSIGN_OR_RETURN(auto history, u.table->History(static_cast<int>(n)));
    int64_t since = -1;
    for (const auto& h : history) {  // newest first: the last match is the oldest
      if (h.version > read && CarriesData(h.operation)) since = h.timestamp_millis;
    }
    return since;
  };

  std::map<std::string, int64_t> pending_of;  // lower-case table -> pending_since (-1 none)
  for (const auto& ds : runner.resolved().datasets) {
    if (ds.kind == sql::DatasetKind::kView) continue;
    TableFreshness t;
    t.table = ds.name;
    t.layer = LayerOf(ds.name);
    t.kind = sql::DatasetKindName(ds.kind);
    LP_ASSIGN_OR_RETURN(Upstream * self, open(ds.name));
    t.exists = self->table != nullptr;
    t.version = self->version;
    std::string commit_info = "{}";
    if (t.exists) {
      LP_ASSIGN_OR_RETURN(auto last, self->table->History(1));
      if (!last.empty()) {
        t.last_commit_unix_ms = last[0].timestamp_millis;
        commit_info = last[0].commit_info;
      }
    }

    Inputs in;
    std::set<std::string> views_seen;
    CollectInputs(runner, ds.plan, false, &in, &views_seen);
    for (const auto& more : ds.more_flows) CollectInputs(runner, more.plan, false, &in, &views_seen);
    bool streaming = ds.kind == sql::DatasetKind::kStreamingTable;

    int64_t pending = -1;
    std::string reason;
    auto note = [&](int64_t since, const std::string& why) {
      if (since < 0) return;
      if (pending < 0 || since < pending) {
        pending = since;
        reason = why;
      }
    };

    std::vector<const FlowConsumed*> flows;
    if (streaming) flows = ReadConsumed(fs, runner.CheckpointPath(ds.name), now_unix_ms * 1000, cache, &flows_visited);
    std::map<std::string, int64_t> mv_inputs;  // materialized views: versions their last update read
    if (!streaming) {
      Json info = Json::parse(commit_info, nullptr, false);
      if (info.is_object() && info.contains("operationParameters") && info["operationParameters"].is_object()) {
        const Json& params = info["operationParameters"];
        if (params.contains("inputs") && params["inputs"].is_string()) {
          Json recorded = Json::parse(params["inputs"].get<std::string>(), nullptr, false);
          if (recorded.is_object()) {
            for (const auto& [k, v] : recorded.items())
              if (v.is_number_integer()) mv_inputs[Lower(k)] = v.get<int64_t>();
          }
        }
      }
    }

    // Landed files not yet in the table.
    for (size_t i = 0; i < in.files.size(); ++i) {
      const sql::ReadFilesSpec& spec = *in.files[i];
      if (streaming && !in.files_streaming[i]) continue;  // a batch read inside a stream is not followed
      auto parsed = runtime::FileListOptionsFrom(spec);
      runtime::FileListOptions options;
      options.selection = parsed.ok() ? parsed->selection : runtime::FileSelection{};
      // A streaming source does not take a file older than its maxFileAge horizon, and
      // forgets the ones it took before it (docs/continuous.md, "The file source"): such a
      // file is not waiting to be read (it is reported as too old by the run), so it makes
      // nothing late. Without the horizon a forgotten file still in the folder would count
      // as unread for ever.
      std::vector<const runtime::TakenFiles*> seen;  // by each flow
      if (streaming) {
        for (const FlowConsumed* flow : flows) {
          auto it = flow->files.find(spec.path);
          if (it == flow->files.end()) continue;
          seen.push_back(&it->second);
          if (parsed.ok())
            options.horizon_micros = std::max(options.horizon_micros, it->second.Horizon(parsed->max_file_age_micros));
        }
      }
      // Names already read, or found older than the horizon before, are passed by without a stat.
      // Keyed by the flows' ids too: after a full refresh the new flow has no horizon yet.
      std::string old_key = Lower(ds.name) + "\n" + spec.path;
      for (const FlowConsumed* flow : flows) old_key += "\n" + flow->flow_id;
      runtime::OldFiles* old = streaming ? &cache->old_files[old_key] : nullptr;
      if (old != nullptr) {
        old_files_visited.insert(old_key);
        old->BeginListing();
      }
      runtime::KnownFile known = [&](const std::string& path) {
        for (const runtime::TakenFiles* taken : seen)
          if (taken->Contains(path)) return true;
        return old != nullptr && old->Skip(path);
      };
      auto listing = runtime::ListNewFiles(fs, spec.path, known, options);
      if (!listing.ok()) continue;  // no landing folder yet: nothing has arrived
      if (old != nullptr) {
        for (const auto& f : listing->too_old) old->Add(f.path);
        for (const auto& f : listing->bad_names) old->Add(f.path);
        old->EndListing();
      }
      int64_t oldest = -1, count = 0;
      for (const auto& f : listing->files) {
        int64_t mtime_ms = f.mtime_micros / 1000;
        if (!streaming && t.last_commit_unix_ms >= 0 && mtime_ms <= t.last_commit_unix_ms) continue;
        ++count;
        if (oldest < 0 || mtime_ms < oldest) oldest = mtime_ms;
      }
      if (count > 0) note(oldest, FormatCount(count, "file") + " in " + spec.path + " not yet read");
    }

    // Tables read: versions not yet read, and what they themselves lack.
    const std::map<std::string, int64_t> streaming_read = VersionsRead(flows);
    for (const auto& [up, via_stream] : in.tables) {
      if (streaming && !via_stream) continue;
      auto up_pending = pending_of.find(up);
      if (up_pending != pending_of.end() && up_pending->second >= 0) {
        note(up_pending->second, up + " is behind");
      }
      const sql::ResolvedDataset* up_ds = runner.resolved().Find(up);
      LP_ASSIGN_OR_RETURN(Upstream * u, open(up_ds != nullptr ? up_ds->name : up));
      int64_t read = -1;
      const auto& versions = streaming ? streaming_read : mv_inputs;
      auto it = versions.find(up);
      if (it != versions.end()) read = it->second;
      LP_ASSIGN_OR_RETURN(int64_t since, first_unread(*u, read));
      if (since >= 0) note(since, FormatCount(u->version - read, "version") + " of " + up + " not yet read");
    }

    pending_of[Lower(ds.name)] = pending;
    t.pending_since_unix_ms = pending;
    t.pending_reason = reason;
    t.lag_seconds = pending < 0 ? 0 : std::max<int64_t>(0, now_unix_ms - pending) / 1000.0;

    const sql::SlaSpec* own = nullptr;
    const sql::SlaSpec* layer = nullptr;
    for (const auto& s : settings.slas) {
      if (!s.layer && Lower(s.scope) == Lower(ds.name)) own = &s;
      if (s.layer && Lower(s.scope) == t.layer) layer = &s;
    }
    const sql::SlaSpec* sla = own != nullptr ? own : layer;
    if (sla != nullptr) {
      t.has_sla = true;
      t.sla_scope = sla->scope;
      t.max_lag_seconds = static_cast<double>(sla->max_lag_micros) / 1e6;
      t.breached = t.lag_seconds > t.max_lag_seconds;
    }
    report.tables.push_back(std::move(t));
  }
  // Flows and scans no longer in the pipeline (or in its storage) are not kept.
  for (auto it = cache->flows.begin(); it != cache->flows.end();)
    it = flows_visited.count(it->first) > 0 ? std::next(it) : cache->flows.erase(it);
  for (auto it = cache->old_files.begin(); it != cache->old_files.end();)
    it = old_files_visited.count(it->first) > 0 ? std::next(it) : cache->old_files.erase(it);
  return report;
}

SlaMonitor::SlaMonitor(const runtime::PipelineRunner* runner, int64_t min_interval_ms)
    : runner_(runner), min_interval_ms_(min_interval_ms) {}

Status SlaMonitor::EvaluateLocked(int64_t now_ms) {
  auto started = std::chrono::steady_clock::now();
  auto report = EvaluateFreshness(*runner_, FileSystem::Default(), now_ms, &cache_);
  last_cost_ms_ =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  if (!report.ok()) return report.status();
  last_ = std::move(*report);
  have_ = true;
  return Status::OK();
}

int64_t SlaMonitor::last_evaluation_ms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_cost_ms_;
}

int64_t SlaMonitor::IntervalLocked() const { return std::max(min_interval_ms_, kCostFactor * last_cost_ms_); }

int64_t SlaMonitor::IntervalMs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return IntervalLocked();
}

Result<FreshnessReport> SlaMonitor::Current() {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = Clock::System()->NowMillis();
  if (have_ && now - last_.evaluated_unix_ms < IntervalLocked()) return last_;
  LP_RETURN_IF_ERROR(EvaluateLocked(now));
  return last_;
}

Result<std::vector<runtime::Event>> SlaMonitor::Check() {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = Clock::System()->NowMillis();
  if (have_ && now - last_.evaluated_unix_ms < kCostFactor * last_cost_ms_) return std::vector<runtime::Event>{};
  LP_RETURN_IF_ERROR(EvaluateLocked(now));
  std::vector<runtime::Event> events;
  for (const auto& t : last_.tables) {
    if (!t.has_sla) continue;
    auto [it, first] = breached_.try_emplace(t.table, false);
    if (it->second == t.breached) continue;
    it->second = t.breached;
    Json details = {{"sla", t.sla_scope},
                    {"max_lag_seconds", t.max_lag_seconds},
                    {"lag_seconds", t.lag_seconds},
                    {"pending_since_unix_ms", t.pending_since_unix_ms},
                    {"pending", t.pending_reason}};
    runtime::Event e;
    e.table = t.table;
    char lag[64];
    std::snprintf(lag, sizeof lag, "%.0f s", t.lag_seconds);
    char max[64];
    std::snprintf(max, sizeof max, "%.0f s", t.max_lag_seconds);
    if (t.breached) {
      e.event_type = "sla_breached";
      e.level = "WARN";
      e.message = t.table + " is " + lag + " behind its inputs, over its SLA of " + max + " (sla." + t.sla_scope +
                  "): " + t.pending_reason;
    } else {
      e.event_type = "sla_recovered";
      e.level = "INFO";
      e.message = t.table + " is within its SLA of " + max + " again (sla." + t.sla_scope + ")";
    }
    e.details_json = details.dump();
    events.push_back(std::move(e));
    (void)first;
  }
  return events;
}

}  // namespace lakepipe::server
