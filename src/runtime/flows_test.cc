// Several flows into one streaming table: two streaming append flows (each with its own
// checkpoint and txn appId, so each source's progress is exactly once on its own) and a
// ONCE backfill flow that runs one time. The table must hold every source row exactly
// once, however often the pipeline runs, and a restart after losing nothing must change
// nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "delta/table.h"
#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

class FlowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* d : {"a", "b", "old", "p"}) ASSERT_TRUE(fs_->CreateDirs(dir_.Join(d)).ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"),
                               "name: t\nstorage: " + dir_.Join("storage") +
                                   "\nlibraries: [p.sql]\ncontinuous: false\nconfiguration: {a: " + dir_.Join("a") +
                                   ", b: " + dir_.Join("b") + ", old: " + dir_.Join("old") + "}\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(
                       dir_.Join("p/p.sql"),
                       "CREATE OR REFRESH MATERIALIZED VIEW old_orders AS SELECT * FROM read_files('${old}', "
                       "format => 'json', schema => 'id BIGINT, v STRING');\n"
                       "CREATE OR REFRESH STREAMING TABLE orders;\n"
                       "CREATE FLOW from_a AS INSERT INTO orders BY NAME SELECT id, v, 'a' AS src FROM STREAM "
                       "read_files('${a}', format => 'json', schema => 'id BIGINT, v STRING');\n"
                       // Columns by name, in another order; v is NULL in this flow's rows.
                       "CREATE FLOW from_b AS INSERT INTO orders BY NAME SELECT 'b' AS src, id FROM STREAM "
                       "read_files('${b}', format => 'json', schema => 'id BIGINT');\n"
                       "CREATE FLOW backfill AS INSERT INTO ONCE orders BY NAME SELECT id, v, 'old' AS src "
                       "FROM old_orders;\n")
                    .ok());
  }

  void Land(const std::string& folder, const std::string& name, const std::string& text) {
    ASSERT_TRUE(fs_->WriteFileAtomic(dir_.Join(folder + "/" + name), text).ok());
  }

  void Run() {
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    ASSERT_TRUE(runner.ok()) << runner.status().ToString();
    auto r = (*runner)->RunOnce({});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (const auto& t : r->tables) ASSERT_NE(t.status, "failed") << t.table << ": " << t.message;
  }

  // "src|id|v" lines of the latest version.
  std::vector<std::string> Rows() {
    auto table = delta::DeltaTable::Open(dir_.Join("storage/orders"));
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    auto all = delta::Scan::Plan(*(*table)->Latest(), {})->ReadAll();
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    std::vector<std::string> out;
    for (int64_t r = 0; r < all->num_rows(); ++r) {
      std::string line;
      for (const char* c : {"src", "id", "v"}) {
        Value x = all->ColumnByName(c)->GetValue(r);
        line += (line.empty() ? "" : "|") + (x.is_null() ? std::string("NULL") : x.ToString());
      }
      out.push_back(line);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
};

TEST_F(FlowsTest, EachFlowIsExactlyOnceOnItsOwnAndOnceFlowsRunOneTime) {
  Land("a", "1.json", "{\"id\":1,\"v\":\"x\"}\n{\"id\":2,\"v\":\"y\"}\n");
  Land("b", "1.json", "{\"id\":10}\n");
  Land("old", "1.json", "{\"id\":100,\"v\":\"h\"}\n");
  Run();
  std::vector<std::string> want = {"a|1|x", "a|2|y", "b|10|NULL", "old|100|h"};
  EXPECT_EQ(Rows(), want);
  // New input for both streams, and for the backfill's source: the backfill has run.
  Land("a", "2.json", "{\"id\":3,\"v\":\"z\"}\n");
  Land("b", "2.json", "{\"id\":11}\n{\"id\":12}\n");
  Land("old", "2.json", "{\"id\":101,\"v\":\"i\"}\n");
  Run();
  want = {"a|1|x", "a|2|y", "a|3|z", "b|10|NULL", "b|11|NULL", "b|12|NULL", "old|100|h"};
  EXPECT_EQ(Rows(), want);
  Run();  // nothing new
  EXPECT_EQ(Rows(), want);
  // Only b has new input: only its flow commits.
  auto table = delta::DeltaTable::Open(dir_.Join("storage/orders"));
  int64_t before = *(*table)->LatestVersion();
  Land("b", "3.json", "{\"id\":13}\n");
  Run();
  EXPECT_EQ(*(*table)->LatestVersion(), before + 1);
  want.insert(want.begin() + 6, "b|13|NULL");
  EXPECT_EQ(Rows(), want);

  // Three flows, three checkpoints, three txn appIds in the table.
  for (const char* f : {"flows/from_b", "flows/backfill"})
    EXPECT_TRUE(fs_->Exists(dir_.Join(std::string("storage/_checkpoints/orders/") + f + "/metadata"))) << f;
  std::set<std::string> app_ids;
  auto log = fs_->ListDir(dir_.Join("storage/orders/_delta_log"));
  ASSERT_TRUE(log.ok());
  for (const auto& entry : *log) {
    const std::string& name = entry.name;
    if (name.size() < 5 || name.substr(name.size() - 5) != ".json") continue;
    auto text = fs_->ReadFile(dir_.Join("storage/orders/_delta_log/" + name));
    ASSERT_TRUE(text.ok());
    size_t at = 0;
    while ((at = text->find("\"appId\":\"", at)) != std::string::npos) {
      at += 9;
      app_ids.insert(text->substr(at, text->find('"', at) - at));
    }
  }
  EXPECT_EQ(app_ids.size(), 3u);

  // A full refresh rebuilds the table from every flow's whole input, the backfill included.
  auto runner = PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_TRUE(runner.ok());
  RunOptions options;
  options.full_refresh = {"orders"};
  auto r = (*runner)->RunOnce(options);
  ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->tables.back().message : r.status().ToString());
  EXPECT_EQ(Rows(), (std::vector<std::string>{"a|1|x", "a|2|y", "a|3|z", "b|10|NULL", "b|11|NULL", "b|12|NULL",
                                               "b|13|NULL", "old|100|h", "old|101|i"}));
}

