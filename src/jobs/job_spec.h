// JobsFile: a parsed and checked `jobs.yaml` (docs/jobs.md): jobs, each a DAG of tasks
// with a schedule, parameters and retry/timeout rules. Parsing owns every check of the
// file (unknown keys, unknown or cyclic dependencies, bad cron or zone, options not built
// yet), each error naming the file, line and column; a JobsFile that loaded is runnable.
// Task kinds that are lakepipe actions become the argv of the same CLI command
// (TaskArgv), run by the JobRunner.
//
// Value types; immutable after Load, safe to share between threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "jobs/cron.h"
#include "jobs/time_zone.h"

namespace lakepipe::jobs {

enum class TaskKind { kGenerate, kPipelineUpdate, kPublish, kTableOptimize, kTableVacuum, kCommand };
const char* TaskKindName(TaskKind kind);

struct TaskSpec {
  std::string name;
  TaskKind kind = TaskKind::kCommand;
  std::vector<std::string> depends_on;
  int retries = 0;                       // extra attempts after a failure
  int64_t retry_backoff_ms = 10'000;     // before the 1st retry; doubled each retry, capped
  int64_t retry_backoff_max_ms = 600'000;
  int64_t timeout_ms = 0;                // 0: none; else the task is killed (TERM, then KILL)
  std::string line;                      // "jobs.yaml:12:7", where the task is declared

  // generate
  std::string dataset;                   // orders, videos, ... (`lakepipe generate` domains)
  std::string out;
  std::map<std::string, std::string> options;  // --key value, in key order
  // pipeline_update, publish
  std::string pipeline;                  // pipeline folder
  bool full_refresh = false;
  std::vector<std::string> tables;       // the tables updated (--refresh), with full_refresh
                                         // the tables rebuilt (--full-refresh); empty: all
  std::map<std::string, std::string> set;  // --set key=value
  std::string table;                     // publish: one table; optimize/vacuum: the table folder
  bool rebuild = false;                  // publish --rebuild
  int64_t target_file_mb = 0;            // optimize
  std::optional<double> retain_hours;    // vacuum
  bool force = false;                    // vacuum --force (a retention below 168 hours)
  // command
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string cwd;
};

struct JobSpec {
  std::string name;
  std::string description;
  std::optional<CronSchedule> cron;
  TimeZone timezone;                     // of the schedule and of {{date}}
  std::map<std::string, std::string> parameters;  // defaults; --param k=v overrides
  int max_parallel = 2;                  // tasks running at once
  std::vector<TaskSpec> tasks;           // in dependency order (each after its dependencies)
  std::string line;

  const TaskSpec* FindTask(const std::string& name) const;
};

inline constexpr int64_t kDefaultLogRetentionMicros = 30LL * 86400 * 1000000;

struct JobsFile {
  std::string path;                      // the jobs.yaml as given
  std::string folder;                    // its folder: relative paths and task cwd start here
  std::string storage;                   // run history, locks and task logs (absolute or from folder)
  // `log_retention`: the job server deletes a run's task logs this long after their last
  // write (jobs/server_upkeep.h); at least an hour.
  int64_t log_retention_micros = kDefaultLogRetentionMicros;
  std::vector<JobSpec> jobs;
  bool has_governance = false;           // a `governance:` key (principals for `job serve`)

  // Reads and checks `path`.
  static Result<JobsFile> Load(const std::string& path);
  static Result<JobsFile> Parse(const std::string& path, const std::string& text);
  const JobSpec* FindJob(const std::string& name) const;
  // storage resolved against folder.
  std::string StoragePath() const;
};

// Replaces each {{name}} in `text` with params[name]; InvalidArgument naming an unknown
// parameter (and `where`).
Result<std::string> Substitute(const std::string& text, const std::map<std::string, std::string>& params,
                               const std::string& where);

// The command line of a task with parameters substituted: for lakepipe actions argv[0] is
// `lakepipe_binary` and the rest the CLI command of the action; for `command`, the
// task's argv.
Result<std::vector<std::string>> TaskArgv(const TaskSpec& task, const std::string& lakepipe_binary,
                                          const std::map<std::string, std::string>& params);

}  // namespace lakepipe::jobs
