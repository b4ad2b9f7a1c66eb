// Tests of the shop generator (seed 004): determinism, the file layout, and the documented
// properties checked independently — DuckDB reads the CRM Parquet extracts, the order CSV
// and the event JSON, and the test's own parse recounts every tally the generator reports.
#include "generator/shop_generator.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/fs.h"
#include "testing/testing.h"

namespace lakepipe::generator {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    out.push_back(text.substr(pos, eol - pos));
    pos = eol + 1;
  }
  return out;
}

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    size_t comma = line.find(',', pos);
    out.push_back(line.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    if (comma == std::string::npos) return out;
    pos = comma + 1;
  }
}

class ShopGeneratorTest : public ::testing::Test {
 protected:
  std::vector<std::string> Names(const std::string& dir) {
    std::vector<std::string> names;
    auto entries = fs_->ListDir(dir);
    EXPECT_TRUE(entries.ok()) << dir;
    if (entries.ok()) {
      for (const auto& e : *entries) names.push_back(e.name);
    }
    return names;
  }
  std::string Read(const std::string& path) {
    auto text = fs_->ReadFile(path);
    EXPECT_TRUE(text.ok()) << path;
    return text.ok() ? *text : "";
  }
  // Every file under `dir`, relative path -> bytes.
  std::map<std::string, std::string> Tree(const std::string& dir) {
    std::map<std::string, std::string> out;
    for (const char* sub : {"erp/stores", "erp/channels", "erp/products", "crm/customers", "marketing/campaigns",
                            "orders", "events"}) {
      for (const std::string& n : Names(JoinPath(dir, sub))) {
        out[std::string(sub) + "/" + n] = Read(JoinPath(JoinPath(dir, sub), n));
      }
    }
    return out;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
};

TEST_F(ShopGeneratorTest, SameOptionsSameBytesOtherSeedOtherBytes) {
  ShopOptions o;
  o.days = 3;
  ShopStats a_stats;
  ASSERT_TRUE(GenerateShop(fs_, o, dir_.Join("a"), &a_stats).ok());
  ASSERT_TRUE(GenerateShop(fs_, o, dir_.Join("b")).ok());
  o.seed = 2;
  ASSERT_TRUE(GenerateShop(fs_, o, dir_.Join("c")).ok());
  auto a = Tree(dir_.Join("a")), b = Tree(dir_.Join("b")), c = Tree(dir_.Join("c"));
  EXPECT_EQ(static_cast<int64_t>(a.size()), a_stats.files);
  EXPECT_EQ(a.size(), 3u + 3 * 4);  // stores, channels, campaigns, then per day: products, extract, orders, events
  EXPECT_TRUE(a.count("crm/customers/customers_2026-11-04.parquet")) << "files per day";
  EXPECT_TRUE(a.count("events/events_2026-11-02.json"));
  EXPECT_TRUE(a == b) << "same seed, different files";
  EXPECT_NE(a["orders/orders_2026-11-02.csv"], c["orders/orders_2026-11-02.csv"]);
  EXPECT_NE(a["events/events_2026-11-03.json"], c["events/events_2026-11-03.json"]);
  int64_t bytes = 0;
  for (const auto& [name, data] : a) bytes += static_cast<int64_t>(data.size());
  EXPECT_EQ(bytes, a_stats.bytes);
}

TEST_F(ShopGeneratorTest, BadOptionsAreRefused) {
  ShopOptions o;
  o.days = 0;
  Status st = GenerateShop(fs_, o, dir_.Join("x"));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("--days must be >= 1"), std::string::npos) << st.ToString();
  o.days = 2;
  o.start_date = "2026-13-01";
  st = GenerateShop(fs_, o, dir_.Join("x"));
  EXPECT_NE(st.message().find("--start 2026-13-01"), std::string::npos) << st.ToString();
}

