#include "operators/scd.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "expr/eval.h"
#include "operators/key_encoder.h"

namespace lakepipe::operators {

namespace {

void AppendBigEndian(uint64_t u, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((u >> shift) & 0xff));
}

void AppendSigned(int64_t v, std::string* out) { AppendBigEndian(static_cast<uint64_t>(v) ^ (1ULL << 63), out); }

void AppendDouble(double d, std::string* out) {
  if (d == 0) d = 0;  // -0.0 sorts as 0.0
  uint64_t bits;
  if (d != d) {
    bits = 0x7ff8000000000000ULL;  // every NaN is one value, above all numbers (Spark)
  } else {
    std::memcpy(&bits, &d, sizeof bits);
  }
  bits = (bits & (1ULL << 63)) ? ~bits : bits | (1ULL << 63);
  AppendBigEndian(bits, out);
}

Status AppendOne(const Column& c, int64_t r, const std::string& what, std::string* out) {
  if (c.IsNull(r)) return Status::InvalidArgument(what + " is NULL");
  switch (c.type().id()) {
    case TypeId::kByte: AppendSigned(c.Get<int8_t>(r), out); return Status::OK();
    case TypeId::kShort: AppendSigned(c.Get<int16_t>(r), out); return Status::OK();
    case TypeId::kInt:
    case TypeId::kDate: AppendSigned(c.Get<int32_t>(r), out); return Status::OK();
    case TypeId::kLong:
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz: AppendSigned(c.Get<int64_t>(r), out); return Status::OK();
    case TypeId::kFloat: AppendDouble(c.Get<float>(r), out); return Status::OK();
    case TypeId::kDouble: AppendDouble(c.Get<double>(r), out); return Status::OK();
    case TypeId::kDecimal: {
      int128_t v = c.GetValue(r).decimal_value();
      unsigned __int128 u = static_cast<unsigned __int128>(v) ^ (static_cast<unsigned __int128>(1) << 127);
      AppendBigEndian(static_cast<uint64_t>(u >> 64), out);
      AppendBigEndian(static_cast<uint64_t>(u), out);
      return Status::OK();
    }
    case TypeId::kString: {
      // 0x00 is escaped as 0x00 0xff and the end marked 0x00 0x00, so a prefix sorts first.
      for (char ch : c.GetString(r)) {
        out->push_back(ch);
        if (ch == '\0') out->push_back('\xff');
      }
      out->push_back('\0');
      out->push_back('\0');
      return Status::OK();
    }
    case TypeId::kStruct:
      for (size_t k = 0; k < c.num_children(); ++k) {
        LP_RETURN_IF_ERROR(AppendOne(c.child(k), r, what + "." + c.type().fields()[k].name, out));
      }
      return Status::OK();
    default:
      return Status::InvalidArgument(what + " has type " + c.type().ToString() + ", which has no order");
  }
}

std::string KeyText(const RecordBatch& b, const std::vector<const Column*>& cols, const std::vector<std::string>& names,
                    int64_t r) {
  std::string s;
  for (size_t i = 0; i < cols.size(); ++i) s += (i ? ", " : "") + names[i] + " = " + cols[i]->GetValue(r).ToString();
  (void)b;
  return s;
}

RecordBatch TakeColumns(const RecordBatch& b, const std::vector<int>& column_indexes, const Schema& schema,
                        const std::vector<int32_t>& rows) {
  std::vector<ColumnPtr> cols;
  for (int c : column_indexes) cols.push_back(MakeColumn(b.column(static_cast<size_t>(c)).Take(rows)));
  return RecordBatch(schema, std::move(cols), static_cast<int64_t>(rows.size()));
}


// ---- SCD type 2 -----------------------------------------------------------------------

// The batch as Plan prepared it.
struct HistoryInput {
  const RecordBatch& ev;
  const std::vector<int>& key_idx;
  const Schema& key_schema;
  const std::vector<const Column*>& key_cols;
  const std::vector<const Column*>& seq_parts;
  const std::vector<std::string>& seq;  // encoded, order-preserving
  const std::vector<std::string>& key;  // KeyEncoder bytes
  const std::vector<uint8_t>& is_delete;
};

// One applied change of a key. Views into the stored history or the batch's payloads.
struct HistoryEvent {
  std::string_view seq;
  bool del = false;
  std::string_view payload;  // KeyEncoder values: the target columns, then the sequence parts
  bool is_new = false;
};

void PutU32(uint32_t v, std::string* out) { out->append(reinterpret_cast<const char*>(&v), sizeof v); }

// A key's history (docs/checkpoint.md, "AUTO CDC state"): its changes in sequence order,
// each <u32 n><n bytes: encoded sequence><'U' | 'D'><u32 m><m bytes: payload>.
void AppendHistoryEvent(const HistoryEvent& e, std::string* out) {
  PutU32(static_cast<uint32_t>(e.seq.size()), out);
  out->append(e.seq);
  out->push_back(e.del ? 'D' : 'U');
  PutU32(static_cast<uint32_t>(e.payload.size()), out);
  out->append(e.payload);
}

Status ParseHistory(std::string_view in, const std::string& table, std::vector<HistoryEvent>* out) {
  auto corrupt = [&] { return Status::Corruption("AUTO CDC state of " + table + ": a key's history is damaged"); };
  size_t p = 0;
  auto take_u32 = [&](uint32_t* v) {
    if (p + sizeof *v > in.size()) return false;
    std::memcpy(v, in.data() + p, sizeof *v);
    p += sizeof *v;
    return true;
  };
  while (p < in.size()) {
    HistoryEvent e;
    uint32_t n;
    if (!take_u32(&n) || p + n + 1 > in.size()) return corrupt();
    e.seq = in.substr(p, n);
    p += n;
    char kind = in[p++];
    if (kind != 'U' && kind != 'D') return corrupt();
    e.del = kind == 'D';
    if (!take_u32(&n) || p + n > in.size()) return corrupt();
    e.payload = in.substr(p, n);
    p += n;
    out->push_back(e);
  }
  return Status::OK();
}

// Splits a payload into one view per value (`types` in payload order).
Status SplitPayload(std::string_view payload, const std::vector<DataType>& types, std::vector<std::string_view>* out) {
  out->clear();
  size_t p = 0;
  for (const auto& t : types) {
    LP_ASSIGN_OR_RETURN(size_t len, KeyEncoder::ValueLength(payload.substr(p), t));
    out->push_back(payload.substr(p, len));
    p += len;
  }
  if (p != payload.size()) return Status::Corruption("an SCD type 2 change has extra bytes");
  return Status::OK();
}

bool IsNullValue(std::string_view v) { return !v.empty() && v[0] == '\0'; }

Result<ScdChanges> PlanHistory(const ScdSpec& spec, const HistoryInput& in, ScdKeyStates* states, ScdChanges out) {
  const RecordBatch& ev = in.ev;
  const int64_t n = ev.num_rows();
  const size_t ncols = spec.columns.size();
  std::vector<const Column*> value_cols;
  std::vector<DataType> types;
  for (size_t c = 0; c < ncols; ++c) {
    value_cols.push_back(ev.ColumnByName(spec.columns[c]));
    if (value_cols.back() == nullptr) return Status::Internal("change events lack column " + spec.columns[c]);
    types.push_back(spec.target_schema.field(c).type);
  }
  for (const Column* p : in.seq_parts) types.push_back(p->type());
  std::vector<size_t> tracked;
  for (const auto& t : spec.tracked) {
    int c = spec.target_schema.FindField(t);
    if (c < 0 || static_cast<size_t>(c) >= ncols) return Status::Internal("TRACK HISTORY ON column " + t + " is not a target column");
    tracked.push_back(static_cast<size_t>(c));
  }
  std::vector<std::string> payload(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    for (const Column* c : value_cols) KeyEncoder::AppendOne(*c, r, &payload[r]);
    for (const Column* c : in.seq_parts) KeyEncoder::AppendOne(*c, r, &payload[r]);
  }
  // The batch's changes grouped by key, each key's in sequence order.
  std::vector<int32_t> order(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) order[r] = static_cast<int32_t>(r);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    int c = in.key[a].compare(in.key[b]);
    if (c != 0) return c < 0;
    return in.seq[a] < in.seq[b];
  });

  const DataType& seq_type = spec.sequence_type;
  // struct(a, b, ...): one part per field of __START_AT; a struct column is one part.
  const bool struct_seq = seq_type.id() == TypeId::kStruct &&
                          !(in.seq_parts.size() == 1 && SameTypeIgnoringNullability(in.seq_parts[0]->type(), seq_type));
  std::vector<Column> cols;
  for (const auto& f : spec.target_schema.fields()) cols.emplace_back(f.type);
  auto append_seq = [&](Column* col, const std::vector<std::string_view>& vals) -> Status {
    if (!struct_seq) return KeyEncoder::DecodeOne(vals[ncols], col);
    for (size_t k = 0; k < in.seq_parts.size(); ++k) LP_RETURN_IF_ERROR(KeyEncoder::DecodeOne(vals[ncols + k], &col->child(k)));
    col->CloseStructRow();
    return Status::OK();
  };
  std::vector<int32_t> key_rows;
  std::vector<HistoryEvent> events;
  std::vector<std::string_view> vals, cur, closing;
  std::string history;
  {
    // The batch's keys, sorted and distinct (order groups them by key).
    std::vector<std::string_view> keys;
    for (int32_t r : order)
      if (keys.empty() || keys.back() != in.key[r]) keys.push_back(in.key[r]);
    LP_RETURN_IF_ERROR(states->Prefetch(keys));
  }
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && in.key[order[j]] == in.key[order[i]]) ++j;
    const std::string& key = in.key[order[i]];
    LP_ASSIGN_OR_RETURN(std::optional<ScdKeyState> prior, states->Lookup(key));
    events.clear();
    if (prior) LP_RETURN_IF_ERROR(ParseHistory(prior->history, spec.table, &events));
    std::string_view latest = events.empty() ? std::string_view() : events.back().seq;
    bool had = !events.empty();
    for (size_t k = i; k < j; ++k) {
      int32_t r = order[k];
      events.push_back(HistoryEvent{in.seq[r], in.is_delete[r] != 0, payload[r], true});
      if (had && in.seq[r] < latest) ++out.late;
    }
    std::stable_sort(events.begin(), events.end(), [](const HistoryEvent& a, const HistoryEvent& b) { return a.seq < b.seq; });
    // One change per sequence: an identical repeat (a redelivery) is dropped, two
    // different changes are an error, in one batch or across batches alike.
    size_t kept = 0;
    bool changed = false;
    for (size_t k = 0; k < events.size(); ++k) {
      if (kept > 0 && events[kept - 1].seq == events[k].seq) {
        const HistoryEvent& a = events[kept - 1];
        const HistoryEvent& b = events[k];
        if (a.del == b.del && a.payload == b.payload) {
          ++out.duplicates;
          continue;
        }
        return Status::InvalidArgument("AUTO CDC into " + spec.table + ": two different change events for key (" +
                                       KeyText(ev, in.key_cols, spec.keys, order[i]) + ") have the same SEQUENCE BY " +
                                       spec.sequence_sql + " value; sequences must order the events of a key");
      }
      changed |= events[k].is_new;
      events[kept++] = events[k];
    }
    events.resize(kept);
    if (!changed) {
      i = j;
      continue;
    }
    history.clear();
    for (const auto& e : events) AppendHistoryEvent(e, &history);
    // The key's versions, from its whole history.
    bool open = false;
    std::vector<std::string_view> start;
    auto close = [&](const std::vector<std::string_view>& end) -> Status {
      for (size_t c = 0; c < ncols; ++c) LP_RETURN_IF_ERROR(KeyEncoder::DecodeOne(cur[c], &cols[c]));
      LP_RETURN_IF_ERROR(append_seq(&cols[ncols], start));
      if (end.empty()) cols[ncols + 1].AppendNull();
      else LP_RETURN_IF_ERROR(append_seq(&cols[ncols + 1], end));
      ++out.versions;
      open = false;
      return Status::OK();
    };
    for (const auto& e : events) {
      LP_RETURN_IF_ERROR(SplitPayload(e.payload, types, &vals));
      if (e.del) {
        if (open) LP_RETURN_IF_ERROR(close(vals));
        continue;
      }
      if (open && spec.ignore_null_updates) {
        for (size_t c = 0; c < ncols; ++c)
          if (IsNullValue(vals[c])) vals[c] = cur[c];
      }
      bool same = open;
      for (size_t t = 0; same && t < tracked.size(); ++t) same = vals[tracked[t]] == cur[tracked[t]];
      if (same) {
        for (size_t c = 0; c < ncols; ++c) cur[c] = vals[c];  // untracked columns, in place
        continue;
      }
      if (open) LP_RETURN_IF_ERROR(close(vals));
      cur = vals;
      start = vals;
      open = true;
    }
    if (open) {
      LP_RETURN_IF_ERROR(close({}));
      ++out.upserted_keys;
    } else {
      ++out.deleted_keys;
    }
    states->Put(key, ScdKeyState{false, std::string(), history});
    key_rows.push_back(order[i]);
    i = j;
  }
  out.keys = TakeColumns(ev, in.key_idx, in.key_schema, key_rows);
  out.upserts = RecordBatch::FromColumns(spec.target_schema, std::move(cols));
  out.fill_from_table.assign(static_cast<size_t>(out.upserts.num_rows()), 0);
  return out;
}
}  // namespace

