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

TEST(ServeCommandTest, ServesStorageAndStopsOnSigterm) {
  testing::TempDir dir;
  std::string landing = dir.Join("landing"), storage = dir.Join("storage");
  ASSERT_TRUE(FileSystem::Default()->CreateDirs(landing).ok());
  Lakepipe("generate orders --rows 2000 --seed 5 --out " + Quote(landing + "/a.csv"));
  std::string folder = testing::SourceDir() + "/examples/orders";
  std::string sets = " --set landing=" + Quote(landing) + " --set storage=" + Quote(storage);
  Lakepipe("run " + Quote(folder) + " --once" + sets);

  LakepipeProcess serve({"serve", folder, "--port", "0", "--set", "landing=" + landing, "--set", "storage=" + storage});
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
