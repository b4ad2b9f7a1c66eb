// examples/shop end to end (seed 004, issue 17) on `lakepipe generate shop` data.
//
// The sources land in two steps (the first three days, then the rest), each followed by
// `run --once`, so the dimensions' history grows across updates. Then every Gold table and
// dimension must equal DuckDB's computation over the raw files — the CRM's Parquet
// extracts, the ERP's product-change CSV files, the order CSV files and the event JSON
// lines — written independently of the pipeline's SQL:
//   - customer versions: an extract row starts a version when the previous extract has no
//     identical row of the customer; the version ends at the first later extract without
//     one (correlated EXISTS, where the pipeline uses lag() and a running sum);
//   - product versions: each change row, ended by the product's next change (lead), where
//     the pipeline uses AUTO CDC;
//   - sessions: gaps-and-islands over the events with lag(), where the pipeline uses a
//     streaming session_window (the sessions the watermark has closed).
// And, directly: each fact row's customer key points to the version holding the
// attributes of the extract of the order's day (or is -1 exactly when that extract lacks
// the customer); each known product key's list price is the price the order was placed
// at; the unknown members the fact's expectations count are the generator's own tally.
// A second test sends the click stream through Kafka (`lakepipe produce` of the JSON
// lines, `examples/shop-kafka`) and gets the same Gold; a third the order lines through
// the order system's outbox in a real PostgreSQL (`lakepipe produce --from CSV --to
// postgresql://`, `examples/shop-postgres`), across restarts of the pipeline. A fourth
// runs `lakepipe demo --example shop`, which lands the sources a day at a time into a
// continuous run.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_test_util.h"
#include "common/fs.h"
#include "testing/pg_test_server.h"
#include "testing/testing.h"

