// Tests of the video-events generator: determinism, file layout, and every documented
// property of the feed checked by an independent JSON parse (nlohmann) and by DuckDB's
// read_json: counts per kind, cumulative counters, late events, re-deliveries, flaws,
// nested fields, and the new field from its day on.
#include "generator/videos.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/fs.h"
#include "testing/testing.h"
#include "types/datetime.h"

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

class VideosTest : public ::testing::Test {
 protected:
  std::vector<std::string> Files(const std::string& dir) {
    std::vector<std::string> names;
    auto entries = fs_->ListDir(dir);
    EXPECT_TRUE(entries.ok());
    for (const auto& e : *entries) names.push_back(e.name);
    return names;
  }
  std::string Read(const std::string& path) {
    auto text = fs_->ReadFile(path);
    EXPECT_TRUE(text.ok()) << path;
    return text.ok() ? *text : "";
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
};

TEST_F(VideosTest, SameOptionsSameBytesOtherSeedOtherBytes) {
  VideoOptions o;
  o.days = 3;
  ASSERT_TRUE(GenerateVideos(fs_, o, dir_.Join("a")).ok());
  ASSERT_TRUE(GenerateVideos(fs_, o, dir_.Join("b")).ok());
  o.seed = 2;
  ASSERT_TRUE(GenerateVideos(fs_, o, dir_.Join("c")).ok());
  std::vector<std::string> names = Files(dir_.Join("a"));
  ASSERT_EQ(names, (std::vector<std::string>{"videos_2026-01-01T08.json", "videos_2026-01-01T20.json",
                                             "videos_2026-01-02T08.json", "videos_2026-01-02T20.json",
                                             "videos_2026-01-03T08.json", "videos_2026-01-03T20.json"}));
  bool any_differs = false;
  for (const auto& n : names) {
    EXPECT_EQ(Read(dir_.Join("a/" + n)), Read(dir_.Join("b/" + n))) << n;
    any_differs |= Read(dir_.Join("a/" + n)) != Read(dir_.Join("c/" + n));
  }
  EXPECT_TRUE(any_differs);
}

TEST_F(VideosTest, BadOptionsAreRefusedNamingTheFlag) {
  VideoOptions o;
  o.batches_per_day = 0;
  EXPECT_NE(GenerateVideos(fs_, o, dir_.Join("x")).message().find("--batches-per-day"), std::string::npos);
  o = VideoOptions{};
  o.start_date = "2026-13-01";
  EXPECT_NE(GenerateVideos(fs_, o, dir_.Join("x")).message().find("--start 2026-13-01"), std::string::npos);
}

// Every property the header and docs/generate.md promise, over 12 days.
TEST_F(VideosTest, FeedHasTheDocumentedShapeAndFlaws) {
  VideoOptions o;
  o.days = 12;
  o.posts_per_day = 60;
  o.new_field_day = 4;
  VideoStats stats;
  const std::string out = dir_.Join("feed");
  ASSERT_TRUE(GenerateVideos(fs_, o, out, &stats).ok());
  std::vector<std::string> names = Files(out);
  ASSERT_EQ(static_cast<int64_t>(names.size()), stats.files);
  ASSERT_EQ(stats.files, 24);

  std::set<std::string> seen_lines;
  std::map<std::string, std::pair<int64_t, int64_t>> last_views;  // post -> (time, views)
  int64_t lines = 0, truncated = 0, typed = 0, copies = 0, late = 0, posts = 0, observations = 0;
  int64_t parsed_with_copies = 0, posts_with_copies = 0, deepest_city_names = 0, with_device = 0;
  const int64_t day4 = DaysFromCivil(2026, 1, 4) * kMicrosPerDay;
  int64_t previous_batch_micros = 0;
  for (const std::string& name : names) {
    // videos_2026-01-04T20.json: the batch's time.
    auto batch_micros = ParseTimestamp(name.substr(7, 10) + " " + name.substr(18, 2) + ":00:00");
    ASSERT_TRUE(batch_micros.ok()) << name;
    for (const std::string& line : Lines(Read(out + "/" + name))) {
      ++lines;
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      parsed_with_copies += !j.is_discarded();
      if (!j.is_discarded() && j["event_type"] == "post_created") ++posts_with_copies;
      if (!seen_lines.insert(line).second) {
        ++copies;
        continue;
      }
      if (j.is_discarded()) {
        ++truncated;
        continue;
      }
      ASSERT_TRUE(j.contains("event_id") && j.contains("event_time") && j.contains("network")) << line;
      auto at = ParseTimestamp(j["event_time"].get<std::string>());
      ASSERT_TRUE(at.ok()) << line;
      EXPECT_LE(*at, *batch_micros) << "an event after its file's batch time: " << line;
      if (*at <= previous_batch_micros) ++late;
      // `device` exactly on the events of day 4 on.
      EXPECT_EQ(j.contains("device"), *at >= day4) << line;
      with_device += j.contains("device");
      const std::string type = j["event_type"];
      if (type == "post_created") {
        ++posts;
        const auto& post = j["post"];
        if (!post["duration_seconds"].is_number_integer()) {
          ++typed;
          continue;
        }
        EXPECT_TRUE(post["hashtags"].is_array());
        EXPECT_FALSE(post["institution"]["name"].get<std::string>().empty());
        deepest_city_names += post["institution"]["city"]["name"].is_string();
      } else {
        ASSERT_EQ(type, "views_observed") << line;
        ++observations;
        const auto& m = j["metrics"];
        if (!m["views"].is_number_integer()) {
          ++typed;
          continue;
        }
        EXPECT_LE(m["likes"].get<int64_t>(), m["views"].get<int64_t>());
        // Counters are cumulative: a later observation of a post never shows fewer views.
        auto& last = last_views[j["post"]["id"].get<std::string>()];
        if (last.first != 0) {
          if (*at > last.first) { EXPECT_GE(m["views"].get<int64_t>(), last.second) << line; }
          if (*at < last.first) { EXPECT_LE(m["views"].get<int64_t>(), last.second) << line; }
        }
        if (*at > last.first) last = {*at, m["views"].get<int64_t>()};
      }
    }
    previous_batch_micros = *batch_micros;
  }
  EXPECT_EQ(lines, stats.lines);
  EXPECT_EQ(copies, stats.redelivered);
  EXPECT_EQ(truncated + typed, stats.malformed);
  EXPECT_GT(truncated, 0);
  EXPECT_GT(typed, 0);
  EXPECT_GT(copies, 0);
  // A late line that was also cut short cannot be recognised as late here.
  EXPECT_LE(late, stats.late);
  EXPECT_GE(late + truncated, stats.late);
  EXPECT_GT(late, 0);
  EXPECT_GT(deepest_city_names, 0);
  // Truncated lines have no kind, so these are bounds.
  EXPECT_LE(posts, stats.posts);
  EXPECT_LE(observations, stats.observations);
  EXPECT_GE(posts + observations + truncated, stats.posts + stats.observations);
  EXPECT_GT(stats.observations, 5 * stats.posts);

  // DuckDB, an independent reader, sees the same events.
  auto rows = testing::DuckDBRows(
      "SELECT count(event_id)::INT AS n, count(DISTINCT event_id)::INT AS ids, count(device)::INT AS with_device, "
      "(count(*) FILTER (WHERE event_type = 'post_created'))::INT AS posts FROM read_json('" + out +
      "/*.json', format = 'newline_delimited', ignore_errors = true, "
      "columns = {event_id: 'VARCHAR', event_type: 'VARCHAR', device: 'VARCHAR'})");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["n"].get<int64_t>(), parsed_with_copies);
  EXPECT_EQ(rows[0]["ids"].get<int64_t>(), posts + observations);
  EXPECT_GE(rows[0]["with_device"].get<int64_t>(), with_device);
  EXPECT_EQ(rows[0]["posts"].get<int64_t>(), posts_with_copies);
}

}  // namespace
}  // namespace lakepipe::generator
