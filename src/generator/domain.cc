#include "generator/domain.h"

#include "generator/orders_domain.h"

namespace lakepipe::generator {

std::vector<DomainInfo> KnownDomains() {
  return {
      {"orders", std::string(OrdersDomain::Description()), true},
      {"videos", "video posts and view counts per social network and institution as JSON event files, two "
                 "batches a day (seed 003): --days N --out DIR; ~0.3% malformed lines, 2% late, 1% re-delivered",
       true},
      {"shop", "seed 004's e-commerce sources as a folder of files (ERP products/stores CSV, CRM customer "
               "extracts as Parquet, campaigns, order lines CSV, click/cart events JSON): --days N --out DIR",
       true},
      {"clicks", "site/app click, navigation and cart events as one CSV stream (`generate shop` writes them as "
                 "JSON files per day)",
       false},
  };
}

namespace {
std::string AvailableList() {
  std::string built, planned;
  for (const auto& d : KnownDomains()) {
    std::string& list = d.built ? built : planned;
    if (!list.empty()) list += ", ";
    list += d.name;
  }
  return "available domains: " + built + (planned.empty() ? "" : " (planned: " + planned + ")");
}
}  // namespace

Result<std::unique_ptr<Domain>> MakeDomain(std::string_view name) {
  if (name == "orders") return std::unique_ptr<Domain>(std::make_unique<OrdersDomain>());
  if (name == "shop") {
    return Status::InvalidArgument("generator domain 'shop' writes a folder of files, not CSV lines: "
                                   "generator::GenerateShop (lakepipe generate shop --days N --out DIR)");
  }
  if (name == "videos") {
    return Status::InvalidArgument("generator domain 'videos' writes a folder of JSON files, not CSV lines: "
                                   "generator::GenerateVideos (lakepipe generate videos --days N --out DIR)");
  }
  for (const auto& d : KnownDomains()) {
    if (d.name == name && !d.built) {
      return Status::NotSupported("generator domain '" + d.name + "' (" + d.description +
                                  ") is not built yet; " + AvailableList());
    }
  }
  return Status::InvalidArgument("unknown generator domain '" + std::string(name) + "'; " +
                                 AvailableList());
}

std::string GenerateToString(const Domain& domain, uint64_t seed, int64_t rows,
                             GenerateStats* stats) {
  std::string out;
  out.reserve(static_cast<size_t>(rows) * 80 + 128);
  out.append(domain.header());
  out.push_back('\n');
  auto gen = domain.NewGenerator(seed, rows);
  while (gen->AppendRows(1 << 16, &out) > 0) {
  }
  if (stats) {
    *stats = gen->stats();
    stats->bytes = static_cast<int64_t>(out.size());
  }
  return out;
}

Status GenerateToFile(FileSystem* fs, const Domain& domain, uint64_t seed, int64_t rows,
                      const std::string& path, GenerateStats* stats) {
  if (rows < 0) return Status::InvalidArgument("--rows must be >= 0, got " + std::to_string(rows));
  LP_ASSIGN_OR_RETURN(auto file, fs->NewWritableFile(path, CreateMode::kTruncate));
  // One large buffer, handed to the file every ~16 MB: a few hundred write calls for 5M lines.
  constexpr size_t kFlushBytes = 16 << 20;
  std::string buffer;
  buffer.reserve(kFlushBytes + (1 << 20));
  buffer.append(domain.header());
  buffer.push_back('\n');
  int64_t bytes = 0;
  auto gen = domain.NewGenerator(seed, rows);
  while (gen->rows_left() > 0) {
    gen->AppendRows(8192, &buffer);
    if (buffer.size() >= kFlushBytes) {
      LP_RETURN_IF_ERROR(file->Append(buffer));
      bytes += static_cast<int64_t>(buffer.size());
      buffer.clear();
    }
  }
  if (!buffer.empty()) {
    LP_RETURN_IF_ERROR(file->Append(buffer));
    bytes += static_cast<int64_t>(buffer.size());
  }
  LP_RETURN_IF_ERROR(file->Close());
  if (stats) {
    *stats = gen->stats();
    stats->bytes = bytes;
  }
  return Status::OK();
}

}  // namespace lakepipe::generator
