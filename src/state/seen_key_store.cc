#include "state/seen_key_store.h"

#include <rocksdb/db.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/write_batch.h>

#include <rocksdb/filter_policy.h>
#include <rocksdb/slice.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include "common/fs.h"
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

constexpr uint64_t kSeed0 = 0x243F6A8885A308D3ULL, kSeed1 = 0x13198A2E03707344ULL;

// The digest's 16 bytes are stored in memory order (the layout of stores written before
// the time index existed, kept so they stay readable).
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

// Entries are built in small fixed buffers (no string per entry).
constexpr size_t kKeyEntryBytes = 1 + sizeof(SeenKeyStore::Digest);
constexpr size_t kTimeEntryBytes = 1 + 8 + sizeof(SeenKeyStore::Digest);

rocksdb::Slice KeyEntry(const SeenKeyStore::Digest& d, char (&buf)[kKeyEntryBytes]) {
  buf[0] = kKeyPrefix;
  std::memcpy(buf + 1, d.part, sizeof d.part);
  return rocksdb::Slice(buf, sizeof buf);
}

void PutTime(char* out, int64_t t) {
  uint64_t u = static_cast<uint64_t>(t) ^ (1ULL << 63);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((u >> (56 - 8 * i)) & 0xff);
}

rocksdb::Slice TimeEntry(int64_t t, const SeenKeyStore::Digest& d, char (&buf)[kTimeEntryBytes]) {
  buf[0] = kTimePrefix;
  PutTime(buf + 1, t);
  std::memcpy(buf + 9, d.part, sizeof d.part);
  return rocksdb::Slice(buf, sizeof buf);
}

// Sorts `items` by time(item), stably: LSD radix sort on the time's bytes in key order
// (sign bit flipped), one pass per byte that differs between items.
template <typename T, typename TimeOf>
void RadixSortByTime(std::vector<T>* items, const TimeOf& time_of) {
  const size_t n = items->size();
  if (n < 2) return;
  auto key = [&](const T& item) { return static_cast<uint64_t>(time_of(item)) ^ (1ULL << 63); };
  std::vector<std::array<size_t, 256>> counts(8);
  for (auto& c : counts) c.fill(0);
  for (const T& item : *items) {
    const uint64_t k = key(item);
    for (int b = 0; b < 8; ++b) ++counts[static_cast<size_t>(b)][(k >> (8 * b)) & 0xff];
  }
  std::vector<T> scratch(n);
  for (int b = 0; b < 8; ++b) {
    std::array<size_t, 256>& c = counts[static_cast<size_t>(b)];
    if (c[(key((*items)[0]) >> (8 * b)) & 0xff] == n) continue;  // every item has this byte
    size_t offset = 0;
    for (size_t& slot : c) {
      const size_t count = slot;
      slot = offset;
      offset += count;
    }
    for (const T& item : *items) scratch[c[(key(item) >> (8 * b)) & 0xff]++] = item;
    items->swap(scratch);
  }
}

rocksdb::Slice TimeValue(int64_t t, char (&buf)[8]) {
  PutTime(buf, t);
  return rocksdb::Slice(buf, sizeof buf);
}

}  // namespace

// Two 64-bit hashes of the key with different seeds, computed in one pass (each word is
// loaded and mixed once and folded into both). Stored instead of the key: 16 bytes per row
// however wide the row is; two distinct keys collide with probability about n^2 / 2^129
// (1e-26 for five million keys). Part of the stores' layout: it must never change.
SeenKeyStore::Digest SeenKeyStore::DigestOf(std::string_view data) {
  const uint64_t kMul = 0x9E3779B97F4A7C15ULL;
  uint64_t h0 = kSeed0 ^ (data.size() * kMul), h1 = kSeed1 ^ (data.size() * kMul);
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, data.data() + i, 8);
    w *= 0xBF58476D1CE4E5B9ULL;
    w ^= w >> 31;
    h0 = (h0 ^ w) * kMul;
    h0 ^= h0 >> 29;
    h1 = (h1 ^ w) * kMul;
    h1 ^= h1 >> 29;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, data.data() + i, data.size() - i);
  const uint64_t t = tail * 0x94D049BB133111EBULL;
  auto finish = [t, kMul](uint64_t h) {
    h = (h ^ t) * kMul;
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ULL;
    h ^= h >> 32;
    return h;
  };
  return Digest{{finish(h0), finish(h1)}};
}

namespace {

// Bytes per slot of a DigestTable without times (a digest and its flags).
constexpr int64_t kSlotBytes = static_cast<int64_t>(sizeof(SeenKeyStore::Digest) + 1);

// Whether growing a table of `slots` slots stays within `budget` bytes while the old and
// the new arrays both exist (3x the old).
bool GrowthFits(size_t slots, int64_t budget) { return 3 * static_cast<int64_t>(slots) * kSlotBytes <= budget; }

// Options of the table files a batch is ingested as: the store's, with the Bloom filter
// and the index cut into partitions. A whole-file filter is built from a buffer of every
// key's hash (8 bytes a key: 160 MB for a 20M-key batch, the peak of such a run);
// partitioned, each partition's filter is finished as it fills. Reads need no setting:
// a table file says how its filter and index are laid out.
// `filter` false: no Bloom filter (a file of entries never probed by key).
rocksdb::Options BulkFileOptions(rocksdb::DB* db, bool filter = true) {
  rocksdb::Options options = db->GetOptions();
  rocksdb::BlockBasedTableOptions table;
  if (filter) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.partition_filters = true;
  }
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

// Whether a table file being written asks the kernel to drop its pages from the page cache
// (RocksDB's default, a call every megabyte and a check on every key): the file is ingested
// at once and read by the next batch's probes, so its pages are better kept.
constexpr bool kInvalidatePageCache = false;

// Removes the runs a batch spilled before the process stopped: they were never part of
// the store.
Status RemoveStaleRuns(const std::string& dir) {
  FileSystem* fs = FileSystem::Default();
  LP_ASSIGN_OR_RETURN(auto entries, fs->ListDir(dir));
  for (const auto& e : entries) {
    if (e.is_dir || e.name.rfind("spill-", 0) != 0) continue;
    if (e.name.size() < 4 || e.name.compare(e.name.size() - 4, 4, ".run") != 0) continue;
    LP_RETURN_IF_ERROR(fs->RemoveFile(dir + "/" + e.name));
  }
  return Status::OK();
}

}  // namespace

// The scan for the stored keys' filter on a thread of its own (LoadStoredFilter).
struct SeenKeyStore::FilterBuild {
  GrowingDigestFilter filter;  // the thread's until `done`
  Status status;               // the thread's until `done`
  std::atomic<bool> done{false};
  std::atomic<bool> cancel{false};
  const rocksdb::Snapshot* snapshot = nullptr;  // the state the thread scans
  // The flow thread's: the keys of commits after the snapshot, and the keys they removed.
  std::vector<SeenKeyStore::Digest> committed_since;
  int64_t removed_since = 0;
  std::thread thread;
};

SeenKeyStore::~SeenKeyStore() {
  CancelFilterBuild();  // its thread reads db_
  RemoveRuns();
  if (budget_) {
    budget_->Release(&pending_held_);
    budget_->Release(&committed_held_);
    budget_->Release(&stored_filter_held_);
  }
}

int64_t SeenKeyStore::MaxKeysWithin(int64_t budget_bytes) {
  // The largest table whose own growth fits, filled to its 3/4: the loaded copy of the
  // stored keys, like the pending table, then never needs more than the budget.
  size_t slots = 1024;
  if (!GrowthFits(slots, budget_bytes)) return 0;
  while (GrowthFits(slots * 2, budget_bytes)) slots *= 2;
  return static_cast<int64_t>(slots * 2 * 3 / 4);
}

