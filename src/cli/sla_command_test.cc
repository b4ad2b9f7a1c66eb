// SLAs end to end (docs/sla.md): a continuous run whose Gold layer is held back by its
// trigger falls behind its SLA; /metrics, `lakepipe status` (exit 3) and the event log say
// so; when Gold's trigger lets it catch up, all three say it recovered. Bad `sla:` entries
// are refused by validate.
#include <httplib.h>

#include <chrono>
#include <thread>

#include "cli/cli_test_util.h"
#include "common/fs.h"

namespace lakepipe {
namespace {

using Json = nlohmann::json;

constexpr const char* kSql = R"(
CREATE OR REFRESH STREAMING TABLE bronze_events AS
SELECT * FROM STREAM read_files('${landing}', format => 'csv', header => true, schema => 'id INT, amount DOUBLE');
CREATE OR REFRESH STREAMING TABLE silver_events AS SELECT id, amount FROM STREAM(bronze_events) WHERE amount > 0;
CREATE OR REFRESH MATERIALIZED VIEW gold_totals AS SELECT count(*) AS n, sum(amount) AS total FROM silver_events;
)";

// Writes a pipeline folder with `yaml_tail` appended to its pipeline.yaml.
std::string WritePipeline(testing::TempDir& dir, const std::string& yaml_tail) {
  FileSystem* fs = FileSystem::Default();
  std::string folder = dir.Join("pipeline");
  EXPECT_TRUE(fs->CreateDirs(folder).ok());
  EXPECT_TRUE(fs->CreateDirs(dir.Join("landing")).ok());
  EXPECT_TRUE(fs->WriteFile(folder + "/pipeline.yaml", "name: sla\nstorage: " + dir.Join("storage") +
                                                           "\nconfiguration: {landing: " + dir.Join("landing") + "}\n" +
                                                           yaml_tail)
                  .ok());
  EXPECT_TRUE(fs->WriteFile(folder + "/events.sql", kSql).ok());
  return folder;
}

// The value of `family{table="<table>"...}` in a /metrics body; -1 when absent.
double Metric(const std::string& body, const std::string& family, const std::string& table) {
  std::string prefix = family + "{table=\"" + table + "\"";
  size_t at = body.find(prefix);
  if (at == std::string::npos) return -1;
  size_t space = body.find(' ', body.find('}', at));
  return std::atof(body.c_str() + space + 1);
}

// `lakepipe status`'s exit code and output.
int StatusExit(const std::string& folder, std::string* out) {
  std::string log = folder + "/../status.out";
  int rc = std::system((Binary() + " status " + Quote(folder) + " > " + Quote(log) + " 2>&1").c_str());
  auto text = FileSystem::Default()->ReadFile(log);
  *out = text.ok() ? *text : "";
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(SlaCommandTest, PausedGoldBreachesItsSlaAndRecoversWhenItCatchesUp) {
  testing::TempDir dir;
  // Gold updates at most every 25 s (its trigger holds it back, as a paused layer); its
  // SLA allows 2 s. Bronze and Silver follow the files at once.
  std::string folder = WritePipeline(dir, "triggers:\n  gold_totals: {interval: 25s}\n"
                                          "sla:\n  bronze: {max_lag: 1m}\n  silver: {max_lag: 1m}\n  gold: {max_lag: 2s}\n");
  FileSystem* fs = FileSystem::Default();
  ASSERT_TRUE(fs->WriteFile(dir.Join("landing/a.csv"), "id,amount\n1,10\n2,20\n").ok());

  LakepipeProcess run({"run", folder, "--port", "0"});
  std::string out = run.ReadUntil("dashboard and API at http://127.0.0.1:");
  out = run.ReadUntil("gold_totals");  // Gold's first update (its first data)
  size_t at = out.find("http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << out;
  int port = std::atoi(out.c_str() + at + std::string("http://127.0.0.1:").size());
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10, 0);

  // A second file: Bronze and Silver take it, Gold waits for its trigger.
  ASSERT_TRUE(fs->WriteFile(dir.Join("landing/b.csv"), "id,amount\n3,30\n").ok());
  std::string metrics;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = client.Get("/metrics");
    if (r && r->status == 200 && Metric(r->body, "lakepipe_sla_breached", "gold_totals") == 1) {
      metrics = r->body;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_FALSE(metrics.empty()) << "gold_totals never reported in breach";
  EXPECT_NE(metrics.find("lakepipe_sla_breached{table=\"gold_totals\",sla=\"gold\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("lakepipe_sla_breached{table=\"bronze_events\",sla=\"bronze\"} 0"), std::string::npos) << metrics;
  EXPECT_GT(Metric(metrics, "lakepipe_freshness_lag_seconds", "gold_totals"), 2);
  EXPECT_EQ(Metric(metrics, "lakepipe_freshness_lag_seconds", "bronze_events"), 0);
  EXPECT_EQ(Metric(metrics, "lakepipe_sla_max_lag_seconds", "gold_totals"), 2);

  std::string status_out;
  EXPECT_EQ(StatusExit(folder, &status_out), 3) << status_out;
  EXPECT_NE(status_out.find("BREACHED"), std::string::npos) << status_out;
  EXPECT_NE(status_out.find("1 of 3 table(s) with an SLA breach it"), std::string::npos) << status_out;

  auto sla = client.Get("/api/sla");
  ASSERT_TRUE(sla && sla->status == 200);
  Json j = Json::parse(sla->body);
  EXPECT_EQ(j["breached"], true);
  for (const auto& t : j["tables"]) {
    EXPECT_EQ(t["breached"], t["table"] == "gold_totals") << t.dump();
    if (t["table"] == "gold_totals") {
      EXPECT_EQ(t["sla"]["scope"], "gold");
      EXPECT_NE(t["pending"].get<std::string>().find("of silver_events not yet read"), std::string::npos) << t.dump();
    }
  }

  // The event log records the breach, then Gold's trigger comes and it recovers.
  bool breached_event = false, recovered_event = false, recovered_metric = false;
  std::string last_events;
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && !(breached_event && recovered_event && recovered_metric)) {
    auto events = client.Get("/api/events?limit=1000&table=gold_totals");
    if (events) last_events = std::to_string(events->status) + " " + events->body.substr(0, 3000);
    if (events && events->status == 200) {
      Json body = Json::parse(events->body);
      for (const auto& e : body["events"]) {
        breached_event |= e["event_type"] == "sla_breached" && e["level"] == "WARN";
        recovered_event |= e["event_type"] == "sla_recovered";
      }
    }
    auto m = client.Get("/metrics");
    recovered_metric = m && m->status == 200 && Metric(m->body, "lakepipe_sla_breached", "gold_totals") == 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_TRUE(breached_event) << last_events << "\n" << run.ReadUntil("never", 0);
  EXPECT_TRUE(recovered_event);
  EXPECT_TRUE(recovered_metric);
  EXPECT_EQ(StatusExit(folder, &status_out), 0) << status_out;
  EXPECT_NE(status_out.find("every table with an SLA (3) is within it"), std::string::npos) << status_out;
  EXPECT_EQ(run.StopWith(SIGTERM), 0);
}

TEST(SlaCommandTest, ValidateRefusesBadSlaEntries) {
  {
    testing::TempDir dir;
    std::string folder = WritePipeline(dir, "sla:\n  gold: {max_lag: 2h, within: 5m}\n");
    std::string err = LakepipeFails("validate " + Quote(folder));
    ExpectOneErrorLine(err, "sla.gold");
    EXPECT_NE(err.find("within"), std::string::npos) << err;
    EXPECT_NE(err.find("pipeline.yaml:"), std::string::npos) << err;
  }
  {
    testing::TempDir dir;
    std::string folder = WritePipeline(dir, "sla:\n  platinum: {max_lag: 2h}\n");
    std::string err = LakepipeFails("validate " + Quote(folder));
    ExpectOneErrorLine(err, "`platinum` is neither a layer (bronze, silver, gold) nor a table");
  }
  {
    testing::TempDir dir;
    std::string folder = WritePipeline(dir, "sla:\n  gold: {max_lag: soon}\n");
    ExpectOneErrorLine(LakepipeFails("validate " + Quote(folder)), "sla.gold.max_lag");
  }
  {
    testing::TempDir dir;
    std::string folder = WritePipeline(dir, "sla:\n  silver_events: {}\n");
    ExpectOneErrorLine(LakepipeFails("validate " + Quote(folder)), "needs max_lag");
  }
}

}  // namespace
}  // namespace lakepipe
