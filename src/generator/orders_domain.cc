#include "generator/orders_domain.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <unordered_set>

#include "generator/random.h"
#include "types/datetime.h"

namespace lakepipe::generator {
namespace {

// The catalog (products, customers, their countries) is the same shop for every --seed.
constexpr uint64_t kCatalogSeed = 0x6f6e6c696e652d73ULL;

constexpr std::array<const char*, 27> kPrefixes = {
    "Set Of 3", "Set Of 6", "Set Of 12", "Pack Of 12", "Pack Of 60", "Jumbo", "Mini",
    "Large", "Small", "Vintage", "Retro", "Antique", "Hanging", "Wooden", "Glass", "Ceramic",
    "Enamel", "Paper", "Metal", "Wall", "Kids", "Children's", "Baroque", "Regency",
    "Victorian", "French", "Scandinavian"};
constexpr std::array<const char*, 28> kColours = {
    "Red", "Pink", "Blue", "White", "Ivory", "Green", "Black", "Cream", "Silver", "Gold",
    "Pastel", "Red Retrospot", "Polkadot", "Spotty", "Floral", "Strawberry", "Vintage Leaf",
    "Paisley", "Rose", "Heart", "Star", "Skull", "Dolly Girl", "Spaceboy", "Woodland",
    "Union Jack", "Lavender", "Alphabet"};
constexpr std::array<const char*, 70> kNouns = {
    "Cake Stand", "T-Light Holder", "Lantern", "Cushion Cover", "Lunch Box", "Lunch Bag",
    "Shopping Bag", "Tea Cup And Saucer", "Mug", "Bowl", "Plate", "Cake Tins", "Spice Tins",
    "Jam Jars", "Candle", "Photo Frame", "Clock", "Doorstop", "Door Mat", "Hot Water Bottle",
    "Bunting", "Garland", "Chalkboard", "Notebook", "Wrapping Paper", "Gift Bag", "Napkins",
    "Paper Cups", "Cake Cases", "Baking Set", "Apron", "Oven Glove", "Tea Towels",
    "Coat Rack", "Storage Jar", "Trinket Box", "Jewellery Box", "Hair Clips", "Keyring",
    "Mirror", "Bird Feeder", "Watering Can", "Plant Pot", "Umbrella", "Purse",
    "Water Bottle", "Pencil Case", "Colouring Pencils", "Sticker Sheet", "Party Bunting",
    "Fridge Magnet", "Metal Sign", "Tray", "Jug", "Teapot", "Egg Cup", "Coasters",
    "Placemats", "Bottle Opener", "Wind Chime", "Fairy Lights", "Night Light", "Snow Globe",
    "Advent Calendar", "Christmas Decoration", "Bauble", "Wreath", "Picnic Basket",
    "Recipe Box", "Money Box"};
constexpr std::array<const char*, 12> kSuffixes = {
    "Design", "Pantry Design", "In Gift Box", "Assorted", "With Lid", "Set", "Large",
    "Small", "Medium", "3 Tier", "With Ribbon", "Assorted Colours"};
constexpr std::array<const char*, 10> kQuotedWords = {
    "Love", "Home", "Joy", "Noel", "Hello", "Paris", "Merry Christmas", "Happy Birthday",
    "Sweet", "Tea Time"};

struct CountryWeight {
  const char* name;
  double percent;  // share of transactions, in percent (United Kingdom takes the rest)
};
// 37 countries besides the United Kingdom, roughly as in the original data; the smallest are
// raised to 0.06% so that every country shows up in a few hundred thousand lines.
constexpr std::array<CountryWeight, 37> kOtherCountries = {{
    {"Germany", 2.2}, {"France", 2.0}, {"EIRE", 1.9}, {"Spain", 0.6}, {"Netherlands", 0.6},
    {"Belgium", 0.5}, {"Switzerland", 0.5}, {"Portugal", 0.28}, {"Australia", 0.22},
    {"Norway", 0.2}, {"Italy", 0.15}, {"Channel Islands", 0.14}, {"Finland", 0.13},
    {"Cyprus", 0.12}, {"Sweden", 0.08}, {"Unspecified", 0.08}, {"Austria", 0.07},
    {"Denmark", 0.07}, {"Japan", 0.07}, {"Poland", 0.06}, {"Israel", 0.06}, {"USA", 0.06},
    {"Hong Kong", 0.06}, {"Singapore", 0.06}, {"Iceland", 0.06}, {"Canada", 0.06},
    {"Greece", 0.06}, {"Malta", 0.06}, {"United Arab Emirates", 0.06},
    {"European Community", 0.06}, {"RSA", 0.06}, {"Lebanon", 0.06}, {"Lithuania", 0.06},
    {"Brazil", 0.06}, {"Czech Republic", 0.06}, {"Bahrain", 0.06}, {"Saudi Arabia", 0.06}}};

struct QuantityWeight {
  int quantity;
  double weight;
};
constexpr std::array<QuantityWeight, 24> kQuantities = {{
    {1, 26}, {2, 14}, {3, 6}, {4, 8}, {5, 3}, {6, 10}, {8, 3}, {10, 3}, {12, 14}, {16, 1},
    {20, 1.5}, {24, 5}, {25, 0.5}, {36, 1}, {48, 1.5}, {72, 0.5}, {96, 0.5}, {100, 0.5},
    {144, 0.3}, {200, 0.2}, {288, 0.1}, {480, 0.05}, {600, 0.03}, {1000, 0.03}}};

constexpr const char* kHeader =
    "TransactionNo,Date,ProductNo,ProductName,Price,Quantity,CustomerNo,Country";

bool NeedsQuoting(const std::string& s) {
  return s.find_first_of(",\"\n\r") != std::string::npos;
}

std::string CsvField(const std::string& s) {
  if (!NeedsQuoting(s)) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

double StandardNormal(Random& rng) {
  // Box-Muller; only used while building the catalog.
  double u1 = rng.Uniform();
  double u2 = rng.Uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

template <typename Array>
const char* Pick(Random& rng, const Array& a) {
  return a[rng.Below(a.size())];
}

std::string ProductName(Random& rng) {
  std::string name;
  auto add = [&](const std::string& word) {
    if (!name.empty()) name += ' ';
    name += word;
  };
  if (rng.Chance(0.35)) add(Pick(rng, kPrefixes));
  if (rng.Chance(0.65)) add(Pick(rng, kColours));
  if (rng.Chance(0.02)) add(std::string("\"") + Pick(rng, kQuotedWords) + "\"");
  add(Pick(rng, kNouns));
  if (rng.Chance(0.03)) {
    name += ", ";
    name += Pick(rng, kSuffixes);
  } else if (rng.Chance(0.25)) {
    add(Pick(rng, kSuffixes));
  }
  return name;
}

std::string PriceText(int64_t cents) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%02lld", static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return buf;
}

// Appends the decimal digits of v (v >= 0).
inline void AppendUnsigned(uint64_t v, std::string* out) {
  char buf[24];
  char* end = buf + sizeof buf;
  char* p = end;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  out->append(p, static_cast<size_t>(end - p));
}

class OrdersGenerator : public RowGenerator {
 public:
  OrdersGenerator(const OrdersDomain& domain, uint64_t seed, int64_t total_rows)
      : domain_(domain), rng_(seed), total_rows_(total_rows < 0 ? 0 : total_rows) {
    BuildTables();
    txn_products_.reserve(OrdersRates::kMaxLinesPerTransaction);
  }

  int64_t rows_left() const override { return total_rows_ - stats_.rows; }
  const GenerateStats& stats() const override { return stats_; }

  int64_t AppendRows(int64_t max_rows, std::string* out) override {
    int64_t appended = 0;
    while (appended < max_rows && rows_left() > 0) {
      if (!pending_duplicate_.empty()) {
        EmitLine(pending_duplicate_, out);
        ++stats_.duplicate_rows;
        pending_duplicate_.clear();
        ++appended;
        continue;
      }
      if (txn_lines_left_ == 0) StartTransaction();
      size_t line_start = out->size();
      bool malformed = AppendOrderLine(out);
      --txn_lines_left_;
      CountLine();
      ++appended;
      if (!malformed && rng_.Chance(OrdersRates::kDuplicateAfterLine) && rows_left() > 0) {
        std::string copy = out->substr(line_start);
        if (appended < max_rows) {
          EmitLine(copy, out);
          ++stats_.duplicate_rows;
          ++appended;
        } else {
          pending_duplicate_ = std::move(copy);
        }
      }
    }
    return appended;
  }

 private:
  void BuildTables() {
    const auto& countries = domain_.countries();
    double sum = 0;
    for (const auto& c : countries) {
      sum += c.weight;
      country_cumulative_.push_back(sum);
    }
    for (auto& v : country_cumulative_) v /= sum;

    // Product popularity: index = n * u^1.5, through a table of 65536 steps.
    const int n = static_cast<int>(domain_.products().size());
    product_table_.resize(1 << 16);
    for (int k = 0; k < (1 << 16); ++k) {
      double u = (k + 0.5) / 65536.0;
      product_table_[static_cast<size_t>(k)] =
          std::min(n - 1, static_cast<int>(n * std::pow(u, 1.5)));
    }

    double total_weight = 0;
    for (const auto& q : kQuantities) total_weight += q.weight;
    // 4096 slots; slot k holds the first quantity whose cumulative share passes (k+0.5)/4096.
    std::vector<double> cumulative;
    double running = 0;
    for (const auto& q : kQuantities) {
      running += q.weight / total_weight;
      cumulative.push_back(running);
    }
    quantity_table_.resize(4096);
    for (size_t k = 0; k < 4096; ++k) {
      double u = (static_cast<double>(k) + 0.5) / 4096.0;
      size_t i = static_cast<size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), u) -
                                     cumulative.begin());
      quantity_table_[k] = static_cast<uint8_t>(std::min(i, kQuantities.size() - 1));
    }
    for (const auto& q : kQuantities) {
      positive_quantity_.push_back(std::to_string(q.quantity));
      negative_quantity_.push_back("-" + std::to_string(q.quantity));
    }

