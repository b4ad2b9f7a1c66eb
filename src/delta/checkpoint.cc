// Checkpoints: reading Spark's classic, multi-part and v2 checkpoints, and writing the
// classic single-file checkpoint, through lakepipe's Parquet reader and writer.
#include <nlohmann/json.hpp>

#include "common/uuid.h"
#include "delta/log.h"
#include "delta/log_internal.h"
#include "formats/parquet/parquet.h"

namespace lakepipe::delta {

using json = nlohmann::ordered_json;

namespace {

// A checkpoint cell as JSON, so that checkpoint rows go through the same action parser
// as commit lines (one set of validation rules for both).
json ValueToJson(const Value& v, const DataType& type) {
  if (v.is_null()) return nullptr;
  switch (type.id()) {
    case TypeId::kBoolean: return v.bool_value();
    case TypeId::kByte:
    case TypeId::kShort:
    case TypeId::kInt:
    case TypeId::kLong:
    case TypeId::kDate:
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz: return v.int_value();
    case TypeId::kFloat:
    case TypeId::kDouble: return v.double_value();
    case TypeId::kString:
    case TypeId::kBinary: return v.string_value();
    case TypeId::kStruct: {
      json o = json::object();
      const auto& kids = v.children();
      for (size_t i = 0; i < type.fields().size() && i < kids.size(); ++i) {
        json child = ValueToJson(kids[i], type.fields()[i].type);
        if (!child.is_null()) o[type.fields()[i].name] = std::move(child);
      }
      return o;
    }
    case TypeId::kArray: {
      json a = json::array();
      for (const auto& e : v.children()) a.push_back(ValueToJson(e, type.element()));
      return a;
    }
    case TypeId::kMap: {
      json o = json::object();
      const auto& kv = v.children();
      for (size_t i = 0; i + 1 < kv.size(); i += 2) {
        o[kv[i].ToString()] = ValueToJson(kv[i + 1], type.value());
      }
      return o;
    }
    default: return v.ToString();
  }
}

Status ReadParquetActions(FileSystem* fs, const std::string& path, std::vector<Action>* out) {
  LP_ASSIGN_OR_RETURN(auto reader, parquet::FileReader::Open(fs, path));
  const Schema& schema = reader->schema();
  // Only the action columns lakepipe interprets; others (cdc, domainMetadata, ...) are
  // irrelevant to a snapshot.
  static const char* kKinds[] = {"txn", "add", "remove", "metaData", "protocol", "sidecar"};
  std::vector<int> cols;
  for (const char* k : kKinds) {
    for (size_t i = 0; i < schema.size(); ++i) {
      if (schema.field(i).name == k) cols.push_back(static_cast<int>(i));
    }
  }
  std::string name = BaseName(path);
  for (int rg = 0; rg < reader->num_row_groups(); ++rg) {
    LP_ASSIGN_OR_RETURN(RecordBatch batch, reader->ReadRowGroup(rg, cols));
    for (int64_t row = 0; row < batch.num_rows(); ++row) {
      for (size_t c = 0; c < batch.num_columns(); ++c) {
        const Column& col = batch.column(c);
        if (col.IsNull(row)) continue;
        const Field& f = batch.schema().field(c);
        json obj = json::object();
        obj[f.name] = ValueToJson(col.GetValue(row), f.type);
        LP_ASSIGN_OR_RETURN(Action a, ParseActionObject(obj, name + " row " + std::to_string(row)));
        out->push_back(std::move(a));
      }
    }
  }
  return Status::OK();
}

}  // namespace

Result<std::vector<Action>> ReadCheckpoint(FileSystem* fs, const std::string& table_path,
                                           const CheckpointFiles& checkpoint) {
  std::vector<Action> actions;
  for (const std::string& path : checkpoint.paths) {
    if (path.size() > 5 && path.substr(path.size() - 5) == ".json") {
      LP_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(path));
      LP_ASSIGN_OR_RETURN(std::vector<Action> a, ParseActions(text, BaseName(path)));
      for (auto& x : a) actions.push_back(std::move(x));
    } else {
      LP_RETURN_IF_ERROR(ReadParquetActions(fs, path, &actions));
    }
  }
  // v2 checkpoints may point at sidecar files holding the add/remove actions.
  std::vector<Action> out;
  for (auto& a : actions) {
    auto* other = std::get_if<OtherAction>(&a);
    if (other == nullptr || other->kind != "sidecar") {
      out.push_back(std::move(a));
      continue;
    }
    json s = json::parse(other->json, nullptr, false);
    if (s.is_discarded() || !s.contains("path") || !s["path"].is_string()) {
      return Status::Corruption("checkpoint of version " + std::to_string(checkpoint.version) +
                                ": sidecar action without a path");
    }
    LP_ASSIGN_OR_RETURN(std::string rel, PercentDecode(s["path"].get<std::string>()));
    std::string sidecar = rel.find('/') == std::string::npos
                              ? JoinPath(JoinPath(LogDir(table_path), "_sidecars"), rel)
                              : (rel[0] == '/' ? rel : JoinPath(LogDir(table_path), rel));
    std::vector<Action> from_sidecar;
    LP_RETURN_IF_ERROR(ReadParquetActions(fs, sidecar, &from_sidecar));
    for (auto& x : from_sidecar) out.push_back(std::move(x));
  }
  return out;
}

