// Governance on the HTTP API (docs/governance.md): every route of the server's route table
// asked by every kind of caller — no token, a wrong token, an admin, an operator, a reader,
// a plain server.tokens token — through a real socket, with the status each must get; and
// what a reader sees of the tables it was not granted (nothing); and grants changed while
// the server runs (reloaded, or kept when the new file fails).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <thread>
#include <nlohmann/json.hpp>
#include <set>

#include "generator/domain.h"
#include "governance/token_hash.h"
#include "server/api.h"
#include "server/http_server.h"
#include "testing/example_copy.h"
#include "testing/testing.h"

namespace lakepipe::server {
namespace {

using Json = nlohmann::json;

const char kAdminToken[] = "admin-token-0123456789abcdef";
const char kOperatorToken[] = "operator-token-0123456789abcdef";
const char kReaderToken[] = "reader-token-0123456789abcdef";
const char kPlainToken[] = "plain-server-token-0123456789";

std::string HashOf(const std::string& token) {
  auto h = governance::HashToken(token);
  EXPECT_TRUE(h.ok());
  return governance::FormatTokenHash(*h);
}

// examples/orders copied into a temporary folder with governance: three principals, and
// grants that give the reader (group analysts) gold_kpis and gold_revenue_by_country and
// the operator (group ops) gold_top_products.
struct GovernedOrders {
  testing::TempDir dir;
  std::unique_ptr<runtime::PipelineRunner> runner;
  HttpServer server;
  int64_t policy_poll_ms = 2000;  // ServerOptions' default

  void SetUp() {
    FileSystem* fs = FileSystem::Default();
    std::string folder = dir.Join("orders");
    ASSERT_TRUE(fs->CreateDirs(dir.Join("landing")).ok());
    ASSERT_TRUE(testing::CopyOrdersExample(
                    folder, "governance:\n"
                            "  principals:\n"
                            "    - {name: root, role: admin, token_hash: \"" + HashOf(kAdminToken) + "\"}\n"
                            "    - {name: grafana, role: operator, groups: [ops], token_hash: \"" + HashOf(kOperatorToken) + "\"}\n"
                            "    - {name: alice, role: reader, groups: [analysts], token_hash: \"" + HashOf(kReaderToken) + "\"}\n"
                            "  grants: grants.sql\n")
                    .ok());
    ASSERT_TRUE(fs->WriteFile(JoinPath(folder, "grants.sql"),
                              "-- the reader's tables\n"
                              "GRANT SELECT ON TABLE gold_kpis TO analysts;\n"
                              "GRANT SELECT ON TABLE orders.gold_revenue_by_country TO analysts;\n"
                              "GRANT SELECT ON TABLE silver_orders TO alice;\n"
                              "REVOKE SELECT ON TABLE silver_orders FROM alice;\n"
                              "GRANT SELECT ON TABLE gold_top_products TO ops;\n")
                    .ok());
    auto domain = generator::MakeDomain("orders");
    ASSERT_TRUE(domain.ok());
    ASSERT_TRUE(generator::GenerateToFile(fs, **domain, 7, 2000, dir.Join("landing/orders-1.csv")).ok());
    auto opened = runtime::PipelineRunner::Open(folder, {{"landing", dir.Join("landing")}});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    runner = std::move(opened).value();
    auto report = runner->RunOnce({});
    ASSERT_TRUE(report.ok() && report->ok()) << (report.ok() ? "" : report.status().ToString());
    ServerOptions options;
    options.port = 0;
    options.tokens = {kPlainToken};
    options.policy_poll_ms = policy_poll_ms;
    Status st = server.Start(options, runner.get(), nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
};

enum Caller { kNone, kWrong, kAdmin, kOperator, kReader, kPlain, kCallers };
const char* kCallerNames[] = {"no token", "wrong token", "admin", "operator", "reader", "server.tokens"};
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

// The status line of GET `path` (with the caller's token), read from a raw socket so that
// an event stream (which never ends) is answered like any route.
int StatusOf(int port, const std::string& path, Caller caller) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
  if (caller != kNone) request += std::string("Authorization: Bearer ") + TokenOf(caller) + "\r\n";
  request += "\r\n";
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    (void)!send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[4096];
    while (out.find("\r\n") == std::string::npos) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  if (out.rfind("HTTP/1.", 0) != 0 || out.size() < 12) return -1;
  return std::atoi(out.c_str() + 9);
}

Json GetJson(int port, const std::string& path, Caller caller, int* status = nullptr) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(20, 0);
  auto res = c.Get(path, {{"Authorization", std::string("Bearer ") + TokenOf(caller)}});
  EXPECT_TRUE(res) << path;
  if (!res) return Json();
  if (status != nullptr) *status = res->status;
  Json j = Json::parse(res->body, nullptr, false);
  return j.is_discarded() ? Json(res->body) : j;
}

class AccessMatrixTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    orders_ = new GovernedOrders();
    orders_->SetUp();
  }
  static void TearDownTestSuite() {
    delete orders_;
    orders_ = nullptr;
  }
  static int port() { return orders_->server.port(); }
  static GovernedOrders* orders_;
};
GovernedOrders* AccessMatrixTest::orders_ = nullptr;

