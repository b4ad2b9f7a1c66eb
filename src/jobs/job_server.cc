#include "jobs/job_server.h"

#include <strings.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "governance/audit_log.h"
#include "governance/policy.h"
#include "governance/policy_reloader.h"
#include "jobs/server_upkeep.h"
#include "jobs/job_routes.h"
#include "jobs/job_runner.h"
#include "jobs/run_history.h"
#include "jobs/scheduler.h"
#include "server/http_server.h"
#include "sql/pipeline.h"
#include "types/datetime.h"
#ifdef LAKEPIPE_JOBS_HAVE_WEB
#include "web/assets.h"
#endif

namespace lakepipe::jobs {

using Json = nlohmann::json;

struct JobServer::Impl {
  const JobsFile& file;
  JobServerOptions options;
  httplib::Server http;
  std::thread http_thread, scheduler_thread, upkeep_thread;
  std::atomic<bool> stopping{false};
  std::unique_ptr<Scheduler> scheduler;
  int port = 0;
  std::unique_ptr<governance::AuditLog> audit;
  std::mutex policy_mu;
  std::shared_ptr<const governance::Policy> policy;  // guarded by policy_mu
  std::unique_ptr<governance::PolicyReloader> reloader;

  std::mutex mu;  // guards the fields below
  std::map<std::string, int> running;  // job -> runs in progress in this process
  struct RunThread {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<RunThread> runs;

  // The run history, cached by its Delta version (reading every data file per request
  // would grow with the history).
  RunHistory history;

  explicit Impl(const JobsFile& f) : file(f), history(f.StoragePath()) {}

  static std::string Iso(int64_t micros) { return FormatTimestampIso(micros); }

  // Starts a run of `job` on a thread of its own. `trigger`: schedule or api; `who` and
  // `from` say who asked (recorded with the run in the audit log); `run_id`: the new
  // run's id (empty: generated).
  void StartRun(const std::string& job, const std::string& trigger, const governance::AuditRecord& who,
                const std::string& run_id = "") {
    std::lock_guard<std::mutex> lock(mu);
    // Join the threads of runs that ended (a long-lived server starts many).
    for (auto it = runs.begin(); it != runs.end();) {
      if (it->done->load()) {
        it->thread.join();
        it = runs.erase(it);
      } else {
        ++it;
      }
    }
    ++running[job];
    auto done = std::make_shared<std::atomic<bool>>(false);
    runs.push_back({std::thread([this, job, trigger, who, run_id, done] {
      RunOptions o;
      o.job = job;
      o.trigger = trigger;
      o.new_run = true;  // a scheduled (or requested) run does not resume a failed manual one
      o.run_id = run_id;
      o.lakepipe_binary = options.lakepipe_binary;
      o.clock = options.clock;
      o.stop = &stopping;
      o.print = [job](const std::string& line) {
        std::printf("[%s] %s\n", job.c_str(), line.c_str());
        std::fflush(stdout);
      };
      auto r = JobRunner(file).Run(o);
      governance::AuditRecord ended = who;
      ended.action = "job_run";
      ended.target = job;
      if (!r.ok()) {
        std::printf("[%s] %s run could not start: %s\n", job.c_str(), trigger.c_str(), r.status().message().c_str());
        std::fflush(stdout);
        ended.outcome = "failed";
        ended.status = 1;
        ended.detail = trigger + " run could not start: " + r.status().message();
      } else {
        ended.outcome = r->state == kStateSucceeded ? "allowed" : "failed";
        ended.status = r->state == kStateSucceeded ? 0 : 1;
        ended.detail = trigger + " run " + r->run_id + " " + r->state + (r->error.empty() ? "" : ": " + r->error);
      }
      (void)Audit(std::move(ended));  // reported by Audit
      std::lock_guard<std::mutex> l(mu);
      --running[job];
      done->store(true);
    }), done});
  }

