// The change data feed in a pipeline: an AUTO CDC target created with
// TBLPROPERTIES (delta.enableChangeDataFeed = true) records its changes; a streaming table
// reads them with STREAM(t) WITH (readChangeFeed = true), and a materialized view with
// table_changes('t', start). Replaying the feed over the micro-batches must rebuild the
// target at every version; without the option the streaming read fails saying to use the
// change feed.
#include <gtest/gtest.h>

#include <map>

#include "delta/table.h"
#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

class ChangeFeedPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("p")).ok());
  }

  void Pipeline(const std::string& sql) {
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"), "name: t\nstorage: " + dir_.Join("storage") +
                                                                 "\nlibraries: [p.sql]\ncontinuous: false\n"
                                                                 "configuration: {landing: " + landing_ + "}\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"), sql).ok());
  }

  static std::string Source(bool cdf) {
    return std::string(
               "CREATE OR REFRESH STREAMING TABLE changes AS SELECT * FROM STREAM read_files('${landing}', "
               "format => 'json', schema => 'id BIGINT, name STRING, op STRING, seq BIGINT');\n"
               "CREATE OR REFRESH STREAMING TABLE dim") +
           (cdf ? " TBLPROPERTIES (delta.enableChangeDataFeed = true)" : "") +
           ";\n"
           "CREATE FLOW dim_flow AS AUTO CDC INTO dim FROM STREAM(changes) KEYS (id)\n"
           "  APPLY AS DELETE WHEN op = 'DELETE' SEQUENCE BY seq COLUMNS * EXCEPT (op, seq, _rescued_data);\n";
  }

  void Land(int n, const std::string& lines) {
    ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, std::to_string(1000 + n) + ".json"), lines).ok());
  }

  static std::string Ev(int64_t id, const std::string& name, const std::string& op, int64_t seq) {
    return "{\"id\":" + std::to_string(id) + ",\"name\":\"" + name + "\",\"op\":\"" + op +
           "\",\"seq\":" + std::to_string(seq) + "}\n";
  }

  // A table's rows at a version, as sorted "c1|c2|..." lines of `columns`.
  std::vector<std::string> Rows(const std::string& table, const std::vector<std::string>& columns,
                                int64_t version = -1) {
    auto t = delta::DeltaTable::Open(dir_.Join("storage/" + table));
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    auto snap = version < 0 ? (*t)->Latest() : (*t)->AtVersion(version);
    EXPECT_TRUE(snap.ok());
    auto all = delta::Scan::Plan(*snap, {})->ReadAll();
    EXPECT_TRUE(all.ok());
    std::vector<std::string> out;
    for (int64_t r = 0; r < all->num_rows(); ++r) {
      std::string line;
      for (const auto& c : columns) {
        const Column* col = all->ColumnByName(c);
        EXPECT_NE(col, nullptr) << c;
        Value v = col->GetValue(r);
        line += (line.empty() ? "" : "|") + (v.is_null() ? std::string("NULL") : v.ToString());
      }
      out.push_back(line);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
};

TEST_F(ChangeFeedPipelineTest, StreamingReadOfTheChangeFeedReplaysTheTarget) {
  Pipeline(Source(true) +
           "CREATE OR REFRESH STREAMING TABLE dim_log AS SELECT id, name, _change_type, _commit_version "
           "FROM STREAM(dim) WITH (readChangeFeed = true);\n"
           "CREATE OR REFRESH MATERIALIZED VIEW dim_counts AS SELECT _change_type, count(*) AS n "
           "FROM table_changes('dim', 0) GROUP BY _change_type;\n");
  auto runner = PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  std::vector<std::string> batches = {
      Ev(1, "a", "UPSERT", 1) + Ev(2, "b", "UPSERT", 2) + Ev(3, "c", "UPSERT", 3),
      Ev(1, "a2", "UPSERT", 4) + Ev(2, "", "DELETE", 5) + Ev(4, "d", "UPSERT", 6),
      Ev(3, "c", "UPSERT", 7) + Ev(2, "b3", "UPSERT", 8) + Ev(1, "", "DELETE", 9),
  };
  std::vector<int64_t> dim_versions;
  for (size_t b = 0; b < batches.size(); ++b) {
    Land(static_cast<int>(b), batches[b]);
    auto report = (*runner)->RunOnce({});
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    for (const auto& t : report->tables) {
      EXPECT_NE(t.status, "failed") << t.table << ": " << t.message;
      if (t.table == "dim") dim_versions.push_back(t.table_version);
    }
  }
  auto dim = std::move(delta::DeltaTable::Open(dir_.Join("storage/dim"))).value();
  EXPECT_EQ((*dim->Latest())->protocol().min_writer_version, 4);
  EXPECT_TRUE(fs_->Exists(dir_.Join("storage/dim/_change_data")));

  // Replaying dim_log's change rows in version order rebuilds dim at every version.
  std::map<int64_t, std::vector<std::string>> log_by_version;
  for (const auto& line : Rows("dim_log", {"_commit_version", "_change_type", "id", "name"})) {
    size_t bar = line.find('|');
    log_by_version[std::stoll(line.substr(0, bar))].push_back(line.substr(bar + 1));
  }
  std::map<std::string, std::string> model;  // id -> name
  for (int64_t v : dim_versions) {
    ASSERT_TRUE(log_by_version.count(v)) << "no change rows for version " << v;
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& row : log_by_version[v]) {
        std::string type = row.substr(0, row.find('|'));
        std::string rest = row.substr(row.find('|') + 1);
        std::string id = rest.substr(0, rest.find('|')), name = rest.substr(rest.find('|') + 1);
        bool removal = type == "delete" || type == "update_preimage";
        if (pass == 0 && removal) {
          EXPECT_EQ(model[id], name) << "version " << v << " " << type << " " << id;
          model.erase(id);
        } else if (pass == 1 && !removal) {
          EXPECT_FALSE(model.count(id)) << "version " << v << " " << type << " " << id;
          model[id] = name;
        }
      }
    }
    std::vector<std::string> replayed;
    for (const auto& [id, name] : model) replayed.push_back(id + "|" + name);
    EXPECT_EQ(replayed, Rows("dim", {"id", "name"}, v)) << "version " << v;
  }
  // Key 3 was upserted with the same values: no change row for it in batch 3.
  for (const auto& row : log_by_version[dim_versions[2]]) EXPECT_EQ(row.find("|3|"), std::string::npos) << row;

  // The view over table_changes counts every change type (computed independently here
  // from the streaming log, which holds the same rows).
  std::map<std::string, int64_t> counts;
  for (const auto& [v, rows] : log_by_version)
    for (const auto& row : rows) ++counts[row.substr(0, row.find('|'))];
  std::vector<std::string> want;
  for (const auto& [t, n] : counts) want.push_back(t + "|" + std::to_string(n));
  EXPECT_EQ(Rows("dim_counts", {"_change_type", "n"}), want);
  EXPECT_EQ(counts["update_preimage"], 1);  // 1: a -> a2
  EXPECT_EQ(counts["delete"], 2);           // 2, then 1
  EXPECT_EQ(counts["insert"], 5);           // 1, 2, 3, 4, then 2 again
}

