#include "sql/pipeline_catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sql/pipeline.h"
#include "sql/resolve.h"
#include "testing/testing.h"

namespace lakepipe::sql {
namespace {

using ::testing::HasSubstr;

// A catalog folder with pipeline `orders` (its folder, and a storage holding a Delta-like
// silver_orders and gold_kpis: a `_delta_log` folder is what resolution looks for).
class PipelineCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = FileSystem::Default();
    Write("orders/pipeline.yaml", "name: orders\nstorage: ./lake\n");
    Write("orders/tables.sql",
          "CREATE OR REFRESH STREAMING TABLE silver_orders AS SELECT * FROM STREAM(bronze_orders);\n"
          "CREATE OR REFRESH STREAMING TABLE bronze_orders AS SELECT * FROM STREAM read_files('/x', format => 'csv', "
          "schema => 'a INT');\n"
          "CREATE TEMPORARY VIEW recent AS SELECT * FROM silver_orders;\n"
          "CREATE OR REFRESH MATERIALIZED VIEW gold_kpis AS SELECT count(*) AS n FROM silver_orders;\n"
          "CREATE OR REFRESH MATERIALIZED VIEW gold_later AS SELECT count(*) AS n FROM silver_orders;\n");
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("orders/lake/silver_orders/_delta_log")).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("orders/lake/gold_kpis/_delta_log")).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("orders/lake/_event_log/_delta_log")).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("orders/lake/_checkpoints/silver_orders")).ok());
  }
  void Write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(fs_->CreateDirs(DirName(dir_.Join(name))).ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join(name), text).ok());
  }
  Result<PipelineCatalog> Parse(const std::string& yaml, const std::map<std::string, std::string>& config = {}) {
    return PipelineCatalog::Parse(yaml, dir_.Join("catalog.yaml"), config, fs_);
  }
  void ExpectParseError(const std::string& yaml, const std::string& position, const std::string& words) {
    auto r = Parse(yaml);
    ASSERT_FALSE(r.ok()) << yaml;
    EXPECT_THAT(r.status().message(), HasSubstr("catalog.yaml:" + position)) << r.status().ToString();
    EXPECT_THAT(r.status().message(), HasSubstr(words)) << r.status().ToString();
  }
  Status ResolveError(const PipelineCatalog& c, const std::string& name) {
    auto r = c.Resolve(name, SourceLocation{"gold.sql", 3, 15}, "reporting", fs_);
    return r.ok() ? Status::OK() : r.status();
  }
  testing::TempDir dir_;
  FileSystem* fs_ = nullptr;
};

TEST_F(PipelineCatalogTest, ResolvesATableToItsFolder) {
  auto c = Parse("pipelines:\n  orders:\n    storage: orders/lake\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->entries().size(), 1u);
  EXPECT_EQ(c->entries()[0].storage, dir_.Join("orders/lake"));
  auto t = c->Resolve("Orders.SILVER_orders", SourceLocation{"gold.sql", 1, 1}, "reporting", fs_);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->name, "orders.silver_orders");
  EXPECT_EQ(t->table, "silver_orders");  // the stored folder's spelling
  EXPECT_EQ(t->path, dir_.Join("orders/lake/silver_orders"));
  EXPECT_EQ(t->entry.line, 2);
}

TEST_F(PipelineCatalogTest, StorageFromThePipelineFolderAndVariables) {
  // folder: alone takes the storage its pipeline.yaml names.
  auto c = Parse("pipelines:\n  orders: {folder: orders}\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->entries()[0].storage, dir_.Join("orders/lake"));
  EXPECT_EQ(c->entries()[0].folder, dir_.Join("orders"));
  // ${key} from the reading pipeline's configuration; storage: wins over folder:'s.
  auto v = Parse("pipelines:\n  orders: {folder: orders, storage: '${orders_lake}'}\n",
                 {{"orders_lake", "/elsewhere/lake"}});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->entries()[0].storage, "/elsewhere/lake");
}

