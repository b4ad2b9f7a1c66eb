// JobServer: what `lakepipe job serve` runs (docs/jobs.md "Serving"): the scheduler loop,
// which starts each scheduled job at its time (a run per thread; a run of a job that is
// still running is skipped and recorded by the runner's lock), and an HTTP server with
// the jobs API and the jobs page; its routes are the table of jobs/job_routes.h:
//   GET  /health
//   GET  /api/jobs                 jobs with schedule, next run, tasks, running, last run
//   GET  /api/jobs/runs?job=&limit=  runs newest first, each with its task attempts
//   POST /api/jobs/{job}/runs      starts a run now (role operator or admin)
//   GET  / and /jobs               the jobs page (web/jobs.html), its files under /assets/
//
// Access (docs/governance.md): tokens are the `governance:` principals of jobs.yaml (the
// same principals and grants file as pipelines) and the plain --token tokens (admin).
// Bound to loopback by default; elsewhere Start refuses without a token; with tokens every
// path but /health needs `Authorization: Bearer` (or ?access_token=, which sets a cookie
// for the page's files). The principals are reloaded when their files change or on SIGHUP
// (governance/policy_reloader.h). Runs, their triggers and every denial are recorded in
// the audit table `<jobs storage>/_audit` before the answer is sent. A minute after Start
// and then daily the server VACUUMs that table and the run history, and deletes task logs
// past the jobs file's log_retention (jobs/server_upkeep.h).
//
// Use: construct, Start, then Stop (or the destructor) from the same thread; the
// JobsFile must outlive the server. Runs still going at Stop are stopped (cancelled).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "jobs/job_spec.h"

namespace lakepipe::jobs {

struct JobServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                   // 0: any free port
  std::vector<std::string> tokens;
  std::string lakepipe_binary;       // for lakepipe tasks
  Clock* clock = Clock::System();
  bool run_schedules = true;         // false: serve the history only
  int64_t policy_poll_ms = 2000;     // governance files checked this often (0: SIGHUP only)
};

class JobServer {
 public:
  explicit JobServer(const JobsFile& file);
  ~JobServer();
  JobServer(const JobServer&) = delete;
  JobServer& operator=(const JobServer&) = delete;

  Status Start(const JobServerOptions& options);
  void Stop();
  int port() const;
  std::string url() const;

  struct Impl;

 private:
  const JobsFile& file_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lakepipe::jobs
