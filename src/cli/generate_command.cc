// `lakepipe generate <domain> --rows N --out FILE [--seed S]`: writes a synthetic CSV
// dataset (src/generator/). The domain is resolved before the other options are checked,
// so `lakepipe generate clicks` says that domain is not built yet.
// `lakepipe generate videos --days N [--batches-per-day B] --out DIR`: seed 003's JSON
// event files, one per ingestion batch (generator/videos.h).
// `lakepipe generate shop --days N --out DIR [--customers N ...]`: seed 004's e-commerce
// sources, a folder of ERP/CRM/marketing files, order lines and click events
// (generator/shop_generator.h).
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "generator/domain.h"
#include "generator/shop_generator.h"
#include "generator/videos.h"

namespace lakepipe::cli {
namespace {

struct GenerateOptions {
  std::string domain;
  int64_t rows = 0;
  bool rows_given = false;
  std::string out;
  uint64_t seed = 1;
  generator::VideoOptions videos;
  std::vector<std::string> video_flags_given;  // --days, ... (videos only)
  generator::ShopOptions shop;
  std::vector<std::string> shop_flags_given;   // --customers, ... (shop only)
};

Status RunGenerateShop(const GenerateOptions& o) {
  if (o.rows_given) return Status::InvalidArgument("generate shop: --rows does not apply; give --days N");
  if (o.out.empty()) return Status::InvalidArgument("generate shop: --out DIR is required");
  for (const std::string& f : o.video_flags_given) {
    if (f != "--days" && f != "--start") return Status::InvalidArgument("generate shop: " + f + " is an option of `generate videos`");
  }
  generator::ShopOptions s = o.shop;
  s.seed = o.seed;
  s.days = o.videos.days;
  s.start_date = o.videos.start_date;
  auto start = std::chrono::steady_clock::now();
  generator::ShopStats st;
  LP_RETURN_IF_ERROR(generator::GenerateShop(FileSystem::Default(), s, o.out, &st));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto n = [](int64_t v) { return static_cast<long long>(v); };
  std::printf("wrote %lld shop files (%.1f MB) to %s in %.2f s (seed %llu, %d days from %s): %lld customers "
              "(%lld test accounts, %lld changes, %lld removals), %lld products (%lld changes), %lld campaigns, "
              "%lld orders (%lld online), %lld order lines (%lld bad, %lld of test accounts, %lld unknown customer, "
              "%lld unknown product), %lld sessions, %lld events (%lld malformed, %lld duplicated)\n",
              n(st.files), static_cast<double>(st.bytes) / 1e6, o.out.c_str(), seconds,
              static_cast<unsigned long long>(o.seed), s.days, s.start_date.c_str(), n(st.customers),
              n(st.test_customers), n(st.customer_changes), n(st.customer_removals), n(st.products),
              n(st.product_changes), n(st.campaigns), n(st.orders), n(st.online_orders), n(st.order_lines),
              n(st.bad_order_lines), n(st.test_customer_lines), n(st.unknown_customer_lines),
              n(st.unknown_product_lines), n(st.sessions), n(st.events), n(st.malformed_events),
              n(st.duplicate_events));
  return Status::OK();
}

Status RunGenerateVideos(const GenerateOptions& o) {
  if (o.rows_given) return Status::InvalidArgument("generate videos: --rows does not apply; give --days N (and --posts-per-day)");
  if (o.out.empty()) return Status::InvalidArgument("generate videos: --out DIR is required");
  generator::VideoOptions v = o.videos;
  v.seed = o.seed;
  auto start = std::chrono::steady_clock::now();
  generator::VideoStats stats;
  LP_RETURN_IF_ERROR(generator::GenerateVideos(FileSystem::Default(), v, o.out, &stats));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %lld video event lines in %lld files (%.1f MB) to %s in %.2f s (seed %llu): %lld posts, "
              "%lld view observations, %lld late, %lld re-delivered, %lld malformed\n",
              static_cast<long long>(stats.lines), static_cast<long long>(stats.files),
              static_cast<double>(stats.bytes) / 1e6, o.out.c_str(), seconds, static_cast<unsigned long long>(o.seed),
              static_cast<long long>(stats.posts), static_cast<long long>(stats.observations),
              static_cast<long long>(stats.late), static_cast<long long>(stats.redelivered),
              static_cast<long long>(stats.malformed));
  return Status::OK();
}

Status RunGenerate(const GenerateOptions& o) {
  if (o.domain == "videos") {
    if (!o.shop_flags_given.empty()) {
      return Status::InvalidArgument("generate videos: " + o.shop_flags_given[0] + " is an option of `generate shop`");
    }
    return RunGenerateVideos(o);
  }
  if (o.domain == "shop") return RunGenerateShop(o);
  LP_ASSIGN_OR_RETURN(auto domain, generator::MakeDomain(o.domain));
  if (!o.video_flags_given.empty()) {
    return Status::InvalidArgument("generate " + o.domain + ": " + o.video_flags_given[0] + " is an option of `generate videos`");
  }
  if (!o.shop_flags_given.empty()) {
    return Status::InvalidArgument("generate " + o.domain + ": " + o.shop_flags_given[0] + " is an option of `generate shop`");
  }
  if (!o.rows_given) return Status::InvalidArgument("generate " + o.domain + ": --rows N is required");
  if (o.rows < 0) {
    return Status::InvalidArgument("generate " + o.domain + ": --rows must be >= 0, got " +
                                   std::to_string(o.rows));
  }
  if (o.out.empty()) return Status::InvalidArgument("generate " + o.domain + ": --out FILE is required");
  auto start = std::chrono::steady_clock::now();
  generator::GenerateStats stats;
  LP_RETURN_IF_ERROR(generator::GenerateToFile(FileSystem::Default(), *domain, o.seed, o.rows,
                                               o.out, &stats));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %lld %s lines (%.1f MB) to %s in %.2f s (seed %llu)\n",
              static_cast<long long>(stats.rows), o.domain.c_str(),
              static_cast<double>(stats.bytes) / 1e6, o.out.c_str(), seconds,
              static_cast<unsigned long long>(o.seed));
  return Status::OK();
}

}  // namespace

