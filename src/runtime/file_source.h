// The file source of read_files(...) (Auto Loader style): finds the files of a landing
// path that no earlier batch ingested, and reads a planned list of files into batches
// with the query's columns (data columns, the rescue column, then `_metadata.*`).
//
// Which files are listed (docs/continuous.md, "The file source"): the tree under the root,
// without following links to folders (into the tree they would list files twice, out of
// it they would reach anything, and both can loop), each folder entered once (by device
// and inode); a link to a file outside the tree is read as that file.
//
// Which files count as complete (docs/continuous.md):
//   - files whose name starts with '.' or '_' are never read (Spark's rule for hidden and
//     temporary files), so a producer writes `.name.tmp` and renames it into place: the
//     file appears whole or not at all;
//   - with the read_files option `fileStableMillis => n`, for writers that cannot rename,
//     a visible file is taken only once it was last modified at least n ms ago (a later
//     listing takes it when it is old enough);
//   - in continuous runs, a file that is empty or does not end as a complete file of its
//     format ends (CSV/JSON: a newline; Parquet: the "PAR1" footer magic) is still being
//     written: it waits until it is `unterminated_settle_micros` old (until then its last
//     line may be cut off mid-row).
// A planned file is read as exactly the bytes its plan recorded (`size`): bytes appended
// after planning are never read, and the read reports the file as changed
// (FileReadStats::changed_files; the runtime logs it as a warning event).
// docs/checkpoint.md describes how plans record the files of each batch. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/glob.h"
#include "common/status.h"
#include "sql/plan.h"
#include "types/batch.h"

namespace lakepipe::runtime {

struct SourceFileEntry {
  std::string path;  // relative to the source root ("" when the root is the file itself)
  int64_t size = 0;
  int64_t mtime_micros = 0;
};

// Which files of the tree a source takes: read_files' recursiveFileLookup and
// pathGlobFilter (on file names, as Spark). A file left out by either is not input at all:
// not listed, not counted as backlog, not reported.
struct FileSelection {
  bool recursive = true;          // false: only the files directly in the root folder
  std::optional<FileNameGlob> name_glob;
};

struct FileListOptions {
  FileSelection selection;
  int64_t max_files = 0;  // maxFilesPerTrigger; 0: no limit
  int64_t max_bytes = 0;  // maxBytesPerTrigger; 0: no limit (at least one file is taken)
  int64_t stable_micros = 0;     // fileStableMillis (as micros); 0: any visible file is complete
  bool include_existing = true;  // includeExistingFiles
  int64_t now_micros = 0;        // "now" for the stability rule
  bool line_delimited = true;    // csv / json (false: parquet), for the rule above
  // How long an empty or unterminated file waits; 0: taken as it is.
  int64_t unterminated_settle_micros = 0;
  // maxFileAge (as micros; 0: no limit): how far behind the newest taken file a file may
  // be and still be taken. The caller turns it into `horizon_micros`.
  int64_t max_file_age_micros = 0;
  // Files modified before this are not taken (FileListing::too_old); INT64_MIN: none.
  int64_t horizon_micros = std::numeric_limits<int64_t>::min();
};

// What one listing found: the files to take now, and how many complete or not-yet-stable
// files wait beyond the per-trigger limits (the backlog).
struct FileListing {
  std::vector<SourceFileEntry> files;
  int64_t backlog_files = 0;
  int64_t backlog_bytes = 0;
  // Microseconds until the youngest unstable file becomes stable (0: none waits).
  int64_t next_stable_in_micros = 0;
  // Links and folders the walk did not enter, each with the reason (a link to a folder,
  // a cycle, a link to nothing...), relative to the root: reported, never silent.
  std::vector<std::string> not_followed;
  // Files not known before that are older than options.horizon_micros: not taken.
  std::vector<SourceFileEntry> too_old;
  // Files not known before whose path (relative to the root) is not valid UTF-8: not
  // taken. The checkpoint records taken names as JSON text, which cannot hold them, so a
  // restart would not recognise such a file and would read it a second time.
  std::vector<SourceFileEntry> bad_names;
};

// Whether a file (its path relative to the root) is known already: taken, or known to be
// older than the horizon. Asked for every name before it is stat'ed.
using KnownFile = std::function<bool(const std::string& relative_path)>;

// Files under `root` (a folder, searched recursively, or a single file) not `known`,
// oldest first (modification time, then path), capped by the options.
Result<FileListing> ListNewFiles(FileSystem* fs, const std::string& root, const KnownFile& known,
                                 const FileListOptions& options);
// The same with the known files as a set of relative paths.
Result<FileListing> ListNewFiles(FileSystem* fs, const std::string& root,
                                 const std::set<std::string>& seen, const FileListOptions& options);

// Every selected file under `root` now (the includeExistingFiles = false starting point,
// and a batch read of read_files). `not_followed` (optional) receives what the walk left
// out, as FileListing::not_followed.
Result<std::vector<SourceFileEntry>> ListAllFiles(FileSystem* fs, const std::string& root, const FileSelection& selection,
                                                  std::vector<std::string>* not_followed = nullptr);

// Options read from read_files options (maxFilesPerTrigger, maxBytesPerTrigger,
// fileStableMillis, includeExistingFiles, recursiveFileLookup, pathGlobFilter, maxFileAge).
Result<FileListOptions> FileListOptionsFrom(const sql::ReadFilesSpec& spec);

struct FileReadStats {
  int64_t files = 0;
  int64_t rows = 0;
  int64_t rescued_rows = 0;
  int64_t bytes = 0;
  std::vector<std::pair<int64_t, int64_t>> rows_by_file_mtime;  // (mtime micros, rows) per file
  // Files whose size at reading differs from their planned size (written in place after
  // planning): only the planned bytes (or fewer, if it shrank) were read.
  struct ChangedFile {
    std::string path;  // as read (the source path joined with the file's)
    int64_t planned_size = 0;
    int64_t size = 0;
  };
  std::vector<ChangedFile> changed_files;
  // Batch reads (no plan): what the listing did not follow, as FileListing::not_followed.
  std::vector<std::string> not_followed;
};

// Reads `files` (relative to spec.path) into batches whose columns are `output_schema`
// (the resolved read_files node's schema), each file cut to its planned `size`.
Result<std::vector<RecordBatch>> ReadSourceFiles(FileSystem* fs, const sql::ReadFilesSpec& spec,
                                                 const std::vector<SourceFileEntry>& files,
                                                 const Schema& output_schema,
                                                 FileReadStats* stats);

// The same read as a stream of bounded batches (the format reader's, at most
// `batch_rows` rows each when batch_rows > 0), for a flow that processes a micro-batch
// batch by batch (docs/execution.md). ReadSourceFiles is this loop, collected.
// Stats are added to *stats as each file ends; fields the kept schema lacks stop the
// read at its end (StopForNewFields), after every file was read, as ReadSourceFiles.
// One thread at a time; spec, files and stats must outlive the stream.
class SourceFileStream {
 public:
  static Result<std::unique_ptr<SourceFileStream>> Open(FileSystem* fs, const sql::ReadFilesSpec& spec,
                                                        const std::vector<SourceFileEntry>& files,
                                                        const Schema& output_schema, FileReadStats* stats,
                                                        int64_t batch_rows = 0);
  ~SourceFileStream();
  // The next batch with rows; false at the end of the files.
  Result<bool> Next(RecordBatch* out);

  struct State;

 private:
  explicit SourceFileStream(std::unique_ptr<State> state);
  Status FinishFile();
  std::unique_ptr<State> state_;
};

}  // namespace lakepipe::runtime
