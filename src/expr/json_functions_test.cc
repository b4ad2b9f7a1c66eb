// JSON functions (json_functions.cc) one value at a time: the Spark results quoted in the
// Spark and Databricks documentation, malformed input, and the edges of each path form.
#include <gtest/gtest.h>

#include "expr/generator.h"
#include "expr/test_util.h"

namespace lakepipe::expr {
namespace {

using test::Call;
using test::Col;
using test::Eval;
using test::Eval1;
using test::MakeBatch;
using test::Str;

std::string One(const ExprPtr& e) {
  auto v = Eval1(e);
  if (!v.ok()) return "ERROR: " + v.status().message();
  return v->ToString();
}

TEST(JsonFunctions, GetJsonObjectFollowsSparkPaths) {
  EXPECT_EQ(One(Call("get_json_object", {Str(R"({"a":"b"})"), Str("$.a")})), "b");
  EXPECT_EQ(One(Call("get_json_object", {Str(R"({"a":{"b":"c"}})"), Str("$.a.b")})), "c");
  EXPECT_EQ(One(Call("get_json_object", {Str(R"({"items":["apple","pear"]})"), Str("$.items[0]")})), "apple");
  EXPECT_EQ(One(Call("get_json_object", {Str(R"({"first name":"Ada"})"), Str(R"($["first name"])")})), "Ada");
  EXPECT_EQ(One(Call("get_json_object", {Str(R"({"ids":{"a.b":"42"}})"), Str(R"($.ids["a.b"])")})), "42");
  EXPECT_EQ(One(Call("get_json_object", {Str(R"({"items":[{"n":1},{"n":2}]})"), Str("$.items[*].n")})), "[1,2]");
  EXPECT_EQ(One(Call("get_json_object", {Str(R"({"items":[{"n":1}]})"), Str("$.items[*].n")})), "1");
  // Objects come back minified; numbers keep their value; \u escapes are decoded.
  EXPECT_EQ(One(Call("get_json_object", {Str(R"({"a": { "x" : [1, 2.5] }})"), Str("$.a")})), R"({"x":[1,2.5]})");
  EXPECT_EQ(One(Call("get_json_object", {Str(R"({"c":"S\u00e3o"})"), Str("$.c")})), "S\xC3\xA3o");
  // NULL: missing key, JSON null, index out of range, malformed document, bad path.
  EXPECT_EQ(One(Call("get_json_object", {Str(R"({"a":1})"), Str("$.b")})), "NULL");
  EXPECT_EQ(One(Call("get_json_object", {Str(R"({"a":null})"), Str("$.a")})), "NULL");
  EXPECT_EQ(One(Call("get_json_object", {Str(R"({"a":[1]})"), Str("$.a[3]")})), "NULL");
  EXPECT_EQ(One(Call("get_json_object", {Str(R"({"a":)"), Str("$.a")})), "NULL");
  EXPECT_EQ(One(Call("get_json_object", {Str(R"({"A":1})"), Str("$.a")})), "NULL");  // keys are exact
  EXPECT_NE(One(Call("get_json_object", {Str("{}"), Str("a.b")})).find("starts with $"), std::string::npos);
}

TEST(JsonFunctions, ColonPathsMatchCaseInsensitivelyUnlessBracketed) {
  std::string doc = R"({"owner":"amy","zip code":"94025","fb:testid":"1234","store":{"fruit":[{"weight":8,"type":"apple"},{"weight":9,"type":"pear"}]}})";
  auto path = [&](const std::string& p) { return One(Call("$json_path", {Str(doc), Str(p)})); };
  EXPECT_EQ(path("owner"), "amy");
  EXPECT_EQ(path("OWNER"), "amy");
  EXPECT_EQ(path("['owner']"), "amy");
  EXPECT_EQ(path("['OWNER']"), "NULL");
  EXPECT_EQ(path("`zip code`"), "94025");
  EXPECT_EQ(path("['fb:testid']"), "1234");
  EXPECT_EQ(path("store.fruit[0].type"), "apple");
  EXPECT_EQ(path("store.fruit[*].type"), R"(["apple","pear"])");
  EXPECT_EQ(path("store.fruit[1]"), R"({"weight":9,"type":"pear"})");
  EXPECT_NE(path("store..x").find("expected a field name"), std::string::npos);
}

TEST(JsonFunctions, FromJsonGivesStructsArraysAndMapsAndNullFieldsForMalformedText) {
  RecordBatch b = MakeBatch("s STRING", {{Value::String(R"({"a":1,"b":[1,2],"c":{"x":"y"}})")},
                                         {Value::String(R"({"a":"not a number","b":[3]})")},
                                         {Value::String(R"({"a":)")},
                                         {Value::Null()}});
  auto r = Eval(Call("from_json", {Col("s"), Str("a INT, b ARRAY<BIGINT>, c MAP<STRING, STRING>")}), b);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].ToString(), "{1, [1, 2], {x -> y}}");
  EXPECT_EQ((*r)[1].ToString(), "{NULL, [3], NULL}");  // the misfit field only
  EXPECT_EQ((*r)[2].ToString(), "{NULL, NULL, NULL}");  // malformed: PERMISSIVE
  EXPECT_TRUE((*r)[3].is_null());
  auto arr = Eval(Call("from_json", {Col("s"), Str("ARRAY<STRUCT<n: INT>>")}),
                  MakeBatch("s STRING", {{Value::String(R"([{"n":1},{"n":2}])")}, {Value::String("[")}}));
  ASSERT_TRUE(arr.ok()) << arr.status().ToString();
  EXPECT_EQ((*arr)[0].ToString(), "[{1}, {2}]");
  EXPECT_TRUE((*arr)[1].is_null());
  EXPECT_FALSE(Bind(*Call("from_json", {Col("s"), Str("a INT"), Str("x")}), b.schema()).ok());
  EXPECT_FALSE(Bind(*Call("from_json", {Col("s"), Col("s")}), b.schema()).ok());
  EXPECT_FALSE(Bind(*Call("from_json", {Col("s"), Str("a INT,")}), b.schema()).ok());
}

