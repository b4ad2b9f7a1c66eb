// `lakepipe generate <domain> --rows N --out FILE [--seed S]`: writes a synthetic CSV
// dataset (src/generator/). The domain is resolved before the other options are checked,
// so `lakepipe generate clicks` says that domain is not built yet.
// `lakepipe generate videos --days N [--batches-per-day B] --out DIR`: seed 003's JSON
// event files, one per ingestion batch (generator/videos.h).
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "generator/domain.h"
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
};

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
  if (o.domain == "videos") return RunGenerateVideos(o);
  LP_ASSIGN_OR_RETURN(auto domain, generator::MakeDomain(o.domain));
  if (!o.video_flags_given.empty()) {
    return Status::InvalidArgument("generate " + o.domain + ": " + o.video_flags_given[0] + " is an option of `generate videos`");
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
      cmd->add_option("--days", opts->videos.days, "videos: days of events")->capture_default_str(),
      cmd->add_option("--batches-per-day", opts->videos.batches_per_day,
                      "videos: ingestion batches (files) a day, at 08h..20h")->capture_default_str(),
      cmd->add_option("--start", opts->videos.start_date, "videos: first day (yyyy-mm-dd)")->capture_default_str(),
      cmd->add_option("--posts-per-day", opts->videos.posts_per_day, "videos: new video posts a day")->capture_default_str(),
      cmd->add_option("--new-field-day", opts->videos.new_field_day,
                      "videos: events carry a new `device` field from this day on (0: never)")->capture_default_str()};
  std::string footer = "Domains:";
  for (const auto& d : generator::KnownDomains()) {
    footer += "\n  " + d.name + (d.built ? ": " : " (not built yet): ") + d.description;
  }
  cmd->footer(footer);
  cmd->callback([opts, rows, video_flags, &registry] {
    opts->rows_given = rows->count() > 0;
    opts->video_flags_given.clear();
    for (CLI::Option* f : video_flags) {
      if (f->count() > 0) opts->video_flags_given.push_back(f->get_name());
    }
    registry.Finish(RunGenerate(*opts));
  });
}

}  // namespace lakepipe::cli
