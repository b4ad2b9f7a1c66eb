#include "testing/pg_test_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

namespace lakepipe::testing {
namespace {

TEST(PgTestServerTest, StartsStopsRestartsAndCleansUp) {
  std::string folder;
  {
    auto pg = PgTestServer::Start();
    ASSERT_TRUE(pg.ok()) << pg.status().ToString();
    folder = (*pg)->server().folder();
    EXPECT_GT((*pg)->port(), 0);
    ASSERT_TRUE((*pg)->CreateDatabase("shop").ok());
    ASSERT_TRUE((*pg)->Psql("CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2);", "shop").ok());
    auto listen = (*pg)->Psql("SHOW listen_addresses");
    ASSERT_TRUE(listen.ok());
    EXPECT_EQ(*listen, "127.0.0.1\n");
    auto wal = (*pg)->Psql("SHOW wal_level");
    ASSERT_TRUE(wal.ok());
    EXPECT_EQ(*wal, "replica\n");
    // The data folder is not root's when tests run as root (the server refuses root).
    struct stat st {};
    ASSERT_EQ(::stat((folder + "/data").c_str(), &st), 0);
    if (::geteuid() == 0) {
      EXPECT_NE(st.st_uid, 0u);
    }

    ASSERT_TRUE((*pg)->Stop().ok());
    EXPECT_FALSE((*pg)->Psql("SELECT 1").ok()) << "a stopped server answered";
    ASSERT_TRUE((*pg)->Restart().ok());
    auto sum = (*pg)->Psql("SELECT sum(x) FROM t", "shop");
    ASSERT_TRUE(sum.ok()) << sum.status().ToString();
    EXPECT_EQ(*sum, "3\n");
  }
  EXPECT_FALSE(std::filesystem::exists(folder)) << "the fixture left " << folder;
}

TEST(PgTestServerTest, LogicalReplicationIsConfigurable) {
  auto pg = PgTestServer::Start({.logical_replication = true});
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  auto wal = (*pg)->Psql("SHOW wal_level");
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(*wal, "logical\n");
}

TEST(PgTestServerTest, ErrorsCarryPsqlMessage) {
  auto pg = PgTestServer::Start();
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  auto bad = (*pg)->Psql("SELECT * FROM no_such_table");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().ToString().find("no_such_table"), std::string::npos) << bad.status().ToString();
}

}  // namespace
}  // namespace lakepipe::testing
