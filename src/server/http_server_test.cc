// The HTTP server against a real run of examples/orders: every endpoint through a real
// socket with httplib's client, checked against the pipeline's input, DuckDB over the
// stored Parquet files, and an independent Prometheus text parser (node).
#include "server/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "delta/log.h"
#include "delta/table.h"
#include "generator/domain.h"
#include "server/api.h"
#include "testing/testing.h"

namespace lakepipe::server {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr int64_t kRowsPerFile = 3000;

// examples/orders over generated files, run once.
struct Orders {
  testing::TempDir dir;
  std::string landing = dir.Join("landing");
  std::string storage = dir.Join("storage");
  std::unique_ptr<runtime::PipelineRunner> runner;

  void AddFile(const std::string& name, uint64_t seed) {
    auto domain = generator::MakeDomain("orders");
    ASSERT_TRUE(domain.ok()) << domain.status().ToString();
    ASSERT_TRUE(generator::GenerateToFile(FileSystem::Default(), **domain, seed, kRowsPerFile, JoinPath(landing, name)).ok());
  }
  void Open() {
    ASSERT_TRUE(FileSystem::Default()->CreateDirs(landing).ok());
    auto opened = runtime::PipelineRunner::Open(testing::SourceDir() + "/examples/orders",
                                                {{"landing", landing}, {"storage", storage}});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    runner = std::move(opened).value();
  }
  void Run() {
    auto report = runner->RunOnce({});
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    ASSERT_TRUE(report->ok());
  }
};

httplib::Client ClientFor(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(20, 0);
  return c;
}

// GET `path`, expecting `status` and a JSON body.
Json GetJson(int port, const std::string& path, int status = 200, const httplib::Headers& headers = {}) {
  auto c = ClientFor(port);
  auto res = c.Get(path, headers);
  EXPECT_TRUE(res) << path << ": " << httplib::to_string(res.error());
  if (!res) return Json();
  EXPECT_EQ(res->status, status) << path << ": " << res->body;
  EXPECT_NE(res->get_header_value("Content-Type").find("application/json"), std::string::npos) << path;
  Json j = Json::parse(res->body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << path << ": " << res->body;
  return j;
}

// Sends raw bytes on a fresh connection and returns everything the server answers
// (until it closes or 5 s pass). `half_close` shuts the sending side right away, so that
// an incomplete request ends at once instead of at the server's read timeout (the server
// may then close without answering).
std::string RawRequest(int port, const std::string& bytes, bool half_close = false) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    (void)!send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (half_close) shutdown(fd, SHUT_WR);
    char buf[8192];
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
      // One whole response (headers and Content-Length bytes) is all we wait for.
      size_t head_end = out.find("\r\n\r\n");
      if (head_end == std::string::npos) continue;
      std::string head = out.substr(0, head_end);
      for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t cl = head.find("content-length: ");
      if (cl != std::string::npos && out.size() >= head_end + 4 + std::stoull(head.substr(cl + 16))) break;
    }
  }
  close(fd);
  return out;
}

int StatusOf(const std::string& response) {
  // "HTTP/1.1 404 Not Found"
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return -1;
  return std::atoi(response.c_str() + 9);
}

std::vector<Json> DuckRows(const std::string& sql) { return testing::DuckDBRows(sql); }

double Num(const Json& v) { return v.is_string() ? std::stod(v.get<std::string>()) : v.get<double>(); }

// One pipeline run and one server (serve mode: no status board) for the read-only tests.
class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    orders_ = new Orders();
    orders_->Open();
    orders_->AddFile("orders-1.csv", 31);
    orders_->AddFile("orders-2.csv", 32);
    orders_->Run();
    server_ = new HttpServer();
    ServerOptions options;
    options.port = 0;
    Status st = server_->Start(options, orders_->runner.get(), nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete orders_;
  }
  static int port() { return server_->port(); }
  static Orders* orders_;
  static HttpServer* server_;
};
Orders* ServerTest::orders_ = nullptr;
HttpServer* ServerTest::server_ = nullptr;

TEST_F(ServerTest, PortZeroPicksAFreePortAndHealthAnswers) {
  EXPECT_GT(port(), 0);
  EXPECT_EQ(server_->url(), "http://127.0.0.1:" + std::to_string(port()) + "/");
  Json health = GetJson(port(), "/health");
  EXPECT_EQ(health["status"], "ok");
}

TEST_F(ServerTest, TablesListEveryTableWithItsRowCount) {
  Json j = GetJson(port(), "/api/tables");
  EXPECT_EQ(j["pipeline"], "orders");
  std::map<std::string, Json> by_name;
  std::vector<std::string> order;
  for (const auto& t : j["tables"]) {
    by_name[t["name"]] = t;
    order.push_back(t["name"]);
  }
  for (const char* name : {"bronze_orders", "silver_orders", "gold_kpis", "gold_revenue_by_country",
                           "silver_orders_quarantine", "_event_log"}) {
    ASSERT_TRUE(by_name.count(name)) << name << " in " << j.dump();
    EXPECT_TRUE(by_name[name]["exists"].get<bool>()) << name;
    EXPECT_GE(by_name[name]["version"].get<int64_t>(), 0) << name;
  }
  // Every generated line is in Bronze, as received.
  EXPECT_EQ(by_name["bronze_orders"]["rows"], 2 * kRowsPerFile);
  EXPECT_EQ(by_name["bronze_orders"]["kind"], "streaming table");
  EXPECT_EQ(by_name["gold_kpis"]["kind"], "materialized view");
  EXPECT_EQ(by_name["gold_kpis"]["rows"], 1);
  EXPECT_EQ(by_name["silver_orders_quarantine"]["kind"], "quarantine");
  EXPECT_EQ(order.front(), "bronze_orders");
  EXPECT_EQ(order.back(), "_event_log");
}

TEST_F(ServerTest, TableShowsSchemaVersionRowsAndHistory) {
  Json t = GetJson(port(), "/api/tables/SILVER_ORDERS");  // names match case-insensitively
  EXPECT_EQ(t["name"], "silver_orders");
  std::map<std::string, std::string> types;
  for (const auto& f : t["schema"]) types[f["name"]] = f["type"];
  EXPECT_EQ(types["line_total"], "double");
  EXPECT_EQ(types["Quantity"], "int");
  EXPECT_EQ(types["OrderDate"], "date");
  EXPECT_EQ(t["upstream"], Json::array({"bronze_orders"}));
  ASSERT_EQ(t["expectations"].size(), 4u);
  EXPECT_EQ(t["expectations"][0]["name"], "valid_quantity");
  EXPECT_EQ(t["expectations"][0]["action"], "quarantine");
  ASSERT_FALSE(t["history"].empty());
  EXPECT_EQ(t["history"][0]["version"], t["version"]);  // newest first
  EXPECT_EQ(t["history"][0]["operation"], "STREAMING UPDATE");
  EXPECT_GT(t["rows"].get<int64_t>(), 0);
  EXPECT_LT(t["rows"].get<int64_t>(), 2 * kRowsPerFile);

  Json limited = GetJson(port(), "/api/tables/silver_orders?history=0");
  EXPECT_TRUE(limited["history"].empty());
}

