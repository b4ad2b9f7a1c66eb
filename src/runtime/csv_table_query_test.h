// CsvTableQueryTest: the base of the query-level DuckDB corpus tests (aggregate_query_test,
// query_differential_test, window_differential_test). SetUpTestSuite of a derived suite
// calls Load(): one CSV file becomes the streaming table `table` of a one-table pipeline,
// run once; Ours()/Duck() then ask lakepipe's whole query path and DuckDB (over the same
// CSV, through `duck_prefix`) the same question, in testing/differential.h's canonical form.
//
// Test-only. State is per process and one suite at a time (gtest runs suites in turn).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "common/fs.h"
#include "runtime/pipeline_runner.h"
#include "testing/differential.h"
#include "testing/testing.h"

namespace lakepipe::runtime {

class CsvTableQueryTest : public ::testing::Test {
 protected:
  // `write_csv` writes the input to the path it is given; `schema` is the read_files
  // schema of `table`; `duck_prefix` maps the CSV's path to DuckDB statements that define
  // the same table (run before every DuckDB query).
  static void Load(const std::string& table, const std::function<Status(const std::string&)>& write_csv,
                   const std::string& schema, const std::function<std::string(const std::string&)>& duck_prefix) {
    dir_ = new testing::TempDir();
    FileSystem* fs = FileSystem::Default();
    std::string landing = dir_->Join("landing");
    ASSERT_TRUE(fs->CreateDirs(landing).ok());
    std::string csv = landing + "/" + table + ".csv";
    ASSERT_TRUE(write_csv(csv).ok());
    std::string folder = dir_->Join("pipeline");
    ASSERT_TRUE(fs->CreateDirs(folder).ok());
    ASSERT_TRUE(fs->WriteFile(folder + "/pipeline.yaml",
                              "name: queries\nstorage: ./storage\nconfiguration:\n  landing: " + landing + "\n")
                    .ok());
    ASSERT_TRUE(fs->WriteFile(folder + "/" + table + ".sql",
                              "CREATE OR REFRESH STREAMING TABLE " + table +
                                  " AS SELECT * EXCEPT (_rescued_data) FROM STREAM read_files('${landing}', "
                                  "format => 'csv', header => true, schema => '" + schema + "');\n")
                    .ok());
    auto runner = PipelineRunner::Open(folder, {});
    ASSERT_TRUE(runner.ok()) << runner.status().ToString();
    auto update = (*runner)->RunOnce({});
    ASSERT_TRUE(update.ok() && update->ok());
    runner_ = runner->release();
    duck_prefix_ = duck_prefix(csv);
  }
  static void TearDownTestSuite() {
    delete runner_;
    runner_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  static std::vector<std::string> Ours(const std::string& sql) { return Differential().Ours(sql); }
  static std::vector<std::string> Duck(const std::string& sql) { return Differential().Duck(sql); }
  static testing::DuckDBDifferential Differential() {
    return testing::DuckDBDifferential(
        [](const std::string& sql) -> Result<std::vector<RecordBatch>> {
          LP_ASSIGN_OR_RETURN(auto result, runner_->Query(sql));
          return result.batches;
        },
        duck_prefix_);
  }

  inline static testing::TempDir* dir_ = nullptr;
  inline static PipelineRunner* runner_ = nullptr;
  inline static std::string duck_prefix_;
};

// The generated orders CSV's read_files schema (generator domain "orders").
inline constexpr const char* kOrdersCsvSchema =
    "TransactionNo STRING, Date STRING, ProductNo STRING, ProductName STRING, Price DOUBLE, Quantity INT, "
    "CustomerNo STRING, Country STRING";

}  // namespace lakepipe::runtime
