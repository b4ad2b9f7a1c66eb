// PgCdcTest: the fixture the CLI tests of read_postgres_cdc share (PostgresCdcPipelineTest,
// PostgresCdcKillTest, OrdersCdcExampleTest): a real PostgreSQL per test (PgTestServer,
// wal_level = logical) with database `shopdb`, a temporary folder holding the pipeline
// and its storage, and what they check about the server. The server is stopped and the
// folder removed when the test ends, whatever happened. Test-only; one test thread.
//
// Call order: SetUp (gtest), then UsePipeline or UseFolder before anything that runs
// lakepipe; the rest in any order.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_test_util.h"
#include "common/fs.h"
#include "pgcdc/pgoutput.h"
#include "testing/pg_test_server.h"
#include "testing/testing.h"

namespace lakepipe {

class PgCdcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = testing::PgTestServer::Start({.logical_replication = true});
    ASSERT_TRUE(pg.ok()) << pg.status().ToString();
    pg_ = std::move(*pg);
    ASSERT_TRUE(pg_->CreateDatabase("shopdb").ok());
    uri_ = "postgresql://postgres@127.0.0.1:" + std::to_string(pg_->port()) + "/shopdb";
    storage_ = dir_.Join("storage");
  }

  // A pipeline folder `pipe` in the test's folder: pipeline.yaml (`name`, storage
  // ./storage, the configuration key postgres_dsn) and one library, cdc.sql = `sql`.
  void UsePipeline(const std::string& name, const std::string& sql) {
    pipeline_ = dir_.Join("pipe");
    FileSystem* fs = FileSystem::Default();
    ASSERT_TRUE(fs->CreateDirs(pipeline_).ok());
    ASSERT_TRUE(fs->WriteFileAtomic(pipeline_ + "/pipeline.yaml",
                                    "name: " + name +
                                        "\nstorage: ./storage\nlibraries:\n  - cdc.sql\nconfiguration:\n"
                                        "  postgres_dsn: \"\"\n")
                    .ok());
    ASSERT_TRUE(fs->WriteFileAtomic(pipeline_ + "/cdc.sql", sql).ok());
  }
  // An existing pipeline folder (an example), its storage in the test's folder.
  void UseFolder(const std::string& folder) { pipeline_ = folder; }

  // The --set options every lakepipe command of the test takes.
  std::string Sets() const { return " --set postgres_dsn=" + uri_ + " --set storage=" + storage_; }

  // psql -At in shopdb (the test fails on an error).
  std::string Psql(const std::string& sql) {
    auto r = pg_->Psql(sql, "shopdb");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : "";
  }
  // A query's rows as PostgreSQL's CSV (no header).
  std::string PgCsv(const std::string& select) { return Psql("COPY (" + select + ") TO STDOUT WITH (FORMAT csv)"); }
  // `lakepipe query` of the pipeline as CSV, without its header line.
  std::string QueryCsv(const std::string& sql) {
    std::string out = Lakepipe("query " + pipeline_ + Sets() + " --format csv \"" + sql + "\"");
    size_t nl = out.find('\n');
    return nl == std::string::npos ? "" : out.substr(nl + 1);
  }
  // `lakepipe run --once` of the pipeline with a kill point armed; true when the process
  // died by SIGKILL there.
  bool RunKilledAt(const std::string& point) {
    std::string cmd = "LAKEPIPE_KILL_AT=" + point + " " + Binary() + " run " + pipeline_ + " --once --no-server" +
                      Sets() + " >/dev/null 2>&1";
    int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) && WEXITSTATUS(rc) == 128 + SIGKILL;  // the shell reports a killed child so
  }

  // Starts `lakepipe run` of the pipeline, continuous, its output appended to `log`;
  // returns its pid (the caller kills and waits for it).
  pid_t StartRun(const std::string& log) {
    pid_t pid = fork();
    if (pid == 0) {
      std::string cmd = "exec " + Binary() + " run " + pipeline_ + " --no-server" + Sets() + " >>" + log + " 2>&1";
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    return pid;
  }

  // The slot of each change stream of `table`'s flow is not confirmed past the end of the
  // last batch in the flow's commit log (what is in Delta). With `must_have_batches`, the
  // flow must have committed a batch reading a change stream.
  void ExpectSlotNotPastCommitted(const std::string& table, bool must_have_batches = false) {
    std::string cp = storage_ + "/_checkpoints/" + table;
    FileSystem* fs = FileSystem::Default();
    auto commits = fs->ListDir(cp + "/commits");
    if (!commits.ok()) {
      EXPECT_FALSE(must_have_batches) << table << ": " << commits.status().ToString();
      return;
    }
    int64_t last = -1;
    for (const auto& f : *commits) {
      if (!f.name.empty() && std::all_of(f.name.begin(), f.name.end(), ::isdigit)) {
        last = std::max<int64_t>(last, std::stoll(f.name));
      }
    }
    if (last < 0) {
      EXPECT_FALSE(must_have_batches) << table << " has no committed batch";
      return;
    }
    auto plan_text = fs->ReadFile(cp + "/offsets/" + std::to_string(last));
    ASSERT_TRUE(plan_text.ok()) << plan_text.status().ToString();
    auto plan = nlohmann::json::parse(*plan_text);
    int checked = 0;
    for (const auto& s : plan["sources"]) {
      if (s["kind"] != "stream") continue;
      std::string slot = s["range"]["slot"].get<std::string>();
      std::string confirmed = Psql("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
      ASSERT_FALSE(confirmed.empty()) << "slot " << slot << " of " << table;
      confirmed.pop_back();
      auto c = pgcdc::ParseLsn(confirmed);
      auto e = pgcdc::ParseLsn(s["range"]["endLsn"].get<std::string>());
      ASSERT_TRUE(c.ok() && e.ok()) << confirmed << " " << s["range"].dump();
      EXPECT_LE(*c, *e) << table << ": the slot is confirmed past the last committed batch";
      ++checked;
    }
    if (must_have_batches) {
      EXPECT_GT(checked, 0) << plan.dump();
    }
  }

  std::unique_ptr<testing::PgTestServer> pg_;
  testing::TempDir dir_;
  std::string uri_, pipeline_, storage_;
};

}  // namespace lakepipe
