#include "formats/options/infer_schema.h"

#include <gtest/gtest.h>

#include "formats/parquet/parquet.h"
#include "testing/testing.h"

namespace lakepipe::formats {
namespace {

class InferSchemaTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_.Join(name);
    EXPECT_TRUE(fs_->WriteFile(path, text).ok());
    return path;
  }
  ReadFilesSettings Settings(std::map<std::string, std::string> options) {
    auto s = ReadFilesSettingsFrom(options);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : ReadFilesSettings{};
  }
  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
};

// Auto Loader's default: every top-level JSON column is a STRING, nested values included
// (kept as their JSON text); columns of later files are appended in first-seen order.
TEST_F(InferSchemaTest, JsonColumnsAreStringsByDefault) {
  auto a = Write("a.json", "{\"id\":1,\"post\":{\"views\":3,\"tags\":[\"x\"]}}\n");
  auto b = Write("b.json", "{\"id\":2.5,\"device\":\"tv\"}\n");
  auto s = InferFilesSchema(fs_, {a, b}, Settings({{"format", "json"}}));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->ToDDL(), "id string, post string, device string");
}

// inferColumnTypes: structs of any depth, arrays, integers widened to DOUBLE across files,
// a conflict between files becomes STRING.
TEST_F(InferSchemaTest, JsonTypesNestedStructsAndArrays) {
  auto a = Write("a.json",
                 "{\"id\":1,\"post\":{\"institution\":{\"city\":{\"name\":\"Recife\",\"code\":7}},\"tags\":[\"x\"]},"
                 "\"m\":{\"views\":3},\"flag\":true,\"odd\":1}\n");
  auto b = Write("b.json", "{\"id\":2,\"m\":{\"views\":4.5,\"likes\":1},\"odd\":\"x\"}\n");
  auto s = InferFilesSchema(fs_, {a, b}, Settings({{"format", "json"}, {"infercolumntypes", "true"}}));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->ToDDL(),
            "id bigint, post struct<institution:struct<city:struct<name:string,code:bigint>>,tags:array<string>>, "
            "m struct<views:double,likes:bigint>, flag boolean, odd string");
}

TEST_F(InferSchemaTest, CsvAndParquetFilesMergeByName) {
  auto a = Write("a.csv", "id,amount\n1,2.5\n");
  auto b = Write("b.csv", "id,AMOUNT,day\n3,4,2024-01-02\n");
  auto strings = InferFilesSchema(fs_, {a, b}, Settings({{"format", "csv"}}));
  ASSERT_TRUE(strings.ok()) << strings.status().ToString();
  EXPECT_EQ(strings->ToDDL(), "id string, amount string, day string");
  auto typed = InferFilesSchema(fs_, {a, b}, Settings({{"format", "csv"}, {"infercolumntypes", "true"}}));
  ASSERT_TRUE(typed.ok()) << typed.status().ToString();
  EXPECT_EQ(typed->ToDDL(), "id int, amount double, day date");

  Schema ps = *Schema::ParseDDL("k BIGINT, v STRING");
  std::string p = dir_.Join("a.parquet");
  auto w = parquet::FileWriter::Open(fs_, p, ps);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  Column k(DataType::Long()), v(DataType::String());
  k.Append<int64_t>(1);
  v.AppendString("x");
  ASSERT_TRUE((*w)->Write(RecordBatch::FromColumns(ps, {std::move(k), std::move(v)})).ok());
  ASSERT_TRUE((*w)->Close().ok());
  auto parquet = InferFilesSchema(fs_, {p}, Settings({{"format", "parquet"}}));
  ASSERT_TRUE(parquet.ok()) << parquet.status().ToString();
  EXPECT_EQ(parquet->ToDDL(), "k bigint, v string");
}

