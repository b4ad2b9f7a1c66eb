// JSON in STRING values: from_json, to_json, schema_of_json, get_json_object, and
// `$json_path`, which Databricks' `raw:a.b[0]` operator becomes (sql/rewrite.h). The JSON
// work itself is formats/json/json_value.h; this file binds the calls and runs it per row.
//
// Malformed text never raises: from_json gives a struct of NULL fields (Spark 3+ PERMISSIVE)
// or NULL for an array/map schema; the path functions give NULL. Ingestion that must not
// lose such records keeps the raw text (Bronze) and tests the result (docs/functions.md).
#include <algorithm>

#include "expr/eval_internal.h"
#include "expr/function.h"
#include "formats/json/json_value.h"
#include "formats/json/json_writer.h"

namespace lakepipe::expr {
namespace {

struct PathState : KernelState {
  json::JsonPath path;
};

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Spark's catalogString-like DDL that schema_of_json prints: STRUCT<a: BIGINT, b: ARRAY<STRING>>.
std::string SparkDdl(const DataType& t) {
  switch (t.id()) {
    case TypeId::kStruct: {
      std::string s = "STRUCT<";
      for (size_t i = 0; i < t.fields().size(); ++i) {
        const std::string& n = t.fields()[i].name;
        bool plain = !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
        });
        std::string name = plain ? n : "`" + n + "`";
        s += (i ? ", " : "") + name + ": " + SparkDdl(t.fields()[i].type);
      }
      return s + ">";
    }
    case TypeId::kArray: return "ARRAY<" + SparkDdl(t.element()) + ">";
    case TypeId::kMap: return "MAP<" + SparkDdl(t.key()) + ", " + SparkDdl(t.value()) + ">";
    default: return Upper(t.ToString());
  }
}

// 'a INT, b STRING' (a struct's fields) or a type: 'ARRAY<...>', 'MAP<...>', 'STRUCT<...>'.
Result<DataType> ParseSchemaArgument(const std::string& text) {
  std::string head;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) && head.empty()) continue;
    if (!std::isalpha(static_cast<unsigned char>(c))) break;
    head += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  size_t after = text.find_first_not_of(" \t\r\n", text.find_first_not_of(" \t\r\n") + head.size());
  if ((head == "struct" || head == "array" || head == "map") && after != std::string::npos && text[after] == '<') {
    return ParseDataType(text);
  }
  LP_ASSIGN_OR_RETURN(Schema s, Schema::ParseDDL(text));
  return DataType::Struct(s.fields());
}

Status CheckFromJsonType(const DataType& t) {
  switch (t.id()) {
    case TypeId::kStruct:
      for (const auto& f : t.fields()) LP_RETURN_IF_ERROR(CheckFromJsonType(f.type));
      return Status::OK();
    case TypeId::kArray: return CheckFromJsonType(t.element());
    case TypeId::kMap:
      if (t.key().id() != TypeId::kString) return Status::NotSupported("map keys in JSON are strings, not " + t.key().ToString());
      return CheckFromJsonType(t.value());
    case TypeId::kNull:
    case TypeId::kDayTimeInterval:
    case TypeId::kYearMonthInterval: return Status::NotSupported("type " + t.ToString() + " in a JSON schema");
    default: return Status::OK();
  }
}

Status BindFromJson(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::String()));
  LP_RETURN_IF_ERROR(c.ExpectLiteral(1));
  if (c.arg_type(1).id() != TypeId::kString || c.arg(1).literal.is_null()) {
    return c.Error("the schema of `from_json` is a string constant such as 'a INT, b ARRAY<STRING>'");
  }
  if (c.num_args() > 2) {
    return c.Unsupported("options of `from_json` are not built yet (dates and timestamps are read as ISO 8601; "
                         "read them as strings and convert with to_date/to_timestamp)");
  }
  auto type = ParseSchemaArgument(c.arg(1).literal.string_value());
  if (!type.ok()) return c.Error("`from_json` schema: " + type.status().message());
  Status ok = CheckFromJsonType(*type);
  if (!ok.ok()) return c.Unsupported("`from_json` schema: " + ok.message());
  c.SetResult(*type);
  c.bound().nullable = true;
  return Status::OK();
}

