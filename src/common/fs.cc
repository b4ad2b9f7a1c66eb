#include "common/fs.h"

#include "common/crash_journal.h"
#include "common/path_within.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/uuid.h"

namespace lakepipe {
namespace {

class PosixWritableFile : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Append(std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "write " + path_);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    size_ += static_cast<int64_t>(data.size());
    return Status::OK();
  }
  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Status::FromErrno(errno, "fsync " + path_);
    return Status::OK();
  }
  Status Close() override {
    if (fd_ < 0) return Status::OK();
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return Status::FromErrno(errno, "close " + path_);
    return Status::OK();
  }
  int64_t Size() const override { return size_; }

 private:
  std::string path_;
  int fd_;
  int64_t size_ = 0;
};

class PosixRandomAccessFile : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd, int64_t size) : fd_(fd), size_(size) {
    path_ = std::move(path);
  }
  ~PosixRandomAccessFile() override { ::close(fd_); }
  int64_t Size() const override { return size_; }
  Status ReadAt(int64_t offset, int64_t n, char* out) const override {
    if (offset < 0 || n < 0 || offset > size_ || n > size_ - offset) {
      return Status::Corruption(path_ + ": read of " + std::to_string(n) + " bytes at offset " +
                                std::to_string(offset) + " is past the end of the file (" +
                                std::to_string(size_) + " bytes)");
    }
    while (n > 0) {
      ssize_t got = ::pread(fd_, out, static_cast<size_t>(n), offset);
      if (got < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "read " + path_);
      }
      if (got == 0) return Status::Corruption(path_ + ": file shrank while reading");
      out += got;
      offset += got;
      n -= got;
    }
    return Status::OK();
  }

 private:
  int fd_;
  int64_t size_;
};

int64_t MtimeMicros(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000 + st.st_mtim.tv_nsec / 1000;
}

class PosixFileSystem : public FileSystem {
 public:
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        CreateMode mode) override {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
    flags |= (mode == CreateMode::kExclusive) ? O_EXCL : O_TRUNC;
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return Status::FromErrno(errno, "create " + path);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd));
  }
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open " + path);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno(err, "stat " + path);
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      return Status::InvalidArgument(path + " is a directory, not a file");
    }
    return std::unique_ptr<RandomAccessFile>(new PosixRandomAccessFile(path, fd, st.st_size));
  }
  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return Status::FromErrno(errno, "rename " + from + " to " + to);
    return Status::OK();
  }
  Status Link(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) != 0) {
      int err = errno;
      if (err == EEXIST) return Status::AlreadyExists(to + " already exists");
      return Status::FromErrno(err, "link " + from + " to " + to);
    }
    return Status::OK();
  }
  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open directory " + dir);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return Status::FromErrno(err, "fsync directory " + dir);
    return Status::OK();
  }
  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::FromErrno(errno, "remove " + path);
    return Status::OK();
  }
  Status CreateDirs(const std::string& path) override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return Status::FromErrno(ec.value(), "create directory " + path);
    return Status::OK();
  }
  Result<std::vector<FileInfo>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Status::FromErrno(errno, "list " + dir);
    std::vector<FileInfo> out;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      struct stat st;
      std::string full = JoinPath(dir, name);
      if (::stat(full.c_str(), &st) != 0) continue;  // vanished between readdir and stat
      out.push_back({std::string(name), static_cast<int64_t>(st.st_size), MtimeMicros(st),
                     S_ISDIR(st.st_mode)});
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(),
              [](const FileInfo& a, const FileInfo& b) { return a.name < b.name; });
    return out;
  }
  Result<std::vector<FileInfo>> ListNames(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Status::FromErrno(errno, "list " + dir);
    std::vector<FileInfo> out;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      bool is_dir = e->d_type == DT_DIR;
      bool is_link = e->d_type == DT_LNK;
      if (e->d_type == DT_UNKNOWN) {  // the file system did not say
        struct stat lst;
        if (::lstat(JoinPath(dir, name).c_str(), &lst) != 0) continue;
        is_link = S_ISLNK(lst.st_mode);
        is_dir = S_ISDIR(lst.st_mode);
      }
      if (is_link) {  // what it points to; a dangling link is listed as a file
        struct stat st;
        is_dir = ::stat(JoinPath(dir, name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      }
      FileInfo info{std::string(name), 0, 0, is_dir};
      info.is_symlink = is_link;
      out.push_back(std::move(info));
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(),
              [](const FileInfo& a, const FileInfo& b) { return a.name < b.name; });
    return out;
  }
  Result<FileInfo> Stat(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
    FileInfo info{path, static_cast<int64_t>(st.st_size), MtimeMicros(st), S_ISDIR(st.st_mode)};
    info.device = static_cast<uint64_t>(st.st_dev);
    info.inode = static_cast<uint64_t>(st.st_ino);
    return info;
  }
  Result<std::string> RealPath(const std::string& path) override {
    char* resolved = ::realpath(path.c_str(), nullptr);
    if (resolved == nullptr) return Status::FromErrno(errno, "resolve " + path);
    std::string out(resolved);
    std::free(resolved);
    return out;
  }
};