struct Expectation {
  std::string route;  // the route table's pattern this row exercises
  std::string path;
  int status[kCallers];
};

TEST_F(AccessMatrixTest, EveryRouteTimesEveryCallerGetsItsStatus) {
  ASSERT_GT(port(), 0) << "setup failed";
  //                                                              none wrong admin oper reader plain
  const std::vector<Expectation> matrix = {
      {"/health", "/health", {200, 200, 200, 200, 200, 200}},
      {"/api/tables", "/api/tables", {401, 401, 200, 200, 200, 200}},
      {"/api/tables/{name}", "/api/tables/gold_kpis", {401, 401, 200, 200, 200, 200}},
      {"/api/tables/{name}", "/api/tables/silver_orders", {401, 401, 200, 200, 403, 200}},
      {"/api/tables/{name}", "/api/tables/no_such_table", {401, 401, 404, 404, 404, 404}},
      {"/api/tables/{name}/rows", "/api/tables/gold_kpis/rows", {401, 401, 200, 403, 200, 200}},
      {"/api/tables/{name}/rows", "/api/tables/GOLD_TOP_PRODUCTS/rows", {401, 401, 200, 200, 403, 200}},
      {"/api/tables/{name}/rows", "/api/tables/silver_orders/rows", {401, 401, 200, 403, 403, 200}},
      {"/api/tables/{name}/rows", "/api/tables/_event_log/rows", {401, 401, 200, 403, 403, 200}},
      {"/api/pipeline", "/api/pipeline", {401, 401, 200, 200, 200, 200}},
      {"/api/dashboard", "/api/dashboard", {401, 401, 200, 200, 200, 200}},
      {"/api/dashboard/charts/{id}", "/api/dashboard/charts/total-revenue", {401, 401, 200, 403, 200, 200}},
      {"/api/dashboard/charts/{id}", "/api/dashboard/charts/top-products", {401, 401, 200, 200, 403, 200}},
      {"/api/dashboard/charts/{id}", "/api/dashboard/charts/revenue-over-time", {401, 401, 200, 403, 403, 200}},
      {"/api/dashboard/charts/{id}", "/api/dashboard/charts/nope", {401, 401, 404, 404, 404, 404}},
      {"/api/sla", "/api/sla", {401, 401, 200, 200, 200, 200}},
      {"/api/expectations", "/api/expectations", {401, 401, 200, 200, 200, 200}},
      {"/api/events", "/api/events", {401, 401, 200, 200, 200, 200}},
      {"/api/events", "/api/events?table=silver_orders", {401, 401, 200, 200, 403, 200}},
      {"/metrics", "/metrics", {401, 401, 200, 200, 200, 200}},
      {"/api/stream", "/api/stream", {401, 401, 200, 200, 200, 200}},
      {"/api/audit", "/api/audit", {401, 401, 200, 403, 403, 200}},
      {"/api/lineage", "/api/lineage", {401, 401, 200, 200, 200, 200}},
      {"/api/lineage", "/api/lineage?column=gold_kpis.orders", {401, 401, 200, 200, 200, 200}},
      {"/api/lineage", "/api/lineage?column=silver_orders.line_total", {401, 401, 200, 200, 403, 200}},
      {"/", "/", {401, 401, 200, 200, 200, 200}},
      {"/index.html", "/index.html", {401, 401, 200, 200, 200, 200}},
      {"/assets/{file}", "/assets/app.js", {401, 401, 200, 200, 200, 200}},
  };
  // A route added to the server without a row here fails the test.
  std::set<std::string> covered;
  for (const auto& e : matrix) {
    std::string param;
    std::string bare = e.path.substr(0, e.path.find('?'));
    const Route* r = MatchRoute(bare, &param);
    ASSERT_NE(r, nullptr) << e.path << " matches no route";
    EXPECT_EQ(r->pattern, e.route) << e.path;
    covered.insert(r->pattern);
  }
  for (const auto& r : Routes()) {
    EXPECT_TRUE(covered.count(r.pattern)) << "route " << r.pattern << " has no row in the access matrix";
  }

  for (const auto& e : matrix) {
    for (int c = 0; c < kCallers; ++c) {
      EXPECT_EQ(StatusOf(port(), e.path, static_cast<Caller>(c)), e.status[c])
          << "GET " << e.path << " as " << kCallerNames[c];
    }
  }
}