Result<std::shared_ptr<SeenKeyStore>> SeenKeyStore::Open(const std::string& dir, int64_t max_keys_in_memory,
                                                          int64_t memory_budget_bytes) {
  if (memory_budget_bytes < 1) {
    return Status::InvalidArgument("state store " + dir + ": memory budget of " +
                                   std::to_string(memory_budget_bytes) + " bytes; it must be at least 1");
  }
  return Open(dir, max_keys_in_memory, std::make_shared<MemoryBudget>(memory_budget_bytes));
}

Result<std::shared_ptr<SeenKeyStore>> SeenKeyStore::Open(const std::string& dir, int64_t max_keys_in_memory,
                                                          std::shared_ptr<MemoryBudget> budget) {
  if (budget == nullptr || budget->capacity() < 1) {
    return Status::InvalidArgument("state store " + dir + ": a memory budget of at least 1 byte is needed");
  }
  std::shared_ptr<SeenKeyStore> store(new SeenKeyStore());
  // The copy of the stored keys is a cache: it may take half the budget, so that the
  // pending tables (which must hold a batch's keys or spill them) keep the other half.
  store->max_keys_in_memory_ =
      max_keys_in_memory == kMaxKeysFromBudget ? MaxKeysWithin(budget->capacity() / 2) : max_keys_in_memory;
  store->budget_ = std::move(budget);
  // Most lookups are of keys never seen: the bloom filter answers those without a read.
  // Digests do not compress: table files are written uncompressed.
  LP_ASSIGN_OR_RETURN(store->db_, OpenStateDb(dir, /*point_lookups=*/true, /*compress=*/false));
  rocksdb::DB* raw = store->db_.get();
  store->dir_ = dir;
  LP_RETURN_IF_ERROR(RemoveStaleRuns(dir));
  LP_ASSIGN_OR_RETURN(store->committed_batch_, ReadMarker(raw, kBatchKey, dir));
  LP_ASSIGN_OR_RETURN(auto count, ReadMarker(raw, kCountKey, dir));
  store->stored_keys_ = count.value_or(0);
  LP_ASSIGN_OR_RETURN(store->committed_watermark_, ReadMarker(raw, kWatermarkKey, dir));
  return store;
}

Status SeenKeyStore::Lookup(const Digest& d, bool* found, std::optional<int64_t>* time) {
  *found = false;
  time->reset();
  if (stored_keys_ == 0) return Status::OK();  // an empty store (a flow's first batch) needs no lookups
  if (!committed_loaded_ && stored_keys_ <= max_keys_in_memory_) LP_RETURN_IF_ERROR(LoadCommitted());
  if (committed_loaded_) {
    size_t slot = committed_.Find(d);
    if (slot == DigestTable::kNone) return Status::OK();
    *found = true;
    if (committed_.flags(slot) & kHasTime) *time = committed_.time(slot);
    return Status::OK();
  }
  LP_RETURN_IF_ERROR(EnsureStoredFilter(1));
  if (stored_filter_loaded_ && !stored_filter_.MayContain(d)) return Status::OK();
  ++store_reads_;
  char buf[kKeyEntryBytes];
  auto st = db_->Get(rocksdb::ReadOptions(), KeyEntry(d, buf), &value_);
  if (st.IsNotFound()) return Status::OK();
  if (!st.ok()) return FromRocks(st, "read state store " + dir_);
  *found = true;
  if (value_.size() == 8) *time = ReadTime(value_.data());
  return Status::OK();
}

namespace {
// Slots of a DigestTable reserved for `keys` keys (DigestTable::Reserve: at most 3/4 full).
size_t SlotsFor(size_t keys) {
  size_t slots = 1024;
  while (keys * 4 > slots * 3) slots *= 2;
  return slots;
}
}  // namespace

bool SeenKeyStore::ReserveCommitted(size_t keys) {
  // Growing to its size doubles from small tables: the last doubling holds 1.5x the table.
  const int64_t slot_bytes = kSlotBytes + (committed_.has_times() ? 2 * static_cast<int64_t>(sizeof(int64_t)) : 0);
  const int64_t want = static_cast<int64_t>(SlotsFor(keys)) * slot_bytes * 3 / 2;
  return want <= committed_held_ || budget_->TryResize(&committed_held_, want);
}

void SeenKeyStore::DropCommitted() {
  committed_.Clear();
  committed_loaded_ = false;
  budget_->Release(&committed_held_);
}

template <typename Add>
Status SeenKeyStore::ScanStoredKeys(const Add& add, const rocksdb::Snapshot* snapshot,
                                    const std::atomic<bool>* stop) const {
  std::string begin(1, kKeyPrefix), end(1, static_cast<char>(kKeyPrefix + 1));
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  ro.fill_cache = false;  // read once, kept by the caller
  ro.snapshot = snapshot;
  std::unique_ptr<rocksdb::Iterator> iter(db_->NewIterator(ro));
  size_t seen = 0;
  for (iter->Seek(begin); iter->Valid(); iter->Next()) {
    if (stop != nullptr && (++seen & 4095) == 0 && stop->load(std::memory_order_relaxed)) {
      return Status::Aborted("scan of state store " + dir_ + " stopped");
    }
    rocksdb::Slice k = iter->key(), v = iter->value();
    if (k.size() != kKeyEntryBytes || (v.size() != 0 && v.size() != 8)) {
      return Status::Corruption("state store " + dir_ + ": key entry of " + std::to_string(k.size()) +
                                " bytes with a value of " + std::to_string(v.size()) + ", expected 17 and 0 or 8");
    }
    add(ReadDigest(k.data() + 1), v.size() == 8 ? v.data() : nullptr);
  }
  return FromRocks(iter->status(), "scan state store " + dir_);
}

Status SeenKeyStore::LoadCommitted() {
  // No room left by the other stores: probe RocksDB (asked again at the next probe).
  if (!ReserveCommitted(static_cast<size_t>(stored_keys_))) {
    DropCommitted();
    return Status::OK();
  }
  DigestTable table;
  table.Reserve(static_cast<size_t>(stored_keys_));
  LP_RETURN_IF_ERROR(ScanStoredKeys([&table](const Digest& d, const char* time) {
    bool added;
    size_t slot = table.FindOrInsert(d, &added);
    if (time != nullptr) {
      table.EnableTimes();
      table.flags(slot) |= kHasTime;
      table.time(slot) = ReadTime(time);
    }
  }));
  committed_ = std::move(table);
  committed_loaded_ = true;
  budget_->TryResize(&committed_held_, committed_.MemoryBytes());  // shrinks to what it holds
  DropStoredFilter();  // the copy answers every probe
  return Status::OK();
}

Status SeenKeyStore::EnsureStoredFilter(int64_t upcoming_reads) {
  if (filter_build_ != nullptr) return TakeBuiltFilter();
  if (stored_keys_ == 0 || committed_loaded_ || stored_filter_loaded_ || stored_filter_refused_) return Status::OK();
  // Building the filter scans every stored key, at about a twentieth of the cost of a read
  // each: worth it once the reads it would save come to a sixteenth of the stored keys.
  // A small batch against a large store (a `--once` run of a few new files) reads instead.
  if ((store_reads_ + upcoming_reads) * 16 < stored_keys_) return Status::OK();
  return LoadStoredFilter();
}

bool SeenKeyStore::ReserveStoredFilter(int64_t keys, GrowingDigestFilter* filter) {
  // Sized for twice the keys stored now, so that it serves while the store doubles (then
  // the chain grows: ApplyToStoredFilter); in less room, for a quarter more.
  const int64_t half = budget_->capacity() / 2;
  int64_t sized_for = std::max<int64_t>(2 * keys, 1 << 16);
  if (DigestFilter::BytesFor(sized_for) > half) sized_for = keys + keys / 4;
  const int64_t bytes = DigestFilter::BytesFor(sized_for);
  if (bytes > half || !budget_->TryResize(&stored_filter_held_, bytes)) return false;
  filter->Reset(sized_for, sized_for);
  return true;
}

