// `lakepipe kafka serve` and `lakepipe produce --to kafka://`, as a user runs them: the
// broker's first stdout line says where it listens, produced CSV lines arrive as JSON
// messages, a pipeline reads them exactly once, and SIGTERM stops the broker.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "cli/cli_test_util.h"
#include "common/fs.h"
#include "testing/testing.h"

namespace lakepipe {
namespace {

// `lakepipe kafka serve ...` as a child process; its first stdout line is read.
class ServedBroker {
 public:
  explicit ServedBroker(const std::string& args) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::string cmd = Binary() + " kafka serve " + args;
      execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
    char line[512];
    if (out_ != nullptr && std::fgets(line, sizeof line, out_) != nullptr) first_line_ = line;
  }
  ~ServedBroker() {
    if (pid_ > 0 && !stopped_) Stop();
    if (out_ != nullptr) std::fclose(out_);
  }
  // SIGTERM; the exit status.
  int Stop() {
    stopped_ = true;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    return status;
  }
  const std::string& first_line() const { return first_line_; }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  std::string first_line_;
  bool stopped_ = false;
};

TEST(KafkaCommandTest, ServeProduceAndReadExactlyOnce) {
  testing::TempDir dir;
  ServedBroker broker("--partitions 3 --topics orders");
  const std::string& line = broker.first_line();
  ASSERT_EQ(line.rfind("bootstrap.servers=127.0.0.1:", 0), 0u) << line;
  std::string servers = line.substr(std::string("bootstrap.servers=").size());
  while (!servers.empty() && (servers.back() == '\n' || servers.back() == '\r')) servers.pop_back();

  std::string csv = dir.Join("orders.csv");
  Lakepipe("generate orders --rows 2000 --seed 3 --out " + csv);
  Lakepipe("produce --from " + csv + " --to kafka://" + servers + "/orders --rate 100000 --lines-per-file 500 "
           "--key TransactionNo");

  FileSystem* fs = FileSystem::Default();
  ASSERT_TRUE(fs->CreateDirs(dir.Join("p")).ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/pipeline.yaml"),
                            "name: k\nstorage: " + dir.Join("lake") + "\nlibraries: [p.sql]\n" +
                                "configuration: {kafka: '" + servers + "'}\n")
                  .ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/p.sql"),
                            "CREATE OR REFRESH STREAMING TABLE raw AS SELECT CAST(value AS STRING) AS json, "
                            "CAST(key AS STRING) AS k, partition, offset FROM STREAM read_kafka("
                            "bootstrapServers => '${kafka}', subscribe => 'orders', startingOffsets => 'earliest');\n")
                  .ok());
  Lakepipe("validate " + dir.Join("p"));
  Lakepipe("run " + dir.Join("p") + " --once");
  Lakepipe("run " + dir.Join("p") + " --once");  // nothing new: nothing doubled
  auto rows = JsonLines(Lakepipe("query " + dir.Join("p") + " --format jsonl \"SELECT count(*) AS n, "
                                 "count(DISTINCT concat(partition, ':', offset)) AS coords, "
                                 "count(DISTINCT json) AS payloads, min(json) AS one, "
                                 "sum(CASE WHEN k IS NULL THEN 1 ELSE 0 END) AS no_key FROM raw\""));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["n"], 2000);
  EXPECT_EQ(rows[0]["coords"], 2000);
  EXPECT_EQ(rows[0]["no_key"], 0);
  // Each line became a JSON object named by the CSV header.
  std::string one = rows[0]["one"].get<std::string>();
  auto parsed = nlohmann::json::parse(one, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << one;
  EXPECT_TRUE(parsed.contains("TransactionNo")) << one;
  EXPECT_TRUE(parsed["Quantity"].is_number()) << one;

  int status = broker.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(KafkaCommandTest, ProduceToKafkaErrorsAreOneLine) {
  testing::TempDir dir;
  std::string csv = dir.Join("o.csv");
  Lakepipe("generate orders --rows 10 --seed 3 --out " + csv);
  ExpectOneErrorLine(LakepipeFails("produce --from " + csv + " --to kafka://127.0.0.1:9 --rate 10"),
                     "kafka://HOST:PORT/TOPIC");
  ExpectOneErrorLine(LakepipeFails("produce --from " + csv + " --to kafka://127.0.0.1:9/t --rate 10 --key Nope"),
                     "--key Nope is not a column");
  ExpectOneErrorLine(LakepipeFails("demo --source kafka --dir " + dir.Join("demo")), "not built yet: demo --source kafka");
}

}  // namespace
}  // namespace lakepipe
