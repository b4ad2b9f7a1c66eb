// libFuzzer entry point for jobs.yaml (docs/jobs.md): any bytes must give a checked jobs
// file or a Status naming the place, never a crash, a hang or an escaping exception; for
// a file that loads, every task's command line is built and every schedule's next runs
// are evaluated (cron in its zone).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "jobs/job_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lakepipe::jobs;
  auto file = JobsFile::Parse("jobs.yaml", std::string(reinterpret_cast<const char*>(data), size));
  if (!file.ok()) return 0;
  for (const auto& job : file->jobs) {
    std::map<std::string, std::string> params = job.parameters;
    for (const char* b : {"run_id", "job", "date", "timestamp", "jobs_dir", "storage", "lakepipe"}) params[b].assign(1, 'x');
    for (const auto& task : job.tasks) (void)TaskArgv(task, "lakepipe", params);
    if (job.cron) {
      int64_t t = 1'790'000'000;  // 2026-09
      for (int i = 0; i < 3; ++i) {
        auto next = job.cron->Next(t, job.timezone);
        if (!next.ok()) break;
        if (*next <= t) __builtin_trap();  // runs must move forward
        t = *next;
      }
    }
  }
  return 0;
}
