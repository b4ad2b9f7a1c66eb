#include "jobs/job_routes.h"

namespace lakepipe::jobs {

namespace {

std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  size_t at = 1;  // past the leading '/'
  while (at <= path.size()) {
    size_t slash = path.find('/', at);
    if (slash == std::string::npos) slash = path.size();
    out.push_back(path.substr(at, slash - at));
    at = slash + 1;
  }
  return out;
}

bool Matches(const std::string& pattern, const std::vector<std::string>& segments, std::string* param) {
  std::vector<std::string> parts = Segments(pattern);
  if (parts.size() != segments.size()) return false;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].empty() && parts[i].front() == '{') {
      if (segments[i].empty()) return false;
      if (param != nullptr) *param = segments[i];
    } else if (parts[i] != segments[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

const char* JobRouteAccessName(JobRouteAccess access) {
  switch (access) {
    case JobRouteAccess::kOpen: return "open";
    case JobRouteAccess::kSignedIn: return "signed in";
    case JobRouteAccess::kOperator: return "operator";
  }
  return "?";
}

const std::vector<JobRoute>& JobRoutes() {
  static const std::vector<JobRoute> kRoutes = {
      {"GET", "/health", JobRouteAccess::kOpen, false},
      {"GET", "/api/jobs", JobRouteAccess::kSignedIn, false},
      {"GET", "/api/jobs/runs", JobRouteAccess::kSignedIn, false},
      {"POST", "/api/jobs/{job}/runs", JobRouteAccess::kOperator, false},
      {"GET", "/", JobRouteAccess::kSignedIn, true},
      {"GET", "/jobs", JobRouteAccess::kSignedIn, true},
      {"GET", "/assets/{file}", JobRouteAccess::kSignedIn, true},
  };
  return kRoutes;
}

const JobRoute* MatchJobRoute(const std::string& method, const std::string& path, std::string* param,
                              bool* other_method) {
  if (other_method != nullptr) *other_method = false;
  if (path.empty() || path[0] != '/') return nullptr;
  std::string m = method == "HEAD" ? "GET" : method;
  std::vector<std::string> segments = Segments(path);
  for (const auto& route : JobRoutes()) {
    if (!Matches(route.pattern, segments, param)) continue;
    if (route.method == m) return &route;
    if (other_method != nullptr) *other_method = true;
  }
  return nullptr;
}

}  // namespace lakepipe::jobs
