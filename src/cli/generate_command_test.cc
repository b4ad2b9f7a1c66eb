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
  ExpectOneErrorLine(LakepipeFails("generate shop --rows 10 --out " + dir.Join("s")), "--rows does not apply");
  ExpectOneErrorLine(LakepipeFails("generate shop --posts-per-day 3 --out " + dir.Join("s")),
                     "--posts-per-day is an option of `generate videos`");
  ExpectOneErrorLine(LakepipeFails("generate orders --rows 10 --customers 3 --out " + dir.Join("o.csv")),
                     "--customers is an option of `generate shop`");
  ExpectOneErrorLine(LakepipeFails("generate videos --days 2 --stores 3 --out " + dir.Join("v")),
                     "--stores is an option of `generate shop`");
}

// The shop's folder of sources (seed 004): the days and sizes given, the tallies printed.
TEST(GenerateCommandTest, ShopWritesItsSourcesPerDay) {
  testing::TempDir dir;
  std::string out = Lakepipe("generate shop --days 2 --start 2026-03-01 --customers 50 --products 20 "
                             "--store-orders-per-day 10 --sessions-per-day 30 --out " + dir.Join("shop"));
  EXPECT_NE(out.find("wrote 11 shop files"), std::string::npos) << out;  // 3 fixed + 4 per day
  EXPECT_NE(out.find("2 days from 2026-03-01"), std::string::npos) << out;
  EXPECT_NE(out.find("order lines ("), std::string::npos) << out;
  FileSystem* fs = FileSystem::Default();
  EXPECT_TRUE(fs->Exists(dir.Join("shop/crm/customers/customers_2026-03-02.parquet")));
  EXPECT_TRUE(fs->Exists(dir.Join("shop/orders/orders_2026-03-01.csv")));
  EXPECT_TRUE(fs->Exists(dir.Join("shop/events/events_2026-03-02.json")));
  EXPECT_FALSE(fs->Exists(dir.Join("shop/orders/orders_2026-03-03.csv")));
}

}  // namespace
}  // namespace lakepipe::cli