std::set<std::string> Names(const Json& list, const char* key) {
  std::set<std::string> out;
  for (const auto& x : list) out.insert(x[key].get<std::string>());
  return out;
}

TEST_F(AccessMatrixTest, AReaderSeesOnlyItsTablesEverywhere) {
  ASSERT_GT(port(), 0) << "setup failed";
  const std::set<std::string> granted = {"gold_kpis", "gold_revenue_by_country"};
  Json tables = GetJson(port(), "/api/tables", kReader);
  EXPECT_EQ(Names(tables["tables"], "name"), granted);
  // The operator (and the admin) see every table.
  Json all = GetJson(port(), "/api/tables", kOperator);
  EXPECT_TRUE(Names(all["tables"], "name").count("silver_orders"));
  EXPECT_TRUE(Names(all["tables"], "name").count("_event_log"));
  EXPECT_EQ(Names(GetJson(port(), "/api/tables", kAdmin)["tables"], "name"), Names(all["tables"], "name"));

  Json dag = GetJson(port(), "/api/pipeline", kReader);
  EXPECT_EQ(Names(dag["nodes"], "name"), granted);
  for (const auto& edge : dag["edges"]) {
    EXPECT_TRUE(granted.count(edge["to"].get<std::string>())) << edge.dump();
    EXPECT_TRUE(granted.count(edge["from"].get<std::string>())) << edge.dump();  // no file source under gold
  }
  for (const auto& node : dag["nodes"]) {
    EXPECT_TRUE(node["upstream"].empty()) << node["upstream"].dump();
  }
  EXPECT_GT(GetJson(port(), "/api/pipeline", kOperator)["edges"].size(), 0u);

  // The dashboard lists the charts over granted tables only.
  Json dashboard = GetJson(port(), "/api/dashboard", kReader);
  std::set<std::string> charts = Names(dashboard["charts"], "id");
  EXPECT_TRUE(charts.count("total-revenue"));
  EXPECT_TRUE(charts.count("revenue-by-country"));
  EXPECT_FALSE(charts.count("top-products"));
  EXPECT_FALSE(charts.count("revenue-over-time"));
  for (const auto& c : dashboard["charts"])
    for (const auto& t : c["tables"]) {
      EXPECT_TRUE(granted.count(t.get<std::string>())) << c.dump();
    }

  // Metrics: samples of granted tables only.
  Json metrics = GetJson(port(), "/metrics", kReader);
  ASSERT_TRUE(metrics.is_string());
  std::string text = metrics.get<std::string>();
  EXPECT_NE(text.find("table=\"gold_kpis\""), std::string::npos);
  EXPECT_EQ(text.find("table=\"silver_orders\""), std::string::npos);
  EXPECT_EQ(text.find("table=\"bronze_orders\""), std::string::npos);
  EXPECT_NE(GetJson(port(), "/metrics", kOperator).get<std::string>().find("table=\"silver_orders\""), std::string::npos);

  // Events, expectations, SLAs: nothing about other tables.
  for (const auto& e : GetJson(port(), "/api/events?limit=1000", kReader)["events"]) {
    ASSERT_TRUE(e["table"].is_string()) << e.dump();
    EXPECT_TRUE(granted.count(e["table"].get<std::string>())) << e.dump();
  }
  EXPECT_TRUE(GetJson(port(), "/api/expectations", kReader)["tables"].empty());  // silver's are not its
  EXPECT_FALSE(GetJson(port(), "/api/expectations", kOperator)["tables"].empty());
  for (const auto& t : GetJson(port(), "/api/sla", kReader)["tables"])
    EXPECT_TRUE(granted.count(t["table"].get<std::string>())) << t.dump();

  // Lineage: the reader's columns, their sources in tables it does not see left out.
  Json lineage = GetJson(port(), "/api/lineage", kReader);
  ASSERT_FALSE(lineage["columns"].empty());
  for (const auto& c : lineage["columns"]) {
    EXPECT_TRUE(granted.count(c["table"].get<std::string>())) << c.dump();
    EXPECT_TRUE(c["sources"].empty()) << c.dump();  // every gold column comes from silver_orders
  }
  Json full = GetJson(port(), "/api/lineage?column=gold_kpis.orders", kOperator);
  EXPECT_EQ(full["edges"].size(), 3u) << full.dump();  // silver, bronze, the landing files
  EXPECT_EQ(full["hidden_edges"], 0);
  EXPECT_EQ(GetJson(port(), "/api/lineage?column=gold_kpis.orders", kReader)["hidden_edges"], 3);

  // A denied table names the principal and the missing grant.
  int status = 0;
  Json denied = GetJson(port(), "/api/tables/silver_orders/rows", kReader, &status);
  EXPECT_EQ(status, 403);
  EXPECT_NE(denied["error"].get<std::string>().find("alice"), std::string::npos) << denied.dump();
  EXPECT_NE(denied["error"].get<std::string>().find("silver_orders"), std::string::npos) << denied.dump();
  // A granted table's rows are the table's.
  Json rows = GetJson(port(), "/api/tables/gold_kpis/rows", kReader, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(rows["rows"].size(), 1u);

  // The denial is in the audit log, with who and why (an admin reads it).
  Json audit = GetJson(port(), "/api/audit?limit=1000", kAdmin, &status);
  EXPECT_EQ(status, 200);
  bool found = false;
  for (const auto& r : audit["records"]) {
    if (r["principal"] == "alice" && r["action"] == "read_rows" && r["target"] == "silver_orders") {
      found = true;
      EXPECT_EQ(r["outcome"], "denied");
      EXPECT_EQ(r["status"], 403);
      EXPECT_EQ(r["role"], "reader");
      EXPECT_NE(r["detail"].get<std::string>().find("no SELECT grant"), std::string::npos) << r.dump();
    }
  }
  EXPECT_TRUE(found) << audit.dump().substr(0, 2000);
}

TEST_F(AccessMatrixTest, AReadersEventStreamCarriesOnlyItsTables) {
  ASSERT_GT(port(), 0) << "setup failed";
  httplib::Client c("127.0.0.1", port());
  c.set_read_timeout(10, 0);
  std::string body;
  auto res = c.Get("/api/stream", {{"Authorization", std::string("Bearer ") + kReaderToken}},
                   [&](const char* data, size_t n) {
                     body.append(data, n);
                     return body.find("\n\n") == std::string::npos;  // stop after the first event
                   });
  size_t data = body.find("data: ");
  ASSERT_NE(data, std::string::npos) << body;
  Json payload = Json::parse(body.substr(data + 6, body.find('\n', data) - data - 6), nullptr, false);
  ASSERT_FALSE(payload.is_discarded()) << body;
  EXPECT_EQ(Names(payload["nodes"], "name"), (std::set<std::string>{"gold_kpis", "gold_revenue_by_country"}));
}

// docs/governance.md, "Reloading the grants": a grant added to the file while the server
// runs is in effect without a restart (and recorded); a file that then fails to load
// keeps the grants in effect, and the failure is in the audit log with its file:line.
TEST(AccessMatrix, GrantsChangedWhileServingApplyWithoutARestart) {
  GovernedOrders orders;
  orders.policy_poll_ms = 50;
  orders.SetUp();
  const int port = orders.server.port();
  ASSERT_GT(port, 0) << "setup failed";
  EXPECT_EQ(StatusOf(port, "/api/tables/silver_orders/rows", kReader), 403);
  FileSystem* fs = FileSystem::Default();
  const std::string grants = JoinPath(orders.dir.Join("orders"), "grants.sql");
  auto text = fs->ReadFile(grants);
  ASSERT_TRUE(text.ok());
  auto within = [](const std::function<bool()>& done) {
    for (int i = 0; i < 200 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return done();
  };
  ASSERT_TRUE(fs->WriteFile(grants, *text + "GRANT SELECT ON TABLE silver_orders TO analysts;\n").ok());
  EXPECT_TRUE(within([&] { return StatusOf(port, "/api/tables/silver_orders/rows", kReader) == 200; }));

  // Line 8 names an unknown grantee: not loaded, the grant above stays.
  ASSERT_TRUE(fs->WriteFile(grants, *text + "GRANT SELECT ON TABLE silver_orders TO analysts;\n"
                                            "GRANT SELECT ON TABLE gold_kpis TO nobody;\n")
                  .ok());
  auto grant_changes = [&] {
    std::vector<Json> out;
    Json audit = GetJson(port, "/api/audit?limit=1000", kAdmin);  // kept alive for the loop
    for (const auto& r : audit["records"])
      if (r["action"] == "grant_change") out.push_back(r);
    return out;  // newest first
  };
  EXPECT_TRUE(within([&] {
    auto changes = grant_changes();
    return !changes.empty() && changes.front()["outcome"] == "failed";
  }));
  EXPECT_EQ(StatusOf(port, "/api/tables/silver_orders/rows", kReader), 200);
  auto changes = grant_changes();
  ASSERT_GE(changes.size(), 3u);  // the start, the reload, the failure
  EXPECT_NE(changes[0]["detail"].get<std::string>().find(grants + ":8:"), std::string::npos) << changes[0].dump();
  EXPECT_EQ(changes[1]["outcome"], "allowed");
  EXPECT_EQ(changes[1]["detail"], "+ SELECT ON TABLE silver_orders TO analysts");
}

TEST(AccessMatrix, APrincipalWithoutTokensRefusesToServeOffLoopbackOnlyWhenNothingIsDeclared) {
  // Governance principals count as tokens: the pipeline folder above serves on 0.0.0.0.
  // Without any, Start refuses (the documented rule).
  testing::TempDir dir;
  ASSERT_TRUE(testing::CopyOrdersExample(dir.path()).ok());
  auto runner = runtime::PipelineRunner::Open(dir.path(), {});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  HttpServer server;
  ServerOptions options;
  options.host = "0.0.0.0";
  options.port = 0;
  Status st = server.Start(options, runner->get(), nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("governance"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace lakepipe::server
