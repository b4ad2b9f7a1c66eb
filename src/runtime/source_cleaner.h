// Source cleaning: read_files' cleanSource (Spark's file source option), what becomes of
// the files a flow's batch took once that batch is durably complete
// (docs/continuous.md, "Cleaning the source"):
//   'delete'  the file is removed from the source folder;
//   'archive' the file is moved under sourceArchiveDir, keeping its whole path as Spark
//             does (/landing/orders/2026/a.csv -> <archive>/landing/orders/2026/a.csv).
//
// Owns: the per-file deletions and moves, and the checks of an archive folder before the
// first move. Not owned: when to clean. The flow (runtime/streaming_flow.cc) calls
// CleanFiles for batch N only once N's Delta commit, its operator state and its commit
// record are durable, so a crash can never take away a file whose rows are not durably in
// the table, nor one that a replay of N would read again.
//
// Failures are not fatal: a file that could not be cleaned is returned with the error (the
// flow reports it as a WARN event and counts it); it stays in the folder and stays
// remembered by the source, so it is never read twice. A file already gone is no failure:
// a restart cleans again what a crash left half done.
//
// Free functions over a FileSystem; thread-safe for distinct sources (one flow cleans a
// folder: the planner refuses a cleaned folder that anything else reads).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "formats/options/read_options.h"
#include "runtime/batch_plan.h"
#include "sql/plan.h"

namespace lakepipe::runtime {

// One read_files source that cleans.
struct CleanTarget {
  std::string root;  // the source path as planned (a folder, or one file)
  formats::CleanSourceMode mode = formats::CleanSourceMode::kOff;
  std::string archive_dir;  // kArchive: sourceArchiveDir
};

// Where 'archive' puts the file at `relative` (relative to target.root; "" when the root
// is the file itself): the archive folder followed by the file's whole path.
std::string ArchivePathOf(const CleanTarget& target, const std::string& relative);

// Before the first move of a run: creates the archive folder and refuses it
// (InvalidArgument naming sourceArchiveDir) when it lies on another file system than the
// source folder (a move is a rename, which cannot cross file systems; Spark refuses this
// too), or when, links resolved, it is the source folder, lies inside it or holds it
// (the planner checks the paths as written). A source folder that does not exist yet is
// not checked (nothing to move).
Status PrepareArchiveDir(FileSystem* fs, const CleanTarget& target);

struct CleanResult {
  int64_t cleaned = 0;  // deleted or moved now (not those already gone)
  struct Failure {
    std::string path;   // the file, source root joined with its relative path
    std::string error;  // why it stays
  };
  std::vector<Failure> failures;
};

// Cleans one batch's `files` (relative to target.root, as planned). 'delete' leaves a
// file whose size or time differs from its plan (written to after it was taken: bytes past
// the planned size were never read) and reports it. 'archive' moves each file with one
// rename (it is in the source or in the archive at every instant) and never replaces a
// file in the archive: a name taken there already is a failure, as in Spark. Before it
// returns, every folder it changed is synced (the archive's first), so that a power cut
// cannot bring the cleaned files back; a folder that cannot be synced is a failure too.
CleanResult CleanFiles(FileSystem* fs, const CleanTarget& target, const std::vector<PlannedFile>& files);

// The read_files scans among `scans` that clean, by source path (as plans name them),
// their archive folders checked (PrepareArchiveDir). A source path that is one file is
// refused (cleaning it would remove the source). Errors name the scan's file:line:col.
Result<std::map<std::string, CleanTarget>> CleanTargetsOf(FileSystem* fs,
                                                          const std::vector<const sql::PlanNode*>& scans);

// Cleans what `plan` took from each source of `targets` (not its skippedExisting files:
// those were never read). One warning per source whose files were not all cleaned, naming
// the first few with their errors.
struct PlanCleaning {
  int64_t cleaned = 0;
  int64_t not_cleaned = 0;
  std::vector<std::string> warnings;
};
PlanCleaning CleanPlannedFiles(FileSystem* fs, const BatchPlan& plan,
                               const std::map<std::string, CleanTarget>& targets);

}  // namespace lakepipe::runtime