TEST_F(PipelineCatalogTest, CatalogMistakesNameTheLine) {
  ExpectParseError("pipelines:\n  orders:\n    storage: x\n    stroage: y\n", "4:5", "unknown key `stroage`");
  ExpectParseError("pipelines:\n  orders: {}\n", "2:3", "give `storage:`");
  ExpectParseError("pipelines:\n  orders: {storage: a}\n  ORDERS: {storage: b}\n", "3:3", "listed twice");
  ExpectParseError("pipelines:\n  orders: {storage: '${nowhere_set_xyz}'}\n", "2:21", "${nowhere_set_xyz} is not set");
  ExpectParseError("pipelines:\n  orders: {folder: shop}\n", "2:20", "not a pipeline folder");
  ExpectParseError("pipelines:\n  shop: {folder: orders}\n", "2:18", "is named `orders`, not `shop`");
  ExpectParseError("tables: {}\n", "1:1", "unknown key `tables`");
  ExpectParseError("pipelines:\n  a.b: {storage: x}\n", "2:3", "not a pipeline name");
  ExpectParseError("pipelines: [\n", "", "YAML");
}

TEST_F(PipelineCatalogTest, ResolveErrorsNameTheQueryAndTheEntry) {
  auto c = Parse("pipelines:\n  orders:\n    folder: orders\n    tables: [silver_orders, gold_kpis, gold_later, recent]\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Status s = ResolveError(*c, "shop.sales");
  EXPECT_THAT(s.message(), HasSubstr("gold.sql:3:15"));
  EXPECT_THAT(s.message(), HasSubstr("pipeline `shop` is not in the catalog"));
  EXPECT_THAT(s.message(), HasSubstr("it lists: orders"));

  s = ResolveError(*c, "reporting.gold");
  EXPECT_THAT(s.message(), HasSubstr("this pipeline's own table: write `gold`"));

  s = ResolveError(*c, "orders.bronze_orders");  // not in tables:
  EXPECT_THAT(s.message(), HasSubstr("gold.sql:3:15"));
  EXPECT_THAT(s.message(), HasSubstr("does not publish `bronze_orders`"));
  EXPECT_THAT(s.message(), HasSubstr("catalog.yaml:2:3"));

  s = ResolveError(*c, "orders.recent");  // a view: never stored
  EXPECT_THAT(s.message(), HasSubstr("is a view of pipeline orders"));
  EXPECT_THAT(s.message(), HasSubstr("tables.sql:3"));

  s = ResolveError(*c, "orders.gold_later");  // defined, never run
  EXPECT_THAT(s.message(), HasSubstr("has no commit yet"));
  EXPECT_THAT(s.message(), HasSubstr("stored tables: gold_kpis, silver_orders"));

  s = ResolveError(*c, "orders._event_log");
  EXPECT_THAT(s.message(), HasSubstr("bookkeeping"));
}

TEST_F(PipelineCatalogTest, UnknownTableWithoutAFolderListsWhatIsStored) {
  auto c = Parse("pipelines:\n  orders: {storage: orders/lake}\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Status s = ResolveError(*c, "orders.silver_ordres");
  EXPECT_THAT(s.message(), HasSubstr("gold.sql:3:15"));
  EXPECT_THAT(s.message(), HasSubstr("no Delta table `silver_ordres`"));
  EXPECT_THAT(s.message(), HasSubstr("stored tables: gold_kpis, silver_orders"));
  auto missing = Parse("pipelines:\n  orders: {storage: orders/nowhere}\n");
  ASSERT_TRUE(missing.ok());
  EXPECT_THAT(ResolveError(*missing, "orders.silver_orders").message(), HasSubstr("which does not exist: has pipeline orders run?"));
}

TEST_F(PipelineCatalogTest, LoadForFollowsPipelineYaml) {
  Write("catalog.yaml", "pipelines:\n  orders: {folder: orders}\n");
  Write("reporting/pipeline.yaml", "name: reporting\ncatalog: ${cat}\nconfiguration: {cat: ../catalog.yaml}\n");
  Write("reporting/gold.sql", "CREATE MATERIALIZED VIEW g AS SELECT count(*) AS n FROM orders.silver_orders");
  auto settings = LoadPipelineSettings(dir_.Join("reporting"), {}, fs_);
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  auto c = PipelineCatalog::LoadFor(*settings, fs_);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->file(), dir_.Join("reporting/../catalog.yaml"));
  EXPECT_NE((*c)->Find("ORDERS"), nullptr);

  Write("reporting/pipeline.yaml", "name: reporting\ncatalog: missing.yaml\n");
  settings = LoadPipelineSettings(dir_.Join("reporting"), {}, fs_);
  ASSERT_TRUE(settings.ok());
  auto bad = PipelineCatalog::LoadFor(*settings, fs_);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("pipeline.yaml:2:10"));
  EXPECT_THAT(bad.status().message(), HasSubstr("cannot read"));

  Write("reporting/pipeline.yaml", "name: reporting\n");
  settings = LoadPipelineSettings(dir_.Join("reporting"), {}, fs_);
  ASSERT_TRUE(settings.ok());
  auto none = PipelineCatalog::LoadFor(*settings, fs_);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(PipelineCatalogTest, QualifiedReadsWithoutACatalogAreRefusedAtTheirPosition) {
  Write("reporting/pipeline.yaml", "name: reporting\n");
  Write("reporting/gold.sql", "CREATE MATERIALIZED VIEW g AS\nSELECT count(*) AS n FROM orders.silver_orders");
  auto p = LoadPipeline(dir_.Join("reporting"), {}, fs_);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  // The graph takes it as an input, not an unknown table of this pipeline.
  auto g = PipelineGraph::Build(p->datasets);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_THAT(g->ToText(), HasSubstr("g (materialized view) <- orders.silver_orders"));
  EXPECT_THAT(g->ToDot("reporting"), HasSubstr("class=\"external_table\""));
  auto r = ResolvePipeline(*p);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("gold.sql:2:27"));
  EXPECT_THAT(r.status().message(), HasSubstr("needs a catalog"));
}

