// The dashboard's static files (web/*) and the chart library (echarts.min.js), compiled
// into the binary at build time (cmake/EmbedAssets.cmake), so that `lakepipe serve` and
// `lakepipe run` serve the dashboard with no files beside the binary.
//
// Thread-safety: the data is immutable; FindAsset may be called from any thread.
#pragma once

#include <string_view>

namespace lakepipe::web {

struct Asset {
  std::string_view path, content_type, data;
};

// The asset served at a URL path, or nullptr when there is none: "/" and "/index.html" are
// the page; the page's other files are "/assets/<name>" (web/app.js is "/assets/app.js")
// and the chart library is "/assets/echarts.min.js". The query string, if any, must be
// removed first. Paths are matched exactly ("/assets/../x" is not found).
const Asset* FindAsset(std::string_view path);

}  // namespace lakepipe::web
