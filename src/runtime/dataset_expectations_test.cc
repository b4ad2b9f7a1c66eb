// DatasetExpectations: bound once, applied to several parts, the counts add up in one
// report (its entries made once, in the expectations' order): DROP ROW rows go, QUARANTINE
// rows come back, WARN rows stay, and a FAIL UPDATE failure is an error naming the
// expectation; a dataset without expectations leaves its rows and its report alone.
#include "runtime/dataset_expectations.h"

#include <gtest/gtest.h>

#include "sql/statement.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

struct Resolved {
  sql::Pipeline pipeline;
  sql::ResolvedPipeline resolved;
  const sql::ResolvedDataset& ds(const std::string& name) const { return *resolved.Find(name); }
  const sql::DatasetDefinition& def(const std::string& name) const {
    return pipeline.datasets[ds(name).dataset_index];
  }
};

Resolved Resolve() {
  Resolved r;
  r.pipeline.settings.name = "t";
  auto defs = sql::ParseSqlFile(std::make_shared<sql::SourceFile>("e.sql", R"sql(
CREATE STREAMING TABLE checked (
  CONSTRAINT positive EXPECT (amount > 0) ON VIOLATION DROP ROW,
  CONSTRAINT named EXPECT (name IS NOT NULL) ON VIOLATION QUARANTINE,
  CONSTRAINT small EXPECT (amount < 100)
) AS SELECT * FROM STREAM read_files('/in', format => 'csv', schema => 'amount INT, name STRING');
CREATE STREAMING TABLE strict (
  CONSTRAINT positive EXPECT (amount > 0) ON VIOLATION FAIL UPDATE
) AS SELECT * FROM STREAM read_files('/in', format => 'csv', schema => 'amount INT, name STRING');
CREATE STREAMING TABLE plain
AS SELECT * FROM STREAM read_files('/in', format => 'csv', schema => 'amount INT, name STRING');
)sql"), {});
  EXPECT_TRUE(defs.ok()) << defs.status().ToString();
  r.pipeline.datasets = std::move(*defs);
  auto resolved = sql::ResolvePipeline(r.pipeline);
  EXPECT_TRUE(resolved.ok()) << resolved.status().ToString();
  r.resolved = std::move(*resolved);
  return r;
}

// amount, name: (5, a) kept; (-1, b) dropped; (7, NULL) quarantined; (500, c) kept, warned;
// (-2, NULL) quarantined (a quarantined row keeps every rule it broke, the DROP ROW one too).
RecordBatch Part(const Schema& schema) {
  std::vector<Column> cols;
  for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  const std::vector<std::pair<int, const char*>> rows = {{5, "a"}, {-1, "b"}, {7, nullptr}, {500, "c"}, {-2, nullptr}};
  for (const auto& [amount, name] : rows) {
    for (size_t c = 0; c < schema.size(); ++c) {
      const std::string& column = schema.field(c).name;
      if (column == "amount") {
        cols[c].Append<int32_t>(amount);
      } else if (column == "name" && name != nullptr) {
        cols[c].AppendString(name);
      } else {
        cols[c].AppendNull();  // a NULL name, and _rescued_data
      }
    }
  }
  return RecordBatch::FromColumns(schema, std::move(cols));
}

TEST(DatasetExpectationsTest, PartsAddUpInOneReport) {
  Resolved r = Resolve();
  auto checks = DatasetExpectations::Bind(r.ds("checked"), r.def("checked"));
  ASSERT_TRUE(checks.ok()) << checks.status().ToString();
  EXPECT_FALSE(checks->empty());
  TableReport report;
  int64_t kept = 0, quarantined = 0;
  for (int part = 0; part < 3; ++part) {
    std::vector<RecordBatch> rows = {Part(r.ds("checked").schema)};
    auto q = checks->Apply(&rows, &report);
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    for (const auto& b : rows) kept += b.num_rows();
    for (const auto& b : *q) quarantined += b.num_rows();
  }
  EXPECT_EQ(kept, 3 * 2);
  EXPECT_EQ(quarantined, 3 * 2);
  EXPECT_EQ(report.rows_dropped, 3 * 1);
  EXPECT_EQ(report.rows_quarantined, 3 * 2);
  ASSERT_EQ(report.expectations.size(), 3u);
  EXPECT_EQ(report.expectations[0].name, "positive");
  EXPECT_EQ(report.expectations[0].action, "drop row");
  EXPECT_EQ(report.expectations[0].failed, 3 * 2);
  EXPECT_EQ(report.expectations[0].passed, 3 * 3);
  EXPECT_EQ(report.expectations[1].name, "named");
  EXPECT_EQ(report.expectations[1].failed, 3 * 2);
  EXPECT_EQ(report.expectations[2].name, "small");
  EXPECT_EQ(report.expectations[2].action, "warn");
  EXPECT_GE(report.expectations[2].failed, 3);
}

TEST(DatasetExpectationsTest, AFailedFailUpdateExpectationIsAnErrorNamingIt) {
  Resolved r = Resolve();
  auto checks = DatasetExpectations::Bind(r.ds("strict"), r.def("strict"));
  ASSERT_TRUE(checks.ok()) << checks.status().ToString();
  TableReport report;
  std::vector<RecordBatch> rows = {Part(r.ds("strict").schema)};
  auto q = checks->Apply(&rows, &report);
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("positive"), std::string::npos) << q.status().ToString();
}

TEST(DatasetExpectationsTest, NoExpectationsLeaveRowsAndReportAlone) {
  Resolved r = Resolve();
  auto checks = DatasetExpectations::Bind(r.ds("plain"), r.def("plain"));
  ASSERT_TRUE(checks.ok());
  EXPECT_TRUE(checks->empty());
  TableReport report;
  std::vector<RecordBatch> rows = {Part(r.ds("plain").schema)};
  auto q = checks->Apply(&rows, &report);
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->empty());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].num_rows(), 5);
  EXPECT_TRUE(report.expectations.empty());
  EXPECT_EQ(report.rows_dropped, 0);
}

}  // namespace
}  // namespace lakepipe::runtime