  // Appends an audit record; a failure is reported on stdout (the server goes on).
  Status Audit(governance::AuditRecord record) {
    Status st = audit->Record(std::move(record));
    if (!st.ok()) {
      std::printf("lakepipe: warning: the audit log cannot be written: %s\n", st.message().c_str());
      std::fflush(stdout);
    }
    return st;
  }

  // What the audit log says of a scheduled run's originator: this process.
  static governance::AuditRecord ScheduleOrigin() {
    governance::AuditRecord r;
    r.principal = governance::LocalUser();
    r.role = "os";
    r.source = governance::LocalSource() + " (schedule)";
    return r;
  }

  void ScheduledRun(const std::string& job) {
    governance::AuditRecord started = ScheduleOrigin();
    started.action = "job_run";
    started.target = job;
    started.outcome = "started";
    started.detail = "schedule";
    (void)Audit(started);
    StartRun(job, "schedule", ScheduleOrigin());
  }

  // The daily upkeep (jobs/server_upkeep.h), reported on stdout as the server reports the
  // rest of its own work.
  void UpkeepLoop(ServerUpkeep upkeep) {
    while (!stopping.load()) {
      UpkeepReport done = upkeep.RunIfDue();
      for (const auto& failure : done.failures) {
        std::printf("lakepipe: warning: upkeep failed (retried tomorrow): %s\n", failure.c_str());
      }
      if (done.audit_files_deleted + done.run_history_files_deleted + done.log_folders_deleted > 0) {
        std::printf("lakepipe: upkeep of %s: VACUUM deleted %lld files of _audit and %lld of _job_runs that no "
                    "version within their retention needs; %lld run log folders past log_retention deleted\n",
                    upkeep.storage().c_str(), static_cast<long long>(done.audit_files_deleted),
                    static_cast<long long>(done.run_history_files_deleted),
                    static_cast<long long>(done.log_folders_deleted));
      }
      std::fflush(stdout);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  void SchedulerLoop() {
    while (!stopping.load()) {
      for (const auto& job : scheduler->Due()) ScheduledRun(job);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  // Runs newest first (the run's own row may be missing while it runs).
  Json Runs(const std::string& only_job, size_t limit, std::string* error) {
    auto rows = history.ReadAllCached();
    if (!rows.ok()) {
      *error = rows.status().message();
      return Json::array();
    }
    std::map<std::string, Json> runs;
    for (const auto& r : **rows) {
      if (!only_job.empty() && r.job != only_job) continue;
      Json& run = runs[r.run_id];
      if (run.is_null()) {
        run = {{"run_id", r.run_id}, {"job", r.job}, {"state", "running"}, {"trigger", r.trigger},
               {"start", Iso(r.start_micros)}, {"end", nullptr}, {"error", nullptr}, {"tasks", Json::array()}};
        Json params = Json::parse(r.parameters.empty() ? "{}" : r.parameters, nullptr, false);
        run["parameters"] = params.is_discarded() ? Json::object() : params;
      }
      if (r.start_micros > 0 && Iso(r.start_micros) < run["start"].get<std::string>()) run["start"] = Iso(r.start_micros);
      if (r.task.empty()) {
        run["state"] = r.state;
        run["trigger"] = r.trigger;
        run["end"] = Iso(r.end_micros);
        run["error"] = r.error.empty() ? Json() : Json(r.error);
      } else {
        run["tasks"].push_back({{"task", r.task},
                                {"attempt", r.attempt},
                                {"state", r.state},
                                {"start", Iso(r.start_micros)},
                                {"end", Iso(r.end_micros)},
                                {"error", r.error.empty() ? Json() : Json(r.error)}});
      }
    }
    Json out = Json::array();
    for (auto it = runs.rbegin(); it != runs.rend() && out.size() < limit; ++it) out.push_back(it->second);
    return out;
  }

  Json Jobs(std::string* error) {
    Json latest = Runs("", SIZE_MAX, error);
    Json jobs = Json::array();
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& job : file.jobs) {
      Json j = {{"name", job.name}, {"description", job.description}, {"max_parallel", job.max_parallel}};
      if (job.cron) {
        auto next = scheduler ? scheduler->NextRun(job.name) : std::nullopt;
        j["schedule"] = {{"cron", job.cron->text()},
                         {"timezone", job.timezone.name()},
                         {"next_run", next ? Json(Iso(*next * 1'000'000)) : Json()}};
      } else {
        j["schedule"] = nullptr;
      }
      Json tasks = Json::array();
      for (const auto& t : job.tasks) {
        tasks.push_back({{"name", t.name}, {"kind", TaskKindName(t.kind)}, {"depends_on", t.depends_on},
                         {"retries", t.retries}, {"timeout_ms", t.timeout_ms}});
      }
      j["tasks"] = tasks;
      j["running"] = running.count(job.name) && running.at(job.name) > 0;
      j["last_run"] = nullptr;
      for (const auto& run : latest) {
        if (run["job"] == job.name && run["state"] != kStateSkipped) {
          j["last_run"] = {{"run_id", run["run_id"]}, {"state", run["state"]}, {"start", run["start"]},
                           {"end", run["end"]}};
          break;
        }
      }
      jobs.push_back(j);
    }
    return {{"jobs_file", file.path}, {"history_table", history.table_path()},
            {"now", Iso(options.clock->NowMicros())}, {"jobs", jobs}};
  }

  static void SendJson(httplib::Response& res, int status, const Json& body) {
    res.status = status;
    res.set_header("Cache-Control", "no-store");
    res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json; charset=utf-8");
  }

  std::shared_ptr<const governance::Policy> CurrentPolicy() {
    std::lock_guard<std::mutex> lock(policy_mu);
    return policy;
  }
  bool NeedsToken() { return !options.tokens.empty() || CurrentPolicy()->declared(); }

  // Who holds `token`: a principal of jobs.yaml's governance, else a plain --token (admin).
  std::optional<governance::Identity> Identify(const std::string& token) {
    std::optional<governance::Identity> who = CurrentPolicy()->Authenticate(token);
    bool plain = server::TokenMatches(token, options.tokens);
    if (!who && plain) who = governance::Identity::ServerToken();
    return who;
  }

  // The identity of `req` (Local when no token is configured), or nullopt: 401.
  std::optional<governance::Identity> Authenticate(const httplib::Request& req, httplib::Response& res) {
    if (!NeedsToken()) return governance::Identity::Local();
    std::string header = req.get_header_value("Authorization");
    if (header.size() > 7 && strncasecmp(header.c_str(), "Bearer ", 7) == 0) return Identify(header.substr(7));
    if (req.has_param("access_token")) {
      auto who = Identify(req.get_param_value("access_token"));
      if (who) {
        res.set_header("Set-Cookie", "lakepipe_token=" + req.get_param_value("access_token") +
                                         "; Path=/; HttpOnly; SameSite=Strict");
      }
      return who;
    }
    std::string cookies = req.get_header_value("Cookie");
    static const std::string kName = "lakepipe_token=";
    for (size_t at = cookies.find(kName); at != std::string::npos; at = cookies.find(kName, at + 1)) {
      if (at != 0 && cookies[at - 1] != ' ' && cookies[at - 1] != ';') continue;
      size_t start = at + kName.size();
      if (auto who = Identify(cookies.substr(start, cookies.find(';', start) - start))) return who;
    }
    return std::nullopt;
  }

  static std::string From(const httplib::Request& req) {
    return "http " + req.remote_addr + ":" + std::to_string(req.remote_port);
  }

  static governance::AuditRecord RecordOf(const governance::Identity* who, const httplib::Request& req) {
    governance::AuditRecord r;
    if (who != nullptr) {
      r.principal = who->kind == governance::Identity::Kind::kLocal ? "local" : who->name;
      r.role = governance::RoleName(who->role);
    }
    r.source = From(req);
    return r;
  }

  // Records a refused request and sends it: nothing is answered unaudited.
  void Deny(const governance::Identity* who, const httplib::Request& req, httplib::Response& res, int status,
            const std::string& action, const std::string& target, const std::string& message) {
    governance::AuditRecord r = RecordOf(who, req);
    r.action = action;
    r.target = target.substr(0, 200);
    r.outcome = "denied";
    r.status = status;
    r.detail = message;
    (void)Audit(std::move(r));  // a denial stays a denial if it cannot be recorded
    if (status == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"lakepipe\"");
    SendJson(res, status, {{"error", message}});
  }

  // POST /api/jobs/{job}/runs: starts a new run of the job now.
  void Trigger(const governance::Identity& who, const std::string& job, const httplib::Request& req,
               httplib::Response& res) {
    governance::AuditRecord r = RecordOf(&who, req);
    r.action = "trigger_job";
    r.target = job.substr(0, 200);
    auto answer = [&](int status, const Json& body, const std::string& detail) {
      r.outcome = status < 400 ? "allowed" : "failed";
      r.status = status;
      r.detail = detail;
      Status recorded = Audit(r);
      if (!recorded.ok() && status < 400) {
        return SendJson(res, 500, {{"error", "the audit log cannot be written, so no run is started unaudited: " +
                                                 recorded.message()}});
      }
      SendJson(res, status, body);
    };
    if (file.FindJob(job) == nullptr) {
      std::string known;
      for (const auto& j : file.jobs) known += (known.empty() ? "" : ", ") + j.name;
      std::string message = "no job `" + job.substr(0, 100) + "` in " + file.path + "; jobs: " + known;
      return answer(404, {{"error", message}}, message);
    }
    if (!req.body.empty()) {
      std::string message = "run parameters in the request body are not built yet: the run takes the job's defaults";
      return answer(501, {{"error", message}}, message);
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      if (running.count(job) && running.at(job) > 0) {
        std::string message = "job " + job + " is running: a job does not overlap itself";
        return answer(409, {{"error", message}}, message);
      }
    }
    std::string run_id = NewRunId(options.clock->NowMicros());
    answer(202, {{"job", job}, {"run_id", run_id}, {"state", "running"}}, "run " + run_id);
    if (res.status != 202) return;  // not recorded: not started
    StartRun(job, "api", RecordOf(&who, req), run_id);
  }

  // Every request: its route, the token, the route's access, then the handler.
  void Handle(const httplib::Request& req, httplib::Response& res) {
    std::string param;
    bool other_method = false;
    const JobRoute* route = MatchJobRoute(req.method, req.path, &param, &other_method);
    std::optional<governance::Identity> who;
    if (route == nullptr || route->access != JobRouteAccess::kOpen) {
      who = Authenticate(req, res);
      if (!who) {
        bool sent = !req.get_header_value("Authorization").empty() || req.has_param("access_token") ||
                    req.get_header_value("Cookie").find("lakepipe_token=") != std::string::npos;
        return Deny(nullptr, req, res, 401, "http", req.path, sent ? "unknown token" : "no token");
      }
    }
    if (route == nullptr) {
      if (other_method) {
        res.set_header("Allow", req.path == "/api/jobs" || req.path == "/api/jobs/runs" ? "GET, HEAD" : "POST");
        return SendJson(res, 405, {{"error", "method " + req.method.substr(0, 20) + " is not allowed on " +
                                                 req.path.substr(0, 200) + " (see docs/jobs.md)"}});
      }
      return SendJson(res, 404, {{"error", "no file or endpoint " + req.method.substr(0, 20) + " " +
                                               req.path.substr(0, 200) + " (see docs/jobs.md)"}});
    }
    if (route->access == JobRouteAccess::kOperator && who->role == governance::Role::kReader) {
      return Deny(&*who, req, res, 403, route->pattern == "/api/jobs/{job}/runs" ? "trigger_job" : "http",
                  param.empty() ? req.path : param,
                  "principal `" + who->name + "` (reader) may not start a run of job `" + param.substr(0, 100) +
                      "`: it needs role operator or admin (docs/governance.md)");
    }
    // A page on another site must not start runs through a browser that holds the cookie
    // (or on a loopback server without tokens).
    std::string origin = req.get_header_value("Origin");
    if (req.method == "POST" && !origin.empty() && origin != "http://" + req.get_header_value("Host") &&
        origin != "https://" + req.get_header_value("Host")) {
      return Deny(&*who, req, res, 403, "trigger_job", param, "a request from another site (Origin " +
                                                                 origin.substr(0, 100) + ") may not start runs");
    }
    const std::string& p = route->pattern;
    if (p == "/health") return SendJson(res, 200, {{"status", "ok"}});
    if (p == "/api/jobs") {
      std::string error;
      Json body = Jobs(&error);
      if (!error.empty()) return SendJson(res, 500, {{"error", error}});
      return SendJson(res, 200, body);
    }
    if (p == "/api/jobs/runs") {
      std::string job = req.has_param("job") ? req.get_param_value("job") : "";
      if (!job.empty() && file.FindJob(job) == nullptr) return SendJson(res, 404, {{"error", "no job " + job.substr(0, 100)}});
      size_t limit = 50;
      if (req.has_param("limit")) {
        std::string l = req.get_param_value("limit");
        bool digits = !l.empty() && l.size() < 7;
        for (char c : l) digits = digits && c >= '0' && c <= '9';
        if (!digits) return SendJson(res, 400, {{"error", "limit must be a number"}});
        limit = static_cast<size_t>(std::stoul(l));
      }
      std::string error;
      Json runs = Runs(job, limit, &error);
      if (!error.empty()) return SendJson(res, 500, {{"error", error}});
      return SendJson(res, 200, {{"runs", runs}});
    }
    if (p == "/api/jobs/{job}/runs") return Trigger(*who, param, req, res);
#ifdef LAKEPIPE_JOBS_HAVE_WEB
    std::string path = req.path == "/" || req.path == "/jobs" ? "/assets/jobs.html" : req.path;
    if (const web::Asset* asset = web::FindAsset(path)) {
      res.set_header("Cache-Control", "no-cache");
      res.set_content(std::string(asset->data), std::string(asset->content_type).c_str());
      return;
    }
#endif
    SendJson(res, 404, {{"error", "no file or endpoint GET " + req.path.substr(0, 200) + " (see docs/jobs.md)"}});
  }

  void Routes() {
    http.set_read_timeout(5, 0);
    http.set_write_timeout(10, 0);
    http.set_payload_max_length(64 * 1024);
    auto handle = [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); };
    http.Get(".*", handle);
    http.Post(".*", handle);
    http.Put(".*", handle);
    http.Delete(".*", handle);
    http.Patch(".*", handle);
  }
};

JobServer::JobServer(const JobsFile& file) : file_(file) {}
JobServer::~JobServer() { Stop(); }

Status JobServer::Start(const JobServerOptions& options) {
  if (impl_ != nullptr) return Status::InvalidArgument("the job server is already started");
  for (const auto& t : options.tokens) {
    if (t.empty()) return Status::InvalidArgument("an empty token");
  }
  auto impl = std::make_unique<Impl>(file_);
  impl->options = options;
  impl->scheduler = std::make_unique<Scheduler>(file_, options.clock);
  // Principals: jobs.yaml's `governance:` (docs/governance.md); no pipeline, so the grants
  // are parsed but name no table of this server.
  auto load = [path = file_.path] { return governance::Policy::Load(path, "", {}); };
  governance::Policy policy;
  bool watch = FileSystem::Default()->Exists(file_.path);
  if (watch) {
    auto loaded = load();
    if (!loaded.ok()) return loaded.status();
    policy = std::move(loaded).value();
  }
  const std::string storage = file_.StoragePath();
  impl->audit = std::make_unique<governance::AuditLog>(FileSystem::Default(), storage, "");
  if (watch) {
    Status recorded = governance::RecordPolicyChange(*impl->audit, storage, policy, governance::LocalUser(),
                                                     governance::LocalSource());
    if (!recorded.ok()) return recorded.WithContext("cannot start the job server");
  }
  if (!sql::IsLoopbackAddress(options.host) && options.tokens.empty() && !policy.declared()) {
    return Status::InvalidArgument("host " + options.host +
                                   " is reachable from other machines: give --token (bearer tokens) or declare "
                                   "governance: principals in " + file_.path + " (docs/governance.md) to serve there");
  }
  Impl* raw_impl = impl.get();
  if (watch) {
    governance::PolicyReloader::Callbacks reload;
    reload.load = load;
    reload.check = [host = options.host, plain = !options.tokens.empty()](const governance::Policy& p) {
      if (sql::IsLoopbackAddress(host) || plain || p.declared()) return Status::OK();
      return Status::InvalidArgument("the new governance declares no principal, which would leave " + host +
                                     " (reachable from other machines) without tokens");
    };
    reload.apply = [raw_impl](governance::Policy p) {
      auto next = std::make_shared<const governance::Policy>(std::move(p));
      std::lock_guard<std::mutex> lock(raw_impl->policy_mu);
      raw_impl->policy = std::move(next);
    };
    impl->reloader = std::make_unique<governance::PolicyReloader>(std::move(reload), policy, impl->audit.get(),
                                                                   storage, options.policy_poll_ms);
  }
  impl->policy = std::make_shared<const governance::Policy>(std::move(policy));
  impl->Routes();
  int port = options.port == 0 ? impl->http.bind_to_any_port(options.host)
                               : (impl->http.bind_to_port(options.host, options.port) ? options.port : -1);
  if (port <= 0) {
    return Status::IOError("cannot listen on " + options.host + ":" + std::to_string(options.port) +
                           " (is another server using the port? choose one with --port)");
  }
  impl->port = port;
  Impl* raw = impl.get();
  impl->http_thread = std::thread([raw] { raw->http.listen_after_bind(); });
  if (impl->reloader != nullptr) {
    governance::InstallSighupReload();
    impl->reloader->Start();
  }
  if (options.run_schedules) impl->scheduler_thread = std::thread([raw] { raw->SchedulerLoop(); });
  impl->upkeep_thread = std::thread([raw, upkeep = ServerUpkeep(FileSystem::Default(), options.clock, storage,
                                                                 file_.log_retention_micros)] {
    raw->UpkeepLoop(upkeep);
  });
  impl_ = std::move(impl);
  return Status::OK();
}

void JobServer::Stop() {
  if (impl_ == nullptr) return;
  impl_->stopping.store(true);
  if (impl_->reloader != nullptr) impl_->reloader->Stop();
  if (impl_->scheduler_thread.joinable()) impl_->scheduler_thread.join();
  if (impl_->upkeep_thread.joinable()) impl_->upkeep_thread.join();
  std::vector<Impl::RunThread> runs;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    runs.swap(impl_->runs);
  }
  for (auto& r : runs) r.thread.join();
  impl_->http.stop();
  if (impl_->http_thread.joinable()) impl_->http_thread.join();
  impl_.reset();
}

int JobServer::port() const { return impl_ ? impl_->port : 0; }

std::string JobServer::url() const {
  std::string host = impl_ != nullptr ? impl_->options.host : "127.0.0.1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port()) + "/";
}

}  // namespace lakepipe::jobs