TEST_F(ServerTest, RowsAsJsonAndCsvWithPaging) {
  Json page = GetJson(port(), "/api/tables/bronze_orders/rows?limit=5");
  EXPECT_EQ(page["total_rows"], 2 * kRowsPerFile);
  EXPECT_EQ(page["limit"], 5);
  ASSERT_EQ(page["rows"].size(), 5u);
  std::vector<std::string> columns;
  for (const auto& c : page["columns"]) columns.push_back(c["name"]);
  ASSERT_GE(columns.size(), 8u);
  EXPECT_EQ(columns[0], "TransactionNo");
  for (const auto& row : page["rows"]) EXPECT_EQ(row.size(), columns.size());

  // Offsets page through the same rows.
  Json later = GetJson(port(), "/api/tables/bronze_orders/rows?limit=2&offset=3");
  ASSERT_EQ(later["rows"].size(), 2u);
  EXPECT_EQ(later["rows"][0], page["rows"][3]);
  EXPECT_EQ(later["rows"][1], page["rows"][4]);
  // Past the first file: rows of the second file (files skipped by their statistics).
  Json far = GetJson(port(), "/api/tables/bronze_orders/rows?limit=10&offset=" + std::to_string(2 * kRowsPerFile - 4));
  EXPECT_EQ(far["rows"].size(), 4u);
  // Limits are bounded.
  Json big = GetJson(port(), "/api/tables/bronze_orders/rows?limit=99999999");
  EXPECT_EQ(big["limit"], 10000);
  EXPECT_EQ(big["rows"].size(), static_cast<size_t>(2 * kRowsPerFile));

  auto c = ClientFor(port());
  auto csv = c.Get("/api/tables/bronze_orders/rows?limit=5&format=csv");
  ASSERT_TRUE(csv);
  EXPECT_EQ(csv->status, 200);
  EXPECT_NE(csv->get_header_value("Content-Type").find("text/csv"), std::string::npos);
  std::istringstream lines(csv->body);
  std::string header;
  std::getline(lines, header);
  EXPECT_EQ(header.rfind("TransactionNo,Date,ProductNo,ProductName,Price,Quantity,CustomerNo,Country", 0), 0u) << header;
  int n = 0;
  std::string line;
  while (std::getline(lines, line)) ++n;
  EXPECT_GE(n, 5);  // a quoted field may span lines; at least one line per row
  // The first CSV row starts with the first JSON row's TransactionNo.
  std::istringstream again(csv->body);
  std::getline(again, header);
  std::getline(again, line);
  EXPECT_EQ(line.rfind(page["rows"][0]["TransactionNo"].get<std::string>(), 0), 0u) << line;

  GetJson(port(), "/api/tables/bronze_orders/rows?limit=abc", 400);
  GetJson(port(), "/api/tables/bronze_orders/rows?offset=-1", 400);
  GetJson(port(), "/api/tables/bronze_orders/rows?format=xml", 400);
}

TEST_F(ServerTest, GoldRowsEqualDuckDBOverTheStoredTable) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  // One run wrote each Gold table once, so its folder holds exactly its current files.
  Json kpis = GetJson(port(), "/api/tables/gold_kpis/rows");
  ASSERT_EQ(kpis["rows"].size(), 1u);
  auto duck = DuckRows("SELECT total_revenue, orders, customers FROM read_parquet('" + orders_->storage +
                       "/gold_kpis/*.parquet')");
  ASSERT_EQ(duck.size(), 1u);
  EXPECT_DOUBLE_EQ(kpis["rows"][0]["total_revenue"].get<double>(), Num(duck[0]["total_revenue"]));
  EXPECT_EQ(kpis["rows"][0]["orders"].get<int64_t>(), static_cast<int64_t>(Num(duck[0]["orders"])));
  EXPECT_EQ(kpis["rows"][0]["customers"].get<int64_t>(), static_cast<int64_t>(Num(duck[0]["customers"])));

  // The top market, as the dashboard shows it.
  Json countries = GetJson(port(), "/api/tables/gold_revenue_by_country/rows?limit=1000");
  std::string top;
  double top_revenue = -1;
  for (const auto& r : countries["rows"]) {
    if (r["total_revenue"].get<double>() > top_revenue) {
      top_revenue = r["total_revenue"].get<double>();
      top = r["Country"].is_null() ? "" : r["Country"].get<std::string>();
    }
  }
  auto duck_top = DuckRows("SELECT Country, total_revenue FROM read_parquet('" + orders_->storage +
                           "/gold_revenue_by_country/*.parquet') ORDER BY total_revenue DESC LIMIT 1");
  ASSERT_EQ(duck_top.size(), 1u);
  EXPECT_EQ(top, duck_top[0]["Country"].get<std::string>());
  EXPECT_DOUBLE_EQ(top_revenue, Num(duck_top[0]["total_revenue"]));
}

TEST_F(ServerTest, UnknownTablesAndEndpointsAre404) {
  Json j = GetJson(port(), "/api/tables/no_such_table", 404);
  EXPECT_NE(j["error"].get<std::string>().find("no_such_table"), std::string::npos);
  EXPECT_NE(j["error"].get<std::string>().find("bronze_orders"), std::string::npos);  // names the real ones
  GetJson(port(), "/api/tables/no_such_table/rows", 404);
  GetJson(port(), "/api/tables/bronze_orders/nothing", 404);
  GetJson(port(), "/api/nothing", 404);
  GetJson(port(), "/api/tables/_checkpoints", 404);  // a folder in storage, not a table
  auto c = ClientFor(port());
  auto post = c.Post("/api/tables", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_TRUE(Json::parse(post->body, nullptr, false).contains("error"));
  // The dashboard: served when the web module is built in, else a clear JSON 404.
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  if (page->status == 200) {
    EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
  } else {
    EXPECT_EQ(page->status, 404);
    EXPECT_NE(page->body.find("dashboard"), std::string::npos) << page->body;
  }
}

TEST_F(ServerTest, PathTraversalIsRefused) {
  // A file next to the storage folder that a traversal would reach.
  ASSERT_TRUE(FileSystem::Default()->WriteFileAtomic(orders_->dir.Join("secret.txt"), "top secret").ok());
  const char* paths[] = {
      "/api/tables/../secret.txt",
      "/api/tables/..",
      "/api/tables/%2e%2e",
      "/api/tables/%2e%2e/rows",
      "/api/tables/%2E%2E%2Fsecret.txt/rows",
      "/api/tables/..%2f..%2fsecret.txt/rows",
      "/api/tables/bronze_orders%2f..%2f..%2fsecret.txt/rows",
      "/api/tables/bronze_orders/../../secret.txt",
      "/api/tables/..%5c..%5csecret.txt/rows",
      "/api/tables/%2e%2e%2f_event_log/rows",
      "/api/tables/_delta_log/rows",
      "/api/tables/bronze_orders%00/rows",
      "/../../secret.txt",
      "/assets/../../secret.txt",
      "/assets/%2e%2e/%2e%2e/secret.txt",
  };
  for (const char* path : paths) {
    std::string response = RawRequest(port(), std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    int status = StatusOf(response);
    EXPECT_TRUE(status == 404 || status == 400) << path << " -> " << response.substr(0, 200);
    EXPECT_EQ(response.find("top secret"), std::string::npos) << path;
    EXPECT_NE(response.find("{\"error\":"), std::string::npos) << path << " -> " << response.substr(0, 300);
  }
}

TEST_F(ServerTest, DashboardListsTheChartsThePipelineDeclares) {
  // examples/orders/dashboard.yaml, with the defaults its types fill in.
  Json d = GetJson(port(), "/api/dashboard");
  EXPECT_EQ(d["pipeline"], "orders");
  EXPECT_EQ(d["title"], "Orders");
  EXPECT_TRUE(d["declared"].get<bool>());
  std::vector<std::string> ids;
  std::map<std::string, Json> by_id;
  for (const auto& c : d["charts"]) {
    ids.push_back(c["id"]);
    by_id[c["id"]] = c;
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"total-revenue", "orders", "customers", "average-order-value", "top-market",
                                           "revenue-over-time", "revenue-by-country", "top-products"}));
  Json top = by_id["top-market"];
  EXPECT_EQ(top["type"], "kpi");
  EXPECT_EQ(top["value"], "total_revenue");
  EXPECT_EQ(top["format"], "money");
  EXPECT_EQ(top["note"], "{Country} · {share|percent}");
  EXPECT_EQ(top["tables"], Json::array({"gold_revenue_by_country"}));
  Json country = by_id["revenue-by-country"];
  EXPECT_EQ(country["type"], "bar");
  EXPECT_EQ(country["x"], "Country");
  EXPECT_EQ(country["y"][0]["column"], "total_revenue");
  EXPECT_EQ(country["y"][0]["title"], "Revenue");
  EXPECT_EQ(country["limit"], 12);
  EXPECT_EQ(country["width"], 5);
  EXPECT_TRUE(country["share"].get<bool>());
  EXPECT_TRUE(country["refresh_seconds"].is_null());
  std::vector<std::string> columns;
  for (const auto& c : country["columns"]) columns.push_back(c["name"].get<std::string>() + ":" + c["type"].get<std::string>());
  EXPECT_EQ(columns, (std::vector<std::string>{"Country:string", "total_revenue:double", "orders:bigint", "customers:bigint"}));
  EXPECT_EQ(by_id["revenue-over-time"]["moving_average"]["window"], 7);
  EXPECT_EQ(by_id["revenue-over-time"]["tables"], Json::array({"gold_daily_revenue"}));
}

