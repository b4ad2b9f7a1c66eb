// The views of a `run --once` group that read Silver's same version by parts share one
// read of it (docs/execution.md, "Materialized views by parts"): each view's table must be
// exactly what it is when every view reads alone (`lakepipe.shareViewScans: false`), row
// for row in the stored order, for views with different columns and filters (one of which
// skips row groups when it reads alone), an order-dependent aggregate, and parts cut by
// `lakepipe.batchRows`; a view whose aggregate fails part-way fails alone, with its own
// error, and the others are updated as without sharing.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "runtime/pipeline_runner.h"
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

const std::vector<View> kViews = {
    {"by_kind",
     "SELECT kind, count(*) AS n, count(DISTINCT id) AS ids, sum(amount) AS total, sum(qty) AS units "
     "FROM silver WHERE qty > 2 GROUP BY kind"},
    // first/last depend on the order of the rows: recomputed, one thread.
    {"firsts", "SELECT kind, first(tag) AS first_tag, last(id) AS last_id, count(*) AS n FROM silver GROUP BY kind"},
    {"total", "SELECT count(*) AS n FROM silver"},
    // Alone, its filter lets the statistics skip every row group of the first commit.
    {"late_ids", "SELECT kind, count(*) AS n, sum(amount) AS total FROM silver WHERE id >= 120 GROUP BY kind"},
    {"by_tag", "SELECT tag, avg(amount) AS mean, count(DISTINCT kind) AS kinds FROM silver GROUP BY tag"},
    // Fails on the first row with id > 100 (a part-way failure of its row-wise steps).
    {"broken",
     "SELECT kind, count(from_json(CASE WHEN id > 100 THEN tag ELSE '{\"a\": 1}' END, 'a INT', "
     "map('mode', 'FAILFAST')).a) AS n FROM silver GROUP BY kind"},
};

class SharedViewScanTest : public ::testing::Test {
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

  void Drop(const std::string& name, int first, int rows) {
    std::string text = "id,kind,tag,amount,qty\n";
    for (int i = first; i < first + rows; ++i) {
      std::string id = i % 13 == 0 ? "" : std::to_string(i % 50 == 0 ? i - 1 : i);
      std::string kind = i % 11 == 0 ? "" : "k" + std::to_string(i % 4);
      // Sums of these amounts depend on the order they are added in.
      std::string amount = i % 17 == 0 ? "x" : std::to_string(i % 9) + "." + std::to_string(i % 7) + "1";
      text += id + "," + kind + ",t" + std::to_string((i * 7) % 23) + "," + amount + "," + std::to_string(i % 6) + "\n";
    }
    ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, name), text).ok());
  }

  struct Outcome {
    std::map<std::string, TableReport> reports;
    std::map<std::string, std::string> rows;  // view -> its rows in the stored order
  };

  Outcome Run(const std::string& folder, const std::map<std::string, std::string>& settings,
              const RunOptions& options = {}) {
    Outcome out;
    auto runner = PipelineRunner::Open(folder, settings);
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    if (!runner.ok()) return out;
    auto report = (*runner)->RunOnce(options);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    if (!report.ok()) return out;
    for (const auto& t : report->tables) out.reports[t.table] = t;
    for (const auto& v : kViews) {
      if (std::string(v.name) == "broken") continue;
      auto stored = (*runner)->Query(std::string("SELECT * FROM ") + v.name);
      EXPECT_TRUE(stored.ok()) << v.name << ": " << stored.status().ToString();
      if (!stored.ok()) continue;
      std::string text;
      for (const auto& b : stored->batches) {
        for (int64_t i = 0; i < b.num_rows(); ++i) {
          for (size_t c = 0; c < b.num_columns(); ++c) text += b.column(c).GetValue(i).ToString() + "|";
          text += "\n";
        }
      }
      out.rows[v.name] = text;
    }
    return out;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
};

