// Journal format (one record per line, fields separated by a tab, paths absolute and
// normalised; docs/crash-testing.md, "Power loss"):
//   create ID PATH     a new file (ID counts from 0) now named PATH, empty
//   sync ID SIZE       file ID's first SIZE bytes are durable
//   keep PATH KEPT     the file named PATH is also at KEPT (it is about to lose that name)
//   rename FROM TO     link FROM TO     remove PATH     syncdir DIR
#include "common/crash_journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <vector>

namespace lakepipe {

namespace {

std::string Normalize(const std::string& path) {
  std::string full = path;
  if (full.empty() || full[0] != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof cwd) != nullptr) full = std::string(cwd) + "/" + full;
  }
  std::vector<std::string> parts;
  std::stringstream in(full);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

// Reads and writes with plain POSIX calls: the rewind runs in a process whose
// FileSystem::Default() must not journal what it does.
Status CopyFile(const std::string& from, const std::string& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Status::FromErrno(errno, "open " + from);
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    int err = errno;
    ::close(in);
    return Status::FromErrno(err, "create " + to);
  }
  char buf[1 << 16];
  Status st;
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0) st = Status::FromErrno(errno, "read " + from);
    if (n <= 0) break;
    if (::write(out, buf, static_cast<size_t>(n)) != n) {
      st = Status::FromErrno(errno, "write " + to);
      break;
    }
  }
  ::close(in);
  ::close(out);
  return st;
}

Status RemoveTree(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return errno == ENOENT ? Status::OK() : Status::FromErrno(errno, "open " + dir);
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (::unlink((dir + "/" + name).c_str()) != 0) {
      int err = errno;
      ::closedir(d);
      return Status::FromErrno(err, "remove " + dir + "/" + name);
    }
  }
  ::closedir(d);
  if (::rmdir(dir.c_str()) != 0) return Status::FromErrno(errno, "remove " + dir);
  return Status::OK();
}

// A second name for `from` at `to`: a hard link, or a copy across file systems.
Status LinkOrCopy(const std::string& from, const std::string& to) {
  if (::link(from.c_str(), to.c_str()) == 0) return Status::OK();
  if (errno == EXDEV || errno == EPERM) return CopyFile(from, to);
  return Status::FromErrno(errno, "link " + from + " to " + to);
}

class JournaledWritableFile : public WritableFile {
 public:
  JournaledWritableFile(JournalingFileSystem* fs, int64_t id, std::unique_ptr<WritableFile> base)
      : fs_(fs), id_(id), base_(std::move(base)) {}
  Status Append(std::string_view data) override { return base_->Append(data); }
  Status Sync() override {
    LP_RETURN_IF_ERROR(base_->Sync());
    fs_->NoteSynced(id_, base_->Size());
    return Status::OK();
  }
  Status Close() override { return base_->Close(); }
  int64_t Size() const override { return base_->Size(); }

 private:
  JournalingFileSystem* fs_;
  int64_t id_;
  std::unique_ptr<WritableFile> base_;
};

}  // namespace

JournalingFileSystem::JournalingFileSystem(FileSystem* base, std::string journal_path, int fd)
    : base_(base), journal_path_(std::move(journal_path)), fd_(fd) {}

JournalingFileSystem::~JournalingFileSystem() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<JournalingFileSystem>> JournalingFileSystem::Open(FileSystem* base,
                                                                         const std::string& journal_path) {
  std::string path = Normalize(journal_path);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno(errno, "open the crash journal " + path);
  // A journal may span several processes (a run, then its restart): file ids go on from
  // the count already recorded.
  auto fs = std::unique_ptr<JournalingFileSystem>(new JournalingFileSystem(base, path, fd));
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && st.st_size > 0) {
    auto text = base->ReadFile(path);
    if (!text.ok()) return text.status();
    int64_t creates = 0, keeps = 0;
    std::stringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("create\t", 0) == 0) ++creates;
      if (line.rfind("keep\t", 0) == 0) ++keeps;
    }
    fs->next_file_ = creates;
    fs->next_keep_ = keeps;
  }
  return fs;
}

void JournalingFileSystem::Record(const std::string& line) {
  std::string rec = line + "\n";
  // One write: O_APPEND keeps concurrent records whole. A SIGKILL keeps it (the kernel
  // holds the page), which is all the journal has to survive.
  ssize_t n = ::write(fd_, rec.data(), rec.size());
  (void)n;
}

