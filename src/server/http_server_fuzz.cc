// libFuzzer entry point for the HTTP server: any bytes, as a raw request on a socket or as
// a path and query string routed by the API, must give an answer (or a closed
// connection), never a crash, a hang or a 5xx from the API's own routes. The first byte
// picks raw socket bytes (odd) or a routed path (even). The pipeline is examples/orders
// (LAKEPIPE_SOURCE_DIR, default the working directory) over an empty storage folder of
// this process (LAKEPIPE_FUZZ_STORAGE to use one with data). docs/fuzzing.md.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "runtime/pipeline_runner.h"
#include "server/api.h"
#include "server/http_server.h"

namespace {

struct Target {
  std::unique_ptr<lakepipe::runtime::PipelineRunner> runner;
  std::unique_ptr<lakepipe::server::Api> api;
  lakepipe::server::HttpServer server;
};

Target* Setup() {
  const char* source = std::getenv("LAKEPIPE_SOURCE_DIR");
  const char* storage = std::getenv("LAKEPIPE_FUZZ_STORAGE");
  auto runner = lakepipe::runtime::PipelineRunner::Open(
      std::string(source != nullptr ? source : ".") + "/examples/orders",
      {{"storage", storage != nullptr ? storage : "/tmp/lakepipe-http-fuzz-" + std::to_string(getpid())}});
  if (!runner.ok()) std::abort();
  auto* t = new Target();
  t->runner = std::move(runner).value();
  t->api = std::make_unique<lakepipe::server::Api>(t->runner.get(), nullptr);
  lakepipe::server::ServerOptions options;
  options.port = 0;
  if (!t->server.Start(options, t->runner.get(), nullptr).ok()) std::abort();
  return t;
}

void SendRaw(int port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    (void)!send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
    char buf[4096];
    while (recv(fd, buf, sizeof(buf), 0) > 0) {
    }
  }
  close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Target* target = Setup();
  if (size == 0) return 0;
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    SendRaw(target->server.port(), text + "\r\n\r\n");
    return 0;
  }
  // "path?k=v&k=v" routed without a socket.
  size_t q = text.find('?');
  lakepipe::server::QueryParams params;
  if (q != std::string::npos) {
    std::string query = text.substr(q + 1);
    size_t start = 0;
    while (start <= query.size()) {
      size_t amp = query.find('&', start);
      if (amp == std::string::npos) amp = query.size();
      std::string item = query.substr(start, amp - start);
      size_t eq = item.find('=');
      params.emplace(item.substr(0, eq), eq == std::string::npos ? "" : item.substr(eq + 1));
      start = amp + 1;
    }
  }
  auto response = target->api->Handle(text.substr(0, q), params);
  if (response.status >= 500 && response.status != 501) std::abort();
  return 0;
}
