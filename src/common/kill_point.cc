#include "common/kill_point.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace lakepipe {

namespace {

struct KillConfig {
  std::string kill_at;     // point name, empty: none
  long kill_at_hit = 1;    // which hit of that point
  int trace_fd = -1;
  std::atomic<long> hits{0};
};

KillConfig& Config() {
  static KillConfig* config = [] {
    auto* c = new KillConfig;
    if (const char* at = std::getenv("LAKEPIPE_KILL_AT"); at != nullptr && *at != '\0') {
      std::string spec = at;
      size_t colon = spec.rfind(':');
      if (colon != std::string::npos) {
        c->kill_at_hit = std::strtol(spec.c_str() + colon + 1, nullptr, 10);
        spec.resize(colon);
      }
      c->kill_at = spec;
    }
    if (const char* trace = std::getenv("LAKEPIPE_KILL_TRACE"); trace != nullptr && *trace != '\0') {
      c->trace_fd = ::open(trace, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    }
    return c;
  }();
  return *config;
}

}  // namespace

bool KillPointsCompiledIn() {
#if defined(LAKEPIPE_KILL_POINTS) && LAKEPIPE_KILL_POINTS
  return true;
#else
  return false;
#endif
}

void CheckKillPointEnvironment() {
  if (KillPointsCompiledIn()) return;
  for (const char* var : {"LAKEPIPE_KILL_AT", "LAKEPIPE_KILL_TRACE", "LAKEPIPE_CRASH_JOURNAL", "LAKEPIPE_FAULT_AT",
                          "LAKEPIPE_VACUUM_MIN_RETENTION_SECONDS", "LAKEPIPE_EVENT_LOG_RETENTION_SECONDS"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') {
      std::fprintf(stderr,
                   "error: %s is set but this lakepipe was built without kill points "
                   "(configure with -DLAKEPIPE_KILL_POINTS=ON)\n",
                   var);
      std::exit(2);
    }
  }
}

void KillPointHit(const char* name) {
  KillConfig& c = Config();
  if (c.trace_fd >= 0) {
    std::string line = std::string(name) + "\n";
    ssize_t ignored = ::write(c.trace_fd, line.data(), line.size());
    (void)ignored;
  }
  if (c.kill_at.empty() || c.kill_at != name) return;
  if (c.hits.fetch_add(1) + 1 == c.kill_at_hit) {
    ::kill(::getpid(), SIGKILL);
    ::pause();
  }
}

}  // namespace lakepipe
