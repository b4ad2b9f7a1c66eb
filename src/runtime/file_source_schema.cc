#include "runtime/file_source_schema.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "formats/options/infer_schema.h"
#include "formats/options/read_options.h"
#include "runtime/file_source.h"

namespace lakepipe::runtime {
namespace {

using Json = nlohmann::json;

bool AllDigits(const std::string& s) {
  return !s.empty() && s.size() < 19 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The files a scan selects now, full paths, in the order a flow plans them (oldest
// first, then by path): the same sample for `validate` and `run`.
Result<std::vector<std::string>> SampleFiles(FileSystem* fs, const sql::ReadFilesSpec& spec) {
  LP_ASSIGN_OR_RETURN(FileListOptions listing, FileListOptionsFrom(spec));
  auto files = ListAllFiles(fs, spec.path, listing.selection);
  if (!files.ok()) {
    if (files.status().IsNotFound()) {
      return Status::InvalidArgument("read_files path " + spec.path +
                                     " does not exist, so there is nothing to infer its schema from; create it and "
                                     "land a file, or give schema => '...'");
    }
    return files.status();
  }
  std::sort(files->begin(), files->end(), [](const SourceFileEntry& a, const SourceFileEntry& b) {
    return a.mtime_micros != b.mtime_micros ? a.mtime_micros < b.mtime_micros : a.path < b.path;
  });
  std::vector<std::string> out;
  for (const auto& f : *files) out.push_back(f.path.empty() ? spec.path : JoinPath(spec.path, f.path));
  return out;
}

// The field at `path` (top-level column first) in `fields`, by Schema::FindField's rule.
int FindIn(const std::vector<Field>& fields, const std::string& name) { return Schema(fields).FindField(name); }

// `type` (a struct) with the field at `path` (relative to it) added when missing, its
// type from `batch` (the batch's inferred type at the same place, or null: STRING).
// False in *added when it was there already.
DataType WithNestedField(const DataType& type, const std::vector<std::string>& path, size_t at,
                         const DataType* batch, bool* added) {
  if (type.id() != TypeId::kStruct) return type;  // the reader reports keys through structs only
  std::vector<Field> fields = type.fields();
  const Field* batch_field = nullptr;
  if (batch != nullptr && batch->id() == TypeId::kStruct) {
    int b = FindIn(batch->fields(), path[at]);
    if (b >= 0) batch_field = &batch->fields()[static_cast<size_t>(b)];
  }
  int i = FindIn(fields, path[at]);
  if (at + 1 == path.size()) {
    if (i >= 0) return type;
    fields.push_back(Field{path[at], batch_field != nullptr ? batch_field->type : DataType::String(), true});
    *added = true;
    return DataType::Struct(std::move(fields));
  }
  if (i < 0) return type;
  Field& f = fields[static_cast<size_t>(i)];
  f.type = WithNestedField(f.type, path, at + 1, batch_field != nullptr ? &batch_field->type : nullptr, added);
  return DataType::Struct(std::move(fields));
}

// Adds the field at `path` to `schema` when missing (a top-level column after the others;
// a struct field after its struct's fields), typed as in `batch`. Whether it was added.
bool AddFieldAt(Schema* schema, const std::vector<std::string>& path, const Schema& batch) {
  int b = batch.FindField(path[0]);
  const Field* batch_field = b >= 0 ? &batch.field(static_cast<size_t>(b)) : nullptr;
  int i = schema->FindField(path[0]);
  if (path.size() == 1) {
    if (i >= 0) return false;
    schema->AddField(Field{path[0], batch_field != nullptr ? batch_field->type : DataType::String(), true});
    return true;
  }
  if (i < 0) return false;
  bool added = false;
  Field& f = schema->mutable_fields()[static_cast<size_t>(i)];
  f.type = WithNestedField(f.type, path, 1, batch_field != nullptr ? &batch_field->type : nullptr, &added);
  return added;
}

}  // namespace

std::string SchemaLocation(const std::string& storage, const sql::ReadFilesScanContext& where) {
  std::string dir = JoinPath(JoinPath(storage, "_checkpoints"), where.dataset);
  if (!where.flow.empty()) dir = JoinPath(dir, "flows/" + where.flow);
  return JoinPath(dir, "schemas/" + std::to_string(where.scan_index));
}

Result<std::optional<KeptSchema>> ReadLatestKeptSchema(FileSystem* fs, const std::string& location) {
  auto listed = fs->ListDir(location);
  if (!listed.ok()) {
    if (listed.status().IsNotFound()) return std::optional<KeptSchema>();
    return listed.status();
  }
  int64_t latest = -1;
  for (const auto& f : *listed) {
    const std::string& name = f.name;
    if (AllDigits(name)) latest = std::max<int64_t>(latest, std::stoll(name));
  }
  if (latest < 0) return std::optional<KeptSchema>();
  std::string path = JoinPath(location, std::to_string(latest));
  LP_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(path));
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("schema") || !j["schema"].is_object() ||
      j.value("version", int64_t{-1}) != latest) {
    return Status::Corruption(path + ": not a kept read_files schema (docs/checkpoint.md, \"Inferred schemas\")");
  }
  auto schema = Schema::FromSparkJson(j["schema"].dump());
  if (!schema.ok()) return Status::Corruption(path + ": " + schema.status().message());
  KeptSchema kept;
  kept.version = latest;
  kept.schema = std::move(schema).value();
  kept.reason = j.value("reason", "");
  return std::optional<KeptSchema>(std::move(kept));
}

Status WriteKeptSchema(FileSystem* fs, const std::string& location, const KeptSchema& kept, int64_t now_millis) {
  Json j = {{"version", kept.version},
            {"schema", Json::parse(kept.schema.ToSparkJson())},
            {"reason", kept.reason},
            {"createdAt", now_millis}};
  LP_RETURN_IF_ERROR(fs->CreateDirs(location));
  return fs->PutIfAbsent(JoinPath(location, std::to_string(kept.version)),
                         j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
}

sql::ReadFilesSchemaLookup ReadFilesSchemaLookupFor(FileSystem* fs, std::string storage) {
  return [fs, storage](const sql::ReadFilesSpec& spec,
                       const sql::ReadFilesScanContext& where) -> Result<sql::ReadFilesSchema> {
    LP_ASSIGN_OR_RETURN(formats::ReadFilesSettings settings, formats::ReadFilesSettingsFrom(spec.options));
    sql::ReadFilesSchema out;
    std::optional<KeptSchema> kept;
    if (where.streaming && !storage.empty() && !where.dataset.empty()) {
      out.location = SchemaLocation(storage, where);
      LP_ASSIGN_OR_RETURN(kept, ReadLatestKeptSchema(fs, out.location));
    }
    if (kept) {
      out.schema = std::move(kept->schema);
      out.version = kept->version;
    } else {
      LP_ASSIGN_OR_RETURN(std::vector<std::string> files, SampleFiles(fs, spec));
      auto inferred = formats::InferFilesSchema(fs, files, settings);
      if (!inferred.ok()) return inferred.status().WithContext("read_files " + spec.path);
      out.schema = std::move(inferred).value();
    }
    if (!settings.inference.schema_hints.empty()) {
      LP_ASSIGN_OR_RETURN(auto hints, formats::ParseSchemaHints(settings.inference.schema_hints));
      LP_ASSIGN_OR_RETURN(out.schema, formats::ApplySchemaHints(std::move(out.schema), hints));
    }
    return out;
  };
}

Status KeepInferredSchema(FileSystem* fs, const sql::ReadFilesSpec& spec, int64_t now_millis) {
  if (!spec.schema_inferred || spec.schema_location.empty() || !spec.schema) return Status::OK();
  if (spec.schema_version >= 0) {
    // The usual case, once per batch: the version resolution read is still there.
    auto info = fs->Stat(JoinPath(spec.schema_location, std::to_string(spec.schema_version)));
    if (info.ok()) return Status::OK();
    if (!info.status().IsNotFound()) return info.status();
  }
  LP_ASSIGN_OR_RETURN(auto kept, ReadLatestKeptSchema(fs, spec.schema_location));
  if (kept) return Status::OK();
  KeptSchema first;
  first.version = 0;
  first.schema = *spec.schema;
  first.reason = "inferred from the files of " + spec.path;
  Status s = WriteKeptSchema(fs, spec.schema_location, first, now_millis);
  return s.IsAlreadyExists() ? Status::OK() : s;
}

Status StopForNewFields(FileSystem* fs, const sql::ReadFilesSpec& spec, const std::vector<std::string>& files,
                        const std::vector<NewFieldSeen>& seen, int64_t now_millis) {
  LP_ASSIGN_OR_RETURN(formats::ReadFilesSettings settings, formats::ReadFilesSettingsFrom(spec.options));
  std::string what;
  for (size_t i = 0; i < seen.size(); ++i) {
    if (i == 3) {
      what += " and " + std::to_string(seen.size() - 3) + " more";
      break;
    }
    what += std::string(i == 0 ? "" : ", ") + "`" + seen[i].name + "` (" + seen[i].file + " line " +
            std::to_string(seen[i].line) + ")";
  }
  std::string head = "read_files " + spec.path + ": new field" + (seen.size() == 1 ? " " : "s ") + what;
  if (settings.inference.evolution_mode == formats::SchemaEvolutionMode::kFailOnNewColumns) {
    return Status::InvalidArgument(head + ": schemaEvolutionMode failOnNewColumns stops the stream until the schema "
                                          "changes (declare it with schema =>, or choose addNewColumns or rescue) or "
                                          "the file is removed");
  }
  // The types of the new fields, from the files of this batch.
  formats::ReadFilesSettings sample = settings;
  LP_ASSIGN_OR_RETURN(Schema batch_schema, formats::InferFilesSchema(fs, files, sample));
  LP_ASSIGN_OR_RETURN(auto latest, ReadLatestKeptSchema(fs, spec.schema_location));
  Schema base = latest ? latest->schema : *spec.schema;
  std::vector<std::string> added;
  for (const NewFieldSeen& f : seen) {
    std::vector<std::string> path = f.path.empty() ? std::vector<std::string>{f.name} : f.path;
    // False when a version written by an earlier attempt has it already.
    if (AddFieldAt(&base, path, batch_schema)) added.push_back(f.name);
  }
  int64_t version = latest ? latest->version : 0;
  if (!added.empty()) {
    KeptSchema next;
    next.version = latest ? latest->version + 1 : 0;
    next.schema = base;
    std::string names;
    for (const auto& n : added) names += (names.empty() ? "" : ", ") + n;
    next.reason = "addNewColumns: " + names + " (first in " + seen[0].file + ")";
    LP_RETURN_IF_ERROR(WriteKeptSchema(fs, spec.schema_location, next, now_millis));
    version = next.version;
  }
  return Status::Aborted(head + ": " + kSchemaEvolutionStop + "; the schema kept in " + spec.schema_location +
                         " is now version " + std::to_string(version) +
                         " with the new column(s) added, and the batch is read again with them (earlier rows have "
                         "NULL there)");
}

bool IsSchemaEvolutionStop(const Status& status) {
  return status.code() == StatusCode::kAborted && status.message().find(kSchemaEvolutionStop) != std::string::npos;
}

}  // namespace lakepipe::runtime
