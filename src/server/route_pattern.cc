#include "server/route_pattern.h"

#include <string_view>

namespace lakepipe::server {

bool MatchRoutePattern(const std::string& pattern, const std::string& path, std::string* captured) {
  if (pattern.empty() || pattern[0] != '/' || path.empty() || path[0] != '/') return false;
  std::string_view p(pattern), s(path);
  size_t pi = 1, si = 1;  // past the leading '/'
  std::string_view braced;
  for (;;) {
    size_t pe = p.find('/', pi), se = s.find('/', si);
    std::string_view part = p.substr(pi, pe == std::string_view::npos ? std::string_view::npos : pe - pi);
    std::string_view seg = s.substr(si, se == std::string_view::npos ? std::string_view::npos : se - si);
    if (!part.empty() && part.front() == '{') {
      if (seg.empty()) return false;
      braced = seg;
    } else if (part != seg) {
      return false;
    }
    if (pe == std::string_view::npos || se == std::string_view::npos) {
      if (pe != se) return false;  // one has more segments than the other
      break;
    }
    pi = pe + 1;
    si = se + 1;
  }
  if (captured != nullptr) captured->assign(braced);
  return true;
}

}  // namespace lakepipe::server
