#include "runtime/shared_appends.h"

#include <algorithm>
#include <deque>
#include <limits>

#include "delta/commit_appends.h"
#include "sql/lexer.h"

namespace lakepipe::runtime {


struct SharedAppends::Entry {
  std::string table_path;
  int64_t version = 0;
  int64_t schema_version = 0;  // metadata_version of the snapshot the files are read with
  bool rewrites_rows = false;
  delta::SnapshotPtr added;  // the commit's appended files; null when none

  struct Piece {
    Piece(size_t f, int g, int64_t n) : file(f), row_group(g), rows(n) {}
    const size_t file;  // index in the appended files (delta::Scan::files(), unfiltered)
    const int row_group;
    const int64_t rows;
    // Guards what follows. A piece is decoded under its own lock: a reader taking a piece
    // decoded before does not wait for another reader decoding the next one.
    std::mutex mu;
    std::map<std::string, std::pair<Field, ColumnPtr>> columns;  // kept, by lower-case name
    int64_t bytes = 0;  // of `columns`, counted in accounted
    int takes = 0;      // readers that took it
  };
  std::mutex mu;  // guards what follows: the list of pieces (not their columns)
  std::deque<Piece> pieces;  // the non-empty row groups of files [0, files_listed); never moved
  size_t files_listed = 0;
  bool all_listed = false;

  int64_t accounted = 0;  // bytes counted in bytes_ (guarded by the cache's mu_)
  bool kept = true;       // still in entries_ (guarded by the cache's mu_)
};

// One appended file opened for some columns, kept by a stream while its pieces come from it.
struct SharedAppends::PieceFile {
  size_t file = 0;
  std::vector<std::string> columns;
  std::unique_ptr<delta::Scan> scan;  // outlives `reader`, which points into it
  std::unique_ptr<delta::Scan::RowGroupReader> reader;
};

namespace {

// File `f` of `added` opened for `columns`; false when the commit has no such file.
Result<bool> OpenAppendedFile(const delta::SnapshotPtr& added, const std::vector<std::string>& columns, size_t f,
                              std::unique_ptr<delta::Scan>* scan, std::unique_ptr<delta::Scan::RowGroupReader>* reader) {
  delta::ScanOptions options;
  options.columns = columns;
  LP_ASSIGN_OR_RETURN(delta::Scan planned, delta::Scan::Plan(added, options));
  if (f >= planned.files().size()) return false;
  *scan = std::make_unique<delta::Scan>(std::move(planned));
  LP_ASSIGN_OR_RETURN(*reader, (*scan)->OpenFile(f));
  return true;
}

}  // namespace

class SharedAppends::VersionStream final : public BatchStream {
 public:
  VersionStream(SharedAppends* owner, std::shared_ptr<Entry> entry, std::vector<std::string> columns)
      : owner_(owner), entry_(std::move(entry)), columns_(std::move(columns)) {}

  Result<bool> Next(RecordBatch* out) override {
    LP_ASSIGN_OR_RETURN(bool more, owner_->TakePiece(*entry_, next_, columns_, &file_, out));
    if (!more) {
      file_.reset();
      return false;
    }
    ++next_;
    return true;
  }

 private:
  SharedAppends* const owner_;
  const std::shared_ptr<Entry> entry_;
  const std::vector<std::string> columns_;
  size_t next_ = 0;
  std::unique_ptr<PieceFile> file_;
};

Result<std::shared_ptr<SharedAppends::Entry>> SharedAppends::EntryOf(const delta::DeltaTable& table,
                                                                     const delta::SnapshotPtr& latest,
                                                                     int64_t version) {
  const int64_t schema_version = latest->state().metadata_version;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto t = entries_.find(table.path());
    if (t != entries_.end()) {
      auto it = t->second.find(version);
      if (it != t->second.end() && it->second->schema_version == schema_version) return it->second;
    }
  }
  // Parsed outside the lock: other versions are served meanwhile.
  LP_ASSIGN_OR_RETURN(delta::CommitAppends commit, delta::ReadCommitAppends(table, *latest, version));
  auto entry = std::make_shared<Entry>();
  entry->table_path = table.path();
  entry->version = version;
  entry->schema_version = schema_version;
  entry->rewrites_rows = commit.rewrites_rows;
  entry->added = std::move(commit.added);
  entry->all_listed = entry->added == nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  // A version every reader has taken is not kept (a late reader reads it on its own).
  auto taken = taken_.find(table.path());
  if (taken != taken_.end() && !taken->second.empty()) {
    int64_t all = std::numeric_limits<int64_t>::max();
    for (const auto& [reader, v] : taken->second) all = std::min(all, v);
    if (version <= all) {
      entry->kept = false;
      return entry;
    }
  }
  std::shared_ptr<Entry>& slot = entries_[table.path()][version];
  if (slot != nullptr && slot->schema_version == schema_version) return slot;  // parsed by another caller too
  if (slot != nullptr) {
    bytes_ -= slot->accounted;
    slot->kept = false;
  }
  slot = entry;
  return entry;
}

