#include "server/http_server.h"

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "governance/policy_reloader.h"
#include "server/api.h"

#if defined(LAKEPIPE_HAVE_WEB) && __has_include("web/assets.h")
#include "web/assets.h"
#define LAKEPIPE_SERVE_DASHBOARD 1
#endif

namespace lakepipe::server {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kKeepAliveEvery = 15s;
constexpr auto kMinEventSpacing = 250ms;
constexpr int64_t kStreamWaitMs = 250;

void Send(httplib::Response& res, const ApiResponse& r) {
  res.status = r.status;
  res.set_content(r.body, r.content_type.c_str());
}

void SendError(httplib::Response& res, int status, const std::string& message) {
  Send(res, ErrorResponse(status, message));
}

// httplib's connection queue, replaced: its ThreadPool has a fixed number of threads, so
// as many clients as threads that send half a request (or hold an idle keep-alive
// connection) stall every other request, /health included, until their read timeouts.
// This pool starts `min_threads` and adds a thread whenever a connection arrives with no
// idle thread, up to `max_threads`; only past that do connections wait in the queue.
// Threads, once started, stay until shutdown (a burst leaves idle threads, not work).
class ConnectionPool : public httplib::TaskQueue {
 public:
  ConnectionPool(size_t min_threads, size_t max_threads) : max_threads_(std::max(min_threads, max_threads)) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < min_threads; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~ConnectionPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(fn));
      if (idle_ < jobs_.size() && threads_.size() < max_threads_) threads_.emplace_back([this] { Work(); });
    }
    cv_.notify_one();
  }

  void shutdown() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutdown_ = true;
      threads.swap(threads_);
    }
    cv_.notify_all();
    for (auto& t : threads) t.join();
  }

 private:
  void Work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ++idle_;
        cv_.wait(lock, [this] { return !jobs_.empty() || shutdown_; });
        --idle_;
        if (jobs_.empty()) return;  // shutting down with nothing left
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      fn();
    }
  }

  const size_t max_threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool shutdown_ = false;
};

#ifdef LAKEPIPE_SERVE_DASHBOARD
// What a Range header asks of a file of `size` bytes (RFC 9110 section 14). One range is
// served, clamped to the file; several are answered with the whole file, which the RFC
// allows (multipart/byteranges is not worth it for the dashboard's few files).
struct RangeAnswer {
  enum Kind { kWhole, kPart, kUnsatisfiable } kind = kWhole;
  size_t offset = 0;
  size_t length = 0;
};

RangeAnswer ResolveRange(const httplib::Ranges& ranges, size_t size) {
  RangeAnswer a;
  if (ranges.size() != 1) return a;
  auto [first, last] = ranges[0];
  if (first < 0 && last < 0) return a;
  if (first < 0) {  // bytes=-N: the last N bytes
    if (last == 0 || size == 0) return {RangeAnswer::kUnsatisfiable};
    size_t n = std::min(static_cast<size_t>(last), size);
    return {RangeAnswer::kPart, size - n, n};
  }
  if (static_cast<size_t>(first) >= size) return {RangeAnswer::kUnsatisfiable};
  size_t end = last < 0 ? size - 1 : std::min(static_cast<size_t>(last), size - 1);
  if (end < static_cast<size_t>(first)) return {RangeAnswer::kUnsatisfiable};
  return {RangeAnswer::kPart, static_cast<size_t>(first), end - static_cast<size_t>(first) + 1};
}
#endif

bool IsApiPath(const std::string& path) {
  return path.rfind("/api/", 0) == 0 || path == "/api" || path == "/health" || path == "/metrics";
}

// Removes the request's parsed Range and returns it. httplib 0.11 applies req.ranges to
// whatever response a handler gives, unchecked against its length (a range past the end
// of a file read memory past it), so no request reaches httplib's writer with ranges left.
// The Request is httplib's own non-const object, handed to handlers as const.
httplib::Ranges TakeRanges(const httplib::Request& req) {
  auto& owned = const_cast<httplib::Request&>(req);
  httplib::Ranges ranges = std::move(owned.ranges);
  owned.ranges.clear();
  return ranges;
}

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

bool TokenMatches(const std::string& given, const std::vector<std::string>& tokens) {
  bool match = false;
  for (const auto& token : tokens) {
    size_t n = std::max(given.size(), token.size());
    unsigned diff = given.size() == token.size() ? 0u : 1u;
    for (size_t i = 0; i < n; ++i) {
      unsigned char a = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
      unsigned char b = i < token.size() ? static_cast<unsigned char>(token[i]) : 0;
      diff |= static_cast<unsigned>(a ^ b);
    }
    match |= (diff == 0 && !token.empty());
  }
  return match;
}

