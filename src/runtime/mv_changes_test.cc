// Materialized views over tables whose rows are updated and deleted (an AUTO CDC target,
// `lakepipe table delete`): after every update the view must equal DuckDB's aggregate over
// the upstream table's rows as they should be (the SCD type 1 of every change event
// delivered so far), whether the view took the deleted and replaced rows back out of its
// state (count, sum, avg, count_if) or had to start again from a snapshot (min, max,
// joins), and the event log's `technique` must say which.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "delta/row_changes.h"
#include "delta/table.h"
#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

// `rounds` files of change events of 40 keys: inserts, updates (amount, city or both, or
// nothing), deletes and re-inserts; amounts are sometimes NULL.
std::vector<std::string> ChangeRounds(uint32_t seed, int rounds) {
  std::mt19937 rng(seed);
  std::map<int64_t, bool> live;
  std::vector<std::string> out(static_cast<size_t>(rounds));
  int64_t seq = 0;
  for (int r = 0; r < rounds; ++r) {
    int events = r == 0 ? 60 : 25;
    for (int i = 0; i < events; ++i) {
      int64_t id = static_cast<int64_t>(rng() % 40);
      seq += 10;
      std::string op = "UPSERT";
      if (live[id] && rng() % 4 == 0) op = "DELETE";
      live[id] = op == "UPSERT";
      std::string amount = rng() % 7 == 0 ? "null" : std::to_string(rng() % 100);
      out[static_cast<size_t>(r)] += "{\"id\":" + std::to_string(id) + ",\"city\":\"c" + std::to_string(rng() % 4) +
                                     "\",\"amount\":" + amount + ",\"op\":\"" + op + "\",\"seq\":" +
                                     std::to_string(seq) + "}\n";
    }
  }
  return out;
}

const char* const kViews =
    "CREATE OR REFRESH MATERIALIZED VIEW by_city AS SELECT city, count(*) AS n, sum(amount) AS total, "
    "avg(amount) AS mean, count(amount) AS with_amount, count_if(amount > 50) AS big FROM dim GROUP BY city;\n"
    "CREATE OR REFRESH MATERIALIZED VIEW overall AS SELECT count(*) AS n, sum(amount) AS total, "
    "sum(amount) FILTER (WHERE city = 'c1') AS c1_total FROM dim WHERE amount > 10;\n"
    "CREATE OR REFRESH MATERIALIZED VIEW extremes AS SELECT city, min(amount) AS lo, max(amount) AS hi, "
    "count(*) AS n FROM dim GROUP BY city;\n"
    "CREATE OR REFRESH MATERIALIZED VIEW joined AS SELECT d.city, count(*) AS n, sum(d.amount) AS total "
    "FROM dim d JOIN cities c ON d.city = c.city GROUP BY d.city;\n";

// Each view as "|"-joined text lines, the same SELECT over DuckDB's `dim` and over the
// view's Parquet files (read by DuckDB).
const std::map<std::string, std::string> kExpected = {
    {"by_city",
     "SELECT city, count(*) AS n, sum(amount)::BIGINT AS total, avg(amount) AS mean, count(amount) AS with_amount, "
     "count_if(amount > 50)::BIGINT AS big FROM dim GROUP BY city"},
    {"overall",
     "SELECT count(*) AS n, sum(amount)::BIGINT AS total, (sum(amount) FILTER (WHERE city = 'c1'))::BIGINT AS c1_total FROM dim "
     "WHERE amount > 10"},
    {"extremes", "SELECT city, min(amount) AS lo, max(amount) AS hi, count(*) AS n FROM dim GROUP BY city"},
    {"joined", "SELECT city, count(*) AS n, sum(amount)::BIGINT AS total FROM dim WHERE city IN ('c0', 'c1', 'c2') GROUP BY city"},
};

