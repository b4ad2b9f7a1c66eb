// Bounded batches (docs/execution.md): a streaming table whose query works row by row
// reads its micro-batch by parts of `lakepipe.batchRows` rows (boundaries inside files,
// inside the row groups of the upstream table, and across its commits) and must write
// exactly what the whole micro-batch read at once writes. The reference run uses a batch
// size larger than any input here (one part per source), the others cut it into parts of
// 1, 3 and 7 rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

// Bronze from CSV files (with a rescued row and _metadata), Silver de-duplicated across
// parts and batches with quarantine and drop expectations, and a projection of Silver
// with a LATERAL VIEW explode (a generator over parts); Silver's change data feed, filtered
// (its first batch a snapshot read as inserts, then Silver's new versions).
constexpr char kSql[] = R"sql(
CREATE OR REFRESH STREAMING TABLE bronze
AS SELECT *, _metadata.file_name AS source_file
FROM STREAM read_files('${landing}', format => 'csv', header => true,
  schema => 'id INT, kind STRING, amount DOUBLE');

CREATE OR REFRESH STREAMING TABLE silver (
  CONSTRAINT has_kind EXPECT (kind IS NOT NULL) ON VIOLATION QUARANTINE,
  CONSTRAINT positive EXPECT (amount > 0) ON VIOLATION DROP ROW
) AS SELECT id, kind, amount, amount * 2 AS doubled
FROM (SELECT DISTINCT id, kind, amount FROM STREAM(bronze)) AS d
WHERE id IS NULL OR id <> 13;

CREATE OR REFRESH STREAMING TABLE exploded
AS SELECT id, part FROM STREAM(silver) LATERAL VIEW explode(array(kind, upper(kind))) t AS part;

CREATE OR REFRESH STREAMING TABLE silver_log
AS SELECT id, kind, _change_type, _commit_version FROM STREAM(silver) WITH (readChangeFeed = true)
WHERE kind <> 'k1';
)sql";

class BoundedBatchesTest : public ::testing::Test {
 protected:
  // Writes the pipeline (its storage under `name`) and returns its folder.
  std::string Pipeline(const std::string& name) {
    std::string dir = dir_.Join(name);
    EXPECT_TRUE(fs_->CreateDirs(dir).ok());
    EXPECT_TRUE(fs_->WriteFile(JoinPath(dir, "pipeline.yaml"),
                               "name: b\nstorage: " + JoinPath(dir, "storage") +
                                   "\nlibraries: [p.sql]\nconfiguration: {landing: " + landing_ +
                                   ", dims: " + dims_ + "}\n")
                    .ok());
    EXPECT_TRUE(fs_->WriteFile(JoinPath(dir, "p.sql"), sql_).ok());
    return dir;
  }

