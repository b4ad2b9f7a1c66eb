// AUTO CDC end to end: a generated change stream of customers (inserts, updates, deletes,
// re-inserts after deletes, late events older than a delete, a truncate) delivered in
// order, shuffled within micro-batches and shuffled across micro-batches. The SCD type 1
// table must equal "the event with the highest sequence per key after the last
// truncate, minus deleted keys", computed by DuckDB over the whole stream — and every
// version of the table (time travel) must equal that over the batches delivered so far.
// A second stream, of products (a composite key of an INT and a STRING, a TIMESTAMP
// sequence), is delivered the same ways into an SCD type 1 and an SCD type 2 table
// (ProductsTest); tests/crash/cdc_kill.mjs adds SIGKILLs for both streams.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <set>
#include <map>
#include <random>

#include "delta/table.h"
#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

struct Event {
  int64_t id;
  std::string name;  // "" = NULL
  std::string city;
  std::string op;    // UPSERT, DELETE, TRUNCATE
  int64_t seq;
};

std::string ToJson(const Event& e) {
  auto str = [](const std::string& s) { return s.empty() ? std::string("null") : "\"" + s + "\""; };
  return "{\"id\":" + (e.op == "TRUNCATE" ? std::string("null") : std::to_string(e.id)) + ",\"name\":" + str(e.name) +
         ",\"city\":" + str(e.city) + ",\"op\":\"" + e.op + "\",\"seq\":" + std::to_string(e.seq) + "}\n";
}

// Events in delivery order: sequences increase with time, but about one event in eight
// arrives up to 60 positions late (so some updates come after a later delete of their key).
std::vector<Event> GenerateStream(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Event> by_seq;
  std::map<int64_t, bool> live;
  const int kEvents = 600;
  for (int64_t seq = 1; seq <= kEvents; ++seq) {
    Event e;
    e.seq = seq * 10;
    if (seq == kEvents * 7 / 10) {
      e.id = 0;
      e.op = "TRUNCATE";
      live.clear();
      by_seq.push_back(e);
      continue;
    }
    e.id = static_cast<int64_t>(rng() % 60);
    bool is_live = live[e.id];
    if (is_live && rng() % 4 == 0) {
      e.op = "DELETE";
      live[e.id] = false;
    } else {
      e.op = "UPSERT";  // insert, update, or re-insert after a delete
      e.name = rng() % 9 == 0 ? "" : "n" + std::to_string(seq);
      e.city = "c" + std::to_string(rng() % 7);
      live[e.id] = true;
    }
    by_seq.push_back(e);
  }
  std::vector<std::pair<int64_t, Event>> positioned;
  for (size_t i = 0; i < by_seq.size(); ++i) {
    int64_t pos = static_cast<int64_t>(i) * 100;
    if (rng() % 8 == 0) pos += static_cast<int64_t>(rng() % 60) * 100 + 50;
    positioned.push_back({pos, by_seq[i]});
  }
  std::stable_sort(positioned.begin(), positioned.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Event> out;
  for (auto& p : positioned) out.push_back(p.second);
  return out;
}

enum class Delivery { kInOrder, kShuffledWithinBatches, kShuffledAcrossBatches };

class ApplyChangesTest : public ::testing::TestWithParam<Delivery> {
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

  static std::string Sql(const std::string& extra = "") {
    return "CREATE OR REFRESH STREAMING TABLE changes AS SELECT * FROM STREAM read_files('${landing}', "
           "format => 'json', schema => 'id BIGINT, name STRING, city STRING, op STRING, seq BIGINT');\n"
           "CREATE OR REFRESH STREAMING TABLE dim;\n"
           "CREATE FLOW dim_flow AS AUTO CDC INTO dim FROM STREAM(changes) KEYS (id)\n"
           "  APPLY AS DELETE WHEN op = 'DELETE' APPLY AS TRUNCATE WHEN op = 'TRUNCATE'\n"
           "  SEQUENCE BY seq COLUMNS * EXCEPT (op, seq, _rescued_data)" + extra + ";\n";
  }

  // The table's rows at `version` as sorted "id|name|city" lines.
  std::vector<std::string> TableRows(int64_t version) {
    auto table = delta::DeltaTable::Open(dir_.Join("storage/dim"));
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    auto snap = (*table)->AtVersion(version);
    EXPECT_TRUE(snap.ok()) << snap.status().ToString();
    auto scan = delta::Scan::Plan(*snap, {});
    auto all = scan->ReadAll();
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    std::vector<std::string> out;
    for (int64_t r = 0; r < all->num_rows(); ++r) {
      auto v = [&](const char* c) {
        Value x = all->ColumnByName(c)->GetValue(r);
        return x.is_null() ? std::string("NULL") : x.ToString();
      };
      out.push_back(v("id") + "|" + v("name") + "|" + v("city"));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // DuckDB's SCD type 1 over the events in `file`.
  static std::vector<std::string> Expected(const std::string& file) {
    auto rows = testing::DuckDBRows(
        "WITH ev AS (SELECT * FROM read_json('" + file +
        "', columns = {id: 'BIGINT', name: 'VARCHAR', city: 'VARCHAR', op: 'VARCHAR', seq: 'BIGINT'})),\n"
        "t AS (SELECT coalesce(max(seq) FILTER (WHERE op = 'TRUNCATE'), -1) AS tseq FROM ev),\n"
        "last AS (SELECT ev.* FROM ev, t WHERE op <> 'TRUNCATE' AND seq > tseq\n"
        "         QUALIFY row_number() OVER (PARTITION BY id ORDER BY seq DESC) = 1)\n"
        "SELECT CAST(id AS VARCHAR) || '|' || coalesce(name, 'NULL') || '|' || coalesce(city, 'NULL') AS line\n"
        "FROM last WHERE op <> 'DELETE' ORDER BY line");
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r["line"].get<std::string>());
    std::sort(out.begin(), out.end());
    return out;
  }

  // Delivers `events` as `batches` landing files (shuffled as GetParam() says), one
  // RunOnce each; writes upto-<b>.json (everything delivered so far) for the expected
  // results, and returns the version of `dim` after each batch.
  std::vector<int64_t> DeliverInBatches(const std::vector<Event>& events, size_t batches, std::mt19937& rng) {
    std::vector<std::string> lines;
    for (const auto& e : events) lines.push_back(ToJson(e));
    return DeliverLines(std::move(lines), batches, rng, "dim");
  }

  // The same for JSON lines of any shape; returns the version of `table` after each batch
  // (also written to *all_versions per table, when given).
  std::vector<int64_t> DeliverLines(std::vector<std::string> events, size_t batches, std::mt19937& rng,
                                    const std::string& table,
                                    std::map<std::string, std::vector<int64_t>>* all_versions = nullptr) {
    if (GetParam() == Delivery::kShuffledAcrossBatches) std::shuffle(events.begin(), events.end(), rng);
    size_t per = (events.size() + batches - 1) / batches;
    std::vector<int64_t> versions;
    std::string delivered;
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    if (!runner.ok()) return versions;
    for (size_t b = 0; b < batches; ++b) {
      std::vector<std::string> batch(events.begin() + static_cast<long>(std::min(events.size(), b * per)),
                                     events.begin() + static_cast<long>(std::min(events.size(), (b + 1) * per)));
      if (GetParam() == Delivery::kShuffledWithinBatches) std::shuffle(batch.begin(), batch.end(), rng);
      std::string text;
      for (const auto& e : batch) text += e;
      delivered += text;
      char name[32];
      std::snprintf(name, sizeof name, "%04zu.json", b);
      EXPECT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, name), text).ok());
      EXPECT_TRUE(fs_->WriteFile(dir_.Join("upto-" + std::to_string(b) + ".json"), delivered).ok());
      auto report = (*runner)->RunOnce({});
      EXPECT_TRUE(report.ok()) << report.status().ToString();
      if (!report.ok()) return versions;
      EXPECT_TRUE(report->ok()) << report->tables.back().message;
      if (!report->ok()) return versions;
      int64_t v = -1;
      for (const auto& t : report->tables) {
        if (t.table == table) v = t.table_version;
        if (all_versions != nullptr) (*all_versions)[t.table].push_back(t.table_version);
      }
      EXPECT_GE(v, 0);
      versions.push_back(v);
    }
    return versions;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
};