void SeenKeyStore::DropCommittedKeepingItsFilter() {
  // Built later from the store instead, the filter took a scan of every stored key inside
  // the next batch (about 2 µs a key). committed_'s budget is given back first; the table
  // itself is freed right after the filter is filled.
  if (committed_loaded_ && !stored_filter_loaded_) {
    budget_->Release(&committed_held_);
    if (ReserveStoredFilter(static_cast<int64_t>(committed_.size()), &stored_filter_)) {
      for (size_t s = 0; s < committed_.slot_count(); ++s) {
        if (committed_.used(s)) stored_filter_.Add(committed_.digest(s));
      }
      stored_filter_loaded_ = true;
      stored_filter_removed_ = 0;
    }
  }
  DropCommitted();
}

Status SeenKeyStore::LoadStoredFilter() {
  const bool background = stored_keys_ >= background_scan_keys_;
  auto build = background ? std::make_unique<FilterBuild>() : nullptr;
  if (!ReserveStoredFilter(stored_keys_, background ? &build->filter : &stored_filter_)) {
    stored_filter_refused_ = true;  // probes read RocksDB until the next commit asks again
    return Status::OK();
  }
  ++stored_filter_scans_;
  if (background) {
    // Probes read RocksDB until the scan ends; the commits meanwhile keep their new keys
    // aside (ApplyToStoredFilter), since the snapshot does not have them.
    build->snapshot = db_->GetSnapshot();
    FilterBuild* b = build.get();
    b->thread = std::thread([this, b] {
      while (hold_filter_scans_.load() && !b->cancel.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      b->status = ScanStoredKeys([b](const Digest& d, const char*) { b->filter.Add(d); }, b->snapshot, &b->cancel);
      b->done.store(true, std::memory_order_release);
    });
    filter_build_ = std::move(build);
    return Status::OK();
  }
  Status st = ScanStoredKeys([this](const Digest& d, const char*) { stored_filter_.Add(d); });
  if (!st.ok()) {
    DropStoredFilter();
    return st;
  }
  stored_filter_loaded_ = true;
  stored_filter_removed_ = 0;
  return Status::OK();
}

std::unique_ptr<SeenKeyStore::FilterBuild> SeenKeyStore::EndFilterBuild() {
  std::unique_ptr<FilterBuild> build = std::move(filter_build_);
  build->thread.join();
  db_->ReleaseSnapshot(build->snapshot);
  budget_->Release(&filter_build_keys_held_);
  return build;
}

Status SeenKeyStore::TakeBuiltFilter() {
  if (filter_build_ == nullptr || !filter_build_->done.load(std::memory_order_acquire)) return Status::OK();
  std::unique_ptr<FilterBuild> build = EndFilterBuild();
  if (!build->status.ok()) {
    budget_->Release(&stored_filter_held_);
    return build->status;
  }
  stored_filter_ = std::move(build->filter);
  stored_filter_loaded_ = true;
  stored_filter_removed_ = build->removed_since;
  // Sized at the start for a quarter more keys than the snapshot's at least; past that the
  // chain grows, or the filter takes them anyway (only its false positives climb) and the
  // next commit decides.
  GrowStoredFilter(static_cast<int64_t>(build->committed_since.size()));
  for (const Digest& d : build->committed_since) stored_filter_.Add(d);
  return Status::OK();
}

void SeenKeyStore::CancelFilterBuild() {
  if (filter_build_ == nullptr) return;
  filter_build_->cancel.store(true);
  EndFilterBuild();
}

void SeenKeyStore::HoldFilterScans(bool hold) { hold_filter_scans_.store(hold); }

void SeenKeyStore::WaitForFilterScan() {
  if (filter_build_ == nullptr) return;
  while (!filter_build_->done.load(std::memory_order_acquire)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

template <typename Add>
Status SeenKeyStore::ForEachNewKey(const Add& add) const {
  for (size_t s = 0; s < pending_.slot_count(); ++s) {
    if (pending_.used(s) && (pending_.flags(s) & kNew)) add(pending_.digest(s));
  }
  for (const auto& run : runs_) {
    DigestRunReader reader(*run);
    Digest d;
    while (true) {
      LP_ASSIGN_OR_RETURN(bool more, reader.Next(&d));
      if (!more) break;
      add(d);
    }
  }
  return Status::OK();
}

void SeenKeyStore::DropStoredFilter() {
  CancelFilterBuild();
  stored_filter_.Clear();
  stored_filter_loaded_ = false;
  stored_filter_removed_ = 0;
  budget_->Release(&stored_filter_held_);
}

void SeenKeyStore::ApplyToStoredFilter(int64_t removed) {
  stored_filter_refused_ = false;  // the next batch may find room
  if (filter_build_ != nullptr) {
    // Committed after the scan's snapshot: kept for its filter, within the budget. Without
    // room (a large batch during the scan), or when a run cannot be read, the scan is
    // stopped; the next probe begins another.
    FilterBuild& b = *filter_build_;
    const int64_t bytes = static_cast<int64_t>((b.committed_since.size() + pending_new_) * sizeof(Digest));
    Status st = budget_->TryResize(&filter_build_keys_held_, bytes)
                    ? ForEachNewKey([&b](const Digest& d) { b.committed_since.push_back(d); })
                    : Status::NoSpace("no room for the keys committed during the scan");
    b.removed_since += removed;
    if (!st.ok()) DropStoredFilter();
    return;
  }
  if (!stored_filter_loaded_) return;
  stored_filter_removed_ += removed;
  // With many removed keys still in it, false positives climb: build it again when a probe
  // next needs it.
  if (stored_filter_removed_ > stored_filter_.sized_for() / 2) {
    DropStoredFilter();
    return;
  }
  // Room for this batch's new keys: one more filter in the chain when the newest is full,
  // never a scan of the stored keys (a rebuild at each doubling paused the batch for the
  // scan: a soak's Gold p99 reached 30 s as its DISTINCT passed 15M keys). Without room,
  // it is dropped and scanned for again (on a thread of its own when large).
  if (!GrowStoredFilter(std::max<int64_t>(pending_new_, 0))) {
    DropStoredFilter();
    return;
  }
  // The keys are stored (the write succeeded); a filter without them would rule them out.
  // It is only a cache: when a run cannot be read, dropped, and built again when needed.
  if (!ForEachNewKey([this](const Digest& d) { stored_filter_.Add(d); }).ok()) DropStoredFilter();
}

bool SeenKeyStore::GrowStoredFilter(int64_t more) {
  // Within half the budget, as the first filter; a dense one when a doubling does not fit.
  const int64_t half = budget_->capacity() / 2;
  for (bool dense : {false, true}) {
    int64_t bytes = stored_filter_.BytesToGrow(more, dense);
    if (bytes == 0) return true;
    if (stored_filter_held_ + bytes <= half && budget_->TryResize(&stored_filter_held_, stored_filter_held_ + bytes)) {
      stored_filter_.Grow(more, dense);
      return true;
    }
  }
  return false;
}

void SeenKeyStore::ApplyToCommitted(const std::vector<Digest>& expired) {
  if (!committed_loaded_) return;
  for (const Digest& d : expired) {
    size_t slot = committed_.Find(d);
    if (slot != DigestTable::kNone) committed_.Erase(slot);
  }
  // Room first: pending_ is walked in slot order, which is (almost) key order, and keys
  // inserted in key order into a table too small for them all crowd into its first slots
  // (their homes span only part of it) until it grows: one long run of linear probing,
  // quadratic in the batch's keys (a 300,000-key batch spent seconds here). Reserved, the
  // table's slots span every key's home and the inserts sweep it once.
  if (static_cast<int64_t>(committed_.size() + pending_.size()) > max_keys_in_memory_) {
    DropCommittedKeepingItsFilter();  // past the limit: probe RocksDB from now on
    return;
  }
  if (!ReserveCommitted(committed_.size() + pending_.size())) {
    DropCommittedKeepingItsFilter();  // no room in the budget: probe RocksDB from now on
    return;
  }
  committed_.Reserve(committed_.size() + pending_.size());
  for (size_t s = 0; s < pending_.slot_count(); ++s) {
    if (!pending_.used(s)) continue;
    if (pending_.flags(s) & kRemoved) {
      size_t slot = committed_.Find(pending_.digest(s));
      if (slot != DigestTable::kNone) committed_.Erase(slot);
      continue;
    }
    bool added;
    size_t slot = committed_.FindOrInsert(pending_.digest(s), &added);
    if (pending_.flags(s) & kHasTime) {
      committed_.EnableTimes();
      committed_.flags(slot) = DigestTable::kUsed | kHasTime;
      committed_.time(slot) = pending_.time(s);
    } else {
      committed_.flags(slot) = DigestTable::kUsed;
    }
  }
  if (static_cast<int64_t>(committed_.size()) > max_keys_in_memory_) {
    DropCommittedKeepingItsFilter();  // grown past the limit: probe RocksDB from now on
    return;
  }
  budget_->TryResize(&committed_held_, committed_.MemoryBytes());
}

size_t SeenKeyStore::AddPending(const Digest& d, uint8_t flags, int64_t time, std::optional<int64_t> stored_time) {
  bool added;
  size_t slot = pending_.FindOrInsert(d, &added);
  pending_.flags(slot) = static_cast<uint8_t>(DigestTable::kUsed | flags | (stored_time ? kHasStoredTime : 0));
  if (flags & kHasTime) {
    pending_.time(slot) = time;
    pending_min_time_ = std::min(pending_min_time_, time);
  }
  if (stored_time) pending_.stored_time(slot) = *stored_time;
  if (flags & kNew) ++pending_new_;
  return slot;
}

// Decides whether one key is new, recording the change in pending_. A stored key whose
// event time is below this batch's expiry watermark counts as absent (it is deleted at
// Commit), exactly as if ExpireBefore had removed it at once.
Status SeenKeyStore::Probe(const Digest& d, bool with_time, int64_t time, uint8_t* inserted) {
  size_t slot = pending_.Find(d);
  if (slot != DigestTable::kNone && (pending_.flags(slot) & kRemoved)) {
    // Removed earlier in this batch: absent now, and present again after the commit.
    const bool stored = (pending_.flags(slot) & kWasStored) != 0;
    pending_.flags(slot) = static_cast<uint8_t>(DigestTable::kUsed | kNew | (stored ? kWasStored : 0));
    ++pending_new_;
    if (stored) {
      --pending_stored_removed_;
      ++pending_stored_reinserted_;
    }
    *inserted = 1;
    return Status::OK();
  }
  if (slot != DigestTable::kNone) {
    if (with_time && (pending_.flags(slot) & kHasTime)) pending_.time(slot) = std::max(pending_.time(slot), time);
    *inserted = 0;
    return Status::OK();
  }
  uint8_t flags = with_time ? kHasTime : 0;
  bool found;
  if (!runs_.empty()) {
    if (with_time) return Status::Internal("state store " + dir_ + ": event times after keys were spilled");
    LP_RETURN_IF_ERROR(InSpilledRuns(d, &found));
    if (found) {
      *inserted = 0;
      return Status::OK();
    }
  }
  std::optional<int64_t> db_time;
  LP_RETURN_IF_ERROR(Lookup(d, &found, &db_time));
  if (found) {
    bool expired = db_time && pending_watermark_ && *db_time < *pending_watermark_;
    if (!expired) {
      *inserted = 0;
      // A known key seen again later in event time lives on until its latest time.
      if (with_time && db_time && time > *db_time) AddPending(d, flags, time, db_time);
      return Status::OK();
    }
  }
  if (!with_time) LP_RETURN_IF_ERROR(SpillIfFull());
  AddPending(d, flags | kNew, time, db_time);
  *inserted = 1;
  return Status::OK();
}

Status SeenKeyStore::SpillIfFull() {
  if (pending_.has_times() || pending_watermark_) return Status::OK();  // spilling keeps no times
  if (pending_removals_ > 0) return Status::OK();  // the removals live in pending_ (Remove)
  size_t slots = pending_.slot_count();
  if (slots == 0 || (pending_.size() + 1) * 4 <= slots * 3) return Status::OK();  // no growth yet
  // The growth (old and new arrays at once) reserved from the budget the stores share,
  // with what the batch's runs keep in memory (their filters and indexes, ~1.3 bytes a
  // spilled key): counted, they make the table spill sooner instead of adding to it, so
  // a batch of any size stays within the budget (they were 25 MB beside it at 20M keys).
  const int64_t runs = RunsMemoryBytes();
  const int64_t growth = 3 * static_cast<int64_t>(slots) * kSlotBytes + runs;
  if (growth <= pending_held_ || budget_->TryResize(&pending_held_, growth)) return Status::OK();
  std::vector<uint32_t> sorted = pending_.SortedSlots();
  std::string path = dir_ + "/spill-" + std::to_string(next_run_++) + ".run";
  LP_ASSIGN_OR_RETURN(auto run, DigestRun::Write(path, pending_, sorted));
  runs_.push_back(std::move(run));
  pending_.Clear(slots);  // the arrays are reused for the next keys
  // Every new key checks each run's filter: runs of equal size are merged four at a time,
  // so there are at most three of each size (a few runs, not one per spill), and each key
  // is rewritten once per level.
  constexpr size_t kMergeWidth = 4;
  while (runs_.size() >= kMergeWidth) {
    size_t first = runs_.size() - kMergeWidth;
    bool same_level = true;
    for (size_t i = first; i < runs_.size(); ++i) same_level &= runs_[i]->level() == runs_.back()->level();
    if (!same_level) break;
    std::vector<const DigestRun*> inputs;
    for (size_t i = first; i < runs_.size(); ++i) inputs.push_back(runs_[i].get());
    std::string merged_path = dir_ + "/spill-" + std::to_string(next_run_++) + ".run";
    auto merged = DigestRun::Merge(merged_path, inputs);
    if (!merged.ok()) {
      std::remove(merged_path.c_str());  // not a run of the batch: Abandon would not find it
      return merged.status();
    }
    for (size_t i = first; i < runs_.size(); ++i) runs_[i]->Remove();
    runs_.resize(first);
    runs_.push_back(std::move(*merged));
  }
  budget_->TryResize(&pending_held_, pending_.MemoryBytes() + RunsMemoryBytes());
  return Status::OK();
}

int64_t SeenKeyStore::RunsMemoryBytes() const {
  int64_t bytes = 0;
  for (const auto& run : runs_) bytes += run->MemoryBytes();
  return bytes;
}

Status SeenKeyStore::InSpilledRuns(const Digest& d, bool* found) {
  *found = false;
  for (const auto& run : runs_) {
    if (!run->MayContain(d)) continue;
    LP_ASSIGN_OR_RETURN(*found, run->Contains(d));
    if (*found) return Status::OK();
  }
  return Status::OK();
}

void SeenKeyStore::RemoveRuns() {
  for (auto& run : runs_) run->Remove();
  runs_.clear();
}

Status SeenKeyStore::InsertIfAbsent(const std::vector<std::string_view>& keys, std::vector<uint8_t>* inserted) {
  const size_t n = keys.size();
  digests_.resize(n);
  for (size_t i = 0; i < n; ++i) digests_[i] = SeenKeyStore::DigestOf(keys[i]);
  return InsertDigestsIfAbsent(digests_, inserted);
}

Status SeenKeyStore::InsertDigestsIfAbsent(const std::vector<Digest>& digests, std::vector<uint8_t>* inserted) {
  const size_t n = digests.size();
  inserted->assign(n, 0);
  // The digests first, then the probes, each fetching the table slots (and the run filter
  // blocks) of a key a few places ahead while this one is probed: a pending table of
  // millions of keys, or a run's filter, is a cache miss per key otherwise, and the misses
  // now overlap.
  constexpr size_t kAhead = 8;
  if (n > 0 && stored_keys_ > 0 && !committed_loaded_ && stored_keys_ <= max_keys_in_memory_) {
    LP_RETURN_IF_ERROR(LoadCommitted());
  }
  if (n > 0) LP_RETURN_IF_ERROR(EnsureStoredFilter(static_cast<int64_t>(n)));
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) {
      const Digest& ahead = digests[i + kAhead];
      pending_.Prefetch(ahead);
      if (committed_loaded_) committed_.Prefetch(ahead);
      if (stored_filter_loaded_) stored_filter_.Prefetch(ahead);
      for (const auto& run : runs_) run->Prefetch(ahead);
    }
    const Digest& d = digests[i];
    if (stored_keys_ == 0 && runs_.empty() && !pending_.has_times() && pending_removals_ == 0 &&
        (pending_.size() + 1) * 4 <= pending_.slot_count() * 3) {
      // Nothing stored or spilled and room without growth (so no spill either): one probe
      // of the pending table decides and inserts, where Probe takes two.
      bool added;
      size_t slot = pending_.FindOrInsert(d, &added);
      if (added) {
        pending_.flags(slot) = DigestTable::kUsed | kNew;
        ++pending_new_;
        (*inserted)[i] = 1;
      }
      continue;
    }
    if (!pending_.has_times() && !pending_watermark_ && pending_removals_ == 0) {
      // Keys without times, nothing removed (a DISTINCT's batch past its first spill, or
      // with stored keys): one probe of the pending table decides or inserts, where Probe
      // finds, then inserts. A key found in a run or in the store after all is taken out
      // again: a duplicate, rare next to the new keys. The spill check comes first, as
      // the insert may need room; that it may now run for a key that turns out to be
      // present only moves a spill by one key (runs are the batch's own, never stored).
      // A key read in the store earlier in this batch is still there (nothing is removed
      // in this form), and in neither pending_ nor a run.
      if (found_stored_.size() > 0 && found_stored_.Find(d) != DigestTable::kNone) continue;
      LP_RETURN_IF_ERROR(SpillIfFull());
      bool added;
      size_t slot = pending_.FindOrInsert(d, &added);
      if (!added) continue;
      bool found = false;
      if (!runs_.empty()) LP_RETURN_IF_ERROR(InSpilledRuns(d, &found));
      if (!found && stored_keys_ > 0) {
        std::optional<int64_t> stored_time;
        LP_RETURN_IF_ERROR(Lookup(d, &found, &stored_time));
        if (found && !committed_loaded_) {
          if (found_stored_.size() >= kFoundStoredKeys) found_stored_.Clear(2 * kFoundStoredKeys);
          bool memo_added;
          found_stored_.FindOrInsert(d, &memo_added);
        }
      }
      if (found) {
        pending_.Erase(slot);
        continue;
      }
      pending_.flags(slot) = DigestTable::kUsed | kNew;
      ++pending_new_;
      (*inserted)[i] = 1;
      continue;
    }
    LP_RETURN_IF_ERROR(Probe(d, false, 0, &(*inserted)[i]));
  }
  return Status::OK();
}

Status SeenKeyStore::Remove(const std::vector<std::string_view>& keys) {
  if (keys.empty()) return Status::OK();
  if (!runs_.empty()) {
    return Status::NotSupported("state store " + dir_ + ": removing keys from a batch whose keys were spilled");
  }
  if (pending_.has_times() || pending_watermark_) {
    return Status::NotSupported("state store " + dir_ + ": removing keys recorded with event times");
  }
  for (std::string_view key : keys) {
    const Digest d = DigestOf(key);
    ++pending_removals_;
    size_t slot = pending_.Find(d);
    if (slot != DigestTable::kNone) {
      uint8_t flags = pending_.flags(slot);
      if (flags & kRemoved) continue;
      // Inserted by this batch (new, possibly after an earlier removal): removed again.
      const bool stored = (flags & kWasStored) != 0;
      if (flags & kNew) --pending_new_;
      if (stored) {
        --pending_stored_reinserted_;
        ++pending_stored_removed_;
      }
      pending_.flags(slot) = static_cast<uint8_t>(DigestTable::kUsed | kRemoved | (stored ? kWasStored : 0));
      continue;
    }
    bool found;
    std::optional<int64_t> time;
    LP_RETURN_IF_ERROR(Lookup(d, &found, &time));
    AddPending(d, static_cast<uint8_t>(kRemoved | (found ? kWasStored : 0)), 0, std::nullopt);
    if (found) ++pending_stored_removed_;
  }
  return Status::OK();
}

Status SeenKeyStore::InsertIfAbsentWithTime(const std::vector<std::string_view>& keys,
                                            const std::vector<int64_t>& event_times,
                                            std::vector<uint8_t>* inserted) {
  if (event_times.size() != keys.size()) {
    return Status::Internal("InsertIfAbsentWithTime: " + std::to_string(keys.size()) + " keys but " +
                            std::to_string(event_times.size()) + " event times");
  }
  pending_.EnableTimes();
  inserted->assign(keys.size(), 0);
  for (size_t i = 0; i < keys.size(); ++i) {
    LP_RETURN_IF_ERROR(Probe(SeenKeyStore::DigestOf(keys[i]), true, event_times[i], &(*inserted)[i]));
  }
  return Status::OK();
}

// As Probe with times, but a key recorded below `floor` (the row's watermark) counts as
// absent and is recorded anew; a known key keeps its time (the kept row's).
Status SeenKeyStore::ProbeFirst(const Digest& d, int64_t time, int64_t floor, uint8_t* inserted,
                                int64_t* recorded) {
  if (!runs_.empty()) return Status::Internal("state store " + dir_ + ": event times after keys were spilled");
  size_t slot = pending_.Find(d);
  if (slot != DigestTable::kNone) {
    if ((pending_.flags(slot) & kHasTime) && pending_.time(slot) >= floor) {
      *inserted = 0;
      *recorded = pending_.time(slot);
      return Status::OK();
    }
    pending_.flags(slot) |= kHasTime;
    pending_.time(slot) = time;
    pending_min_time_ = std::min(pending_min_time_, time);
    *inserted = 1;
    return Status::OK();
  }
  bool found;
  std::optional<int64_t> db_time;
  LP_RETURN_IF_ERROR(Lookup(d, &found, &db_time));
  if (found && (!db_time || *db_time >= floor)) {
    *inserted = 0;
    *recorded = db_time.value_or(INT64_MAX);
    return Status::OK();
  }
  AddPending(d, kHasTime | kNew, time, db_time);
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
  pending_.EnableTimes();
  inserted->assign(keys.size(), 0);
  recorded->assign(keys.size(), 0);
  for (size_t i = 0; i < keys.size(); ++i) {
    LP_RETURN_IF_ERROR(
        ProbeFirst(SeenKeyStore::DigestOf(keys[i]), event_times[i], floors[i], &(*inserted)[i], &(*recorded)[i]));
  }
  return Status::OK();
}

Result<int64_t> SeenKeyStore::ExpireBefore(int64_t watermark_micros) {
  if (!runs_.empty()) return Status::Internal("state store " + dir_ + ": a watermark after keys were spilled");
  std::optional<int64_t> current = RecordedWatermark();
  if (current && *current >= watermark_micros) {
    watermark_micros = *current;  // a watermark never goes back
  }
  pending_watermark_ = watermark_micros;
  int64_t forgotten = 0;
  if (watermark_micros <= pending_min_time_) return forgotten;  // no pending time below it
  int64_t min_time = INT64_MAX;
  for (size_t s = 0; s < pending_.slot_count(); ++s) {
    // Erase may move a later entry into slot s: look at s again until it stays.
    while (pending_.used(s)) {
      uint8_t flags = pending_.flags(s);
      if (!(flags & kHasTime)) break;
      if (pending_.time(s) >= watermark_micros) {
        min_time = std::min(min_time, pending_.time(s));
        break;
      }
      if (flags & kNew) {
        --pending_new_;
        ++forgotten;
      }
      pending_.Erase(s);  // a stored entry below the watermark is deleted at Commit
    }
  }
  pending_min_time_ = min_time;
  return forgotten;
}

std::optional<int64_t> SeenKeyStore::RecordedWatermark() const {
  return pending_watermark_ ? pending_watermark_ : committed_watermark_;
}

int64_t SeenKeyStore::size() const {
  return stored_keys_ + pending_new_ - pending_stored_reinserted_ - pending_stored_removed_;
}

int64_t SeenKeyStore::MemoryBytes() const {
  int64_t bytes = pending_.MemoryBytes() + committed_.MemoryBytes() + stored_filter_.MemoryBytes() +
                  found_stored_.MemoryBytes();
  if (filter_build_ != nullptr) {  // the filter being scanned for (reserved whole at its start)
    bytes += stored_filter_held_ +
             static_cast<int64_t>(filter_build_->committed_since.capacity() * sizeof(Digest));
  }
  for (const auto& run : runs_) bytes += run->MemoryBytes();
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

Status SeenKeyStore::Abandon() {
  ClearPending();
  return Status::OK();
}

void SeenKeyStore::ClearPending() {
  RemoveRuns();
  pending_.Clear(kKeepSlots);
  found_stored_.Clear(1 << 12);  // a large memo is not kept between batches
  budget_->TryResize(&pending_held_, std::min(pending_held_, pending_.MemoryBytes()));
  pending_new_ = 0;
  pending_removals_ = 0;
  pending_stored_removed_ = 0;
  pending_stored_reinserted_ = 0;
  pending_min_time_ = INT64_MAX;
  pending_watermark_.reset();
}

Status SeenKeyStore::Commit(int64_t batch_id) {
  if (committed_batch_ && batch_id <= *committed_batch_) {
    return Status::InvalidArgument("state store " + dir_ + " already has batch " + std::to_string(*committed_batch_) +
                                   " applied; batch " + std::to_string(batch_id) + " cannot be applied after it");
  }
  if (!runs_.empty()) {
    // Spilled: only keys without times, no watermark (SpillIfFull), so no expiry either.
    if (pending_watermark_ || pending_.has_times()) {
      return Status::Internal("state store " + dir_ + ": spilled keys with event times or a watermark");
    }
    int64_t count = stored_keys_ + pending_new_;
    std::optional<int64_t> watermark = RecordedWatermark();
    LP_RETURN_IF_ERROR(WriteMerged(batch_id, count, watermark));
    // The store outgrew the budget: a loaded copy is dropped, probes use the filter or read
    // RocksDB (or reload when a small budget's key count still allows it).
    DropCommittedKeepingItsFilter();
    stored_keys_ = count;
    ApplyToStoredFilter(0);
    ClearPending();
    committed_batch_ = batch_id;
    committed_watermark_ = watermark;
    return Status::OK();
  }
  int64_t count = stored_keys_;
  std::vector<Digest> expired;  // stored keys to delete
  std::string range_end;
  if (pending_watermark_) {
    // Stored keys below the watermark: walk the time index up to it. Each entry names a
    // stored key; it is deleted unless this batch re-timed it (then it is re-put below).
    range_end.assign(1, kTimePrefix);
    AppendTime(&range_end, *pending_watermark_);
    std::string begin(1, kTimePrefix);
    rocksdb::Slice upper(range_end);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> iter(db_->NewIterator(ro));
    for (iter->Seek(begin); iter->Valid(); iter->Next()) {
      rocksdb::Slice k = iter->key();
      if (k.size() != kTimeEntryBytes) {
        return Status::Corruption("state store " + dir_ + ": time index entry of " + std::to_string(k.size()) +
                                  " bytes, expected 25");
      }
      Digest d = ReadDigest(k.data() + 9);
      size_t slot = pending_.Find(d);
      if (slot == DigestTable::kNone) {
        expired.push_back(d);
        --count;
      } else if (pending_.flags(slot) & kNew) {
        --count;  // expired, then seen again in this batch: re-put as new below
      }
    }
    LP_RETURN_IF_ERROR(FromRocks(iter->status(), "scan state store " + dir_));
  }
  count += pending_new_ - pending_stored_reinserted_ - pending_stored_removed_;
  std::optional<int64_t> watermark = RecordedWatermark();
  const std::string* range = pending_watermark_ ? &range_end : nullptr;
  size_t entries = expired.size() + pending_.size() * (pending_.has_times() ? 2 : 1);
  LP_RETURN_IF_ERROR(entries >= kBulkKeys ? WriteSorted(batch_id, &expired, range, count, watermark)
                                          : WriteSmall(batch_id, &expired, range, count, watermark));
  ApplyToCommitted(expired);
  stored_keys_ = count;
  ApplyToStoredFilter(static_cast<int64_t>(expired.size()) + pending_stored_removed_);
  ClearPending();
  committed_batch_ = batch_id;
  committed_watermark_ = watermark;
  return Status::OK();
}

// Both write paths put the same entries in key order: the `k` entries (the pending keys
// and the expired ones, merged), the `t` entries (by time), the markers. Key order is what
// a table file needs, and in a WriteBatch it makes the memtable inserts cheap and the next
// commit's walk of the time index follow memory order.
template <typename Put, typename Delete>
Status SeenKeyStore::EmitInKeyOrder(int64_t batch_id, std::vector<Digest>* expired, int64_t count,
                                    std::optional<int64_t> watermark, const Put& put, const Delete& del) const {
  std::sort(expired->begin(), expired->end(), DigestTable::KeyLess);
  const std::vector<uint32_t> slots = pending_.SortedSlots();
  LP_RETURN_IF_ERROR(EmitKeyEntries(slots, 0, slots.size(), *expired, 0, expired->size(), put, del));
  return EmitTimeEntriesAndMarkers(slots, batch_id, count, watermark, put, del);
}

// The `k` entries of the sorted slots [slot_from, slot_to) and the deletions of the
// expired keys [expired_from, expired_to), merged in key order.
template <typename Put, typename Delete>
Status SeenKeyStore::EmitKeyEntries(const std::vector<uint32_t>& slots, size_t slot_from, size_t slot_to,
                                    const std::vector<Digest>& expired, size_t expired_from, size_t expired_to,
                                    const Put& put, const Delete& del) const {
  char kbuf[kKeyEntryBytes], vbuf[8];
  size_t e = expired_from;
  for (size_t i = slot_from; i < slot_to; ++i) {
    const uint32_t s = slots[i];
    const Digest& d = pending_.digest(s);
    for (; e < expired_to && DigestTable::KeyLess(expired[e], d); ++e) LP_RETURN_IF_ERROR(del(KeyEntry(expired[e], kbuf)));
    const uint8_t flags = pending_.flags(s);
    if (flags & kRemoved) {
      if (flags & kWasStored) LP_RETURN_IF_ERROR(del(KeyEntry(d, kbuf)));
      continue;
    }
    rocksdb::Slice value;
    if (flags & kHasTime) value = TimeValue(pending_.time(s), vbuf);
    LP_RETURN_IF_ERROR(put(KeyEntry(d, kbuf), value));
  }
  for (; e < expired_to; ++e) LP_RETURN_IF_ERROR(del(KeyEntry(expired[e], kbuf)));
  return Status::OK();
}

// The `t` entries (puts of this batch's times, and deletions of the old times of re-timed
// keys that the range deletion does not cover), then the markers.
template <typename Put, typename Delete>
Status SeenKeyStore::EmitTimeEntriesAndMarkers(const std::vector<uint32_t>& slots, int64_t batch_id, int64_t count,
                                               std::optional<int64_t> watermark, const Put& put,
                                               const Delete& del) const {
  struct TimeOp {
    int64_t time;
    Digest digest;
    bool is_delete;
  };
  std::vector<TimeOp> time_ops;
  if (pending_.has_times()) {
    for (uint32_t s : slots) {
      uint8_t flags = pending_.flags(s);
      if (!(flags & kHasTime)) continue;
      int64_t t = pending_.time(s);
      time_ops.push_back({t, pending_.digest(s), false});
      if (flags & kHasStoredTime) {
        int64_t old = pending_.stored_time(s);
        bool covered_by_range = pending_watermark_ && old < *pending_watermark_;
        if (old != t && !covered_by_range) time_ops.push_back({old, pending_.digest(s), true});
      }
    }
    // Into (time, digest) order: `slots` is in digest order, so a stable sort by time
    // alone gives it. A radix sort (a byte a pass, skipping the bytes all times share):
    // std::sort with a two-part compare was ~800 instructions a key at 1M keys, more
    // than writing the entry.
    RadixSortByTime(&time_ops, [](const TimeOp& op) { return op.time; });
  }
  char tbuf[kTimeEntryBytes];
  for (size_t i = 0; i < time_ops.size(); ++i) {
    if (i > 0 && time_ops[i].time == time_ops[i - 1].time && time_ops[i].digest == time_ops[i - 1].digest) {
      return Status::Internal("state write " + dir_ + " has a time index entry twice");
    }
    rocksdb::Slice key = TimeEntry(time_ops[i].time, time_ops[i].digest, tbuf);
    LP_RETURN_IF_ERROR(time_ops[i].is_delete ? del(key) : put(key, rocksdb::Slice()));
  }
  // Markers, in key order: batch < count < watermark.
  LP_RETURN_IF_ERROR(put(kBatchKey, std::to_string(batch_id)));
  LP_RETURN_IF_ERROR(put(kCountKey, std::to_string(count)));
  if (watermark) LP_RETURN_IF_ERROR(put(kWatermarkKey, std::to_string(*watermark)));
  return Status::OK();
}

Status SeenKeyStore::WriteSmall(int64_t batch_id, std::vector<Digest>* expired, const std::string* range_end,
                                int64_t count, std::optional<int64_t> watermark) {
  rocksdb::WriteBatch batch;
  // The message is built only on a failure: this runs once per entry.
  auto check = [this](const rocksdb::Status& st) {
    return st.ok() ? Status::OK() : FromRocks(st, "write state store " + dir_);
  };
  // The range deletion first: the puts after it (of times at or above the watermark) win.
  if (range_end != nullptr) LP_RETURN_IF_ERROR(check(batch.DeleteRange(std::string(1, kTimePrefix), *range_end)));
  LP_RETURN_IF_ERROR(EmitInKeyOrder(
      batch_id, expired, count, watermark,
      [&](const rocksdb::Slice& k, const rocksdb::Slice& v) { return check(batch.Put(k, v)); },
      [&](const rocksdb::Slice& k) { return check(batch.Delete(k)); }));
  rocksdb::WriteOptions options;
  options.sync = true;
  return check(db_->Write(options, &batch));
}

// Table files that RocksDB links in whole, atomically (a crash before leaves a stray
// `ingest-*.sst` that Open removes). The batch is cut in two files of disjoint key ranges,
// written at once on two threads and ingested by one call, which RocksDB records in one
// manifest write (both or neither): with event times the `k` entries and the `t` entries
// (a `k` entry and a `t` entry per key); without them, from kSplitKeys entries, the `k`
// entries below the middle digest and the rest. The second file holds the markers.
Status SeenKeyStore::WriteSorted(int64_t batch_id, std::vector<Digest>* expired, const std::string* range_end,
                                 int64_t count, std::optional<int64_t> watermark) {
  std::sort(expired->begin(), expired->end(), DigestTable::KeyLess);
  const std::vector<uint32_t> slots = pending_.SortedSlots();
  const rocksdb::Options options = BulkFileOptions(db_.get());
  const std::string base = dir_ + "/ingest-" + std::to_string(batch_id);
  // The first file: sorted slots [0, mid) and expired keys [0, expired_mid).
  size_t mid = 0, expired_mid = 0;
  // With event times the `k` entries and the `t` entries always go to two files: the `t`
  // file needs no Bloom filter (the time index is only scanned, never probed by key; the
  // markers in it are read three times per open), which spares a filter hash per entry.
  const bool by_kind = pending_.has_times();
  const size_t entries = expired->size() + slots.size() * (by_kind ? 2 : 1);
  if (by_kind) {
    mid = slots.size();
    expired_mid = expired->size();
  } else if (entries >= kSplitKeys) {
    Digest middle{};
    middle.part[0] = __builtin_bswap64(1ULL << 63);  // the first key byte 0x80: half of uniform digests below
    auto below = [](const Digest& d, const Digest& m) { return DigestTable::KeyLess(d, m); };
    mid = static_cast<size_t>(std::lower_bound(slots.begin(), slots.end(), middle,
                                               [&](uint32_t s, const Digest& m) { return below(pending_.digest(s), m); }) -
                              slots.begin());
    expired_mid =
        static_cast<size_t>(std::lower_bound(expired->begin(), expired->end(), middle, below) - expired->begin());
  }
  // The message is built only on a failure: these run once per entry (building it each
  // time was a quarter of the commit's instructions).
  auto checked = [](const std::string& file) {
    return [&file](const rocksdb::Status& st) { return st.ok() ? Status::OK() : FromRocks(st, "write " + file); };
  };
  const std::string first_file = base + "-0.sst";
  Status first_status;
  int64_t first_entries = 0;
  std::thread first;
  if (mid + expired_mid > 0) {
    first = std::thread([&] {
      rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options, nullptr, kInvalidatePageCache);
      auto check = checked(first_file);
      first_status = FromRocks(writer.Open(first_file), "create " + first_file);
      if (first_status.ok()) {
        first_status = EmitKeyEntries(
            slots, 0, mid, *expired, 0, expired_mid,
            [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
              ++first_entries;
              return check(writer.Put(k, v));
            },
            [&](const rocksdb::Slice& k) {
              ++first_entries;
              return check(writer.Delete(k));
            });
      }
      // No entries (only keys removed before they were stored): no file (RocksDB refuses
      // an empty one).
      if (first_status.ok() && first_entries > 0) first_status = FromRocks(writer.Finish(), "finish " + first_file);
    });
  }
  const std::string file = base + (first.joinable() ? "-1.sst" : ".sst");
  Status st;
  {
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), by_kind ? BulkFileOptions(db_.get(), /*filter=*/false) : options,
                                  nullptr, kInvalidatePageCache);
    auto check = checked(file);
    auto put = [&](const rocksdb::Slice& k, const rocksdb::Slice& v) { return check(writer.Put(k, v)); };
    auto del = [&](const rocksdb::Slice& k) { return check(writer.Delete(k)); };
    st = FromRocks(writer.Open(file), "create " + file);
    if (st.ok()) st = EmitKeyEntries(slots, mid, slots.size(), *expired, expired_mid, expired->size(), put, del);
    if (st.ok()) st = EmitTimeEntriesAndMarkers(slots, batch_id, count, watermark, put, del);
    if (st.ok() && range_end != nullptr) st = check(writer.DeleteRange(std::string(1, kTimePrefix), *range_end));
    if (st.ok()) st = FromRocks(writer.Finish(), "finish " + file);
  }
  std::vector<std::string> files;
  if (first.joinable()) {
    first.join();
    if (st.ok()) st = first_status;
    if (first_entries > 0) files.push_back(first_file);
    else std::remove(first_file.c_str());
  }
  files.push_back(file);
  if (st.ok()) {
    rocksdb::IngestExternalFileOptions ingest;
    ingest.move_files = true;
    st = FromRocks(db_->IngestExternalFile(files, ingest), "ingest " + base + "*.sst");
  }
  for (const auto& f : files) std::remove(f.c_str());
  return st;
}

