#include "common/interval_text.h"

#include <gtest/gtest.h>

namespace lakepipe {
namespace {

TEST(IntervalTextTest, SparkAndDeltaSpellings) {
  EXPECT_EQ(*ParseIntervalMicros("1 second"), 1000000);
  EXPECT_EQ(*ParseIntervalMicros("5 minutes"), 300000000);
  EXPECT_EQ(*ParseIntervalMicros("interval 30 days"), 30LL * 86400 * 1000000);
  EXPECT_EQ(*ParseIntervalMicros("INTERVAL 1 WEEK"), 7LL * 86400 * 1000000);
  EXPECT_EQ(*ParseIntervalMicros("interval 1 day 12 hours"), 36LL * 3600 * 1000000);
  EXPECT_EQ(*ParseIntervalMicros("250 milliseconds"), 250000);
  EXPECT_EQ(*ParseIntervalMicros("0 seconds"), 0);
  EXPECT_EQ(*ParseIntervalMicros(" 1.5  hours "), 5400LL * 1000000);
}

TEST(IntervalTextTest, RefusesWhatIsNotAnInterval) {
  for (const char* bad : {"", "interval", "5", "5 fortnights", "-1 second", "1s", "second 1", "1 second 2",
                          "interval interval 1 day", "nan seconds"}) {
    auto r = ParseIntervalMicros(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("is not an interval"), std::string::npos) << bad;
    }
  }
}

}  // namespace
}  // namespace lakepipe