TEST_F(SharedViewScanTest, SharedReadsGiveEachViewWhatItsOwnReadGives) {
  ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
  Drop("a.csv", 1, 60);
  Drop("b.csv", 61, 45);
  struct Config {
    std::string batch_rows;
    std::string threads;
  };
  const std::vector<Config> configs = {{"", ""}, {"3", ""}, {"7", ""}, {"3", "2"}};
  std::vector<std::string> alone, shared;
  for (size_t i = 0; i < configs.size(); ++i) {
    alone.push_back(Pipeline("alone" + std::to_string(i)));
    shared.push_back(Pipeline("shared" + std::to_string(i)));
  }
  auto settings = [&](size_t i, bool share) {
    std::map<std::string, std::string> s = {{"lakepipe.shareViewScans", share ? "true" : "false"}};
    if (!configs[i].batch_rows.empty()) s["lakepipe.batchRows"] = configs[i].batch_rows;
    if (!configs[i].threads.empty()) s["lakepipe.aggregateThreads"] = configs[i].threads;
    return s;
  };
  RunOptions refresh;
  refresh.full_refresh = {"by_kind", "firsts", "total", "late_ids", "by_tag", "broken"};
  // 0: the first update (every view reads Silver's snapshot); 1: a second commit of Silver
  // (incremental views read its appended rows, the others the snapshot); 2: a full
  // refresh of the views (snapshots of two commits).
  for (int step = 0; step < 3; ++step) {
    if (step == 1) Drop("c.csv", 106, 40);
    for (size_t i = 0; i < configs.size(); ++i) {
      SCOPED_TRACE("step " + std::to_string(step) + ", batchRows '" + configs[i].batch_rows + "', threads '" +
                   configs[i].threads + "'");
      Outcome a = Run(alone[i], settings(i, false), step == 2 ? refresh : RunOptions{});
      Outcome s = Run(shared[i], settings(i, true), step == 2 ? refresh : RunOptions{});
      ASSERT_EQ(a.reports.size(), kViews.size() + 1);
      ASSERT_EQ(s.reports.size(), kViews.size() + 1);
      for (const auto& v : kViews) {
        const TableReport& ra = a.reports[v.name];
        const TableReport& rs = s.reports[v.name];
        EXPECT_EQ(ra.shared_read_views, 0) << v.name;
        if (std::string(v.name) == "broken") {
          // Fails alone, with the error it has without sharing.
          EXPECT_EQ(rs.status, "failed") << rs.message;
          // The same error, but for the pipeline folder it names (on two threads, the
          // first thread to fail names its record, shared or not).
          if (configs[i].threads.empty()) {
            EXPECT_EQ(rs.message.substr(rs.message.find("p.sql:")), ra.message.substr(ra.message.find("p.sql:")));
          }
          EXPECT_EQ(ra.status, "failed") << ra.message;
          EXPECT_NE(rs.message.find("FAILFAST"), std::string::npos) << rs.message;
          continue;
        }
        EXPECT_EQ(rs.status, "updated") << v.name << ": " << rs.message;
        EXPECT_EQ(ra.status, "updated") << v.name << ": " << ra.message;
        EXPECT_EQ(s.rows[v.name], a.rows[v.name]) << v.name;
        // No id reaches 120 before c.csv.
        if (step > 0 || std::string(v.name) != "late_ids") EXPECT_NE(s.rows[v.name], "") << v.name;
        const bool filtered = std::string(v.name) == "by_kind" || std::string(v.name) == "late_ids";
        if (step != 1 && !configs[i].threads.empty()) {
          // Partial aggregates on two threads need exactly their own parts: the views with
          // a filter that skips row groups read alone, the four others share.
          EXPECT_EQ(rs.shared_read_views, filtered ? 0 : 4) << v.name;
        } else if (step != 1) {
          // Every view reads the snapshot by parts, the broken one too.
          EXPECT_EQ(rs.shared_read_views, static_cast<int64_t>(kViews.size())) << v.name;
        } else if (std::string(v.name) == "firsts") {
          // With the broken view (whose state is empty), the only snapshot readers.
          EXPECT_EQ(rs.shared_read_views, 2);
        } else {
          EXPECT_EQ(rs.shared_read_views, 0) << v.name << " read appended rows";
        }
      }
    }
  }
}

TEST_F(SharedViewScanTest, ABadShareViewScansSettingIsRefused) {
  ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
  Drop("a.csv", 1, 10);
  auto runner = PipelineRunner::Open(Pipeline("bad"), {{"lakepipe.shareViewScans", "yes"}});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  auto report = (*runner)->RunOnce({});
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().ToString().find("lakepipe.shareViewScans"), std::string::npos)
      << report.status().ToString();
}

}  // namespace
}  // namespace lakepipe::runtime
