#include "operators/snapshot_cdc.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "expr/eval.h"
#include "operators/key_encoder.h"
#include "operators/scd.h"

namespace lakepipe::operators {

namespace {

struct RowRef {
  int32_t batch;
  int32_t row;
};

// The version of a row as text, for messages: `v` or `(a, b)`.
std::string VersionText(const std::vector<ColumnPtr>& parts, int64_t r) {
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? ", " : "") + parts[i]->GetValue(r).ToString();
  return parts.size() == 1 ? s : "(" + s + ")";
}

void AddText(const std::string& item, std::string* list) {
  if (list->find(item) != std::string::npos) return;  // short lists: a search is enough
  *list += (list->empty() ? "" : ", ") + item;
}

}  // namespace

Schema SnapshotDiff::EventSchema(const Schema& source) {
  Schema s = source;
  s.AddField(Field{kDeleteColumn, DataType::Boolean(), true});
  return s;
}

Result<SnapshotChanges> SnapshotDiff::Plan(const std::vector<RecordBatch>& rows, bool end_of_backlog,
                                           SnapshotStates* states) const {
  SnapshotChanges out;
  const Schema& source = spec_.source_schema;
  const Schema events_schema = EventSchema(source);
  LP_ASSIGN_OR_RETURN(SnapshotProgress progress, states->LoadSnapshotProgress(source));

  // The held rows of an incomplete version first, then this batch's.
  std::vector<RecordBatch> input = progress.held_rows;
  const size_t first_new = input.size();
  for (const auto& b : rows)
    if (b.num_rows() > 0) input.push_back(b);

  std::vector<int> key_idx, value_idx;
  std::vector<DataType> key_types;
  for (const auto& k : spec_.keys) {
    int i = source.FindField(k);
    if (i < 0) return Status::Internal("snapshot rows lack key column " + k);
    key_idx.push_back(i);
    key_types.push_back(source.field(static_cast<size_t>(i)).type);
  }
  for (const auto& c : spec_.columns) {
    int i = source.FindField(c);
    if (i < 0) return Status::Internal("snapshot rows lack column " + c);
    if (std::find(key_idx.begin(), key_idx.end(), i) == key_idx.end()) value_idx.push_back(i);
  }

  // Every row by version; late rows counted and left out.
  std::vector<std::vector<ColumnPtr>> parts(input.size());
  std::map<std::string, std::vector<RowRef>> by_version;
  for (size_t b = 0; b < input.size(); ++b) {
    const RecordBatch& batch = input[b];
    for (const auto& p : spec_.version_parts) {
      LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(p, batch));
      parts[b].push_back(std::move(c));
    }
    std::vector<const Column*> part_cols;
    for (const auto& c : parts[b]) part_cols.push_back(c.get());
    std::string version;
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      version.clear();
      Status st = EncodeSequence(part_cols, r, "SEQUENCE BY " + spec_.version_sql, &version);
      if (!st.ok()) {
        std::string key;
        for (size_t k = 0; k < key_idx.size(); ++k) {
          key += (k ? ", " : "") + spec_.keys[k] + " = " + batch.column(static_cast<size_t>(key_idx[k])).GetValue(r).ToString();
        }
        return Status::InvalidArgument("AUTO CDC FROM SNAPSHOT into " + spec_.table + ": the row with key (" + key +
                                       "): " + st.message() + "; every snapshot row needs its version");
      }
      if (progress.last_version && version <= *progress.last_version) {
        ++out.late_rows;
        AddText(VersionText(parts[b], r), &out.late_versions);
        continue;
      }
      by_version[version].push_back({static_cast<int32_t>(b), static_cast<int32_t>(r)});
    }
  }

  size_t complete = by_version.size();
  if (!end_of_backlog && complete > 0) --complete;  // the newest waits for a later one

  std::unordered_map<std::string, std::string> image;
  if (complete > 0) {
    LP_RETURN_IF_ERROR(states->ScanSnapshotKeys([&image](std::string_view key, std::string_view values) {
      image.emplace(std::string(key), std::string(values));
      return Status::OK();
    }));
  }
  std::map<std::string, std::optional<std::string>> image_changes;
  std::vector<RecordBatch> events;
  auto delete_flags = [](int64_t n, bool value) {
    Column c(DataType::Boolean());
    c.Reserve(n);
    for (int64_t i = 0; i < n; ++i) c.AppendBool(value);
    return MakeColumn(std::move(c));
  };

  auto it = by_version.begin();
  for (size_t v = 0; v < complete; ++v, ++it) {
    const std::vector<RowRef>& refs = it->second;
    ++out.snapshots;
    AddText(VersionText(parts[refs.front().batch], refs.front().row), &out.processed);
    // The snapshot by key: its row and encoded values.
    struct Entry {
      RowRef ref;
      std::string values;
    };
    std::unordered_map<std::string, Entry> snapshot;
    snapshot.reserve(refs.size());
    std::vector<const Column*> key_cols, value_cols;
    std::string key;
    for (const RowRef& ref : refs) {
      const RecordBatch& batch = input[static_cast<size_t>(ref.batch)];
      key_cols.clear();
      for (int i : key_idx) key_cols.push_back(&batch.column(static_cast<size_t>(i)));
      KeyEncoder::Encode(key_cols, ref.row, &key);
      std::string values;
      for (int i : value_idx) KeyEncoder::AppendOne(batch.column(static_cast<size_t>(i)), ref.row, &values);
      auto pos = snapshot.find(key);
      if (pos == snapshot.end()) {
        snapshot.emplace(key, Entry{ref, std::move(values)});
        continue;
      }
      if (pos->second.values == values) {
        ++out.duplicates;
        continue;
      }
      std::string text;
      for (size_t k = 0; k < key_idx.size(); ++k) {
        text += (k ? ", " : "") + spec_.keys[k] + " = " + batch.column(static_cast<size_t>(key_idx[k])).GetValue(ref.row).ToString();
      }
      return Status::InvalidArgument("AUTO CDC FROM SNAPSHOT into " + spec_.table + ": the snapshot of version " +
                                     VersionText(parts[ref.batch], ref.row) + " has key (" + text +
                                     ") twice with different values; a snapshot has one row per key");
    }
    // Inserts and updates: the snapshot's row itself, as an upsert sequenced by its version.
    std::vector<std::vector<int32_t>> take(input.size());
    for (auto& [k, e] : snapshot) {
      auto live = image.find(k);
      if (live != image.end() && live->second == e.values) {
        ++out.unchanged;
        continue;
      }
      ++(live == image.end() ? out.inserted : out.updated);
      take[static_cast<size_t>(e.ref.batch)].push_back(e.ref.row);
      image_changes[k] = e.values;
      if (live == image.end()) image.emplace(k, std::move(e.values));
      else live->second = std::move(e.values);
    }
    for (size_t b = 0; b < input.size(); ++b) {
      if (take[b].empty()) continue;
      std::sort(take[b].begin(), take[b].end());
      std::vector<ColumnPtr> cols;
      for (size_t c = 0; c < source.size(); ++c) cols.push_back(MakeColumn(input[b].column(c).Take(take[b])));
      cols.push_back(delete_flags(static_cast<int64_t>(take[b].size()), false));
      events.emplace_back(events_schema, std::move(cols), static_cast<int64_t>(take[b].size()));
    }
    // Deletes: live keys the snapshot lacks. Their rows carry the key, the version's
    // columns (from one of the snapshot's rows) and NULL values.
    std::vector<std::string> gone;
    for (const auto& [k, values] : image)
      if (!snapshot.count(k)) gone.push_back(k);
    if (gone.empty()) continue;
    std::sort(gone.begin(), gone.end());
    const int64_t n = static_cast<int64_t>(gone.size());
    std::vector<Column> decoded;
    for (const DataType& t : key_types) decoded.emplace_back(t);
    for (const std::string& k : gone) {
      std::string_view in = k;
      for (size_t c = 0; c < key_types.size(); ++c) {
        LP_ASSIGN_OR_RETURN(size_t len, KeyEncoder::ValueLength(in, key_types[c]));
        LP_RETURN_IF_ERROR(KeyEncoder::DecodeOne(in.substr(0, len), &decoded[c]));
        in.remove_prefix(len);
      }
      image.erase(k);
      image_changes[k] = std::nullopt;
    }
    out.deleted += n;
    const RowRef& any = refs.front();
    std::vector<int32_t> repeat(static_cast<size_t>(n), any.row);
    std::vector<ColumnPtr> cols;
    for (size_t c = 0; c < source.size(); ++c) {
      auto k = std::find(key_idx.begin(), key_idx.end(), static_cast<int>(c));
      if (k != key_idx.end()) {
        cols.push_back(MakeColumn(std::move(decoded[static_cast<size_t>(k - key_idx.begin())])));
      } else if (std::find(value_idx.begin(), value_idx.end(), static_cast<int>(c)) != value_idx.end()) {
        cols.push_back(MakeColumn(Column::Nulls(source.field(c).type, n)));
      } else {
        cols.push_back(MakeColumn(input[static_cast<size_t>(any.batch)].column(c).Take(repeat)));
      }
    }
    cols.push_back(delete_flags(n, true));
    events.emplace_back(events_schema, std::move(cols), n);
  }

  SnapshotProgress next;
  next.last_version = complete > 0 ? std::optional<std::string>(std::prev(it)->first) : progress.last_version;
  bool held_grew = false;
  if (it != by_version.end()) {
    std::vector<std::vector<int32_t>> take(input.size());
    for (const RowRef& ref : it->second) {
      take[static_cast<size_t>(ref.batch)].push_back(ref.row);
      held_grew |= static_cast<size_t>(ref.batch) >= first_new;
    }
    std::vector<RecordBatch> held;
    for (size_t b = 0; b < input.size(); ++b) {
      if (take[b].empty()) continue;
      std::vector<ColumnPtr> cols;
      for (size_t c = 0; c < source.size(); ++c) cols.push_back(MakeColumn(input[b].column(c).Take(take[b])));
      held.emplace_back(source, std::move(cols), static_cast<int64_t>(take[b].size()));
    }
    next.held_version = it->first;
    next.held_rows = {RecordBatch::Concat(source, held)};
    out.held_rows = next.held_rows.front().num_rows();
    out.held_version = VersionText(parts[it->second.front().batch], it->second.front().row);
  }
  if (complete > 0 || held_grew) {
    std::vector<std::pair<std::string, std::optional<std::string>>> changes(image_changes.begin(), image_changes.end());
    LP_RETURN_IF_ERROR(states->StageSnapshot(next, source, std::move(changes)));
  }
  out.events = events.empty() ? RecordBatch::Empty(events_schema) : RecordBatch::Concat(events_schema, events);
  return out;
}

}  // namespace lakepipe::operators
