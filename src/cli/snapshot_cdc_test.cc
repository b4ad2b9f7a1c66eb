// AUTO CDC FROM SNAPSHOT end to end, with the built binary: generated daily extracts of
// customers (joins, attribute changes, removals, returns; some extracts written in two
// files) land a few days at a time and feed an SCD type 2 and an SCD type 1 table. After
// every update both must equal DuckDB's computation over the extract files delivered so
// far: type 2, a version from the extract where a customer appears or differs from the
// previous extract to the next such extract or the first that lacks them; type 1, the
// last extract. Then the same with a SIGKILL at each kill point of the commit protocol
// (hit 1 to 5: every flow's batches, the end-of-backlog batch included) and a restart;
// and a late part of an extract already processed is ignored, counted and logged.
#include <csignal>
#include <map>
#include <random>

#include "cli/cli_test_util.h"

namespace lakepipe {
namespace {

struct Person {
  bool present = false;
  std::string name;  // "" = NULL
  std::string city;
};

std::string Date(int day) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "2026-03-%02d", day);
  return buf;
}

class SnapshotCdcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FileSystem* fs = FileSystem::Default();
    ASSERT_TRUE(fs->CreateDirs(landing_).ok());
    ASSERT_TRUE(fs->CreateDirs(dir_.Join("p")).ok());
    ASSERT_TRUE(fs->WriteFile(dir_.Join("p/pipeline.yaml"), "name: t\nstorage: " + storage_ +
                                                                "\nlibraries: [p.sql]\nconfiguration: {landing: " +
                                                                landing_ + "}\n")
                    .ok());
    ASSERT_TRUE(fs->WriteFile(dir_.Join("p/p.sql"),
                              "CREATE OR REFRESH STREAMING TABLE extracts AS SELECT * FROM STREAM read_files("
                              "'${landing}', format => 'json', schema => 'id BIGINT, name STRING, city STRING, "
                              "extract_date DATE');\n"
                              "CREATE OR REFRESH STREAMING TABLE dim2;\n"
                              "CREATE FLOW dim2_snapshots AS AUTO CDC INTO dim2 FROM SNAPSHOT extracts KEYS (id)\n"
                              "  SEQUENCE BY extract_date COLUMNS * EXCEPT (_rescued_data) STORED AS SCD TYPE 2;\n"
                              "CREATE OR REFRESH STREAMING TABLE dim1;\n"
                              "CREATE FLOW dim1_snapshots AS AUTO CDC INTO dim1 FROM SNAPSHOT extracts KEYS (id)\n"
                              "  SEQUENCE BY extract_date COLUMNS * EXCEPT (_rescued_data) STORED AS SCD TYPE 1;\n")
                    .ok());
  }

  // Writes the extract of the next day (one or two files), changing the customers first.
  void LandNextDay() {
    ++day_;
    std::vector<std::string> lines;
    for (int id = 1; id <= 30; ++id) {
      Person& p = people_[id];
      if (p.present && rng_() % 9 == 0) {
        p.present = false;  // removed from the CRM
      } else if (!p.present && rng_() % 3 == 0) {
        p.present = true;  // new, or back
        if (p.city.empty() || rng_() % 2 == 0) p.city = "c" + std::to_string(rng_() % 5);
        p.name = "n" + std::to_string(id);
      } else if (p.present) {
        if (rng_() % 6 == 0) p.city = "c" + std::to_string(rng_() % 5);
        if (rng_() % 10 == 0) p.name = rng_() % 3 == 0 ? "" : "n" + std::to_string(id) + "-" + std::to_string(day_);
      }
      if (!p.present) continue;
      lines.push_back("{\"id\":" + std::to_string(id) + ",\"name\":" + (p.name.empty() ? "null" : "\"" + p.name + "\"") +
                      ",\"city\":\"" + p.city + "\",\"extract_date\":\"" + Date(day_) + "\"}\n");
    }
    std::shuffle(lines.begin(), lines.end(), rng_);
    size_t parts = day_ % 3 == 0 ? 2 : 1;  // every third extract is exported in two files
    for (size_t part = 0; part < parts; ++part) {
      std::string text;
      for (size_t i = part * lines.size() / parts; i < (part + 1) * lines.size() / parts; ++i) text += lines[i];
      Land("extract-" + Date(day_) + "-" + std::to_string(part) + ".json", text);
    }
  }

  void Land(const std::string& name, const std::string& text) {
    ASSERT_TRUE(FileSystem::Default()->WriteFileAtomic(landing_ + "/" + name, text).ok());
    delivered_.push_back(landing_ + "/" + name);
  }

  std::string Run() { return Lakepipe("run " + Quote(dir_.Join("p")) + " --once --no-server"); }

  // One update killed at `point` (n-th hit); true when it died by SIGKILL.
  bool RunKilledAt(const std::string& point) { return RunOnceKilledAt(dir_.Join("p"), point); }

  std::vector<std::string> Query(const std::string& sql) {
    std::string quoted = "'";  // for sh: ' is written '\''
    for (char c : sql) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    std::string out = Lakepipe("query " + Quote(dir_.Join("p")) + " --format csv " + quoted + "'");
    std::vector<std::string> lines;
    size_t start = out.find('\n');  // after the header
    while (start != std::string::npos && start + 1 < out.size()) {
      size_t nl = out.find('\n', start + 1);
      lines.push_back(out.substr(start + 1, nl - start - 1));
      start = nl;
    }
    std::sort(lines.begin(), lines.end());
    return lines;
  }

  // Both tables as "2|id|name|city|start|end" and "1|id|name|city" lines.
  std::vector<std::string> Ours() {
    return Query(
        "SELECT concat_ws('|', '2', CAST(id AS STRING), coalesce(name, 'NULL'), city, CAST(__START_AT AS STRING), "
        "coalesce(CAST(__END_AT AS STRING), 'NULL')) AS line FROM dim2 "
        "UNION ALL SELECT concat_ws('|', '1', CAST(id AS STRING), coalesce(name, 'NULL'), city) FROM dim1");
  }

  // DuckDB over the delivered extract files, written from the rule, not from lakepipe's code.
  std::vector<std::string> Expected() {
    std::string files;
    for (const auto& f : delivered_) files += (files.empty() ? "'" : ", '") + f + "'";
    auto rows = testing::DuckDBRows(
        "WITH e AS (SELECT * FROM read_json([" + files +
        "], columns = {id: 'BIGINT', name: 'VARCHAR', city: 'VARCHAR', extract_date: 'DATE'})),\n"
        "days AS (SELECT extract_date, lag(extract_date) OVER (ORDER BY extract_date) AS prev,\n"
        "               lead(extract_date) OVER (ORDER BY extract_date) AS next\n"
        "         FROM (SELECT DISTINCT extract_date FROM e)),\n"
        "m AS (SELECT e.*, CASE WHEN lag(e.extract_date) OVER w IS NULL OR lag(e.extract_date) OVER w <> d.prev\n"
        "                         OR lag(name) OVER w IS DISTINCT FROM name OR lag(city) OVER w <> city\n"
        "                       THEN 1 ELSE 0 END AS starts\n"
        "      FROM e JOIN days AS d USING (extract_date) WINDOW w AS (PARTITION BY id ORDER BY e.extract_date)),\n"
        "g AS (SELECT *, sum(starts) OVER (PARTITION BY id ORDER BY extract_date ROWS UNBOUNDED PRECEDING) AS grp\n"
        "      FROM m),\n"
        "v AS (SELECT id, grp, min(extract_date) AS first_day, max(extract_date) AS last_day, any_value(name) AS name,\n"
        "             any_value(city) AS city FROM g GROUP BY id, grp)\n"
        "SELECT concat_ws('|', '2', id, coalesce(name, 'NULL'), city, first_day, coalesce(CAST(d.next AS VARCHAR), "
        "'NULL')) AS line FROM v JOIN days AS d ON d.extract_date = v.last_day\n"
        "UNION ALL SELECT concat_ws('|', '1', id, coalesce(name, 'NULL'), city) FROM e\n"
        "WHERE extract_date = (SELECT max(extract_date) FROM e)");
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r["line"].get<std::string>());
    std::sort(out.begin(), out.end());
    return out;
  }

  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
  std::string storage_ = dir_.Join("storage");
  std::mt19937 rng_{17};
  std::map<int, Person> people_;
  int day_ = 0;
  std::vector<std::string> delivered_;
};

