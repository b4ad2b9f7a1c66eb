#include "runtime/file_source.h"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "common/utf8.h"
#include "formats/options/read_options.h"
#include "runtime/file_source_schema.h"
#include "types/batch_reader.h"

namespace lakepipe::runtime {
namespace {

bool IsHiddenName(const std::string& name) {
  return !name.empty() && (name[0] == '.' || name[0] == '_');
}

// One walk of a landing tree. Directory links are never followed: one that points into
// the tree would list its files a second time (`ln -s .. sub/up` made 100 lines 4,100
// rows), one that points out of it would ingest whatever it reaches, and either can form
// a cycle. File links are read when their target lies outside the tree (a file linked
// into the landing folder) and skipped when it lies inside (the target is listed under
// its own name). Every folder is entered once, by device and inode, so a cycle made some
// other way (a bind mount) cannot make the walk loop either.
struct TreeWalk {
  FileSystem* fs;
  std::string root;
  std::string real_root;  // resolved, for "inside the tree" tests of link targets
  const KnownFile& skip;
  const FileSelection& selection;
  std::vector<SourceFileEntry>* out;
  std::vector<std::string>* not_followed;
  std::set<std::pair<uint64_t, uint64_t>> dirs_seen;
  std::set<std::string> link_targets_seen;

  bool InsideTree(const std::string& real) const {
    return real == real_root || real.rfind(real_root == "/" ? real_root : real_root + "/", 0) == 0;
  }

  Status AddFile(const std::string& dir, const std::string& name, const std::string& child) {
    auto info = fs->Stat(JoinPath(dir, name));
    if (!info.ok()) {
      if (info.status().IsNotFound()) return Status::OK();  // gone between the listing and the stat
      return info.status();
    }
    out->push_back({child, info->size, info->mtime_micros});
    return Status::OK();
  }