TEST_F(ServerTest, DashboardChartRowsAreTheirQueryOverTheLatestVersions) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  // A KPI: the row of gold_kpis the table endpoint gives.
  Json kpi = GetJson(port(), "/api/dashboard/charts/total-revenue");
  EXPECT_EQ(kpi["id"], "total-revenue");
  ASSERT_EQ(kpi["rows"].size(), 1u) << kpi.dump();
  Json gold = GetJson(port(), "/api/tables/gold_kpis/rows");
  EXPECT_EQ(kpi["rows"][0]["total_revenue"], gold["rows"][0]["total_revenue"]);
  EXPECT_EQ(kpi["columns"][0]["name"], "total_revenue");

  // A bar chart: its first `limit` rows in the query's order, and how many there were, as
  // DuckDB computes them over the stored Parquet files.
  std::string table = "read_parquet('" + orders_->storage + "/gold_revenue_by_country/*.parquet')";
  Json bars = GetJson(port(), "/api/dashboard/charts/revenue-by-country");
  auto duck = DuckRows("SELECT Country, total_revenue, orders FROM " + table + " ORDER BY total_revenue DESC, Country");
  ASSERT_GT(duck.size(), 12u);
  EXPECT_EQ(bars["total_rows"], duck.size());
  // Its total over every row, not only the 12 drawn.
  auto sum = DuckRows("SELECT sum(total_revenue) AS s FROM " + table);
  EXPECT_NEAR(bars["totals"]["total_revenue"].get<double>(), Num(sum[0]["s"]), 1e-6);
  EXPECT_EQ(bars["limit"], 12);
  ASSERT_EQ(bars["rows"].size(), 12u);
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(bars["rows"][i]["Country"], duck[i]["Country"]) << i;
    EXPECT_DOUBLE_EQ(bars["rows"][i]["total_revenue"].get<double>(), Num(duck[i]["total_revenue"])) << i;
    EXPECT_EQ(bars["rows"][i]["orders"].get<int64_t>(), static_cast<int64_t>(Num(duck[i]["orders"]))) << i;
  }
  // The top market's share of the revenue.
  Json top = GetJson(port(), "/api/dashboard/charts/top-market");
  ASSERT_EQ(top["rows"].size(), 1u);
  auto share = DuckRows("SELECT max(total_revenue) / sum(total_revenue) AS share FROM " + table);
  EXPECT_EQ(top["rows"][0]["Country"], duck[0]["Country"]);
  EXPECT_NEAR(top["rows"][0]["share"].get<double>(), Num(share[0]["share"]), 1e-12);
  // A line over dates: every day, in order.
  Json daily = GetJson(port(), "/api/dashboard/charts/revenue-over-time");
  auto days = DuckRows("SELECT CAST(OrderDate AS VARCHAR) AS d, revenue FROM read_parquet('" + orders_->storage +
                       "/gold_daily_revenue/*.parquet') ORDER BY OrderDate");
  ASSERT_EQ(daily["rows"].size(), days.size());
  for (size_t i = 0; i < days.size(); ++i) EXPECT_EQ(daily["rows"][i]["OrderDate"], days[i]["d"]) << i;

  Json missing = GetJson(port(), "/api/dashboard/charts/nope", 404);
  EXPECT_NE(missing["error"].get<std::string>().find("top-market"), std::string::npos) << missing.dump();  // names the real ones
  GetJson(port(), "/api/dashboard/charts/..%2f..%2fsecret", 404);
}

// A pipeline without `dashboard:`: the tables nothing reads (it has no gold_* table), each as
// a table chart; a chart over a table not written yet is a 404 that says so.
TEST(ServerDashboardTest, DefaultDashboardAndTablesNotWrittenYet) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  std::string landing = dir.Join("landing"), folder = dir.Join("pipeline");
  ASSERT_TRUE(fs->CreateDirs(landing).ok());
  ASSERT_TRUE(fs->CreateDirs(folder).ok());
  ASSERT_TRUE(fs->WriteFile(landing + "/a.csv", "k,v\na,1\nb,2\nc,3\nd,4\n").ok());
  ASSERT_TRUE(fs->WriteFile(folder + "/pipeline.yaml", "name: plain\nstorage: ./storage\nconfiguration:\n  landing: " +
                                                           landing + "\n").ok());
  ASSERT_TRUE(fs->WriteFile(folder + "/p.sql",
                            "CREATE OR REFRESH STREAMING TABLE raw AS SELECT k, v FROM STREAM read_files('${landing}', "
                            "format => 'csv', header => true, schema => 'k STRING, v INT');\n"
                            "CREATE OR REFRESH MATERIALIZED VIEW total COMMENT 'the sum' AS SELECT sum(v) AS s FROM raw;\n").ok());
  auto runner = runtime::PipelineRunner::Open(folder, {});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  HttpServer server;
  ServerOptions options;
  options.port = 0;
  ASSERT_TRUE(server.Start(options, runner->get(), nullptr).ok());

  Json d = GetJson(server.port(), "/api/dashboard");
  EXPECT_EQ(d["title"], "plain");
  EXPECT_FALSE(d["declared"].get<bool>());
  ASSERT_EQ(d["charts"].size(), 1u) << d.dump();
  EXPECT_EQ(d["charts"][0]["id"], "total");
  EXPECT_EQ(d["charts"][0]["type"], "table");
  EXPECT_EQ(d["charts"][0]["subtitle"], "the sum");
  EXPECT_EQ(d["charts"][0]["shown_columns"], Json::array({"s"}));
  Json waiting = GetJson(server.port(), "/api/dashboard/charts/total", 404);
  EXPECT_NE(waiting["error"].get<std::string>().find("`total` has not been written yet"), std::string::npos) << waiting.dump();

  auto update = (*runner)->RunOnce({});
  ASSERT_TRUE(update.ok() && update->ok());
  Json rows = GetJson(server.port(), "/api/dashboard/charts/total");
  ASSERT_EQ(rows["rows"].size(), 1u);
  EXPECT_EQ(rows["rows"][0]["s"], 10);
  EXPECT_EQ(rows["total_rows"], 1);
}

