// OrdersDomain: synthetic order lines shaped like seed 000's "online shop business" dataset
// (Kaggle gabrielramos87/an-online-shop-business), for `lakepipe generate orders`.
//
// Columns: TransactionNo,Date,ProductNo,ProductName,Price,Quantity,CustomerNo,Country
//
// Shape and rates (expected values; the constants below are the source of truth):
//   - transactions of 1 + floor(Exp(mean 11)) lines (capped at 100; mean ~11.5) that share
//     TransactionNo (536365 upward, one per transaction; 7 digits past ~5.4M lines), Date,
//     CustomerNo and Country; the products of one transaction are distinct;
//   - 3,700 products: 5-digit ProductNo (10% with a letter suffix, "85123A"), Title Case
//     names; ~3% of names contain a comma and ~2% double quotes, CSV-quoted (RFC 4180);
//     popularity skewed (index = n * u^1.5); one fixed price per product, log-normal
//     (median 7.00, sigma 0.7, clamped to 0.19 .. 900.00), two decimals;
//   - 4,700 customers (5-digit CustomerNo from 12346), each living in one of 38 countries;
//     the country of a transaction is drawn with fixed weights, United Kingdom ~89% of lines;
//   - Quantity mostly small (1, 2, 12, 6, 4, ... from a fixed table; rarely up to 1000);
//   - 1.5% of transactions are cancellations: TransactionNo "C" + number, negative Quantity;
//   - 0.5% of transactions have no CustomerNo (empty field);
//   - after each well-formed line, an exact copy of it follows with probability 1%
//     (so ~0.99% of all lines are exact duplicates of the line before them);
//   - 0.02% of lines are malformed, each of one of four kinds drawn at random: Price "N/A",
//     Price with a decimal comma ("7,95", quoted), Quantity "ten", or the Country field
//     missing (7 fields). Malformed lines are never duplicated;
//   - Date as M/d/yyyy, advancing with the position in the file from 12/1/2018 to
//     12/9/2019 (374 days); so the file depends on (seed, rows).
// The product and customer catalogs come from a fixed seed (the same shop for every --seed);
// --seed drives everything else.
//
// Thread-safety: an OrdersDomain is immutable after construction (safe to share); each
// generator it makes belongs to one thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "generator/domain.h"

namespace lakepipe::generator {

struct OrdersRates {
  static constexpr int kProducts = 3700;
  static constexpr int kCustomers = 4700;
  static constexpr int kCountries = 38;
  static constexpr double kMeanExtraLinesPerTransaction = 11.0;
  static constexpr int kMaxLinesPerTransaction = 100;
  static constexpr double kCancelledTransactions = 0.015;
  static constexpr double kMissingCustomerTransactions = 0.005;
  static constexpr double kDuplicateAfterLine = 0.01;
  static constexpr double kMalformedLines = 0.0002;
  static constexpr double kUnitedKingdomShare = 0.89;  // approximate, from the weights
  static constexpr int kDays = 374;                    // 2018-12-01 .. 2019-12-09
  static constexpr int kFirstTransactionNo = 536365;
};

class OrdersDomain : public Domain {
 public:
  OrdersDomain();
  ~OrdersDomain() override;

  std::string_view name() const override { return "orders"; }
  std::string_view description() const override { return Description(); }
  // The same, without building the catalog (which every command's help would pay).
  static std::string_view Description();
  std::string_view header() const override;
  std::unique_ptr<RowGenerator> NewGenerator(uint64_t seed, int64_t total_rows) const override;

  // The catalog shared by every generator of this domain.
  struct Product {
    std::string csv_prefix;  // "ProductNo,ProductName," with the name CSV-quoted if needed
    std::string no;
    std::string name;        // unquoted
    std::string price;       // "12.34"
  };
  struct Country {
    std::string name;
    double weight = 0;               // share of transactions
    std::vector<int> customers;      // indices into customers()
  };
  const std::vector<Product>& products() const { return products_; }
  const std::vector<std::string>& customers() const { return customers_; }  // CustomerNo
  const std::vector<Country>& countries() const { return countries_; }

 private:
  void BuildCatalog();

  std::vector<Product> products_;
  std::vector<std::string> customers_;
  std::vector<Country> countries_;
};

}  // namespace lakepipe::generator