  // `rows` order lines, ids from `first`: duplicates, kinds with dashes, NULL kinds,
  // non-positive amounts, id 13 (filtered) and an unreadable amount (rescued).
  void Drop(const std::string& name, int first, int rows) {
    std::string text = "id,kind,amount\n";
    for (int i = first; i < first + rows; ++i) {
      int id = i % 17 == 0 ? i - 1 : i;  // a re-delivery of the previous line
      std::string kind = i % 11 == 0 ? "" : (i % 3 == 0 ? "a-b" : "k" + std::to_string(i % 5));
      std::string amount = i % 19 == 0 ? "n/a" : std::to_string((i % 7) - 1) + ".5";
      if (i % 17 == 0) {
        int p = i - 1;
        kind = p % 11 == 0 ? "" : (p % 3 == 0 ? "a-b" : "k" + std::to_string(p % 5));
        amount = p % 19 == 0 ? "n/a" : std::to_string((p % 7) - 1) + ".5";
      }
      text += std::to_string(id) + "," + kind + "," + amount + "\n";
    }
    ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, name), text).ok());
  }

  // Runs the pipeline once with `batch_rows` and returns every table's rows as text, in
  // table order (the order the flows wrote them). `parts`, when given, receives each
  // streaming table's parts read (TableReport::parts), added to.
  std::vector<std::string> Run(const std::string& folder, const std::string& batch_rows,
                               const std::string& flow_threads = "",
                               std::map<std::string, int64_t>* parts = nullptr) {
    std::map<std::string, std::string> overrides = {{"lakepipe.batchRows", batch_rows}};
    if (!flow_threads.empty()) overrides["lakepipe.flowThreads"] = flow_threads;
    auto runner = PipelineRunner::Open(folder, overrides);
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    if (!runner.ok()) return {};
    auto report = (*runner)->RunOnce({});
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    if (report.ok()) {
      for (const auto& t : report->tables) {
        // A materialized view over files that did not change is up to date.
        if (t.kind == "materialized view" && t.status == "up to date") continue;
        EXPECT_EQ(t.status, "updated") << t.table << ": " << t.message;
        if (parts != nullptr) (*parts)[t.table] += t.parts;
      }
    }
    return Tables(**runner);
  }

  std::vector<std::string> Tables(PipelineRunner& runner) const {
    std::vector<std::string> out;
    for (const std::string& table : tables_) {
      auto r = runner.Query("SELECT * FROM " + table);
      EXPECT_TRUE(r.ok()) << table << ": " << r.status().ToString();
      std::vector<std::string> lines;
      if (r.ok()) {
        for (const auto& b : r->batches) {
          for (int64_t i = 0; i < b.num_rows(); ++i) {
            std::string line;
            for (size_t c = 0; c < b.num_columns(); ++c) {
              // _rescued_data names the file's full path, which differs per run folder.
              if (b.schema().field(c).name == "_rescued_data") {
                line += b.column(c).IsNull(i) ? "NULL|" : "rescued|";
                continue;
              }
              line += b.column(c).GetValue(i).ToString() + "|";
            }
            lines.push_back(line + "\n");
          }
        }
      }
      if (unordered_.count(table)) std::sort(lines.begin(), lines.end());
      std::string text;
      for (const auto& l : lines) text += l;
      out.push_back(table + ":\n" + text);
    }
    return out;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::string landing_ = dir_.Join("landing");
  std::string dims_ = dir_.Join("dims");  // the stored tables' files, for joins
  std::string sql_ = kSql;
  std::vector<std::string> tables_ = {"bronze", "silver", "silver_quarantine", "exploded", "silver_log"};
  // Tables whose rows within a commit come in no defined order (compared sorted).
  std::set<std::string> unordered_;
};

TEST_F(BoundedBatchesTest, PartsOfAnySizeWriteWhatTheWholeBatchWrites) {
  ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
  Drop("a.csv", 1, 40);
  Drop("b.csv", 41, 23);
  Drop("c.csv", 64, 1);
  const std::vector<std::string> sizes = {"1000000", "1", "3", "7"};
  std::vector<std::string> folders;
  for (const auto& n : sizes) folders.push_back(Pipeline("p" + n));
  std::vector<std::vector<std::string>> first;
  for (size_t i = 0; i < sizes.size(); ++i) first.push_back(Run(folders[i], sizes[i]));
  // A second micro-batch: the de-duplication must see the keys of the first across runs.
  Drop("d.csv", 30, 50);
  std::vector<std::vector<std::string>> second;
  for (size_t i = 0; i < sizes.size(); ++i) second.push_back(Run(folders[i], sizes[i]));

  ASSERT_EQ(first[0].size(), 5u);
  // The reference holds what the assertions below compare: rows in every table.
  for (const auto& t : second[0]) EXPECT_GT(std::count(t.begin(), t.end(), '\n'), 2) << t;
  EXPECT_NE(first[0][1], second[0][1]) << "the second batch added no silver row";
  for (size_t i = 1; i < sizes.size(); ++i) {
    for (size_t t = 0; t < first[0].size(); ++t) {
      EXPECT_EQ(first[i][t], first[0][t]) << "batchRows " << sizes[i] << ", first run";
      EXPECT_EQ(second[i][t], second[0][t]) << "batchRows " << sizes[i] << ", second run";
    }
  }
}

