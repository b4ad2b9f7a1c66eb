#include "runtime/file_watcher.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace lakepipe::runtime {

namespace {
constexpr uint32_t kEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF;

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A real folder, not a link to one: the listing does not follow folder links
// (runtime/file_source.h), so neither does the watch, which would otherwise loop on
// `ln -s .. sub/up`.
bool IsRealDir(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
}  // namespace

FileWatcher::FileWatcher() {
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

FileWatcher::~FileWatcher() {
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Status FileWatcher::AddTree(const std::string& root, const std::string& dir) {
  // The root itself may be a link (a landing folder linked into place); below it, links
  // are not entered.
  uint32_t follow = dir == root || !IsDir(root) ? 0 : IN_DONT_FOLLOW;
  int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(), kEvents | IN_ONLYDIR | follow);
  if (wd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Status::OK();  // gone again; the backstop lists it
    return Status::IOError("inotify_add_watch " + dir + ": " + std::strerror(errno) +
                           (errno == ENOSPC ? " (raise fs.inotify.max_user_watches)" : ""));
  }
  // inotify gives a folder already watched its old descriptor: a folder reached twice (a
  // bind mount cycle) is not walked again.
  if (watches_.count(wd)) return Status::OK();
  watches_[wd] = {root, dir};
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::OK();
  std::vector<std::string> children;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string child = dir + "/" + name;
    if (IsRealDir(child)) children.push_back(child);
  }
  ::closedir(d);
  for (const auto& c : children) LP_RETURN_IF_ERROR(AddTree(root, c));
  return Status::OK();
}

Status FileWatcher::Watch(const std::string& root) {
  if (inotify_fd_ < 0 || wake_fd_ < 0) {
    return Status::IOError(std::string("inotify/eventfd unavailable: ") + std::strerror(errno));
  }
  std::string dir = IsDir(root) ? root : root.substr(0, root.find_last_of('/'));
  if (!IsDir(dir)) {
    missing_roots_.push_back(root);
    return Status::OK();
  }
  return AddTree(root, dir);
}

void FileWatcher::RetryMissingRoots() {
  std::vector<std::string> still;
  for (const auto& r : missing_roots_) {
    std::string dir = IsDir(r) ? r : r.substr(0, r.find_last_of('/'));
    if (IsDir(dir)) {
      (void)AddTree(r, dir);
    } else {
      still.push_back(r);
    }
  }
  missing_roots_ = std::move(still);
}

Result<std::vector<std::string>> FileWatcher::Wait(int64_t timeout_ms) {
  std::set<std::string> changed;
  if (!missing_roots_.empty()) {
    size_t before = missing_roots_.size();
    std::vector<std::string> old = missing_roots_;
    RetryMissingRoots();
    if (missing_roots_.size() != before) {
      for (const auto& r : old)
        if (std::find(missing_roots_.begin(), missing_roots_.end(), r) == missing_roots_.end()) changed.insert(r);
      return std::vector<std::string>(changed.begin(), changed.end());
    }
  }
  pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  int n = ::poll(fds, 2, static_cast<int>(std::min<int64_t>(timeout_ms, 1 << 30)));
  if (n < 0) {
    if (errno == EINTR) return std::vector<std::string>{};
    return Status::IOError(std::string("poll: ") + std::strerror(errno));
  }
  if (fds[1].revents & POLLIN) {
    uint64_t count;
    ssize_t ignored = ::read(wake_fd_, &count, sizeof count);
    (void)ignored;
  }
  if (fds[0].revents & POLLIN) {
    alignas(inotify_event) char buf[64 * 1024];
    while (true) {
      ssize_t len = ::read(inotify_fd_, buf, sizeof buf);
      if (len <= 0) break;
      for (char* p = buf; p < buf + len;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        p += sizeof(inotify_event) + ev->len;
        if (ev->mask & IN_Q_OVERFLOW) {
          // Events were lost: every root may have changed.
          for (const auto& [wd, w] : watches_) changed.insert(w.first);
          continue;
        }
        auto it = watches_.find(ev->wd);
        if (it == watches_.end()) continue;
        const auto [root, dir] = it->second;
        if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
          watches_.erase(it);
          if (dir == root || root.rfind(dir, 0) == 0) missing_roots_.push_back(root);
          continue;
        }
        std::string name = ev->len > 0 ? std::string(ev->name) : std::string();
        if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
          // A new subfolder: watch it, and its files written before the watch count too.
          (void)AddTree(root, dir + "/" + name);
          changed.insert(root);
          continue;
        }
        // IN_CREATE of a plain file is not a change yet: the file is complete when it is
        // closed after writing or renamed into place.
        if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) changed.insert(root);
      }
    }
  }
  return std::vector<std::string>(changed.begin(), changed.end());
}

void FileWatcher::Wake() {
  uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
  (void)ignored;
}

}  // namespace lakepipe::runtime
