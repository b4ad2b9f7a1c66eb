// Nested access and constructors (struct_functions.cc, nested_functions.cc) over batches
// holding NULL structs, NULL arrays and NULL elements.
#include <gtest/gtest.h>

#include "expr/test_util.h"

namespace lakepipe::expr {
namespace {

using test::Call;
using test::Col;
using test::Eval;
using test::Int;
using test::Long;
using test::MakeBatch;
using test::Null;
using test::Str;

std::vector<std::string> Texts(const Result<std::vector<Value>>& r) {
  std::vector<std::string> out;
  if (!r.ok()) return {"ERROR: " + r.status().message()};
  for (const auto& v : *r) out.push_back(v.ToString());
  return out;
}

ExprPtr Field(ExprPtr base, const std::string& name) { return Call("get_field", {std::move(base), Str(name)}); }

// Three rows: a full value, a NULL at the top, and NULLs inside.
RecordBatch Rows() {
  Value inner = Value::Struct({Value::Struct({Value::Int(7, TypeId::kInt)})});
  Value items = Value::Array({Value::Struct({Value::String("a"), Value::Int(1, TypeId::kInt)}),
                              Value::Struct({Value::String("b"), Value::Null()})});
  return MakeBatch(
      "s STRUCT<b: STRUCT<c: STRUCT<d: INT>>>, arr ARRAY<INT>, items ARRAY<STRUCT<sku: STRING, qty: INT>>, "
      "m MAP<STRING, BIGINT>",
      {{Value::Struct({inner}), Value::Array({Value::Int(10, TypeId::kInt), Value::Null(), Value::Int(30, TypeId::kInt)}),
        items, Value::Map({Value::String("x"), Value::Int(1), Value::String("y"), Value::Int(2)})},
       {Value::Null(), Value::Null(), Value::Null(), Value::Null()},
       {Value::Struct({Value::Struct({Value::Null()})}), Value::Array({}), Value::Array({}), Value::Map({})}});
}

TEST(NestedFunctions, StructPathsOfAnyDepthCarryNullsDown) {
  auto e = Field(Field(Field(Col("s"), "b"), "c"), "d");
  EXPECT_EQ(Texts(Eval(e, Rows())), (std::vector<std::string>{"7", "NULL", "NULL"}));
  EXPECT_EQ(e->ToString(), "s.b.c.d");
}

TEST(NestedFunctions, FieldOfAnArrayOfStructsIsAnArray) {
  EXPECT_EQ(Texts(Eval(Field(Col("items"), "sku"), Rows())), (std::vector<std::string>{"[a, b]", "NULL", "[]"}));
  EXPECT_EQ(Texts(Eval(Field(Col("items"), "qty"), Rows())), (std::vector<std::string>{"[1, NULL]", "NULL", "[]"}));
}

TEST(NestedFunctions, SubscriptCountsFromZeroAndRefusesOutOfRange) {
  RecordBatch b = Rows();
  EXPECT_EQ(Texts(Eval(Call("subscript", {Col("arr"), Int(2)}), b.Slice(0, 2))), (std::vector<std::string>{"30", "NULL"}));
  EXPECT_EQ(Texts(Eval(Call("subscript", {Col("arr"), Int(1)}), b.Slice(0, 1))), (std::vector<std::string>{"NULL"}));
  auto bad = Eval(Call("subscript", {Col("arr"), Int(3)}), b);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("INVALID_ARRAY_INDEX"), std::string::npos) << bad.status().message();
  // A map key that is absent is NULL, not an error.
  EXPECT_EQ(Texts(Eval(Call("subscript", {Col("m"), Str("y")}), b)), (std::vector<std::string>{"2", "NULL", "NULL"}));
  EXPECT_EQ(Texts(Eval(Call("subscript", {Col("m"), Str("zz")}), b)), (std::vector<std::string>{"NULL", "NULL", "NULL"}));
}

TEST(NestedFunctions, ElementAtCountsFromOneAndFromTheEnd) {
  RecordBatch b = Rows();
  EXPECT_EQ(Texts(Eval(Call("element_at", {Col("arr"), Int(1)}), b.Slice(0, 1))), (std::vector<std::string>{"10"}));
  EXPECT_EQ(Texts(Eval(Call("element_at", {Col("arr"), Int(-1)}), b.Slice(0, 1))), (std::vector<std::string>{"30"}));
  EXPECT_FALSE(Eval(Call("element_at", {Col("arr"), Int(0)}), b).ok());
  EXPECT_FALSE(Eval(Call("element_at", {Col("arr"), Int(4)}), b).ok());
  EXPECT_EQ(Texts(Eval(Call("try_element_at", {Col("arr"), Int(4)}), b)), (std::vector<std::string>{"NULL", "NULL", "NULL"}));
  EXPECT_EQ(Texts(Eval(Call("element_at", {Col("m"), Str("x")}), b)), (std::vector<std::string>{"1", "NULL", "NULL"}));
}

TEST(NestedFunctions, SizeAndArrayContainsFollowThreeValuedLogic) {
  RecordBatch b = Rows();
  EXPECT_EQ(Texts(Eval(Call("size", {Col("arr")}), b)), (std::vector<std::string>{"3", "NULL", "0"}));
  EXPECT_EQ(Texts(Eval(Call("cardinality", {Col("m")}), b)), (std::vector<std::string>{"2", "NULL", "0"}));
  EXPECT_EQ(Texts(Eval(Call("array_contains", {Col("arr"), Int(30)}), b)), (std::vector<std::string>{"true", "NULL", "false"}));
  // Absent, but the array holds a NULL: unknown.
  EXPECT_EQ(Texts(Eval(Call("array_contains", {Col("arr"), Int(99)}), b)), (std::vector<std::string>{"NULL", "NULL", "false"}));
  EXPECT_EQ(Texts(Eval(Call("map_keys", {Col("m")}), b)), (std::vector<std::string>{"[x, y]", "NULL", "[]"}));
  EXPECT_EQ(Texts(Eval(Call("map_values", {Col("m")}), b)), (std::vector<std::string>{"[1, 2]", "NULL", "[]"}));
}

TEST(NestedFunctions, ConstructorsBuildNestedValuesOfCommonTypes) {
  RecordBatch b = Rows();
  auto ns = Call("named_struct", {Str("k"), Long(1), Str("v"), Col("arr")});
  auto bound = Bind(*ns, b.schema());
  ASSERT_TRUE(bound.ok()) << bound.status().ToString();
  EXPECT_EQ(bound->type.ToString(), "struct<k:bigint,v:array<int>>");
  EXPECT_EQ(Texts(Eval(Field(ns, "v"), b)), (std::vector<std::string>{"[10, NULL, 30]", "NULL", "[]"}));
  auto st = Bind(*Call("struct", {Col("arr"), Int(1)}), b.schema());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->type.ToString(), "struct<arr:array<int>,col2:int>");
  EXPECT_EQ(Texts(Eval(Call("array", {Int(1), test::Dbl(2.5), Null()}), b.Slice(0, 1))), (std::vector<std::string>{"[1.0, 2.5, NULL]"}));
  EXPECT_EQ(Texts(Eval(Call("map", {Str("a"), Int(1), Str("b"), Int(2)}), b.Slice(0, 1))), (std::vector<std::string>{"{a -> 1, b -> 2}"}));
  auto dup = Eval(Call("map", {Str("a"), Int(1), Str("a"), Int(2)}), b.Slice(0, 1));
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("DUPLICATED_MAP_KEY"), std::string::npos);
  EXPECT_FALSE(Bind(*Call("named_struct", {Str("a")}), b.schema()).ok());
}

TEST(NestedFunctions, WrongShapesAreClearBindErrors) {
  Schema s = Rows().schema();
  auto a = Bind(*Field(Col("arr"), "x"), s);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("has no fields"), std::string::npos) << a.status().message();
  auto b = Bind(*Call("subscript", {Col("s"), Int(0)}), s);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("not an array or a map"), std::string::npos) << b.status().message();
  EXPECT_FALSE(Bind(*Call("subscript", {Col("arr"), Str("x")}), s).ok());
}

TEST(NestedFunctions, BinaryToStringRepairsInvalidUtf8) {
  RecordBatch b = MakeBatch("v BINARY", {{Value::Binary(std::string("a\xff" "b", 3))}, {Value::Binary("{\"id\":1}")}, {Value::Null()}});
  auto r = Eval(test::CastAs(Col("v"), "string"), b);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].string_value(), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ((*r)[1].string_value(), "{\"id\":1}");
  EXPECT_TRUE((*r)[2].is_null());
}

}  // namespace
}  // namespace lakepipe::expr
