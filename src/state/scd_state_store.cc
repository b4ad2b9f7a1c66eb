#include "state/scd_state_store.h"

#include <rocksdb/db.h>

#include <cstring>

#include "state/rocks_util.h"
#include "state/state_codec.h"

namespace lakepipe::state {
namespace {

// Layout (docs/checkpoint.md):
//   k<key bytes>              -> <flag:1 'L' live | 'D' deleted><encoded sequence>
//                                or, SCD type 2: 'H'<the key's history (operators/scd.cc)>
//   \xff batch / count        -> decimal text: the commit markers (the table's own flow)
//   \xff batch/<flow>         -> decimal text: another AUTO CDC flow's marker
//   \xff truncate             -> the encoded sequence of the last TRUNCATE
//   AUTO CDC FROM SNAPSHOT:
//   s<key bytes>              -> the key is live after the last processed snapshot: the
//                                KeyEncoder bytes of its target columns but the keys
//   \xff snapshot             -> progress: <u8 has last><u32 n><n bytes: last processed
//                                version><u8 has held><u32 m><m bytes: held version>
//   \xff snapshot-held        -> the held version's rows (state_codec.h), when held
const char kBatchKey[] = "\xff" "batch";
const char kSnapshotKey[] = "\xff" "snapshot";
const char kSnapshotHeldKey[] = "\xff" "snapshot-held";
const char kCountKey[] = "\xff" "count";
const char kTruncateKey[] = "\xff" "truncate";

std::string BatchKey(const std::string& flow) { return flow.empty() ? kBatchKey : std::string(kBatchKey) + "/" + flow; }

std::string KeyEntry(std::string_view key) {
  std::string k(1, 'k');
  k.append(key);
  return k;
}

std::string SnapshotEntry(std::string_view key) {
  std::string k(1, 's');
  k.append(key);
  return k;
}

void PutOptional(const std::optional<std::string>& v, std::string* out) {
  out->push_back(v ? 1 : 0);
  uint32_t n = v ? static_cast<uint32_t>(v->size()) : 0;
  out->append(reinterpret_cast<const char*>(&n), sizeof n);
  if (v) out->append(*v);
}

bool TakeOptional(std::string_view* in, std::optional<std::string>* v) {
  uint32_t n;
  if (in->size() < 1 + sizeof n) return false;
  bool has = (*in)[0] != 0;
  std::memcpy(&n, in->data() + 1, sizeof n);
  in->remove_prefix(1 + sizeof n);
  if (in->size() < n) return false;
  if (has) *v = std::string(in->substr(0, n));
  in->remove_prefix(n);
  return true;
}

}  // namespace

ScdStateStore::~ScdStateStore() = default;

Result<std::unique_ptr<ScdStateStore>> ScdStateStore::Open(const std::string& dir) {
  std::unique_ptr<ScdStateStore> store(new ScdStateStore());
  LP_ASSIGN_OR_RETURN(store->db_, OpenStateDb(dir, /*point_lookups=*/true));
  rocksdb::DB* raw = store->db_.get();
  store->dir_ = dir;
  {
    // Every flow's marker: `\xff batch` and `\xff batch/<flow>`.
    std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions()));
    const std::string prefix = kBatchKey;
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      std::string k = it->key().ToString();
      if (k.size() > prefix.size() && k[prefix.size()] != '/') continue;
      std::string flow = k.size() > prefix.size() ? k.substr(prefix.size() + 1) : std::string();
      LP_ASSIGN_OR_RETURN(auto batch, ReadMarker(raw, k, dir));
      if (batch) store->committed_batches_[flow] = *batch;
    }
    LP_RETURN_IF_ERROR(FromRocks(it->status(), "read state store " + dir));
  }
  LP_ASSIGN_OR_RETURN(auto count, ReadMarker(raw, kCountKey, dir));
  store->stored_keys_ = count.value_or(0);
  std::string t;
  rocksdb::Status st = raw->Get(rocksdb::ReadOptions(), kTruncateKey, &t);
  if (st.ok()) {
    store->committed_truncate_ = t;
  } else if (!st.IsNotFound()) {
    return FromRocks(st, "read state store " + dir);
  }
  return store;
}

Result<ScdKeyState> ScdStateStore::ParseEntry(std::string_view value) const {
  if (!value.empty() && value[0] == 'H') return ScdKeyState{false, std::string(), std::string(value.substr(1))};
  if (value.empty() || (value[0] != 'L' && value[0] != 'D')) {
    return Status::Corruption("state store " + dir_ + ": key entry with an unknown flag");
  }
  return ScdKeyState{value[0] == 'D', std::string(value.substr(1))};
}