ServerOptions ServerOptions::FromSettings(const sql::ServerSettings& settings) {
  ServerOptions o;
  o.host = settings.host;
  o.port = settings.port;
  o.tokens = settings.tokens;
  return o;
}

std::string From(const httplib::Request& req) {
  return "http " + req.remote_addr + ":" + std::to_string(req.remote_port);
}

struct HttpServer::Impl {
  ServerOptions options;
  std::unique_ptr<governance::AuditLog> audit;  // before api: the Api points to it
  std::unique_ptr<Api> api;
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<int> streams{0};
  std::unique_ptr<governance::PolicyReloader> reloader;  // last: stopped first

  enum class Auth { kOpen, kHeader, kQueryParameter, kCookie, kDenied };
  // Whether any token is configured: plain server.tokens or governance principals. Without
  // one (loopback only) every request is the local user's.
  bool NeedsToken() const { return !options.tokens.empty() || api->policy()->declared(); }

  // Who holds `token`: a principal of the policy, else a plain server.tokens token (admin).
  std::optional<governance::Identity> Identify(const std::string& token) const {
    std::optional<governance::Identity> who = api->policy()->Authenticate(token);
    bool plain = TokenMatches(token, options.tokens);
    if (!who && plain) who = governance::Identity::ServerToken();
    return who;
  }

  // How the request proves it holds a token, and who it is then. The dashboard page is
  // opened as /?access_token=...; the cookie set then lets its scripts and styles load.
  Auth Authorize(const httplib::Request& req, governance::Identity* who) const {
    if (!NeedsToken()) {
      *who = governance::Identity::Local();
      return Auth::kOpen;
    }
    if (req.path == "/health") return Auth::kOpen;
    std::string header = req.get_header_value("Authorization");
    if (header.size() > 7 && strncasecmp(header.c_str(), "Bearer ", 7) == 0) {
      auto found = Identify(Trim(header.substr(7)));
      if (!found) return Auth::kDenied;
      *who = *found;
      return Auth::kHeader;
    }
    if (req.has_param("access_token")) {
      auto found = Identify(req.get_param_value("access_token"));
      if (!found) return Auth::kDenied;
      *who = *found;
      return Auth::kQueryParameter;
    }
    std::string cookies = req.get_header_value("Cookie");
    static const std::string kName = "lakepipe_token=";
    for (size_t at = cookies.find(kName); at != std::string::npos; at = cookies.find(kName, at + 1)) {
      if (at != 0 && cookies[at - 1] != ' ' && cookies[at - 1] != ';') continue;
      size_t start = at + kName.size();
      std::string value = cookies.substr(start, cookies.find(';', start) - start);
      if (auto found = Identify(value)) {
        *who = *found;
        return Auth::kCookie;
      }
    }
    return Auth::kDenied;
  }

  // The identity the pre-routing handler found for `req` (Local when none was needed).
  governance::Identity Who(const httplib::Request& req) const {
    governance::Identity who;
    Authorize(req, &who);
    return who;
  }

  // `ranges`: the request's Range, taken from httplib (TakeRanges).
  void Static(const httplib::Request& req, const httplib::Ranges& ranges, httplib::Response& res) {
#ifdef LAKEPIPE_SERVE_DASHBOARD
    const web::Asset* asset = web::FindAsset(req.path);
    if (asset == nullptr) {
      SendError(res, 404, "no file or endpoint GET " + req.path.substr(0, 200) + " (see docs/http-api.md)");
      return;
    }
    std::string_view data = asset->data;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("Accept-Ranges", "bytes");
    RangeAnswer range = ResolveRange(ranges, data.size());
    if (range.kind == RangeAnswer::kUnsatisfiable) {
      res.set_header("Content-Range", "bytes */" + std::to_string(data.size()));
      SendError(res, 416, "range not satisfiable: " + req.path.substr(0, 200) + " has " + std::to_string(data.size()) +
                              " bytes");
      return;
    }
    if (range.kind == RangeAnswer::kPart) {
      res.status = 206;
      res.set_header("Content-Range", "bytes " + std::to_string(range.offset) + "-" +
                                          std::to_string(range.offset + range.length - 1) + "/" +
                                          std::to_string(data.size()));
      data = data.substr(range.offset, range.length);
    }
    // httplib asks for [offset, offset + length) of the size given here, never beyond it.
    res.set_content_provider(data.size(), std::string(asset->content_type).c_str(),
                             [data](size_t offset, size_t length, httplib::DataSink& sink) {
                               if (offset > data.size()) return false;
                               return sink.write(data.data() + offset, std::min(length, data.size() - offset));
                             });
#else
    (void)ranges;
    if (req.path == "/" || req.path.rfind("/assets/", 0) == 0 || req.path == "/index.html") {
      SendError(res, 404, "the dashboard is not built into this binary (module src/web missing); the API is at /api/");
    } else {
      SendError(res, 404, "no endpoint GET " + req.path.substr(0, 200) + " (see docs/http-api.md)");
    }
#endif
  }

