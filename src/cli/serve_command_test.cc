// `lakepipe serve`: the built binary serves a pipeline's storage, prints its URL, answers
// the API, and stops cleanly on SIGTERM; off loopback without tokens it refuses to start.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <httplib.h>
#include <thread>

#include "cli/cli_test_util.h"
#include "common/fs.h"

namespace lakepipe {
namespace {

using Json = nlohmann::json;

// A running `lakepipe serve`, its stdout read through a pipe.
class ServeProcess {
 public:
  explicit ServeProcess(const std::vector<std::string>& args) {
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
  ~ServeProcess() {
    if (pid_ > 0 && !waited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }
  // Reads stdout until `needle` appears (or EOF / 20 s); returns all read so far.
  std::string ReadUntil(const std::string& needle) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
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

TEST(ServeCommandTest, ServesStorageAndStopsOnSigterm) {
  testing::TempDir dir;
  std::string landing = dir.Join("landing"), storage = dir.Join("storage");
  ASSERT_TRUE(FileSystem::Default()->CreateDirs(landing).ok());
  Lakepipe("generate orders --rows 2000 --seed 5 --out " + Quote(landing + "/a.csv"));
  std::string folder = testing::SourceDir() + "/examples/orders";
  std::string sets = " --set landing=" + Quote(landing) + " --set storage=" + Quote(storage);
  Lakepipe("run " + Quote(folder) + " --once" + sets);

  ServeProcess serve({"serve", folder, "--port", "0", "--set", "landing=" + landing, "--set", "storage=" + storage});
  std::string out = serve.ReadUntil("press Ctrl-C");
  size_t at = out.find("http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << out;
  int port = std::atoi(out.c_str() + at + std::string("http://127.0.0.1:").size());
  ASSERT_GT(port, 0) << out;

  httplib::Client client("127.0.0.1", port);
  auto tables = client.Get("/api/tables");
  ASSERT_TRUE(tables);
  ASSERT_EQ(tables->status, 200) << tables->body;
  Json j = Json::parse(tables->body);
  bool bronze = false;
  for (const auto& t : j["tables"]) {
    if (t["name"] == "bronze_orders") {
      bronze = true;
      EXPECT_EQ(t["rows"], 2000);
    }
  }
  EXPECT_TRUE(bronze) << tables->body;
  auto pipeline = client.Get("/api/pipeline");
  ASSERT_TRUE(pipeline);
  EXPECT_EQ(Json::parse(pipeline->body)["mode"], "not running");

  EXPECT_EQ(serve.StopWith(SIGTERM), 0);
  EXPECT_NE(serve.ReadUntil("server stopped").find("server stopped"), std::string::npos);
}

TEST(ServeCommandTest, RefusesOffLoopbackWithoutTokens) {
  testing::TempDir dir;
  std::string err = LakepipeFails("serve " + Quote(testing::SourceDir() + "/examples/orders") +
                                  " --host 0.0.0.0 --port 0 --set storage=" + Quote(dir.Join("storage")));
  ExpectOneErrorLine(err, "server.tokens");
}

}  // namespace
}  // namespace lakepipe
