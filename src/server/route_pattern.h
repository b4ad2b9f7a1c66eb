// Route patterns of the HTTP servers (the pipeline server's table in server/api.cc, the
// job server's in jobs/job_routes.cc): a path of '/'-separated segments where a segment
// in braces ("{name}") stands for any one non-empty segment. One matcher for both, so the
// two servers cannot disagree on what a path means.
//
// Pure function; thread-safe.
#pragma once

#include <string>

namespace lakepipe::server {

// True when `path` (starting with '/') has `pattern`'s segments; then `*captured` (when
// not null) is the segment that stood for the braced one (empty when there is none). On
// no match `*captured` is left as it was.
bool MatchRoutePattern(const std::string& pattern, const std::string& path, std::string* captured);

}  // namespace lakepipe::server