Status JournalingFileSystem::KeepBeforeLosing(const std::string& name, bool copy) {
  std::string path = Normalize(name);
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return Status::OK();
  std::string keep_dir = journal_path_ + ".keep";
  if (::mkdir(keep_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "create " + keep_dir);
  }
  std::string kept = keep_dir + "/" + std::to_string(next_keep_++);
  LP_RETURN_IF_ERROR(copy ? CopyFile(path, kept) : LinkOrCopy(path, kept));
  Record("keep\t" + path + "\t" + kept);
  return Status::OK();
}

int64_t JournalingFileSystem::NoteCreated(const std::string& path) {
  int64_t id = next_file_++;
  Record("create\t" + std::to_string(id) + "\t" + Normalize(path));
  return id;
}
void JournalingFileSystem::NoteSynced(int64_t file_id, int64_t durable_size) {
  Record("sync\t" + std::to_string(file_id) + "\t" + std::to_string(durable_size));
}
void JournalingFileSystem::NoteRenamed(const std::string& from, const std::string& to) {
  Record("rename\t" + Normalize(from) + "\t" + Normalize(to));
}
void JournalingFileSystem::NoteLinked(const std::string& from, const std::string& to) {
  Record("link\t" + Normalize(from) + "\t" + Normalize(to));
}
void JournalingFileSystem::NoteRemoved(const std::string& path) { Record("remove\t" + Normalize(path)); }
void JournalingFileSystem::NoteDirSynced(const std::string& dir) { Record("syncdir\t" + Normalize(dir.empty() ? "." : dir)); }

Result<std::unique_ptr<WritableFile>> JournalingFileSystem::NewWritableFile(const std::string& path,
                                                                            CreateMode mode) {
  // Truncating destroys the old content in place: keep a copy of it.
  if (mode == CreateMode::kTruncate) LP_RETURN_IF_ERROR(KeepBeforeLosing(path, /*copy=*/true));
  LP_ASSIGN_OR_RETURN(auto file, base_->NewWritableFile(path, mode));
  int64_t id = NoteCreated(path);
  return std::unique_ptr<WritableFile>(new JournaledWritableFile(this, id, std::move(file)));
}

Status JournalingFileSystem::Rename(const std::string& from, const std::string& to) {
  auto info = base_->Stat(from);
  if (info.ok() && info->is_dir) return base_->Rename(from, to);  // not journaled (header)
  LP_RETURN_IF_ERROR(KeepBeforeLosing(to, /*copy=*/false));
  LP_RETURN_IF_ERROR(base_->Rename(from, to));
  NoteRenamed(from, to);
  return Status::OK();
}

Status JournalingFileSystem::Link(const std::string& from, const std::string& to) {
  LP_RETURN_IF_ERROR(base_->Link(from, to));
  NoteLinked(from, to);
  return Status::OK();
}

Status JournalingFileSystem::RemoveFile(const std::string& path) {
  LP_RETURN_IF_ERROR(KeepBeforeLosing(path, /*copy=*/false));
  LP_RETURN_IF_ERROR(base_->RemoveFile(path));
  NoteRemoved(path);
  return Status::OK();
}

Status JournalingFileSystem::SyncDir(const std::string& dir) {
  LP_RETURN_IF_ERROR(base_->SyncDir(dir));
  NoteDirSynced(dir);
  return Status::OK();
}

// ---- the rewind ------------------------------------------------------------------------

namespace {

constexpr int kAbsent = -1;

// One file (inode) the journal saw: created by the journaled process, or there before it.
struct JournalFile {
  bool preexisting = false;  // content entirely durable
  int64_t durable_size = 0;  // new files: bytes covered by the last fsync
  std::string kept;          // where its content survives after losing every name
};

struct Replay {
  std::vector<JournalFile> files;
  std::map<int64_t, int> by_id;          // journal id -> files index
  std::map<std::string, int> current;    // path -> file or kAbsent, for every touched path
  std::map<std::string, int> original;   // path -> file or kAbsent before the journal
  std::map<std::string, int> durable;    // path -> file or kAbsent as of its dir's last fsync

  int NewFile(bool preexisting) {
    files.push_back(JournalFile{preexisting, 0, ""});
    return static_cast<int>(files.size()) - 1;
  }
  // The file a path names now; a path first seen here was there before the journal
  // (renamed or linked from without having been created under the journal).
  int At(const std::string& path) {
    auto it = current.find(path);
    if (it != current.end()) return it->second;
    int f = NewFile(/*preexisting=*/true);
    original[path] = f;
    current[path] = f;
    return f;
  }
  void Bind(const std::string& path, int file) {
    if (!current.count(path)) original[path] = kAbsent;
    current[path] = file;
  }
};

Status Malformed(const std::string& journal, int line, const std::string& why) {
  return Status::Corruption(journal + ":" + std::to_string(line) + ": " + why);
}

}  // namespace

