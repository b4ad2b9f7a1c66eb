// `lakepipe produce --to postgresql://...` against a real PostgreSQL: the documented schema,
// each order with its lines and exactly one outbox event (same transaction), dimension
// changes, a second run continuing the order ids. The rate is not asserted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/cli_test_util.h"
#include "testing/pg_test_server.h"

namespace lakepipe {
namespace {

using testing::PgTestServer;

TEST(ProducePostgresTest, OrdersWithTheirOutboxEventsAndDimensionChanges) {
  auto pg = PgTestServer::Start({.logical_replication = true});
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  ASSERT_TRUE((*pg)->CreateDatabase("shopdb").ok());
  std::string uri = "postgresql://postgres@127.0.0.1:" + std::to_string((*pg)->port()) + "/shopdb";
  std::string out = Lakepipe("produce --to " + uri + " --rate 5000 --limit 300 --customers 50 --products 20 "
                             "--dimension-every 3 --seed 4");
  EXPECT_THAT(out, ::testing::HasSubstr("produced 300 orders (ids 1..300), 100 dimension changes"));
  auto psql = [&](const std::string& sql) {
    auto r = (*pg)->Psql(sql, "shopdb");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : "";
  };
  EXPECT_EQ(psql("SELECT count(*), count(DISTINCT aggregate_id) FROM shop.outbox"), "300|300\n");
  // Each event belongs to its order and lists exactly the order's lines.
  EXPECT_EQ(psql("SELECT count(*) FROM shop.orders o JOIN shop.outbox e ON e.aggregate_id = o.order_id::text "
                 "WHERE e.event_type = 'OrderPlaced' AND (e.payload->>'customer_id')::bigint = o.customer_id AND "
                 "jsonb_array_length(e.payload->'lines') = (SELECT count(*) FROM shop.order_lines l WHERE "
                 "l.order_id = o.order_id)"),
            "300\n");
  // The order, its lines and its event share one transaction.
  EXPECT_EQ(psql("SELECT count(*) FROM shop.orders o JOIN shop.outbox e ON e.aggregate_id = o.order_id::text "
                 "WHERE o.xmin <> e.xmin"),
            "0\n");
  EXPECT_EQ(psql("SELECT relreplident FROM pg_class WHERE oid = 'shop.customers'::regclass"), "f\n");
  EXPECT_EQ(psql("SELECT count(*) FROM shop.products"), "20\n");
  // Dimension changes happened (updates move updated_at past the seed time, or rows changed count).
  EXPECT_NE(psql("SELECT count(*) FROM shop.customers WHERE updated_at > (SELECT min(updated_at) FROM shop.customers)") +
                psql("SELECT count(*) FROM shop.products WHERE updated_at > (SELECT min(updated_at) FROM shop.products)"),
            "0\n0\n");
  // A second run continues the ids.
  out = Lakepipe("produce --to " + uri + " --rate 5000 --limit 10 --dimension-every 0");
  EXPECT_THAT(out, ::testing::HasSubstr("ids 301..310"));
  EXPECT_EQ(psql("SELECT count(*) FROM shop.outbox"), "310\n");
}

TEST(ProducePostgresTest, UnreachableServerIsOneErrorLine) {
  ExpectOneErrorLine(LakepipeFails("produce --to postgresql://postgres@127.0.0.1:1/x --rate 10 --limit 1"),
                     "cannot connect");
}

}  // namespace
}  // namespace lakepipe
