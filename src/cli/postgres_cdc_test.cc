// read_postgres_cdc end to end: `lakepipe produce --to postgresql://` drives the orders
// application on a real PostgreSQL (wal_level = logical); a pipeline takes a snapshot of
// shop.customers and shop.outbox, then streams their changes into Bronze and an AUTO CDC
// SCD type 1 dimension, across SIGKILLs at kill points (before the Delta commit, between
// the Delta commit and the slot confirmation, after the commit log) and a PostgreSQL
// restart. At the end the dimension equals SELECT * of the source table, Bronze holds
// each outbox event exactly once, and after every kill the slot's confirmed_flush_lsn is
// not past what the flow committed. Scaled down for `make test` (a few hundred orders).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/cli_test_util.h"
#include "cli/pg_cdc_test_util.h"
#include "common/fs.h"
#include "testing/testing.h"

namespace lakepipe {
namespace {

using ::testing::HasSubstr;

const char* kPipelineSql = R"sql(
CREATE OR REFRESH STREAMING TABLE customers_changes AS
SELECT * FROM STREAM read_postgres_cdc(dsn => '${postgres_dsn}', tableName => 'shop.customers',
                                       maxRowsPerTrigger => 40);

CREATE OR REFRESH STREAMING TABLE dim_customer;
CREATE FLOW customers_scd1 AS AUTO CDC INTO dim_customer
FROM STREAM(customers_changes) KEYS (customer_id)
APPLY AS DELETE WHEN _change_type = 'delete'
SEQUENCE BY _lsn
COLUMNS * EXCEPT (_change_type, _lsn, _commit_timestamp, _xid, _rescued_data);

CREATE OR REFRESH STREAMING TABLE bronze_outbox AS
SELECT id, aggregate_id, event_type, payload, _change_type, _lsn
FROM STREAM read_postgres_cdc(dsn => '${postgres_dsn}', tableName => 'shop.outbox', maxRowsPerTrigger => 60);
)sql";

class PostgresCdcPipelineTest : public PgCdcTest {
 protected:
  void SetUp() override {
    PgCdcTest::SetUp();
    if (HasFatalFailure()) return;
    UsePipeline("cdc", kPipelineSql);
  }
  void Produce(int orders, int seed) {
    Lakepipe("produce --to " + uri_ + " --rate 20000 --limit " + std::to_string(orders) +
             " --customers 40 --products 10 --dimension-every 2 --seed " + std::to_string(seed));
  }
  // A value stored out of line (TOAST: random text, not compressible below the limit), then
  // an update that leaves it unchanged: the stream carries it as 'u'.
  void ToastedUpdate() {
    Psql("UPDATE shop.customers SET email = (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 300)) "
         "WHERE customer_id = (SELECT min(customer_id) FROM shop.customers)");
    Psql("UPDATE shop.customers SET country = 'Iceland' WHERE customer_id = (SELECT min(customer_id) FROM shop.customers)");
  }
  // Every slot check of this test expects batches: the first run commits one per table.
  void ExpectSlotNotPastCommitted(const std::string& table) { PgCdcTest::ExpectSlotNotPastCommitted(table, true); }
};

TEST_F(PostgresCdcPipelineTest, SnapshotThenStreamWithKillsAndARestartExactlyOnce) {
  Produce(60, 1);  // exists before the first run: the snapshot
  EXPECT_THAT(Lakepipe("validate " + pipeline_ + Sets()), HasSubstr("3 tables, OK"));
  Lakepipe("run " + pipeline_ + " --once --no-server" + Sets());
  ExpectSlotNotPastCommitted("customers_changes");
  ExpectSlotNotPastCommitted("bronze_outbox");

  int seed = 2;
  const char* points[] = {"flow.after_plan", "flow.after_table_commit", "pgcdc.before_confirm",
                          "flow.after_commit_log", "flow.after_state_commit", "flow.after_process"};
  int killed = 0;
  for (const char* point : points) {
    Produce(40, seed++);
    // A TOASTed document updated next to it and left unchanged by the next update.
    ToastedUpdate();
    if (RunKilledAt(point)) ++killed;
    ExpectSlotNotPastCommitted("customers_changes");
    ExpectSlotNotPastCommitted("bronze_outbox");
    if (std::string(point) == "flow.after_commit_log") {
      ASSERT_TRUE(pg_->Stop().ok());
      ASSERT_TRUE(pg_->Restart().ok());
    }
  }
  EXPECT_GE(killed, 4) << "most kill points are passed by a run";
  Produce(30, seed++);
  Psql("DELETE FROM shop.customers WHERE customer_id IN (5, 6)");
  ToastedUpdate();
  Lakepipe("run " + pipeline_ + " --once --no-server" + Sets());
  ExpectSlotNotPastCommitted("customers_changes");

  // The SCD type 1 table equals the source table.
  std::string ours = Lakepipe("query " + pipeline_ + Sets() + " --format csv \"SELECT customer_id, name, email, "
                              "country, is_test FROM dim_customer ORDER BY customer_id\"");
  std::string theirs = Psql("COPY (SELECT customer_id, name, email, country, is_test FROM shop.customers ORDER BY "
                            "customer_id) TO STDOUT WITH (FORMAT csv)");
  // Our CSV has a header line and writes booleans as true/false.
  ASSERT_NE(ours.find('\n'), std::string::npos);
  ours = ours.substr(ours.find('\n') + 1);
  for (auto [from, to] : {std::pair<std::string, std::string>{",t\n", ",true\n"}, {",f\n", ",false\n"}}) {
    for (size_t at = theirs.find(from); at != std::string::npos; at = theirs.find(from, at + 1)) theirs.replace(at, from.size(), to);
  }
  EXPECT_EQ(ours, theirs);
  EXPECT_NE(theirs.find("Iceland"), std::string::npos);
  EXPECT_EQ(Psql("SELECT length(email) FROM shop.customers WHERE country = 'Iceland' ORDER BY customer_id LIMIT 1"),
            "9600\n");

  // Bronze holds each outbox event exactly once.
  std::string counts = Lakepipe("query " + pipeline_ + Sets() + " --format csv \"SELECT count(*) AS n, "
                                "count(DISTINCT id) AS d, sum(CASE WHEN _change_type IN ('snapshot', 'insert') "
                                "THEN 1 ELSE 0 END) AS ins FROM bronze_outbox\"");
  std::string total = Psql("SELECT count(*) FROM shop.outbox");
  total.pop_back();
  EXPECT_EQ(counts, "n,d,ins\n" + total + "," + total + "," + total + "\n");
}

// A continuous run with nothing to read for longer than wal_sender_timeout keeps its
// replication connections: the walsender's keepalives are answered (a walsender that got
// no reply within the timeout ends the connection, and the source would reconnect: a new
// walsender process and a postgres_cdc_reconnect event). Changes after the idle arrive.
TEST_F(PostgresCdcPipelineTest, IdleLongerThanWalSenderTimeoutKeepsTheConnection) {
  Produce(3, 1);
  Psql("ALTER SYSTEM SET wal_sender_timeout = '2s'");
  Psql("SELECT pg_reload_conf()");
  for (int i = 0; i < 50 && Psql("SHOW wal_sender_timeout") != "2s\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(Psql("SHOW wal_sender_timeout"), "2s\n");
  pid_t run = StartRun(dir_.Join("run.log"));
  const std::string walsenders =
      "SELECT string_agg(slot_name || '=' || coalesce(active_pid::text, 'none'), ',' ORDER BY slot_name) "
      "FROM pg_replication_slots";
  std::string before;
  for (int i = 0; i < 300; ++i) {
    before = Psql(walsenders);
    bool streaming = before.find("none") == std::string::npos &&
                     std::count(before.begin(), before.end(), '=') == 2 &&
                     FileSystem::Default()->Exists(storage_ + "/_checkpoints/bronze_outbox/commits/0");
    if (streaming) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(std::count(before.begin(), before.end(), '='), 2) << before;
  ASSERT_EQ(before.find("none"), std::string::npos) << before;
  // Idle: two and a half timeouts without a change.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  EXPECT_EQ(Psql(walsenders), before) << "a walsender was replaced: the connection was dropped";
  Produce(4, 2);
  std::string outbox = Psql("SELECT count(*) FROM shop.outbox");
  bool arrived = false;
  for (int i = 0; i < 300 && !arrived; ++i) {
    auto count = testing::RunCommand(Binary() + " query " + pipeline_ + Sets() +
                                     " --format csv 'SELECT count(*) AS n FROM bronze_outbox' 2>/dev/null");
    arrived = count.ok() && *count == "n\n" + outbox;
    if (!arrived) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(arrived) << "the orders after the idle did not reach bronze_outbox";
  EXPECT_EQ(Psql(walsenders), before);
  // A clean stop (SIGINT) writes the event log out.
  ASSERT_EQ(::kill(run, SIGINT), 0);
  int status = 0;
  for (int i = 0; i < 300 && ::waitpid(run, &status, WNOHANG) != run; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (i == 299) {
      ADD_FAILURE() << "lakepipe run did not stop on SIGINT";
      ::kill(run, SIGKILL);
      ::waitpid(run, &status, 0);
    }
  }
  EXPECT_EQ(QueryCsv("SELECT count(*) AS n FROM _event_log WHERE event_type = 'postgres_cdc_reconnect'"), "0\n");
}

TEST_F(PostgresCdcPipelineTest, ValidateNamesTheSettingToFix) {
  Produce(1, 1);
  Psql("ALTER TABLE shop.customers REPLICA IDENTITY DEFAULT");
  std::string err = LakepipeFails("validate " + pipeline_ + Sets());
  EXPECT_THAT(err, HasSubstr("cdc.sql:"));
  EXPECT_THAT(err, HasSubstr("ALTER TABLE shop.customers REPLICA IDENTITY FULL"));
}

// A snapshot and a transaction each far larger than spillRows: each is read by parts
// (the transaction spooled to disk first) and written as they come, yet each is one
// batch and one Delta commit, and the table is exactly the changes PostgreSQL made.
TEST_F(PostgresCdcPipelineTest, LargeSnapshotAndTransactionAreOneCommitEachReadByParts) {
  Psql("CREATE SCHEMA shop; CREATE TABLE shop.big (id bigint PRIMARY KEY, name text, qty int); "
       "ALTER TABLE shop.big REPLICA IDENTITY FULL; "
       "INSERT INTO shop.big SELECT g, 'n' || g, g % 50 FROM generate_series(1, 60000) g");
  ASSERT_TRUE(FileSystem::Default()
                  ->WriteFileAtomic(pipeline_ + "/cdc.sql",
                                    "CREATE OR REFRESH STREAMING TABLE big_changes AS\n"
                                    "SELECT id, upper(name) AS name, qty, _change_type, _lsn\n"
                                    "FROM STREAM read_postgres_cdc(dsn => '${postgres_dsn}', tableName => 'shop.big', "
                                    "spillRows => 7000)\nWHERE qty <> 13;\n")
                  .ok());
  Lakepipe("run " + pipeline_ + " --once --no-server" + Sets());
  Psql("BEGIN; UPDATE shop.big SET qty = qty + 1 WHERE id <= 40000; "
       "INSERT INTO shop.big SELECT g, 'm' || g, g % 50 FROM generate_series(60001, 70000) g; "
       "DELETE FROM shop.big WHERE id % 10 = 0; COMMIT");
  // The server decodes the large transaction a while before it sends its first change:
  // run --once waits for the walsender to pass what was committed before it started.
  Lakepipe("run " + pipeline_ + " --once --no-server" + Sets());
  FileSystem* fs = FileSystem::Default();
  std::string log = storage_ + "/big_changes/_delta_log/";

  // One commit per batch: the snapshot (version 0) and the transaction (version 1).
  EXPECT_TRUE(fs->Exists(log + "00000000000000000001.json"));
  EXPECT_FALSE(fs->Exists(log + "00000000000000000002.json"));
  std::string q = "query " + pipeline_ + Sets() + " --format csv ";
  // Every change that passed the filter, by kind: what PostgreSQL did, counted independently.
  EXPECT_EQ(Lakepipe(q + "\"SELECT _change_type, count(*) AS n, sum(id) AS ids FROM big_changes GROUP BY "
                         "_change_type ORDER BY _change_type\""),
            "_change_type,n,ids\n" +
                Psql("COPY (SELECT k, count(*), sum(id) FROM ("
                     "SELECT 'snapshot' AS k, g AS id, g % 50 AS qty FROM generate_series(1, 60000) g "
                     "UNION ALL SELECT 'update', g, g % 50 + 1 FROM generate_series(1, 40000) g "
                     "UNION ALL SELECT 'insert', g, g % 50 FROM generate_series(60001, 70000) g "
                     "UNION ALL SELECT 'delete', g, CASE WHEN g <= 40000 THEN g % 50 + 1 ELSE g % 50 END "
                     "FROM generate_series(10, 70000, 10) g) c WHERE qty <> 13 GROUP BY k ORDER BY k) "
                     "TO STDOUT WITH (FORMAT csv)"));
  EXPECT_EQ(Lakepipe(q + "\"SELECT count(*) AS n FROM big_changes WHERE name <> upper(name) OR name IS NULL\""),
            "n\n0\n");
  EXPECT_EQ(Lakepipe(q + "\"SELECT count(*) AS n FROM _event_log WHERE event_type = 'postgres_cdc_spill'\""),
            "n\n1\n");
}

}  // namespace
}  // namespace lakepipe

namespace lakepipe {
namespace {

// `lakepipe query` reads the stored tables of a pipeline whose source cannot be reached
// (here: nothing listens on the DSN's port), says why, and refuses its views by name.
TEST(PostgresCdcQueryTest, StoredTablesAreReadWhenTheSourceIsDown) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  ASSERT_TRUE(fs->CreateDirs(dir.Join("p")).ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/pipeline.yaml"), "name: q\nstorage: " + dir.Join("st") + "\nlibraries: [p.sql]\n").ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("p/p.sql"),
                            "CREATE OR REFRESH STREAMING TABLE customers AS SELECT * FROM STREAM read_postgres_cdc(dsn => "
                            "'postgresql://postgres@127.0.0.1:1/shop', tableName => 'shop.customers');\n"
                            "CREATE TEMPORARY VIEW recent AS SELECT * FROM customers;\n").ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("c.csv"), "customer_id,name\n1,ann\n2,bob\n").ok());
  Lakepipe("table write --from " + dir.Join("c.csv") + " --to " + dir.Join("st/customers"));
  // (grouped: RunCommand sends the group's stderr elsewhere, the query's goes to err)
  auto out = testing::RunCommand("{ " + Binary() + " query " + dir.Join("p") +
                                 " --format csv 'SELECT count(*) AS n FROM customers' 2>" + dir.Join("err") + "; }");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, "n\n2\n");
  auto err = fs->ReadFile(dir.Join("err"));
  ASSERT_TRUE(err.ok());
  EXPECT_THAT(*err, HasSubstr("reading the stored tables only"));
  EXPECT_THAT(*err, HasSubstr("p.sql:1:"));
  EXPECT_THAT(LakepipeFails("query " + dir.Join("p") + " 'SELECT * FROM recent'"),
              HasSubstr("view `recent` cannot be read: the pipeline does not resolve"));
  EXPECT_THAT(LakepipeFails("run " + dir.Join("p") + " --once --no-server"), HasSubstr("cannot connect"));
}