void RegisterGenerateCommands(CLI::App& app, CommandRegistry& registry) {
  auto opts = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "generate", "Write a synthetic dataset as CSV (the same seed gives the same file)");
  cmd->add_option("domain", opts->domain, "Dataset to generate (see the list below)")->required();
  CLI::Option* rows = cmd->add_option("--rows", opts->rows, "Number of data lines (the header is extra)");
  cmd->add_option("--out", opts->out, "CSV file to write (created or replaced); for videos, a folder");
  cmd->add_option("--seed", opts->seed, "Random seed")->capture_default_str();
  std::vector<CLI::Option*> video_flags = {
      cmd->add_option("--days", opts->videos.days, "videos, shop: days of events")->capture_default_str(),
      cmd->add_option("--batches-per-day", opts->videos.batches_per_day,
                      "videos: ingestion batches (files) a day, at 08h..20h")->capture_default_str(),
      cmd->add_option("--start", opts->videos.start_date,
                      "videos, shop: first day (yyyy-mm-dd; default 2026-01-01, shop 2026-11-02)"),
      cmd->add_option("--posts-per-day", opts->videos.posts_per_day, "videos: new video posts a day")->capture_default_str(),
      cmd->add_option("--new-field-day", opts->videos.new_field_day,
                      "videos: events carry a new `device` field from this day on (0: never)")->capture_default_str()};
  std::vector<CLI::Option*> shop_flags = {
      cmd->add_option("--customers", opts->shop.customers, "shop: customers in the first CRM extract")->capture_default_str(),
      cmd->add_option("--products", opts->shop.products, "shop: products in the first ERP file")->capture_default_str(),
      cmd->add_option("--stores", opts->shop.stores, "shop: physical stores")->capture_default_str(),
      cmd->add_option("--store-orders-per-day", opts->shop.store_orders_per_day, "shop: orders in the stores a day")
          ->capture_default_str(),
      cmd->add_option("--sessions-per-day", opts->shop.sessions_per_day, "shop: site/app sessions a day")
          ->capture_default_str()};
  std::string footer = "Domains:";
  for (const auto& d : generator::KnownDomains()) {
    footer += "\n  " + d.name + (d.built ? ": " : " (not built yet): ") + d.description;
  }
  cmd->footer(footer);
  cmd->callback([opts, rows, video_flags, shop_flags, &registry] {
    opts->rows_given = rows->count() > 0;
    opts->video_flags_given.clear();
    opts->shop_flags_given.clear();
    bool start_given = false;
    for (CLI::Option* f : video_flags) {
      if (f->count() > 0) opts->video_flags_given.push_back(f->get_name());
      if (f->count() > 0 && f->get_name() == "--start") start_given = true;
    }
    for (CLI::Option* f : shop_flags) {
      if (f->count() > 0) opts->shop_flags_given.push_back(f->get_name());
    }
    if (opts->domain == "shop") {
      if (!start_given) opts->videos.start_date = generator::ShopOptions().start_date;
      bool days_given = false;
      for (CLI::Option* f : video_flags) days_given |= f->count() > 0 && f->get_name() == "--days";
      if (!days_given) opts->videos.days = generator::ShopOptions().days;
    }
    registry.Finish(RunGenerate(*opts));
  });
}

}  // namespace lakepipe::cli