Status ScdStateStore::Prefetch(const std::vector<std::string_view>& keys) {
  prefetched_.clear();
  if (pending_truncate_ || keys.empty()) return Status::OK();
  std::vector<std::string> entries;
  entries.reserve(keys.size());
  for (std::string_view k : keys) entries.push_back(KeyEntry(k));
  // The entries keep the keys' order ('k' + key): sorted, as MultiGet may then assume.
  std::vector<rocksdb::Slice> slices(entries.begin(), entries.end());
  std::vector<rocksdb::PinnableSlice> values(entries.size());
  std::vector<rocksdb::Status> statuses(entries.size());
  db_->MultiGet(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), slices.size(), slices.data(), values.data(),
                statuses.data(), /*sorted_input=*/true);
  prefetched_.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].ok()) {
      prefetched_.emplace(std::string(keys[i]), values[i].ToString());
    } else if (statuses[i].IsNotFound()) {
      prefetched_.emplace(std::string(keys[i]), std::nullopt);
    } else {
      prefetched_.clear();
      return FromRocks(statuses[i], "read state store " + dir_);
    }
  }
  return Status::OK();
}

Result<std::optional<ScdKeyState>> ScdStateStore::Lookup(std::string_view key) {
  auto it = pending_.find(std::string(key));
  if (it != pending_.end()) return std::optional<ScdKeyState>(it->second);
  if (pending_truncate_) return std::optional<ScdKeyState>();
  const std::string* stored = nullptr;
  bool found = false;
  auto pre = prefetched_.find(std::string(key));
  if (pre != prefetched_.end()) {
    found = pre->second.has_value();
    if (found) stored = &*pre->second;
  } else {
    rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), KeyEntry(key), &value_);
    if (!st.ok() && !st.IsNotFound()) LP_RETURN_IF_ERROR(FromRocks(st, "read state store " + dir_));
    found = st.ok();
    if (found) stored = &value_;
  }
  looked_up_[std::string(key)] = found;
  if (!found) return std::optional<ScdKeyState>();
  LP_ASSIGN_OR_RETURN(ScdKeyState state, ParseEntry(*stored));
  return std::optional<ScdKeyState>(std::move(state));
}

Result<std::vector<std::pair<std::string, ScdKeyState>>> ScdStateStore::KeysAbove(const std::string& sequence) {
  std::vector<std::pair<std::string, ScdKeyState>> out;
  for (const auto& [k, st] : pending_) {
    if (st.sequence > sequence) out.push_back({k, st});
  }
  if (pending_truncate_) return out;  // the stored keys are gone
  rocksdb::ReadOptions ro;
  std::string upper(1, 'l');
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek("k"); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key(), v = it->value();
    if (v.size() < 1) return Status::Corruption("state store " + dir_ + ": empty key entry");
    std::string key(k.data() + 1, k.size() - 1);
    if (pending_.count(key)) continue;
    std::string seq(v.data() + 1, v.size() - 1);
    if (seq > sequence) out.push_back({key, ScdKeyState{v[0] == 'D', seq}});
  }
  LP_RETURN_IF_ERROR(FromRocks(it->status(), "scan state store " + dir_));
  return out;
}

void ScdStateStore::Put(std::string_view key, ScdKeyState state) {
  auto [it, inserted] = pending_.insert_or_assign(std::string(key), std::move(state));
  (void)it;
  (void)inserted;
}

void ScdStateStore::Truncate(std::string sequence) {
  pending_.clear();
  pending_truncate_ = std::move(sequence);
}

Result<operators::SnapshotProgress> ScdStateStore::LoadSnapshotProgress(const Schema& source) {
  operators::SnapshotProgress p;
  std::string v;
  rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), kSnapshotKey, &v);
  if (st.IsNotFound()) return p;
  LP_RETURN_IF_ERROR(FromRocks(st, "read state store " + dir_));
  std::string_view in = v;
  if (!TakeOptional(&in, &p.last_version) || !TakeOptional(&in, &p.held_version) || !in.empty()) {
    return Status::Corruption("state store " + dir_ + ": the snapshot progress entry is damaged");
  }
  if (p.held_version) {
    std::string held;
    st = db_->Get(rocksdb::ReadOptions(), kSnapshotHeldKey, &held);
    if (st.IsNotFound()) return Status::Corruption("state store " + dir_ + ": a held snapshot version without its rows");
    LP_RETURN_IF_ERROR(FromRocks(st, "read state store " + dir_));
    LP_ASSIGN_OR_RETURN(RecordBatch rows, DeserializeState(std::move(held), source, "state store " + dir_ + " (held snapshot rows)"));
    p.held_rows.push_back(std::move(rows));
  }
  return p;
}

Result<bool> ScdStateStore::HoldsSnapshotVersion() {
  std::string v;
  rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), kSnapshotHeldKey, &v);
  if (st.IsNotFound()) return false;
  LP_RETURN_IF_ERROR(FromRocks(st, "read state store " + dir_));
  return true;
}