namespace lakepipe {
namespace {

using Json = nlohmann::json;
using testing::TempDir;

constexpr int kDays = 5;

// `s` as one shell word, whatever quotes it holds.
std::string Sh(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The generator's tally, from the line `generate shop` prints.
struct Tally {
  int64_t order_lines = 0, bad = 0, test_lines = 0, unknown_customer = 0, unknown_product = 0;
};

Tally ParseTally(const std::string& out) {
  std::smatch m;
  Tally t;
  std::regex re("([0-9]+) order lines \\(([0-9]+) bad, ([0-9]+) of test accounts, ([0-9]+) unknown customer, "
                "([0-9]+) unknown product\\)");
  EXPECT_TRUE(std::regex_search(out, m, re)) << out;
  if (m.size() == 6) {
    t.order_lines = std::stoll(m[1]);
    t.bad = std::stoll(m[2]);
    t.test_lines = std::stoll(m[3]);
    t.unknown_customer = std::stoll(m[4]);
    t.unknown_product = std::stoll(m[5]);
  }
  return t;
}

// One row of a check as text, built in SQL: "column=value ..." over `columns` (NULL spelled
// out), so that both engines' rows compare as strings and one query per engine carries
// every check (DuckDB is a node process: each call costs seconds on a loaded machine).
std::string RowText(const std::vector<std::string>& columns, const char* text_type) {
  std::string s = "concat_ws(' '";
  for (const std::string& c : columns) {
    s += ", concat('" + c + "=', coalesce(CAST(" + c + " AS " + text_type + "), 'NULL'))";
  }
  return s + ")";
}

// The rows of a UNION ALL of checks, by check name, sorted.
std::map<std::string, std::vector<std::string>> ByCheck(const std::vector<Json>& rows) {
  std::map<std::string, std::vector<std::string>> out;
  for (const Json& r : rows) out[r["tbl"].get<std::string>()].push_back(r["row"].get<std::string>());
  for (auto& [name, v] : out) std::sort(v.begin(), v.end());
  return out;
}

// Equal row multisets, or a message with the first rows each side lacks.
::testing::AssertionResult SameRows(const std::string& what, const std::vector<std::string>& ours,
                                    const std::vector<std::string>& truth) {
  if (ours == truth) return ::testing::AssertionSuccess();
  std::vector<std::string> missing, extra;
  std::set_difference(truth.begin(), truth.end(), ours.begin(), ours.end(), std::back_inserter(missing));
  std::set_difference(ours.begin(), ours.end(), truth.begin(), truth.end(), std::back_inserter(extra));
  std::string msg = what + ": " + std::to_string(ours.size()) + " rows, DuckDB " + std::to_string(truth.size()) + "\n";
  for (size_t i = 0; i < missing.size() && i < 8; ++i) msg += "  missing: " + missing[i] + "\n";
  for (size_t i = 0; i < extra.size() && i < 8; ++i) msg += "  extra:   " + extra[i] + "\n";
  return ::testing::AssertionFailure() << msg;
}

// DuckDB over the raw files: the shared definitions (WITH ...), ending with a comma-free
// last CTE so callers append their SELECT.
std::string TruthCtes(const std::string& l) {
  const std::string same = [] {
    std::string s;
    for (const char* c : {"name", "email", "city", "state", "segment", "is_test"}) {
      s += std::string(" AND q.") + c + " IS NOT DISTINCT FROM s." + c;
    }
    return s;
  }();
  return "WITH "
         "typed AS (SELECT TRY_CAST(order_id AS BIGINT) AS order_id, TRY_CAST(line_no AS INT) AS line_no, "
         "  TRY_CAST(order_ts AS TIMESTAMP) AS order_ts, channel, TRY_CAST(store_id AS INT) AS store_id, "
         "  TRY_CAST(customer_id AS BIGINT) AS customer_id, session_id, campaign_id, "
         "  TRY_CAST(product_id AS BIGINT) AS product_id, TRY_CAST(quantity AS INT) AS quantity, "
         "  TRY_CAST(unit_price AS DECIMAL(10,2)) AS unit_price "
         "  FROM read_csv('" + l + "/orders/*.csv', header = true, all_varchar = true)), "
         "valid AS (SELECT * FROM typed WHERE order_id IS NOT NULL AND customer_id IS NOT NULL AND quantity > 0 "
         "  AND unit_price > 0 AND product_id IS NOT NULL), "
         "crm AS (SELECT * FROM read_parquet('" + l + "/crm/customers/*.parquet')), "
         "tests AS (SELECT customer_id FROM crm GROUP BY customer_id HAVING bool_or(is_test)), "
         "sales AS (SELECT *, quantity * unit_price AS line_total FROM valid "
         "  WHERE customer_id NOT IN (SELECT customer_id FROM tests)), "
         "ex AS (SELECT DISTINCT extract_date AS d FROM crm), "
         "exn AS (SELECT d, lag(d) OVER (ORDER BY d) AS prev FROM ex), "
         "starts AS (SELECT s.* FROM crm AS s JOIN exn ON exn.d = s.extract_date WHERE NOT EXISTS ("
         "  SELECT 1 FROM crm AS q WHERE q.customer_id = s.customer_id AND q.extract_date = exn.prev" + same + ")), "
         "cversions AS (SELECT s.*, (SELECT min(e.d) FROM ex AS e WHERE e.d > s.extract_date AND NOT EXISTS ("
         "  SELECT 1 FROM crm AS q WHERE q.customer_id = s.customer_id AND q.extract_date = e.d" + same + ")) AS ends "
         "  FROM starts AS s), "
         "dimc AS (SELECT customer_id * 100000 + date_diff('day', DATE '2000-01-01', extract_date) AS customer_sk, "
         "  customer_id, name, email, city, state, segment, signup_date, is_test, "
         "  CAST(extract_date AS TIMESTAMP) AS valid_from, CAST(ends AS TIMESTAMP) AS valid_to, "
         "  ends IS NULL AS is_current FROM cversions), "
         "pc AS (SELECT CAST(product_id AS BIGINT) AS product_id, sku, product_name, category, brand, "
         "  CAST(unit_price AS DECIMAL(10,2)) AS unit_price, CAST(updated_at AS TIMESTAMP) AS updated_at "
         "  FROM read_csv('" + l + "/erp/products/*.csv', header = true, all_varchar = true)), "
         "dimp AS (SELECT product_id * 10000000000 + CAST(epoch(updated_at) AS BIGINT) AS product_sk, product_id, sku, "
         "  product_name, category, brand, unit_price AS list_price, updated_at AS valid_from, "
         "  lead(updated_at) OVER (PARTITION BY product_id ORDER BY updated_at) AS valid_to FROM pc), "
         "stores AS (SELECT CAST(store_id AS INT) AS store_id FROM read_csv('" + l +
         "/erp/stores/*.csv', header = true, all_varchar = true)), "
         "channels AS (SELECT CAST(channel_id AS INT) AS channel_id, channel_code, channel_name FROM read_csv('" + l +
         "/erp/channels/*.csv', header = true, all_varchar = true)), "
         "campaigns AS (SELECT campaign_id, campaign_name, marketing_channel FROM read_csv('" + l +
         "/marketing/campaigns/*.csv', header = true, all_varchar = true)), "
         "ev AS (SELECT DISTINCT event_id, CAST(replace(replace(event_ts, 'T', ' '), 'Z', '') AS TIMESTAMP) AS ts, "
         "  session_id, channel, event_type, utm_campaign AS campaign_id "
         "  FROM read_json('" + l + "/events/*.json', format = 'newline_delimited', ignore_errors = true, "
         "  columns = {event_id: 'VARCHAR', event_ts: 'VARCHAR', session_id: 'VARCHAR', customer_id: 'BIGINT', "
         "  channel: 'VARCHAR', event_type: 'VARCHAR', page: 'VARCHAR', product_id: 'BIGINT', quantity: 'INTEGER', "
         "  utm_campaign: 'VARCHAR'}) WHERE event_id IS NOT NULL), "
         "gaps AS (SELECT *, CASE WHEN lag(ts) OVER w IS NULL OR ts - lag(ts) OVER w >= INTERVAL 30 MINUTE "
         "  THEN 1 ELSE 0 END AS brk FROM ev WINDOW w AS (PARTITION BY session_id, channel, campaign_id ORDER BY ts)), "
         "islands AS (SELECT *, sum(brk) OVER (PARTITION BY session_id, channel, campaign_id ORDER BY ts "
         "  ROWS UNBOUNDED PRECEDING) AS sn FROM gaps), "
         "all_sessions AS (SELECT session_id, channel, campaign_id, sn, min(ts) AS session_start, "
         "  max(ts) + INTERVAL 30 MINUTE AS session_end, "
         "  count(*) FILTER (WHERE event_type = 'add_to_cart') AS cart_adds FROM islands GROUP BY ALL), "
         // The closed sessions: those whose end the watermark (the latest event time less
         // 10 minutes) has reached.
         "sess AS (SELECT * FROM all_sessions WHERE session_end <= (SELECT max(ts) FROM ev) - INTERVAL 10 MINUTE), "
         "fact AS (SELECT s.order_id, s.line_no, CAST(strftime(s.order_ts, '%Y%m%d') AS INT) AS date_key, "
         "  coalesce(c.customer_sk, -1) AS customer_sk, coalesce(p.product_sk, -1) AS product_sk, "
         "  CASE WHEN s.store_id IN (SELECT store_id FROM stores) THEN s.store_id ELSE -1 END AS store_sk, "
         "  coalesce(ch.channel_id, -1) AS channel_sk, s.order_ts, s.customer_id, s.product_id, s.campaign_id, "
         "  s.session_id, s.quantity, s.unit_price, s.line_total "
         "  FROM sales AS s "
         "  LEFT JOIN dimc AS c ON c.customer_id = s.customer_id AND s.order_ts >= c.valid_from "
         "   AND (c.valid_to IS NULL OR s.order_ts < c.valid_to) "
         "  LEFT JOIN dimp AS p ON p.product_id = s.product_id AND s.order_ts >= p.valid_from "
         "   AND (p.valid_to IS NULL OR s.order_ts < p.valid_to) "
         "  LEFT JOIN channels AS ch ON ch.channel_code = s.channel), "
         "clicks_h AS (SELECT campaign_id, date_trunc('hour', session_start) AS hour, count(*) AS clicks, "
         "  count(*) FILTER (WHERE cart_adds > 0) AS carts FROM sess WHERE campaign_id IS NOT NULL GROUP BY ALL), "
         "orders_h AS (SELECT campaign_id, date_trunc('hour', order_ts) AS hour, count(DISTINCT order_id) AS orders, "
         "  sum(line_total) AS revenue FROM sales WHERE campaign_id IS NOT NULL GROUP BY ALL), "
         "hourly AS (SELECT coalesce(c.campaign_id, o.campaign_id) AS campaign_id, coalesce(c.hour, o.hour) AS hour, "
         "  coalesce(c.clicks, 0) AS clicks, coalesce(c.carts, 0) AS carts, coalesce(o.orders, 0) AS orders, "
         "  coalesce(o.revenue, 0) AS revenue FROM clicks_h AS c FULL JOIN orders_h AS o "
         "  ON o.campaign_id = c.campaign_id AND o.hour = c.hour), "
         "clicks_d AS (SELECT campaign_id, CAST(session_start AS DATE) AS date, count(*) AS clicks, "
         "  count(*) FILTER (WHERE cart_adds > 0) AS carts FROM sess WHERE campaign_id IS NOT NULL GROUP BY ALL), "
         "orders_d AS (SELECT campaign_id, CAST(order_ts AS DATE) AS date, count(DISTINCT order_id) AS orders, "
         "  sum(line_total) AS revenue FROM sales WHERE campaign_id IS NOT NULL GROUP BY ALL), "
         "daily AS (SELECT coalesce(c.campaign_id, o.campaign_id) AS campaign_id, coalesce(c.date, o.date) AS date, "
         "  coalesce(c.clicks, 0) AS clicks, coalesce(c.carts, 0) AS carts, coalesce(o.orders, 0) AS orders, "
         "  coalesce(o.revenue, 0) AS revenue FROM clicks_d AS c FULL JOIN orders_d AS o "
         "  ON o.campaign_id = c.campaign_id AND o.date = c.date), "
         "ranged AS (SELECT least((SELECT min(CAST(order_ts AS DATE)) FROM valid), (SELECT min(CAST(ts AS DATE)) FROM ev)) "
         "  AS lo, greatest((SELECT max(CAST(order_ts AS DATE)) FROM valid), (SELECT max(CAST(ts AS DATE)) FROM ev)) AS hi), "
         "days AS (SELECT CAST(unnest(generate_series(lo, hi, INTERVAL 1 DAY)) AS DATE) AS d FROM ranged) ";
}

// One table compared: our SELECT and DuckDB's, each projecting `columns` as text.
struct Check {
  std::string name;
  std::vector<std::string> columns;
  std::string ours_from;   // FROM ... of the pipeline's query
  std::string truth_from;  // FROM ... over the truth CTEs
};

std::vector<Check> Checks() {
  return {
      // SCD2 at order time: each fact row's customer key is the version with the attributes
      // of the extract taken at 00:00 of the order's day, and -1 exactly when that extract
      // lacks the customer.
      {"customer attributes at order time",
       {"order_id", "line_no", "city", "segment", "email"},
       "(SELECT f.order_id, f.line_no, coalesce(c.city, 'unknown') AS city, coalesce(c.segment, 'unknown') AS segment, "
       "coalesce(c.email, 'unknown') AS email FROM fact_sales AS f "
       "JOIN dim_customer AS c ON c.customer_sk = f.customer_sk) AS a",
       "(SELECT s.order_id, s.line_no, coalesce(x.city, 'unknown') AS city, coalesce(x.segment, 'unknown') AS segment, "
       "coalesce(x.email, 'unknown') AS email FROM sales AS s LEFT JOIN crm AS x ON x.customer_id = s.customer_id "
       "AND x.extract_date = CAST(s.order_ts AS DATE)) AS a"},
      {"dim_customer",
       {"customer_sk", "customer_id", "name", "email", "city", "state", "segment", "signup_date", "is_test",
        "valid_from", "valid_to", "is_current"},
       "dim_customer WHERE customer_sk <> -1",
       "dimc"},
      {"dim_product",
       {"product_sk", "product_id", "sku", "product_name", "category", "brand", "list_price", "valid_from",
        "valid_to"},
       "dim_product WHERE product_sk <> -1",
       "dimp"},
      {"dim_date",
       {"date_key", "date", "day_of_month", "week_of_year", "month", "month_name", "quarter", "year", "day_of_week",
        "weekday_name", "is_weekend", "is_holiday"},
       "dim_date",
       "(SELECT CAST(strftime(d, '%Y%m%d') AS INT) AS date_key, d AS date, day(d) AS day_of_month, "
       "weekofyear(d) AS week_of_year, month(d) AS month, monthname(d) AS month_name, quarter(d) AS quarter, "
       "year(d) AS year, dayofweek(d) + 1 AS day_of_week, dayname(d) AS weekday_name, "
       "dayofweek(d) IN (0, 6) AS is_weekend, strftime(d, '%m-%d') IN ('01-01', '04-21', '05-01', '09-07', "
       "'10-12', '11-02', '11-15', '11-20', '12-25') AS is_holiday FROM days) AS t"},
      {"fact_sales",
       {"order_id", "line_no", "date_key", "customer_sk", "product_sk", "store_sk", "channel_sk", "order_ts",
        "customer_id", "product_id", "campaign_id", "session_id", "quantity", "unit_price", "line_total"},
       "fact_sales",
       "fact"},
      {"gold_sales_by_channel_day",
       {"date", "channel", "channel_name", "revenue", "orders", "order_lines", "units"},
       "gold_sales_by_channel_day",
       "(SELECT CAST(s.order_ts AS DATE) AS date, s.channel, ch.channel_name, sum(s.line_total) AS revenue, "
       "count(DISTINCT s.order_id) AS orders, count(*) AS order_lines, sum(s.quantity) AS units FROM sales AS s "
       "JOIN channels AS ch ON ch.channel_code = s.channel GROUP BY ALL) AS t"},
      {"gold_campaign_hourly",
       {"campaign_id", "campaign_name", "marketing_channel", "hour", "clicks", "carts", "orders", "revenue"},
       "gold_campaign_hourly",
       "(SELECT h.*, k.campaign_name, k.marketing_channel FROM hourly AS h LEFT JOIN campaigns AS k "
       "USING (campaign_id)) AS t"},
      {"gold_campaign_daily",
       {"campaign_id", "campaign_name", "marketing_channel", "date", "clicks", "carts", "orders", "revenue",
        "conversion_bp"},
       "(SELECT *, CAST(round(conversion * 10000) AS BIGINT) AS conversion_bp FROM gold_campaign_daily) AS g",
       "(SELECT d.*, k.campaign_name, k.marketing_channel, "
       "CAST(round(round(d.orders / NULLIF(d.clicks, 0), 4) * 10000) AS BIGINT) AS conversion_bp "
       "FROM daily AS d LEFT JOIN campaigns AS k USING (campaign_id)) AS t"},
      {"gold_customers_new_returning",
       {"date", "new_customers", "returning_customers", "customers"},
       "gold_customers_new_returning",
       "(SELECT d.day AS date, count(*) FILTER (WHERE d.day = f.first_day) AS new_customers, "
       "count(*) FILTER (WHERE d.day > f.first_day) AS returning_customers, count(*) AS customers "
       "FROM (SELECT DISTINCT CAST(order_ts AS DATE) AS day, customer_id FROM sales) AS d "
       "JOIN (SELECT customer_id, min(CAST(order_ts AS DATE)) AS first_day FROM sales GROUP BY 1) AS f "
       "USING (customer_id) GROUP BY d.day) AS t"},
  };
}

class ShopExampleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    staging_ = dir_.Join("generated");
    landing_ = dir_.Join("landing");
    std::string out = Lakepipe("generate shop --days " + std::to_string(kDays) +
                               " --customers 150 --products 50 --store-orders-per-day 40 --sessions-per-day 150 "
                               "--seed 7 --out " + staging_);
    tally_ = ParseTally(out);
    for (const char* sub : {"erp/stores", "erp/channels", "erp/products", "crm/customers", "marketing/campaigns",
                            "orders", "events"}) {
      ASSERT_TRUE(fs_->CreateDirs(JoinPath(landing_, sub)).ok());
    }
  }