TEST_P(ApplyChangesTest, Scd1EqualsHighestSequencePerKeyAtEveryVersion) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  Pipeline(Sql());
  std::mt19937 rng(11);
  const size_t kBatches = 8;
  std::vector<int64_t> versions = DeliverInBatches(GenerateStream(7), kBatches, rng);
  ASSERT_EQ(versions.size(), kBatches);
  // Versions are contiguous: one commit per micro-batch (after the CREATE TABLE).
  for (size_t b = 1; b < versions.size(); ++b) EXPECT_EQ(versions[b], versions[b - 1] + 1);
  // The final table, then time travel to every batch's version.
  auto final_rows = TableRows(versions.back());
  auto expected = Expected(dir_.Join("upto-" + std::to_string(kBatches - 1) + ".json"));
  EXPECT_GT(expected.size(), 5u);
  EXPECT_EQ(final_rows, expected);
  for (size_t b = 0; b + 1 < kBatches; ++b) {
    EXPECT_EQ(TableRows(versions[b]), Expected(dir_.Join("upto-" + std::to_string(b) + ".json"))) << "batch " << b;
  }
  // DuckDB reads the data files of the last version and finds the same rows.
  auto table = delta::DeltaTable::Open(dir_.Join("storage/dim"));
  auto snap = (*table)->Latest();
  std::string files;
  for (const auto& f : (*snap)->files()) files += (files.empty() ? "'" : ", '") + f.full_path + "'";
  if (!files.empty()) {
    auto n = testing::DuckDBRows("SELECT count(*)::INTEGER AS n FROM read_parquet([" + files + "])");
    ASSERT_EQ(n.size(), 1u);
    EXPECT_EQ(n[0]["n"].get<int64_t>(), static_cast<int64_t>(expected.size()));
  }
  // Running again (a new process) with nothing new changes nothing.
  auto runner = PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  auto again = (*runner)->RunOnce({});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*(*table)->LatestVersion(), versions.back());
}

INSTANTIATE_TEST_SUITE_P(Deliveries, ApplyChangesTest,
                         ::testing::Values(Delivery::kInOrder, Delivery::kShuffledWithinBatches,
                                           Delivery::kShuffledAcrossBatches),
                         [](const auto& info) {
                           switch (info.param) {
                             case Delivery::kInOrder: return std::string("InOrder");
                             case Delivery::kShuffledWithinBatches: return std::string("ShuffledWithinBatches");
                             case Delivery::kShuffledAcrossBatches: return std::string("ShuffledAcrossBatches");
                           }
                           return std::string("?");
                         });

class ApplyChangesErrorsTest : public ApplyChangesTest {};

TEST_F(ApplyChangesErrorsTest, DuplicateSequencesAndNullSequencesAreErrorsNamingTheKey) {
  Pipeline(Sql());
  auto runner = PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_TRUE(runner.ok());
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, "0.json"),
                                   ToJson({1, "a", "x", "UPSERT", 5}) + ToJson({1, "b", "x", "UPSERT", 5}))
                  .ok());
  auto r = (*runner)->RunOnce({});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok());
  std::string msg;
  for (const auto& t : r->tables)
    if (t.table == "dim") msg = t.message;
  EXPECT_NE(msg.find("id = 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("same SEQUENCE BY"), std::string::npos) << msg;
}

TEST_F(ApplyChangesErrorsTest, IdenticalRepeatsAreIgnoredAndNullSequenceIsAnError) {
  Pipeline(Sql());
  auto runner = PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_TRUE(runner.ok());
  std::string e1 = ToJson({1, "a", "x", "UPSERT", 5});
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, "0.json"), e1 + e1 + ToJson({2, "b", "y", "UPSERT", 6})).ok());
  auto r = (*runner)->RunOnce({});
  ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->tables.back().message : r.status().ToString());
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, "1.json"), "{\"id\":3,\"name\":\"c\",\"op\":\"UPSERT\"}\n").ok());
  r = (*runner)->RunOnce({});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok());
  std::string msg;
  for (const auto& t : r->tables)
    if (t.table == "dim") msg = t.message;
  EXPECT_NE(msg.find("id = 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("is NULL"), std::string::npos) << msg;
}

TEST_F(ApplyChangesErrorsTest, IgnoreNullUpdatesKeepsValuesAcrossBatches) {
  Pipeline(Sql("\n  IGNORE NULL UPDATES"));
  // IGNORE NULL UPDATES is a clause before SEQUENCE BY in Databricks; any order is accepted.
  auto runner = PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, "0.json"),
                                   ToJson({1, "a", "x", "UPSERT", 1}) + ToJson({2, "b", "y", "UPSERT", 2}))
                  .ok());
  ASSERT_TRUE((*runner)->RunOnce({}).ok());
  // Same batch: two partial updates of key 1; key 2 deleted then re-inserted without a
  // city (nothing is kept across a delete).
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, "1.json"),
                                   ToJson({1, "", "z", "UPSERT", 3}) + ToJson({1, "", "", "UPSERT", 4}) +
                                       ToJson({2, "", "", "DELETE", 5}) + ToJson({2, "b2", "", "UPSERT", 6}))
                  .ok());
  auto r = (*runner)->RunOnce({});
  ASSERT_TRUE(r.ok() && r->ok());
  auto rows = TableRows(*(*delta::DeltaTable::Open(dir_.Join("storage/dim")))->LatestVersion());
  EXPECT_EQ(rows, (std::vector<std::string>{"1|a|z", "2|b2|NULL"}));
}