    for (int d = 0; d < OrdersRates::kDays; ++d) {
      int64_t y;
      unsigned m, day;
      CivilFromDays(DaysFromCivil(2018, 12, 1) + d, &y, &m, &day);
      date_text_.push_back(std::to_string(m) + "/" + std::to_string(day) + "/" +
                           std::to_string(y));
    }
  }

  void StartTransaction() {
    ++stats_.transactions;
    const int64_t txn_no = OrdersRates::kFirstTransactionNo + stats_.transactions - 1;
    cancelled_ = rng_.Chance(OrdersRates::kCancelledTransactions);
    missing_customer_ = rng_.Chance(OrdersRates::kMissingCustomerTransactions);
    int64_t day = total_rows_ == 0 ? 0 : stats_.rows * OrdersRates::kDays / total_rows_;

    double u = rng_.Uniform();
    size_t c = static_cast<size_t>(
        std::lower_bound(country_cumulative_.begin(), country_cumulative_.end(), u) -
        country_cumulative_.begin());
    const auto& countries = domain_.countries();
    if (c >= countries.size()) c = countries.size() - 1;
    const auto& country = countries[c];
    size_t k = static_cast<size_t>(country.customers.size() * std::pow(rng_.Uniform(), 1.3));
    if (k >= country.customers.size()) k = country.customers.size() - 1;
    const std::string& customer = domain_.customers()[static_cast<size_t>(country.customers[k])];

    int lines = 1 + static_cast<int>(-std::log(1.0 - rng_.Uniform()) *
                                     OrdersRates::kMeanExtraLinesPerTransaction);
    txn_lines_left_ = std::min(lines, OrdersRates::kMaxLinesPerTransaction);
    txn_products_.clear();

    txn_prefix_.clear();
    if (cancelled_) txn_prefix_ += 'C';
    AppendUnsigned(static_cast<uint64_t>(txn_no), &txn_prefix_);
    txn_prefix_ += ',';
    txn_prefix_ += date_text_[static_cast<size_t>(day)];
    txn_prefix_ += ',';

    txn_customer_.assign(1, ',');
    if (!missing_customer_) txn_customer_ += customer;
    txn_suffix_ = txn_customer_;
    txn_suffix_ += ',';
    txn_suffix_ += country.name;
    txn_suffix_ += '\n';
  }