// A UNION ALL of streams (two read_files sources and a stored table read as a stream)
// followed by row-wise steps and an expectation reads each source by parts, a part of
// each at a time: the table holds the rows of the whole read (compared sorted: the parts
// interleave the sources), in both batches. A DISTINCT over such a union (no watermark:
// its output does not depend on the order of its rows), and a join of it with a stored
// table on either side, are read by parts too, with the same rows; a union with a
// DISTINCT under a watermark is read whole (no parts counted).
TEST_F(BoundedBatchesTest, AUnionOfStreamsIsReadByPartsOfEachSource) {
  sql_ = R"sql(
CREATE OR REFRESH STREAMING TABLE bronze
AS SELECT *, _metadata.file_name AS source_file
FROM STREAM read_files('${landing}', format => 'csv', header => true,
  schema => 'id INT, kind STRING, amount DOUBLE');

CREATE OR REFRESH STREAMING TABLE merged (
  CONSTRAINT positive EXPECT (amount > 0) ON VIOLATION DROP ROW
) AS SELECT id, kind, amount, 'bronze' AS origin FROM STREAM(bronze) WHERE id IS NULL OR id <> 13
UNION ALL
SELECT id, upper(kind), amount * 10, 'dims' FROM STREAM read_files('${dims}', format => 'csv', header => true,
  schema => 'id INT, kind STRING, amount DOUBLE')
UNION ALL
SELECT id, kind, amount, _metadata.file_name FROM STREAM read_files('${landing}', format => 'csv',
  header => true, schema => 'id INT, kind STRING, amount DOUBLE');

CREATE OR REFRESH STREAMING TABLE merged_kinds
AS SELECT DISTINCT kind FROM (SELECT kind FROM STREAM(bronze) UNION ALL SELECT kind FROM STREAM(merged)) AS u;

CREATE OR REFRESH MATERIALIZED VIEW kind_names
AS SELECT DISTINCT kind, concat('kind ', kind) AS label FROM merged WHERE kind IS NOT NULL;

CREATE OR REFRESH STREAMING TABLE labelled
AS SELECT u.id, n.label FROM (SELECT id, kind FROM STREAM(bronze) UNION ALL SELECT id, kind FROM STREAM(merged)) AS u
JOIN kind_names n ON u.kind = n.kind;

CREATE OR REFRESH STREAMING TABLE labelled_right
AS SELECT u.id, n.label FROM kind_names n
JOIN (SELECT id, kind FROM STREAM(bronze) UNION ALL SELECT id, kind FROM STREAM(merged)) AS u ON u.kind = n.kind;

CREATE OR REFRESH STREAMING TABLE timed
AS SELECT id, kind, CAST(id * 60 AS TIMESTAMP) AS ts FROM STREAM(bronze);

CREATE OR REFRESH STREAMING TABLE recent_kinds
AS SELECT DISTINCT kind, ts FROM STREAM(timed) WATERMARK ts DELAY OF INTERVAL 30 MINUTES
UNION ALL SELECT kind, CAST(id * 60 AS TIMESTAMP) FROM STREAM(merged);
)sql";
  tables_ = {"bronze", "merged", "merged_kinds", "timed", "recent_kinds", "labelled", "labelled_right"};
  unordered_ = {"merged", "merged_kinds", "timed", "recent_kinds", "labelled", "labelled_right"};
  ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
  ASSERT_TRUE(fs_->CreateDirs(dims_).ok());
  Drop("a.csv", 1, 40);
  Drop("b.csv", 41, 23);
  std::string dims_text = "id,kind,amount\n";
  for (int i = 0; i < 57; ++i) dims_text += std::to_string(1000 + i) + ",d" + std::to_string(i % 4) + "," + std::to_string(i % 6) + ".25\n";
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(dims_, "d1.csv"), dims_text).ok());
  const std::vector<std::string> sizes = {"1000000", "1", "3", "7"};
  std::vector<std::string> folders;
  for (const auto& n : sizes) folders.push_back(Pipeline("u" + n));
  std::vector<std::vector<std::string>> first, second;
  std::vector<std::map<std::string, int64_t>> parts(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) first.push_back(Run(folders[i], sizes[i], "3", &parts[i]));
  Drop("c.csv", 30, 50);
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(dims_, "d2.csv"), "id,kind,amount\n2001,x,1.5\n2002,,-1\n").ok());
  for (size_t i = 0; i < sizes.size(); ++i) second.push_back(Run(folders[i], sizes[i], "3", &parts[i]));

  ASSERT_EQ(first[0].size(), 7u);
  for (const auto& t : second[0]) EXPECT_GT(std::count(t.begin(), t.end(), '\n'), 4) << t;
  // All three inputs reached merged: Bronze's rows, the dims' (upper-cased) and the files'.
  for (const char* origin : {"|bronze|", "|dims|", "|a.csv|", "|c.csv|", "|D3|", "|X|"}) {
    EXPECT_NE(second[0][1].find(origin), std::string::npos) << origin << " in\n" << second[0][1];
  }
  for (size_t i = 1; i < sizes.size(); ++i) {
    for (size_t t = 0; t < first[0].size(); ++t) {
      EXPECT_EQ(first[i][t], first[0][t]) << "batchRows " << sizes[i] << ", first run";
      EXPECT_EQ(second[i][t], second[0][t]) << "batchRows " << sizes[i] << ", second run";
    }
  }
  // One row per part: the union's three sources (63 + 57 + 63 lines, then 50 + 2 + 50)
  // took as many parts as its largest source, in each batch; so did the DISTINCT over
  // Bronze and merged (merged has more rows than Bronze in each batch: as many parts as
  // its rows); the union with a DISTINCT under a watermark was read whole.
  EXPECT_EQ(parts[1]["merged"], 63 + 50) << "batchRows 1";
  EXPECT_GE(parts[2]["merged"], 21 + 17) << "batchRows 3";
  const int64_t merged_rows = std::count(second[0][1].begin(), second[0][1].end(), '\n') - 1;
  EXPECT_GT(merged_rows, 63 + 50);
  EXPECT_EQ(parts[1]["merged_kinds"], merged_rows) << "batchRows 1";
  // The union joined with a view of merged's kinds, from either side: by parts too, with
  // the same rows as each other.
  EXPECT_EQ(parts[1]["labelled"], merged_rows) << "batchRows 1";
  EXPECT_EQ(parts[1]["labelled_right"], merged_rows) << "batchRows 1";
  auto rows_of = [](const std::string& table_text) { return table_text.substr(table_text.find('\n')); };
  for (size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(rows_of(first[i][5]), rows_of(first[i][6])) << "batchRows " << sizes[i];
    EXPECT_EQ(rows_of(second[i][5]), rows_of(second[i][6])) << "batchRows " << sizes[i];
  }
  EXPECT_EQ(parts[1]["recent_kinds"], 0) << "batchRows 1";
}

