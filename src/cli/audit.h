// Command-line actions in the audit log (docs/governance.md): run, full refresh, query,
// publish, and `lakepipe table` vacuum/delete/optimize on a pipeline's tables, recorded in
// `<storage>/_audit` as the local OS user; `lakepipe job run` in the jobs storage's
// `_audit`, as the job server records the runs it starts. Included by the command files
// that record.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/status.h"

namespace lakepipe::cli {

struct AuditedAction {
  std::string action;  // run, full_refresh, query, publish, vacuum, delete, optimize, job_run
  std::string target;  // tables, a table, the SQL's pipeline
  std::string detail;  // e.g. the SQL of a query
  // Also record a `started` row before the action (a continuous run may never end
  // cleanly; its start is then still on record).
  bool record_start = false;
};

// Runs `body` for the pipeline in `folder` (with --set `sets`) and records its outcome.
// A record that cannot be written is reported on stderr as a warning (the action has
// happened; its status is returned unchanged).
Status AuditPipelineCommand(const std::string& folder, const std::vector<std::string>& sets,
                            const AuditedAction& what, const std::function<Status()>& body);
// The same for a `lakepipe table` command on a table folder: recorded only when the folder
// is a table of a pipeline's storage (its parent holds `_event_log` or `_checkpoints`).
Status AuditTableCommand(const std::string& table_folder, const AuditedAction& what,
                         const std::function<Status()>& body);

// Records one row of a `lakepipe job run` in `<jobs_storage>/_audit` (`pipeline` null):
// `outcome` is started, allowed (the run succeeded) or failed; `status` the exit status.
// A record that cannot be written is reported on stderr as a warning.
void RecordJobAction(const std::string& jobs_storage, const AuditedAction& what, const std::string& outcome,
                     int status);

}  // namespace lakepipe::cli
