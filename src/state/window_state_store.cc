#include "state/window_state_store.h"

#include <rocksdb/db.h>

#include "state/rocks_util.h"
#include "state/state_codec.h"

namespace lakepipe::state {

namespace {

// Layout (docs/checkpoint.md):
//   windows                   -> the open windows' state, an in-memory Parquet file ("" = none)
//   \xff batch / max_event_time -> decimal text markers
//   \xff schema               -> the state schema (Spark JSON), checked at Open
const char kWindowsKey[] = "windows";
const char kBatchKey[] = "\xff" "batch";
const char kMaxKey[] = "\xff" "max_event_time";
const char kSchemaKey[] = "\xff" "schema";

}  // namespace

WindowStateStore::~WindowStateStore() = default;

Result<std::unique_ptr<WindowStateStore>> WindowStateStore::Open(const std::string& dir, const Schema& state_schema) {
  rocksdb::DB* raw = nullptr;
  LP_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(StateDbOptions(), dir, &raw), "open window state " + dir));
  std::unique_ptr<WindowStateStore> store(new WindowStateStore());
  store->db_.reset(raw);
  store->dir_ = dir;
  store->schema_ = state_schema;
  store->committed_windows_ = RecordBatch::Empty(state_schema);
  LP_ASSIGN_OR_RETURN(store->committed_batch_, ReadMarker(raw, kBatchKey, dir));
  if (!store->committed_batch_) return store;
  std::string stored_schema;
  LP_RETURN_IF_ERROR(FromRocks(raw->Get(rocksdb::ReadOptions(), kSchemaKey, &stored_schema),
                               "read the schema of window state " + dir));
  if (stored_schema != state_schema.ToSparkJson()) {
    return Status::InvalidArgument("window state in " + dir + " was written for other state columns than (" +
                                   state_schema.ToDDL() + "): the query changed; rebuild it with a full refresh");
  }
  LP_ASSIGN_OR_RETURN(store->committed_max_, ReadMarker(raw, kMaxKey, dir));
  std::string windows;
  auto st = raw->Get(rocksdb::ReadOptions(), kWindowsKey, &windows);
  if (!st.ok() && !st.IsNotFound()) return FromRocks(st, "read window state " + dir);
  LP_ASSIGN_OR_RETURN(store->committed_windows_, DeserializeState(std::move(windows), state_schema, dir + " windows"));
  return store;
}

std::optional<int64_t> WindowStateStore::max_event_time() const {
  return staged_ ? staged_->max_event_time : committed_max_;
}

Result<RecordBatch> WindowStateStore::OpenWindows() const {
  return staged_ ? staged_->open_windows : committed_windows_;
}

void WindowStateStore::Stage(std::optional<int64_t> max_event_time, RecordBatch open_windows) {
  staged_ = Staged{max_event_time, std::move(open_windows)};
}

Status WindowStateStore::Commit(int64_t batch_id) {
  if (committed_batch_ && batch_id <= *committed_batch_) {
    staged_.reset();
    return Status::OK();
  }
  if (!staged_) return Status::Internal("window state " + dir_ + ": batch " + std::to_string(batch_id) + " was not staged");
  LP_ASSIGN_OR_RETURN(std::string windows, SerializeState(staged_->open_windows, schema_, "lakepipe window state"));
  StateWrite write;
  write.Put(kWindowsKey, std::move(windows));
  write.Put(kSchemaKey, schema_.ToSparkJson());
  if (staged_->max_event_time) write.Put(kMaxKey, std::to_string(*staged_->max_event_time));
  write.Put(kBatchKey, std::to_string(batch_id));
  LP_RETURN_IF_ERROR(write.Apply(db_.get(), dir_, batch_id, /*bulk_entries=*/SIZE_MAX));
  committed_batch_ = batch_id;
  committed_max_ = staged_->max_event_time;
  committed_windows_ = std::move(staged_->open_windows);
  staged_.reset();
  return Status::OK();
}

StateSize WindowStateStore::Size() const {
  StateSize s;
  s.keys = committed_windows_.num_rows();
  s.disk_bytes = FolderBytes(dir_).ValueOr(0);
  s.memory_bytes = committed_windows_.MemoryBytes();
  return s;
}

}  // namespace lakepipe::state
