#include "generator/shop_generator.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <vector>

#include "formats/parquet/parquet.h"
#include "generator/random.h"
#include "types/batch.h"
#include "types/column.h"
#include "types/datetime.h"
#include "types/schema.h"

namespace lakepipe::generator {
namespace {

// The rates of the flaws and changes (docs/generate.md, "shop", quotes them).
constexpr double kTestAccountShare = 0.03;       // of the first extract's customers
constexpr double kSignupsPerDay = 0.03;          // new customers a day, of --customers
constexpr double kMovesPerDay = 0.01;            // customers who change city a day
constexpr double kSegmentChangesPerDay = 0.015;  // customers who change segment a day
constexpr double kRemovalsPerDay = 0.004;        // customers removed from the CRM a day
constexpr double kPriceChangesPerDay = 0.04;     // products whose price changes a day
constexpr double kCategoryChangesPerDay = 0.005; // products moved to another category a day
constexpr double kLaunchesPerDay = 0.01;         // new products a day, of --products
constexpr double kLoggedInSessions = 0.55;
constexpr double kCampaignSessions = 0.4;        // of sessions on a day with a running campaign
constexpr double kCartSessions = 0.3;
constexpr double kCheckoutOfCarts = 0.45;
constexpr double kUnknownProductLines = 0.004;   // store lines of a product the ERP never exported
constexpr double kBadLineEach = 0.004;           // per kind of bad order line (four kinds)
constexpr double kMalformedEvents = 0.003;
constexpr double kDuplicateEvents = 0.005;

constexpr int64_t kSecond = kMicrosPerSecond;
constexpr int64_t kHour = 3600 * kSecond;

struct City {
  const char* name;
  const char* state;
  const char* region;
};
constexpr City kCities[] = {
    {"São Paulo", "SP", "Sudeste"},     {"Rio de Janeiro", "RJ", "Sudeste"}, {"Belo Horizonte", "MG", "Sudeste"},
    {"Porto Alegre", "RS", "Sul"},      {"Curitiba", "PR", "Sul"},           {"Salvador", "BA", "Nordeste"},
    {"Recife", "PE", "Nordeste"},       {"Fortaleza", "CE", "Nordeste"},     {"Brasília", "DF", "Centro-Oeste"},
    {"Manaus", "AM", "Norte"},          {"Goiânia", "GO", "Centro-Oeste"},   {"Florianópolis", "SC", "Sul"},
    {"Campinas", "SP", "Sudeste"},      {"Belém", "PA", "Norte"},
};
constexpr int kCityCount = sizeof(kCities) / sizeof(kCities[0]);

constexpr const char* kFirstNames[] = {"Ana", "Bruno", "Carla", "Diego", "Elisa", "Fábio", "Gabriela", "Heitor",
                                       "Isabela", "João", "Larissa", "Marcos", "Natália", "Otávio", "Paula",
                                       "Rafael", "Sofia", "Thiago", "Vanessa", "Wagner"};
constexpr const char* kLastNames[] = {"Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Ferreira",
                                      "Costa", "Rodrigues", "Almeida", "Nascimento", "Carvalho", "Araújo", "Ribeiro"};
constexpr const char* kSegments[] = {"bronze", "silver", "gold", "platinum"};

struct Category {
  const char* name;
  const char* nouns[4];
  int base_price_cents;
};
constexpr Category kCategories[] = {
    {"Eletrônicos", {"Fone Bluetooth", "Carregador USB-C", "Caixa de Som", "Smartwatch"}, 24900},
    {"Casa", {"Jogo de Toalhas", "Luminária", "Panela Antiaderente", "Cafeteira"}, 12900},
    {"Moda", {"Camiseta", "Tênis Casual", "Jaqueta", "Mochila"}, 9900},
    {"Esporte", {"Garrafa Térmica", "Tapete de Yoga", "Bola de Futebol", "Luva de Treino"}, 7900},
    {"Beleza", {"Perfume", "Hidratante", "Kit Maquiagem", "Secador"}, 8900},
    {"Livros", {"Romance", "Livro de Receitas", "Guia de Viagem", "HQ"}, 4900},
};
constexpr int kCategoryCount = sizeof(kCategories) / sizeof(kCategories[0]);
constexpr const char* kBrands[] = {"Aurora", "Boreal", "Cerrado", "Ipê", "Jangada", "Maré", "Pampa", "Sertão"};
constexpr const char* kPages[] = {"/", "/busca", "/ofertas", "/categoria", "/conta", "/ajuda"};
constexpr const char* kCampaignNames[] = {"Black Friday", "Frete Grátis", "Volta às Compras", "Cyber Monday",
                                          "Natal Antecipado", "Clube VIP", "Semana do Cliente", "Liquida Verão"};
constexpr const char* kMarketingChannels[] = {"email", "social", "search", "display"};

template <typename T, size_t N>
constexpr int Count(const T (&)[N]) {
  return static_cast<int>(N);
}

std::string Padded(int64_t n, int width) {
  std::string s = std::to_string(n);
  return std::string(s.size() < static_cast<size_t>(width) ? width - s.size() : 0, '0') + s;
}

std::string Cents(int64_t cents) { return std::to_string(cents / 100) + "." + Padded(cents % 100, 2); }

// CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
std::string Csv(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// ASCII letters of a name for an e-mail address (accented letters dropped).
std::string EmailPart(const std::string& s) {
  std::string out;
  for (char c : Lower(s)) {
    if (c >= 'a' && c <= 'z') out += c;
  }
  return out;
}

struct Customer {
  int64_t id;
  std::string name, email;
  int city;
  int segment;
  int32_t signup_date;
  int64_t signup_micros;
  int64_t removed_micros = INT64_MAX;
  bool is_test = false;
};

struct Product {
  int64_t id;
  std::string sku, name;
  int category;
  int brand;
  int64_t launched_micros;
  std::vector<std::pair<int64_t, int64_t>> prices;  // (from micros, cents), ascending
  int64_t PriceAt(int64_t t) const {
    int64_t p = prices.front().second;
    for (const auto& [from, cents] : prices) {
      if (from <= t) p = cents;
    }
    return p;
  }
};

struct Campaign {
  std::string id, name;
  int channel;
  int32_t start, end;  // days, inclusive
  int64_t budget_cents;
};

struct OrderLine {
  int64_t product_id;
  int quantity;
  int64_t cents;
};

struct Order {
  int64_t ts;
  int64_t tie;  // creation order: ties of ts stay deterministic
  bool online;
  int store;  // 0 online
  int64_t customer;
  std::string session_id, campaign_id;
  std::vector<OrderLine> lines;
};

struct Event {
  int64_t ts;
  int64_t tie;
  std::string line;
};

class Shop {
 public:
  Shop(const ShopOptions& o, int32_t start_day, ShopStats* stats) : o_(o), start_(start_day), rng_(o.seed), s_(stats) {}

  Status Run(FileSystem* fs, const std::string& out) {
    out_ = out;
    fs_ = fs;
    for (const char* dir : {"erp/stores", "erp/channels", "erp/products", "crm/customers", "marketing/campaigns",
                            "orders", "events"}) {
      LP_RETURN_IF_ERROR(fs->CreateDirs(JoinPath(out, dir)));
    }
    MakeCustomers();
    MakeProducts();
    MakeCampaigns();
    LP_RETURN_IF_ERROR(Write("erp/stores/stores.csv", StoresCsv()));
    LP_RETURN_IF_ERROR(Write("erp/channels/channels.csv",
                             "channel_id,channel_code,channel_name,is_online\n"
                             "1,online,Online (site and app),true\n"
                             "2,store,Physical store,false\n"));
    LP_RETURN_IF_ERROR(Write("marketing/campaigns/campaigns.csv", CampaignsCsv()));
    for (int d = 0; d < o_.days; ++d) {
      const int32_t day = start_ + d;
      LP_RETURN_IF_ERROR(WriteExtract(day));
      ChangeCustomers(d, day);
      LP_RETURN_IF_ERROR(Write("erp/products/products_" + FormatDate(day) + ".csv", ProductsCsv(d, day)));
      std::vector<Order> orders;
      std::vector<Event> events;
      Sessions(day, &orders, &events);
      StoreOrders(day, &orders);
      LP_RETURN_IF_ERROR(Write("orders/orders_" + FormatDate(day) + ".csv", OrdersCsv(&orders)));
      LP_RETURN_IF_ERROR(Write("events/events_" + FormatDate(day) + ".json", EventsJson(&events)));
    }
    s_->customers = static_cast<int64_t>(customers_.size());
    s_->products = static_cast<int64_t>(products_.size());
    s_->campaigns = static_cast<int64_t>(campaigns_.size());
    return Status::OK();
  }

 private:
  Status Write(const std::string& rel, const std::string& data) {
    LP_RETURN_IF_ERROR(fs_->WriteFileAtomic(JoinPath(out_, rel), data));
    ++s_->files;
    s_->bytes += static_cast<int64_t>(data.size());
    return Status::OK();
  }

  Customer NewCustomer(int64_t signup_micros) {
    Customer c;
    c.id = 10001 + static_cast<int64_t>(customers_.size());
    std::string first = kFirstNames[rng_.Below(Count(kFirstNames))];
    std::string last = kLastNames[rng_.Below(Count(kLastNames))];
    c.name = first + " " + last;
    c.email = EmailPart(first) + "." + EmailPart(last) + std::to_string(c.id) + "@example.com";
    c.city = static_cast<int>(rng_.Below(kCityCount));
    c.segment = static_cast<int>(rng_.Below(2));  // new customers start bronze or silver
    c.signup_micros = signup_micros;
    c.signup_date = static_cast<int32_t>(FloorDiv(signup_micros, kMicrosPerDay));
    return c;
  }

  void MakeCustomers() {
    for (int i = 0; i < o_.customers; ++i) {
      // Signed up in the two years before the first extract.
      int64_t hours_back = 1 + static_cast<int64_t>(rng_.Below(730 * 24));
      Customer c = NewCustomer(static_cast<int64_t>(start_) * kMicrosPerDay - hours_back * kHour);
      c.segment = static_cast<int>(rng_.Below(Count(kSegments)));
      if (rng_.Chance(kTestAccountShare)) {
        c.is_test = true;
        c.name = "QA Teste " + std::to_string(c.id);
        c.email = "qa+" + std::to_string(c.id) + "@test.invalid";
        ++s_->test_customers;
      }
      customers_.push_back(c);
    }
  }

  void MakeProducts() {
    const int64_t first = static_cast<int64_t>(start_) * kMicrosPerDay;
    for (int i = 0; i < o_.products; ++i) products_.push_back(NewProduct(first));
  }

  Product NewProduct(int64_t launched) {
    Product p;
    p.id = 5001 + static_cast<int64_t>(products_.size());
    p.category = static_cast<int>(rng_.Below(kCategoryCount));
    p.brand = static_cast<int>(rng_.Below(Count(kBrands)));
    const Category& cat = kCategories[p.category];
    p.name = std::string(cat.nouns[rng_.Below(4)]) + " " + kBrands[p.brand] + " " +
             std::to_string(100 + rng_.Below(900));
    p.sku = "SKU-" + Padded(p.id, 6);
    double factor = 0.4 + 1.6 * rng_.Uniform();
    int64_t cents = static_cast<int64_t>(cat.base_price_cents * factor) / 10 * 10 + 9;  // ...9 endings
    p.prices.push_back({launched, cents});
    p.launched_micros = launched;
    return p;
  }

  void MakeCampaigns() {
    const int n = 5;
    for (int k = 0; k < n; ++k) {
      Campaign c;
      c.id = "CMP" + Padded(k + 1, 2);
      c.name = std::string(kCampaignNames[(k + rng_.Below(3)) % Count(kCampaignNames)]) + " " + std::to_string(k + 1);
      c.channel = static_cast<int>(rng_.Below(Count(kMarketingChannels)));
      c.start = start_ + (k * o_.days) / n - 1;
      c.end = c.start + 2 + static_cast<int32_t>(rng_.Below(static_cast<uint64_t>(o_.days / 2 + 2)));
      c.budget_cents = (5000 + static_cast<int64_t>(rng_.Below(45000))) * 100;
      campaigns_.push_back(c);
    }
  }

  std::string StoresCsv() {
    std::string s = "store_id,store_name,store_type,city,state,region,opened_date\n";
    s += "0,Loja Online,online,São Paulo,SP,Sudeste," + FormatDate(start_ - 2000) + "\n";
    for (int i = 1; i <= o_.stores; ++i) {
      const City& c = kCities[(i * 5) % kCityCount];
      s += std::to_string(i) + "," + Csv(std::string("Loja ") + c.name + (i > kCityCount ? " 2" : "")) +
           ",physical," + c.name + "," + c.state + "," + c.region + "," +
           FormatDate(start_ - 200 - static_cast<int32_t>(rng_.Below(3000))) + "\n";
    }
    return s;
  }

  std::string CampaignsCsv() {
    std::string s = "campaign_id,campaign_name,marketing_channel,start_date,end_date,budget\n";
    for (const Campaign& c : campaigns_) {
      s += c.id + "," + Csv(c.name) + "," + kMarketingChannels[c.channel] + "," + FormatDate(c.start) + "," +
           FormatDate(c.end) + "," + Cents(c.budget_cents) + "\n";
    }
    return s;
  }

  bool Present(const Customer& c, int64_t t) const { return c.signup_micros <= t && c.removed_micros > t; }

  // The CRM extract taken at 00:00 of `day`: the customers signed up before and not removed.
  Status WriteExtract(int32_t day) {
    const int64_t at = static_cast<int64_t>(day) * kMicrosPerDay;
    auto schema = Schema::ParseDDL(
        "customer_id BIGINT, name STRING, email STRING, city STRING, state STRING, segment STRING, "
        "signup_date DATE, is_test BOOLEAN, extract_date DATE");
    LP_RETURN_IF_ERROR(schema.status());
    std::vector<Column> cols;
    for (size_t i = 0; i < schema->size(); ++i) cols.emplace_back(schema->field(i).type);
    for (const Customer& c : customers_) {
      if (!(c.signup_micros < at && c.removed_micros >= at)) continue;
      const City& city = kCities[c.city];
      std::vector<Value> row = {Value::Int(c.id),          Value::String(c.name),         Value::String(c.email),
                                Value::String(city.name),  Value::String(city.state),     Value::String(kSegments[c.segment]),
                                Value::Date(c.signup_date), Value::Bool(c.is_test),       Value::Date(day)};
      for (size_t i = 0; i < row.size(); ++i) LP_RETURN_IF_ERROR(cols[i].AppendValue(row[i]));
    }
    RecordBatch batch = RecordBatch::FromColumns(*schema, std::move(cols));
    const std::string name = "customers_" + FormatDate(day) + ".parquet";
    const std::string dir = JoinPath(out_, "crm/customers");
    const std::string tmp = JoinPath(dir, "." + name + ".tmp");
    (void)fs_->RemoveFile(tmp);
    LP_ASSIGN_OR_RETURN(auto writer, parquet::FileWriter::Open(fs_, tmp, *schema));
    LP_RETURN_IF_ERROR(writer->Write(batch));
    LP_ASSIGN_OR_RETURN(auto written, writer->Close());
    (void)written;
    LP_RETURN_IF_ERROR(fs_->Rename(tmp, JoinPath(dir, name)));
    LP_RETURN_IF_ERROR(fs_->SyncDir(dir));
    LP_ASSIGN_OR_RETURN(auto info, fs_->Stat(JoinPath(dir, name)));
    ++s_->files;
    s_->bytes += info.size;
    return Status::OK();
  }

  // The day's CRM changes: sign-ups (all day), and moves, segment changes and removals of
  // distinct customers present in the day's extract. Changes of the last day would reach
  // no extract, so that day has sign-ups only.
  void ChangeCustomers(int d, int32_t day) {
    const int64_t day_start = static_cast<int64_t>(day) * kMicrosPerDay;
    const int signups = static_cast<int>(o_.customers * kSignupsPerDay + 0.5);
    for (int i = 0; i < signups; ++i) {
      customers_.push_back(NewCustomer(day_start + 1 + static_cast<int64_t>(rng_.Below(kMicrosPerDay / kSecond - 1)) * kSecond));
    }
    if (d == o_.days - 1) return;
    std::vector<size_t> pool;
    for (size_t i = 0; i < customers_.size(); ++i) {
      if (customers_[i].signup_micros < day_start && customers_[i].removed_micros >= day_start) pool.push_back(i);
    }
    // A partial Fisher-Yates shuffle picks distinct customers.
    size_t next = 0;
    auto pick = [&]() -> Customer* {
      if (next >= pool.size()) return nullptr;
      size_t j = next + rng_.Below(pool.size() - next);
      std::swap(pool[next], pool[j]);
      return &customers_[pool[next++]];
    };
    for (int i = 0; i < static_cast<int>(o_.customers * kMovesPerDay + 0.5); ++i) {
      Customer* c = pick();
      if (c == nullptr) break;
      c->city = (c->city + 1 + static_cast<int>(rng_.Below(kCityCount - 1))) % kCityCount;
      ++s_->customer_changes;
    }
    for (int i = 0; i < static_cast<int>(o_.customers * kSegmentChangesPerDay + 0.5); ++i) {
      Customer* c = pick();
      if (c == nullptr) break;
      c->segment = (c->segment + 1 + static_cast<int>(rng_.Below(Count(kSegments) - 1))) % Count(kSegments);
      ++s_->customer_changes;
    }
    for (int i = 0; i < std::max(1, static_cast<int>(o_.customers * kRemovalsPerDay + 0.5)); ++i) {
      Customer* c = pick();
      if (c == nullptr) break;
      c->removed_micros = day_start + 1 + static_cast<int64_t>(rng_.Below(kMicrosPerDay / kSecond - 1)) * kSecond;
      ++s_->customer_removals;
    }
  }

  std::string ProductLine(const Product& p, int64_t cents, int64_t updated_at) {
    return std::to_string(p.id) + "," + p.sku + "," + Csv(p.name) + "," + Csv(kCategories[p.category].name) + "," +
           kBrands[p.brand] + "," + Cents(cents) + "," + FormatTimestamp(updated_at) + "\n";
  }

  // Day 0: every product (updated_at 00:00). Later days: price and category changes
  // between 05:00 and 07:00, and launches during the day, ordered by updated_at.
  std::string ProductsCsv(int d, int32_t day) {
    std::string s = "product_id,sku,product_name,category,brand,unit_price,updated_at\n";
    const int64_t day_start = static_cast<int64_t>(day) * kMicrosPerDay;
    if (d == 0) {
      for (const Product& p : products_) s += ProductLine(p, p.prices.front().second, day_start);
      return s;
    }
    std::vector<std::pair<int64_t, std::string>> rows;
    std::set<size_t> changed;
    const size_t existing = products_.size();
    auto change_time = [&] { return day_start + 5 * kHour + static_cast<int64_t>(rng_.Below(7200)) * kSecond; };
    for (int i = 0; i < static_cast<int>(o_.products * kPriceChangesPerDay + 0.5); ++i) {
      size_t k = rng_.Below(existing);
      if (!changed.insert(k).second) continue;  // one change per product a day
      Product& p = products_[k];
      int64_t old = p.prices.back().second;
      double f = rng_.Chance(0.5) ? 0.8 + 0.15 * rng_.Uniform() : 1.05 + 0.15 * rng_.Uniform();
      int64_t cents = std::max<int64_t>(99, static_cast<int64_t>(static_cast<double>(old) * f) / 10 * 10 + 9);
      if (cents == old) cents += 100;
      int64_t at = change_time();
      p.prices.push_back({at, cents});
      rows.push_back({at, ProductLine(p, cents, at)});
      ++s_->product_changes;
    }
    for (int i = 0; i < static_cast<int>(o_.products * kCategoryChangesPerDay + 0.5); ++i) {
      size_t k = rng_.Below(existing);
      if (!changed.insert(k).second) continue;
      Product& p = products_[k];
      p.category = (p.category + 1 + static_cast<int>(rng_.Below(kCategoryCount - 1))) % kCategoryCount;
      int64_t at = change_time();
      // The price stays; the category change is a new version from `at` (orders before it
      // see the old category). Price history gets the same price again from `at`.
      p.prices.push_back({at, p.prices.back().second});
      rows.push_back({at, ProductLine(p, p.prices.back().second, at)});
      ++s_->product_changes;
    }
    for (int i = 0; i < std::max(1, static_cast<int>(o_.products * kLaunchesPerDay + 0.5)); ++i) {
      int64_t at = day_start + 8 * kHour + static_cast<int64_t>(rng_.Below(10 * 3600)) * kSecond;
      products_.push_back(NewProduct(at));
      rows.push_back({at, ProductLine(products_.back(), products_.back().prices.front().second, at)});
    }
    std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& r : rows) s += r.second;
    return s;
  }

  // A random customer present at `t` (nullptr when none).
  const Customer* AnyCustomer(int64_t t) {
    for (int attempt = 0; attempt < 64; ++attempt) {
      const Customer& c = customers_[rng_.Below(customers_.size())];
      if (Present(c, t)) return &c;
    }
    for (const Customer& c : customers_) {
      if (Present(c, t)) return &c;
    }
    return nullptr;
  }

  const Product& AnyProduct(int64_t t) {
    for (;;) {
      const Product& p = products_[rng_.Below(products_.size())];
      if (p.launched_micros <= t) return p;
    }
  }

  std::string EventLine(int64_t id, int64_t ts, const std::string& session, const Customer* customer,
                        const char* channel, const char* type, const std::string& page, const Product* product,
                        int quantity, const std::string& campaign) {
    // Appended piece by piece into one reserved string: chains of operator+ copy the
    // growing line once per piece, which was most of the generator's time.
    std::string s;
    s.reserve(260);
    s.append("{\"event_id\":\"E").append(Padded(id, 9)).append("\",\"event_ts\":\"");
    s.append(FormatTimestampIso(ts)).append("\",\"session_id\":\"").append(session).append("\",\"customer_id\":");
    s.append(customer ? std::to_string(customer->id) : "null").append(",\"channel\":\"").append(channel);
    s.append("\",\"event_type\":\"").append(type).append("\",\"page\":").append(JsonString(page));
    s.append(",\"product_id\":").append(product ? std::to_string(product->id) : "null");
    s.append(",\"quantity\":").append(quantity > 0 ? std::to_string(quantity) : "null");
    s.append(",\"utm_campaign\":");
    if (campaign.empty()) {
      s.append("null");
    } else {
      s.append("\"").append(campaign).append("\"");
    }
    s.append("}");
    return s;
  }

  // Sessions of the day, in start order: navigation (page views, product clicks), maybe
  // a cart, maybe a checkout, which is an online order.
  void Sessions(int32_t day, std::vector<Order>* orders, std::vector<Event>* events) {
    const int64_t day_start = static_cast<int64_t>(day) * kMicrosPerDay;
    std::vector<int64_t> starts;
    for (int i = 0; i < o_.sessions_per_day; ++i) {
      starts.push_back(day_start + static_cast<int64_t>(rng_.Below(22 * 3600)) * kSecond);
    }
    std::sort(starts.begin(), starts.end());
    std::vector<const Campaign*> running;
    for (const Campaign& c : campaigns_) {
      if (c.start <= day && day <= c.end) running.push_back(&c);
    }
    for (int64_t t : starts) {
      const std::string session = "S" + Padded(++sessions_, 8);
      ++s_->sessions;
      const char* channel = rng_.Chance(0.65) ? "web" : "app";
      const Customer* customer = rng_.Chance(kLoggedInSessions) ? AnyCustomer(t) : nullptr;
      std::string campaign;
      if (!running.empty() && rng_.Chance(kCampaignSessions)) campaign = running[rng_.Below(running.size())]->id;
      auto add = [&](const char* type, const std::string& page, const Product* product, int quantity) {
        events->push_back({t, ++event_tie_,
                           EventLine(++events_, t, session, customer, channel, type, page, product, quantity, campaign)});
      };
      int navigation = 1 + static_cast<int>(rng_.Below(7));
      for (int i = 0; i < navigation; ++i) {
        if (rng_.Chance(0.5)) {
          add("page_view", kPages[rng_.Below(Count(kPages))], nullptr, 0);
        } else {
          const Product& p = AnyProduct(t);
          add("product_click", "/p/" + std::to_string(p.id), &p, 0);
        }
        t += (5 + static_cast<int64_t>(rng_.Below(175))) * kSecond;
      }
      if (!rng_.Chance(kCartSessions)) continue;
      std::vector<OrderLine> cart;
      int items = 1 + static_cast<int>(rng_.Below(3));
      for (int i = 0; i < items; ++i) {
        const Product& p = AnyProduct(t);
        bool seen = false;
        for (const OrderLine& l : cart) seen |= l.product_id == p.id;
        if (seen) continue;
        int q = 1 + static_cast<int>(rng_.Below(3));
        add("add_to_cart", "/p/" + std::to_string(p.id), &p, q);
        cart.push_back({p.id, q, 0});
        t += (5 + static_cast<int64_t>(rng_.Below(115))) * kSecond;
      }
      if (!rng_.Chance(kCheckoutOfCarts)) continue;
      if (customer == nullptr) customer = AnyCustomer(t);  // signs in at checkout
      if (customer == nullptr) continue;
      add("checkout", "/checkout", nullptr, 0);
      Order o;
      o.ts = t;
      o.tie = ++order_tie_;
      o.online = true;
      o.store = 0;
      o.customer = customer->id;
      o.session_id = session;
      o.campaign_id = campaign;
      for (OrderLine l : cart) {
        l.cents = ProductById(l.product_id).PriceAt(t);
        o.lines.push_back(l);
      }
      orders->push_back(std::move(o));
      ++s_->online_orders;
    }
  }

  const Product& ProductById(int64_t id) const { return products_[static_cast<size_t>(id - 5001)]; }

  void StoreOrders(int32_t day, std::vector<Order>* orders) {
    const int64_t open = static_cast<int64_t>(day) * kMicrosPerDay + 9 * kHour;
    for (int i = 0; i < o_.store_orders_per_day; ++i) {
      Order o;
      o.ts = open + static_cast<int64_t>(rng_.Below(12 * 3600)) * kSecond;
      o.tie = ++order_tie_;
      o.online = false;
      o.store = 1 + static_cast<int>(rng_.Below(static_cast<uint64_t>(std::max(1, o_.stores))));
      const Customer* c = AnyCustomer(o.ts);
      if (c == nullptr) continue;
      o.customer = c->id;
      int n = 1 + static_cast<int>(rng_.Below(4));
      for (int k = 0; k < n; ++k) {
        if (rng_.Chance(kUnknownProductLines)) {
          o.lines.push_back({99001 + static_cast<int64_t>(rng_.Below(9)), 1, 1990});
          continue;
        }
        const Product& p = AnyProduct(o.ts);
        bool seen = false;
        for (const OrderLine& l : o.lines) seen |= l.product_id == p.id;
        if (seen) continue;
        static constexpr int kQuantities[] = {1, 1, 1, 1, 2, 2, 3, 4, 6};
        o.lines.push_back({p.id, kQuantities[rng_.Below(Count(kQuantities))], p.PriceAt(o.ts)});
      }
      orders->push_back(std::move(o));
    }
  }

  const Customer& CustomerById(int64_t id) const { return customers_[static_cast<size_t>(id - 10001)]; }

  std::string OrdersCsv(std::vector<Order>* orders) {
    std::sort(orders->begin(), orders->end(),
              [](const Order& a, const Order& b) { return a.ts != b.ts ? a.ts < b.ts : a.tie < b.tie; });
    std::string s = "order_id,line_no,order_ts,channel,store_id,customer_id,session_id,campaign_id,product_id,quantity,unit_price\n";
    for (const Order& o : *orders) {
      const int64_t id = 1000001 + s_->orders++;
      const Customer& c = CustomerById(o.customer);
      // In no extract at order time: signed up on the order's day (the extract of a day
      // is taken at its 00:00).
      const bool unknown_customer = c.signup_micros >= FloorDiv(o.ts, kMicrosPerDay) * kMicrosPerDay;
      int line_no = 0;
      for (const OrderLine& l : o.lines) {
        ++s_->order_lines;
        std::string customer = std::to_string(o.customer);
        std::string quantity = std::to_string(l.quantity);
        std::string price = Cents(l.cents);
        double u = rng_.Uniform();
        bool bad = true;
        if (u < kBadLineEach) {
          quantity = l.quantity == 2 ? "dois" : "two";
        } else if (u < 2 * kBadLineEach) {
          price = "N/A";
        } else if (u < 3 * kBadLineEach) {
          customer.clear();
        } else if (u < 4 * kBadLineEach) {
          quantity = rng_.Chance(0.5) ? "0" : "-" + quantity;
        } else {
          bad = false;
        }
        if (bad) {
          ++s_->bad_order_lines;
        } else if (c.is_test) {
          ++s_->test_customer_lines;
        } else {
          if (unknown_customer) ++s_->unknown_customer_lines;
          if (l.product_id >= 99001) ++s_->unknown_product_lines;
        }
        s += std::to_string(id) + "," + std::to_string(++line_no) + "," + FormatTimestamp(o.ts) + "," +
             (o.online ? "online" : "store") + "," + std::to_string(o.store) + "," + customer + "," + o.session_id +
             "," + o.campaign_id + "," + std::to_string(l.product_id) + "," + quantity + "," + price + "\n";
      }
    }
    return s;
  }

  std::string EventsJson(std::vector<Event>* events) {
    std::stable_sort(events->begin(), events->end(),
                     [](const Event& a, const Event& b) { return a.ts != b.ts ? a.ts < b.ts : a.tie < b.tie; });
    size_t bytes = 0;
    for (const Event& e : *events) bytes += e.line.size() + 1;
    std::string s;
    s.reserve(bytes + bytes / 50);  // room for the duplicates
    for (const Event& e : *events) {
      ++s_->events;
      if (rng_.Chance(kMalformedEvents)) {
        s.append(e.line, 0, e.line.size() / 2).push_back('\n');
        ++s_->malformed_events;
        continue;
      }
      s.append(e.line).push_back('\n');
      if (rng_.Chance(kDuplicateEvents)) {
        s.append(e.line).push_back('\n');
        ++s_->duplicate_events;
      }
    }
    return s;
  }

  ShopOptions o_;
  int32_t start_;
  Random rng_;
  ShopStats* s_;
  FileSystem* fs_ = nullptr;
  std::string out_;
  std::vector<Customer> customers_;
  std::vector<Product> products_;
  std::vector<Campaign> campaigns_;
  int64_t sessions_ = 0, events_ = 0, event_tie_ = 0, order_tie_ = 0;
};

}  // namespace

Status GenerateShop(FileSystem* fs, const ShopOptions& o, const std::string& out_dir, ShopStats* stats) {
  auto positive = [](const char* flag, int v, int min) -> Status {
    if (v < min) {
      return Status::InvalidArgument(std::string("generate shop: ") + flag + " must be >= " + std::to_string(min) +
                                     ", got " + std::to_string(v));
    }
    return Status::OK();
  };
  LP_RETURN_IF_ERROR(positive("--days", o.days, 1));
  LP_RETURN_IF_ERROR(positive("--customers", o.customers, 1));
  LP_RETURN_IF_ERROR(positive("--products", o.products, 1));
  LP_RETURN_IF_ERROR(positive("--stores", o.stores, 1));
  LP_RETURN_IF_ERROR(positive("--store-orders-per-day", o.store_orders_per_day, 0));
  LP_RETURN_IF_ERROR(positive("--sessions-per-day", o.sessions_per_day, 0));
  if (o.days > 3660) return Status::InvalidArgument("generate shop: --days must be <= 3660, got " + std::to_string(o.days));
  if (o.products > 90000) {
    return Status::InvalidArgument("generate shop: --products must be <= 90000 (ids 99001.. are the unknown ones), got " +
                                   std::to_string(o.products));
  }
  auto start = ParseDate(o.start_date);
  if (!start.ok()) return Status::InvalidArgument("generate shop: --start " + o.start_date + ": " + start.status().message());
  ShopStats local;
  ShopStats* s = stats ? stats : &local;
  *s = ShopStats{};
  Shop shop(o, *start, s);
  return shop.Run(fs, out_dir);
}

}  // namespace lakepipe::generator
