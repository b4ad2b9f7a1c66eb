// examples/video-metrics end to end (seed 003, issue 14), on a real PostgreSQL.
//
// The feed is `lakepipe generate videos` over 10 days (LAKEPIPE_VIDEO_DAYS for a longer
// run), with a new top-level field (`device`) from day 4 on. The first three days land
// and run (--once); then the rest lands and a continuous run takes it: it stops once on
// the new field with the documented message and restarts the flow by itself, adding the
// column (no restart by hand). The truth is computed
// independently from the raw JSON files:
//   - DuckDB's read_json gives the Gold tables (daily growth of each post's cumulative
//     counters, summed per day and network / institution); the pipeline's Gold tables,
//     the CSV files it exports per day and the tables it publishes to PostgreSQL must
//     equal it;
//   - the test's own JSON parse counts the broken lines (not JSON), the events with a
//     counter sent as text and the late events, which must be in Bronze's
//     _rescued_data, in the Silver quarantine tables and flagged late; and together they
//     must account for the generator's own tally.
// A second test holds Silver back by its trigger (a paused layer) and sees the SLA breach
// in /metrics and `lakepipe status`, and its recovery when Silver catches up.
#include <httplib.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "cli/cli_test_util.h"
#include "testing/pg_test_server.h"
#include "testing/testing.h"

