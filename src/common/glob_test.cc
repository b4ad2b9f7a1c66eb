#include "common/glob.h"

#include <gtest/gtest.h>

namespace lakepipe {
namespace {

bool Match(const char* pattern, const char* name) {
  auto g = FileNameGlob::Compile(pattern);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return g.ok() && g->Matches(name);
}

TEST(FileNameGlobTest, HadoopSyntax) {
  EXPECT_TRUE(Match("*.json", "videos_2026-01-01T08.json"));
  EXPECT_FALSE(Match("*.json", "videos.json.tmp"));
  EXPECT_TRUE(Match("*.{json,jsonl}", "a.jsonl"));
  EXPECT_TRUE(Match("*.{json,jsonl}", "a.json"));
  EXPECT_FALSE(Match("*.{json,jsonl}", "a.csv"));
  EXPECT_TRUE(Match("part-{a,b{1,2}}.csv", "part-b2.csv"));
  EXPECT_FALSE(Match("part-{a,b{1,2}}.csv", "part-b3.csv"));
  EXPECT_TRUE(Match("day?.csv", "day7.csv"));
  EXPECT_FALSE(Match("day?.csv", "day17.csv"));
  EXPECT_TRUE(Match("[a-c]*.csv", "b.csv"));
  EXPECT_FALSE(Match("[^a-c]*.csv", "b.csv"));
  EXPECT_TRUE(Match("[^a-c]*.csv", "x.csv"));
  EXPECT_TRUE(Match("a\\*b", "a*b"));
  EXPECT_FALSE(Match("a\\*b", "axb"));
  EXPECT_TRUE(Match("{a\\,b,c}", "a,b"));
}

TEST(FileNameGlobTest, BadPatternsNameThemselves) {
  for (const char* bad : {"*.{json", "[abc", "x\\"}) {
    auto g = FileNameGlob::Compile(bad);
    ASSERT_FALSE(g.ok()) << bad;
    EXPECT_NE(g.status().message().find(std::string("pathGlobFilter '") + bad + "'"), std::string::npos)
        << g.status().message();
  }
}

}  // namespace
}  // namespace lakepipe
