// The audit log after a scripted session (docs/governance.md): a governed copy of
// examples/orders is run, served (HTTP reads allowed and denied, a missing token), queried,
// vacuumed and published, and `lakepipe audit --json` must list exactly those actions, in
// order, with who, what, from where and the outcome; the tokens appear nowhere.
#include <signal.h>

#include <httplib.h>

#include "cli/cli_test_util.h"
#include "common/fs.h"
#include "testing/example_copy.h"

namespace lakepipe {
namespace {

using Json = nlohmann::json;

const char kAdminToken[] = "admin-token-for-the-audit-test";
const char kReaderToken[] = "reader-token-for-the-audit-test";

std::string HashWithTheBinary(const std::string& token) {
  auto r = testing::RunCommand("printf '%s\\n' " + Quote(token) + " | " + Binary() + " token hash");
  EXPECT_TRUE(r.ok()) << r.status().message();
  std::string h = r.ok() ? *r : "";
  while (!h.empty() && h.back() == '\n') h.pop_back();
  EXPECT_EQ(h.rfind("sha256:", 0), 0u) << h;
  return h;
}

TEST(AuditCommandTest, AScriptedSessionLeavesExactlyItsRows) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  std::string folder = dir.Join("orders"), landing = dir.Join("landing"), storage = dir.Join("orders/storage");
  ASSERT_TRUE(fs->CreateDirs(landing).ok());
  ASSERT_TRUE(testing::CopyOrdersExample(
                  folder, "governance:\n"
                          "  principals:\n"
                          "    - {name: root, role: admin, token_hash: \"" + HashWithTheBinary(kAdminToken) + "\"}\n"
                          "    - {name: alice, role: reader, token_hash: \"" + HashWithTheBinary(kReaderToken) + "\"}\n"
                          "  grants: grants.sql\n")
                  .ok());
  ASSERT_TRUE(fs->WriteFile(JoinPath(folder, "grants.sql"), "GRANT SELECT ON TABLE gold_kpis TO alice;\n").ok());
  Lakepipe("generate orders --rows 1000 --seed 3 --out " + Quote(landing + "/a.csv"));
  std::string sets = " --set landing=" + Quote(landing);
  Lakepipe("run " + Quote(folder) + " --once" + sets);

  {
    LakepipeProcess serve({"serve", folder, "--port", "0", "--set", "landing=" + landing});
    std::string out = serve.ReadUntil("press Ctrl-C");
    size_t at = out.find("http://127.0.0.1:");
    ASSERT_NE(at, std::string::npos) << out;
    int port = std::atoi(out.c_str() + at + std::string("http://127.0.0.1:").size());
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(20, 0);
    auto as = [](const char* token) { return httplib::Headers{{"Authorization", std::string("Bearer ") + token}}; };
    auto r1 = c.Get("/api/tables/gold_kpis/rows", as(kReaderToken));
    ASSERT_TRUE(r1);
    EXPECT_EQ(r1->status, 200);
    auto r2 = c.Get("/api/tables/silver_orders/rows", as(kReaderToken));
    ASSERT_TRUE(r2);
    EXPECT_EQ(r2->status, 403);
    auto r3 = c.Get("/api/tables");  // no token
    ASSERT_TRUE(r3);
    EXPECT_EQ(r3->status, 401);
    auto r4 = c.Get("/api/dashboard/charts/top-products", as(kAdminToken));
    ASSERT_TRUE(r4);
    EXPECT_EQ(r4->status, 200);
    auto r5 = c.Get("/api/audit", as(kReaderToken));  // the audit log is for admins
    ASSERT_TRUE(r5);
    EXPECT_EQ(r5->status, 403);
    auto r6 = c.Get("/api/pipeline", as(kReaderToken));  // status reads are not recorded
    ASSERT_TRUE(r6);
    EXPECT_EQ(r6->status, 200);
    EXPECT_EQ(serve.StopWith(SIGTERM), 0);
  }
  Lakepipe("query " + Quote(folder) + " 'SELECT COUNT(*) AS n FROM silver_orders'" + sets);
  Lakepipe("table vacuum " + Quote(storage + "/bronze_orders") + " --dry-run");
  LakepipeFails("run " + Quote(folder) + " --once --full-refresh no_such_table" + sets);

