// main(): the process executes itself again with malloc on transparent huge pages
// (common/memory.h, ReexecWithMallocHugePages), keeping its pid and arguments.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cli/cli_test_util.h"
#include "cli/data_commands.h"
#include "common/memory.h"

namespace lakepipe {
namespace {

// The environment of a running process, NUL-separated entries joined by '\n'.
std::string EnvironOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : env) c = c == '\0' ? '\n' : c;
  return "\n" + env;
}

TEST(MainTest, RunsWithMallocOnHugePagesUnlessTurnedOffOrUnderAnAddressSpaceLimit) {
  if (!KernelOffersHugePages()) GTEST_SKIP() << "this kernel has transparent huge pages off: nothing to ask for";
  // The environment of a `lakepipe kafka serve` started now: the pid the test started is
  // the program running with it (executed again, not forked).
  auto environ_of_started = [] {
    LakepipeProcess broker({"kafka", "serve", "--partitions", "1", "--topics", "t"});
    EXPECT_NE(broker.ReadUntil("\n").find("bootstrap.servers="), std::string::npos);
    return EnvironOf(broker.pid());
  };
  unsetenv("GLIBC_TUNABLES");
  EXPECT_NE(environ_of_started().find("\nGLIBC_TUNABLES=glibc.malloc.hugetlb=1\n"), std::string::npos);
  setenv("LAKEPIPE_MALLOC_HUGEPAGES", "0", 1);
  EXPECT_EQ(environ_of_started().find("\nGLIBC_TUNABLES="), std::string::npos);
  unsetenv("LAKEPIPE_MALLOC_HUGEPAGES");
  setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=0", 1);
  EXPECT_NE(environ_of_started().find("\nGLIBC_TUNABLES=glibc.malloc.hugetlb=0\n"), std::string::npos);
  unsetenv("GLIBC_TUNABLES");

  // Under an address-space limit (inherited by the child; 1 TiB lets this process run on),
  // huge pages would spend the limit on reservations: not asked for.
  struct rlimit before;
  ASSERT_EQ(getrlimit(RLIMIT_AS, &before), 0);
  if (before.rlim_cur != RLIM_INFINITY) GTEST_SKIP() << "this test runs under an address-space limit already";
  struct rlimit limited = {rlim_t{1} << 40, before.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_AS, &limited), 0);
  std::string environ_limited = environ_of_started();
  ASSERT_EQ(setrlimit(RLIMIT_AS, &before), 0);
  EXPECT_EQ(environ_limited.find("\nGLIBC_TUNABLES="), std::string::npos);
}

// Only the commands that move data pay the second start; a one-shot look does not.
TEST(MainTest, OnlyCommandsThatMoveDataAskForHugePages) {
  auto moves = [](std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return cli::MovesDataAtVolume(static_cast<int>(argv.size()), argv.data());
  };
  EXPECT_TRUE(moves({"lakepipe", "run", "p", "--once"}));
  EXPECT_TRUE(moves({"lakepipe", "query", "p", "SELECT 1"}));
  EXPECT_TRUE(moves({"lakepipe", "kafka", "serve"}));
  EXPECT_FALSE(moves({"lakepipe", "status", "p"}));
  EXPECT_FALSE(moves({"lakepipe", "validate", "p"}));
  EXPECT_FALSE(moves({"lakepipe", "generate", "orders", "--rows", "5"}));
  EXPECT_FALSE(moves({"lakepipe", "crash", "power-loss", "journal"}));  // a crash test's rewind
  EXPECT_FALSE(moves({"lakepipe", "--version"}));
  EXPECT_FALSE(moves({"lakepipe"}));
  // A path that happens to be named like a command is an argument, not the command.
  EXPECT_FALSE(moves({"lakepipe", "status", "run"}));
}

}  // namespace
}  // namespace lakepipe
