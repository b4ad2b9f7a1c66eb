#include "types/schema.h"

#include <gtest/gtest.h>

#include "types/batch.h"
#include "types/datetime.h"
#include "types/decimal.h"

namespace lakepipe {
namespace {

TEST(SchemaTest, DdlRoundTripsThroughSparkJson) {
  auto schema = Schema::ParseDDL(
      "a INT, b STRING NOT NULL, c DECIMAL(10,2) COMMENT 'money', d ARRAY<BIGINT>, "
      "e STRUCT<x: INT, y: STRING>, f MAP<STRING, DOUBLE>, g TIMESTAMP, h DATE, `odd name` BOOLEAN");
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  EXPECT_EQ(schema->size(), 9u);
  EXPECT_FALSE(schema->field(1).nullable);
  EXPECT_EQ(schema->field(2).type, DataType::Decimal(10, 2));
  EXPECT_EQ(schema->field(2).comment, "money");
  EXPECT_EQ(schema->field(4).type.ToString(), "struct<x:int,y:string>");
  EXPECT_EQ(schema->field(8).name, "odd name");

  std::string json = schema->ToSparkJson();
  EXPECT_NE(json.find("\"type\":\"integer\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"elementType\":\"long\""), std::string::npos) << json;
  auto back = Schema::FromSparkJson(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, *schema);
  EXPECT_EQ(back->field(2).comment, "money");
}

TEST(SchemaTest, DdlErrorsNameTheColumnAndPosition) {
  auto bad = Schema::ParseDDL("a INT, b STRNG");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("column `b`"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("character"), std::string::npos);
  EXPECT_FALSE(Schema::ParseDDL("a DECIMAL(40,2)").ok());
  EXPECT_FALSE(Schema::ParseDDL("a INT, A STRING").ok());
}

TEST(SchemaTest, FindFieldIsCaseInsensitiveAfterExact) {
  Schema s({{"Price", DataType::Double()}, {"price", DataType::Int()}});
  EXPECT_EQ(s.FindField("price"), 1);
  EXPECT_EQ(s.FindField("PRICE"), 0);
  EXPECT_EQ(s.FindField("nope"), -1);
}

TEST(SchemaTest, SparkJsonErrorsAreCorruption) {
  EXPECT_EQ(Schema::FromSparkJson("{").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Schema::FromSparkJson(R"({"type":"struct","fields":[{"name":"a","type":"nope"}]})")
                .status().code(),
            StatusCode::kCorruption);
}

TEST(DateTimeTest, CivilRoundTrip) {
  for (int32_t d = -800000; d <= 800000; d += 997) {
    int64_t y;
    unsigned m, day;
    CivilFromDays(d, &y, &m, &day);
    ASSERT_EQ(DaysFromCivil(y, m, day), d);
  }
  EXPECT_EQ(FormatDate(0), "1970-01-01");
  EXPECT_EQ(FormatDate(DaysFromCivil(2019, 12, 9)), "2019-12-09");
  EXPECT_EQ(*ParseDate("2019-12-9"), DaysFromCivil(2019, 12, 9));
  EXPECT_FALSE(ParseDate("2019-02-30").ok());
}

TEST(DateTimeTest, Timestamps) {
  auto t = ParseTimestamp("2019-12-09T10:05:00.5Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(FormatTimestamp(*t), "2019-12-09 10:05:00.5");
  EXPECT_EQ(FormatTimestampIso(*t), "2019-12-09T10:05:00.500Z");
  EXPECT_EQ(*ParseTimestamp("2019-12-09 12:05:00+02:00"), *ParseTimestamp("2019-12-09 10:05:00"));
  EXPECT_EQ(FormatTimestamp(-1), "1969-12-31 23:59:59.999999");
  EXPECT_FALSE(ParseTimestamp("2019-12-09 25:00").ok());
}

TEST(DecimalTest, ParseAndFormat) {
  EXPECT_EQ(FormatDecimal(*ParseDecimal("12.345", 10, 2), 2), "12.35");
  EXPECT_EQ(FormatDecimal(*ParseDecimal("-0.5", 10, 3), 3), "-0.500");
  EXPECT_EQ(FormatDecimal(*ParseDecimal("1e3", 10, 0), 0), "1000");
  EXPECT_FALSE(ParseDecimal("123456", 5, 0).ok());
  EXPECT_FALSE(ParseDecimal("abc", 5, 0).ok());
  int128_t big = Pow10(37) * 9;
  EXPECT_EQ(Int128ToString(big), "9" + std::string(37, '0'));
  // 39 digits (one more than any precision) overflow int128 while they are read: refused,
  // not wrapped (found by pgoutput_fuzz through a numeric column).
  for (const std::string& text : {"8" + std::string(38, '0'), "8080" + std::string(35, '0'), std::string("8e38"), std::string("80.5e37")}) {
    auto parsed = ParseDecimal(text, 38, 0);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_NE(parsed.status().message().find("does not fit its precision"), std::string::npos) << parsed.status().message();
  }
  // The largest that fits still reads, and small values written with 39 digit places do.
  EXPECT_EQ(Int128ToString(*ParseDecimal(std::string(38, '9'), 38, 0)), std::string(38, '9'));
  EXPECT_EQ(FormatDecimal(*ParseDecimal("0.0005e1", 38, 36), 36), "0.005" + std::string(33, '0'));
}

TEST(ColumnTest, BuildsEveryLayout) {
  auto schema = Schema::ParseDDL("i INT, s STRING, a ARRAY<INT>, m MAP<STRING,INT>, st STRUCT<x:INT,y:STRING>, d DECIMAL(5,2)");
  ASSERT_TRUE(schema.ok());
  std::vector<Column> cols;
  for (const auto& f : schema->fields()) cols.emplace_back(f.type);
  std::vector<std::vector<Value>> rows = {
      {Value::Int(1, TypeId::kInt), Value::String("héllo"), Value::Array({Value::Int(1), Value::Null()}),
       Value::Map({Value::String("k"), Value::Int(7)}), Value::Struct({Value::Int(2), Value::String("y")}),
       Value::Decimal(12345, 5, 2)},
      {Value::Null(), Value::String(""), Value::Array({}), Value::Null(), Value::Null(), Value::Null()},
  };
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) ASSERT_TRUE(cols[c].AppendValue(row[c]).ok());
  RecordBatch batch = RecordBatch::FromColumns(*schema, std::move(cols));
  ASSERT_TRUE(batch.Validate().ok()) << batch.Validate().ToString();
  for (size_t r = 0; r < rows.size(); ++r) {
    auto got = batch.Row(static_cast<int64_t>(r));
    for (size_t c = 0; c < rows[r].size(); ++c) {
      EXPECT_EQ(got[c].ToString(), rows[r][c].ToString()) << "row " << r << " col " << c;
    }
  }
  EXPECT_EQ(batch.column(5).GetValue(0).ToString(), "123.45");
  EXPECT_EQ(batch.column(0).null_count(), 1);
  Column taken = batch.column(1).Take({1, 0, 0});
  EXPECT_EQ(taken.GetString(2), "héllo");
  EXPECT_EQ(taken.GetString(0), "");
  RecordBatch both = RecordBatch::Concat(*schema, {batch, batch});
  EXPECT_EQ(both.num_rows(), 4);
  EXPECT_TRUE(both.column(0).IsNull(3));
  EXPECT_EQ(both.Row(2)[2].ToString(), "[1, NULL]");
}

}  // namespace
}  // namespace lakepipe
