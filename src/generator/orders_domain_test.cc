// Tests of the orders generator: determinism, row counts, the stated rates on 200k rows
// (measured by an independent CSV parse here and by DuckDB's read_csv), and CSV quoting.
#include "generator/orders_domain.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "common/fs.h"
#include "generator/domain.h"
#include "testing/testing.h"

namespace lakepipe::generator {
namespace {

// A small RFC 4180 parser written for the test: splits `text` into records of fields.
// Quoted fields may hold commas and doubled quotes; this data has no newlines inside fields.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text,
                                               std::vector<std::string>* raw_lines = nullptr) {
  std::vector<std::vector<std::string>> rows;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    if (raw_lines) raw_lines->push_back(line);
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
      char c = line[i];
      if (quoted) {
        if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
          field += '"';
          ++i;
        } else if (c == '"') {
          quoted = false;
        } else {
          field += c;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        fields.push_back(field);
        field.clear();
      } else {
        field += c;
      }
    }
    fields.push_back(field);
    rows.push_back(std::move(fields));
    pos = eol + 1;
  }
  return rows;
}

bool IsPrice(const std::string& s) {
  static const std::regex re(R"(\d+\.\d\d)");
  return std::regex_match(s, re);
}
bool IsQuantity(const std::string& s) {
  static const std::regex re(R"(-?\d+)");
  return std::regex_match(s, re);
}

// Counts measured from the text, independently of the generator's own bookkeeping.
struct Measured {
  int64_t lines = 0;
  int64_t malformed = 0;
  int64_t uk = 0;
  int64_t cancellations = 0;
  int64_t missing_customer = 0;
  int64_t adjacent_duplicates = 0;
  int64_t exact_duplicates = 0;  // lines minus distinct lines
  std::set<std::string> countries, products, customers, transactions;
};

class OrdersTest : public ::testing::Test {
 protected:
  static constexpr int64_t kRows = 200000;
  static void SetUpTestSuite() {
    text_ = new std::string(GenerateToString(OrdersDomain(), 42, kRows, &stats_));
  }
  static void TearDownTestSuite() { delete text_; }
  static std::string* text_;
  static GenerateStats stats_;
};
std::string* OrdersTest::text_ = nullptr;
GenerateStats OrdersTest::stats_;

TEST(OrdersDomain, SameSeedSameBytesOtherSeedOtherBytes) {
  OrdersDomain d;
  std::string a = GenerateToString(d, 7, 20000);
  std::string b = GenerateToString(d, 7, 20000);
  std::string c = GenerateToString(d, 8, 20000);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // A second domain object builds the same catalog.
  EXPECT_EQ(a, GenerateToString(OrdersDomain(), 7, 20000));
}

TEST(OrdersDomain, ChunkSizeDoesNotChangeTheOutput) {
  OrdersDomain d;
  const int64_t rows = 30000;
  std::string whole = GenerateToString(d, 3, rows);
  // One row per call exercises the path where a duplicate line is carried to the next call.
  auto gen = d.NewGenerator(3, rows);
  std::string piecewise = std::string(d.header()) + "\n";
  int64_t total = 0;
  while (int64_t n = gen->AppendRows(1, &piecewise)) {
    EXPECT_EQ(n, 1);
    total += n;
  }
  EXPECT_EQ(total, rows);
  EXPECT_EQ(whole, piecewise);
}

TEST(OrdersDomain, RowCountIsExact) {
  OrdersDomain d;
  for (int64_t rows : {0, 1, 2, 13, 1000, 54321}) {
    GenerateStats stats;
    std::string text = GenerateToString(d, 11, rows, &stats);
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), rows + 1) << rows;
    EXPECT_EQ(stats.rows, rows);
    EXPECT_EQ(stats.bytes, static_cast<int64_t>(text.size()));
    EXPECT_EQ(text.substr(0, text.find('\n')),
              "TransactionNo,Date,ProductNo,ProductName,Price,Quantity,CustomerNo,Country");
    EXPECT_EQ(text.back(), '\n');
  }
}