  // Lands the fixed files and the files of days [first, last] (1-based).
  void Land(int first, int last, bool events = true) {
    for (const char* sub : {"erp/stores", "erp/channels", "marketing/campaigns", "erp/products", "crm/customers",
                            "orders", "events"}) {
      if (!events && std::string(sub) == "events") continue;
      auto names = fs_->ListDir(JoinPath(staging_, sub));
      ASSERT_TRUE(names.ok());
      std::vector<std::string> all;
      for (const auto& e : *names) all.push_back(e.name);
      for (size_t i = 0; i < all.size(); ++i) {
        bool per_day = all.size() == static_cast<size_t>(kDays);
        if (per_day && (static_cast<int>(i) + 1 < first || static_cast<int>(i) + 1 > last)) continue;
        auto data = fs_->ReadFile(JoinPath(JoinPath(staging_, sub), all[i]));
        ASSERT_TRUE(data.ok());
        ASSERT_TRUE(fs_->WriteFileAtomic(JoinPath(JoinPath(landing_, sub), all[i]), *data).ok());
      }
    }
  }

  std::string Sets(const std::string& storage, const std::string& extra = "") {
    return " --set landing=" + landing_ + " --set storage=" + storage + extra;
  }

  std::vector<Json> Query(const std::string& pipeline, const std::string& sets, const std::string& sql) {
    return JsonLines(Lakepipe("query " + pipeline + sets + " --format jsonl " + Sh(sql)));
  }