Status ScdStateStore::ScanSnapshotKeys(const std::function<Status(std::string_view key, std::string_view values)>& fn) {
  rocksdb::ReadOptions ro;
  std::string upper(1, 't');
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek("s"); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key(), v = it->value();
    LP_RETURN_IF_ERROR(fn(std::string_view(k.data() + 1, k.size() - 1), std::string_view(v.data(), v.size())));
  }
  return FromRocks(it->status(), "scan state store " + dir_);
}

Status ScdStateStore::StageSnapshot(const operators::SnapshotProgress& progress, const Schema& source,
                                    std::vector<std::pair<std::string, std::optional<std::string>>> image_changes) {
  PendingSnapshot p;
  PutOptional(progress.last_version, &p.progress);
  PutOptional(progress.held_version, &p.held);  // reused below as the progress' second half
  p.progress += p.held;
  p.held.clear();
  if (progress.held_version) {
    RecordBatch rows = RecordBatch::Concat(source, progress.held_rows);
    LP_ASSIGN_OR_RETURN(p.held, SerializeState(rows, source, "lakepipe snapshot state"));
  }
  p.image = std::move(image_changes);
  pending_snapshot_ = std::move(p);
  return Status::OK();
}

std::optional<int64_t> ScdStateStore::committed_batch(const std::string& flow) const {
  auto it = committed_batches_.find(flow);
  if (it == committed_batches_.end()) return std::nullopt;
  return it->second;
}

Status ScdStateStore::Commit(int64_t batch_id, const std::string& flow) {
  std::optional<int64_t> committed = committed_batch(flow);
  if (committed && batch_id <= *committed) {
    return Status::InvalidArgument("state store " + dir_ + " already has batch " + std::to_string(*committed) +
                                   (flow.empty() ? std::string() : " of flow " + flow) + " applied; batch " +
                                   std::to_string(batch_id) + " cannot be applied after it");
  }
  StateWrite write;
  int64_t count = pending_truncate_ ? 0 : stored_keys_;
  if (pending_truncate_) {
    write.DeleteRange(std::string(1, 'k'), std::string(1, 'l'));
    write.Put(kTruncateKey, *pending_truncate_);
  }
  for (const auto& [key, s] : pending_) {
    if (!pending_truncate_) {
      // Whether the key is new to the store: known from its Lookup (a second point read
      // per key cost as much as the first), else read.
      auto seen = looked_up_.find(key);
      if (seen != looked_up_.end()) {
        count += seen->second ? 0 : 1;
      } else {
        std::string old;
        rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), KeyEntry(key), &old);
        if (st.IsNotFound()) ++count;
        else LP_RETURN_IF_ERROR(FromRocks(st, "read state store " + dir_));
      }
    } else {
      ++count;
    }
    std::string value(1, !s.history.empty() ? 'H' : s.deleted ? 'D' : 'L');
    value += s.history.empty() ? s.sequence : s.history;
    write.Put(KeyEntry(key), std::move(value));
  }
  if (pending_snapshot_) {
    for (auto& [key, values] : pending_snapshot_->image) {
      if (values) write.Put(SnapshotEntry(key), std::move(*values));
      else write.Delete(SnapshotEntry(key));
    }
    write.Put(kSnapshotKey, pending_snapshot_->progress);
    if (pending_snapshot_->held.empty()) write.Delete(kSnapshotHeldKey);
    else write.Put(kSnapshotHeldKey, pending_snapshot_->held);
  }
  write.Put(BatchKey(flow), std::to_string(batch_id));
  write.Put(kCountKey, std::to_string(count));
  // A range deletion cannot share an ingested file with puts of its range: keep the
  // truncate batch a WriteBatch.
  LP_RETURN_IF_ERROR(write.Apply(db_.get(), dir_, batch_id, pending_truncate_ ? SIZE_MAX : kBulkKeys));
  if (pending_truncate_) committed_truncate_ = pending_truncate_;
  Abandon();
  stored_keys_ = count;
  committed_batches_[flow] = batch_id;
  return Status::OK();
}

void ScdStateStore::Abandon() {
  pending_.clear();
  looked_up_.clear();
  prefetched_.clear();
  pending_truncate_.reset();
  pending_snapshot_.reset();
  pending_new_ = 0;
}

StateSize ScdStateStore::Size() const {
  StateSize s;
  s.keys = stored_keys_;
  auto bytes = FolderBytes(dir_);
  s.disk_bytes = bytes.ok() ? *bytes : 0;
  for (const auto& [k, v] : pending_) s.memory_bytes += static_cast<int64_t>(k.size() + v.sequence.size() + v.history.size() + 48);
  return s;
}

}  // namespace lakepipe::state