TEST(OrdersDomain, FileEqualsStringAndIsWrittenThroughTheFileSystem) {
  lakepipe::testing::TempDir dir;
  OrdersDomain d;
  GenerateStats stats;
  ASSERT_TRUE(GenerateToFile(FileSystem::Default(), d, 5, 100000, dir.Join("o.csv"), &stats).ok());
  auto content = FileSystem::Default()->ReadFile(dir.Join("o.csv"));
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, GenerateToString(d, 5, 100000));
  EXPECT_EQ(stats.bytes, static_cast<int64_t>(content->size()));

  // A failing file system reports the error instead of losing it.
  FaultInjectingFileSystem faulty(FileSystem::Default());
  faulty.FailAt(1, FaultInjectingFileSystem::Fault::kNoSpace);
  Status s = GenerateToFile(&faulty, d, 5, 1000, dir.Join("p.csv"));
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(faulty.fired());
  EXPECT_FALSE(GenerateToFile(FileSystem::Default(), d, 5, -1, dir.Join("q.csv")).ok());
}

TEST(OrdersDomain, CatalogSizes) {
  OrdersDomain d;
  EXPECT_EQ(d.products().size(), 3700u);
  EXPECT_EQ(d.customers().size(), 4700u);
  EXPECT_EQ(d.countries().size(), 38u);
  std::set<std::string> numbers, names;
  for (const auto& p : d.products()) {
    numbers.insert(p.no);
    names.insert(p.name);
  }
  EXPECT_EQ(numbers.size(), 3700u);
  EXPECT_EQ(names.size(), 3700u);
}

Measured Measure(const std::string& text, std::vector<std::vector<std::string>>* rows_out) {
  std::vector<std::string> raw;
  auto rows = ParseCsv(text, &raw);
  Measured m;
  std::set<std::string> distinct_lines;
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& f = rows[i];
    ++m.lines;
    distinct_lines.insert(raw[i]);
    if (raw[i] == raw[i - 1]) ++m.adjacent_duplicates;
    if (f.size() != 8 || !IsPrice(f[4]) || !IsQuantity(f[5])) {
      ++m.malformed;
      continue;
    }
    if (f[7] == "United Kingdom") ++m.uk;
    if (!f[0].empty() && f[0][0] == 'C') ++m.cancellations;
    if (f[6].empty()) ++m.missing_customer;
    m.countries.insert(f[7]);
    m.products.insert(f[2]);
    if (!f[6].empty()) m.customers.insert(f[6]);
    m.transactions.insert(f[0]);
  }
  m.exact_duplicates = m.lines - static_cast<int64_t>(distinct_lines.size());
  if (rows_out) *rows_out = std::move(rows);
  return m;
}

TEST_F(OrdersTest, StatedProportionsHold) {
  std::vector<std::vector<std::string>> rows;
  Measured m = Measure(*text_, &rows);
  const double n = static_cast<double>(kRows);
  EXPECT_EQ(m.lines, kRows);

  EXPECT_GT(m.uk / n, 0.85);
  EXPECT_LT(m.uk / n, 0.92);
  EXPECT_EQ(m.countries.size(), 38u);
  EXPECT_GE(m.products.size(), 3500u);
  EXPECT_LE(m.products.size(), 3700u);
  EXPECT_GE(m.customers.size(), 4300u);
  EXPECT_LE(m.customers.size(), 4700u);

  EXPECT_GT(m.cancellations / n, 0.008);
  EXPECT_LT(m.cancellations / n, 0.025);
  EXPECT_GT(m.missing_customer / n, 0.002);
  EXPECT_LT(m.missing_customer / n, 0.009);
  // Duplicates are exact copies of the line before; no other line repeats by accident.
  EXPECT_EQ(m.exact_duplicates, m.adjacent_duplicates);
  EXPECT_GT(m.exact_duplicates / n, 0.007);
  EXPECT_LT(m.exact_duplicates / n, 0.013);
  // ~0.02% malformed: 40 expected in 200k lines.
  EXPECT_GE(m.malformed, 15);
  EXPECT_LE(m.malformed, 80);

  // The generator's own counters agree with what the text shows.
  EXPECT_EQ(stats_.malformed_rows, m.malformed);
  EXPECT_EQ(stats_.duplicate_rows, m.adjacent_duplicates);
  EXPECT_EQ(stats_.rows, m.lines);
  // Several lines per transaction on average.
  EXPECT_GT(n / static_cast<double>(m.transactions.size()), 5.0);
}