// DuckDB's rows of `sql` as sorted text lines (columns by name, values as DuckDB's JSON).
std::string Lines(const std::string& sql) {
  std::vector<std::string> lines;
  for (const auto& row : testing::DuckDBRows(sql)) {
    std::string line;
    for (auto it = row.begin(); it != row.end(); ++it) line += it.key() + "=" + it.value().dump() + "|";
    lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

class MaterializedViewOverChangesTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("p")).ok());
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join("cities")).ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("cities/c.json"), "{\"city\":\"c0\"}\n{\"city\":\"c1\"}\n{\"city\":\"c2\"}\n").ok());
  }

  void Pipeline(const std::string& sql) {
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/pipeline.yaml"),
                               "name: t\nstorage: " + dir_.Join("storage") +
                                   "\nlibraries: [p.sql]\ncontinuous: false\nconfiguration: {landing: " + landing_ +
                                   ", cities: " + dir_.Join("cities") + "}\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join("p/p.sql"), sql).ok());
  }

  // DuckDB's `dim` (SCD type 1 of the events delivered so far) as a CTE.
  std::string DuckDim() const {
    return "WITH ev AS (SELECT * FROM read_json('" + landing_ +
           "/*.json', columns = {id: 'BIGINT', city: 'VARCHAR', amount: 'BIGINT', op: 'VARCHAR', seq: 'BIGINT'})),\n"
           "dim AS (SELECT * FROM ev QUALIFY row_number() OVER (PARTITION BY id ORDER BY seq DESC) = 1 "
           "AND op <> 'DELETE')\n";
  }

  // The SELECT of a stored table's rows at its latest version (its Parquet files), or ""
  // when it has none.
  std::string ReadOurs(const std::string& table) {
    auto t = delta::DeltaTable::Open(dir_.Join("storage/" + table));
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (!t.ok()) return "";
    auto snap = (*t)->Latest();
    EXPECT_TRUE(snap.ok());
    std::string files;
    for (const auto& f : (*snap)->files()) files += (files.empty() ? "'" : ", '") + f.full_path + "'";
    return files.empty() ? "" : "SELECT * FROM read_parquet([" + files + "])";
  }

  // Every view's rows, tagged with its name, in one DuckDB call: as lakepipe wrote them,
  // and as DuckDB computes them over the events delivered so far.
  std::string OurLines() {
    std::string sql;
    for (const auto& [view, select] : kExpected) {
      std::string ours = ReadOurs(view);
      if (ours.empty()) continue;
      sql += (sql.empty() ? "" : " UNION ALL BY NAME ") + std::string("SELECT '") + view + "' AS v, * FROM (" + ours + ")";
    }
    return sql.empty() ? "" : Lines(sql);
  }
  std::string ExpectedLines() {
    std::string sql;
    for (const auto& [view, select] : kExpected)
      sql += (sql.empty() ? "" : " UNION ALL BY NAME ") + std::string("SELECT '") + view + "' AS v, * FROM (" + select + ")";
    return Lines(DuckDim() + sql);
  }

  std::string OurLines(const std::string& table, const std::string& select) {
    std::string ours = ReadOurs(table);
    return ours.empty() ? "" : Lines(ours);
  }

  static const TableReport* Find(const UpdateReport& r, const std::string& table) {
    for (const auto& t : r.tables)
      if (t.table == table) return &t;
    return nullptr;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
};

TEST_P(MaterializedViewOverChangesTest, EveryVersionEqualsDuckDBOverTheChangedRows) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  const bool feed = GetParam();
  Pipeline(std::string("CREATE OR REFRESH STREAMING TABLE changes AS SELECT * FROM STREAM read_files('${landing}', "
                       "format => 'json', schema => 'id BIGINT, city STRING, amount BIGINT, op STRING, seq BIGINT');\n"
                       "CREATE OR REFRESH STREAMING TABLE cities AS SELECT * FROM STREAM read_files('${cities}', "
                       "format => 'json', schema => 'city STRING');\n"
                       "CREATE OR REFRESH STREAMING TABLE dim") +
           (feed ? " TBLPROPERTIES (delta.enableChangeDataFeed = true)" : "") +
           ";\nCREATE FLOW dim_flow AS AUTO CDC INTO dim FROM STREAM(changes) KEYS (id)\n"
           "  APPLY AS DELETE WHEN op = 'DELETE' SEQUENCE BY seq COLUMNS * EXCEPT (op, seq, _rescued_data);\n" +
           kViews);
  const int kRounds = 5;
  auto rounds = ChangeRounds(feed ? 3 : 4, kRounds);
  int64_t previous_by_city = -1;
  for (int r = 0; r < kRounds; ++r) {
    ASSERT_TRUE(fs_->WriteFileAtomic(landing_ + "/r" + std::to_string(r) + ".json", rounds[static_cast<size_t>(r)]).ok());
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    ASSERT_TRUE(runner.ok()) << runner.status().ToString();
    auto report = (*runner)->RunOnce({});
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    for (const auto& t : report->tables) ASSERT_NE(t.status, "failed") << t.table << ": " << t.message;
    std::string expected = ExpectedLines();
    for (const auto& [view, select] : kExpected) EXPECT_NE(expected.find("\"" + view + "\""), std::string::npos) << view;
    EXPECT_EQ(OurLines(), expected) << "after round " << r;
    const TableReport* by_city = Find(*report, "by_city");
    const TableReport* extremes = Find(*report, "extremes");
    const TableReport* joined = Find(*report, "joined");
    ASSERT_TRUE(by_city && extremes && joined);
    EXPECT_GT(by_city->table_version, previous_by_city);
    previous_by_city = by_city->table_version;
    if (r == 0) {
      EXPECT_EQ(by_city->technique, "incremental (initial)");
      continue;
    }
    // Later rounds update and delete rows of dim: count/sum/avg take them back ...
    EXPECT_EQ(by_city->technique, "incremental (retracting)") << by_city->message;
    EXPECT_EQ(Find(*report, "overall")->technique, "incremental (retracting)");
    // ... min/max cannot, and say why; a join is recomputed whole, as before.
    EXPECT_EQ(extremes->technique.rfind("complete recompute: `min(amount)` cannot take a value back", 0), 0u)
        << extremes->technique;
    EXPECT_NE(extremes->technique.find("deleted or updated"), std::string::npos) << extremes->technique;
    EXPECT_EQ(joined->technique, "complete recompute");
    EXPECT_NE(joined->message.find("reads Join"), std::string::npos) << joined->message;
  }
}