  int PickProduct() {
    int p = 0;
    for (int attempt = 0; attempt < 16; ++attempt) {
      p = product_table_[rng_.Next() >> 48];
      if (std::find(txn_products_.begin(), txn_products_.end(), p) == txn_products_.end()) break;
    }
    // After 16 collisions (a long transaction), walk to the next unused product.
    while (std::find(txn_products_.begin(), txn_products_.end(), p) != txn_products_.end()) {
      p = (p + 1) % static_cast<int>(domain_.products().size());
    }
    txn_products_.push_back(p);
    return p;
  }

  // Appends one line of the current transaction; returns whether it is a malformed one.
  bool AppendOrderLine(std::string* out) {
    const auto& product = domain_.products()[static_cast<size_t>(PickProduct())];
    const size_t q = quantity_table_[rng_.Next() >> 52];
    const std::string& quantity = cancelled_ ? negative_quantity_[q] : positive_quantity_[q];
    int malformed_kind = -1;
    if (rng_.Chance(OrdersRates::kMalformedLines)) malformed_kind = static_cast<int>(rng_.Below(4));

    out->append(txn_prefix_);
    out->append(product.csv_prefix);
    switch (malformed_kind) {
      case 0: out->append("N/A"); break;
      case 1: {  // the price written with a decimal comma, quoted as CSV requires
        std::string comma = product.price;
        comma[comma.find('.')] = ',';
        out->append("\"").append(comma).append("\"");
        break;
      }
      default: out->append(product.price); break;
    }
    out->push_back(',');
    if (malformed_kind == 2) {
      out->append("ten");
    } else {
      out->append(quantity);
    }
    if (malformed_kind == 3) {
      out->append(txn_customer_);  // CustomerNo, then the line ends: Country is missing
      out->push_back('\n');
    } else {
      out->append(txn_suffix_);
    }
    if (malformed_kind >= 0) ++stats_.malformed_rows;
    return malformed_kind >= 0;
  }