Status EncodeSequence(const std::vector<const Column*>& parts, int64_t row, const std::string& what, std::string* out) {
  for (const Column* c : parts) LP_RETURN_IF_ERROR(AppendOne(*c, row, what, out));
  return Status::OK();
}

Result<ScdChanges> ScdApply::Plan(const std::vector<RecordBatch>& events, ScdKeyStates* states) const {
  ScdChanges out;
  const Schema& src = spec_.source_schema;
  RecordBatch ev = events.size() == 1 ? events[0] : RecordBatch::Concat(src, events);
  const int64_t n = ev.num_rows();
  out.events = n;
  std::vector<int> key_idx, target_idx;
  Schema key_schema;
  for (const auto& k : spec_.keys) {
    int i = ev.schema().FindField(k);
    if (i < 0) return Status::Internal("change events lack key column " + k);
    key_idx.push_back(i);
    key_schema.AddField(ev.schema().field(static_cast<size_t>(i)));
  }
  for (const auto& c : spec_.columns) {
    int i = ev.schema().FindField(c);
    if (i < 0) return Status::Internal("change events lack column " + c);
    target_idx.push_back(i);
  }
  std::vector<const Column*> key_cols;
  for (int i : key_idx) key_cols.push_back(&ev.column(static_cast<size_t>(i)));

  // Evaluated once per batch: the sequence parts and the delete / truncate conditions.
  std::vector<ColumnPtr> seq_cols;
  for (const auto& p : spec_.sequence_parts) {
    LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(p, ev));
    seq_cols.push_back(std::move(c));
  }
  std::vector<const Column*> seq_parts;
  for (const auto& c : seq_cols) seq_parts.push_back(c.get());
  auto flags = [&](const std::optional<expr::BoundExpr>& cond) -> Result<std::vector<uint8_t>> {
    std::vector<uint8_t> f(static_cast<size_t>(n), 0);
    if (!cond) return f;
    LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(*cond, ev));
    for (int64_t r = 0; r < n; ++r) f[r] = c->IsValid(r) && c->Get<uint8_t>(r) != 0;
    return f;
  };
  LP_ASSIGN_OR_RETURN(std::vector<uint8_t> is_delete, flags(spec_.delete_when));
  LP_ASSIGN_OR_RETURN(std::vector<uint8_t> is_truncate, flags(spec_.truncate_when));

  std::vector<std::string> seq(static_cast<size_t>(n)), key(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    Status st = EncodeSequence(seq_parts, r, "SEQUENCE BY " + spec_.sequence_sql, &seq[r]);
    if (!st.ok()) {
      return Status::InvalidArgument("AUTO CDC into " + spec_.table + ": change event with key (" +
                                     KeyText(ev, key_cols, spec_.keys, r) + "): " + st.message() +
                                     "; every change event needs a sequence value");
    }
    KeyEncoder::Encode(key_cols, r, &key[r]);
  }
  if (spec_.scd_type == 2) {
    HistoryInput in{ev, key_idx, key_schema, key_cols, seq_parts, seq, key, is_delete};
    return PlanHistory(spec_, in, states, std::move(out));
  }
  std::vector<int32_t> order(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) order[r] = static_cast<int32_t>(r);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    int c = seq[a].compare(seq[b]);
    if (c != 0) return c < 0;
    if (is_truncate[a] != is_truncate[b]) return is_truncate[a] > is_truncate[b];
    return key[a] < key[b];
  });

  {
    std::vector<std::string_view> keys;
    for (int32_t r : order)
      if (!is_truncate[r]) keys.push_back(key[r]);
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    LP_RETURN_IF_ERROR(states->Prefetch(keys));
  }
  struct Acc {
    bool known = false;     // a sequence is applied (stored or in this batch)
    bool deleted = true;    // no row (absent or deleted)
    bool changed = false;
    bool fill_from_table = false;
    std::string seq;
    std::vector<int32_t> upserts;  // since the last delete, in sequence order
    int32_t any_row = -1;
  };
  std::unordered_map<std::string, Acc> acc;
  std::vector<std::string> acc_order;
  std::optional<std::string> truncated_at = states->truncate_sequence();
  bool batch_truncate = false;
  std::set<std::string> survivors;
  int32_t prev = -1;
  for (int32_t r : order) {
    bool same_as_prev = prev >= 0 && seq[prev] == seq[r] && key[prev] == key[r] && !is_truncate[r] && !is_truncate[prev];
    if (same_as_prev) {
      if (ev.Row(prev) == ev.Row(r)) {
        ++out.duplicates;
        continue;
      }
      return Status::InvalidArgument("AUTO CDC into " + spec_.table + ": two different change events for key (" +
                                     KeyText(ev, key_cols, spec_.keys, r) + ") have the same SEQUENCE BY " +
                                     spec_.sequence_sql + " value; sequences must order the events of a key");
    }
    prev = r;
    if (truncated_at && seq[r] <= *truncated_at) {
      ++out.stale;
      continue;
    }
    if (is_truncate[r]) {
      // Keys applied at a higher sequence (in earlier batches: this batch's are in
      // sequence order) outlive the truncate, and so do their tombstones.
      LP_ASSIGN_OR_RETURN(auto above, states->KeysAbove(seq[r]));
      truncated_at = seq[r];
      batch_truncate = true;
      acc.clear();
      acc_order.clear();
      states->Truncate(seq[r]);
      survivors.clear();
      for (auto& [k, st] : above) {
        if (!st.deleted) survivors.insert(k);
        states->Put(k, st);
      }
      continue;
    }
    auto [it, inserted] = acc.try_emplace(key[r]);
    Acc& a = it->second;
    if (inserted) {
      acc_order.push_back(key[r]);
      LP_ASSIGN_OR_RETURN(std::optional<ScdKeyState> prior, states->Lookup(key[r]));
      if (prior) {
        a.known = true;
        a.deleted = prior->deleted;
        a.seq = prior->sequence;
      }
      a.fill_from_table = spec_.ignore_null_updates && !batch_truncate;
      a.any_row = r;
    }
    if (a.known && seq[r] <= a.seq) {
      ++out.stale;
      continue;
    }
    a.known = true;
    a.changed = true;
    a.seq = seq[r];
    if (is_delete[r]) {
      a.deleted = true;
      a.upserts.clear();
      a.fill_from_table = false;
    } else {
      a.deleted = false;
      a.upserts.push_back(r);
    }
  }
  out.truncate = batch_truncate;

  std::vector<int32_t> key_rows, last_rows;
  std::vector<const Acc*> upserted;
  for (const auto& k : acc_order) {
    const Acc& a = acc[k];
    if (!a.changed) continue;
    states->Put(k, ScdKeyState{a.deleted, a.seq});
    survivors.erase(k);
    key_rows.push_back(a.any_row);
    if (a.deleted) {
      ++out.deleted_keys;
    } else {
      ++out.upserted_keys;
      last_rows.push_back(a.upserts.back());
      upserted.push_back(&a);
    }
  }
  out.keys = TakeColumns(ev, key_idx, key_schema, key_rows);
  out.survivors.assign(survivors.begin(), survivors.end());
  if (!spec_.ignore_null_updates) {
    out.upserts = TakeColumns(ev, target_idx, spec_.target_schema, last_rows);
    out.fill_from_table.assign(last_rows.size(), 0);
    return out;
  }
  // IGNORE NULL UPDATES: each column takes the last non-NULL value of the key's updates.
  std::vector<Column> cols;
  for (size_t c = 0; c < target_idx.size(); ++c) {
    const Column& in = ev.column(static_cast<size_t>(target_idx[c]));
    Column col(spec_.target_schema.field(c).type);
    for (const Acc* a : upserted) {
      int32_t pick = -1;
      for (auto it = a->upserts.rbegin(); it != a->upserts.rend(); ++it) {
        if (in.IsValid(*it)) {
          pick = *it;
          break;
        }
      }
      if (pick < 0) col.AppendNull();
      else col.AppendTake(in, &pick, 1);
    }
    cols.push_back(std::move(col));
  }
  out.upserts = RecordBatch::FromColumns(spec_.target_schema, std::move(cols));
  for (const Acc* a : upserted) out.fill_from_table.push_back(a->fill_from_table ? 1 : 0);
  return out;
}

