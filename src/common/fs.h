// FileSystem: every byte lakepipe reads or writes goes through this interface, so that
// tests can inject faults (ENOSPC, EIO, short writes) at any write, fsync, rename or link.
//
// The primitives are virtual; the durable helpers (WriteFileAtomic, PutIfAbsent) are built
// on them, so an injected fault hits each step of a commit. FileSystem::Default() is the
// POSIX implementation; it and its files are thread-safe for distinct files. A
// WritableFile or RandomAccessFile is owned by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lakepipe {

struct FileInfo {
  std::string name;           // base name (ListDir) or the path asked for (Stat)
  int64_t size = 0;
  int64_t mtime_micros = 0;   // modification time, microseconds since the Unix epoch
  bool is_dir = false;
  // ListNames: the entry is a symbolic link (is_dir then says what it points to). Stat:
  // the device and inode of what the path resolves to, so that a walk can tell a folder
  // it already visited (a link cycle) from a new one.
  bool is_symlink = false;
  uint64_t device = 0;
  uint64_t inode = 0;
};

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual Status Sync() = 0;   // fdatasync: data is durable when this returns OK
  virtual Status Close() = 0;  // idempotent; the destructor closes without reporting
  virtual int64_t Size() const = 0;  // bytes appended so far
};

class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  virtual int64_t Size() const = 0;
  // Reads exactly `n` bytes at `offset` into `out`; a read past the end is Corruption.
  virtual Status ReadAt(int64_t offset, int64_t n, char* out) const = 0;
  const std::string& path() const { return path_; }

 protected:
  std::string path_;
};

enum class CreateMode { kTruncate, kExclusive };

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  static FileSystem* Default();

  // --- primitives -------------------------------------------------------------------
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                                CreateMode mode) = 0;
  virtual Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Hard link; AlreadyExists when `to` exists. The basis of put-if-absent.
  virtual Status Link(const std::string& from, const std::string& to) = 0;
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  virtual Status CreateDirs(const std::string& path) = 0;
  virtual Result<std::vector<FileInfo>> ListDir(const std::string& dir) = 0;  // sorted by name
  // As ListDir, but only name and is_dir are filled (size and mtime are 0): no stat per
  // entry, for folders with many files of which few are of interest.
  virtual Result<std::vector<FileInfo>> ListNames(const std::string& dir) { return ListDir(dir); }
  virtual Result<FileInfo> Stat(const std::string& path) = 0;
  // The absolute path with every symbolic link resolved (realpath). The default, for file
  // systems without links, returns `path` unchanged.
  virtual Result<std::string> RealPath(const std::string& path) { return path; }

  // --- helpers built on the primitives ----------------------------------------------
  bool Exists(const std::string& path);
  Result<std::string> ReadFile(const std::string& path);
  // Writes `data` to a temporary file beside `path`, fsyncs it, renames it over `path`
  // and fsyncs the directory. Readers see the old or the new content, never a mix.
  Status WriteFileAtomic(const std::string& path, std::string_view data);
  // As WriteFileAtomic, but never replaces an existing file: AlreadyExists if `path` is
  // there (the loser of a race gets this). Used for Delta commits.
  Status PutIfAbsent(const std::string& path, std::string_view data);
  // Creates or truncates `path` with `data` and fsyncs it (not atomic).
  Status WriteFile(const std::string& path, std::string_view data);
  // Removes a file or a whole directory tree; OK if it does not exist.
  Status RemoveAll(const std::string& path);
};

// Wraps another FileSystem and fails chosen operations, for tests of every write path.
// Operations are counted across all files; `FailAt(n, ...)` makes the n-th counted
// operation (1-based) fail. Thread-safe.
class FaultInjectingFileSystem : public FileSystem {
 public:
  enum class Op { kAppend, kSync, kRename, kLink, kSyncDir, kCreate };
  enum class Fault { kNoSpace, kIOError, kShortWrite };

  explicit FaultInjectingFileSystem(FileSystem* base) : base_(base) {}

  // Fails the n-th operation counted from now (n >= 1) with `fault`. kShortWrite only
  // applies to kAppend: half the data is written, then EIO.
  void FailAt(int64_t n, Fault fault);
  // Stops injecting and resets the counter.
  void Clear();
  int64_t operations() const;  // operations counted since the last FailAt/Clear
  bool fired() const;          // whether the armed fault was injected

  // Returns a non-OK status when this operation is the one chosen to fail. For the
  // wrapped files; not meant for callers.
  Status Check(Op op, const std::string& path, bool* short_write);

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        CreateMode mode) override;
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    return base_->NewRandomAccessFile(path);
  }
  Status Rename(const std::string& from, const std::string& to) override;
  Status Link(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& dir) override;
  Status RemoveFile(const std::string& path) override { return base_->RemoveFile(path); }
  Status CreateDirs(const std::string& path) override { return base_->CreateDirs(path); }
  Result<std::vector<FileInfo>> ListDir(const std::string& dir) override {
    return base_->ListDir(dir);
  }
  Result<std::vector<FileInfo>> ListNames(const std::string& dir) override { return base_->ListNames(dir); }
  Result<FileInfo> Stat(const std::string& path) override { return base_->Stat(path); }
  Result<std::string> RealPath(const std::string& path) override { return base_->RealPath(path); }

 private:
  FileSystem* base_;
  mutable std::mutex mu_;
  int64_t count_ = 0;
  int64_t fail_at_ = 0;  // 0: disarmed
  Fault fault_ = Fault::kIOError;
  bool fired_ = false;
};

// Path helpers (plain string manipulation, '/' separated).
std::string JoinPath(std::string_view a, std::string_view b);
std::string DirName(std::string_view path);
std::string BaseName(std::string_view path);

}  // namespace lakepipe
