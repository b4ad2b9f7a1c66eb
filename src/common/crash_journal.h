// Power-cut simulation for crash tests (docs/crash-testing.md, "Power loss").
//
// A SIGKILL loses nothing the process wrote: the kernel keeps every page. A power cut
// loses what was not fsynced: appended bytes after the last fsync of a file, and directory
// entries (a new file, a rename, a removal) not followed by an fsync of their directory.
// kill -9 tests therefore cannot find a missing fsync; this can:
//
//   1. JournalingFileSystem wraps the real file system and appends one line per mutating
//      operation to a journal (create, fsync with the size made durable, rename, link,
//      remove, directory fsync). A file that is about to lose a name (removed, or replaced
//      by a rename or a truncating create) is first hard-linked (or copied) into
//      `<journal>.keep/`, so its content survives for step 2.
//   2. After the process is killed, SimulatePowerLoss(journal) rewinds every path the
//      journal touched to what a power cut would have left: the binding of the path as of
//      the last fsync of its directory (or as before the journal, if never), each file cut
//      to the size of its last fsync.
//
// RocksDB's files are journaled too when the state stores open through
// state::StateDbOptions() (state/rocks_util.h). Not covered: directory creation and renames
// of directories (treated as durable), RocksDB files reopened for appending.
//
// FileSystem::Default() is a JournalingFileSystem when LAKEPIPE_CRASH_JOURNAL names a
// journal file (kill-point builds only; see common/kill_point.h). Thread-safe: each record
// is one O_APPEND write.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "common/fs.h"

namespace lakepipe {

class JournalingFileSystem : public FileSystem {
 public:
  // Appends to `journal_path` (created if absent); `base` must outlive this.
  static Result<std::unique_ptr<JournalingFileSystem>> Open(FileSystem* base, const std::string& journal_path);
  ~JournalingFileSystem() override;

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, CreateMode mode) override;
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    return base_->NewRandomAccessFile(path);
  }
  Status Rename(const std::string& from, const std::string& to) override;
  Status Link(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& dir) override;
  Status RemoveFile(const std::string& path) override;
  Status CreateDirs(const std::string& path) override { return base_->CreateDirs(path); }
  Result<std::vector<FileInfo>> ListDir(const std::string& dir) override { return base_->ListDir(dir); }
  Result<std::vector<FileInfo>> ListNames(const std::string& dir) override { return base_->ListNames(dir); }
  Result<FileInfo> Stat(const std::string& path) override { return base_->Stat(path); }
  Result<std::string> RealPath(const std::string& path) override { return base_->RealPath(path); }

  // The journal's records, for wrappers of other file systems (RocksDB's: state/) that
  // journal into the same file. Call KeepBeforeLosing before the operation that takes the
  // name away, the Note* functions after an operation succeeded.
  // Keeps the file now named `path` (if any) in the keep folder; `copy` when the operation
  // destroys the content in place (a truncating create) rather than the name.
  Status KeepBeforeLosing(const std::string& path, bool copy);
  int64_t NoteCreated(const std::string& path);  // returns the file's id for NoteSynced
  void NoteSynced(int64_t file_id, int64_t durable_size);
  void NoteRenamed(const std::string& from, const std::string& to);
  void NoteLinked(const std::string& from, const std::string& to);
  void NoteRemoved(const std::string& path);
  void NoteDirSynced(const std::string& dir);

 private:
  JournalingFileSystem(FileSystem* base, std::string journal_path, int fd);
  void Record(const std::string& line);

  FileSystem* base_;
  std::string journal_path_;
  int fd_;
  std::atomic<int64_t> next_file_{0};
  std::atomic<int64_t> next_keep_{0};
};

// Rewinds the paths `journal_path` recorded to their state after a power cut at the end of
// the journal (see above), then removes the journal's keep folder. Corruption if the
// journal is malformed.
Status SimulatePowerLoss(const std::string& journal_path);

// FileSystem::Default()'s wrapper when LAKEPIPE_FAULT_AT=N[:enospc|eio|short] is set (a
// kill-point build; docs/crash-testing.md, "I/O faults"): the N-th append, fsync, rename,
// link, folder sync or create fails; at exit the process prints whether the fault fired,
// or with N = 0 how many operations it made. nullptr when the variable is not set. (Here
// rather than in fs.h: only Default() and tests need it.)
FileSystem* FaultInjectingDefaultFromEnvironment(FileSystem* posix);

// The journaling wrapper of FileSystem::Default()'s POSIX file system when
// LAKEPIPE_CRASH_JOURNAL is set, else nullptr (called once by Default()).
FileSystem* JournalingDefaultFromEnvironment(FileSystem* posix);

}  // namespace lakepipe
