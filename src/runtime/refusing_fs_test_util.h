// RefusingFs: a FileSystem over the real one that refuses to remove or move the files
// named `refused` (EACCES), as a read-only folder would for a user other than root (tests
// may run as root, which ignores folder modes), and reports `other_device` as a folder on
// a file system of its own. For the tests of source cleaning (clean_source_test.cc,
// source_cleaner_test.cc). Test-only; not thread-safe beyond the base's guarantees.
#pragma once

#include <cerrno>
#include <string>

#include "common/fs.h"
#include "testing/testing.h"

namespace lakepipe::runtime {

class RefusingFs : public FaultInjectingFileSystem {
 public:
  RefusingFs() : FaultInjectingFileSystem(FileSystem::Default()) {}
  Status RemoveFile(const std::string& path) override {
    if (BaseName(path) == refused) return Status::FromErrno(EACCES, "remove " + path);
    return FaultInjectingFileSystem::RemoveFile(path);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    if (BaseName(from) == refused) return Status::FromErrno(EACCES, "rename " + from + " to " + to);
    return FaultInjectingFileSystem::Rename(from, to);
  }
  Result<FileInfo> Stat(const std::string& path) override {
    LP_ASSIGN_OR_RETURN(FileInfo info, FaultInjectingFileSystem::Stat(path));
    if (!other_device.empty() && path == other_device) info.device += 1;
    return info;
  }
  std::string refused;
  std::string other_device;
};

}  // namespace lakepipe::runtime