// lakepipe.flowThreads: the three steps of each part (query up to the DISTINCT, the rest
// with the expectations, the writers) on one, two or three threads write the same rows in
// the same order, in both micro-batches.
TEST_F(BoundedBatchesTest, PartsOnThreeThreadsWriteWhatOneThreadWrites) {
  ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
  Drop("a.csv", 1, 300);
  Drop("b.csv", 301, 77);
  struct Config {
    std::string rows, threads;
  };
  const std::vector<Config> configs = {{"1000000", "1"}, {"1000000", "3"}, {"1", "3"},
                                       {"5", "2"},       {"5", "3"},       {"64", "3"}};
  std::vector<std::string> folders;
  for (size_t i = 0; i < configs.size(); ++i) folders.push_back(Pipeline("t" + std::to_string(i)));
  std::vector<std::vector<std::string>> first, second;
  for (size_t i = 0; i < configs.size(); ++i) first.push_back(Run(folders[i], configs[i].rows, configs[i].threads));
  Drop("c.csv", 200, 150);  // re-deliveries of lines of the first batch, and new ones
  for (size_t i = 0; i < configs.size(); ++i) second.push_back(Run(folders[i], configs[i].rows, configs[i].threads));
  ASSERT_EQ(first[0].size(), 5u);
  for (const auto& t : second[0]) EXPECT_GT(std::count(t.begin(), t.end(), '\n'), 2) << t;
  for (size_t i = 1; i < configs.size(); ++i) {
    for (size_t t = 0; t < first[0].size(); ++t) {
      EXPECT_EQ(first[i][t], first[0][t]) << "batchRows " << configs[i].rows << ", flowThreads "
                                          << configs[i].threads << ", first run";
      EXPECT_EQ(second[i][t], second[0][t]) << "batchRows " << configs[i].rows << ", flowThreads "
                                            << configs[i].threads << ", second run";
    }
  }
}