// Spark's PERMISSIVE mode with a corrupt record field: a record that is not JSON, or does
// not fit the schema, keeps its text there (with the fields that did fit); keys the schema
// lacks are ignored; FAILFAST raises; the options are a map of string constants.
TEST(JsonFunctions, FromJsonKeepsBadRecordsInTheCorruptRecordField) {
  RecordBatch b = MakeBatch("s STRING", {{Value::String(R"({"a":1,"b":"x","extra":[1]})")},
                                         {Value::String(R"({"a":"not a number","b":"y"})")},
                                         {Value::String(R"({"a":)")},
                                         {Value::Null()}});
  auto r = Eval(Call("from_json", {Col("s"), Str("a INT, _corrupt_record STRING, b STRING")}), b);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].ToString(), "{1, NULL, x}");
  EXPECT_EQ((*r)[1].ToString(), R"({NULL, {"a":"not a number","b":"y"}, y})");
  EXPECT_EQ((*r)[2].ToString(), R"({NULL, {"a":, NULL})");
  EXPECT_TRUE((*r)[3].is_null());
  // Another name through columnNameOfCorruptRecord; `_corrupt_record` is then a plain field.
  auto named = Eval(Call("from_json", {Col("s"), Str("a INT, _corrupt_record STRING, _rescued_data STRING"),
                                       Call("map", {Str("columnNameOfCorruptRecord"), Str("_rescued_data")})}),
                    b);
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_EQ((*named)[0].ToString(), "{1, NULL, NULL}");
  EXPECT_EQ((*named)[2].ToString(), R"({NULL, NULL, {"a":})");
  // Without the field: NULL fields, as before.
  auto plain = Eval(Call("from_json", {Col("s"), Str("a INT"), Call("map", {Str("mode"), Str("permissive")})}), b);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)[2].ToString(), "{NULL}");
  // FAILFAST: the first bad record stops the query, quoted; extra keys are not bad.
  auto ok = Eval(Call("from_json", {Col("s"), Str("a INT"), Call("map", {Str("MODE"), Str("FAILFAST")})}),
                 MakeBatch("s STRING", {{Value::String(R"({"a":1,"extra":2})")}}));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)[0].ToString(), "{1}");
  auto failed = Eval(Call("from_json", {Col("s"), Str("a INT"), Call("map", {Str("mode"), Str("FAILFAST")})}), b);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("FAILFAST"), std::string::npos) << failed.status().message();
  EXPECT_NE(failed.status().message().find("not a number"), std::string::npos) << failed.status().message();
  // Refusals at bind time.
  auto bind = [&](std::vector<ExprPtr> args) {
    auto e = Bind(*Call("from_json", std::move(args)), b.schema());
    return e.ok() ? std::string("OK") : e.status().message();
  };
  EXPECT_NE(bind({Col("s"), Str("a INT"), Call("map", {Str("mode"), Str("DROPMALFORMED")})}).find("DROPMALFORMED"),
            std::string::npos);
  EXPECT_NE(bind({Col("s"), Str("a INT"), Call("map", {Str("mode"), Str("LENIENT")})}).find("PERMISSIVE or FAILFAST"),
            std::string::npos);
  EXPECT_NE(bind({Col("s"), Str("a INT"), Call("map", {Str("dateFormat"), Str("dd/MM/yyyy")})}).find("not built yet"),
            std::string::npos);
  EXPECT_NE(bind({Col("s"), Str("a INT"), Str("mode")}).find("map of string constants"), std::string::npos);
  EXPECT_NE(bind({Col("s"), Str("a INT, _corrupt_record INT")}).find("must be STRING"), std::string::npos);
}

