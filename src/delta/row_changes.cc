#include "delta/row_changes.h"

#include <algorithm>
#include <strings.h>

#include <cstring>
#include <map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "common/kill_point.h"
#include "delta/change_feed.h"
#include "delta/table_internal.h"

namespace lakepipe::delta {

namespace {

// Equal bytes exactly when the key values are equal (NULL is its own value), for matching
// table rows against the affected keys; never persisted.
void AppendKeyBytes(const Column& c, int64_t r, std::string* out) {
  if (c.IsNull(r)) {
    out->push_back('\0');
    return;
  }
  out->push_back('\1');
  if (c.type().is_binary_like()) {
    std::string_view v = c.GetString(r);
    uint32_t len = static_cast<uint32_t>(v.size());
    out->append(reinterpret_cast<const char*>(&len), sizeof len);
    out->append(v);
  } else {
    int w = c.type().fixed_width();
    out->append(reinterpret_cast<const char*>(c.raw_data().data()) + r * w, static_cast<size_t>(w));
  }
}

std::string KeyOf(const std::vector<const Column*>& cols, int64_t r) {
  std::string k;
  for (const Column* c : cols) AppendKeyBytes(*c, r, &k);
  return k;
}

Result<std::vector<const Column*>> KeyColumns(const RecordBatch& batch, const Schema& table_schema,
                                              const std::vector<std::string>& names, const std::string& what) {
  std::vector<const Column*> out;
  for (const auto& n : names) {
    int ti = table_schema.FindField(n);
    int bi = batch.schema().FindField(n);
    if (ti < 0) return Status::InvalidArgument("key column '" + n + "' is not a column of the table (" + table_schema.ToDDL() + ")");
    if (bi < 0) return Status::InvalidArgument(what + " lack key column '" + n + "'");
    const DataType& tt = table_schema.field(static_cast<size_t>(ti)).type;
    const DataType& bt = batch.schema().field(static_cast<size_t>(bi)).type;
    if (tt.is_nested()) return Status::InvalidArgument("key column '" + n + "' has nested type " + tt.ToString());
    if (!SameTypeIgnoringNullability(tt, bt)) {
      return Status::InvalidArgument("key column '" + n + "' is " + bt.ToString() + " in the " + what +
                                     " but " + tt.ToString() + " in the table");
    }
    out.push_back(&batch.column(static_cast<size_t>(bi)));
  }
  return out;
}

// `rows` with a `_change_type` column of `type` appended.
RecordBatch WithChangeType(const RecordBatch& rows, const std::vector<const char*>& types) {
  Schema schema = rows.schema();
  schema.AddField(Field{kChangeTypeColumn, DataType::String(), true});
  std::vector<ColumnPtr> cols = rows.columns();
  Column t(DataType::String());
  t.Reserve(rows.num_rows());
  for (const char* x : types) t.AppendString(x);
  cols.push_back(MakeColumn(std::move(t)));
  return RecordBatch(std::move(schema), std::move(cols), rows.num_rows());
}

// `batch` in `schema`'s columns (by name; a missing column is NULL).
Result<RecordBatch> ToSchema(const RecordBatch& batch, const Schema& schema) {
  std::vector<ColumnPtr> cols;
  for (const Field& f : schema.fields()) {
    int i = batch.schema().FindField(f.name);
    if (i < 0) {
      cols.push_back(MakeColumn(Column::Nulls(f.type, batch.num_rows())));
      continue;
    }
    const DataType& t = batch.schema().field(static_cast<size_t>(i)).type;
    if (!SameTypeIgnoringNullability(t, f.type)) {
      return Status::InvalidArgument("replacement column '" + f.name + "' is " + t.ToString() + " but " +
                                     f.type.ToString() + " in the table");
    }
    cols.push_back(batch.column_ptr(static_cast<size_t>(i)));
  }
  return RecordBatch(schema, std::move(cols), batch.num_rows());
}

// The change data feed rows of a keyed replacement: per key, the existing rows that the
// replacement keeps unchanged cancel out; each remaining old row is paired with the
// remaining new row that agrees with it on the most columns (update_preimage /
// update_postimage); old rows left over are deletes, new rows left over inserts.
// `existing` and `replacement` are in the table schema.
Result<RecordBatch> KeyedChangeRows(const RecordBatch& existing, const RecordBatch& replacement,
                                    const Schema& schema, const std::vector<std::string>& key_columns) {
  RecordBatch all = RecordBatch::Concat(schema, {existing, replacement});
  const int64_t n_old = existing.num_rows();
  LP_ASSIGN_OR_RETURN(std::vector<const Column*> kcols, KeyColumns(all, schema, key_columns, "changed rows"));
  std::vector<std::string> order;
  std::unordered_map<std::string, std::pair<std::vector<int32_t>, std::vector<int32_t>>> groups;
  for (int64_t r = 0; r < all.num_rows(); ++r) {
    std::string k = KeyOf(kcols, r);
    auto [it, inserted] = groups.try_emplace(k);
    if (inserted) order.push_back(k);
    (r < n_old ? it->second.first : it->second.second).push_back(static_cast<int32_t>(r));
  }
  std::vector<int32_t> take;
  std::vector<const char*> types;
  for (const std::string& k : order) {
    auto& [olds, news] = groups[k];
    if (olds.empty()) {
      for (int32_t r : news) take.push_back(r), types.push_back(kChangeInsert);
      continue;
    }
    if (news.empty()) {
      for (int32_t r : olds) take.push_back(r), types.push_back(kChangeDelete);
      continue;
    }
    std::vector<std::vector<Value>> ov, nv;
    for (int32_t r : olds) ov.push_back(all.Row(r));
    for (int32_t r : news) nv.push_back(all.Row(r));
    std::vector<bool> old_done(olds.size()), new_done(news.size());
    for (size_t i = 0; i < olds.size(); ++i) {
      for (size_t j = 0; j < news.size(); ++j) {
        if (!new_done[j] && ov[i] == nv[j]) {
          old_done[i] = new_done[j] = true;
          break;
        }
      }
    }
    for (size_t i = 0; i < olds.size(); ++i) {
      if (old_done[i]) continue;
      int best = -1;
      size_t best_equal = 0;
      for (size_t j = 0; j < news.size(); ++j) {
        if (new_done[j]) continue;
        size_t equal = 0;
        for (size_t c = 0; c < ov[i].size(); ++c) equal += ov[i][c] == nv[j][c] ? 1 : 0;
        if (best < 0 || equal > best_equal) best = static_cast<int>(j), best_equal = equal;
      }
      old_done[i] = true;
      if (best < 0) {
        take.push_back(olds[i]), types.push_back(kChangeDelete);
        continue;
      }
      new_done[static_cast<size_t>(best)] = true;
      take.push_back(olds[i]), types.push_back(kChangeUpdatePreimage);
      take.push_back(news[static_cast<size_t>(best)]), types.push_back(kChangeUpdatePostimage);
    }
    for (size_t j = 0; j < news.size(); ++j) {
      if (!new_done[j]) take.push_back(news[j]), types.push_back(kChangeInsert);
    }
  }
  std::vector<ColumnPtr> cols;
  for (size_t c = 0; c < all.num_columns(); ++c) cols.push_back(MakeColumn(all.column(c).Take(take)));
  return WithChangeType(RecordBatch(schema, std::move(cols), static_cast<int64_t>(take.size())), types);
}

// Appends rows [from, from + n) (file row numbers) of column c of a file read in `pieces`
// (one batch per row group, in file order) to `out`.
void AppendPiecesRange(const std::vector<RecordBatch>& pieces, size_t c, int64_t from, int64_t n, Column* out) {
  int64_t base = 0;
  for (const RecordBatch& p : pieces) {
    const int64_t end = base + p.num_rows();
    if (n > 0 && from < end) {
      const int64_t take = std::min(n, end - from);
      out->AppendRange(p.column(c), from - base, take);
      from += take;
      n -= take;
    }
    base = end;
  }
}

// A file holding affected rows, split into affected (hit) and unaffected (keep) row
// numbers. Its rows are read whole only when needed (the file rewritten whole): most of a
// large file is only copied into a patch column by column, and a patch reads just the
// columns it changes (Rewrite::read_columns).
struct HitFile {
  const DataFile* file = nullptr;
  const Scan* scan = nullptr;  // of every table column
  size_t index = 0;            // in scan->files()
  // All rows, one batch per row group (never concatenated whole unless the file is
  // rewritten whole); read on first use.
  mutable std::vector<RecordBatch> pieces;
  int64_t num_rows = 0;
  std::vector<int32_t> hit, keep;
  const Schema& schema() const { return scan->output_schema(); }
  Result<const std::vector<RecordBatch>*> Pieces() const {
    if (pieces.empty()) {
      LP_ASSIGN_OR_RETURN(pieces, scan->ReadFilePieces(index));
    }
    return &pieces;
  }
  // All rows in one batch (a file rewritten whole).
  Result<RecordBatch> Whole() const {
    LP_ASSIGN_OR_RETURN(const std::vector<RecordBatch>* p, Pieces());
    return RecordBatch::Concat(schema(), *p);
  }
};

// The files read, the ones holding affected rows, and those rows.
struct Rewrite {
  std::vector<const DataFile*> read;
  std::vector<HitFile> files;
  std::vector<RecordBatch> affected;  // affected rows of `files`, in file then row order
  // Columns `columns` (table names) of scan file `index`, one batch per row group.
  std::function<Result<std::vector<RecordBatch>>(size_t index, const std::vector<std::string>& columns)> read_columns;
};

RecordBatch TakeRows(const RecordBatch& rows, const std::vector<int32_t>& idx) {
  std::vector<ColumnPtr> cols;
  for (size_t c = 0; c < rows.num_columns(); ++c) cols.push_back(MakeColumn(rows.column(c).Take(idx)));
  return RecordBatch(rows.schema(), std::move(cols), static_cast<int64_t>(idx.size()));
}

// Rows `idx` (file row numbers, ascending) of a file read in pieces.
Result<RecordBatch> TakeRows(const HitFile& h, const std::vector<int32_t>& idx) {
  LP_ASSIGN_OR_RETURN(const std::vector<RecordBatch>* pieces, h.Pieces());
  if (pieces->size() == 1) return TakeRows((*pieces)[0], idx);
  std::vector<RecordBatch> parts;
  int64_t base = 0;
  size_t k = 0;
  for (const RecordBatch& p : *pieces) {
    std::vector<int32_t> local;
    const int64_t end = base + p.num_rows();
    for (; k < idx.size() && idx[k] < end; ++k) local.push_back(static_cast<int32_t>(idx[k] - base));
    if (!local.empty()) parts.push_back(TakeRows(p, local));
    base = end;
  }
  if (parts.empty()) return RecordBatch::Empty(h.schema());
  return RecordBatch::Concat(h.schema(), parts);
}

// Reads the candidate files and splits their rows by `is_affected` (a mask per file).
// With `key_scan` (the same files, only the columns `is_affected` needs), each file's
// mask comes from those columns first, and of a file with affected rows only those rows
// are decoded (Scan::ReadFileRows): a file the stats could not rule out but that holds
// none costs a key read, one that holds a few costs a key read and a few rows.
Status SplitFiles(const SnapshotPtr& snap, const std::vector<size_t>& candidates, const Scan& scan,
                  const std::function<Result<std::vector<uint8_t>>(const RecordBatch&)>& is_affected,
                  Rewrite* out, const Scan* key_scan = nullptr) {
  for (size_t i : candidates) {
    const DataFile& f = scan.files()[i];
    out->read.push_back(&f);
    std::vector<uint8_t> mask;
    HitFile h;
    h.file = &f;
    h.scan = &scan;
    h.index = i;
    if (key_scan != nullptr) {
      LP_ASSIGN_OR_RETURN(RecordBatch keys, key_scan->ReadFile(i));
      LP_ASSIGN_OR_RETURN(mask, is_affected(keys));
      if (std::find(mask.begin(), mask.end(), 1) == mask.end()) continue;
      h.num_rows = keys.num_rows();
    } else {
      LP_ASSIGN_OR_RETURN(h.pieces, scan.ReadFilePieces(i));
      for (const auto& p : h.pieces) h.num_rows += p.num_rows();
      if (h.pieces.size() == 1) {
        LP_ASSIGN_OR_RETURN(mask, is_affected(h.pieces[0]));
      } else {
        LP_ASSIGN_OR_RETURN(RecordBatch whole, h.Whole());
        LP_ASSIGN_OR_RETURN(mask, is_affected(whole));
      }
    }
    if (static_cast<int64_t>(mask.size()) != h.num_rows) {
      return Status::Internal("row selector returned " + std::to_string(mask.size()) + " flags for " +
                              std::to_string(h.num_rows) + " rows");
    }
    for (int64_t r = 0; r < h.num_rows; ++r) (mask[r] ? h.hit : h.keep).push_back(static_cast<int32_t>(r));
    if (h.hit.empty()) continue;
    if (key_scan != nullptr) {
      std::vector<int64_t> rows(h.hit.begin(), h.hit.end());
      LP_ASSIGN_OR_RETURN(RecordBatch affected, scan.ReadFileRows(i, rows));
      if (affected.num_rows() != static_cast<int64_t>(rows.size())) {
        return Status::Internal("read " + std::to_string(affected.num_rows()) + " of " + std::to_string(rows.size()) +
                                " selected rows of " + f.full_path);
      }
      out->affected.push_back(std::move(affected));
    } else {
      LP_ASSIGN_OR_RETURN(RecordBatch affected, TakeRows(h, h.hit));
      out->affected.push_back(std::move(affected));
    }
    out->files.push_back(std::move(h));
  }
  (void)snap;
  return Status::OK();
}

// Whether row i of `a` and row j of `b` hold the same value (NULL equals NULL).
bool SameCell(const Column& a, int64_t i, const Column& b, int64_t j) {
  bool na = a.IsNull(i), nb = b.IsNull(j);
  if (na || nb) return na == nb;
  if (a.type().is_binary_like()) return a.GetString(i) == b.GetString(j);
  if (!a.type().is_nested()) {
    int w = a.type().fixed_width();
    if (w > 0 && w == b.type().fixed_width()) {
      return std::memcmp(a.raw_data().data() + i * w, b.raw_data().data() + j * w, static_cast<size_t>(w)) == 0;
    }
  }
  return a.GetValue(i) == b.GetValue(j);
}

// How the affected files change when most of their rows stay as they are. Each affected
// row is paired with a replacement row of its key (an identical one first, else the one
// agreeing on the most columns). A file whose affected rows all have a partner keeps its
// rows in place: when no pair differs it is left alone, else only the columns in which a
// pair differs are rewritten (a patch: FileWriter::AppendPatched copies the others'
// chunks), e.g. an SCD type 2 batch that closes versions changes only __END_AT. Other
// files are rewritten as before: their unaffected rows plus the replacement rows.
struct PatchPlan {
  std::vector<uint8_t> kept;      // per Rewrite::files: left alone (nothing changes)
  std::vector<int> patch_of;      // per Rewrite::files: index into `patches`, or -1
  std::vector<FilePatch> patches;
  std::vector<uint8_t> used;      // per replacement row: placed by a kept or patched file
};

Result<PatchPlan> PlanPatches(const Rewrite& rw, const RecordBatch& existing, const RecordBatch& replacement,
                              const Schema& schema, const std::vector<std::string>& key_columns,
                              const std::vector<std::string>& partition_columns) {
  PatchPlan plan;
  plan.kept.assign(rw.files.size(), 0);
  plan.patch_of.assign(rw.files.size(), -1);
  plan.used.assign(static_cast<size_t>(replacement.num_rows()), 0);
  if (rw.files.empty() || existing.num_rows() == 0) return plan;
  LP_ASSIGN_OR_RETURN(std::vector<const Column*> ok, KeyColumns(existing, schema, key_columns, "changed rows"));
  LP_ASSIGN_OR_RETURN(std::vector<const Column*> nk, KeyColumns(replacement, schema, key_columns, "replacement rows"));
  const size_t ncols = existing.num_columns();
  std::unordered_map<std::string, std::vector<int32_t>> news;
  for (int64_t r = 0; r < replacement.num_rows(); ++r) news[KeyOf(nk, r)].push_back(static_cast<int32_t>(r));
  std::unordered_map<std::string, std::vector<int32_t>> olds;
  std::vector<std::string> order;
  for (int64_t r = 0; r < existing.num_rows(); ++r) {
    auto [it, inserted] = olds.try_emplace(KeyOf(ok, r));
    if (inserted) order.push_back(it->first);
    it->second.push_back(static_cast<int32_t>(r));
  }
  auto equal_cells = [&](int32_t o, int32_t n) {
    size_t e = 0;
    for (size_t c = 0; c < ncols; ++c) e += SameCell(existing.column(c), o, replacement.column(c), n) ? 1 : 0;
    return e;
  };
  std::vector<int32_t> partner(static_cast<size_t>(existing.num_rows()), -1);
  for (const std::string& k : order) {
    auto nit = news.find(k);
    if (nit == news.end()) continue;
    const std::vector<int32_t>& os = olds[k];
    const std::vector<int32_t>& ns = nit->second;
    std::vector<uint8_t> taken(ns.size(), 0);
    for (int32_t o : os) {
      for (size_t j = 0; j < ns.size(); ++j) {
        if (!taken[j] && equal_cells(o, ns[j]) == ncols) {
          taken[j] = 1;
          partner[o] = ns[j];
          break;
        }
      }
    }
    for (int32_t o : os) {
      if (partner[o] >= 0) continue;
      int best = -1;
      size_t best_equal = 0;
      for (size_t j = 0; j < ns.size(); ++j) {
        if (taken[j]) continue;
        size_t e = equal_cells(o, ns[j]);
        if (best < 0 || e > best_equal) best = static_cast<int>(j), best_equal = e;
      }
      if (best < 0) continue;
      taken[static_cast<size_t>(best)] = 1;
      partner[o] = ns[static_cast<size_t>(best)];
    }
  }
  std::vector<uint8_t> is_partition(ncols, 0);
  for (size_t c = 0; c < ncols; ++c) {
    for (const auto& pc : partition_columns) {
      if (strcasecmp(pc.c_str(), existing.schema().field(c).name.c_str()) == 0) is_partition[c] = 1;
    }
  }
  int64_t base = 0;  // the file's first row in `existing`
  for (size_t f = 0; f < rw.files.size(); ++f) {
    const HitFile& h = rw.files[f];
    const int64_t n = static_cast<int64_t>(h.hit.size());
    bool paired = true;
    std::vector<uint8_t> changed(ncols, 0);
    for (int64_t i = 0; i < n && paired; ++i) {
      int32_t p = partner[base + i];
      if (p < 0) {
        paired = false;
        break;
      }
      for (size_t c = 0; c < ncols; ++c) {
        if (!changed[c] && !SameCell(existing.column(c), base + i, replacement.column(c), p)) changed[c] = 1;
      }
    }
    size_t nchanged = 0, npart_changed = 0, nstored = 0;
    for (size_t c = 0; c < ncols; ++c) {
      nchanged += changed[c];
      npart_changed += changed[c] && is_partition[c];
      nstored += !is_partition[c];
    }
    if (paired && npart_changed == 0 && nchanged < nstored) {
      for (int64_t i = 0; i < n; ++i) plan.used[static_cast<size_t>(partner[base + i])] = 1;
      if (nchanged == 0) {
        plan.kept[f] = 1;
      } else {
        // The changed columns: the file's values with the affected rows' partners' values.
        // Only those columns are read (all of them when the file was read whole before).
        std::vector<std::string> names;
        for (size_t c = 0; c < ncols; ++c)
          if (changed[c]) names.push_back(h.schema().field(c).name);
        std::vector<RecordBatch> read;
        if (h.pieces.empty() && rw.read_columns) {
          LP_ASSIGN_OR_RETURN(read, rw.read_columns(h.index, names));
        } else {
          LP_RETURN_IF_ERROR(h.Pieces().status());
        }
        const std::vector<RecordBatch>& from = h.pieces.empty() ? read : h.pieces;
        Schema pschema;
        std::vector<ColumnPtr> pcols;
        size_t k = 0;  // index of column c in `read`
        for (size_t c = 0; c < ncols; ++c) {
          if (!changed[c]) continue;
          const size_t fc = h.pieces.empty() ? k++ : c;  // (pieces read whole hold every column)
          const Column& now = replacement.column(c);
          Column col(h.schema().field(c).type);
          col.Reserve(h.num_rows);
          int64_t at = 0;
          for (int64_t i = 0; i < n; ++i) {
            int32_t row = h.hit[static_cast<size_t>(i)];
            if (row > at) AppendPiecesRange(from, fc, at, row - at, &col);
            int32_t p = partner[base + i];
            col.AppendTake(now, &p, 1);
            at = row + 1;
          }
          if (h.num_rows > at) AppendPiecesRange(from, fc, at, h.num_rows - at, &col);
          if (col.size() != h.num_rows) {
            return Status::Internal("patch of " + h.file->full_path + " column " + h.schema().field(c).name + " has " +
                                    std::to_string(col.size()) + " rows for the file's " + std::to_string(h.num_rows));
          }
          pschema.AddField(h.schema().field(c));
          pcols.push_back(MakeColumn(std::move(col)));
        }
        plan.patch_of[f] = static_cast<int>(plan.patches.size());
        plan.patches.push_back(FilePatch{h.file, RecordBatch(std::move(pschema), std::move(pcols), h.num_rows)});
      }
    }
    base += n;
  }
  return plan;
}

struct CommitPlan {
  bool reads_all_files = false;
  std::function<bool(const AddFile&)> add_conflicts;
};

// Writes `new_rows`, the patches and the unaffected rows of the other files, and commits
// them with the removes. Conflict statuses come back as they are (the caller recomputes).
// With the change data feed on, `changes` (table columns + `_change_type`) go to change
// data files recorded as `cdc` actions in the same commit.
Result<RowChangeResult> CommitRewrite(const DeltaTable& table, const SnapshotPtr& snap, const Rewrite& rw,
                                      const std::vector<RecordBatch>& new_rows, const PatchPlan* patches,
                                      const CommitPlan& plan, const RowChangeOptions& options,
                                      const TableOptions& table_options, StringMap metrics,
                                      const RecordBatch* changes) {
  RowChangeResult result;
  result.version = snap->version();
  for (const auto& b : rw.affected) result.rows_removed += b.num_rows();
  std::vector<const DataFile*> removed;
  std::vector<RecordBatch> to_write;
  std::vector<FilePatch> file_patches;
  std::vector<size_t> patched_file;  // per file_patches: index into rw.files
  for (size_t f = 0; f < rw.files.size(); ++f) {
    const HitFile& h = rw.files[f];
    if (patches && patches->kept[f]) continue;
    removed.push_back(h.file);
    result.rows_copied += static_cast<int64_t>(h.keep.size());
    if (patches && patches->patch_of[f] >= 0) {
      file_patches.push_back(patches->patches[static_cast<size_t>(patches->patch_of[f])]);
      patched_file.push_back(f);
    } else if (!h.keep.empty()) {
      LP_ASSIGN_OR_RETURN(RecordBatch kept, TakeRows(h, h.keep));
      to_write.push_back(std::move(kept));
    }
  }
  int64_t new_count = 0;
  for (const auto& b : new_rows) new_count += b.num_rows();
  if (removed.empty() && new_count == 0 && !options.commit_empty) return result;  // nothing changes
  StagedFiles staged;
  if (!file_patches.empty()) {
    std::vector<size_t> refused;
    LP_ASSIGN_OR_RETURN(staged, WritePatchedFiles(table.fs(), table.path(), table_options, snap, file_patches,
                                                  options.target_file_bytes, options.parquet, &refused));
    // A file that cannot be patched is written whole: its rows with the patch's columns.
    for (size_t i : refused) {
      const HitFile& h = rw.files[patched_file[i]];
      const RecordBatch& cols = file_patches[i].columns;
      LP_ASSIGN_OR_RETURN(RecordBatch whole, h.Whole());
      std::vector<ColumnPtr> all;
      for (size_t c = 0; c < whole.num_columns(); ++c) {
        int j = cols.schema().FindField(whole.schema().field(c).name);
        all.push_back(j < 0 ? whole.column_ptr(c) : cols.column_ptr(static_cast<size_t>(j)));
      }
      to_write.push_back(RecordBatch(whole.schema(), std::move(all), whole.num_rows()));
    }
    metrics["numPatchedFiles"] = std::to_string(file_patches.size() - refused.size());
    metrics["numCopiedBytes"] = std::to_string(staged.copied_bytes);
  }
  for (const auto& b : new_rows) to_write.push_back(b);
  if (!to_write.empty()) {
    auto more = WriteDataFiles(table.fs(), table.path(), table_options, snap, to_write, options.target_file_bytes,
                               options.parquet);
    if (!more.ok()) {
      DiscardStagedFiles(table.fs(), table.path(), staged, snap->version(), false);
      return more.status();
    }
    for (auto& a : more->adds) staged.adds.push_back(std::move(a));
    for (auto& p : more->full_paths) staged.full_paths.push_back(std::move(p));
    staged.rows += more->rows;
    staged.bytes += more->bytes;
  }
  int64_t change_rows = 0;
  if (changes != nullptr && changes->num_rows() > 0 && ChangeDataFeedEnabled(snap->protocol(), snap->metadata())) {
    auto cdc = WriteChangeDataFiles(table.fs(), table.path(), table_options, snap, *changes, options.parquet);
    if (!cdc.ok()) {
      DiscardStagedFiles(table.fs(), table.path(), staged, snap->version(), false);
      return cdc.status();
    }
    staged.cdc = std::move(cdc->cdc);
    for (auto& p : cdc->full_paths) staged.full_paths.push_back(std::move(p));
    change_rows = changes->num_rows();
  }
  LP_KILL_POINT("delta.row_changes.after_files");
  int64_t now = table_options.clock->NowMillis();
  CommitRequest req;
  req.read_version = snap->version();
  req.checkpoint_interval = CheckpointIntervalOf(snap->metadata());
  req.reads_all_files = plan.reads_all_files;
  req.add_conflicts = plan.add_conflicts;
  for (const DataFile* f : rw.read) {
    LP_ASSIGN_OR_RETURN(std::string key, FileKey(f->add.path, f->add.deletion_vector));
    req.read_keys.insert(key);
  }
  for (const DataFile* f : removed) {
    req.actions.push_back(RemoveOf(*f, now, /*data_change=*/true));
    result.bytes_removed += f->add.size;
  }
  if (options.txn_app_id) {
    req.txn_app_id = options.txn_app_id;
    req.txn_version = options.txn_version;
    req.actions.push_back(Txn{*options.txn_app_id, options.txn_version, now});
  }
  for (const auto& a : staged.adds) req.actions.push_back(a);
  for (const auto& c : staged.cdc) req.actions.push_back(c);
  req.operation = options.operation;
  req.operation_parameters = options.operation_parameters;
  for (const auto& [k, v] : options.operation_metrics) metrics[k] = v;
  metrics["numRemovedFiles"] = std::to_string(removed.size());
  metrics["numAddedFiles"] = std::to_string(staged.adds.size());
  metrics["numRemovedBytes"] = std::to_string(result.bytes_removed);
  metrics["numAddedBytes"] = std::to_string(staged.bytes);
  metrics["numCopiedRows"] = std::to_string(result.rows_copied);
  metrics["numOutputRows"] = std::to_string(staged.rows);
  if (!staged.cdc.empty()) {
    metrics["numChangeDataFiles"] = std::to_string(staged.cdc.size());
    metrics["numChangeDataRows"] = std::to_string(change_rows);
  }
  req.operation_metrics = std::move(metrics);
  auto outcome = RunCommit(table.fs(), table.path(), table_options, std::move(req));
  if (!outcome.ok()) {
    DiscardStagedFiles(table.fs(), table.path(), staged, snap->version(), !outcome.status().IsConflict());
    return outcome.status();
  }
  result.attempts = outcome->attempts;
  result.version = outcome->version;
  if (outcome->already_committed) {
    DiscardStagedFiles(table.fs(), table.path(), staged, snap->version(), false);
    result.already_committed = true;
    return result;
  }
  result.committed = true;
  result.rows_written = staged.rows;
  result.files_removed = static_cast<int64_t>(removed.size());
  result.files_added = static_cast<int64_t>(staged.adds.size());
  result.bytes_added = staged.bytes;
  return result;
}

// The value of column `name` a file's stats say lies within [min, max], or the file's
// partition value; false when the file cannot hold any of `sorted` (NULL-free, ascending).
bool FileMayHoldAny(const Snapshot& snap, const DataFile& f, const std::string& column, const std::vector<Value>& sorted,
                    bool any_null) {
  for (const auto& [pc, v] : f.partition_values) {
    if (strcasecmp(pc.c_str(), column.c_str()) == 0) {
      if (v.is_null()) return any_null;
      return std::binary_search(sorted.begin(), sorted.end(), v,
                                [](const Value& a, const Value& b) { return a.Compare(b) < 0; });
    }
  }
  auto stats = snap.Stats(f);
  if (!stats.ok()) return true;
  if (any_null) return true;
  auto lo = stats->min_values.find(column);
  auto hi = stats->max_values.find(column);
  if (lo == stats->min_values.end() || hi == stats->max_values.end() || lo->second.is_null() ||
      hi->second.is_null()) {
    // All-NULL column (numRecords == nullCount) holds no non-NULL key.
    auto nc = stats->null_count.find(column);
    if (stats->num_records && nc != stats->null_count.end() && nc->second == *stats->num_records) return false;
    return true;
  }
  auto it = std::lower_bound(sorted.begin(), sorted.end(), lo->second,
                             [](const Value& a, const Value& b) { return a.Compare(b) < 0; });
  return it != sorted.end() && it->Compare(hi->second) <= 0;
}

// Stats column names are as written in the schema; find the table's spelling.
std::string TableName(const Schema& schema, const std::string& name) {
  int i = schema.FindField(name);
  return i < 0 ? name : schema.field(static_cast<size_t>(i)).name;
}

}  // namespace

Result<RowChangeResult> ReplaceKeyedRows(const DeltaTable& table, const KeyedReplace& change,
                                         const ComputeReplacement& compute, const RowChangeOptions& options) {
  if (change.key_columns.empty()) return Status::InvalidArgument("row-level change without key columns");
  TableOptions table_options;  // the clock of commit times
  Status last_conflict;
  int attempts = std::max(1, options.max_attempts);
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    LP_ASSIGN_OR_RETURN(SnapshotPtr snap, table.Latest());
    LP_RETURN_IF_ERROR(CheckWriteSupport(snap->protocol(), snap->metadata(), table.path()));
    RowChangeResult skipped;
    skipped.version = snap->version();
    if (options.txn_app_id) {
      auto v = snap->TxnVersion(*options.txn_app_id);
      if (v && *v >= options.txn_version) {
        skipped.already_committed = true;
        return skipped;
      }
    }
    const Schema& schema = snap->schema();
    LP_ASSIGN_OR_RETURN(std::vector<const Column*> key_cols,
                        KeyColumns(change.keys, schema, change.key_columns, "affected keys"));
    std::unordered_set<std::string> keys;
    for (int64_t r = 0; r < change.keys.num_rows(); ++r) keys.insert(KeyOf(key_cols, r));
    // Values of the first key column, for skipping files by their stats.
    std::string first = TableName(schema, change.key_columns[0]);
    std::vector<Value> sorted;
    bool any_null = false;
    for (int64_t r = 0; r < change.keys.num_rows(); ++r) {
      Value v = key_cols[0]->GetValue(r);
      if (v.is_null()) any_null = true;
      else sorted.push_back(std::move(v));
    }
    auto less = [](const Value& a, const Value& b) { return a.Compare(b) < 0; };
    std::sort(sorted.begin(), sorted.end(), less);
    sorted.erase(std::unique(sorted.begin(), sorted.end(), [](const Value& a, const Value& b) { return a.Compare(b) == 0; }),
                 sorted.end());

    LP_ASSIGN_OR_RETURN(Scan scan, Scan::Plan(snap, {}));
    Rewrite rw;
    CommitPlan plan;
    if (change.truncate) {
      // Every row is affected: `compute` sees them all and returns what remains.
      plan.reads_all_files = true;
      std::vector<size_t> all(scan.files().size());
      for (size_t i = 0; i < all.size(); ++i) all[i] = i;
      LP_RETURN_IF_ERROR(SplitFiles(snap, all, scan, [](const RecordBatch& rows) -> Result<std::vector<uint8_t>> {
        return std::vector<uint8_t>(static_cast<size_t>(rows.num_rows()), 1);
      }, &rw));
    } else {
      std::vector<size_t> candidates;
      for (size_t i = 0; i < scan.files().size(); ++i) {
        if (!keys.empty() && FileMayHoldAny(*snap, scan.files()[i], first, sorted, any_null)) candidates.push_back(i);
      }
      // A first key column of up to 8 bytes is checked against its values' bits first, so
      // that the rows of unaffected keys (most of a file) build no key string.
      const int first_width = key_cols[0]->type().is_binary_like() || key_cols[0]->type().is_nested()
                                  ? 0 : key_cols[0]->type().fixed_width();
      std::unordered_set<uint64_t> first_bits;
      if (first_width > 0 && first_width <= 8) {
        for (int64_t r = 0; r < change.keys.num_rows(); ++r) {
          if (key_cols[0]->IsNull(r)) continue;
          uint64_t b = 0;
          std::memcpy(&b, key_cols[0]->raw_data().data() + r * first_width, static_cast<size_t>(first_width));
          first_bits.insert(b);
        }
      }
      auto is_affected = [&](const RecordBatch& rows) -> Result<std::vector<uint8_t>> {
        LP_ASSIGN_OR_RETURN(std::vector<const Column*> cols, KeyColumns(rows, schema, change.key_columns, "table rows"));
        std::vector<uint8_t> mask(static_cast<size_t>(rows.num_rows()));
        const bool prefilter = first_width > 0 && first_width <= 8 && cols[0]->type().fixed_width() == first_width;
        const uint8_t* raw = cols[0]->raw_data().data();
        for (int64_t r = 0; r < rows.num_rows(); ++r) {
          if (prefilter && !cols[0]->IsNull(r)) {
            uint64_t b = 0;
            std::memcpy(&b, raw + r * first_width, static_cast<size_t>(first_width));
            if (!first_bits.count(b)) continue;
          }
          mask[r] = keys.count(KeyOf(cols, r)) ? 1 : 0;
        }
        return mask;
      };
      ScanOptions key_only;
      key_only.columns = change.key_columns;
      LP_ASSIGN_OR_RETURN(Scan key_scan, Scan::Plan(snap, key_only));
      if (key_scan.files().size() != scan.files().size()) return Status::Internal("key scan planned other files");
      LP_RETURN_IF_ERROR(SplitFiles(snap, candidates, scan, is_affected, &rw, &key_scan));
      // A patch reads the columns it changes (e.g. SCD type 2's __END_AT) and no other.
      auto column_scans = std::make_shared<std::map<std::vector<std::string>, Scan>>();
      rw.read_columns = [snap, column_scans, n = scan.files().size()](
                            size_t index, const std::vector<std::string>& columns) -> Result<std::vector<RecordBatch>> {
        auto it = column_scans->find(columns);
        if (it == column_scans->end()) {
          ScanOptions o;
          o.columns = columns;
          LP_ASSIGN_OR_RETURN(Scan s, Scan::Plan(snap, o));
          if (s.files().size() != n) return Status::Internal("column scan planned other files");
          it = column_scans->emplace(columns, std::move(s)).first;
        }
        return it->second.ReadFilePieces(index);
      };
      // A concurrent add conflicts when its stats may hold one of our keys.
      auto shared_sorted = std::make_shared<std::vector<Value>>(sorted);
      plan.add_conflicts = [snap, first, shared_sorted, any_null](const AddFile& add) {
        DataFile f;
        f.add = add;
        const Schema& s = snap->schema();
        for (const auto& [k, v] : add.partition_values) {
          int i = s.FindField(k);
          if (i < 0) return true;
          auto pv = ParsePartitionValue(v, s.field(static_cast<size_t>(i)).type);
          if (!pv.ok()) return true;
          f.partition_values[k] = *pv;
        }
        return FileMayHoldAny(*snap, f, first, *shared_sorted, any_null);
      };
    }
    RecordBatch existing = rw.affected.empty() ? RecordBatch::Empty(scan.output_schema())
                                               : RecordBatch::Concat(scan.output_schema(), rw.affected);
    LP_ASSIGN_OR_RETURN(RecordBatch replacement, compute(existing));
    if (replacement.num_rows() > 0 && !change.truncate) {
      LP_ASSIGN_OR_RETURN(std::vector<const Column*> rcols,
                          KeyColumns(replacement, schema, change.key_columns, "replacement rows"));
      for (int64_t r = 0; r < replacement.num_rows(); ++r) {
        if (!keys.count(KeyOf(rcols, r))) {
          return Status::InvalidArgument("replacement row " + std::to_string(r) + " has a key that is not among the affected keys");
        }
      }
    }
    StringMap metrics;
    metrics["numTargetRowsRemoved"] = std::to_string(existing.num_rows());
    metrics["numReplacementRows"] = std::to_string(replacement.num_rows());
    LP_ASSIGN_OR_RETURN(RecordBatch normalized, ToSchema(replacement, scan.output_schema()));
    std::optional<RecordBatch> changes;
    if (ChangeDataFeedEnabled(snap->protocol(), snap->metadata())) {
      LP_ASSIGN_OR_RETURN(changes, KeyedChangeRows(existing, normalized, scan.output_schema(), change.key_columns));
    }
    std::optional<PatchPlan> patches;
    if (!change.truncate) {
      LP_ASSIGN_OR_RETURN(patches, PlanPatches(rw, existing, normalized, scan.output_schema(), change.key_columns,
                                               snap->partition_columns()));
    }
    std::vector<RecordBatch> new_rows;
    if (patches) {
      std::vector<int32_t> rest;
      for (int64_t r = 0; r < normalized.num_rows(); ++r) {
        if (!patches->used[static_cast<size_t>(r)]) rest.push_back(static_cast<int32_t>(r));
      }
      if (!rest.empty()) new_rows.push_back(TakeRows(normalized, rest));
    } else if (normalized.num_rows() > 0) {
      new_rows.push_back(std::move(normalized));
    }
    auto result = CommitRewrite(table, snap, rw, new_rows, patches ? &*patches : nullptr, plan, options,
                                table_options, std::move(metrics), changes ? &*changes : nullptr);
    if (result.ok()) {
      result->attempts = attempt;
      return result;
    }
    if (!result.status().IsConflict()) return result.status();
    last_conflict = result.status();
  }
  return Status::Conflict(last_conflict.message() + " (gave up after " + std::to_string(attempts) +
                          " recomputations from fresh snapshots)");
}