TEST_F(ServerTest, PipelineFromTheEventLogWhenNotRunning) {
  Json p = GetJson(port(), "/api/pipeline");
  EXPECT_EQ(p["pipeline"], "orders");
  EXPECT_EQ(p["mode"], "not running");
  std::vector<std::string> names;
  std::map<std::string, Json> nodes;
  for (const auto& n : p["nodes"]) {
    names.push_back(n["name"]);
    nodes[n["name"]] = n;
    EXPECT_EQ(n["state"], "not running") << n["name"];
  }
  ASSERT_GE(names.size(), 6u);
  EXPECT_EQ(names[0], "bronze_orders");
  EXPECT_EQ(names[1], "silver_orders");
  const Json& bronze = nodes["bronze_orders"];
  EXPECT_EQ(bronze["rows_out"], 2 * kRowsPerFile);
  EXPECT_EQ(bronze["last_batch"]["rows_written"], 2 * kRowsPerFile);
  EXPECT_EQ(bronze["last_batch"]["status"], "updated");
  EXPECT_EQ(bronze["batch_duration_seconds"]["count"], 1);
  ASSERT_EQ(bronze["sources"].size(), 1u);
  EXPECT_EQ(bronze["sources"][0], "files:" + orders_->landing);
  Json tables = GetJson(port(), "/api/tables/silver_orders");
  EXPECT_EQ(nodes["silver_orders"]["table_version"], tables["version"]);
  EXPECT_EQ(nodes["silver_orders"]["rows_out"], tables["rows"]);

  bool file_edge = false, stream_edge = false, batch_edge = false;
  for (const auto& e : p["edges"]) {
    if (e["from"] == "files:" + orders_->landing && e["to"] == "bronze_orders") file_edge = true;
    if (e["from"] == "bronze_orders" && e["to"] == "silver_orders" && e["streaming"] == true) stream_edge = true;
    if (e["from"] == "silver_orders" && e["to"] == "gold_kpis" && e["streaming"] == false) batch_edge = true;
  }
  EXPECT_TRUE(file_edge && stream_edge && batch_edge) << p["edges"].dump();
  ASSERT_EQ(p["sources"].size(), 1u);
  EXPECT_EQ(p["sources"][0]["format"], "csv");
}

TEST_F(ServerTest, ExpectationsCountPassesFailuresAndQuarantine) {
  if (!testing::RunDuckDB("SELECT 1").ok()) GTEST_FAIL() << "DuckDB (npm) is required: run `npm ci`";
  Json j = GetJson(port(), "/api/expectations");
  ASSERT_EQ(j["tables"].size(), 1u);
  const Json& silver = j["tables"][0];
  EXPECT_EQ(silver["table"], "silver_orders");
  EXPECT_EQ(silver["quarantine_table"], "silver_orders_quarantine");
  auto duck = DuckRows("SELECT count(*) AS n FROM read_parquet('" + orders_->storage +
                       "/silver_orders_quarantine/*.parquet')");
  ASSERT_EQ(duck.size(), 1u);
  EXPECT_EQ(silver["quarantined_rows"].get<int64_t>(), static_cast<int64_t>(Num(duck[0]["n"])));
  EXPECT_GT(silver["quarantined_rows"].get<int64_t>(), 0);
  ASSERT_EQ(silver["expectations"].size(), 4u);
  Json silver_table = GetJson(port(), "/api/tables/silver_orders");
  for (const auto& e : silver["expectations"]) {
    int64_t passed = e["passed"], failed = e["failed"];
    // Every row Silver considered was checked by every expectation.
    EXPECT_EQ(passed + failed, silver_table["rows"].get<int64_t>() + silver["quarantined_rows"].get<int64_t>())
        << e["name"];
    EXPECT_NEAR(e["pass_rate"].get<double>(), static_cast<double>(passed) / static_cast<double>(passed + failed), 1e-12);
  }
  EXPECT_GT(silver["expectations"][0]["failed"].get<int64_t>(), 0);  // cancellations: quantity <= 0
}

TEST_F(ServerTest, EventsNewestFirstWithFilters) {
  Json j = GetJson(port(), "/api/events?limit=1000");
  ASSERT_FALSE(j["events"].empty());
  int64_t previous = INT64_MAX;
  bool bronze_progress = false;
  for (const auto& e : j["events"]) {
    EXPECT_LE(e["timestamp_unix_ms"].get<int64_t>(), previous);
    previous = e["timestamp_unix_ms"];
    if (e["table"] == "bronze_orders" && e["event_type"] == "flow_progress") {
      bronze_progress = true;
      EXPECT_EQ(e["details"]["rows_written"], 2 * kRowsPerFile);
    }
  }
  EXPECT_TRUE(bronze_progress);
  EXPECT_EQ(j["events"][0]["event_type"], "update_complete");
  EXPECT_TRUE(j["events"][0]["table"].is_null());
  Json limited = GetJson(port(), "/api/events?limit=2");
  EXPECT_EQ(limited["events"].size(), 2u);
  Json silver = GetJson(port(), "/api/events?table=silver_orders");
  ASSERT_FALSE(silver["events"].empty());
  for (const auto& e : silver["events"]) EXPECT_EQ(e["table"], "silver_orders");
  Json starts = GetJson(port(), "/api/events?type=update_start");
  EXPECT_EQ(starts["events"].size(), 1u);
  GetJson(port(), "/api/events?limit=x", 400);
  // The event log is also a table.
  Json log_rows = GetJson(port(), "/api/tables/_event_log/rows?limit=3");
  EXPECT_EQ(log_rows["rows"].size(), 3u);
}

TEST_F(ServerTest, MalformedRequestsNeverCrashTheServer) {
  std::mt19937 rng(1234);
  auto random_bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
  };
  std::vector<std::string> requests = {
      "",
      "\r\n\r\n",
      "GET\r\n\r\n",
      "GET /\r\n\r\n",
      "GET / HTTP/9.9\r\n\r\n",
      "BREW /api/tables HTTP/1.1\r\n\r\n",
      "GET /api/tables/%zz/rows HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /api/tables/% HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /api/tables/%c3%28/rows HTTP/1.1\r\nHost: x\r\n\r\n",  // invalid UTF-8 in the name
      "GET /api/tables/bronze_orders/rows?limit=%ff%fe&offset= HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /api/tables/bronze_orders/rows?limit=1&limit=2&&&==&format HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /api/events?limit=99999999999999999999999 HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /" + std::string(100000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET / HTTP/1.1\r\n" + std::string(20000, 'X') + ": y\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\nabc",
      "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "GET /api/tables HTTP/1.1\r\nAuthorization: Bearer \r\n\r\n",
      std::string("GET /api/tables/\0x HTTP/1.1\r\n\r\n", 32),
  };
  for (int i = 0; i < 150; ++i) {
    std::string r = "GET /api/tables/" + random_bytes(rng() % 40) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    requests.push_back(r);
    requests.push_back(random_bytes(rng() % 300) + "\r\n\r\n");
  }
  int answered = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const std::string& r = requests[i];
    // Every other request is half-closed at once (a client that vanishes mid-request).
    std::string response = RawRequest(port(), r, /*half_close=*/i % 2 == 1);
    int status = StatusOf(response);
    if (status > 0) ++answered;
    if (status >= 500) ADD_FAILURE() << "5xx for " << ::testing::PrintToString(r.substr(0, 80)) << ": " << response.substr(0, 300);
  }
  EXPECT_GT(answered, static_cast<int>(requests.size()) / 3);  // most were parsed and answered
  EXPECT_EQ(GetJson(port(), "/health")["status"], "ok");

  // The routes themselves, without a socket: any path and parameters give JSON.
  Api api(orders_->runner.get(), nullptr);
  const char* prefixes[] = {"/api/tables/", "/api/tables/bronze_orders/", "/api/", "/", "/metrics"};
  for (int i = 0; i < 300; ++i) {
    std::string path = std::string(prefixes[rng() % 5]) + random_bytes(rng() % 24);
    QueryParams params = {{"limit", random_bytes(rng() % 6)}, {"offset", std::to_string(rng() % 100)}};
    if (rng() % 2) params.emplace("format", rng() % 2 ? "csv" : random_bytes(3));
    ApiResponse r = api.Handle(path, params);
    EXPECT_TRUE(r.status == 200 || r.status == 400 || r.status == 404) << r.status << " " << r.body;
    if (r.content_type.find("json") != std::string::npos) {
      EXPECT_FALSE(Json::parse(r.body, nullptr, false).is_discarded()) << r.body;
    }
  }
}