const Schema& CheckpointSchema() {
  static const Schema schema = [] {
    auto str = DataType::String();
    auto lng = DataType::Long();
    auto strmap = DataType::Map(str, str, true);
    auto dv = DataType::Struct({{"storageType", str}, {"pathOrInlineDv", str},
                                {"offset", DataType::Int()}, {"sizeInBytes", DataType::Int()},
                                {"cardinality", lng}, {"maxRowIndex", lng}});
    Schema s;
    s.AddField({"txn", DataType::Struct({{"appId", str}, {"version", lng}, {"lastUpdated", lng}})});
    s.AddField({"add", DataType::Struct({{"path", str},
                                         {"partitionValues", strmap},
                                         {"size", lng},
                                         {"modificationTime", lng},
                                         {"dataChange", DataType::Boolean()},
                                         {"tags", strmap},
                                         {"deletionVector", dv},
                                         {"baseRowId", lng},
                                         {"defaultRowCommitVersion", lng},
                                         {"stats", str}})});
    s.AddField({"remove", DataType::Struct({{"path", str},
                                            {"deletionTimestamp", lng},
                                            {"dataChange", DataType::Boolean()},
                                            {"extendedFileMetadata", DataType::Boolean()},
                                            {"partitionValues", strmap},
                                            {"size", lng},
                                            // Only {"lakepipe.mtimeKept": "true"}, for the
                                            // tombstones whose retention is an hour
                                            // (delta/mtime_kept.h); null for the others.
                                            {"tags", strmap},
                                            {"deletionVector", dv},
                                            {"baseRowId", lng},
                                            {"defaultRowCommitVersion", lng}})});
    s.AddField({"metaData",
                DataType::Struct({{"id", str},
                                  {"name", str},
                                  {"description", str},
                                  {"format", DataType::Struct({{"provider", str}, {"options", strmap}})},
                                  {"schemaString", str},
                                  {"partitionColumns", DataType::Array(str, true)},
                                  {"configuration", strmap},
                                  {"createdTime", lng}})});
    s.AddField({"protocol", DataType::Struct({{"minReaderVersion", DataType::Int()},
                                              {"minWriterVersion", DataType::Int()},
                                              {"readerFeatures", DataType::Array(str, true)},
                                              {"writerFeatures", DataType::Array(str, true)}})});
    return s;
  }();
  return schema;
}

namespace {

Value Str(const std::string& s) { return Value::String(s); }
Value OptStr(const std::optional<std::string>& s) { return s ? Value::String(*s) : Value(); }
Value OptLong(const std::optional<int64_t>& v) { return v ? Value::Int(*v) : Value(); }

Value StrMapValue(const StringMap& m) {
  std::vector<Value> kv;
  for (const auto& [k, v] : m) {
    kv.push_back(Value::String(k));
    kv.push_back(Value::String(v));
  }
  return Value::Map(std::move(kv));
}

Value PartitionsValue(const PartitionValues& m) {
  std::vector<Value> kv;
  for (const auto& [k, v] : m) {
    kv.push_back(Value::String(k));
    kv.push_back(v ? Value::String(*v) : Value());
  }
  return Value::Map(std::move(kv));
}

Value StrList(const std::vector<std::string>& l) {
  std::vector<Value> e;
  for (const auto& s : l) e.push_back(Value::String(s));
  return Value::Array(std::move(e));
}

Value DvValue(const std::optional<DeletionVector>& dv) {
  if (!dv) return Value();
  return Value::Struct({Str(dv->storage_type), Str(dv->path_or_inline_dv),
                        dv->offset ? Value::Int(*dv->offset, TypeId::kInt) : Value(),
                        Value::Int(dv->size_in_bytes, TypeId::kInt), Value::Int(dv->cardinality),
                        Value()});
}

}  // namespace