  Status Dir(const std::string& rel) {
    std::string dir = rel.empty() ? root : JoinPath(root, rel);
    auto self = fs->Stat(dir);
    if (!self.ok()) return self.status().IsNotFound() && !rel.empty() ? Status::OK() : self.status();
    if (self->inode != 0 && !dirs_seen.insert({self->device, self->inode}).second) {
      not_followed->push_back(rel + "/ (a folder already listed: a cycle)");
      return Status::OK();
    }
    LP_ASSIGN_OR_RETURN(auto entries, fs->ListNames(dir));
    for (const auto& e : entries) {
      if (IsHiddenName(e.name)) continue;
      if (e.is_dir ? !selection.recursive : (selection.name_glob && !selection.name_glob->Matches(e.name))) continue;
      std::string child = rel.empty() ? e.name : rel + "/" + e.name;
      if (e.is_symlink) {
        if (e.is_dir) {
          not_followed->push_back(child + " (a link to a folder)");
          continue;
        }
        if (skip(child)) continue;
        auto real = fs->RealPath(JoinPath(dir, e.name));
        if (!real.ok()) {
          if (real.status().IsNotFound()) {
            not_followed->push_back(child + " (a link to nothing)");
            continue;
          }
          return real.status();
        }
        if (InsideTree(*real)) continue;  // the target is listed under its own name
        if (!link_targets_seen.insert(*real).second) {
          not_followed->push_back(child + " (a second link to " + *real + ")");
          continue;
        }
        LP_RETURN_IF_ERROR(AddFile(dir, e.name, child));
      } else if (e.is_dir) {
        LP_RETURN_IF_ERROR(Dir(child));
      } else if (!skip(child)) {
        LP_RETURN_IF_ERROR(AddFile(dir, e.name, child));
      }
    }
    return Status::OK();
  }
};

// Lists the visible files under `root`. Files `skip` knows (relative paths) are left out
// before they are stat'ed: a landing folder holds mostly files already ingested.
Result<std::vector<SourceFileEntry>> ListFilesExcept(FileSystem* fs, const std::string& root,
                                                     const KnownFile& skip, const FileSelection& selection,
                                                     std::vector<std::string>* not_followed) {
  LP_ASSIGN_OR_RETURN(FileInfo info, fs->Stat(root));
  std::vector<SourceFileEntry> out;
  if (info.is_dir) {
    LP_ASSIGN_OR_RETURN(std::string real_root, fs->RealPath(root));
    TreeWalk walk{fs, root, std::move(real_root), skip, selection, &out, not_followed, {}, {}};
    LP_RETURN_IF_ERROR(walk.Dir(""));
  } else if (!skip("") && (!selection.name_glob || selection.name_glob->Matches(BaseName(root)))) {
    out.push_back({"", info.size, info.mtime_micros});
  }
  return out;
}

// Whether a file may still be being written: it is empty, or its end is not yet the end
// of a complete file of its format (a newline for CSV and JSON lines, the "PAR1" magic
// that closes a Parquet footer).
Result<bool> StillBeingWritten(FileSystem* fs, const std::string& path, int64_t size, bool parquet) {
  if (size == 0) return true;
  if (parquet && size < 4) return true;
  LP_ASSIGN_OR_RETURN(auto file, fs->NewRandomAccessFile(path));
  char tail[4] = {0, 0, 0, 0};
  int64_t n = parquet ? 4 : 1;
  LP_RETURN_IF_ERROR(file->ReadAt(size - n, n, tail));
  return parquet ? std::string_view(tail, 4) != "PAR1" : tail[0] != '\n';
}

// A file seen as its first `size` bytes, so that a batch reads exactly what its plan
// recorded even when the file grew since (a writer appending in place).
class PlannedPrefixFile : public RandomAccessFile {
 public:
  PlannedPrefixFile(std::unique_ptr<RandomAccessFile> base, int64_t size) : base_(std::move(base)), size_(size) {
    path_ = base_->path();
  }
  int64_t Size() const override { return size_; }
  Status ReadAt(int64_t offset, int64_t n, char* out) const override {
    if (offset < 0 || n < 0 || offset + n > size_) {
      return Status::Corruption(path_ + ": read of " + std::to_string(n) + " bytes at " + std::to_string(offset) +
                                " is past its planned size " + std::to_string(size_));
    }
    return base_->ReadAt(offset, n, out);
  }

 private:
  std::unique_ptr<RandomAccessFile> base_;
  int64_t size_;
};

// The file system a format reader gets for one planned file: `path` opens cut to its
// planned size (and its size now is noted); everything else goes to `base` unchanged.
class PlannedFileSystem : public FileSystem {
 public:
  PlannedFileSystem(FileSystem* base, std::string path, int64_t planned_size)
      : base_(base), path_(std::move(path)), planned_size_(planned_size) {}
  int64_t size_seen() const { return size_seen_; }

  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    LP_ASSIGN_OR_RETURN(auto file, base_->NewRandomAccessFile(path));
    if (path != path_) return file;
    size_seen_ = file->Size();
    int64_t size = std::min(size_seen_, planned_size_);
    return std::unique_ptr<RandomAccessFile>(new PlannedPrefixFile(std::move(file), size));
  }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, CreateMode mode) override {
    return base_->NewWritableFile(path, mode);
  }
  Status Rename(const std::string& from, const std::string& to) override { return base_->Rename(from, to); }
  Status Link(const std::string& from, const std::string& to) override { return base_->Link(from, to); }
  Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }
  Status RemoveFile(const std::string& path) override { return base_->RemoveFile(path); }
  Status CreateDirs(const std::string& path) override { return base_->CreateDirs(path); }
  Result<std::vector<FileInfo>> ListDir(const std::string& dir) override { return base_->ListDir(dir); }
  Result<std::vector<FileInfo>> ListNames(const std::string& dir) override { return base_->ListNames(dir); }
  Result<FileInfo> Stat(const std::string& path) override { return base_->Stat(path); }
  Result<std::string> RealPath(const std::string& path) override { return base_->RealPath(path); }

 private:
  FileSystem* base_;
  std::string path_;
  int64_t planned_size_;
  int64_t size_seen_ = -1;
};