// Issue 19: `Range: bytes=40000-44095` on /assets/app.js (33,437 bytes) answered 206 with
// memory past the end of the file.
TEST_F(ServerTest, RangesOfStaticFilesAreCheckedAndClamped) {
  auto c = ClientFor(port());
  auto whole = c.Get("/assets/app.js");
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200) << "the dashboard's files are built into this binary (module src/web)";
  const std::string& file = whole->body;
  // A range that starts past the end (the was 40000-44095 on a smaller app.js).
  std::string past = std::to_string(file.size() + 6563) + "-" + std::to_string(file.size() + 10658);
  std::string response =
      RawRequest(port(), "GET /assets/app.js HTTP/1.1\r\nHost: x\r\nRange: bytes=" + past + "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(response), 416) << response.substr(0, 300);
  EXPECT_NE(response.find("Content-Range: bytes */" + std::to_string(file.size())), std::string::npos) << response.substr(0, 300);
  std::string body = response.substr(response.find("\r\n\r\n") + 4);
  EXPECT_TRUE(Json::parse(body, nullptr, false).contains("error")) << body.substr(0, 300);

  auto ranged = [&](const std::string& range) { return c.Get("/assets/app.js", {{"Range", range}}); };
  size_t n = file.size();
  // A range running past the end is clamped to the file.
  auto tail = ranged("bytes=" + std::to_string(n - 100) + "-" + std::to_string(n + 5000));
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->status, 206);
  EXPECT_EQ(tail->body, file.substr(n - 100));
  EXPECT_EQ(tail->get_header_value("Content-Range"),
            "bytes " + std::to_string(n - 100) + "-" + std::to_string(n - 1) + "/" + std::to_string(n));
  auto head = ranged("bytes=0-9");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 206);
  EXPECT_EQ(head->body, file.substr(0, 10));
  auto suffix = ranged("bytes=-50");
  ASSERT_TRUE(suffix);
  EXPECT_EQ(suffix->status, 206);
  EXPECT_EQ(suffix->body, file.substr(n - 50));
  auto open_end = ranged("bytes=" + std::to_string(n - 1) + "-");
  ASSERT_TRUE(open_end);
  EXPECT_EQ(open_end->body, file.substr(n - 1));
  auto at_end = ranged("bytes=" + std::to_string(n) + "-");
  ASSERT_TRUE(at_end);
  EXPECT_EQ(at_end->status, 416);
  // Several ranges, even past the end: the whole file (multipart ranges are not served).
  auto several = ranged("bytes=0-1,50000-50010");
  ASSERT_TRUE(several);
  EXPECT_EQ(several->status, 200);
  EXPECT_EQ(several->body, file);
  // The API ignores Range.
  auto api = c.Get("/api/tables", {{"Range", "bytes=5-10,900000-900010"}});
  ASSERT_TRUE(api);
  EXPECT_EQ(api->status, 200);
  EXPECT_FALSE(Json::parse(api->body, nullptr, false).is_discarded()) << api->body.substr(0, 200);
}

// Issue 19: 16 connections that sent half a request stalled every endpoint, /health too.
TEST_F(ServerTest, SlowClientsDoNotStallOthers) {
  std::vector<int> slow;
  for (int i = 0; i < 40; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    std::string half = "GET /api/tables HTTP/1.1\r\nHost: x\r\n";  // no blank line: never complete
    ASSERT_EQ(send(fd, half.data(), half.size(), MSG_NOSIGNAL), static_cast<ssize_t>(half.size()));
    slow.push_back(fd);
  }
  std::this_thread::sleep_for(200ms);  // every slow connection is taken by the server
  for (int i = 0; i < 3; ++i) {
    httplib::Client c("127.0.0.1", port());
    c.set_connection_timeout(4, 0);
    c.set_read_timeout(4, 0);  // under the server's 5 s read timeout, which would free the slow ones
    auto res = c.Get(i == 0 ? "/health" : "/api/tables");
    ASSERT_TRUE(res) << "request " << i << " with 40 slow connections open: " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
  }
  // The server drops a connection that stopped sending (its read timeout), without an answer
  // or with an error status, never a 200.
  for (int fd : slow) {
    timeval tv{30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[512];
    ssize_t got = recv(fd, buf, sizeof(buf), 0);
    bool closed_or_refused = got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ||
                             (got > 0 && StatusOf(std::string(buf, static_cast<size_t>(got))) >= 400);
    EXPECT_TRUE(closed_or_refused) << "recv " << got;
    close(fd);
  }
}

// Issue 19: a Delta log entry naming `file:///...` made the server read a file outside
// the storage folder. Here the file is a real data file copied out of the table, so the
// server would serve its rows if it followed the path.
TEST(ServerStorageTest, DataFilesOutsideTheTableFolderAreRefused) {
  Orders orders;
  orders.Open();
  orders.AddFile("orders-1.csv", 51);
  orders.Run();
  HttpServer server;
  ServerOptions options;
  options.port = 0;
  ASSERT_TRUE(server.Start(options, orders.runner.get(), nullptr).ok());
  FileSystem* fs = FileSystem::Default();
  struct Case {
    std::string table;
    std::string path;  // add.path, as a log written elsewhere may hold it
  };
  std::string outside = orders.dir.Join("outside.parquet");
  std::vector<Case> cases = {{"gold_kpis", "file://" + outside},
                             {"silver_orders", "../../outside.parquet"},
                             {"bronze_orders", outside}};
  for (const Case& c : cases) {
    GetJson(server.port(), "/api/tables/" + c.table + "/rows", 200);
    std::string table = JoinPath(orders.storage, c.table);
    auto opened = delta::DeltaTable::Open(table, fs);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    auto snap = (*opened)->Latest();
    ASSERT_TRUE(snap.ok() && !(*snap)->files().empty());
    auto data = fs->ReadFile((*snap)->files()[0].full_path);
    ASSERT_TRUE(data.ok());
    ASSERT_TRUE(fs->WriteFile(outside, *data).ok());
    std::string commit = "{\"add\":{\"path\":\"" + c.path + "\",\"partitionValues\":{},\"size\":" +
                         std::to_string(data->size()) + ",\"modificationTime\":0,\"dataChange\":true}}\n";
    ASSERT_TRUE(fs->WriteFile(JoinPath(delta::LogDir(table), delta::CommitFileName((*snap)->version() + 1)), commit).ok());
    Json j = GetJson(server.port(), "/api/tables/" + c.table + "/rows", 500);
    EXPECT_NE(j["error"].get<std::string>().find("outside the table's folder"), std::string::npos) << j.dump();
    EXPECT_FALSE(j.contains("rows"));
  }
  server.Stop();
}

TEST(ServerAuthTest, RefusesToServeOffLoopbackWithoutTokens) {
  Orders orders;
  orders.Open();
  HttpServer server;
  ServerOptions options;
  options.host = "0.0.0.0";
  options.port = 0;
  Status st = server.Start(options, orders.runner.get(), nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("tokens"), std::string::npos) << st.ToString();
  EXPECT_EQ(server.port(), 0);

  options.tokens = {""};
  EXPECT_FALSE(server.Start(options, orders.runner.get(), nullptr).ok());  // an empty token is no token

  // A name that starts like a loopback address is still a name (issue 19).
  options.tokens = {};
  for (const char* host : {"127.attacker.example", "127.0.0.1.nip.io", "localhost.attacker.example"}) {
    options.host = host;
    Status named = server.Start(options, orders.runner.get(), nullptr);
    ASSERT_FALSE(named.ok()) << host;
    EXPECT_NE(named.message().find("tokens"), std::string::npos) << named.ToString();
  }
  options.host = "0.0.0.0";

  // With a token it serves off loopback, and every endpoint but /health needs it.
  options.tokens = {"first-token", "s3cret-token"};
  ASSERT_TRUE(server.Start(options, orders.runner.get(), nullptr).ok());
  int port = server.port();
  EXPECT_EQ(GetJson(port, "/health")["status"], "ok");
  for (const char* path : {"/api/tables", "/api/pipeline", "/api/events", "/metrics", "/api/stream", "/", "/api/nothing"}) {
    auto c = ClientFor(port);
    auto res = c.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 401) << path;
    EXPECT_EQ(res->get_header_value("WWW-Authenticate").rfind("Bearer", 0), 0u) << path;
    EXPECT_TRUE(Json::parse(res->body, nullptr, false).contains("error")) << path << ": " << res->body;
  }
  GetJson(port, "/api/tables", 401, {{"Authorization", "Bearer wrong"}});
  GetJson(port, "/api/tables", 401, {{"Authorization", "Bearer s3cret-toke"}});   // a prefix
  GetJson(port, "/api/tables", 401, {{"Authorization", "Bearer s3cret-tokenX"}}); // longer
  GetJson(port, "/api/tables", 401, {{"Authorization", "Basic s3cret-token"}});
  GetJson(port, "/api/tables", 200, {{"Authorization", "Bearer s3cret-token"}});
  GetJson(port, "/api/tables", 200, {{"Authorization", "bearer first-token"}});
  GetJson(port, "/api/tables?access_token=s3cret-token", 200);
  GetJson(port, "/api/tables?access_token=nope", 401);
  // The query parameter sets a cookie that authorizes later requests (the dashboard's files).
  {
    auto c = ClientFor(port);
    auto res = c.Get("/api/tables?access_token=first-token");
    ASSERT_TRUE(res);
    std::string cookie = res->get_header_value("Set-Cookie");
    EXPECT_EQ(cookie.rfind("lakepipe_token=first-token;", 0), 0u) << cookie;
    EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  }
  GetJson(port, "/api/pipeline", 200, {{"Cookie", "theme=dark; lakepipe_token=first-token"}});
  GetJson(port, "/api/pipeline", 401, {{"Cookie", "lakepipe_token=first-tokenX"}});
  GetJson(port, "/api/pipeline", 401, {{"Cookie", "xlakepipe_token=first-token"}});
  server.Stop();
}