Result<LastCheckpoint> WriteCheckpointFile(FileSystem* fs, const std::string& table_path,
                                           const TableState& state) {
  const Schema& schema = CheckpointSchema();
  std::vector<Column> cols;
  for (const Field& f : schema.fields()) cols.emplace_back(f.type);
  auto row = [&](size_t which, Value v) -> Status {
    for (size_t c = 0; c < cols.size(); ++c) {
      if (c == which) {
        LP_RETURN_IF_ERROR(cols[c].AppendValue(v));
      } else {
        cols[c].AppendNull();
      }
    }
    return Status::OK();
  };
  const Protocol& p = state.protocol;
  LP_RETURN_IF_ERROR(row(4, Value::Struct({Value::Int(p.min_reader_version, TypeId::kInt),
                                           Value::Int(p.min_writer_version, TypeId::kInt),
                                           p.reader_features ? StrList(*p.reader_features) : Value(),
                                           p.writer_features ? StrList(*p.writer_features) : Value()})));
  const Metadata& m = state.metadata;
  LP_RETURN_IF_ERROR(row(
      3, Value::Struct({Str(m.id), OptStr(m.name), OptStr(m.description),
                        Value::Struct({Str(m.format.provider), StrMapValue(m.format.options)}),
                        Str(m.schema_string), StrList(m.partition_columns),
                        StrMapValue(m.configuration), OptLong(m.created_time)})));
  for (const auto& [app, t] : state.txns) {
    LP_RETURN_IF_ERROR(row(0, Value::Struct({Str(t.app_id), Value::Int(t.version), OptLong(t.last_updated)})));
  }
  int64_t num_adds = 0;
  for (const auto& [key, a] : state.files) {
    ++num_adds;
    LP_RETURN_IF_ERROR(row(
        1, Value::Struct({Str(a.path), PartitionsValue(a.partition_values), Value::Int(a.size),
                          Value::Int(a.modification_time), Value::Bool(false),
                          a.tags ? StrMapValue(*a.tags) : Value(), DvValue(a.deletion_vector),
                          OptLong(a.base_row_id), OptLong(a.default_row_commit_version),
                          OptStr(a.stats)})));
  }
  for (const auto& [key, tombstone] : state.tombstones) {
    const RemoveFile r = tombstone.ToRemove(key);
    LP_RETURN_IF_ERROR(row(
        2, Value::Struct({Str(r.path), OptLong(r.deletion_timestamp), Value::Bool(false),
                          r.extended_file_metadata ? Value::Bool(*r.extended_file_metadata) : Value(),
                          r.partition_values ? PartitionsValue(*r.partition_values) : Value(),
                          OptLong(r.size), r.tags ? StrMapValue(*r.tags) : Value(),
                          DvValue(r.deletion_vector), OptLong(r.base_row_id),
                          OptLong(r.default_row_commit_version)})));
  }
  RecordBatch batch = RecordBatch::FromColumns(schema, std::move(cols));
  int64_t rows = batch.num_rows();

  std::string dir = LogDir(table_path);
  std::string final_path = JoinPath(dir, CheckpointFileName(state.version));
  std::string tmp_path = JoinPath(dir, "." + CheckpointFileName(state.version) + "." + NewUuid() + ".tmp");
  parquet::WriteOptions wo;
  wo.compression = parquet::Compression::kSnappy;  // what Spark writes for checkpoints
  LP_ASSIGN_OR_RETURN(auto writer, parquet::FileWriter::Open(fs, tmp_path, schema, wo));
  Status st = writer->Write(batch);
  Result<parquet::WriteResult> closed = st.ok() ? writer->Close() : Result<parquet::WriteResult>(st);
  if (!closed.ok()) {
    (void)fs->RemoveFile(tmp_path);
    return closed.status();
  }
  // A checkpoint of a version is deterministic, so replacing an existing one is safe.
  st = fs->Rename(tmp_path, final_path);
  if (st.ok()) st = fs->SyncDir(dir);
  if (!st.ok()) {
    (void)fs->RemoveFile(tmp_path);
    return st;
  }
  LastCheckpoint lc;
  lc.version = state.version;
  lc.size = rows;
  lc.size_in_bytes = closed->file_bytes;
  lc.num_of_add_files = num_adds;
  return lc;
}

}  // namespace lakepipe::delta