// The orders and their tallies, recounted from the CSV and the CRM extracts.
TEST_F(ShopGeneratorTest, OrderTalliesMatchTheFilesAndTheExtracts) {
  ShopOptions o;
  o.days = 5;
  ShopStats s;
  const std::string out = dir_.Join("shop");
  ASSERT_TRUE(GenerateShop(fs_, o, out, &s).ok());

  // Customers per extract day and the test accounts, read by DuckDB from the Parquet.
  auto rows = testing::DuckDBRows("SELECT customer_id, extract_date::VARCHAR AS d, is_test FROM read_parquet('" + out +
                                  "/crm/customers/*.parquet')");
  std::map<std::string, std::set<int64_t>> present;  // day -> customers in its extract
  std::set<int64_t> tests, all;
  for (const auto& r : rows) {
    int64_t id = std::stoll(r["customer_id"].get<std::string>());
    present[r["d"].get<std::string>()].insert(id);
    all.insert(id);
    if (r["is_test"].get<bool>()) tests.insert(id);
  }
  ASSERT_EQ(present.size(), 5u);
  EXPECT_EQ(present["2026-11-02"].size(), 400u);
  EXPECT_EQ(static_cast<int64_t>(tests.size()), s.test_customers);
  EXPECT_GT(s.test_customers, 0);
  EXPECT_GT(s.customer_removals, 0);
  EXPECT_GT(s.customer_changes, 0);
  // Removals: customers of one extract missing from the next.
  int64_t removed = 0;
  for (auto it = present.begin(); std::next(it) != present.end(); ++it) {
    for (int64_t id : it->second) removed += std::next(it)->second.count(id) == 0;
  }
  EXPECT_EQ(removed, s.customer_removals);

  std::set<int64_t> products;
  for (const std::string& n : Names(JoinPath(out, "erp/products"))) {
    std::vector<std::string> lines = Lines(Read(JoinPath(JoinPath(out, "erp/products"), n)));
    for (size_t i = 1; i < lines.size(); ++i) products.insert(std::stoll(Fields(lines[i])[0]));
  }
  EXPECT_EQ(static_cast<int64_t>(products.size()), s.products);

  int64_t lines_seen = 0, bad = 0, test_lines = 0, unknown_customer = 0, unknown_product = 0, online = 0;
  std::set<std::string> orders;
  for (const std::string& n : Names(JoinPath(out, "orders"))) {
    const std::string day = n.substr(7, 10);  // orders_2026-11-02.csv
    std::vector<std::string> lines = Lines(Read(JoinPath(JoinPath(out, "orders"), n)));
    ASSERT_EQ(lines[0], "order_id,line_no,order_ts,channel,store_id,customer_id,session_id,campaign_id,product_id,"
                        "quantity,unit_price");
    for (size_t i = 1; i < lines.size(); ++i) {
      std::vector<std::string> f = Fields(lines[i]);
      ASSERT_EQ(f.size(), 11u) << lines[i];
      ++lines_seen;
      EXPECT_EQ(f[2].substr(0, 10), day) << "an order in the file of its day";
      if (orders.insert(f[0]).second && f[3] == "online") ++online;
      if (f[3] == "online") {
        EXPECT_EQ(f[4], "0");
        EXPECT_FALSE(f[6].empty()) << "online orders come from a session";
      } else {
        EXPECT_EQ(f[3], "store");
        EXPECT_NE(f[4], "0");
        EXPECT_TRUE(f[6].empty() && f[7].empty()) << lines[i];
      }
      const bool quantity_ok = f[9].find_first_not_of("0123456789") == std::string::npos && std::stoll(f[9]) > 0;
      const bool price_ok = f[10] != "N/A";
      if (!quantity_ok || !price_ok || f[5].empty()) {
        ++bad;
        continue;
      }
      int64_t customer = std::stoll(f[5]);
      if (tests.count(customer)) {
        ++test_lines;
        continue;
      }
      unknown_customer += present[day].count(customer) == 0;
      unknown_product += products.count(std::stoll(f[8])) == 0;
    }
  }
  EXPECT_EQ(lines_seen, s.order_lines);
  EXPECT_EQ(static_cast<int64_t>(orders.size()), s.orders);
  EXPECT_EQ(online, s.online_orders);
  EXPECT_EQ(bad, s.bad_order_lines);
  EXPECT_EQ(test_lines, s.test_customer_lines);
  EXPECT_EQ(unknown_customer, s.unknown_customer_lines);
  EXPECT_EQ(unknown_product, s.unknown_product_lines);
  EXPECT_GT(bad, 0);
  EXPECT_GT(test_lines, 0);
  EXPECT_GT(unknown_customer, 0);
  EXPECT_GT(online, 0);
}

TEST_F(ShopGeneratorTest, EventsAreJsonLinesWithSessionsCampaignsAndFlaws) {
  ShopOptions o;
  o.days = 3;
  ShopStats s;
  const std::string out = dir_.Join("shop");
  ASSERT_TRUE(GenerateShop(fs_, o, out, &s).ok());
  std::set<std::string> campaigns;
  for (const std::string& line : Lines(Read(JoinPath(out, "marketing/campaigns/campaigns.csv")))) {
    campaigns.insert(Fields(line)[0]);
  }
  int64_t lines = 0, malformed = 0, duplicates = 0, checkouts = 0;
  std::set<std::string> ids, sessions;
  std::map<std::string, int64_t> types;
  std::string previous;
  for (const std::string& n : Names(JoinPath(out, "events"))) {
    std::string last_ts;
    for (const std::string& line : Lines(Read(JoinPath(JoinPath(out, "events"), n)))) {
      ++lines;
      if (line == previous) {
        ++duplicates;
        continue;
      }
      previous = line;
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) {
        ++malformed;
        continue;
      }
      EXPECT_TRUE(ids.insert(j["event_id"].get<std::string>()).second) << "event ids are unique";
      sessions.insert(j["session_id"].get<std::string>());
      ++types[j["event_type"].get<std::string>()];
      const std::string ts = j["event_ts"].get<std::string>();
      EXPECT_LE(last_ts, ts) << "events of a file in time order";
      last_ts = ts;
      EXPECT_EQ(ts.substr(0, 10), n.substr(7, 10));
      EXPECT_TRUE(j["channel"] == "web" || j["channel"] == "app");
      if (!j["utm_campaign"].is_null()) { EXPECT_TRUE(campaigns.count(j["utm_campaign"].get<std::string>())); }
      if (j["event_type"] == "add_to_cart") { EXPECT_GT(j["quantity"].get<int>(), 0); }
      if (j["event_type"] == "checkout") ++checkouts;
    }
  }
  EXPECT_EQ(lines, s.events + s.duplicate_events);
  EXPECT_EQ(malformed, s.malformed_events);
  EXPECT_EQ(duplicates, s.duplicate_events);
  EXPECT_EQ(static_cast<int64_t>(ids.size()) + malformed, s.events);
  // Every online order is a checkout (whose line may be one of the malformed ones).
  EXPECT_LE(checkouts, s.online_orders);
  EXPECT_GE(checkouts + malformed, s.online_orders);
  EXPECT_GT(types["page_view"], 0);
  EXPECT_GT(types["product_click"], 0);
  EXPECT_GT(types["add_to_cart"], 0);
  EXPECT_LE(static_cast<int64_t>(sessions.size()), s.sessions);
  EXPECT_GT(malformed, 0);
  EXPECT_GT(duplicates, 0);
}

}  // namespace
}  // namespace lakepipe::generator
