// Governance on `lakepipe job serve` (docs/governance.md, docs/jobs.md "Serving"): every
// route of the job server's route table asked by every kind of caller — no token, a wrong
// token, an admin, an operator, a reader (principals of jobs.yaml's `governance:`), a
// plain --token — through a real socket, with the status each must get; runs started
// through the API really run; and the audit table holds the triggers, runs and denials.
#include "jobs/job_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "governance/audit_log.h"
#include "governance/token_hash.h"
#include "jobs/job_routes.h"
#include "jobs/run_history.h"
#include "testing/testing.h"

namespace lakepipe::jobs {
namespace {

using Json = nlohmann::json;

const char kAdminToken[] = "admin-token-0123456789abcdef";
const char kOperatorToken[] = "operator-token-0123456789abcdef";
const char kReaderToken[] = "reader-token-0123456789abcdef";
const char kPlainToken[] = "plain-server-token-0123456789";

enum Caller { kNone, kWrong, kAdmin, kOperator, kReader, kPlain, kCallers };
const char* kCallerNames[] = {"none", "wrong", "admin", "operator", "reader", "plain"};
const char* TokenOf(Caller c) {
  switch (c) {
    case kWrong: return "wrong-token-0123456789abcdef";
    case kAdmin: return kAdminToken;
    case kOperator: return kOperatorToken;
    case kReader: return kReaderToken;
    case kPlain: return kPlainToken;
    default: return "";
  }
}

std::string HashOf(const std::string& token) {
  auto h = governance::HashToken(token);
  EXPECT_TRUE(h.ok());
  return governance::FormatTokenHash(*h);
}

struct Reply {
  int status = -1;
  Json body;
};

Reply Ask(int port, const std::string& method, const std::string& path, Caller caller) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(20, 0);
  httplib::Headers headers;
  if (caller != kNone) headers.emplace("Authorization", std::string("Bearer ") + TokenOf(caller));
  httplib::Result res = method == "POST" ? c.Post(path, headers, "", "application/json")
                        : method == "DELETE" ? c.Delete(path, headers)
                                             : c.Get(path, headers);
  Reply r;
  if (!res) return r;
  r.status = res->status;
  r.body = Json::parse(res->body, nullptr, false);
  return r;
}

class JobServerAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A job per caller, so that each allowed trigger starts its own run (a job does not
    // overlap itself); each writes a file named after itself.
    std::string jobs = "storage: ./state\n"
                       "governance:\n"
                       "  principals:\n"
                       "    - {name: root, role: admin, token_hash: \"" + HashOf(kAdminToken) + "\"}\n"
                       "    - {name: ops, role: operator, token_hash: \"" + HashOf(kOperatorToken) + "\"}\n"
                       "    - {name: alice, role: reader, groups: [analysts], token_hash: \"" + HashOf(kReaderToken) + "\"}\n"
                       "jobs:\n";
    for (const char* name : kCallerNames) {
      jobs += std::string("  ") + name + ":\n    tasks:\n      - {name: touch, kind: command, argv: [sh, -c, \"echo " +
              name + " > " + name + ".out\"]}\n";
    }
    path_ = dir_.Join("jobs.yaml");
    ASSERT_TRUE(FileSystem::Default()->WriteFile(path_, jobs).ok());
    auto file = JobsFile::Load(path_);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    file_ = std::make_unique<JobsFile>(std::move(file).value());
    server_ = std::make_unique<JobServer>(*file_);
    JobServerOptions o;
    o.port = 0;
    o.tokens = {kPlainToken};
    o.run_schedules = false;
    o.policy_poll_ms = 50;
    Status st = server_->Start(o);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  int port() const { return server_->port(); }
  std::string Storage() const { return dir_.Join("state"); }

  testing::TempDir dir_;
  std::string path_;
  std::unique_ptr<JobsFile> file_;
  std::unique_ptr<JobServer> server_;
};

struct Expectation {
  std::string method, route, path;  // `%s` in path: the caller's own job
  int status[kCallers];
};

bool WaitFor(const std::function<bool()>& done, int seconds = 30) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

TEST_F(JobServerAccessTest, EveryRouteTimesEveryCallerGetsItsStatus) {
  ASSERT_GT(port(), 0);
  //                                                                    none wrong admin oper reader plain
  const std::vector<Expectation> matrix = {
      {"GET", "/health", "/health", {200, 200, 200, 200, 200, 200}},
      {"GET", "/api/jobs", "/api/jobs", {401, 401, 200, 200, 200, 200}},
      {"GET", "/api/jobs/runs", "/api/jobs/runs", {401, 401, 200, 200, 200, 200}},
      {"GET", "/api/jobs/runs", "/api/jobs/runs?job=nope", {401, 401, 404, 404, 404, 404}},
      {"POST", "/api/jobs/{job}/runs", "/api/jobs/%s/runs", {401, 401, 202, 202, 403, 202}},
      {"POST", "/api/jobs/{job}/runs", "/api/jobs/nope/runs", {401, 401, 404, 404, 403, 404}},
      {"GET", "/", "/", {401, 401, 200, 200, 200, 200}},
      {"GET", "/jobs", "/jobs", {401, 401, 200, 200, 200, 200}},
      {"GET", "/assets/{file}", "/assets/jobs.js", {401, 401, 200, 200, 200, 200}},
  };
  // A route added to the server without a row here fails the test.
  std::set<std::string> covered;
  for (const auto& e : matrix) {
    std::string bare = e.path.substr(0, e.path.find('?'));
    std::string param;
    const JobRoute* r = MatchJobRoute(e.method, bare, &param);
    ASSERT_NE(r, nullptr) << e.method << " " << e.path << " matches no route";
    EXPECT_EQ(r->pattern, e.route);
    covered.insert(r->method + " " + r->pattern);
  }
  for (const auto& r : JobRoutes()) EXPECT_TRUE(covered.count(r.method + " " + r.pattern)) << "no row for " << r.pattern;

  for (const auto& e : matrix) {
    for (int c = 0; c < kCallers; ++c) {
      std::string path = e.path;
      size_t at = path.find("%s");
      if (at != std::string::npos) path.replace(at, 2, kCallerNames[c]);
      Reply r = Ask(port(), e.method, path, static_cast<Caller>(c));
      EXPECT_EQ(r.status, e.status[c]) << e.method << " " << path << " as " << kCallerNames[c] << ": " << r.body.dump();
      if (e.method == "POST" && r.status == 202) {
        EXPECT_EQ(r.body["job"], kCallerNames[c]);
        EXPECT_FALSE(r.body["run_id"].get<std::string>().empty());
      }
      if (r.status == 403) {
        EXPECT_NE(r.body["error"].get<std::string>().find("alice"), std::string::npos) << r.body.dump();
      }
    }
  }
  // Other methods on a route are refused, never run.
  EXPECT_EQ(Ask(port(), "GET", "/api/jobs/admin/runs", kAdmin).status, 405);
  EXPECT_EQ(Ask(port(), "DELETE", "/api/jobs", kAdmin).status, 405);

  // The runs the API started really ran, as trigger `api`, and the reader's did not.
  for (const char* job : {"admin", "operator", "plain"}) {
    EXPECT_TRUE(WaitFor([&] { return FileSystem::Default()->Exists(dir_.Join(std::string(job) + ".out")); })) << job;
  }
  EXPECT_FALSE(FileSystem::Default()->Exists(dir_.Join("reader.out")));
  std::map<std::string, std::string> run_state;
  ASSERT_TRUE(WaitFor([&] {
    auto rows = RunHistory(Storage()).ReadAll();
    run_state.clear();
    if (rows.ok())
      for (const auto& r : *rows)
        if (r.task.empty()) run_state[r.job] = r.trigger + " " + r.state;
    return run_state.size() == 3;
  }));
  EXPECT_EQ(run_state["admin"], "api succeeded");
  EXPECT_EQ(run_state["operator"], "api succeeded");
  EXPECT_EQ(run_state["plain"], "api succeeded");

  // The audit table: who started what, each run's end, and every denial.
  std::vector<governance::AuditRecord> records;
  ASSERT_TRUE(WaitFor([&] {
    auto read = governance::AuditLog::Read(Storage());
    if (!read.ok()) return false;
    records = *read;
    int ended = 0;
    for (const auto& r : records) ended += r.action == "job_run";
    return ended == 3;
  }));
  std::multiset<std::string> seen;
  for (const auto& r : records) {
    if (r.action == "grant_change") continue;
    seen.insert(r.action + " " + r.principal + " " + r.target + " " + r.outcome + " " + std::to_string(r.status));
  }
  for (const char* line : {"trigger_job root admin allowed 202", "trigger_job ops operator allowed 202",
                           "trigger_job server.tokens plain allowed 202", "trigger_job alice reader denied 403",
                           "trigger_job alice nope denied 403", "trigger_job root nope failed 404",
                           "job_run root admin allowed 0", "job_run ops operator allowed 0",
                           "job_run server.tokens plain allowed 0"}) {
    EXPECT_EQ(seen.count(line), 1u) << line;
  }
  int unauthenticated = 0;
  for (const auto& r : records) unauthenticated += r.action == "http" && r.status == 401 && r.principal.empty();
  // Every request of `none` and `wrong` but /health: 8 rows each.
  EXPECT_EQ(unauthenticated, 16);
}

TEST_F(JobServerAccessTest, APrincipalAddedToTheFileIsKnownWithoutARestart) {
  ASSERT_GT(port(), 0);
  const char kNewToken[] = "new-operator-token-0123456789";
  EXPECT_EQ(Ask(port(), "GET", "/api/jobs", kWrong).status, 401);
  auto text = FileSystem::Default()->ReadFile(path_);
  ASSERT_TRUE(text.ok());
  std::string changed = *text;
  std::string anchor = "jobs:\n";
  size_t at = changed.rfind(anchor);
  ASSERT_NE(at, std::string::npos);
  changed.insert(at, "    - {name: newcomer, role: operator, token_hash: \"" + HashOf(kNewToken) + "\"}\n");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(path_, changed).ok());
  httplib::Client c("127.0.0.1", port());
  EXPECT_TRUE(WaitFor([&] {
    auto res = c.Get("/api/jobs", {{"Authorization", std::string("Bearer ") + kNewToken}});
    return res && res->status == 200;
  }, 10));
  auto records = governance::AuditLog::Read(Storage());
  ASSERT_TRUE(records.ok());
  bool recorded = false;
  for (const auto& r : *records)
    recorded = recorded || (r.action == "grant_change" && r.detail.find("+ PRINCIPAL newcomer ROLE operator") != std::string::npos);
  EXPECT_TRUE(recorded);
}

}  // namespace
}  // namespace lakepipe::jobs
