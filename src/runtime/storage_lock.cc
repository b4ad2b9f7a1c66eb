#include "runtime/storage_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "common/fs.h"

namespace lakepipe::runtime {

StorageLock::~StorageLock() { Release(); }

StorageLock::StorageLock(StorageLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

StorageLock& StorageLock::operator=(StorageLock&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void StorageLock::Release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<StorageLock> StorageLock::Acquire(const std::string& storage, const std::string& purpose) {
  LP_RETURN_IF_ERROR(FileSystem::Default()->CreateDirs(storage));
  std::string path = JoinPath(storage, kStorageLockFile);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {0};
    ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    ::close(fd);
    std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : std::string();
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    return Status::Aborted("pipeline storage " + storage + " is in use by another lakepipe run" +
                           (holder.empty() ? std::string() : " (pid " + holder + ")") + "; stop it before the " +
                           purpose + " (a pipeline's tables have one writer)");
  }
  std::string me = std::to_string(::getpid());
  if (::ftruncate(fd, 0) == 0) {
    ssize_t ignored = ::pwrite(fd, me.data(), me.size(), 0);
    (void)ignored;
  }
  StorageLock lock;
  lock.fd_ = fd;
  return lock;
}

Result<StorageLock> StorageLock::AcquireShared(const std::string& table_folder, const std::string& purpose) {
  LP_RETURN_IF_ERROR(FileSystem::Default()->CreateDirs(table_folder));
  std::string path = JoinPath(table_folder, kStorageLockFile);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    char pid[32] = {0};
    ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    ::close(fd);
    std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : std::string();
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    return Status::Aborted("table " + table_folder + " is being rewritten" +
                           (holder.empty() ? std::string() : " (pid " + holder + ")") + "; the " + purpose +
                           " waits for it to finish");
  }
  // No exclusive holder is left: a pid in the file is stale (shared holders write none).
  if (::ftruncate(fd, 0) != 0) {
  }
  StorageLock lock;
  lock.fd_ = fd;
  return lock;
}

std::string StorageLock::StorageOf(const std::string& table_path) {
  char resolved[PATH_MAX];
  std::string dir = ::realpath(table_path.c_str(), resolved) != nullptr ? std::string(resolved) : table_path;
  struct stat own{};
  if (::stat(JoinPath(dir, kStorageLockFile).c_str(), &own) == 0) return dir;
  while (!dir.empty() && dir != "/" && dir != ".") {
    dir = DirName(dir);
    if (dir.empty()) break;
    // A storage folder that no run has locked yet is recognised by what runs leave there.
    for (const char* marker : {kStorageLockFile, "_checkpoints", "_event_log"}) {
      struct stat st{};
      if (::stat(JoinPath(dir, marker).c_str(), &st) == 0) return dir;
    }
  }
  return std::string();
}

}  // namespace lakepipe::runtime
