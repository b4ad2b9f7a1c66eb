#include "formats/options/infer_schema.h"

#include <cctype>

namespace lakepipe::formats {
namespace {

bool SameName(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

int FindByName(const std::vector<Field>& fields, const std::string& name) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == name) return static_cast<int>(i);
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (SameName(fields[i].name, name)) return static_cast<int>(i);
  }
  return -1;
}

std::vector<Field> MergeFields(std::vector<Field> into, const std::vector<Field>& more) {
  for (const Field& f : more) {
    int i = FindByName(into, f.name);
    if (i < 0) {
      into.push_back(f);
    } else {
      Field& g = into[static_cast<size_t>(i)];
      g.type = MergeInferredTypes(g.type, f.type);
    }
  }
  for (Field& f : into) f.nullable = true;
  return into;
}

int Rank(TypeId id) {
  switch (id) {
    case TypeId::kByte: return 1;
    case TypeId::kShort: return 2;
    case TypeId::kInt: return 3;
    case TypeId::kLong: return 4;
    case TypeId::kFloat: return 5;
    case TypeId::kDouble: return 6;
    default: return 0;
  }
}

// Splits at commas outside <...>, (...) and backquotes.
std::vector<std::string> SplitTopLevel(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  bool quoted = false;
  for (char c : text) {
    if (c == '`') quoted = !quoted;
    if (!quoted && (c == '<' || c == '(')) ++depth;
    if (!quoted && (c == '>' || c == ')')) --depth;
    if (!quoted && depth == 0 && c == ',') {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  out.push_back(cur);
  return out;
}

std::string Trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

Status ApplyHint(std::vector<Field>* fields, const std::vector<std::string>& path, size_t depth,
                 const SchemaHint& hint, const std::string& spelled) {
  const std::string& name = path[depth];
  int i = FindByName(*fields, name);
  if (depth + 1 == path.size()) {
    if (i < 0) {
      fields->push_back(Field{name, hint.type, true});
    } else {
      (*fields)[static_cast<size_t>(i)].type = hint.type;
    }
    return Status::OK();
  }
  if (i < 0) {
    fields->push_back(Field{name, DataType::Struct({}), true});
    i = static_cast<int>(fields->size()) - 1;
  }
  Field& f = (*fields)[static_cast<size_t>(i)];
  if (f.type.id() != TypeId::kStruct) {
    return Status::InvalidArgument("schemaHints `" + spelled + "`: `" + f.name + "` is " + f.type.ToString() +
                                   ", not a struct (hints inside arrays and maps are not built yet)");
  }
  std::vector<Field> children = f.type.fields();
  LP_RETURN_IF_ERROR(ApplyHint(&children, path, depth + 1, hint, spelled));
  f.type = DataType::Struct(std::move(children));
  return Status::OK();
}

}  // namespace

DataType MergeInferredTypes(const DataType& a, const DataType& b) {
  if (a.id() == TypeId::kNull) return b;
  if (b.id() == TypeId::kNull) return a;
  if (a == b) return a;
  if (a.id() == TypeId::kStruct && b.id() == TypeId::kStruct) {
    return DataType::Struct(MergeFields(a.fields(), b.fields()));
  }
  if (a.id() == TypeId::kArray && b.id() == TypeId::kArray) {
    return DataType::Array(MergeInferredTypes(a.element(), b.element()));
  }
  int ra = Rank(a.id()), rb = Rank(b.id());
  if (ra > 0 && rb > 0) {
    // Integers widen to the larger integer; any floating type makes it DOUBLE.
    if (ra <= 4 && rb <= 4) return ra >= rb ? a : b;
    return DataType::Double();
  }
  if ((a.id() == TypeId::kDate && b.is_timestamp()) || (b.id() == TypeId::kDate && a.is_timestamp())) {
    return a.is_timestamp() ? a : b;
  }
  return DataType::String();
}

Result<Schema> InferFilesSchema(FileSystem* fs, const std::vector<std::string>& paths,
                                const ReadFilesSettings& settings, const InferenceSample& sample) {
  if (paths.empty()) {
    return Status::InvalidArgument("there is no file to infer the schema from yet (lakepipe infers it from the files, "
                                   "as Auto Loader does): land a file first, or give schema => '...'");
  }
  ReadFilesSettings s = settings;
  s.csv.infer_types = settings.inference.infer_column_types;
  s.json.infer_types = settings.inference.infer_column_types;
  FileReadTarget target;  // no schema, no rescue column: the reader infers
  std::vector<Field> fields;
  int64_t files = 0, bytes = 0;
  for (const std::string& path : paths) {
    if (files >= sample.max_files || (files > 0 && bytes >= sample.max_bytes)) break;
    LP_ASSIGN_OR_RETURN(FileInfo info, fs->Stat(path));
    ++files;
    bytes += info.size;
    if (info.size == 0) continue;
    target.file_path = path;
    auto reader = OpenFileReader(fs, path, s, target);
    if (!reader.ok()) return reader.status().WithContext("inferring the schema from " + path);
    fields = MergeFields(std::move(fields), (*reader)->data_schema().fields());
  }
  if (fields.empty()) {
    return Status::InvalidArgument("no column could be inferred from " + std::to_string(files) + " file" +
                                   (files == 1 ? "" : "s") + " (starting with " + paths[0] +
                                   "): they hold no record yet; land data first, or give schema => '...'");
  }
  return Schema(std::move(fields));
}

Result<std::vector<SchemaHint>> ParseSchemaHints(const std::string& text) {
  std::vector<SchemaHint> out;
  for (const std::string& raw : SplitTopLevel(text)) {
    std::string entry = Trim(raw);
    if (entry.empty()) {
      return Status::InvalidArgument("schemaHints '" + text + "': an empty entry (write 'a INT, b.c DATE')");
    }
    // The path: dot-separated names, each plain or `backquoted`, up to the first blank
    // outside backquotes.
    SchemaHint hint;
    std::string part;
    size_t i = 0;
    bool quoted = false, was_quoted = false;
    for (; i < entry.size(); ++i) {
      char c = entry[i];
      if (c == '`') {
        if (quoted && i + 1 < entry.size() && entry[i + 1] == '`') {
          part += '`';
          ++i;
          continue;
        }
        quoted = !quoted;
        was_quoted = true;
        continue;
      }
      if (!quoted && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) break;
      if (!quoted && c == '.') {
        if (part.empty()) return Status::InvalidArgument("schemaHints `" + entry + "`: an empty name in the path");
        hint.path.push_back(part);
        part.clear();
        was_quoted = false;
        continue;
      }
      part += c;
    }
    if (quoted) return Status::InvalidArgument("schemaHints `" + entry + "`: an unclosed backquote");
    if (part.empty() && !was_quoted) {
      return Status::InvalidArgument("schemaHints `" + entry + "`: an empty name in the path");
    }
    hint.path.push_back(part);
    std::string type = Trim(entry.substr(i));
    if (type.empty()) {
      return Status::InvalidArgument("schemaHints `" + entry + "`: no type (write 'name TYPE', e.g. 'b.c DATE')");
    }
    auto parsed = ParseDataType(type);
    if (!parsed.ok()) return parsed.status().WithContext("schemaHints `" + entry + "`");
    hint.type = std::move(parsed).value();
    out.push_back(std::move(hint));
  }
  return out;
}

Result<Schema> ApplySchemaHints(Schema schema, const std::vector<SchemaHint>& hints) {
  std::vector<Field> fields = schema.fields();
  for (const SchemaHint& h : hints) {
    std::string spelled;
    for (const auto& p : h.path) spelled += (spelled.empty() ? "" : ".") + p;
    LP_RETURN_IF_ERROR(ApplyHint(&fields, h.path, 0, h, spelled));
  }
  return Schema(std::move(fields));
}

}  // namespace lakepipe::formats
