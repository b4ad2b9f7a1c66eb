#include "runtime/shared_appends.h"

#include <algorithm>
#include <limits>

#include "delta/commit_appends.h"
#include "sql/lexer.h"

namespace lakepipe::runtime {


struct SharedAppends::Entry {
  int64_t version = 0;
  int64_t schema_version = 0;  // metadata_version of the snapshot the files are read with
  bool rewrites_rows = false;
  delta::SnapshotPtr added;  // the commit's appended files; null when none

  std::mutex mu;  // guards what follows: the decoded columns
  bool pieces_known = false;
  std::vector<int64_t> piece_rows;  // rows of each piece
  struct DecodedColumn {
    Field field;
    std::vector<ColumnPtr> pieces;
  };
  std::map<std::string, DecodedColumn> columns;  // by lower-case name

  int64_t accounted = 0;  // bytes counted in bytes_ (guarded by the cache's mu_)
  bool kept = true;       // still in entries_ (guarded by the cache's mu_)
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
  entry->version = version;
  entry->schema_version = schema_version;
  entry->rewrites_rows = commit.rewrites_rows;
  entry->added = std::move(commit.added);
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

Result<std::vector<RecordBatch>> SharedAppends::Read(const delta::DeltaTable& table,
                                                     const delta::SnapshotPtr& latest, int64_t version,
                                                     const std::vector<std::string>& columns) {
  LP_ASSIGN_OR_RETURN(std::shared_ptr<Entry> entry, EntryOf(table, latest, version));
  if (entry->rewrites_rows) {
    return Status::NotSupported("table " + table.path() + ": version " + std::to_string(version) +
                                " deletes or rewrites rows, which a read of appended rows cannot follow");
  }
  std::vector<RecordBatch> out;
  if (entry->added == nullptr) return out;
  std::lock_guard<std::mutex> lock(entry->mu);
  std::vector<std::string> missing;
  for (const auto& c : columns) {
    if (entry->columns.count(sql::ToLower(c)) == 0 &&
        std::find(missing.begin(), missing.end(), c) == missing.end())
      missing.push_back(c);
  }
  int64_t decoded_bytes = 0;
  if (!missing.empty()) {
    delta::ScanOptions options;
    options.columns = missing;
    LP_ASSIGN_OR_RETURN(delta::Scan scan, delta::Scan::Plan(entry->added, options));
    std::vector<RecordBatch> pieces;
    for (size_t i = 0; i < scan.files().size(); ++i) {
      LP_ASSIGN_OR_RETURN(std::unique_ptr<delta::Scan::RowGroupReader> file, scan.OpenFile(i));
      RecordBatch piece;
      while (true) {
        LP_ASSIGN_OR_RETURN(bool more, file->Next(&piece));
        if (!more) break;
        if (piece.num_rows() > 0) pieces.push_back(std::move(piece));
      }
    }
    // Every decode of the version cuts it into the same pieces (the same files, in the
    // same order, their row groups whole): columns decoded at different times line up.
    if (!entry->pieces_known) {
      for (const auto& p : pieces) entry->piece_rows.push_back(p.num_rows());
      entry->pieces_known = true;
    } else {
      bool same = pieces.size() == entry->piece_rows.size();
      for (size_t p = 0; same && p < pieces.size(); ++p) same = pieces[p].num_rows() == entry->piece_rows[p];
      if (!same) {
        return Status::Internal("table " + table.path() + ": version " + std::to_string(version) +
                                " read in other columns gave other row groups");
      }
    }
    const Schema& schema = scan.output_schema();
    for (size_t c = 0; c < schema.size(); ++c) {
      Entry::DecodedColumn decoded{schema.field(c), {}};
      for (const auto& p : pieces) {
        decoded.pieces.push_back(p.column_ptr(c));
        decoded_bytes += p.column(c).MemoryBytes();
      }
      entry->columns[sql::ToLower(schema.field(c).name)] = std::move(decoded);
    }
  }
  for (size_t p = 0; p < entry->piece_rows.size(); ++p) {
    Schema schema;
    std::vector<ColumnPtr> cols;
    for (const auto& c : columns) {
      auto it = entry->columns.find(sql::ToLower(c));
      if (it == entry->columns.end()) {
        return Status::InvalidArgument("table " + table.path() + " has no column `" + c + "` at version " +
                                       std::to_string(version));
      }
      schema.AddField(it->second.field);
      cols.push_back(it->second.pieces[p]);
    }
    out.emplace_back(std::move(schema), std::move(cols), entry->piece_rows[p]);
  }
  std::lock_guard<std::mutex> cache(mu_);
  columns_decoded_ += static_cast<int64_t>(missing.size());
  columns_reused_ += static_cast<int64_t>(columns.size() - missing.size());
  if (decoded_bytes > 0 && entry->kept) {
    entry->accounted += decoded_bytes;
    bytes_ += decoded_bytes;
    // Beyond the budget, the oldest versions go (of any table), never the one just read.
    while (bytes_ > budget_bytes_) {
      std::map<int64_t, std::shared_ptr<Entry>>* oldest = nullptr;
      for (auto& [path, versions] : entries_) {
        if (versions.empty() || versions.begin()->second == entry) continue;
        if (oldest == nullptr || versions.begin()->first < oldest->begin()->first) oldest = &versions;
      }
      if (oldest == nullptr) break;
      bytes_ -= oldest->begin()->second->accounted;
      oldest->begin()->second->kept = false;
      oldest->erase(oldest->begin());
    }
  }
  return out;
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