  void EmitLine(const std::string& line, std::string* out) {
    out->append(line);
    CountLine();
  }

  void CountLine() {
    ++stats_.rows;
    if (cancelled_) ++stats_.cancellation_rows;
    if (missing_customer_) ++stats_.missing_customer_rows;
  }

  const OrdersDomain& domain_;
  Random rng_;
  int64_t total_rows_;
  GenerateStats stats_;

  std::vector<double> country_cumulative_;
  std::vector<int> product_table_;
  std::vector<uint8_t> quantity_table_;
  std::vector<std::string> positive_quantity_;
  std::vector<std::string> negative_quantity_;
  std::vector<std::string> date_text_;

  // The current transaction.
  int txn_lines_left_ = 0;
  bool cancelled_ = false;
  bool missing_customer_ = false;
  std::vector<int> txn_products_;
  std::string txn_prefix_;    // "536365,12/1/2018,"
  std::string txn_customer_;  // ",17850" or ","
  std::string txn_suffix_;    // ",17850,United Kingdom\n"
  std::string pending_duplicate_;
};

}  // namespace

OrdersDomain::OrdersDomain() { BuildCatalog(); }
OrdersDomain::~OrdersDomain() = default;

std::string_view OrdersDomain::Description() {
  return "order lines of seed 000's online shop (TransactionNo,Date,ProductNo,ProductName,"
         "Price,Quantity,CustomerNo,Country): 3,700 products, 4,700 customers, 38 countries "
         "(United Kingdom ~89% of lines), dates 12/1/2018..12/9/2019; 1.5% of transactions "
         "cancelled (C-prefixed, negative Quantity), 0.5% without CustomerNo, 1% of lines "
         "followed by an exact duplicate, 0.02% malformed lines (Price N/A or \"7,95\", "
         "Quantity ten, Country missing)";
}

std::string_view OrdersDomain::header() const { return kHeader; }

std::unique_ptr<RowGenerator> OrdersDomain::NewGenerator(uint64_t seed,
                                                         int64_t total_rows) const {
  return std::make_unique<OrdersGenerator>(*this, seed, total_rows);
}

void OrdersDomain::BuildCatalog() {
  Random rng(kCatalogSeed);

  std::unordered_set<std::string> names;
  std::unordered_set<std::string> numbers;
  products_.reserve(OrdersRates::kProducts);
  while (static_cast<int>(products_.size()) < OrdersRates::kProducts) {
    Product p;
    p.name = ProductName(rng);
    if (!names.insert(p.name).second) continue;
    do {
      int64_t base = rng.Chance(0.75) ? 20600 + static_cast<int64_t>(rng.Below(3400))
                                      : 84000 + static_cast<int64_t>(rng.Below(7000));
      p.no = std::to_string(base);
      if (rng.Chance(0.10)) p.no += static_cast<char>('A' + rng.Below(5));
    } while (!numbers.insert(p.no).second);
    double price = 7.0 * std::exp(0.7 * StandardNormal(rng));
    int64_t cents = std::llround(std::clamp(price, 0.19, 900.0) * 100);
    p.price = PriceText(cents);
    p.csv_prefix = p.no + "," + CsvField(p.name) + ",";
    products_.push_back(std::move(p));
  }

  // Countries: the United Kingdom takes what the others leave.
  double others = 0;
  for (const auto& c : kOtherCountries) others += c.percent;
  countries_.push_back({"United Kingdom", (100.0 - others) / 100.0, {}});
  for (const auto& c : kOtherCountries) countries_.push_back({c.name, c.percent / 100.0, {}});

  // Customers: distinct 5-digit numbers from 12346; each country gets customers in
  // proportion to its weight (at least 2), the United Kingdom the rest.
  std::vector<int> ids(6000);
  for (int i = 0; i < 6000; ++i) ids[static_cast<size_t>(i)] = 12346 + i;
  for (size_t i = 0; i < static_cast<size_t>(OrdersRates::kCustomers); ++i) {
    size_t j = i + rng.Below(ids.size() - i);
    std::swap(ids[i], ids[j]);
  }
  customers_.reserve(OrdersRates::kCustomers);
  for (int i = 0; i < OrdersRates::kCustomers; ++i) {
    customers_.push_back(std::to_string(ids[static_cast<size_t>(i)]));
  }
  int next = 0;
  for (size_t c = 1; c < countries_.size(); ++c) {
    int n = std::max(2, static_cast<int>(std::lround(countries_[c].weight * OrdersRates::kCustomers)));
    for (int i = 0; i < n; ++i) countries_[c].customers.push_back(next++);
  }
  while (next < OrdersRates::kCustomers) countries_[0].customers.push_back(next++);
}

}  // namespace lakepipe::generator