// Fills the output batch's columns: data and rescue columns by name from the reader's
// batch, `_metadata.*` from the file.
Result<RecordBatch> ShapeBatch(const RecordBatch& read, const Schema& output,
                               const std::string& full_path, const SourceFileEntry& file) {
  std::vector<ColumnPtr> cols;
  int64_t n = read.num_rows();
  for (const auto& f : output.fields()) {
    if (f.name.rfind("_metadata.", 0) == 0) {
      // One value for the whole file, filled in bulk: a per-row append and name compare
      // cost Bronze ~250 instructions a line for `_metadata.file_path` alone.
      std::string_view field = std::string_view(f.name).substr(10);
      Column c(f.type);
      if (n > 0) {
        if (field == "file_path" || field == "file_name") {
          const std::string value = field == "file_path" ? full_path : BaseName(full_path);
          const std::vector<std::string_view> values(static_cast<size_t>(n), value);
          c.AppendStrings(values.data(), n);
        } else if (field == "file_size" || field == "file_modification_time") {
          const int64_t value = field == "file_size" ? file.size : file.mtime_micros;
          c.ResizeFixed(n);
          std::fill_n(c.data<int64_t>(), n, value);
        } else {
          return Status::NotSupported("_metadata." + std::string(field) + " is not provided by read_files");
        }
      }
      cols.push_back(MakeColumn(std::move(c)));
      continue;
    }
    const Column* src = read.ColumnByName(f.name);
    if (src == nullptr) {
      cols.push_back(MakeColumn(Column::Nulls(f.type, n)));
    } else if (src->type() != f.type) {
      return Status::Internal("read_files column " + f.name + " read as " + src->type().ToString() +
                              ", planned as " + f.type.ToString());
    } else {
      cols.push_back(read.column_ptr(static_cast<size_t>(read.schema().FindField(f.name))));
    }
  }
  return RecordBatch(output, std::move(cols), n);
}

}  // namespace

Result<std::vector<SourceFileEntry>> ListAllFiles(FileSystem* fs, const std::string& root, const FileSelection& selection,
                                                  std::vector<std::string>* not_followed) {
  std::vector<std::string> ignored;
  KnownFile none = [](const std::string&) { return false; };
  return ListFilesExcept(fs, root, none, selection, not_followed != nullptr ? not_followed : &ignored);
}

Result<FileListing> ListNewFiles(FileSystem* fs, const std::string& root, const std::set<std::string>& seen,
                                 const FileListOptions& options) {
  KnownFile known = [&seen](const std::string& path) { return seen.count(path) > 0; };
  return ListNewFiles(fs, root, known, options);
}