// `lakepipe demo --source postgres`: its own PostgreSQL runs the orders application, the
// CDC example reads it, Gold reaches the read-only role it prints, and SIGINT stops the
// demo, the application and the server.
TEST(PostgresCdcDemoTest, DemoFromPostgresPublishesGoldAndStopsOnSigint) {
  testing::TempDir dir;
  std::string log = dir.Join("demo.log");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string cmd = "exec " + Binary() + " demo --source postgres --dir " + dir.Join("demo") + " --example " +
                      testing::SourceDir() + "/examples/orders-cdc --port 0 --rate 100 > " + log + " 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string published;
  std::string port = WaitForPublishedKpis(log, 60, &published);
  EXPECT_FALSE(port.empty()) << "the demo printed no PostgreSQL line";
  EXPECT_FALSE(published.empty()) << "gold.gold_kpis was not published";
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  auto text = FileSystem::Default()->ReadFile(log);
  ASSERT_TRUE(text.ok());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << *text;
  EXPECT_THAT(*text, HasSubstr("wal_level = logical"));
  EXPECT_THAT(*text, HasSubstr("dashboard and API at http://127.0.0.1:"));
  EXPECT_THAT(*text, HasSubstr("demo: stopped"));
  auto left = testing::RunCommand("pgrep -f '[p]ostgres -D .* -p " + port + "$|[p]roduce --to postgresql://postgres@127.0.0.1:" +
                                  port + "/' || true");
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(*left, "") << "the demo's PostgreSQL or orders application outlived it";
}

}  // namespace
}  // namespace lakepipe