Status SimulatePowerLoss(const std::string& journal_path) {
  std::string journal = Normalize(journal_path);
  std::string text;
  {
    int fd = ::open(journal.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open the crash journal " + journal);
    char buf[1 << 16];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    ::close(fd);
  }
  Replay r;
  std::stringstream in(text);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream fields(line);
    std::string field;
    while (std::getline(fields, field, '\t')) f.push_back(field);
    const std::string& op = f[0];
    auto need = [&](size_t n) { return f.size() == n; };
    if (op == "create" && need(3)) {
      int file = r.NewFile(false);
      r.by_id[std::atoll(f[1].c_str())] = file;
      r.Bind(f[2], file);
    } else if (op == "sync" && need(3)) {
      auto it = r.by_id.find(std::atoll(f[1].c_str()));
      if (it == r.by_id.end()) return Malformed(journal, line_no, "sync of a file never created");
      r.files[it->second].durable_size = std::atoll(f[2].c_str());
    } else if (op == "keep" && need(3)) {
      int file = r.At(f[1]);
      if (file == kAbsent) return Malformed(journal, line_no, "keep of a path that names no file");
      r.files[file].kept = f[2];
    } else if (op == "rename" && need(3)) {
      int file = r.At(f[1]);
      r.Bind(f[1], kAbsent);
      r.Bind(f[2], file);
    } else if (op == "link" && need(3)) {
      r.Bind(f[2], r.At(f[1]));
    } else if (op == "remove" && need(2)) {
      r.At(f[1]);
      r.Bind(f[1], kAbsent);
    } else if (op == "syncdir" && need(2)) {
      for (const auto& [path, file] : r.current) {
        if (DirName(path) == f[1]) r.durable[path] = file;
      }
    } else {
      return Malformed(journal, line_no, "unknown record `" + line + "`");
    }
  }
  // Where each file's content can be found now: a name it still has, else its kept link.
  std::map<int, std::string> source;
  for (const auto& [path, file] : r.current) {
    if (file != kAbsent) source.emplace(file, path);
  }
  for (size_t i = 0; i < r.files.size(); ++i) {
    if (!source.count(static_cast<int>(i)) && !r.files[i].kept.empty()) source.emplace(static_cast<int>(i), r.files[i].kept);
  }
  // What each touched path names after the power cut.
  std::map<std::string, int> after;
  for (const auto& [path, file] : r.current) {
    auto d = r.durable.find(path);
    after[path] = d != r.durable.end() ? d->second : r.original.at(path);
  }
  // Stage every surviving file under a private name, clear the touched paths, then give
  // each file its names back, cut to its durable size.
  std::string stage = journal + ".stage";
  if (::mkdir(stage.c_str(), 0755) != 0 && errno != EEXIST) return Status::FromErrno(errno, "create " + stage);
  std::set<int> survivors;
  for (const auto& [path, file] : after) {
    if (file == kAbsent || survivors.count(file)) continue;
    auto s = source.find(file);
    if (s == source.end()) return Status::Corruption(journal + ": no copy left of the file " + path + " names");
    LP_RETURN_IF_ERROR(LinkOrCopy(s->second, stage + "/" + std::to_string(file)));
    survivors.insert(file);
  }
  for (const auto& [path, file] : after) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Status::FromErrno(errno, "remove " + path);
  }
  for (int file : survivors) {
    if (r.files[file].preexisting) continue;
    std::string staged = stage + "/" + std::to_string(file);
    struct stat st;
    if (::stat(staged.c_str(), &st) == 0 && st.st_size > r.files[file].durable_size) {
      if (::truncate(staged.c_str(), r.files[file].durable_size) != 0) return Status::FromErrno(errno, "truncate " + staged);
    }
  }
  for (const auto& [path, file] : after) {
    if (file == kAbsent) continue;
    if (::link((stage + "/" + std::to_string(file)).c_str(), path.c_str()) != 0) {
      return Status::FromErrno(errno, "restore " + path);
    }
  }
  LP_RETURN_IF_ERROR(RemoveTree(stage));
  return RemoveTree(journal + ".keep");
}

FileSystem* JournalingDefaultFromEnvironment(FileSystem* posix) {
  const char* journal = std::getenv("LAKEPIPE_CRASH_JOURNAL");
  if (journal == nullptr || *journal == '\0') return nullptr;
  auto fs = JournalingFileSystem::Open(posix, journal);
  if (!fs.ok()) {
    std::fprintf(stderr, "lakepipe: error: %s\n", fs.status().ToString().c_str());
    std::exit(2);
  }
  return fs->release();
}

}  // namespace lakepipe
