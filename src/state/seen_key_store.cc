#include "state/seen_key_store.h"

#include <rocksdb/db.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "state/rocks_util.h"

namespace lakepipe::state {
namespace {

// Layout (docs/checkpoint.md):
//   k<digest:16>                  -> "" (no event time) or <time:8> (event time, micros)
//   t<time:8><digest:16>          -> ""   the time-ordered index of keys with a time
//   \xff batch / count / watermark -> decimal text: the commit markers
// <time:8> is the int64 with its sign bit flipped, big-endian, so byte order is time order.
// Metadata sorts after every data key ("\xff" > "t" > "k").
const char kBatchKey[] = "\xff" "batch";
const char kCountKey[] = "\xff" "count";
const char kWatermarkKey[] = "\xff" "watermark";
constexpr char kKeyPrefix = 'k';
constexpr char kTimePrefix = 't';

// A stable 128-bit digest of a key (two 64-bit hashes with different seeds). Stored
// instead of the key: 16 bytes per row however wide the row is; two distinct keys collide
// with probability about n^2 / 2^129 (1e-26 for five million keys).
uint64_t Hash64(std::string_view data, uint64_t seed) {
  const uint64_t kMul = 0x9E3779B97F4A7C15ULL;
  uint64_t h = seed ^ (data.size() * kMul);
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, data.data() + i, 8);
    w *= 0xBF58476D1CE4E5B9ULL;
    w ^= w >> 31;
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, data.data() + i, data.size() - i);
  h = (h ^ (tail * 0x94D049BB133111EBULL)) * kMul;
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ULL;
  h ^= h >> 32;
  return h;
}

SeenKeyStore::Digest DigestOf(std::string_view key) {
  return SeenKeyStore::Digest{{Hash64(key, 0x243F6A8885A308D3ULL), Hash64(key, 0x13198A2E03707344ULL)}};
}

// The digest's 16 bytes in memory order (the layout of stores written before the time
// index existed, kept so they stay readable).
void AppendDigest(std::string* out, const SeenKeyStore::Digest& d) {
  out->append(reinterpret_cast<const char*>(d.part), sizeof d.part);
}

SeenKeyStore::Digest ReadDigest(const char* p) {
  SeenKeyStore::Digest d;
  std::memcpy(d.part, p, sizeof d.part);
  return d;
}

void AppendTime(std::string* out, int64_t t) {
  uint64_t u = static_cast<uint64_t>(t) ^ (1ULL << 63);
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((u >> shift) & 0xff));
}

int64_t ReadTime(const char* p) {
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<uint8_t>(p[i]);
  return static_cast<int64_t>(u ^ (1ULL << 63));
}

std::string KeyEntry(const SeenKeyStore::Digest& d) {
  std::string k(1, kKeyPrefix);
  AppendDigest(&k, d);
  return k;
}

std::string TimeEntry(int64_t t, const SeenKeyStore::Digest& d) {
  std::string k(1, kTimePrefix);
  AppendTime(&k, t);
  AppendDigest(&k, d);
  return k;
}

}  // namespace

SeenKeyStore::~SeenKeyStore() = default;

Result<std::shared_ptr<SeenKeyStore>> SeenKeyStore::Open(const std::string& dir) {
  std::shared_ptr<SeenKeyStore> store(new SeenKeyStore());
  // Most lookups are of keys never seen: the bloom filter answers those without a read.
  LP_ASSIGN_OR_RETURN(store->db_, OpenStateDb(dir, /*point_lookups=*/true));
  rocksdb::DB* raw = store->db_.get();
  store->dir_ = dir;
  LP_ASSIGN_OR_RETURN(store->committed_batch_, ReadMarker(raw, kBatchKey, dir));
  LP_ASSIGN_OR_RETURN(auto count, ReadMarker(raw, kCountKey, dir));
  store->stored_keys_ = count.value_or(0);
  LP_ASSIGN_OR_RETURN(store->committed_watermark_, ReadMarker(raw, kWatermarkKey, dir));
  return store;
}

