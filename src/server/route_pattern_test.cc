#include "server/route_pattern.h"

#include <gtest/gtest.h>

namespace lakepipe::server {
namespace {

TEST(RoutePattern, LiteralSegmentsMatchExactly) {
  EXPECT_TRUE(MatchRoutePattern("/api/tables", "/api/tables", nullptr));
  EXPECT_TRUE(MatchRoutePattern("/", "/", nullptr));
  EXPECT_FALSE(MatchRoutePattern("/api/tables", "/api/table", nullptr));
  EXPECT_FALSE(MatchRoutePattern("/api/tables", "/api/tables/x", nullptr));
  EXPECT_FALSE(MatchRoutePattern("/api/tables/x", "/api/tables", nullptr));
  EXPECT_FALSE(MatchRoutePattern("/", "/index.html", nullptr));
  EXPECT_FALSE(MatchRoutePattern("/api", "api", nullptr));
}

TEST(RoutePattern, ABracedSegmentCapturesOneNonEmptySegment) {
  std::string captured = "unchanged";
  EXPECT_TRUE(MatchRoutePattern("/api/tables/{name}/rows", "/api/tables/gold_kpis/rows", &captured));
  EXPECT_EQ(captured, "gold_kpis");
  captured = "unchanged";
  EXPECT_FALSE(MatchRoutePattern("/api/tables/{name}/rows", "/api/tables//rows", &captured));
  EXPECT_FALSE(MatchRoutePattern("/api/tables/{name}", "/api/tables/a/b", &captured));
  EXPECT_FALSE(MatchRoutePattern("/api/jobs/{job}/runs", "/api/jobs/nightly/run", &captured));
  EXPECT_EQ(captured, "unchanged");  // untouched when the route does not match
  EXPECT_TRUE(MatchRoutePattern("/api/jobs/runs", "/api/jobs/runs", &captured));
  EXPECT_EQ(captured, "");  // no braced segment: nothing captured
}

}  // namespace
}  // namespace lakepipe::server