  std::vector<Json> rows = JsonLines(Lakepipe("audit " + Quote(folder) + " --json" + sets));
  struct Want {
    std::string principal, role, action, target, outcome;
    int status;
  };
  std::string user = rows.empty() ? "" : rows[0]["principal"].get<std::string>();
  EXPECT_EQ(user.rfind("local:", 0), 0u) << user;
  const std::vector<Want> want = {
      {user, "os", "run", "", "allowed", 0},
      {user, "os", "grant_change", folder + "/pipeline.yaml", "allowed", 0},
      {"alice", "reader", "read_rows", "gold_kpis", "allowed", 200},
      {"alice", "reader", "read_rows", "silver_orders", "denied", 403},
      {"", "", "http", "/api/tables", "denied", 401},
      {"root", "admin", "query", "top-products", "allowed", 200},
      {"alice", "reader", "read_audit", "/api/audit", "denied", 403},
      {user, "os", "query", "", "allowed", 0},
      {user, "os", "vacuum", "bronze_orders", "allowed", 0},
      {user, "os", "full_refresh", "no_such_table", "failed", 2},
  };
  ASSERT_EQ(rows.size(), want.size()) << Lakepipe("audit " + Quote(folder) + sets);
  for (size_t i = 0; i < want.size(); ++i) {
    const Json& r = rows[i];
    SCOPED_TRACE(r.dump());
    EXPECT_EQ(r["principal"], want[i].principal);
    EXPECT_EQ(r["role"], want[i].role);
    EXPECT_EQ(r["action"], want[i].action);
    EXPECT_EQ(r["target"], want[i].target);
    EXPECT_EQ(r["outcome"], want[i].outcome);
    EXPECT_EQ(r["status"], want[i].status);
    if (r["action"] == "read_rows" || r["action"] == "http") {
      EXPECT_EQ(r["source"].get<std::string>().rfind("http 127.0.0.1:", 0), 0u);
    }
    if (r["role"] == "os") {
      EXPECT_EQ(r["source"].get<std::string>().rfind("cli pid ", 0), 0u);
    }
    if (i > 0) {
      EXPECT_GE(r["timestamp_unix_ms"].get<int64_t>(), rows[i - 1]["timestamp_unix_ms"].get<int64_t>());
    }
  }
  // What changed and why it was denied are on record; the tokens nowhere.
  EXPECT_NE(rows[1]["detail"].get<std::string>().find("+ SELECT ON TABLE gold_kpis TO alice"), std::string::npos);
  EXPECT_NE(rows[1]["detail"].get<std::string>().find("+ PRINCIPAL alice ROLE reader"), std::string::npos);
  EXPECT_NE(rows[3]["detail"].get<std::string>().find("no SELECT grant"), std::string::npos);
  EXPECT_EQ(rows[7]["detail"], "SELECT COUNT(*) AS n FROM silver_orders");
  for (const auto& r : rows) {
    EXPECT_EQ(r.dump().find("token-for-the-audit-test"), std::string::npos) << r.dump();
  }
  // The same grants at the next start are not a change; --since filters.
  EXPECT_TRUE(JsonLines(Lakepipe("audit " + Quote(folder) + " --json --since 2999-01-01" + sets)).empty());
  EXPECT_EQ(JsonLines(Lakepipe("audit " + Quote(folder) + " --json --since '1 hour'" + sets)).size(), want.size());
  std::string err = LakepipeFails("audit " + Quote(folder) + " --since yesterday" + sets);
  ExpectOneErrorLine(err, "--since `yesterday`");
  // The audit table is a Delta table like any other, append-only.
  std::string log0 = storage + "/_audit/_delta_log/00000000000000000000.json";
  auto first = fs->ReadFile(log0);
  ASSERT_TRUE(first.ok());
  EXPECT_NE(first->find("\"delta.appendOnly\":\"true\""), std::string::npos);
}

}  // namespace
}  // namespace lakepipe