  // Every Gold table and dimension against DuckDB over the landed files.
  void ExpectGoldEqualsDuckDb(const std::string& pipeline, const std::string& sets) {
    std::string ours_sql, truth_sql;
    for (const Check& c : Checks()) {
      ours_sql += (ours_sql.empty() ? "" : " UNION ALL ") + ("SELECT '" + c.name + "' AS tbl, " +
                                                               RowText(c.columns, "STRING") + " AS row FROM " + c.ours_from);
      truth_sql += (truth_sql.empty() ? "" : " UNION ALL ") + ("SELECT '" + c.name + "' AS tbl, " +
                                                                 RowText(c.columns, "VARCHAR") + " AS row FROM " + c.truth_from);
    }
    auto ours = ByCheck(Query(pipeline, sets, ours_sql));
    auto truth = ByCheck(testing::DuckDBRows(TruthCtes(landing_) + truth_sql));
    for (const Check& c : Checks()) {
      EXPECT_FALSE(truth[c.name].empty()) << c.name;
      EXPECT_TRUE(SameRows(c.name, ours[c.name], truth[c.name]));
    }
  }

  FileSystem* fs_ = FileSystem::Default();
  TempDir dir_;
  std::string staging_, landing_;
  Tally tally_;
};

TEST_F(ShopExampleTest, StarSchemaAndMetricsEqualDuckDbOverTheRawFiles) {
  const std::string pipeline = testing::SourceDir() + "/examples/shop";
  const std::string sets = Sets(dir_.Join("lake"));
  Lakepipe("validate " + pipeline + sets);
  Land(1, 3);
  Lakepipe("run " + pipeline + " --once" + sets);
  Land(4, kDays);
  Lakepipe("run " + pipeline + " --once" + sets);
  Lakepipe("run " + pipeline + " --once" + sets);  // nothing new: nothing doubled
  ExpectGoldEqualsDuckDb(pipeline, sets);

  // Silver: every line of the order files is in silver_order_lines or its quarantine; the
  // test accounts' good lines are gone from silver_sales. A known product's version has
  // the price the order was placed at. The unknown members are the generator's tallies.
  std::map<std::string, int64_t> n;
  for (const Json& r : Query(pipeline, sets,
                             "SELECT 'good' AS k, count(*) AS n FROM silver_order_lines "
                             "UNION ALL SELECT 'quarantined', count(*) FROM silver_order_lines_quarantine "
                             "UNION ALL SELECT 'sales', count(*) FROM silver_sales "
                             "UNION ALL SELECT 'known_product_lines', count(*) FROM fact_sales AS f "
                             "  JOIN dim_product AS p ON p.product_sk = f.product_sk WHERE f.product_sk <> -1 "
                             "UNION ALL SELECT 'price_not_at_order_time', count_if(p.list_price <> f.unit_price) "
                             "  FROM fact_sales AS f JOIN dim_product AS p ON p.product_sk = f.product_sk "
                             "UNION ALL SELECT 'unknown_customer', count_if(customer_sk = -1) FROM fact_sales "
                             "UNION ALL SELECT 'unknown_product', count_if(product_sk = -1) FROM fact_sales")) {
    n[r["k"].get<std::string>()] = r["n"].get<int64_t>();
  }
  EXPECT_EQ(n["good"] + n["quarantined"], tally_.order_lines);
  EXPECT_EQ(n["quarantined"], tally_.bad);
  EXPECT_EQ(n["good"] - n["sales"], tally_.test_lines);
  EXPECT_GT(n["known_product_lines"], 0);
  EXPECT_EQ(n["price_not_at_order_time"], 0);
  EXPECT_EQ(n["unknown_customer"], tally_.unknown_customer);
  EXPECT_EQ(n["unknown_product"], tally_.unknown_product);
  EXPECT_GT(tally_.unknown_customer, 0);
  // ... and counted by fact_sales' expectations in the event log (its last update that
  // wrote, a complete recompute, checked every row).
  auto log = Query(pipeline, sets,
                   "SELECT details FROM _event_log WHERE table_name = 'fact_sales' AND event_type = 'flow_progress' "
                   "AND get_json_object(details, '$.status') = 'updated' ORDER BY timestamp DESC LIMIT 1");
  ASSERT_EQ(log.size(), 1u);
  std::map<std::string, int64_t> failed;
  const Json details = Json::parse(log[0]["details"].get<std::string>());
  for (const Json& e : details["expectations"]) {
    failed[e["name"].get<std::string>()] = e["failed"].get<int64_t>();
  }
  EXPECT_EQ(failed["known_customer"], tally_.unknown_customer) << log[0].dump();
  EXPECT_EQ(failed["known_product"], tally_.unknown_product);
  EXPECT_EQ(failed.count("known_store") ? failed["known_store"] : -1, 0);
}

// The click stream through Kafka: every events file produced to a one-partition topic as
// JSON lines, the rest landed as files; examples/shop-kafka's Gold equals DuckDB's.
TEST_F(ShopExampleTest, ClickStreamFromKafkaGivesTheSameGold) {
  LakepipeProcess broker({"kafka", "serve", "--partitions", "1", "--topics", "shop-events"});
  std::string line = broker.ReadUntil("\n");
  ASSERT_EQ(line.rfind("bootstrap.servers=127.0.0.1:", 0), 0u) << line;
  std::string servers = line.substr(std::string("bootstrap.servers=").size());
  servers = servers.substr(0, servers.find_first_of("\r\n"));
  Land(1, kDays, /*events=*/false);
  auto names = fs_->ListDir(JoinPath(staging_, "events"));
  ASSERT_TRUE(names.ok());
  for (const auto& e : *names) {
    Lakepipe("produce --from " + JoinPath(JoinPath(staging_, "events"), e.name) + " --to kafka://" + servers +
             "/shop-events --rate 1000000 --lines-per-file 100000 --key session_id");
  }
  // DuckDB reads the events from the landing folder: put them there for the truth only.
  Land(1, kDays);
  const std::string pipeline = testing::SourceDir() + "/examples/shop-kafka";
  const std::string sets = Sets(dir_.Join("lake-kafka"), " --set kafka=" + servers);
  Lakepipe("run " + pipeline + " --once" + sets);
  auto bronze = Query(pipeline, sets,
                      "SELECT count(*) AS n, count_if(_rescued_data IS NOT NULL) AS rescued FROM bronze_events");
  ASSERT_EQ(bronze.size(), 1u);
  auto lines = testing::RunCommand("cat " + JoinPath(staging_, "events") + "/*.json | wc -l");
  ASSERT_TRUE(lines.ok());
  EXPECT_EQ(bronze[0]["n"].get<int64_t>(), std::stoll(*lines)) << "one row per message";
  EXPECT_GT(bronze[0]["rescued"].get<int64_t>(), 0) << "the malformed lines keep their text";
  ExpectGoldEqualsDuckDb(pipeline, sets);
  EXPECT_EQ(broker.StopWith(SIGTERM), 0);
}

// The order lines through the order system's PostgreSQL outbox: each day's order file
// written into shop.outbox by `lakepipe produce` (an order's lines in one transaction), the
// other sources landed as files. examples/shop-postgres runs after days 1-3 (read from the
// outbox's snapshot), again after days 4-5 (streamed from the slot) and once more with
// nothing new, each run its own process: Bronze has every line exactly once, the flawed
// ones rescued as a file read rescues them, and the Gold equals DuckDB's over the files,
// the same truth examples/shop's Gold equals.
TEST_F(ShopExampleTest, OrdersFromThePostgresOutboxGiveTheSameGold) {
  auto pg = testing::PgTestServer::Start({.logical_replication = true});
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  ASSERT_TRUE((*pg)->CreateDatabase("shopdb").ok());
  const std::string uri = "postgresql://postgres@127.0.0.1:" + std::to_string((*pg)->port()) + "/shopdb";
  auto listed = fs_->ListDir(JoinPath(staging_, "orders"));
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> files;
  for (const auto& e : *listed) files.push_back(JoinPath(JoinPath(staging_, "orders"), e.name));
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), static_cast<size_t>(kDays));
  // 7 lines per round trip: orders of 1-4 lines straddle the groups, and must still commit
  // once each.
  auto load = [&](int first, int last) {
    for (int d = first; d <= last; ++d) {
      Lakepipe("produce --from " + files[static_cast<size_t>(d - 1)] + " --to " + uri +
               " --rate 1000000 --lines-per-file 7 --key order_id --aggregate-type order --event-type OrderLinePlaced");
    }
  };
  const std::string pipeline = testing::SourceDir() + "/examples/shop-postgres";
  const std::string sets = Sets(dir_.Join("lake-pg"), " --set postgres_dsn=" + uri);
  Land(1, 3);  // the orders too: DuckDB's truth reads them; the pipeline reads the outbox
  load(1, 3);
  Lakepipe("validate " + pipeline + sets);  // resolves the outbox's columns in PostgreSQL
  Lakepipe("run " + pipeline + " --once --no-server" + sets);
  Land(4, kDays);
  load(4, kDays);
  Lakepipe("run " + pipeline + " --once --no-server" + sets);
  Lakepipe("run " + pipeline + " --once --no-server" + sets);  // nothing new: nothing doubled

  // One transaction per order, whatever the groups.
  auto txns = (*pg)->Psql("SELECT count(DISTINCT xmin::text) || ' ' || count(DISTINCT aggregate_id) || ' ' || "
                          "count(*) FROM shop.outbox", "shopdb");
  ASSERT_TRUE(txns.ok()) << txns.status().ToString();
  std::istringstream in(*txns);
  int64_t xacts = 0, orders = 0, rows = 0;
  in >> xacts >> orders >> rows;
  EXPECT_EQ(xacts, orders) << *txns;
  EXPECT_EQ(rows, tally_.order_lines);

  // Bronze: every line once, both from the snapshot (_lsn 0) and from the stream; the
  // lines with a value that does not fit its type rescued, as many as DuckDB finds in the
  // files.
  auto bronze = Query(pipeline, sets,
                      "SELECT count(*) AS n, count(DISTINCT source_file) AS outbox_rows, "
                      "count(DISTINCT concat(CAST(order_id AS STRING), '/', CAST(line_no AS STRING))) AS keys, "
                      "count_if(_lsn = 0) AS snapshot, count_if(_lsn > 0) AS streamed, "
                      "count_if(_rescued_data IS NOT NULL) AS rescued FROM bronze_orders");
  ASSERT_EQ(bronze.size(), 1u);
  auto unfit = testing::DuckDBRows(
      "SELECT CAST(count(*) AS INTEGER) AS n FROM read_csv('" + landing_ + "/orders/*.csv', header = true, all_varchar = true) "
      "WHERE (quantity <> '' AND TRY_CAST(quantity AS INT) IS NULL) "
      "OR (unit_price <> '' AND TRY_CAST(unit_price AS DECIMAL(10,2)) IS NULL)");
  ASSERT_EQ(unfit.size(), 1u);
  EXPECT_EQ(bronze[0]["n"].get<int64_t>(), tally_.order_lines) << bronze[0].dump();
  EXPECT_EQ(bronze[0]["outbox_rows"].get<int64_t>(), tally_.order_lines);
  EXPECT_EQ(bronze[0]["keys"].get<int64_t>(), tally_.order_lines);
  EXPECT_GT(bronze[0]["snapshot"].get<int64_t>(), 0);
  EXPECT_GT(bronze[0]["streamed"].get<int64_t>(), 0);
  EXPECT_EQ(bronze[0]["rescued"].get<int64_t>(), unfit[0]["n"].get<int64_t>());
  EXPECT_GT(bronze[0]["rescued"].get<int64_t>(), 0);
  auto quarantined = Query(pipeline, sets, "SELECT count(*) AS n FROM silver_order_lines_quarantine");
  ASSERT_EQ(quarantined.size(), 1u);
  EXPECT_EQ(quarantined[0]["n"].get<int64_t>(), tally_.bad);
  ExpectGoldEqualsDuckDb(pipeline, sets);
}