TEST_F(InferSchemaTest, NothingToInferFromIsAClearError) {
  auto none = InferFilesSchema(fs_, {}, Settings({{"format", "json"}}));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no file to infer the schema from"), std::string::npos);
  auto empty = InferFilesSchema(fs_, {Write("e.json", "")}, Settings({{"format", "json"}}));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("no column could be inferred"), std::string::npos);
}

TEST(MergeInferredTypesTest, Widening) {
  EXPECT_EQ(MergeInferredTypes(DataType::Int(), DataType::Long()), DataType::Long());
  EXPECT_EQ(MergeInferredTypes(DataType::Long(), DataType::Double()), DataType::Double());
  EXPECT_EQ(MergeInferredTypes(DataType::Date(), DataType::Timestamp()), DataType::Timestamp());
  EXPECT_EQ(MergeInferredTypes(DataType::Boolean(), DataType::Long()), DataType::String());
  EXPECT_EQ(MergeInferredTypes(DataType::Array(DataType::Long()), DataType::Array(DataType::Double())),
            DataType::Array(DataType::Double()));
  EXPECT_EQ(MergeInferredTypes(DataType::Array(DataType::Long()), DataType::Long()), DataType::String());
}

TEST(SchemaHintsTest, OverrideNestedAndAdd) {
  auto hints = ParseSchemaHints("id INT, post.institution.id BIGINT, `odd.name` DATE, post.new DECIMAL(10,2), extra STRING");
  ASSERT_TRUE(hints.ok()) << hints.status().ToString();
  ASSERT_EQ(hints->size(), 5u);
  EXPECT_EQ((*hints)[2].path, std::vector<std::string>{"odd.name"});
  Schema s = *Schema::ParseDDL("id STRING, post STRUCT<institution: STRUCT<id: STRING, name: STRING>>, `odd.name` STRING");
  auto applied = ApplySchemaHints(s, *hints);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(applied->ToDDL(),
            "id int, post struct<institution:struct<id:bigint,name:string>,new:decimal(10,2)>, `odd.name` date, "
            "extra string");
}

TEST(SchemaHintsTest, BadHintsNameTheEntry) {
  auto no_type = ParseSchemaHints("a INT, b");
  ASSERT_FALSE(no_type.ok());
  EXPECT_NE(no_type.status().message().find("`b`: no type"), std::string::npos) << no_type.status().message();
  auto bad_type = ParseSchemaHints("a INTEGRAL");
  ASSERT_FALSE(bad_type.ok());
  EXPECT_NE(bad_type.status().message().find("a INTEGRAL"), std::string::npos) << bad_type.status().message();
  auto hints = ParseSchemaHints("tags.x INT");
  ASSERT_TRUE(hints.ok());
  auto through_array = ApplySchemaHints(*Schema::ParseDDL("tags ARRAY<STRING>"), *hints);
  ASSERT_FALSE(through_array.ok());
  EXPECT_NE(through_array.status().message().find("not a struct"), std::string::npos);
}

