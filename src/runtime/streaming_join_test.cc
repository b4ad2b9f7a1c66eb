// Stream-stream joins in running pipelines: a partner arriving batches later, a left outer
// row emitted once the right watermark passes it, restarts between batches, and the final
// table equal — for every split of the same input — to DuckDB computing the join over the
// whole input with the same per-side late-row rule.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "runtime/pipeline_runner.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

constexpr int64_t kMinute = 60;  // seconds

// An hour after `col`, spelled without INTERVAL (epoch seconds as a double, and back).
std::string HourAfter(const std::string& col) { return "CAST(CAST(" + col + " AS DOUBLE) + 3600 AS TIMESTAMP)"; }

struct Event {
  int seq;
  std::optional<int> ad;
  std::optional<int64_t> ts;  // epoch seconds
  std::string text;
};

std::string Csv(const std::vector<Event>& rows, const char* header) {
  std::string out = std::string(header) + "\n";
  for (const auto& e : rows) {
    out += std::to_string(e.seq) + "," + (e.ad ? std::to_string(*e.ad) : "") + ",";
    if (e.ts) {
      time_t t = static_cast<time_t>(*e.ts);
      struct tm tm;
      gmtime_r(&t, &tm);
      char buf[32];
      std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
      out += buf;
    }
    out += "," + e.text + "\n";
  }
  return out;
}