TEST_F(ApplyChangesErrorsTest, QuarantinedChangeEventsAreNotApplied) {
  std::string sql = Sql();
  const std::string bare = "CREATE OR REFRESH STREAMING TABLE dim;";
  sql.replace(sql.find(bare), bare.size(),
              "CREATE OR REFRESH STREAMING TABLE dim (CONSTRAINT named EXPECT (name IS NOT NULL OR city IS NULL) "
              "ON VIOLATION QUARANTINE);");
  Pipeline(sql);
  auto runner = PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, "0.json"),
                                   ToJson({1, "a", "x", "UPSERT", 1}) + ToJson({2, "", "y", "UPSERT", 2}) +
                                       ToJson({1, "", "z", "UPSERT", 3}) + ToJson({3, "c", "w", "UPSERT", 4}) +
                                       ToJson({3, "", "", "DELETE", 5}))
                  .ok());
  auto r = (*runner)->RunOnce({});
  ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->tables.back().message : r.status().ToString());
  EXPECT_EQ(TableRows(*(*delta::DeltaTable::Open(dir_.Join("storage/dim")))->LatestVersion()),
            (std::vector<std::string>{"1|a|x"}));
  auto q = delta::DeltaTable::Open(dir_.Join("storage/dim_quarantine"));
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  auto rows = delta::Scan::Plan(*(*q)->Latest(), {})->ReadAll();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->num_rows(), 2);  // the change events of keys 2 and 1 without a name
  EXPECT_NE(rows->schema().FindField("seq"), -1);  // the change event's columns
}

TEST_F(ApplyChangesErrorsTest, AutoCdcOnceRunsOneTimeOverItsSourceAndAgainAfterAFullRefresh) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  // A table written only by an AUTO CDC ONCE flow over a batch source (a backfill).
  Pipeline("CREATE OR REFRESH MATERIALIZED VIEW history AS SELECT * FROM read_files('${landing}', "
           "format => 'json', schema => 'id BIGINT, name STRING, city STRING, op STRING, seq BIGINT');\n"
           "CREATE OR REFRESH STREAMING TABLE dim;\n"
           "CREATE FLOW backfill AS AUTO CDC ONCE INTO dim FROM history KEYS (id)\n"
           "  APPLY AS DELETE WHEN op = 'DELETE' APPLY AS TRUNCATE WHEN op = 'TRUNCATE'\n"
           "  SEQUENCE BY seq COLUMNS * EXCEPT (op, seq, _rescued_data);\n");
  std::vector<Event> events = GenerateStream(3);
  std::string first, all;
  for (size_t i = 0; i < events.size(); ++i) (i < events.size() / 2 ? first : all) += ToJson(events[i]);
  all = first + all;
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, "0.json"), first).ok());
  ASSERT_TRUE(fs_->WriteFile(dir_.Join("first.json"), first).ok());
  ASSERT_TRUE(fs_->WriteFile(dir_.Join("all.json"), all).ok());
  auto run = [&](const RunOptions& options) {
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    ASSERT_TRUE(runner.ok()) << runner.status().ToString();
    auto r = (*runner)->RunOnce(options);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (const auto& t : r->tables) ASSERT_NE(t.status, "failed") << t.table << ": " << t.message;
  };
  run({});
  auto table = delta::DeltaTable::Open(dir_.Join("storage/dim"));
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  int64_t v = *(*table)->LatestVersion();
  auto expected_first = Expected(dir_.Join("first.json"));
  EXPECT_GT(expected_first.size(), 5u);
  EXPECT_EQ(TableRows(v), expected_first);
  // More history arrives: the ONCE flow has run, so nothing changes, in this process or the next.
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, "1.json"), all.substr(first.size())).ok());
  run({});
  run({});
  EXPECT_EQ(*(*table)->LatestVersion(), v);
  // A full refresh runs it again over its whole source.
  RunOptions refresh;
  refresh.full_refresh = {"dim"};
  run(refresh);
  auto expected_all = Expected(dir_.Join("all.json"));
  EXPECT_NE(expected_all, expected_first);
  EXPECT_EQ(TableRows(*(*table)->LatestVersion()), expected_all);
}

// ---- SCD type 2 ----------------------------------------------------------------------

class Scd2Test : public ApplyChangesTest {
 protected:
  static std::string Sql2(const std::string& extra = " TRACK HISTORY ON * EXCEPT (city)") {
    return "CREATE OR REFRESH STREAMING TABLE changes AS SELECT * FROM STREAM read_files('${landing}', "
           "format => 'json', schema => 'id BIGINT, name STRING, city STRING, op STRING, seq BIGINT');\n"
           "CREATE OR REFRESH STREAMING TABLE dim;\n"
           "CREATE FLOW dim_flow AS AUTO CDC INTO dim FROM STREAM(changes) KEYS (id)\n"
           "  APPLY AS DELETE WHEN op = 'DELETE' SEQUENCE BY seq COLUMNS * EXCEPT (op, seq, _rescued_data)\n"
           "  STORED AS SCD TYPE 2" + extra + ";\n";
  }

  // The table's rows at `version` as sorted "id|name|city|start|end" lines.
  std::vector<std::string> HistoryRows(int64_t version) {
    auto table = delta::DeltaTable::Open(dir_.Join("storage/dim"));
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    auto snap = (*table)->AtVersion(version);
    EXPECT_TRUE(snap.ok()) << snap.status().ToString();
    auto all = delta::Scan::Plan(*snap, {})->ReadAll();
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    std::vector<std::string> out;
    for (int64_t r = 0; r < all->num_rows(); ++r) {
      std::string line;
      for (const char* c : {"id", "name", "city", "__START_AT", "__END_AT"}) {
        Value x = all->ColumnByName(c)->GetValue(r);
        line += (line.empty() ? "" : "|") + (x.is_null() ? std::string("NULL") : x.ToString());
      }
      out.push_back(line);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // DuckDB's SCD type 2 over the events in `file`, written independently of lakepipe's
  // algorithm: sort each key's events by seq; a delete, or an upsert whose tracked columns
  // differ from the previous event's (or that follows a delete or nothing), starts a new
  // group; a group that starts with an upsert is a version from its first seq to the next
  // group's, holding the tracked values of its first event and the untracked values of its
  // last. `tracked_differs` compares an event with the previous one (`p_` columns).
  static std::vector<std::string> ExpectedHistory(const std::string& file, const std::string& tracked_differs) {
    auto rows = testing::DuckDBRows(
        "WITH ev AS (SELECT * FROM read_json('" + file +
        "', columns = {id: 'BIGINT', name: 'VARCHAR', city: 'VARCHAR', op: 'VARCHAR', seq: 'BIGINT'})),\n"
        "d AS (SELECT DISTINCT * FROM ev),\n"
        "o AS (SELECT *, lag(op) OVER w AS p_op, lag(name) OVER w AS p_name, lag(city) OVER w AS p_city\n"
        "      FROM d WINDOW w AS (PARTITION BY id ORDER BY seq)),\n"
        "b AS (SELECT *, CASE WHEN op = 'DELETE' OR p_op IS NULL OR p_op = 'DELETE' OR (" + tracked_differs +
        ") THEN 1 ELSE 0 END AS starts FROM o),\n"
        "g AS (SELECT *, sum(starts) OVER (PARTITION BY id ORDER BY seq ROWS UNBOUNDED PRECEDING) AS grp FROM b),\n"
        "v AS (SELECT id, grp, min(seq) AS s, first(op ORDER BY seq) AS first_op, first(name ORDER BY seq) AS name,\n"
        "             last(city ORDER BY seq) AS city FROM g GROUP BY id, grp),\n"
        "h AS (SELECT *, lead(s) OVER (PARTITION BY id ORDER BY grp) AS e FROM v)\n"
        "SELECT CAST(id AS VARCHAR) || '|' || coalesce(name, 'NULL') || '|' || coalesce(city, 'NULL') || '|' ||\n"
        "       CAST(s AS VARCHAR) || '|' || coalesce(CAST(e AS VARCHAR), 'NULL') AS line\n"
        "FROM h WHERE first_op = 'UPSERT' ORDER BY line");
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r["line"].get<std::string>());
    std::sort(out.begin(), out.end());
    return out;
  }
};

TEST_P(Scd2Test, HistoryEqualsDuckDBOverTheWholeStreamAtEveryVersion) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  Pipeline(Sql2());
  std::vector<Event> events;
  for (const auto& e : GenerateStream(5))
    if (e.op != "TRUNCATE") events.push_back(e);  // type 2 keeps history; no truncates
  // A redelivered event (an identical repeat, here in a later batch) changes nothing.
  events.push_back(events[events.size() / 3]);
  std::mt19937 rng(13);
  const size_t kBatches = 7;
  std::vector<int64_t> versions = DeliverInBatches(events, kBatches, rng);
  ASSERT_EQ(versions.size(), kBatches);
  for (size_t b = 1; b < versions.size(); ++b) EXPECT_EQ(versions[b], versions[b - 1] + 1);
  const std::string differs = "name IS DISTINCT FROM p_name";
  auto expected = ExpectedHistory(dir_.Join("upto-" + std::to_string(kBatches - 1) + ".json"), differs);
  EXPECT_GT(expected.size(), 100u);
  // The stream must exercise what it claims: closed versions, deleted keys, in-place updates.
  size_t closed = 0;
  for (const auto& l : expected) closed += l.substr(l.rfind('|')) != "|NULL";
  EXPECT_GT(closed, 50u);
  EXPECT_EQ(HistoryRows(versions.back()), expected);
  for (size_t b = 0; b + 1 < kBatches; ++b) {
    EXPECT_EQ(HistoryRows(versions[b]), ExpectedHistory(dir_.Join("upto-" + std::to_string(b) + ".json"), differs))
        << "batch " << b;
  }
}

