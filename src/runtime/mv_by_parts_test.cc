// Materialized views by parts (docs/execution.md): an aggregate over row-wise steps over
// one stored table reads the table part by part (only the columns the query uses, row
// groups skipped by a filter's statistics) and must give exactly what the same SELECT
// gives over the whole table read at once (PipelineRunner::Query reads whole). Parts are
// cut to 1, 3 and 7 rows (lakepipe.batchRows) and left whole (row groups), over a table of
// several files and commits; incremental views (a snapshot first, then appends) and
// recomputed ones (an order-sensitive aggregate) both.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "expr/test_util.h"
#include "runtime/pipeline_runner.h"
#include "runtime/pipeline_runner_internal.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

constexpr char kSilver[] = R"sql(
CREATE OR REFRESH STREAMING TABLE silver
AS SELECT * FROM STREAM read_files('${landing}', format => 'csv', header => true,
  schema => 'id INT, kind STRING, tag STRING, amount DOUBLE, qty INT');
)sql";

struct View {
  const char* name;
  const char* select;
};

// Incremental (a GROUP BY over row-wise steps, with a filter the row groups' statistics
// can decide), recomputed (first/last depend on the order of the rows), a global
// aggregate that reads no column but the row count, and a computed key under a
// subquery with ORDER BY and LIMIT above the aggregate.
const std::vector<View> kViews = {
    {"by_kind",
     "SELECT kind, count(*) AS n, count(DISTINCT id) AS ids, sum(amount) AS total, max(tag) AS top, "
     "sum(qty) AS units FROM silver WHERE qty > 2 GROUP BY kind"},
    {"firsts", "SELECT kind, first(tag) AS first_tag, last(id) AS last_id, count(*) AS n FROM silver GROUP BY kind"},
    {"total", "SELECT count(*) AS n FROM silver"},
    {"by_bucket",
     "SELECT bucket, sum(units) AS units, count(*) AS n FROM (SELECT id % 4 AS bucket, qty * 2 AS units FROM silver "
     "WHERE kind IS NOT NULL) AS s GROUP BY bucket ORDER BY units DESC, bucket LIMIT 3"},
    {"late_ids", "SELECT kind, count(*) AS n FROM silver WHERE id >= 120 GROUP BY kind"},
};

class MvByPartsTest : public ::testing::Test {
 protected:
  std::string Pipeline(const std::string& name) {
    std::string dir = dir_.Join(name);
    EXPECT_TRUE(fs_->CreateDirs(dir).ok());
    EXPECT_TRUE(fs_->WriteFile(JoinPath(dir, "pipeline.yaml"),
                               "name: v\nstorage: " + JoinPath(dir, "storage") +
                                   "\nlibraries: [p.sql]\nconfiguration: {landing: " + landing_ + "}\n")
                    .ok());
    std::string sql = kSilver;
    for (const auto& v : kViews)
      sql += std::string("CREATE OR REFRESH MATERIALIZED VIEW ") + v.name + " AS " + v.select + ";\n";
    EXPECT_TRUE(fs_->WriteFile(JoinPath(dir, "p.sql"), sql).ok());
    return dir;
  }

  // Lines `first`..`first + rows - 1`: NULL kinds and ids, repeated ids, unreadable
  // amounts (NULL).
  void Drop(const std::string& name, int first, int rows) {
    std::string text = "id,kind,tag,amount,qty\n";
    for (int i = first; i < first + rows; ++i) {
      std::string id = i % 13 == 0 ? "" : std::to_string(i % 50 == 0 ? i - 1 : i);
      std::string kind = i % 11 == 0 ? "" : "k" + std::to_string(i % 4);
      std::string amount = i % 17 == 0 ? "x" : std::to_string(i % 9) + ".25";
      text += id + "," + kind + ",t" + std::to_string((i * 7) % 23) + "," + amount + "," + std::to_string(i % 6) + "\n";
    }
    ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, name), text).ok());
  }

  static std::string Rows(const PipelineRunner::QueryResult& r) {
    std::vector<std::string> lines;
    for (const auto& b : r.batches) {
      for (int64_t i = 0; i < b.num_rows(); ++i) {
        std::string line;
        for (size_t c = 0; c < b.num_columns(); ++c) line += b.column(c).GetValue(i).ToString() + "|";
        lines.push_back(line);
      }
    }
    std::sort(lines.begin(), lines.end());
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    return text;
  }

  // Runs the pipeline (`extra`: run options such as a full refresh) and checks that each
  // view holds what its SELECT gives over the whole table; returns the views' rows.
  struct Config {
    std::string batch_rows;  // lakepipe.batchRows ("": not set, whole row groups)
    std::string threads;     // lakepipe.aggregateThreads ("": not set, one)
  };

  std::vector<std::string> RunAndCheck(const std::string& folder, const Config& config,
                                       const RunOptions& options = {}) {
    std::map<std::string, std::string> overrides;
    if (!config.batch_rows.empty()) overrides["lakepipe.batchRows"] = config.batch_rows;
    if (!config.threads.empty()) overrides["lakepipe.aggregateThreads"] = config.threads;
    const std::string batch_rows = config.batch_rows + "/" + config.threads;
    auto runner = PipelineRunner::Open(folder, overrides);
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    if (!runner.ok()) return {};
    auto report = (*runner)->RunOnce(options);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    if (report.ok()) {
      for (const auto& t : report->tables) {
        if (t.table != "silver" || options.full_refresh.empty()) {
          EXPECT_EQ(t.status, "updated") << t.table << ": " << t.message;
        }
      }
    }
    std::vector<std::string> out;
    for (const auto& v : kViews) {
      auto stored = (*runner)->Query(std::string("SELECT * FROM ") + v.name);
      auto whole = (*runner)->Query(v.select);
      EXPECT_TRUE(stored.ok()) << v.name << ": " << stored.status().ToString();
      EXPECT_TRUE(whole.ok()) << v.name << ": " << whole.status().ToString();
      if (!stored.ok() || !whole.ok()) continue;
      EXPECT_EQ(Rows(*stored), Rows(*whole)) << v.name << ", batchRows " << batch_rows;
      out.push_back(Rows(*stored));
    }
    return out;
  }

  static int64_t CountRows(const std::vector<RecordBatch>& batches) {
    int64_t n = 0;
    for (const auto& b : batches) n += b.num_rows();
    return n;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
};

