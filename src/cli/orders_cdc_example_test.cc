// examples/orders-cdc end to end on a real PostgreSQL: the orders application
// (`lakepipe produce --to postgresql://`) writes orders, outbox events and dimension
// changes; the example pipeline runs `--once` between rounds of orders, some runs killed
// at kill points. The truth comes from PostgreSQL itself: triggers record every version
// of the customers and products, and every order, in one sequence (the application
// commits one transaction at a time, so that sequence is the commit order, as the WAL's
// is). At the end:
//   - Bronze holds each outbox event exactly once;
//   - the current rows of the SCD type 2 dim_customer equal shop.customers;
//   - gold_revenue_by_country (which takes each order's customer country as it was when
//     the order was committed, test accounts removed) equals the same sums computed by
//     PostgreSQL from the recorded versions.
#include <sys/wait.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/cli_test_util.h"
#include "cli/pg_cdc_test_util.h"
#include "testing/testing.h"

namespace lakepipe {
namespace {

using ::testing::HasSubstr;

// One sequence over the versions of customers and products and the orders. The rows that
// exist when the triggers are installed are recorded first, as versions that were there
// before any order that follows.
const char* kAuditSql = R"sql(
CREATE SCHEMA audit;
CREATE TABLE audit.log (seq bigserial PRIMARY KEY, tbl text NOT NULL, id bigint NOT NULL, op text NOT NULL,
                        country text, is_test boolean, category text);
INSERT INTO audit.log (tbl, id, op, country, is_test)
  SELECT 'customers', customer_id, 'I', country, is_test FROM shop.customers ORDER BY customer_id;
INSERT INTO audit.log (tbl, id, op, category)
  SELECT 'products', product_id, 'I', category FROM shop.products ORDER BY product_id;
INSERT INTO audit.log (tbl, id, op) SELECT 'orders', order_id, 'I' FROM shop.orders ORDER BY order_id;
CREATE FUNCTION audit.record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO audit.log (tbl, id, op) VALUES (TG_TABLE_NAME, (to_jsonb(OLD) ->> TG_ARGV[0])::bigint, 'D');
  ELSE
    INSERT INTO audit.log (tbl, id, op, country, is_test, category)
    VALUES (TG_TABLE_NAME, (to_jsonb(NEW) ->> TG_ARGV[0])::bigint, left(TG_OP, 1),
            to_jsonb(NEW) ->> 'country', (to_jsonb(NEW) ->> 'is_test')::boolean, to_jsonb(NEW) ->> 'category');
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON shop.customers
  FOR EACH ROW EXECUTE FUNCTION audit.record('customer_id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON shop.products
  FOR EACH ROW EXECUTE FUNCTION audit.record('product_id');
CREATE TRIGGER audit AFTER INSERT ON shop.orders FOR EACH ROW EXECUTE FUNCTION audit.record('order_id');
)sql";

// gold_revenue_by_country computed by PostgreSQL: each order line with the country of the
// customer's last version before the order ('unknown' when that was a delete), without
// the lines of test accounts (a customer that was a test account in any version).
const char* kRevenueByCountrySql = R"sql(
COPY (
  WITH lines AS (
    SELECT l.order_id, l.quantity, l.unit_price, o.customer_id,
           (SELECT seq FROM audit.log a WHERE a.tbl = 'orders' AND a.id = o.order_id) AS order_seq
    FROM shop.order_lines l JOIN shop.orders o USING (order_id)),
  placed AS (
    SELECT lines.*,
           (SELECT CASE WHEN a.op = 'D' THEN NULL ELSE a.country END FROM audit.log a
            WHERE a.tbl = 'customers' AND a.id = lines.customer_id AND a.seq < lines.order_seq
            ORDER BY a.seq DESC LIMIT 1) AS country,
           (SELECT bool_or(a.is_test) FROM audit.log a WHERE a.tbl = 'customers' AND a.id = lines.customer_id)
             AS is_test
    FROM lines)
  SELECT coalesce(country, 'unknown') AS country, sum(round(quantity * unit_price, 2)) AS revenue,
         count(*) AS order_lines, count(DISTINCT order_id) AS orders, count(DISTINCT customer_id) AS customers
  FROM placed WHERE NOT coalesce(is_test, false)
  GROUP BY 1 ORDER BY coalesce(country, 'unknown') COLLATE "C"
) TO STDOUT WITH (FORMAT csv)
)sql";

class OrdersCdcExampleTest : public PgCdcTest {
 protected:
  void SetUp() override {
    PgCdcTest::SetUp();
    UseFolder(testing::SourceDir() + "/examples/orders-cdc");
  }
  void Produce(int orders, int seed) {
    Lakepipe("produce --to " + uri_ + " --rate 20000 --limit " + std::to_string(orders) +
             " --customers 30 --products 12 --dimension-every 2 --seed " + std::to_string(seed));
  }
};

TEST_F(OrdersCdcExampleTest, GoldEqualsPostgresHistoryAcrossKills) {
  Produce(1, 1);  // the schema, the dimensions and one order, before the first run: the snapshot
  Psql(kAuditSql);
  EXPECT_THAT(Lakepipe("validate " + pipeline_ + Sets()), HasSubstr("13 tables, OK"));
  Lakepipe("run " + pipeline_ + " --once --no-server" + Sets());

  int seed = 2, killed = 0;
  for (const char* point : {"flow.after_table_commit", "pgcdc.before_confirm", "flow.after_commit_log", ""}) {
    Produce(60, seed++);
    if (*point == '\0') {
      Lakepipe("run " + pipeline_ + " --once --no-server" + Sets());
    } else if (RunKilledAt(point)) {
      ++killed;
    }
  }
  EXPECT_GE(killed, 2) << "kill points passed by a run";
  Lakepipe("run " + pipeline_ + " --once --no-server" + Sets());

  std::string outbox = Psql("SELECT count(*) FROM shop.outbox");
  outbox.pop_back();
  EXPECT_EQ(QueryCsv("SELECT count(*), count(DISTINCT id) FROM bronze_outbox"), outbox + "," + outbox + "\n");

  std::string ours = QueryCsv("SELECT customer_id, name, email, country FROM dim_customer WHERE __END_AT IS NULL "
                              "ORDER BY customer_id");
  std::string theirs = Psql("COPY (SELECT customer_id, name, email, country FROM shop.customers ORDER BY customer_id) "
                            "TO STDOUT WITH (FORMAT csv)");
  EXPECT_EQ(ours, theirs);
  // The application deleted and changed customers, so the history is not trivial.
  EXPECT_NE(Psql("SELECT count(*) FROM audit.log WHERE tbl = 'customers' AND op = 'D'"), "0\n");
  EXPECT_NE(QueryCsv("SELECT count(*) FROM dim_customer WHERE __END_AT IS NOT NULL"), "0\n");

  std::string revenue = QueryCsv("SELECT * FROM gold_revenue_by_country ORDER BY Country");
  EXPECT_EQ(revenue, Psql(kRevenueByCountrySql));
  EXPECT_THAT(revenue, HasSubstr("unknown,")) << "orders placed for customers deleted before them";
}

}  // namespace
}  // namespace lakepipe
