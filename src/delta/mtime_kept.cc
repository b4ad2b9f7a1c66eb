#include "delta/mtime_kept.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lakepipe::delta {

namespace {

Status Errno(const std::string& what, const std::string& path) {
  const int err = errno;
  std::string message = what + " " + path + ": " + std::strerror(err);
  return err == ENOENT ? Status::NotFound(message) : Status::IOError(message);
}

}  // namespace

Status KeepRemovedFileByTime(const std::string& path, int64_t at_least_millis) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  struct stat st {};
  Status result;
  if (::fstat(fd, &st) != 0) {
    result = Errno("cannot stat", path);
  } else {
    const int64_t current_millis = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
    if (current_millis < at_least_millis) {
      struct timespec times[2];
      times[0].tv_sec = 0;
      times[0].tv_nsec = UTIME_OMIT;  // the access time is nobody's business here
      times[1].tv_sec = static_cast<time_t>(at_least_millis / 1000);
      times[1].tv_nsec = static_cast<long>((at_least_millis % 1000) * 1000000);
      if (::futimens(fd, times) != 0) {
        result = Errno("cannot set the modification time of", path);
      } else if (::fsync(fd) != 0) {
        // After a crash the file could show its old time while the commit that removed it
        // is durable: VACUUM could then delete it before removal time + retention.
        result = Errno("cannot fsync", path);
      }
    }
  }
  ::close(fd);
  return result;
}

bool HasMtimeKeptTag(const std::optional<StringMap>& tags) {
  if (!tags) return false;
  auto it = tags->find(kMtimeKeptTag);
  return it != tags->end() && it->second == "true";
}

}  // namespace lakepipe::delta
