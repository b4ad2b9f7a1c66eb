// Runs the built `lakepipe produce` on a generated orders CSV: every input line lands
// exactly once, in order, in complete files that each start with the header; no temporary
// file is left; --limit, --loop, restarts, SIGINT and the error lines. The rate is not
// asserted here (timing is measured in benchmarks, never in tests).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "cli/cli_test_util.h"
#include "common/fs.h"
#include "testing/testing.h"

namespace lakepipe {
namespace {

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

class ProduceCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    input_ = dir_.Join("orders.csv");
    Lakepipe("generate orders --rows 2500 --seed 7 --out " + input_);
    auto text = FileSystem::Default()->ReadFile(input_);
    ASSERT_TRUE(text.ok());
    input_lines_ = SplitLines(*text);
    ASSERT_EQ(input_lines_.size(), 2501u);
    landing_ = dir_.Join("landing");
  }

  struct Landed {
    std::vector<std::string> names;           // sorted
    std::vector<std::string> data_lines;      // in file-name order
    std::vector<size_t> lines_per_file;
    std::vector<std::string> hidden;          // names starting with '.' (temporary files)
  };

  // Reads the landing folder: every file must start with the input's header.
  Landed ReadLanding() {
    Landed out;
    auto entries = FileSystem::Default()->ListDir(landing_);
    EXPECT_TRUE(entries.ok());
    if (!entries.ok()) return out;
    for (const auto& e : *entries) {
      if (e.name[0] == '.') {
        out.hidden.push_back(e.name);
        continue;
      }
      out.names.push_back(e.name);
    }
    std::sort(out.names.begin(), out.names.end());
    for (const auto& name : out.names) {
      auto text = FileSystem::Default()->ReadFile(JoinPath(landing_, name));
      EXPECT_TRUE(text.ok());
      auto lines = SplitLines(*text);
      EXPECT_FALSE(lines.empty()) << name;
      if (lines.empty()) continue;
      EXPECT_EQ(lines[0], input_lines_[0]) << name << " does not start with the header";
      EXPECT_EQ(text->back(), '\n') << name;
      out.lines_per_file.push_back(lines.size() - 1);
      out.data_lines.insert(out.data_lines.end(), lines.begin() + 1, lines.end());
    }
    return out;
  }

  std::string Produce(const std::string& flags) {
    return Lakepipe("produce --from " + input_ + " --to " + landing_ + " " + flags);
  }

  testing::TempDir dir_;
  std::string input_;
  std::string landing_;
  std::vector<std::string> input_lines_;
};

TEST_F(ProduceCommandTest, EveryLineLandsExactlyOnceInOrder) {
  std::string out = Produce("--rate 200000 --lines-per-file 300");
  EXPECT_NE(out.find("produced 2500 lines in 9 files"), std::string::npos) << out;
  Landed landed = ReadLanding();
  EXPECT_TRUE(landed.hidden.empty()) << landed.hidden[0];
  ASSERT_EQ(landed.names.size(), 9u);
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(landed.lines_per_file[i], 300u) << landed.names[i];
  EXPECT_EQ(landed.lines_per_file[8], 100u);
  std::vector<std::string> expected(input_lines_.begin() + 1, input_lines_.end());
  EXPECT_EQ(landed.data_lines, expected);  // every line once, in the input's order
  for (const auto& name : landed.names) {
    EXPECT_EQ(name.rfind("orders-", 0), 0u) << name;
    EXPECT_EQ(name.substr(name.size() - 4), ".csv") << name;
  }
}

