// StorageLock: the exclusive lock on `<storage>/_lakepipe.lock` that makes one process the
// only writer of a pipeline's storage folder (its tables and checkpoints). A run holds it
// from its first update until it ends; `table vacuum` and `table optimize` of a table
// inside a storage folder hold it while they rewrite or delete files, so they never run
// during a run (VACUUM --retain 0 would delete files a running update still commits).
//
// The lock is flock(2) on the file, so it is released when the process dies, however it
// dies; the file keeps the holder's pid as text for the message of whoever is refused.
//
// Thread-safety: a StorageLock is owned by one thread; Acquire may be called from any.
#pragma once

#include <string>

#include "common/status.h"

namespace lakepipe::runtime {

class StorageLock {
 public:
  StorageLock() = default;
  ~StorageLock();  // releases
  StorageLock(StorageLock&& other) noexcept;
  StorageLock& operator=(StorageLock&& other) noexcept;
  StorageLock(const StorageLock&) = delete;
  StorageLock& operator=(const StorageLock&) = delete;

  // Takes the lock of `storage` (creating the folder and the lock file), without waiting.
  // Aborted, naming the holder's pid, when another process (or another StorageLock of
  // this process) holds it; `purpose` says what was refused ("run", "vacuum").
  static Result<StorageLock> Acquire(const std::string& storage, const std::string& purpose);

  // A shared lock on `<table_folder>/_lakepipe.lock`, held by each run that appends to a
  // table at a LOCATION (docs/scale-out.md): any number of runs hold it together, while
  // Acquire of the same folder (OPTIMIZE, VACUUM, DELETE: StorageOf finds the table
  // folder's own lock file first) is refused until they stop. Aborted while an exclusive
  // holder has it.
  static Result<StorageLock> AcquireShared(const std::string& table_folder, const std::string& purpose);

  // The folder whose `_lakepipe.lock` governs `table_path`: the table folder itself when
  // it holds one (a table at a LOCATION that runs share), else the nearest folder above the
  // table that holds `_lakepipe.lock`, `_checkpoints` or `_event_log`; empty when there
  // is none (a table outside any pipeline storage).
  static std::string StorageOf(const std::string& table_path);

  bool held() const { return fd_ >= 0; }
  void Release();

 private:
  int fd_ = -1;
};

inline constexpr const char* kStorageLockFile = "_lakepipe.lock";

}  // namespace lakepipe::runtime