Result<bool> SharedAppends::OnlyAppends(const delta::DeltaTable& table, const delta::SnapshotPtr& latest,
                                        int64_t start, int64_t end) {
  for (int64_t v = start; v <= end; ++v) {
    LP_ASSIGN_OR_RETURN(std::shared_ptr<Entry> entry, EntryOf(table, latest, v));
    if (entry->rewrites_rows) return false;
  }
  return true;
}

Result<std::unique_ptr<BatchStream>> SharedAppends::Read(const delta::DeltaTable& table,
                                                         const delta::SnapshotPtr& latest, int64_t version,
                                                         const std::vector<std::string>& columns) {
  LP_ASSIGN_OR_RETURN(std::shared_ptr<Entry> entry, EntryOf(table, latest, version));
  if (entry->rewrites_rows) {
    return Status::NotSupported("table " + table.path() + ": version " + std::to_string(version) +
                                " deletes or rewrites rows, which a read of appended rows cannot follow");
  }
  return std::unique_ptr<BatchStream>(std::make_unique<VersionStream>(this, std::move(entry), columns));
}

Result<bool> SharedAppends::TakePiece(Entry& entry, size_t p, const std::vector<std::string>& columns,
                                      std::unique_ptr<PieceFile>* file, RecordBatch* out) {
  auto open = [&](size_t f, const std::vector<std::string>& cols) -> Result<bool> {
    auto opened = std::make_unique<PieceFile>();
    LP_ASSIGN_OR_RETURN(bool exists, OpenAppendedFile(entry.added, cols, f, &opened->scan, &opened->reader));
    if (!exists) return false;
    opened->file = f;
    opened->columns = cols;
    *file = std::move(opened);
    return true;
  };
  std::vector<std::string> wanted;  // `columns` without repeats
  for (const auto& c : columns)
    if (std::find(wanted.begin(), wanted.end(), c) == wanted.end()) wanted.push_back(c);
  Entry::Piece* piece = nullptr;
  {
    // Pieces are listed file by file as readers reach them (a footer read each); the file
    // is opened for every column wanted, which a piece not decoded yet misses.
    std::lock_guard<std::mutex> lock(entry.mu);
    while (p >= entry.pieces.size()) {
      if (entry.all_listed) return false;
      const size_t f = entry.files_listed;
      LP_ASSIGN_OR_RETURN(bool exists, open(f, wanted));
      if (!exists) {
        entry.all_listed = true;
        return false;
      }
      const delta::Scan::RowGroupReader& reader = *(*file)->reader;
      for (int g = 0; g < reader.num_row_groups(); ++g) {
        if (reader.row_group_rows(g) > 0) entry.pieces.emplace_back(f, g, reader.row_group_rows(g));
      }
      ++entry.files_listed;
    }
    piece = &entry.pieces[p];
  }

  std::vector<ColumnPtr> released;  // freed outside the locks
  std::unique_lock<std::mutex> lock(piece->mu);
  std::vector<std::string> missing;
  for (const auto& c : wanted)
    if (piece->columns.count(sql::ToLower(c)) == 0) missing.push_back(c);
  int64_t decoded_bytes = 0;
  if (!missing.empty()) {
    if (*file == nullptr || (*file)->file != piece->file || (*file)->columns != missing) {
      LP_ASSIGN_OR_RETURN(bool exists, open(piece->file, missing));
      if (!exists) return Status::Internal("table " + entry.table_path + ": a file of version " +
                                           std::to_string(entry.version) + " went missing from its commit");
    }
    LP_ASSIGN_OR_RETURN(RecordBatch decoded, (*file)->reader->Read(piece->row_group));
    if (decoded.num_rows() != piece->rows) {
      return Status::Internal("table " + entry.table_path + ": version " + std::to_string(entry.version) +
                              " read in other columns gave other row groups");
    }
    const Schema& schema = decoded.schema();
    for (size_t c = 0; c < schema.size(); ++c) {
      piece->columns[sql::ToLower(schema.field(c).name)] = {schema.field(c), decoded.column_ptr(c)};
      decoded_bytes += decoded.column(c).MemoryBytes();
    }
  }
  Schema schema;
  std::vector<ColumnPtr> cols;
  for (const auto& c : columns) {
    auto it = piece->columns.find(sql::ToLower(c));
    if (it == piece->columns.end()) {
      return Status::InvalidArgument("table " + entry.table_path + " has no column `" + c + "` at version " +
                                     std::to_string(entry.version));
    }
    schema.AddField(it->second.first);
    cols.push_back(it->second.second);
  }
  *out = RecordBatch(std::move(schema), std::move(cols), piece->rows);
  ++piece->takes;

  std::lock_guard<std::mutex> cache(mu_);
  columns_decoded_ += static_cast<int64_t>(missing.size());
  columns_reused_ += static_cast<int64_t>(wanted.size() - missing.size());
  auto readers = taken_.find(entry.table_path);
  const size_t followers = readers == taken_.end() ? 0 : readers->second.size();
  const bool everyone_took = followers > 0 && static_cast<size_t>(piece->takes) >= followers;
  piece->bytes += decoded_bytes;
  entry.accounted += decoded_bytes;
  if (entry.kept) bytes_ += decoded_bytes;
  auto let_go = [&](Entry::Piece& q) {
    if (entry.kept) bytes_ -= q.bytes;
    entry.accounted -= q.bytes;
    q.bytes = 0;
    for (auto& [name, column] : q.columns) released.push_back(std::move(column.second));
    q.columns.clear();
  };
  // A piece nobody else will take is let go (the batch handed out keeps its columns).
  if (!entry.kept || everyone_took) {
    let_go(*piece);
    return true;
  }
  // Beyond the budget, the oldest versions go (of any table), then this version's other
  // pieces, lowest first; never the piece just read, which the other views reading this
  // version in step are about to take (dropped, it would be decoded again by each). So a
  // version being read holds at most a row group beyond the budget, not the version.
  while (bytes_ > budget_bytes_) {
    std::map<int64_t, std::shared_ptr<Entry>>* oldest = nullptr;
    for (auto& [path, versions] : entries_) {
      if (versions.empty() || versions.begin()->second.get() == &entry) continue;
      if (oldest == nullptr || versions.begin()->first < oldest->begin()->first) oldest = &versions;
    }
    if (oldest == nullptr) break;
    bytes_ -= oldest->begin()->second->accounted;
    oldest->begin()->second->kept = false;
    oldest->erase(oldest->begin());
  }
  if (bytes_ > budget_bytes_) {
    // Lock order: a piece, the cache, then the list; another piece only if free at once.
    std::lock_guard<std::mutex> list(entry.mu);
    for (Entry::Piece& q : entry.pieces) {
      if (bytes_ <= budget_bytes_) break;
      if (&q == piece) continue;
      std::unique_lock<std::mutex> other(q.mu, std::try_to_lock);
      if (other.owns_lock() && q.bytes > 0) let_go(q);
    }
  }
  return true;
}