INSTANTIATE_TEST_SUITE_P(ChangeFeed, MaterializedViewOverChangesTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "WithChangeDataFeed" : "FromRewrittenFiles");
                         });

// `lakepipe table delete` (delta::DeleteRows) on an append-only streaming table: the view
// over it takes the deleted rows back, then keeps adding appended ones.
TEST_F(MaterializedViewOverChangesTest, RowsDeletedFromAnAppendOnlyTableAreTakenBack) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  Pipeline("CREATE OR REFRESH STREAMING TABLE dim AS SELECT * FROM STREAM read_files('${landing}', "
           "format => 'json', schema => 'id BIGINT, city STRING, amount BIGINT, op STRING, seq BIGINT');\n"
           "CREATE OR REFRESH MATERIALIZED VIEW by_city AS SELECT city, count(*) AS n, sum(amount) AS total, "
           "avg(amount) AS mean FROM dim GROUP BY city;\n");
  auto rounds = ChangeRounds(9, 3);
  auto run = [&]() -> std::string {
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    if (!runner.ok()) return "";
    auto report = (*runner)->RunOnce({});
    EXPECT_TRUE(report.ok() && report->ok());
    return report.ok() && Find(*report, "by_city") ? Find(*report, "by_city")->technique : "";
  };
  const std::string all = "SELECT city, count(*) AS n, sum(amount)::BIGINT AS total, avg(amount) AS mean FROM dim GROUP BY city";
  auto expected = [&](const std::string& where) {
    return Lines("WITH dim AS (SELECT * FROM read_json('" + landing_ +
                 "/*.json', filename = true, columns = {id: 'BIGINT', city: 'VARCHAR', amount: 'BIGINT', op: "
                 "'VARCHAR', seq: 'BIGINT'}) " + where + ")\n" + all);
  };
  ASSERT_TRUE(fs_->WriteFileAtomic(landing_ + "/r0.json", rounds[0]).ok());
  EXPECT_EQ(run(), "incremental (initial)");
  // Delete every row of c1 and the rows with an even id.
  auto table = delta::DeltaTable::Open(dir_.Join("storage/dim"));
  ASSERT_TRUE(table.ok());
  auto deleted = delta::DeleteRows(
      **table, {},
      [](const RecordBatch& rows) -> Result<std::vector<uint8_t>> {
        std::vector<uint8_t> mask(static_cast<size_t>(rows.num_rows()));
        const Column* id = rows.ColumnByName("id");
        const Column* city = rows.ColumnByName("city");
        for (int64_t r = 0; r < rows.num_rows(); ++r)
          mask[r] = (id->IsValid(r) && id->Get<int64_t>(r) % 2 == 0) || (city->IsValid(r) && city->GetString(r) == "c1");
        return mask;
      },
      "id % 2 = 0 OR city = 'c1'", {});
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  ASSERT_TRUE(deleted->committed);
  const std::string kept = "WHERE NOT (id % 2 = 0 OR city = 'c1')";
  EXPECT_EQ(run(), "incremental (retracting)");
  EXPECT_EQ(OurLines("by_city", "SELECT *"), expected(kept));
  EXPECT_EQ(OurLines("by_city", "SELECT *").find("\"c1\""), std::string::npos);  // the group is gone
  // New rows after the delete are added as usual.
  ASSERT_TRUE(fs_->WriteFileAtomic(landing_ + "/r1.json", rounds[1]).ok());
  EXPECT_EQ(run(), "incremental");
  EXPECT_EQ(OurLines("by_city", "SELECT *"),
            expected("WHERE filename NOT LIKE '%r0.json' OR NOT (id % 2 = 0 OR city = 'c1')"));
}

}  // namespace
}  // namespace lakepipe::runtime