Result<RecordBatch> ScdChanges::Replacement(const RecordBatch& existing, const std::vector<std::string>& key_columns) const {
  bool any_fill = std::any_of(fill_from_table.begin(), fill_from_table.end(), [](uint8_t f) { return f != 0; });
  if (truncate) {
    // `existing` is the whole table: keep the survivors' rows, then the batch's upserts.
    std::vector<const Column*> ekeys;
    for (const auto& k : key_columns) {
      const Column* c = existing.ColumnByName(k);
      if (c == nullptr) return Status::Internal("rows lack key column " + k);
      ekeys.push_back(c);
    }
    std::unordered_set<std::string> keep(survivors.begin(), survivors.end());
    std::vector<int32_t> kept;
    std::string kb;
    for (int64_t r = 0; r < existing.num_rows(); ++r) {
      KeyEncoder::Encode(ekeys, r, &kb);
      if (keep.count(kb)) kept.push_back(static_cast<int32_t>(r));
    }
    if (kept.empty()) return upserts;
    std::vector<Column> cols;
    for (size_t c = 0; c < upserts.num_columns(); ++c) {
      const Column* theirs = existing.ColumnByName(upserts.schema().field(c).name);
      Column col(upserts.column(c).type());
      if (theirs != nullptr) col.AppendTake(*theirs, kept.data(), static_cast<int64_t>(kept.size()));
      else col.AppendNulls(static_cast<int64_t>(kept.size()));
      col.AppendRange(upserts.column(c), 0, upserts.num_rows());
      cols.push_back(std::move(col));
    }
    return RecordBatch::FromColumns(upserts.schema(), std::move(cols));
  }
  if (!any_fill || existing.num_rows() == 0) return upserts;
  auto cols_of = [&](const RecordBatch& b) -> Result<std::vector<const Column*>> {
    std::vector<const Column*> out;
    for (const auto& k : key_columns) {
      const Column* c = b.ColumnByName(k);
      if (c == nullptr) return Status::Internal("rows lack key column " + k);
      out.push_back(c);
    }
    return out;
  };
  LP_ASSIGN_OR_RETURN(auto ekeys, cols_of(existing));
  LP_ASSIGN_OR_RETURN(auto ukeys, cols_of(upserts));
  std::unordered_map<std::string, int64_t> existing_row;
  std::string k;
  for (int64_t r = 0; r < existing.num_rows(); ++r) {
    KeyEncoder::Encode(ekeys, r, &k);
    existing_row[k] = r;
  }
  std::vector<int64_t> source(static_cast<size_t>(upserts.num_rows()), -1);
  for (int64_t r = 0; r < upserts.num_rows(); ++r) {
    if (!fill_from_table[r]) continue;
    KeyEncoder::Encode(ukeys, r, &k);
    auto it = existing_row.find(k);
    if (it != existing_row.end()) source[r] = it->second;
  }
  std::vector<Column> cols;
  for (size_t c = 0; c < upserts.num_columns(); ++c) {
    const Column& mine = upserts.column(c);
    const Column* theirs = existing.ColumnByName(upserts.schema().field(c).name);
    Column col(mine.type());
    for (int64_t r = 0; r < upserts.num_rows(); ++r) {
      if (mine.IsNull(r) && source[r] >= 0 && theirs != nullptr) {
        int32_t s = static_cast<int32_t>(source[r]);
        col.AppendTake(*theirs, &s, 1);
      } else {
        int32_t s = static_cast<int32_t>(r);
        col.AppendTake(mine, &s, 1);
      }
    }
    cols.push_back(std::move(col));
  }
  return RecordBatch::FromColumns(upserts.schema(), std::move(cols));
}

}  // namespace lakepipe::operators