std::string TempPathBeside(const std::string& path) {
  return JoinPath(DirName(path), "." + BaseName(path) + "." + NewUuid() + ".tmp");
}

// Writes data to a new temporary file beside `path` and makes it durable.
Status WriteDurableTemp(FileSystem* fs, const std::string& tmp, std::string_view data) {
  LP_ASSIGN_OR_RETURN(auto file, fs->NewWritableFile(tmp, CreateMode::kExclusive));
  Status st = file->Append(data);
  if (st.ok()) st = file->Sync();
  Status closed = file->Close();
  if (st.ok()) st = closed;
  return st;
}

}  // namespace

FileSystem* FileSystem::Default() {
  static FileSystem* fs = [] {
    FileSystem* posix = new PosixFileSystem();
#if defined(LAKEPIPE_KILL_POINTS) && LAKEPIPE_KILL_POINTS
    // Crash tests' power-cut simulation (common/crash_journal.h).
    if (FileSystem* journaling = JournalingDefaultFromEnvironment(posix)) return journaling;
    if (FileSystem* faulty = FaultInjectingDefaultFromEnvironment(posix)) return faulty;
#endif
    return posix;
  }();
  return fs;
}

bool FileSystem::Exists(const std::string& path) { return Stat(path).ok(); }

Result<std::string> FileSystem::ReadFile(const std::string& path) {
  LP_ASSIGN_OR_RETURN(auto file, NewRandomAccessFile(path));
  std::string data(static_cast<size_t>(file->Size()), '\0');
  LP_RETURN_IF_ERROR(file->ReadAt(0, file->Size(), data.data()));
  return data;
}

Status FileSystem::WriteFileAtomic(const std::string& path, std::string_view data) {
  std::string tmp = TempPathBeside(path);
  Status st = WriteDurableTemp(this, tmp, data);
  if (st.ok()) st = Rename(tmp, path);
  if (!st.ok()) {
    (void)RemoveFile(tmp);
    return st;
  }
  return SyncDir(DirName(path));
}

Status FileSystem::PutIfAbsent(const std::string& path, std::string_view data) {
  std::string tmp = TempPathBeside(path);
  Status st = WriteDurableTemp(this, tmp, data);
  if (st.ok()) st = Link(tmp, path);
  (void)RemoveFile(tmp);
  if (!st.ok()) return st;
  return SyncDir(DirName(path));
}

Status FileSystem::WriteFile(const std::string& path, std::string_view data) {
  LP_ASSIGN_OR_RETURN(auto file, NewWritableFile(path, CreateMode::kTruncate));
  LP_RETURN_IF_ERROR(file->Append(data));
  LP_RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

Status FileSystem::RemoveAll(const std::string& path) {
  auto info = Stat(path);
  if (!info.ok()) return info.status().IsNotFound() ? Status::OK() : info.status();
  if (!info->is_dir) return RemoveFile(path);
  LP_ASSIGN_OR_RETURN(auto entries, ListDir(path));
  for (const auto& e : entries) LP_RETURN_IF_ERROR(RemoveAll(JoinPath(path, e.name)));
  if (::rmdir(path.c_str()) != 0) return Status::FromErrno(errno, "remove directory " + path);
  return Status::OK();
}

// ---- fault injection -------------------------------------------------------------------

namespace {

class FaultyWritableFile : public WritableFile {
 public:
  FaultyWritableFile(FaultInjectingFileSystem* fs, std::string path,
                     std::unique_ptr<WritableFile> base)
      : fs_(fs), path_(std::move(path)), base_(std::move(base)) {}
  Status Append(std::string_view data) override {
    bool short_write = false;
    Status st = fs_->Check(FaultInjectingFileSystem::Op::kAppend, path_, &short_write);
    if (short_write) {
      (void)base_->Append(data.substr(0, data.size() / 2));
      return st;
    }
    LP_RETURN_IF_ERROR(st);
    return base_->Append(data);
  }
  Status Sync() override {
    LP_RETURN_IF_ERROR(fs_->Check(FaultInjectingFileSystem::Op::kSync, path_, nullptr));
    return base_->Sync();
  }
  Status Close() override { return base_->Close(); }
  int64_t Size() const override { return base_->Size(); }

 private:
  FaultInjectingFileSystem* fs_;
  std::string path_;
  std::unique_ptr<WritableFile> base_;
};

}  // namespace

void FaultInjectingFileSystem::FailAt(int64_t n, Fault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  count_ = 0;
  fail_at_ = n;
  fault_ = fault;
  fired_ = false;
}

void FaultInjectingFileSystem::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  count_ = 0;
  fail_at_ = 0;
  fired_ = false;
}