TEST_F(SnapshotCdcTest, Scd2AndScd1EqualDuckDBOverTheExtractsAfterEveryUpdate) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  int closed = 0;
  for (int update = 0; update < 4; ++update) {
    for (int d = 0; d < 3; ++d) LandNextDay();
    Run();
    auto expected = Expected();
    EXPECT_EQ(Ours(), expected) << "after day " << day_;
    for (const auto& l : expected) closed += l[0] == '2' && l.substr(l.rfind('|')) != "|NULL";
  }
  EXPECT_GT(closed, 20) << "the extracts must close versions (changes and removals)";
  // Nothing new: nothing written.
  auto log_entries = [this] {
    auto e = FileSystem::Default()->ListDir(storage_ + "/dim2/_delta_log");
    return e.ok() ? e->size() : 0;
  };
  size_t entries = log_entries();
  Run();
  EXPECT_EQ(log_entries(), entries);

  // A late part of an extract already processed: ignored, counted, logged.
  Land("extract-" + Date(day_ - 1) + "-late.json",
       "{\"id\":99,\"name\":\"late\",\"city\":\"x\",\"extract_date\":\"" + Date(day_ - 1) + "\"}\n");
  delivered_.pop_back();  // DuckDB's truth leaves it out: the late row must change nothing
  Run();
  EXPECT_EQ(Ours(), Expected());
  auto warnings = Query("SELECT message FROM _event_log WHERE event_type = 'snapshot_late_rows' AND table_name = 'dim2'");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("1 rows"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find(Date(day_ - 1)), std::string::npos) << warnings[0];
}

TEST_F(SnapshotCdcTest, KilledAtEveryCommitStepThenRestartedEqualsDuckDB) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  LandNextDay();
  Run();
  int killed = 0;
  for (const char* point : {"flow.after_plan", "flow.after_table_commit", "flow.after_state_commit",
                            "flow.after_commit_log"}) {
    for (int hit = 1; hit <= 5; ++hit) {
      LandNextDay();
      std::string at = std::string(point) + ":" + std::to_string(hit);
      if (RunKilledAt(at)) ++killed;
      Run();
      EXPECT_EQ(Ours(), Expected()) << "after a kill at " << at << ", day " << day_;
    }
  }
  EXPECT_GE(killed, 16) << "the kill points are on the path of every update";
}

}  // namespace
}  // namespace lakepipe