INSTANTIATE_TEST_SUITE_P(Deliveries, Scd2Test,
                         ::testing::Values(Delivery::kInOrder, Delivery::kShuffledWithinBatches,
                                           Delivery::kShuffledAcrossBatches),
                         [](const auto& info) {
                           switch (info.param) {
                             case Delivery::kInOrder: return std::string("InOrder");
                             case Delivery::kShuffledWithinBatches: return std::string("ShuffledWithinBatches");
                             case Delivery::kShuffledAcrossBatches: return std::string("ShuffledAcrossBatches");
                           }
                           return std::string("?");
                         });

// Two AUTO CDC flows into one target (two change sources of one dimension), each with its
// own checkpoint and appId, sharing the target's per-key state: the table equals DuckDB's
// SCD over the union of both streams whatever the interleaving of the flows' batches.
class TwoCdcFlowsTest : public Scd2Test {
 protected:
  static std::string TwoFlows(const std::string& clauses) {
    std::string out;
    for (const char* s : {"a", "b"}) {
      out += std::string("CREATE OR REFRESH STREAMING TABLE changes_") + s + " AS SELECT * FROM STREAM read_files('${" +
             s + "}', format => 'json', schema => 'id BIGINT, name STRING, city STRING, op STRING, seq BIGINT');\n";
    }
    out += "CREATE OR REFRESH STREAMING TABLE dim;\n";
    for (const char* s : {"a", "b"}) {
      out += std::string("CREATE FLOW from_") + s + " AS AUTO CDC INTO dim FROM STREAM(changes_" + s +
             ") KEYS (id)\n  " + clauses + ";\n";
    }
    return out;
  }

  // Delivers chunks[source][round] in `order` (pairs of source, round), one RunOnce per
  // step, into storage `storage`; returns the dim rows of the last version.
  std::vector<std::string> Deliver(const std::string& storage, const std::vector<std::vector<std::string>>& chunks,
                                   const std::vector<std::vector<std::pair<int, int>>>& steps, bool history) {
    std::string a = dir_.Join(storage + "-a"), b = dir_.Join(storage + "-b");
    EXPECT_TRUE(fs_->CreateDirs(a).ok());
    EXPECT_TRUE(fs_->CreateDirs(b).ok());
    std::map<std::string, std::string> overrides = {{"storage", dir_.Join(storage)}, {"a", a}, {"b", b}};
    for (const auto& step : steps) {
      for (const auto& [src, round] : step) {
        EXPECT_TRUE(fs_->WriteFileAtomic(JoinPath(src == 0 ? a : b, std::to_string(round) + ".json"),
                                         chunks[static_cast<size_t>(src)][static_cast<size_t>(round)])
                        .ok());
      }
      auto runner = PipelineRunner::Open(dir_.Join("p"), overrides);
      EXPECT_TRUE(runner.ok()) << runner.status().ToString();
      if (!runner.ok()) return {};
      auto r = (*runner)->RunOnce({});
      EXPECT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->tables.back().message : r.status().ToString());
    }
    std::string saved = dir_.Join("storage");
    auto table = delta::DeltaTable::Open(dir_.Join(storage + "/dim"));
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    if (!table.ok()) return {};
    int64_t v = *(*table)->LatestVersion();
    // TableRows / HistoryRows read storage/dim: point them at this storage.
    std::filesystem::remove_all(saved);
    std::filesystem::create_directory_symlink(dir_.Join(storage), saved);
    auto rows = history ? HistoryRows(v) : TableRows(v);
    std::filesystem::remove(saved);
    return rows;
  }

  // The events split at random between the two sources, each cut into `rounds` chunks.
  std::vector<std::vector<std::string>> Split(const std::vector<Event>& events, int rounds, std::string* all) {
    std::mt19937 rng(5);
    std::vector<std::vector<std::string>> chunks(2, std::vector<std::string>(static_cast<size_t>(rounds)));
    for (size_t i = 0; i < events.size(); ++i) {
      std::string line = ToJson(events[i]);
      *all += line;
      chunks[rng() % 2][i * static_cast<size_t>(rounds) / events.size()] += line;
    }
    return chunks;
  }

  static std::vector<std::vector<std::pair<int, int>>> Alternating(int rounds) {
    std::vector<std::vector<std::pair<int, int>>> steps;
    for (int r = 0; r < rounds; ++r) steps.push_back({{0, r}, {1, r}});
    return steps;
  }
  static std::vector<std::vector<std::pair<int, int>>> BThenA(int rounds) {
    std::vector<std::vector<std::pair<int, int>>> steps;
    for (int src : {1, 0})
      for (int r = 0; r < rounds; ++r) steps.push_back({{src, r}});
    return steps;
  }
};

