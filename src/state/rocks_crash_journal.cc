#include "state/rocks_crash_journal.h"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <memory>

#include "common/crash_journal.h"

namespace lakepipe::state {

namespace {

rocksdb::IOStatus ToIO(const Status& st) {
  return st.ok() ? rocksdb::IOStatus::OK() : rocksdb::IOStatus::IOError(st.ToString());
}

class JournaledFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  JournaledFile(std::unique_ptr<rocksdb::FSWritableFile>&& file, JournalingFileSystem* journal, int64_t id)
      : FSWritableFileOwnerWrapper(std::move(file)), journal_(journal), id_(id) {}
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    return Synced(target()->Sync(o, dbg), o, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    return Synced(target()->Fsync(o, dbg), o, dbg);
  }

 private:
  rocksdb::IOStatus Synced(rocksdb::IOStatus st, const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) {
    if (st.ok()) journal_->NoteSynced(id_, static_cast<int64_t>(target()->GetFileSize(o, dbg)));
    return st;
  }
  JournalingFileSystem* journal_;
  int64_t id_;
};

class JournaledDirectory : public rocksdb::FSDirectoryWrapper {
 public:
  JournaledDirectory(std::unique_ptr<rocksdb::FSDirectory>&& dir, JournalingFileSystem* journal, std::string name)
      : FSDirectoryWrapper(std::move(dir)), journal_(journal), name_(std::move(name)) {}
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    return Synced(FSDirectoryWrapper::Fsync(o, dbg));
  }
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg,
                                        const rocksdb::DirFsyncOptions& d) override {
    return Synced(FSDirectoryWrapper::FsyncWithDirOptions(o, dbg, d));
  }

 private:
  rocksdb::IOStatus Synced(rocksdb::IOStatus st) {
    if (st.ok()) journal_->NoteDirSynced(name_);
    return st;
  }
  JournalingFileSystem* journal_;
  std::string name_;
};

class JournaledRocksFileSystem : public rocksdb::FileSystemWrapper {
 public:
  JournaledRocksFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base, JournalingFileSystem* journal)
      : FileSystemWrapper(base), journal_(journal) {}
  const char* Name() const override { return "LakepipeCrashJournal"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus kept = ToIO(journal_->KeepBeforeLosing(f, /*copy=*/true));
    if (!kept.ok()) return kept;
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus st = target()->NewWritableFile(f, o, &file, dbg);
    if (!st.ok()) return st;
    r->reset(new JournaledFile(std::move(file), journal_, journal_->NoteCreated(f)));
    return st;
  }
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& o,
                                 std::unique_ptr<rocksdb::FSDirectory>* r, rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSDirectory> dir;
    rocksdb::IOStatus st = target()->NewDirectory(name, o, &dir, dbg);
    if (st.ok()) r->reset(new JournaledDirectory(std::move(dir), journal_, name));
    return st;
  }
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus kept = ToIO(journal_->KeepBeforeLosing(f, /*copy=*/false));
    if (!kept.ok()) return kept;
    rocksdb::IOStatus st = target()->DeleteFile(f, o, dbg);
    if (st.ok()) journal_->NoteRemoved(f);
    return st;
  }
  rocksdb::IOStatus RenameFile(const std::string& s, const std::string& t, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus kept = ToIO(journal_->KeepBeforeLosing(t, /*copy=*/false));
    if (!kept.ok()) return kept;
    rocksdb::IOStatus st = target()->RenameFile(s, t, o, dbg);
    if (st.ok()) journal_->NoteRenamed(s, t);
    return st;
  }
  rocksdb::IOStatus LinkFile(const std::string& s, const std::string& t, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus st = target()->LinkFile(s, t, o, dbg);
    if (st.ok()) journal_->NoteLinked(s, t);
    return st;
  }

 private:
  JournalingFileSystem* journal_;
};

}  // namespace

rocksdb::Env* CrashJournalEnvOrNull() {
  static rocksdb::Env* env = []() -> rocksdb::Env* {
    auto* journal = dynamic_cast<JournalingFileSystem*>(FileSystem::Default());
    if (journal == nullptr) return nullptr;
    auto fs = std::make_shared<JournaledRocksFileSystem>(rocksdb::FileSystem::Default(), journal);
    return rocksdb::NewCompositeEnv(fs).release();
  }();
  return env;
}

}  // namespace lakepipe::state