Result<RowChangeResult> DeleteRows(const DeltaTable& table, const std::vector<parquet::ColumnPredicate>& skip,
                                   const RowSelector& select, const std::string& predicate_text,
                                   const RowChangeOptions& options) {
  TableOptions table_options;
  Status last_conflict;
  int attempts = std::max(1, options.max_attempts);
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    LP_ASSIGN_OR_RETURN(SnapshotPtr snap, table.Latest());
    LP_RETURN_IF_ERROR(CheckWriteSupport(snap->protocol(), snap->metadata(), table.path()));
    ScanOptions so;
    so.predicates = skip;
    LP_ASSIGN_OR_RETURN(Scan scan, Scan::Plan(snap, so));
    std::vector<size_t> all(scan.files().size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    Rewrite rw;
    LP_RETURN_IF_ERROR(SplitFiles(snap, all, scan, select, &rw));
    CommitPlan plan;
    // A concurrent add may hold rows the predicate selects; Delta's DELETE then conflicts.
    plan.reads_all_files = true;
    RowChangeOptions o = options;
    o.operation = "DELETE";
    nlohmann::json preds = nlohmann::json::array({predicate_text});
    o.operation_parameters["predicate"] = preds.dump();
    StringMap metrics;
    int64_t deleted = 0;
    for (const auto& b : rw.affected) deleted += b.num_rows();
    metrics["numDeletedRows"] = std::to_string(deleted);
    std::optional<RecordBatch> changes;
    if (deleted > 0 && ChangeDataFeedEnabled(snap->protocol(), snap->metadata())) {
      RecordBatch gone = RecordBatch::Concat(scan.output_schema(), rw.affected);
      changes = WithChangeType(gone, std::vector<const char*>(static_cast<size_t>(gone.num_rows()), kChangeDelete));
    }
    auto result = CommitRewrite(table, snap, rw, {}, nullptr, plan, o, table_options, std::move(metrics),
                                changes ? &*changes : nullptr);
    if (result.ok()) {
      result->attempts = attempt;
      return result;
    }
    if (!result.status().IsConflict()) return result.status();
    last_conflict = result.status();
  }
  return Status::Conflict(last_conflict.message() + " (gave up after " + std::to_string(attempts) + " attempts)");
}

}  // namespace lakepipe::delta