// A duplicate pair with a part boundary at every position around it: parts of 1 to 11
// rows over 11 lines where line 8 repeats line 4 (and line 11 line 10). Whatever part each
// copy falls in, on three threads, the first copy is kept and the second dropped.
TEST_F(BoundedBatchesTest, ADuplicatePairIsDroppedWhereverThePartBoundaryFalls) {
  ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, "pairs.csv"),
                                   "id,kind,amount\n1,a,1.5\n2,b,2.5\n3,c,3.5\n4,d,4.5\n5,e,5.5\n6,f,6.5\n"
                                   "7,g,7.5\n4,d,4.5\n9,h,9.5\n10,i,10.5\n10,i,10.5\n")
                  .ok());
  std::string reference_folder = Pipeline("ref");
  std::vector<std::string> reference = Run(reference_folder, "1000000", "1");
  ASSERT_EQ(reference.size(), 5u);
  // 11 lines in Bronze, 9 distinct in Silver (the two repeats dropped).
  EXPECT_EQ(std::count(reference[0].begin(), reference[0].end(), '\n'), 12) << reference[0];
  EXPECT_EQ(std::count(reference[1].begin(), reference[1].end(), '\n'), 10) << reference[1];
  for (int rows = 1; rows <= 11; ++rows) {
    std::string folder = Pipeline("pairs" + std::to_string(rows));
    std::vector<std::string> got = Run(folder, std::to_string(rows), "3");
    ASSERT_EQ(got.size(), reference.size());
    for (size_t t = 0; t < got.size(); ++t) EXPECT_EQ(got[t], reference[t]) << "batchRows " << rows;
  }
}

// A backlog of many small files: with lakepipe.batchRows 32 or 64 the files of 1 to 3
// lines are joined into parts (CoalesceStream, runtime/batch_stream.h), across file
// boundaries, with re-deliveries and a rescued value among them; with batchRows 1 none
// is joined. Every table must hold the same rows, each naming its own file.
TEST_F(BoundedBatchesTest, SmallFilesJoinedIntoPartsWriteWhatOnePartPerFileWrites) {
  ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
  int next = 1;
  for (int f = 0; f < 40; ++f) {
    int rows = 1 + f % 3;
    char name[32];
    std::snprintf(name, sizeof(name), "small-%03d.csv", f);
    Drop(name, next, rows);
    next += rows;
  }
  const std::vector<std::string> sizes = {"1", "32", "64"};
  std::vector<std::vector<std::string>> first, second;
  std::vector<std::string> folders;
  for (const auto& n : sizes) folders.push_back(Pipeline("small" + n));
  for (size_t i = 0; i < sizes.size(); ++i) first.push_back(Run(folders[i], sizes[i], "3"));
  Drop("later.csv", 5, 12);  // a second batch with re-deliveries of the first's lines
  for (size_t i = 0; i < sizes.size(); ++i) second.push_back(Run(folders[i], sizes[i], "3"));
  ASSERT_EQ(first[0].size(), 5u);
  // Bronze holds every line (80 and a header line), from 40 files.
  EXPECT_EQ(std::count(first[0][0].begin(), first[0][0].end(), '\n'), next) << first[0][0];
  EXPECT_NE(first[0][0].find("small-039.csv"), std::string::npos);
  for (const auto& t : second[0]) EXPECT_GT(std::count(t.begin(), t.end(), '\n'), 2) << t;
  for (size_t i = 1; i < sizes.size(); ++i) {
    for (size_t t = 0; t < first[0].size(); ++t) {
      EXPECT_EQ(first[i][t], first[0][t]) << "batchRows " << sizes[i] << ", first run";
      EXPECT_EQ(second[i][t], second[0][t]) << "batchRows " << sizes[i] << ", second run";
    }
  }
}

// The steps that keep state from row to row, read by parts: under a watermark a keyed
// de-duplication, a DISTINCT, a tumbling window over the de-duplicated table and session
// windows; and a join with a stored table, built once for all parts (directly, in a view
// read as a stream, and with the stream on the right of an inner join, whose left side is
// then the one built). Each row must meet the watermark it meets in one part, each window
// must hold the rows it holds then, and each row must find its matches: the same rows
// (and late rows) in every table, and the same rows whichever side of the join the
// stream is on.
constexpr char kStatefulSql[] = R"sql(
CREATE OR REFRESH STREAMING TABLE events
AS SELECT * FROM STREAM read_files('${landing}', format => 'csv', header => true,
  schema => 'id INT, who STRING, ts TIMESTAMP, amount DOUBLE');

