// Token hashes, the grants file parser and the access decisions of Policy.
#include "governance/policy.h"

#include <gtest/gtest.h>

#include "governance/grants.h"
#include "governance/token_hash.h"
#include "testing/testing.h"

namespace lakepipe::governance {
namespace {

const std::vector<std::string> kTables = {"bronze_orders", "silver_orders", "gold_kpis", "gold_top_products",
                                          "_event_log"};

std::string HashOf(const std::string& token) {
  auto h = HashToken(token);
  EXPECT_TRUE(h.ok());
  return FormatTokenHash(*h);
}

TEST(TokenHash, RoundTripsAndMatchesOnlyItsToken) {
  auto h = HashToken("a-very-secret-token-1234");
  ASSERT_TRUE(h.ok());
  std::string text = FormatTokenHash(*h);
  EXPECT_EQ(text.rfind("sha256:", 0), 0u);
  EXPECT_EQ(text.size(), 7 + 32 + 1 + 64);
  EXPECT_EQ(text.find("a-very-secret"), std::string::npos);
  auto parsed = ParseTokenHash(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(TokenHashMatches(*parsed, "a-very-secret-token-1234"));
  EXPECT_FALSE(TokenHashMatches(*parsed, "a-very-secret-token-1235"));
  EXPECT_FALSE(TokenHashMatches(*parsed, "a-very-secret-token-123"));
  EXPECT_FALSE(TokenHashMatches(*parsed, ""));
  // Salted: the same token hashes differently each time.
  EXPECT_NE(HashOf("same-token-0123456789"), HashOf("same-token-0123456789"));
  auto t1 = NewToken(), t2 = NewToken();
  ASSERT_TRUE(t1.ok() && t2.ok());
  EXPECT_EQ(t1->size(), 3u + 64u);
  EXPECT_NE(*t1, *t2);
}

TEST(TokenHash, MalformedHashesAreRefusedWithoutEchoingThem) {
  for (std::string bad : std::vector<std::string>{"", "plain-token-pasted-by-mistake", "sha256:abc", "sha256:" + std::string(32, '0'),
                          "sha256:" + std::string(32, '0') + ":" + std::string(63, 'f'),
                          "sha256:" + std::string(31, '0') + "g:" + std::string(64, 'f')}) {
    auto h = ParseTokenHash(bad);
    ASSERT_FALSE(h.ok()) << bad;
    if (bad.size() > 8) {
      EXPECT_EQ(h.status().message().find(bad), std::string::npos) << h.status().message();
    }
  }
}

TEST(Grants, ParsesGrantRevokeAndNames) {
  auto g = ParseGrants(
      "-- who reads what\n"
      "GRANT SELECT ON TABLE gold_kpis TO analysts, `bi-team`;\n"
      "grant all privileges on table orders.* to auditors;\n"
      "GRANT SELECT ON SCHEMA shop TO auditors; /* the whole pipeline */\n"
      "GRANT SELECT ON TABLE * TO admins;\n"
      "REVOKE SELECT ON TABLE gold_kpis FROM `bi-team`;\n",
      "grants.sql");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ASSERT_EQ(g->size(), 5u);
  EXPECT_EQ((*g)[0].table, "gold_kpis");
  EXPECT_EQ((*g)[0].pipeline, "");
  EXPECT_EQ((*g)[0].grantees, (std::vector<std::string>{"analysts", "bi-team"}));
  EXPECT_EQ((*g)[0].loc.line, 2);
  EXPECT_EQ((*g)[1].pipeline, "orders");
  EXPECT_EQ((*g)[1].table, "*");
  EXPECT_EQ((*g)[2].pipeline, "shop");
  EXPECT_EQ((*g)[2].table, "*");
  EXPECT_EQ((*g)[3].table, "*");
  EXPECT_TRUE((*g)[4].revoke);
  EXPECT_EQ((*g)[4].loc.line, 6);
}

TEST(Grants, ErrorsNameFileLineAndColumn) {
  struct Case {
    std::string text;
    std::string expected;  // in the message
  };
  std::vector<Case> cases = {
      {"GRANT SELECT ON TABLE a TO b", "grants.sql:1:29: expected `;`"},
      {"\nGRANT MODIFY ON TABLE a TO b;", "grants.sql:2:7: not supported: privilege MODIFY"},
      {"GRANT SELECT ON CATALOG main TO b;", "grants.sql:1:17: not supported: securable CATALOG"},
      {"GRANT SELECT TABLE a TO b;", "grants.sql:1:14: expected ON"},
      {"GRANT SELECT ON TABLE a FROM b;", "grants.sql:1:25: expected TO"},
      {"REVOKE SELECT ON TABLE a TO b;", "grants.sql:1:26: expected FROM"},
      {"DROP TABLE a;", "grants.sql:1:1: expected GRANT or REVOKE"},
      {"GRANT SELECT ON TABLE a.b.c TO x;", "three-part names"},
      {"GRANT SELECT ON TABLE 'a' TO x;", "expected a table name"},
  };
  for (const auto& c : cases) {
    auto g = ParseGrants(c.text, "grants.sql");
    ASSERT_FALSE(g.ok()) << c.text;
    EXPECT_NE(g.status().message().find(c.expected), std::string::npos) << g.status().message();
  }
}

struct PolicyFiles {
  testing::TempDir dir;
  std::string admin_hash = HashOf("admin-token-0123456789");
  std::string op_hash = HashOf("operator-token-0123456789");
  std::string reader_hash = HashOf("reader-token-0123456789");

  std::string Yaml(const std::string& grants_file = "grants.sql") const {
    return "name: orders\n"
           "governance:\n"
           "  principals:\n"
           "    - {name: root, role: admin, token_hash: \"" + admin_hash + "\"}\n"
           "    - {name: grafana, role: operator, groups: [ops], token_hash: \"" + op_hash + "\"}\n"
           "    - name: alice\n"
           "      role: reader\n"
           "      groups: [analysts]\n"
           "      token_hash: [\"" + reader_hash + "\"]\n"
           "  grants: " + grants_file + "\n";
  }
  Result<Policy> Load(const std::string& grants, const std::string& yaml = "") {
    EXPECT_TRUE(FileSystem::Default()->WriteFile(dir.Join("grants.sql"), grants).ok());
    EXPECT_TRUE(FileSystem::Default()->WriteFile(dir.Join("pipeline.yaml"), yaml.empty() ? Yaml() : yaml).ok());
    return Policy::Load(dir.Join("pipeline.yaml"), "orders", kTables);
  }
};

TEST(Policy, RolesGrantsAndRevokesDecideWhatEachPrincipalSees) {
  PolicyFiles f;
  auto policy = f.Load(
      "GRANT SELECT ON TABLE gold_kpis TO analysts;\n"
      "GRANT SELECT ON TABLE orders.silver_orders TO alice;\n"
      "REVOKE SELECT ON TABLE orders.silver_orders FROM alice;\n"
      "GRANT SELECT ON TABLE gold_top_products TO ops;\n"
      "GRANT SELECT ON TABLE shop.gold_sales TO alice;   -- another pipeline's: not ours\n");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  ASSERT_TRUE(policy->declared());
  EXPECT_FALSE(policy->Authenticate("nobody-token-0123456789").has_value());
  auto admin = policy->Authenticate("admin-token-0123456789");
  auto op = policy->Authenticate("operator-token-0123456789");
  auto reader = policy->Authenticate("reader-token-0123456789");
  ASSERT_TRUE(admin && op && reader);
  EXPECT_EQ(admin->name, "root");
  EXPECT_EQ(op->role, Role::kOperator);
  EXPECT_EQ(reader->name, "alice");
  for (const auto& t : kTables) {
    EXPECT_TRUE(policy->CanSelect(*admin, t)) << t;
    EXPECT_TRUE(policy->CanSee(*op, t)) << t;
  }
  EXPECT_TRUE(policy->CanSelect(*op, "gold_top_products"));
  EXPECT_FALSE(policy->CanSelect(*op, "gold_kpis"));
  EXPECT_TRUE(policy->CanSelect(*reader, "GOLD_KPIS"));
  EXPECT_FALSE(policy->CanSelect(*reader, "silver_orders"));  // revoked
  EXPECT_FALSE(policy->CanSee(*reader, "silver_orders"));
  EXPECT_FALSE(policy->CanSee(*reader, "gold_top_products"));
  EXPECT_FALSE(policy->CanSee(*reader, "gold_sales"));  // granted in pipeline shop only
  EXPECT_EQ(policy->EffectiveGrants(), (std::vector<std::string>{"SELECT ON TABLE gold_kpis TO analysts",
                                                                 "SELECT ON TABLE gold_top_products TO ops"}));
  // `*` grants every table.
  auto all = f.Load("GRANT SELECT ON TABLE orders.* TO analysts;");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  auto r2 = all->Authenticate("reader-token-0123456789");
  ASSERT_TRUE(r2);
  for (const auto& t : kTables) {
    EXPECT_TRUE(all->CanSelect(*r2, t)) << t;
  }
}

TEST(Policy, MistakesAreRefusedWithTheirPlace) {
  PolicyFiles f;
  struct Case {
    std::string grants;
    std::string yaml;
    std::string expected;
  };
  std::string base = f.Yaml();
  std::vector<Case> cases = {
      {"GRANT SELECT ON TABLE gold_kpi TO analysts;", "", "grants.sql:1:17: `gold_kpi` is not a table of pipeline orders"},
      {"GRANT SELECT ON TABLE gold_kpis TO analyst;", "", "grants.sql:1:36: `analyst` is neither a principal nor a group"},
      {"REVOKE SELECT ON TABLE gold_kpis FROM alice;", "", "grants.sql:1:1: REVOKE of a grant not made above"},
      {"", "name: orders\ngovernance:\n  principals:\n    - {name: x, role: owner, token_hash: a}\n",
       "pipeline.yaml:4:23: role `owner` is not admin, operator or reader"},
      {"", "name: orders\ngovernance:\n  principals:\n    - {name: x, role: admin, token_hash: my-plain-token}\n",
       "pipeline.yaml:4:42: token_hash: not a token hash"},
      {"", "name: orders\ngovernance:\n  principals:\n    - {name: x, role: admin}\n",
       "pipeline.yaml:4:7: principal x needs `token_hash:`"},
      {"", "name: orders\ngovernance:\n  users: []\n", "pipeline.yaml:3:3: unknown key `users` in governance"},
      {"", f.Yaml("missing.sql"), "governance.grants: cannot read"},
  };
  for (const auto& c : cases) {
    auto p = f.Load(c.grants, c.yaml);
    ASSERT_FALSE(p.ok()) << c.grants << c.yaml;
    EXPECT_NE(p.status().message().find(c.expected), std::string::npos) << p.status().message();
    EXPECT_EQ(p.status().message().find("my-plain-token"), std::string::npos) << "a pasted token is never echoed";
  }
}

TEST(Policy, ASharedGovernanceFileServesSeveralPipelines) {
  PolicyFiles f;
  ASSERT_TRUE(FileSystem::Default()->CreateDirs(f.dir.Join("orders")).ok());
  // governance.yaml's own top level is the mapping; its grants path is relative to it.
  std::string shared = f.Yaml();
  shared = shared.substr(shared.find("governance:\n") + 12);
  std::string unindented;
  for (size_t at = 0; at < shared.size();) {
    size_t end = shared.find('\n', at);
    std::string line = shared.substr(at, end - at);
    unindented += line.substr(std::min<size_t>(2, line.size())) + "\n";
    at = end + 1;
  }
  ASSERT_TRUE(FileSystem::Default()->WriteFile(f.dir.Join("governance.yaml"), unindented).ok());
  ASSERT_TRUE(FileSystem::Default()
                  ->WriteFile(f.dir.Join("grants.sql"), "GRANT SELECT ON TABLE orders.gold_kpis TO alice;\n"
                                                        "GRANT SELECT ON TABLE shop.gold_sales TO alice;\n")
                  .ok());
  ASSERT_TRUE(FileSystem::Default()
                  ->WriteFile(f.dir.Join("orders/pipeline.yaml"), "name: orders\ngovernance: ../governance.yaml\n")
                  .ok());
  auto policy = Policy::Load(f.dir.Join("orders/pipeline.yaml"), "orders", kTables);
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  auto reader = policy->Authenticate("reader-token-0123456789");
  ASSERT_TRUE(reader);
  EXPECT_TRUE(policy->CanSelect(*reader, "gold_kpis"));
  EXPECT_FALSE(policy->CanSelect(*reader, "gold_top_products"));
  EXPECT_NE(policy->source().find("governance.yaml"), std::string::npos);
}

TEST(Policy, NoGovernanceMeansNothingDeclared) {
  PolicyFiles f;
  ASSERT_TRUE(FileSystem::Default()->WriteFile(f.dir.Join("pipeline.yaml"), "name: orders\n").ok());
  auto policy = Policy::Load(f.dir.Join("pipeline.yaml"), "orders", kTables);
  ASSERT_TRUE(policy.ok());
  EXPECT_FALSE(policy->declared());
  EXPECT_TRUE(policy->CanSelect(Identity::Local(), "silver_orders"));
  EXPECT_TRUE(policy->CanSelect(Identity::ServerToken(), "silver_orders"));
}

}  // namespace
}  // namespace lakepipe::governance
