// The job server's route table (docs/jobs.md, "Serving"; docs/governance.md): every
// method and path `lakepipe job serve` answers, with what each needs of the identity
// asking. The server checks a request against it before any handler runs, and the job
// access-matrix test asks every route as every kind of caller and fails on a route it
// has no row for. (The pipeline server's table is server/api.h Routes().)
//
// Pure data and functions; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace lakepipe::jobs {

enum class JobRouteAccess {
  kOpen,      // no token needed (/health)
  kSignedIn,  // any identity: the jobs and their runs, the page's files (no table rows)
  kOperator,  // role operator or admin: starting a run
};
const char* JobRouteAccessName(JobRouteAccess access);

struct JobRoute {
  std::string method;   // GET (also answers HEAD) or POST
  std::string pattern;  // "/api/jobs/{job}/runs"; a {param} matches one path segment
  JobRouteAccess access;
  bool is_static;       // a file of the jobs page
};

// Every route, in documentation order.
const std::vector<JobRoute>& JobRoutes();
// The route `method` `path` matches (HEAD as GET), and its {param}; nullptr when none.
// `other_method` (may be null) is set when the path matches a route of another method.
const JobRoute* MatchJobRoute(const std::string& method, const std::string& path, std::string* param,
                              bool* other_method = nullptr);

}  // namespace lakepipe::jobs