TEST(ServerAuthTest, TokenComparison) {
  EXPECT_TRUE(TokenMatches("abc", {"x", "abc"}));
  EXPECT_FALSE(TokenMatches("abc", {"abcd"}));
  EXPECT_FALSE(TokenMatches("abcd", {"abc"}));
  EXPECT_FALSE(TokenMatches("", {""}));
  EXPECT_FALSE(TokenMatches("abc", {}));
}

// A server over a live StatusBoard, as `lakepipe run` has it.
struct BoardServer {
  Orders orders;
  runtime::StatusBoard board;
  HttpServer server;

  void Start(int max_streams = 8) {
    orders.Open();
    runtime::PipelineStatus initial;
    initial.pipeline = "orders";
    initial.storage = orders.storage;
    initial.mode = "continuous";
    for (const char* name : {"bronze_orders", "silver_orders", "we\"ird\\name\nx"}) {
      runtime::TableStatus t;
      t.name = name;
      t.state = "running";
      initial.tables.push_back(t);
    }
    board.Init(initial);
    ServerOptions options;
    options.port = 0;
    options.max_streams = max_streams;
    Status st = server.Start(options, orders.runner.get(), &board);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
};

runtime::TableReport Report(const std::string& table, int64_t read, int64_t written, int64_t duration_ms) {
  runtime::TableReport r;
  r.table = table;
  r.status = "updated";
  r.rows_read = read;
  r.rows_written = written;
  r.batches = 1;
  r.duration_ms = duration_ms;
  r.table_version = 7;
  r.expectations.push_back({"valid_quantity", "quarantine", written, read - written});
  return r;
}

TEST(ServerStreamTest, EventStreamDeliversAnEventAfterABoardChange) {
  BoardServer s;
  s.Start();
  std::mutex mu;
  std::string received;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    auto c = ClientFor(s.server.port());
    c.Get("/api/stream", [&](const char* data, size_t n) {
      std::lock_guard<std::mutex> lock(mu);
      received.append(data, n);
      return !done.load();
    });
  });
  auto wait_for = [&](auto pred) {
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (pred(received)) return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  };
  auto count_events = [](const std::string& text) {
    size_t n = 0;
    for (size_t at = text.find("event: pipeline\n"); at != std::string::npos; at = text.find("event: pipeline\n", at + 1)) ++n;
    return n;
  };
  ASSERT_TRUE(wait_for([&](const std::string& t) { return count_events(t) >= 1; })) << "no first event";
  s.board.RecordBatch(Report("silver_orders", 100, 90, 40), 1764000000000);
  ASSERT_TRUE(wait_for([&](const std::string& t) {
    return count_events(t) >= 2 && t.find("\"rows_out\":90") != std::string::npos;
  })) << received;
  done.store(true);
  s.board.SetState("silver_orders", "waiting for trigger");  // wakes the stream so the reader can stop
  reader.join();

  // The event's data is the /api/pipeline payload, on one line, with the board's numbers.
  std::string text;
  {
    std::lock_guard<std::mutex> lock(mu);
    text = received;
  }
  // Complete events end with a blank line; the last one may have been cut by the reader.
  std::vector<Json> payloads;
  std::vector<int64_t> ids;
  for (size_t at = 0, end; (end = text.find("\n\n", at)) != std::string::npos; at = end + 2) {
    std::string block = text.substr(at, end - at);
    if (block.rfind(": ", 0) == 0) continue;  // a comment (keep-alive)
    std::istringstream lines(block);
    std::string line, event, data;
    int64_t id = -1;
    while (std::getline(lines, line)) {
      if (line.rfind("id: ", 0) == 0) id = std::stoll(line.substr(4));
      if (line.rfind("event: ", 0) == 0) event = line.substr(7);
      if (line.rfind("data: ", 0) == 0) data += line.substr(6);
    }
    EXPECT_EQ(event, "pipeline") << block;
    payloads.push_back(Json::parse(data, nullptr, false));
    ASSERT_FALSE(payloads.back().is_discarded()) << data;
    EXPECT_EQ(payloads.back()["generation"], id);
    if (!ids.empty()) {
      EXPECT_GT(id, ids.back());
    }
    ids.push_back(id);
  }
  ASSERT_GE(payloads.size(), 2u);
  EXPECT_EQ(payloads[0]["mode"], "continuous");
  bool saw_batch = false;
  for (const auto& payload : payloads) {
    for (const auto& n : payload["nodes"]) {
      if (n["name"] == "silver_orders" && n["rows_out"] == 90) {
        saw_batch = true;
        EXPECT_EQ(n["last_batch"]["rows_read"], 100);
        EXPECT_EQ(n["state"], "running");
      }
    }
  }
  EXPECT_TRUE(saw_batch);
}

TEST(ServerStreamTest, StopEndsOpenStreamsAndStreamsAreBounded) {
  BoardServer s;
  s.Start(/*max_streams=*/1);
  std::atomic<bool> got_data{false};
  std::thread reader([&] {
    auto c = ClientFor(s.server.port());
    c.Get("/api/stream", [&](const char*, size_t) {
      got_data.store(true);
      return true;
    });
  });
  for (int i = 0; i < 100 && !got_data.load(); ++i) std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(got_data.load());
  // One stream at most here: the next is refused (the API itself still answers).
  GetJson(s.server.port(), "/api/stream", 503);
  GetJson(s.server.port(), "/api/pipeline", 200);
  auto start = std::chrono::steady_clock::now();
  s.server.Stop();
  reader.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(ServerStreamTest, UnderServeTheStreamFollowsTheEventLog) {
  Orders orders;
  orders.Open();
  orders.AddFile("orders-1.csv", 51);
  orders.Run();
  HttpServer server;
  ServerOptions options;
  options.port = 0;
  ASSERT_TRUE(server.Start(options, orders.runner.get(), nullptr).ok());
  std::mutex mu;
  std::string received;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    auto c = ClientFor(server.port());
    c.Get("/api/stream", [&](const char* data, size_t n) {
      std::lock_guard<std::mutex> lock(mu);
      received.append(data, n);
      return !done.load();
    });
  });
  auto seen = [&](const std::string& needle) {
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (received.find(needle) != std::string::npos) return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  };
  EXPECT_TRUE(seen("\"rows_out\":3000,")) << received;
  // Another process's update (here: this runner, not connected to the server) shows up.
  orders.AddFile("orders-2.csv", 52);
  orders.Run();
  EXPECT_TRUE(seen("\"rows_out\":6000,")) << received;
  done.store(true);
  server.Stop();
  reader.join();
}

