// Struct fields added to a table's column (Delta's mergeSchema of nested fields): the
// table's schema gains the field after the struct's own, files written before it read
// NULL there, and the data files written after hold it; DuckDB reads both.
#include "delta/schema_merge.h"

#include <gtest/gtest.h>

#include "delta/table.h"
#include "testing/testing.h"

namespace lakepipe::delta {
namespace {

DataType Post(bool with_device) {
  std::vector<Field> fields = {Field{"id", DataType::String(), true},
                               Field{"geo", DataType::Struct({Field{"city", DataType::String(), true}}), true}};
  if (with_device) {
    fields[1].type = DataType::Struct({Field{"city", DataType::String(), true}, Field{"lat", DataType::Double(), true}});
    fields.push_back(Field{"device", DataType::String(), true});
  }
  return DataType::Struct(std::move(fields));
}

// Rows (n, post) with post.id "p<n>", post.geo.city "c<n>", and with_device: geo.lat n,
// post.device "d<n>".
RecordBatch Posts(int from, int to, bool with_device) {
  Schema schema({Field{"n", DataType::Long(), true}, Field{"post", Post(with_device), true}});
  Column n(DataType::Long());
  Column post(Post(with_device));
  for (int i = from; i < to; ++i) {
    n.Append<int64_t>(i);
    post.child(0).AppendString("p" + std::to_string(i));
    Column& geo = post.child(1);
    geo.child(0).AppendString("c" + std::to_string(i));
    if (with_device) geo.child(1).Append<double>(i);
    geo.CloseStructRow();
    if (with_device) post.child(2).AppendString("d" + std::to_string(i));
    post.CloseStructRow();
  }
  std::vector<Column> cols;
  cols.push_back(std::move(n));
  cols.push_back(std::move(post));
  return RecordBatch::FromColumns(schema, std::move(cols));
}

TEST(SchemaMerge, WhichTypesGainStructFields) {
  EXPECT_TRUE(GainsStructFields(Post(false), Post(true)));
  EXPECT_FALSE(GainsStructFields(Post(true), Post(false)));
  EXPECT_FALSE(GainsStructFields(Post(false), Post(false)));
  EXPECT_FALSE(GainsStructFields(DataType::Array(Post(false)), DataType::Array(Post(true))))
      << "fields inside array elements are not added";
  DataType retyped = DataType::Struct({Field{"id", DataType::Long(), true},
                                       Field{"geo", DataType::Struct({Field{"city", DataType::String(), true}}), true},
                                       Field{"device", DataType::String(), true}});
  EXPECT_FALSE(GainsStructFields(Post(false), retyped)) << "a field changed type";
  EXPECT_EQ(MergeStructFields(Post(false), Post(true)).ToString(), Post(true).ToString());
  // The table's order first, then what the data adds.
  DataType reordered = DataType::Struct({Field{"device", DataType::String(), true}, Field{"id", DataType::String(), true}});
  EXPECT_EQ(MergeStructFields(DataType::Struct({Field{"id", DataType::String(), true}}), reordered).ToString(),
            "struct<id:string,device:string>");
}

TEST(SchemaMerge, AStructGainsFieldsInTheTableAndOldFilesReadNull) {
  testing::TempDir dir;
  CreateOptions create;
  create.schema = Schema({Field{"n", DataType::Long(), true}, Field{"post", Post(false), true}});
  auto table = DeltaTable::Create(dir.Join("t"), create);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_TRUE((*table)->Write({Posts(0, 2, false)}, {}).ok());
  // Without mergeSchema the wider struct is refused, naming the column.
  auto refused = (*table)->Write({Posts(2, 4, true)}, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("'post'"), std::string::npos) << refused.status().message();
  WriteOptions merge;
  merge.merge_schema = true;
  auto merged = (*table)->Write({Posts(2, 4, true)}, merge);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  // A narrower batch after it is written with NULL in the fields it lacks.
  ASSERT_TRUE((*table)->Write({Posts(4, 5, false)}, merge).ok());

  auto snap = (*table)->Latest();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ((*snap)->schema().ToDDL(),
            "n bigint, post struct<id:string,geo:struct<city:string,lat:double>,device:string>");
  auto all = Scan::Plan(*snap, {})->ReadAll();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::vector<std::string> rows;
  for (int64_t r = 0; r < all->num_rows(); ++r) rows.push_back(all->Row(r)[1].ToString());
  std::sort(rows.begin(), rows.end());
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_NE(rows[0].find("p0"), std::string::npos);
  for (int i : {0, 1, 4}) EXPECT_NE(rows[static_cast<size_t>(i)].find("NULL"), std::string::npos) << rows[static_cast<size_t>(i)];
  EXPECT_NE(rows[2].find("d2"), std::string::npos) << rows[2];
  EXPECT_EQ(rows[2].find("NULL"), std::string::npos) << rows[2];

  // DuckDB over the data files (by name, the files' structs unified).
  auto duck = testing::DuckDBRows(
      "SELECT count(*)::INTEGER AS n, count(post.device)::INTEGER AS devices, count(post.geo.lat)::INTEGER AS lats, "
      "count(post.geo.city)::INTEGER AS cities, string_agg(post.device, ',' ORDER BY n) AS d FROM read_parquet('" +
      dir.Join("t") + "/*.parquet', union_by_name = true)");
  ASSERT_EQ(duck.size(), 1u);
  EXPECT_EQ(duck[0]["n"], 5);
  EXPECT_EQ(duck[0]["devices"], 2);
  EXPECT_EQ(duck[0]["lats"], 2);
  EXPECT_EQ(duck[0]["cities"], 5);
  EXPECT_EQ(duck[0]["d"], "d2,d3");
}

}  // namespace
}  // namespace lakepipe::delta
