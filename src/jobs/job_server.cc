#include "jobs/job_server.h"

#include <strings.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

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
  std::thread http_thread, scheduler_thread;
  std::atomic<bool> stopping{false};
  std::unique_ptr<Scheduler> scheduler;
  int port = 0;

  std::mutex mu;  // guards the fields below
  std::map<std::string, int> running;  // job -> runs in progress in this process
  struct RunThread {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<RunThread> runs;

  explicit Impl(const JobsFile& f) : file(f) {}

  static std::string Iso(int64_t micros) { return FormatTimestampIso(micros); }

  void StartRun(const std::string& job) {
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
    runs.push_back({std::thread([this, job, done] {
      RunOptions o;
      o.job = job;
      o.trigger = "schedule";
      o.new_run = true;  // a scheduled run does not resume a failed manual one
      o.lakepipe_binary = options.lakepipe_binary;
      o.clock = options.clock;
      o.stop = &stopping;
      o.print = [job](const std::string& line) {
        std::printf("[%s] %s\n", job.c_str(), line.c_str());
        std::fflush(stdout);
      };
      auto r = JobRunner(file).Run(o);
      if (!r.ok()) {
        std::printf("[%s] scheduled run could not start: %s\n", job.c_str(), r.status().message().c_str());
        std::fflush(stdout);
      }
      std::lock_guard<std::mutex> l(mu);
      --running[job];
      done->store(true);
    }), done});
  }

  void SchedulerLoop() {
    while (!stopping.load()) {
      for (const auto& job : scheduler->Due()) StartRun(job);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  // Runs newest first (the run's own row may be missing while it runs).
  Json Runs(const std::string& only_job, size_t limit, std::string* error) {
    auto rows = RunHistory(file.StoragePath()).ReadAll();
    if (!rows.ok()) {
      *error = rows.status().message();
      return Json::array();
    }
    std::map<std::string, Json> runs;
    for (const auto& r : *rows) {
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
    return {{"jobs_file", file.path}, {"history_table", RunHistory(file.StoragePath()).table_path()},
            {"now", Iso(options.clock->NowMicros())}, {"jobs", jobs}};
  }

  static void SendJson(httplib::Response& res, int status, const Json& body) {
    res.status = status;
    res.set_header("Cache-Control", "no-store");
    res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json; charset=utf-8");
  }

  bool Authorized(const httplib::Request& req, httplib::Response& res) {
    if (options.tokens.empty() || req.path == "/health") return true;
    std::string header = req.get_header_value("Authorization");
    if (header.size() > 7 && strncasecmp(header.c_str(), "Bearer ", 7) == 0 &&
        server::TokenMatches(header.substr(7), options.tokens)) {
      return true;
    }
    if (req.has_param("access_token") && server::TokenMatches(req.get_param_value("access_token"), options.tokens)) {
      res.set_header("Set-Cookie", "lakepipe_token=" + req.get_param_value("access_token") +
                                       "; Path=/; HttpOnly; SameSite=Strict");
      return true;
    }
    std::string cookies = req.get_header_value("Cookie");
    static const std::string kName = "lakepipe_token=";
    for (size_t at = cookies.find(kName); at != std::string::npos; at = cookies.find(kName, at + 1)) {
      if (at != 0 && cookies[at - 1] != ' ' && cookies[at - 1] != ';') continue;
      size_t start = at + kName.size();
      if (server::TokenMatches(cookies.substr(start, cookies.find(';', start) - start), options.tokens)) return true;
    }
    res.set_header("WWW-Authenticate", "Bearer realm=\"lakepipe\"");
    SendJson(res, 401, {{"error", "this server needs a token: send `Authorization: Bearer <token>`"}});
    return false;
  }

  void Routes() {
    http.set_read_timeout(5, 0);
    http.set_write_timeout(10, 0);
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      return Authorized(req, res) ? httplib::Server::HandlerResponse::Unhandled
                                  : httplib::Server::HandlerResponse::Handled;
    });
    http.Get("/health", [](const httplib::Request&, httplib::Response& res) { SendJson(res, 200, {{"status", "ok"}}); });
    http.Get("/api/jobs", [this](const httplib::Request&, httplib::Response& res) {
      std::string error;
      Json body = Jobs(&error);
      if (!error.empty()) return SendJson(res, 500, {{"error", error}});
      SendJson(res, 200, body);
    });
    http.Get("/api/jobs/runs", [this](const httplib::Request& req, httplib::Response& res) {
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
      SendJson(res, 200, {{"runs", runs}});
    });
    http.Get(".*", [](const httplib::Request& req, httplib::Response& res) {
#ifdef LAKEPIPE_JOBS_HAVE_WEB
      std::string path = req.path == "/" || req.path == "/jobs" ? "/assets/jobs.html" : req.path;
      if (path.rfind("/assets/", 0) == 0) {
        if (const web::Asset* asset = web::FindAsset(path)) {
          res.set_header("Cache-Control", "no-cache");
          res.set_content(std::string(asset->data), std::string(asset->content_type).c_str());
          return;
        }
      }
#endif
      SendJson(res, 404, {{"error", "no file or endpoint GET " + req.path.substr(0, 200) + " (see docs/jobs.md)"}});
    });
  }
};

JobServer::JobServer(const JobsFile& file) : file_(file) {}
JobServer::~JobServer() { Stop(); }

Status JobServer::Start(const JobServerOptions& options) {
  if (impl_ != nullptr) return Status::InvalidArgument("the job server is already started");
  for (const auto& t : options.tokens) {
    if (t.empty()) return Status::InvalidArgument("an empty token");
  }
  if (!sql::IsLoopbackAddress(options.host) && options.tokens.empty()) {
    return Status::InvalidArgument("host " + options.host +
                                   " is reachable from other machines: give --token (bearer tokens) to serve there");
  }
  auto impl = std::make_unique<Impl>(file_);
  impl->options = options;
  impl->scheduler = std::make_unique<Scheduler>(file_, options.clock);
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
  if (options.run_schedules) impl->scheduler_thread = std::thread([raw] { raw->SchedulerLoop(); });
  impl_ = std::move(impl);
  return Status::OK();
}

void JobServer::Stop() {
  if (impl_ == nullptr) return;
  impl_->stopping.store(true);
  if (impl_->scheduler_thread.joinable()) impl_->scheduler_thread.join();
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