Result<FileListing> ListNewFiles(FileSystem* fs, const std::string& root, const KnownFile& known,
                                 const FileListOptions& options) {
  FileListing listing;
  LP_ASSIGN_OR_RETURN(auto unseen, ListFilesExcept(fs, root, known, options.selection, &listing.not_followed));
  std::vector<SourceFileEntry> fresh;
  for (auto& f : unseen) {
    if (!IsValidUtf8(f.path)) {
      listing.bad_names.push_back(std::move(f));
      continue;
    }
    if (f.mtime_micros < options.horizon_micros) {  // older than maxFileAge allows
      listing.too_old.push_back(std::move(f));
      continue;
    }
    if (options.stable_micros > 0) {
      int64_t age = options.now_micros - f.mtime_micros;
      if (age < options.stable_micros) {
        int64_t wait = options.stable_micros - age;
        if (listing.next_stable_in_micros == 0 || wait < listing.next_stable_in_micros) listing.next_stable_in_micros = wait;
        listing.backlog_files += 1;
        listing.backlog_bytes += f.size;
        continue;
      }
    }
    if (options.unterminated_settle_micros > 0) {
      int64_t age = options.now_micros - f.mtime_micros;
      if (age < options.unterminated_settle_micros) {
        auto open = StillBeingWritten(fs, f.path.empty() ? root : JoinPath(root, f.path), f.size, !options.line_delimited);
        if (!open.ok() && !open.status().IsNotFound()) return open.status();
        if (!open.ok() || *open) {  // gone, or still being written: a later listing looks again
          int64_t wait = options.unterminated_settle_micros - age;
          if (listing.next_stable_in_micros == 0 || wait < listing.next_stable_in_micros) listing.next_stable_in_micros = wait;
          listing.backlog_files += 1;
          listing.backlog_bytes += f.size;
          continue;
        }
      }
    }
    fresh.push_back(std::move(f));
  }
  auto oldest_first = [](const SourceFileEntry& a, const SourceFileEntry& b) {
    return a.mtime_micros != b.mtime_micros ? a.mtime_micros < b.mtime_micros : a.path < b.path;
  };
  std::sort(fresh.begin(), fresh.end(), oldest_first);
  std::sort(listing.too_old.begin(), listing.too_old.end(), oldest_first);
  int64_t bytes = 0;
  for (auto& f : fresh) {
    bool over = (options.max_files > 0 && static_cast<int64_t>(listing.files.size()) >= options.max_files) ||
                (options.max_bytes > 0 && !listing.files.empty() && bytes + f.size > options.max_bytes);
    if (over) {
      listing.backlog_files += 1;
      listing.backlog_bytes += f.size;
      continue;
    }
    bytes += f.size;
    listing.files.push_back(std::move(f));
  }
  return listing;
}

Result<FileListOptions> FileListOptionsFrom(const sql::ReadFilesSpec& spec) {
  LP_ASSIGN_OR_RETURN(formats::ReadFilesSettings settings, formats::ReadFilesSettingsFrom(spec.options));
  FileListOptions options;
  options.line_delimited = settings.format != "parquet";
  options.include_existing = settings.source.include_existing_files;
  options.max_files = settings.source.max_files_per_trigger;
  options.max_bytes = settings.source.max_bytes_per_trigger;
  options.stable_micros = settings.source.file_stable_millis * 1000;
  options.max_file_age_micros = settings.source.max_file_age_micros;
  options.selection.recursive = settings.source.recursive_file_lookup;
  if (!settings.source.path_glob_filter.empty()) {
    LP_ASSIGN_OR_RETURN(options.selection.name_glob, FileNameGlob::Compile(settings.source.path_glob_filter));
  }
  return options;
}

struct SourceFileStream::State {
  FileSystem* fs = nullptr;
  const sql::ReadFilesSpec* spec = nullptr;
  const std::vector<SourceFileEntry>* files = nullptr;
  const Schema* output_schema = nullptr;
  FileReadStats* stats = nullptr;
  formats::ReadFilesSettings settings;
  formats::FileReadTarget target;
  // Fields the kept schema lacks, top-level or inside structs (schemaEvolutionMode
  // addNewColumns or failOnNewColumns): the whole batch is read first, so the flow stops
  // once for all of them.
  std::vector<NewFieldSeen> new_fields;
  std::vector<std::string> new_field_files;
  size_t next_file = 0;
  // The open file (reader over `planned`, which it reads through).
  const SourceFileEntry* file = nullptr;
  std::string full;
  std::unique_ptr<PlannedFileSystem> planned;
  std::unique_ptr<BatchReader> reader;
  int64_t file_rows = 0;
  bool done = false;
};

SourceFileStream::SourceFileStream(std::unique_ptr<State> state) : state_(std::move(state)) {}
SourceFileStream::~SourceFileStream() = default;