namespace lakepipe::runtime {
namespace {

// Groups whose rows are all deleted leave the view's state, not just its output: with a
// round of new groups replacing the last round's every time, the state holds the live
// groups only (counted in the state, not timed), after each round and after a restart.
TEST_F(MaterializedViewOverChangesTest, EmptiedGroupsLeaveTheState) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  Pipeline("CREATE OR REFRESH STREAMING TABLE changes AS SELECT * FROM STREAM read_files('${landing}', "
           "format => 'json', schema => 'id BIGINT, city STRING, amount BIGINT, op STRING, seq BIGINT');\n"
           "CREATE OR REFRESH STREAMING TABLE dim;\n"
           "CREATE FLOW dim_flow AS AUTO CDC INTO dim FROM STREAM(changes) KEYS (id)\n"
           "  APPLY AS DELETE WHEN op = 'DELETE' SEQUENCE BY seq COLUMNS * EXCEPT (op, seq, _rescued_data);\n"
           "CREATE OR REFRESH MATERIALIZED VIEW by_city AS SELECT city, count(*) AS n, sum(amount) AS total "
           "FROM dim GROUP BY city;\n");
  const int kRounds = 6, kPerRound = 6;
  int64_t seq = 0;
  for (int r = 0; r < kRounds; ++r) {
    // This round's keys in three new cities; the last round's keys deleted.
    std::string events;
    for (int i = 0; i < kPerRound; ++i) {
      int id = r * kPerRound + i;
      events += "{\"id\":" + std::to_string(id) + ",\"city\":\"r" + std::to_string(r) + "c" + std::to_string(i % 3) +
                "\",\"amount\":" + std::to_string(id * 7 % 50) + ",\"op\":\"UPSERT\",\"seq\":" + std::to_string(++seq) + "}\n";
    }
    for (int i = 0; r > 0 && i < kPerRound; ++i) {
      events += "{\"id\":" + std::to_string((r - 1) * kPerRound + i) + ",\"op\":\"DELETE\",\"seq\":" +
                std::to_string(++seq) + "}\n";
    }
    ASSERT_TRUE(fs_->WriteFileAtomic(landing_ + "/r" + std::to_string(r) + ".json", events).ok());
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    ASSERT_TRUE(runner.ok()) << runner.status().ToString();
    auto report = (*runner)->RunOnce({});
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    const TableReport* by_city = Find(*report, "by_city");
    ASSERT_NE(by_city, nullptr);
    ASSERT_NE(by_city->status, "failed") << by_city->message;
    EXPECT_EQ(by_city->technique, r == 0 ? "incremental (initial)" : "incremental (retracting)");
    EXPECT_EQ(OurLines("by_city", "SELECT *"),
              Lines(DuckDim() + "SELECT city, count(*) AS n, sum(amount)::BIGINT AS total FROM dim GROUP BY city"))
        << "round " << r;
    // Three live groups: 3 in the state, however many rounds of groups came and went.
    EXPECT_EQ(by_city->state_keys, 3) << "round " << r;
  }
  // After a restart the state (the snapshot written when groups left, and any deltas after
  // it) still holds only the live groups.
  ASSERT_TRUE(fs_->WriteFileAtomic(landing_ + "/last.json",
                                   "{\"id\":1000,\"city\":\"r5c0\",\"amount\":1,\"op\":\"UPSERT\",\"seq\":100000}\n")
                  .ok());
  auto runner = PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_TRUE(runner.ok());
  auto report = (*runner)->RunOnce({});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_NE(Find(*report, "by_city"), nullptr);
  EXPECT_EQ(Find(*report, "by_city")->technique, "incremental");
  EXPECT_EQ(Find(*report, "by_city")->state_keys, 3);
}

}  // namespace
}  // namespace lakepipe::runtime