TEST_F(ProduceCommandTest, LimitLoopAndRestartsGiveDistinctSortableNames) {
  Produce("--rate 200000 --lines-per-file 400 --limit 1000");
  Landed first = ReadLanding();
  ASSERT_EQ(first.names.size(), 3u);
  EXPECT_EQ(first.lines_per_file, (std::vector<size_t>{400, 400, 200}));
  EXPECT_EQ(first.data_lines, std::vector<std::string>(input_lines_.begin() + 1, input_lines_.begin() + 1001));

  // A second run into the same folder adds files with new names, sorted after the first
  // run's (the name starts with the run's start time), and --loop wraps to the top.
  Produce("--rate 200000 --lines-per-file 1000 --loop --limit 6000");
  Landed both = ReadLanding();
  EXPECT_TRUE(both.hidden.empty());
  ASSERT_EQ(both.names.size(), 9u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(both.names[i], first.names[i]);
  ASSERT_EQ(both.data_lines.size(), 7000u);
  for (size_t i = 0; i < 6000; ++i) {
    ASSERT_EQ(both.data_lines[1000 + i], input_lines_[1 + i % 2500]) << "line " << i << " of the looped run";
  }
}

TEST_F(ProduceCommandTest, SigintStopsAfterACompleteFile) {
  // 50 lines/s with 10 lines per file: a file every 0.2 s; SIGINT once the first file has
  // landed (so the handler is installed however slowly a loaded machine starts the
  // process; at most 30 s), then about half a second later.
  std::string cmd = "(" + Binary() + " produce --from " + input_ + " --to " + landing_ +
                    " --rate 50 --lines-per-file 10 > " + dir_.Join("out.txt") +
                    " & pid=$!; i=0; while [ -z \"$(ls " + landing_ + " 2>/dev/null)\" ] && [ $i -lt 600 ]; do"
                    " sleep 0.05; i=$((i+1)); done; sleep 0.5; kill -INT $pid; wait $pid; echo exit=$?)";
  auto r = testing::RunCommand(cmd);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NE(r->find("exit=0"), std::string::npos) << *r;
  auto out = FileSystem::Default()->ReadFile(dir_.Join("out.txt"));
  ASSERT_TRUE(out.ok());
  EXPECT_NE(out->find("stopped by SIGINT"), std::string::npos) << *out;
  Landed landed = ReadLanding();
  EXPECT_TRUE(landed.hidden.empty());
  EXPECT_GE(landed.names.size(), 1u);
  EXPECT_LT(landed.names.size(), 50u);  // it stopped long before the 250 files of the input
  for (size_t n : landed.lines_per_file) EXPECT_EQ(n, 10u);
  EXPECT_EQ(landed.data_lines,
            std::vector<std::string>(input_lines_.begin() + 1, input_lines_.begin() + 1 + landed.data_lines.size()));
}

TEST_F(ProduceCommandTest, QuotedNewlinesStayInOneLine) {
  std::string csv = dir_.Join("quoted.csv");
  ASSERT_TRUE(FileSystem::Default()
                  ->WriteFile(csv, "id,name\n1,\"two\nlines\"\n2,\"a \"\"quote\"\"\"\n3,plain")
                  .ok());
  Lakepipe("produce --from " + csv + " --to " + landing_ + " --rate 100000 --lines-per-file 2");
  auto entries = FileSystem::Default()->ListDir(landing_);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  auto a = FileSystem::Default()->ReadFile(JoinPath(landing_, (*entries)[0].name));
  auto b = FileSystem::Default()->ReadFile(JoinPath(landing_, (*entries)[1].name));
  EXPECT_EQ(*a, "id,name\n1,\"two\nlines\"\n2,\"a \"\"quote\"\"\"\n");
  EXPECT_EQ(*b, "id,name\n3,plain\n");
}

TEST_F(ProduceCommandTest, ErrorsAreOneClearLine) {
  std::string to = " --to " + landing_;
  ExpectOneErrorLine(LakepipeFails("produce --from " + dir_.Join("missing.csv") + to + " --rate 10"),
                     dir_.Join("missing.csv"));
  ExpectOneErrorLine(LakepipeFails("produce --from " + input_ + to + " --rate 0"), "--rate must be");
  ExpectOneErrorLine(LakepipeFails("produce --from " + input_ + to + " --rate -5"), "got '-5'");
  ExpectOneErrorLine(LakepipeFails("produce --from " + input_ + to + " --rate fast"), "got 'fast'");
  ExpectOneErrorLine(LakepipeFails("produce --from " + input_ + to + " --rate 10 --lines-per-file 0"),
                     "--lines-per-file must be >= 1");
  ExpectOneErrorLine(LakepipeFails("produce --from " + input_ + " --to " + input_ + " --rate 10"),
                     "is a file, not a folder");
  ExpectOneErrorLine(LakepipeFails("produce --from " + dir_.path() + to + " --rate 10"), "is a folder");
  std::string empty = dir_.Join("empty.csv");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(empty, "").ok());
  ExpectOneErrorLine(LakepipeFails("produce --from " + empty + to + " --rate 10"), "empty.csv is empty");
  std::string header_only = dir_.Join("header.csv");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(header_only, "a,b\n").ok());
  ExpectOneErrorLine(LakepipeFails("produce --from " + header_only + to + " --rate 10 --loop"),
                     "header.csv has a header but no data lines");
  // Into a PostgreSQL outbox: refused before connecting (nothing listens on port 1).
  const std::string pg = " --to postgresql://postgres@127.0.0.1:1/shop --rate 10";
  ExpectOneErrorLine(LakepipeFails("produce --from " + input_ + pg + " --key nope"), "--key nope is not a column");
  std::string json = dir_.Join("events.json");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(json, "{\"a\": 1}\n").ok());
  ExpectOneErrorLine(LakepipeFails("produce --from " + json + pg), "not built yet");
}

}  // namespace
}  // namespace lakepipe