// `lakepipe demo --example shop`: the days land one after another into the continuous run,
// Gold gets every day, SIGINT stops it cleanly.
TEST(ShopDemoTest, LandsTheSourcesADayAtATime) {
  TempDir dir;
  const std::string log = dir.Join("demo.log"), folder = dir.Join("demo");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string cmd = "exec " + Binary() + " demo --example shop --dir " + folder +
                      " --port 0 --days 2 --batch-seconds 0.3 > " + log + " 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const std::string query = "query " + testing::SourceDir() + "/examples/shop --set storage=" + folder +
                            "/shop-storage --set landing=" + folder + "/shop-landing --format jsonl " +
                            Sh("SELECT count(DISTINCT date) AS days, count(*) AS n FROM gold_sales_by_channel_day");
  int64_t days = 0;
  for (int i = 0; i < 600 && days < 2; ++i) {
    auto r = testing::RunCommand(Binary() + " " + query + " 2>/dev/null");
    if (r.ok()) {
      auto rows = JsonLines(*r);
      if (rows.size() == 1 && rows[0].contains("days")) days = rows[0]["days"].get<int64_t>();
    }
    if (days < 2) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(days, 2) << "both days reached Gold";
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  auto text = FileSystem::Default()->ReadFile(log);
  ASSERT_TRUE(text.ok());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << *text;
  EXPECT_THAT(*text, ::testing::HasSubstr("seed 004's shop, 2 days of sources"));
  EXPECT_THAT(*text, ::testing::HasSubstr("all 2 days have landed"));
  EXPECT_THAT(*text, ::testing::HasSubstr("dashboard and API at http://127.0.0.1:"));
  EXPECT_THAT(*text, ::testing::HasSubstr("demo: stopped"));
}

}  // namespace
}  // namespace lakepipe