CREATE OR REFRESH STREAMING TABLE first_events
AS SELECT id, who, ts, amount FROM STREAM(events) WATERMARK ts DELAY OF INTERVAL 10 MINUTES
QUALIFY row_number() OVER (PARTITION BY id ORDER BY ts) = 1;

CREATE OR REFRESH STREAMING TABLE seen_pairs
AS SELECT DISTINCT who, ts FROM STREAM(events) WATERMARK ts DELAY OF INTERVAL 5 MINUTES;

CREATE OR REFRESH STREAMING TABLE per_window
AS SELECT window.start AS start, who, count(*) AS n, sum(amount) AS total
FROM STREAM(first_events) WATERMARK ts DELAY OF INTERVAL 2 MINUTES
GROUP BY window(ts, '4 minutes'), who;

CREATE OR REFRESH STREAMING TABLE sessions
AS SELECT who, session_window.start AS s, session_window.end AS e, count(*) AS n, sum(amount) AS total
FROM STREAM(events) WATERMARK ts DELAY OF INTERVAL 3 MINUTES
GROUP BY session_window(ts, '2 minutes'), who;

CREATE OR REFRESH MATERIALIZED VIEW people
AS SELECT * FROM read_files('${dims}', format => 'csv', header => true, schema => 'who STRING, name STRING');

CREATE OR REFRESH STREAMING TABLE named_events
AS SELECT e.id, e.ts, p.name FROM STREAM(events) e LEFT JOIN people p ON e.who = p.who
WHERE e.amount > 1;

CREATE TEMPORARY VIEW events_of_people
AS SELECT e.id, e.amount, p.name FROM STREAM(events) e JOIN people p ON e.who = p.who;

CREATE OR REFRESH STREAMING TABLE large_events_of_people
AS SELECT id, name FROM STREAM(events_of_people) WHERE amount > 3;

CREATE OR REFRESH STREAMING TABLE people_then_events
AS SELECT p.name, e.id, e.amount FROM people p JOIN STREAM(events) e
  ON p.who = e.who AND e.amount > length(p.name);

CREATE OR REFRESH STREAMING TABLE events_then_people
AS SELECT p.name, e.id, e.amount FROM STREAM(events) e JOIN people p
  ON p.who = e.who AND e.amount > length(p.name);
)sql";

class StatefulPartsTest : public BoundedBatchesTest {
 protected:
  StatefulPartsTest() {
    sql_ = kStatefulSql;
    tables_ = {"events",          "first_events", "first_events_late", "seen_pairs",
               "seen_pairs_late", "per_window",   "per_window_late",   "sessions",
               "sessions_late",   "named_events", "large_events_of_people", "people_then_events",
               "events_then_people"};
    unordered_ = {"per_window", "sessions", "people_then_events", "events_then_people"};
  }

  // `rows` events from line `first`: bursts of six lines 20 s apart every 5 minutes; every
  // 13th line 25 minutes behind (late for all), every 31st without a time, every 17th a
  // re-delivery of the line before, every 29th reusing the id of 40 lines before (whose
  // key the watermark has let go by then), every 11th 6 minutes behind (late for the
  // windows and the DISTINCT, not for the keyed de-duplication).
  void DropEvents(const std::string& name, int first, int rows) {
    auto line = [](int i) {
      int id = i % 29 == 0 ? i - 40 : i;
      int seconds = (i / 6) * 300 + (i % 6) * 20 - (i % 13 == 0 ? 25 * 60 : i % 11 == 0 ? 6 * 60 : 0) + 6 * 3600;
      char ts[32];
      std::snprintf(ts, sizeof(ts), "2026-12-01 %02d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
      return std::to_string(id) + ",u" + std::to_string(id % 2) + "," + (i % 31 == 0 ? std::string() : ts) + "," +
             std::to_string(i % 7) + ".5\n";
    };
    std::string text = "id,who,ts,amount\n";
    for (int i = first; i < first + rows; ++i) text += line(i % 17 == 0 ? i - 1 : i);
    ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(landing_, name), text).ok());
  }
};