TEST_F(OrdersTest, LinesAreWellFormedExceptTheDeliberateOnes) {
  std::vector<std::vector<std::string>> rows;
  Measure(*text_, &rows);
  static const std::regex txn_re(R"(C?\d{6})");
  static const std::regex date_re(R"((\d{1,2})/(\d{1,2})/(\d{4}))");
  static const std::regex product_re(R"(\d{5}[A-Z]?)");
  static const std::regex customer_re(R"(\d{5})");
  int64_t previous_day = -1;
  std::vector<double> prices;
  std::vector<int> quantities;
  std::string last_txn;
  std::vector<std::string> last_shared;
  std::set<std::string> finished_txns;
  int64_t malformed_kinds[4] = {0, 0, 0, 0};
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& f = rows[i];
    if (f.size() == 7) {
      ++malformed_kinds[3];
      continue;
    }
    ASSERT_EQ(f.size(), 8u) << "line " << i;
    if (f[4] == "N/A") { ++malformed_kinds[0]; continue; }
    if (f[4].find(',') != std::string::npos) { ++malformed_kinds[1]; continue; }
    if (f[5] == "ten") { ++malformed_kinds[2]; continue; }
    ASSERT_TRUE(IsPrice(f[4])) << "line " << i << ": " << f[4];
    ASSERT_TRUE(IsQuantity(f[5])) << "line " << i << ": " << f[5];
    ASSERT_TRUE(std::regex_match(f[0], txn_re)) << f[0];
    ASSERT_TRUE(std::regex_match(f[2], product_re)) << f[2];
    ASSERT_FALSE(f[3].empty());
    ASSERT_TRUE(f[6].empty() || std::regex_match(f[6], customer_re)) << f[6];
    std::smatch dm;
    ASSERT_TRUE(std::regex_match(f[1], dm, date_re)) << f[1];
    int month = std::stoi(dm[1]), day = std::stoi(dm[2]), year = std::stoi(dm[3]);
    ASSERT_TRUE((year == 2018 && month == 12) || year == 2019) << f[1];
    int64_t ordinal = year * 400 + month * 32 + day;
    ASSERT_GE(ordinal, previous_day) << "dates go back at line " << i;
    previous_day = ordinal;

    double price = std::stod(f[4]);
    int quantity = std::stoi(f[5]);
    ASSERT_GT(price, 0);
    if (f[0][0] == 'C') {
      ASSERT_LT(quantity, 0) << "cancellation with a positive quantity, line " << i;
    } else {
      ASSERT_GT(quantity, 0) << "line " << i;
    }
    prices.push_back(price);
    quantities.push_back(std::abs(quantity));

    // Lines of one transaction are consecutive and share Date, CustomerNo and Country.
    std::vector<std::string> shared = {f[1], f[6], f[7]};
    if (f[0] == last_txn) {
      ASSERT_EQ(shared, last_shared) << "line " << i;
    } else {
      ASSERT_TRUE(finished_txns.insert(f[0]).second) << "transaction split: " << f[0];
      last_txn = f[0];
      last_shared = shared;
    }
  }
  EXPECT_EQ(rows[1][1], "12/1/2018");
  EXPECT_EQ(rows.back()[1], "12/9/2019");
  for (int k = 0; k < 4; ++k) EXPECT_GT(malformed_kinds[k], 0) << "malformed kind " << k;

  // Skewed prices: the mean is above the median; quantities are mostly small.
  std::sort(prices.begin(), prices.end());
  std::sort(quantities.begin(), quantities.end());
  double mean = 0;
  for (double p : prices) mean += p;
  mean /= static_cast<double>(prices.size());
  double median = prices[prices.size() / 2];
  EXPECT_GT(mean, median * 1.1);
  EXPECT_GT(prices.back(), median * 8);
  EXPECT_LE(quantities[quantities.size() / 2], 6);
  EXPECT_GE(quantities.back(), 100);
}

TEST_F(OrdersTest, NamesWithCommasAndQuotesAreQuoted) {
  std::vector<std::string> raw;
  auto rows = ParseCsv(*text_, &raw);
  int64_t with_comma = 0, with_quote = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    if (rows[i].size() < 4) continue;
    const std::string& name = rows[i][3];
    bool comma = name.find(',') != std::string::npos;
    bool quote = name.find('"') != std::string::npos;
    with_comma += comma;
    with_quote += quote;
    if (!comma && !quote) continue;
    std::string doubled;
    for (char c : name) {
      if (c == '"') doubled += '"';
      doubled += c;
    }
    ASSERT_NE(raw[i].find(",\"" + doubled + "\","), std::string::npos) << raw[i];
  }
  EXPECT_GT(with_comma, 1000);  // ~3% of products
  EXPECT_GT(with_quote, 300);   // ~2% of products
}

int64_t JsonInt(const nlohmann::json& v) {
  if (v.is_string()) return std::stoll(v.get<std::string>());
  return v.get<int64_t>();
}