// The options validate and run share: modes, their defaults and what is not built yet.
TEST(SchemaEvolutionOptionsTest, ModesDefaultsAndRefusals) {
  auto json = ReadFilesSettingsFrom({{"format", "json"}});
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->inference.evolution_mode, SchemaEvolutionMode::kAddNewColumns);
  EXPECT_TRUE(json->json.report_new_fields);
  auto declared = ReadFilesSettingsFrom({{"format", "json"}, {"schema", "a INT"}});
  ASSERT_TRUE(declared.ok());
  EXPECT_EQ(declared->inference.evolution_mode, SchemaEvolutionMode::kRescue);
  auto none = ReadFilesSettingsFrom({{"format", "json"}, {"schemaevolutionmode", "NONE"}});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->json.unknown_keys_misfit);
  auto bad = ReadFilesSettingsFrom({{"format", "json"}, {"schemaevolutionmode", "merge"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  auto add_declared = ReadFilesSettingsFrom({{"format", "json"}, {"schema", "a INT"}, {"schemaevolutionmode", "addNewColumns"}});
  ASSERT_FALSE(add_declared.ok());
  EXPECT_NE(add_declared.status().message().find("not built yet"), std::string::npos);
  auto csv_add = ReadFilesSettingsFrom({{"format", "csv"}, {"schemaevolutionmode", "addNewColumns"}});
  ASSERT_FALSE(csv_add.ok());
  EXPECT_NE(csv_add.status().message().find("not built yet"), std::string::npos);
  auto hints_declared = ReadFilesSettingsFrom({{"format", "json"}, {"schema", "a INT"}, {"schemahints", "a BIGINT"}});
  ASSERT_FALSE(hints_declared.ok());
  auto bad_hints = ReadFilesSettingsFrom({{"format", "json"}, {"schemahints", "a"}});
  ASSERT_FALSE(bad_hints.ok());
}

// One reader interface: the same loop reads the three formats into batches.
TEST_F(InferSchemaTest, OneReadLoopForEveryFormat) {
  auto csv = Write("r.csv", "a,b\n1,x\n2,y\n");
  auto json = Write("r.json", "{\"a\":1,\"b\":\"x\"}\n{\"a\":2,\"b\":\"y\",\"c\":3}\n");
  Schema ps = *Schema::ParseDDL("a BIGINT, b STRING");
  std::string parquet = dir_.Join("r.parquet");
  {
    parquet::WriteOptions wo;
    wo.row_group_bytes = 1;  // a row group per write
    auto w = parquet::FileWriter::Open(fs_, parquet, ps, wo);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    for (int i = 1; i <= 2; ++i) {
      Column a(DataType::Long()), b(DataType::String());
      a.Append<int64_t>(i);
      b.AppendString(i == 1 ? "x" : "y");
      ASSERT_TRUE((*w)->Write(RecordBatch::FromColumns(ps, {std::move(a), std::move(b)})).ok());
    }
    ASSERT_TRUE((*w)->Close().ok());
  }
  for (auto [format, path] : std::vector<std::pair<std::string, std::string>>{{"csv", csv}, {"json", json}, {"parquet", parquet}}) {
    auto settings = ReadFilesSettingsFrom({{"format", format}});
    ASSERT_TRUE(settings.ok()) << settings.status().ToString();
    FileReadTarget target;
    target.schema = ps;
    target.rescued_data_column = format == "parquet" ? "" : "_rescued_data";
    auto reader = OpenFileReader(fs_, path, *settings, target);
    ASSERT_TRUE(reader.ok()) << format << ": " << reader.status().ToString();
    int64_t rows = 0, batches = 0;
    ReadBatch batch;
    for (;;) {
      auto more = (*reader)->Next(&batch);
      ASSERT_TRUE(more.ok()) << more.status().ToString();
      if (!*more) break;
      ++batches;
      for (int64_t i = 0; i < batch.batch.num_rows(); ++i, ++rows) {
        EXPECT_EQ(batch.batch.ColumnByName("a")->data<int64_t>()[i], rows + 1) << format;
      }
    }
    EXPECT_EQ(rows, 2) << format;
    EXPECT_EQ((*reader)->total_stats().rows, 2) << format;
    if (format == "parquet") { EXPECT_EQ(batches, 2) << "one batch per row group"; }
    if (format == "json") { EXPECT_EQ((*reader)->total_stats().rescued_rows, 1) << "the unknown key c is rescued"; }
  }
  // A Parquet column typed otherwise than the schema says is refused, naming the file.
  auto settings = ReadFilesSettingsFrom({{"format", "parquet"}});
  FileReadTarget wrong;
  wrong.schema = *Schema::ParseDDL("a STRING");
  auto refused = OpenFileReader(fs_, parquet, *settings, wrong);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("r.parquet: column a is bigint"), std::string::npos)
      << refused.status().message();
}

}  // namespace
}  // namespace lakepipe::formats