Result<std::unique_ptr<SourceFileStream>> SourceFileStream::Open(FileSystem* fs, const sql::ReadFilesSpec& spec,
                                                                 const std::vector<SourceFileEntry>& files,
                                                                 const Schema& output_schema, FileReadStats* stats,
                                                                 int64_t batch_rows) {
  auto state = std::make_unique<State>();
  state->fs = fs;
  state->spec = &spec;
  state->files = &files;
  state->output_schema = &output_schema;
  state->stats = stats;
  // The same settings `validate` checked (formats/options).
  LP_ASSIGN_OR_RETURN(state->settings, formats::ReadFilesSettingsFrom(spec.options));
  state->target.schema = spec.schema;
  state->target.rescued_data_column = spec.rescued_data_column;
  state->target.batch_rows = batch_rows;
  return std::unique_ptr<SourceFileStream>(new SourceFileStream(std::move(state)));
}

Status SourceFileStream::FinishFile() {
  State& s = *state_;
  const ReadStats& total = s.reader->total_stats();
  s.stats->rescued_rows += total.rescued_rows;
  for (const auto& f : total.new_fields) {
    bool known = false;
    for (const auto& g : s.new_fields) known |= g.path == f.path;
    if (!known) s.new_fields.push_back({f.name, s.full, f.line, f.path});
  }
  if (!total.new_fields.empty()) s.new_field_files.push_back(s.full);
  if (s.planned->size_seen() >= 0 && s.planned->size_seen() != s.file->size) {
    s.stats->changed_files.push_back({s.full, s.file->size, s.planned->size_seen()});
  }
  s.stats->rows += s.file_rows;
  s.stats->rows_by_file_mtime.emplace_back(s.file->mtime_micros, s.file_rows);
  s.stats->files += 1;
  s.stats->bytes += s.file->size;
  s.reader.reset();
  s.planned.reset();
  s.file = nullptr;
  return Status::OK();
}

Result<bool> SourceFileStream::Next(RecordBatch* out) {
  State& s = *state_;
  ReadBatch batch;
  while (!s.done) {
    if (s.reader == nullptr) {
      if (s.next_file >= s.files->size()) {
        s.done = true;
        // A batch read (no kept schema) inferred its schema from these very files: a field it
        // lacks arrived after that, and is rescued like any other misfit.
        if (!s.new_fields.empty() && !s.spec->schema_location.empty()) {
          int64_t now_millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
          return StopForNewFields(s.fs, *s.spec, s.new_field_files, s.new_fields, now_millis);
        }
        return false;
      }
      s.file = &(*s.files)[s.next_file++];
      s.full = s.file->path.empty() ? s.spec->path : JoinPath(s.spec->path, s.file->path);
      s.planned = std::make_unique<PlannedFileSystem>(s.fs, s.full, s.file->size);
      s.target.file_path = s.full;
      // One loop for every format: the reader yields bounded batches, each shaped to the
      // scan's columns as it comes.
      LP_ASSIGN_OR_RETURN(s.reader, formats::OpenFileReader(s.planned.get(), s.full, s.settings, s.target));
      s.file_rows = 0;
    }
    LP_ASSIGN_OR_RETURN(bool more, s.reader->Next(&batch));
    if (!more) {
      LP_RETURN_IF_ERROR(FinishFile());
      continue;
    }
    auto shaped = ShapeBatch(batch.batch, *s.output_schema, s.full, *s.file);
    if (!shaped.ok()) return shaped.status().WithContext(s.full);
    s.file_rows += batch.batch.num_rows();
    if (batch.batch.num_rows() == 0) continue;
    *out = std::move(shaped).value();
    return true;
  }
  return false;
}

Result<std::vector<RecordBatch>> ReadSourceFiles(FileSystem* fs, const sql::ReadFilesSpec& spec,
                                                 const std::vector<SourceFileEntry>& files,
                                                 const Schema& output_schema,
                                                 FileReadStats* stats) {
  std::vector<RecordBatch> out;
  LP_ASSIGN_OR_RETURN(auto stream, SourceFileStream::Open(fs, spec, files, output_schema, stats));
  RecordBatch b;
  while (true) {
    LP_ASSIGN_OR_RETURN(bool more, stream->Next(&b));
    if (!more) break;
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace lakepipe::runtime
