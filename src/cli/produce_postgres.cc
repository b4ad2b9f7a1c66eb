// `lakepipe produce --to postgresql://...`: the orders application of seed 001 writing to
// PostgreSQL (docs/postgres-cdc.md, "The orders application"). It creates the documented
// schema `shop` if absent (customers, products, orders, order_lines, outbox; every table
// REPLICA IDENTITY FULL), seeds the dimensions, then writes orders at a steady rate:
// each order, its lines and its outbox event in one transaction (one round trip), and
// now and then a customer or product update, a customer deleted or a new one added, so
// the dimensions have history.
//
// Deterministic for a given --seed (ids and values; times are the wall clock). Pacing as
// the file producer: order N is due at start + N / rate; SIGINT/SIGTERM stop after the
// current transaction.
#include "cli/produce_postgres.h"

#include <signal.h>
#include <time.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <random>

#include "common/clock.h"
#include "common/pg_connection.h"

namespace lakepipe::cli {
namespace {

std::atomic<int> g_pg_stop{0};
extern "C" void OnPgStop(int sig) { g_pg_stop.store(sig); }

const char* kSchemaSql = R"sql(
CREATE SCHEMA IF NOT EXISTS shop;
CREATE TABLE IF NOT EXISTS shop.customers (
  customer_id bigint PRIMARY KEY, name text NOT NULL, email text, country text NOT NULL,
  is_test boolean NOT NULL DEFAULT false, updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS shop.products (
  product_id bigint PRIMARY KEY, name text NOT NULL, category text NOT NULL,
  price numeric(10,2) NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS shop.orders (
  order_id bigint PRIMARY KEY, customer_id bigint NOT NULL, order_ts timestamptz NOT NULL,
  status text NOT NULL);
CREATE TABLE IF NOT EXISTS shop.order_lines (
  order_id bigint NOT NULL, line_no int NOT NULL, product_id bigint NOT NULL, quantity int NOT NULL,
  unit_price numeric(10,2) NOT NULL, PRIMARY KEY (order_id, line_no));
CREATE TABLE IF NOT EXISTS shop.outbox (
  id bigserial PRIMARY KEY, aggregate_type text NOT NULL, aggregate_id text NOT NULL,
  event_type text NOT NULL, payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE shop.customers REPLICA IDENTITY FULL;
ALTER TABLE shop.products REPLICA IDENTITY FULL;
ALTER TABLE shop.orders REPLICA IDENTITY FULL;
ALTER TABLE shop.order_lines REPLICA IDENTITY FULL;
ALTER TABLE shop.outbox REPLICA IDENTITY FULL;
)sql";

const char* kCountries[] = {"United Kingdom", "France", "Germany", "Netherlands", "Spain", "Norway", "Japan", "USA"};
const char* kCategories[] = {"home", "garden", "kitchen", "toys", "stationery", "lighting"};
const char* kWords[] = {"red", "vintage", "glass", "heart", "lantern", "mug", "candle", "bag", "box", "set"};

class Shop {
 public:
  Shop(uint64_t seed, int64_t customers, int64_t products)
      : rng_(seed), customers_(customers), products_(products), next_customer_(customers + 1) {}

  std::string SeedDimensions() {
    std::string sql = "BEGIN;";
    for (int64_t c = 1; c <= customers_; ++c) sql += CustomerInsert(c);
    for (int64_t p = 1; p <= products_; ++p) {
      sql += "INSERT INTO shop.products (product_id, name, category, price) VALUES (" + std::to_string(p) + ", '" +
             Word() + " " + Word() + "', '" + kCategories[Pick(6)] + "', " + Price() + ") ON CONFLICT DO NOTHING;";
    }
    return sql + "COMMIT;";
  }

  // One order with its lines and outbox event, as one transaction.
  std::string Order(int64_t order_id) {
    int64_t customer = 1 + static_cast<int64_t>(Pick(static_cast<uint64_t>(next_customer_ - 1)));
    int lines = 1 + static_cast<int>(Pick(4));
    std::string id = std::to_string(order_id);
    std::string sql = "BEGIN;INSERT INTO shop.orders VALUES (" + id + ", " + std::to_string(customer) +
                      ", now(), 'placed');";
    std::string json_lines;
    for (int l = 1; l <= lines; ++l) {
      int64_t product = 1 + static_cast<int64_t>(Pick(static_cast<uint64_t>(products_)));
      int quantity = 1 + static_cast<int>(Pick(12));
      std::string price = Price();
      sql += "INSERT INTO shop.order_lines VALUES (" + id + ", " + std::to_string(l) + ", " + std::to_string(product) +
             ", " + std::to_string(quantity) + ", " + price + ");";
      json_lines += std::string(l > 1 ? "," : "") + "{\"line_no\":" + std::to_string(l) +
                    ",\"product_id\":" + std::to_string(product) + ",\"quantity\":" + std::to_string(quantity) +
                    ",\"unit_price\":" + price + "}";
    }
    sql += "INSERT INTO shop.outbox (aggregate_type, aggregate_id, event_type, payload) VALUES ('order', '" + id +
           "', 'OrderPlaced', jsonb_build_object('order_id', " + id + ", 'customer_id', " + std::to_string(customer) +
           ", 'order_ts', now(), 'lines', '[" + json_lines + "]'::jsonb));COMMIT;";
    return sql;
  }

  // A dimension change: customer or product updates mostly, sometimes a customer leaves
  // or joins.
  std::string DimensionChange() {
    uint64_t kind = Pick(10);
    if (kind < 4) {
      return "UPDATE shop.customers SET email = 'c" + std::to_string(Pick(1000000)) + "@example.com', country = '" +
             kCountries[Pick(8)] + "', updated_at = now() WHERE customer_id = " + std::to_string(1 + Pick(next_customer_ - 1)) + ";";
    }
    if (kind < 8) {
      return "UPDATE shop.products SET price = " + Price() + ", updated_at = now() WHERE product_id = " +
             std::to_string(1 + Pick(static_cast<uint64_t>(products_))) + ";";
    }
    if (kind == 8) {
      return "DELETE FROM shop.customers WHERE customer_id = " + std::to_string(1 + Pick(next_customer_ - 1)) + ";";
    }
    return CustomerInsert(next_customer_++);
  }

 private:
  uint64_t Pick(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  std::string Word() { return kWords[Pick(10)]; }
  std::string Price() {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", 0.5 + static_cast<double>(Pick(5000)) / 100.0);
    return buf;
  }
  std::string CustomerInsert(int64_t c) {
    std::string id = std::to_string(c);
    // About one customer in 50 is a test account (Silver "business" removes them).
    return "INSERT INTO shop.customers (customer_id, name, email, country, is_test) VALUES (" + id + ", 'customer " +
           id + "', 'c" + id + "@example.com', '" + kCountries[Pick(8)] + "', " + (Pick(50) == 0 ? "true" : "false") +
           ") ON CONFLICT DO NOTHING;";
  }

  std::mt19937_64 rng_;
  int64_t customers_;
  int64_t products_;
  int64_t next_customer_;
};

void SleepUntilDue(int64_t deadline) {
  while (g_pg_stop.load() == 0) {
    int64_t now = MonotonicNanos();
    if (now >= deadline) return;
    int64_t wait = std::min<int64_t>(deadline - now, 200'000'000);
    struct timespec ts = {static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    nanosleep(&ts, nullptr);
  }
}

}  // namespace

bool IsPostgresTarget(const std::string& to) {
  return to.rfind("postgresql://", 0) == 0 || to.rfind("postgres://", 0) == 0;
}

Status RunProducePostgres(const ProducePostgresArgs& a) {
  if (!(a.rate > 0) || !std::isfinite(a.rate))
    return Status::InvalidArgument("produce: --rate must be a number of orders per second > 0");
  if (a.limit < 0) return Status::InvalidArgument("produce: --limit must be >= 0 (0: no limit)");
  if (a.customers < 1 || a.products < 1)
    return Status::InvalidArgument("produce: --customers and --products must be >= 1");
  LP_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(a.dsn));
  LP_RETURN_IF_ERROR(conn->Exec(kSchemaSql));
  Shop shop(a.seed, a.customers, a.products);
  LP_RETURN_IF_ERROR(conn->Exec(shop.SeedDimensions()));
  // Continue after the orders already there (a second run adds to the first).
  LP_ASSIGN_OR_RETURN(auto max, conn->Query("SELECT coalesce(max(order_id), 0) FROM shop.orders"));
  int64_t first = std::stoll(*max[0][0]) + 1;

  struct sigaction sa = {};
  sa.sa_handler = OnPgStop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const int64_t start = MonotonicNanos();
  int64_t orders = 0, changes = 0, last_print = start;
  auto due = [&](int64_t n) { return start + static_cast<int64_t>(static_cast<double>(n) / a.rate * 1e9); };
  while (g_pg_stop.load() == 0 && (a.limit == 0 || orders < a.limit)) {
    SleepUntilDue(due(orders + 1));
    if (g_pg_stop.load() != 0) break;
    // Every order already due goes in one round trip (up to 64), each still its own
    // transaction: the rate holds beyond one commit per network round trip.
    std::string sql;
    const int64_t woke = MonotonicNanos();
    for (int k = 0; k < 64 && (a.limit == 0 || orders < a.limit) && (k == 0 || due(orders + 1) <= woke); ++k) {
      sql += shop.Order(first + orders);
      ++orders;
      if (a.dimension_every > 0 && orders % a.dimension_every == 0) {
        sql += shop.DimensionChange();
        ++changes;
      }
    }
    LP_RETURN_IF_ERROR(conn->Exec(sql));
    int64_t now = MonotonicNanos();
    if (now - last_print > 5'000'000'000) {
      last_print = now;
      std::printf("produced %lld orders, %lld dimension changes, %.0f orders/s\n", static_cast<long long>(orders),
                  static_cast<long long>(changes), static_cast<double>(orders) / (static_cast<double>(now - start) / 1e9));
      std::fflush(stdout);
    }
  }
  double secs = static_cast<double>(MonotonicNanos() - start) / 1e9;
  std::printf("produced %lld orders (ids %lld..%lld), %lld dimension changes, %.0f orders/s\n",
              static_cast<long long>(orders), static_cast<long long>(first), static_cast<long long>(first + orders - 1),
              static_cast<long long>(changes), secs > 0 ? static_cast<double>(orders) / secs : 0.0);
  std::fflush(stdout);
  return Status::OK();
}

}  // namespace lakepipe::cli