class StreamingJoinTest : public ::testing::Test {
 protected:
  // views (left, watermark 10 minutes) LEFT or INNER JOIN clicks (right, 20 minutes) within an hour.
  void Pipeline(const std::string& dir, const std::string& join, const std::string& options, int view_delay = 10,
                int click_delay = 20) {
    std::string sql =
        "CREATE OR REFRESH STREAMING TABLE j AS SELECT v.seq, v.ad, v.vts, v.page, c.seq AS cseq, c.cts, c.who\n"
        "FROM STREAM read_files('" + dir + "/views', format => 'csv', header => true, schema => 'seq INT, ad INT, "
        "vts TIMESTAMP, page STRING'" + options + ") WATERMARK vts DELAY OF INTERVAL " + std::to_string(view_delay) + " MINUTES AS v\n" +
        join + " JOIN STREAM read_files('" + dir + "/clicks', format => 'csv', header => true, schema => 'seq INT, "
        "ad INT, cts TIMESTAMP, who STRING'" + options + ") WATERMARK cts DELAY OF INTERVAL " + std::to_string(click_delay) + " MINUTES AS c\n"
        "ON v.ad = c.ad AND c.cts BETWEEN v.vts AND " + HourAfter("v.vts") + ";\n";
    ASSERT_TRUE(fs_->CreateDirs(dir + "/p").ok());
    ASSERT_TRUE(fs_->CreateDirs(dir + "/views").ok());
    ASSERT_TRUE(fs_->CreateDirs(dir + "/clicks").ok());
    ASSERT_TRUE(fs_->WriteFile(dir + "/p/pipeline.yaml", "name: t\nstorage: " + dir + "/storage\nlibraries: [p.sql]\n").ok());
    ASSERT_TRUE(fs_->WriteFile(dir + "/p/p.sql", sql).ok());
  }
  void Drop(const std::string& dir, const std::string& side, int n, const std::vector<Event>& rows) {
    char name[32];
    std::snprintf(name, sizeof name, "%06d.csv", n);
    ASSERT_TRUE(fs_->WriteFileAtomic(dir + "/" + side + "/" + name, Csv(rows, side == "views" ? "seq,ad,vts,page" : "seq,ad,cts,who")).ok());
  }
  std::unique_ptr<PipelineRunner> Open(const std::string& dir) {
    auto runner = PipelineRunner::Open(dir + "/p", {});
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    return runner.ok() ? std::move(runner).value() : nullptr;
  }
  void Run(const std::string& dir) {
    auto runner = Open(dir);
    ASSERT_NE(runner, nullptr);
    auto update = runner->RunOnce({});
    ASSERT_TRUE(update.ok()) << update.status().ToString();
    for (const auto& t : update->tables) ASSERT_NE(t.status, "failed") << t.table << ": " << t.message;
  }
  std::vector<std::string> Rows(const std::string& dir) {
    auto runner = Open(dir);
    auto r = runner->Query("SELECT seq, cseq FROM j ORDER BY seq, cseq");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> out;
    if (!r.ok()) return out;
    for (const auto& b : r->batches)
      for (int64_t i = 0; i < b.num_rows(); ++i) out.push_back(b.column(0).GetValue(i).ToString() + "-" + b.column(1).GetValue(i).ToString());
    return out;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir tmp_;
  const int64_t t0_ = 1767225600;  // 2026-01-01 00:00:00 UTC
};

TEST_F(StreamingJoinTest, PartnerArrivingOneOrSeveralBatchesLaterIsJoined) {
  std::string d = tmp_.Join("a");
  Pipeline(d, "", "");
  Drop(d, "views", 1, {{1, 7, t0_, "home"}});
  Run(d);
  EXPECT_TRUE(Rows(d).empty());
  Drop(d, "clicks", 1, {{101, 7, t0_ + 5 * kMinute, "ann"}});  // one batch later
  Run(d);
  EXPECT_EQ(Rows(d), (std::vector<std::string>{"1-101"}));
  // A view, then three batches of other traffic, then its click.
  Drop(d, "views", 2, {{2, 8, t0_ + 10 * kMinute, "cart"}});
  Run(d);
  for (int i = 0; i < 3; ++i) {
    Drop(d, "views", 3 + i, {{3 + i, 9, t0_ + (11 + i) * kMinute, "other"}});
    Run(d);
  }
  Drop(d, "clicks", 2, {{102, 8, t0_ + 50 * kMinute, "bob"}});
  Run(d);
  EXPECT_EQ(Rows(d), (std::vector<std::string>{"1-101", "2-102"}));
}

TEST_F(StreamingJoinTest, JoinStateOlderThanTheCommitLogIsRefusedInsteadOfMissingMatches) {
  std::string d = tmp_.Join("older");
  Pipeline(d, "", "");
  Drop(d, "views", 1, {{1, 7, t0_, "home"}});
  Run(d);
  const std::string state = d + "/storage/_checkpoints/j/state/join-0";
  std::filesystem::copy(state, d + "/after-batch-0", std::filesystem::copy_options::recursive);
  Drop(d, "views", 2, {{2, 8, t0_ + kMinute, "cart"}});
  Run(d);
  // Restored from an older copy: the state lacks view 2, whose click comes next.
  ASSERT_TRUE(fs_->RemoveAll(state).ok());
  std::filesystem::copy(d + "/after-batch-0", state, std::filesystem::copy_options::recursive);
  Drop(d, "clicks", 1, {{102, 8, t0_ + 5 * kMinute, "bob"}});
  auto runner = Open(d);
  ASSERT_NE(runner, nullptr);
  auto update = runner->RunOnce({});
  ASSERT_TRUE(update.ok()) << update.status().ToString();
  ASSERT_EQ(update->tables.size(), 1u);
  const std::string& message = update->tables[0].message;
  EXPECT_EQ(update->tables[0].status, "failed");
  EXPECT_NE(message.find("state missing for batch 1 of `j`"), std::string::npos) << message;
  EXPECT_NE(message.find("--full-refresh j"), std::string::npos) << message;
  runner.reset();
  EXPECT_TRUE(Rows(d).empty()) << "nothing is written past an older state";
  // A full refresh reads both sides again from the start: the match is found.
  runner = Open(d);
  RunOptions refresh;
  refresh.full_refresh = {"j"};
  auto rebuilt = runner->RunOnce(refresh);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(rebuilt->tables[0].status, "updated") << rebuilt->tables[0].message;
  runner.reset();
  EXPECT_EQ(Rows(d), (std::vector<std::string>{"2-102"}));
}

TEST_F(StreamingJoinTest, UnmatchedLeftRowIsWrittenOnceTheRightWatermarkPassesIt) {
  std::string d = tmp_.Join("b");
  Pipeline(d, "LEFT", "");
  Drop(d, "views", 1, {{1, 7, t0_, "home"}});
  Drop(d, "clicks", 1, {{101, 5, t0_ + 60 * kMinute, "x"}});
  Run(d);
  EXPECT_TRUE(Rows(d).empty());  // right watermark 00:40: a click until 01:00 could still match
  Drop(d, "clicks", 2, {{102, 5, t0_ + 81 * kMinute, "y"}});
  Run(d);
  EXPECT_EQ(Rows(d), (std::vector<std::string>{"1-NULL"}));  // watermark 01:01 > 01:00
  Drop(d, "clicks", 3, {{103, 7, t0_ + 90 * kMinute, "z"}});
  Run(d);
  EXPECT_EQ(Rows(d), (std::vector<std::string>{"1-NULL"}));  // once, and no late match
}

// The same events, cut three ways: everything in one batch; one file per side per batch
// with a restart (a new runner) between batches; random file sizes and trigger limits.
TEST_F(StreamingJoinTest, EverySplitGivesDuckDBsAnswerOverTheWholeInput) {
  for (const std::string join : {"", "LEFT"}) {
    std::mt19937_64 rng(join.empty() ? 11 : 12);
    std::vector<Event> views, clicks;
    int64_t vclock = t0_, cclock = t0_;
    for (int i = 0; i < 80; ++i) {
      vclock += static_cast<int64_t>(rng() % 6) * kMinute;
      std::optional<int> ad = rng() % 23 ? std::optional<int>(static_cast<int>(rng() % 5)) : std::nullopt;
      std::optional<int64_t> ts = rng() % 29 ? std::optional<int64_t>(vclock - static_cast<int64_t>(rng() % 25) * kMinute) : std::nullopt;
      views.push_back({i, ad, ts, "p" + std::to_string(i)});
      cclock += static_cast<int64_t>(rng() % 6) * kMinute;
      clicks.push_back({1000 + i, static_cast<int>(rng() % 5), cclock - static_cast<int64_t>(rng() % 40) * kMinute,
                        "w" + std::to_string(i)});
    }
    // Delays that leave no row late (late rows get a table of their own, tested apart).
    const int vd = 30, cd = 45;
    std::vector<std::string> dirs = {tmp_.Join("whole" + join), tmp_.Join("one" + join), tmp_.Join("random" + join)};
    // Whole input at once.
    Pipeline(dirs[0], join, "", vd, cd);
    Drop(dirs[0], "views", 0, views);
    Drop(dirs[0], "clicks", 0, clicks);
    Run(dirs[0]);
    // One row of each side per batch, a restart between batches.
    Pipeline(dirs[1], join, "", vd, cd);
    for (size_t i = 0; i < views.size(); ++i) {
      Drop(dirs[1], "views", static_cast<int>(i), {views[i]});
      Drop(dirs[1], "clicks", static_cast<int>(i), {clicks[i]});
      Run(dirs[1]);
    }
    // Random files, at most 2 per side per batch, all drained by one run.
    Pipeline(dirs[2], join, ", maxFilesPerTrigger => 2", vd, cd);
    for (const auto* side : {&views, &clicks}) {
      size_t i = 0;
      int n = 0;
      while (i < side->size()) {
        size_t k = std::min(side->size() - i, static_cast<size_t>(rng() % 9));
        Drop(dirs[2], side == &views ? "views" : "clicks", n++, std::vector<Event>(side->begin() + static_cast<long>(i), side->begin() + static_cast<long>(i + k)));
        i += k;
      }
    }
    Run(dirs[2]);

    auto whole = Rows(dirs[0]);
    EXPECT_EQ(Rows(dirs[1]), whole) << join;
    EXPECT_EQ(Rows(dirs[2]), whole) << join;

    // DuckDB over the CSV input: a row is late when its time is below the largest earlier
    // time of its side minus the delay; unmatched left rows count once the right
    // watermark (largest click time minus 20 minutes) is past vts + 1 hour.
    std::string d = dirs[0];
    std::string duck =
        "WITH v AS (SELECT * FROM read_csv('" + d + "/views/*.csv', header=true, columns={'seq':'INT','ad':'INT','vts':'TIMESTAMP','page':'VARCHAR'})),\n"
        "c AS (SELECT * FROM read_csv('" + d + "/clicks/*.csv', header=true, columns={'seq':'INT','ad':'INT','cts':'TIMESTAMP','who':'VARCHAR'})),\n"
        "vo AS (SELECT * FROM (SELECT *, max(vts) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS m FROM v) "
        "WHERE m IS NULL OR vts IS NULL OR vts >= m - INTERVAL " + std::to_string(vd) + " MINUTE),\n"
        "co AS (SELECT * FROM (SELECT *, max(cts) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS m FROM c) "
        "WHERE m IS NULL OR cts IS NULL OR cts >= m - INTERVAL " + std::to_string(cd) + " MINUTE),\n"
        "matched AS (SELECT v.seq, v.ad, v.vts, v.page, c.seq AS cseq, c.cts, c.who FROM vo v JOIN co c "
        "ON v.ad = c.ad AND c.cts BETWEEN v.vts AND v.vts + INTERVAL 1 HOUR),\n"
        "expected AS (SELECT * FROM matched" +
        (join == "LEFT" ? std::string(" UNION ALL SELECT seq, ad, vts, page, NULL, NULL, NULL FROM vo WHERE seq NOT IN "
                                      "(SELECT seq FROM matched) AND (vts IS NULL OR ad IS NULL OR vts + INTERVAL 1 HOUR "
                                      "< (SELECT max(cts) - INTERVAL " + std::to_string(cd) + " MINUTE FROM c)))")
                        : std::string(")")) +
        ",\ngot AS (SELECT seq, ad, vts::TIMESTAMP AS vts, page, cseq, cts::TIMESTAMP AS cts, who FROM read_parquet('" +
        d + "/storage/j/*.parquet'))\n"
        "SELECT (SELECT count(*) FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM got))::INTEGER AS missing, "
        "(SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM expected))::INTEGER AS extra, "
        "(SELECT count(*) FROM expected)::INTEGER AS n, (SELECT count(*) FROM matched)::INTEGER AS pairs";
    auto rows = testing::DuckDBRows("SET TimeZone = 'UTC';\n" + duck);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0]["missing"], 0) << rows[0].dump();
    EXPECT_EQ(rows[0]["extra"], 0) << rows[0].dump();
    EXPECT_EQ(rows[0]["n"].get<int64_t>(), static_cast<int64_t>(whole.size()));
    EXPECT_GT(rows[0]["pairs"].get<int64_t>(), 10) << "the input must produce matches for the test to mean anything";
    if (join == "LEFT") {
      EXPECT_GT(rows[0]["n"].get<int64_t>(), rows[0]["pairs"].get<int64_t>()) << "no unmatched left rows";
    }
  }
}

TEST_F(StreamingJoinTest, LateRowsAreNeverDroppedSilently) {
  std::string d = tmp_.Join("late");
  Pipeline(d, "", "");
  Drop(d, "views", 1, {{1, 7, t0_ + 60 * kMinute, "home"}, {2, 7, t0_, "late"}});
  auto runner = Open(d);
  auto update = runner->RunOnce({});
  ASSERT_TRUE(update.ok()) << update.status().ToString();
  ASSERT_EQ(update->tables.size(), 1u);
  // The late view row goes to j_late with its reason, and is counted.
  EXPECT_EQ(update->tables[0].status, "updated") << update->tables[0].message;
  EXPECT_EQ(update->tables[0].rows_late, 1);
  auto late = runner->Query("SELECT seq, _late_reason FROM j_late");
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  ASSERT_EQ(late->batches.size(), 1u);
  ASSERT_EQ(late->batches[0].num_rows(), 1);
  EXPECT_EQ(late->batches[0].column(0).GetValue(0).ToString(), "2");
  EXPECT_NE(late->batches[0].column(1).GetValue(0).ToString().find("left join input"), std::string::npos)
      << late->batches[0].column(1).GetValue(0).ToString();
}

}  // namespace
}  // namespace lakepipe::runtime
