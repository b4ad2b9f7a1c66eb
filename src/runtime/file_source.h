// The file source of read_files(...) (Auto Loader style): finds the files of a landing
// path that no earlier batch ingested, and reads a planned list of files into batches
// with the query's columns (data columns, the rescue column, then `_metadata.*`).
//
// Which files count as complete: files whose name starts with '.' or '_' are never read
// (Spark's rule for hidden and temporary files), so a producer writes `.name.tmp` and
// renames it into place; a file appears whole or not at all. docs/checkpoint.md
// describes how plans record the files of each batch. Pure functions; thread-safe.
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
};

// Files under `root` (a folder, searched recursively, or a single file) not in `seen`,
// oldest first (modification time, then path), capped by the options.
Result<std::vector<SourceFileEntry>> ListNewFiles(FileSystem* fs, const std::string& root,
                                                  const std::set<std::string>& seen,
                                                  const FileListOptions& options);

// Limits read from read_files options (maxFilesPerTrigger, maxBytesPerTrigger).
Result<FileListOptions> FileListOptionsFrom(const sql::ReadFilesSpec& spec);

struct FileReadStats {
  int64_t files = 0;
  int64_t rows = 0;
  int64_t rescued_rows = 0;
  int64_t bytes = 0;
};

// Reads `files` (relative to spec.path) into batches whose columns are `output_schema`
// (the resolved read_files node's schema).
Result<std::vector<RecordBatch>> ReadSourceFiles(FileSystem* fs, const sql::ReadFilesSpec& spec,
                                                 const std::vector<SourceFileEntry>& files,
                                                 const Schema& output_schema,
                                                 FileReadStats* stats);

}  // namespace lakepipe::runtime
