#include "state/aggregate_state_store.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cstdio>
#include <numeric>

#include "common/fs.h"
#include "formats/parquet/parquet.h"
#include "state/rocks_util.h"
#include "state/state_codec.h"

namespace lakepipe::state {
namespace {

// Layout (docs/checkpoint.md):
//   delta/<batch id, 20 digits>  -> the batch's state, an in-memory Parquet file ("" = no rows)
//   snapshot                     -> the whole state as of \xffsnapshot_batch (Parquet, "" = no rows)
//   \xff batch / snapshot_batch / snapshot_bytes / groups / memory -> decimal text markers
//   \xff schema                  -> the state schema (Spark JSON), checked at Open
const char kDeltaPrefix[] = "delta/";
const char kDeltaEnd[] = "delta0";  // '0' follows '/': the end of the delta range
const char kSnapshotKey[] = "snapshot";
const char kBatchKey[] = "\xff" "batch";
const char kSnapshotBatchKey[] = "\xff" "snapshot_batch";
const char kSnapshotBytesKey[] = "\xff" "snapshot_bytes";
const char kGroupsKey[] = "\xff" "groups";
const char kMemoryKey[] = "\xff" "memory";
const char kSchemaKey[] = "\xff" "schema";

std::string DeltaKey(int64_t batch_id) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%020lld", static_cast<long long>(batch_id));
  return std::string(kDeltaPrefix) + digits;
}

Status CheckStateColumns(const RecordBatch& state, const Schema& schema, const std::string& what) {
  if (state.num_columns() != schema.size()) {
    return Status::InvalidArgument(what + " has " + std::to_string(state.num_columns()) + " columns, expected " +
                                   std::to_string(schema.size()) + " (" + schema.ToDDL() + ")");
  }
  for (size_t i = 0; i < schema.size(); ++i) {
    if (state.column(i).type() != schema.field(i).type) {
      return Status::InvalidArgument(what + ": column `" + schema.field(i).name + "` is " +
                                     state.column(i).type().ToString() + ", expected " +
                                     schema.field(i).type.ToString());
    }
  }
  return Status::OK();
}

}  // namespace

AggregateStateStore::~AggregateStateStore() = default;

Result<std::unique_ptr<AggregateStateStore>> AggregateStateStore::Open(const std::string& dir,
                                                                       const Schema& state_schema, Options options) {
  rocksdb::Options db_options = StateDbOptions();
  rocksdb::DB* raw = nullptr;
  LP_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(db_options, dir, &raw), "open aggregate state " + dir));
  std::unique_ptr<AggregateStateStore> store(new AggregateStateStore());
  store->db_.reset(raw);
  store->dir_ = dir;
  store->schema_ = state_schema;
  store->options_ = options;
  LP_ASSIGN_OR_RETURN(store->committed_batch_, ReadMarker(raw, kBatchKey, dir));
  if (!store->committed_batch_) return store;

  std::string stored_schema;
  LP_RETURN_IF_ERROR(FromRocks(raw->Get(rocksdb::ReadOptions(), kSchemaKey, &stored_schema),
                               "read the schema of aggregate state " + dir));
  if (stored_schema != state_schema.ToSparkJson()) {
    auto old = Schema::FromSparkJson(stored_schema);
    return Status::InvalidArgument("aggregate state in " + dir + " was written for state columns (" +
                                   (old.ok() ? old->ToDDL() : stored_schema) + ") but the query now needs (" +
                                   state_schema.ToDDL() + "): the query changed; rebuild it with a full refresh");
  }
  LP_ASSIGN_OR_RETURN(store->snapshot_batch_, ReadMarker(raw, kSnapshotBatchKey, dir));
  LP_ASSIGN_OR_RETURN(auto snapshot_bytes, ReadMarker(raw, kSnapshotBytesKey, dir));
  store->snapshot_bytes_ = snapshot_bytes.value_or(0);
  LP_ASSIGN_OR_RETURN(auto groups, ReadMarker(raw, kGroupsKey, dir));
  store->groups_ = groups.value_or(0);
  LP_ASSIGN_OR_RETURN(auto memory, ReadMarker(raw, kMemoryKey, dir));
  store->aggregate_memory_bytes_ = memory.value_or(0);
  rocksdb::Slice upper(kDeltaEnd);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> iter(raw->NewIterator(ro));
  for (iter->Seek(kDeltaPrefix); iter->Valid(); iter->Next()) {
    store->delta_bytes_.push_back(static_cast<int64_t>(iter->value().size()));
  }
  LP_RETURN_IF_ERROR(FromRocks(iter->status(), "read aggregate state " + dir));
  return store;
}

Result<std::string> AggregateStateStore::Serialize(const RecordBatch& state) const {
  return SerializeState(state, schema_, "lakepipe aggregate state");
}

Result<RecordBatch> AggregateStateStore::Deserialize(std::string data, const std::string& what) const {
  return DeserializeState(std::move(data), schema_, what);
}

