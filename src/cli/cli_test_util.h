// Helpers for tests that run the built `lakepipe` binary (in the build folder the tests
// were built in; LAKEPIPE_BINARY_DIR overrides it). Test-only.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "testing/testing.h"

namespace lakepipe {

inline std::string Binary() { return testing::BinaryDir() + "/lakepipe"; }

inline std::string Quote(const std::string& s) { return "'" + s + "'"; }

// Runs lakepipe; fails the test when it exits non-zero.
inline std::string Lakepipe(const std::string& args) {
  auto r = testing::RunCommand(Binary() + " " + args);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : "";
}

// One `lakepipe run DIR --once --no-server` killed at kill point `point`
// (LAKEPIPE_KILL_AT, docs/crash-testing.md); true when it died there by SIGKILL.
inline bool RunOnceKilledAt(const std::string& pipeline_dir, const std::string& point) {
  std::string cmd = "LAKEPIPE_KILL_AT=" + point + " " + Binary() + " run " + Quote(pipeline_dir) +
                    " --once --no-server >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) && WEXITSTATUS(rc) == 128 + SIGKILL;
}

// The rows of `lakepipe query DIR --format csv SQL`, without the header line.
inline std::string QueryCsvRows(const std::string& pipeline_dir, const std::string& sql) {
  std::string out = Lakepipe("query " + Quote(pipeline_dir) + " --format csv " + Quote(sql));
  size_t nl = out.find('\n');
  return nl == std::string::npos ? out : out.substr(nl + 1);
}

// Runs lakepipe expecting failure; returns its stderr.
inline std::string LakepipeFails(const std::string& args) {
  auto r = testing::RunCommand(Binary() + " " + args);
  EXPECT_FALSE(r.ok()) << "expected failure: lakepipe " << args;
  if (r.ok()) return "";
  const std::string& m = r.status().message();
  size_t nl = m.find('\n');
  return nl == std::string::npos ? "" : m.substr(nl + 1);
}

inline void ExpectOneErrorLine(const std::string& stderr_text, const std::string& needle) {
  EXPECT_EQ(stderr_text.rfind("lakepipe: error: ", 0), 0u) << stderr_text;
  EXPECT_EQ(std::count(stderr_text.begin(), stderr_text.end(), '\n'), 1) << stderr_text;
  EXPECT_NE(stderr_text.find(needle), std::string::npos) << stderr_text;
}

inline std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> rows;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    if (nl > start) rows.push_back(nlohmann::json::parse(text.substr(start, nl - start)));
    start = nl + 1;
  }
  return rows;
}

// A running `lakepipe demo` with PostgreSQL: polls its log (`log`) for the line
// "PostgreSQL on 127.0.0.1:PORT", then gold.gold_kpis in database shop, read as the demo's
// read-only role, until it has orders; for up to `seconds`. Returns the port ("" when the
// line never came) and sets *orders to psql's output ("" when nothing was published).
inline std::string WaitForPublishedKpis(const std::string& log, int seconds, std::string* orders) {
  const std::string marker = "PostgreSQL on 127.0.0.1:";
  std::string port;
  orders->clear();
  for (int i = 0; i < seconds * 10 && orders->empty(); ++i) {
    auto text = FileSystem::Default()->ReadFile(log);
    size_t at = text.ok() ? text->find(marker) : std::string::npos;
    if (at != std::string::npos) {
      size_t from = at + marker.size();
      port = text->substr(from, text->find(' ', from) - from);
      auto r = testing::RunCommand("psql -h 127.0.0.1 -p " + port +
                                   " -U bi_reader shop -Atc 'SELECT orders FROM gold.gold_kpis' 2>/dev/null");
      if (r.ok() && !r->empty() && *r != "0\n") *orders = *r;
    }
    if (orders->empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return port;
}

// A running `lakepipe` (serve, run), its stdout read through a pipe; killed (SIGKILL) by
// the destructor unless stopped.
class LakepipeProcess {
 public:
  explicit LakepipeProcess(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> argv;
      std::string binary = Binary();
      argv.push_back(binary.data());
      std::vector<std::string> copy = args;
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
  }
  ~LakepipeProcess() {
    if (pid_ > 0 && !waited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }
  pid_t pid() const { return pid_; }
  // Reads stdout until `needle` appears (or EOF / `seconds`); returns all read so far.
  std::string ReadUntil(const std::string& needle, int seconds = 20) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    fcntl(out_, F_SETFL, O_NONBLOCK);
    while (text_.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      char buf[4096];
      ssize_t n = read(out_, buf, sizeof(buf));
      if (n > 0) {
        text_.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        break;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    return text_;
  }
  // Sends `sig` and waits; returns the exit status (-1 if it did not exit in 10 s).
  int StopWith(int sig) {
    kill(pid_, sig);
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        waited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  bool waited_ = false;
  std::string text_;
};

}  // namespace lakepipe