TEST(JsonFunctions, ToJsonWritesSparkText) {
  auto ns = Call("named_struct", {Str("a"), test::Int(1), Str("b"), test::Null(), Str("c"),
                                  Call("array", {Str("x"), Str("y\"z")})});
  EXPECT_EQ(One(Call("to_json", {ns})), R"({"a":1,"c":["x","y\"z"]})");
  EXPECT_EQ(One(Call("to_json", {Call("map", {Str("k"), test::Dbl(1.5)})})), R"({"k":1.5})");
  EXPECT_NE(One(Call("to_json", {test::Int(1)})).find("takes a struct"), std::string::npos);
}

TEST(JsonFunctions, SchemaOfJsonIsFoldedToSparkDdl) {
  EXPECT_EQ(One(Call("schema_of_json", {Str(R"({"b":[1,2],"a":{"y":1.5,"x":"s"},"c":null})")})),
            "STRUCT<a: STRUCT<x: STRING, y: DOUBLE>, b: ARRAY<BIGINT>, c: STRING>");
  EXPECT_EQ(One(Call("schema_of_json", {Str("[{\"col\":0}]")})), "ARRAY<STRUCT<col: BIGINT>>");
  EXPECT_NE(One(Call("schema_of_json", {Str("{")})).find("not JSON"), std::string::npos);
  RecordBatch b = MakeBatch("s STRING", {{Value::String("{}")}});
  EXPECT_FALSE(Bind(*Call("schema_of_json", {Col("s")}), b.schema()).ok());
}

TEST(Generators, BindGivesSparkColumnNamesAndRefusesWrongTypes) {
  Schema s = Schema::ParseDDL("arr ARRAY<INT>, m MAP<STRING, DOUBLE>, items ARRAY<STRUCT<sku: STRING, qty: INT>>, j STRING").value();
  auto names = [&](const ExprPtr& call) {
    auto g = BindGenerator(*call, s, {});
    if (!g.ok()) return "ERROR: " + g.status().message();
    std::string out;
    for (const auto& f : g->outputs) out += (out.empty() ? "" : ",") + f.name + ":" + f.type.ToString();
    return out;
  };
  EXPECT_EQ(names(Call("explode", {Col("arr")})), "col:int");
  EXPECT_EQ(names(Call("explode_outer", {Col("m")})), "key:string,value:double");
  EXPECT_EQ(names(Call("posexplode", {Col("arr")})), "pos:int,col:int");
  EXPECT_EQ(names(Call("inline", {Col("items")})), "sku:string,qty:int");
  EXPECT_EQ(names(Call("json_tuple", {Col("j"), Str("a"), Str("b")})), "c0:string,c1:string");
  EXPECT_NE(names(Call("explode", {Col("j")})).find("takes an array or a map"), std::string::npos);
  EXPECT_NE(names(Call("inline", {Col("arr")})).find("array of structs"), std::string::npos);
  EXPECT_NE(names(Call("json_tuple", {Col("j"), Col("j")})).find("string constants"), std::string::npos);
}

}  // namespace
}  // namespace lakepipe::expr
