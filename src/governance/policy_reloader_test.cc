// Reloading the grants while a server runs: a changed grants file is put in effect and
// recorded as a grant_change; a file that fails to parse keeps the previous grants, and
// the failure (with the file:line) is in the audit log; SIGHUP reloads without a poll.
#include "governance/policy_reloader.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "governance/token_hash.h"
#include "testing/testing.h"

namespace lakepipe::governance {
namespace {

const std::vector<std::string> kTables = {"silver_orders", "gold_kpis"};

// A pipeline.yaml with a reader `alice` (group analysts) and a grants file beside it.
struct Governed {
  testing::TempDir dir;
  std::string settings = dir.Join("pipeline.yaml");
  std::string grants = dir.Join("grants.sql");
  std::string storage = dir.Join("storage");
  std::mutex mu;
  std::shared_ptr<const Policy> current;  // what `apply` installed

  void SetUp() {
    auto hash = HashToken("alice-token-0123456789abcdef");
    ASSERT_TRUE(hash.ok());
    ASSERT_TRUE(FileSystem::Default()
                    ->WriteFile(settings, "name: orders\ngovernance:\n  principals:\n"
                                          "    - {name: alice, role: reader, groups: [analysts], token_hash: \"" +
                                              FormatTokenHash(*hash) + "\"}\n  grants: grants.sql\n")
                    .ok());
    WriteGrants("GRANT SELECT ON TABLE gold_kpis TO analysts;\n");
    auto p = Load();
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    current = std::make_shared<const Policy>(std::move(p).value());
  }
  void WriteGrants(const std::string& text) { ASSERT_TRUE(FileSystem::Default()->WriteFile(grants, text).ok()); }
  Result<Policy> Load() { return Policy::Load(settings, "orders", kTables); }
  PolicyReloader::Callbacks Callbacks() {
    PolicyReloader::Callbacks c;
    c.load = [this] { return Load(); };
    c.apply = [this](Policy p) {
      std::lock_guard<std::mutex> lock(mu);
      current = std::make_shared<const Policy>(std::move(p));
    };
    return c;
  }
  bool AliceReads(const std::string& table) {
    std::lock_guard<std::mutex> lock(mu);
    auto who = current->Authenticate("alice-token-0123456789abcdef");
    return who && current->CanSelect(*who, table);
  }
  std::vector<AuditRecord> GrantChanges() {
    auto rows = AuditLog::Read(storage);
    EXPECT_TRUE(rows.ok());
    std::vector<AuditRecord> out;
    if (rows.ok())
      for (const auto& r : *rows)
        if (r.action == "grant_change") out.push_back(r);
    return out;
  }
};

bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 200; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

TEST(PolicyReloader, AChangedGrantsFileIsReloadedAndAFileThatFailsKeepsTheOldGrants) {
  Governed g;
  g.SetUp();
  AuditLog audit(FileSystem::Default(), g.storage, "orders");
  ASSERT_TRUE(RecordPolicyChange(audit, g.storage, *g.current, "local:test", "test").ok());
  ASSERT_EQ(g.GrantChanges().size(), 1u);  // the first start records every line
  PolicyReloader reloader(g.Callbacks(), *g.current, &audit, g.storage, /*poll_ms=*/50);
  reloader.Start();
  ASSERT_TRUE(g.AliceReads("gold_kpis"));
  ASSERT_FALSE(g.AliceReads("silver_orders"));

  // A grant added: in effect without a restart, and on record.
  g.WriteGrants("GRANT SELECT ON TABLE gold_kpis TO analysts;\n-- and now\nGRANT SELECT ON TABLE silver_orders TO alice;\n");
  EXPECT_TRUE(WaitFor([&] { return g.AliceReads("silver_orders"); }));
  EXPECT_TRUE(WaitFor([&] { return g.GrantChanges().size() == 2; }));
  auto changes = g.GrantChanges();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1].outcome, "allowed");
  EXPECT_EQ(changes[1].detail, "+ SELECT ON TABLE silver_orders TO alice");
  EXPECT_EQ(reloader.reloads(), 1);

  // A file that does not parse (line 2): the previous grants stay, the error is recorded
  // once with its file:line, however many polls see the file.
  g.WriteGrants("GRANT SELECT ON TABLE gold_kpis TO analysts;\nGRANT SELECT ON TABLE silver_orders TO nobody;\n");
  EXPECT_TRUE(WaitFor([&] { return g.GrantChanges().size() == 3; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  changes = g.GrantChanges();
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[2].outcome, "failed");
  EXPECT_NE(changes[2].detail.find(g.grants + ":2:"), std::string::npos) << changes[2].detail;
  EXPECT_NE(changes[2].detail.find("`nobody` is neither a principal nor a group"), std::string::npos) << changes[2].detail;
  EXPECT_EQ(reloader.failures(), 1);
  EXPECT_TRUE(g.AliceReads("silver_orders"));
  EXPECT_TRUE(g.AliceReads("gold_kpis"));

  // Fixed by revoking: in effect, and recorded as the removed line.
  g.WriteGrants("GRANT SELECT ON TABLE gold_kpis TO analysts;\n");
  EXPECT_TRUE(WaitFor([&] { return !g.AliceReads("silver_orders"); }));
  EXPECT_TRUE(WaitFor([&] { return g.GrantChanges().size() == 4; }));
  changes = g.GrantChanges();
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[3].detail, "- SELECT ON TABLE silver_orders TO alice");
  reloader.Stop();
}

TEST(PolicyReloader, SighupReloadsWithoutPolling) {
  Governed g;
  g.SetUp();
  AuditLog audit(FileSystem::Default(), g.storage, "orders");
  PolicyReloader reloader(g.Callbacks(), *g.current, &audit, g.storage, /*poll_ms=*/0);
  reloader.Start();
  g.WriteGrants("GRANT SELECT ON TABLE * TO alice;\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_FALSE(g.AliceReads("silver_orders"));  // no polling: not seen yet
  InstallSighupReload();
  ASSERT_EQ(raise(SIGHUP), 0);  // the handler, not the default (which ends the process)
  EXPECT_TRUE(WaitFor([&] { return g.AliceReads("silver_orders"); }));
  EXPECT_EQ(reloader.reloads(), 1);
  auto changes = g.GrantChanges();
  ASSERT_FALSE(changes.empty());
  EXPECT_NE(changes.back().detail.find("+ SELECT ON TABLE * TO alice"), std::string::npos) << changes.back().detail;
  reloader.Stop();
}

}  // namespace
}  // namespace lakepipe::governance
