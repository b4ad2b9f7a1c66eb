// Materialized views over tables whose rows are updated and deleted (an AUTO CDC target,
// `lakepipe table delete`): after every update the view must equal DuckDB's aggregate over
// the upstream table's rows as they should be (the SCD type 1 of every change event
// delivered so far), whether the view took the deleted and replaced rows back out of its
// state (count, sum, avg, count_if) or had to start again from a snapshot (min, max,
// joins), and the event log's `technique` must say which.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
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

  // The pipeline in folder `folder` (storage `storage`); `settings`: more configuration
  // entries ("key: value, ...").
  void Pipeline(const std::string& sql, const std::string& folder = "p", const std::string& storage = "storage",
                const std::string& settings = "") {
    ASSERT_TRUE(fs_->CreateDirs(dir_.Join(folder)).ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join(folder + "/pipeline.yaml"),
                               "name: t\nstorage: " + dir_.Join(storage) +
                                   "\nlibraries: [p.sql]\ncontinuous: false\nconfiguration: {landing: " + landing_ +
                                   ", cities: " + dir_.Join("cities") + (settings.empty() ? "" : ", " + settings) +
                                   "}\n")
                    .ok());
    ASSERT_TRUE(fs_->WriteFile(dir_.Join(folder + "/p.sql"), sql).ok());
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
  std::string ReadOurs(const std::string& table, const std::string& storage = "storage") {
    auto t = delta::DeltaTable::Open(dir_.Join(storage + "/" + table));
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

namespace lakepipe::runtime {
namespace {

// Views whose aggregates cannot take a value back (min, max, count(DISTINCT), sums of
// doubles), alone and mixed with count/sum, over an SCD type 1 and an SCD type 2 target
// of one random change stream (inserts, updates that move rows between groups, deletes,
// re-inserts). Rounds that touch a few of the 40 groups recompute just those groups
// (`incremental (N groups recomputed)`, in the report, the event log and the commit's
// operationParameters); a round that touches most groups recomputes the whole view (the
// rule: more than half). After every round each view equals the same SELECT run by
// DuckDB over the table's current Parquet files (a recompute by an independent engine).
TEST_F(MaterializedViewOverChangesTest, GroupsThatLostAValueAreRecomputedAlone) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  Pipeline("CREATE OR REFRESH STREAMING TABLE changes AS SELECT * FROM STREAM read_files('${landing}', "
           "format => 'json', schema => 'id BIGINT, grp STRING, tag STRING, qty BIGINT, amount DOUBLE, op STRING, "
           "seq BIGINT');\n"
           "CREATE OR REFRESH STREAMING TABLE dim;\n"
           "CREATE FLOW dim_flow AS AUTO CDC INTO dim FROM STREAM(changes) KEYS (id)\n"
           "  APPLY AS DELETE WHEN op = 'DELETE' SEQUENCE BY seq COLUMNS * EXCEPT (op, seq, _rescued_data);\n"
           "CREATE OR REFRESH STREAMING TABLE dim2;\n"
           "CREATE FLOW dim2_flow AS AUTO CDC INTO dim2 FROM STREAM(changes) KEYS (id)\n"
           "  APPLY AS DELETE WHEN op = 'DELETE' SEQUENCE BY seq COLUMNS * EXCEPT (op, seq, _rescued_data)\n"
           "  STORED AS SCD TYPE 2;\n"
           "CREATE OR REFRESH MATERIALIZED VIEW extremes AS SELECT grp, min(amount) AS lo, max(qty) AS hi, "
           "count(*) AS n, sum(qty) AS total FROM dim GROUP BY grp;\n"
           "CREATE OR REFRESH MATERIALIZED VIEW tags AS SELECT grp, count(DISTINCT tag) AS tags, sum(amount) AS amt, "
           "avg(amount) AS mean FROM dim WHERE qty > 2 GROUP BY grp;\n"
           "CREATE OR REFRESH MATERIALIZED VIEW upper_grp AS SELECT upper(grp) AS g, max(tag) AS top, count(*) AS n "
           "FROM dim GROUP BY upper(grp);\n"
           "CREATE OR REFRESH MATERIALIZED VIEW current2 AS SELECT grp, min(amount) AS lo, count(DISTINCT tag) AS tags, "
           "count(*) AS n FROM dim2 WHERE __END_AT IS NULL GROUP BY grp;\n"
           "CREATE OR REFRESH MATERIALIZED VIEW history2 AS SELECT grp, max(amount) AS hi, count(*) AS versions, "
           "min(__START_AT) AS first_seq FROM dim2 GROUP BY grp;\n");
  // The views' SELECTs for DuckDB, over `dim` / `dim2` bound to our tables' files.
  const std::map<std::string, std::pair<std::string, std::string>> views = {
      {"extremes", {"dim", "SELECT grp, min(amount) AS lo, max(qty) AS hi, count(*) AS n, sum(qty)::BIGINT AS total "
                           "FROM dim GROUP BY grp"}},
      {"tags", {"dim", "SELECT grp, count(DISTINCT tag) AS tags, sum(amount) AS amt, avg(amount) AS mean FROM dim "
                       "WHERE qty > 2 GROUP BY grp"}},
      {"upper_grp", {"dim", "SELECT upper(grp) AS g, max(tag) AS top, count(*) AS n FROM dim GROUP BY upper(grp)"}},
      {"current2", {"dim2", "SELECT grp, min(amount) AS lo, count(DISTINCT tag) AS tags, count(*) AS n FROM dim2 "
                            "WHERE __END_AT IS NULL GROUP BY grp"}},
      {"history2", {"dim2", "SELECT grp, max(amount) AS hi, count(*) AS versions, min(__START_AT) AS first_seq "
                            "FROM dim2 GROUP BY grp"}},
  };
  std::mt19937 rng(11);
  std::map<int64_t, bool> live;
  std::vector<int64_t> deleted;
  int64_t seq = 0;
  auto upsert = [&](int64_t id) {
    live[id] = true;
    // Amounts are multiples of 0.25 (exact in binary), so double sums do not depend on
    // the order of the additions.
    std::string amount = rng() % 9 == 0 ? "null" : std::to_string(static_cast<double>(rng() % 400) * 0.25);
    return "{\"id\":" + std::to_string(id) + ",\"grp\":\"g" + std::to_string(rng() % 40) + "\",\"tag\":\"t" +
           std::to_string(rng() % 6) + "\",\"qty\":" + std::to_string(rng() % 10) + ",\"amount\":" + amount +
           ",\"op\":\"UPSERT\",\"seq\":" + std::to_string(seq += 10) + "}\n";
  };
  auto remove = [&](int64_t id) {
    live[id] = false;
    deleted.push_back(id);
    return "{\"id\":" + std::to_string(id) + ",\"op\":\"DELETE\",\"seq\":" + std::to_string(seq += 10) + "}\n";
  };
  auto some_live = [&]() {
    int64_t id;
    do id = static_cast<int64_t>(rng() % 200); while (!live[id]);
    return id;
  };
  const int kRounds = 6;
  int recomputed_rounds = 0;
  for (int r = 0; r < kRounds; ++r) {
    std::string events;
    if (r == 0) {
      for (int64_t id = 0; id < 200; ++id) events += upsert(id);
    } else if (r < kRounds - 1) {
      // A few changes: an update, a delete, a re-insert of an earlier delete.
      events += upsert(some_live());
      events += remove(some_live());
      if (deleted.size() > 1) events += upsert(deleted[deleted.size() - 2]);
      if (r % 2 == 0) events += upsert(some_live());
    } else {
      // Most groups lose a row: the whole view is recomputed.
      for (int i = 0; i < 120; ++i) events += rng() % 3 == 0 ? remove(some_live()) : upsert(some_live());
    }
    ASSERT_TRUE(fs_->WriteFileAtomic(landing_ + "/r" + std::to_string(r) + ".json", events).ok());
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    ASSERT_TRUE(runner.ok()) << runner.status().ToString();
    auto report = (*runner)->RunOnce({});
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    for (const auto& t : report->tables) ASSERT_NE(t.status, "failed") << t.table << ": " << t.message;
    // Ours and DuckDB's, every view, in one DuckDB call: lines tagged `_side` (sorted
    // first among the columns), split apart here.
    std::string sql;
    for (const auto& [view, from_select] : views) {
      const auto& [table, select] = from_select;
      std::string dim = ReadOurs(table), ours = ReadOurs(view);
      ASSERT_FALSE(dim.empty());
      if (!ours.empty()) sql += " UNION ALL BY NAME SELECT 'o' AS _side, '" + view + "' AS _v, * FROM (" + ours + ")";
      sql += " UNION ALL BY NAME SELECT 'e' AS _side, '" + view + "' AS _v, * FROM (WITH " + table + " AS (" + dim +
             ") " + select + ")";
    }
    std::string all = Lines(sql.substr(std::string(" UNION ALL BY NAME ").size()));
    std::string ours, expected;
    for (size_t at = 0, end; at < all.size(); at = end + 1) {
      end = all.find('\n', at);
      std::string line = all.substr(at, end - at + 1);
      (line.rfind("_side=\"o\"|", 0) == 0 ? ours : expected) += line.substr(std::string("_side=\"o\"|").size());
    }
    EXPECT_FALSE(expected.empty());
    EXPECT_EQ(ours, expected) << "after round " << r;
    for (const auto& [view, from_select] : views) {
      EXPECT_NE(expected.find("_v=\"" + view + "\""), std::string::npos) << view;
      const TableReport* t = Find(*report, view);
      ASSERT_NE(t, nullptr) << view;
      if (r == 0) {
        EXPECT_EQ(t->technique, "incremental (initial)") << view;
      } else if (r < kRounds - 1) {
        // Never the whole view; `tags` (WHERE qty > 2) may lose no row in a round.
        EXPECT_EQ(t->technique.find("complete recompute"), std::string::npos) << view << ": " << t->technique;
        if (t->technique.find("recomputed)") != std::string::npos) {
          ++recomputed_rounds;
          EXPECT_NE(t->message.find("cannot take a value back"), std::string::npos) << t->message;
        }
        if (view == "extremes" || view == "upper_grp" || view == "history2" || view == "current2") {
          // Every round updates or deletes a live row: at least one group, and at most
          // the two each changed row touches.
          int n = 0;
          ASSERT_EQ(std::sscanf(t->technique.c_str(), "incremental (%d group", &n), 1) << view << ": " << t->technique;
          EXPECT_GE(n, 1);
          EXPECT_LE(n, 8);
        }
      } else {
        EXPECT_EQ(t->technique.rfind("complete recompute: ", 0), 0u) << view << ": " << t->technique;
        EXPECT_NE(t->technique.find("(more than half: the whole view is recomputed)"), std::string::npos)
            << view << ": " << t->technique;
      }
    }
    if (r == 1) {
      // The technique is in the view's commit too.
      auto table = delta::DeltaTable::Open(dir_.Join("storage/extremes"));
      ASSERT_TRUE(table.ok());
      auto history = (*table)->History(1);
      ASSERT_TRUE(history.ok() && !history->empty());
      EXPECT_NE(history->front().commit_info.find(" recomputed)\""), std::string::npos)
          << history->front().commit_info;
    }
  }
  EXPECT_GE(recomputed_rounds, 16);
}

// A group key that is a table column lets the recompute skip the files whose add.stats
// show none of the groups: rows deleted from one file of an append-only table (`lakepipe
// table delete`) recompute their groups from that file alone; a computed key reads every
// file. Both equal DuckDB's aggregate over the rows left.
TEST_F(MaterializedViewOverChangesTest, RecomputedGroupsReadOnlyTheFilesThatHoldThem) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  Pipeline("CREATE OR REFRESH STREAMING TABLE facts AS SELECT * FROM STREAM read_files('${landing}', "
           "format => 'json', schema => 'id BIGINT, grp BIGINT, amount DOUBLE');\n"
           "CREATE OR REFRESH MATERIALIZED VIEW by_grp AS SELECT grp, min(amount) AS lo, max(amount) AS hi, "
           "count(*) AS n FROM facts GROUP BY grp;\n"
           "CREATE OR REFRESH MATERIALIZED VIEW by_rest AS SELECT grp % 4 AS rest, max(amount) AS hi, "
           "count(*) AS n FROM facts GROUP BY grp % 4;\n");
  auto run = [&]() -> std::map<std::string, TableReport> {
    std::map<std::string, TableReport> out;
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    if (!runner.ok()) return out;
    auto report = (*runner)->RunOnce({});
    EXPECT_TRUE(report.ok() && report->ok());
    if (report.ok())
      for (const auto& t : report->tables) out[t.table] = t;
    return out;
  };
  // Four files of 10 groups each (file f: groups 10f..10f+9), one commit each.
  for (int f = 0; f < 4; ++f) {
    std::string rows;
    for (int i = 0; i < 50; ++i) {
      int64_t id = f * 100 + i;
      rows += "{\"id\":" + std::to_string(id) + ",\"grp\":" + std::to_string(f * 10 + i % 10) +
              ",\"amount\":" + std::to_string((id * 37 % 101) * 0.5) + "}\n";
    }
    ASSERT_TRUE(fs_->WriteFileAtomic(landing_ + "/f" + std::to_string(f) + ".json", rows).ok());
    run();
  }
  // Delete two rows of file 2 (groups 21 and 23).
  auto table = delta::DeltaTable::Open(dir_.Join("storage/facts"));
  ASSERT_TRUE(table.ok());
  auto deleted = delta::DeleteRows(
      **table, {},
      [](const RecordBatch& rows) -> Result<std::vector<uint8_t>> {
        std::vector<uint8_t> mask(static_cast<size_t>(rows.num_rows()));
        const Column* id = rows.ColumnByName("id");
        for (int64_t r = 0; r < rows.num_rows(); ++r) mask[r] = id->Get<int64_t>(r) == 201 || id->Get<int64_t>(r) == 213;
        return mask;
      },
      "id IN (201, 213)", {});
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  auto reports = run();
  ASSERT_TRUE(reports.count("by_grp") && reports.count("by_rest"));
  EXPECT_EQ(reports["by_grp"].technique, "incremental (2 groups recomputed)") << reports["by_grp"].message;
  EXPECT_NE(reports["by_grp"].message.find("(1 of 4 files read)"), std::string::npos) << reports["by_grp"].message;
  // Groups 21 % 4 and 23 % 4 of four: half, not more, so they are recomputed alone.
  EXPECT_EQ(reports["by_rest"].technique, "incremental (2 groups recomputed)") << reports["by_rest"].message;
  EXPECT_NE(reports["by_rest"].message.find("(4 of 4 files read)"), std::string::npos) << reports["by_rest"].message;
  const std::string facts = ReadOurs("facts");
  EXPECT_EQ(Lines(ReadOurs("by_grp")),
            Lines("WITH facts AS (" + facts + ") SELECT grp, min(amount) AS lo, max(amount) AS hi, count(*) AS n "
                  "FROM facts GROUP BY grp"));
  EXPECT_EQ(Lines(ReadOurs("by_rest")),
            Lines("WITH facts AS (" + facts + ") SELECT grp % 4 AS rest, max(amount) AS hi, count(*) AS n "
                  "FROM facts GROUP BY grp % 4"));
  EXPECT_EQ(Lines("WITH facts AS (" + facts + ") SELECT count(*) AS n FROM facts"), "n=\"198\"|\n");
}

// count(DISTINCT) views keep their (group, value) pairs on disk (docs/checkpoint.md,
// "Distinct pairs"). With `lakepipe.seenKeysMemory: 1` every batch's pending pairs spill
// to runs; over an append-only table (many distinct values) and over an AUTO CDC target
// whose updates and deletes make groups be recomputed (their pairs removed and put back),
// each view equals DuckDB's SELECT over the table's current files after every round — each
// round a new process (a restart between batches) — and a pipeline that reads all the
// rounds' files in one run gives the same views.
TEST_F(MaterializedViewOverChangesTest, DistinctPairsSpilledAndRecomputedEqualDuckDBAndOneRun) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  const std::string sql =
      "CREATE OR REFRESH STREAMING TABLE changes AS SELECT * FROM STREAM read_files('${landing}', "
      "format => 'json', schema => 'id BIGINT, grp STRING, tag STRING, qty BIGINT, op STRING, seq BIGINT');\n"
      "CREATE OR REFRESH STREAMING TABLE dim;\n"
      "CREATE FLOW dim_flow AS AUTO CDC INTO dim FROM STREAM(changes) KEYS (id)\n"
      "  APPLY AS DELETE WHEN op = 'DELETE' SEQUENCE BY seq COLUMNS * EXCEPT (op, seq, _rescued_data);\n"
      "CREATE OR REFRESH MATERIALIZED VIEW dim_tags AS SELECT grp, count(DISTINCT tag) AS tags, "
      "count(DISTINCT qty) AS qtys, count(*) AS n FROM dim GROUP BY grp;\n"
      "CREATE OR REFRESH MATERIALIZED VIEW all_tags AS SELECT grp, count(DISTINCT tag) AS tags, "
      "count(DISTINCT id) AS ids, count(*) AS n FROM changes WHERE op = 'UPSERT' GROUP BY grp;\n"
      "CREATE OR REFRESH MATERIALIZED VIEW kpis AS SELECT count(DISTINCT tag) AS tags, count(DISTINCT grp) AS grps, "
      "count(*) AS n FROM changes;\n";
  const std::map<std::string, std::pair<std::string, std::string>> views = {
      {"dim_tags", {"dim", "SELECT grp, count(DISTINCT tag) AS tags, count(DISTINCT qty) AS qtys, count(*) AS n "
                           "FROM dim GROUP BY grp"}},
      {"all_tags", {"changes", "SELECT grp, count(DISTINCT tag) AS tags, count(DISTINCT id) AS ids, count(*) AS n "
                               "FROM changes WHERE op = 'UPSERT' GROUP BY grp"}},
      {"kpis", {"changes", "SELECT count(DISTINCT tag) AS tags, count(DISTINCT grp) AS grps, count(*) AS n "
                           "FROM changes"}},
  };
  // Ours and DuckDB's lines of every view, read from the tables under `storage`.
  // One DuckDB call: lines tagged `_side` (sorted first among the columns), split here.
  auto compare = [&](const std::string& storage, const std::string& when) {
    std::string sql;
    for (const auto& [view, from_select] : views) {
      const auto& [table, select] = from_select;
      const std::string input = ReadOurs(table, storage), out = ReadOurs(view, storage);
      ASSERT_FALSE(input.empty()) << table;
      ASSERT_FALSE(out.empty()) << view;
      sql += " UNION ALL BY NAME SELECT 'o' AS _side, '" + view + "' AS _v, * FROM (" + out + ")";
      sql += " UNION ALL BY NAME SELECT 'e' AS _side, '" + view + "' AS _v, * FROM (WITH " + table + " AS (" + input +
             ") " + select + ")";
    }
    const std::string all = Lines(sql.substr(std::string(" UNION ALL BY NAME ").size()));
    std::string ours, expected;
    for (size_t at = 0, end; at < all.size(); at = end + 1) {
      end = all.find('\n', at);
      std::string line = all.substr(at, end - at + 1);
      (line.rfind("_side=\"o\"|", 0) == 0 ? ours : expected) += line.substr(std::string("_side=\"o\"|").size());
    }
    EXPECT_NE(expected.find("_v=\"kpis\""), std::string::npos) << when;
    EXPECT_EQ(ours, expected) << when;
  };
  Pipeline(sql, "p", "storage", "lakepipe.seenKeysMemory: 1");
  std::mt19937 rng(23);
  std::map<int64_t, bool> live;
  int64_t seq = 0, next_id = 0;
  auto upsert = [&](int64_t id) {
    live[id] = true;
    return "{\"id\":" + std::to_string(id) + ",\"grp\":\"g" + std::to_string(rng() % 12) + "\",\"tag\":" +
           (rng() % 40 == 0 ? std::string("null") : "\"t" + std::to_string(rng() % 3000) + "\"") +
           ",\"qty\":" + std::to_string(rng() % 300) + ",\"op\":\"UPSERT\",\"seq\":" + std::to_string(seq += 10) + "}\n";
  };
  auto remove = [&](int64_t id) {
    live[id] = false;
    return "{\"id\":" + std::to_string(id) + ",\"op\":\"DELETE\",\"seq\":" + std::to_string(seq += 10) + "}\n";
  };
  auto some_live = [&]() {
    int64_t id;
    do id = static_cast<int64_t>(rng() % static_cast<uint64_t>(next_id)); while (!live[id]);
    return id;
  };
  const int kRounds = 6;
  int recomputed = 0;
  for (int r = 0; r < kRounds; ++r) {
    std::string events;
    const int appended = r == 0 ? 4000 : 800;
    for (int i = 0; i < appended; ++i) events += upsert(next_id++);
    // Updates (a row may move to another group) and deletes of earlier rows; the last
    // round touches most groups (the whole view is recomputed).
    const int touched = r == 0 ? 0 : (r == kRounds - 1 ? 300 : 3);
    for (int i = 0; i < touched; ++i) events += i % 3 == 0 ? remove(some_live()) : upsert(some_live());
    ASSERT_TRUE(fs_->WriteFileAtomic(landing_ + "/r" + std::to_string(r) + ".json", events).ok());
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    ASSERT_TRUE(runner.ok()) << runner.status().ToString();
    auto report = (*runner)->RunOnce({});
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    for (const auto& t : report->tables) {
      ASSERT_NE(t.status, "failed") << t.table << ": " << t.message;
      if (t.table == "dim_tags" && t.technique.find("recomputed)") != std::string::npos) ++recomputed;
      if (t.table == "all_tags" || t.table == "kpis") EXPECT_EQ(t.technique.rfind("incremental", 0), 0u) << t.technique;
    }
    compare("storage", "after round " + std::to_string(r));
  }
  EXPECT_GE(recomputed, 3);  // rounds 1..4 recompute a few of dim_tags' groups
  // The same files in one run, with the default budget.
  Pipeline(sql, "one", "storage-one");
  auto runner = PipelineRunner::Open(dir_.Join("one"), {});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  auto report = (*runner)->RunOnce({});
  ASSERT_TRUE(report.ok() && report->ok());
  compare("storage-one", "one run");
}

}  // namespace
}  // namespace lakepipe::runtime