TEST_F(MvByPartsTest, ViewsReadByPartsEqualTheirQueryOverTheWholeTable) {
  ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
  Drop("a.csv", 1, 60);
  Drop("b.csv", 61, 45);
  // Whole row groups; parts of 1, 3 and 7 rows; partial aggregates on 2 and 3 threads
  // (the amounts are exact binary fractions, so sums in another order are equal).
  const std::vector<Config> configs = {{"", ""}, {"1", ""}, {"3", ""}, {"7", ""}, {"3", "2"}, {"", "3"}};
  std::vector<std::string> folders;
  for (size_t i = 0; i < configs.size(); ++i) folders.push_back(Pipeline("p" + std::to_string(i)));
  std::vector<std::vector<std::string>> first, second, refreshed;
  for (size_t i = 0; i < configs.size(); ++i) first.push_back(RunAndCheck(folders[i], configs[i]));
  // A second commit of silver: the incremental views add it, the others recompute over
  // two commits' files.
  Drop("c.csv", 106, 40);
  for (size_t i = 0; i < configs.size(); ++i) second.push_back(RunAndCheck(folders[i], configs[i]));
  // A full refresh of the views reads the table of two commits as one snapshot by parts.
  RunOptions refresh;
  refresh.full_refresh = {"by_kind", "firsts", "total", "by_bucket", "late_ids"};
  for (size_t i = 0; i < configs.size(); ++i) refreshed.push_back(RunAndCheck(folders[i], configs[i], refresh));
  ASSERT_EQ(first[0].size(), kViews.size());
  ASSERT_EQ(second[0].size(), kViews.size());
  // Every view has rows to compare, but late_ids at first: no id reaches 120 before c.csv,
  // and its filter lets the files' statistics skip them all.
  for (size_t v = 0; v < kViews.size(); ++v) {
    EXPECT_NE(second[0][v], "") << kViews[v].name;
    if (v != 4) {
      EXPECT_NE(first[0][v], "") << kViews[v].name;
    }
  }
  EXPECT_EQ(first[0][4], "");
  EXPECT_NE(first[0][0], second[0][0]) << "the second commit changed nothing in by_kind";
  for (size_t i = 1; i < configs.size(); ++i) {
    EXPECT_EQ(first[i], first[0]) << "config " << i;
    EXPECT_EQ(second[i], second[0]) << "config " << i;
  }
  for (size_t i = 0; i < configs.size(); ++i) EXPECT_EQ(refreshed[i], second[0]) << "config " << i;
}

TEST_F(MvByPartsTest, ABadAggregateThreadsSettingIsRefused) {
  ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
  Drop("a.csv", 1, 10);
  auto runner = PipelineRunner::Open(Pipeline("bad"), {{"lakepipe.aggregateThreads", "0"}});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  auto report = (*runner)->RunOnce({});
  std::string all = report.ok() ? "" : report.status().ToString();
  if (report.ok())
    for (const auto& t : report->tables) all += t.message;
  EXPECT_NE(all.find("lakepipe.aggregateThreads"), std::string::npos) << all;
}

// The columns a part does not read are NULL in the planned schema; one NULL column serves
// every part of its length (parts are immutable), a part of another length gets its own.
TEST(WidenToPlanTest, UnreadColumnsAreNullAndSharedBetweenPartsOfOneLength) {
  Schema planned = Schema::ParseDDL("id INT, kind STRING, amount DOUBLE").value();
  auto part = [](std::vector<int64_t> ids) {
    std::vector<std::vector<Value>> rows;
    for (int64_t id : ids) rows.push_back({Value::Int(id, TypeId::kInt)});
    return expr::test::MakeBatch("id INT", rows);
  };
  std::vector<ColumnPtr> nulls;
  auto widened = WidenToPlan({part({1, 2}), part({3, 4})}, planned, &nulls);
  ASSERT_TRUE(widened.ok()) << widened.status().ToString();
  auto later = WidenToPlan({part({5, 6}), part({7})}, planned, &nulls);
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  std::vector<RecordBatch> all = *widened;
  all.insert(all.end(), later->begin(), later->end());
  EXPECT_EQ(expr::test::SortedRows(all), (std::vector<std::string>{"1|NULL|NULL", "2|NULL|NULL", "3|NULL|NULL",
                                                                   "4|NULL|NULL", "5|NULL|NULL", "6|NULL|NULL",
                                                                   "7|NULL|NULL"}));
  for (const auto& b : all) {
    ASSERT_EQ(b.num_columns(), 3u);
    EXPECT_EQ(b.column(1).type().id(), TypeId::kString);
    EXPECT_EQ(b.column(2).size(), b.num_rows());
  }
  EXPECT_EQ(all[0].column_ptr(1), all[1].column_ptr(1));
  EXPECT_EQ(all[0].column_ptr(2), all[2].column_ptr(2));  // kept across calls
  EXPECT_NE(all[2].column_ptr(1), all[3].column_ptr(1));  // 2 rows, then 1
}

}  // namespace
}  // namespace lakepipe::runtime
