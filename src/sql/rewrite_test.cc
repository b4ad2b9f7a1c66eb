#include "sql/rewrite.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace lakepipe::sql {
namespace {

MappedText Text(const std::string& sql) { return MappedText::Of(std::make_shared<SourceFile>("r.sql", sql)); }

// The original column of the rewritten text at the first occurrence of `needle`.
int OriginalColumnOf(const RewrittenSql& rw, const std::string& needle) {
  size_t at = rw.text.text().find(needle);
  EXPECT_NE(at, std::string::npos) << needle << " not in " << rw.text.text();
  return rw.text.Locate(at).column;
}

TEST(RewriteTest, BackticksBecomeQuotedIdentifiersWithPositions) {
  auto rw = RewriteSparkSql(Text("SELECT `my col`, `a``b` FROM t"));
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  EXPECT_EQ(rw->text.text(), "SELECT \"my col\", \"a`b\" FROM \"t\"");
  EXPECT_EQ(OriginalColumnOf(*rw, "\"my col\""), 8);
  EXPECT_EQ(OriginalColumnOf(*rw, "\"a`b\""), 18);
  EXPECT_EQ(OriginalColumnOf(*rw, "\"t\""), 30);
}

TEST(RewriteTest, DoubleQuotedAndEscapedStringsBecomePostgresStrings) {
  auto rw = RewriteSparkSql(Text("SELECT \"it's\", 'a\\'b', 'tab\\there' FROM t"));
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  EXPECT_EQ(rw->text.text(), "SELECT 'it''s', 'a''b', 'tab\there' FROM \"t\"");
  EXPECT_EQ(OriginalColumnOf(*rw, "'a''b'"), 16);
}

TEST(RewriteTest, NonKeywordsAreQuotedKeywordsAreNot) {
  EXPECT_TRUE(IsPostgresKeyword("select"));
  EXPECT_TRUE(IsPostgresKeyword("Year"));  // unreserved keyword
  EXPECT_FALSE(IsPostgresKeyword("Country"));
  auto rw = RewriteSparkSql(Text("SELECT Country FROM orders WHERE Price > 0"));
  ASSERT_TRUE(rw.ok());
  EXPECT_EQ(rw->text.text(), "SELECT \"Country\" FROM \"orders\" WHERE \"Price\" > 0");
}

TEST(RewriteTest, StarExceptIsRemovedAndRecordedAtTheStar) {
  auto rw = RewriteSparkSql(Text("SELECT * EXCEPT (a, `b c`), o.* EXCEPT (d) FROM t o"));
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  EXPECT_EQ(rw->text.text().find("EXCEPT"), std::string::npos) << rw->text.text();
  ASSERT_EQ(rw->star_excepts.size(), 2u);
  auto first = rw->star_excepts.begin();
  EXPECT_EQ(rw->text.text()[first->first], '*');
  EXPECT_THAT(first->second, ::testing::ElementsAre("a", "b c"));
  auto second = std::next(first);
  EXPECT_EQ(rw->text.text().substr(second->first, 3), "\"o\"");
  EXPECT_EQ(rw->text.Locate(second->first).column, 29);
  // A set-operation EXCEPT is left alone.
  auto setop = RewriteSparkSql(Text("SELECT * FROM a EXCEPT SELECT * FROM b"));
  ASSERT_TRUE(setop.ok());
  EXPECT_NE(setop->text.text().find("EXCEPT"), std::string::npos);
  EXPECT_TRUE(setop->star_excepts.empty());
}

TEST(RewriteTest, StreamAndLiveAreRemovedAndRecorded) {
  auto rw = RewriteSparkSql(Text("SELECT a FROM STREAM(LIVE.events) e JOIN STREAM other o ON e.k = o.k"));
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  const std::string& t = rw->text.text();
  EXPECT_EQ(t.find("STREAM"), std::string::npos) << t;
  EXPECT_EQ(t.find("LIVE"), std::string::npos) << t;
  ASSERT_EQ(rw->streaming_refs.size(), 2u);
  size_t first = *rw->streaming_refs.begin();
  EXPECT_EQ(t.substr(first, 8), "\"events\"");
  EXPECT_EQ(rw->text.Locate(first).column, 27);  // `events` in the original
  // A column called stream is not touched.
  auto col = RewriteSparkSql(Text("SELECT stream FROM t"));
  ASSERT_TRUE(col.ok());
  EXPECT_TRUE(col->streaming_refs.empty());
}

TEST(RewriteTest, TryCastAndTypes) {
  auto rw = RewriteSparkSql(Text("SELECT try_cast(a AS DECIMAL(10, 2)), b::STRING, CAST(c AS double) FROM t"));
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  EXPECT_EQ(rw->text.text(),
            "SELECT CAST(\"a\" AS \"decimal(10,2)\"), \"b\"::\"string\", CAST(\"c\" AS \"double\") FROM \"t\"");
  ASSERT_EQ(rw->try_casts.size(), 1u);
  EXPECT_EQ(*rw->try_casts.begin(), 7u);
}

TEST(RewriteTest, CommentsAndNewlinesKeepLineNumbers) {
  auto rw = RewriteSparkSql(Text("SELECT a -- note\n/* block\ncomment */ FROM `t`\nWHERE b = \"x\""));
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  size_t where = rw->text.text().find("WHERE");
  EXPECT_EQ(rw->text.Locate(where).line, 4);
  EXPECT_EQ(rw->text.Locate(where).column, 1);
  size_t x = rw->text.text().find("'x'");
  EXPECT_EQ(rw->text.Locate(x).line, 4);
  EXPECT_EQ(rw->text.Locate(x).column, 11);
}

TEST(RewriteTest, WatermarkIsParsedAndRemoved) {
  auto rw = RewriteSparkSql(Text("SELECT * FROM STREAM t WATERMARK ts DELAY OF INTERVAL '2' HOURS AS x"));
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  EXPECT_EQ(rw->text.text().find("WATERMARK"), std::string::npos);
  ASSERT_EQ(rw->watermarks.size(), 1u);
  EXPECT_EQ(rw->watermarks.begin()->second.delay_micros, 2LL * 3600 * 1000000);
  EXPECT_EQ(rw->watermarks.begin()->second.loc.column, 24);
  auto bad = RewriteSparkSql(Text("SELECT * FROM STREAM t WATERMARK ts DELAY OF INTERVAL 5 FORTNIGHTS"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), ::testing::HasSubstr("r.sql:1:24"));
}

TEST(RewriteTest, DottedOptionNamesNeedBackticks) {
  auto bad = RewriteSparkSql(Text("SELECT * FROM read_kafka(subscribe => 't', kafka.fetch.wait.max.ms => '5')"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), ::testing::HasSubstr("r.sql:1:44"));
  EXPECT_THAT(bad.status().message(), ::testing::HasSubstr("needs backticks, as in Databricks: `kafka.fetch.wait.max.ms`"));
  // In backticks the name is one identifier, `fetch` (a PostgreSQL keyword) included.
  auto ok = RewriteSparkSql(Text("SELECT * FROM read_kafka(subscribe => 't', `kafka.fetch.wait.max.ms` => '5')"));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_NE(ok->text.text().find("\"kafka.fetch.wait.max.ms\""), std::string::npos);
}

TEST(RewriteTest, NestedAccessSpellingsBecomePostgresText) {
  // Keywords on a dotted path are names; a call followed by .field or [k] is parenthesized;
  // array(...) is a function, not PostgreSQL's ARRAY constructor.
  auto rw = RewriteSparkSql(Text("SELECT order.items, s.order, element_at(a, 1).x, f(m)['k'], array(1, 2) FROM t"));
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  EXPECT_EQ(rw->text.text(),
            "SELECT \"order\".\"items\", \"s\".\"order\", (\"element_at\"(\"a\", 1)).\"x\", (\"f\"(\"m\"))['k'], "
            "\"array\"(1, 2) FROM \"t\"");
  EXPECT_EQ(OriginalColumnOf(*rw, "(\"element_at\""), 30);
}


TEST(RewriteTest, ColonPathsBecomeJsonPathCalls) {
  auto rw = RewriteSparkSql(Text("SELECT raw:order.id::int, t.raw:items[0].sku, raw:`a b`, raw:['K'][*] FROM t"));
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  EXPECT_EQ(rw->text.text(),
            "SELECT \"$json_path\"(\"raw\", 'order.id')::\"int\", \"$json_path\"(\"t\".\"raw\", 'items[0].sku'), "
            "\"$json_path\"(\"raw\", '`a b`'), \"$json_path\"(\"raw\", '[''K''][*]') FROM \"t\"");
  EXPECT_EQ(OriginalColumnOf(*rw, "\"$json_path\"(\"t\""), 27);
}

TEST(RewriteTest, LateralViewBecomesALateralFunctionWithItsAliases) {
  auto rw = RewriteSparkSql(Text("SELECT * FROM t LATERAL VIEW OUTER explode(a) x AS v LATERAL VIEW posexplode(b) y p, w "
                                 "WHERE v > 0"));
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  EXPECT_EQ(rw->text.text(),
            "SELECT * FROM \"t\" , LATERAL   \"explode_outer\"(\"a\")    AS \"x\"(\"v\") , LATERAL  \"posexplode\"(\"b\")    "
            "AS \"y\"(\"p\", \"w\") WHERE \"v\" > 0");
  EXPECT_EQ(rw->lateral_views.size(), 2u);
  EXPECT_FALSE(RewriteSparkSql(Text("SELECT * FROM t LATERAL VIEW explode(a)")).ok());
}

}  // namespace
}  // namespace lakepipe::sql
