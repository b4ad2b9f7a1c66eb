// Runs the built `lakepipe generate`: the videos domain writes its folder of JSON batch
// files and reports what it wrote; options of one domain are refused for the other.
#include <gtest/gtest.h>

#include <string>

#include "cli/cli_test_util.h"
#include "common/fs.h"
#include "testing/testing.h"

namespace lakepipe::cli {
namespace {

TEST(GenerateCommandTest, VideosWritesOneFilePerBatch) {
  testing::TempDir dir;
  std::string out = Lakepipe("generate videos --days 2 --batches-per-day 3 --seed 5 --out " + dir.Join("feed"));
  EXPECT_NE(out.find("in 6 files"), std::string::npos) << out;
  EXPECT_NE(out.find("view observations"), std::string::npos) << out;
  auto entries = FileSystem::Default()->ListDir(dir.Join("feed"));
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 6u);
  EXPECT_EQ((*entries)[0].name, "videos_2026-01-01T08.json");
  EXPECT_EQ((*entries)[1].name, "videos_2026-01-01T14.json");
  EXPECT_EQ((*entries)[5].name, "videos_2026-01-02T20.json");
}

TEST(GenerateCommandTest, OptionsOfTheOtherDomainAreRefused) {
  testing::TempDir dir;
  ExpectOneErrorLine(LakepipeFails("generate orders --rows 10 --days 3 --out " + dir.Join("o.csv")),
                     "--days is an option of `generate videos`");
  ExpectOneErrorLine(LakepipeFails("generate videos --rows 10 --out " + dir.Join("v")), "--rows does not apply");
  ExpectOneErrorLine(LakepipeFails("generate clicks --rows 10 --out " + dir.Join("c.csv")), "not built yet");
}

}  // namespace
}  // namespace lakepipe::cli