TEST_F(TwoCdcFlowsTest, Scd1EqualsDuckDBOverBothStreamsWhateverTheInterleaving) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  Pipeline(TwoFlows("APPLY AS DELETE WHEN op = 'DELETE' APPLY AS TRUNCATE WHEN op = 'TRUNCATE' SEQUENCE BY seq "
                    "COLUMNS * EXCEPT (op, seq, _rescued_data)"));
  std::string all;
  const int kRounds = 4;
  auto chunks = Split(GenerateStream(17), kRounds, &all);
  ASSERT_TRUE(fs_->WriteFile(dir_.Join("all.json"), all).ok());
  auto expected = Expected(dir_.Join("all.json"));
  EXPECT_GT(expected.size(), 5u);
  EXPECT_EQ(Deliver("s1", chunks, Alternating(kRounds), false), expected);
  EXPECT_EQ(Deliver("s2", chunks, BThenA(kRounds), false), expected);
  // Two flows, two checkpoints, two txn appIds in the table.
  EXPECT_TRUE(fs_->Exists(dir_.Join("s1/_checkpoints/dim/flows/from_b/metadata")));
  std::set<std::string> app_ids;
  auto log = fs_->ListDir(dir_.Join("s1/dim/_delta_log"));
  ASSERT_TRUE(log.ok());
  for (const auto& entry : *log) {
    if (entry.name.size() < 5 || entry.name.substr(entry.name.size() - 5) != ".json") continue;
    auto text = fs_->ReadFile(dir_.Join("s1/dim/_delta_log/" + entry.name));
    ASSERT_TRUE(text.ok());
    size_t at = 0;
    while ((at = text->find("\"appId\":\"", at)) != std::string::npos) {
      at += 9;
      app_ids.insert(text->substr(at, text->find('"', at) - at));
    }
  }
  EXPECT_EQ(app_ids.size(), 2u);
}

TEST_F(TwoCdcFlowsTest, Scd2EqualsDuckDBOverBothStreamsWhateverTheInterleaving) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  Pipeline(TwoFlows("APPLY AS DELETE WHEN op = 'DELETE' SEQUENCE BY seq COLUMNS * EXCEPT (op, seq, _rescued_data) "
                    "STORED AS SCD TYPE 2 TRACK HISTORY ON * EXCEPT (city)"));
  std::vector<Event> events;
  for (const auto& e : GenerateStream(19))
    if (e.op != "TRUNCATE") events.push_back(e);
  std::string all;
  const int kRounds = 4;
  auto chunks = Split(events, kRounds, &all);
  ASSERT_TRUE(fs_->WriteFile(dir_.Join("all.json"), all).ok());
  auto expected = ExpectedHistory(dir_.Join("all.json"), "name IS DISTINCT FROM p_name");
  EXPECT_GT(expected.size(), 100u);
  EXPECT_EQ(Deliver("s1", chunks, Alternating(kRounds), true), expected);
  EXPECT_EQ(Deliver("s2", chunks, BThenA(kRounds), true), expected);
}

// A crash after flow b's batch reached the table but before its state did: at restart b's
// batch is finished first, so flow a's new change of the same key is decided against it
// (a late upsert below b's delete stays stale instead of resurrecting the key).
TEST_F(TwoCdcFlowsTest, AFlowsBatchInTheTableButNotInTheSharedStateIsFinishedFirst) {
  Pipeline(TwoFlows("APPLY AS DELETE WHEN op = 'DELETE' SEQUENCE BY seq COLUMNS * EXCEPT (op, seq, _rescued_data)"));
  std::string a = dir_.Join("s-a"), b = dir_.Join("s-b"), storage = dir_.Join("s");
  ASSERT_TRUE(fs_->CreateDirs(a).ok());
  ASSERT_TRUE(fs_->CreateDirs(b).ok());
  std::map<std::string, std::string> overrides = {{"storage", storage}, {"a", a}, {"b", b}};
  auto run = [&] {
    auto runner = PipelineRunner::Open(dir_.Join("p"), overrides);
    ASSERT_TRUE(runner.ok()) << runner.status().ToString();
    auto r = (*runner)->RunOnce({});
    ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->tables.back().message : r.status().ToString());
  };
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(a, "0.json"), ToJson({1, "x", "c", "UPSERT", 10})).ok());
  run();
  std::string state = storage + "/_checkpoints/dim/state/scd", backup = dir_.Join("scd-backup");
  std::filesystem::copy(state, backup, std::filesystem::copy_options::recursive);
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(b, "0.json"), ToJson({1, "", "", "DELETE", 30})).ok());
  run();
  // Undo b's state and commit log: the table has b's batch 0 (by txn), the state does not.
  std::filesystem::remove_all(state);
  std::filesystem::copy(backup, state, std::filesystem::copy_options::recursive);
  std::filesystem::remove(storage + "/_checkpoints/dim/flows/from_b/commits/0");
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(a, "1.json"), ToJson({1, "late", "c", "UPSERT", 20})).ok());
  run();
  auto table = delta::DeltaTable::Open(storage + "/dim");
  ASSERT_TRUE(table.ok());
  auto rows = delta::Scan::Plan(*(*table)->Latest(), {})->ReadAll();
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->num_rows(), 0);  // key 1 deleted at 30; the upsert at 20 is stale
  EXPECT_TRUE(fs_->Exists(storage + "/_checkpoints/dim/flows/from_b/commits/0"));
}

class Scd2ExamplesTest : public Scd2Test {
 protected:
  std::vector<std::string> RunBatches(const std::vector<std::vector<Event>>& batches) {
    auto runner = PipelineRunner::Open(dir_.Join("p"), {});
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    for (size_t b = 0; b < batches.size(); ++b) {
      std::string text;
      for (const auto& e : batches[b]) text += ToJson(e);
      EXPECT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, std::to_string(b) + ".json"), text).ok());
      auto r = (*runner)->RunOnce({});
      EXPECT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->tables.back().message : r.status().ToString());
    }
    return HistoryRows(*(*delta::DeltaTable::Open(dir_.Join("storage/dim")))->LatestVersion());
  }
};

TEST_F(Scd2ExamplesTest, LateChangesSplitTheHistoryAndDeletesCloseTheCurrentVersion) {
  Pipeline(Sql2(""));  // every column tracked
  auto rows = RunBatches({
      {{1, "a", "x", "UPSERT", 10}, {1, "b", "x", "UPSERT", 20}, {2, "p", "y", "UPSERT", 10}},
      // late: lands between 10 and 20; key 2 deleted, then a change older than the delete
      {{1, "late", "x", "UPSERT", 15}, {2, "", "", "DELETE", 30}, {2, "q", "y", "UPSERT", 25}},
      // an identical update opens nothing; a re-insert after the delete opens a version
      {{1, "b", "x", "UPSERT", 40}, {2, "r", "y", "UPSERT", 50}},
  });
  EXPECT_EQ(rows, (std::vector<std::string>{"1|a|x|10|15", "1|b|x|20|NULL", "1|late|x|15|20", "2|p|y|10|25",
                                            "2|q|y|25|30", "2|r|y|50|NULL"}));
}

