// FileWatcher: wakes the continuous scheduler when files appear in a source folder
// (inotify, Linux), and when anyone calls Wake() (a signal handler stopping the run, an
// upstream commit in another thread).
//
// Each watched root is watched recursively: new subfolders are added as they appear.
// Events only say "look again"; which files are new is decided by the flow's listing
// against its durable record of ingested files (runtime/file_source.h), so a missed or
// coalesced event (inotify queue overflow) costs latency, never correctness, and the
// scheduler lists every source periodically anyway (the backstop).
//
// Thread-safety: Wake() is thread-safe and async-signal-safe; every other method is for
// the scheduler thread only. Call order: Watch roots, then Wait repeatedly.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace lakepipe::runtime {

class FileWatcher {
 public:
  FileWatcher();
  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  // Watches `root` (a folder, recursively; or a single file's folder) for files written
  // or moved in. A root that does not exist yet is retried on every Wait.
  Status Watch(const std::string& root);

  // Waits until a watched root changes, Wake() is called, or `timeout_ms` passes (-1:
  // forever). Returns the roots that changed (possibly none).
  Result<std::vector<std::string>> Wait(int64_t timeout_ms);

  void Wake();

 private:
  Status AddTree(const std::string& root, const std::string& dir);
  void RetryMissingRoots();

  int inotify_fd_ = -1;
  int wake_fd_ = -1;
  std::map<int, std::pair<std::string, std::string>> watches_;  // wd -> (root, folder)
  std::vector<std::string> missing_roots_;
};

}  // namespace lakepipe::runtime
