// `lakepipe generate shop`: seed 004's e-commerce sources for examples/shop, as the files an
// ERP, a CRM, a marketing tool, the order system and the site's click stream would drop
// into a landing zone. The layout and every column are documented in docs/generate.md
// ("shop"); in short, under the output folder:
//
//   erp/stores/stores.csv                    stores (one online store, id 0, and physical ones)
//   erp/channels/channels.csv                the two sales channels (online, store)
//   erp/products/products_<day>.csv          product changes: the first file has every
//                                            product, later ones the day's new products and
//                                            price or category changes (updated_at)
//   crm/customers/customers_<day>.parquet    a full CRM extract taken at 00:00 of each day:
//                                            sign-ups, moves, segment changes and removals
//                                            of the day before show up in the next extract
//   marketing/campaigns/campaigns.csv        campaigns with their dates
//   orders/orders_<day>.csv                  order lines (online orders come from sessions
//                                            that reached checkout; store orders from stores)
//   events/events_<day>.json                 click, navigation and cart events, JSON lines
//
// The flaws a pipeline must handle, at documented rates: order lines with a quantity or
// price that is not a number, no customer, or a quantity of 0 or less; orders of CRM test
// accounts; customers who order on the day they sign up (not in the CRM extract yet) and
// lines of a product the ERP never exported (both have no dimension row at order time);
// event lines cut short (not JSON) and events delivered twice.
//
// Determinism: the same options give the same files byte for byte. Pure apart from the
// files it writes; thread-compatible. Call GenerateShop once per output folder.
#pragma once

#include <cstdint>
#include <string>

#include "common/fs.h"
#include "common/status.h"

namespace lakepipe::generator {

struct ShopOptions {
  uint64_t seed = 1;
  int days = 7;
  std::string start_date = "2026-11-02";  // the first day of orders and the first CRM extract
  int customers = 400;                    // customers in the first CRM extract
  int products = 120;                     // products in the first ERP file
  int stores = 6;                         // physical stores (plus the online store, id 0)
  int store_orders_per_day = 80;          // orders placed in the physical stores a day
  int sessions_per_day = 400;             // site/app sessions a day (some end in an online order)
};

struct ShopStats {
  int64_t files = 0;
  int64_t bytes = 0;
  int64_t customers = 0;            // distinct customers over all extracts
  int64_t test_customers = 0;       // of them, CRM test accounts (is_test)
  int64_t customer_changes = 0;     // moves and segment changes (each a new SCD2 version)
  int64_t customer_removals = 0;    // customers missing from the extracts from some day on
  int64_t products = 0;             // distinct products over all ERP files
  int64_t product_changes = 0;      // price or category changes after the first file
  int64_t campaigns = 0;
  int64_t orders = 0;               // online + store
  int64_t online_orders = 0;
  int64_t order_lines = 0;          // every line written, bad ones included
  int64_t bad_order_lines = 0;      // quantity/price not a number, no customer, quantity <= 0
  int64_t test_customer_lines = 0;  // good lines of test accounts
  int64_t unknown_customer_lines = 0;  // good lines whose customer is in no extract at order time
  int64_t unknown_product_lines = 0;   // good lines of a product the ERP never exported
  int64_t sessions = 0;
  int64_t events = 0;               // distinct events (first deliveries, malformed included)
  int64_t malformed_events = 0;     // lines cut short
  int64_t duplicate_events = 0;     // exact copies of the line before them
};

// Writes the files listed above under `out_dir` (folders created; files of the same names
// replaced, each atomically).
Status GenerateShop(FileSystem* fs, const ShopOptions& options, const std::string& out_dir,
                    ShopStats* stats = nullptr);

}  // namespace lakepipe::generator
