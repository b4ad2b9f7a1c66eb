// Generate (generate.h) over batches with NULL and empty arrays/maps, NULL elements and
// NULL structs: which rows come out, in which order, with which input columns.
#include "operators/generate.h"

#include <gtest/gtest.h>

#include "expr/test_util.h"

namespace lakepipe::operators {
namespace {

using expr::test::Call;
using expr::test::Col;
using expr::test::MakeBatch;
using expr::test::Str;

std::vector<std::string> Gen(const RecordBatch& b, const expr::ExprPtr& call) {
  auto g = expr::BindGenerator(*call, b.schema(), {});
  if (!g.ok()) return {"ERROR: " + g.status().message()};
  Schema out = b.schema();
  for (const auto& f : g->outputs) out.AddField(f);
  auto r = Generate(b, *g, out);
  if (!r.ok()) return {"ERROR: " + r.status().message()};
  std::vector<std::string> rows;
  for (int64_t i = 0; i < r->num_rows(); ++i) {
    std::string s;
    for (const auto& v : r->Row(i)) s += (s.empty() ? "" : "|") + v.ToString();
    rows.push_back(s);
  }
  return rows;
}

RecordBatch Rows() {
  Value items = Value::Array({Value::Struct({Value::String("a"), Value::Int(1, TypeId::kInt)}), Value::Null()});
  return MakeBatch("id INT, arr ARRAY<INT>, m MAP<STRING, INT>, items ARRAY<STRUCT<sku: STRING, qty: INT>>, j STRING",
                   {{Value::Int(1, TypeId::kInt), Value::Array({Value::Int(10, TypeId::kInt), Value::Null()}),
                     Value::Map({Value::String("x"), Value::Int(5, TypeId::kInt)}), items, Value::String(R"({"a":1,"b":[2]})")},
                    {Value::Int(2, TypeId::kInt), Value::Null(), Value::Null(), Value::Null(), Value::String("not json")},
                    {Value::Int(3, TypeId::kInt), Value::Array({}), Value::Map({}), Value::Array({}), Value::Null()}});
}

std::vector<std::string> Project(std::vector<std::string> rows, size_t keep_prefix_cols) {
  // Keep the id and the generated columns (drop arr, m, items, j: 4 columns after id).
  for (auto& r : rows) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t p; (p = r.find('|', start)) != std::string::npos; start = p + 1) parts.push_back(r.substr(start, p - start));
    parts.push_back(r.substr(start));
    std::string s = parts[0];
    for (size_t k = keep_prefix_cols; k < parts.size(); ++k) s += "|" + parts[k];
    r = s;
  }
  return rows;
}

TEST(Generate, ExplodeSkipsNullAndEmptyOuterKeepsThem) {
  RecordBatch b = Rows();
  EXPECT_EQ(Project(Gen(b, Call("explode", {Col("arr")})), 5), (std::vector<std::string>{"1|10", "1|NULL"}));
  EXPECT_EQ(Project(Gen(b, Call("explode_outer", {Col("arr")})), 5),
            (std::vector<std::string>{"1|10", "1|NULL", "2|NULL", "3|NULL"}));
  EXPECT_EQ(Project(Gen(b, Call("posexplode", {Col("arr")})), 5), (std::vector<std::string>{"1|0|10", "1|1|NULL"}));
  EXPECT_EQ(Project(Gen(b, Call("posexplode_outer", {Col("m")})), 5),
            (std::vector<std::string>{"1|0|x|5", "2|NULL|NULL|NULL", "3|NULL|NULL|NULL"}));
  EXPECT_EQ(Project(Gen(b, Call("explode", {Col("m")})), 5), (std::vector<std::string>{"1|x|5"}));
}

TEST(Generate, InlineTurnsStructFieldsIntoColumns) {
  RecordBatch b = Rows();
  EXPECT_EQ(Project(Gen(b, Call("inline", {Col("items")})), 5), (std::vector<std::string>{"1|a|1", "1|NULL|NULL"}));
  EXPECT_EQ(Project(Gen(b, Call("inline_outer", {Col("items")})), 5),
            (std::vector<std::string>{"1|a|1", "1|NULL|NULL", "2|NULL|NULL", "3|NULL|NULL"}));
}

TEST(Generate, JsonTupleGivesOneRowPerInputRow) {
  RecordBatch b = Rows();
  EXPECT_EQ(Project(Gen(b, Call("json_tuple", {Col("j"), Str("a"), Str("b"), Str("c")})), 5),
            (std::vector<std::string>{"1|1|[2]|NULL", "2|NULL|NULL|NULL", "3|NULL|NULL|NULL"}));
}

}  // namespace
}  // namespace lakepipe::operators
