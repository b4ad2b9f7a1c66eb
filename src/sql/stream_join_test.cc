// Which stream-stream joins resolution accepts (with the bounds it finds) and the reasons it
// gives for the ones it refuses, as `validate` reports them.
#include "sql/stream_join.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sql/resolve.h"

namespace lakepipe::sql {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kMinute = 60LL * 1000000;

const char* kSources =
    "CREATE STREAMING TABLE clicks AS SELECT * FROM STREAM read_files('/c', format => 'csv', "
    "schema => 'ad INT, cts TIMESTAMP, who STRING');\n"
    "CREATE STREAMING TABLE views AS SELECT * FROM STREAM read_files('/v', format => 'csv', "
    "schema => 'ad INT, vts TIMESTAMP, page STRING');\n";

// An hour after `col`, spelled without INTERVAL (epoch seconds as a double, and back).
std::string HourAfter(const std::string& col) { return "CAST(CAST(" + col + " AS DOUBLE) + 3600 AS TIMESTAMP)"; }

Result<ResolvedPipeline> Resolve(const std::string& sql) {
  Pipeline p;
  p.settings.name = "t";
  auto defs = ParseSqlFile(std::make_shared<SourceFile>("j.sql", std::string(kSources) + sql), {});
  if (!defs.ok()) return defs.status();
  p.datasets = std::move(*defs);
  return ResolvePipeline(p);
}

const PlanNode* FindJoin(const PlanNode& n) {
  if (n.kind == PlanKind::kJoin) return &n;
  for (const auto& in : n.inputs)
    if (const PlanNode* j = FindJoin(*in)) return j;
  return nullptr;
}

const char* kWatermarked =
    "FROM STREAM(views) WATERMARK vts DELAY OF INTERVAL 10 MINUTES AS v "
    "%s JOIN STREAM(clicks) WATERMARK cts DELAY OF INTERVAL 20 MINUTES AS c ";

std::string Query(const std::string& join, const std::string& on, const std::string& select = "v.*, c.who, c.cts") {
  char from[512];
  std::snprintf(from, sizeof from, kWatermarked, join.c_str());
  return "CREATE STREAMING TABLE j AS SELECT " + select + " " + from + "ON " + on + ";";
}

TEST(StreamJoinTest, BetweenAndComparisonsGiveTheBounds) {
  auto r = Resolve(Query("LEFT", "v.ad = c.ad AND c.cts BETWEEN v.vts AND " + HourAfter("v.vts")));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const PlanNode* join = FindJoin(*r->Find("j")->plan);
  ASSERT_NE(join, nullptr);
  auto b = AnalyzeStreamJoin(*join);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->lower_micros, 0);
  EXPECT_EQ(b->upper_micros, 60 * kMinute);
  EXPECT_EQ(b->left.delay_micros, 10 * kMinute);
  EXPECT_EQ(b->right.delay_micros, 20 * kMinute);
  EXPECT_EQ(b->left.time_name, "vts");
  EXPECT_EQ(b->right.time_name, "cts");

  // Mirrored comparisons, offsets on either side, the tighter of two bounds.
  auto r2 = Resolve(Query("", "c.ad = v.ad AND v.vts <= c.cts AND " + HourAfter("c.cts") + " >= " +
                                  HourAfter(HourAfter("v.vts")) + " AND c.cts < " + HourAfter(HourAfter("v.vts"))));
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  auto b2 = AnalyzeStreamJoin(*FindJoin(*r2->Find("j")->plan));
  ASSERT_TRUE(b2.ok()) << b2.status().ToString();
  EXPECT_EQ(b2->lower_micros, 60 * kMinute);  // c.cts + 1h >= v.vts + 2h
  EXPECT_EQ(b2->upper_micros, 120 * kMinute);
}

