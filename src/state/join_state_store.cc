#include "state/join_state_store.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>

#include <cstring>

#include "state/rocks_util.h"

namespace lakepipe::state {
namespace {

// Layout (docs/checkpoint.md):
//   l<id:8>  -> <matched:1><row>   a buffered left row
//   r<id:8>  -> <matched:1><row>   a buffered right row
//   \xff batch / left_max / right_max / next_id -> decimal text
//   \xff schema -> the two inputs' Spark JSON schemas, newline separated
// <id:8> is big-endian, so rows load in arrival order.
const char kBatchKey[] = "\xff" "batch";
const char kLeftMaxKey[] = "\xff" "left_max";
const char kRightMaxKey[] = "\xff" "right_max";
const char kNextIdKey[] = "\xff" "next_id";
const char kSchemaKey[] = "\xff" "schema";

std::string RowKey(char side, int64_t id) {
  std::string k(1, side);
  uint64_t u = static_cast<uint64_t>(id);
  for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>((u >> shift) & 0xff));
  return k;
}

int64_t IdOf(const rocksdb::Slice& key) {
  uint64_t u = 0;
  for (size_t i = 1; i < 9; ++i) u = (u << 8) | static_cast<uint8_t>(key.data()[i]);
  return static_cast<int64_t>(u);
}

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

// A row as, per column, a NULL tag byte then the value's bytes (fixed width, or a 4-byte
// length then the bytes for strings and binary). Nested columns are refused at Open.
void EncodeRow(const RecordBatch& rows, int64_t i, uint8_t matched, std::string* out) {
  out->clear();
  out->push_back(static_cast<char>(matched));
  for (size_t c = 0; c < rows.num_columns(); ++c) {
    Value v = rows.column(c).GetValue(i);
    if (v.is_null()) {
      out->push_back(0);
      continue;
    }
    out->push_back(1);
    switch (rows.schema().field(c).type.id()) {
      case TypeId::kBoolean: out->push_back(v.bool_value() ? 1 : 0); break;
      case TypeId::kFloat:
      case TypeId::kDouble: Put<double>(out, v.double_value()); break;
      case TypeId::kDecimal: Put<int128_t>(out, v.decimal_value()); break;
      case TypeId::kString:
      case TypeId::kBinary:
        Put<uint32_t>(out, static_cast<uint32_t>(v.string_value().size()));
        out->append(v.string_value());
        break;
      default: Put<int64_t>(out, v.int_value()); break;  // integers, dates, timestamps
    }
  }
}

Status DecodeRow(std::string_view in, const Schema& schema, std::vector<Column>* cols, uint8_t* matched,
                 const std::string& where) {
  auto corrupt = [&] { return Status::Corruption(where + ": a buffered join row does not match its schema"); };
  size_t p = 0;
  auto take = [&](void* dst, size_t n) {
    if (p + n > in.size()) return false;
    std::memcpy(dst, in.data() + p, n);
    p += n;
    return true;
  };
  if (!take(matched, 1)) return corrupt();
  for (size_t c = 0; c < schema.size(); ++c) {
    uint8_t tag;
    if (!take(&tag, 1)) return corrupt();
    Column& col = (*cols)[c];
    if (tag == 0) {
      col.AppendNull();
      continue;
    }
    const DataType& type = schema.field(c).type;
    Value v;
    switch (type.id()) {
      case TypeId::kBoolean: {
        uint8_t b;
        if (!take(&b, 1)) return corrupt();
        v = Value::Bool(b != 0);
        break;
      }
      case TypeId::kFloat:
      case TypeId::kDouble: {
        double d;
        if (!take(&d, sizeof d)) return corrupt();
        v = Value::Double(d, type.id());
        break;
      }
      case TypeId::kDecimal: {
        int128_t d;
        if (!take(&d, sizeof d)) return corrupt();
        v = Value::Decimal(d, type.precision(), type.scale());
        break;
      }
      case TypeId::kString:
      case TypeId::kBinary: {
        uint32_t n;
        if (!take(&n, sizeof n) || p + n > in.size()) return corrupt();
        std::string s(in.substr(p, n));
        p += n;
        v = type.id() == TypeId::kString ? Value::String(std::move(s)) : Value::Binary(std::move(s));
        break;
      }
      case TypeId::kDate: {
        int64_t d;
        if (!take(&d, sizeof d)) return corrupt();
        v = Value::Date(static_cast<int32_t>(d));
        break;
      }
      case TypeId::kTimestamp:
      case TypeId::kTimestampNtz: {
        int64_t d;
        if (!take(&d, sizeof d)) return corrupt();
        v = Value::Timestamp(d, type.id() == TypeId::kTimestampNtz);
        break;
      }
      default: {
        int64_t d;
        if (!take(&d, sizeof d)) return corrupt();
        v = Value::Int(d, type.id());
        break;
      }
    }
    LP_RETURN_IF_ERROR(col.AppendValue(v));
  }
  if (p != in.size()) return corrupt();
  return Status::OK();
}

std::string SchemaText(const Schema& left, const Schema& right) { return left.ToSparkJson() + "\n" + right.ToSparkJson(); }

}  // namespace

