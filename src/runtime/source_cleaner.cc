#include "runtime/source_cleaner.h"

#include <set>

#include "common/kill_point.h"
#include "common/path_within.h"

namespace lakepipe::runtime {
namespace {

std::string SourcePathOf(const CleanTarget& target, const std::string& relative) {
  return relative.empty() ? target.root : JoinPath(target.root, relative);
}

std::string ArchiveRefusal(const CleanTarget& target, const std::string& why) {
  return "read_files " + target.root + ": sourceArchiveDir " + target.archive_dir + " " + why;
}

// Creates `folder` and the missing folders above it, each one's entry synced in its parent,
// so that a file renamed into it survives a power cut once `folder` itself is synced.
Status CreateDirsDurably(FileSystem* fs, const std::string& folder) {
  std::vector<std::string> missing;
  for (std::string f = folder; !f.empty() && f != "/" && !fs->Exists(f); f = DirName(f)) missing.push_back(f);
  if (missing.empty()) return Status::OK();
  LP_RETURN_IF_ERROR(fs->CreateDirs(folder));
  for (const auto& f : missing) LP_RETURN_IF_ERROR(fs->SyncDir(DirName(f)));
  return Status::OK();
}

// A removal or rename is durable only once its folder is synced: without it a power cut
// brings a cleaned file back into the source folder (remembered, so never read again, but
// not cleaned either). One sync per folder a batch changed. A folder that cannot be synced
// is reported like a file not cleaned: its files may come back.
void SyncFolders(FileSystem* fs, const std::set<std::string>& folders, CleanResult* out) {
  for (const auto& folder : folders) {
    Status st = fs->SyncDir(folder);
    if (!st.ok()) {
      out->failures.push_back({folder, "the folder could not be synced (" + st.message() +
                                           "): a power cut may bring back the files cleaned from it"});
    }
  }
}

}  // namespace

std::string ArchivePathOf(const CleanTarget& target, const std::string& relative) {
  std::string source = SourcePathOf(target, relative);
  size_t skip = 0;
  while (skip < source.size() && source[skip] == '/') ++skip;
  return JoinPath(target.archive_dir, std::string_view(source).substr(skip));
}

Status PrepareArchiveDir(FileSystem* fs, const CleanTarget& target) {
  auto source = fs->Stat(target.root);
  if (!source.ok()) return source.status().IsNotFound() ? Status::OK() : source.status();
  Status made = fs->CreateDirs(target.archive_dir);
  if (!made.ok()) return Status(made.code(), ArchiveRefusal(target, "cannot be created: " + made.message()));
  LP_ASSIGN_OR_RETURN(FileInfo archive, fs->Stat(target.archive_dir));
  if (!archive.is_dir) return Status::InvalidArgument(ArchiveRefusal(target, "is not a folder"));
  if (archive.device != source->device) {
    return Status::InvalidArgument(ArchiveRefusal(
        target, "is on another file system than the source: files are moved by rename, which cannot cross file "
                "systems (Spark refuses this too); choose a folder on the source's file system"));
  }
  // The planner compared the paths as written; links may still lead one into the other.
  LP_ASSIGN_OR_RETURN(std::string real_source, fs->RealPath(target.root));
  LP_ASSIGN_OR_RETURN(std::string real_archive, fs->RealPath(target.archive_dir));
  if (PathIsWithin(real_archive, real_source) || PathIsWithin(real_source, real_archive)) {
    return Status::InvalidArgument(ArchiveRefusal(
        target, "is, links resolved (" + real_archive + "), the source folder " + real_source +
                    ", inside it or above it: archived files would be listed as new ones"));
  }
  return Status::OK();
}

CleanResult CleanFiles(FileSystem* fs, const CleanTarget& target, const std::vector<PlannedFile>& files) {
  CleanResult out;
  std::set<std::string> emptied;  // source folders a file left
  auto fail = [&out](const std::string& path, const std::string& error) { out.failures.push_back({path, error}); };
  if (target.mode == formats::CleanSourceMode::kDelete) {
    for (const auto& f : files) {
      std::string path = SourcePathOf(target, f.path);
      auto info = fs->Stat(path);
      if (!info.ok()) {
        if (!info.status().IsNotFound()) fail(path, info.status().message());
        continue;  // gone: cleaned before a crash, or by someone else
      }
      // Bytes written after the file was planned were never read: deleting it would lose them.
      if (info->size != f.size || (f.mtime_known && info->mtime_micros != f.mtime_micros)) {
        fail(path, "changed since it was taken (" + std::to_string(f.size) + " bytes when read, " +
                       std::to_string(info->size) + " now" +
                       (info->mtime_micros != f.mtime_micros ? ", modified since" : "") +
                       "): not deleted, so that what was written after the read is not lost");
        continue;
      }
      Status st = fs->RemoveFile(path);
      if (st.ok()) {
        ++out.cleaned;
        emptied.insert(DirName(path));
      } else if (!st.IsNotFound()) {
        fail(path, st.message());
      }
      LP_KILL_POINT("clean_source.after_file");
    }
    SyncFolders(fs, emptied, &out);
    return out;
  }
  if (target.mode != formats::CleanSourceMode::kArchive) return out;
  std::set<std::string> folders_made;
  std::set<std::string> filled;
  for (const auto& f : files) {
    std::string from = SourcePathOf(target, f.path);
    if (!fs->Exists(from)) continue;  // moved before a crash, or removed by someone else
    std::string to = ArchivePathOf(target, f.path);
    std::string folder = DirName(to);
    if (!folders_made.count(folder)) {
      Status st = CreateDirsDurably(fs, folder);
      if (!st.ok()) {
        fail(from, "archive folder: " + st.message());
        continue;
      }
      folders_made.insert(folder);
    }
    // rename() would replace a file of that name: Spark (Hadoop's rename) leaves both alone.
    if (fs->Exists(to)) {
      fail(from, "the archive already holds a file " + to + ": not replaced, and this one stays");
      continue;
    }
    // One rename: the file is in the source or in the archive at every instant, so a
    // crash or power cut never loses it (at worst it is back in the source, remembered).
    Status st = fs->Rename(from, to);
    if (st.ok()) {
      ++out.cleaned;
      filled.insert(folder);
      emptied.insert(DirName(from));
    } else if (!st.IsNotFound() || fs->Exists(from)) {
      fail(from, st.message());
    }
    LP_KILL_POINT("clean_source.after_file");
  }
  // The archive's new names first: a power cut between the two leaves a file at both
  // places (harmless: the source's copy is remembered), never at neither.
  SyncFolders(fs, filled, &out);
  SyncFolders(fs, emptied, &out);
  return out;
}

Result<std::map<std::string, CleanTarget>> CleanTargetsOf(FileSystem* fs,
                                                          const std::vector<const sql::PlanNode*>& scans) {
  std::map<std::string, CleanTarget> out;
  for (const sql::PlanNode* scan : scans) {
    const sql::ReadFilesSpec& spec = scan->read_files;
    auto settings = formats::ReadFilesSettingsFrom(spec.options);
    if (!settings.ok()) return Status(settings.status().code(), scan->loc.ToString() + ": " + settings.status().message());
    if (settings->source.clean_source == formats::CleanSourceMode::kOff || out.count(spec.path)) continue;
    CleanTarget target{spec.path, settings->source.clean_source, settings->source.source_archive_dir};
    auto root = fs->Stat(spec.path);
    if (root.ok() && !root->is_dir) {
      // Cleaning the one file would take the source path away: the next listing would fail.
      return Status::InvalidArgument(scan->loc.ToString() + ": read_files " + spec.path +
                                     ": cleanSource needs a folder, and this path is a file");
    }
    if (target.mode == formats::CleanSourceMode::kArchive) {
      Status st = PrepareArchiveDir(fs, target);
      if (!st.ok()) return Status(st.code(), scan->loc.ToString() + ": " + st.message());
    }
    out.emplace(spec.path, std::move(target));
  }
  return out;
}

PlanCleaning CleanPlannedFiles(FileSystem* fs, const BatchPlan& plan,
                               const std::map<std::string, CleanTarget>& targets) {
  PlanCleaning out;
  for (const auto& s : plan.sources) {
    if (s.kind != PlannedSource::Kind::kFiles || s.files.empty()) continue;
    auto target = targets.find(s.path);
    if (target == targets.end()) continue;
    CleanResult r = CleanFiles(fs, target->second, s.files);
    out.cleaned += r.cleaned;
    if (r.failures.empty()) continue;
    out.not_cleaned += static_cast<int64_t>(r.failures.size());
    constexpr size_t kNamed = 5;
    std::string names;
    for (size_t i = 0; i < r.failures.size() && i < kNamed; ++i) {
      names += (i == 0 ? "" : "; ") + r.failures[i].path + ": " + r.failures[i].error;
    }
    if (r.failures.size() > kNamed) names += "; and " + std::to_string(r.failures.size() - kNamed) + " more";
    const bool del = target->second.mode == formats::CleanSourceMode::kDelete;
    out.warnings.push_back("read_files " + s.path + ": cleanSource => '" + (del ? "delete" : "archive") + "': " +
                           std::to_string(r.failures.size()) + (r.failures.size() == 1 ? " file" : " files") +
                           " of batch " + std::to_string(plan.batch_id) + " not " + (del ? "deleted" : "archived") +
                           " (" + names + "). The batch is committed; such a file stays in the folder and is not "
                           "read again");
  }
  return out;
}

}  // namespace lakepipe::runtime
