// Silver's SELECT DISTINCT under a memory budget that forces its keys to spill
// (`lakepipe.seenKeysMemory`, docs/checkpoint.md "Memory budget"): over several micro-
// batches (one per run) its table must equal the same pipeline's with the default budget,
// and DuckDB's SELECT DISTINCT over the same CSV files.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

constexpr char kSql[] = R"sql(
CREATE OR REFRESH STREAMING TABLE bronze
AS SELECT * FROM STREAM read_files('${landing}', format => 'csv', header => true,
  schema => 'id INT, kind STRING, amount DOUBLE');

CREATE OR REFRESH STREAMING TABLE silver
AS SELECT DISTINCT id, kind, amount FROM STREAM(bronze);
)sql";

class DistinctSpillTest : public ::testing::Test {
 protected:
  std::string Pipeline(const std::string& name) {
    std::string dir = dir_.Join(name);
    EXPECT_TRUE(fs_->CreateDirs(dir).ok());
    EXPECT_TRUE(fs_->WriteFile(JoinPath(dir, "pipeline.yaml"),
                               "name: d\nstorage: " + JoinPath(dir, "storage") +
                                   "\nlibraries: [p.sql]\nconfiguration: {landing: " + landing_ + "}\n")
                    .ok());
    EXPECT_TRUE(fs_->WriteFile(JoinPath(dir, "p.sql"), kSql).ok());
    return dir;
  }

  // `rows` lines whose values repeat (within the file and across files) and include NULLs.
  void Drop(const std::string& name, int first, int rows) {
    std::string text = "id,kind,amount\n";
    for (int i = first; i < first + rows; ++i) {
      int v = i % 3 == 0 ? i / 3 : i;  // every third line repeats an earlier one's values
      std::string kind = v % 13 == 0 ? "" : "k" + std::to_string(v % 7);
      text += std::to_string(v) + "," + kind + "," + std::to_string(v % 5) + ".25\n";
    }
    ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, name), text).ok());
  }

  // Runs once with the settings and returns silver's rows, sorted, as text.
  std::vector<std::string> Run(const std::string& folder, std::map<std::string, std::string> settings) {
    auto runner = PipelineRunner::Open(folder, settings);
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    if (!runner.ok()) return {};
    auto report = (*runner)->RunOnce({});
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    if (report.ok()) {
      for (const auto& t : report->tables) EXPECT_EQ(t.status, "updated") << t.table << ": " << t.message;
    }
    auto r = (*runner)->Query("SELECT id, kind, amount FROM silver");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> rows;
    if (r.ok()) {
      for (const auto& b : r->batches) {
        for (int64_t i = 0; i < b.num_rows(); ++i) {
          rows.push_back((b.column(0).IsNull(i) ? "NULL" : b.column(0).GetValue(i).ToString()) + "|" +
                         (b.column(1).IsNull(i) ? "NULL" : b.column(1).GetValue(i).ToString()) + "|" +
                         (b.column(2).IsNull(i) ? "NULL" : b.column(2).GetValue(i).ToString()));
        }
      }
    }
    std::sort(rows.begin(), rows.end());
    return rows;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
};

TEST_F(DistinctSpillTest, SpilledKeysGiveTheRowsOfTheDefaultBudgetAndOfDuckDB) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
  const std::string tiny = Pipeline("tiny"), standard = Pipeline("standard");
  // A 1-byte budget spills every 768 new keys; small parts make the spills fall inside
  // files and parts.
  std::map<std::string, std::string> spill = {{"lakepipe.seenKeysMemory", "1"}, {"lakepipe.batchRows", "500"}};
  Drop("a.csv", 1, 3000);
  Drop("b.csv", 2000, 2500);
  auto first = Run(tiny, spill);
  EXPECT_EQ(first, Run(standard, {}));
  Drop("c.csv", 4000, 3000);  // the next micro-batch: its repeats of stored keys are dropped
  auto second = Run(tiny, spill);
  EXPECT_EQ(second, Run(standard, {}));
  EXPECT_GT(second.size(), first.size() + 1000);
  // DuckDB over the same files (CSV NULLs as lakepipe reads them: an empty field is NULL).
  auto rows = testing::DuckDBRows(
      "SELECT DISTINCT id, kind, amount FROM read_csv(['" + JoinPath(landing_, "a.csv") + "', '" +
      JoinPath(landing_, "b.csv") + "', '" + JoinPath(landing_, "c.csv") +
      "'], header = true, columns = {'id': 'INTEGER', 'kind': 'VARCHAR', 'amount': 'DOUBLE'})");
  std::vector<std::string> want;
  for (const auto& r : rows) {
    auto text = [](const nlohmann::json& v) -> std::string {
      if (v.is_null()) return "NULL";
      if (v.is_string()) return v.get<std::string>();
      return v.dump();
    };
    want.push_back(text(r["id"]) + "|" + text(r["kind"]) + "|" + text(r["amount"]));
  }
  std::sort(want.begin(), want.end());
  ASSERT_EQ(second.size(), want.size());
  // Numbers are compared as DuckDB prints them; lakepipe prints doubles the Spark way.
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(second[i].substr(0, second[i].rfind('|')), want[i].substr(0, want[i].rfind('|'))) << i;
    EXPECT_DOUBLE_EQ(std::stod(second[i].substr(second[i].rfind('|') + 1)),
                     std::stod(want[i].substr(want[i].rfind('|') + 1)))
        << i;
  }
}

TEST_F(DistinctSpillTest, ABadBudgetIsRefusedNamingTheSetting) {
  ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
  Drop("a.csv", 1, 5);
  int n = 0;
  for (const char* bad : {"0", "12x", "m", "-5", "1.5m"}) {
    auto runner = PipelineRunner::Open(Pipeline("bad" + std::to_string(n++)),
                                       {{"lakepipe.seenKeysMemory", bad}});
    ASSERT_TRUE(runner.ok()) << runner.status().ToString();
    auto report = (*runner)->RunOnce({});
    std::string all = report.ok() ? "" : report.status().ToString();
    if (report.ok())
      for (const auto& t : report->tables) all += t.message;
    EXPECT_NE(all.find("lakepipe.seenKeysMemory"), std::string::npos) << bad << ": " << all;
  }
}

}  // namespace
}  // namespace lakepipe::runtime