Result<std::vector<RecordBatch>> AggregateStateStore::Load() const {
  std::vector<RecordBatch> out;
  if (!committed_batch_) return out;
  rocksdb::ReadOptions ro;
  const rocksdb::Snapshot* snap = db_->GetSnapshot();  // one consistent view of every value
  ro.snapshot = snap;
  Status status = [&]() -> Status {
    std::string value;
    auto st = db_->Get(ro, kSnapshotKey, &value);
    if (st.ok()) {
      LP_ASSIGN_OR_RETURN(RecordBatch b, Deserialize(std::move(value), dir_ + " snapshot"));
      if (b.num_rows() > 0) out.push_back(std::move(b));
    } else if (!st.IsNotFound()) {
      return FromRocks(st, "read aggregate state " + dir_);
    }
    rocksdb::Slice upper(kDeltaEnd);
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> iter(db_->NewIterator(ro));
    for (iter->Seek(kDeltaPrefix); iter->Valid(); iter->Next()) {
      std::string name = dir_ + " " + iter->key().ToString();
      LP_ASSIGN_OR_RETURN(RecordBatch b, Deserialize(iter->value().ToString(), name));
      if (b.num_rows() > 0) out.push_back(std::move(b));
    }
    return FromRocks(iter->status(), "read aggregate state " + dir_);
  }();
  db_->ReleaseSnapshot(snap);
  LP_RETURN_IF_ERROR(status);
  return out;
}

Status AggregateStateStore::LoadInto(operators::HashAggregate* agg) const {
  const Schema& want = agg->state_schema();
  bool same = want.size() == schema_.size();
  for (size_t i = 0; same && i < want.size(); ++i) same = want.field(i).type == schema_.field(i).type;
  if (!same) {
    return Status::InvalidArgument("aggregate state " + dir_ + " holds (" + schema_.ToDDL() +
                                   ") but the aggregate to load into has state (" + want.ToDDL() + ")");
  }
  LP_ASSIGN_OR_RETURN(auto states, Load());
  for (const auto& s : states) LP_RETURN_IF_ERROR(agg->MergeState(s));
  return Status::OK();
}

Status AggregateStateStore::Commit(int64_t batch_id, const RecordBatch& delta, const operators::HashAggregate& full,
                                   bool force_snapshot) {
  if (committed_batch_ && batch_id <= *committed_batch_) {
    return Status::InvalidArgument("aggregate state " + dir_ + " already has batch " +
                                   std::to_string(*committed_batch_) + " applied; batch " + std::to_string(batch_id) +
                                   " cannot be applied after it");
  }
  LP_RETURN_IF_ERROR(CheckStateColumns(delta, schema_, "the delta of batch " + std::to_string(batch_id)));
  LP_ASSIGN_OR_RETURN(std::string delta_value, Serialize(delta));
  int64_t kept = std::accumulate(delta_bytes_.begin(), delta_bytes_.end(), int64_t{0});
  int64_t with_this = kept + static_cast<int64_t>(delta_value.size());
  bool snapshot_due = force_snapshot || static_cast<int>(delta_bytes_.size()) + (delta_value.empty() ? 0 : 1) > options_.max_deltas ||
                      with_this > std::max(snapshot_bytes_, options_.min_snapshot_bytes);

  rocksdb::WriteBatch batch;
  int64_t new_snapshot_bytes = snapshot_bytes_;
  if (snapshot_due) {
    LP_ASSIGN_OR_RETURN(RecordBatch state, full.ExportState());
    LP_RETURN_IF_ERROR(CheckStateColumns(state, schema_, "the aggregate's state"));
    LP_ASSIGN_OR_RETURN(std::string snapshot, Serialize(state));
    new_snapshot_bytes = static_cast<int64_t>(snapshot.size());
    // The snapshot includes this batch and every kept delta: they go in the same write.
    batch.Put(kSnapshotKey, snapshot);
    batch.DeleteRange(kDeltaPrefix, kDeltaEnd);
    batch.Put(kSnapshotBatchKey, std::to_string(batch_id));
    batch.Put(kSnapshotBytesKey, std::to_string(new_snapshot_bytes));
  } else if (!delta_value.empty()) {
    batch.Put(DeltaKey(batch_id), delta_value);
  }
  batch.Put(kBatchKey, std::to_string(batch_id));
  batch.Put(kGroupsKey, std::to_string(full.num_groups()));
  batch.Put(kMemoryKey, std::to_string(full.MemoryBytes()));
  if (!committed_batch_) batch.Put(kSchemaKey, schema_.ToSparkJson());
  rocksdb::WriteOptions wo;
  wo.sync = true;
  LP_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), "write aggregate state " + dir_));

  committed_batch_ = batch_id;
  groups_ = full.num_groups();
  aggregate_memory_bytes_ = full.MemoryBytes();
  if (snapshot_due) {
    snapshot_batch_ = batch_id;
    snapshot_bytes_ = new_snapshot_bytes;
    delta_bytes_.clear();
  } else if (!delta_value.empty()) {
    delta_bytes_.push_back(static_cast<int64_t>(delta_value.size()));
  }
  return Status::OK();
}

StateSize AggregateStateStore::Size() const {
  StateSize s;
  s.keys = groups_;
  uint64_t memtables = 0;
  if (db_->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables)) {
    s.memory_bytes = static_cast<int64_t>(memtables);
  }
  s.memory_bytes += aggregate_memory_bytes_;
  auto disk = FolderBytes(dir_);
  s.disk_bytes = disk.ok() ? *disk : 0;
  return s;
}

}  // namespace lakepipe::state