TEST_F(OrdersTest, DuckDBReadsTheSameCounts) {
  lakepipe::testing::TempDir dir;
  std::string path = dir.Join("orders.csv");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(path, *text_).ok());
  std::string src = "read_csv('" + path +
                    "', header=true, delim=',', quote='\"', escape='\"', all_varchar=true, "
                    "null_padding=true)";
  auto out = lakepipe::testing::RunDuckDB(
      "SELECT count(*) AS lines, "
      "count(*) FILTER (WHERE Country = 'United Kingdom' AND Price <> 'N/A' AND "
      "  Quantity <> 'ten' AND Price NOT LIKE '%,%') AS uk, "
      "count(*) FILTER (WHERE TransactionNo LIKE 'C%') AS cancel_lines, "
      "count(*) FILTER (WHERE CustomerNo IS NULL) AS no_customer, "
      "count(*) FILTER (WHERE Country IS NULL) AS missing_field, "
      "count(*) FILTER (WHERE try_cast(Price AS DOUBLE) IS NULL "
      "  OR try_cast(Quantity AS INTEGER) IS NULL OR Country IS NULL) AS malformed, "
      "count(DISTINCT ProductNo) AS products, count(DISTINCT CustomerNo) AS customers, "
      "count(DISTINCT Country) AS countries, "
      "count(*) - (SELECT count(*) FROM (SELECT DISTINCT * FROM " + src + ")) AS duplicates "
      "FROM " + src);
  if (!out.ok() && out.status().code() == StatusCode::kNotFound) {
    GTEST_SKIP() << out.status().message();
  }
  ASSERT_TRUE(out.ok()) << out.status().message();
  auto j = nlohmann::json::parse(out->substr(0, out->find('\n')));

  Measured m = Measure(*text_, nullptr);
  // Lines from our parse, recounted here the way the SQL counts them.
  std::vector<std::string> raw;
  auto rows = ParseCsv(*text_, &raw);
  int64_t cancel_all = 0, missing_customer_all = 0, missing_field = 0;
  std::set<std::string> products_all, customers_all, countries_all;
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& f = rows[i];
    if (f[0][0] == 'C') ++cancel_all;
    if (f[6].empty()) ++missing_customer_all;
    if (f.size() == 7) {
      ++missing_field;
    } else {
      countries_all.insert(f[7]);
    }
    products_all.insert(f[2]);
    if (!f[6].empty()) customers_all.insert(f[6]);
  }
  EXPECT_EQ(JsonInt(j["lines"]), m.lines);
  EXPECT_EQ(JsonInt(j["uk"]), m.uk);
  EXPECT_EQ(JsonInt(j["cancel_lines"]), cancel_all);
  EXPECT_EQ(JsonInt(j["no_customer"]), missing_customer_all);
  EXPECT_EQ(JsonInt(j["missing_field"]), missing_field);
  EXPECT_EQ(JsonInt(j["malformed"]), m.malformed);
  EXPECT_EQ(JsonInt(j["products"]), static_cast<int64_t>(products_all.size()));
  EXPECT_EQ(JsonInt(j["customers"]), static_cast<int64_t>(customers_all.size()));
  EXPECT_EQ(JsonInt(j["countries"]), static_cast<int64_t>(countries_all.size()));
  EXPECT_EQ(JsonInt(j["duplicates"]), m.exact_duplicates);
}

TEST(Domains, PlannedAndUnknownDomainsSaySo) {
  auto orders = MakeDomain("orders");
  ASSERT_TRUE(orders.ok());
  EXPECT_EQ((*orders)->name(), "orders");

  auto clicks = MakeDomain("clicks");
  ASSERT_FALSE(clicks.ok());
  EXPECT_EQ(clicks.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(clicks.status().message().find("not built yet"), std::string::npos);
  EXPECT_NE(clicks.status().message().find("available domains: orders, videos"), std::string::npos);
  // videos is built, as a folder of JSON files (generator/videos.h), not as CSV lines.
  auto videos = MakeDomain("videos");
  ASSERT_FALSE(videos.ok());
  EXPECT_NE(videos.status().message().find("GenerateVideos"), std::string::npos);

  auto unknown = MakeDomain("weather");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("orders"), std::string::npos);

  bool has_orders = false;
  for (const auto& d : KnownDomains()) has_orders |= (d.name == "orders" && d.built);
  EXPECT_TRUE(has_orders);
}

}  // namespace
}  // namespace lakepipe::generator