// The batch's new keys are in pending_ and in the runs, each sorted, disjoint (a key is
// added only when absent from all): a k-way merge gives them in key order for one table
// file, with the markers after them, as WriteSorted writes it.
// The `k` entries of the runs and of pending_'s sorted slots [slot_from, slot_to) whose
// keys lie in [lo, hi) (nullptr: unbounded), merged in key order into `writer`.
Status SeenKeyStore::MergeKeys(rocksdb::SstFileWriter* writer, const std::string& file,
                               const std::vector<uint32_t>& slots, size_t slot_from, size_t slot_to, const Digest* lo,
                               const Digest* hi, int64_t* written) const {
  // The message is built only on a failure: this runs once per entry (building it each
  // time was a quarter of the commit's instructions).
  auto check = [&file](const rocksdb::Status& st) { return st.ok() ? Status::OK() : FromRocks(st, "write " + file); };
  // Sources: 0 .. runs-1 the runs, runs the pending table's sorted slots. A few sources
  // (runs of equal size are merged four at a time): the smallest head is found by a scan
  // of their keys as big-endian words (key order is their integer order), which costs
  // less than a heap's pops and pushes with a byte-order compare each.
  size_t next_slot = slot_from;
  std::vector<std::unique_ptr<DigestRunReader>> readers;
  for (const auto& run : runs_) {
    // The upper half starts each run at the block that holds its first key from `lo`.
    readers.push_back(std::make_unique<DigestRunReader>(*run, lo != nullptr ? run->BlockStartFor(*lo) : 0));
  }
  struct Head {
    uint64_t hi, lo;  // the digest's key order
    Digest digest;
  };
  const size_t sources = readers.size() + 1;
  std::vector<Head> heads(sources);
  std::vector<bool> live(sources, false);
  auto order = [](const Digest& d) {
    return std::pair<uint64_t, uint64_t>(__builtin_bswap64(d.part[0]), __builtin_bswap64(d.part[1]));
  };
  auto advance = [&](size_t source) -> Status {
    live[source] = false;
    Digest d;
    if (source == readers.size()) {
      if (next_slot == slot_to) return Status::OK();
      d = pending_.digest(slots[next_slot++]);
    } else {
      while (true) {
        LP_ASSIGN_OR_RETURN(bool more, readers[source]->Next(&d));
        if (!more) return Status::OK();
        if (lo != nullptr && DigestTable::KeyLess(d, *lo)) continue;  // the other half's
        if (hi != nullptr && !DigestTable::KeyLess(d, *hi)) return Status::OK();
        break;
      }
    }
    auto [h, l] = order(d);
    heads[source] = {h, l, d};
    live[source] = true;
    return Status::OK();
  };
  for (size_t s = 0; s < sources; ++s) LP_RETURN_IF_ERROR(advance(s));
  char kbuf[kKeyEntryBytes];
  bool have_last = false;
  uint64_t last_hi = 0, last_lo = 0;
  while (true) {
    size_t best = sources;
    for (size_t s = 0; s < sources; ++s) {
      if (!live[s]) continue;
      if (best == sources || heads[s].hi < heads[best].hi ||
          (heads[s].hi == heads[best].hi && heads[s].lo < heads[best].lo)) {
        best = s;
      }
    }
    if (best == sources) break;
    const Head& h = heads[best];
    if (have_last && !(last_hi < h.hi || (last_hi == h.hi && last_lo < h.lo))) {
      return Status::Internal("state store " + dir_ + ": a spilled key run is out of order or repeats a key");
    }
    LP_RETURN_IF_ERROR(check(writer->Put(KeyEntry(h.digest, kbuf), rocksdb::Slice())));
    last_hi = h.hi;
    last_lo = h.lo;
    have_last = true;
    ++*written;
    LP_RETURN_IF_ERROR(advance(best));
  }
  return Status::OK();
}