namespace lakepipe {
namespace {

using ::testing::HasSubstr;
using testing::PgTestServer;
using testing::TempDir;
using Json = nlohmann::json;

int Days() {
  const char* env = std::getenv("LAKEPIPE_VIDEO_DAYS");
  return env != nullptr && std::atoi(env) >= 4 ? std::atoi(env) : 10;
}

// The generator's own tally, from the line `generate videos` prints.
struct Tally {
  int64_t posts = 0, observations = 0, late = 0, redelivered = 0, malformed = 0;
};

Tally ParseTally(const std::string& out) {
  std::smatch m;
  Tally t;
  std::regex re("([0-9]+) posts, ([0-9]+) view observations, ([0-9]+) late, ([0-9]+) re-delivered, ([0-9]+) malformed");
  EXPECT_TRUE(std::regex_search(out, m, re)) << out;
  if (m.size() == 6) {
    t.posts = std::stoll(m[1]);
    t.observations = std::stoll(m[2]);
    t.late = std::stoll(m[3]);
    t.redelivered = std::stoll(m[4]);
    t.malformed = std::stoll(m[5]);
  }
  return t;
}

// What the test sees in the raw files, parsing them itself.
struct FeedFacts {
  int64_t lines = 0;
  int64_t broken_lines = 0;          // not JSON (every copy)
  int64_t distinct_broken = 0;       // distinct texts of those
  int64_t text_counter_events = 0;   // distinct events with a counter or duration as text
  int64_t late_events = 0;           // first deliveries 12 h or more older than their file
  int64_t good_views = 0;            // distinct views_observed events with numeric counters
  int64_t good_posts = 0;            // distinct post_created events with a numeric duration
};

// "videos_2026-01-04T20.json" -> "2026-01-04T20" (the batch time, hour precision).
std::string BatchOf(const std::string& name) { return name.substr(7, 13); }

// Whole seconds since the epoch of an ISO text "yyyy-mm-ddThh[:mm:ss...]" (UTC).
int64_t EpochSeconds(const std::string& iso) {
  struct tm t {};
  t.tm_year = std::stoi(iso.substr(0, 4)) - 1900;
  t.tm_mon = std::stoi(iso.substr(5, 2)) - 1;
  t.tm_mday = std::stoi(iso.substr(8, 2));
  t.tm_hour = std::stoi(iso.substr(11, 2));
  if (iso.size() >= 19) {
    t.tm_min = std::stoi(iso.substr(14, 2));
    t.tm_sec = std::stoi(iso.substr(17, 2));
  }
  return static_cast<int64_t>(timegm(&t));
}

FeedFacts ReadFeed(const std::string& folder, const std::vector<std::string>& files) {
  FeedFacts f;
  std::set<std::string> broken, seen, text_counter;
  for (const std::string& name : files) {
    auto text = FileSystem::Default()->ReadFile(JoinPath(folder, name));
    EXPECT_TRUE(text.ok());
    if (!text.ok()) continue;
    int64_t batch = EpochSeconds(BatchOf(name));
    size_t start = 0;
    while (start < text->size()) {
      size_t nl = text->find('\n', start);
      std::string line = text->substr(start, nl - start);
      start = nl + 1;
      ++f.lines;
      Json e = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (e.is_discarded()) {
        ++f.broken_lines;
        broken.insert(line);
        continue;
      }
      std::string id = e["event_id"];
      if (!seen.insert(id).second) continue;  // a re-delivery
      // Late: event_time <= batch time - 12 h. The time has milliseconds: below the
      // second it is late; at that very second only with a zero fraction.
      int64_t at = EpochSeconds(e["event_time"].get<std::string>());
      std::string frac = e["event_time"].get<std::string>().substr(19);
      bool late = at < batch - 12 * 3600 || (at == batch - 12 * 3600 && frac.rfind(".000", 0) == 0);
      f.late_events += late;
      bool text_counter_event = false;
      if (e["event_type"] == "views_observed") {
        for (const char* c : {"views", "likes", "comments", "shares"}) text_counter_event |= !e["metrics"][c].is_number();
        f.good_views += !text_counter_event;
      } else {
        text_counter_event = !e["post"]["duration_seconds"].is_number();
        f.good_posts += !text_counter_event;
      }
      if (text_counter_event) text_counter.insert(id);
    }
  }
  f.distinct_broken = static_cast<int64_t>(broken.size());
  f.text_counter_events = static_cast<int64_t>(text_counter.size());
  return f;
}

// DuckDB over the raw JSON: the valid observations, de-duplicated, and each post's growth
// per day (the day's largest cumulative value minus the largest of the days before it).
std::string GrowthSql(const std::string& landing) {
  return "WITH raw AS (SELECT * FROM read_json('" + landing +
         "/videos_*.json', format = 'newline_delimited', ignore_errors = true, "
         "columns = {event_id: 'VARCHAR', event_type: 'VARCHAR', event_time: 'VARCHAR', network: 'VARCHAR', "
         "post: 'JSON', metrics: 'JSON'}) WHERE event_id IS NOT NULL), "
         "obs AS (SELECT DISTINCT event_id, network, post->>'$.id' AS post_id, "
         "  CAST(post->>'$.institution.id' AS BIGINT) AS institution_id, CAST(left(event_time, 10) AS DATE) AS day, "
         "  CAST(metrics->>'$.views' AS BIGINT) AS views, CAST(metrics->>'$.likes' AS BIGINT) AS likes, "
         "  CAST(metrics->>'$.comments' AS BIGINT) AS comments, CAST(metrics->>'$.shares' AS BIGINT) AS shares "
         "  FROM raw WHERE event_type = 'views_observed' "
         "  AND json_type(metrics, '$.views') IN ('UBIGINT', 'BIGINT') AND json_type(metrics, '$.likes') IN ('UBIGINT', 'BIGINT') "
         "  AND json_type(metrics, '$.comments') IN ('UBIGINT', 'BIGINT') AND json_type(metrics, '$.shares') IN ('UBIGINT', 'BIGINT')), "
         "post_day AS (SELECT post_id, any_value(network) AS network, any_value(institution_id) AS institution_id, day, "
         "  max(views) AS v, max(likes) AS l, max(comments) AS c, max(shares) AS s FROM obs GROUP BY post_id, day), "
         "growth AS (SELECT *, v - coalesce(max(v) OVER w, 0) AS dv, l - coalesce(max(l) OVER w, 0) AS dl, "
         "  c - coalesce(max(c) OVER w, 0) AS dc, s - coalesce(max(s) OVER w, 0) AS ds FROM post_day "
         "  WINDOW w AS (PARTITION BY post_id ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) ";
}

std::string NetworkTruthSql(const std::string& landing) {
  return GrowthSql(landing) +
         "SELECT strftime(day, '%Y-%m-%d') AS day, network, sum(dv)::BIGINT AS views, sum(dl)::BIGINT AS likes, "
         "sum(dc)::BIGINT AS comments, sum(ds)::BIGINT AS shares, count(*)::BIGINT AS posts_observed "
         "FROM growth GROUP BY day, network";
}

std::string InstitutionTruthSql(const std::string& landing) {
  return GrowthSql(landing) +
         ", inst AS (SELECT CAST(post->>'$.institution.id' AS BIGINT) AS institution_id, "
         "  max(post->>'$.institution.name') AS institution_name FROM raw WHERE event_type = 'post_created' "
         "  AND json_type(post, '$.duration_seconds') IN ('UBIGINT', 'BIGINT') GROUP BY 1) "
         "SELECT strftime(day, '%Y-%m-%d') AS day, institution_id, institution_name, sum(dv)::BIGINT AS views, "
         "count(*)::BIGINT AS posts_observed FROM growth LEFT JOIN inst USING (institution_id) "
         "GROUP BY day, institution_id, institution_name";
}

// `s` as one shell word, whatever quotes it holds.
std::string Sh(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// DuckDB rows as CSV lines (NULL as an empty field), in the order of `columns`.
std::string AsCsv(const std::vector<Json>& rows, const std::vector<std::string>& columns) {
  std::string out;
  for (const auto& r : rows) {
    for (size_t i = 0; i < columns.size(); ++i) {
      const Json& v = r[columns[i]];
      if (i) out += ",";
      if (v.is_string()) {
        out += v.get<std::string>();
      } else if (!v.is_null()) {
        out += v.dump();
      }
    }
    out += "\n";
  }
  return out;
}

// The value of `family{table="<table>"...}` in a /metrics body; -1 when absent.
double Metric(const std::string& body, const std::string& family, const std::string& table) {
  std::string prefix = family + "{table=\"" + table + "\"";
  size_t at = body.find(prefix);
  if (at == std::string::npos) return -1;
  size_t space = body.find(' ', body.find('}', at));
  return std::atof(body.c_str() + space + 1);
}

class VideoMetricsExampleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = PgTestServer::Start();
    ASSERT_TRUE(pg.ok()) << pg.status().ToString();
    pg_ = std::move(*pg);
    ASSERT_TRUE(pg_->CreateDatabase("videos").ok());
    example_ = testing::SourceDir() + "/examples/video-metrics";
    feed_ = dir_.Join("feed");
    landing_ = dir_.Join("landing");
    exports_ = dir_.Join("exports");
    ASSERT_TRUE(fs_->CreateDirs(landing_).ok());
  }
  std::string Sets() const {
    return " --set storage=" + dir_.Join("storage") + " --set landing=" + landing_ + " --set exports=" + exports_ +
           " --set " + Sh("postgres_dsn=" + pg_->Dsn("videos"));
  }
  // Generates the feed; returns the batch files in time order.
  std::vector<std::string> Generate(int days, const std::string& extra, Tally* tally) {
    std::string out = Lakepipe("generate videos --days " + std::to_string(days) + " --out " + feed_ + extra);
    *tally = ParseTally(out);
    auto entries = fs_->ListDir(feed_);
    EXPECT_TRUE(entries.ok());
    std::vector<std::string> files;
    for (const auto& e : *entries) files.push_back(e.name);
    std::sort(files.begin(), files.end());
    return files;
  }
  // Lands a batch file as the feed would: stamped now, renamed into the landing folder
  // (freshness is measured from a file's modification time).
  void Land(const std::string& name) {
    std::error_code ec;
    std::filesystem::last_write_time(JoinPath(feed_, name), std::filesystem::file_time_type::clock::now(), ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(fs_->Rename(JoinPath(feed_, name), JoinPath(landing_, name)).ok());
  }
  // `lakepipe query` as CSV without its header line.
  std::string QueryCsv(const std::string& sql, const std::string& folder = "") {
    std::string out = Lakepipe("query " + (folder.empty() ? example_ : folder) + Sets() + " --format csv " + Sh(sql));
    size_t newline = out.find('\n');
    return newline == std::string::npos ? "" : out.substr(newline + 1);
  }
  int64_t QueryCount(const std::string& sql) { return std::atoll(QueryCsv(sql).c_str()); }
  // `lakepipe args`: its exit status, and its stdout and stderr together in *out.
  int Run(const std::string& args, std::string* out) {
    std::string log = dir_.Join("run.out");
    int rc = std::system((Binary() + " " + args + " > " + log + " 2>&1").c_str());
    auto text = fs_->ReadFile(log);
    *out = text.ok() ? *text : "";
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }

  FileSystem* fs_ = FileSystem::Default();
  std::unique_ptr<PgTestServer> pg_;
  TempDir dir_;
  std::string example_, feed_, landing_, exports_;
};

TEST_F(VideoMetricsExampleTest, GoldFilesAndPostgresEqualDuckDbOverTheRawJsonAcrossASchemaChange) {
  const int days = Days();
  Tally tally;
  std::vector<std::string> files = Generate(days, " --new-field-day 4", &tally);
  ASSERT_EQ(files.size(), static_cast<size_t>(2 * days));

  // Days 1-3: the schema is inferred from them (no `device` yet).
  for (int i = 0; i < 6; ++i) Land(files[i]);
  EXPECT_THAT(Lakepipe("validate " + example_ + Sets()), HasSubstr("OK"));
  Lakepipe("run " + example_ + " --once" + Sets());
  EXPECT_EQ(QueryCsv("SELECT count(*) FROM bronze_video_events"), std::to_string(ReadFeed(landing_, {files.begin(), files.begin() + 6}).lines) + "\n");

  // The rest lands, and a continuous run takes it: the new field stops the Bronze flow
  // once, with the documented message, and the run restarts the flow by itself with the
  // pipeline planned again; Silver, Gold, the CSV files and PostgreSQL follow. No restart
  // by hand: the run is stopped only once PostgreSQL holds DuckDB's Gold.
  for (size_t i = 6; i < files.size(); ++i) Land(files[i]);
  const std::string network_sql =
      "SELECT day, network, views, likes, comments, shares, posts_observed FROM gold_views_per_day_network "
      "ORDER BY day, network";
  const std::vector<std::string> network_columns = {"day", "network", "views", "likes", "comments", "shares",
                                                    "posts_observed"};
  std::string network_truth =
      AsCsv(testing::DuckDBRows(NetworkTruthSql(landing_) + " ORDER BY day, network"), network_columns);
  std::vector<std::string> args = {"run", example_, "--port", "0", "--set", "triggers=continuous"};
  for (const std::string& s : {"storage=" + dir_.Join("storage"), "landing=" + landing_, "exports=" + exports_,
                               "postgres_dsn=" + pg_->Dsn("videos")}) {
    args.push_back("--set");
    args.push_back(s);
  }
  LakepipeProcess run(args);
  std::string out = run.ReadUntil("the flow restarts with the new schema", 120);
  size_t at = out.find("http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << out;
  httplib::Client client("127.0.0.1", std::atoi(out.c_str() + at + std::string("http://127.0.0.1:").size()));
  client.set_read_timeout(10, 0);
  EXPECT_THAT(out, HasSubstr("bronze_video_events (streaming table): restarted: "));
  EXPECT_THAT(out, HasSubstr("bronze.sql:15:13: read_files " + landing_ + ": new field `device` (" + landing_ +
                             "/videos_2026-01-04T08.json line "));
  EXPECT_THAT(out, HasSubstr("new field `device`"));
  EXPECT_THAT(out, HasSubstr("schemaEvolutionMode addNewColumns stops the stream once here"));
  EXPECT_THAT(out, HasSubstr("(restart 1 of at most 2 in a row, pipelines.maxFlowRetryAttempts)"));
  std::string published_now;
  bool caught_up = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  while (!caught_up && std::chrono::steady_clock::now() < deadline) {
    // A second of its output read (the pipe must not fill while the run goes on).
    run.ReadUntil("\x01", 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto pg = pg_->Psql("COPY (SELECT day, network, views, likes, comments, shares, posts_observed "
                        "FROM video.views_per_day_network ORDER BY day, network COLLATE \"C\") TO STDOUT WITH (FORMAT csv)",
                        "videos");
    published_now = pg.ok() ? *pg : pg.status().ToString();
    caught_up = published_now == network_truth && QueryCsv(network_sql) == network_truth;
  }
  EXPECT_TRUE(caught_up) << "the continuous run never published DuckDB's Gold; PostgreSQL has\n"
                         << published_now << "\n" << run.ReadUntil("never", 0);
  // The stop stays visible: /metrics and the API count it.
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics && metrics->status == 200);
  EXPECT_EQ(Metric(metrics->body, "lakepipe_flow_restarts_total", "bronze_video_events"), 1) << metrics->body;
  EXPECT_EQ(Metric(metrics->body, "lakepipe_flow_restarts_total", "silver_views"), 0);
  auto api = client.Get("/api/pipeline");
  ASSERT_TRUE(api && api->status == 200);
  Json pipeline = Json::parse(api->body, nullptr, false);
  ASSERT_TRUE(pipeline.is_object()) << api->body;
  for (const auto& node : pipeline["nodes"]) {
    if (node["name"] != "bronze_video_events") continue;
    EXPECT_EQ(node["restarts"], 1);
    EXPECT_THAT(node["last_restart"].get<std::string>(), HasSubstr("new field `device`"));
  }
  EXPECT_EQ(run.StopWith(SIGTERM), 0);
  out = run.ReadUntil("never", 5);  // to the end of its output
  EXPECT_EQ(out.find("): failed"), std::string::npos) << out;
  EXPECT_THAT(out, HasSubstr("quarantined"));
  size_t restarts = 0;
  for (size_t p = out.find(": restarted: "); p != std::string::npos; p = out.find(": restarted: ", p + 1)) ++restarts;
  EXPECT_EQ(restarts, 1u) << out;
  EXPECT_EQ(QueryCount("SELECT count(*) FROM _event_log WHERE event_type = 'flow_restart' AND "
                       "table_name = 'bronze_video_events' AND message LIKE '%new field `device`%'"),
            1);

  // `device` is there from day 4 on (by event time), in Bronze and in Silver.
  EXPECT_EQ(QueryCsv("SELECT count_if(device IS NOT NULL AND event_time < TIMESTAMP '2026-01-04 00:00:00'), "
                     "count_if(device IS NULL AND event_time >= TIMESTAMP '2026-01-04 00:00:00') "
                     "FROM bronze_video_events"),
            "0,0\n");
  EXPECT_GT(QueryCount("SELECT count(device) FROM silver_views"), 0);
  EXPECT_EQ(QueryCount("SELECT count_if(device IS NULL AND day >= DATE '2026-01-04') FROM silver_views"), 0);

  // Broken lines are in Bronze with their text in _rescued_data; events with a counter
  // sent as text are quarantined in Silver, with the raw value in _rescued_data; the
  // late ones are flagged. Together they are the generator's tally.
  FeedFacts facts = ReadFeed(landing_, files);
  EXPECT_EQ(QueryCount("SELECT count(*) FROM bronze_video_events"), facts.lines);
  EXPECT_EQ(QueryCount("SELECT count(*) FROM bronze_video_events WHERE event_id IS NULL AND "
                       "_rescued_data LIKE '%\"_corrupt_record\":%'"),
            facts.broken_lines);
  int64_t quarantined = QueryCount("SELECT count(*) FROM silver_views_quarantine") +
                        QueryCount("SELECT count(*) FROM silver_criacao_quarantine");
  EXPECT_EQ(quarantined, facts.text_counter_events);
  EXPECT_EQ(QueryCount("SELECT count(*) FROM silver_views_quarantine WHERE _rescued_data LIKE '%n/a%'") +
                QueryCount("SELECT count(*) FROM silver_criacao_quarantine WHERE _rescued_data LIKE '%n/a%'"),
            quarantined);
  EXPECT_GT(facts.distinct_broken, 0);
  EXPECT_GT(facts.text_counter_events, 0);
  EXPECT_EQ(facts.distinct_broken + facts.text_counter_events, tally.malformed);
  int64_t late = QueryCount("SELECT count(*) FROM silver_views WHERE is_late") +
                 QueryCount("SELECT count(*) FROM silver_criacao WHERE is_late") +
                 QueryCount("SELECT count(*) FROM silver_views_quarantine WHERE is_late") +
                 QueryCount("SELECT count(*) FROM silver_criacao_quarantine WHERE is_late");
  EXPECT_EQ(late, facts.late_events);
  EXPECT_GT(late, 0);
  // A late line that was also cut short cannot be told late.
  EXPECT_LE(late, tally.late);
  EXPECT_GE(late + facts.distinct_broken, tally.late);
  // De-duplicated: each good event once.
  EXPECT_EQ(QueryCsv("SELECT count(*), count(DISTINCT event_id) FROM silver_views"),
            std::to_string(facts.good_views) + "," + std::to_string(facts.good_views) + "\n");
  EXPECT_EQ(QueryCount("SELECT count(DISTINCT event_id) FROM silver_criacao"), facts.good_posts);
  EXPECT_GT(tally.redelivered, 0);

  // Gold equals DuckDB's computation over the raw JSON.
  std::string network = QueryCsv(network_sql);
  EXPECT_EQ(network, network_truth);
  EXPECT_EQ(std::count(network.begin(), network.end(), '\n'), 6 * days) << "every network every day";
  std::string institution_truth =
      AsCsv(testing::DuckDBRows(InstitutionTruthSql(landing_) + " ORDER BY day, institution_id"),
            {"day", "institution_id", "institution_name", "views", "posts_observed"});
  EXPECT_EQ(QueryCsv("SELECT day, institution_id, institution_name, views, posts_observed "
                     "FROM gold_views_per_day_institution ORDER BY day, institution_id"),
            institution_truth);
  EXPECT_GT(institution_truth.size(), 1000u);

  // The CSV files per day hold the same rows, each day's folder with its _SUCCESS.
  for (const char* table : {"views_per_day_network", "views_per_day_institution"}) {
    auto folders = fs_->ListDir(JoinPath(exports_, table));
    ASSERT_TRUE(folders.ok());
    int day_folders = 0;
    for (const auto& f : *folders) {
      if (!f.is_dir) continue;
      ++day_folders;
      EXPECT_TRUE(fs_->Exists(JoinPath(exports_, std::string(table) + "/" + f.name + "/_SUCCESS"))) << f.name;
    }
    EXPECT_EQ(day_folders, days) << table;
  }
  auto compared = testing::DuckDBRows(
      "WITH truth AS (" + NetworkTruthSql(landing_) +
      "), exported AS (SELECT strftime(CAST(day AS DATE), '%Y-%m-%d') AS day, network, views::BIGINT AS views, "
      "likes::BIGINT AS likes, comments::BIGINT AS comments, shares::BIGINT AS shares, "
      "posts_observed::BIGINT AS posts_observed FROM read_csv('" +
      exports_ + "/views_per_day_network/day=*/part-00000.csv', hive_partitioning = false)) "
      "SELECT (SELECT count(*) FROM exported)::INT AS n, "
      "(SELECT count(*) FROM (SELECT * FROM truth EXCEPT ALL SELECT * FROM exported))::INT AS missing, "
      "(SELECT count(*) FROM (SELECT * FROM exported EXCEPT ALL SELECT * FROM truth))::INT AS extra");
  ASSERT_EQ(compared.size(), 1u);
  EXPECT_EQ(compared[0]["n"].get<int64_t>(), 6 * days);
  EXPECT_EQ(compared[0]["missing"].get<int64_t>(), 0);
  EXPECT_EQ(compared[0]["extra"].get<int64_t>(), 0);

  // PostgreSQL holds the same (run --once publishes after the update, whatever the
  // publication time in pipeline.yaml).
  auto published = pg_->Psql("COPY (SELECT day, network, views, likes, comments, shares, posts_observed "
                             "FROM video.views_per_day_network ORDER BY day, network COLLATE \"C\") "
                             "TO STDOUT WITH (FORMAT csv)",
                             "videos");
  ASSERT_TRUE(published.ok()) << published.status().ToString();
  EXPECT_EQ(*published, network_truth);
  auto institutions = pg_->Psql("SELECT count(*), sum(views) FROM video.views_per_day_institution", "videos");
  ASSERT_TRUE(institutions.ok());
  std::string ours = QueryCsv("SELECT count(*), sum(views) FROM gold_views_per_day_institution");
  std::replace(ours.begin(), ours.end(), ',', '|');  // psql -At separates columns with '|'
  EXPECT_EQ(*institutions, ours);
}

std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// Silver paused (held back by its trigger, with SLAs of seconds instead of hours): a batch
// that lands reaches Bronze at once and waits for Silver; Silver and Gold breach their
// SLAs, seen in /metrics and `lakepipe status` (exit 3); when Silver's trigger comes they
// catch up and both say so.
TEST_F(VideoMetricsExampleTest, APausedSilverBreachesItsSlaAndRecovers) {
  Tally tally;
  std::vector<std::string> files = Generate(2, "", &tally);
  std::string folder = dir_.Join("pipeline");
  ASSERT_TRUE(fs_->CreateDirs(folder).ok());
  for (const char* f : {"bronze.sql", "silver.sql", "gold.sql", "dashboard.yaml"}) {
    auto text = fs_->ReadFile(JoinPath(example_, f));
    ASSERT_TRUE(text.ok());
    ASSERT_TRUE(fs_->WriteFile(JoinPath(folder, f), *text).ok());
  }
  auto yaml = fs_->ReadFile(JoinPath(example_, "pipeline.yaml"));
  ASSERT_TRUE(yaml.ok());
  std::string y = *yaml;
  y = Replaced(y, "bronze_video_events: {at: [\"08:00\", \"20:00\"]}", "bronze_video_events: continuous");
  y = Replaced(y, "silver_views: {at: [\"22:00\"]}", "silver_views: {interval: 25s}");
  y = Replaced(y, "silver_criacao: {at: [\"22:00\"]}", "silver_criacao: {interval: 25s}");
  y = Replaced(y, "bronze: {max_lag: 13h}", "bronze: {max_lag: 1m}");
  y = Replaced(y, "silver: {max_lag: 15h}", "silver: {max_lag: 3s}");
  y = Replaced(y, "gold: {max_lag: 15h}", "gold: {max_lag: 3s}");
  ASSERT_TRUE(fs_->WriteFile(JoinPath(folder, "pipeline.yaml"), y).ok());

  Land(files[0]);
  Land(files[1]);
  std::vector<std::string> args = {"run", folder, "--port", "0"};
  for (const std::string& s : {"storage=" + dir_.Join("storage"), "landing=" + landing_, "exports=" + exports_,
                               "postgres_dsn=" + pg_->Dsn("videos")}) {
    args.push_back("--set");
    args.push_back(s);
  }
  LakepipeProcess run(args);
  std::string out = run.ReadUntil("exporting 2 table(s) as files");
  EXPECT_THAT(out, HasSubstr("publishing 2 table(s) to PostgreSQL schema video daily at 23:00"));
  out = run.ReadUntil("gold_views_per_day_institution (materialized view): updated", 60);
  size_t at = out.find("http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << out;
  httplib::Client client("127.0.0.1", std::atoi(out.c_str() + at + std::string("http://127.0.0.1:").size()));
  client.set_read_timeout(10, 0);

  // The next batch lands: Bronze takes it, Silver waits for its trigger.
  Land(files[2]);
  std::string metrics;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = client.Get("/metrics");
    if (r && r->status == 200 && Metric(r->body, "lakepipe_sla_breached", "silver_views") == 1 &&
        Metric(r->body, "lakepipe_sla_breached", "gold_views_per_day_network") == 1) {
      metrics = r->body;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_FALSE(metrics.empty()) << "Silver and Gold never reported in breach\n" << run.ReadUntil("never", 0);
  EXPECT_THAT(metrics, HasSubstr("lakepipe_sla_breached{table=\"silver_views\",sla=\"silver\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("lakepipe_sla_breached{table=\"bronze_video_events\",sla=\"bronze\"} 0"));
  EXPECT_GT(Metric(metrics, "lakepipe_freshness_lag_seconds", "silver_views"), 3);
  std::string status_cmd = Binary() + " status " + folder + " --set storage=" + dir_.Join("storage") +
                           " --set landing=" + landing_ + " --set exports=" + exports_ + " > " +
                           dir_.Join("status.out") + " 2>&1";
  int rc = std::system(status_cmd.c_str());
  auto status_text = fs_->ReadFile(dir_.Join("status.out"));
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 3) << (status_text.ok() ? *status_text : "");
  EXPECT_THAT(status_text.ok() ? *status_text : "", HasSubstr("BREACHED"));

  // Silver's trigger comes: Silver and Gold catch up and recover.
  bool recovered = false;
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && !recovered) {
    auto m = client.Get("/metrics");
    recovered = m && m->status == 200 && Metric(m->body, "lakepipe_sla_breached", "silver_views") == 0 &&
                Metric(m->body, "lakepipe_sla_breached", "gold_views_per_day_network") == 0 &&
                Metric(m->body, "lakepipe_sla_breached", "gold_views_per_day_institution") == 0;
    if (!recovered) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_TRUE(recovered) << run.ReadUntil("never", 0);
  rc = std::system(status_cmd.c_str());
  status_text = fs_->ReadFile(dir_.Join("status.out"));
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << (status_text.ok() ? *status_text : "");
  out = run.ReadUntil("sla_recovered", 5);
  EXPECT_THAT(out, HasSubstr("sla: "));
  EXPECT_EQ(run.StopWith(SIGTERM), 0);
}

// `lakepipe demo --example video-metrics`: the feed lands batch by batch, the Gold CSV
// files per day appear, the demo's own PostgreSQL serves Gold to its read-only role; with
// --no-postgres it says what it skips and still exports. SIGINT stops it cleanly.
void RunDemo(const TempDir& dir, bool postgres) {
  std::string log = dir.Join(postgres ? "demo.log" : "demo-nopg.log");
  std::string folder = dir.Join(postgres ? "demo" : "demo-nopg");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string cmd = "exec " + Binary() + " demo --example video-metrics --dir " + folder +
                      " --port 0 --days 2 --batch-seconds 0.3" + (postgres ? "" : " --no-postgres") + " > " + log +
                      " 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  FileSystem* fs = FileSystem::Default();
  std::string last_day = folder + "/videos-exports/views_per_day_institution/day=2026-01-02/_SUCCESS";
  for (int i = 0; i < 600 && !fs->Exists(last_day); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(fs->Exists(last_day)) << "the second day was never exported";
  std::string published;
  if (postgres) {
    const std::string marker = "PostgreSQL on 127.0.0.1:";
    for (int i = 0; i < 300 && published.empty(); ++i) {
      auto text = fs->ReadFile(log);
      size_t at = text.ok() ? text->find(marker) : std::string::npos;
      if (at != std::string::npos) {
        size_t from = at + marker.size();
        std::string port = text->substr(from, text->find(' ', from) - from);
        auto r = testing::RunCommand("psql -h 127.0.0.1 -p " + port +
                                     " -U bi_reader videos -Atc 'SELECT count(DISTINCT day) FROM "
                                     "video.views_per_day_network' 2>/dev/null");
        if (r.ok() && *r == "2\n") published = *r;
      }
      if (published.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(published, "2\n") << "both days published to the demo's PostgreSQL";
  }
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  auto text = fs->ReadFile(log);
  ASSERT_TRUE(text.ok());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << *text;
  EXPECT_THAT(*text, HasSubstr("4 batch files"));
  EXPECT_THAT(*text, HasSubstr("the whole feed (4 batches) has landed"));
  EXPECT_THAT(*text, HasSubstr("dashboard and API at http://127.0.0.1:"));
  EXPECT_THAT(*text, HasSubstr("demo: stopped"));
  if (postgres) {
    EXPECT_THAT(*text, HasSubstr("-U bi_reader videos -c 'SELECT day, network, views FROM video.views_per_day_network"));
  } else {
    EXPECT_THAT(*text, HasSubstr("PostgreSQL not started (--no-postgres); running without publication to PostgreSQL"));
    EXPECT_THAT(*text, ::testing::Not(HasSubstr("publishing 2 table(s) to PostgreSQL")));
  }
  EXPECT_THAT(*text, HasSubstr("exporting 2 table(s) as files"));
}

TEST(VideoMetricsDemoTest, LandsTheFeedPublishesAndExports) {
  TempDir dir;
  RunDemo(dir, /*postgres=*/true);
}

TEST(VideoMetricsDemoTest, WithoutPostgresSaysWhatItSkipsAndStillExports) {
  TempDir dir;
  RunDemo(dir, /*postgres=*/false);
}

}  // namespace
}  // namespace lakepipe