TEST_F(Scd2ExamplesTest, UntrackedChangesUpdateInPlaceAndIgnoreNullUpdatesKeepsValues) {
  Pipeline(Sql2(" TRACK HISTORY ON name IGNORE NULL UPDATES"));
  auto rows = RunBatches({
      {{1, "a", "x", "UPSERT", 10}, {1, "a", "y", "UPSERT", 20}},  // city untracked: in place
      {{1, "b", "", "UPSERT", 30}},                                 // NULL city keeps y
      {{1, "", "z", "UPSERT", 25}},                                 // late, NULL name keeps a
  });
  EXPECT_EQ(rows, (std::vector<std::string>{"1|a|z|10|30", "1|b|z|30|NULL"}));
}

// SEQUENCE BY a struct column (ordered by its fields in order) and nested target columns
// (struct, array, map) carried through the history as values. The stream is the generated
// one with seq = major * 100 + minor, so ordering by (major, minor) is ordering by seq,
// while ordering by minor first (or as text) would differ. DuckDB reads the data files.
TEST_F(Scd2ExamplesTest, StructSequenceColumnAndNestedColumnsEqualDuckDBOverTheWholeStream) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  Pipeline("CREATE OR REFRESH STREAMING TABLE changes AS SELECT * FROM STREAM read_files('${landing}', "
           "format => 'json', schema => 'id BIGINT, name STRING, city STRING, op STRING, "
           "ver STRUCT<major: BIGINT, minor: BIGINT>, tags ARRAY<STRING>, addr STRUCT<city: STRING, zip: STRING>, "
           "attrs MAP<STRING, BIGINT>');\n"
           "CREATE OR REFRESH STREAMING TABLE dim;\n"
           "CREATE FLOW dim_flow AS AUTO CDC INTO dim FROM STREAM(changes) KEYS (id)\n"
           "  APPLY AS DELETE WHEN op = 'DELETE' SEQUENCE BY ver COLUMNS * EXCEPT (op, ver, _rescued_data)\n"
           "  STORED AS SCD TYPE 2 TRACK HISTORY ON * EXCEPT (city, addr, attrs);\n");
  // The nested columns are functions of name (tracked, like tags) and city (untracked).
  auto json = [](const Event& e) {
    auto str = [](const std::string& x) { return x.empty() ? std::string("null") : "\"" + x + "\""; };
    std::string line = "{\"id\":" + std::to_string(e.id) + ",\"name\":" + str(e.name) + ",\"city\":" + str(e.city) +
                       ",\"op\":\"" + e.op + "\",\"seq\":" + std::to_string(e.seq) + ",\"ver\":{\"major\":" +
                       std::to_string(e.seq / 100) + ",\"minor\":" + std::to_string(e.seq % 100) + "}";
    if (e.op == "UPSERT") {
      line += ",\"tags\":" + (e.name.empty() ? std::string("null") : "[\"" + e.name + "\",\"x\"]");
      line += ",\"addr\":{\"city\":\"" + e.city + "\",\"zip\":\"z" + e.city + "\"},\"attrs\":{\"" + e.city + "\":1}";
    }
    return line + "}\n";
  };
  std::vector<Event> events;
  for (const auto& e : GenerateStream(9))
    if (e.op != "TRUNCATE") events.push_back(e);
  std::mt19937 rng(21);
  std::shuffle(events.begin(), events.end(), rng);
  auto runner = PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  std::string all;
  const size_t kBatches = 4, per = (events.size() + kBatches - 1) / kBatches;
  for (size_t b = 0; b < kBatches; ++b) {
    std::string text;
    for (size_t i = b * per; i < std::min(events.size(), (b + 1) * per); ++i) text += json(events[i]);
    all += text;
    ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, std::to_string(b) + ".json"), text).ok());
    auto r = (*runner)->RunOnce({});
    ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->tables.back().message : r.status().ToString());
  }
  ASSERT_TRUE(fs_->WriteFile(dir_.Join("all.json"), all).ok());
  auto expected = ExpectedHistory(dir_.Join("all.json"), "name IS DISTINCT FROM p_name");
  EXPECT_GT(expected.size(), 100u);
  auto table = delta::DeltaTable::Open(dir_.Join("storage/dim"));
  ASSERT_TRUE(table.ok());
  auto snap = (*table)->Latest();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ((*snap)->schema().field(static_cast<size_t>((*snap)->schema().FindField("__START_AT"))).type.ToString(),
            "struct<major:bigint,minor:bigint>");
  std::string files;
  for (const auto& f : (*snap)->files()) files += (files.empty() ? "'" : ", '") + f.full_path + "'";
  auto lines = testing::DuckDBRows(
      "SELECT CAST(id AS VARCHAR) || '|' || coalesce(name, 'NULL') || '|' || coalesce(city, 'NULL') || '|' ||\n"
      "  CAST(__START_AT.major * 100 + __START_AT.minor AS VARCHAR) || '|' ||\n"
      "  coalesce(CAST(__END_AT.major * 100 + __END_AT.minor AS VARCHAR), 'NULL') AS line\n"
      "FROM read_parquet([" + files + "]) ORDER BY line");
  std::vector<std::string> got;
  for (const auto& l : lines) got.push_back(l["line"].get<std::string>());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected);
  // Every version carries the nested values of its tracked (first) and untracked (last) change.
  auto bad = testing::DuckDBRows(
      "SELECT count(*)::INTEGER AS n FROM read_parquet([" + files + "]) WHERE\n"
      "  tags IS DISTINCT FROM (CASE WHEN name IS NULL THEN NULL ELSE [name, 'x'] END)\n"
      "  OR addr IS DISTINCT FROM {'city': city, 'zip': 'z' || city}\n"
      "  OR map_keys(attrs) IS DISTINCT FROM [city] OR map_values(attrs) IS DISTINCT FROM [1]");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0]["n"].get<int64_t>(), 0);
  // A NULL field of the sequence is an error naming the key and the field.
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, "9.json"),
                                   "{\"id\":7,\"name\":\"n\",\"city\":\"c\",\"op\":\"UPSERT\",\"ver\":{\"major\":1}}\n")
                  .ok());
  auto r = (*runner)->RunOnce({});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok());
  std::string msg;
  for (const auto& t : r->tables)
    if (t.table == "dim") msg = t.message;
  EXPECT_NE(msg.find("id = 7"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ver.minor is NULL"), std::string::npos) << msg;
}

TEST_F(Scd2ExamplesTest, DifferentChangesWithOneSequenceAcrossBatchesAreAnError) {
  Pipeline(Sql2(""));
  auto runner = PipelineRunner::Open(dir_.Join("p"), {});
  ASSERT_TRUE(runner.ok());
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, "0.json"), ToJson({1, "a", "x", "UPSERT", 5})).ok());
  ASSERT_TRUE((*runner)->RunOnce({}).ok());
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, "1.json"), ToJson({1, "b", "x", "UPSERT", 5})).ok());
  auto r = (*runner)->RunOnce({});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok());
  std::string msg;
  for (const auto& t : r->tables)
    if (t.table == "dim") msg = t.message;
  EXPECT_NE(msg.find("id = 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("same SEQUENCE BY"), std::string::npos) << msg;
}

// ---- products ------------------------------------------------------------------------

// Issue 10's change stream covers products as well as customers: a second dimension of
// another shape, keyed by (store INT, sku STRING) — a composite key whose first column is
// 4 bytes wide and whose second is a string — sequenced by a TIMESTAMP, with a DOUBLE
// price that is sometimes NULL, and names and prices drawn from few values so that many
// updates leave the tracked columns as they were (SCD type 2 updates those in place).
struct ProductEvent {
  int store = 0;
  std::string sku;       // with store: the key
  std::string name;      // "" = NULL
  int price_cents = -1;  // -1 = NULL
  std::string category;  // "" = NULL
  std::string op;        // UPSERT, DELETE, TRUNCATE
  int64_t second = 0;    // the sequence: 2026-01-01 00:00:00 UTC + second
};

std::string ProductJson(const ProductEvent& e) {
  auto str = [](const std::string& s) { return s.empty() ? std::string("null") : "\"" + s + "\""; };
  time_t t = static_cast<time_t>(1767225600 + e.second);
  struct tm tm;
  gmtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  char price[32];
  if (e.price_cents < 0) std::snprintf(price, sizeof price, "null");
  else std::snprintf(price, sizeof price, "%d.%02d", e.price_cents / 100, e.price_cents % 100);
  const bool truncate = e.op == "TRUNCATE";
  return "{\"store\":" + (truncate ? std::string("null") : std::to_string(e.store)) +
         ",\"sku\":" + (truncate ? std::string("null") : str(e.sku)) + ",\"name\":" + str(e.name) +
         ",\"price\":" + price + ",\"category\":" + str(e.category) + ",\"op\":\"" + e.op + "\",\"updated\":\"" + ts +
         "\"}\n";
}

// Events in delivery order, as GenerateStream: 45 keys, deletes, re-inserts, a truncate
// at 60% (with `truncate`), and about one event in eight up to 50 positions late.
std::vector<ProductEvent> GenerateProducts(uint32_t seed, bool truncate) {
  std::mt19937 rng(seed);
  std::vector<ProductEvent> by_seq;
  std::map<std::pair<int, int>, bool> live;
  const int kEvents = 500;
  for (int i = 1; i <= kEvents; ++i) {
    ProductEvent e;
    e.second = i * 7;
    if (truncate && i == kEvents * 6 / 10) {
      e.op = "TRUNCATE";
      live.clear();
      by_seq.push_back(e);
      continue;
    }
    const int store = 1 + static_cast<int>(rng() % 3), sku = static_cast<int>(rng() % 15);
    e.store = store;
    e.sku = (sku < 10 ? "sku-0" : "sku-") + std::to_string(sku);
    bool& is_live = live[{store, sku}];
    if (is_live && rng() % 4 == 0) {
      e.op = "DELETE";
      is_live = false;
    } else {
      e.op = "UPSERT";
      e.name = rng() % 10 == 0 ? "" : "p" + std::to_string(sku) + "-" + std::to_string(rng() % 2);
      e.price_cents = rng() % 8 == 0 ? -1 : 100 + static_cast<int>(rng() % 3) * 25;
      e.category = rng() % 12 == 0 ? "" : "cat" + std::to_string(rng() % 4);
      is_live = true;
    }
    by_seq.push_back(e);
  }
  std::vector<std::pair<int64_t, ProductEvent>> positioned;
  for (size_t i = 0; i < by_seq.size(); ++i) {
    int64_t pos = static_cast<int64_t>(i) * 100;
    if (rng() % 8 == 0) pos += static_cast<int64_t>(rng() % 50) * 100 + 50;
    positioned.push_back({pos, by_seq[i]});
  }
  std::stable_sort(positioned.begin(), positioned.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<ProductEvent> out;
  for (auto& p : positioned) out.push_back(p.second);
  return out;
}

class ProductsTest : public ApplyChangesTest {
 protected:
  // SCD type 1 (the sequence column kept as a column) with truncates; SCD type 2 of the
  // same stream without them, name and price tracked, category not.
  static std::string ProductsSql() {
    return "CREATE OR REFRESH STREAMING TABLE product_changes AS SELECT * FROM STREAM read_files('${landing}', "
           "format => 'json', schema => 'store INT, sku STRING, name STRING, price DOUBLE, category STRING, "
           "op STRING, updated TIMESTAMP');\n"
           "CREATE OR REFRESH STREAMING TABLE dim_product;\n"
           "CREATE FLOW dim_product_cdc AS AUTO CDC INTO dim_product FROM STREAM(product_changes) KEYS (store, sku)\n"
           "  APPLY AS DELETE WHEN op = 'DELETE' APPLY AS TRUNCATE WHEN op = 'TRUNCATE'\n"
           "  SEQUENCE BY updated COLUMNS * EXCEPT (op, _rescued_data);\n"
           "CREATE OR REFRESH STREAMING TABLE product_history_changes AS\n"
           "  SELECT * FROM STREAM(product_changes) WHERE op <> 'TRUNCATE';\n"
           "CREATE OR REFRESH STREAMING TABLE hist_product;\n"
           "CREATE FLOW hist_product_cdc AS AUTO CDC INTO hist_product FROM STREAM(product_history_changes)\n"
           "  KEYS (store, sku) APPLY AS DELETE WHEN op = 'DELETE' SEQUENCE BY updated\n"
           "  COLUMNS * EXCEPT (op, updated, _rescued_data) STORED AS SCD TYPE 2 TRACK HISTORY ON * EXCEPT (category);\n";
  }

  // `table`'s rows at `version` as sorted lines of `columns` joined by '|': timestamps as
  // epoch seconds, doubles as whole cents, NULL as NULL.
  std::vector<std::string> Lines(const std::string& table, int64_t version, const std::vector<std::string>& columns) {
    auto t = delta::DeltaTable::Open(dir_.Join("storage/" + table));
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (!t.ok()) return {};
    auto snap = (*t)->AtVersion(version);
    EXPECT_TRUE(snap.ok()) << snap.status().ToString();
    if (!snap.ok()) return {};
    auto all = delta::Scan::Plan(*snap, {})->ReadAll();
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    if (!all.ok()) return {};
    std::vector<std::string> out;
    for (int64_t r = 0; r < all->num_rows(); ++r) {
      std::string line;
      for (const auto& c : columns) {
        const Column* col = all->ColumnByName(c);
        EXPECT_NE(col, nullptr) << table << " has no column " << c;
        if (col == nullptr) return {};
        Value x = col->GetValue(r);
        std::string text = x.is_null()                          ? "NULL"
                           : x.id() == TypeId::kTimestamp       ? std::to_string(x.int_value() / 1000000)
                           : x.id() == TypeId::kDouble          ? std::to_string(std::llround(x.double_value() * 100))
                                                                : x.ToString();
        line += (line.empty() ? "" : "|") + text;
      }
      out.push_back(line);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  static std::string ReadEvents(const std::string& file) {
    return "SELECT * FROM read_json('" + file +
           "', columns = {store: 'INTEGER', sku: 'VARCHAR', name: 'VARCHAR', price: 'DOUBLE', "
           "category: 'VARCHAR', op: 'VARCHAR', updated: 'TIMESTAMP'})";
  }

  static std::vector<std::string> Column0(const std::vector<nlohmann::json>& rows) {
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r["line"].get<std::string>());
    std::sort(out.begin(), out.end());
    return out;
  }

  // DuckDB's SCD type 1: the event with the latest `updated` per key after the last
  // truncate, minus deleted keys.
  static std::vector<std::string> ExpectedScd1(const std::string& file) {
    return Column0(testing::DuckDBRows(
        "WITH ev AS (" + ReadEvents(file) + "),\n"
        "t AS (SELECT coalesce(max(updated) FILTER (WHERE op = 'TRUNCATE'), TIMESTAMP '1970-01-01') AS tseq FROM ev),\n"
        "last AS (SELECT ev.* FROM ev, t WHERE op <> 'TRUNCATE' AND updated > tseq\n"
        "         QUALIFY row_number() OVER (PARTITION BY store, sku ORDER BY updated DESC) = 1)\n"
        "SELECT CAST(store AS VARCHAR) || '|' || sku || '|' || coalesce(name, 'NULL') || '|' ||\n"
        "       coalesce(CAST(CAST(round(price * 100) AS BIGINT) AS VARCHAR), 'NULL') || '|' ||\n"
        "       coalesce(category, 'NULL') || '|' || CAST(epoch(updated)::BIGINT AS VARCHAR) AS line\n"
        "FROM last WHERE op <> 'DELETE'"));
  }

  // DuckDB's SCD type 2 of the stream without truncates, as Scd2Test::ExpectedHistory:
  // a delete, or an upsert whose name or price differs from the previous event's (or
  // that follows a delete or nothing) starts a group; a group that starts with an upsert
  // is a version from its first `updated` to the next group's, with the tracked values of
  // its first event and the category of its last.
  static std::vector<std::string> ExpectedScd2(const std::string& file) {
    return Column0(testing::DuckDBRows(
        "WITH ev AS (" + ReadEvents(file) + " WHERE op <> 'TRUNCATE'),\n"
        "d AS (SELECT DISTINCT * FROM ev),\n"
        "o AS (SELECT *, lag(op) OVER w AS p_op, lag(name) OVER w AS p_name, lag(price) OVER w AS p_price\n"
        "      FROM d WINDOW w AS (PARTITION BY store, sku ORDER BY updated)),\n"
        "b AS (SELECT *, CASE WHEN op = 'DELETE' OR p_op IS NULL OR p_op = 'DELETE' OR name IS DISTINCT FROM p_name\n"
        "                     OR price IS DISTINCT FROM p_price THEN 1 ELSE 0 END AS starts FROM o),\n"
        "g AS (SELECT *, sum(starts) OVER (PARTITION BY store, sku ORDER BY updated ROWS UNBOUNDED PRECEDING) AS grp FROM b),\n"
        "v AS (SELECT store, sku, grp, min(updated) AS s, first(op ORDER BY updated) AS first_op,\n"
        "             first(name ORDER BY updated) AS name, first(price ORDER BY updated) AS price,\n"
        "             last(category ORDER BY updated) AS category FROM g GROUP BY store, sku, grp),\n"
        "h AS (SELECT *, lead(s) OVER (PARTITION BY store, sku ORDER BY grp) AS e FROM v)\n"
        "SELECT CAST(store AS VARCHAR) || '|' || sku || '|' || coalesce(name, 'NULL') || '|' ||\n"
        "       coalesce(CAST(CAST(round(price * 100) AS BIGINT) AS VARCHAR), 'NULL') || '|' ||\n"
        "       coalesce(category, 'NULL') || '|' || CAST(epoch(s)::BIGINT AS VARCHAR) || '|' ||\n"
        "       coalesce(CAST(epoch(e)::BIGINT AS VARCHAR), 'NULL') AS line\n"
        "FROM h WHERE first_op = 'UPSERT'"));
  }
};

TEST_P(ProductsTest, Scd1AndScd2EqualDuckDBAtEveryVersion) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  Pipeline(ProductsSql());
  std::vector<ProductEvent> events = GenerateProducts(23, /*truncate=*/true);
  // A redelivered upsert (an identical repeat, in a later batch) changes nothing.
  for (size_t i = events.size() / 3; i < events.size(); ++i) {
    if (events[i].op == "UPSERT") {
      events.push_back(events[i]);
      break;
    }
  }
  std::vector<std::string> lines;
  for (const auto& e : events) lines.push_back(ProductJson(e));
  size_t upserts = 0;
  for (const auto& e : events) upserts += e.op == "UPSERT";
  std::mt19937 rng(29);
  const size_t kBatches = 5;
  std::map<std::string, std::vector<int64_t>> versions;
  DeliverLines(lines, kBatches, rng, "dim_product", &versions);
  const std::vector<std::string> scd1_cols = {"store", "sku", "name", "price", "category", "updated"};
  const std::vector<std::string> scd2_cols = {"store", "sku", "name", "price", "category", "__START_AT", "__END_AT"};
  for (const char* t : {"dim_product", "hist_product"}) {
    ASSERT_EQ(versions[t].size(), kBatches) << t;
    for (size_t b = 1; b < kBatches; ++b) EXPECT_EQ(versions[t][b], versions[t][b - 1] + 1) << t;
  }
  const std::string last = dir_.Join("upto-" + std::to_string(kBatches - 1) + ".json");
  auto scd1 = ExpectedScd1(last);
  auto scd2 = ExpectedScd2(last);
  // The stream exercises what it claims: rows left after the truncate, closed versions,
  // and upserts that opened no version (category changed in place, or nothing changed).
  EXPECT_GT(scd1.size(), 10u);
  size_t closed = 0;
  for (const auto& l : scd2) closed += l.substr(l.rfind('|')) != "|NULL";
  EXPECT_GT(closed, 60u);
  EXPECT_LT(scd2.size() + 20, upserts);
  EXPECT_EQ(Lines("dim_product", versions["dim_product"].back(), scd1_cols), scd1);
  EXPECT_EQ(Lines("hist_product", versions["hist_product"].back(), scd2_cols), scd2);
  // Time travel: every batch's version equals DuckDB over the events delivered so far.
  for (size_t b = 0; b + 1 < kBatches; ++b) {
    const std::string upto = dir_.Join("upto-" + std::to_string(b) + ".json");
    EXPECT_EQ(Lines("dim_product", versions["dim_product"][b], scd1_cols), ExpectedScd1(upto)) << "batch " << b;
    EXPECT_EQ(Lines("hist_product", versions["hist_product"][b], scd2_cols), ExpectedScd2(upto)) << "batch " << b;
  }
}

INSTANTIATE_TEST_SUITE_P(Deliveries, ProductsTest,
                         ::testing::Values(Delivery::kInOrder, Delivery::kShuffledWithinBatches,
                                           Delivery::kShuffledAcrossBatches),
                         [](const auto& info) {
                           switch (info.param) {
                             case Delivery::kInOrder: return std::string("InOrder");
                             case Delivery::kShuffledWithinBatches: return std::string("ShuffledWithinBatches");
                             case Delivery::kShuffledAcrossBatches: return std::string("ShuffledAcrossBatches");
                           }
                           return std::string("?");
                         });

}  // namespace
}  // namespace lakepipe::runtime