// From kSplitKeys new keys, the keys below the middle digest go to a second file written
// at the same time on another thread; both files (disjoint key ranges) are ingested by
// one call, which RocksDB records in one manifest write: both or neither.
Status SeenKeyStore::WriteMerged(int64_t batch_id, int64_t count, std::optional<int64_t> watermark) {
  const std::string base = dir_ + "/ingest-" + std::to_string(batch_id);
  const rocksdb::Options options = BulkFileOptions(db_.get());
  const std::vector<uint32_t> slots = pending_.SortedSlots();
  const bool split = pending_new_ >= static_cast<int64_t>(kSplitKeys);
  Digest middle{};
  middle.part[0] = __builtin_bswap64(1ULL << 63);  // the first key byte 0x80: half of uniform digests below
  size_t mid = 0;
  if (split) {
    mid = static_cast<size_t>(std::lower_bound(slots.begin(), slots.end(), middle,
                                               [this](uint32_t s, const Digest& m) {
                                                 return DigestTable::KeyLess(pending_.digest(s), m);
                                               }) -
                              slots.begin());
  }
  std::vector<std::string> files;
  auto remove_files = [&files] {
    for (const auto& f : files) std::remove(f.c_str());
  };
  // The lower half (split only), on its own thread.
  const std::string lower_file = base + "-0.sst";
  Status lower_status;
  int64_t lower_written = 0;
  std::thread lower;
  if (split) {
    lower = std::thread([&] {
      rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options, nullptr, kInvalidatePageCache);
      lower_status = FromRocks(writer.Open(lower_file), "create " + lower_file);
      if (lower_status.ok()) lower_status = MergeKeys(&writer, lower_file, slots, 0, mid, nullptr, &middle, &lower_written);
      // A half without keys makes no file (RocksDB refuses an empty one).
      if (lower_status.ok() && lower_written > 0) lower_status = FromRocks(writer.Finish(), "finish " + lower_file);
    });
  }
  const std::string file = split ? base + "-1.sst" : base + ".sst";
  int64_t written = 0;
  Status st;
  {
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options, nullptr, kInvalidatePageCache);
    auto check = [&file](const rocksdb::Status& s) { return s.ok() ? Status::OK() : FromRocks(s, "write " + file); };
    st = FromRocks(writer.Open(file), "create " + file);
    if (st.ok()) st = MergeKeys(&writer, file, slots, mid, slots.size(), split ? &middle : nullptr, nullptr, &written);
    if (st.ok()) st = check(writer.Put(kBatchKey, std::to_string(batch_id)));
    if (st.ok()) st = check(writer.Put(kCountKey, std::to_string(count)));
    if (st.ok() && watermark) st = check(writer.Put(kWatermarkKey, std::to_string(*watermark)));
    if (st.ok()) st = FromRocks(writer.Finish(), "finish " + file);
  }
  if (split) {
    lower.join();
    if (st.ok()) st = lower_status;
    if (lower_written > 0) files.push_back(lower_file);
    else std::remove(lower_file.c_str());
  }
  files.push_back(file);
  if (st.ok() && written + lower_written != pending_new_) {
    st = Status::Internal("state store " + dir_ + ": " + std::to_string(written + lower_written) +
                          " spilled and pending keys, " + std::to_string(pending_new_) + " new keys counted");
  }
  if (st.ok()) {
    rocksdb::IngestExternalFileOptions ingest;
    ingest.move_files = true;
    st = FromRocks(db_->IngestExternalFile(files, ingest), "ingest " + base + "*.sst");
  }
  remove_files();
  return st;
}

}  // namespace lakepipe::state