TEST(StreamJoinTest, ASideWithoutWatermarkIsRefused) {
  auto r = Resolve(
      "CREATE STREAMING TABLE j AS SELECT v.*, c.who FROM STREAM(views) WATERMARK vts DELAY OF INTERVAL 10 MINUTES v "
      "JOIN STREAM(clicks) c ON v.ad = c.ad AND c.cts BETWEEN v.vts AND " + HourAfter("v.vts") + ";");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotSupported);
  EXPECT_THAT(r.status().message(), HasSubstr("j.sql:3:"));
  EXPECT_THAT(r.status().message(), HasSubstr("the right input STREAM(clicks) has no watermark"));
  EXPECT_THAT(r.status().message(), HasSubstr("WATERMARK <event time column> DELAY OF INTERVAL"));
}

TEST(StreamJoinTest, NoTimeRangeOrAOneSidedOneIsRefused) {
  for (const std::string& on : {std::string("v.ad = c.ad"), std::string("v.ad = c.ad AND c.cts >= v.vts"),
                               std::string("v.ad = c.ad AND c.cts <= v.vts"), std::string("v.ad = c.ad AND c.who <> v.page")}) {
    auto r = Resolve(Query("", on));
    ASSERT_FALSE(r.ok()) << on;
    EXPECT_EQ(r.status().code(), StatusCode::kNotSupported);
    EXPECT_THAT(r.status().message(), HasSubstr("the right event time `cts` by the left event time `vts`")) << on;
    EXPECT_THAT(r.status().message(), HasSubstr("so buffered rows could never be dropped; add a time range")) << on;
  }
  auto lower_only = Resolve(Query("", "v.ad = c.ad AND c.cts >= v.vts"));
  EXPECT_THAT(lower_only.status().message(), HasSubstr("bounds only from below"));
  // A month is not a fixed length: no bound.
  auto months = Resolve(Query("", "v.ad = c.ad AND c.cts >= v.vts AND c.cts <= add_months(v.vts, 1)"));
  if (!months.ok() && months.status().message().find("add_months") == std::string::npos) {
    EXPECT_THAT(months.status().message(), HasSubstr("bounds only from below"));
  }
}

TEST(StreamJoinTest, OuterJoinsOtherThanLeftAreRefused) {
  for (const char* type : {"RIGHT", "FULL OUTER"}) {
    auto r = Resolve(Query(type, "v.ad = c.ad AND c.cts BETWEEN v.vts AND " + HourAfter("v.vts")));
    ASSERT_FALSE(r.ok()) << type;
    EXPECT_EQ(r.status().code(), StatusCode::kNotSupported) << r.status().ToString();
    EXPECT_THAT(r.status().message(), HasSubstr("JOIN")) << r.status().ToString();
  }
}

TEST(StreamJoinTest, AJoinWithoutEqualityOrWithAnAlteredWatermarkColumnIsRefused) {
  auto no_key = Resolve(Query("", "c.cts BETWEEN v.vts AND " + HourAfter("v.vts")));
  ASSERT_FALSE(no_key.ok());
  EXPECT_THAT(no_key.status().message(), HasSubstr("without an equality between the two sides"));
  auto shifted = Resolve(
      "CREATE STREAMING TABLE j AS SELECT v.ad, c.who FROM (SELECT ad, " + HourAfter("vts") + " AS vts FROM "
      "STREAM(views) WATERMARK vts DELAY OF INTERVAL 10 MINUTES) v JOIN STREAM(clicks) WATERMARK cts DELAY OF "
      "INTERVAL 1 MINUTE c ON v.ad = c.ad AND c.cts BETWEEN v.vts AND " + HourAfter("v.vts") + ";");
  ASSERT_FALSE(shifted.ok());
  EXPECT_THAT(shifted.status().message(), HasSubstr("does not select its watermark column `vts` unchanged"));
}

TEST(StreamJoinTest, StreamStaticJoinsAreNotStreamStreamJoins) {
  auto r = Resolve(
      "CREATE MATERIALIZED VIEW dims AS SELECT * FROM read_files('/d', format => 'csv', schema => 'ad INT, name STRING');\n"
      "CREATE STREAMING TABLE j AS SELECT v.*, d.name FROM STREAM(views) v JOIN dims d ON v.ad = d.ad;");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(IsStreamStreamJoin(*FindJoin(*r->Find("j")->plan)));
}

}  // namespace
}  // namespace lakepipe::sql