TEST(ServerMetricsTest, PrometheusTextParsedByAnIndependentParser) {
  BoardServer s;
  s.Start();
  s.board.RecordBatch(Report("silver_orders", 10, 7, 120), 1764000000000);
  s.board.RecordBatch(Report("silver_orders", 5, 5, 30), 1764000001000);
  s.board.RecordLatency("silver_orders", 0.2, 100);
  s.board.SetBacklog("bronze_orders", 3, 4096);
  s.board.AddCleanedFiles("bronze_orders", 5, 1);  // read_files cleanSource
  s.board.AddCleanedFiles("bronze_orders", 2, 0);
  s.board.SetStateSize("silver_orders", 12, 384);
  s.board.RecordBatch(Report("we\"ird\\name\nx", 1, 1, 1), 1764000002000);
  // Publication to PostgreSQL, as publish/publish_loop.h reports it.
  runtime::PublicationStatus pub;
  pub.table = "gold_kpis";
  pub.target = "gold.kpis";
  pub.state = "retrying";
  pub.published_version = 4;
  pub.latest_version = 7;
  pub.lag_versions = 3;
  pub.lag_seconds = 12.5;
  pub.publications = 5;
  pub.failures = 2;
  pub.latency_seconds.Observe(0.03, 5);
  s.board.SetPublication(pub);

  auto c = ClientFor(s.server.port());
  auto res = c.Get("/metrics");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);

  testing::TempDir dir;
  std::string metrics_file = dir.Join("metrics.txt");
  std::string expect_file = dir.Join("expect.json");
  ASSERT_TRUE(FileSystem::Default()->WriteFileAtomic(metrics_file, res->body).ok());
  Json families = {{"lakepipe_up", "GAUGE"},
                   {"lakepipe_pipeline_running", "GAUGE"},
                   {"lakepipe_rows_in_total", "COUNTER"},
                   {"lakepipe_rows_out_total", "COUNTER"},
                   {"lakepipe_rows_quarantined_total", "COUNTER"},
                   {"lakepipe_batches_total", "COUNTER"},
                   {"lakepipe_backlog_files", "GAUGE"},
                   {"lakepipe_backlog_bytes", "GAUGE"},
                   {"lakepipe_files_cleaned_total", "COUNTER"},
                   {"lakepipe_files_not_cleaned_total", "COUNTER"},
                   {"lakepipe_state_keys", "GAUGE"},
                   {"lakepipe_state_bytes", "GAUGE"},
                   {"lakepipe_memory_bytes", "GAUGE"},
                   {"lakepipe_table_version", "GAUGE"},
                   {"lakepipe_expectation_passed_total", "COUNTER"},
                   {"lakepipe_expectation_failed_total", "COUNTER"},
                   {"lakepipe_batch_duration_seconds", "HISTOGRAM"},
                   {"lakepipe_end_to_end_latency_seconds", "HISTOGRAM"},
                   {"lakepipe_publish_lag_versions", "GAUGE"},
                   {"lakepipe_publish_lag_seconds", "GAUGE"},
                   {"lakepipe_publish_version", "GAUGE"},
                   {"lakepipe_publish_up", "GAUGE"},
                   {"lakepipe_publish_total", "COUNTER"},
                   {"lakepipe_publish_failures_total", "COUNTER"},
                   {"lakepipe_publish_latency_seconds", "HISTOGRAM"}};
  auto value = [](const char* name, Json labels, double v) { return Json{{"name", name}, {"labels", labels}, {"value", v}}; };
  Json silver = {{"table", "silver_orders"}};
  Json values = Json::array({
      value("lakepipe_up", Json::object(), 1),
      value("lakepipe_pipeline_running", {{"pipeline", "orders"}, {"mode", "continuous"}}, 1),
      value("lakepipe_rows_in_total", silver, 15),
      value("lakepipe_rows_out_total", silver, 12),
      value("lakepipe_batches_total", silver, 2),
      value("lakepipe_rows_out_total", {{"table", "bronze_orders"}}, 0),
      value("lakepipe_backlog_files", {{"table", "bronze_orders"}}, 3),
      value("lakepipe_backlog_bytes", {{"table", "bronze_orders"}}, 4096),
      value("lakepipe_files_cleaned_total", {{"table", "bronze_orders"}}, 7),
      value("lakepipe_files_not_cleaned_total", {{"table", "bronze_orders"}}, 1),
      value("lakepipe_state_keys", silver, 12),
      value("lakepipe_state_bytes", silver, 384),
      value("lakepipe_table_version", silver, 7),
      value("lakepipe_expectation_passed_total", {{"table", "silver_orders"}, {"expectation", "valid_quantity"}, {"action", "quarantine"}}, 12),
      value("lakepipe_expectation_failed_total", {{"table", "silver_orders"}, {"expectation", "valid_quantity"}, {"action", "quarantine"}}, 3),
      // A label value with a quote, a backslash and a newline survives escaping.
      value("lakepipe_rows_out_total", {{"table", "we\"ird\\name\nx"}}, 1),
      value("lakepipe_publish_lag_versions", {{"table", "gold_kpis"}, {"target", "gold.kpis"}}, 3),
      value("lakepipe_publish_lag_seconds", {{"table", "gold_kpis"}, {"target", "gold.kpis"}}, 12.5),
      value("lakepipe_publish_version", {{"table", "gold_kpis"}, {"target", "gold.kpis"}}, 4),
      value("lakepipe_publish_up", {{"table", "gold_kpis"}, {"target", "gold.kpis"}}, 0),
      value("lakepipe_publish_total", {{"table", "gold_kpis"}, {"target", "gold.kpis"}}, 5),
      value("lakepipe_publish_failures_total", {{"table", "gold_kpis"}, {"target", "gold.kpis"}}, 2),
  });
  Json histograms = Json::array({
      {{"name", "lakepipe_batch_duration_seconds"}, {"table", "silver_orders"}, {"count", 2}, {"sum", 0.15},
       {"buckets", {{"0.025", 0}, {"0.05", 1}, {"0.1", 1}, {"0.25", 2}, {"+Inf", 2}}}},
      {{"name", "lakepipe_end_to_end_latency_seconds"}, {"table", "silver_orders"}, {"count", 100}, {"sum", 20},
       {"buckets", {{"0.1", 0}, {"0.25", 100}, {"+Inf", 100}}}},
      {{"name", "lakepipe_batch_duration_seconds"}, {"table", "we\"ird\\name\nx"}, {"count", 1}, {"sum", 0.001},
       {"buckets", {{"0.001", 1}, {"+Inf", 1}}}},
      {{"name", "lakepipe_publish_latency_seconds"}, {"table", "gold_kpis"}, {"count", 5}, {"sum", 0.15},
       {"buckets", {{"0.025", 0}, {"0.05", 5}, {"+Inf", 5}}}},
  });
  Json expect = {{"families", families}, {"values", values}, {"histograms", histograms}};
  ASSERT_TRUE(FileSystem::Default()->WriteFileAtomic(expect_file, expect.dump()).ok());
  auto out = testing::RunCommand("cd '" + testing::SourceDir() + "' && node tests/server/check_metrics.mjs '" +
                                 metrics_file + "' '" + expect_file + "' 2>&1");
  EXPECT_TRUE(out.ok()) << out.status().ToString() << "\n" << res->body;
}