// Decides whether one key is new, recording the change in pending_. A stored key whose
// event time is below this batch's expiry watermark counts as absent (it is deleted at
// Commit), exactly as if ExpireBefore had removed it at once.
Status SeenKeyStore::Probe(std::string_view key, bool with_time, int64_t time, uint8_t* inserted) {
  Digest d = DigestOf(key);
  auto it = pending_.find(d);
  if (it != pending_.end()) {
    if (with_time && it->second.has_time) it->second.time = std::max(it->second.time, time);
    *inserted = 0;
    return Status::OK();
  }
  Pending p;
  p.has_time = with_time;
  p.time = time;
  if (stored_keys_ > 0) {  // an empty store (a flow's first batch) needs no lookups
    lookup_.assign(1, kKeyPrefix);
    AppendDigest(&lookup_, d);
    auto st = db_->Get(rocksdb::ReadOptions(), lookup_, &value_);
    if (!st.ok() && !st.IsNotFound()) return FromRocks(st, "read state store " + dir_);
    if (st.ok()) {
      p.in_db = true;
      if (value_.size() == 8) p.db_time = ReadTime(value_.data());
      bool expired = p.db_time && pending_watermark_ && *p.db_time < *pending_watermark_;
      if (!expired) {
        *inserted = 0;
        // A known key seen again later in event time lives on until its latest time.
        if (with_time && p.db_time && time > *p.db_time) pending_.emplace(d, p);
        return Status::OK();
      }
    }
  }
  p.is_new = true;
  pending_.emplace(d, p);
  ++pending_new_;
  *inserted = 1;
  return Status::OK();
}

Status SeenKeyStore::InsertIfAbsent(const std::vector<std::string_view>& keys, std::vector<uint8_t>* inserted) {
  inserted->assign(keys.size(), 0);
  for (size_t i = 0; i < keys.size(); ++i) LP_RETURN_IF_ERROR(Probe(keys[i], false, 0, &(*inserted)[i]));
  return Status::OK();
}

Status SeenKeyStore::InsertIfAbsentWithTime(const std::vector<std::string_view>& keys,
                                            const std::vector<int64_t>& event_times,
                                            std::vector<uint8_t>* inserted) {
  if (event_times.size() != keys.size()) {
    return Status::Internal("InsertIfAbsentWithTime: " + std::to_string(keys.size()) + " keys but " +
                            std::to_string(event_times.size()) + " event times");
  }
  inserted->assign(keys.size(), 0);
  for (size_t i = 0; i < keys.size(); ++i) LP_RETURN_IF_ERROR(Probe(keys[i], true, event_times[i], &(*inserted)[i]));
  return Status::OK();
}

// As Probe with times, but a key recorded below `floor` (the row's watermark) counts as
// absent and is recorded anew; a known key keeps its time (the kept row's).
Status SeenKeyStore::ProbeFirst(std::string_view key, int64_t time, int64_t floor, uint8_t* inserted,
                                int64_t* recorded) {
  Digest d = DigestOf(key);
  auto it = pending_.find(d);
  if (it != pending_.end()) {
    Pending& p = it->second;
    if (p.has_time && p.time >= floor) {
      *inserted = 0;
      *recorded = p.time;
      return Status::OK();
    }
    p.has_time = true;
    p.time = time;
    *inserted = 1;
    return Status::OK();
  }
  Pending p;
  p.has_time = true;
  p.time = time;
  if (stored_keys_ > 0) {
    lookup_.assign(1, kKeyPrefix);
    AppendDigest(&lookup_, d);
    auto st = db_->Get(rocksdb::ReadOptions(), lookup_, &value_);
    if (!st.ok() && !st.IsNotFound()) return FromRocks(st, "read state store " + dir_);
    if (st.ok()) {
      p.in_db = true;
      if (value_.size() == 8) p.db_time = ReadTime(value_.data());
      if (!p.db_time || *p.db_time >= floor) {
        *inserted = 0;
        *recorded = p.db_time.value_or(INT64_MAX);
        return Status::OK();
      }
    }
  }
  p.is_new = true;
  pending_.emplace(d, p);
  ++pending_new_;
  *inserted = 1;
  return Status::OK();
}

Status SeenKeyStore::InsertIfAbsentOrExpired(const std::vector<std::string_view>& keys,
                                             const std::vector<int64_t>& event_times,
                                             const std::vector<int64_t>& floors, std::vector<uint8_t>* inserted,
                                             std::vector<int64_t>* recorded) {
  if (event_times.size() != keys.size() || floors.size() != keys.size()) {
    return Status::Internal("InsertIfAbsentOrExpired: " + std::to_string(keys.size()) + " keys, " +
                            std::to_string(event_times.size()) + " times, " + std::to_string(floors.size()) +
                            " floors");
  }
  inserted->assign(keys.size(), 0);
  recorded->assign(keys.size(), 0);
  for (size_t i = 0; i < keys.size(); ++i) {
    LP_RETURN_IF_ERROR(ProbeFirst(keys[i], event_times[i], floors[i], &(*inserted)[i], &(*recorded)[i]));
  }
  return Status::OK();
}

