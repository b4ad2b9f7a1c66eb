#include "bundle/bundle.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <regex>

#include "bundle/sql_scan.h"
#include "sql/pipeline.h"
#include "sql/statement.h"
#include "testing/example_copy.h"
#include "testing/testing.h"

namespace lakepipe::bundle {
namespace {

Bundle Export(const std::string& folder, const BundleOptions& options = {}) {
  auto p = sql::LoadPipeline(folder);
  EXPECT_TRUE(p.ok()) << folder << ": " << p.status().ToString();
  if (!p.ok()) return {};
  auto b = BuildBundle(*p, options);
  EXPECT_TRUE(b.ok()) << folder << ": " << b.status().ToString();
  return b.ok() ? *b : Bundle{};
}

std::string Section(const std::string& readme, const std::string& heading) {
  size_t at = readme.find("## " + heading + "\n");
  if (at == std::string::npos) return "";
  size_t next = readme.find("\n## ", at + 3);
  return readme.substr(at, next == std::string::npos ? std::string::npos : next - at);
}

const BundleItem* FindItem(const Bundle& b, const std::string& prefix) {
  for (const auto& item : b.items) {
    if (item.feature.rfind(prefix, 0) == 0) return &item;
  }
  return nullptr;
}

std::vector<std::string> ExampleFolders() {
  std::vector<std::string> out;
  std::string root = testing::SourceDir() + "/examples";
  for (const auto& e : std::filesystem::directory_iterator(root)) {
    if (std::filesystem::exists(e.path() / "pipeline.yaml")) out.push_back(e.path().string());
  }
  out.push_back(root + "/shop/serving");
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReadText(const std::string& path) {
  auto text = FileSystem::Default()->ReadFile(path);
  EXPECT_TRUE(text.ok()) << path;
  return text.ok() ? *text : "";
}

// Every lakepipe extension an example uses, found here from the files' text (not through the
// exporter's scan), is in the bundle: translated, or listed under "Not carried over" in the
// bundle's README with its place.
TEST(BundleTest, EveryExtensionOfEveryExampleIsTranslatedOrListed) {
  std::vector<std::string> folders = ExampleFolders();
  ASSERT_GE(folders.size(), 9u);
  const std::regex quarantine(R"(VIOLATION\s+QUARANTINE)", std::regex::icase);
  const std::regex postgres(R"(read_postgres_cdc\s*\()", std::regex::icase);
  const std::regex lakepipe_property(R"(['`]?lakepipe\.[A-Za-z]+)");
  const std::regex location(R"(\bLOCATION\s+')", std::regex::icase);
  const std::regex from_snapshot(R"(FROM\s+SNAPSHOT\s+[A-Za-z_])", std::regex::icase);
  for (const auto& folder : folders) {
    SCOPED_TRACE(folder);
    auto settings = sql::LoadPipelineSettings(folder);
    ASSERT_TRUE(settings.ok()) << settings.status().ToString();
    Bundle b = Export(folder);
    ASSERT_TRUE(b.files.count("databricks.yml"));
    ASSERT_TRUE(b.files.count("README.md"));
    std::string readme = b.files["README.md"];
    std::string translated = Section(readme, "Translated");
    std::string not_carried = Section(readme, "Not carried over");
    ASSERT_FALSE(translated.empty());
    ASSERT_FALSE(not_carried.empty());

    std::vector<std::string> expected;  // feature prefixes
    YAML::Node root = YAML::LoadFile(folder + "/pipeline.yaml");
    for (const char* kind : {"postgres", "kafka", "files"}) {
      if (root["publish"] && root["publish"][kind]) expected.push_back(std::string("publish.") + kind);
    }
    if (root["sla"]) {
      for (const auto& kv : root["sla"]) expected.push_back("sla: " + kv.first.as<std::string>());
    }
    if (root["triggers"] && root["triggers"].IsMap()) {
      for (const auto& kv : root["triggers"]) expected.push_back("triggers: " + kv.first.as<std::string>());
    }
    if (root["dashboard"]) expected.push_back("dashboard");
    if (root["server"]) expected.push_back("server");
    if (root["governance"]) expected.push_back("governance principal");

    int quarantine_files = 0;
    for (const auto& sql_file : settings->sql_files) {
      std::string text = ReadText(sql_file);
      if (std::regex_search(text, quarantine)) {
        expected.push_back("ON VIOLATION QUARANTINE");
        ++quarantine_files;
      }
      if (std::regex_search(text, postgres)) expected.push_back("read_postgres_cdc");
      if (std::regex_search(text, location)) expected.push_back("LOCATION");
      if (std::regex_search(text, from_snapshot)) expected.push_back("AUTO CDC FROM SNAPSHOT");
      for (std::sregex_iterator it(text.begin(), text.end(), lakepipe_property), end; it != end; ++it) {
        expected.push_back("TBLPROPERTIES lakepipe.");
      }
    }
    for (const auto& feature : expected) {
      const BundleItem* item = FindItem(b, feature);
      ASSERT_NE(item, nullptr) << "no item for " << feature;
      const std::string& section = item->translated ? translated : not_carried;
      EXPECT_NE(section.find("**" + item->feature + "** (`" + item->where + "`)"), std::string::npos)
          << feature << " missing from the README's " << (item->translated ? "Translated" : "Not carried over");
      EXPECT_FALSE(item->note.empty());
      EXPECT_FALSE(item->where.empty());
    }

    // No copied SQL file keeps a lakepipe-only QUARANTINE or LOCATION clause; each
    // QUARANTINE table has its quarantine table.
    for (const auto& [path, content] : b.files) {
      if (path.rfind("src/", 0) != 0) continue;
      EXPECT_FALSE(std::regex_search(content, quarantine)) << path;
      EXPECT_FALSE(std::regex_search(content, location)) << path;
    }
    EXPECT_EQ(b.files.count("src/lakepipe_quarantine.sql") > 0, quarantine_files > 0);
    // Every SQL file of the pipeline is a library of the pipeline resource.
    YAML::Node yml = YAML::Load(b.files["databricks.yml"]);
    YAML::Node pipelines = yml["resources"]["pipelines"];
    ASSERT_TRUE(pipelines && pipelines.size() == 1);
    YAML::Node libraries = pipelines.begin()->second["libraries"];
    size_t sql_in_bundle = 0;
    for (const auto& [path, content] : b.files) sql_in_bundle += path.rfind("src/", 0) == 0;
    EXPECT_EQ(libraries.size(), sql_in_bundle);
    EXPECT_EQ(sql_in_bundle, settings->sql_files.size() + (quarantine_files > 0 ? 1 : 0));
    for (const auto& lib : libraries) {
      EXPECT_TRUE(b.files.count(lib["file"]["path"].as<std::string>())) << lib["file"]["path"].as<std::string>();
    }
  }
}

TEST(BundleTest, OrdersExampleAsDatabricksYml) {
  Bundle b = Export(testing::SourceDir() + "/examples/orders");
  YAML::Node y = YAML::Load(b.files["databricks.yml"]);
  EXPECT_EQ(y["bundle"]["name"].as<std::string>(), "orders");
  EXPECT_EQ(y["variables"]["catalog"]["default"].as<std::string>(), "main");
  EXPECT_EQ(y["variables"]["schema"]["default"].as<std::string>(), "orders");
  // ./landing is a local folder: a variable whose default is a Unity Catalog volume.
  EXPECT_EQ(y["variables"]["landing"]["default"].as<std::string>(), "/Volumes/main/orders/landing");
  EXPECT_EQ(y["variables"]["test_customers"]["default"].as<std::string>(), "");
  YAML::Node p = y["resources"]["pipelines"]["orders"];
  ASSERT_TRUE(p);
  EXPECT_EQ(p["catalog"].as<std::string>(), "${var.catalog}");
  EXPECT_EQ(p["schema"].as<std::string>(), "${var.schema}");
  EXPECT_EQ(p["configuration"]["landing"].as<std::string>(), "${var.landing}");
  EXPECT_EQ(p["configuration"]["test_customers"].as<std::string>(), "${var.test_customers}");
  ASSERT_EQ(p["libraries"].size(), 4u);
  EXPECT_EQ(p["libraries"][0]["file"]["path"].as<std::string>(), "src/bronze.sql");
  EXPECT_EQ(p["libraries"][3]["file"]["path"].as<std::string>(), "src/lakepipe_quarantine.sql");
  // jobs.yaml's `daily` job updates the pipeline at 06:00 in Paris: a triggered pipeline
  // and a scheduled job with a pipeline task.
  EXPECT_FALSE(p["continuous"].as<bool>());
  EXPECT_FALSE(b.continuous);
  YAML::Node job = y["resources"]["jobs"]["orders_daily"];
  ASSERT_TRUE(job);
  EXPECT_EQ(job["schedule"]["quartz_cron_expression"].as<std::string>(), "0 0 6 * * ?");
  EXPECT_EQ(job["schedule"]["timezone_id"].as<std::string>(), "Europe/Paris");
  ASSERT_EQ(job["tasks"].size(), 1u);
  EXPECT_EQ(job["tasks"][0]["task_key"].as<std::string>(), "update_pipeline");
  EXPECT_EQ(job["tasks"][0]["pipeline_task"]["pipeline_id"].as<std::string>(), "${resources.pipelines.orders.id}");
  EXPECT_EQ(job["tasks"][0]["max_retries"].as<int>(), 2);
  EXPECT_EQ(job["tasks"][0]["min_retry_interval_millis"].as<int>(), 30000);
  EXPECT_EQ(job["tasks"][0]["timeout_seconds"].as<int>(), 1800);
  EXPECT_EQ(y["targets"]["dev"]["mode"].as<std::string>(), "development");
  EXPECT_EQ(y["targets"]["prod"]["mode"].as<std::string>(), "production");
  // The other tasks of the job are listed, not dropped.
  EXPECT_NE(FindItem(b, "jobs.yaml task daily.generate_orders"), nullptr);
  EXPECT_NE(FindItem(b, "jobs.yaml task daily.vacuum_bronze"), nullptr);

  // The SQL is the example's, QUARANTINE aside; the quarantine table negates both rules.
  std::string silver = ReadText(testing::SourceDir() + "/examples/orders/silver.sql");
  std::string copy = b.files["src/silver.sql"];
  EXPECT_NE(copy.find("CONSTRAINT valid_quantity EXPECT (Quantity IS NOT NULL AND Quantity > 0) ON VIOLATION DROP ROW,"),
            std::string::npos);
  std::string back = std::regex_replace(copy, std::regex("ON VIOLATION DROP ROW"), "ON VIOLATION QUARANTINE");
  EXPECT_EQ(back, silver);
  EXPECT_EQ(b.files["src/bronze.sql"], ReadText(testing::SourceDir() + "/examples/orders/bronze.sql"));
  const std::string& q = b.files["src/lakepipe_quarantine.sql"];
  EXPECT_NE(q.find("CREATE OR REFRESH STREAMING TABLE silver_orders_quarantine"), std::string::npos) << q;
  EXPECT_NE(q.find("NOT (Quantity IS NOT NULL AND Quantity > 0)\n   OR NOT (Price IS NOT NULL AND Price > 0)"),
            std::string::npos)
      << q;
  EXPECT_NE(q.find("FROM STREAM(bronze_orders)"), std::string::npos) << q;
  EXPECT_NE(q.find("'${test_customers}'"), std::string::npos) << "configuration stays for Databricks: " << q;
  EXPECT_EQ(q.find("valid_date"), std::string::npos) << "only QUARANTINE rules: " << q;
}

TEST(BundleTest, ContinuousOverrideDropsTheScheduledJobAndSaysSo) {
  BundleOptions options;
  options.mode = BundleOptions::Mode::kContinuous;
  options.catalog = "lake";
  options.schema = "sales";
  Bundle b = Export(testing::SourceDir() + "/examples/orders", options);
  YAML::Node y = YAML::Load(b.files["databricks.yml"]);
  EXPECT_TRUE(y["resources"]["pipelines"]["orders"]["continuous"].as<bool>());
  EXPECT_FALSE(y["resources"]["jobs"]);
  EXPECT_EQ(y["variables"]["catalog"]["default"].as<std::string>(), "lake");
  EXPECT_EQ(y["variables"]["landing"]["default"].as<std::string>(), "/Volumes/lake/sales/landing");
  const BundleItem* job = FindItem(b, "jobs.yaml job daily");
  ASSERT_NE(job, nullptr);
  EXPECT_FALSE(job->translated);
  EXPECT_NE(Section(b.files["README.md"], "Not carried over").find("jobs.yaml job daily"), std::string::npos);
}

TEST(BundleTest, ExamplesWithoutJobsAreContinuousAndSharedFilesGetDistinctNames) {
  Bundle b = Export(testing::SourceDir() + "/examples/orders-kafka");
  YAML::Node y = YAML::Load(b.files["databricks.yml"]);
  YAML::Node p = y["resources"]["pipelines"]["orders_kafka"];
  ASSERT_TRUE(p);
  EXPECT_TRUE(p["continuous"].as<bool>());
  EXPECT_EQ(y["variables"]["schema"]["default"].as<std::string>(), "orders_kafka");
  // A bootstrap address is not a path: its default is kept, and the README says it names
  // this machine.
  EXPECT_EQ(y["variables"]["kafka"]["default"].as<std::string>(), "127.0.0.1:9092");
  const BundleItem* kafka = FindItem(b, "configuration kafka: 127.0.0.1:9092");
  ASSERT_NE(kafka, nullptr);
  EXPECT_NE(kafka->note.find("--var kafka="), std::string::npos) << kafka->note;
  EXPECT_EQ(FindItem(b, "configuration topic"), nullptr) << "a topic name is not an address";
  EXPECT_TRUE(b.files.count("src/bronze.sql"));
  EXPECT_TRUE(b.files.count("src/silver.sql"));
  EXPECT_TRUE(b.files.count("src/gold.sql"));
}

// orders-reporting reads orders.silver_orders through a catalog file (docs/catalog.md): on
// Databricks the same two-part name is schema.table, and the README says how to deploy it.
TEST(BundleTest, ACatalogIsTranslatedToSchemaNames) {
  Bundle b = Export(testing::SourceDir() + "/examples/orders-reporting");
  const BundleItem* catalog = FindItem(b, "catalog: ../catalog.yaml");
  ASSERT_NE(catalog, nullptr);
  EXPECT_TRUE(catalog->translated);
  EXPECT_NE(catalog->note.find("schema.table"), std::string::npos) << catalog->note;
  EXPECT_NE(Section(b.files["README.md"], "Translated").find("catalog: ../catalog.yaml"), std::string::npos);
  // The SQL is copied unchanged, qualified names included.
  EXPECT_NE(b.files["src/reporting.sql"].find("STREAM(orders.silver_orders)"), std::string::npos);
}

// orders-cdc is continuous on Databricks and gives Silver and Gold interval triggers: each
// becomes pipelines.trigger.interval on its table, and the copied files still parse (with
// lakepipe's own DDL parser) with the property on the right table.
TEST(BundleTest, IntervalTriggersBecomeTablePropertiesThatStillParse) {
  std::string folder = testing::SourceDir() + "/examples/orders-cdc";
  auto settings = sql::LoadPipelineSettings(folder);
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  Bundle b = Export(folder);
  ASSERT_TRUE(b.continuous);
  std::map<std::string, std::string> found;  // table -> pipelines.trigger.interval
  for (const auto& [path, content] : b.files) {
    // The generated quarantine file uses filter(..., rule -> ...), a higher-order function
    // lakepipe does not run; the pipeline's own files must still parse.
    if (path.rfind("src/", 0) != 0 || path == "src/lakepipe_quarantine.sql") continue;
    auto file = std::make_shared<const sql::SourceFile>(path, content);
    auto datasets = sql::ParseSqlFile(file, settings->configuration);
    ASSERT_TRUE(datasets.ok()) << path << ": " << datasets.status().ToString();
    for (const auto& d : *datasets) {
      for (const auto& [k, v] : d.table_properties) {
        if (k == "pipelines.trigger.interval") found[d.name] = v;
      }
    }
  }
  ASSERT_EQ(found.size(), settings->triggers.size());
  for (const auto& [table, trigger] : settings->triggers) {
    SCOPED_TRACE(table);
    ASSERT_TRUE(found.count(table));
    EXPECT_EQ(found[table], trigger.interval_micros == 5 * 60 * 1000000LL ? "5 minutes" : "15 minutes");
    const BundleItem* item = FindItem(b, "triggers: " + table);
    ASSERT_NE(item, nullptr);
    EXPECT_TRUE(item->translated);
  }
  // Triggered on Databricks, the same triggers stay in the list (a per-table interval acts
  // only in a continuous pipeline) and the SQL gets no property.
  BundleOptions triggered;
  triggered.mode = BundleOptions::Mode::kTriggered;
  Bundle t = Export(folder, triggered);
  for (const auto& [path, content] : t.files) {
    EXPECT_EQ(content.find("pipelines.trigger.interval"), std::string::npos) << path;
  }
  const BundleItem* item = FindItem(t, "triggers: silver_sales");
  ASSERT_NE(item, nullptr);
  EXPECT_FALSE(item->translated);
}

TEST(BundleTest, GovernanceGrantsBecomeSchemaGrantsOrGrantsSql) {
  testing::TempDir dir;
  std::string hash = "sha256:" + std::string(32, 'a') + ":" + std::string(64, 'b');
  ASSERT_TRUE(testing::CopyOrdersExample(dir.Join("orders"),
                                         "governance:\n  principals:\n    - {name: alice, role: reader, groups: [analysts], "
                                         "token_hash: \"" + hash + "\"}\n    - {name: audit, role: reader, groups: [auditors], "
                                         "token_hash: \"" + hash + "\"}\n  grants: grants.sql\n")
                  .ok());
  ASSERT_TRUE(FileSystem::Default()
                  ->WriteFile(dir.Join("orders/grants.sql"),
                              "GRANT SELECT ON TABLE gold_kpis TO analysts;\nGRANT SELECT ON TABLE * TO auditors;\n")
                  .ok());
  Bundle b = Export(dir.Join("orders"));
  YAML::Node y = YAML::Load(b.files["databricks.yml"]);
  YAML::Node schema = y["resources"]["schemas"]["orders"];
  ASSERT_TRUE(schema) << b.files["databricks.yml"];
  EXPECT_EQ(schema["name"].as<std::string>(), "${var.schema}");
  ASSERT_EQ(schema["grants"].size(), 1u);
  EXPECT_EQ(schema["grants"][0]["principal"].as<std::string>(), "auditors");
  EXPECT_EQ(schema["grants"][0]["privileges"][1].as<std::string>(), "SELECT");
  EXPECT_EQ(y["resources"]["pipelines"]["orders"]["schema"].as<std::string>(), "${resources.schemas.orders.name}");
  ASSERT_TRUE(b.files.count("grants.sql"));
  EXPECT_NE(b.files["grants.sql"].find("GRANT SELECT ON TABLE ${catalog}.${schema}.gold_kpis TO `analysts`;"),
            std::string::npos);
  const BundleItem* alice = FindItem(b, "governance principal alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_FALSE(alice->translated);
  for (const auto& [path, content] : b.files) {
    EXPECT_EQ(content.find(std::string(64, 'b')), std::string::npos) << "token hash copied into " << path;
  }
}

TEST(SqlScanTest, KafkaOptionsPostgresCdcAndLocation) {
  std::string text =
      "-- LOCATION 'in a comment' stays\n"
      "CREATE OR REFRESH STREAMING TABLE raw\n"
      "LOCATION '${shared}/raw'\n"
      "AS SELECT * FROM STREAM read_kafka(bootstrapServers => '${kafka}', subscribe => 't',\n"
      "  `kafka.security.protocol` => 'SASL_SSL', `kafka.sasl.username` => 'u');\n"
      "CREATE OR REFRESH STREAMING TABLE pg AS SELECT * FROM STREAM read_postgres_cdc(dsn => 'x', tableName => 'a.b');\n";
  auto scanned = ScanSqlFile("bronze.sql", text);
  ASSERT_TRUE(scanned.ok()) << scanned.status().ToString();
  ASSERT_EQ(scanned->removed_locations.size(), 1u);
  EXPECT_EQ(scanned->removed_locations[0].line, 3);
  EXPECT_EQ(scanned->databricks_text.find("'${shared}/raw'"), std::string::npos);
  EXPECT_NE(scanned->databricks_text.find("LOCATION 'in a comment' stays"), std::string::npos);
  ASSERT_EQ(scanned->findings.size(), 2u);
  EXPECT_EQ(scanned->findings[0].feature, "read_kafka option `kafka.sasl.username`");
  EXPECT_EQ(scanned->findings[0].loc.line, 5);
  EXPECT_EQ(scanned->findings[1].feature, "read_postgres_cdc");
  EXPECT_EQ(scanned->findings[1].loc.ToString(), "bronze.sql:6:62");
}

TEST(SqlScanTest, QuarantineOnAMaterializedViewKeepsItsKind) {
  std::string text =
      "CREATE OR REFRESH MATERIALIZED VIEW m (\n"
      "  CONSTRAINT ok EXPECT (x > 0) ON VIOLATION QUARANTINE,\n"
      "  CONSTRAINT warn_only EXPECT (y IS NOT NULL)\n"
      ") COMMENT 'as' AS SELECT x, y FROM t";
  auto scanned = ScanSqlFile("gold.sql", text);
  ASSERT_TRUE(scanned.ok());
  ASSERT_EQ(scanned->quarantined.size(), 1u);
  const QuarantinedTable& q = scanned->quarantined[0];
  EXPECT_TRUE(q.materialized_view);
  EXPECT_EQ(q.query, "SELECT x, y FROM t");
  ASSERT_EQ(q.rules.size(), 1u);
  EXPECT_EQ(q.rules[0].second, "x > 0");
  std::string sql = QuarantineTableSql(q, "gold.sql");
  EXPECT_NE(sql.find("CREATE OR REFRESH MATERIALIZED VIEW m_quarantine"), std::string::npos) << sql;
  EXPECT_NE(sql.find("WHERE NOT (x > 0);"), std::string::npos) << sql;
  EXPECT_NE(scanned->databricks_text.find("ON VIOLATION DROP ROW,"), std::string::npos);
}

TEST(SqlScanTest, PropertyJoinsAnExistingListOrAddsAClause) {
  std::string text =
      "CREATE OR REFRESH MATERIALIZED VIEW a TBLPROPERTIES ('quality' = 'gold') AS SELECT 1 AS x FROM t;\n"
      "CREATE OR REFRESH STREAMING TABLE b;\n"
      "CREATE OR REFRESH STREAMING TABLE c AS SELECT * FROM STREAM(t);\n";
  std::map<std::string, std::string> add = {{"a", "'k' = '1'"}, {"b", "'k' = '2'"}, {"c", "'k' = '3'"}};
  auto scanned = ScanSqlFile("x.sql", text, add);
  ASSERT_TRUE(scanned.ok());
  EXPECT_EQ(scanned->databricks_text,
            "CREATE OR REFRESH MATERIALIZED VIEW a TBLPROPERTIES ('k' = '1', 'quality' = 'gold') AS SELECT 1 AS x FROM t;\n"
            "CREATE OR REFRESH STREAMING TABLE b TBLPROPERTIES ('k' = '2');\n"
            "CREATE OR REFRESH STREAMING TABLE c TBLPROPERTIES ('k' = '3')\nAS SELECT * FROM STREAM(t);\n");
  EXPECT_EQ(scanned->properties_added.size(), 3u);
}

TEST(BundleTest, WriteRefusesAForeignFolderAndReplacesAnEarlierExport) {
  testing::TempDir dir;
  Bundle b = Export(testing::SourceDir() + "/examples/orders");
  FileSystem* fs = FileSystem::Default();
  ASSERT_TRUE(fs->CreateDirs(dir.Join("other")).ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("other/notes.txt"), "mine").ok());
  Status refused = WriteBundle(b, dir.Join("other"));
  EXPECT_EQ(refused.code(), StatusCode::kAlreadyExists) << refused.ToString();
  EXPECT_TRUE(fs->Exists(dir.Join("other/notes.txt")));

  ASSERT_TRUE(WriteBundle(b, dir.Join("out")).ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("out/src/stale.sql"), "-- from an older export").ok());
  ASSERT_TRUE(WriteBundle(b, dir.Join("out")).ok());
  EXPECT_FALSE(fs->Exists(dir.Join("out/src/stale.sql")));
  EXPECT_EQ(ReadText(dir.Join("out/databricks.yml")), b.files["databricks.yml"]);
  EXPECT_EQ(ReadText(dir.Join("out/src/silver.sql")), b.files["src/silver.sql"]);
}

}  // namespace
}  // namespace lakepipe::bundle