// `lakepipe run` with a server: the runner fills the board, the API and /metrics show it.
TEST(ServerBoardTest, PipelineAndMetricsFromARealRun) {
  Orders orders;
  orders.Open();
  orders.AddFile("orders-1.csv", 61);
  orders.AddFile("orders-2.csv", 62);
  runtime::StatusBoard board;
  HttpServer server;
  ServerOptions options;
  options.port = 0;
  ASSERT_TRUE(server.Start(options, orders.runner.get(), &board).ok());
  runtime::RunOptions run;
  run.board = &board;
  auto report = orders.runner->RunOnce(run);
  ASSERT_TRUE(report.ok() && report->ok());

  Json p = GetJson(server.port(), "/api/pipeline");
  EXPECT_NE(p["mode"], "not running");
  std::map<std::string, Json> nodes;
  for (const auto& n : p["nodes"]) nodes[n["name"]] = n;
  ASSERT_TRUE(nodes.count("bronze_orders"));
  EXPECT_EQ(nodes["bronze_orders"]["rows_out"], 2 * kRowsPerFile);  // every generated line
  EXPECT_EQ(nodes["bronze_orders"]["last_batch"]["rows_written"], 2 * kRowsPerFile);
  EXPECT_NE(nodes["bronze_orders"]["state"], "not running");
  EXPECT_EQ(nodes["bronze_orders"]["end_to_end_latency_seconds"]["count"], 2 * kRowsPerFile);
  Json silver_table = GetJson(server.port(), "/api/tables/silver_orders");
  EXPECT_EQ(nodes["silver_orders"]["rows_out"], silver_table["rows"]);
  EXPECT_EQ(nodes["silver_orders"]["table_version"], silver_table["version"]);

  auto c = ClientFor(server.port());
  auto res = c.Get("/metrics");
  ASSERT_TRUE(res);
  testing::TempDir dir;
  Json silver = {{"table", "silver_orders"}};
  Json expect = {
      {"families", {{"lakepipe_rows_out_total", "COUNTER"}, {"lakepipe_end_to_end_latency_seconds", "HISTOGRAM"}}},
      {"values", Json::array({
                     {{"name", "lakepipe_rows_out_total"}, {"labels", {{"table", "bronze_orders"}}}, {"value", 2 * kRowsPerFile}},
                     {{"name", "lakepipe_rows_in_total"}, {"labels", {{"table", "bronze_orders"}}}, {"value", 2 * kRowsPerFile}},
                     {{"name", "lakepipe_rows_out_total"}, {"labels", silver}, {"value", silver_table["rows"]}},
                     {{"name", "lakepipe_table_version"}, {"labels", silver}, {"value", silver_table["version"]}},
                 })},
      {"histograms", Json::array()}};
  ASSERT_TRUE(FileSystem::Default()->WriteFileAtomic(dir.Join("metrics.txt"), res->body).ok());
  ASSERT_TRUE(FileSystem::Default()->WriteFileAtomic(dir.Join("expect.json"), expect.dump()).ok());
  auto out = testing::RunCommand("cd '" + testing::SourceDir() + "' && node tests/server/check_metrics.mjs '" +
                                 dir.Join("metrics.txt") + "' '" + dir.Join("expect.json") + "' 2>&1");
  EXPECT_TRUE(out.ok()) << out.status().ToString();
}

// A view is not stored: listed as such, its rows computed by the query engine.
TEST(ServerViewTest, ViewRowsAreComputedOnDemand) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  std::string landing = dir.Join("landing"), folder = dir.Join("pipeline");
  ASSERT_TRUE(fs->CreateDirs(landing).ok());
  ASSERT_TRUE(fs->CreateDirs(folder).ok());
  ASSERT_TRUE(fs->WriteFile(landing + "/a.csv", "k,v\na,1\nb,2\nc,3\nd,4\n").ok());
  ASSERT_TRUE(fs->WriteFile(folder + "/pipeline.yaml", "name: views\nstorage: ./storage\nconfiguration:\n  landing: " +
                                                           landing + "\n").ok());
  ASSERT_TRUE(fs->WriteFile(folder + "/p.sql",
                            "CREATE OR REFRESH STREAMING TABLE raw AS SELECT k, v FROM STREAM read_files('${landing}', "
                            "format => 'csv', header => true, schema => 'k STRING, v INT');\n"
                            "CREATE VIEW big AS SELECT k, v * 10 AS v10 FROM raw WHERE v >= 2;\n"
                            "CREATE OR REFRESH MATERIALIZED VIEW total AS SELECT sum(v10) AS s FROM big;\n").ok());
  auto runner = runtime::PipelineRunner::Open(folder, {});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  auto update = (*runner)->RunOnce({});
  ASSERT_TRUE(update.ok() && update->ok());
  HttpServer server;
  ServerOptions options;
  options.port = 0;
  ASSERT_TRUE(server.Start(options, runner->get(), nullptr).ok());

  Json tables = GetJson(server.port(), "/api/tables");
  bool listed = false;
  for (const auto& t : tables["tables"]) {
    if (t["name"] == "big") {
      listed = true;
      EXPECT_EQ(t["kind"], "view");
      EXPECT_FALSE(t["stored"].get<bool>());
    }
  }
  EXPECT_TRUE(listed) << tables.dump();
  Json rows = GetJson(server.port(), "/api/tables/big/rows?limit=2&offset=1");
  ASSERT_EQ(rows["rows"].size(), 2u) << rows.dump();
  std::set<int64_t> values;
  for (const auto& r : rows["rows"]) values.insert(r["v10"].get<int64_t>());
  for (int64_t v : values) EXPECT_TRUE(v == 20 || v == 30 || v == 40) << v;
  Json total = GetJson(server.port(), "/api/tables/total/rows");
  EXPECT_EQ(total["rows"][0]["s"], 90);
  Json p = GetJson(server.port(), "/api/pipeline");
  bool view_node = false;
  for (const auto& n : p["nodes"]) {
    if (n["name"] == "big") {
      view_node = true;
      EXPECT_EQ(n["kind"], "view");
      EXPECT_EQ(n["upstream"], Json::array({"raw"}));
    }
  }
  EXPECT_TRUE(view_node);
}

TEST(ServerConcurrencyTest, ReadsWhileThePipelineWrites) {
  Orders orders;
  orders.Open();
  orders.AddFile("orders-1.csv", 41);
  orders.Run();
  HttpServer server;
  ServerOptions options;
  options.port = 0;
  ASSERT_TRUE(server.Start(options, orders.runner.get(), nullptr).ok());
  int port = server.port();

  std::atomic<bool> writing{true};
  std::atomic<int> bad{0}, reads{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&, i] {
      const char* paths[] = {"/api/tables/bronze_orders/rows?limit=1&offset=2999", "/api/tables/gold_kpis/rows",
                             "/api/tables"};
      auto c = ClientFor(port);
      while (writing.load()) {
        auto res = c.Get(paths[i]);
        ++reads;
        if (!res || res->status != 200) {
          ++bad;
          continue;
        }
        Json j = Json::parse(res->body, nullptr, false);
        if (j.is_discarded()) ++bad;
        // Bronze is seen before or after a new file's commit, never in between.
        if (i == 0 && (!j["total_rows"].is_number() || j["total_rows"].get<int64_t>() % kRowsPerFile != 0)) ++bad;
        if (i == 1 && j["rows"].size() != 1) ++bad;
      }
    });
  }
  orders.AddFile("orders-2.csv", 42);
  orders.Run();
  orders.AddFile("orders-3.csv", 43);
  orders.Run();
  std::this_thread::sleep_for(200ms);
  writing.store(false);
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 3);
  Json t = GetJson(port, "/api/tables/bronze_orders");
  EXPECT_EQ(t["rows"], 3 * kRowsPerFile);
}

}  // namespace
}  // namespace lakepipe::server
