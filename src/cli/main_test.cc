// main(): the process executes itself again with malloc on transparent huge pages
// (common/memory.h, ReexecWithMallocHugePages), keeping its pid and arguments.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "cli/cli_test_util.h"

namespace lakepipe {
namespace {

// The environment of a running process, NUL-separated entries joined by '\n'.
std::string EnvironOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : env) c = c == '\0' ? '\n' : c;
  return "\n" + env;
}

bool KernelOffersHugePages() {
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  return std::getline(thp, modes) && modes.find("[never]") == std::string::npos;
}

TEST(MainTest, RunsWithMallocOnHugePagesUnlessTurnedOff) {
  if (!KernelOffersHugePages()) GTEST_SKIP() << "this kernel has transparent huge pages off: nothing to ask for";
  unsetenv("GLIBC_TUNABLES");
  {
    // The pid the test started is the program running with the tunable: executed again, not forked.
    LakepipeProcess broker({"kafka", "serve", "--partitions", "1", "--topics", "t"});
    ASSERT_NE(broker.ReadUntil("\n").find("bootstrap.servers="), std::string::npos);
    EXPECT_NE(EnvironOf(broker.pid()).find("\nGLIBC_TUNABLES=glibc.malloc.hugetlb=1\n"), std::string::npos);
  }
  setenv("LAKEPIPE_MALLOC_HUGEPAGES", "0", 1);
  {
    LakepipeProcess broker({"kafka", "serve", "--partitions", "1", "--topics", "t"});
    ASSERT_NE(broker.ReadUntil("\n").find("bootstrap.servers="), std::string::npos);
    EXPECT_EQ(EnvironOf(broker.pid()).find("\nGLIBC_TUNABLES="), std::string::npos);
  }
  unsetenv("LAKEPIPE_MALLOC_HUGEPAGES");
  setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=0", 1);
  {
    LakepipeProcess broker({"kafka", "serve", "--partitions", "1", "--topics", "t"});
    ASSERT_NE(broker.ReadUntil("\n").find("bootstrap.servers="), std::string::npos);
    EXPECT_NE(EnvironOf(broker.pid()).find("\nGLIBC_TUNABLES=glibc.malloc.hugetlb=0\n"), std::string::npos);
  }
  unsetenv("GLIBC_TUNABLES");
}

}  // namespace
}  // namespace lakepipe