int64_t FaultInjectingFileSystem::operations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

bool FaultInjectingFileSystem::fired() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fired_;
}

Status FaultInjectingFileSystem::Check(Op op, const std::string& path, bool* short_write) {
  std::lock_guard<std::mutex> lock(mu_);
  ++count_;
  if (fail_at_ == 0 || count_ != fail_at_) return Status::OK();
  fired_ = true;
  std::string what = "injected fault on " + path;
  switch (fault_) {
    case Fault::kNoSpace: return Status::FromErrno(ENOSPC, what);
    case Fault::kShortWrite:
      if (op == Op::kAppend && short_write != nullptr) *short_write = true;
      return Status::FromErrno(EIO, what + " (short write)");
    case Fault::kIOError: return Status::FromErrno(EIO, what);
  }
  return Status::OK();
}

Result<std::unique_ptr<WritableFile>> FaultInjectingFileSystem::NewWritableFile(
    const std::string& path, CreateMode mode) {
  LP_RETURN_IF_ERROR(Check(Op::kCreate, path, nullptr));
  LP_ASSIGN_OR_RETURN(auto base, base_->NewWritableFile(path, mode));
  return std::unique_ptr<WritableFile>(new FaultyWritableFile(this, path, std::move(base)));
}

Status FaultInjectingFileSystem::Rename(const std::string& from, const std::string& to) {
  LP_RETURN_IF_ERROR(Check(Op::kRename, to, nullptr));
  return base_->Rename(from, to);
}

Status FaultInjectingFileSystem::Link(const std::string& from, const std::string& to) {
  LP_RETURN_IF_ERROR(Check(Op::kLink, to, nullptr));
  return base_->Link(from, to);
}

Status FaultInjectingFileSystem::SyncDir(const std::string& dir) {
  LP_RETURN_IF_ERROR(Check(Op::kSyncDir, dir, nullptr));
  return base_->SyncDir(dir);
}

// ---- paths -------------------------------------------------------------------------------

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  if (b.front() == '/') return std::string(b);
  std::string out(a);
  if (out.back() != '/') out.push_back('/');
  out.append(b);
  return out;
}

std::string DirName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string BaseName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

namespace {

std::vector<std::string_view> PathParts(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(i, slash - i);
    if (!part.empty() && part != ".") parts.push_back(part);
    i = slash + 1;
  }
  return parts;
}

}  // namespace

bool PathIsWithin(std::string_view path, std::string_view folder) {
  if (path.empty() || folder.empty()) return false;
  if ((path.front() == '/') != (folder.front() == '/')) return false;
  std::vector<std::string_view> p = PathParts(path), f = PathParts(folder);
  return f.size() <= p.size() && std::equal(f.begin(), f.end(), p.begin());
}

}  // namespace lakepipe

namespace lakepipe {

FileSystem* FaultInjectingDefaultFromEnvironment(FileSystem* posix) {
  const char* spec = std::getenv("LAKEPIPE_FAULT_AT");
  if (spec == nullptr || *spec == '\0') return nullptr;
  std::string text = spec;
  std::string kind = "eio";
  if (auto colon = text.find(':'); colon != std::string::npos) {
    kind = text.substr(colon + 1);
    text = text.substr(0, colon);
  }
  char* end = nullptr;
  long long n = std::strtoll(text.c_str(), &end, 10);
  FaultInjectingFileSystem::Fault fault = FaultInjectingFileSystem::Fault::kIOError;
  bool known = true;
  if (kind == "enospc") fault = FaultInjectingFileSystem::Fault::kNoSpace;
  else if (kind == "short") fault = FaultInjectingFileSystem::Fault::kShortWrite;
  else if (kind != "eio") known = false;
  if (end == text.c_str() || *end != '\0' || n < 0 || !known) {
    std::fprintf(stderr, "lakepipe: error: LAKEPIPE_FAULT_AT=%s: expected N[:enospc|eio|short] with N >= 1, or 0 to count the operations\n", spec);
    std::exit(2);
  }
  static FaultInjectingFileSystem* fs = new FaultInjectingFileSystem(posix);
  if (n > 0) fs->FailAt(n, fault);
  // A test must tell a run that met its fault from one that ended before it (N = 0 only
  // counts, so that a test learns how many operations a run makes).
  std::atexit([] {
    if (fs->fired()) {
      std::fprintf(stderr, "lakepipe: the injected fault fired\n");
    } else {
      std::fprintf(stderr, "lakepipe: file system operations: %lld\n", static_cast<long long>(fs->operations()));
    }
  });
  return fs;
}

}  // namespace lakepipe