TEST_F(PipelineCatalogTest, CyclesAcrossPipelinesAreFound) {
  // orders.gold_kpis reads reporting.summary, which reads orders.gold_kpis.
  Write("orders/more.sql", "CREATE MATERIALIZED VIEW from_reporting AS SELECT * FROM reporting.summary;\n");
  Write("orders/tables.sql",
        "CREATE OR REFRESH MATERIALIZED VIEW gold_kpis AS SELECT count(*) AS n FROM from_reporting;\n"
        "CREATE OR REFRESH MATERIALIZED VIEW silver_orders AS SELECT 1 AS x FROM read_files('/x', format => 'csv', "
        "schema => 'a INT');\n");
  Write("reporting/pipeline.yaml", "name: reporting\ncatalog: ../catalog.yaml\n");
  Write("reporting/gold.sql", "CREATE MATERIALIZED VIEW summary AS\nSELECT n FROM orders.gold_kpis;\n");
  Write("catalog.yaml", "pipelines:\n  orders: {folder: orders}\n  reporting: {folder: reporting}\n");
  auto p = LoadPipeline(dir_.Join("reporting"), {}, fs_);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto c = Parse("pipelines:\n  orders: {folder: orders}\n  reporting: {folder: reporting}\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Status s = CheckNoCrossPipelineCycle(*p, *c, fs_);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("gold.sql:2:15"));  // this pipeline's read that leaves it
  EXPECT_THAT(s.message(), HasSubstr("reporting.summary reads orders.gold_kpis reads orders.from_reporting reads "
                                     "reporting.summary"));

  // Reading each other's tables without a table-level cycle is fine.
  Write("orders/more.sql", "CREATE MATERIALIZED VIEW from_reporting AS SELECT * FROM reporting.other;\n");
  Write("orders/tables.sql",
        "CREATE OR REFRESH MATERIALIZED VIEW gold_kpis AS SELECT 1 AS n FROM read_files('/x', format => 'csv', "
        "schema => 'a INT');\n");
  Write("reporting/other.sql", "CREATE MATERIALIZED VIEW other AS SELECT 1 AS x FROM read_files('/y', format => "
                               "'csv', schema => 'a INT');\n");
  p = LoadPipeline(dir_.Join("reporting"), {}, fs_);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(CheckNoCrossPipelineCycle(*p, *c, fs_).ok());
}

}  // namespace
}  // namespace lakepipe::sql
