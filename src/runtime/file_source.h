// The file source of read_files(...) (Auto Loader style): finds the files of a landing
// path that no earlier batch ingested, and reads a planned list of files into batches
// with the query's columns (data columns, the rescue column, then `_metadata.*`).
//
// Which files count as complete (docs/file-source.md):
//   - files whose name starts with '.' or '_' are never read (Spark's rule for hidden and
//     temporary files), so a producer writes `.name.tmp` and renames it into place: the
//     file appears whole or not at all;
//   - with the read_files option `fileStableMillis => n`, for writers that cannot rename,
//     a visible file is taken only once it was last modified at least n ms ago (a later
//     listing takes it when it is old enough).
// docs/checkpoint.md describes how plans record the files of each batch. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "sql/plan.h"
#include "types/batch.h"

namespace lakepipe::runtime {

struct SourceFileEntry {
  std::string path;  // relative to the source root ("" when the root is the file itself)
  int64_t size = 0;
  int64_t mtime_micros = 0;
};

struct FileListOptions {
  int64_t max_files = 0;  // maxFilesPerTrigger; 0: no limit
  int64_t max_bytes = 0;  // maxBytesPerTrigger; 0: no limit (at least one file is taken)
  int64_t stable_micros = 0;     // fileStableMillis (as micros); 0: any visible file is complete
  bool include_existing = true;  // includeExistingFiles
  int64_t now_micros = 0;        // "now" for the stability rule
};

// What one listing found: the files to take now, and how many complete or not-yet-stable
// files wait beyond the per-trigger limits (the backlog).
struct FileListing {
  std::vector<SourceFileEntry> files;
  int64_t backlog_files = 0;
  int64_t backlog_bytes = 0;
  // Microseconds until the youngest unstable file becomes stable (0: none waits).
  int64_t next_stable_in_micros = 0;
};

// Files under `root` (a folder, searched recursively, or a single file) not in `seen`,
// oldest first (modification time, then path), capped by the options.
Result<FileListing> ListNewFiles(FileSystem* fs, const std::string& root,
                                 const std::set<std::string>& seen, const FileListOptions& options);

// Every complete file under `root` now (the includeExistingFiles = false starting point).
Result<std::vector<SourceFileEntry>> ListAllFiles(FileSystem* fs, const std::string& root);

// Options read from read_files options (maxFilesPerTrigger, maxBytesPerTrigger,
// fileStableMillis, includeExistingFiles).
Result<FileListOptions> FileListOptionsFrom(const sql::ReadFilesSpec& spec);

struct FileReadStats {
  int64_t files = 0;
  int64_t rows = 0;
  int64_t rescued_rows = 0;
  int64_t bytes = 0;
  std::vector<std::pair<int64_t, int64_t>> rows_by_file_mtime;  // (mtime micros, rows) per file
};

// Reads `files` (relative to spec.path) into batches whose columns are `output_schema`
// (the resolved read_files node's schema).
Result<std::vector<RecordBatch>> ReadSourceFiles(FileSystem* fs, const sql::ReadFilesSpec& spec,
                                                 const std::vector<SourceFileEntry>& files,
                                                 const Schema& output_schema,
                                                 FileReadStats* stats);

}  // namespace lakepipe::runtime