  // /api/stream: one "pipeline" event now, then one per status change, keep-alive
  // comments in between; ends when the server stops or the client goes away.
  void Stream(const httplib::Request& req, httplib::Response& res) {
    governance::Identity who = Who(req);
    if (streams.fetch_add(1) >= options.max_streams) {
      streams.fetch_sub(1);
      SendError(res, 503, "too many open event streams (at most " + std::to_string(options.max_streams) + ")");
      return;
    }
    struct State {
      int64_t sent_generation = -1;
      Clock::time_point last_event{};
      Clock::time_point last_write = Clock::now();
    };
    auto state = std::make_shared<State>();
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, state, who](size_t, httplib::DataSink& sink) {
          if (stopping.load()) return false;
          bool send = state->sent_generation < 0;
          if (!send) {
            int64_t generation = api->WaitForChange(state->sent_generation, kStreamWaitMs);
            if (stopping.load()) return false;
            send = generation != state->sent_generation;
          }
          auto now = Clock::now();
          if (send) {
            auto since = now - state->last_event;
            if (since < kMinEventSpacing) std::this_thread::sleep_for(kMinEventSpacing - since);
            auto payload = api->PipelinePayload(who);
            std::string text;
            if (payload.ok()) {
              state->sent_generation = payload->second;
              text = "id: " + std::to_string(payload->second) + "\nevent: pipeline\ndata: " + payload->first + "\n\n";
            } else {
              // Reported, and retried at the next keep-alive rather than in a tight loop.
              text = "event: error\ndata: " + ErrorResponse(500, payload.status().message()).body + "\n\n";
              state->sent_generation = std::max<int64_t>(state->sent_generation, 0);
            }
            state->last_event = state->last_write = Clock::now();
            return sink.write(text.data(), text.size());
          }
          if (now - state->last_write >= kKeepAliveEvery) {
            state->last_write = now;
            static const char kKeepAlive[] = ": keep-alive\n\n";
            return sink.write(kKeepAlive, sizeof(kKeepAlive) - 1);
          }
          return true;
        },
        [this](bool) { streams.fetch_sub(1); });
  }

  void Routes() {
    server.new_task_queue = [min = options.threads, max = options.max_connections] {
      return new ConnectionPool(static_cast<size_t>(min), static_cast<size_t>(max));
    };
    server.set_payload_max_length(64 * 1024);
    // Per read and per write; a client that stops sending (or reading) is dropped then.
    server.set_read_timeout(5, 0);
    server.set_write_timeout(10, 0);
    server.set_keep_alive_timeout(5);

    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      governance::Identity who;
      Auth auth = Authorize(req, &who);
      // Only a static file, served, honours Range (Static takes it); the API ignores it,
      // as RFC 9110 allows.
      bool static_get = (req.method == "GET" || req.method == "HEAD") && !IsApiPath(req.path);
      if (auth == Auth::kDenied || !static_get) TakeRanges(req);
      if (auth == Auth::kQueryParameter) {
        res.set_header("Set-Cookie", "lakepipe_token=" + req.get_param_value("access_token") +
                                         "; Path=/; HttpOnly; SameSite=Strict");
      }
      if (auth != Auth::kDenied) return httplib::Server::HandlerResponse::Unhandled;
      res.set_header("WWW-Authenticate", "Bearer realm=\"lakepipe\"");
      // Recorded without the token (never written anywhere); a record that cannot be
      // written does not change the answer, which is a denial anyway.
      bool sent = !req.get_header_value("Authorization").empty() || req.has_param("access_token") ||
                  req.get_header_value("Cookie").find("lakepipe_token=") != std::string::npos;
      (void)api->Audit(nullptr, "http", req.path.substr(0, 200), From(req), 401,
                       sent ? "unknown token" : "no token");
      SendError(res, 401,
                "this server needs a token: send `Authorization: Bearer <token>` (see server.tokens and "
                "docs/governance.md)");
      return httplib::Server::HandlerResponse::Handled;
    });
    server.Get("/api/stream", [this](const httplib::Request& req, httplib::Response& res) { Stream(req, res); });
    server.Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
      if (IsApiPath(req.path)) {
        Send(res, api->Handle(req.path, req.params, Who(req), From(req)));
      } else {
        Static(req, TakeRanges(req), res);
      }
    });
    auto not_allowed = [](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", "GET, HEAD");
      SendError(res, 405, "method " + req.method.substr(0, 20) + " is not allowed: the API is read-only (GET)");
    };
    server.Post(".*", not_allowed);
    server.Put(".*", not_allowed);
    server.Delete(".*", not_allowed);
    server.Patch(".*", not_allowed);
    server.Options(".*", not_allowed);

    server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown error";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      SendError(res, 500, "internal error: " + what);
    });
    // Errors produced by httplib itself (malformed requests, ...) get a JSON body too.
    server.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      SendError(res, res.status, "HTTP " + std::to_string(res.status) +
                                     (res.status == 400 ? ": malformed request" : ""));
      return httplib::Server::HandlerResponse::Handled;
    }));
  }
};