TEST_F(FlowsTest, ATableWrittenOnlyByOnceFlowsRunsThemOneTime) {
  ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"),
                             "CREATE OR REFRESH MATERIALIZED VIEW old_orders AS SELECT * FROM read_files('${old}', "
                             "format => 'json', schema => 'id BIGINT, v STRING');\n"
                             "CREATE OR REFRESH STREAMING TABLE orders;\n"
                             "CREATE FLOW first AS INSERT INTO ONCE orders BY NAME SELECT id, v, 'old' AS src "
                             "FROM old_orders;\n"
                             "CREATE FLOW second AS INSERT INTO ONCE orders BY NAME SELECT id * 10 AS id, v, "
                             "'again' AS src FROM old_orders;\n")
                  .ok());
  Land("old", "1.json", "{\"id\":1,\"v\":\"h\"}\n");
  Run();
  std::vector<std::string> want = {"again|10|h", "old|1|h"};
  EXPECT_EQ(Rows(), want);
  Land("old", "2.json", "{\"id\":2,\"v\":\"i\"}\n");
  Run();
  EXPECT_EQ(Rows(), want);  // both have run
  auto runner = PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_TRUE(runner.ok());
  RunOptions options;
  options.full_refresh = {"orders"};
  auto r = (*runner)->RunOnce(options);
  ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->tables.back().message : r.status().ToString());
  EXPECT_EQ(Rows(), (std::vector<std::string>{"again|10|h", "again|20|i", "old|1|h", "old|2|i"}));
}

}  // namespace
}  // namespace lakepipe::runtime