void SharedAppends::Follow(const std::string& table_path, const std::string& reader) {
  std::lock_guard<std::mutex> lock(mu_);
  taken_[table_path].emplace(reader, -1);
}

void SharedAppends::Taken(const std::string& table_path, const std::string& reader, int64_t version) {
  std::vector<std::shared_ptr<Entry>> released;  // freed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, added] = taken_[table_path].emplace(reader, version);
  if (!added) it->second = std::max(it->second, version);
  int64_t all = std::numeric_limits<int64_t>::max();
  for (const auto& [r, taken] : taken_[table_path]) all = std::min(all, taken);
  auto t = entries_.find(table_path);
  if (t == entries_.end()) return;
  auto& versions = t->second;
  while (!versions.empty() && versions.begin()->first <= all) {
    bytes_ -= versions.begin()->second->accounted;
    versions.begin()->second->kept = false;
    released.push_back(std::move(versions.begin()->second));
    versions.erase(versions.begin());
  }
}

int64_t SharedAppends::columns_decoded() const {
  std::lock_guard<std::mutex> lock(mu_);
  return columns_decoded_;
}

int64_t SharedAppends::columns_reused() const {
  std::lock_guard<std::mutex> lock(mu_);
  return columns_reused_;
}

int64_t SharedAppends::bytes_kept() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

}  // namespace lakepipe::runtime