Result<ColumnPtr> FromJson(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  const Column& in = *args[0];
  Column out(e.type);
  json::JsonTextParser parser;
  for (int64_t i = 0; i < n; ++i) {
    if (in.type().id() == TypeId::kNull || in.IsNull(i)) {
      out.AppendNull();
      continue;
    }
    if (parser.AppendAs(in.GetString(i), &out) == json::JsonFit::kMalformed) {
      if (e.type.id() == TypeId::kStruct) {
        for (size_t f = 0; f < out.num_children(); ++f) out.child(f).AppendNull();
        out.CloseStructRow();
      } else {
        out.AppendNull();
      }
    }
  }
  return MakeColumn(std::move(out));
}

Status BindToJson(CallBinder& c) {
  if (c.num_args() > 1) return c.Unsupported("options of `to_json` are not built yet");
  if (!c.arg_type(0).is_nested()) {
    return c.Error("`to_json` takes a struct, an array or a map, got " + c.arg_type(0).ToString() + " in `" + c.expr().ToString() + "`");
  }
  c.SetResult(DataType::String());
  return Status::OK();
}

Result<ColumnPtr> ToJson(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  const Column& in = *args[0];
  Column out(DataType::String());
  json::JsonWriteOptions options;
  std::string buf;
  for (int64_t i = 0; i < n; ++i) {
    if (in.IsNull(i)) {
      out.AppendNull();
      continue;
    }
    buf.clear();
    json::AppendJsonValue(in, i, options, &buf);
    out.AppendString(buf);
  }
  return MakeColumn(std::move(out));
}

Status BindSchemaOfJson(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectLiteral(0));
  if (c.arg_type(0).id() != TypeId::kString || c.arg(0).literal.is_null()) {
    return c.Error("`schema_of_json` takes a string constant (a sample JSON value)");
  }
  if (c.num_args() > 1) return c.Unsupported("options of `schema_of_json` are not built yet");
  json::JsonTextParser parser;
  auto t = parser.InferType(c.arg(0).literal.string_value());
  if (!t.ok()) return c.Error("`schema_of_json`: " + t.status().message());
  c.BecomeLiteral(Value::String(SparkDdl(*t)), DataType::String());
  return Status::OK();
}

Result<ColumnPtr> NeverCalled(const BoundExpr& e, const std::vector<ColumnPtr>&, int64_t) {
  return Status::Internal(PositionPrefix(e.pos) + "schema_of_json is folded at bind time");
}

template <json::PathSyntax kSyntax>
Status BindPath(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::String()));
  LP_RETURN_IF_ERROR(c.ExpectLiteral(1));
  if (c.arg_type(1).id() != TypeId::kString || c.arg(1).literal.is_null()) {
    return c.Error("the path of `" + c.written_name() + "` is a string constant such as '$.a.b[0]'");
  }
  auto path = json::ParseJsonPath(c.arg(1).literal.string_value(), kSyntax);
  if (!path.ok()) return c.Error(path.status().message());
  auto state = std::make_shared<PathState>();
  state->path = std::move(*path);
  c.bound().state = std::move(state);
  c.SetResult(DataType::String());
  c.bound().nullable = true;
  return Status::OK();
}

Result<ColumnPtr> ExtractPath(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  const Column& in = *args[0];
  const auto& state = static_cast<const PathState&>(*e.state);
  Column out(DataType::String());
  json::JsonTextParser parser;
  std::string buf;
  for (int64_t i = 0; i < n; ++i) {
    if (in.type().id() == TypeId::kNull || in.IsNull(i) || !parser.Extract(in.GetString(i), state.path, &buf)) {
      out.AppendNull();
    } else {
      out.AppendString(buf);
    }
  }
  return MakeColumn(std::move(out));
}

}  // namespace

void RegisterJsonFunctions(FunctionRegistry* r) {
  r->Add({"from_json", 2, 3, BindFromJson, FromJson, nullptr, false});
  r->Add({"to_json", 1, 2, BindToJson, ToJson, nullptr, false});
  r->Add({"schema_of_json", 1, 2, BindSchemaOfJson, NeverCalled, nullptr, false});
  r->Add({"get_json_object", 2, 2, BindPath<json::PathSyntax::kSpark>, ExtractPath, nullptr, false});
  r->Add({"$json_path", 2, 2, BindPath<json::PathSyntax::kDatabricks>, ExtractPath, nullptr, false});
}

}  // namespace lakepipe::expr