JoinStateStore::~JoinStateStore() = default;

Result<std::unique_ptr<JoinStateStore>> JoinStateStore::Open(const std::string& dir, const Schema& left,
                                                             const Schema& right) {
  for (const Schema* s : {&left, &right}) {
    for (const auto& f : s->fields()) {
      if (f.type.is_nested()) {
        return Status::NotSupported("a stream-stream join input with a " + f.type.ToString() + " column (`" +
                                    f.name + "`) is not built yet; select its fields instead");
      }
    }
  }
  std::unique_ptr<JoinStateStore> store(new JoinStateStore());
  LP_ASSIGN_OR_RETURN(store->db_, OpenStateDb(dir, /*point_lookups=*/false));
  rocksdb::DB* raw = store->db_.get();
  store->dir_ = dir;
  store->left_ = left;
  store->right_ = right;
  std::string schema;
  auto st = raw->Get(rocksdb::ReadOptions(), kSchemaKey, &schema);
  if (st.ok() && schema != SchemaText(left, right)) {
    return Status::InvalidArgument("the join state in " + dir +
                                   " was written for other input columns (the query changed); full refresh the table");
  }
  if (!st.ok() && !st.IsNotFound()) return FromRocks(st, "read state store " + dir);
  LP_RETURN_IF_ERROR(store->Load());
  return store;
}

Status JoinStateStore::Load() {
  state_ = std::make_unique<operators::StreamJoinState>(left_, right_);
  LP_ASSIGN_OR_RETURN(committed_batch_, ReadMarker(db_.get(), kBatchKey, dir_));
  LP_ASSIGN_OR_RETURN(state_->left.max_time, ReadMarker(db_.get(), kLeftMaxKey, dir_));
  LP_ASSIGN_OR_RETURN(state_->right.max_time, ReadMarker(db_.get(), kRightMaxKey, dir_));
  LP_ASSIGN_OR_RETURN(auto next_id, ReadMarker(db_.get(), kNextIdKey, dir_));
  state_->next_id = next_id.value_or(0);
  for (char side : {'l', 'r'}) {
    const Schema& schema = side == 'l' ? left_ : right_;
    auto& s = side == 'l' ? state_->left : state_->right;
    std::vector<Column> cols;
    for (const auto& f : schema.fields()) cols.emplace_back(f.type);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    std::string prefix(1, side);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (it->key().size() != 9) return Status::Corruption(dir_ + ": a join state key of the wrong size");
      uint8_t matched = 0;
      LP_RETURN_IF_ERROR(DecodeRow(std::string_view(it->value().data(), it->value().size()), schema, &cols, &matched, dir_));
      s.ids.push_back(IdOf(it->key()));
      s.matched.push_back(matched);
    }
    LP_RETURN_IF_ERROR(FromRocks(it->status(), "read state store " + dir_));
    s.rows = RecordBatch::FromColumns(schema, std::move(cols));
  }
  state_->MarkCommitted();
  return Status::OK();
}

Status JoinStateStore::Abandon() {
  if (!state_->dirty) return Status::OK();
  return Load();
}

Status JoinStateStore::Commit(int64_t batch_id) {
  if (committed_batch_ && batch_id <= *committed_batch_) {
    return Status::InvalidArgument("join state batch " + std::to_string(batch_id) + " is already applied (state at " +
                                   std::to_string(*committed_batch_) + ")");
  }
  operators::StreamJoinState& st = *state_;
  StateWrite write;
  std::string value;
  for (char side : {'l', 'r'}) {
    const auto& s = side == 'l' ? st.left : st.right;
    for (size_t i = 0; i < s.ids.size(); ++i) {
      bool is_new = s.ids[i] >= st.first_uncommitted_id;
      if (!is_new && !(side == 'l' && st.rematched_ids.count(s.ids[i]))) continue;
      EncodeRow(s.rows, static_cast<int64_t>(i), s.matched[i], &value);
      write.Put(RowKey(side, s.ids[i]), value);
    }
  }
  // A removed id was committed on one side; deleting it under both prefixes is harmless
  // (ids are unique across the sides) and saves remembering which.
  for (int64_t id : st.removed_ids) {
    write.Delete(RowKey('l', id));
    write.Delete(RowKey('r', id));
  }
  write.Put(kBatchKey, std::to_string(batch_id));
  write.Put(kNextIdKey, std::to_string(st.next_id));
  if (st.left.max_time) write.Put(kLeftMaxKey, std::to_string(*st.left.max_time));
  if (st.right.max_time) write.Put(kRightMaxKey, std::to_string(*st.right.max_time));
  if (!committed_batch_) write.Put(kSchemaKey, SchemaText(left_, right_));
  LP_RETURN_IF_ERROR(write.Apply(db_.get(), dir_, batch_id, 50000));
  committed_batch_ = batch_id;
  st.MarkCommitted();
  return Status::OK();
}

StateSize JoinStateStore::Size() const {
  StateSize s;
  s.keys = state_->rows();
  s.memory_bytes = state_->MemoryBytes();
  auto disk = FolderBytes(dir_);
  s.disk_bytes = disk.ok() ? *disk : 0;
  return s;
}

}  // namespace lakepipe::state
