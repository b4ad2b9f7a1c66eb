// `lakepipe generate videos`: seed 003's social-media video events, as JSON lines in one
// file per ingestion batch (two a day, 08h and 20h, by default), for the video-metrics
// example, its tests and demos. The format is documented in docs/generate.md ("videos").
//
// Two kinds of event: `post_created` (a video post of an institution on a network, with
// nested objects and hashtags) and `views_observed` (cumulative view/like/comment/share
// counters of a post at a time). Like a real feed it has flaws, at documented rates:
// malformed lines (cut short, or a counter as text), late events (delivered one to three
// batches after the batch their time belongs to), re-deliveries (an exact copy of an
// event in the next batch), and optionally a new top-level field from a given day on.
//
// Determinism: the same options give the same files byte for byte. Pure apart from the
// files it writes; thread-compatible. Call GenerateVideos once per output folder.
#pragma once

#include <cstdint>
#include <string>

#include "common/fs.h"
#include "common/status.h"

namespace lakepipe::generator {

struct VideoOptions {
  uint64_t seed = 1;
  int days = 10;
  int batches_per_day = 2;          // batch hours spread over 08h..20h (1: 08h only)
  std::string start_date = "2026-01-01";
  int posts_per_day = 40;           // new posts a day, over all networks
  int new_field_day = 0;            // from this day (1-based) events carry `device`; 0: never
};

struct VideoStats {
  int64_t files = 0;
  int64_t lines = 0;                // every line written, flawed ones included
  int64_t bytes = 0;
  int64_t posts = 0;                // post_created events (first deliveries)
  int64_t observations = 0;         // views_observed events (first deliveries)
  int64_t late = 0;                 // events delivered after the batch their time belongs to
  int64_t redelivered = 0;          // exact copies of an event already delivered
  int64_t malformed = 0;            // lines that are not valid JSON or have a counter as text
};

// Writes `out_dir/videos_<yyyy-mm-dd>T<hh>.json` for every batch (the folder is created;
// existing files of the same names are replaced, each atomically).
Status GenerateVideos(FileSystem* fs, const VideoOptions& options, const std::string& out_dir,
                      VideoStats* stats = nullptr);

}  // namespace lakepipe::generator