TEST_F(ChangeFeedPipelineTest, PlainStreamingReadOfRowChangesSaysToUseTheChangeFeed) {
  Pipeline(Source(true) + "CREATE OR REFRESH STREAMING TABLE copy AS SELECT * FROM STREAM(dim);\n");
  auto runner = PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  Land(0, Ev(1, "a", "UPSERT", 1));
  ASSERT_TRUE((*runner)->RunOnce({}).ok());
  Land(1, Ev(1, "b", "UPSERT", 2));
  auto report = (*runner)->RunOnce({});
  ASSERT_TRUE(report.ok());
  std::string msg;
  for (const auto& t : report->tables)
    if (t.table == "copy") msg = t.message;
  EXPECT_NE(msg.find("readChangeFeed = true"), std::string::npos) << msg;
}

TEST_F(ChangeFeedPipelineTest, ChangeFeedOfATableWithoutItIsRefusedAtTheRowChange) {
  Pipeline(Source(false) +
           "CREATE OR REFRESH STREAMING TABLE dim_log AS SELECT * FROM STREAM(dim) WITH (readChangeFeed = true);\n");
  auto runner = PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  Land(0, Ev(1, "a", "UPSERT", 1));
  auto first = (*runner)->RunOnce({});
  ASSERT_TRUE(first.ok() && first->ok());
  Land(1, Ev(1, "b", "UPSERT", 2));
  auto report = (*runner)->RunOnce({});
  ASSERT_TRUE(report.ok());
  std::string msg;
  for (const auto& t : report->tables)
    if (t.table == "dim_log") msg = t.message;
  EXPECT_NE(msg.find("delta.enableChangeDataFeed"), std::string::npos) << msg;
}

TEST_F(ChangeFeedPipelineTest, ValidateRefusesWrongUses) {
  struct Case {
    std::string sql, want;
  } cases[] = {
      {"CREATE OR REFRESH MATERIALIZED VIEW v AS SELECT * FROM table_changes('dim');\n", "table_changes takes"},
      {"CREATE OR REFRESH MATERIALIZED VIEW v AS SELECT * FROM table_changes('dim', '2026-01-01');\n",
       "by timestamp is not built yet"},
      {"CREATE OR REFRESH STREAMING TABLE v AS SELECT * FROM STREAM(dim) WITH (readChangeFeed = true, "
       "startingVersion = 3);\n",
       "not built yet"},
      {"CREATE OR REFRESH STREAMING TABLE v AS SELECT * FROM STREAM table_changes('dim', 1);\n",
       "readChangeFeed = true"},
      {"CREATE OR REFRESH MATERIALIZED VIEW v AS SELECT * FROM table_changes('dim', 3, 1);\n",
       "before the start version"},
  };
  for (const auto& c : cases) {
    Pipeline(Source(true) + c.sql);
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    ASSERT_FALSE(runner.ok()) << c.sql;
    EXPECT_NE(runner.status().message().find(c.want), std::string::npos) << runner.status().message();
    EXPECT_NE(runner.status().message().find("p.sql:"), std::string::npos) << runner.status().message();
  }
}

}  // namespace
}  // namespace lakepipe::runtime