HttpServer::HttpServer() = default;
HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start(const ServerOptions& options, runtime::PipelineRunner* runner,
                         runtime::StatusBoard* board) {
  if (impl_ != nullptr) return Status::InvalidArgument("the HTTP server is already started");
  if (runner == nullptr) return Status::InvalidArgument("the HTTP server needs a pipeline");
  for (const auto& t : options.tokens) {
    if (t.empty()) return Status::InvalidArgument("server.tokens has an empty token");
  }
  if (options.port < 0 || options.port > 65535) {
    return Status::InvalidArgument("server port " + std::to_string(options.port) + " is not between 0 and 65535");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->options.threads = std::max(options.threads, 4);
  impl->options.max_connections = std::max(options.max_connections, impl->options.threads);
  // Each event stream holds a connection thread for as long as it is open.
  impl->options.max_streams = std::clamp(options.max_streams, 1, impl->options.max_connections / 2);
  impl->api = std::make_unique<Api>(runner, board);
  LP_ASSIGN_OR_RETURN(governance::Policy policy, impl->api->LoadPolicy());
  const auto& settings = runner->pipeline().settings;
  impl->audit = std::make_unique<governance::AuditLog>(FileSystem::Default(), settings.storage, settings.name);
  // A changed set of principals or grants is on record before the first request.
  Status recorded = governance::RecordPolicyChange(*impl->audit, settings.storage, policy, governance::LocalUser(),
                                                   governance::LocalSource());
  if (!recorded.ok()) return recorded.WithContext("cannot start the server");
  governance::PolicyReloader::Callbacks reload;
  Api* api = impl->api.get();
  reload.load = [api] { return api->LoadPolicy(); };
  reload.check = [host = options.host, plain = !options.tokens.empty()](const governance::Policy& p) {
    if (sql::IsLoopbackAddress(host) || plain || p.declared()) return Status::OK();
    return Status::InvalidArgument("the new governance declares no principal, which would leave " + host +
                                   " (reachable from other machines) without tokens");
  };
  reload.apply = [api](governance::Policy p) { api->set_policy(std::move(p)); };
  impl->reloader = std::make_unique<governance::PolicyReloader>(std::move(reload), policy, impl->audit.get(),
                                                                 settings.storage, options.policy_poll_ms);
  impl->api->set_policy(std::move(policy));
  impl->api->set_audit(impl->audit.get());
  if (!sql::IsLoopbackAddress(options.host) && !impl->NeedsToken()) {
    return Status::InvalidArgument("server.host " + options.host +
                                   " is reachable from other machines: set server.tokens (bearer tokens) or declare "
                                   "governance: principals (docs/governance.md) to serve there");
  }
  impl->Routes();
  int port = options.port;
  errno = 0;
  if (port == 0) {
    port = impl->server.bind_to_any_port(options.host);
  } else if (!impl->server.bind_to_port(options.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    int err = errno;
    return Status::IOError("cannot listen on " + options.host + ":" + std::to_string(options.port) +
                           (err != 0 ? std::string(": ") + std::strerror(err) : std::string()) +
                           " (is another server using the port? choose one with --port)");
  }
  port_.store(port);
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->server.listen_after_bind(); });
  governance::InstallSighupReload();
  impl->reloader->Start();
  impl_ = std::move(impl);
  return Status::OK();
}

void HttpServer::Stop() {
  if (impl_ == nullptr) return;
  impl_->stopping.store(true);
  if (impl_->reloader != nullptr) impl_->reloader->Stop();
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_.reset();
}

std::string HttpServer::url() const {
  std::string host = impl_ != nullptr ? impl_->options.host : "127.0.0.1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port()) + "/";
}

}  // namespace lakepipe::server
