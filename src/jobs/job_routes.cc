#include "jobs/job_routes.h"

#include "server/route_pattern.h"

namespace lakepipe::jobs {

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
  for (const auto& route : JobRoutes()) {
    if (!server::MatchRoutePattern(route.pattern, path, param)) continue;
    if (route.method == m) return &route;
    if (other_method != nullptr) *other_method = true;
  }
  return nullptr;
}

}  // namespace lakepipe::jobs