Result<int64_t> SeenKeyStore::ExpireBefore(int64_t watermark_micros) {
  std::optional<int64_t> current = RecordedWatermark();
  if (current && *current >= watermark_micros) {
    watermark_micros = *current;  // a watermark never goes back
  }
  pending_watermark_ = watermark_micros;
  int64_t forgotten = 0;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.has_time && it->second.time < watermark_micros) {
      if (it->second.is_new) {
        --pending_new_;
        ++forgotten;
      }
      it = pending_.erase(it);  // a stored entry below the watermark is deleted at Commit
    } else {
      ++it;
    }
  }
  return forgotten;
}

std::optional<int64_t> SeenKeyStore::RecordedWatermark() const {
  return pending_watermark_ ? pending_watermark_ : committed_watermark_;
}

int64_t SeenKeyStore::size() const { return stored_keys_ + pending_new_; }

int64_t SeenKeyStore::MemoryBytes() const {
  // An unordered_map node: the value, the next pointer and the cached hash.
  int64_t bytes = static_cast<int64_t>(pending_.size() * (sizeof(Digest) + sizeof(Pending) + 16) +
                                       pending_.bucket_count() * sizeof(void*));
  uint64_t memtables = 0;
  if (db_->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables)) {
    bytes += static_cast<int64_t>(memtables);
  }
  return bytes;
}

StateSize SeenKeyStore::Size() const {
  StateSize s;
  s.keys = size();
  s.memory_bytes = MemoryBytes();
  auto disk = FolderBytes(dir_);
  s.disk_bytes = disk.ok() ? *disk : 0;
  return s;
}

void SeenKeyStore::Abandon() {
  pending_.clear();
  pending_new_ = 0;
  pending_watermark_.reset();
}

Status SeenKeyStore::Commit(int64_t batch_id) {
  if (committed_batch_ && batch_id <= *committed_batch_) {
    return Status::InvalidArgument("state store " + dir_ + " already has batch " + std::to_string(*committed_batch_) +
                                   " applied; batch " + std::to_string(batch_id) + " cannot be applied after it");
  }
  StateWrite write;
  int64_t count = stored_keys_;
  std::optional<std::string> range_end;
  if (pending_watermark_) {
    // Stored keys below the watermark: walk the time index up to it. Each entry names a
    // stored key; it is deleted unless this batch re-timed it (then it is re-put below).
    range_end = std::string(1, kTimePrefix);
    AppendTime(&*range_end, *pending_watermark_);
    std::string begin(1, kTimePrefix);
    rocksdb::Slice upper(*range_end);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> iter(db_->NewIterator(ro));
    for (iter->Seek(begin); iter->Valid(); iter->Next()) {
      rocksdb::Slice k = iter->key();
      if (k.size() != 1 + 8 + sizeof(Digest)) {
        return Status::Corruption("state store " + dir_ + ": time index entry of " + std::to_string(k.size()) +
                                  " bytes, expected 25");
      }
      Digest d = ReadDigest(k.data() + 9);
      auto it = pending_.find(d);
      if (it == pending_.end()) {
        write.Delete(KeyEntry(d));
        --count;
      } else if (it->second.is_new) {
        --count;  // expired, then seen again in this batch: re-put as new below
      }
    }
    LP_RETURN_IF_ERROR(FromRocks(iter->status(), "scan state store " + dir_));
    write.DeleteRange(std::string(1, kTimePrefix), *range_end);
  }
  for (const auto& [d, p] : pending_) {
    if (p.is_new) ++count;
    std::string value;
    if (p.has_time) AppendTime(&value, p.time);
    write.Put(KeyEntry(d), std::move(value));
    if (!p.has_time) continue;
    write.Put(TimeEntry(p.time, d), "");
    bool covered_by_range = pending_watermark_ && p.db_time && *p.db_time < *pending_watermark_;
    if (p.db_time && *p.db_time != p.time && !covered_by_range) write.Delete(TimeEntry(*p.db_time, d));
  }
  std::optional<int64_t> watermark = RecordedWatermark();
  write.Put(kBatchKey, std::to_string(batch_id));
  write.Put(kCountKey, std::to_string(count));
  if (watermark) write.Put(kWatermarkKey, std::to_string(*watermark));
  LP_RETURN_IF_ERROR(write.Apply(db_.get(), dir_, batch_id, kBulkKeys));
  Abandon();
  stored_keys_ = count;
  committed_batch_ = batch_id;
  committed_watermark_ = watermark;
  return Status::OK();
}

}  // namespace lakepipe::state
