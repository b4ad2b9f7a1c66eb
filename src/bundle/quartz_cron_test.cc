#include "bundle/quartz_cron.h"

#include <gtest/gtest.h>

namespace lakepipe::bundle {
namespace {

std::string Quartz(const std::string& cron) {
  auto q = CronToQuartz(cron);
  EXPECT_TRUE(q.ok()) << cron << ": " << q.status().ToString();
  return q.ok() ? *q : "";
}

TEST(QuartzCronTest, DailyAndHourlyTimes) {
  EXPECT_EQ(Quartz("0 6 * * *"), "0 0 6 * * ?");
  EXPECT_EQ(Quartz("30 2 * * *"), "0 30 2 * * ?");
  EXPECT_EQ(Quartz("5,35 8-18 * * *"), "0 5,35 8-18 * * ?");
}

TEST(QuartzCronTest, StepsOverStarStartAtTheFieldsFirstValue) {
  EXPECT_EQ(Quartz("*/15 * * * *"), "0 0/15 * * * ?");
  EXPECT_EQ(Quartz("0 */6 */2 * *"), "0 0 0/6 1/2 * ?");
  EXPECT_EQ(Quartz("10-50/20 * * * *"), "0 10-50/20 * * * ?");
}

TEST(QuartzCronTest, DayOfMonthAndMonth) {
  EXPECT_EQ(Quartz("0 0 1 * *"), "0 0 0 1 * ?");
  EXPECT_EQ(Quartz("0 12 15 JAN,jul *"), "0 0 12 15 JAN,jul ?");
}

TEST(QuartzCronTest, WeekdaysAreRenumberedFromSundayOne) {
  EXPECT_EQ(Quartz("0 8 * * 1-5"), "0 0 8 ? * 2-6");
  EXPECT_EQ(Quartz("0 8 * * MON-FRI"), "0 0 8 ? * 2-6");
  EXPECT_EQ(Quartz("0 8 * * 0"), "0 0 8 ? * 1");
  EXPECT_EQ(Quartz("0 8 * * 7"), "0 0 8 ? * 1");
  // Friday to Sunday wraps past Quartz's Saturday (7) to Sunday (1).
  EXPECT_EQ(Quartz("0 8 * * 5-7"), "0 0 8 ? * 1,6,7");
  EXPECT_EQ(Quartz("0 8 * * 1,3"), "0 0 8 ? * 2,4");
  EXPECT_EQ(Quartz("0 8 * * */2"), "0 0 8 ? * 1,3,5,7");
}

TEST(QuartzCronTest, Macros) {
  EXPECT_EQ(Quartz("@daily"), "0 0 0 * * ?");
  EXPECT_EQ(Quartz("@hourly"), "0 0 * * * ?");
  EXPECT_EQ(Quartz("@weekly"), "0 0 0 ? * 1");
  EXPECT_EQ(Quartz("@monthly"), "0 0 0 1 * ?");
  // Whatever jobs.yaml accepts converts: macros in capitals, spaces around the fields.
  EXPECT_EQ(Quartz("@DAILY"), "0 0 0 * * ?");
  EXPECT_EQ(Quartz(" 0  6 * * 1 "), "0 0 6 ? * 2");
}

TEST(QuartzCronTest, BothDayFieldsRestrictedIsRefusedWithTheReason) {
  auto q = CronToQuartz("0 8 1 * MON");
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(q.status().message().find("either"), std::string::npos) << q.status().message();
}

TEST(QuartzCronTest, BadCronIsTheCronParsersError) {
  auto q = CronToQuartz("61 * * * *");
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(q.status().message().find("minute"), std::string::npos) << q.status().message();
  EXPECT_FALSE(CronToQuartz("0 6 * *").ok());
}

}  // namespace
}  // namespace lakepipe::bundle