TEST_F(StatefulPartsTest, StatefulStepsWriteWhatOnePartWrites) {
  ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
  ASSERT_TRUE(fs_->CreateDirs(dims_).ok());
  // u0 matches two people, u1 none (NULL in the LEFT join).
  ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(dims_, "people.csv"), "who,name\nu0,Ann\nu2,Bo\nu0,Al\n").ok());
  DropEvents("a.csv", 1, 150);
  struct Config {
    std::string rows, threads;
  };
  const std::vector<Config> configs = {{"1000000", "1"}, {"1", "1"}, {"3", "3"}, {"7", "2"}, {"64", "3"}};
  std::vector<std::string> folders;
  for (size_t i = 0; i < configs.size(); ++i) folders.push_back(Pipeline("w" + std::to_string(i)));
  std::vector<std::vector<std::string>> first, second;
  std::vector<std::map<std::string, int64_t>> parts(configs.size());
  for (size_t i = 0; i < configs.size(); ++i) {
    first.push_back(Run(folders[i], configs[i].rows, configs[i].threads, &parts[i]));
  }
  DropEvents("b.csv", 120, 90);  // re-deliveries of the first batch's lines, and later ones
  for (size_t i = 0; i < configs.size(); ++i) {
    second.push_back(Run(folders[i], configs[i].rows, configs[i].threads, &parts[i]));
  }
  ASSERT_EQ(second[0].size(), tables_.size());
  // The reference has what the comparisons below need: rows in every table, late ones too.
  for (const auto& t : second[0]) EXPECT_GT(std::count(t.begin(), t.end(), '\n'), 3) << t;
  for (const char* table :
       {"first_events", "seen_pairs", "per_window", "sessions", "named_events", "large_events_of_people",
        "people_then_events"}) {
    // One part a batch (two) in the reference; a part a row with batchRows 1.
    EXPECT_EQ(parts[0][table], 2) << table;
    EXPECT_GT(parts[1][table], 100) << table << ": not read by parts";
  }
  // The stream on either side of the inner join: the same rows, in every run.
  auto rows_of = [](const std::string& table_text) { return table_text.substr(table_text.find('\n')); };
  const size_t people_then_events = tables_.size() - 2, events_then_people = tables_.size() - 1;
  for (size_t i = 0; i < configs.size(); ++i) {
    for (const auto* run : {&first, &second}) {
      EXPECT_EQ(rows_of((*run)[i][people_then_events]), rows_of((*run)[i][events_then_people]))
          << "batchRows " << configs[i].rows;
    }
  }
  EXPECT_GT(std::count(second[0][people_then_events].begin(), second[0][people_then_events].end(), '\n'), 20);
  for (size_t i = 1; i < configs.size(); ++i) {
    for (size_t t = 0; t < tables_.size(); ++t) {
      EXPECT_EQ(first[i][t], first[0][t]) << "batchRows " << configs[i].rows << ", flowThreads "
                                          << configs[i].threads << ", first run";
      EXPECT_EQ(second[i][t], second[0][t]) << "batchRows " << configs[i].rows << ", flowThreads "
                                            << configs[i].threads << ", second run";
    }
  }
}

TEST_F(BoundedBatchesTest, ABadFlowThreadsSettingIsRefused) {
  ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
  Drop("a.csv", 1, 5);
  std::string folder = Pipeline("bad");
  auto runner = PipelineRunner::Open(folder, {{"lakepipe.flowThreads", "4"}});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  auto report = (*runner)->RunOnce({});
  std::string all = report.ok() ? "" : report.status().ToString();
  if (report.ok())
    for (const auto& t : report->tables) all += t.message;
  EXPECT_NE(all.find("lakepipe.flowThreads"), std::string::npos) << all;
}

TEST_F(BoundedBatchesTest, ABadBatchRowsSettingIsRefused) {
  ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
  Drop("a.csv", 1, 5);
  std::string folder = Pipeline("bad");
  auto runner = PipelineRunner::Open(folder, {{"lakepipe.batchRows", "0"}});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  auto report = (*runner)->RunOnce({});
  std::string all = report.ok() ? "" : report.status().ToString();
  if (report.ok())
    for (const auto& t : report->tables) all += t.message;
  EXPECT_NE(all.find("lakepipe.batchRows"), std::string::npos) << all;
}

}  // namespace
}  // namespace lakepipe::runtime
